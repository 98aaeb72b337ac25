//! Unit tests of the planner: strategies, shared resources, references, allocations, diff,
//! warnings.

use super::resource::{Kind, Value};
use super::*;
use crate::state::{Allocations, ResourceState, State};
use crate::topology::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;

fn span() -> Span {
    Span { line: 1, col: 1 }
}

pub(crate) fn aws(name: &str, region: &str, cidr: &str) -> Network {
    Network {
        name: name.into(),
        cloud: Cloud::Aws,
        cidrs: vec![cidr.parse().unwrap()],
        asn: None,
        location: Location::Aws(AwsNetwork {
            region: region.into(),
            vpc_id: format!("vpc-{name}"),
            route_tables: None,
            security_groups: None,
        }),
        span: span(),
    }
}

pub(crate) fn gcp(name: &str, cidr: &str) -> Network {
    Network {
        name: name.into(),
        cloud: Cloud::Gcp,
        cidrs: vec![cidr.parse().unwrap()],
        asn: None,
        location: Location::Gcp(GcpNetwork {
            project: "acme".into(),
            region: "us-central1".into(),
            network: format!("{name}-vpc"),
        }),
        span: span(),
    }
}

pub(crate) fn azure(name: &str, cidr: &str, gw: &str) -> Network {
    Network {
        name: name.into(),
        cloud: Cloud::Azure,
        cidrs: vec![cidr.parse().unwrap()],
        asn: None,
        location: Location::Azure(AzureNetwork {
            subscription: "sub".into(),
            resource_group: "rg".into(),
            location: "eastus".into(),
            vnet: format!("{name}-vnet"),
            gateway_subnet: gw.parse().unwrap(),
            gateway_sku: "VpnGw1".into(),
            network_security_groups: None,
        }),
        span: span(),
    }
}

pub(crate) fn link(a: &str, b: &str, allow: Vec<Allow>) -> Link {
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    Link {
        a: a.into(),
        b: b.into(),
        allow,
        span: span(),
    }
}

pub(crate) fn topo(networks: Vec<Network>, links: Vec<Link>) -> Topology {
    Topology {
        version: 1,
        name: "t".into(),
        networks,
        links,
    }
}

pub(crate) fn triangle() -> Topology {
    topo(
        vec![
            aws("aws1", "us-east-1", "10.1.0.0/16"),
            gcp("gcp1", "10.2.0.0/16"),
            azure("az1", "10.3.0.0/16", "10.3.255.0/27"),
        ],
        vec![
            link("aws1", "gcp1", vec![]),
            link("aws1", "az1", vec![]),
            link("az1", "gcp1", vec![]),
        ],
    )
}

fn run(t: &Topology, state: &State) -> Plan {
    let tpl = Templates::embedded().unwrap();
    plan(t, state, &tpl, &mut ChaCha20Rng::seed_from_u64(7)).unwrap()
}

fn count(p: &Plan, kind: Kind) -> usize {
    p.resources.iter().filter(|r| r.kind == kind).count()
}

fn res<'a>(p: &'a Plan, addr: &str) -> &'a Resource {
    p.resources
        .iter()
        .find(|r| r.address == addr)
        .unwrap_or_else(|| panic!("no {addr}"))
}

#[test]
fn aws_gcp_link_builds_the_ha_vpn_recipe_with_four_bgp_tunnels() {
    let t = topo(
        vec![
            aws("aws1", "us-east-1", "10.1.0.0/16"),
            gcp("gcp1", "10.2.0.0/16"),
        ],
        vec![link("aws1", "gcp1", vec![])],
    );
    let p = run(&t, &State::empty());
    for (k, n) in [
        (Kind::AwsVpnGateway, 1),
        (Kind::AwsVpnGatewayAttachment, 1),
        (Kind::AwsCustomerGateway, 2),
        (Kind::AwsVpnConnection, 2),
        (Kind::AwsRoutePropagation, 1),
        (Kind::AwsSecurityGroupRule, 1),
        (Kind::GcpVpnGateway, 1),
        (Kind::GcpRouter, 1),
        (Kind::GcpExternalVpnGateway, 1),
        (Kind::GcpVpnTunnel, 4),
        (Kind::GcpRouterInterface, 4),
        (Kind::GcpRouterPeer, 4),
        (Kind::GcpFirewall, 1),
    ] {
        assert_eq!(count(&p, k), n, "{k}");
    }
    assert_eq!(p.resources.len(), 24);
    let l = &p.links[0];
    assert_eq!(l.strategy, Strategy::HaVpnBgp);
    assert_eq!(l.tunnels.len(), 4);
    assert!(l
        .tunnels
        .iter()
        .all(|t| t.local_asn.is_some() && t.peer_asn.is_some()));
    let conn = res(&p, "aws.vpn_connection.aws1--gcp1-0");
    assert_eq!(conn.attributes["static_routes_only"], Value::Bool(false));
}

#[test]
fn gcp_tunnels_map_to_aws_connection_tunnels_and_interfaces_as_in_the_interop_guide() {
    let t = topo(
        vec![
            aws("aws1", "us-east-1", "10.1.0.0/16"),
            gcp("gcp1", "10.2.0.0/16"),
        ],
        vec![link("aws1", "gcp1", vec![])],
    );
    let p = run(&t, &State::empty());
    let ext = res(&p, "gcp.external_vpn_gateway.aws1--gcp1");
    let Value::List(ifs) = &ext.attributes["interfaces"] else {
        panic!()
    };
    let expect = [
        ("aws.vpn_connection.aws1--gcp1-0", "tunnel1_outside_ip"),
        ("aws.vpn_connection.aws1--gcp1-0", "tunnel2_outside_ip"),
        ("aws.vpn_connection.aws1--gcp1-1", "tunnel1_outside_ip"),
        ("aws.vpn_connection.aws1--gcp1-1", "tunnel2_outside_ip"),
    ];
    for (i, (conn, out)) in expect.iter().enumerate() {
        let Value::Map(m) = &ifs[i] else { panic!() };
        assert_eq!(m["ip_address"], Value::r(conn, out));
    }
    for k in 0..4u8 {
        let tun = res(&p, &format!("gcp.vpn_tunnel.aws1--gcp1-{k}"));
        assert_eq!(
            tun.attributes["vpn_gateway_interface"],
            Value::Int(i64::from(k / 2))
        );
        assert_eq!(
            tun.attributes["peer_external_gateway_interface"],
            Value::Int(i64::from(k))
        );
        assert_eq!(
            tun.attributes["shared_secret"],
            Value::secret(&format!("aws1--gcp1/{k}"))
        );
    }
    // AWS CGW j carries GCP HA interface j's IP and the Cloud Router's ASN.
    let cgw = res(&p, "aws.customer_gateway.us-east-1.gcp1-if1");
    assert_eq!(
        cgw.attributes["ip_address"],
        Value::r("gcp.vpn_gateway.gcp1", "interface1_ip")
    );
    assert_eq!(
        cgw.attributes["bgp_asn"],
        Value::Int(i64::from(p.allocations.asns["gcp1"]))
    );
}

#[test]
fn router_peers_use_the_two_hosts_of_the_tunnel_range_and_the_vgw_asn() {
    let t = topo(
        vec![
            aws("aws1", "us-east-1", "10.1.0.0/16"),
            gcp("gcp1", "10.2.0.0/16"),
        ],
        vec![link("aws1", "gcp1", vec![])],
    );
    let p = run(&t, &State::empty());
    for k in 0..4u8 {
        let inside = p.allocations.links["aws1--gcp1"].tunnels[usize::from(k)]
            .inside_cidr
            .unwrap();
        let base = u32::from(inside.network());
        let peer = res(&p, &format!("gcp.router_peer.aws1--gcp1-{k}"));
        assert_eq!(
            peer.attributes["ip_address"],
            Value::from(std::net::Ipv4Addr::from(base + 2).to_string())
        );
        assert_eq!(
            peer.attributes["peer_ip_address"],
            Value::from(std::net::Ipv4Addr::from(base + 1).to_string())
        );
        assert_eq!(
            peer.attributes["peer_asn"],
            Value::Int(i64::from(p.allocations.asns["aws1"]))
        );
        let Value::List(tunnels) =
            &res(&p, &format!("aws.vpn_connection.aws1--gcp1-{}", k / 2)).attributes["tunnels"]
        else {
            panic!()
        };
        let Value::Map(opt) = &tunnels[usize::from(k % 2)] else {
            panic!()
        };
        assert_eq!(opt["inside_cidr"], Value::from(inside.to_string()));
    }
}

#[test]
fn shared_resources_are_created_once_and_referenced_by_every_link() {
    let t = topo(
        vec![
            aws("aws1", "us-east-1", "10.1.0.0/16"),
            aws("aws2", "us-east-1", "10.4.0.0/16"),
            gcp("gcp1", "10.2.0.0/16"),
            gcp("gcp2", "10.5.0.0/16"),
            azure("az1", "10.3.0.0/16", "10.3.255.0/27"),
        ],
        vec![
            link("aws1", "gcp1", vec![]),
            link("aws1", "gcp2", vec![]),
            link("aws2", "gcp1", vec![]),
            link("aws1", "az1", vec![]),
            link("aws2", "az1", vec![]),
            link("gcp1", "az1", vec![]),
            link("gcp2", "az1", vec![]),
        ],
    );
    let p = run(&t, &State::empty());
    assert_eq!(count(&p, Kind::AwsVpnGateway), 2);
    assert_eq!(count(&p, Kind::GcpVpnGateway), 2);
    assert_eq!(count(&p, Kind::GcpRouter), 2);
    assert_eq!(count(&p, Kind::AzureVpnGateway), 1);
    assert_eq!(count(&p, Kind::AzurePublicIp), 1);
    assert_eq!(count(&p, Kind::AzureSubnet), 1);
    assert_eq!(count(&p, Kind::GcpTargetVpnGateway), 2);
    assert_eq!(count(&p, Kind::GcpAddress), 2);
    assert_eq!(count(&p, Kind::GcpForwardingRule), 6);
    // Same region: aws1 and aws2 share the CGWs for gcp1's two interfaces and for az1.
    assert_eq!(count(&p, Kind::AwsCustomerGateway), 2 + 2 + 1);
    let users = p
        .resources
        .iter()
        .filter(|r| {
            r.depends_on
                .contains(&"aws.customer_gateway.us-east-1.gcp1-if0".to_string())
        })
        .count();
    assert_eq!(users, 2, "both AWS VPCs' connections use the shared CGW");
}

#[test]
fn aws_azure_link_is_static_with_tunnel_two_standby_and_one_lng() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let l = p.links.iter().find(|l| l.id == "aws1--az1").unwrap();
    assert_eq!(l.strategy, Strategy::ClassicVpnStatic);
    assert_eq!(l.routing, "static");
    assert_eq!(l.tunnels.len(), 2);
    assert!(!l.tunnels[0].standby && l.tunnels[1].standby);
    assert!(l
        .tunnels
        .iter()
        .all(|t| t.inside_cidr.is_some() && t.local_asn.is_none()));
    let conn = res(&p, "aws.vpn_connection.aws1--az1");
    assert_eq!(conn.attributes["static_routes_only"], Value::Bool(true));
    let lng = res(&p, "azure.local_network_gateway.aws1--az1");
    assert_eq!(
        lng.attributes["gateway_ip_address"],
        Value::r("aws.vpn_connection.aws1--az1", "tunnel1_outside_ip")
    );
    assert_eq!(
        lng.attributes["address_prefixes"],
        Value::strs(["10.1.0.0/16"])
    );
    assert_eq!(
        res(&p, "azure.connection.aws1--az1").attributes["shared_key"],
        Value::secret("aws1--az1/0")
    );
    let route = res(&p, "aws.vpn_connection_route.aws1--az1-0");
    assert_eq!(
        route.attributes["destination_cidr_block"],
        Value::from("10.3.0.0/16")
    );
    assert_eq!(
        res(&p, "aws.customer_gateway.us-east-1.az1").attributes["ip_address"],
        Value::r("azure.public_ip.az1", "ip_address")
    );
}

#[test]
fn classic_gcp_tunnel_waits_for_the_three_forwarding_rules() {
    let p = run(&triangle(), &State::empty());
    let tun = res(&p, "gcp.vpn_tunnel.az1--gcp1");
    for suffix in ["esp", "udp500", "udp4500"] {
        assert!(tun
            .depends_on
            .contains(&format!("gcp.forwarding_rule.gcp1-{suffix}")));
    }
    assert_eq!(
        tun.attributes["peer_ip"],
        Value::r("azure.public_ip.az1", "ip_address")
    );
    assert_eq!(
        res(&p, "gcp.route.az1--gcp1-0").attributes["dest_range"],
        Value::from("10.3.0.0/16")
    );
    let l = p.links.iter().find(|l| l.id == "az1--gcp1").unwrap();
    assert_eq!(l.tunnels.len(), 1);
    assert_eq!(l.tunnels[0].inside_cidr, None);
}

#[test]
fn narrow_allow_lists_get_allows_then_a_deny_on_azure_and_rules_on_every_side() {
    let mut t = triangle();
    t.links[1].allow = vec![
        Allow::Tcp { from: 443, to: 443 },
        Allow::Tcp {
            from: 5432,
            to: 5432,
        },
        Allow::Icmp,
    ];
    let p = run(&t, &State::empty());
    let rules: Vec<&Resource> = p
        .resources
        .iter()
        .filter(|r| r.kind == Kind::AzureNsgRule && r.link.as_deref() == Some("aws1--az1"))
        .collect();
    let prio = |label: &str| {
        let r = rules.iter().find(|r| r.address.ends_with(label)).unwrap();
        let Value::Int(p) = r.attributes["priority"] else {
            panic!()
        };
        (p, r)
    };
    let (tcp, tcp_rule) = prio("allow-tcp");
    let (icmp, _) = prio("allow-icmp");
    let (deny, deny_rule) = prio("deny");
    assert!(tcp < deny && icmp < deny);
    assert_eq!(
        tcp_rule.attributes["destination_port_ranges"],
        Value::strs(["443", "5432"])
    );
    assert_eq!(deny_rule.attributes["access"], Value::from("Deny"));
    assert_eq!(
        deny_rule.attributes["source_address_prefixes"],
        Value::strs(["10.1.0.0/16"])
    );
    // The unrestricted link gets one allow and no deny.
    let open: Vec<&Resource> = p
        .resources
        .iter()
        .filter(|r| r.kind == Kind::AzureNsgRule && r.link.as_deref() == Some("az1--gcp1"))
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].attributes["access"], Value::from("Allow"));
    let sg = res(&p, "aws.security_group_rule.aws1--az1.aws1");
    let Value::List(perms) = &sg.attributes["permissions"] else {
        panic!()
    };
    assert_eq!(perms.len(), 3);
    assert_eq!(sg.attributes["source_cidrs"], Value::strs(["10.3.0.0/16"]));
}

#[test]
fn same_cloud_links_other_than_azure_are_refused_with_the_pair_named() {
    let t = topo(
        vec![
            aws("aws1", "us-east-1", "10.1.0.0/16"),
            aws("aws2", "us-east-1", "10.4.0.0/16"),
        ],
        vec![link("aws1", "aws2", vec![])],
    );
    let tpl = Templates::embedded().unwrap();
    let e = plan(
        &t,
        &State::empty(),
        &tpl,
        &mut ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap_err();
    assert!(e.to_string().contains("aws1--aws2"), "{e}");
}

#[test]
fn every_planned_name_satisfies_gcp_naming_and_the_graph_is_acyclic() {
    let p = run(&triangle(), &State::empty());
    for r in &p.resources {
        assert!(
            r.name == "GatewaySubnet" || names::is_valid(&r.name),
            "{} has name {}",
            r.address,
            r.name
        );
    }
    assert_eq!(p.order.len(), p.resources.len());
    let pos: std::collections::HashMap<&str, usize> = p
        .order
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    for r in &p.resources {
        for d in &r.depends_on {
            assert!(
                pos[d.as_str()] < pos[r.address.as_str()],
                "{} before {d}",
                r.address
            );
        }
    }
}

#[test]
fn critical_path_of_a_triangle_runs_through_the_azure_gateway() {
    let p = run(&triangle(), &State::empty());
    let (_, path) = p
        .graph()
        .unwrap()
        .critical_path(|r| match r.kind {
            Kind::AzureVpnGateway => 2100,
            Kind::AwsVpnConnection => 300,
            _ => 30,
        })
        .unwrap();
    assert!(
        path.contains(&"azure.vpn_gateway.az1".to_string()),
        "{path:?}"
    );
}

#[test]
fn same_input_and_seed_give_identical_plans_and_keys() {
    let a = run(&triangle(), &State::empty());
    let b = run(&triangle(), &State::empty());
    assert_eq!(render::json_text(&a), render::json_text(&b));
    assert_eq!(a.secrets, b.secrets);
    assert_eq!(a.resources, b.resources);
}

#[test]
fn every_tunnel_gets_a_valid_psk_that_no_rendering_shows() {
    let t = triangle();
    let p = run(&t, &State::empty());
    // 4 (aws-gcp) + 2 (aws-azure) + 1 (gcp-azure)
    assert_eq!(p.secrets.len(), 7);
    let human = render::human(&p, &t);
    let json = render::json_text(&p);
    let debug = format!("{p:?}");
    for s in p.secrets.values() {
        assert!(alloc::is_valid_psk(s.expose()));
        assert!(!human.contains(s.expose()));
        assert!(!json.contains(s.expose()));
        assert!(!debug.contains(s.expose()));
    }
}

#[test]
fn user_fixed_asns_are_kept_and_linked_networks_never_share_one() {
    let mut t = triangle();
    t.networks[0].asn = Some(64600);
    let p = run(&t, &State::empty());
    assert_eq!(p.allocations.asns["aws1"], 64600);
    for l in &t.links {
        assert_ne!(p.allocations.asns[&l.a], p.allocations.asns[&l.b]);
    }
    for a in p.allocations.asns.values() {
        assert!(!alloc::asn_reserved(*a));
    }
}

#[test]
fn linked_networks_with_the_same_fixed_asn_are_an_error() {
    let mut t = triangle();
    t.networks[0].asn = Some(64600);
    t.networks[1].asn = Some(64600);
    let tpl = Templates::embedded().unwrap();
    let e = plan(
        &t,
        &State::empty(),
        &tpl,
        &mut ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap_err();
    assert!(e.to_string().contains("64600"), "{e}");
}

/// A state as apply would leave it after applying `p`.
pub(crate) fn applied(p: &Plan) -> State {
    let mut s = State::empty();
    s.lineage = "00000000-0000-4000-8000-000000000000".into();
    s.serial = 1;
    s.allocations = p.allocations.clone();
    s.secrets = p.secrets.clone();
    for r in &p.resources {
        s.resources.insert(
            r.address.clone(),
            ResourceState::created(r, format!("id-{}", r.address)),
        );
    }
    s
}

#[test]
fn an_applied_plan_has_no_changes_and_keeps_its_keys() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let s = applied(&p);
    let tpl = Templates::embedded().unwrap();
    let again = plan(&t, &s, &tpl, &mut ChaCha20Rng::seed_from_u64(99)).unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(again.secrets, p.secrets);
}

/// Edits a recorded triangle state so that the next plan has one change of each action:
/// a create, an update, a replace and a delete.
pub(crate) fn edit_for_every_action(s: &mut State) {
    // Gone from the cloud (nothing references it): must be created again.
    s.resources.remove("gcp.firewall.az1--gcp1.gcp1");
    // Updatable attribute changed: firewall sources.
    s.resources
        .get_mut("gcp.firewall.aws1--gcp1.gcp1")
        .unwrap()
        .attributes
        .insert("source_ranges".into(), Value::strs(["10.99.0.0/16"]));
    // Attribute that forces a new resource: a static route's destination.
    s.resources
        .get_mut("aws.vpn_connection_route.aws1--az1-0")
        .unwrap()
        .attributes
        .insert("destination_cidr_block".into(), Value::from("10.99.0.0/16"));
    // A resource of a link no longer in the topology.
    let mut old = s.resources["azure.connection.aws1--az1"].clone();
    old.link = Some("aws1--old".into());
    s.resources.insert("azure.connection.aws1--old".into(), old);
}

#[test]
fn diff_against_a_hand_made_state_creates_updates_replaces_and_deletes() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let mut s = applied(&p);
    edit_for_every_action(&mut s);
    let p2 = run(&t, &s);
    let act = |a: &str| p2.changes.iter().find(|c| c.address == a).map(|c| c.action);
    assert_eq!(act("gcp.firewall.az1--gcp1.gcp1"), Some(Action::Create));
    assert_eq!(act("gcp.firewall.aws1--gcp1.gcp1"), Some(Action::Update));
    assert_eq!(
        act("aws.vpn_connection_route.aws1--az1-0"),
        Some(Action::Replace)
    );
    assert_eq!(act("azure.connection.aws1--old"), Some(Action::Delete));
    assert_eq!(p2.changes.len(), 4, "{:#?}", p2.changes);
    assert_eq!(
        p2.summary(),
        Summary {
            create: 2,
            update: 1,
            delete: 2
        }
    );
    let human = render::human(&p2, &t);
    assert!(
        human.contains("Plan: 2 to create, 1 to change, 2 to destroy."),
        "{human}"
    );
    assert!(
        human.contains("Link aws1--old (no longer in the topology)"),
        "{human}"
    );
}

fn actions(p: &Plan) -> BTreeMap<&str, (Action, &[String])> {
    p.changes
        .iter()
        .map(|c| (c.address.as_str(), (c.action, c.attributes.as_slice())))
        .collect()
}

#[test]
fn a_replaced_vgw_replaces_or_updates_everything_that_references_it_transitively() {
    let t = triangle();
    let s = applied(&run(&t, &State::empty()));
    let mut t2 = t.clone();
    t2.networks[0].asn = Some(64999);
    let p = run(&t2, &s);
    let a = actions(&p);
    let replaced = |addr: &str, attr: &str| {
        let (act, attrs) = a
            .get(addr)
            .unwrap_or_else(|| panic!("no change for {addr}"));
        assert_eq!(*act, Action::Replace, "{addr}");
        assert!(attrs.contains(&attr.to_string()), "{addr}: {attrs:?}");
    };
    replaced("aws.vpn_gateway.aws1", "amazon_side_asn");
    replaced("aws.vpn_gateway_attachment.aws1", "vpn_gateway_id");
    replaced("aws.route_propagation.aws1", "vpn_gateway_id");
    for c in ["aws1--gcp1-0", "aws1--gcp1-1", "aws1--az1"] {
        replaced(&format!("aws.vpn_connection.{c}"), "vpn_gateway_id");
    }
    replaced("aws.vpn_connection_route.aws1--az1-0", "vpn_connection_id");
    // New AWS outside IPs: GCP's external gateway cannot be edited, Azure's LNG can.
    replaced("gcp.external_vpn_gateway.aws1--gcp1", "interfaces");
    for k in 0..4 {
        replaced(
            &format!("gcp.vpn_tunnel.aws1--gcp1-{k}"),
            "peer_external_gateway",
        );
        replaced(
            &format!("gcp.router_interface.aws1--gcp1-{k}"),
            "linked_vpn_tunnel",
        );
        replaced(&format!("gcp.router_peer.aws1--gcp1-{k}"), "interface");
        assert!(a[format!("gcp.router_peer.aws1--gcp1-{k}").as_str()]
            .1
            .contains(&"peer_asn".to_string()));
    }
    assert_eq!(
        a.get("azure.local_network_gateway.aws1--az1"),
        Some(&(Action::Update, &["gateway_ip_address".to_string()][..]))
    );
    // Nothing else: the LNG keeps its id, the CGWs name GCP's and Azure's addresses, the
    // GCP-Azure link and the firewall rules reference nothing that changes.
    assert_eq!(a.len(), 3 + 3 + 1 + 1 + 12 + 1, "{a:#?}");
    let human = render::human(&p, &t2);
    assert!(
        human.contains("-/+ aws.vpn_gateway_attachment.aws1 (t-aws1-vgw): vpn_gateway_id"),
        "{human}"
    );
}

#[test]
fn a_resource_that_must_be_created_again_replaces_what_references_it() {
    let t = triangle();
    let mut s = applied(&run(&t, &State::empty()));
    s.resources.remove("gcp.router.gcp1");
    let a_plan = run(&t, &s);
    let a = actions(&a_plan);
    assert_eq!(a["gcp.router.gcp1"].0, Action::Create);
    for k in 0..4 {
        for kind in ["vpn_tunnel", "router_interface", "router_peer"] {
            let (act, attrs) = a[format!("gcp.{kind}.aws1--gcp1-{k}").as_str()];
            assert_eq!(act, Action::Replace, "{kind} {k}");
            assert!(attrs.contains(&"router".to_string()), "{kind}: {attrs:?}");
        }
    }
}

#[test]
fn a_recreated_attachment_enables_route_propagation_again() {
    let t = triangle();
    let mut s = applied(&run(&t, &State::empty()));
    s.resources
        .get_mut("aws.vpn_gateway_attachment.aws1")
        .unwrap()
        .attributes
        .insert("vpc_id".into(), Value::from("vpc-other"));
    let p = run(&t, &s);
    let a = actions(&p);
    assert_eq!(a["aws.vpn_gateway_attachment.aws1"].0, Action::Replace);
    let (act, attrs) = a["aws.route_propagation.aws1"];
    assert_eq!(act, Action::Replace);
    assert_eq!(
        attrs,
        &["depends_on aws.vpn_gateway_attachment.aws1".to_string()][..]
    );
    // Ordering-only dependents that name neither keep working.
    assert!(!a.contains_key("aws.vpn_connection.aws1--az1"), "{a:#?}");
    assert_eq!(a.len(), 2, "{a:#?}");
}

#[test]
fn a_region_or_network_change_is_a_replace() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let mut s = applied(&p);
    s.resources
        .get_mut("aws.security_group_rule.aws1--gcp1.aws1")
        .unwrap()
        .region = "eu-west-1".into();
    s.resources
        .get_mut("gcp.firewall.az1--gcp1.gcp1")
        .unwrap()
        .network = Some("gcp-old".into());
    let a_plan = run(&t, &s);
    let a = actions(&a_plan);
    assert_eq!(
        a["aws.security_group_rule.aws1--gcp1.aws1"],
        (Action::Replace, &["region".to_string()][..])
    );
    assert_eq!(
        a["gcp.firewall.az1--gcp1.gcp1"],
        (Action::Replace, &["network".to_string()][..])
    );
    assert_eq!(a.len(), 2);

    // Moving a VPC to another region in the topology replaces its VGW and all that hangs
    // from it; the customer gateways are regional, so new ones are created and the old deleted.
    let mut t2 = t.clone();
    let Location::Aws(loc) = &mut t2.networks[0].location else {
        panic!()
    };
    loc.region = "us-west-2".into();
    let p2 = run(&t2, &s);
    let a2 = actions(&p2);
    let (act, attrs) = a2["aws.vpn_gateway.aws1"];
    assert_eq!((act, attrs), (Action::Replace, &["region".to_string()][..]));
    assert_eq!(
        a2["aws.customer_gateway.us-west-2.gcp1-if0"].0,
        Action::Create
    );
    assert_eq!(
        a2["aws.customer_gateway.us-east-1.gcp1-if0"].0,
        Action::Delete
    );
    assert_eq!(a2["aws.vpn_connection.aws1--gcp1-0"].0, Action::Replace);
}

#[test]
fn deleted_resources_are_shown_with_their_recorded_network_and_region() {
    let t = triangle();
    let s = applied(&run(&t, &State::empty()));
    let mut t2 = t.clone();
    t2.networks.retain(|n| n.name != "gcp1");
    t2.links.retain(|l| l.a != "gcp1" && l.b != "gcp1");
    let p = run(&t2, &s);
    let gw = p
        .changes
        .iter()
        .find(|c| c.address == "gcp.vpn_gateway.gcp1")
        .unwrap();
    assert_eq!(gw.action, Action::Delete);
    assert_eq!(gw.network.as_deref(), Some("gcp1"));
    assert_eq!(gw.region, "us-central1");
    let cgw = p
        .changes
        .iter()
        .find(|c| c.address == "aws.customer_gateway.us-east-1.gcp1-if0")
        .unwrap();
    assert_eq!(
        (cgw.network.as_deref(), cgw.region.as_str()),
        (None, "us-east-1")
    );
    let human = render::human(&p, &t2);
    assert!(!human.contains('?'), "{human}");
    assert!(
        human.contains(
            "Network gcp1 (no longer in the topology; gcp, us-central1), shared by its links:"
        ),
        "{human}"
    );
    assert!(
        human.contains("Region aws us-east-1, shared by its networks:"),
        "{human}"
    );
    let json = render::json(&p);
    let j = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "gcp.router.gcp1")
        .unwrap();
    assert_eq!(j["network"], "gcp1");
    assert_eq!(j["region"], "us-central1");
}

/// Two network names whose ASN probes start at the same place.
fn colliding_names() -> (String, String) {
    let pool = u64::from(alloc::ASN_LAST - alloc::ASN_FIRST + 1);
    let mut seen: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    for i in 0.. {
        let name = format!("n{i}");
        let slot = alloc::hash64(&name) % pool;
        if let Some(other) = seen.insert(slot, name.clone()) {
            return (other, name);
        }
    }
    unreachable!()
}

#[test]
fn unlinked_networks_never_share_an_asn_so_linking_them_later_keeps_both_and_plans() {
    let (x, y) = colliding_names();
    let t = topo(
        vec![
            aws(&x, "us-east-1", "10.1.0.0/16"),
            gcp(&y, "10.2.0.0/16"),
            azure("zz", "10.3.0.0/16", "10.3.255.0/27"),
        ],
        vec![link(&x, "zz", vec![])],
    );
    let p = run(&t, &State::empty());
    assert_ne!(p.allocations.asns[&x], p.allocations.asns[&y]);
    let s = applied(&p);
    let mut t2 = t.clone();
    t2.links.push(link(&x, &y, vec![]));
    let p2 = run(&t2, &s);
    assert_eq!(p2.allocations.asns, p.allocations.asns);
    assert!(
        p2.changes.iter().all(|c| c.action == Action::Create),
        "{:#?}",
        p2.changes
    );
}

#[test]
fn allocated_asns_avoid_every_asn_recorded_in_state() {
    let t = topo(vec![gcp("g", "10.2.0.0/16")], vec![]);
    let fresh = run(&t, &State::empty()).allocations.asns["g"];
    // The state holds that ASN for a network that left the topology: g must not take it.
    let mut s = State::empty();
    s.lineage = "l".into();
    s.allocations.asns.insert("gone".into(), fresh);
    let p = run(&t, &s);
    assert_ne!(p.allocations.asns["g"], fresh);
    assert!(!alloc::asn_reserved(p.allocations.asns["g"]));
}

#[test]
fn a_user_fixed_asn_equal_to_a_linked_networks_recorded_one_is_an_error_at_its_line() {
    let t = triangle();
    let s = applied(&run(&t, &State::empty()));
    let taken = s.allocations.asns["aws1"];
    let mut t2 = t.clone();
    t2.networks[1].asn = Some(taken);
    t2.networks[1].span = Span { line: 12, col: 5 };
    let tpl = Templates::embedded().unwrap();
    let e = plan(&t2, &s, &tpl, &mut ChaCha20Rng::seed_from_u64(1)).unwrap_err();
    assert_eq!(e.position(), Some((12, 5)));
    let m = e.to_string();
    assert!(
        m.contains("gcp1") && m.contains("aws1") && m.contains(&taken.to_string()),
        "{m}"
    );
    assert!(m.contains("recorded in state"), "{m}");
}

#[test]
fn linked_networks_sharing_a_recorded_asn_get_the_later_one_reallocated() {
    let t = triangle();
    let mut s = applied(&run(&t, &State::empty()));
    s.allocations.asns.insert("aws1".into(), 64600);
    s.allocations.asns.insert("gcp1".into(), 64600);
    let p = run(&t, &s);
    assert_eq!(p.allocations.asns["aws1"], 64600);
    assert_ne!(p.allocations.asns["gcp1"], 64600);
    for l in &t.links {
        assert_ne!(p.allocations.asns[&l.a], p.allocations.asns[&l.b]);
    }
}

#[test]
fn asns_continue_in_the_32_bit_private_range_once_the_16_bit_one_is_full() {
    let nets: Vec<Network> = (0..1100)
        .map(|i| azure(&format!("z{i}"), "10.3.0.0/16", "10.3.255.0/27"))
        .collect();
    let t = topo(nets, vec![]);
    let a = alloc::allocate(&t, &[], &Allocations::default(), 1000, 3999, 4).unwrap();
    let all: std::collections::HashSet<u32> = a.asns.values().copied().collect();
    assert_eq!(all.len(), 1100, "every network its own ASN");
    let small = all
        .iter()
        .filter(|x| (alloc::ASN_FIRST..=alloc::ASN_LAST).contains(*x))
        .count();
    assert_eq!(small, 1018, "the 16-bit range minus Azure's 5 reserved");
    assert!(all
        .iter()
        .all(|x| *x <= alloc::ASN_LAST || *x >= alloc::ASN32_FIRST));
}

#[test]
fn a_32_bit_asn_reaches_an_aws_customer_gateway_as_bgp_asn_extended() {
    let mut g = gcp("gcp1", "10.2.0.0/16");
    g.asn = Some(4_200_000_001);
    // The boundary: EC2's BgpAsn still takes 2147483647.
    let mut g2 = gcp("gcp2", "10.5.0.0/16");
    g2.asn = Some(2_147_483_647);
    let t = topo(
        vec![aws("aws1", "us-east-1", "10.1.0.0/16"), g, g2],
        vec![link("aws1", "gcp1", vec![]), link("aws1", "gcp2", vec![])],
    );
    let p = run(&t, &State::empty());
    let big = res(&p, "aws.customer_gateway.us-east-1.gcp1-if0");
    assert_eq!(
        big.attributes.get("bgp_asn_extended"),
        Some(&Value::Int(4_200_000_001))
    );
    assert!(!big.attributes.contains_key("bgp_asn"));
    let edge = res(&p, "aws.customer_gateway.us-east-1.gcp2-if0");
    assert_eq!(
        edge.attributes.get("bgp_asn"),
        Some(&Value::Int(2_147_483_647))
    );
    assert!(!edge.attributes.contains_key("bgp_asn_extended"));
}

#[test]
fn exceeding_default_quotas_warns_and_names_the_quota() {
    let mut nets = vec![aws("hub", "us-east-1", "10.0.0.0/16")];
    let mut links = Vec::new();
    for i in 0..6 {
        nets.push(gcp(&format!("g{i}"), &format!("10.{}.0.0/16", i + 1)));
        links.push(link("hub", &format!("g{i}"), vec![]));
    }
    let p = run(&topo(nets, links), &State::empty());
    // 6 links x 2 connections = 12 > 10 per VGW.
    let w: Vec<String> = p.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter().any(
            |w| w.contains("Site-to-Site VPN connections per virtual private gateway")
                && w.contains("12")
        ),
        "{w:?}"
    );
    assert_eq!(p.warnings.len(), 1, "{w:?}");
}

#[test]
fn recorded_allocations_take_precedence_over_fresh_ones() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let mut s = State::empty();
    s.lineage = "x".into();
    s.allocations = p.allocations.clone();
    let moved: ipnet::Ipv4Net = "169.254.200.8/30".parse().unwrap();
    s.allocations.links.get_mut("aws1--gcp1").unwrap().tunnels[2].inside_cidr = Some(moved);
    s.allocations.asns.insert("gcp1".into(), 65001);
    let p2 = run(&t, &s);
    assert_eq!(
        p2.allocations.links["aws1--gcp1"].tunnels[2].inside_cidr,
        Some(moved)
    );
    assert_eq!(p2.allocations.asns["gcp1"], 65001);
}

#[test]
fn azure_to_azure_links_get_an_lng_and_connection_on_each_side_with_one_key() {
    let t = topo(
        vec![
            azure("az1", "10.3.0.0/16", "10.3.255.0/27"),
            azure("az2", "10.4.0.0/16", "10.4.255.0/27"),
        ],
        vec![link("az1", "az2", vec![])],
    );
    let p = run(&t, &State::empty());
    assert_eq!(count(&p, Kind::AzureLocalNetworkGateway), 2);
    assert_eq!(count(&p, Kind::AzureConnection), 2);
    assert_eq!(
        res(&p, "azure.local_network_gateway.az1--az2.az1").attributes["gateway_ip_address"],
        Value::r("azure.public_ip.az2", "ip_address")
    );
    assert_eq!(p.secrets.len(), 1);
}

/// The labels of a dot text, unescaped as Graphviz reads them (`\"`, `\\`, and `\n` = line
/// break).
fn dot_labels(dot: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = dot;
    while let Some(i) = rest.find("label=\"") {
        let mut label = String::new();
        let mut chars = rest[i + 7..].char_indices();
        let mut end = 0;
        while let Some((k, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => label.push('\n'),
                    Some((_, other)) => label.push(other),
                    None => break,
                },
                '"' => {
                    end = i + 7 + k + 1;
                    break;
                }
                c => label.push(c),
            }
        }
        out.push(label);
        rest = &rest[end..];
    }
    out
}

#[test]
fn dot_labels_break_lines_once_and_escape_only_the_parts() {
    let mut t = triangle();
    t.networks[0].name = "aws\"1\\x".into();
    t.links.retain(|l| l.a != "aws1" && l.b != "aws1");
    let tpl = Templates::embedded().unwrap();
    let labels = dot_labels(&render::dot(&t, &tpl));
    assert!(
        labels.contains(&"aws\"1\\x\nus-east-1 10.1.0.0/16".to_string()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"gcp1\nus-central1 10.2.0.0/16".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"classic-vpn-static, 1 tunnel".to_string()));
    // No label shows a literal backslash-n.
    assert!(labels.iter().all(|l| !l.contains("\\n")), "{labels:?}");
}

#[test]
fn mermaid_ids_of_networks_never_collide_with_cloud_subgraphs_or_keywords() {
    let t = topo(
        vec![
            aws("aws", "us-east-1", "10.1.0.0/16"),
            gcp("gcp", "10.2.0.0/16"),
            azure("azure", "10.3.0.0/16", "10.3.255.0/27"),
            azure("end", "10.4.0.0/16", "10.4.255.0/27"),
        ],
        vec![
            link("aws", "gcp", vec![]),
            link("aws", "azure", vec![]),
            link("azure", "end", vec![]),
        ],
    );
    let tpl = Templates::embedded().unwrap();
    let m = render::mermaid(&t, &tpl);
    let subgraphs: Vec<&str> = m
        .lines()
        .filter_map(|l| l.trim().strip_prefix("subgraph "))
        .map(|l| l.split('[').next().unwrap())
        .collect();
    assert_eq!(subgraphs, ["cloud_aws", "cloud_gcp", "cloud_azure"]);
    let nodes: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("    ") && l.contains("[\""))
        .map(|l| l.trim().split('[').next().unwrap())
        .collect();
    assert_eq!(nodes, ["net_aws", "net_gcp", "net_azure", "net_end"]);
    for n in &nodes {
        assert!(!subgraphs.contains(n));
    }
    assert!(
        m.contains("  net_azure ---|\"classic-vpn-static, 1 tunnel\"| net_end\n"),
        "{m}"
    );
    // Every label is quoted; "end" only closes subgraphs.
    assert!(
        m.contains("    net_end[\"end<br/>eastus 10.4.0.0/16\"]"),
        "{m}"
    );
    assert_eq!(m.lines().filter(|l| l.trim() == "end").count(), 3);
}

#[test]
fn aws_rules_go_to_every_security_group_unless_the_topology_lists_some() {
    let mut t = topo(
        vec![
            aws("aws1", "us-east-1", "10.1.0.0/16"),
            gcp("gcp1", "10.2.0.0/16"),
        ],
        vec![link("aws1", "gcp1", vec![])],
    );
    let addr = "aws.security_group_rule.aws1--gcp1.aws1";
    let p = run(&t, &State::empty());
    assert_eq!(
        res(&p, addr).attributes["security_groups"],
        Value::from("all")
    );
    if let Location::Aws(a) = &mut t.networks[0].location {
        a.security_groups = Some(vec!["sg-0a1b2c3d".into()]);
    }
    let p = run(&t, &State::empty());
    assert_eq!(
        res(&p, addr).attributes["security_groups"],
        Value::strs(&["sg-0a1b2c3d".to_string()])
    );
}
