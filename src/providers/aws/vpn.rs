//! Site-to-Site VPN connections (always two tunnels, each with the planned inside CIDR, key
//! and IKE proposal) and their static routes. Tunnels are matched to the plan by inside CIDR,
//! never by EC2's order. A route's id is `vpn-…/DESTINATION_CIDR`.

use super::{identity_filters, is_code, is_gone, known, tag_spec, AwsProvider};
use super::{GATEWAY_POLL, VPN_POLL};
use crate::providers::{Attrs, Desired, Outputs, ProviderError};
use crate::state::Secret;
use aws_sdk_ec2::types::{
    IkeVersionsRequestListValue, ModifyVpnTunnelOptionsSpecification,
    Phase1DhGroupNumbersRequestListValue, Phase1EncryptionAlgorithmsRequestListValue,
    Phase1IntegrityAlgorithmsRequestListValue, Phase2DhGroupNumbersRequestListValue,
    Phase2EncryptionAlgorithmsRequestListValue, Phase2IntegrityAlgorithmsRequestListValue,
    ResourceType, TunnelOption, VpnConnection, VpnConnectionOptionsSpecification,
    VpnTunnelOptionsSpecification,
};
use std::collections::BTreeSet;

const VPN_NOT_FOUND: &str = "InvalidVpnConnectionID.NotFound";
const ROUTE_NOT_FOUND: &str = "InvalidRoute.NotFound";

/// One planned tunnel (an element of the `tunnels` attribute).
struct TunnelPlan<'a> {
    inside_cidr: Option<&'a str>,
    psk: &'a Secret,
    ike_versions: Vec<&'a str>,
    p1_enc: Vec<&'a str>,
    p1_int: Vec<&'a str>,
    p1_dh: Vec<i32>,
    p1_life: Option<i32>,
    p2_enc: Vec<&'a str>,
    p2_int: Vec<&'a str>,
    p2_dh: Vec<i32>,
    p2_life: Option<i32>,
    dpd: Option<i32>,
}

fn opt_strs<'a>(m: &'a Attrs, key: &str) -> Result<Vec<&'a str>, ProviderError> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(_) => m.strs(key),
    }
}

fn opt_ints(m: &Attrs, key: &str) -> Result<Vec<i32>, ProviderError> {
    let Some(_) = m.get(key) else {
        return Ok(Vec::new());
    };
    m.list(key)?
        .iter()
        .map(|a| {
            a.as_int()
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| ProviderError::Attribute(format!("{key} is not a list of integers")))
        })
        .collect()
}

fn opt_i32(m: &Attrs, key: &str) -> Result<Option<i32>, ProviderError> {
    m.opt_int(key)
        .map(|i| {
            i32::try_from(i).map_err(|_| ProviderError::Attribute(format!("{key} is out of range")))
        })
        .transpose()
}

fn tunnel_plans(d: &Desired) -> Result<Vec<TunnelPlan<'_>>, ProviderError> {
    let plans = d
        .attrs
        .maps("tunnels")?
        .into_iter()
        .map(|m| {
            Ok(TunnelPlan {
                inside_cidr: m.opt_str("inside_cidr"),
                psk: m.secret("pre_shared_key")?,
                ike_versions: opt_strs(m, "ike_versions")?,
                p1_enc: opt_strs(m, "phase1_encryption")?,
                p1_int: opt_strs(m, "phase1_integrity")?,
                p1_dh: opt_ints(m, "phase1_dh_groups")?,
                p1_life: opt_i32(m, "phase1_lifetime_seconds")?,
                p2_enc: opt_strs(m, "phase2_encryption")?,
                p2_int: opt_strs(m, "phase2_integrity")?,
                p2_dh: opt_ints(m, "phase2_dh_groups")?,
                p2_life: opt_i32(m, "phase2_lifetime_seconds")?,
                dpd: opt_i32(m, "dpd_timeout_seconds")?,
            })
        })
        .collect::<Result<Vec<_>, ProviderError>>()?;
    if plans.len() > 2 {
        return Err(ProviderError::Attribute(format!(
            "tunnels has {} entries: an AWS VPN connection has 2",
            plans.len()
        )));
    }
    Ok(plans)
}

/// The planned inside CIDRs, read leniently (a read by identity may lack the keys).
fn planned_inside(d: &Desired) -> Vec<Option<&str>> {
    d.attrs
        .get("tunnels")
        .and_then(|t| t.as_list())
        .unwrap_or_default()
        .iter()
        .map(|t| t.as_map().and_then(|m| m.opt_str("inside_cidr")))
        .collect()
}

/// For each planned tunnel, the index of the actual tunnel it is: same inside CIDR first,
/// then the remaining ones in order (an adopted connection whose inside CIDRs drifted).
/// Then every actual tunnel left over, so the result orders all of EC2's tunnels.
fn tunnel_order(planned: &[Option<&str>], actual: &[TunnelOption]) -> Vec<usize> {
    let mut taken = vec![false; actual.len()];
    let mut order: Vec<Option<usize>> = planned
        .iter()
        .map(|p| {
            let j = actual
                .iter()
                .enumerate()
                .position(|(j, a)| !taken[j] && p.is_some() && a.tunnel_inside_cidr() == *p)?;
            taken[j] = true;
            Some(j)
        })
        .collect();
    for slot in order.iter_mut().filter(|s| s.is_none()) {
        if let Some(j) = taken.iter().position(|t| !t) {
            taken[j] = true;
            *slot = Some(j);
        }
    }
    let mut out: Vec<usize> = order.into_iter().flatten().collect();
    out.extend((0..actual.len()).filter(|j| !taken[*j]));
    out
}

/// What differs between a planned tunnel and EC2's (lists compared as sets; lifetimes and
/// DPD only where EC2 reports them).
#[derive(Debug, Default, Clone, Copy)]
struct Drift {
    psk: bool,
    inside: bool,
    ike: bool,
}

impl Drift {
    const ALL: Drift = Drift {
        psk: true,
        inside: true,
        ike: true,
    };
    fn any(self) -> bool {
        self.psk || self.inside || self.ike
    }
}

fn set_differs<T: Ord>(
    planned: impl IntoIterator<Item = T>,
    actual: impl IntoIterator<Item = T>,
) -> bool {
    let p: BTreeSet<T> = planned.into_iter().collect();
    !p.is_empty() && p != actual.into_iter().collect::<BTreeSet<T>>()
}

fn drift(p: &TunnelPlan, a: &TunnelOption) -> Drift {
    let s = |v: Option<&str>| v.map(str::to_string);
    let ike = set_differs(
        p.ike_versions.iter().map(|v| Some(v.to_string())),
        a.ike_versions().iter().map(|v| s(v.value())),
    ) || set_differs(
        p.p1_enc.iter().map(|v| Some(v.to_string())),
        a.phase1_encryption_algorithms()
            .iter()
            .map(|v| s(v.value())),
    ) || set_differs(
        p.p1_int.iter().map(|v| Some(v.to_string())),
        a.phase1_integrity_algorithms().iter().map(|v| s(v.value())),
    ) || set_differs(
        p.p1_dh.iter().map(|v| Some(*v)),
        a.phase1_dh_group_numbers().iter().map(|v| v.value()),
    ) || set_differs(
        p.p2_enc.iter().map(|v| Some(v.to_string())),
        a.phase2_encryption_algorithms()
            .iter()
            .map(|v| s(v.value())),
    ) || set_differs(
        p.p2_int.iter().map(|v| Some(v.to_string())),
        a.phase2_integrity_algorithms().iter().map(|v| s(v.value())),
    ) || set_differs(
        p.p2_dh.iter().map(|v| Some(*v)),
        a.phase2_dh_group_numbers().iter().map(|v| v.value()),
    ) || [
        (p.p1_life, a.phase1_lifetime_seconds()),
        (p.p2_life, a.phase2_lifetime_seconds()),
        (p.dpd, a.dpd_timeout_seconds()),
    ]
    .iter()
    .any(|(want, have)| want.is_some() && have.is_some() && want != have);
    Drift {
        psk: a.pre_shared_key() != Some(p.psk.expose()),
        inside: p.inside_cidr.is_some() && a.tunnel_inside_cidr() != p.inside_cidr,
        ike,
    }
}

/// Fills a create or a modify tunnel specification (two SDK types with the same setters)
/// with what `drift` says must be sent.
macro_rules! tunnel_spec {
    ($builder:expr, $p:expr, $drift:expr) => {{
        let p: &TunnelPlan = $p;
        let drift: Drift = $drift;
        let mut b = $builder;
        if drift.inside {
            b = b.set_tunnel_inside_cidr(p.inside_cidr.map(str::to_string));
        }
        if drift.psk {
            b = b.pre_shared_key(p.psk.expose());
        }
        if drift.ike {
            for v in &p.ike_versions {
                b = b.ike_versions(IkeVersionsRequestListValue::builder().value(*v).build());
            }
            for v in &p.p1_enc {
                b = b.phase1_encryption_algorithms(
                    Phase1EncryptionAlgorithmsRequestListValue::builder()
                        .value(*v)
                        .build(),
                );
            }
            for v in &p.p1_int {
                b = b.phase1_integrity_algorithms(
                    Phase1IntegrityAlgorithmsRequestListValue::builder()
                        .value(*v)
                        .build(),
                );
            }
            for v in &p.p1_dh {
                b = b.phase1_dh_group_numbers(
                    Phase1DhGroupNumbersRequestListValue::builder()
                        .value(*v)
                        .build(),
                );
            }
            for v in &p.p2_enc {
                b = b.phase2_encryption_algorithms(
                    Phase2EncryptionAlgorithmsRequestListValue::builder()
                        .value(*v)
                        .build(),
                );
            }
            for v in &p.p2_int {
                b = b.phase2_integrity_algorithms(
                    Phase2IntegrityAlgorithmsRequestListValue::builder()
                        .value(*v)
                        .build(),
                );
            }
            for v in &p.p2_dh {
                b = b.phase2_dh_group_numbers(
                    Phase2DhGroupNumbersRequestListValue::builder()
                        .value(*v)
                        .build(),
                );
            }
            b = b
                .set_phase1_lifetime_seconds(p.p1_life)
                .set_phase2_lifetime_seconds(p.p2_life)
                .set_dpd_timeout_seconds(p.dpd);
        }
        b.build()
    }};
}

fn vpn_state(c: &VpnConnection) -> &str {
    c.state().map(|s| s.as_str()).unwrap_or("unknown")
}

fn vpn_outputs(c: &VpnConnection, planned: &[Option<&str>]) -> Result<Outputs, ProviderError> {
    let id = c
        .vpn_connection_id()
        .ok_or_else(|| ProviderError::cloud("InvalidResponse", "a VPN connection without an id"))?;
    let actual = c.options().map(|o| o.tunnel_options()).unwrap_or_default();
    let mut out = super::id_output(id);
    let order = tunnel_order(planned, actual);
    for n in 0..2 {
        let ip = order
            .get(n)
            .and_then(|j| actual[*j].outside_ip_address())
            .ok_or_else(|| {
                ProviderError::cloud(
                    "InvalidResponse",
                    format!(
                        "VPN connection {id} reports no outside IP for tunnel {}",
                        n + 1
                    ),
                )
            })?;
        out.insert(format!("tunnel{}_outside_ip", n + 1), ip.to_string());
    }
    Ok(out)
}

fn route_parts(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/')
        .filter(|(v, c)| v.starts_with("vpn-") && c.contains('/'))
        .ok_or_else(|| ProviderError::Attribute(format!("route id {id} is not vpn-…/CIDR")))
}

fn route_state<'a>(c: &'a VpnConnection, dest: &str) -> Option<&'a str> {
    c.routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(dest))
        .map(|r| r.state().map(|s| s.as_str()).unwrap_or("unknown"))
}

impl AwsProvider {
    async fn find_vpn(&self, d: &Desired) -> Result<Option<VpnConnection>, ProviderError> {
        let filters = identity_filters(d);
        let out = self
            .call(&d.region, "DescribeVpnConnections", |c| {
                c.describe_vpn_connections()
                    .set_filters(Some(filters.clone()))
                    .send()
            })
            .await?;
        // A connection's gateways cannot change: one on other gateways is a predecessor
        // being replaced (unknown references match anything).
        let vgw = known(d, "vpn_gateway_id");
        let cgw = known(d, "customer_gateway_id");
        Ok(out
            .vpn_connections()
            .iter()
            .filter(|c| !is_gone(vpn_state(c)))
            .find(|c| {
                let same = vgw.is_none_or(|g| c.vpn_gateway_id() == Some(g))
                    && cgw.is_none_or(|g| c.customer_gateway_id() == Some(g));
                if !same {
                    tracing::info!(address = %d.address, vpn = ?c.vpn_connection_id(), "not adopting a VPN connection on other gateways");
                }
                same
            })
            .cloned())
    }

    async fn describe_vpn(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<VpnConnection>, ProviderError> {
        match self
            .call(region, "DescribeVpnConnections", |c| {
                c.describe_vpn_connections().vpn_connection_ids(id).send()
            })
            .await
        {
            Ok(out) => Ok(out.vpn_connections().first().cloned()),
            Err(e) if is_code(&e, &[VPN_NOT_FOUND]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Describes a connection that must exist, riding out eventual consistency.
    async fn describe_new_vpn(
        &self,
        region: &str,
        id: &str,
    ) -> Result<VpnConnection, ProviderError> {
        self.consistent("DescribeVpnConnections", &[VPN_NOT_FOUND], || async {
            self.describe_vpn(region, id).await?.ok_or_else(|| {
                ProviderError::cloud(
                    VPN_NOT_FOUND,
                    format!("The vpnConnection ID '{id}' does not exist"),
                )
            })
        })
        .await
    }

    /// Waits until the connection is `available` (after a create or a modification).
    async fn wait_vpn(&self, region: &str, id: &str) -> Result<VpnConnection, ProviderError> {
        self.wait_for(
            &format!("VPN connection {id} available"),
            VPN_POLL,
            self.cfg.timeouts.aws_vpn_connection,
            || async {
                let c = self.describe_new_vpn(region, id).await?;
                match vpn_state(&c) {
                    "available" => Ok(Ok(c)),
                    s if is_gone(s) => Err(ProviderError::Failed {
                        what: format!("VPN connection {id}"),
                        message: format!("it is {s}"),
                    }),
                    s => Ok(Err(s.to_string())),
                }
            },
        )
        .await
    }

    pub(super) async fn create_vpn(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let plans = tunnel_plans(d)?;
        let conn = match self.find_vpn(d).await? {
            Some(c) => {
                let id = c.vpn_connection_id().unwrap_or_default().to_string();
                tracing::info!(address = %d.address, %id, "adopting the existing VPN connection");
                let c = self.wait_vpn(&d.region, &id).await?;
                self.converge_tunnels(d, &plans, c).await?
            }
            None => {
                let id = self.new_vpn(d, &plans).await?;
                self.wait_vpn(&d.region, &id).await?
            }
        };
        vpn_outputs(&conn, &planned_inside(d))
    }

    async fn new_vpn(
        &self,
        d: &Desired,
        plans: &[TunnelPlan<'_>],
    ) -> Result<String, ProviderError> {
        let vgw = d.attrs.str("vpn_gateway_id")?;
        let cgw = d.attrs.str("customer_gateway_id")?;
        let ty = d.attrs.opt_str("type").unwrap_or("ipsec.1");
        let static_only = d
            .attrs
            .get("static_routes_only")
            .and_then(|a| a.as_bool())
            .unwrap_or(false);
        let specs: Vec<VpnTunnelOptionsSpecification> = plans
            .iter()
            .map(|p| tunnel_spec!(VpnTunnelOptionsSpecification::builder(), p, Drift::ALL))
            .collect();
        let options = VpnConnectionOptionsSpecification::builder()
            .static_routes_only(static_only)
            .set_local_ipv4_network_cidr(
                d.attrs
                    .opt_str("local_ipv4_network_cidr")
                    .map(str::to_string),
            )
            .set_remote_ipv4_network_cidr(
                d.attrs
                    .opt_str("remote_ipv4_network_cidr")
                    .map(str::to_string),
            )
            .set_tunnel_options(Some(specs))
            .build();
        let tags = tag_spec(ResourceType::VpnConnection, d);
        let keys: Vec<&str> = plans.iter().map(|p| p.psk.expose()).collect();
        let out = self
            .consistent(
                "CreateVpnConnection",
                &[
                    "InvalidVpnGatewayID.NotFound",
                    "InvalidCustomerGatewayID.NotFound",
                ],
                || {
                    self.call_with_secrets(&d.region, "CreateVpnConnection", &keys, |c| {
                        c.create_vpn_connection()
                            .r#type(ty)
                            .vpn_gateway_id(vgw)
                            .customer_gateway_id(cgw)
                            .options(options.clone())
                            .tag_specifications(tags.clone())
                            .send()
                    })
                },
            )
            .await?;
        out.vpn_connection()
            .and_then(|c| c.vpn_connection_id())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::cloud("InvalidResponse", "CreateVpnConnection returned no id")
            })
    }

    /// Brings each tunnel of `conn` to its plan (key, inside CIDR, IKE proposal) with
    /// ModifyVpnTunnelOptions, one tunnel at a time (EC2 refuses a second modification while
    /// the connection is modifying), waiting for `available` after each.
    async fn converge_tunnels(
        &self,
        d: &Desired,
        plans: &[TunnelPlan<'_>],
        conn: VpnConnection,
    ) -> Result<VpnConnection, ProviderError> {
        let id = conn.vpn_connection_id().unwrap_or_default().to_string();
        let actual: Vec<TunnelOption> = conn
            .options()
            .map(|o| o.tunnel_options().to_vec())
            .unwrap_or_default();
        let planned: Vec<Option<&str>> = plans.iter().map(|p| p.inside_cidr).collect();
        let order = tunnel_order(&planned, &actual);
        let keys: Vec<&str> = plans.iter().map(|p| p.psk.expose()).collect();
        let mut conn = conn;
        for (p, j) in plans.iter().zip(order) {
            let a = &actual[j];
            let drift = drift(p, a);
            if !drift.any() {
                continue;
            }
            let outside = a.outside_ip_address().ok_or_else(|| {
                ProviderError::cloud(
                    "InvalidResponse",
                    format!("VPN connection {id} has a tunnel without an outside IP"),
                )
            })?;
            tracing::info!(vpn = %id, tunnel = %outside, key = drift.psk, inside_cidr = drift.inside, ike = drift.ike, "modifying tunnel options");
            let spec = tunnel_spec!(ModifyVpnTunnelOptionsSpecification::builder(), p, drift);
            let window = self.cfg.scaled(self.cfg.timeouts.aws_vpn_connection);
            let every = self.cfg.scaled(VPN_POLL);
            self.tolerate(
                "ModifyVpnTunnelOptions",
                &["IncorrectState"],
                window,
                every,
                || {
                    self.call_with_secrets(&d.region, "ModifyVpnTunnelOptions", &keys, |c| {
                        c.modify_vpn_tunnel_options()
                            .vpn_connection_id(&id)
                            .vpn_tunnel_outside_ip_address(outside)
                            .tunnel_options(spec.clone())
                            .send()
                    })
                },
            )
            .await?;
            conn = self.wait_vpn(&d.region, &id).await?;
        }
        Ok(conn)
    }

    pub(super) async fn read_vpn(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let c = match id {
            Some(id) => self.describe_vpn(&d.region, id).await?,
            None => self.find_vpn(d).await?,
        };
        match c.filter(|c| !is_gone(vpn_state(c))) {
            Some(c) => vpn_outputs(&c, &planned_inside(d)).map(Some),
            None => Ok(None),
        }
    }

    pub(super) async fn update_vpn(
        &self,
        d: &Desired,
        id: &str,
        changed: &[String],
    ) -> Result<Outputs, ProviderError> {
        if let Some(other) = changed.iter().find(|c| {
            !matches!(
                c.as_str(),
                "tunnels" | "local_ipv4_network_cidr" | "remote_ipv4_network_cidr"
            )
        }) {
            return Err(ProviderError::Attribute(format!(
                "{other} of a VPN connection cannot change in place"
            )));
        }
        let mut conn = self.wait_vpn(&d.region, id).await?;
        let cidrs = changed
            .iter()
            .any(|c| c == "local_ipv4_network_cidr" || c == "remote_ipv4_network_cidr");
        if cidrs {
            let local = d.attrs.opt_str("local_ipv4_network_cidr");
            let remote = d.attrs.opt_str("remote_ipv4_network_cidr");
            self.call(&d.region, "ModifyVpnConnectionOptions", |c| {
                c.modify_vpn_connection_options()
                    .vpn_connection_id(id)
                    .set_local_ipv4_network_cidr(local.map(str::to_string))
                    .set_remote_ipv4_network_cidr(remote.map(str::to_string))
                    .send()
            })
            .await?;
            conn = self.wait_vpn(&d.region, id).await?;
        }
        if changed.iter().any(|c| c == "tunnels") {
            let plans = tunnel_plans(d)?;
            conn = self.converge_tunnels(d, &plans, conn).await?;
        }
        vpn_outputs(&conn, &planned_inside(d))
    }

    pub(super) async fn delete_vpn(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        match self
            .call(&d.region, "DeleteVpnConnection", |c| {
                c.delete_vpn_connection().vpn_connection_id(id).send()
            })
            .await
        {
            Ok(_) => {}
            Err(e) if is_code(&e, &[VPN_NOT_FOUND]) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_for(
            &format!("VPN connection {id} deleted"),
            VPN_POLL,
            self.cfg.timeouts.aws_vpn_connection,
            || async {
                Ok(match self.describe_vpn(&d.region, id).await? {
                    None => Ok(()),
                    Some(c) if vpn_state(&c) == "deleted" => Ok(()),
                    Some(c) => Err(vpn_state(&c).to_string()),
                })
            },
        )
        .await
    }

    // ------------------------------------------------------------ static routes

    pub(super) async fn create_route(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let vpn = d.attrs.str("vpn_connection_id")?;
        let dest = d.attrs.str("destination_cidr_block")?;
        let conn = self.describe_new_vpn(&d.region, vpn).await?;
        let present = route_state(&conn, dest).is_some_and(|s| !is_gone(s));
        if !present {
            let r = self
                .consistent("CreateVpnConnectionRoute", &[VPN_NOT_FOUND], || {
                    self.call(&d.region, "CreateVpnConnectionRoute", |c| {
                        c.create_vpn_connection_route()
                            .vpn_connection_id(vpn)
                            .destination_cidr_block(dest)
                            .send()
                    })
                })
                .await;
            match r {
                Ok(_) => {}
                Err(e) if is_code(&e, &["RouteAlreadyExists"]) => {}
                Err(e) => return Err(e),
            }
        }
        self.wait_for(
            &format!("route {dest} of {vpn} available"),
            GATEWAY_POLL,
            self.cfg.timeouts.aws_other,
            || async {
                let c = self.describe_new_vpn(&d.region, vpn).await?;
                match route_state(&c, dest) {
                    Some("available") => Ok(Ok(())),
                    Some(s) if is_gone(s) => Err(ProviderError::Failed {
                        what: format!("route {dest} of {vpn}"),
                        message: format!("it is {s}"),
                    }),
                    Some(s) => Ok(Err(s.to_string())),
                    None => Ok(Err("not listed yet".to_string())),
                }
            },
        )
        .await?;
        Ok(super::id_output(&format!("{vpn}/{dest}")))
    }

    pub(super) async fn read_route(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let (vpn, dest) = match id {
            Some(id) => route_parts(id)?,
            None => match (
                known(d, "vpn_connection_id"),
                known(d, "destination_cidr_block"),
            ) {
                (Some(v), Some(c)) => (v, c),
                _ => return Ok(None),
            },
        };
        let Some(conn) = self.describe_vpn(&d.region, vpn).await? else {
            return Ok(None);
        };
        let live =
            !is_gone(vpn_state(&conn)) && route_state(&conn, dest).is_some_and(|s| !is_gone(s));
        Ok(live.then(|| super::id_output(&format!("{vpn}/{dest}"))))
    }

    pub(super) async fn delete_route(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        let (vpn, dest) = route_parts(id)?;
        match self
            .call(&d.region, "DeleteVpnConnectionRoute", |c| {
                c.delete_vpn_connection_route()
                    .vpn_connection_id(vpn)
                    .destination_cidr_block(dest)
                    .send()
            })
            .await
        {
            Ok(_) => {}
            Err(e) if is_code(&e, &[VPN_NOT_FOUND, ROUTE_NOT_FOUND]) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_for(
            &format!("route {dest} of {vpn} deleted"),
            GATEWAY_POLL,
            self.cfg.timeouts.aws_other,
            || async {
                Ok(match self.describe_vpn(&d.region, vpn).await? {
                    None => Ok(()),
                    Some(c) => match route_state(&c, dest) {
                        None | Some("deleted") => Ok(()),
                        Some(s) => Err(s.to_string()),
                    },
                })
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tunnel(inside: &str, ip: &str) -> TunnelOption {
        TunnelOption::builder()
            .tunnel_inside_cidr(inside)
            .outside_ip_address(ip)
            .build()
    }

    #[test]
    fn tunnels_are_ordered_by_inside_cidr_not_by_ec2() {
        let actual = [
            tunnel("169.254.20.0/30", "198.18.0.2"),
            tunnel("169.254.10.0/30", "198.18.0.1"),
        ];
        let order = tunnel_order(&[Some("169.254.10.0/30"), Some("169.254.20.0/30")], &actual);
        assert_eq!(order, vec![1, 0]);
        // Unknown inside CIDRs fall back to EC2's order for what is left.
        let order = tunnel_order(&[Some("169.254.30.0/30"), Some("169.254.10.0/30")], &actual);
        assert_eq!(order, vec![0, 1]);
        assert_eq!(tunnel_order(&[], &actual), vec![0, 1]);
    }

    #[test]
    fn route_ids_split_at_the_first_slash() {
        assert_eq!(
            route_parts("vpn-0a/10.1.0.0/16").unwrap(),
            ("vpn-0a", "10.1.0.0/16")
        );
        assert!(route_parts("10.1.0.0/16").is_err());
    }
}
