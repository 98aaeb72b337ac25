//! How Azure's resources look to the physics (`net`): connections as tunnel ends, the VNet's
//! effective routes (system, gateway-propagated, user-defined) and NSG evaluation — and the
//! way back: the physics' verdict rendered as Azure's connection status and learned routes.

use super::arm::key;
use super::model::*;
use super::AzureCloud;
use crate::cloud::Cloud;
use crate::sandbox::net::{
    BgpConfig, BgpState, CloudModel, DownReason, EndId, Flow, FwDecision, NetInfo, NetState,
    Proposal, Proto, RouteDecision, TunnelEnd,
};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The NetKey of a VNet.
pub fn net_key(vnet: &Vnet) -> String {
    format!("azure:{}", vnet.meta.id)
}

fn end_id(c: &Connection, tunnel: u8) -> EndId {
    EndId {
        cloud: Cloud::Azure,
        resource: c.meta.id.clone(),
        tunnel,
    }
}

/// The gateway's default BGP address: Azure takes it from the GatewaySubnet (the last
/// usable address of the subnet).
pub fn default_bgp_address(az: &AzureCloud, g: &Gateway) -> Option<Ipv4Addr> {
    let cfg = g.ip_configs.first()?;
    let (vnet, subnet) = az.subnet_by_id(&cfg.subnet)?;
    let _ = vnet;
    let b = u32::from(subnet.prefix.broadcast());
    Some(Ipv4Addr::from(b.saturating_sub(1)))
}

/// What a connection's status fields show.
pub struct Health {
    pub tunnel: String,
    pub status: &'static str,
    pub ingress_bytes: i64,
    pub egress_bytes: i64,
}

/// Azure's `connectionStatus` for a physics verdict. The ARM model has no field for the
/// reason, so the reasons fold into Azure's four values: still provisioning → Unknown; the
/// handshake is under way or nobody answers at the peer address (IKE keeps retrying) →
/// Connecting; the peer answered and refused (key, address, IKE version, proposal or
/// selector mismatch) → NotConnected.
pub fn status_text(up: bool, reason: Option<DownReason>) -> &'static str {
    if up {
        return "Connected";
    }
    match reason {
        Some(DownReason::Provisioning) => "Unknown",
        Some(DownReason::Negotiating) | Some(DownReason::NoPeer) | None => "Connecting",
        Some(
            DownReason::PeerAddressMismatch
            | DownReason::PskMismatch
            | DownReason::IkeVersionMismatch
            | DownReason::ProposalMismatch
            | DownReason::TrafficSelectorMismatch,
        ) => "NotConnected",
    }
}

/// Bytes a connected tunnel has carried: the sandbox moves no user traffic, so this counts
/// the IKE/DPD keepalives (about 100 bytes a second each way) since the tunnel came up.
fn keepalive_bytes(now: u64, since: u64) -> i64 {
    (now.saturating_sub(since) / 1000 * 100) as i64
}

pub fn connection_health(az: &AzureCloud, c: &Connection, now: u64, net: &NetState) -> Health {
    let gw = az.gateways.get(&key(&c.gateway1));
    let local_ip = gw
        .and_then(|g| g.ip_configs.first())
        .and_then(|cfg| az.public_ips.get(&key(&cfg.public_ip)))
        .map(|ip| ip.ip.to_string())
        .unwrap_or_default();
    let tunnel = format!(
        "{}_{}",
        gw.map(|g| g.meta.name.as_str()).unwrap_or(""),
        local_ip
    );
    let ends: Vec<_> = (0..2).filter_map(|t| net.end(&end_id(c, t))).collect();
    let provisioning = now < c.meta.ready_ms || gw.is_some_and(|g| now < g.meta.ready_ms);
    let (status, bytes) = if provisioning {
        ("Unknown", 0)
    } else if let Some(up) = ends.iter().find(|e| e.up) {
        ("Connected", keepalive_bytes(now, up.since_ms))
    } else {
        (status_text(false, ends.first().and_then(|e| e.reason)), 0)
    };
    Health {
        tunnel,
        status,
        ingress_bytes: bytes,
        egress_bytes: bytes,
    }
}

/// One route the gateway holds for a remote prefix.
pub struct Learned {
    pub prefix: Ipv4Net,
    pub end: EndId,
    pub next_hop: String,
    pub source_peer: String,
    /// Network (static, from the local network gateway) | EBgp
    pub origin: &'static str,
    pub as_path: String,
}

/// The remote prefixes a gateway routes into its connections: each connected connection's
/// local network gateway prefixes (static) plus what its BGP session learned.
pub fn learned_prefixes(az: &AzureCloud, g: &Gateway, net: &NetState) -> Vec<Learned> {
    let gkey = key(&g.meta.id);
    let mut out = Vec::new();
    for c in az.connections.values() {
        if key(&c.gateway1) != gkey || c.meta.deleting() {
            continue;
        }
        let Some(l) = az.local_gateways.get(&key(&c.local_gateway2)) else {
            continue;
        };
        for t in 0..2 {
            let id = end_id(c, t);
            let Some(st) = net.end(&id).filter(|s| s.up) else {
                continue;
            };
            let peer = l.ip.map(|ip| ip.to_string()).unwrap_or_default();
            for p in &l.prefixes {
                out.push(Learned {
                    prefix: *p,
                    end: id.clone(),
                    next_hop: peer.clone(),
                    source_peer: peer.clone(),
                    origin: "Network",
                    as_path: String::new(),
                });
            }
            if let (Some(b), Some(lb)) = (&st.bgp, &l.bgp) {
                if b.state == BgpState::Established {
                    let neighbor = lb
                        .peering_address
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    for p in &b.learned {
                        out.push(Learned {
                            prefix: *p,
                            end: id.clone(),
                            next_hop: neighbor.clone(),
                            source_peer: neighbor.clone(),
                            origin: "EBgp",
                            as_path: lb.asn.to_string(),
                        });
                    }
                }
            }
        }
    }
    out
}

fn dh_group(s: &str) -> Option<u32> {
    match s {
        "DHGroup1" | "PFS1" => Some(1),
        "DHGroup2" | "PFS2" => Some(2),
        "DHGroup14" | "DHGroup2048" | "PFS14" | "PFS2048" => Some(14),
        "ECP256" => Some(19),
        "ECP384" => Some(20),
        "DHGroup24" | "PFS24" => Some(24),
        _ => None,
    }
}

/// Phase 1 / phase 2 offers of a connection's custom IPsec policy (`None` = Azure's
/// default proposal list). Algorithm names stay in Azure's spelling (`GCMAES256`, `SHA256`):
/// the physics brings every cloud's names to one form.
fn proposals(c: &Connection) -> (Option<Proposal>, Option<Proposal>) {
    let Some(p) = c.ipsec_policies.first() else {
        return (None, None);
    };
    let p1_dh = dh_group(&p.dh_group);
    let p1 = Proposal {
        encryption: vec![p.ike_encryption.clone()],
        integrity: vec![p.ike_integrity.clone()],
        dh_groups: p1_dh.into_iter().collect(),
    };
    // PFSMM: the phase 2 group is the main-mode (phase 1) group.
    let p2_dh = if p.pfs_group == "PFSMM" {
        p1_dh
    } else {
        dh_group(&p.pfs_group)
    };
    let p2 = Proposal {
        encryption: vec![p.ipsec_encryption.clone()],
        integrity: vec![p.ipsec_integrity.clone()],
        dh_groups: p2_dh.into_iter().collect(),
    };
    (Some(p1), Some(p2))
}

fn in_apipa(a: Ipv4Addr) -> bool {
    a.octets()[0] == 169 && a.octets()[1] == 254
}

/// Service tag `VirtualNetwork`: the VNet's prefixes plus every prefix connected through its
/// gateway (the local network gateways of its connections).
fn virtual_network_tag(az: &AzureCloud, vnet_key: &str) -> Vec<Ipv4Net> {
    let mut out = az
        .vnets
        .get(vnet_key)
        .map(|v| v.prefixes.clone())
        .unwrap_or_default();
    for g in az.gateways.values().filter(|g| g.vnet == vnet_key) {
        let gkey = key(&g.meta.id);
        for c in az.connections.values().filter(|c| key(&c.gateway1) == gkey) {
            if let Some(l) = az.local_gateways.get(&key(&c.local_gateway2)) {
                out.extend(l.prefixes.iter().copied());
            }
        }
    }
    out
}

fn is_private(a: Ipv4Addr) -> bool {
    a.is_private() || a.is_link_local() || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
}

/// Whether an NSG address prefix (CIDR, address, `*`, service tag) covers `ip`. Tags compare
/// case-insensitively, as ARM accepts them; other service tags name Azure service ranges that
/// no sandbox flow comes from.
fn prefix_covers(spec: &str, ip: Ipv4Addr, vnet_tag: &[Ipv4Net]) -> bool {
    let tag = |t: &str| spec.eq_ignore_ascii_case(t);
    match spec {
        "*" => true,
        _ if tag("VirtualNetwork") => vnet_tag.iter().any(|n| n.contains(&ip)),
        _ if tag("AzureLoadBalancer") => ip == Ipv4Addr::new(168, 63, 129, 16),
        _ if tag("Internet") => !vnet_tag.iter().any(|n| n.contains(&ip)) && !is_private(ip),
        s => s
            .parse::<Ipv4Net>()
            .map(|n| n.contains(&ip))
            .or_else(|_| s.parse::<Ipv4Addr>().map(|a| a == ip))
            .unwrap_or(false),
    }
}

/// Whether an NSG address prefix covers (part of) a subnet.
fn prefix_covers_subnet(spec: &str, subnet: Ipv4Net) -> bool {
    match spec {
        "*" => true,
        _ if spec.eq_ignore_ascii_case("VirtualNetwork") => true,
        s => s
            .parse::<Ipv4Net>()
            .map(|n| n.contains(&subnet.network()) || subnet.contains(&n.network()))
            .or_else(|_| s.parse::<Ipv4Addr>().map(|a| subnet.contains(&a)))
            .unwrap_or(false),
    }
}

fn port_covers(spec: &str, port: Option<u16>) -> bool {
    if spec == "*" {
        return true;
    }
    let Some(port) = port else {
        return false;
    };
    match spec.split_once('-') {
        Some((a, b)) => {
            matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= port && port <= b)
        }
        None => spec.parse::<u16>() == Ok(port),
    }
}

fn proto_covers(spec: &str, proto: Proto) -> bool {
    matches!(
        (spec, proto),
        ("*", _) | ("Tcp", Proto::Tcp) | ("Udp", Proto::Udp) | ("Icmp", Proto::Icmp)
    )
}

/// The default rules every NSG has, in Azure's words.
pub fn default_rules(n: &Nsg) -> Vec<SecurityRule> {
    let rule = |name: &str, desc: &str, src: &str, dst: &str, access: &str, prio, dir: &str| {
        SecurityRule {
            meta: Meta {
                id: format!("{}/defaultSecurityRules/{name}", n.meta.id),
                name: name.into(),
                etag: n.meta.etag.clone(),
                seeded: true,
                ..Meta::default()
            },
            description: Some(desc.into()),
            protocol: "*".into(),
            source_ports: vec!["*".into()],
            dest_ports: vec!["*".into()],
            sources: vec![src.into()],
            destinations: vec![dst.into()],
            access: access.into(),
            priority: prio,
            direction: dir.into(),
            ..SecurityRule::default()
        }
    };
    vec![
        rule(
            "AllowVnetInBound",
            "Allow inbound traffic from all VMs in VNET",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow",
            65000,
            "Inbound",
        ),
        rule(
            "AllowAzureLoadBalancerInBound",
            "Allow inbound traffic from azure load balancer",
            "AzureLoadBalancer",
            "*",
            "Allow",
            65001,
            "Inbound",
        ),
        rule(
            "DenyAllInBound",
            "Deny all inbound traffic",
            "*",
            "*",
            "Deny",
            65500,
            "Inbound",
        ),
        rule(
            "AllowVnetOutBound",
            "Allow outbound traffic from all VMs to all VMs in VNET",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow",
            65000,
            "Outbound",
        ),
        rule(
            "AllowInternetOutBound",
            "Allow outbound traffic from all VMs to Internet",
            "*",
            "Internet",
            "Allow",
            65001,
            "Outbound",
        ),
        rule(
            "DenyAllOutBound",
            "Deny all outbound traffic",
            "*",
            "*",
            "Deny",
            65500,
            "Outbound",
        ),
    ]
}

/// Evaluates one NSG for a packet between `subnet` (local) and `remote`.
fn nsg_verdict(
    n: &Nsg,
    inbound: bool,
    subnet: Ipv4Net,
    remote: Ipv4Addr,
    flow: Flow,
    vnet_tag: &[Ipv4Net],
) -> FwDecision {
    let dir = if inbound { "Inbound" } else { "Outbound" };
    let defaults = default_rules(n);
    let mut rules: Vec<(&SecurityRule, bool)> = n
        .rules
        .values()
        .map(|r| (r, false))
        .chain(defaults.iter().map(|r| (r, true)))
        .filter(|(r, _)| r.direction == dir)
        .collect();
    rules.sort_by_key(|(r, _)| r.priority);
    for (r, default) in rules {
        let (remote_specs, local_specs) = if inbound {
            (&r.sources, &r.destinations)
        } else {
            (&r.destinations, &r.sources)
        };
        // Flows have ephemeral source ports: only a rule open on every source port matches.
        let matches = proto_covers(&r.protocol, flow.proto)
            && r.source_ports.iter().any(|p| p == "*" || p == "0-65535")
            && r.dest_ports.iter().any(|p| port_covers(p, flow.port))
            && remote_specs
                .iter()
                .any(|s| prefix_covers(s, remote, vnet_tag))
            && local_specs.iter().any(|s| prefix_covers_subnet(s, subnet));
        if matches {
            let kind = if default { "default rule" } else { "rule" };
            let rule = format!(
                "NSG {} {kind} {} (priority {})",
                n.meta.name, r.meta.name, r.priority
            );
            return if r.access == "Allow" {
                FwDecision::Allow { rule }
            } else {
                FwDecision::Deny { rule }
            };
        }
    }
    FwDecision::Deny {
        rule: format!("NSG {}: no rule matched", n.meta.name),
    }
}

impl AzureCloud {
    /// The VNet and subnet an ARM subnet id names.
    pub fn subnet_by_id(&self, id: &str) -> Option<(&Vnet, &Subnet)> {
        let k = key(id);
        let (vnet_key, name) = k.split_once("/subnets/")?;
        let v = self.vnets.get(vnet_key)?;
        Some((v, v.subnets.get(name)?))
    }

    fn vnet_by_net(&self, network: &str) -> Option<(String, &Vnet)> {
        let k = key(network.strip_prefix("azure:")?);
        self.vnets.get(&k).map(|v| (k, v))
    }

    /// Subnets that host workloads (every subnet but GatewaySubnet).
    fn workload_subnets(v: &Vnet) -> Vec<&Subnet> {
        v.subnets
            .values()
            .filter(|s| !s.is_gateway_subnet())
            .collect()
    }

    fn vnet_gateway(&self, vnet_key: &str) -> Option<&Gateway> {
        self.gateways
            .values()
            .find(|g| g.vnet == vnet_key && !g.meta.deleting())
    }

    /// The effective route of one subnet for `dst` (not inside the VNet): longest prefix
    /// wins; on equal prefixes a user route beats a gateway route beats the system default.
    fn subnet_route(
        &self,
        v: &Vnet,
        vnet_key: &str,
        s: Option<&Subnet>,
        dst: Ipv4Addr,
        net: &NetState,
    ) -> RouteDecision {
        let rt = s
            .and_then(|s| s.route_table.as_deref())
            .and_then(|id| self.route_tables.get(&key(id)));
        let gw = self.vnet_gateway(vnet_key);
        let learned = gw
            .map(|g| learned_prefixes(self, g, net))
            .unwrap_or_default();
        let subnet_name = s.map(|s| s.meta.name.as_str()).unwrap_or("(none)");
        // (prefix length, precedence, decision)
        let mut best: Option<(u8, u8, RouteDecision)> = None;
        let mut offer = |len: u8, prec: u8, d: RouteDecision| {
            if best.as_ref().is_none_or(|(l, p, _)| (len, prec) > (*l, *p)) {
                best = Some((len, prec, d));
            }
        };
        offer(
            0,
            0,
            RouteDecision::NoRoute {
                table: format!(
                    "effective routes of subnet {subnet_name} in VNet {}: only the system route 0.0.0.0/0 -> Internet matches",
                    v.meta.name
                ),
            },
        );
        if !rt.is_some_and(|t| t.disable_bgp_propagation) {
            for l in learned.iter().filter(|l| l.prefix.contains(&dst)) {
                offer(
                    l.prefix.prefix_len(),
                    1,
                    RouteDecision::Tunnel {
                        end: l.end.clone(),
                        route: format!(
                            "{} -> virtual network gateway {} ({})",
                            l.prefix,
                            gw.map(|g| g.meta.name.as_str()).unwrap_or(""),
                            if l.origin == "EBgp" {
                                "BGP"
                            } else {
                                "local network gateway"
                            }
                        ),
                    },
                );
            }
        }
        if let Some(t) = rt {
            for r in t.routes.values().filter(|r| r.prefix.contains(&dst)) {
                let d = if r.next_hop_type == "VirtualNetworkGateway" {
                    // The gateway forwards by its own table.
                    let hit = learned
                        .iter()
                        .filter(|l| l.prefix.contains(&dst))
                        .max_by_key(|l| l.prefix.prefix_len());
                    match hit {
                        Some(l) => RouteDecision::Tunnel {
                            end: l.end.clone(),
                            route: format!(
                                "route table {} route {} ({}) -> virtual network gateway",
                                t.meta.name, r.meta.name, r.prefix
                            ),
                        },
                        None => RouteDecision::NoRoute {
                            table: format!(
                                "route table {} route {} sends {} to the virtual network gateway, which has no connected route for it",
                                t.meta.name, r.meta.name, r.prefix
                            ),
                        },
                    }
                } else {
                    RouteDecision::NoRoute {
                        table: format!(
                            "route table {} route {} ({}) has next hop {}",
                            t.meta.name, r.meta.name, r.prefix, r.next_hop_type
                        ),
                    }
                };
                offer(r.prefix.prefix_len(), 2, d);
            }
        }
        best.map(|(_, _, d)| d).unwrap_or(RouteDecision::NoRoute {
            table: String::new(),
        })
    }

    fn firewall(&self, network: &str, remote: Ipv4Addr, flow: Flow, inbound: bool) -> FwDecision {
        let Some((vkey, v)) = self.vnet_by_net(network) else {
            return FwDecision::Deny {
                rule: format!("no VNet {network}"),
            };
        };
        let tag = virtual_network_tag(self, &vkey);
        let mut first_allow = None;
        for s in Self::workload_subnets(v) {
            let d = match s.nsg.as_deref().and_then(|id| self.nsgs.get(&key(id))) {
                Some(n) => nsg_verdict(n, inbound, s.prefix, remote, flow, &tag),
                None => FwDecision::Allow {
                    rule: format!("subnet {} has no network security group", s.meta.name),
                },
            };
            match d {
                FwDecision::Deny { .. } => return d,
                allow => {
                    first_allow.get_or_insert(allow);
                }
            }
        }
        first_allow.unwrap_or(FwDecision::Deny {
            rule: format!("VNet {} has no workload subnet", v.meta.name),
        })
    }
}

impl CloudModel for AzureCloud {
    fn tunnel_ends(&self, now_ms: u64) -> Vec<TunnelEnd> {
        let mut out = Vec::new();
        for c in self.connections.values().filter(|c| c.meta.exists(now_ms)) {
            let (Some(g), Some(l)) = (
                self.gateways.get(&key(&c.gateway1)),
                self.local_gateways.get(&key(&c.local_gateway2)),
            ) else {
                continue;
            };
            let Some(v) = self.vnets.get(&g.vnet) else {
                continue;
            };
            let (phase1, phase2) = proposals(c);
            let selectors =
                c.use_policy_based_selectors
                    .then(|| match c.selector_policies.first() {
                        Some(t) => (t.local.clone(), t.remote.clone()),
                        None => (v.prefixes.clone(), l.prefixes.clone()),
                    });
            // Active-active gateways run one tunnel per instance (ipConfiguration).
            let tunnels = if g.active_active { 2 } else { 1 };
            for (t, cfg) in g.ip_configs.iter().take(tunnels).enumerate() {
                let local_ip = self.public_ips.get(&key(&cfg.public_ip)).map(|ip| ip.ip);
                let bgp = match (&l.bgp, c.enable_bgp && g.enable_bgp) {
                    (Some(lb), true) => {
                        let custom = g.bgp.custom_addresses.get(t).copied();
                        let local = custom
                            .or(g.bgp.peering_address)
                            .or(default_bgp_address(self, g));
                        match (local, lb.peering_address) {
                            (Some(local), Some(peer)) => Some(BgpConfig {
                                local_ip: local,
                                prefix_len: if in_apipa(local) { 30 } else { 32 },
                                peer_ip: peer,
                                local_asn: g.bgp.asn,
                                peer_asn: lb.asn,
                            }),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                out.push(TunnelEnd {
                    id: end_id(c, t as u8),
                    network: net_key(v),
                    local_ip,
                    peer_ip: l.ip,
                    psk: Some(c.shared_key.clone()),
                    ike_versions: vec![if c.protocol == "IKEv1" { 1 } else { 2 }],
                    phase1: phase1.clone(),
                    phase2: phase2.clone(),
                    selectors: selectors.clone(),
                    advertises: if bgp.is_some() {
                        v.prefixes.clone()
                    } else {
                        Vec::new()
                    },
                    bgp,
                    ready_ms: c.meta.ready_ms.max(g.meta.ready_ms).max(l.meta.ready_ms),
                    disabled: c.meta.deleting() || g.meta.deleting() || l.meta.deleting(),
                });
            }
        }
        out
    }

    fn networks(&self) -> Vec<NetInfo> {
        self.vnets
            .values()
            .filter(|v| !v.meta.deleting())
            .map(|v| NetInfo {
                key: net_key(v),
                cloud: Cloud::Azure,
                name: v.topology_name.clone(),
                cidrs: v.prefixes.clone(),
            })
            .collect()
    }

    fn route(&self, network: &str, dst: Ipv4Addr, net: &NetState) -> RouteDecision {
        let Some((vkey, v)) = self.vnet_by_net(network) else {
            return RouteDecision::NoRoute {
                table: format!("no VNet {network}"),
            };
        };
        if v.prefixes.iter().any(|p| p.contains(&dst)) {
            return RouteDecision::Local;
        }
        let subnets = Self::workload_subnets(v);
        if subnets.is_empty() {
            return self.subnet_route(v, &vkey, None, dst, net);
        }
        // Every workload subnet must route it; the first that does not is the answer.
        let decisions: Vec<RouteDecision> = subnets
            .iter()
            .map(|s| self.subnet_route(v, &vkey, Some(s), dst, net))
            .collect();
        decisions
            .iter()
            .find(|d| matches!(d, RouteDecision::NoRoute { .. }))
            .or(decisions.first())
            .cloned()
            .unwrap_or(RouteDecision::NoRoute {
                table: String::new(),
            })
    }

    fn ingress(&self, network: &str, src: Ipv4Addr, flow: Flow) -> FwDecision {
        self.firewall(network, src, flow, true)
    }

    fn egress(&self, network: &str, dst: Ipv4Addr, flow: Flow) -> FwDecision {
        self.firewall(network, dst, flow, false)
    }

    fn created_resources(&self) -> usize {
        self.created_by_kind().values().sum()
    }
}

impl AzureCloud {
    /// `created_resources`, by ARM resource type: one per existing, not-seeded resource. The
    /// types are chosen so that each matches one resource the planner creates (a subnet, a
    /// public IP, a gateway, an LNG, a connection, one security rule in one NSG), so that after
    /// an apply the total equals the plan's "to create"; VNets, NSGs, route tables and routes,
    /// which a client can create but the planner does not, count one each too. A resource
    /// being deleted no longer counts: at time scale 0 it is gone before the next read.
    pub fn created_by_kind(&self) -> BTreeMap<&'static str, usize> {
        let own = |m: &Meta| usize::from(!m.seeded && !m.deleting());
        let sum = |it: &mut dyn Iterator<Item = &Meta>| it.map(own).sum::<usize>();
        let mut out = BTreeMap::new();
        out.insert(
            "virtualNetworks/subnets",
            sum(&mut self
                .vnets
                .values()
                .flat_map(|v| v.subnets.values().map(|s| &s.meta))),
        );
        out.insert(
            "publicIPAddresses",
            sum(&mut self.public_ips.values().map(|x| &x.meta)),
        );
        out.insert(
            "virtualNetworkGateways",
            sum(&mut self.gateways.values().map(|x| &x.meta)),
        );
        out.insert(
            "localNetworkGateways",
            sum(&mut self.local_gateways.values().map(|x| &x.meta)),
        );
        out.insert(
            "connections",
            sum(&mut self.connections.values().map(|x| &x.meta)),
        );
        out.insert(
            "networkSecurityGroups/securityRules",
            sum(&mut self
                .nsgs
                .values()
                .flat_map(|n| n.rules.values().map(|r| &r.meta))),
        );
        out.insert(
            "virtualNetworks",
            sum(&mut self.vnets.values().map(|x| &x.meta)),
        );
        out.insert(
            "networkSecurityGroups",
            sum(&mut self.nsgs.values().map(|x| &x.meta)),
        );
        out.insert(
            "routeTables",
            sum(&mut self.route_tables.values().map(|x| &x.meta)),
        );
        out.insert(
            "routeTables/routes",
            sum(&mut self
                .route_tables
                .values()
                .flat_map(|t| t.routes.values().map(|r| &r.meta))),
        );
        out
    }
}
