//! Cloud VPN resources: the HA gateway, the external (peer) gateway, tunnels in both forms, and
//! the classic front end (static address, target gateway, ESP / UDP 500 / UDP 4500 rules).
//! Tunnels are never adopted as found: GCP cannot show their key, so they are recreated.

use super::{
    check_adopted, id_only, int, is_conflict, labels, network_path, project, redact, GcpProvider,
    Loc, Scope, POLL, POLL_SLOW,
};
use crate::plan::resource::Kind;
use crate::providers::{Desired, Outputs, ProviderError};
use google_cloud_compute_v1::model::{
    address, external_vpn_gateway, forwarding_rule, Address, ExternalVpnGateway,
    ExternalVpnGatewayInterface, ForwardingRule, TargetVpnGateway, VpnGateway, VpnTunnel,
};

/// Project, region and name of a regional resource: from its id when given, else planned.
fn regional(d: &Desired, id: Option<&str>) -> Result<(String, String, String), ProviderError> {
    match id.and_then(Loc::parse) {
        Some(Loc {
            project,
            region: Some(region),
            name,
            ..
        }) => Ok((project, region, name)),
        _ => Ok((project(d)?, d.region.clone(), d.name.clone())),
    }
}

/// Project and name of a global resource.
fn global(d: &Desired, id: Option<&str>) -> Result<(String, String), ProviderError> {
    match id.and_then(Loc::parse) {
        Some(l) if l.region.is_none() => Ok((l.project, l.name)),
        _ => Ok((project(d)?, d.name.clone())),
    }
}

fn region_scope(project: &str, region: &str) -> Scope {
    Scope::Region {
        project: project.to_string(),
        region: region.to_string(),
    }
}

fn gateway_outputs(gw: &VpnGateway, what: &str) -> Result<Outputs, ProviderError> {
    let mut out = id_only(gw.self_link.as_ref(), what)?;
    for i in 0..2u32 {
        let ip = gw
            .vpn_interfaces
            .iter()
            .find(|v| v.id.unwrap_or(0) == i)
            .and_then(|v| v.ip_address.clone())
            .ok_or_else(|| {
                ProviderError::cloud(
                    "NO_INTERFACE_ADDRESS",
                    format!("{what} has no address on interface {i}"),
                )
            })?;
        out.insert(format!("interface{i}_ip"), ip);
    }
    Ok(out)
}

fn address_outputs(a: &Address, what: &str) -> Result<Outputs, ProviderError> {
    let mut out = id_only(a.self_link.as_ref(), what)?;
    let ip = a.address.clone().ok_or_else(|| {
        ProviderError::cloud("NO_ADDRESS", format!("{what} has no address assigned"))
    })?;
    out.insert("address".to_string(), ip);
    Ok(out)
}

fn external_interfaces(d: &Desired) -> Result<Vec<ExternalVpnGatewayInterface>, ProviderError> {
    d.attrs
        .maps("interfaces")?
        .into_iter()
        .map(|m| {
            let id = m.int("id")?;
            let id = u32::try_from(id)
                .map_err(|_| ProviderError::Attribute(format!("interfaces id {id}")))?;
            Ok(ExternalVpnGatewayInterface::new()
                .set_id(id)
                .set_ip_address(m.str("ip_address")?))
        })
        .collect()
}

pub(super) async fn create(p: &GcpProvider, d: &Desired) -> Result<Outputs, ProviderError> {
    let what = d.address.as_str();
    let c = &p.c;
    match d.kind {
        Kind::GcpVpnGateway => {
            let (project, region, name) = regional(d, None)?;
            let body = VpnGateway::new()
                .set_name(&name)
                .set_description(d.description())
                .set_network(network_path(&project, d.attrs.str("network")?))
                .set_labels(labels(d));
            let gw = p
                .ensure(
                    what,
                    region_scope(&project, &region),
                    POLL_SLOW,
                    || {
                        c.vpn_gateways
                            .get()
                            .set_project(&project)
                            .set_region(&region)
                            .set_vpn_gateway(&name)
                            .send()
                    },
                    || {
                        c.vpn_gateways
                            .insert()
                            .set_project(&project)
                            .set_region(&region)
                            .set_body(body.clone())
                            .send()
                    },
                )
                .await?;
            check_adopted(d, gw.description.as_ref());
            gateway_outputs(&gw, what)
        }
        Kind::GcpExternalVpnGateway => {
            let (project, name) = global(d, None)?;
            let body = ExternalVpnGateway::new()
                .set_name(&name)
                .set_description(d.description())
                .set_labels(labels(d))
                .set_redundancy_type(external_vpn_gateway::RedundancyType::from(
                    d.attrs.str("redundancy_type")?,
                ))
                .set_interfaces(external_interfaces(d)?);
            let gw = p
                .ensure(
                    what,
                    Scope::Global {
                        project: project.clone(),
                    },
                    POLL_SLOW,
                    || {
                        c.external_vpn_gateways
                            .get()
                            .set_project(&project)
                            .set_external_vpn_gateway(&name)
                            .send()
                    },
                    || {
                        c.external_vpn_gateways
                            .insert()
                            .set_project(&project)
                            .set_body(body.clone())
                            .send()
                    },
                )
                .await?;
            check_adopted(d, gw.description.as_ref());
            id_only(gw.self_link.as_ref(), what)
        }
        Kind::GcpVpnTunnel => create_tunnel(p, d).await,
        Kind::GcpAddress => {
            let (project, region, name) = regional(d, None)?;
            let mut body = Address::new()
                .set_name(&name)
                .set_description(d.description())
                .set_labels(labels(d));
            if let Some(t) = d.attrs.opt_str("address_type") {
                body = body.set_address_type(address::AddressType::from(t));
            }
            let a = p
                .ensure(
                    what,
                    region_scope(&project, &region),
                    POLL,
                    || {
                        c.addresses
                            .get()
                            .set_project(&project)
                            .set_region(&region)
                            .set_address(&name)
                            .send()
                    },
                    || {
                        c.addresses
                            .insert()
                            .set_project(&project)
                            .set_region(&region)
                            .set_body(body.clone())
                            .send()
                    },
                )
                .await?;
            check_adopted(d, a.description.as_ref());
            address_outputs(&a, what)
        }
        Kind::GcpTargetVpnGateway => {
            let (project, region, name) = regional(d, None)?;
            let body = TargetVpnGateway::new()
                .set_name(&name)
                .set_description(d.description())
                .set_labels(labels(d))
                .set_network(network_path(&project, d.attrs.str("network")?));
            let g = p
                .ensure(
                    what,
                    region_scope(&project, &region),
                    POLL_SLOW,
                    || {
                        c.target_vpn_gateways
                            .get()
                            .set_project(&project)
                            .set_region(&region)
                            .set_target_vpn_gateway(&name)
                            .send()
                    },
                    || {
                        c.target_vpn_gateways
                            .insert()
                            .set_project(&project)
                            .set_region(&region)
                            .set_body(body.clone())
                            .send()
                    },
                )
                .await?;
            check_adopted(d, g.description.as_ref());
            id_only(g.self_link.as_ref(), what)
        }
        Kind::GcpForwardingRule => {
            let (project, region, name) = regional(d, None)?;
            let mut body = ForwardingRule::new()
                .set_name(&name)
                .set_description(d.description())
                .set_labels(labels(d))
                .set_ip_protocol(forwarding_rule::IPProtocol::from(
                    d.attrs.str("ip_protocol")?,
                ))
                .set_ip_address(d.attrs.str("ip_address")?)
                .set_target(d.attrs.str("target")?);
            if let Some(ports) = d.attrs.opt_str("port_range") {
                body = body.set_port_range(ports);
            }
            let r = p
                .ensure(
                    what,
                    region_scope(&project, &region),
                    POLL,
                    || {
                        c.forwarding_rules
                            .get()
                            .set_project(&project)
                            .set_region(&region)
                            .set_forwarding_rule(&name)
                            .send()
                    },
                    || {
                        c.forwarding_rules
                            .insert()
                            .set_project(&project)
                            .set_region(&region)
                            .set_body(body.clone())
                            .send()
                    },
                )
                .await?;
            check_adopted(d, r.description.as_ref());
            id_only(r.self_link.as_ref(), what)
        }
        other => Err(super::not_gcp(other)),
    }
}

/// The tunnel as planned, HA form when it names an HA gateway, else classic.
fn tunnel_body(d: &Desired, secret: &str) -> Result<VpnTunnel, ProviderError> {
    let mut t = VpnTunnel::new()
        .set_name(&d.name)
        .set_description(d.description())
        .set_labels(labels(d))
        .set_shared_secret(secret);
    if d.attrs.get("ike_version").is_some() {
        t = t.set_ike_version(int::<i32>(d, "ike_version")?);
    }
    if d.attrs.get("vpn_gateway").is_some() {
        // HA tunnels are route-based with 0.0.0.0/0 selectors by definition; GCP takes none.
        t = t
            .set_vpn_gateway(d.attrs.str("vpn_gateway")?)
            .set_vpn_gateway_interface(int::<i32>(d, "vpn_gateway_interface")?)
            .set_peer_external_gateway(d.attrs.str("peer_external_gateway")?)
            .set_peer_external_gateway_interface(int::<i32>(d, "peer_external_gateway_interface")?)
            .set_router(d.attrs.str("router")?);
    } else {
        t = t
            .set_target_vpn_gateway(d.attrs.str("target_vpn_gateway")?)
            .set_peer_ip(d.attrs.str("peer_ip")?);
        if d.attrs.get("local_traffic_selector").is_some() {
            t = t.set_local_traffic_selector(d.attrs.strs("local_traffic_selector")?);
        }
        if d.attrs.get("remote_traffic_selector").is_some() {
            t = t.set_remote_traffic_selector(d.attrs.strs("remote_traffic_selector")?);
        }
        if let Some(r) = d.attrs.opt_str("router") {
            t = t.set_router(r);
        }
    }
    Ok(t)
}

/// Creates the tunnel with the planned key. A tunnel found under the planned name is deleted
/// and inserted again: GCP returns only `sharedSecretHash`, so an adopted tunnel could not be
/// shown to carry the key the other end was given, and a tunnel cannot be edited in place.
async fn create_tunnel(p: &GcpProvider, d: &Desired) -> Result<Outputs, ProviderError> {
    let what = d.address.as_str();
    let c = &p.c.vpn_tunnels;
    let (project, region, name) = regional(d, None)?;
    let secret = d.attrs.secret("shared_secret")?.expose().to_string();
    let body = tunnel_body(d, &secret)?;
    let get = || {
        c.get()
            .set_project(&project)
            .set_region(&region)
            .set_vpn_tunnel(&name)
            .send()
    };
    let scope = region_scope(&project, &region);
    // One more round when the insert meets a tunnel made meanwhile: that one is recreated too.
    for round in 0..2 {
        if p.find(what, get).await?.is_some() {
            tracing::info!(
                address = what,
                "recreating the existing tunnel so that it carries the planned key"
            );
            p.remove(what, scope.clone(), super::POLL_SLOW, || {
                c.delete()
                    .set_project(&project)
                    .set_region(&region)
                    .set_vpn_tunnel(&name)
                    .send()
            })
            .await?;
        }
        let sent = p
            .call_hiding(what, &secret, || {
                c.insert()
                    .set_project(&project)
                    .set_region(&region)
                    .set_body(body.clone())
                    .send()
            })
            .await;
        match sent {
            Ok(op) => {
                p.wait(op, &scope, what, POLL_SLOW)
                    .await
                    .map_err(|e| redact(e, &secret))?;
                break;
            }
            Err(e) if is_conflict(&e) && round == 0 => continue,
            Err(e) => return Err(e),
        }
    }
    let t = p.find(what, get).await?.ok_or_else(|| {
        ProviderError::cloud("NOT_FOUND", format!("{what} is absent after its insert"))
    })?;
    id_only(t.self_link.as_ref(), what)
}

pub(super) async fn read(
    p: &GcpProvider,
    d: &Desired,
    id: Option<&str>,
) -> Result<Option<Outputs>, ProviderError> {
    let what = d.address.as_str();
    let c = &p.c;
    match d.kind {
        Kind::GcpVpnGateway => {
            let (project, region, name) = regional(d, id)?;
            let found = p
                .find(what, || {
                    c.vpn_gateways
                        .get()
                        .set_project(&project)
                        .set_region(&region)
                        .set_vpn_gateway(&name)
                        .send()
                })
                .await?;
            found.map(|g| gateway_outputs(&g, what)).transpose()
        }
        Kind::GcpExternalVpnGateway => {
            let (project, name) = global(d, id)?;
            let found = p
                .find(what, || {
                    c.external_vpn_gateways
                        .get()
                        .set_project(&project)
                        .set_external_vpn_gateway(&name)
                        .send()
                })
                .await?;
            found
                .map(|g| id_only(g.self_link.as_ref(), what))
                .transpose()
        }
        Kind::GcpVpnTunnel => {
            let (project, region, name) = regional(d, id)?;
            let found = p
                .find(what, || {
                    c.vpn_tunnels
                        .get()
                        .set_project(&project)
                        .set_region(&region)
                        .set_vpn_tunnel(&name)
                        .send()
                })
                .await?;
            found
                .map(|t| id_only(t.self_link.as_ref(), what))
                .transpose()
        }
        Kind::GcpAddress => {
            let (project, region, name) = regional(d, id)?;
            let found = p
                .find(what, || {
                    c.addresses
                        .get()
                        .set_project(&project)
                        .set_region(&region)
                        .set_address(&name)
                        .send()
                })
                .await?;
            found.map(|a| address_outputs(&a, what)).transpose()
        }
        Kind::GcpTargetVpnGateway => {
            let (project, region, name) = regional(d, id)?;
            let found = p
                .find(what, || {
                    c.target_vpn_gateways
                        .get()
                        .set_project(&project)
                        .set_region(&region)
                        .set_target_vpn_gateway(&name)
                        .send()
                })
                .await?;
            found
                .map(|g| id_only(g.self_link.as_ref(), what))
                .transpose()
        }
        Kind::GcpForwardingRule => {
            let (project, region, name) = regional(d, id)?;
            let found = p
                .find(what, || {
                    c.forwarding_rules
                        .get()
                        .set_project(&project)
                        .set_region(&region)
                        .set_forwarding_rule(&name)
                        .send()
                })
                .await?;
            found
                .map(|r| id_only(r.self_link.as_ref(), what))
                .transpose()
        }
        other => Err(super::not_gcp(other)),
    }
}

pub(super) async fn delete(p: &GcpProvider, d: &Desired, id: &str) -> Result<(), ProviderError> {
    let what = d.address.as_str();
    let c = &p.c;
    let id = Some(id);
    match d.kind {
        Kind::GcpExternalVpnGateway => {
            let (project, name) = global(d, id)?;
            let scope = Scope::Global {
                project: project.clone(),
            };
            p.remove(what, scope, POLL, || {
                c.external_vpn_gateways
                    .delete()
                    .set_project(&project)
                    .set_external_vpn_gateway(&name)
                    .send()
            })
            .await
        }
        kind => {
            let (project, region, name) = regional(d, id)?;
            let scope = region_scope(&project, &region);
            let (project, region, name) = (&project, &region, &name);
            match kind {
                Kind::GcpVpnGateway => {
                    p.remove(what, scope, POLL_SLOW, || {
                        c.vpn_gateways
                            .delete()
                            .set_project(project)
                            .set_region(region)
                            .set_vpn_gateway(name)
                            .send()
                    })
                    .await
                }
                Kind::GcpVpnTunnel => {
                    p.remove(what, scope, POLL_SLOW, || {
                        c.vpn_tunnels
                            .delete()
                            .set_project(project)
                            .set_region(region)
                            .set_vpn_tunnel(name)
                            .send()
                    })
                    .await
                }
                Kind::GcpAddress => {
                    p.remove(what, scope, POLL, || {
                        c.addresses
                            .delete()
                            .set_project(project)
                            .set_region(region)
                            .set_address(name)
                            .send()
                    })
                    .await
                }
                Kind::GcpTargetVpnGateway => {
                    p.remove(what, scope, POLL_SLOW, || {
                        c.target_vpn_gateways
                            .delete()
                            .set_project(project)
                            .set_region(region)
                            .set_target_vpn_gateway(name)
                            .send()
                    })
                    .await
                }
                Kind::GcpForwardingRule => {
                    p.remove(what, scope, POLL, || {
                        c.forwarding_rules
                            .delete()
                            .set_project(project)
                            .set_region(region)
                            .set_forwarding_rule(name)
                            .send()
                    })
                    .await
                }
                other => Err(super::not_gcp(other)),
            }
        }
    }
}
