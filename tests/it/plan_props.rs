//! Property tests of allocation: deterministic, stable under adding and removing networks and
//! links (with the allocations of a previous apply recorded in state), unique per gateway /
//! router / NSG, and never a range or ASN a cloud reserves.

use peerctl::cloud::Cloud;
use peerctl::plan::alloc::{asn_reserved, inside_cidr_reserved, ASN_FIRST, ASN_LAST};
use peerctl::plan::templates::Templates;
use peerctl::plan::{plan, render, Plan};
use peerctl::state::{ResourceState, State};
use peerctl::topology::*;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::HashSet;

fn span() -> Span {
    Span { line: 1, col: 1 }
}

fn network(i: usize, cloud: Cloud) -> Network {
    let name = format!("n{i:02}-{}", cloud.as_str());
    let cidr = format!("10.{i}.0.0/16").parse().unwrap();
    let location = match cloud {
        Cloud::Aws => Location::Aws(AwsNetwork {
            region: ["us-east-1", "eu-west-1"][i % 2].into(),
            vpc_id: format!("vpc-{i}"),
            route_tables: None,
            security_groups: None,
        }),
        Cloud::Gcp => Location::Gcp(GcpNetwork {
            project: "p".into(),
            region: "us-central1".into(),
            network: format!("net{i}"),
        }),
        Cloud::Azure => Location::Azure(AzureNetwork {
            subscription: "s".into(),
            resource_group: "rg".into(),
            location: "eastus".into(),
            vnet: format!("vnet{i}"),
            gateway_subnet: format!("10.{i}.255.0/27").parse().unwrap(),
            gateway_sku: "VpnGw1".into(),
            network_security_groups: None,
        }),
    };
    Network {
        name,
        cloud,
        cidrs: vec![cidr],
        asn: None,
        location,
        span: span(),
    }
}

fn supported(a: Cloud, b: Cloud) -> bool {
    peerctl::plan::Strategy::for_pair(a, b).is_some()
}

/// A topology from a list of clouds and a set of candidate pairs (unsupported pairs dropped).
fn topology(clouds: &[Cloud], pairs: &[(usize, usize)]) -> Topology {
    let networks: Vec<Network> = clouds
        .iter()
        .enumerate()
        .map(|(i, c)| network(i, *c))
        .collect();
    let mut seen = HashSet::new();
    let mut links = Vec::new();
    for &(x, y) in pairs {
        let (x, y) = (x % clouds.len(), y % clouds.len());
        if x == y || !supported(clouds[x], clouds[y]) {
            continue;
        }
        let (a, b) = {
            let (a, b) = (&networks[x].name, &networks[y].name);
            if a < b {
                (a, b)
            } else {
                (b, a)
            }
        };
        if seen.insert((a.clone(), b.clone())) {
            links.push(Link {
                a: a.clone(),
                b: b.clone(),
                allow: vec![],
                span: span(),
            });
        }
    }
    Topology {
        version: 1,
        name: "prop".into(),
        networks,
        links,
    }
}

fn cloud() -> impl Strategy<Value = Cloud> {
    prop_oneof![Just(Cloud::Aws), Just(Cloud::Gcp), Just(Cloud::Azure)]
}

fn topo_strategy() -> impl Strategy<Value = Topology> {
    (
        prop::collection::vec(cloud(), 2..9),
        prop::collection::vec((0usize..9, 0usize..9), 1..16),
    )
        .prop_map(|(c, p)| topology(&c, &p))
}

fn run(t: &Topology, s: &State, seed: u64) -> Plan {
    let tpl = Templates::embedded().unwrap();
    plan(t, s, &tpl, &mut ChaCha20Rng::seed_from_u64(seed)).unwrap()
}

/// The state apply would leave after applying `p`.
fn applied(p: &Plan) -> State {
    let mut s = State::empty();
    s.lineage = "11111111-1111-4111-8111-111111111111".into();
    s.serial = 3;
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

fn assert_kept(before: &Plan, after: &Plan, t_after: &Topology) {
    for l in &t_after.links {
        if let Some(old) = before.allocations.links.get(&l.id()) {
            assert_eq!(
                after.allocations.links.get(&l.id()),
                Some(old),
                "link {}",
                l.id()
            );
            for k in 0..old.tunnels.len() {
                let key = format!("{}/{k}", l.id());
                if let Some(s) = before.secrets.get(&key) {
                    assert_eq!(after.secrets.get(&key), Some(s), "key of {key} changed");
                }
            }
        }
    }
    for n in &t_after.networks {
        if let Some(a) = before.allocations.asns.get(&n.name) {
            assert_eq!(after.allocations.asns.get(&n.name), Some(a), "{}", n.name);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn same_topology_and_seed_plan_byte_for_byte(t in topo_strategy()) {
        let a = run(&t, &State::empty(), 5);
        let b = run(&t, &State::empty(), 5);
        prop_assert_eq!(render::json_text(&a), render::json_text(&b));
        prop_assert_eq!(render::human(&a, &t), render::human(&b, &t));
        prop_assert_eq!(&a.resources, &b.resources);
        prop_assert_eq!(&a.secrets, &b.secrets);
    }

    #[test]
    fn link_order_in_the_file_does_not_change_the_plan(t in topo_strategy()) {
        let mut r = t.clone();
        r.links.reverse();
        r.networks.reverse();
        let a = run(&t, &State::empty(), 5);
        let b = run(&r, &State::empty(), 5);
        prop_assert_eq!(&a.allocations, &b.allocations);
        prop_assert_eq!(&a.resources, &b.resources);
        prop_assert_eq!(&a.secrets, &b.secrets);
    }

    #[test]
    fn adding_a_network_and_its_links_keeps_existing_allocations(
        t in topo_strategy(), c in cloud(), peers in prop::collection::vec(0usize..9, 1..4),
    ) {
        let before = run(&t, &State::empty(), 5);
        let state = applied(&before);
        let mut t2 = t.clone();
        let new = network(20, c);
        for p in peers {
            let other = &t.networks[p % t.networks.len()];
            if supported(c, other.cloud) {
                let (a, b) = if new.name < other.name { (&new.name, &other.name) } else { (&other.name, &new.name) };
                if !t2.links.iter().any(|l| &l.a == a && &l.b == b) {
                    t2.links.push(Link { a: a.clone(), b: b.clone(), allow: vec![], span: span() });
                }
            }
        }
        t2.networks.push(new);
        // Another RNG on purpose: recorded keys must win over fresh draws.
        let after = run(&t2, &state, 6);
        assert_kept(&before, &after, &t2);
    }

    #[test]
    fn removing_a_network_or_a_link_keeps_the_others_allocations(
        t in topo_strategy(), drop_net in any::<bool>(), i in 0usize..16,
    ) {
        let before = run(&t, &State::empty(), 5);
        let state = applied(&before);
        let mut t2 = t.clone();
        if drop_net {
            let gone = t2.networks.remove(i % t2.networks.len()).name;
            t2.links.retain(|l| l.a != gone && l.b != gone);
        } else if !t2.links.is_empty() {
            let n = t2.links.len();
            t2.links.remove(i % n);
        }
        let after = run(&t2, &state, 6);
        assert_kept(&before, &after, &t2);
        // What belonged only to the removed items is deleted, nothing else changes.
        prop_assert!(after.changes.iter().all(|c| c.action == peerctl::plan::Action::Delete));
    }

    #[test]
    fn adding_a_link_between_two_existing_networks_keeps_every_allocation_and_plans(
        t in topo_strategy(),
    ) {
        let before = run(&t, &State::empty(), 5);
        let state = applied(&before);
        // Every pair not linked yet, one at a time (unlinked networks are where a shared ASN
        // used to hide until a link made it a conflict).
        let nets = &t.networks;
        for (i, x) in nets.iter().enumerate() {
            for y in &nets[i + 1..] {
                let (a, b) = if x.name < y.name { (x, y) } else { (y, x) };
                if !supported(a.cloud, b.cloud)
                    || t.links.iter().any(|l| l.a == a.name && l.b == b.name)
                {
                    continue;
                }
                let mut t2 = t.clone();
                t2.links.push(Link { a: a.name.clone(), b: b.name.clone(), allow: vec![], span: span() });
                let tpl = Templates::embedded().unwrap();
                let after = plan(&t2, &state, &tpl, &mut ChaCha20Rng::seed_from_u64(6));
                prop_assert!(after.is_ok(), "linking {} and {}: {:?}", a.name, b.name, after.err());
                let after = after.unwrap();
                prop_assert_eq!(&after.allocations.asns, &before.allocations.asns);
                assert_kept(&before, &after, &t2);
                // Only the new link's resources (and shared ones it is the first to need).
                prop_assert!(after.changes.iter().all(|c| c.action == peerctl::plan::Action::Create));
            }
        }
    }

    #[test]
    fn allocations_are_unique_and_never_reserved(t in topo_strategy()) {
        let p = run(&t, &State::empty(), 5);
        let mut inside = HashSet::new();
        for la in p.allocations.links.values() {
            for tun in &la.tunnels {
                if let Some(c) = tun.inside_cidr {
                    prop_assert!(!inside_cidr_reserved(&c), "{}", c);
                    prop_assert_eq!(c.prefix_len(), 30);
                    // Unique across the whole plan, hence per VGW and per Cloud Router.
                    prop_assert!(inside.insert(c), "{} used twice", c);
                }
            }
        }
        let mut nsg = HashSet::new();
        for la in p.allocations.links.values() {
            for (net, prio) in &la.nsg_priorities {
                prop_assert!(nsg.insert((net.clone(), *prio)), "NSG priority {} twice in {}", prio, net);
            }
        }
        let mut asns = HashSet::new();
        for a in p.allocations.asns.values() {
            prop_assert!((ASN_FIRST..=ASN_LAST).contains(a) && !asn_reserved(*a), "{}", a);
            // Unique across the topology, linked or not.
            prop_assert!(asns.insert(*a), "ASN {} twice", a);
        }
        for l in &t.links {
            prop_assert_ne!(p.allocations.asns[&l.a], p.allocations.asns[&l.b]);
        }
        for k in p.secrets.values() {
            prop_assert!(peerctl::plan::alloc::is_valid_psk(k.expose()));
        }
    }
}
