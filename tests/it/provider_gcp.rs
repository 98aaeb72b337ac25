//! The GCP provider against the sandbox: the triangle plan's GCP part created, adopted,
//! updated and deleted resource by resource as the engine would, router entries written
//! concurrently, Operation failures and timeouts, retried throttling, and the preflight.

use crate::common;
use futures::future::join_all;
use peerctl::plan::resource::{Kind, Resource};
use peerctl::plan::Plan;
use peerctl::providers::gcp::GcpProvider;
use peerctl::providers::{Attr, Desired, Outputs, Provider, ProviderConfig, ProviderError};
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{RunningSandbox, SandboxConfig};
use peerctl::topology::Topology;
use std::collections::{BTreeMap, BTreeSet};

const P: &str = "acme-net";
const R: &str = "us-central1";

fn triangle_plan() -> (Topology, Plan) {
    use rand_core::SeedableRng;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/triangle.yaml");
    let topo = peerctl::topology::parse(path, &std::fs::read_to_string(path).unwrap()).unwrap();
    let plan = peerctl::plan::plan(
        &topo,
        &peerctl::state::State::empty(),
        &peerctl::plan::templates::Templates::embedded().unwrap(),
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap();
    (topo, plan)
}

/// A sandbox whose operations take 1/1000 of their real time, so that the provider sees
/// them RUNNING and has to wait.
async fn start_scaled(topo: Topology) -> RunningSandbox {
    common::start_with(
        topo,
        SandboxConfig {
            latency: Latency { scale: 0.001 },
            ..SandboxConfig::default()
        },
    )
    .await
}

fn config(url: &str) -> ProviderConfig {
    ProviderConfig {
        endpoint: Some(url.to_string()),
        time_scale: 0.001,
        ..ProviderConfig::default()
    }
}

async fn provider(url: &str) -> GcpProvider {
    GcpProvider::new(config(url)).await.expect("provider")
}

/// The outputs known so far; other clouds' resources get fixed documentation addresses
/// (198.51.100.x), distinct per resource and output.
struct Known {
    outputs: BTreeMap<String, Outputs>,
}

impl Known {
    fn new(plan: &Plan) -> Known {
        let mut outputs = BTreeMap::new();
        let mut n = 0u8;
        for r in plan
            .resources
            .iter()
            .filter(|r| r.cloud() != peerctl::cloud::Cloud::Gcp)
        {
            let mut o = Outputs::new();
            for name in r.kind.outputs() {
                n += 1;
                let v = if *name == "id" {
                    format!("foreign-{n}")
                } else {
                    format!("198.51.100.{n}")
                };
                o.insert(name.to_string(), v);
            }
            outputs.insert(r.address.clone(), o);
        }
        Known { outputs }
    }

    fn desired(&self, plan: &Plan, r: &Resource) -> Desired {
        peerctl::engine::desired(
            &plan.topology,
            &r.address,
            r.kind,
            &r.name,
            &r.region,
            &r.attributes,
            &|a: &str| self.outputs.get(a).cloned(),
            &plan.secrets,
        )
    }
}

fn gcp_resources(plan: &Plan) -> Vec<&Resource> {
    let by: BTreeMap<&str, &Resource> = plan
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    plan.order
        .iter()
        .map(|a| by[a.as_str()])
        .filter(|r| r.cloud() == peerctl::cloud::Cloud::Gcp)
        .collect()
}

fn stats(sb: &RunningSandbox) -> serde_json::Value {
    sb.sandbox.stats_json()
}

fn gcp_calls(sb: &RunningSandbox, op: &str) -> u64 {
    stats(sb)["clouds"]["gcp"]["operations"][op]
        .as_u64()
        .unwrap_or(0)
}

fn mutating(sb: &RunningSandbox) -> u64 {
    stats(sb)["clouds"]["gcp"]["mutating"].as_u64().unwrap_or(0)
}

async fn compute_get(sb: &RunningSandbox, path: &str) -> serde_json::Value {
    let url = format!("{}/compute/v1/projects/{P}/{path}", sb.url());
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn router_of(plan: &Plan) -> &Resource {
    plan.resources
        .iter()
        .find(|r| r.kind == Kind::GcpRouter)
        .expect("a router")
}

/// Creates every GCP resource of the plan in plan order (the entries `skip` names excepted),
/// recording outputs as the engine would.
async fn create_in_order(
    p: &GcpProvider,
    plan: &Plan,
    known: &mut Known,
    skip: &[Kind],
) -> Vec<String> {
    let mut ids = Vec::new();
    for r in gcp_resources(plan) {
        if skip.contains(&r.kind) {
            continue;
        }
        let d = known.desired(plan, r);
        let out = p
            .create(&d)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", r.address));
        let keys: BTreeSet<&str> = out.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = r.kind.outputs().iter().copied().collect();
        assert_eq!(keys, want, "{}", r.address);
        ids.push(out["id"].clone());
        known.outputs.insert(r.address.clone(), out);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triangle_gcp_part_is_created_adopted_updated_and_deleted() {
    let (topo, plan) = triangle_plan();
    let sb = start_scaled(topo).await;
    let p = provider(&sb.url()).await;
    let mut known = Known::new(&plan);
    let resources = gcp_resources(&plan);
    assert_eq!(resources.len(), 24);

    let ids = create_in_order(&p, &plan, &mut known, &[]).await;
    assert_eq!(stats(&sb)["created_resources"], 24, "{}", stats(&sb));
    assert!(gcp_calls(&sb, "regionOperations.wait") > 0);
    assert!(gcp_calls(&sb, "globalOperations.wait") > 0);
    assert_eq!(gcp_calls(&sb, "regionOperations.get"), 0, "waits, not gets");

    // Ids are selfLinks (router entries: the router's + /interfaces|bgpPeers/NAME).
    let router = router_of(&plan);
    let base = format!("{}/compute/v1/projects/{P}", sb.url());
    let global = |c: &str, n: &str| format!("{base}/global/{c}/{n}");
    let regional = |c: &str, n: &str| format!("{base}/regions/{R}/{c}/{n}");
    let router_link = regional("routers", &router.name);
    for (r, id) in resources.iter().zip(&ids) {
        let want = match r.kind {
            Kind::GcpRouterInterface => format!("{router_link}/interfaces/{}", r.name),
            Kind::GcpRouterPeer => format!("{router_link}/bgpPeers/{}", r.name),
            Kind::GcpFirewall => global("firewalls", &r.name),
            Kind::GcpRoute => global("routes", &r.name),
            Kind::GcpExternalVpnGateway => global("externalVpnGateways", &r.name),
            Kind::GcpVpnGateway => regional("vpnGateways", &r.name),
            Kind::GcpRouter => regional("routers", &r.name),
            Kind::GcpVpnTunnel => regional("vpnTunnels", &r.name),
            Kind::GcpAddress => regional("addresses", &r.name),
            Kind::GcpTargetVpnGateway => regional("targetVpnGateways", &r.name),
            Kind::GcpForwardingRule => regional("forwardingRules", &r.name),
            other => panic!("{other}"),
        };
        assert_eq!(id, &want);
    }
    let gw = resources
        .iter()
        .find(|r| r.kind == Kind::GcpVpnGateway)
        .unwrap();
    let gw_out = &known.outputs[&gw.address];
    assert!(gw_out["interface0_ip"].starts_with("198.18."), "{gw_out:?}");
    assert_ne!(gw_out["interface0_ip"], gw_out["interface1_ip"]);
    let addr = resources
        .iter()
        .find(|r| r.kind == Kind::GcpAddress)
        .unwrap();
    assert!(known.outputs[&addr.address]["address"].starts_with("198.18."));

    // The sandbox's view: every router entry, labels, descriptions, and no key in sight.
    let rt = compute_get(&sb, &format!("regions/{R}/routers/{}", router.name)).await;
    assert_eq!(rt["interfaces"].as_array().unwrap().len(), 4, "{rt}");
    assert_eq!(rt["bgpPeers"].as_array().unwrap().len(), 4, "{rt}");
    let g = compute_get(&sb, &format!("regions/{R}/vpnGateways/{}", gw.name)).await;
    assert_eq!(g["labels"]["peerctl-topology"], "prod-mesh");
    assert_eq!(
        g["description"],
        format!("peerctl prod-mesh {}", gw.address)
    );
    let tunnels = compute_get(&sb, &format!("regions/{R}/vpnTunnels")).await;
    let hashes: BTreeMap<String, String> = tunnels["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["sharedSecretHash"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(hashes.len(), 5);
    let body = tunnels.to_string();
    for s in plan.secrets.values() {
        assert!(!body.contains(s.expose()));
    }

    // read by id gives the same outputs.
    for r in &resources {
        let d = known.desired(&plan, r);
        let id = known.outputs[&r.address]["id"].clone();
        let read = p.read(&d, Some(&id)).await.unwrap();
        assert_eq!(
            read.as_ref(),
            Some(&known.outputs[&r.address]),
            "{}",
            r.address
        );
        assert_eq!(
            p.read(&d, None).await.unwrap(),
            read,
            "{} by name",
            r.address
        );
    }

    // A second create adopts everything: same ids, and the only writes are the tunnels'
    // delete + insert (their keys cannot be read back), which keep the same key.
    let before = mutating(&sb);
    let again = create_in_order(&p, &plan, &mut known, &[]).await;
    assert_eq!(again, ids);
    assert_eq!(mutating(&sb) - before, 2 * 5, "{}", stats(&sb));
    assert_eq!(gcp_calls(&sb, "vpnTunnels.delete"), 5);
    assert_eq!(stats(&sb)["created_resources"], 24);
    let tunnels = compute_get(&sb, &format!("regions/{R}/vpnTunnels")).await;
    for t in tunnels["items"].as_array().unwrap() {
        assert_eq!(
            hashes[t["name"].as_str().unwrap()],
            t["sharedSecretHash"].as_str().unwrap(),
            "the recreated tunnel carries the planned key"
        );
    }

    // Updates in place: the router's ASN, a peer's priority, a firewall's sources.
    let by_kind = |k: Kind| resources.iter().find(|r| r.kind == k).copied().unwrap();
    let mut d = known.desired(&plan, router);
    d.attrs.0.insert("asn".into(), Attr::Int(65010));
    let rid = known.outputs[&router.address]["id"].clone();
    assert_eq!(
        p.update(&d, &rid, &["asn".into()]).await.unwrap()["id"],
        rid
    );
    let rt = compute_get(&sb, &format!("regions/{R}/routers/{}", router.name)).await;
    assert_eq!(rt["bgp"]["asn"], 65010);
    assert_eq!(rt["bgpPeers"].as_array().unwrap().len(), 4);
    let peer = by_kind(Kind::GcpRouterPeer);
    let mut d = known.desired(&plan, peer);
    d.attrs
        .0
        .insert("advertised_route_priority".into(), Attr::Int(250));
    let pid = known.outputs[&peer.address]["id"].clone();
    p.update(&d, &pid, &["advertised_route_priority".into()])
        .await
        .unwrap();
    let rt = compute_get(&sb, &format!("regions/{R}/routers/{}", router.name)).await;
    let entry = rt["bgpPeers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == peer.name.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["advertisedRoutePriority"], 250, "{entry}");
    let fw = by_kind(Kind::GcpFirewall);
    let mut d = known.desired(&plan, fw);
    d.attrs.0.insert(
        "source_ranges".into(),
        Attr::List(vec![Attr::Str("10.10.0.0/24".into())]),
    );
    d.attrs.0.insert("priority".into(), Attr::Int(900));
    let fid = known.outputs[&fw.address]["id"].clone();
    p.update(&d, &fid, &["source_ranges".into(), "priority".into()])
        .await
        .unwrap();
    let f = compute_get(&sb, &format!("global/firewalls/{}", fw.name)).await;
    assert_eq!(f["sourceRanges"], serde_json::json!(["10.10.0.0/24"]));
    assert_eq!(f["priority"], 900);
    let t = by_kind(Kind::GcpVpnTunnel);
    let err = p
        .update(
            &known.desired(&plan, t),
            &known.outputs[&t.address]["id"],
            &["peer_ip".into()],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Attribute(_)), "{err}");

    // Deleting a gateway still in use fails inside its Operation, with GCP's code.
    let tvg = by_kind(Kind::GcpTargetVpnGateway);
    let err = p
        .delete(
            &known.desired(&plan, tvg),
            &known.outputs[&tvg.address]["id"],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Failed { message, .. } if message.contains("RESOURCE_IN_USE_BY_ANOTHER_RESOURCE")),
        "{err}"
    );

    // Delete in reverse order; a second delete of each is success too.
    for r in resources.iter().rev() {
        let d = known.desired(&plan, r);
        let id = known.outputs[&r.address]["id"].clone();
        p.delete(&d, &id)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", r.address));
    }
    assert_eq!(stats(&sb)["created_resources"], 0, "{}", stats(&sb));
    for r in resources.iter().rev() {
        let d = known.desired(&plan, r);
        let id = known.outputs[&r.address]["id"].clone();
        p.delete(&d, &id).await.unwrap();
        assert_eq!(p.read(&d, Some(&id)).await.unwrap(), None, "{}", r.address);
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_entries_written_at_once_all_survive() {
    let (topo, plan) = triangle_plan();
    let sb = common::start(topo).await;
    let p = provider(&sb.url()).await;
    let mut known = Known::new(&plan);
    let entries = [Kind::GcpRouterInterface, Kind::GcpRouterPeer];
    create_in_order(&p, &plan, &mut known, &entries).await;
    let router = router_of(&plan);
    let path = format!("regions/{R}/routers/{}", router.name);

    // An entry found with other values is made to carry the planned ones.
    let iface = gcp_resources(&plan)
        .into_iter()
        .find(|r| r.kind == Kind::GcpRouterInterface)
        .unwrap();
    let planned = known.desired(&plan, iface);
    let mut other = planned.clone();
    other
        .attrs
        .0
        .insert("ip_range".into(), Attr::Str("169.254.200.2/30".into()));
    let ip_range = |rt: &serde_json::Value| rt["interfaces"][0]["ipRange"].clone();
    p.create(&other).await.unwrap();
    assert_eq!(ip_range(&compute_get(&sb, &path).await), "169.254.200.2/30");
    p.create(&planned).await.unwrap();
    let rt = compute_get(&sb, &path).await;
    assert_eq!(
        ip_range(&rt),
        serde_json::to_value(&iface.attributes["ip_range"]).unwrap()
    );
    assert_eq!(rt["interfaces"].as_array().unwrap().len(), 1);
    // Looked up by identity before its router was found: absent, not an error.
    let mut orphan = planned.clone();
    orphan
        .attrs
        .0
        .insert("router".into(), Attr::Unknown("gcp.router.x.id".into()));
    assert_eq!(p.read(&orphan, None).await.unwrap(), None);

    for kind in entries {
        let rs: Vec<&Resource> = gcp_resources(&plan)
            .into_iter()
            .filter(|r| r.kind == kind)
            .collect();
        assert_eq!(rs.len(), 4);
        let ds: Vec<Desired> = rs.iter().map(|r| known.desired(&plan, r)).collect();
        let outs = join_all(ds.iter().map(|d| p.create(d))).await;
        for (r, out) in rs.iter().zip(outs) {
            known.outputs.insert(r.address.clone(), out.unwrap());
        }
    }
    let rt = compute_get(&sb, &path).await;
    assert_eq!(rt["interfaces"].as_array().unwrap().len(), 4, "{rt}");
    assert_eq!(rt["bgpPeers"].as_array().unwrap().len(), 4, "{rt}");

    // All peers removed at once, then all interfaces: the last removal of each empties the
    // array (a PUT of the router, since a PATCH body cannot carry an empty array).
    for kind in [Kind::GcpRouterPeer, Kind::GcpRouterInterface] {
        let rs: Vec<&Resource> = gcp_resources(&plan)
            .into_iter()
            .filter(|r| r.kind == kind)
            .collect();
        let ds: Vec<(Desired, String)> = rs
            .iter()
            .map(|r| {
                (
                    known.desired(&plan, r),
                    known.outputs[&r.address]["id"].clone(),
                )
            })
            .collect();
        for res in join_all(ds.iter().map(|(d, id)| p.delete(d, id))).await {
            res.unwrap();
        }
    }
    let rt = compute_get(&sb, &path).await;
    assert!(
        rt.get("interfaces").is_none() && rt.get("bgpPeers").is_none(),
        "{rt}"
    );
    assert_eq!(gcp_calls(&sb, "routers.update"), 2);
    assert_eq!(
        rt["bgp"]["asn"],
        serde_json::to_value(&router.attributes["asn"]).unwrap()
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_a_missing_network_and_uncovered_cidrs() {
    let sb = common::start(common::triangle()).await;
    let p = provider(&sb.url()).await;
    let mut wrong = common::gcp_net("gcp-wrong", "prod-vpc", "10.99.0.0/16");
    wrong.cidrs.push("10.20.1.0/24".parse().unwrap());
    let nets = vec![
        common::gcp_net("gcp-usc1", "prod-vpc", "10.20.0.0/16"),
        common::gcp_net("gcp-missing", "nope-vpc", "10.50.0.0/16"),
        wrong,
        common::aws_net("aws-use1", "vpc-0a1b2c3d4e5f60789", "10.10.0.0/16"),
    ];
    let problems = p.preflight(&nets).await;
    let got: Vec<(Option<&str>, &str)> = problems
        .iter()
        .map(|x| (x.network.as_deref(), x.field.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("gcp-missing"), "network"),
            (Some("gcp-wrong"), "cidrs")
        ],
        "{problems:?}"
    );
    let cidrs = &problems[1].message;
    assert!(
        cidrs.contains("10.99.0.0/16")
            && cidrs.contains("10.20.0.0/16")
            && !cidrs.contains("10.20.1.0/24"),
        "{cidrs}"
    );
    // One network list per project, one subnetwork list per region.
    assert_eq!(gcp_calls(&sb, "networks.list"), 1);
    assert_eq!(gcp_calls(&sb, "subnetworks.list"), 1);
    assert!(p.preflight(&nets[..1]).await.is_empty());
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_and_unreachable_or_slow_clouds_are_named() {
    let (topo, plan) = triangle_plan();
    let sb = common::start(topo.clone()).await;
    let url = sb.url();
    let p = provider(&url).await;
    let known = Known::new(&plan);
    let gw = gcp_resources(&plan)
        .into_iter()
        .find(|r| r.kind == Kind::GcpVpnGateway)
        .unwrap();
    let d = known.desired(&plan, gw);
    let script = serde_json::json!({"scripted": [
        {"cloud": "gcp", "operation": "vpnGateways.get", "kind": "throttle", "count": 2},
        {"cloud": "gcp", "operation": "vpnGateways.insert", "kind": "server_error", "count": 1},
    ]});
    let res = reqwest::Client::new()
        .post(format!("{url}/_sandbox/faults"))
        .body(script.to_string())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let out = p.create(&d).await.expect("created through faults");
    assert!(out["id"].ends_with(&format!("/vpnGateways/{}", gw.name)));
    assert_eq!(stats(&sb)["clouds"]["gcp"]["faults"], 3);
    assert_eq!(
        gcp_calls(&sb, "vpnGateways.insert"),
        1,
        "faults are not counted"
    );

    // A Google error keeps its status and reason.
    let mut bad = d.clone();
    bad.name = "other-gw".into();
    bad.attrs
        .0
        .insert("network".into(), Attr::Str("no-such-vpc".into()));
    let err = p.create(&bad).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Cloud { status: Some(404), code, .. } if code == "NOT_FOUND"),
        "{err:?}"
    );
    assert!(err.to_string().contains("notFound"), "{err}");
    sb.stop().await;

    // Nothing listening: a connection error naming the endpoint.
    let gone = GcpProvider::new(config(&url)).await.unwrap();
    let err = gone.read(&d, None).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Connect { endpoint, .. } if endpoint == &url),
        "{err:?}"
    );

    // An Operation that outlives the (scaled) timeout.
    let slow = common::start_with(
        topo,
        SandboxConfig {
            latency: Latency { scale: 1.0 },
            ..SandboxConfig::default()
        },
    )
    .await;
    let mut cfg = config(&slow.url());
    cfg.timeouts.gcp_operation = std::time::Duration::from_secs(60);
    let p = GcpProvider::new(cfg).await.unwrap();
    let err = p.create(&d).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    slow.stop().await;
}
