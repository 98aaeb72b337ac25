//! verify's Azure observation against the sandbox: an AWS–Azure link (tests/fixtures/
//! azure-aws.yaml) applied, then verified from a fresh process — passing with batched reads,
//! and naming the cause and direction of breakages made through ARM as a user would.

use crate::apply::{peerctl, scaled, text};
use crate::common;
use peerctl::plan::resource::Kind;
use peerctl::sandbox::RunningSandbox;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const API: &str = "api-version=2024-03-01";
const SUB: &str = "00000000-0000-0000-0000-000000000000";
const RG: &str = "net-rg";
const LINK: &str = "aws-use1--az-eus";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/azure-aws.yaml")
}

/// The fixture's sandbox with the link applied and its tunnels settled.
struct Applied {
    sb: RunningSandbox,
    dir: TempDir,
}

impl Applied {
    async fn new() -> Applied {
        let topo = peerctl::topology::load(&fixture()).expect("fixture");
        let sb = common::start_with(topo, scaled()).await;
        let dir = tempfile::tempdir().unwrap();
        let file = fixture();
        let out = peerctl(
            dir.path(),
            &sb.url(),
            &["apply", "-f", file.to_str().unwrap(), "--auto-approve"],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out));
        let a = Applied { sb, dir };
        a.settle();
        a
    }

    /// Lets every handshake and pending operation finish (30 sandbox minutes).
    fn settle(&self) {
        self.sb.sandbox.advance_clock(30 * 60 * 1000);
    }

    async fn verify(&self, extra: &[&str]) -> std::process::Output {
        let file = fixture();
        let mut args = vec!["verify", "-f", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        peerctl(self.dir.path(), &self.sb.url(), &args).await
    }

    async fn verify_json(&self) -> (Option<i32>, Value, String) {
        let out = self.verify(&["--json"]).await;
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify --json: {e}\n{}", text(&out)));
        (out.status.code(), v, text(&out))
    }

    fn state(&self) -> peerctl::state::State {
        peerctl::state::State::load(&self.dir.path().join(".peerctl/state.json")).expect("state")
    }

    /// The recorded (address, cloud name, ARM id) of the Azure resources of `kind` whose
    /// address ends with `suffix`.
    fn recorded(&self, kind: Kind, suffix: &str) -> (String, String, String) {
        let s = self.state();
        let (a, r) = s
            .resources
            .iter()
            .find(|(a, r)| r.kind == kind && a.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {kind} …{suffix} in state"));
        (a.clone(), r.name.clone(), r.id.clone())
    }

    fn keys(&self) -> Vec<String> {
        self.state()
            .secrets
            .values()
            .map(|k| k.expose().to_string())
            .collect()
    }

    fn azure_stat(&self, what: &str) -> u64 {
        self.sb.sandbox.stats_json()["clouds"]["azure"][what]
            .as_u64()
            .unwrap_or(0)
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An ARM call on the sandbox as a user's script would make it: (status, body).
async fn arm(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut req = http()
        .request(method, format!("{url}{path}{sep}{API}"))
        .header("authorization", "Bearer user-token");
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn nsg_path(nsg: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkSecurityGroups/{nsg}"
    )
}

/// The results of `check` in the JSON document, with their verdicts by direction.
fn results<'a>(v: &'a Value, check: &str) -> Vec<&'a Value> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["link"] == LINK && r["check"] == check)
        .collect()
}

fn verdict_of(v: &Value, check: &str, from: &str) -> String {
    results(v, check)
        .iter()
        .find(|r| r["direction"]["from"] == from)
        .map(|r| r["verdict"].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("no {check} result from {from}: {v}"))
}

fn causes(v: &Value, check: &str) -> Vec<String> {
    results(v, check)
        .iter()
        .flat_map(|r| r["causes"].as_array().cloned().unwrap_or_default())
        .map(|c| c["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_aws_azure_link_verifies_with_one_list_per_kind_and_scope() {
    let a = Applied::new().await;
    let (reads, mutating) = (a.azure_stat("reads"), a.azure_stat("mutating"));
    let out = a.verify(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(shown.contains("aws-use1 → az-eus"), "{shown}");
    assert!(shown.contains("az-eus → aws-use1"), "{shown}");
    assert!(
        shown.contains("1/1 tunnels up"),
        "the Azure connection's tunnel is up: {shown}"
    );
    // One scope (the subscription's net-rg): at most 8 lists, plus the one connection's
    // sharedkey GET; and verify writes nothing.
    let verify_reads = a.azure_stat("reads") - reads;
    assert!(
        (1..=8 + 1).contains(&verify_reads),
        "verify made {verify_reads} Azure reads: {}",
        a.sb.sandbox.stats_json()
    );
    assert_eq!(a.azure_stat("mutating"), mutating, "verify wrote to Azure");
    let ops = &a.sb.sandbox.stats_json()["clouds"]["azure"]["operations"];
    assert_eq!(
        ops["VirtualNetworkGatewayConnections_GetSharedKey"].as_u64(),
        Some(1),
        "one sharedkey read per connection: {ops}"
    );

    // The JSON document: every check of the link passes, and no key anywhere.
    let (code, v, all) = a.verify_json().await;
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(v["ok"], true, "{v}");
    for check in ["presence", "tunnels", "routing", "firewall"] {
        for r in results(&v, check) {
            assert_eq!(r["verdict"], "pass", "{check}: {r}");
        }
    }
    for k in a.keys() {
        assert!(
            !all.contains(&k),
            "a pre-shared key reached verify's output"
        );
    }

    // --wait on a passing link returns at once with one attempt.
    let out = a.verify(&["--wait", "30m", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["attempts"], 1);
    a.sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_nsg_allow_fails_one_direction_naming_the_deny_and_the_missing_rule() {
    let a = Applied::new().await;
    let (allow_addr, allow_name, allow_id) = a.recorded(Kind::AzureNsgRule, ".allow-tcp");
    let (_, deny_name, _) = a.recorded(Kind::AzureNsgRule, ".deny");
    let (status, _) = arm(&a.sb.url(), reqwest::Method::DELETE, &allow_id, None).await;
    assert!(
        matches!(status, 200 | 202 | 204),
        "DELETE {allow_id}: {status}"
    );
    a.settle();

    let (code, v, all) = a.verify_json().await;
    assert_eq!(code, Some(3), "{all}");
    // Into Azure is blocked, by peerctl's own narrowing deny, naming the deleted allow.
    assert_eq!(verdict_of(&v, "firewall", "aws-use1"), "fail", "{v}");
    assert_eq!(verdict_of(&v, "firewall", "az-eus"), "pass", "{v}");
    let blocked = causes(&v, "firewall");
    let tcp: Vec<&String> = blocked.iter().filter(|m| m.contains("tcp/443")).collect();
    assert!(!tcp.is_empty(), "{blocked:?}");
    for m in &tcp {
        assert!(m.starts_with("aws-use1 → az-eus blocked"), "{m}");
        assert!(
            m.contains(&format!("NSG rule {deny_name} (priority")),
            "names the deny: {m}"
        );
        assert!(
            m.contains(&format!("missing planned rule {allow_name} ({allow_addr})")),
            "names the missing allow: {m}"
        );
    }
    // ICMP has its own allow, still there: not blocked.
    assert!(
        !blocked.iter().any(|m| m.contains("icmp from")),
        "{blocked:?}"
    );
    let presence = causes(&v, "presence");
    assert!(
        presence
            .iter()
            .any(|m| m.contains(&allow_addr) && m.contains("is missing")),
        "{presence:?}"
    );

    a.sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_shared_key_takes_the_tunnel_down_and_shows_as_key_drift() {
    let a = Applied::new().await;
    let (conn_addr, conn_name, conn_id) = a.recorded(Kind::AzureConnection, "");
    let (status, _) = arm(
        &a.sb.url(),
        reqwest::Method::PUT,
        &format!("{conn_id}/sharedkey"),
        Some(json!({"value": "someone-else-typed-this-key-1"})),
    )
    .await;
    assert!((200..=202).contains(&status), "PUT sharedkey: {status}");
    a.settle();

    let (code, v, all) = a.verify_json().await;
    assert_eq!(code, Some(3), "{all}");
    assert!(!all.contains("someone-else-typed-this-key-1"), "{all}");
    for k in a.keys() {
        assert!(
            !all.contains(&k),
            "a pre-shared key reached verify's output"
        );
    }
    let presence = causes(&v, "presence");
    assert!(
        presence.iter().any(|m| m
            == &format!("{conn_addr} ({conn_name}) shared_key: expected matches, actual differs")),
        "{presence:?}"
    );
    let tunnels = causes(&v, "tunnels");
    assert!(
        tunnels.iter().any(|m| m.starts_with("tunnel 1 down")
            && m.contains(&format!("Azure connection {conn_name}: NotConnected"))),
        "{tunnels:?}"
    );
    // With the tunnel down the gateway no longer routes the AWS prefix: both ways fail.
    let routing = causes(&v, "routing");
    assert!(
        routing
            .iter()
            .any(|m| m.contains("10.10.0.0/16") && m.contains("is not in effect")),
        "{routing:?}"
    );
    a.sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_deny_rule_added_by_hand_is_named_as_the_block() {
    let a = Applied::new().await;
    let (_, _, allow_id) = a.recorded(Kind::AzureNsgRule, ".allow-tcp");
    let nsg = allow_id
        .split("/networkSecurityGroups/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let rule = json!({"properties": {
        "protocol": "Tcp", "access": "Deny", "direction": "Inbound", "priority": 100,
        "sourceAddressPrefix": "10.10.0.0/16", "sourcePortRange": "*",
        "destinationAddressPrefix": "*", "destinationPortRange": "443",
    }});
    let (status, body) = arm(
        &a.sb.url(),
        reqwest::Method::PUT,
        &format!("{}/securityRules/block-aws-https", nsg_path(&nsg)),
        Some(rule),
    )
    .await;
    assert!(matches!(status, 200 | 201), "PUT rule: {status} {body}");
    a.settle();

    let (code, v, all) = a.verify_json().await;
    assert_eq!(code, Some(3), "{all}");
    assert_eq!(verdict_of(&v, "firewall", "aws-use1"), "fail", "{v}");
    assert_eq!(verdict_of(&v, "firewall", "az-eus"), "pass", "{v}");
    let blocked = causes(&v, "firewall");
    assert_eq!(blocked.len(), 1, "only tcp/443 is denied: {blocked:?}");
    assert!(
        blocked[0].starts_with("aws-use1 → az-eus blocked (tcp/443 from 10.10.0.0/16)")
            && blocked[0].contains(&format!("NSG rule block-aws-https (priority 100) in {nsg}"))
            && !blocked[0].contains("missing planned rule"),
        "{blocked:?}"
    );
    // peerctl's own resources are all as planned: presence passes.
    for r in results(&v, "presence") {
        assert_eq!(r["verdict"], "pass", "{r}");
    }
    a.sb.stop().await;
}
