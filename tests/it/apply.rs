//! End to end: the peerctl binary applies, re-applies and destroys topologies against a
//! sandbox running in the test (real SDK clients on loopback), and the sandbox's own view
//! (stats, the physics' tunnel and BGP verdicts) says whether it worked.

use crate::common;
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::net::BgpState;
use peerctl::sandbox::{RunningSandbox, SandboxConfig};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Time scale of these runs: real durations ÷ 1000 (an Azure gateway takes ~2 s).
const SCALE: f64 = 0.001;

pub fn topology_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topologies")
        .join(format!("{name}.yaml"))
}

pub async fn sandbox_for(name: &str, config: SandboxConfig) -> RunningSandbox {
    let topo = peerctl::topology::load(&topology_file(name)).expect("topology");
    common::start_with(topo, config).await
}

pub fn scaled() -> SandboxConfig {
    SandboxConfig {
        latency: Latency { scale: SCALE },
        ..SandboxConfig::default()
    }
}

/// Runs the peerctl binary in `dir` against the sandbox at `url`, without a terminal.
pub async fn peerctl(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peerctl"));
    cmd.current_dir(dir)
        .arg("--sandbox")
        .arg(url)
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("PEERCTL_SANDBOX")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("run peerctl"))
        .await
        .expect("join")
}

pub fn text(o: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn stat(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_u64().unwrap_or(0)
}

/// The pre-shared keys recorded in a state file.
pub fn secrets_in(state: &Path) -> Vec<String> {
    let s = peerctl::state::State::load(state).expect("state");
    s.secrets.values().map(|k| k.expose().to_string()).collect()
}

/// Every tunnel end that found its peer is up, BGP is established wherever configured, and
/// the ends without a peer are exactly `standby` (AWS tunnel 2 of Azure links).
pub fn assert_tunnels_up(sb: &RunningSandbox, standby: usize) {
    sb.sandbox.advance_clock(30 * 60 * 1000);
    sb.sandbox.inspect(|_, net| {
        let mut no_peer = 0;
        for (id, end) in &net.ends {
            if end.peer.is_none() {
                no_peer += 1;
                continue;
            }
            assert!(end.up, "{id:?} is down: {:?}", end.reason);
            if let Some(bgp) = &end.bgp {
                assert_eq!(bgp.state, BgpState::Established, "{id:?}: {:?}", bgp.detail);
                assert!(!bgp.learned.is_empty(), "{id:?} learned no route");
            }
        }
        assert_eq!(no_peer, standby, "ends without a peer: {:?}", net.ends);
        assert!(!net.ends.is_empty());
    });
}

async fn apply_reapply_destroy(name: &str, planned: u64, standby: usize) {
    let sb = sandbox_for(name, scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file(name);
    let file = file.to_str().unwrap();
    let mut outputs = Vec::new();

    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Apply complete"),
        "{}",
        text(&out)
    );
    outputs.push(out);
    let stats = sb.sandbox.stats_json();
    assert_eq!(stat(&stats, &["created_resources"]), planned, "{stats}");
    assert_tunnels_up(&sb, standby);

    // A second apply has nothing to do and changes nothing in any cloud.
    let before = sb.sandbox.stats_json();
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No changes"),
        "{}",
        text(&out)
    );
    let after = sb.sandbox.stats_json();
    assert_eq!(
        stat(&after, &["mutating"]),
        stat(&before, &["mutating"]),
        "a no-op apply made mutating calls: {after}"
    );
    outputs.push(out);

    let state = dir.path().join(".peerctl/state.json");
    let keys = secrets_in(&state);
    assert!(!keys.is_empty());

    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["plan", "-f", file, "--detailed-exitcode"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    outputs.push(out);

    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["destroy", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    outputs.push(out);
    let stats = sb.sandbox.stats_json();
    assert_eq!(stat(&stats, &["created_resources"]), 0, "{stats}");

    for o in &outputs {
        let t = text(o);
        for k in &keys {
            assert!(
                !t.contains(k.as_str()),
                "a pre-shared key reached the output: {t}"
            );
        }
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triangle_applies_reapplies_as_a_no_op_and_destroys_to_nothing() {
    // 47 planned resources; AWS tunnel 2 of the AWS–Azure link is standby by design.
    apply_reapply_destroy("triangle", 47, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh12_applies_reapplies_as_a_no_op_and_destroys_to_nothing() {
    let (resources, standby) = planned_counts("mesh12");
    apply_reapply_destroy("mesh12", resources, standby).await;
}

/// The planned resources of a topology on an empty state, and its standby tunnels (AWS
/// tunnel 2 of Azure links: ends without a peer by design).
pub fn planned_counts(name: &str) -> (u64, usize) {
    let topo = peerctl::topology::load(&topology_file(name)).unwrap();
    let plan = common_plan(&topo);
    let standby = plan
        .links
        .iter()
        .flat_map(|l| &l.tunnels)
        .filter(|t| t.standby)
        .count();
    (plan.resources.len() as u64, standby)
}

/// The topology's plan on an empty state (for counts).
pub fn common_plan(topo: &peerctl::topology::Topology) -> peerctl::plan::Plan {
    use rand_core::SeedableRng;
    let tpl = peerctl::plan::templates::Templates::embedded().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    peerctl::plan::plan(topo, &peerctl::state::State::empty(), &tpl, &mut rng).unwrap()
}

/// Starts `peerctl apply -f FILE --auto-approve` in the background against `url`; its output
/// is piped when `piped`, else discarded.
pub fn spawn_apply(dir: &Path, url: &str, file: &str, piped: bool) -> tokio::process::Child {
    let out = || {
        if piped {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        }
    };
    tokio::process::Command::new(env!("CARGO_BIN_EXE_peerctl"))
        .current_dir(dir)
        .args(["--sandbox", url, "apply", "-f", file, "--auto-approve"])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(std::process::Stdio::null())
        .stdout(out())
        .stderr(out())
        .spawn()
        .expect("spawn peerctl")
}

/// Starts `peerctl apply` and kills it with SIGKILL after `after`.
async fn apply_killed_after(dir: &Path, url: &str, file: &str, after: std::time::Duration) {
    let mut child = spawn_apply(dir, url, file, false);
    tokio::time::sleep(after).await;
    // SIGKILL: no cleanup of any kind runs in peerctl.
    let _ = child.start_kill();
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_at_several_points_converges_on_rerun_without_duplicates() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    // Early (during the first creates), mid-way (AWS connections, Azure gateway pending) and
    // late (Azure connections); each run picks up where the state says.
    for ms in [150u64, 700, 1400, 2300] {
        apply_killed_after(
            dir.path(),
            &sb.url(),
            file,
            std::time::Duration::from_millis(ms),
        )
        .await;
        let created = stat(&sb.sandbox.stats_json(), &["created_resources"]);
        assert!(created <= 47, "a killed apply left duplicates: {created}");
    }
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stat(&sb.sandbox.stats_json(), &["created_resources"]), 47);
    assert_tunnels_up(&sb, 1);
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["plan", "-f", file, "--detailed-exitcode"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_state_deleted_apply_adopts_everything_and_the_tunnels_come_up_again() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let state = dir.path().join(".peerctl/state.json");
    let old_keys = secrets_in(&state);
    std::fs::remove_file(&state).unwrap();

    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stat(&sb.sandbox.stats_json(), &["created_resources"]),
        47,
        "adoption made twins"
    );
    // New keys were drawn; every tunnel end was brought to them.
    let new_keys = secrets_in(&state);
    assert!(new_keys.iter().all(|k| !old_keys.contains(k)));
    assert_tunnels_up(&sb, 1);
    for k in old_keys.iter().chain(&new_keys) {
        assert!(!text(&out).contains(k.as_str()));
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_state_deleted_destroy_finds_the_resources_by_name_and_tags() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_file(dir.path().join(".peerctl/state.json")).unwrap();
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["destroy", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stat(&sb.sandbox.stats_json(), &["created_resources"]), 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_server_errors_and_ten_percent_throttling_still_converge() {
    let config = SandboxConfig {
        fault_rate: 0.1,
        throttle_rate: 0.1,
        seed: 11,
        ..scaled()
    };
    let sb = sandbox_for("triangle", config).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let stats = sb.sandbox.stats_json();
    assert_eq!(stat(&stats, &["created_resources"]), 47);
    let faults: u64 = ["aws", "gcp", "azure"]
        .iter()
        .map(|c| stat(&stats, &["clouds", c, "faults"]))
        .sum();
    assert!(
        faults > 10,
        "too few faults were injected to mean anything: {stats}"
    );
    assert_tunnels_up(&sb, 1);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_missing_or_different_in_the_clouds_stop_apply_before_anything_is_created() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let text_of = std::fs::read_to_string(topology_file("triangle")).unwrap();
    let wrong = text_of
        .replace("vpc-0a1b2c3d4e5f60789", "vpc-0000000000000dead")
        .replace("10.20.0.0/16", "10.21.0.0/16")
        .replace("vnet: prod-vnet", "vnet: other-vnet");
    let file = dir.path().join("wrong.yaml");
    std::fs::write(&file, wrong).unwrap();
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file.to_str().unwrap(), "--auto-approve"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "aws-use1",
        "vpc-0000000000000dead",
        "gcp-usc1",
        "10.21.0.0/16",
        "az-eus",
        "other-vnet",
        "nothing was created",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {}", text(&out));
    }
    let stats = sb.sandbox.stats_json();
    assert_eq!(stat(&stats, &["created_resources"]), 0);
    assert_eq!(stat(&stats, &["mutating"]), 0, "{stats}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_terminal_or_auto_approve_refuses_and_changes_nothing() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto-approve"));
    assert_eq!(stat(&sb.sandbox.stats_json(), &["mutating"]), 0);
    assert!(!dir.path().join(".peerctl/state.json").exists());
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let out = peerctl(
        dir.path(),
        "http://127.0.0.1:9",
        &["apply", "-f", file.to_str().unwrap(), "--auto-approve"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("http://127.0.0.1:9"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join(".peerctl/state.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pre_shared_key_reaches_trace_logs_json_events_or_state_commands() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    let mut outs = vec![
        peerctl(
            dir.path(),
            &sb.url(),
            &["-vvv", "apply", "-f", file, "--auto-approve", "--json"],
        )
        .await,
    ];
    assert!(outs[0].status.success(), "{}", text(&outs[0]));
    let state = dir.path().join(".peerctl/state.json");
    let keys = secrets_in(&state);
    assert_eq!(
        keys.len(),
        7,
        "one key per tunnel (the standby one included)"
    );
    let listed = peerctl(dir.path(), &sb.url(), &["state", "list"]).await;
    let addresses: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect();
    assert_eq!(addresses.len(), 47, "{}", text(&listed));
    outs.push(listed);
    for a in addresses.iter().filter(|a| {
        a.contains("vpn_connection.") || a.contains("vpn_tunnel") || a.contains("azure.connection")
    }) {
        for json in [false, true] {
            let mut args = vec!["state", "show", a.as_str()];
            if json {
                args.push("--json");
            }
            let o = peerctl(dir.path(), &sb.url(), &args).await;
            assert!(o.status.success(), "{}", text(&o));
            assert!(
                String::from_utf8_lossy(&o.stdout).contains("(sensitive)"),
                "{}",
                text(&o)
            );
            outs.push(o);
        }
    }
    outs.push(
        peerctl(
            dir.path(),
            &sb.url(),
            &["-vvv", "plan", "-f", file, "--json"],
        )
        .await,
    );
    outs.push(
        peerctl(
            dir.path(),
            &sb.url(),
            &["-vvv", "destroy", "-f", file, "--auto-approve", "--json"],
        )
        .await,
    );
    // Every JSON event line parses; nothing of any output holds a key.
    for line in String::from_utf8_lossy(&outs[0].stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["event"].is_string(), "{line}");
    }
    for o in &outs {
        let t = text(o);
        for k in &keys {
            assert!(
                !t.contains(k.as_str()),
                "a pre-shared key reached an output"
            );
        }
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_in_every_cloud_stop_apply_before_anything_is_created() {
    let config = SandboxConfig {
        reject_credentials: true,
        ..scaled()
    };
    let sb = sandbox_for("triangle", config).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file.to_str().unwrap(), "--auto-approve"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for cloud in ["AWS", "GCP", "Azure"] {
        assert!(
            err.lines().any(|l| l.starts_with("preflight: ")
                && l.contains(cloud)
                && l.contains("credentials")),
            "no credentials problem for {cloud}: {}",
            text(&out)
        );
    }
    assert!(err.contains("nothing was created"), "{}", text(&out));
    let stats = sb.sandbox.stats_json();
    assert_eq!(stat(&stats, &["mutating"]), 0, "{stats}");
    assert_eq!(stat(&stats, &["created_resources"]), 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_operations_finish_records_them_and_a_rerun_completes() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    let child = spawn_apply(dir.path(), &sb.url(), file, true);
    // Signal once the Azure gateway (2.1 s here) is being created: other resources are done
    // by then, and the gateway is still in flight.
    use tokio::io::AsyncBufReadExt;
    let mut child = child;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        seen.push_str(&l);
        seen.push('\n');
        if l.contains("azure.vpn_gateway.az-eus: started") {
            break;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = child.id().unwrap();
    let rc = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(rc.success());
    while let Some(l) = lines.next_line().await.unwrap() {
        seen.push_str(&l);
        seen.push('\n');
    }
    let out = child.wait_with_output().await.unwrap();
    let all = format!("{seen}{}", text(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cancelled by a signal"), "{all}");
    // The gateway in flight was waited for and recorded, not abandoned.
    assert!(seen.contains("azure.vpn_gateway.az-eus: created"), "{all}");
    // What finished is in the state, and only what exists.
    let state = peerctl::state::State::load(&dir.path().join(".peerctl/state.json")).unwrap();
    let recorded = state.resources.len() as u64;
    assert!(recorded > 0 && recorded < 47, "recorded {recorded}");
    assert!(stat(&sb.sandbox.stats_json(), &["created_resources"]) >= recorded);
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stat(&sb.sandbox.stats_json(), &["created_resources"]), 47);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_on_a_locked_state_is_refused_naming_the_holder() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    let mut first = spawn_apply(dir.path(), &sb.url(), file, false);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let pid = first.id().unwrap();
    assert!(
        err.contains("locked by `peerctl apply`") && err.contains(&format!("pid {pid}")),
        "{}",
        text(&out)
    );
    assert!(first.wait().await.unwrap().success());
    assert_eq!(stat(&sb.sandbox.stats_json(), &["created_resources"]), 47);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_once_and_is_refused_when_stale() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    std::fs::copy(topology_file("triangle"), &file).unwrap();
    let file = file.to_str().unwrap();
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["plan", "-f", file, "--out", "p.json"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve", "p.json"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stat(&sb.sandbox.stats_json(), &["created_resources"]), 47);
    // The keys applied are the plan's.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap()).unwrap();
    let planned: Vec<String> = saved["secrets"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut recorded = secrets_in(&dir.path().join(".peerctl/state.json"));
    let mut planned_sorted = planned.clone();
    recorded.sort();
    planned_sorted.sort();
    assert_eq!(recorded, planned_sorted);
    // The same plan again: the state moved since it was made.
    let before = stat(&sb.sandbox.stats_json(), &["mutating"]);
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve", "p.json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stale"),
        "{}",
        text(&out)
    );
    assert_eq!(stat(&sb.sandbox.stats_json(), &["mutating"]), before);
    for k in &planned {
        assert!(!text(&out).contains(k.as_str()));
    }
    sb.stop().await;
}
