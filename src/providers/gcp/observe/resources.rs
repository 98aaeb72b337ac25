//! Each recorded GCP resource as found in the lists: present or absent, its attributes under
//! the keys `judge::flatten` gives the planned ones (references compared in canonical form),
//! and the tunnels' status and the BGP sessions of `getRouterStatus`.

use super::network::{established, last};
use super::{scope_of, Global, Regional, Seen};
use crate::plan::resource::Kind;
use crate::providers::gcp::{canonical, network_path};
use crate::providers::{Desired, ObserveRequest, Recorded};
use crate::verify::snapshot::{AttrDiff, BgpObs, CloudSnapshot, ResourceObs, TunnelObs};
use google_cloud_compute_v1::model::{Router, RouterStatus, VpnTunnel};

/// A URL or path from `projects/` on: equal for every form of one reference, tails kept
/// (`…/routers/R/interfaces/N`).
fn tail(u: &str) -> &str {
    u.find("projects/").map(|i| &u[i..]).unwrap_or(u)
}

/// The observed reference as the planned text when both name the same resource, so that
/// only a real difference differs.
fn reference(d: &Desired, key: &str, actual: &str) -> String {
    match d.attrs.opt_str(key) {
        Some(e) if tail(e) == tail(actual) => e.to_string(),
        _ => actual.to_string(),
    }
}

/// The observed network URL as the planned (usually bare) network name when they agree.
fn network(d: &Desired, project: &str, actual: &str) -> String {
    match d.attrs.opt_str("network") {
        Some(e) if tail(&network_path(project, e)) == tail(actual) => e.to_string(),
        _ => tail(actual).to_string(),
    }
}

/// Sorted, comma-joined, as `flatten` writes lists of scalars.
fn joined(v: &[String]) -> String {
    let mut v = v.to_vec();
    v.sort();
    v.join(",")
}

/// `500-500` as the planned `500`.
fn port_range(d: &Desired, actual: &str) -> String {
    match (d.attrs.opt_str("port_range"), actual.split_once('-')) {
        (Some(e), Some((a, b))) if a == b && a == e => e.to_string(),
        _ => actual.to_string(),
    }
}

fn enum_name<E>(e: &Option<E>, name: impl Fn(&E) -> Option<&str>) -> Option<String> {
    e.as_ref().and_then(name).map(str::to_string)
}

/// Fills `resources`, `tunnels` and `bgp` for every recorded resource whose list was read.
pub(super) fn observe_resources(req: &ObserveRequest, seen: &Seen, snap: &mut CloudSnapshot) {
    for rec in &req.resources {
        let Some((project, region)) = scope_of(rec) else {
            continue;
        };
        let obs = match region {
            Some(region) => seen
                .regional
                .get(&(project.clone(), region))
                .and_then(|r| regional(rec, &project, r, seen, snap)),
            None => seen
                .global
                .get(&project)
                .and_then(|g| global(rec, &project, g)),
        };
        if let Some(o) = obs {
            snap.resources.insert(rec.desired.address.clone(), o);
        }
    }
}

fn present(rec: &Recorded, project: &str) -> ResourceObs {
    ResourceObs::present(&rec.id).attr("project", project)
}

/// `None`: the kind's list was not read.
fn regional(
    rec: &Recorded,
    project: &str,
    r: &Regional,
    seen: &Seen,
    snap: &mut CloudSnapshot,
) -> Option<ResourceObs> {
    let d = &rec.desired;
    let id = rec.id.as_str();
    let absent = || Some(ResourceObs::absent());
    match d.kind {
        Kind::GcpVpnGateway => {
            let Some(g) = Seen::find(r.gateways.as_ref(), id, |g| g.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project).attr("interfaces", g.vpn_interfaces.len());
            if let Some(n) = &g.network {
                o = o.attr("network", network(d, project, n));
            }
            Some(o)
        }
        Kind::GcpTargetVpnGateway => {
            let Some(g) = Seen::find(r.targets.as_ref(), id, |g| g.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project);
            if let Some(n) = &g.network {
                o = o.attr("network", network(d, project, n));
            }
            Some(o)
        }
        Kind::GcpAddress => {
            let Some(a) = Seen::find(r.addresses.as_ref(), id, |a| a.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project);
            if let Some(t) = enum_name(&a.address_type, |t| t.name()) {
                o = o.attr("address_type", t);
            }
            Some(o)
        }
        Kind::GcpForwardingRule => {
            let Some(f) = Seen::find(r.forwarding.as_ref(), id, |f| f.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project);
            if let Some(p) = enum_name(&f.ip_protocol, |p| p.name()) {
                o = o.attr("ip_protocol", p);
            }
            if let Some(ip) = &f.ip_address {
                o = o.attr("ip_address", ip);
            }
            if let Some(t) = &f.target {
                o = o.attr("target", reference(d, "target", t));
            }
            if let Some(p) = &f.port_range {
                o = o.attr("port_range", port_range(d, p));
            }
            Some(o)
        }
        Kind::GcpVpnTunnel => {
            let Some(t) = Seen::find(r.tunnels.as_ref(), id, |t| t.self_link.as_ref())? else {
                return absent();
            };
            snap.tunnels.push(tunnel_obs(d, t));
            Some(tunnel_attrs(rec, project, t))
        }
        Kind::GcpRouter => {
            let Some(router) = Seen::find(r.routers.as_ref(), id, |x| x.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project);
            if let Some(n) = &router.network {
                o = o.attr("network", network(d, project, n));
            }
            if let Some(b) = &router.bgp {
                if let Some(asn) = b.asn {
                    o = o.attr("asn", asn);
                }
                if let Some(m) = enum_name(&b.advertise_mode, |m| m.name()) {
                    o = o.attr("advertise_mode", m);
                }
                if let Some(k) = b.keepalive_interval {
                    o = o.attr("keepalive_seconds", k);
                }
            }
            Some(o)
        }
        Kind::GcpRouterInterface | Kind::GcpRouterPeer => {
            // The id is the router's selfLink with `/interfaces/N` or `/bgpPeers/N`.
            let Some(router) = Seen::find(r.routers.as_ref(), id, |x| x.self_link.as_ref())? else {
                return absent();
            };
            let name = last(id);
            Some(if d.kind == Kind::GcpRouterInterface {
                interface_obs(rec, project, router, name)
            } else {
                let status = router
                    .self_link
                    .as_deref()
                    .and_then(|l| seen.status.get(&canonical(l)));
                peer_obs(rec, project, router, name, status, snap)
            })
        }
        _ => Some(ResourceObs::present(id)),
    }
}

fn global(rec: &Recorded, project: &str, g: &Global) -> Option<ResourceObs> {
    let d = &rec.desired;
    let id = rec.id.as_str();
    let absent = || Some(ResourceObs::absent());
    match d.kind {
        Kind::GcpExternalVpnGateway => {
            let Some(e) = Seen::find(g.externals.as_ref(), id, |e| e.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project);
            if let Some(t) = enum_name(&e.redundancy_type, |t| t.name()) {
                o = o.attr("redundancy_type", t);
            }
            // In planned order (by interface id), so that keys line up with `flatten`'s.
            let planned = d.attrs.maps("interfaces").unwrap_or_default();
            for (i, p) in planned.iter().enumerate() {
                let want = p.opt_int("id").unwrap_or(i as i64);
                let Some(found) = e
                    .interfaces
                    .iter()
                    .find(|x| x.id.map(i64::from) == Some(want))
                else {
                    o.diffs.push(AttrDiff {
                        attr: format!("interfaces[{i}]"),
                        expected: format!("interface {want}"),
                        actual: "none".into(),
                    });
                    continue;
                };
                o = o.attr(&format!("interfaces[{i}].id"), want);
                if let Some(ip) = &found.ip_address {
                    o = o.attr(&format!("interfaces[{i}].ip_address"), ip);
                }
            }
            Some(o)
        }
        Kind::GcpRoute => {
            let Some(r) = Seen::find(g.routes.as_ref(), id, |r| r.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project);
            if let Some(n) = &r.network {
                o = o.attr("network", network(d, project, n));
            }
            if let Some(x) = &r.dest_range {
                o = o.attr("dest_range", x);
            }
            if let Some(t) = &r.next_hop_vpn_tunnel {
                o = o.attr(
                    "next_hop_vpn_tunnel",
                    reference(d, "next_hop_vpn_tunnel", t),
                );
            }
            if let Some(p) = r.priority {
                o = o.attr("priority", p);
            }
            Some(o)
        }
        Kind::GcpFirewall => {
            let Some(f) = Seen::find(g.firewalls.as_ref(), id, |f| f.self_link.as_ref())? else {
                return absent();
            };
            let mut o = present(rec, project);
            if let Some(n) = &f.network {
                o = o.attr("network", network(d, project, n));
            }
            let dir = enum_name(&f.direction, |x| x.name()).unwrap_or_else(|| "INGRESS".into());
            o = o.attr("direction", dir);
            o = o.attr("priority", f.priority.unwrap_or(1000));
            o = o.attr("source_ranges", joined(&f.source_ranges));
            for (i, a) in f.allowed.iter().enumerate() {
                if let Some(p) = &a.ip_protocol {
                    o = o.attr(&format!("allowed[{i}].ip_protocol"), p);
                }
                if !a.ports.is_empty() {
                    o = o.attr(&format!("allowed[{i}].ports"), joined(&a.ports));
                }
            }
            let planned = d.attrs.list("allowed").map(<[_]>::len).unwrap_or(0);
            if f.allowed.len() != planned {
                o.diffs.push(AttrDiff {
                    attr: "allowed".into(),
                    expected: format!("{planned} entries"),
                    actual: format!("{} entries", f.allowed.len()),
                });
            }
            if f.disabled == Some(true) {
                o.diffs.push(AttrDiff {
                    attr: "disabled".into(),
                    expected: "false".into(),
                    actual: "true".into(),
                });
            }
            if !f.target_tags.is_empty() || !f.target_service_accounts.is_empty() {
                o.diffs.push(AttrDiff {
                    attr: "targets".into(),
                    expected: "every instance".into(),
                    actual: joined(
                        &[f.target_tags.clone(), f.target_service_accounts.clone()].concat(),
                    ),
                });
            }
            Some(o)
        }
        _ => Some(ResourceObs::present(id)),
    }
}

fn tunnel_attrs(rec: &Recorded, project: &str, t: &VpnTunnel) -> ResourceObs {
    let d = &rec.desired;
    let mut o = present(rec, project);
    for (key, v) in [
        ("vpn_gateway", &t.vpn_gateway),
        ("peer_external_gateway", &t.peer_external_gateway),
        ("router", &t.router),
        ("target_vpn_gateway", &t.target_vpn_gateway),
    ] {
        if let Some(v) = v {
            o = o.attr(key, reference(d, key, v));
        }
    }
    if let Some(ip) = &t.peer_ip {
        o = o.attr("peer_ip", ip);
    }
    for (key, v) in [
        ("vpn_gateway_interface", t.vpn_gateway_interface),
        (
            "peer_external_gateway_interface",
            t.peer_external_gateway_interface,
        ),
        ("ike_version", t.ike_version),
    ] {
        if let Some(v) = v {
            o = o.attr(key, v);
        }
    }
    for (key, v) in [
        ("local_traffic_selector", &t.local_traffic_selector),
        ("remote_traffic_selector", &t.remote_traffic_selector),
    ] {
        if !v.is_empty() {
            o = o.attr(key, joined(v));
        }
    }
    o
}

fn tunnel_obs(d: &Desired, t: &VpnTunnel) -> TunnelObs {
    let status = enum_name(&t.status, |s| s.name()).unwrap_or_else(|| "UNKNOWN".into());
    TunnelObs {
        address: d.address.clone(),
        index: 0,
        name: t.name.clone().unwrap_or_else(|| d.name.clone()),
        up: established(t),
        status,
        detail: t.detailed_status.clone().unwrap_or_default(),
    }
}

fn interface_obs(rec: &Recorded, project: &str, router: &Router, name: &str) -> ResourceObs {
    let d = &rec.desired;
    let Some(i) = router
        .interfaces
        .iter()
        .find(|i| i.name.as_deref() == Some(name))
    else {
        return ResourceObs::absent();
    };
    let mut o = present(rec, project);
    if let Some(l) = &router.self_link {
        o = o.attr("router", reference(d, "router", l));
    }
    if let Some(r) = &i.ip_range {
        o = o.attr("ip_range", r);
    }
    if let Some(t) = &i.linked_vpn_tunnel {
        o = o.attr("linked_vpn_tunnel", reference(d, "linked_vpn_tunnel", t));
    }
    o
}

fn peer_obs(
    rec: &Recorded,
    project: &str,
    router: &Router,
    name: &str,
    status: Option<&RouterStatus>,
    snap: &mut CloudSnapshot,
) -> ResourceObs {
    let d = &rec.desired;
    let Some(p) = router
        .bgp_peers
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
    else {
        return ResourceObs::absent();
    };
    let mut o = present(rec, project);
    if let Some(l) = &router.self_link {
        o = o.attr("router", reference(d, "router", l));
        if let Some(i) = &p.interface_name {
            let iface = format!("{l}/interfaces/{i}");
            o = o.attr("interface", reference(d, "interface", &iface));
        }
    }
    if let Some(i) = &p.interface_name {
        o = o.attr("interface_name", i);
    }
    if let Some(ip) = &p.ip_address {
        o = o.attr("ip_address", ip);
    }
    if let Some(ip) = &p.peer_ip_address {
        o = o.attr("peer_ip_address", ip);
    }
    if let Some(asn) = p.peer_asn {
        o = o.attr("peer_asn", asn);
    }
    if let Some(m) = enum_name(&p.advertise_mode, |m| m.name()) {
        o = o.attr("advertise_mode", m);
    }
    if let Some(x) = p.advertised_route_priority {
        o = o.attr("advertised_route_priority", x);
    }
    let disabled = enum_name(&p.enable, |e| e.name()).as_deref() == Some("FALSE");
    if disabled {
        o.diffs.push(AttrDiff {
            attr: "enable".into(),
            expected: "TRUE".into(),
            actual: "FALSE".into(),
        });
    }
    if let Some(s) = status {
        snap.bgp
            .push(bgp_obs(d, name, p.peer_ip_address.as_deref(), disabled, s));
    }
    o
}

/// The session of BGP peer `name` in a router's status.
fn bgp_obs(
    d: &Desired,
    name: &str,
    configured_peer: Option<&str>,
    disabled: bool,
    s: &RouterStatus,
) -> BgpObs {
    let st = s
        .bgp_peer_status
        .iter()
        .find(|x| x.name.as_deref() == Some(name));
    let peer_ip = st
        .and_then(|x| x.peer_ip_address.clone())
        .or_else(|| configured_peer.map(str::to_string));
    let mut state = st
        .and_then(|x| x.state.clone())
        .or_else(|| st.and_then(|x| enum_name(&x.status, |v| v.name())))
        .unwrap_or_else(|| "not in the router's status".into());
    if disabled {
        state.push_str(" (peer disabled: enable FALSE)");
    }
    let established = !disabled && st.and_then(|x| x.state.as_deref()) == Some("Established");
    // The best routes this router learned over this peer (by the peer's address).
    let routes = if s.best_routes_for_router.is_empty() {
        &s.best_routes
    } else {
        &s.best_routes_for_router
    };
    let tunnel = st.and_then(|x| x.linked_vpn_tunnel.as_deref()).map(tail);
    let mut learned: Vec<ipnet::Ipv4Net> = routes
        .iter()
        .filter(|r| {
            (peer_ip.is_some() && r.next_hop_ip == peer_ip)
                || (tunnel.is_some() && r.next_hop_vpn_tunnel.as_deref().map(tail) == tunnel)
        })
        .filter_map(|r| r.dest_range.as_deref()?.parse().ok())
        .collect();
    learned.sort();
    learned.dedup();
    let learned_count = st
        .and_then(|x| x.num_learned_routes)
        .unwrap_or(learned.len() as u32);
    BgpObs {
        address: d.address.clone(),
        index: 0,
        name: name.to_string(),
        peer_ip,
        established,
        state,
        learned,
        learned_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{Attr, Attrs};
    use google_cloud_compute_v1::model::{Route, RouterStatusBgpPeerStatus};

    fn desired(kind: Kind, attrs: &[(&str, &str)]) -> Desired {
        Desired {
            address: "gcp.x.y".into(),
            kind,
            name: "y".into(),
            region: "r".into(),
            topology: "t".into(),
            attrs: Attrs(
                attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Attr::Str(v.to_string())))
                    .collect(),
            ),
        }
    }

    #[test]
    fn references_and_networks_read_as_planned_when_they_name_the_same_thing() {
        let d = desired(
            Kind::GcpRoute,
            &[
                ("network", "prod-vpc"),
                (
                    "next_hop_vpn_tunnel",
                    "http://127.0.0.1:9/compute/v1/projects/p/regions/r/vpnTunnels/t",
                ),
                ("port_range", "500"),
            ],
        );
        let t = "https://www.googleapis.com/compute/v1/projects/p/regions/r/vpnTunnels/t";
        assert_eq!(
            reference(&d, "next_hop_vpn_tunnel", t),
            d.attrs.opt_str("next_hop_vpn_tunnel").unwrap()
        );
        assert_eq!(
            reference(
                &d,
                "next_hop_vpn_tunnel",
                "projects/p/regions/r/vpnTunnels/u"
            ),
            "projects/p/regions/r/vpnTunnels/u"
        );
        let n = "https://h/compute/v1/projects/p/global/networks/prod-vpc";
        assert_eq!(network(&d, "p", n), "prod-vpc");
        assert_eq!(
            network(
                &d,
                "p",
                "https://h/compute/v1/projects/p/global/networks/other"
            ),
            "projects/p/global/networks/other"
        );
        assert_eq!(port_range(&d, "500-500"), "500");
        assert_eq!(port_range(&d, "500-501"), "500-501");
    }

    #[test]
    fn a_session_reports_its_peer_state_and_the_routes_it_learned() {
        let d = desired(Kind::GcpRouterPeer, &[]);
        let s = RouterStatus::new()
            .set_bgp_peer_status([RouterStatusBgpPeerStatus::new()
                .set_name("peer0")
                .set_peer_ip_address("169.254.0.1")
                .set_state("Established")
                .set_num_learned_routes(1u32)])
            .set_best_routes([
                Route::new()
                    .set_dest_range("10.10.0.0/16")
                    .set_next_hop_ip("169.254.0.1"),
                Route::new()
                    .set_dest_range("10.99.0.0/16")
                    .set_next_hop_ip("169.254.0.5"),
            ]);
        let b = bgp_obs(&d, "peer0", None, false, &s);
        assert!(b.established);
        assert_eq!(b.peer_ip.as_deref(), Some("169.254.0.1"));
        assert_eq!(
            b.learned,
            vec!["10.10.0.0/16".parse::<ipnet::Ipv4Net>().unwrap()]
        );
        assert_eq!((b.learned_count, b.state.as_str()), (1, "Established"));
        let off = bgp_obs(&d, "peer0", None, true, &s);
        assert!(
            !off.established && off.state.contains("disabled"),
            "{off:?}"
        );
        let missing = bgp_obs(&d, "peer9", Some("169.254.0.9"), false, &s);
        assert!(!missing.established);
        assert_eq!(missing.peer_ip.as_deref(), Some("169.254.0.9"));
    }
}
