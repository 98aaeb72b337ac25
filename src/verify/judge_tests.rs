//! The judge on hand-built snapshots of the triangle: a healthy world, then one breakage per
//! case (the failure modes users report), each asserting the verdict, direction and cause.

use super::*;
use crate::plan::resource::Resource;
use crate::plan::templates::Templates;
use crate::state::ResourceState;
use crate::verify::snapshot::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

struct World {
    topo: Topology,
    plan: Plan,
    state: State,
    snap: Snapshot,
}

fn world() -> World {
    let topo = crate::topology::parse(
        "triangle.yaml",
        include_str!("../../topologies/triangle.yaml"),
    )
    .unwrap();
    let tpl = Templates::embedded().unwrap();
    let plan = crate::plan::plan(
        &topo,
        &State::empty(),
        &tpl,
        &mut ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap();
    let mut state = State::empty();
    state.lineage = "l".into();
    state.secrets = plan.secrets.clone();
    for r in &plan.resources {
        state.resources.insert(
            r.address.clone(),
            ResourceState::created(r, format!("id-{}", r.name)),
        );
    }
    let snap = healthy(&topo, &plan);
    World {
        topo,
        plan,
        state,
        snap,
    }
}

fn own<'p>(plan: &'p Plan, link: &str, kind: Kind) -> Vec<&'p Resource> {
    let mut v: Vec<_> = plan
        .resources
        .iter()
        .filter(|r| r.kind == kind && r.link.as_deref() == Some(link))
        .collect();
    v.sort_by(|a, b| a.address.cmp(&b.address));
    v
}

fn tunnel(address: &str, index: u8, up: bool, status: &str) -> TunnelObs {
    TunnelObs {
        address: address.into(),
        index,
        name: format!("{address}#{index}"),
        up,
        status: status.into(),
        detail: String::new(),
    }
}

fn cidrs_of(v: Option<&Value>) -> Vec<Ipv4Net> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => s.parse().ok(),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

fn proto(s: &str) -> Proto {
    match s.to_ascii_lowercase().as_str() {
        "-1" | "all" | "*" => Proto::All,
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "icmp" => Proto::Icmp,
        o => Proto::Other(o.into()),
    }
}

fn any() -> Vec<Ipv4Net> {
    vec!["0.0.0.0/0".parse().unwrap()]
}

fn rule(name: &str, dir: Direction, action: Action, prio: u32, p: Proto) -> RuleObs {
    RuleObs {
        name: name.into(),
        address: None,
        direction: dir,
        action,
        priority: prio,
        protocol: p,
        ports: vec![],
        sources: any(),
        destinations: any(),
        disabled: false,
    }
}

/// The rules a planned firewall resource puts in the cloud.
fn planned_rules(r: &Resource) -> Vec<RuleObs> {
    let get = |k: &str| r.attributes.get(k);
    let s = |k: &str| match get(k) {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let mut out = Vec::new();
    match r.kind {
        Kind::AwsSecurityGroupRule => {
            if let Some(Value::List(perms)) = get("permissions") {
                for p in perms {
                    let Value::Map(m) = p else { continue };
                    let int = |k: &str| match m.get(k) {
                        Some(Value::Int(i)) => *i,
                        _ => -1,
                    };
                    let pr = match m.get("protocol") {
                        Some(Value::Str(s)) => proto(s),
                        _ => Proto::All,
                    };
                    let mut x = rule(&r.name, Direction::Ingress, Action::Allow, 0, pr.clone());
                    if matches!(pr, Proto::Tcp | Proto::Udp) {
                        x.ports = vec![(int("from_port") as u16, int("to_port") as u16)];
                    }
                    x.sources = cidrs_of(get("source_cidrs"));
                    x.address = Some(r.address.clone());
                    out.push(x);
                }
            }
        }
        Kind::GcpFirewall => {
            if let Some(Value::List(allowed)) = get("allowed") {
                for a in allowed {
                    let Value::Map(m) = a else { continue };
                    let pr = match m.get("ip_protocol") {
                        Some(Value::Str(s)) => proto(s),
                        _ => Proto::All,
                    };
                    let mut x = rule(&r.name, Direction::Ingress, Action::Allow, 1000, pr);
                    if let Some(Value::List(ports)) = m.get("ports") {
                        x.ports = ports
                            .iter()
                            .filter_map(|p| match p {
                                Value::Str(p) => {
                                    let (a, b) = p.split_once('-').unwrap_or((p, p));
                                    Some((a.parse().ok()?, b.parse().ok()?))
                                }
                                _ => None,
                            })
                            .collect();
                    }
                    x.sources = cidrs_of(get("source_ranges"));
                    x.address = Some(r.address.clone());
                    out.push(x);
                }
            }
        }
        Kind::AzureNsgRule => {
            let action = if s("access") == "Deny" {
                Action::Deny
            } else {
                Action::Allow
            };
            let prio = match get("priority") {
                Some(Value::Int(i)) => *i as u32,
                _ => 0,
            };
            let mut x = rule(
                &r.name,
                Direction::Ingress,
                action,
                prio,
                proto(&s("protocol")),
            );
            if let Some(Value::List(ports)) = get("destination_port_ranges") {
                x.ports = ports
                    .iter()
                    .filter_map(|p| match p {
                        Value::Str(p) if p != "*" => {
                            let (a, b) = p.split_once('-').unwrap_or((p, p));
                            Some((a.parse().ok()?, b.parse().ok()?))
                        }
                        _ => None,
                    })
                    .collect();
            }
            x.sources = cidrs_of(get("source_address_prefixes"));
            x.destinations = cidrs_of(get("destination_address_prefixes"));
            x.address = Some(r.address.clone());
            out.push(x);
        }
        _ => {}
    }
    out
}

/// Every resource present, every tunnel up (AWS tunnel 2 of the Azure link down: no peer),
/// every session established, every remote CIDR routed, every planned rule in place.
fn healthy(topo: &Topology, plan: &Plan) -> Snapshot {
    let mut snap = Snapshot::default();
    for r in &plan.resources {
        snap.clouds
            .entry(r.kind.cloud())
            .or_default()
            .resources
            .insert(
                r.address.clone(),
                ResourceObs::present(format!("id-{}", r.name)),
            );
    }
    for l in &plan.links {
        for (j, c) in own(plan, &l.id, Kind::AwsVpnConnection).iter().enumerate() {
            for t in 0..2u8 {
                let slot = j as u8 * 2 + t;
                let standby = l.tunnels.iter().any(|x| x.index == slot && x.standby);
                let aws = snap.clouds.entry(Cloud::Aws).or_default();
                aws.tunnels.push(if standby {
                    tunnel(&c.address, t, false, "DOWN")
                } else {
                    tunnel(&c.address, t, true, "UP")
                });
                if l.routing == "bgp" {
                    aws.bgp.push(BgpObs {
                        address: c.address.clone(),
                        index: t,
                        name: format!("{}#{t}", c.name),
                        peer_ip: None,
                        established: true,
                        state: "UP".into(),
                        learned: vec![],
                        learned_count: 1,
                    });
                }
            }
        }
        for t in own(plan, &l.id, Kind::GcpVpnTunnel) {
            let gcp = snap.clouds.entry(Cloud::Gcp).or_default();
            gcp.tunnels.push(tunnel(&t.address, 0, true, "ESTABLISHED"));
        }
        for c in own(plan, &l.id, Kind::AzureConnection) {
            let az = snap.clouds.entry(Cloud::Azure).or_default();
            az.tunnels.push(tunnel(&c.address, 0, true, "Connected"));
        }
        for p in own(plan, &l.id, Kind::GcpRouterPeer) {
            let peer = match p.attributes.get("peer_ip_address") {
                Some(Value::Str(s)) => Some(s.clone()),
                _ => None,
            };
            snap.clouds.entry(Cloud::Gcp).or_default().bgp.push(BgpObs {
                address: p.address.clone(),
                index: 0,
                name: p.name.clone(),
                peer_ip: peer,
                established: true,
                state: "Established".into(),
                learned: vec![],
                learned_count: 1,
            });
        }
    }
    for n in &topo.networks {
        let mut obs = NetworkObs {
            cidrs: n.cidrs.clone(),
            ..NetworkObs::default()
        };
        let mut table = RouteTableObs {
            name: format!("table-{}", n.name),
            routes: vec![],
        };
        let mut fw = FirewallObs {
            name: format!("fw-{}", n.name),
            kind: match n.cloud {
                Cloud::Aws => FirewallKind::SecurityGroup,
                Cloud::Gcp => FirewallKind::GcpNetwork,
                Cloud::Azure => FirewallKind::Nsg,
            },
            rules: vec![],
        };
        for l in plan.links.iter().filter(|l| l.between.contains(&n.name)) {
            let remote = if l.between[0] == n.name {
                &l.between[1]
            } else {
                &l.between[0]
            };
            let rn = topo.networks.iter().find(|x| &x.name == remote).unwrap();
            let via = match n.cloud {
                Cloud::Aws => format!("aws.vpn_gateway.{}", n.name),
                Cloud::Gcp => own(plan, &l.id, Kind::GcpVpnTunnel)[0].address.clone(),
                Cloud::Azure => own(plan, &l.id, Kind::AzureConnection)[0].address.clone(),
            };
            for c in &rn.cidrs {
                table.routes.push(RouteObs {
                    dest: *c,
                    next_hop: via.clone(),
                    via: Some(via.clone()),
                    active: true,
                    origin: "test".into(),
                    priority: 100,
                });
            }
        }
        for r in plan
            .resources
            .iter()
            .filter(|r| r.network.as_deref() == Some(&n.name))
        {
            fw.rules.extend(planned_rules(r));
        }
        match n.cloud {
            Cloud::Aws => fw.rules.push(rule(
                "egress-all",
                Direction::Egress,
                Action::Allow,
                0,
                Proto::All,
            )),
            Cloud::Azure => {
                let mut vnet = rule(
                    "AllowVnetInBound",
                    Direction::Ingress,
                    Action::Allow,
                    65000,
                    Proto::All,
                );
                vnet.sources = topo.networks.iter().flat_map(|n| n.cidrs.clone()).collect();
                fw.rules.push(vnet);
                fw.rules.push(rule(
                    "DenyAllInBound",
                    Direction::Ingress,
                    Action::Deny,
                    65500,
                    Proto::All,
                ));
                fw.rules.push(rule(
                    "AllowVnetOutBound",
                    Direction::Egress,
                    Action::Allow,
                    65000,
                    Proto::All,
                ));
            }
            Cloud::Gcp => {}
        }
        obs.route_tables.push(table);
        obs.firewalls.push(fw);
        snap.clouds
            .entry(n.cloud)
            .or_default()
            .networks
            .insert(n.name.clone(), obs);
    }
    snap
}

fn run(w: &World, strict: bool) -> Report {
    judge(
        &w.plan,
        &w.state,
        &w.topo,
        &w.snap,
        &Options {
            strict,
            ..Default::default()
        },
    )
}

fn result<'r>(r: &'r Report, link: &str, check: Check, from: Option<&str>) -> &'r CheckResult {
    let l = r.links.iter().find(|l| l.id == link).unwrap();
    l.results
        .iter()
        .find(|x| x.check == check && x.direction.as_ref().map(|w| w.from.as_str()) == from)
        .unwrap_or_else(|| panic!("no {check:?} result for {link} from {from:?}"))
}

fn causes(r: &CheckResult) -> String {
    r.causes
        .iter()
        .map(|c| c.message.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn tunnels_of<'s>(w: &'s mut World, cloud: Cloud, address: &str) -> Vec<&'s mut TunnelObs> {
    w.snap
        .clouds
        .get_mut(&cloud)
        .unwrap()
        .tunnels
        .iter_mut()
        .filter(|t| t.address == address)
        .collect()
}

fn remove_rule(w: &mut World, network: &str, name: &str) {
    let n = w
        .snap
        .clouds
        .values_mut()
        .find_map(|c| c.networks.get_mut(network))
        .unwrap();
    for f in &mut n.firewalls {
        f.rules.retain(|r| r.name != name);
    }
}

fn absent(w: &mut World, address: &str) {
    for c in w.snap.clouds.values_mut() {
        if let Some(r) = c.resources.get_mut(address) {
            *r = ResourceObs::absent();
        }
    }
}

const AWS_AZ: &str = "aws-use1--az-eus";
const AWS_GCP: &str = "aws-use1--gcp-usc1";
const AZ_GCP: &str = "az-eus--gcp-usc1";

#[test]
fn a_healthy_triangle_passes_every_check_and_aws_tunnel_2_of_azure_is_standby() {
    let w = world();
    let r = run(&w, true);
    for l in &r.links {
        for x in &l.results {
            assert_eq!(x.verdict, Verdict::Pass, "{} {x:?}", l.id);
        }
    }
    let t = result(&r, AWS_AZ, Check::Tunnels, None);
    assert!(t.summary.contains("1/1 tunnels up"), "{}", t.summary);
    assert!(t.summary.contains("tunnel 2 standby (no peer by design)"));
    assert!(r.passed());
}

#[test]
fn a_psk_mismatch_is_a_down_tunnel_named_with_both_clouds_texts() {
    let mut w = world();
    for t in tunnels_of(&mut w, Cloud::Aws, "aws.vpn_connection.aws-use1--az-eus") {
        if t.index == 0 {
            t.up = false;
            t.status = "DOWN".into();
            t.detail = "IPSEC IS DOWN - IKE AUTHENTICATION FAILED (PRE-SHARED KEY MISMATCH)".into();
        }
    }
    for t in tunnels_of(&mut w, Cloud::Azure, "azure.connection.aws-use1--az-eus") {
        t.up = false;
        t.status = "NotConnected".into();
    }
    let r = run(&w, false);
    let t = result(&r, AWS_AZ, Check::Tunnels, None);
    assert_eq!(t.verdict, Verdict::Fail);
    let c = causes(t);
    assert!(
        c.contains("PRE-SHARED KEY MISMATCH") && c.contains("NotConnected"),
        "{c}"
    );
    let l = r.links.iter().find(|l| l.id == AWS_AZ).unwrap();
    for way in l.ways() {
        assert_eq!(l.verdict_of(&way), Verdict::Fail);
    }
    assert!(!r.passed());
}

#[test]
fn an_inside_address_mismatch_leaves_tunnels_up_and_bgp_idle() {
    let mut w = world();
    for c in w.snap.clouds.values_mut() {
        for b in &mut c.bgp {
            b.established = false;
            b.state = "Active".into();
        }
    }
    let r = run(&w, false);
    assert_eq!(
        result(&r, AWS_GCP, Check::Tunnels, None).verdict,
        Verdict::Pass
    );
    let routing = result(&r, AWS_GCP, Check::Routing, Some("aws-use1"));
    assert_eq!(routing.verdict, Verdict::Fail);
    assert!(
        causes(routing).contains("up but BGP not established"),
        "{}",
        causes(routing)
    );
}

#[test]
fn a_missing_static_route_fails_routing_naming_the_table() {
    let mut w = world();
    let gcp = w.snap.clouds.get_mut(&Cloud::Gcp).unwrap();
    let n = gcp.networks.get_mut("gcp-usc1").unwrap();
    n.route_tables[0]
        .routes
        .retain(|r| r.dest.to_string() != "10.30.0.0/16");
    let r = run(&w, false);
    let fwd = result(&r, AZ_GCP, Check::Routing, Some("gcp-usc1"));
    assert_eq!(fwd.verdict, Verdict::Fail);
    assert!(
        causes(fwd).contains("gcp-usc1 has no route to 10.30.0.0/16 in table-gcp-usc1"),
        "{}",
        causes(fwd)
    );
    let back = result(&r, AZ_GCP, Check::Routing, Some("az-eus"));
    assert!(causes(back).contains("replies: gcp-usc1 has no route"));
    assert_eq!(
        result(&r, AWS_GCP, Check::Routing, Some("aws-use1")).verdict,
        Verdict::Pass
    );
}

#[test]
fn a_deleted_gcp_firewall_rule_blocks_one_direction_only() {
    let mut w = world();
    remove_rule(
        &mut w,
        "gcp-usc1",
        "prod-mesh-aws-use1--gcp-usc1-from-aws-use1",
    );
    absent(&mut w, "gcp.firewall.aws-use1--gcp-usc1.gcp-usc1");
    let r = run(&w, false);
    let into_gcp = result(&r, AWS_GCP, Check::Firewall, Some("aws-use1"));
    assert_eq!(into_gcp.verdict, Verdict::Fail);
    let c = causes(into_gcp);
    assert!(c.contains("aws-use1 → gcp-usc1 blocked"), "{c}");
    assert!(
        c.contains("implied deny-all ingress rule (priority 65535)"),
        "{c}"
    );
    assert!(
        c.contains("missing planned rule prod-mesh-aws-use1--gcp-usc1-from-aws-use1"),
        "{c}"
    );
    assert_eq!(
        result(&r, AWS_GCP, Check::Firewall, Some("gcp-usc1")).verdict,
        Verdict::Pass
    );
    assert_eq!(
        result(&r, AWS_GCP, Check::Presence, None).verdict,
        Verdict::Fail
    );
}

#[test]
fn a_deleted_nsg_allow_leaves_peerctls_deny_in_effect_and_names_both() {
    let mut w = world();
    remove_rule(&mut w, "az-eus", "prod-mesh-aws-use1--az-eus-allow-tcp");
    absent(&mut w, "azure.nsg_rule.aws-use1--az-eus.az-eus.allow-tcp");
    let r = run(&w, false);
    let f = result(&r, AWS_AZ, Check::Firewall, Some("aws-use1"));
    let c = causes(f);
    assert!(c.contains("blocked (tcp/443 from 10.10.0.0/16): NSG rule prod-mesh-aws-use1--az-eus-deny (priority"), "{c}");
    assert!(
        c.contains("missing planned rule prod-mesh-aws-use1--az-eus-allow-tcp"),
        "{c}"
    );
    // icmp still admitted: one cause per blocked entry (tcp/443, tcp/5432).
    assert_eq!(f.causes.len(), 2, "{c}");
    assert_eq!(
        result(&r, AWS_AZ, Check::Firewall, Some("az-eus")).verdict,
        Verdict::Pass
    );
}

#[test]
fn a_revoked_security_group_rule_blocks_traffic_into_aws() {
    let mut w = world();
    remove_rule(
        &mut w,
        "aws-use1",
        "prod-mesh-aws-use1--gcp-usc1-from-gcp-usc1",
    );
    let r = run(&w, false);
    let f = result(&r, AWS_GCP, Check::Firewall, Some("gcp-usc1"));
    assert!(causes(f).contains("no ingress rule in security group fw-aws-use1 allows it"));
    assert_eq!(
        result(&r, AWS_GCP, Check::Firewall, Some("aws-use1")).verdict,
        Verdict::Pass
    );
}

#[test]
fn one_of_four_ha_tunnels_down_is_degraded_unless_strict() {
    let mut w = world();
    tunnels_of(&mut w, Cloud::Gcp, "gcp.vpn_tunnel.aws-use1--gcp-usc1-2")[0].up = false;
    let r = run(&w, false);
    let t = result(&r, AWS_GCP, Check::Tunnels, None);
    assert_eq!(t.verdict, Verdict::Warn);
    assert!(t.summary.contains("3/4 tunnels up (degraded)"));
    assert!(r.passed());
    let strict = run(&w, true);
    assert_eq!(
        result(&strict, AWS_GCP, Check::Tunnels, None).verdict,
        Verdict::Fail
    );
    assert!(!strict.passed());
}

#[test]
fn drift_names_the_attribute_with_expected_and_actual_values() {
    let mut w = world();
    let a = "aws.vpn_gateway.aws-use1";
    let asn = w.state.resources[a].attributes["amazon_side_asn"].clone();
    let Value::Int(asn) = asn else { panic!() };
    for c in w.snap.clouds.values_mut() {
        if let Some(r) = c.resources.get_mut(a) {
            r.attrs
                .insert("amazon_side_asn".into(), (asn + 1).to_string());
            r.attrs.insert("type".into(), "ipsec.1".into());
        }
    }
    let r = run(&w, false);
    let p = result(&r, AWS_GCP, Check::Presence, None);
    assert_eq!(p.causes.len(), 1);
    assert_eq!(
        p.causes[0].expected.as_deref(),
        Some(asn.to_string().as_str())
    );
    assert_eq!(p.causes[0].actual, Some((asn + 1).to_string()));
}

#[test]
fn renderers_name_link_direction_and_cause_and_junit_has_a_case_per_link_and_check() {
    let mut w = world();
    remove_rule(&mut w, "az-eus", "prod-mesh-aws-use1--az-eus-allow-tcp");
    let r = run(&w, false);
    let text = crate::verify::render::human(&r);
    let row = text
        .lines()
        .find(|l| l.contains("aws-use1 → az-eus"))
        .unwrap();
    assert!(row.contains("FAILED") && row.contains("NSG rule"), "{text}");
    let back = text
        .lines()
        .find(|l| l.contains("az-eus → aws-use1"))
        .unwrap();
    assert!(back.contains(" ok"), "{text}");
    let j = crate::verify::render::json(&r, &[], 1);
    assert_eq!(j["ok"], false);
    assert_eq!(j["results"].as_array().unwrap().len(), 3 * 6);
    let x = crate::verify::render::junit(&r).unwrap();
    assert_eq!(x.matches("<testcase ").count(), 3 * 4);
    assert_eq!(x.matches("<failure").count(), 1);
}

/// `verify --cloud aws`: only AWS was read, GCP's runner has not built its side yet.
#[test]
fn one_clouds_view_judges_its_links_and_names_the_side_not_built_yet() {
    let mut w = world();
    w.snap.clouds.retain(|c, _| *c == Cloud::Aws);
    let gcp: Vec<String> = w
        .state
        .resources
        .iter()
        .filter(|(_, r)| r.cloud == Cloud::Gcp)
        .map(|(a, _)| a.clone())
        .collect();
    for a in &gcp {
        w.state.resources.remove(a);
    }
    let opts = Options {
        seen: Some([Cloud::Aws].into_iter().collect()),
        ..Default::default()
    };
    let r = judge(&w.plan, &w.state, &w.topo, &w.snap, &opts);
    // gcp–azure is not AWS's to judge; both links AWS takes part in are.
    assert_eq!(
        r.links.len(),
        2,
        "{:?}",
        r.links.iter().map(|l| &l.id).collect::<Vec<_>>()
    );
    assert!(r.links.iter().all(|l| l.clouds.contains(&Cloud::Aws)));
    let to_gcp = r
        .links
        .iter()
        .find(|l| l.clouds.contains(&Cloud::Gcp))
        .unwrap();
    assert_eq!(to_gcp.unread, vec![Cloud::Gcp]);
    let presence = result(&r, &to_gcp.id, Check::Presence, None);
    assert_eq!(presence.verdict, Verdict::Fail);
    let text = causes(presence);
    assert!(
        text.contains("not built yet: gcp's side (run the gcp runner)"),
        "{text}"
    );
    assert!(!r.passed());
    // The AWS–Azure link, both sides built and AWS's side read, passes from AWS's view.
    let to_azure = r
        .links
        .iter()
        .find(|l| l.clouds.contains(&Cloud::Azure))
        .unwrap();
    assert_eq!(to_azure.verdict(), Verdict::Pass, "{:#?}", to_azure.results);
    assert!(crate::verify::render::human(&r).contains("azure side not read"));
    assert_eq!(
        crate::verify::render::json(&r, &[], 1)["links"][0]["unread"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
