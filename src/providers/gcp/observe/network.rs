//! A GCP network's routes and firewall rules as the judge reads them: static routes from
//! `routes.list`, dynamic ones from the routers' best routes (each via the tunnel that
//! carries it), and one rule per protocol entry of every firewall of the network.

use super::Seen;
use crate::providers::gcp::canonical;
use crate::verify::snapshot::{Action, Direction, Proto, RouteObs, RuleObs};
use google_cloud_compute_v1::model::{Firewall, Route, VpnTunnel};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;

/// Plan address by canonical cloud id.
pub(super) type ById<'a> = BTreeMap<String, &'a str>;
/// Tunnel `ESTABLISHED`, by canonical selfLink.
pub(super) type Up = BTreeMap<String, bool>;

pub(super) fn established(t: &VpnTunnel) -> bool {
    t.status.as_ref().and_then(|s| s.name()) == Some("ESTABLISHED")
}

/// The last segment of a URL or path (a resource's name).
pub(super) fn last(u: &str) -> &str {
    u.rsplit('/').next().unwrap_or(u)
}

fn any() -> Ipv4Net {
    Ipv4Net::default()
}

/// How GCP names a route's next hop, and the canonical tunnel when it is one.
fn next_hop(r: &Route) -> (String, Option<String>) {
    if let Some(t) = &r.next_hop_vpn_tunnel {
        return (last(t).to_string(), Some(canonical(t)));
    }
    let named = [
        &r.next_hop_gateway,
        &r.next_hop_instance,
        &r.next_hop_ilb,
        &r.next_hop_network,
        &r.next_hop_peering,
        &r.next_hop_interconnect_attachment,
        &r.next_hop_hub,
    ];
    if let Some(u) = named.into_iter().flatten().next() {
        return (last(u).to_string(), None);
    }
    (r.next_hop_ip.clone().unwrap_or_else(|| "?".into()), None)
}

/// A route of `routes.list` (static, subnet, peering…); `None` for a non-IPv4 one.
pub(super) fn static_route(r: &Route, by_id: &ById, up: &Up) -> Option<RouteObs> {
    let dest: Ipv4Net = r.dest_range.as_deref()?.parse().ok()?;
    let (hop, tunnel) = next_hop(r);
    let kind = r
        .route_type
        .as_ref()
        .and_then(|t| t.name())
        .unwrap_or("STATIC")
        .to_ascii_lowercase();
    // GCP keeps a route whose tunnel is not established but does not use it.
    let mut active = tunnel
        .as_ref()
        .is_none_or(|t| up.get(t).copied().unwrap_or(false));
    let mut origin = kind;
    // A route with instance tags applies to those instances only, never to every host.
    if !r.tags.is_empty() {
        active = false;
        origin = format!("{origin}, instance tags {}", r.tags.join(","));
    }
    Some(RouteObs {
        dest,
        via: tunnel
            .as_ref()
            .and_then(|t| by_id.get(t))
            .map(|s| s.to_string()),
        next_hop: hop,
        active,
        origin,
        priority: r.priority.unwrap_or(1000),
    })
}

/// The canonical tunnel of each BGP peer of `router` (canonical path), by the peer's address:
/// a best route's `nextHopIp` names the peer that learned it.
pub(super) fn peers_by_hop(router: &str, seen: &Seen) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(r) = seen
        .regional
        .values()
        .flat_map(|s| s.routers.iter().flatten())
        .find(|r| r.self_link.as_deref().map(canonical).as_deref() == Some(router))
    else {
        return out;
    };
    for p in &r.bgp_peers {
        let tunnel = r
            .interfaces
            .iter()
            .find(|i| i.name.is_some() && i.name == p.interface_name)
            .and_then(|i| i.linked_vpn_tunnel.as_deref());
        if let (Some(ip), Some(t)) = (&p.peer_ip_address, tunnel) {
            out.insert(ip.clone(), canonical(t));
        }
    }
    out
}

/// A best route of `getRouterStatus`: learned over BGP, via its tunnel.
pub(super) fn dynamic_route(
    r: &Route,
    by_id: &ById,
    up: &Up,
    learned_by: &BTreeMap<String, String>,
) -> Option<RouteObs> {
    let dest: Ipv4Net = r.dest_range.as_deref()?.parse().ok()?;
    let tunnel = r
        .next_hop_vpn_tunnel
        .as_deref()
        .map(canonical)
        .or_else(|| learned_by.get(r.next_hop_ip.as_deref()?).cloned());
    let next_hop = match (&tunnel, &r.next_hop_ip) {
        (Some(t), _) => last(t).to_string(),
        (None, Some(ip)) => ip.clone(),
        (None, None) => "?".into(),
    };
    Some(RouteObs {
        dest,
        via: tunnel
            .as_ref()
            .and_then(|t| by_id.get(t))
            .map(|s| s.to_string()),
        next_hop,
        // A best route is programmed; its tunnel going down withdraws it.
        active: tunnel
            .as_ref()
            .is_none_or(|t| up.get(t).copied().unwrap_or(true)),
        origin: "bgp".into(),
        priority: r.priority.unwrap_or(0),
    })
}

fn proto(p: &str) -> Proto {
    match p.to_ascii_lowercase().as_str() {
        "all" => Proto::All,
        "tcp" | "6" => Proto::Tcp,
        "udp" | "17" => Proto::Udp,
        "icmp" | "1" => Proto::Icmp,
        o => Proto::Other(o.to_string()),
    }
}

/// `"443"` or `"8000-8100"`.
fn port_range(p: &str) -> Option<(u16, u16)> {
    let (a, b) = p.split_once('-').unwrap_or((p, p));
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

fn ranges(v: &[String]) -> Vec<Ipv4Net> {
    v.iter().filter_map(|s| s.parse().ok()).collect()
}

/// One rule per protocol entry of `f`, as the judge evaluates GCP rules (lowest priority
/// first, deny before allow at equal priority). An allow with targets is left out (module doc).
pub(super) fn rules_of(f: &Firewall, by_id: &ById) -> Vec<RuleObs> {
    let targeted = !f.target_tags.is_empty() || !f.target_service_accounts.is_empty();
    let deny = !f.denied.is_empty();
    if targeted && !deny {
        return Vec::new();
    }
    let direction = match f.direction.as_ref().and_then(|d| d.name()) {
        Some("EGRESS") => Direction::Egress,
        _ => Direction::Ingress,
    };
    let sources = if !f.source_ranges.is_empty() {
        ranges(&f.source_ranges)
    } else if direction == Direction::Ingress
        && (!f.source_tags.is_empty() || !f.source_service_accounts.is_empty())
    {
        // Instances by tag or service account: never traffic arriving over a tunnel.
        Vec::new()
    } else {
        vec![any()]
    };
    let destinations = if f.destination_ranges.is_empty() {
        vec![any()]
    } else {
        ranges(&f.destination_ranges)
    };
    let entries: Vec<(&Option<String>, &Vec<String>, Action)> = if deny {
        f.denied
            .iter()
            .map(|d| (&d.ip_protocol, &d.ports, Action::Deny))
            .collect()
    } else {
        f.allowed
            .iter()
            .map(|a| (&a.ip_protocol, &a.ports, Action::Allow))
            .collect()
    };
    let name = f.name.clone().unwrap_or_else(|| "?".into());
    let address = f
        .self_link
        .as_deref()
        .and_then(|l| by_id.get(&canonical(l)))
        .map(|s| s.to_string());
    entries
        .into_iter()
        .map(|(p, ports, action)| RuleObs {
            name: name.clone(),
            address: address.clone(),
            direction,
            action,
            priority: f.priority.map(|p| p.max(0) as u32).unwrap_or(1000),
            protocol: proto(p.as_deref().unwrap_or("all")),
            ports: ports.iter().filter_map(|p| port_range(p)).collect(),
            sources: sources.clone(),
            destinations: destinations.clone(),
            disabled: f.disabled.unwrap_or(false),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use google_cloud_compute_v1::model::{firewall, route, vpn_tunnel};

    const T: &str = "https://h/compute/v1/projects/p/regions/r/vpnTunnels/t0";

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ids() -> ById<'static> {
        BTreeMap::from([
            (canonical(T), "gcp.vpn_tunnel.l-0"),
            (
                "projects/p/global/firewalls/mine".to_string(),
                "gcp.firewall.l.g",
            ),
        ])
    }

    #[test]
    fn a_static_route_is_in_effect_only_while_its_tunnel_is_established() {
        let r = Route::new()
            .set_dest_range("10.30.0.0/16")
            .set_next_hop_vpn_tunnel("projects/p/regions/r/vpnTunnels/t0")
            .set_priority(900u32);
        let up: Up = BTreeMap::from([(canonical(T), true)]);
        let o = static_route(&r, &ids(), &up).unwrap();
        assert_eq!(o.dest, net("10.30.0.0/16"));
        assert_eq!(o.via.as_deref(), Some("gcp.vpn_tunnel.l-0"));
        assert_eq!(
            (o.next_hop.as_str(), o.active, o.priority),
            ("t0", true, 900)
        );
        assert_eq!(o.origin, "static");
        let down: Up = BTreeMap::from([(canonical(T), false)]);
        assert!(!static_route(&r, &ids(), &down).unwrap().active);
        assert!(!static_route(&r, &ids(), &Up::new()).unwrap().active);
        let tagged = r.clone().set_tags(["web"]);
        let o = static_route(&tagged, &ids(), &up).unwrap();
        assert!(!o.active && o.origin.contains("web"), "{o:?}");
    }

    #[test]
    fn other_routes_name_their_hop_and_subnets_keep_their_type() {
        let r = Route::new()
            .set_dest_range("0.0.0.0/0")
            .set_next_hop_gateway("projects/p/global/gateways/default-internet-gateway");
        let o = static_route(&r, &ids(), &Up::new()).unwrap();
        assert_eq!(o.next_hop, "default-internet-gateway");
        assert!(o.active && o.via.is_none());
        assert_eq!(o.priority, 1000);
        let s = Route::new()
            .set_dest_range("10.20.0.0/16")
            .set_route_type(route::RouteType::Subnet)
            .set_next_hop_network("projects/p/global/networks/n");
        assert_eq!(
            static_route(&s, &ids(), &Up::new()).unwrap().origin,
            "subnet"
        );
        let v6 = Route::new().set_dest_range("fd00::/8");
        assert!(static_route(&v6, &ids(), &Up::new()).is_none());
    }

    #[test]
    fn a_learned_route_goes_via_the_tunnel_of_the_peer_that_learned_it() {
        let learned = BTreeMap::from([("169.254.0.1".to_string(), canonical(T))]);
        let r = Route::new()
            .set_dest_range("10.10.0.0/16")
            .set_next_hop_ip("169.254.0.1")
            .set_priority(100u32);
        let o = dynamic_route(&r, &ids(), &Up::new(), &learned).unwrap();
        assert_eq!(o.via.as_deref(), Some("gcp.vpn_tunnel.l-0"));
        assert_eq!((o.next_hop.as_str(), o.origin.as_str()), ("t0", "bgp"));
        assert!(o.active);
        let down: Up = BTreeMap::from([(canonical(T), false)]);
        assert!(!dynamic_route(&r, &ids(), &down, &learned).unwrap().active);
        let foreign = r.clone().set_next_hop_ip("169.254.9.9");
        let o = dynamic_route(&foreign, &ids(), &Up::new(), &learned).unwrap();
        assert_eq!((o.next_hop.as_str(), o.via), ("169.254.9.9", None));
    }

    #[test]
    fn firewall_rules_become_one_rule_per_entry_with_gcp_defaults() {
        let f = Firewall::new()
            .set_name("mine")
            .set_self_link("https://h/compute/v1/projects/p/global/firewalls/mine")
            .set_source_ranges(["10.10.0.0/16"])
            .set_allowed([
                firewall::Allowed::new()
                    .set_ip_protocol("tcp")
                    .set_ports(["443", "8000-8100"]),
                firewall::Allowed::new().set_ip_protocol("icmp"),
            ]);
        let rules = rules_of(&f, &ids());
        assert_eq!(rules.len(), 2);
        let tcp = &rules[0];
        assert_eq!(tcp.address.as_deref(), Some("gcp.firewall.l.g"));
        assert_eq!(
            (tcp.direction, tcp.action, tcp.priority),
            (Direction::Ingress, Action::Allow, 1000)
        );
        assert_eq!(tcp.protocol, Proto::Tcp);
        assert_eq!(tcp.ports, vec![(443, 443), (8000, 8100)]);
        assert_eq!(tcp.sources, vec![net("10.10.0.0/16")]);
        assert_eq!(tcp.destinations, vec![any()]);
        assert_eq!(rules[1].protocol, Proto::Icmp);
        assert!(rules[1].ports.is_empty());
    }

    #[test]
    fn denies_egress_disabled_and_sourceless_rules() {
        let d = Firewall::new()
            .set_name("block")
            .set_priority(10)
            .set_direction(firewall::Direction::Egress)
            .set_destination_ranges(["10.30.0.0/16"])
            .set_disabled(true)
            .set_denied([firewall::Denied::new().set_ip_protocol("all")]);
        let r = &rules_of(&d, &ids())[0];
        assert_eq!(
            (r.action, r.direction, r.priority),
            (Action::Deny, Direction::Egress, 10)
        );
        assert_eq!((r.protocol.clone(), r.disabled), (Proto::All, true));
        assert_eq!(
            (r.sources.clone(), r.destinations.clone()),
            (vec![any()], vec![net("10.30.0.0/16")])
        );
        assert_eq!(r.address, None);
        // Ingress with no source at all: GCP's 0.0.0.0/0; with source tags only: no range.
        let open = Firewall::new().set_allowed([firewall::Allowed::new().set_ip_protocol("udp")]);
        assert_eq!(rules_of(&open, &ids())[0].sources, vec![any()]);
        let tags = open.clone().set_source_tags(["web"]);
        assert!(rules_of(&tags, &ids())[0].sources.is_empty());
    }

    #[test]
    fn targeted_allows_are_left_out_and_targeted_denies_kept() {
        let allow = Firewall::new()
            .set_target_tags(["db"])
            .set_allowed([firewall::Allowed::new().set_ip_protocol("all")]);
        assert!(rules_of(&allow, &ids()).is_empty());
        let deny = Firewall::new()
            .set_target_service_accounts(["sa@p.iam.gserviceaccount.com"])
            .set_denied([firewall::Denied::new()
                .set_ip_protocol("tcp")
                .set_ports(["22"])]);
        let r = rules_of(&deny, &ids());
        assert_eq!((r.len(), r[0].action), (1, Action::Deny));
    }

    #[test]
    fn only_established_tunnels_count_as_up() {
        let t = VpnTunnel::new().set_status(vpn_tunnel::Status::Established);
        assert!(established(&t));
        let t = VpnTunnel::new().set_status(vpn_tunnel::Status::NoIncomingPackets);
        assert!(!established(&t));
        assert!(!established(&VpnTunnel::new()));
    }
}
