//! Unit tests of the planner: strategies, shared resources, references, allocations, diff,
//! warnings.

use super::resource::{Kind, Value};
use super::*;
use crate::state::{ResourceState, State};
use crate::topology::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

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

fn topo(networks: Vec<Network>, links: Vec<Link>) -> Topology {
    Topology {
        version: 1,
        name: "t".into(),
        networks,
        links,
    }
}

fn triangle() -> Topology {
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
            ResourceState {
                kind: r.kind,
                name: r.name.clone(),
                id: format!("id-{}", r.address),
                link: r.link.clone(),
                attributes: r.attributes.clone(),
                outputs: Default::default(),
            },
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

#[test]
fn diff_against_a_hand_made_state_creates_updates_replaces_and_deletes() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let mut s = applied(&p);
    // Gone from the cloud: must be created again.
    s.resources.remove("gcp.router.gcp1");
    // Updatable attribute changed: firewall sources.
    s.resources
        .get_mut("gcp.firewall.aws1--gcp1.gcp1")
        .unwrap()
        .attributes
        .insert("source_ranges".into(), Value::strs(["10.99.0.0/16"]));
    // Attribute that forces a new resource: the VGW's ASN.
    s.resources
        .get_mut("aws.vpn_gateway.aws1")
        .unwrap()
        .attributes
        .insert("amazon_side_asn".into(), Value::Int(65000));
    // A resource of a link no longer in the topology.
    let mut old = s.resources["azure.connection.aws1--az1"].clone();
    old.link = Some("aws1--old".into());
    s.resources.insert("azure.connection.aws1--old".into(), old);
    let tpl = Templates::embedded().unwrap();
    let p2 = plan(&t, &s, &tpl, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    let act = |a: &str| p2.changes.iter().find(|c| c.address == a).map(|c| c.action);
    assert_eq!(act("gcp.router.gcp1"), Some(Action::Create));
    assert_eq!(act("gcp.firewall.aws1--gcp1.gcp1"), Some(Action::Update));
    assert_eq!(act("aws.vpn_gateway.aws1"), Some(Action::Replace));
    assert_eq!(act("azure.connection.aws1--old"), Some(Action::Delete));
    assert_eq!(p2.changes.len(), 4);
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
