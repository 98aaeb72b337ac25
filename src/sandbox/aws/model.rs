//! What the physics sees of AWS (tunnel ends, VPC networks, route lookups, security-group
//! evaluation) and what AWS shows of the physics' verdict (VgwTelemetry texts, propagated
//! routes in route tables).

use super::vpn::{attached_vpc, ENCRYPTION, INTEGRITY, PHASE1_DH, PHASE2_DH};
use super::{AwsCloud, RouteTable, SecurityGroup, SgRule, VpnConnection};
use crate::cloud::Cloud;
use crate::sandbox::net::{
    BgpConfig, BgpState, CloudModel, DownReason, EndId, EndStatus, Flow, FwDecision, NetInfo,
    NetState, Proposal, Proto, RouteDecision, TunnelEnd,
};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The physics' name for a VPC.
pub fn net_key(vpc_id: &str) -> String {
    format!("aws:{vpc_id}")
}

fn end_id(conn: &str, tunnel: usize) -> EndId {
    EndId {
        cloud: Cloud::Aws,
        resource: conn.to_string(),
        tunnel: tunnel as u8,
    }
}

/// One tunnel's VgwTelemetry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telemetry {
    pub up: bool,
    pub message: String,
    pub accepted_routes: usize,
    pub last_change_ms: u64,
}

/// AWS's `Status` (UP = true) and `StatusMessage` for a tunnel end's decided state. A
/// dynamic (BGP) tunnel is UP only once its BGP session is established; with IPsec up and
/// BGP down AWS reports DOWN with "IPSEC IS UP". The suffixes after "IPSEC IS DOWN" tell the
/// causes apart (AWS itself only says "IPSEC IS DOWN").
pub fn telemetry_message(status: Option<&EndStatus>, bgp: bool) -> (bool, String) {
    let Some(s) = status else {
        return (false, "IPSEC IS DOWN".into());
    };
    if s.up {
        return match (&s.bgp, bgp) {
            (_, false) => (true, String::new()),
            (Some(b), true) if b.state == BgpState::Established => {
                (true, format!("{} BGP ROUTES", b.learned.len()))
            }
            _ => (false, "IPSEC IS UP".into()),
        };
    }
    let why = match s.reason {
        None | Some(DownReason::NoPeer) => return (false, "IPSEC IS DOWN".into()),
        Some(DownReason::Provisioning) => "TUNNEL IS BEING PROVISIONED",
        Some(DownReason::PeerAddressMismatch) => "PEER IDENTITY MISMATCH",
        Some(DownReason::PskMismatch) => "IKE AUTHENTICATION FAILED (PRE-SHARED KEY MISMATCH)",
        Some(DownReason::IkeVersionMismatch) => "NO COMMON IKE VERSION",
        Some(DownReason::ProposalMismatch) => "NO PROPOSAL CHOSEN",
        Some(DownReason::TrafficSelectorMismatch) => "TRAFFIC SELECTORS UNACCEPTABLE",
        Some(DownReason::Negotiating) => "IKE NEGOTIATION IN PROGRESS",
    };
    (false, format!("IPSEC IS DOWN - {why}"))
}

/// VgwTelemetry for tunnel `i` of `c`.
pub(crate) fn telemetry(
    _aws: &AwsCloud,
    c: &VpnConnection,
    i: usize,
    net: &NetState,
    now: u64,
) -> Telemetry {
    let status = net.end(&end_id(&c.id, i));
    let bgp = !c.static_routes_only;
    let (up, message) = if status.is_none() && now < c.ready_ms {
        telemetry_message(
            Some(&EndStatus {
                up: false,
                reason: Some(DownReason::Provisioning),
                since_ms: c.created_ms,
                peer: None,
                peer_network: None,
                bgp: None,
            }),
            bgp,
        )
    } else {
        telemetry_message(status, bgp)
    };
    let accepted_routes = match status {
        Some(s) if up && bgp => s.bgp.as_ref().map_or(0, |b| b.learned.len()),
        _ => 0,
    };
    Telemetry {
        up,
        message,
        accepted_routes,
        last_change_ms: status.map_or(c.created_ms, |s| s.since_ms),
    }
}

/// The routes a tunnel end brings into its VGW while it is up: the connection's static
/// routes, or what BGP learned.
fn end_routes(c: &VpnConnection, s: &EndStatus) -> Vec<Ipv4Net> {
    if !s.up {
        return Vec::new();
    }
    if c.static_routes_only {
        return c.routes.clone();
    }
    match &s.bgp {
        Some(b) if b.state == BgpState::Established => b.learned.clone(),
        _ => Vec::new(),
    }
}

/// Every route a VGW can forward right now, with the tunnel end carrying it (first end wins,
/// in id order).
fn vgw_routes(aws: &AwsCloud, vgw_id: &str, net: &NetState, now: u64) -> BTreeMap<Ipv4Net, EndId> {
    let mut out = BTreeMap::new();
    for c in aws.vpn_connections.values() {
        if c.vpn_gateway_id != vgw_id || c.deleted.is_some() || now < c.ready_ms {
            continue;
        }
        for i in 0..c.tunnels.len() {
            let id = end_id(&c.id, i);
            if let Some(s) = net.end(&id) {
                for r in end_routes(c, s) {
                    out.entry(r).or_insert_with(|| id.clone());
                }
            }
        }
    }
    out
}

/// The routes propagation adds to a table: for each propagating VGW attached to the
/// table's VPC, every route its up tunnels carry, unless the table has a static route for
/// the same destination (static routes win).
pub(crate) fn propagated_routes(
    aws: &AwsCloud,
    table: &RouteTable,
    net: &NetState,
    now: u64,
) -> Vec<(Ipv4Net, String, EndId)> {
    let mut out: Vec<(Ipv4Net, String, EndId)> = Vec::new();
    for vgw_id in &table.propagating_vgws {
        let attached = aws
            .vpn_gateways
            .get(vgw_id)
            .and_then(|g| attached_vpc(g, now))
            .is_some_and(|v| v == table.vpc_id);
        if !attached {
            continue;
        }
        for (dest, end) in vgw_routes(aws, vgw_id, net, now) {
            let shadowed = table.routes.iter().any(|r| r.destination == dest)
                || out.iter().any(|(d, _, _)| *d == dest);
            if !shadowed {
                out.push((dest, vgw_id.clone(), end));
            }
        }
    }
    out
}

fn proposal(enc: &[String], int: &[String], dh: &[u32], all_dh: &[u32]) -> Option<Proposal> {
    if enc.is_empty() && int.is_empty() && dh.is_empty() {
        return None;
    }
    let or_all = |v: &[String], all: &[&str]| {
        if v.is_empty() {
            all.iter().map(|s| s.to_string()).collect()
        } else {
            v.to_vec()
        }
    };
    Some(Proposal {
        encryption: or_all(enc, &ENCRYPTION),
        integrity: or_all(int, &INTEGRITY),
        dh_groups: if dh.is_empty() {
            all_dh.to_vec()
        } else {
            dh.to_vec()
        },
    })
}

fn port_text(r: &SgRule) -> String {
    match (r.protocol.as_str(), r.from_port, r.to_port) {
        ("-1", _, _) => "all traffic".into(),
        (p, Some(a), Some(b)) if a == b => format!("{p} {a}"),
        (p, Some(a), Some(b)) => format!("{p} {a}-{b}"),
        (p, _, _) => p.to_string(),
    }
}

fn rule_matches(r: &SgRule, peer: Ipv4Addr, flow: Flow) -> bool {
    if !r.cidr.is_some_and(|c| c.contains(&peer)) {
        // Group references only match members of the group: nothing across a VPN.
        return false;
    }
    let in_range = |port: Option<u16>| match (port, r.from_port, r.to_port) {
        (Some(p), Some(a), Some(b)) => (a..=b).contains(&i32::from(p)),
        _ => false,
    };
    match (r.protocol.as_str(), flow.proto) {
        ("-1", _) => true,
        ("tcp", Proto::Tcp) | ("udp", Proto::Udp) => in_range(flow.port),
        ("icmp", Proto::Icmp) => true,
        _ => false,
    }
}

fn evaluate_sg(sg: Option<&SecurityGroup>, egress: bool, peer: Ipv4Addr, flow: Flow) -> FwDecision {
    let Some(sg) = sg else {
        return FwDecision::Deny {
            rule: "no default security group in the VPC".into(),
        };
    };
    let dir = if egress { "egress" } else { "ingress" };
    match sg
        .rules
        .iter()
        .find(|r| r.egress == egress && rule_matches(r, peer, flow))
    {
        Some(r) => FwDecision::Allow {
            rule: format!(
                "security group {} {dir} rule {} ({} {} {})",
                sg.id,
                r.id,
                port_text(r),
                if egress { "to" } else { "from" },
                r.cidr.map(|c| c.to_string()).unwrap_or_default()
            ),
        },
        None => FwDecision::Deny {
            rule: format!(
                "security group {}: no {dir} rule allows it (security groups deny by default)",
                sg.id
            ),
        },
    }
}

impl AwsCloud {
    /// The security groups peerctl manages for the VPC behind `network`, evaluated one by
    /// one: peerctl writes its rules into each, so each must admit the packet. The first
    /// group that does not is named; an allow names every group's matching rule.
    fn evaluate_groups(
        &self,
        network: &str,
        egress: bool,
        peer: Ipv4Addr,
        flow: Flow,
    ) -> FwDecision {
        let vpc_id = network.strip_prefix("aws:").unwrap_or(network);
        let Some(vpc) = self.vpcs.get(vpc_id) else {
            return evaluate_sg(None, egress, peer, flow);
        };
        let mut allowed = Vec::new();
        for group in self.managed_security_groups(vpc) {
            let decision = match group {
                Ok(g) => evaluate_sg(Some(g), egress, peer, flow),
                Err(_) if vpc.managed_security_groups.is_none() => {
                    evaluate_sg(None, egress, peer, flow)
                }
                Err(id) => FwDecision::Deny {
                    rule: format!(
                        "security group {id} (listed in the topology) does not exist in VPC {vpc_id}"
                    ),
                },
            };
            match decision {
                FwDecision::Allow { rule } => allowed.push(rule),
                deny => return deny,
            }
        }
        if allowed.is_empty() {
            return FwDecision::Deny {
                rule: format!("VPC {vpc_id}: no security group is managed"),
            };
        }
        FwDecision::Allow {
            rule: allowed.join("; "),
        }
    }
}

/// One route table's decision for `dst` (outside the VPC): longest prefix wins, a static
/// route beats a propagated one of the same length; a route to a VGW resolves to an up tunnel
/// end of that VGW that carries the destination.
fn route_in_table(
    aws: &AwsCloud,
    table: &RouteTable,
    dst: Ipv4Addr,
    net: &NetState,
) -> RouteDecision {
    let now = net.now_ms;
    let vpc_id = table.vpc_id.as_str();
    let no_route = |table: String| RouteDecision::NoRoute { table };
    let propagated = propagated_routes(aws, table, net, now);
    let best_static = table
        .routes
        .iter()
        .filter(|r| r.destination.contains(&dst))
        .max_by_key(|r| r.destination.prefix_len());
    let best_prop = propagated
        .iter()
        .filter(|(d, _, _)| d.contains(&dst))
        .max_by_key(|(d, _, _)| d.prefix_len());
    match (best_static, best_prop) {
        (Some(s), p) if p.is_none_or(|(d, _, _)| d.prefix_len() <= s.destination.prefix_len()) => {
            if s.gateway_id == "local" {
                return RouteDecision::Local;
            }
            let attached = aws
                .vpn_gateways
                .get(&s.gateway_id)
                .and_then(|g| attached_vpc(g, now))
                .is_some_and(|v| v == vpc_id);
            if !attached {
                return no_route(format!(
                    "route table {}: route {} via {} is a blackhole (gateway not attached)",
                    table.id, s.destination, s.gateway_id
                ));
            }
            let routes = vgw_routes(aws, &s.gateway_id, net, now);
            match routes
                .iter()
                .filter(|(d, _)| d.contains(&dst))
                .max_by_key(|(d, _)| d.prefix_len())
            {
                Some((_, end)) => RouteDecision::Tunnel {
                    end: end.clone(),
                    route: format!(
                        "route table {}: {} via {} (CreateRoute)",
                        table.id, s.destination, s.gateway_id
                    ),
                },
                None => no_route(format!(
                    "virtual private gateway {}: no VPN connection with an up tunnel routes {dst}",
                    s.gateway_id
                )),
            }
        }
        (_, Some((d, vgw, end))) => RouteDecision::Tunnel {
            end: end.clone(),
            route: format!(
                "route table {}: {d} via {vgw} (EnableVgwRoutePropagation)",
                table.id
            ),
        },
        _ => no_route(format!("route table {}", table.id)),
    }
}

impl CloudModel for AwsCloud {
    fn tunnel_ends(&self, now_ms: u64) -> Vec<TunnelEnd> {
        let mut ends = Vec::new();
        for c in self.vpn_connections.values() {
            if c.deleted.is_some_and(|d| now_ms >= d.done_ms) {
                continue;
            }
            let vgw = self.vpn_gateways.get(&c.vpn_gateway_id);
            let cgw = self.customer_gateways.get(&c.customer_gateway_id);
            let vpc = vgw
                .and_then(|g| attached_vpc(g, now_ms))
                .and_then(|v| self.vpcs.get(v));
            let ready_ms = c
                .ready_ms
                .max(vgw.map_or(0, |g| g.ready_ms))
                .max(cgw.map_or(0, |g| g.ready_ms));
            for (i, t) in c.tunnels.iter().enumerate() {
                // A modified tunnel is re-established with its new options.
                let ready_ms = ready_ms.max(t.reconfigured_ms);
                let hosts: Vec<Ipv4Addr> = t.inside_cidr.hosts().collect();
                let bgp = match (c.static_routes_only, vgw, cgw, hosts.as_slice()) {
                    (false, Some(v), Some(g), [vgw_ip, cgw_ip, ..]) => Some(BgpConfig {
                        local_ip: *vgw_ip,
                        prefix_len: t.inside_cidr.prefix_len(),
                        peer_ip: *cgw_ip,
                        local_asn: v.amazon_side_asn as u32,
                        peer_asn: g.bgp_asn as u32,
                    }),
                    _ => None,
                };
                let any = Ipv4Net::default();
                let selectors = (c.local_ipv4_network_cidr != any
                    || c.remote_ipv4_network_cidr != any)
                    .then(|| {
                        (
                            vec![c.local_ipv4_network_cidr],
                            vec![c.remote_ipv4_network_cidr],
                        )
                    });
                let ike_versions: Vec<u8> = if t.ike_versions.is_empty() {
                    vec![1, 2]
                } else {
                    t.ike_versions
                        .iter()
                        .filter_map(|v| v.strip_prefix("ikev").and_then(|n| n.parse().ok()))
                        .collect()
                };
                ends.push(TunnelEnd {
                    id: end_id(&c.id, i),
                    network: vpc.map(|v| net_key(&v.id)).unwrap_or_default(),
                    local_ip: Some(t.outside_ip),
                    peer_ip: cgw.map(|g| g.ip_address),
                    psk: Some(t.psk.clone()),
                    ike_versions,
                    phase1: proposal(
                        &t.phase1_encryption,
                        &t.phase1_integrity,
                        &t.phase1_dh_groups,
                        &PHASE1_DH,
                    ),
                    phase2: proposal(
                        &t.phase2_encryption,
                        &t.phase2_integrity,
                        &t.phase2_dh_groups,
                        &PHASE2_DH,
                    ),
                    selectors,
                    advertises: match (&bgp, vpc) {
                        (Some(_), Some(v)) => v.cidrs.clone(),
                        _ => Vec::new(),
                    },
                    bgp,
                    ready_ms,
                    disabled: c.deleted.is_some(),
                });
            }
        }
        ends
    }

    fn networks(&self) -> Vec<NetInfo> {
        self.vpcs
            .values()
            .map(|v| NetInfo {
                key: net_key(&v.id),
                cloud: Cloud::Aws,
                name: v.network.clone(),
                cidrs: v.cidrs.clone(),
            })
            .collect()
    }

    fn route(&self, network: &str, dst: Ipv4Addr, net: &NetState) -> RouteDecision {
        let vpc_id = network.strip_prefix("aws:").unwrap_or(network);
        let no_route = |table: String| RouteDecision::NoRoute { table };
        let Some(vpc) = self.vpcs.get(vpc_id) else {
            return no_route(format!("no VPC {vpc_id}"));
        };
        if vpc.cidrs.iter().any(|c| c.contains(&dst)) {
            return RouteDecision::Local;
        }
        // Instances sit behind any of the tables peerctl manages, so a destination counts as
        // routed only when every one of them routes it; the first that does not is named.
        let mut first = None;
        for table in self.managed_route_tables(vpc) {
            let decision = match table {
                Ok(t) => route_in_table(self, t, dst, net),
                Err(id) => no_route(format!(
                    "route table {id} (listed in the topology) does not exist in VPC {vpc_id}"
                )),
            };
            match decision {
                RouteDecision::NoRoute { .. } => return decision,
                d => {
                    first.get_or_insert(d);
                }
            }
        }
        first.unwrap_or_else(|| no_route(format!("VPC {vpc_id} has no route table")))
    }

    fn ingress(&self, network: &str, src: Ipv4Addr, flow: Flow) -> FwDecision {
        self.evaluate_groups(network, false, src, flow)
    }

    fn egress(&self, network: &str, dst: Ipv4Addr, flow: Flow) -> FwDecision {
        self.evaluate_groups(network, true, dst, flow)
    }

    /// One per existing, not-seeded resource, counted the way the planner counts its AWS
    /// kinds, so that after an apply this equals the plan's AWS resources to create (see
    /// docs/sandbox-aws.md, "created_resources").
    fn created_resources(&self) -> usize {
        let vgws = self.vpn_gateways.values().filter(|g| g.deleted.is_none());
        // aws.vpn_gateway and aws.vpn_gateway_attachment (until a detach is asked for).
        let gateways: usize = vgws
            .map(|g| 1 + usize::from(g.attachment.as_ref().is_some_and(|a| a.detach.is_none())))
            .sum();
        let cgws = self
            .customer_gateways
            .values()
            .filter(|g| g.deleted.is_none())
            .count();
        // aws.vpn_connection and one aws.vpn_connection_route per static route.
        let connections: usize = self
            .vpn_connections
            .values()
            .filter(|c| c.deleted.is_none())
            .map(|c| 1 + c.routes.len())
            .sum();
        // aws.route_propagation is one per (VPC, VGW), whatever the number of tables it
        // enables; CreateRoute routes (never planned) count one each.
        let mut propagations = BTreeSet::new();
        let mut routes = 0;
        for t in self.route_tables.values() {
            for g in t.propagating_vgws.iter().filter(|g| self.vgw_live(g)) {
                propagations.insert((t.vpc_id.as_str(), g.as_str()));
            }
            routes += t.routes.iter().filter(|r| r.gateway_id != "local").count();
        }
        // aws.security_group_rule is every rule peerctl writes for one link into one VPC —
        // all managed groups, permissions and source CIDRs — under one description
        // (`peerctl <topology> <link>`): one per (VPC, direction, description). A rule without
        // a description is on its own.
        let mut rule_sets = BTreeSet::new();
        let mut lone_rules = 0;
        for g in self.security_groups.values() {
            for r in g.rules.iter().filter(|r| !r.seeded) {
                match &r.description {
                    Some(d) => {
                        rule_sets.insert((g.vpc_id.as_str(), r.egress, d.as_str()));
                    }
                    None => lone_rules += 1,
                }
            }
        }
        gateways + cgws + connections + propagations.len() + routes + rule_sets.len() + lone_rules
    }
}
