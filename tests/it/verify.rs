//! verify end to end against the sandbox: passes after apply, names the cause of out-of-band
//! breakages, agrees with the sandbox's ground truth.
//!
//! Breakages are made the way a user makes them: through each cloud's API (the EC2 SDK, the
//! Compute and ARM REST endpoints), never through the sandbox's admin API; verify reads only
//! the clouds' APIs. The admin API is used for ground truth (`/_sandbox/reach`) and the clock.

use super::apply::{peerctl, sandbox_for, scaled, text, topology_file};
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ModifyVpnTunnelOptionsSpecification};
use peerctl::sandbox::RunningSandbox;
use peerctl::state::State;
use serde_json::{json, Value};
use std::path::PathBuf;

const ARM_API: &str = "api-version=2024-05-01";

/// A topology applied on a sandbox, with the working directory holding its state.
pub struct Deployed {
    pub sb: RunningSandbox,
    pub dir: tempfile::TempDir,
    pub topology: PathBuf,
}

impl Deployed {
    pub async fn new(name: &str) -> Deployed {
        Deployed::with(name, scaled()).await
    }

    /// [`Deployed::new`] on a sandbox of the given configuration (a slower clock, faults).
    pub async fn with(name: &str, config: peerctl::sandbox::SandboxConfig) -> Deployed {
        let sb = sandbox_for(name, config).await;
        let dir = tempfile::tempdir().unwrap();
        let topology = topology_file(name);
        let d = Deployed { sb, dir, topology };
        d.apply().await;
        d
    }

    pub fn url(&self) -> String {
        self.sb.url()
    }

    pub fn state(&self) -> State {
        State::load(&self.dir.path().join(".peerctl/state.json")).unwrap()
    }

    /// The recorded cloud id of `address`.
    pub fn id(&self, address: &str) -> String {
        self.state().resources[address].id.clone()
    }

    /// `peerctl ARGS -f TOPOLOGY` in the deployment's directory.
    pub async fn run(&self, args: &[&str]) -> std::process::Output {
        let t = self.topology.display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-f", &t]);
        peerctl(self.dir.path(), &self.url(), &all).await
    }

    /// Applies (and lets the sandbox's clock run past tunnel and BGP set-up).
    pub async fn apply(&self) -> String {
        let out = self.run(&["apply", "--auto-approve"]).await;
        assert!(out.status.success(), "{}", text(&out));
        self.settle();
        text(&out)
    }

    /// Moves sandbox time on by an hour: every pending operation finishes and the physics
    /// decides every tunnel and session.
    pub fn settle(&self) {
        self.sb.sandbox.advance_clock(60 * 60 * 1000);
    }

    /// `verify --json [extra]`: exit code and document.
    pub async fn verify(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["verify", "--json"];
        args.extend(extra);
        let out = self.run(&args).await;
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {}", text(&out)));
        (out.status.code().unwrap_or(-1), doc)
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        ec2_at(&self.url(), region)
    }

    /// A Compute or ARM REST call as gcloud / az would make it; the JSON answer.
    pub async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        rest_at(&self.url(), method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The Compute path (`/compute/v1/projects/…`) of a recorded selfLink.
    pub fn gcp_path(&self, address: &str) -> String {
        compute_path(&self.id(address))
    }

    /// An ARM id without peerctl's `#…` marker.
    pub fn arm_id(&self, address: &str) -> String {
        arm_id(&self.id(address))
    }
}

/// An EC2 client of the sandbox at `url`, as a user's AWS SDK would be configured.
pub fn ec2_at(url: &str, region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("AKIDTEST", "SECRET", None, None, "test"))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

/// A Compute or ARM REST call to the sandbox at `url`: the JSON answer, or the status and body
/// of a refusal.
pub async fn rest_at(
    url: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http
        .request(m, format!("{url}{path}"))
        .bearer_auth("test-token");
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{method} {path}: {status} {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The Compute path (`/compute/v1/projects/…`) of a selfLink.
pub fn compute_path(id: &str) -> String {
    let at = id.find("/compute/v1/").expect("a Compute selfLink");
    id[at..].to_string()
}

/// An ARM id without peerctl's `#…` marker.
pub fn arm_id(id: &str) -> String {
    id.split('#').next().unwrap().to_string()
}

/// The results of `doc` that failed (or warned, with `warn`), as (link, check, direction
/// "a → b" or "", causes joined).
pub fn failing(doc: &Value, verdict: &str) -> Vec<(String, String, String, String)> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == verdict)
        .map(|r| {
            let dir = match &r["direction"] {
                Value::Null => String::new(),
                d => format!(
                    "{} → {}",
                    d["from"].as_str().unwrap(),
                    d["to"].as_str().unwrap()
                ),
            };
            let causes: Vec<String> = r["causes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["message"].as_str().unwrap_or_default().to_string())
                .collect();
            (
                r["link"].as_str().unwrap().to_string(),
                r["check"].as_str().unwrap().to_string(),
                dir,
                causes.join(" | "),
            )
        })
        .collect()
}

fn assert_passes(code: i32, doc: &Value, what: &str) {
    assert_eq!(
        code,
        0,
        "{what}: verify should pass: {:#?}",
        failing(doc, "fail")
    );
    assert_eq!(doc["ok"], true, "{what}");
    assert_eq!(doc["summary"]["fail"], 0, "{what}");
}

/// The one failing result of `link`/`check`/`direction`, whose causes mention every `words`.
fn assert_fails(code: i32, doc: &Value, link: &str, check: &str, direction: &str, words: &[&str]) {
    assert_eq!(code, 3, "verify should exit 3: {doc:#}");
    let f = failing(doc, "fail");
    let hit = f
        .iter()
        .find(|(l, c, d, _)| l == link && c == check && d == direction)
        .unwrap_or_else(|| panic!("no {check} failure of {link} {direction:?} in {f:#?}"));
    for w in words {
        assert!(hit.3.contains(w), "{w:?} not named in {:?}", hit.3);
    }
}

async fn revoke_gcp_rule_on_aws(d: &Deployed) {
    let sg = d.id("aws.security_group_rule.aws-use1--gcp-usc1.aws-use1");
    d.ec2("us-east-1")
        .revoke_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("10.20.0.0/16").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn change_psk_of_aws_azure_tunnel(d: &Deployed) {
    let vpn = d.id("aws.vpn_connection.aws-use1--az-eus");
    let ec2 = d.ec2("us-east-1");
    let c = ec2
        .describe_vpn_connections()
        .vpn_connection_ids(&vpn)
        .send()
        .await
        .unwrap();
    let conn = &c.vpn_connections()[0];
    // The active tunnel: the first of the planned order (by inside CIDR), which Azure uses.
    let planned =
        d.state().resources["aws.vpn_connection.aws-use1--az-eus"].attributes["tunnels"].clone();
    let inside = serde_json::to_value(&planned).unwrap()[0]["inside_cidr"]
        .as_str()
        .unwrap()
        .to_string();
    let t = conn
        .options()
        .unwrap()
        .tunnel_options()
        .iter()
        .find(|t| t.tunnel_inside_cidr() == Some(inside.as_str()))
        .unwrap();
    ec2.modify_vpn_tunnel_options()
        .vpn_connection_id(&vpn)
        .vpn_tunnel_outside_ip_address(t.outside_ip_address().unwrap())
        .tunnel_options(
            ModifyVpnTunnelOptionsSpecification::builder()
                .pre_shared_key("someone.elses.key.0123456789")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn disable_aws_propagation(d: &Deployed) {
    let vgw = d.id("aws.vpn_gateway.aws-use1");
    let ec2 = d.ec2("us-east-1");
    let tables = ec2
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("vpc-id")
                .values("vpc-0a1b2c3d4e5f60789")
                .build(),
        )
        .send()
        .await
        .unwrap();
    for t in tables.route_tables() {
        ec2.disable_vgw_route_propagation()
            .route_table_id(t.route_table_id().unwrap())
            .gateway_id(&vgw)
            .send()
            .await
            .unwrap();
    }
}

async fn delete_gcp_static_route(d: &Deployed) {
    let path = d.gcp_path("gcp.route.az-eus--gcp-usc1-0");
    d.rest("DELETE", &path, None).await;
}

async fn delete_nsg_allow(d: &Deployed) {
    let id = d.arm_id("azure.nsg_rule.aws-use1--az-eus.az-eus.allow-tcp");
    d.rest("DELETE", &format!("{id}?{ARM_API}"), None).await;
}

/// The triangle: verify passes; each breakage of a peerctl resource is named with its
/// direction and hop, and apply repairs it (verify passes again).
#[tokio::test(flavor = "multi_thread")]
async fn triangle_breakages_are_named_and_repaired_by_apply() {
    let d = Deployed::new("triangle").await;
    let (code, doc) = d.verify(&[]).await;
    assert_passes(code, &doc, "after apply");
    // Reads batched: the triangle has one (cloud, region) scope per cloud.
    for cloud in ["aws", "gcp", "azure"] {
        let n = doc["reads"][cloud].as_u64().unwrap();
        // 8 per scope (GCP: the region and the project's global resources), plus one per
        // Cloud Router (GCP) and per connection (Azure: 2).
        let allowed = match cloud {
            "gcp" => 2 * 8 + 1,
            "azure" => 8 + 2,
            _ => 8,
        };
        assert!(n > 0 && n <= allowed, "{cloud}: {n} reads");
    }

    revoke_gcp_rule_on_aws(&d).await;
    let (code, doc) = d.verify(&[]).await;
    assert_fails(
        code,
        &doc,
        "aws-use1--gcp-usc1",
        "firewall",
        "gcp-usc1 → aws-use1",
        &["sg-", "10.20.0.0/16"],
    );
    assert!(
        !failing(&doc, "fail")
            .iter()
            .any(|(l, c, d, _)| l == "aws-use1--gcp-usc1"
                && c == "firewall"
                && d == "aws-use1 → gcp-usc1"),
        "the other direction still works"
    );
    // The picture shows the same: an arrow the one way that works, the other way down.
    let graph = text(&d.run(&["graph", "--state"]).await);
    let line = graph
        .lines()
        .find(|l| l.contains("net_aws_use1") && l.contains("net_gcp_usc1"))
        .unwrap_or_else(|| panic!("no aws-use1 — gcp-usc1 link in {graph}"));
    assert!(
        line.trim_start().starts_with("net_aws_use1 -->")
            && line.contains("aws-use1 → gcp-usc1 degraded · gcp-usc1 → aws-use1 down"),
        "{line}"
    );
    assert_eq!(
        graph.matches("up both ways").count(),
        2,
        "the two other links are up: {graph}"
    );
    repaired(&d, "the revoked security group rule").await;

    change_psk_of_aws_azure_tunnel(&d).await;
    d.settle();
    let (code, doc) = d.verify(&[]).await;
    assert_fails(
        code,
        &doc,
        "aws-use1--az-eus",
        "tunnels",
        "",
        &["tunnel 1 down"],
    );
    assert_fails(
        code,
        &doc,
        "aws-use1--az-eus",
        "presence",
        "",
        &["pre_shared_key", "differs"],
    );
    repaired(&d, "the changed pre-shared key").await;

    disable_aws_propagation(&d).await;
    let (code, doc) = d.verify(&[]).await;
    assert_fails(
        code,
        &doc,
        "aws-use1--gcp-usc1",
        "routing",
        "aws-use1 → gcp-usc1",
        &["rtb-", "10.20.0.0/16"],
    );
    repaired(&d, "the disabled route propagation").await;

    delete_gcp_static_route(&d).await;
    let (code, doc) = d.verify(&[]).await;
    assert_fails(
        code,
        &doc,
        "az-eus--gcp-usc1",
        "routing",
        "gcp-usc1 → az-eus",
        &["10.30.0.0/16", "network prod-vpc"],
    );
    repaired(&d, "the deleted static route").await;

    delete_nsg_allow(&d).await;
    let (code, doc) = d.verify(&[]).await;
    // peerctl's own narrowing deny now blocks: both it and the missing allow are named.
    assert_fails(
        code,
        &doc,
        "aws-use1--az-eus",
        "firewall",
        "aws-use1 → az-eus",
        &[
            "prod-mesh-aws-use1--az-eus-deny",
            "missing planned rule",
            "allow-tcp",
        ],
    );
    repaired(&d, "the deleted NSG rule").await;
}

/// Apply puts back what was broken (the plan names the drift), and verify passes again.
async fn repaired(d: &Deployed, what: &str) {
    let plan = d.run(&["plan"]).await;
    let out = text(&plan);
    assert!(
        out.contains("outside peerctl"),
        "{what}: plan names no drift: {out}"
    );
    d.apply().await;
    let (code, doc) = d.verify(&[]).await;
    assert_passes(code, &doc, &format!("after apply repaired {what}"));
    let again = text(&d.run(&["plan"]).await);
    assert!(
        again.contains("0 to create, 0 to change, 0 to destroy"),
        "{what}: still drifting after the repair: {again}"
    );
}

/// What peerctl does not own is reported, never deleted; a degraded HA link warns unless
/// `--strict`.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_rules_and_degraded_links() {
    let d = Deployed::new("triangle").await;
    // A GCP deny of higher priority (lower number) than peerctl's allow.
    let body = json!({
        "name": "ops-deny-aws",
        "network": "projects/acme-net/global/networks/prod-vpc",
        "direction": "INGRESS",
        "priority": 100,
        "denied": [{"IPProtocol": "all"}],
        "sourceRanges": ["10.10.0.0/16"],
    });
    d.rest(
        "POST",
        "/compute/v1/projects/acme-net/global/firewalls",
        Some(body),
    )
    .await;
    d.settle();
    let (code, doc) = d.verify(&[]).await;
    assert_fails(
        code,
        &doc,
        "aws-use1--gcp-usc1",
        "firewall",
        "aws-use1 → gcp-usc1",
        &["ops-deny-aws", "priority 100"],
    );
    // Not peerctl's: apply changes nothing about it, and verify still names it.
    let plan = text(&d.run(&["plan"]).await);
    assert!(
        plan.contains("0 to create, 0 to change, 0 to destroy"),
        "{plan}"
    );
    d.rest(
        "GET",
        "/compute/v1/projects/acme-net/global/firewalls/ops-deny-aws",
        None,
    )
    .await;
    d.rest(
        "DELETE",
        "/compute/v1/projects/acme-net/global/firewalls/ops-deny-aws",
        None,
    )
    .await;
    d.settle();

    // One BGP peer of four disabled (gcloud compute routers update-bgp-peer --no-enable):
    // one tunnel of the HA link carries nothing — degraded, not failed.
    let router = d.gcp_path("gcp.router.gcp-usc1");
    let mut r = d.rest("GET", &router, None).await;
    let peers = r["bgpPeers"].as_array_mut().unwrap();
    let peer = peers
        .iter_mut()
        .find(|p| p["name"] == "aws-use1--gcp-usc1-peer1")
        .unwrap();
    peer["enable"] = json!("FALSE");
    let patch = json!({"bgpPeers": r["bgpPeers"].clone()});
    d.rest("PATCH", &router, Some(patch)).await;
    d.settle();
    // peerctl planned the peer enabled: a presence drift (which apply repairs), and the one
    // session down beside three established ones is a warning of its own, not a failure.
    let (code, doc) = d.verify(&[]).await;
    assert_fails(
        code,
        &doc,
        "aws-use1--gcp-usc1",
        "presence",
        "",
        &["aws-use1--gcp-usc1-peer1", "enable"],
    );
    let warned = failing(&doc, "warn");
    assert!(
        warned
            .iter()
            .any(|(l, _, _, causes)| l == "aws-use1--gcp-usc1"
                && causes.contains("BGP not established")),
        "{warned:#?}"
    );
    repaired(&d, "the disabled BGP peer").await;
    let r = d.rest("GET", &router, None).await;
    let peer = r["bgpPeers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "aws-use1--gcp-usc1-peer1")
        .unwrap();
    assert_ne!(peer["enable"], json!("FALSE"), "{peer}");

    // peerctl's own allow rule disabled by hand, then narrowed to tagged instances: both cut
    // aws-use1 → gcp-usc1, both are named, apply puts the rule back as planned.
    let rule = d.gcp_path("gcp.firewall.aws-use1--gcp-usc1.gcp-usc1");
    let name = d.state().resources["gcp.firewall.aws-use1--gcp-usc1.gcp-usc1"]
        .name
        .clone();
    for (what, patch) in [
        ("the disabled firewall rule", json!({"disabled": true})),
        (
            "the firewall rule narrowed to tags",
            json!({"targetTags": ["bastion"]}),
        ),
    ] {
        d.rest("PATCH", &rule, Some(patch)).await;
        d.settle();
        let (code, doc) = d.verify(&[]).await;
        assert_fails(
            code,
            &doc,
            "aws-use1--gcp-usc1",
            "firewall",
            "aws-use1 → gcp-usc1",
            &[&name],
        );
        repaired(&d, what).await;
        let f = d.rest("GET", &rule, None).await;
        assert_ne!(f["disabled"], json!(true), "{what}: {f}");
        assert!(
            f["targetTags"].as_array().is_none_or(|t| t.is_empty()),
            "{what}: {f}"
        );
    }
}

/// One tunnel of four down with nothing drifted: an operator tunes a tunnel option peerctl
/// does not plan (the replay window), and AWS resets that tunnel while the connection is
/// modifying (minutes). The HA link is degraded — a warning, exit 0 — unless `--strict`; the
/// presence check stays green; once the change is done, all four are up again.
#[tokio::test(flavor = "multi_thread")]
async fn one_tunnel_down_without_drift_is_degraded_not_failed() {
    // A clock ten times slower than the other tests': the five-minute modification lasts
    // 3 s of wall time, long enough for two verify runs.
    let d = Deployed::with(
        "aws-gcp",
        peerctl::sandbox::SandboxConfig {
            latency: peerctl::sandbox::latency::Latency { scale: 0.01 },
            ..peerctl::sandbox::SandboxConfig::default()
        },
    )
    .await;
    let (code, doc) = d.verify(&[]).await;
    assert_passes(code, &doc, "after apply");
    let vpn = d
        .state()
        .resources
        .values()
        .find(|r| r.kind == peerctl::plan::resource::Kind::AwsVpnConnection)
        .map(|r| r.id.clone())
        .unwrap();
    let ec2 = d.ec2("us-east-1");
    let c = ec2
        .describe_vpn_connections()
        .vpn_connection_ids(&vpn)
        .send()
        .await
        .unwrap();
    let outside = c.vpn_connections()[0].options().unwrap().tunnel_options()[0]
        .outside_ip_address()
        .unwrap()
        .to_string();
    ec2.modify_vpn_tunnel_options()
        .vpn_connection_id(&vpn)
        .vpn_tunnel_outside_ip_address(&outside)
        .tunnel_options(
            ModifyVpnTunnelOptionsSpecification::builder()
                .replay_window_size(2048)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let (code, doc) = d.verify(&[]).await;
    assert_eq!(code, 0, "degraded is a warning: {doc:#}");
    assert!(failing(&doc, "fail").is_empty(), "{doc:#}");
    let warned = failing(&doc, "warn");
    assert!(
        warned
            .iter()
            .any(|(l, c, _, causes)| l == "aws-use1--gcp-usc1"
                && c == "tunnels"
                && causes.contains("down")),
        "one HA tunnel down is named as degraded: {warned:#?}"
    );
    assert!(
        !warned.iter().any(|(_, c, _, _)| c == "presence"),
        "nothing drifted: {warned:#?}"
    );
    let (code, doc) = d.verify(&["--strict"]).await;
    assert_fails(code, &doc, "aws-use1--gcp-usc1", "tunnels", "", &["down"]);

    d.settle();
    let (code, doc) = d.verify(&["--strict"]).await;
    assert_passes(code, &doc, "after the modification finished");
}

/// mesh12: verify passes from a fresh process, and read calls follow the scopes.
#[tokio::test(flavor = "multi_thread")]
async fn mesh12_verifies_green_with_batched_reads() {
    let d = Deployed::new("mesh12").await;
    let (code, doc) = d.verify(&[]).await;
    assert_passes(code, &doc, "mesh12 after apply");
    assert!(doc["summary"]["pass"].as_u64().unwrap() > 0);
    let topo = peerctl::topology::load(&d.topology).unwrap();
    let state = d.state();
    for cloud in [
        peerctl::cloud::Cloud::Aws,
        peerctl::cloud::Cloud::Gcp,
        peerctl::cloud::Cloud::Azure,
    ] {
        let scopes = scopes(&topo, cloud);
        let forced = state
            .resources
            .values()
            .filter(|r| {
                matches!(
                    r.kind,
                    peerctl::plan::resource::Kind::GcpRouter
                        | peerctl::plan::resource::Kind::AzureConnection
                )
            })
            .filter(|r| r.cloud == cloud)
            .count();
        let n = doc["reads"][cloud.as_str()].as_u64().unwrap() as usize;
        assert!(
            n <= 8 * scopes + forced,
            "{cloud:?}: {n} reads for {scopes} scopes and {forced} forced reads"
        );
    }
}

/// (cloud, region) scopes of a topology's networks: AWS region; GCP project and region, and
/// each project's global resources; Azure subscription and resource group.
fn scopes(topo: &peerctl::topology::Topology, cloud: peerctl::cloud::Cloud) -> usize {
    use peerctl::topology::Location;
    let mut s = std::collections::BTreeSet::new();
    for n in topo.networks.iter().filter(|n| n.cloud == cloud) {
        if let Location::Gcp(g) = &n.location {
            s.insert(g.project.clone());
        }
        s.insert(match &n.location {
            Location::Aws(a) => a.region.clone(),
            Location::Gcp(g) => format!("{}/{}", g.project, g.region),
            Location::Azure(a) => format!("{}/{}", a.subscription, a.resource_group),
        });
    }
    s.len()
}
