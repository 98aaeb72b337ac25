//! verify's GCP observation end to end: after apply every GCP check passes from a fresh
//! process, and breakages made through the Compute API as a user would (a deny rule, a deleted
//! static route or tunnel, a disabled BGP peer) fail with the cause, direction and object
//! named; reads stay within the per-scope budget.

use crate::apply::{peerctl, sandbox_for, scaled, text, topology_file};
use peerctl::sandbox::RunningSandbox;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const PROJECT: &str = "acme-net";

/// Applies `name` in `dir` and lets the sandbox's tunnels and BGP sessions come up.
async fn applied(name: &str, dir: &Path) -> RunningSandbox {
    let sb = sandbox_for(name, scaled()).await;
    let file = topology_file(name);
    let out = peerctl(
        dir,
        &sb.url(),
        &["apply", "-f", file.to_str().unwrap(), "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    sb.sandbox.advance_clock(30 * 60 * 1000);
    sb
}

/// `peerctl verify --json` as a fresh process: the exit code and the document.
async fn verify(sb: &RunningSandbox, dir: &Path, name: &str, extra: &[&str]) -> (i32, Value) {
    let file = topology_file(name);
    let mut args = vec!["verify", "-f", file.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = peerctl(dir, &sb.url(), &args).await;
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {}", text(&out)));
    (out.status.code().unwrap_or(-1), doc)
}

/// The results of `link`, optionally only of one check.
fn results<'a>(doc: &'a Value, link: &str, check: Option<&str>) -> Vec<&'a Value> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["link"] == link && check.is_none_or(|c| r["check"] == c))
        .collect()
}

/// The one result of `link` × `check` in the direction `from` → `to`.
fn result<'a>(doc: &'a Value, link: &str, check: &str, from: &str, to: &str) -> &'a Value {
    results(doc, link, Some(check))
        .into_iter()
        .find(|r| r["direction"]["from"] == from && r["direction"]["to"] == to)
        .unwrap_or_else(|| panic!("no {check} result {from} → {to} for {link}: {doc:#}"))
}

fn causes(r: &Value) -> String {
    r["causes"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["message"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn assert_all_pass(doc: &Value, link: &str) {
    let rs = results(doc, link, None);
    assert!(!rs.is_empty(), "no results for {link}: {doc:#}");
    for r in rs {
        assert_eq!(r["verdict"], "pass", "{link}: {r:#}");
    }
}

/// The GCP read calls the sandbox counted, per operation.
fn gcp_reads(sb: &RunningSandbox) -> (u64, serde_json::Map<String, Value>) {
    let s = sb.sandbox.stats_json();
    let g = &s["clouds"]["gcp"];
    (
        g["reads"].as_u64().unwrap_or(0),
        g["operations"].as_object().cloned().unwrap_or_default(),
    )
}

/// One Compute call as a user's tool makes it (raw REST on the sandbox's Compute endpoint),
/// waiting for the Operation it returns.
async fn compute(sb: &RunningSandbox, method: &str, path: &str, body: Option<Value>) -> Value {
    let http = reqwest::Client::new();
    let url = format!("{}/compute/v1/{path}", sb.url());
    let req = match method {
        "POST" => http.post(&url),
        "PATCH" => http.patch(&url),
        "DELETE" => http.delete(&url),
        _ => http.get(&url),
    };
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => req,
    };
    let resp = req.send().await.expect("compute call");
    let status = resp.status();
    let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    if v["kind"] == "compute#operation" {
        let link = v["selfLink"]
            .as_str()
            .expect("operation selfLink")
            .to_string();
        for _ in 0..400 {
            let op = http.get(&link).send().await.unwrap().text().await.unwrap();
            let op: Value = serde_json::from_str(&op).expect("operation JSON");
            if op["status"] == "DONE" {
                assert!(op.get("error").is_none(), "{method} {path}: {op}");
                return op;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{method} {path}: operation not done: {v}");
    }
    v
}

/// The recorded id (a selfLink) of a plan address, as a `projects/…` path.
fn recorded(dir: &Path, address: &str) -> String {
    let s = peerctl::state::State::load(&dir.join(".peerctl/state.json")).expect("state");
    let id = &s.resources.get(address).expect(address).id;
    id[id.find("projects/").expect("selfLink")..].to_string()
}

const AWS_GCP: &str = "aws-use1--gcp-usc1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_gcp_passes_after_apply_within_the_read_budget_and_names_gcp_breakages() {
    let dir = tempfile::tempdir().unwrap();
    let sb = applied("aws-gcp", dir.path()).await;

    let (before, ops_before) = gcp_reads(&sb);
    let (code, doc) = verify(&sb, dir.path(), "aws-gcp", &[]).await;
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["ok"], true, "{doc:#}");
    assert_all_pass(&doc, AWS_GCP);
    for check in ["presence", "tunnels", "routing", "firewall"] {
        assert!(!results(&doc, AWS_GCP, Some(check)).is_empty(), "{check}");
    }
    // Read budget: at most 8 per (cloud, region) scope — here acme-net/us-central1 and
    // acme-net/global — plus one getRouterStatus per Cloud Router (one).
    let (after, ops_after) = gcp_reads(&sb);
    let made = after - before;
    assert!(made <= 8 * 2 + 1, "{made} GCP reads: {ops_after:?}");
    let delta = |op: &str| {
        ops_after.get(op).and_then(Value::as_u64).unwrap_or(0)
            - ops_before.get(op).and_then(Value::as_u64).unwrap_or(0)
    };
    let status_ops: u64 = ops_after
        .keys()
        .filter(|k| k.contains("getRouterStatus"))
        .map(|k| delta(k))
        .sum();
    assert_eq!(status_ops, 1, "{ops_after:?}");
    for (op, _) in &ops_after {
        assert!(delta(op) <= 1, "{op} read {} times", delta(op));
    }
    assert!(made >= 7, "{made} GCP reads: {ops_after:?}");

    // A user's deny rule of higher priority than peerctl's allow: AWS → GCP blocked at GCP
    // ingress, the rule named; the other direction still passes.
    let deny = json!({
        "name": "ops-deny-aws",
        "network": format!("projects/{PROJECT}/global/networks/prod-vpc"),
        "direction": "INGRESS",
        "priority": 100,
        "sourceRanges": ["10.10.0.0/16"],
        "denied": [{"IPProtocol": "all"}],
    });
    compute(
        &sb,
        "POST",
        &format!("projects/{PROJECT}/global/firewalls"),
        Some(deny),
    )
    .await;
    let (code, doc) = verify(&sb, dir.path(), "aws-gcp", &[]).await;
    assert_eq!(code, 3, "{doc:#}");
    let fw = result(&doc, AWS_GCP, "firewall", "aws-use1", "gcp-usc1");
    assert_eq!(fw["verdict"], "fail", "{fw:#}");
    let why = causes(fw);
    assert!(
        why.contains("ops-deny-aws") && why.contains("priority 100") && why.contains("deny"),
        "{why}"
    );
    assert!(why.contains("network prod-vpc"), "{why}");
    let back = result(&doc, AWS_GCP, "firewall", "gcp-usc1", "aws-use1");
    assert_eq!(back["verdict"], "pass", "{back:#}");
    compute(
        &sb,
        "DELETE",
        &format!("projects/{PROJECT}/global/firewalls/ops-deny-aws"),
        None,
    )
    .await;
    let (code, doc) = verify(&sb, dir.path(), "aws-gcp", &[]).await;
    assert_eq!(code, 0, "{doc:#}");

    // One BGP peer disabled: its session is down (degraded routing, failed with --strict)
    // and the peer's configuration has drifted (presence names `enable`).
    let router = recorded(dir.path(), "gcp.router.gcp-usc1");
    let peer = format!("gcp.router_peer.{AWS_GCP}-0");
    let peer_id = recorded(dir.path(), &peer);
    let peer_name = peer_id.rsplit('/').next().unwrap().to_string();
    let mut r = compute(&sb, "GET", &router, None).await;
    for p in r["bgpPeers"].as_array_mut().expect("bgpPeers") {
        if p["name"] == peer_name.as_str() {
            p["enable"] = json!("FALSE");
        }
    }
    let patch = json!({"bgpPeers": r["bgpPeers"].clone()});
    compute(&sb, "PATCH", &router, Some(patch)).await;
    let (code, doc) = verify(&sb, dir.path(), "aws-gcp", &[]).await;
    assert_eq!(code, 3, "{doc:#}");
    let presence = &results(&doc, AWS_GCP, Some("presence"))[0];
    assert_eq!(presence["verdict"], "fail");
    assert!(
        causes(presence).contains(&peer) && causes(presence).contains("enable"),
        "{presence:#}"
    );
    let routing = result(&doc, AWS_GCP, "routing", "aws-use1", "gcp-usc1");
    assert_eq!(routing["verdict"], "warn", "{routing:#}");
    let why = causes(routing);
    assert!(
        why.contains("BGP not established") && why.contains(&peer_name),
        "{why}"
    );
    let (_, strict) = verify(&sb, dir.path(), "aws-gcp", &["--strict"]).await;
    let routing = result(&strict, AWS_GCP, "routing", "aws-use1", "gcp-usc1");
    assert_eq!(routing["verdict"], "fail", "{routing:#}");
    for p in r["bgpPeers"].as_array_mut().unwrap() {
        p["enable"] = json!("TRUE");
    }
    let patch = json!({"bgpPeers": r["bgpPeers"].clone()});
    compute(&sb, "PATCH", &router, Some(patch)).await;
    sb.sandbox.advance_clock(5 * 60 * 1000);
    let (code, doc) = verify(&sb, dir.path(), "aws-gcp", &[]).await;
    assert_eq!(code, 0, "{doc:#}");

    // A tunnel deleted: 3 of 4 up (degraded), the tunnel named missing.
    let tunnel = format!("gcp.vpn_tunnel.{AWS_GCP}-3");
    let tunnel_id = recorded(dir.path(), &tunnel);
    compute(&sb, "DELETE", &tunnel_id, None).await;
    sb.sandbox.advance_clock(60 * 1000);
    let (code, doc) = verify(&sb, dir.path(), "aws-gcp", &[]).await;
    assert_eq!(code, 3, "{doc:#}");
    let tunnels = &results(&doc, AWS_GCP, Some("tunnels"))[0];
    assert_eq!(tunnels["verdict"], "warn", "{tunnels:#}");
    assert!(
        tunnels["summary"]
            .as_str()
            .unwrap()
            .contains("3/4 tunnels up"),
        "{tunnels:#}"
    );
    assert!(causes(tunnels).contains("tunnel 4 down"), "{tunnels:#}");
    let presence = &results(&doc, AWS_GCP, Some("presence"))[0];
    assert!(
        causes(presence).contains(&format!("{tunnel} ")) && causes(presence).contains("missing"),
        "{presence:#}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triangle_gcp_links_pass_and_a_deleted_static_route_is_a_routing_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sb = applied("triangle", dir.path()).await;
    let gcp_az = "az-eus--gcp-usc1";
    let (code, doc) = verify(&sb, dir.path(), "triangle", &[]).await;
    // Until Azure can be observed, its read error makes the exit 1; GCP's checks pass.
    let foreign: Vec<&Value> = doc["read_errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cloud"] != "azure")
        .collect();
    assert!(foreign.is_empty(), "{doc:#}");
    assert!(code == 0 || code == 1, "{code}: {doc:#}");
    assert_all_pass(&doc, AWS_GCP);
    assert_all_pass(&doc, gcp_az);

    // The classic link's static route deleted: GCP no longer routes Azure's CIDR.
    let route = recorded(dir.path(), &format!("gcp.route.{gcp_az}-0"));
    compute(&sb, "DELETE", &route, None).await;
    let (code, doc) = verify(&sb, dir.path(), "triangle", &[]).await;
    assert!(code == 3 || code == 1, "{code}: {doc:#}");
    let routing = result(&doc, gcp_az, "routing", "gcp-usc1", "az-eus");
    assert_eq!(routing["verdict"], "fail", "{routing:#}");
    let why = causes(routing);
    assert!(
        why.contains("gcp-usc1 has no route to 10.30.0.0/16 in network prod-vpc"),
        "{why}"
    );
    // Replies of az-eus → gcp-usc1 take the same missing route.
    let replies = result(&doc, gcp_az, "routing", "az-eus", "gcp-usc1");
    assert_eq!(replies["verdict"], "fail", "{replies:#}");
    let presence = &results(&doc, gcp_az, Some("presence"))[0];
    assert!(causes(presence).contains("missing"), "{presence:#}");
    assert_all_pass(&doc, AWS_GCP);
    sb.stop().await;
}

/// The provider's own observation of the applied aws-gcp topology: what it holds, that its
/// read count is the calls the cloud saw, and that a list failing after its retries is a read
/// error in the snapshot (its resources left unjudged), not a failed observation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcp_observation_holds_sessions_routes_and_rules_and_counts_its_reads() {
    use peerctl::cloud::Cloud;
    use peerctl::providers::gcp::GcpProvider;
    use peerctl::providers::{Provider, ProviderConfig};
    let dir = tempfile::tempdir().unwrap();
    let sb = applied("aws-gcp", dir.path()).await;
    let topo = peerctl::topology::load(&topology_file("aws-gcp")).unwrap();
    let state = peerctl::state::State::load(&dir.path().join(".peerctl/state.json")).unwrap();
    let p = GcpProvider::new(ProviderConfig {
        endpoint: Some(sb.url()),
        time_scale: 0.001,
        ..ProviderConfig::default()
    })
    .await
    .unwrap();
    let req = peerctl::engine::observe::request(Cloud::Gcp, &topo, &state);

    let (before, _) = gcp_reads(&sb);
    let snap = p.observe(&req).await.expect("observation");
    let (after, _) = gcp_reads(&sb);
    assert!(snap.errors.is_empty(), "{:?}", snap.errors);
    assert_eq!(snap.reads as u64, after - before);
    assert_eq!(snap.resources.len(), req.resources.len());
    assert!(snap.resources.values().all(|r| r.present));
    assert_eq!(snap.tunnels.len(), 4);
    assert!(snap
        .tunnels
        .iter()
        .all(|t| t.up && t.status == "ESTABLISHED"));
    let aws: ipnet::Ipv4Net = "10.10.0.0/16".parse().unwrap();
    assert_eq!(snap.bgp.len(), 4);
    for b in &snap.bgp {
        assert!(b.established, "{b:?}");
        assert_eq!(b.state, "Established");
        assert!(b.learned.contains(&aws), "{b:?}");
        assert!(b
            .peer_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("169.254.")));
    }
    let net = &snap.networks["gcp-usc1"];
    assert_eq!(net.route_tables.len(), 1);
    assert_eq!(net.route_tables[0].name, "network prod-vpc");
    let over: Vec<_> = net.route_tables[0]
        .routes
        .iter()
        .filter(|r| r.dest == aws && r.active && r.origin == "bgp")
        .collect();
    assert_eq!(over.len(), 4, "{:?}", net.route_tables);
    assert!(over.iter().all(|r| r
        .via
        .as_deref()
        .is_some_and(|v| v.starts_with("gcp.vpn_tunnel."))));
    let fw = &net.firewalls[0];
    assert_eq!(fw.name, "network prod-vpc");
    assert!(fw
        .rules
        .iter()
        .any(|r| r.address.as_deref() == Some(&format!("gcp.firewall.{AWS_GCP}.gcp-usc1")[..])));

    // firewalls.list answers server errors beyond every retry.
    let http = reqwest::Client::new();
    let faults = json!({"scripted": [{"cloud": "gcp", "operation": "firewalls.list",
        "kind": "server_error", "count": 100}]});
    let r = http
        .post(format!("{}/_sandbox/faults", sb.url()))
        .body(faults.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let snap = p
        .observe(&req)
        .await
        .expect("observation despite a failed list");
    assert_eq!(snap.errors.len(), 1, "{:?}", snap.errors);
    let e = &snap.errors[0];
    assert_eq!(
        (e.scope.as_str(), e.what.as_str()),
        ("gcp acme-net/global", "firewalls.list")
    );
    let rule = format!("gcp.firewall.{AWS_GCP}.gcp-usc1");
    assert!(!snap.resources.contains_key(&rule), "unread, so not judged");
    assert!(snap.networks["gcp-usc1"].firewalls.is_empty());
    assert_eq!(snap.networks["gcp-usc1"].route_tables.len(), 1);
    assert_eq!(snap.tunnels.len(), 4);
    sb.stop().await;
}
