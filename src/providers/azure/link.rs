//! What each link adds on an Azure side: the local network gateway (the peer's address and
//! prefixes), the IPsec connection with its pre-shared key and IPsec policy (under the
//! gateway's lock), and the NSG rules admitting the peer's prefixes.

use super::{
    arm_id, async_operation, check_owner, found, outputs, tags, wire, AzureProvider, Polled,
};
use crate::providers::{Attrs, Desired, Outputs, ProviderError};
use azure_mgmt_network::package_2024_03::models::{self, ProvisioningState};
use std::future::IntoFuture;

fn is_deleting(s: &Option<ProvisioningState>) -> bool {
    matches!(s, Some(ProvisioningState::Deleting))
}

fn id_of(what: &str, name: &str, id: Option<&String>) -> Result<String, ProviderError> {
    id.cloned()
        .ok_or_else(|| ProviderError::cloud("InvalidResponse", format!("{what} {name} has no id")))
}

/// `err` with every occurrence of `secret` replaced: ARM does not echo keys, but a proxy or a
/// future API version might, and no error may carry one.
fn scrub(err: ProviderError, secret: &str) -> ProviderError {
    err.redacted(&[secret])
}

fn int32(a: &Attrs, key: &str) -> Result<i32, ProviderError> {
    i32::try_from(a.int(key)?)
        .map_err(|_| ProviderError::Attribute(format!("{key} does not fit ARM's 32-bit integer")))
}

fn ipsec_policy(p: &Attrs) -> Result<models::IpsecPolicy, ProviderError> {
    Ok(models::IpsecPolicy {
        sa_life_time_seconds: int32(p, "sa_lifetime_seconds")?,
        sa_data_size_kilobytes: int32(p, "sa_data_size_kilobytes")?,
        ipsec_encryption: wire("ipsec_encryption", p.str("ipsec_encryption")?)?,
        ipsec_integrity: wire("ipsec_integrity", p.str("ipsec_integrity")?)?,
        ike_encryption: wire("ike_encryption", p.str("ike_encryption")?)?,
        ike_integrity: wire("ike_integrity", p.str("ike_integrity")?)?,
        dh_group: wire("dh_group", p.str("dh_group")?)?,
        pfs_group: wire("pfs_group", p.str("pfs_group")?)?,
    })
}

/// Sorted, so that order and the singular/plural split do not count as a difference.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A rule's list as ARM wants it: one value in the singular field (which also takes `*` and
/// service tags), several in the plural one.
fn split(v: &[&str]) -> (Option<String>, Vec<String>) {
    match v {
        [one] => (Some(one.to_string()), Vec::new()),
        many => (None, many.iter().map(|s| s.to_string()).collect()),
    }
}

fn joined(one: &Option<String>, many: &[String]) -> Vec<String> {
    sorted(one.iter().cloned().chain(many.iter().cloned()).collect())
}

impl AzureProvider {
    // ------------------------------------------------------------------ local network gateway

    async fn get_lng(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Option<models::LocalNetworkGateway>, ProviderError> {
        found(
            self.call("get local network gateway", || {
                self.client
                    .local_network_gateways_client()
                    .get(rg, name, sub)
                    .into_future()
            })
            .await,
        )
    }

    async fn poll_lng(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Polled<models::LocalNetworkGateway>, ProviderError> {
        Ok(self
            .get_lng(sub, rg, name)
            .await?
            .map(|l| (l.properties.provisioning_state.clone(), l)))
    }

    pub(super) async fn read_lng(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let p = super::place(d, id)?;
        match self.get_lng(&p.sub, &p.rg, &p.name).await? {
            Some(l) if !is_deleting(&l.properties.provisioning_state) => Ok(Some(outputs(&[(
                "id",
                id_of("local network gateway", &p.name, l.resource.id.as_ref())?,
            )]))),
            _ => Ok(None),
        }
    }

    pub(super) async fn create_lng(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let p = super::place(d, None)?;
        let what = format!("local network gateway {}", p.name);
        let poll = || self.poll_lng(&p.sub, &p.rg, &p.name);
        if let Some(l) = self.get_lng(&p.sub, &p.rg, &p.name).await? {
            if is_deleting(&l.properties.provisioning_state) {
                self.wait_gone(&what, false, poll).await?;
            } else {
                check_owner(d, "local network gateway", l.resource.tags.as_ref())?;
                let l = self.wait_ready(&what, false, None, poll).await?;
                let want_prefixes = sorted(
                    d.attrs
                        .strs("address_prefixes")?
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                );
                let have_prefixes = sorted(
                    l.properties
                        .local_network_address_space
                        .as_ref()
                        .map(|a| a.address_prefixes.clone())
                        .unwrap_or_default(),
                );
                let same = l.properties.gateway_ip_address.as_deref()
                    == Some(d.attrs.str("gateway_ip_address")?)
                    && want_prefixes == have_prefixes;
                if !same {
                    return self.put_lng(d, None).await;
                }
                return Ok(outputs(&[(
                    "id",
                    id_of("local network gateway", &p.name, l.resource.id.as_ref())?,
                )]));
            }
        }
        self.put_lng(d, None).await
    }

    /// PUTs the whole local network gateway (create or update) and waits.
    pub(super) async fn put_lng(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Outputs, ProviderError> {
        let p = super::place(d, id)?;
        let what = format!("local network gateway {}", p.name);
        let mut body =
            models::LocalNetworkGateway::new(models::LocalNetworkGatewayPropertiesFormat {
                local_network_address_space: Some(models::AddressSpace {
                    address_prefixes: d
                        .attrs
                        .strs("address_prefixes")?
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                }),
                gateway_ip_address: Some(d.attrs.str("gateway_ip_address")?.to_string()),
                ..Default::default()
            });
        body.resource.location = Some(d.region.clone());
        body.resource.tags = Some(tags(d));
        let rsp = self
            .call("put local network gateway", || {
                self.client
                    .local_network_gateways_client()
                    .create_or_update(&p.rg, &p.name, body.clone(), &p.sub)
                    .send()
            })
            .await?;
        let op = async_operation(rsp.as_raw_response());
        let l = self
            .wait_ready(&what, false, op.as_deref(), || {
                self.poll_lng(&p.sub, &p.rg, &p.name)
            })
            .await?;
        Ok(outputs(&[(
            "id",
            id_of("local network gateway", &p.name, l.resource.id.as_ref())?,
        )]))
    }

    pub(super) async fn delete_lng(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        let p = super::place(d, Some(id))?;
        let sent = self
            .call("delete local network gateway", || {
                self.client
                    .local_network_gateways_client()
                    .delete(&p.rg, &p.name, &p.sub)
                    .send()
            })
            .await;
        if found(sent)?.is_none() {
            return Ok(());
        }
        self.wait_gone(&format!("local network gateway {}", p.name), false, || {
            self.poll_lng(&p.sub, &p.rg, &p.name)
        })
        .await
    }

    // ------------------------------------------------------------------ connection

    async fn get_connection(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Option<models::VirtualNetworkGatewayConnection>, ProviderError> {
        found(
            self.call("get connection", || {
                self.client
                    .virtual_network_gateway_connections_client()
                    .get(rg, name, sub)
                    .into_future()
            })
            .await,
        )
    }

    async fn poll_connection(
        &self,
        sub: &str,
        rg: &str,
        name: &str,
    ) -> Result<Polled<models::VirtualNetworkGatewayConnection>, ProviderError> {
        Ok(self
            .get_connection(sub, rg, name)
            .await?
            .map(|c| (c.properties.provisioning_state.clone(), c)))
    }

    fn connection_body(
        d: &Desired,
    ) -> Result<models::VirtualNetworkGatewayConnection, ProviderError> {
        let mut gw = models::VirtualNetworkGateway::new(Default::default());
        gw.resource.id = Some(d.attrs.str("virtual_network_gateway")?.to_string());
        let mut lng = models::LocalNetworkGateway::new(Default::default());
        lng.resource.id = Some(d.attrs.str("local_network_gateway")?.to_string());
        let mut props = models::VirtualNetworkGatewayConnectionPropertiesFormat::new(
            gw,
            wire("connection type", d.attrs.str("connection_type")?)?,
        );
        props.local_network_gateway2 = Some(lng);
        props.shared_key = Some(d.attrs.secret("shared_key")?.expose().to_string());
        props.connection_protocol = Some(wire(
            "connection protocol",
            d.attrs.str("connection_protocol")?,
        )?);
        props.enable_bgp = Some(d.attrs.bool("enable_bgp")?);
        props.use_policy_based_traffic_selectors =
            Some(d.attrs.bool("use_policy_based_traffic_selectors")?);
        props.ipsec_policies = vec![ipsec_policy(d.attrs.map("ipsec_policy")?)?];
        let mut c = models::VirtualNetworkGatewayConnection::new(props);
        c.resource.location = Some(d.region.clone());
        c.resource.tags = Some(tags(d));
        Ok(c)
    }

    /// True when the existing connection has what peerctl plans for it (the key aside, which
    /// ARM never shows on the connection).
    fn connection_matches(
        have: &models::VirtualNetworkGatewayConnection,
        want: &models::VirtualNetworkGatewayConnection,
    ) -> bool {
        let (h, w) = (&have.properties, &want.properties);
        let id_eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        id_eq(
            &h.virtual_network_gateway1.resource.id,
            &w.virtual_network_gateway1.resource.id,
        ) && id_eq(
            &h.local_network_gateway2
                .as_ref()
                .and_then(|l| l.resource.id.clone()),
            &w.local_network_gateway2
                .as_ref()
                .and_then(|l| l.resource.id.clone()),
        ) && h.connection_protocol == w.connection_protocol
            && h.enable_bgp.unwrap_or(false) == w.enable_bgp.unwrap_or(false)
            && h.use_policy_based_traffic_selectors.unwrap_or(false)
                == w.use_policy_based_traffic_selectors.unwrap_or(false)
            && h.ipsec_policies == w.ipsec_policies
    }

    pub(super) async fn read_connection(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let p = super::place(d, id)?;
        match self.get_connection(&p.sub, &p.rg, &p.name).await? {
            Some(c) if !is_deleting(&c.properties.provisioning_state) => Ok(Some(outputs(&[(
                "id",
                id_of("connection", &p.name, c.resource.id.as_ref())?,
            )]))),
            _ => Ok(None),
        }
    }

    pub(super) async fn create_connection(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let p = super::place(d, None)?;
        let what = format!("connection {}", p.name);
        let poll = || self.poll_connection(&p.sub, &p.rg, &p.name);
        if let Some(c) = self.get_connection(&p.sub, &p.rg, &p.name).await? {
            if is_deleting(&c.properties.provisioning_state) {
                self.wait_gone(&what, false, poll).await?;
            } else {
                check_owner(d, "connection", c.resource.tags.as_ref())?;
                let c = self.wait_ready(&what, false, None, poll).await?;
                if !Self::connection_matches(&c, &Self::connection_body(d)?) {
                    return self.put_connection(d, None).await;
                }
                self.rekey(d, &p).await?;
                return Ok(outputs(&[(
                    "id",
                    id_of("connection", &p.name, c.resource.id.as_ref())?,
                )]));
            }
        }
        self.put_connection(d, None).await
    }

    pub(super) async fn update_connection(
        &self,
        d: &Desired,
        id: &str,
        _changed: &[String],
    ) -> Result<Outputs, ProviderError> {
        let out = self.put_connection(d, Some(id)).await?;
        // Whether a connection PUT changes the key of an existing connection is not something
        // ARM documents; read it back and set it explicitly when it did not.
        self.rekey(d, &super::place(d, Some(id))?).await?;
        Ok(out)
    }

    /// Gives an existing connection the planned key (read back with GetSharedKey, set with
    /// SetSharedKey under the gateway's lock) when it has another one.
    async fn rekey(&self, d: &Desired, p: &super::Place) -> Result<(), ProviderError> {
        let key = d.attrs.secret("shared_key")?.expose();
        let conns = self.client.virtual_network_gateway_connections_client();
        let have = self
            .call("get shared key", || {
                conns.get_shared_key(&p.rg, &p.name, &p.sub).into_future()
            })
            .await
            .map_err(|e| scrub(e, key))?;
        if have.value == key {
            return Ok(());
        }
        tracing::info!(connection = %p.name, "re-keying an adopted connection");
        let lock = self.gateway_lock(d.attrs.str("virtual_network_gateway")?);
        let _held = lock.lock().await;
        let body = models::ConnectionSharedKey {
            sub_resource: models::SubResource { id: None },
            value: key.to_string(),
        };
        let rsp = self
            .call("set shared key", || {
                conns
                    .set_shared_key(&p.rg, &p.name, body.clone(), &p.sub)
                    .send()
            })
            .await
            .map_err(|e| scrub(e, key))?;
        let op = async_operation(rsp.as_raw_response());
        self.wait_ready(
            &format!("shared key of connection {}", p.name),
            false,
            op.as_deref(),
            || self.poll_connection(&p.sub, &p.rg, &p.name),
        )
        .await?;
        Ok(())
    }

    /// PUTs the whole connection (create or update, key included) and waits, under the lock of
    /// its gateway.
    async fn put_connection(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Outputs, ProviderError> {
        let p = super::place(d, id)?;
        let key = d.attrs.secret("shared_key")?.expose();
        let body = Self::connection_body(d)?;
        let lock = self.gateway_lock(d.attrs.str("virtual_network_gateway")?);
        let _held = lock.lock().await;
        let rsp = self
            .call("put connection", || {
                self.client
                    .virtual_network_gateway_connections_client()
                    .create_or_update(&p.rg, &p.name, body.clone(), &p.sub)
                    .send()
            })
            .await
            .map_err(|e| scrub(e, key))?;
        let op = async_operation(rsp.as_raw_response());
        let c = self
            .wait_ready(
                &format!("connection {}", p.name),
                false,
                op.as_deref(),
                || self.poll_connection(&p.sub, &p.rg, &p.name),
            )
            .await
            .map_err(|e| scrub(e, key))?;
        Ok(outputs(&[(
            "id",
            id_of("connection", &p.name, c.resource.id.as_ref())?,
        )]))
    }

    pub(super) async fn delete_connection(
        &self,
        d: &Desired,
        id: &str,
    ) -> Result<(), ProviderError> {
        let p = super::place(d, Some(id))?;
        // The gateway from the plan when known, else from the connection itself.
        let gateway = match d.attrs.opt_str("virtual_network_gateway") {
            Some(g) => g.to_string(),
            None => match self.get_connection(&p.sub, &p.rg, &p.name).await? {
                None => return Ok(()),
                Some(c) => c
                    .properties
                    .virtual_network_gateway1
                    .resource
                    .id
                    .clone()
                    .unwrap_or_default(),
            },
        };
        let lock = self.gateway_lock(&gateway);
        let _held = lock.lock().await;
        let sent = self
            .call("delete connection", || {
                self.client
                    .virtual_network_gateway_connections_client()
                    .delete(&p.rg, &p.name, &p.sub)
                    .send()
            })
            .await;
        if found(sent)?.is_none() {
            return Ok(());
        }
        self.wait_gone(&format!("connection {}", p.name), false, || {
            self.poll_connection(&p.sub, &p.rg, &p.name)
        })
        .await
    }

    // ------------------------------------------------------------------ NSG rule

    /// (subscription, resource group, NSG, rule name).
    fn rule_at(
        d: &Desired,
        id: Option<&str>,
    ) -> Result<(String, String, String, String), ProviderError> {
        if let Some(a) = id.and_then(super::ArmId::parse) {
            if let Some(rule) = a.child {
                return Ok((a.sub, a.rg, a.name, rule));
            }
        }
        Ok((
            d.attrs.str("subscription")?.to_string(),
            d.attrs.str("resource_group")?.to_string(),
            d.attrs.str("network_security_group")?.to_string(),
            d.name.clone(),
        ))
    }

    async fn get_rule(
        &self,
        sub: &str,
        rg: &str,
        nsg: &str,
        name: &str,
    ) -> Result<Option<models::SecurityRule>, ProviderError> {
        found(
            self.call("get security rule", || {
                self.client
                    .security_rules_client()
                    .get(rg, nsg, name, sub)
                    .into_future()
            })
            .await,
        )
    }

    async fn poll_rule(
        &self,
        sub: &str,
        rg: &str,
        nsg: &str,
        name: &str,
    ) -> Result<Polled<models::SecurityRule>, ProviderError> {
        Ok(self.get_rule(sub, rg, nsg, name).await?.map(|r| {
            (
                r.properties
                    .as_ref()
                    .and_then(|p| p.provisioning_state.clone()),
                r,
            )
        }))
    }

    fn rule_body(d: &Desired) -> Result<models::SecurityRule, ProviderError> {
        let a = &d.attrs;
        let mut p = models::SecurityRulePropertiesFormat::new(
            wire("protocol", a.str("protocol")?)?,
            wire("access", a.str("access")?)?,
            int32(a, "priority")?,
            wire("direction", a.str("direction")?)?,
        );
        p.description = Some(d.description());
        p.source_port_range = Some("*".into());
        (p.source_address_prefix, p.source_address_prefixes) =
            split(&a.strs("source_address_prefixes")?);
        (p.destination_address_prefix, p.destination_address_prefixes) =
            split(&a.strs("destination_address_prefixes")?);
        (p.destination_port_range, p.destination_port_ranges) =
            split(&a.strs("destination_port_ranges")?);
        let mut r = models::SecurityRule::new();
        r.properties = Some(p);
        Ok(r)
    }

    fn rule_matches(have: &models::SecurityRule, want: &models::SecurityRule) -> bool {
        let (Some(h), Some(w)) = (&have.properties, &want.properties) else {
            return false;
        };
        h.protocol == w.protocol
            && h.access == w.access
            && h.priority == w.priority
            && h.direction == w.direction
            && h.description == w.description
            && joined(&h.source_address_prefix, &h.source_address_prefixes)
                == joined(&w.source_address_prefix, &w.source_address_prefixes)
            && joined(
                &h.destination_address_prefix,
                &h.destination_address_prefixes,
            ) == joined(
                &w.destination_address_prefix,
                &w.destination_address_prefixes,
            )
            && joined(&h.destination_port_range, &h.destination_port_ranges)
                == joined(&w.destination_port_range, &w.destination_port_ranges)
            && joined(&h.source_port_range, &h.source_port_ranges) == vec!["*".to_string()]
    }

    fn rule_outputs(
        (sub, rg, nsg, name): &(String, String, String, String),
        r: &models::SecurityRule,
    ) -> Outputs {
        let id = r.sub_resource.id.clone().unwrap_or_else(|| {
            arm_id(
                sub,
                rg,
                &format!("networkSecurityGroups/{nsg}/securityRules/{name}"),
            )
        });
        outputs(&[("id", id)])
    }

    pub(super) async fn read_nsg_rule(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let at = Self::rule_at(d, id)?;
        let (sub, rg, nsg, name) = &at;
        match self.poll_rule(sub, rg, nsg, name).await? {
            Some((s, r)) if !is_deleting(&s) => Ok(Some(Self::rule_outputs(&at, &r))),
            _ => Ok(None),
        }
    }

    pub(super) async fn create_nsg_rule(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let at = Self::rule_at(d, None)?;
        let (sub, rg, nsg, name) = &at;
        let what = format!("security rule {name} of {nsg}");
        let poll = || self.poll_rule(sub, rg, nsg, name);
        if let Some((state, _)) = poll().await? {
            if is_deleting(&state) {
                self.wait_gone(&what, false, poll).await?;
            } else {
                let r = self.wait_ready(&what, false, None, poll).await?;
                // Rules have no tags: their description says whose they are.
                let owner = r.properties.as_ref().and_then(|p| p.description.clone());
                if let Some(o) = owner.filter(|o| o.starts_with("peerctl ")) {
                    if o != d.description() {
                        return Err(ProviderError::cloud(
                            "PeerctlNameTaken",
                            format!("{what} exists and belongs to {o:?}"),
                        ));
                    }
                }
                if Self::rule_matches(&r, &Self::rule_body(d)?) {
                    return Ok(Self::rule_outputs(&at, &r));
                }
            }
        }
        self.put_nsg_rule(d, None).await
    }

    /// PUTs the whole rule (create or update) and waits.
    pub(super) async fn put_nsg_rule(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Outputs, ProviderError> {
        let at = Self::rule_at(d, id)?;
        let (sub, rg, nsg, name) = &at;
        let body = Self::rule_body(d)?;
        let rsp = self
            .call("put security rule", || {
                self.client
                    .security_rules_client()
                    .create_or_update(rg, nsg, name, body.clone(), sub)
                    .send()
            })
            .await?;
        let op = async_operation(rsp.as_raw_response());
        let r = self
            .wait_ready(
                &format!("security rule {name} of {nsg}"),
                false,
                op.as_deref(),
                || self.poll_rule(sub, rg, nsg, name),
            )
            .await?;
        Ok(Self::rule_outputs(&at, &r))
    }

    pub(super) async fn delete_nsg_rule(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        let (sub, rg, nsg, name) = Self::rule_at(d, Some(id))?;
        let sent = self
            .call("delete security rule", || {
                self.client
                    .security_rules_client()
                    .delete(&rg, &nsg, &name, &sub)
                    .send()
            })
            .await;
        if found(sent)?.is_none() {
            return Ok(());
        }
        self.wait_gone(&format!("security rule {name} of {nsg}"), false, || {
            self.poll_rule(&sub, &rg, &nsg, &name)
        })
        .await
    }
}
