//! Per-cloud runners sharing one state document in a real etcd (PEERCTL_TEST_ETCD; these
//! tests fail, never skip, without it), against a sandbox: each runner applies only its
//! cloud's resources, calls no other cloud, waits (exit 4) for the values other clouds
//! publish, and the runners together build what one full apply would.

use crate::apply::{sandbox_for, scaled, text, topology_file};
use crate::state_etcd::fresh_location;
use peerctl::state::backend::Backend;
use std::path::Path;
use std::process::Output;

const KEY: &str = "runners test passphrase";

/// `peerctl --sandbox URL ARGS` in `dir` with the state at `state`, keyed by [`KEY`].
async fn peerctl(dir: &Path, url: &str, state: &str, args: &[&str]) -> Output {
    peerctl_keyed(dir, url, state, KEY, args).await
}

/// [`peerctl`] with the state key `key`.
async fn peerctl_keyed(dir: &Path, url: &str, state: &str, key: &str, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peerctl"));
    cmd.current_dir(dir)
        .arg("--sandbox")
        .arg(url)
        .args(args)
        .arg("--state")
        .arg(state)
        .env("PEERCTL_STATE_KEY", key)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("PEERCTL_SANDBOX")
        .env_remove("PEERCTL_STATE")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("run peerctl"))
        .await
        .expect("join")
}

/// Calls (reads and mutations) the sandbox has answered for `cloud`.
fn calls(stats: &serde_json::Value, cloud: &str) -> u64 {
    let c = &stats["clouds"][cloud];
    c["reads"].as_u64().unwrap_or(0) + c["mutating"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_gcp_aws_runners_without_wait_converge_by_rerunning_and_call_only_their_cloud() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap();
    let state = fresh_location("runners-sequential");
    let mut waited = 0;
    let mut converged = false;
    for round in 0..6 {
        let mut all_zero = true;
        for cloud in ["azure", "gcp", "aws"] {
            let before = sb.sandbox.stats_json();
            let out = peerctl(
                dir.path(),
                &sb.url(),
                &state,
                &["apply", "-f", file, "--auto-approve", "--cloud", cloud],
            )
            .await;
            let after = sb.sandbox.stats_json();
            for other in ["aws", "gcp", "azure"].iter().filter(|c| **c != cloud) {
                assert_eq!(
                    calls(&before, other),
                    calls(&after, other),
                    "round {round}: the {cloud} runner called {other}: {}",
                    text(&out)
                );
            }
            match out.status.code() {
                Some(0) => {}
                Some(4) => {
                    waited += 1;
                    all_zero = false;
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(err.contains("run again after the others"), "{}", text(&out));
                    let said = String::from_utf8_lossy(&out.stdout);
                    assert!(
                        said.contains("waiting: ") && said.contains("(owned by "),
                        "{}",
                        text(&out)
                    );
                }
                _ => panic!("round {round}, {cloud}: {}", text(&out)),
            }
            if round == 0 && cloud == "azure" {
                // Azure's view before the others ran: its links fail naming the missing sides.
                let out = only_calls(&sb, cloud, async {
                    peerctl(
                        dir.path(),
                        &sb.url(),
                        &state,
                        &["verify", "-f", file, "--cloud", cloud],
                    )
                    .await
                })
                .await;
                assert_eq!(out.status.code(), Some(3), "{}", text(&out));
                let said = String::from_utf8_lossy(&out.stdout);
                assert!(
                    said.contains("not built yet: aws's side (run the aws runner)")
                        && said.contains("not built yet: gcp's side (run the gcp runner)"),
                    "{}",
                    text(&out)
                );
            }
        }
        if all_zero {
            converged = true;
            break;
        }
    }
    assert!(converged, "the runners never all exited 0");
    assert!(waited > 0, "no early run waited for another cloud (exit 4)");
    let stats = sb.sandbox.stats_json();
    assert_eq!(stats["created_resources"].as_u64(), Some(47), "{stats}");
    sb.sandbox.advance_clock(60 * 60 * 1000);
    let out = peerctl(dir.path(), &sb.url(), &state, &["verify", "-f", file]).await;
    assert!(out.status.success(), "{}", text(&out));
    // Each cloud's runner verifies its own view, reading no other cloud.
    for cloud in ["aws", "gcp", "azure"] {
        let out = only_calls(&sb, cloud, async {
            peerctl(
                dir.path(),
                &sb.url(),
                &state,
                &["verify", "-f", file, "--cloud", cloud, "--json"],
            )
            .await
        })
        .await;
        assert!(out.status.success(), "{cloud}: {}", text(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let links = doc["links"].as_array().unwrap();
        assert_eq!(
            links.len(),
            2,
            "{cloud} takes part in two of the triangle's links"
        );
        assert!(links
            .iter()
            .all(|l| l["unread"].as_array().is_some_and(|u| u.len() == 1)));
    }

    // The runners destroy in turns: what another cloud still depends on is kept (exit 4).
    let mut kept = 0;
    let mut done = false;
    for round in 0..6 {
        let mut all_zero = true;
        for cloud in ["azure", "gcp", "aws"] {
            let out = only_calls(&sb, cloud, async {
                peerctl(
                    dir.path(),
                    &sb.url(),
                    &state,
                    &["destroy", "-f", file, "--auto-approve", "--cloud", cloud],
                )
                .await
            })
            .await;
            match out.status.code() {
                Some(0) => {}
                Some(4) => {
                    kept += 1;
                    all_zero = false;
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(
                        err.contains("kept: ") && err.contains("destroy with the"),
                        "{}",
                        text(&out)
                    );
                }
                _ => panic!("destroy round {round}, {cloud}: {}", text(&out)),
            }
        }
        if all_zero {
            done = true;
            break;
        }
    }
    assert!(done, "the destroying runners never all exited 0");
    assert!(
        kept > 0,
        "no runner kept a resource another cloud depends on"
    );
    let stats = sb.sandbox.stats_json();
    assert_eq!(stats["created_resources"].as_u64(), Some(0), "{stats}");
    let doc = read_doc(&state).await;
    assert!(
        doc.resources.is_empty() && doc.secrets.is_empty(),
        "{doc:?}"
    );
}

/// Runs `f` and asserts the sandbox answered no call of a cloud other than `cloud` meanwhile.
async fn only_calls<F: std::future::Future<Output = Output>>(
    sb: &peerctl::sandbox::RunningSandbox,
    cloud: &str,
    f: F,
) -> Output {
    let before = sb.sandbox.stats_json();
    let out = f.await;
    let after = sb.sandbox.stats_json();
    for other in ["aws", "gcp", "azure"].iter().filter(|c| **c != cloud) {
        assert_eq!(
            calls(&before, other),
            calls(&after, other),
            "the {cloud} runner called {other}: {}",
            text(&out)
        );
    }
    out
}

/// The state document at `state`, opened with [`KEY`].
async fn read_doc(state: &str) -> peerctl::state::State {
    let loc = peerctl::state::etcd::EtcdLocation::parse(state).unwrap();
    let opts = peerctl::state::open::OpenOptions {
        command: "t".into(),
        keys: peerctl::state::crypt::Keys::with(peerctl::state::crypt::Passphrase::new(KEY)),
        ..Default::default()
    };
    peerctl::state::open::read(&peerctl::state::open::Location::Etcd(loc), &opts)
        .await
        .unwrap()
}

/// Starts one peerctl per argument list at the same time and asserts every one exits 0.
async fn all_succeed_at_once(dir: &Path, url: &str, state: &str, runs: &[&[&str]]) {
    let handles: Vec<_> = runs
        .iter()
        .map(|args| {
            let (dir, url, state) = (dir.to_path_buf(), url.to_string(), state.to_string());
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            tokio::spawn(async move {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = peerctl(&dir, &url, &state, &refs).await;
                (args.join(" "), out)
            })
        })
        .collect();
    for h in handles {
        let (args, out) = h.await.unwrap();
        assert!(out.status.success(), "peerctl {args}: {}", text(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_refuses_a_full_apply_by_name_and_two_racing_applies_take_turns() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap().to_string();
    let state = fresh_location("racing-applies");
    let url = sb.url();

    // Someone holds the GCP writer lock: a full apply (which writes GCP too) is refused at
    // once, naming the holder, and changes nothing.
    let mut other = peerctl::state::etcd::Etcd::connect(
        peerctl::state::etcd::EtcdLocation::parse(&state).unwrap(),
        &Default::default(),
        peerctl::state::crypt::Codec::new(peerctl::state::crypt::Keys::none(), true),
    )
    .await
    .unwrap();
    other
        .lock(
            &[peerctl::cloud::Cloud::Gcp].into_iter().collect(),
            &peerctl::state::backend::Holder::me("the gcp pipeline"),
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
    let out = peerctl(
        dir.path(),
        &url,
        &state,
        &["apply", "-f", &file, "--auto-approve"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`the gcp pipeline`") && err.contains("gcp lock"),
        "{}",
        text(&out)
    );
    assert_eq!(sb.sandbox.stats_json()["mutating"].as_u64(), Some(0));
    other.close().await;

    // Two full applies at once, each willing to wait for the other's lock.
    let full = [
        "apply",
        "-f",
        &file,
        "--auto-approve",
        "--lock-timeout",
        "5m",
    ];
    all_succeed_at_once(dir.path(), &url, &state, &[&full, &full]).await;
    let stats = sb.sandbox.stats_json();
    // One copy of every resource, and the state records each once.
    assert_eq!(stats["created_resources"].as_u64(), Some(47), "{stats}");
    assert_eq!(read_doc(&state).await.resources.len(), 47);
    sb.sandbox.advance_clock(60 * 60 * 1000);
    let out = peerctl(dir.path(), &url, &state, &["verify", "-f", &file]).await;
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn three_runners_started_together_with_wait_converge_and_verify_passes() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap().to_string();
    let state = fresh_location("runners-wait");
    let url = sb.url();
    let runner = |cloud| {
        [
            "apply",
            "-f",
            &file,
            "--auto-approve",
            "--cloud",
            cloud,
            "--wait",
            "5m",
        ]
    };
    let runs = ["aws", "gcp", "azure"].map(runner);
    all_succeed_at_once(dir.path(), &url, &state, &runs.each_ref().map(|r| &r[..])).await;
    let stats = sb.sandbox.stats_json();
    // Every resource once: the three runners drew one set of keys and built no duplicate.
    assert_eq!(stats["created_resources"].as_u64(), Some(47), "{stats}");
    sb.sandbox.advance_clock(60 * 60 * 1000);
    let out = peerctl(dir.path(), &url, &state, &["verify", "-f", &file]).await;
    assert!(out.status.success(), "{}", text(&out));

    // No pre-shared key in clear in etcd.
    let loc = peerctl::state::etcd::EtcdLocation::parse(&state).unwrap();
    let keys = peerctl::state::crypt::Keys::with(peerctl::state::crypt::Passphrase::new(KEY));
    let opts = peerctl::state::open::OpenOptions {
        command: "t".into(),
        keys: keys.clone(),
        ..Default::default()
    };
    let doc = peerctl::state::open::read(&peerctl::state::open::Location::Etcd(loc.clone()), &opts)
        .await
        .unwrap();
    assert!(!doc.secrets.is_empty());
    let mut raw = peerctl::state::etcd::Etcd::connect(
        loc,
        &Default::default(),
        peerctl::state::crypt::Codec::new(keys, true),
    )
    .await
    .unwrap();
    let stored = raw.raw().await.unwrap().unwrap();
    let text_stored = String::from_utf8_lossy(&stored).to_string();
    for s in doc.secrets.values() {
        assert!(
            !text_stored.contains(s.expose()),
            "a pre-shared key is in clear in etcd"
        );
    }

    // A wrong key: a clear error, nothing written, no cloud changed.
    let before = sb.sandbox.stats_json();
    let out = peerctl_keyed(
        dir.path(),
        &url,
        &state,
        "not the key",
        &["apply", "-f", &file, "--auto-approve", "--cloud", "aws"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key") && err.contains(&state),
        "{}",
        text(&out)
    );
    assert_eq!(
        raw.raw().await.unwrap().unwrap(),
        stored,
        "the wrong key wrote the state"
    );
    assert_eq!(sb.sandbox.stats_json()["mutating"], before["mutating"]);
}

/// The same three runners on one local state file: a file is locked for a whole run, so each
/// runner waits for the lock (`--lock-timeout`), and one that waits for values closes the file
/// meanwhile and takes the lock again when it carries on.
#[tokio::test(flavor = "multi_thread")]
async fn three_runners_on_one_local_state_file_take_turns_and_converge() {
    let sb = sandbox_for("triangle", scaled()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = topology_file("triangle");
    let file = file.to_str().unwrap().to_string();
    let state = dir.path().join("state.json").to_str().unwrap().to_string();
    let url = sb.url();
    let runner = |cloud| {
        [
            "apply",
            "-f",
            &file,
            "--auto-approve",
            "--cloud",
            cloud,
            "--wait",
            "5m",
            "--lock-timeout",
            "5m",
        ]
    };
    let runs = ["aws", "gcp", "azure"].map(runner);
    all_succeed_at_once(dir.path(), &url, &state, &runs.each_ref().map(|r| &r[..])).await;
    let stats = sb.sandbox.stats_json();
    assert_eq!(stats["created_resources"].as_u64(), Some(47), "{stats}");
    sb.sandbox.advance_clock(60 * 60 * 1000);
    let out = peerctl(dir.path(), &url, &state, &["verify", "-f", &file]).await;
    assert!(out.status.success(), "{}", text(&out));
}
