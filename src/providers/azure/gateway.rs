//! The resources a VNet shares with all its links: the GatewaySubnet, the gateway's Standard
//! public IP and the route-based VPN gateway (whose writes hold the gateway's lock).
//!
//! Subnet ownership: a GatewaySubnet may exist before peerctl (the topology says "created if
//! missing"), and `delete` receives only the id, while a subnet has no tags. So the id peerctl
//! records carries the fact: `<ARM id>#created-by-peerctl` when peerctl created it, the bare ARM
//! id when it adopted one. Only a marked id is ever deleted, and the mark is stripped wherever
//! the id is used as a reference (the gateway's ipConfiguration). So that a lost state does not
//! lose the fact, the gateway (which receives the marked id) also carries it as the tag
//! `peerctl-gateway-subnet: created`; finding an existing GatewaySubnet without a recorded id,
//! peerctl marks it only when a gateway of this topology with that tag uses it. Anything less
//! certain leaves the subnet in place: the safe side.

use super::{
    arm_id, async_operation, check_owner, found, outputs, tags, wire, AzureProvider, Polled,
    CREATED_MARK,
};
use crate::providers::{Desired, Outputs, ProviderError, TAG_TOPOLOGY};
use azure_mgmt_network::package_2024_03::models::{
    self, public_ip_address_sku, virtual_network_gateway_sku, ProvisioningState,
};
use std::future::IntoFuture;

/// Tag on a VPN gateway whose GatewaySubnet peerctl created.
const TAG_SUBNET: &str = "peerctl-gateway-subnet";

/// A subnet's subscription, resource group, VNet and name.
struct SubnetAt {
    sub: String,
    rg: String,
    vnet: String,
    name: String,
}

/// Strips peerctl's ownership mark from a subnet id.
pub(super) fn bare(id: &str) -> &str {
    id.split('#').next().unwrap_or(id)
}

fn subnet_at(d: &Desired, id: Option<&str>) -> Result<SubnetAt, ProviderError> {
    if let Some(a) = id.and_then(super::ArmId::parse) {
        if let Some(child) = a.child {
            return Ok(SubnetAt {
                sub: a.sub,
                rg: a.rg,
                vnet: a.name,
                name: child,
            });
        }
    }
    Ok(SubnetAt {
        sub: d.attrs.str("subscription")?.to_string(),
        rg: d.attrs.str("resource_group")?.to_string(),
        vnet: d.attrs.str("vnet")?.to_string(),
        name: d.name.clone(),
    })
}

fn subnet_state(s: &models::Subnet) -> Option<ProvisioningState> {
    s.properties
        .as_ref()
        .and_then(|p| p.provisioning_state.clone())
}

/// Every prefix a subnet model carries (singular and plural forms).
pub(super) fn subnet_prefixes(s: &models::Subnet) -> Vec<String> {
    let Some(p) = s.properties.as_ref() else {
        return Vec::new();
    };
    let mut v: Vec<String> = p.address_prefix.iter().cloned().collect();
    v.extend(p.address_prefixes.iter().cloned());
    v
}

fn same_prefix(a: &str, b: &str) -> bool {
    match (a.parse::<ipnet::IpNet>(), b.parse::<ipnet::IpNet>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// A subnet's outputs: its id, marked when peerctl created it, and `created`.
fn subnet_outputs(at: &SubnetAt, s: &models::Subnet, created: bool) -> Outputs {
    let id = s.sub_resource.id.clone().unwrap_or_else(|| {
        arm_id(
            &at.sub,
            &at.rg,
            &format!("virtualNetworks/{}/subnets/{}", at.vnet, at.name),
        )
    });
    let id = if created {
        format!("{id}{CREATED_MARK}")
    } else {
        id
    };
    outputs(&[("id", id), ("created", created.to_string())])
}

fn public_ip_state(ip: &models::PublicIpAddress) -> Option<ProvisioningState> {
    ip.properties
        .as_ref()
        .and_then(|p| p.provisioning_state.clone())
}

fn public_ip_outputs(d: &Desired, ip: &models::PublicIpAddress) -> Result<Outputs, ProviderError> {
    let id = ip.resource.id.clone().ok_or_else(|| {
        ProviderError::cloud("InvalidResponse", format!("public IP {} has no id", d.name))
    })?;
    let address = ip
        .properties
        .as_ref()
        .and_then(|p| p.ip_address.clone())
        .ok_or_else(|| ProviderError::Failed {
            what: format!("public IP {}", d.name),
            message: "no address assigned (a Dynamic address appears only once its gateway \
                      is built; peerctl plans Static)"
                .into(),
        })?;
    Ok(outputs(&[("id", id), ("ip_address", address)]))
}

fn gateway_outputs(
    d: &Desired,
    g: &models::VirtualNetworkGateway,
) -> Result<Outputs, ProviderError> {
    let id = g.resource.id.clone().ok_or_else(|| {
        ProviderError::cloud(
            "InvalidResponse",
            format!("VPN gateway {} has no id", d.name),
        )
    })?;
    Ok(outputs(&[("id", id)]))
}

fn is_deleting(s: &Option<ProvisioningState>) -> bool {
    matches!(s, Some(ProvisioningState::Deleting))
}

impl AzureProvider {
    // ------------------------------------------------------------------ GatewaySubnet

    async fn get_subnet(&self, at: &SubnetAt) -> Result<Option<models::Subnet>, ProviderError> {
        found(
            self.call("get subnet", || {
                self.client
                    .subnets_client()
                    .get(&at.rg, &at.vnet, &at.name, &at.sub)
                    .into_future()
            })
            .await,
        )
    }

    async fn poll_subnet(&self, at: &SubnetAt) -> Result<Polled<models::Subnet>, ProviderError> {
        Ok(self.get_subnet(at).await?.map(|s| (subnet_state(&s), s)))
    }

    pub(super) async fn read_subnet(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let at = subnet_at(d, id)?;
        let Some(s) = self.get_subnet(&at).await? else {
            return Ok(None);
        };
        if let Some(i) = id {
            let created = i.ends_with(CREATED_MARK);
            return Ok(Some(outputs(&[
                ("id", i.to_string()),
                ("created", created.to_string()),
            ])));
        }
        let created = self.created_by_peerctl(d, &s).await?;
        Ok(Some(subnet_outputs(&at, &s, created)))
    }

    /// True when a VPN gateway of this topology tagged [`TAG_SUBNET`] uses the subnet: the
    /// only trace, besides the recorded id, that peerctl created it.
    async fn created_by_peerctl(
        &self,
        d: &Desired,
        s: &models::Subnet,
    ) -> Result<bool, ProviderError> {
        let Some(p) = s.properties.as_ref() else {
            return Ok(false);
        };
        for ipc in &p.ip_configurations {
            let Some(a) = ipc.sub_resource.id.as_deref().and_then(super::ArmId::parse) else {
                continue;
            };
            if !a.kind.eq_ignore_ascii_case("virtualNetworkGateways") {
                continue;
            }
            let Some(g) = self.get_gateway(&a.sub, &a.rg, &a.name).await? else {
                continue;
            };
            let tag = |k: &str| {
                g.resource
                    .tags
                    .as_ref()
                    .and_then(|t| t.get(k))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            if tag(TAG_TOPOLOGY).as_deref() == Some(d.topology.as_str())
                && tag(TAG_SUBNET).as_deref() == Some("created")
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) async fn create_subnet(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let at = subnet_at(d, None)?;
        let prefix = d.attrs.str("address_prefix")?;
        let what = format!("subnet {} of {}", at.name, at.vnet);
        if let Some(s) = self.get_subnet(&at).await? {
            if is_deleting(&subnet_state(&s)) {
                self.wait_gone(&what, false, || self.poll_subnet(&at))
                    .await?;
            } else {
                let have = subnet_prefixes(&s);
                if !have.iter().any(|p| same_prefix(p, prefix)) {
                    return Err(ProviderError::cloud(
                        "GatewaySubnetPrefixMismatch",
                        format!(
                            "{what} exists with prefix {} but the topology gives {prefix}",
                            have.join(", ")
                        ),
                    ));
                }
                let s = self
                    .wait_ready(&what, false, None, || self.poll_subnet(&at))
                    .await?;
                let created = self.created_by_peerctl(d, &s).await?;
                return Ok(subnet_outputs(&at, &s, created));
            }
        }
        let mut body = models::Subnet::new();
        body.properties = Some(models::SubnetPropertiesFormat {
            address_prefix: Some(prefix.to_string()),
            ..Default::default()
        });
        let rsp = self
            .call("create subnet", || {
                self.client
                    .subnets_client()
                    .create_or_update(&at.rg, &at.vnet, &at.name, body.clone(), &at.sub)
                    .send()
            })
            .await?;
        let op = async_operation(rsp.as_raw_response());
        let s = self
            .wait_ready(&what, false, op.as_deref(), || self.poll_subnet(&at))
            .await?;
        Ok(subnet_outputs(&at, &s, true))
    }

    pub(super) async fn delete_subnet(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        let at = subnet_at(d, Some(id))?;
        if !id.ends_with(CREATED_MARK) {
            tracing::info!(
                subnet = %bare(id),
                "leaving the GatewaySubnet in place: it existed before peerctl"
            );
            return Ok(());
        }
        let what = format!("subnet {} of {}", at.name, at.vnet);
        let sent = self
            .call("delete subnet", || {
                self.client
                    .subnets_client()
                    .delete(&at.rg, &at.vnet, &at.name, &at.sub)
                    .send()
            })
            .await;
        if found(sent)?.is_none() {
            return Ok(());
        }
        self.wait_gone(&what, false, || self.poll_subnet(&at)).await
    }

    // ------------------------------------------------------------------ public IP

    async fn get_public_ip(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Option<models::PublicIpAddress>, ProviderError> {
        found(
            self.call("get public IP", || {
                self.client
                    .public_ip_addresses_client()
                    .get(rg, name, sub)
                    .into_future()
            })
            .await,
        )
    }

    async fn poll_public_ip(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Polled<models::PublicIpAddress>, ProviderError> {
        Ok(self
            .get_public_ip(sub, rg, name)
            .await?
            .map(|ip| (public_ip_state(&ip), ip)))
    }

    pub(super) async fn read_public_ip(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let p = super::place(d, id)?;
        match self.get_public_ip(&p.sub, &p.rg, &p.name).await? {
            Some(ip) if !is_deleting(&public_ip_state(&ip)) => Ok(Some(public_ip_outputs(d, &ip)?)),
            _ => Ok(None),
        }
    }

    pub(super) async fn create_public_ip(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let p = super::place(d, None)?;
        let what = format!("public IP {}", p.name);
        let poll = || self.poll_public_ip(&p.sub, &p.rg, &p.name);
        if let Some(ip) = self.get_public_ip(&p.sub, &p.rg, &p.name).await? {
            if is_deleting(&public_ip_state(&ip)) {
                self.wait_gone(&what, false, poll).await?;
            } else {
                check_owner(d, "public IP", ip.resource.tags.as_ref())?;
                let ip = self.wait_ready(&what, false, None, poll).await?;
                return public_ip_outputs(d, &ip);
            }
        }
        let mut body = models::PublicIpAddress::new();
        body.resource.location = Some(d.region.clone());
        body.resource.tags = Some(tags(d));
        body.sku = Some(models::PublicIpAddressSku {
            name: Some(wire::<public_ip_address_sku::Name>(
                "public IP SKU",
                d.attrs.str("sku")?,
            )?),
            tier: Some(public_ip_address_sku::Tier::Regional),
        });
        body.properties = Some(Box::new(models::PublicIpAddressPropertiesFormat {
            public_ip_allocation_method: Some(wire(
                "allocation method",
                d.attrs.str("allocation")?,
            )?),
            public_ip_address_version: Some(models::IpVersion::IPv4),
            ..Default::default()
        }));
        let rsp = self
            .call("create public IP", || {
                self.client
                    .public_ip_addresses_client()
                    .create_or_update(&p.rg, &p.name, body.clone(), &p.sub)
                    .send()
            })
            .await?;
        let op = async_operation(rsp.as_raw_response());
        let ip = self.wait_ready(&what, false, op.as_deref(), poll).await?;
        public_ip_outputs(d, &ip)
    }

    pub(super) async fn delete_public_ip(
        &self,
        d: &Desired,
        id: &str,
    ) -> Result<(), ProviderError> {
        let p = super::place(d, Some(id))?;
        let sent = self
            .call("delete public IP", || {
                self.client
                    .public_ip_addresses_client()
                    .delete(&p.rg, &p.name, &p.sub)
                    .send()
            })
            .await;
        if found(sent)?.is_none() {
            return Ok(());
        }
        self.wait_gone(&format!("public IP {}", p.name), false, || {
            self.poll_public_ip(&p.sub, &p.rg, &p.name)
        })
        .await
    }

    // ------------------------------------------------------------------ VPN gateway

    pub(super) async fn get_gateway(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Option<models::VirtualNetworkGateway>, ProviderError> {
        found(
            self.call("get VPN gateway", || {
                self.client
                    .virtual_network_gateways_client()
                    .get(rg, name, sub)
                    .into_future()
            })
            .await,
        )
    }

    async fn poll_gateway(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Polled<models::VirtualNetworkGateway>, ProviderError> {
        Ok(self
            .get_gateway(sub, rg, name)
            .await?
            .map(|g| (g.properties.provisioning_state.clone(), g)))
    }

    pub(super) async fn read_gateway(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let p = super::place(d, id)?;
        match self.get_gateway(&p.sub, &p.rg, &p.name).await? {
            Some(g) if !is_deleting(&g.properties.provisioning_state) => {
                Ok(Some(gateway_outputs(d, &g)?))
            }
            _ => Ok(None),
        }
    }

    fn gateway_sku(d: &Desired) -> Result<models::VirtualNetworkGatewaySku, ProviderError> {
        let tier = d.attrs.str("sku")?;
        Ok(models::VirtualNetworkGatewaySku {
            name: Some(wire::<virtual_network_gateway_sku::Name>(
                "gateway SKU",
                tier,
            )?),
            tier: Some(wire::<virtual_network_gateway_sku::Tier>(
                "gateway SKU",
                tier,
            )?),
            capacity: None,
        })
    }

    pub(super) async fn create_gateway(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let p = super::place(d, None)?;
        let what = format!("VPN gateway {}", p.name);
        if let Some(g) = self.get_gateway(&p.sub, &p.rg, &p.name).await? {
            if is_deleting(&g.properties.provisioning_state) {
                self.wait_gone(&what, true, || self.poll_gateway(&p.sub, &p.rg, &p.name))
                    .await?;
            } else {
                check_owner(d, "VPN gateway", g.resource.tags.as_ref())?;
                let g = self
                    .wait_ready(&what, true, None, || {
                        self.poll_gateway(&p.sub, &p.rg, &p.name)
                    })
                    .await?;
                let want = Self::gateway_sku(d)?;
                let have = g.properties.sku.as_ref().and_then(|s| s.name.clone());
                if have != want.name {
                    return self.put_gateway(d, None).await;
                }
                return gateway_outputs(d, &g);
            }
        }
        self.put_gateway(d, None).await
    }

    /// PUTs the whole gateway (create, or an update of its SKU) and waits, under its lock.
    pub(super) async fn put_gateway(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Outputs, ProviderError> {
        let p = super::place(d, id)?;
        let what = format!("VPN gateway {}", p.name);
        let ipc = models::VirtualNetworkGatewayIpConfiguration {
            sub_resource: models::SubResource { id: None },
            name: Some("default".into()),
            etag: None,
            properties: Some(
                models::VirtualNetworkGatewayIpConfigurationPropertiesFormat {
                    private_ip_allocation_method: Some(models::IpAllocationMethod::Dynamic),
                    subnet: Some(models::SubResource {
                        id: Some(bare(d.attrs.str("subnet")?).to_string()),
                    }),
                    public_ip_address: Some(models::SubResource {
                        id: Some(d.attrs.str("public_ip")?.to_string()),
                    }),
                    ..Default::default()
                },
            ),
        };
        let props = models::VirtualNetworkGatewayPropertiesFormat {
            ip_configurations: vec![ipc],
            gateway_type: Some(wire("gateway type", d.attrs.str("gateway_type")?)?),
            vpn_type: Some(wire("VPN type", d.attrs.str("vpn_type")?)?),
            enable_bgp: Some(d.attrs.bool("enable_bgp")?),
            active_active: Some(d.attrs.bool("active_active")?),
            sku: Some(Self::gateway_sku(d)?),
            ..Default::default()
        };
        let mut body = models::VirtualNetworkGateway::new(props);
        body.resource.location = Some(d.region.clone());
        let mut t = tags(d);
        if d.attrs.str("subnet")?.ends_with(CREATED_MARK) {
            t[TAG_SUBNET] = serde_json::Value::String("created".into());
        }
        body.resource.tags = Some(t);

        let lock = self.gateway_lock(&arm_id(
            &p.sub,
            &p.rg,
            &format!("virtualNetworkGateways/{}", p.name),
        ));
        let _held = lock.lock().await;
        let rsp = self
            .call("put VPN gateway", || {
                self.client
                    .virtual_network_gateways_client()
                    .create_or_update(&p.rg, &p.name, body.clone(), &p.sub)
                    .send()
            })
            .await?;
        let op = async_operation(rsp.as_raw_response());
        let g = self
            .wait_ready(&what, true, op.as_deref(), || {
                self.poll_gateway(&p.sub, &p.rg, &p.name)
            })
            .await?;
        gateway_outputs(d, &g)
    }

    pub(super) async fn delete_gateway(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        let p = super::place(d, Some(id))?;
        let lock = self.gateway_lock(&arm_id(
            &p.sub,
            &p.rg,
            &format!("virtualNetworkGateways/{}", p.name),
        ));
        let _held = lock.lock().await;
        let sent = self
            .call("delete VPN gateway", || {
                self.client
                    .virtual_network_gateways_client()
                    .delete(&p.rg, &p.name, &p.sub)
                    .send()
            })
            .await;
        if found(sent)?.is_none() {
            return Ok(());
        }
        self.wait_gone(&format!("VPN gateway {}", p.name), true, || {
            self.poll_gateway(&p.sub, &p.rg, &p.name)
        })
        .await
    }
}
