//! The reliability campaign (issue 15): seeded faults and seeded crashes against the sandbox,
//! each run judged by what is left in the clouds, in the state and on the wire.
//!
//! - faults: 10 % server errors and 10 % throttling in all three clouds, a fresh sandbox per
//!   seed: the triangle and mesh12 converge with exactly the planned resources (no duplicate),
//!   every tunnel up, and verify passes;
//! - crashes: an apply killed with SIGKILL at 1–3 seeded moments, then re-run: the run
//!   converges with no duplicate and no orphan (every resource in the clouds is in the state),
//!   verify passes and a plan has nothing to do;
//! - secrets: no pre-shared key of any run appears in any output of the campaign.
//!
//! `PEERCTL_CAMPAIGN=long` runs the long mode (100 fault seeds per topology, 50 crash seeds)
//! instead of the test command's 20 and 10; `PEERCTL_CAMPAIGN_SEED=N` shifts the seeds. Each
//! test prints one summary line (`--nocapture`), the counts docs/reliability.md quotes.

use super::apply::{
    assert_tunnels_up, peerctl, planned_counts as planned, sandbox_for, scaled, secrets_in,
    spawn_apply, stat, text, topology_file,
};
use futures::StreamExt;
use peerctl::sandbox::SandboxConfig;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn long() -> bool {
    std::env::var("PEERCTL_CAMPAIGN").as_deref() == Ok("long")
}

fn first_seed() -> u64 {
    std::env::var("PEERCTL_CAMPAIGN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Runs at a time: the sandboxes are in this process, the appliers are child processes, and
/// most of a run is waiting out scaled provisioning times.
const PARALLEL: usize = 3;

/// The error codes of the sandbox's injected faults, in each cloud's words.
const FAULT_CODES: [&str; 6] = [
    "InternalError",
    "RequestLimitExceeded",
    "backendError",
    "rateLimitExceeded",
    "InternalServerError",
    "SubscriptionRequestsThrottled",
];

/// What one run left behind, for the campaign's totals.
#[derive(Default)]
struct Run {
    /// Applies that exited non-zero under faults (and were run again).
    stopped: u64,
    faults: u64,
    kills: u64,
    applies: u64,
    outputs: Vec<String>,
    secrets: Vec<String>,
}

/// The run's end: exactly the planned resources exist (none twice, none outside the state),
/// every tunnel is up, verify passes from a fresh process and a plan has nothing to do.
async fn assert_converged(
    dir: &Path,
    sb: &peerctl::sandbox::RunningSandbox,
    file: &str,
    name: &str,
    seed: u64,
    run: &mut Run,
) {
    let (resources, standby) = planned(name);
    let stats = sb.sandbox.stats_json();
    assert_eq!(
        stat(&stats, &["created_resources"]),
        resources,
        "{name} seed {seed}: duplicates or missing resources: {stats}"
    );
    let state = peerctl::state::State::load(&dir.join(".peerctl/state.json")).unwrap();
    assert_eq!(
        state.resources.len() as u64,
        resources,
        "{name} seed {seed}: orphans (in the clouds, not in the state)"
    );
    assert_tunnels_up(sb, standby);
    let out = peerctl(dir, &sb.url(), &["verify", "-f", file]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} seed {seed}: verify: {}",
        text(&out)
    );
    run.outputs.push(text(&out));
    let out = peerctl(dir, &sb.url(), &["plan", "-f", file, "--detailed-exitcode"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} seed {seed}: a plan after convergence has changes: {}",
        text(&out)
    );
    run.outputs.push(text(&out));
    run.secrets = secrets_in(&dir.join(".peerctl/state.json"));
}

/// One fault run: apply until it exits 0 (a run the faults stopped is re-run, as a pipeline
/// would; at most 3 applies), then judge it.
async fn fault_run(name: &'static str, seed: u64) -> Run {
    let config = SandboxConfig {
        fault_rate: 0.1,
        throttle_rate: 0.1,
        seed,
        ..scaled()
    };
    let sb = sandbox_for(name, config).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file(name);
    let file = file.to_str().unwrap();
    let mut run = Run::default();
    let mut last = None;
    for _ in 0..3 {
        let out = peerctl(
            dir.path(),
            &sb.url(),
            &["apply", "-f", file, "--auto-approve"],
        )
        .await;
        run.applies += 1;
        run.outputs.push(text(&out));
        let ok = out.status.success();
        if !ok {
            // A run the faults stopped must name the resource and why: the cloud's error, or
            // the wait that ran out (docs/reliability.md: one such timeout seen; its likely
            // mechanism, a late answer judged against the deadline, is fixed).
            let t = text(&out);
            assert!(
                t.contains("error: create ")
                    && (FAULT_CODES.iter().any(|c| t.contains(c)) || t.contains("timed out")),
                "{name} seed {seed}: an apply stopped by faults does not name its cause: {t}"
            );
            eprintln!("{name} seed {seed}: apply stopped by the faults, re-running:\n{t}");
            run.stopped += 1;
        }
        last = Some(out);
        if ok {
            break;
        }
    }
    let last = last.unwrap();
    assert!(
        last.status.success(),
        "{name} seed {seed}: 3 applies did not converge under faults: {}",
        text(&last)
    );
    let stats = sb.sandbox.stats_json();
    run.faults = ["aws", "gcp", "azure"]
        .iter()
        .map(|c| stat(&stats, &["clouds", c, "faults"]))
        .sum();
    assert_converged(dir.path(), &sb, file, name, seed, &mut run).await;
    sb.stop().await;
    run
}

/// `peerctl apply` killed with SIGKILL after `after`; its output so far.
async fn killed_apply(dir: &Path, url: &str, file: &str, after: Duration) -> Output {
    let mut child = spawn_apply(dir, url, file, true);
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (out, err) = (drain(stdout), drain(stderr));
    tokio::time::sleep(after).await;
    // SIGKILL: no cleanup of any kind runs in peerctl.
    let _ = child.start_kill();
    let status = child.wait().await.expect("wait");
    Output {
        status,
        stdout: out.await.unwrap_or_default(),
        stderr: err.await.unwrap_or_default(),
    }
}

/// Reads a child's pipe to its end in the background (so the child never blocks on it).
fn drain<R>(r: Option<R>) -> tokio::task::JoinHandle<Vec<u8>>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut r, &mut buf).await;
        }
        buf
    })
}

/// One crash run on the triangle: 1–3 applies killed at seeded moments over the whole apply
/// (the triangle takes ~3.5 s at this time scale), then one apply to the end.
async fn crash_run(seed: u64) -> Run {
    let name = "triangle";
    let sb = sandbox_for(name, scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file(name);
    let file = file.to_str().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut run = Run::default();
    let (resources, _) = planned(name);
    for _ in 0..1 + rng.next_u32() % 3 {
        let after = Duration::from_millis(50 + u64::from(rng.next_u32() % 3500));
        let out = killed_apply(dir.path(), &sb.url(), file, after).await;
        run.kills += 1;
        run.applies += 1;
        run.outputs.push(text(&out));
        let created = stat(&sb.sandbox.stats_json(), &["created_resources"]);
        assert!(
            created <= resources,
            "seed {seed}: a killed apply left duplicates: {created}"
        );
    }
    let out = peerctl(
        dir.path(),
        &sb.url(),
        &["apply", "-f", file, "--auto-approve"],
    )
    .await;
    run.applies += 1;
    run.outputs.push(text(&out));
    assert!(
        out.status.success(),
        "seed {seed}: the re-run after the kills failed: {}",
        text(&out)
    );
    assert_converged(dir.path(), &sb, file, name, seed, &mut run).await;
    sb.stop().await;
    run
}

/// No key of any run in any output of any run.
fn assert_no_secret_leaked(runs: &[Run]) -> usize {
    let keys: Vec<&String> = runs.iter().flat_map(|r| &r.secrets).collect();
    assert!(!keys.is_empty(), "the campaign recorded no key to look for");
    let mut outputs = 0;
    for r in runs {
        for o in &r.outputs {
            outputs += 1;
            for k in &keys {
                assert!(!o.contains(k.as_str()), "a pre-shared key leaked into: {o}");
            }
        }
    }
    outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeded_faults_in_every_cloud_converge_without_duplicates() {
    let seeds = if long() { 100 } else { 20 };
    let base = first_seed();
    let cases: Vec<(&'static str, u64)> = ["triangle", "mesh12"]
        .into_iter()
        .flat_map(|n| (base..base + seeds).map(move |s| (n, 1000 + s)))
        .collect();
    let runs: Vec<Run> = futures::stream::iter(cases.clone())
        .map(|(n, s)| fault_run(n, s))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let faults: u64 = runs.iter().map(|r| r.faults).sum();
    let applies: u64 = runs.iter().map(|r| r.applies).sum();
    let stopped: u64 = runs.iter().map(|r| r.stopped).sum();
    assert!(
        runs.iter().all(|r| r.faults > 0),
        "a run saw no fault: the campaign tested nothing there"
    );
    let outputs = assert_no_secret_leaked(&runs);
    println!(
        "fault campaign: {} runs ({} seeds × triangle, mesh12), {faults} faults injected, {applies} applies ({stopped} stopped by faults, each naming its cause, then re-run), {outputs} outputs searched for keys, 0 failures",
        runs.len(),
        seeds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeded_kills_of_apply_converge_on_rerun_with_no_orphan_or_duplicate() {
    let seeds = if long() { 50 } else { 10 };
    let base = first_seed();
    let runs: Vec<Run> = futures::stream::iter(base..base + seeds)
        .map(crash_run)
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let kills: u64 = runs.iter().map(|r| r.kills).sum();
    let applies: u64 = runs.iter().map(|r| r.applies).sum();
    let outputs = assert_no_secret_leaked(&runs);
    println!(
        "crash campaign: {} runs, {kills} SIGKILLs, {applies} applies, {outputs} outputs searched for keys, 0 failures",
        runs.len()
    );
}
