//! `peerctl sandbox serve|stats|reset|reach` and `--sandbox [URL]` as a user runs them: the
//! real binary, a real server process, the world persisted under --data.

use assert_cmd::Command;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

const TRIANGLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/triangle.yaml");

/// A `peerctl sandbox serve` process, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Server {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_peerctl"))
        .args([
            "sandbox",
            "serve",
            "-f",
            TRIANGLE,
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn peerctl sandbox serve");
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("first line");
    // Keep reading what the server prints, or it dies of a broken pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    Server { child, url }
}

/// One EC2 Query call; returns the XML body (panics on an error status).
fn ec2(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Version", "2016-11-15");
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let r = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("post");
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "{status}: {text}");
        text
    })
}

fn peerctl() -> Command {
    let mut c = Command::cargo_bin("peerctl").expect("binary");
    c.env_remove("PEERCTL_SANDBOX")
        .env("NO_PROXY", "127.0.0.1,localhost");
    c
}

fn stats(url: &str) -> serde_json::Value {
    let out = peerctl()
        .args(["--sandbox", url, "sandbox", "stats", "--json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats JSON")
}

#[test]
fn stats_command_counts_each_call_by_cloud_and_operation() {
    let server = serve(&[]);
    ec2(&server.url, &[("Action", "DescribeVpcs")]);
    ec2(&server.url, &[("Action", "DescribeVpcs")]);
    let s = stats(&server.url);
    assert_eq!(s["clouds"]["aws"]["operations"]["DescribeVpcs"], 2, "{s}");
    assert_eq!(s["clouds"]["aws"]["reads"], 2, "{s}");
    assert_eq!(s["clouds"]["aws"]["mutating"], 0, "{s}");
    assert_eq!(
        s["created_resources"], 0,
        "seeded networks are not created resources: {s}"
    );
}

#[test]
fn world_persists_across_server_restarts_under_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("world");
    let data_arg = data.to_str().expect("utf-8 path");
    let vgw = {
        let server = serve(&["--data", data_arg]);
        let body = ec2(
            &server.url,
            &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")],
        );
        let start = body.find("<vpnGatewayId>").expect("id") + "<vpnGatewayId>".len();
        body[start..start + body[start..].find('<').expect("end")].to_string()
    };
    let world = data.join("world.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&world)
            .expect("world.json")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the world holds pre-shared keys");
    }
    let server = serve(&["--data", data_arg]);
    let body = ec2(&server.url, &[("Action", "DescribeVpnGateways")]);
    assert!(body.contains(&vgw), "{vgw} lost across a restart: {body}");
    assert_eq!(stats(&server.url)["created_resources"], 1);
}

#[test]
fn reset_returns_to_the_seeded_world() {
    let server = serve(&[]);
    ec2(
        &server.url,
        &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")],
    );
    assert_eq!(stats(&server.url)["created_resources"], 1);
    peerctl()
        .args(["--sandbox", &server.url, "sandbox", "reset"])
        .assert()
        .success();
    assert_eq!(stats(&server.url)["created_resources"], 0);
}

#[test]
fn reach_exits_3_and_names_the_cause_when_nothing_connects_two_networks() {
    let server = serve(&[]);
    let out = peerctl()
        .args(["--sandbox", &server.url, "sandbox", "reach"])
        .args(["--from", "aws-use1", "--to", "gcp-usc1", "--port", "443"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT reachable"), "{text}");
    let out = peerctl()
        .args(["--sandbox", &server.url, "sandbox", "reach", "--json"])
        .args(["--from", "aws-use1", "--to", "gcp-usc1", "--port", "443"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["reachable"], false);
    assert_eq!(v["flow"], serde_json::json!({"proto": "tcp", "port": 443}));
    assert_eq!(v["from"]["name"], "aws-use1");
    assert!(
        v["blocked"]
            .as_str()
            .unwrap_or("")
            .contains("AWS→GCP blocked"),
        "{v}"
    );
}

#[test]
fn in_process_sandbox_is_seeded_once_and_kept_under_dot_peerctl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        peerctl()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run")
    };
    // Nothing seeded yet and no topology given: a clear error, nothing created.
    let out = run(&["--sandbox", "sandbox", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass -f TOPOLOGY"));
    assert!(!dir.path().join(".peerctl").exists());
    // Seeded from the topology on first use, then reused without it.
    let out = run(&["--sandbox", "sandbox", "stats", "-f", TRIANGLE]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(Path::new(&dir.path().join(".peerctl/sandbox/world.json")).exists());
    let out = run(&["--sandbox", "sandbox", "stats", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_refuses_a_fault_rate_outside_0_to_1() {
    let out = peerctl()
        .args(["sandbox", "serve", "-f", TRIANGLE, "--fault-rate", "1.5"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fault-rate must be between 0 and 1"));
}

#[test]
fn a_url_that_is_not_one_is_refused() {
    let out = peerctl()
        .args(["--sandbox", "127.0.0.1:4566", "sandbox", "stats"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sandbox takes a URL"));
}

#[test]
fn reset_is_persisted_under_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("world");
    let data_arg = data.to_str().expect("utf-8 path");
    {
        let server = serve(&["--data", data_arg]);
        ec2(
            &server.url,
            &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")],
        );
        peerctl()
            .args(["--sandbox", &server.url, "sandbox", "reset"])
            .assert()
            .success();
    }
    let server = serve(&["--data", data_arg]);
    assert_eq!(
        stats(&server.url)["created_resources"],
        0,
        "a restart must not bring back what reset removed"
    );
}

#[test]
fn usage_errors_exit_1_so_that_2_always_means_changes() {
    for args in [
        &["plan", "--bogus"][..],
        &["plan"],
        &["sandbox", "serve"],
        &["graph", "-f", TRIANGLE, "--format", "png"],
        &[],
    ] {
        let out = peerctl().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(1), "peerctl {args:?}");
        assert!(!out.stderr.is_empty(), "peerctl {args:?} says why");
    }
    for args in [
        &["--help"][..],
        &["--version"],
        &["sandbox", "serve", "--help"],
    ] {
        let out = peerctl().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "peerctl {args:?}");
    }
}

#[test]
fn in_process_reset_without_a_topology_goes_back_to_the_recorded_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        peerctl()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run")
    };
    let reach = [
        "--sandbox",
        "sandbox",
        "reach",
        "--from",
        "aws-use1",
        "--to",
        "gcp-usc1",
    ];
    let reach = [&reach[..], &["--port", "443"]].concat();
    let out = run(&["--sandbox", "sandbox", "stats", "-f", TRIANGLE]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No -f: the reset must restore the seeded networks, not an empty world.
    let out = run(&["--sandbox", "sandbox", "reset"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&reach);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no route"),
        "the networks survive the reset: {text}"
    );
    assert!(!text.contains("knows no network"), "{text}");
}

#[test]
fn reach_needs_a_port_for_tcp_and_udp_and_none_for_icmp() {
    let server = serve(&[]);
    let base = ["--sandbox", server.url.as_str(), "sandbox", "reach"];
    let nets = ["--from", "aws-use1", "--to", "gcp-usc1"];
    for (extra, msg) in [
        (&["--proto", "tcp"][..], "needs --port"),
        (&["--proto", "udp"], "needs --port"),
        (
            &["--proto", "icmp", "--port", "7"],
            "not used with --proto icmp",
        ),
    ] {
        let out = peerctl()
            .args(base)
            .args(nets)
            .args(extra)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(msg),
            "{extra:?}"
        );
    }
    let out = peerctl()
        .args(base)
        .args(nets)
        .args(["--proto", "icmp"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "icmp without a port is a question"
    );
}

/// The binary turns transparent huge pages off for itself (src/main.rs, `small_pages_only`;
/// docs/performance.md, "Transparent huge pages"): a long-running `sandbox serve` shows it in
/// its /proc status. Linux only; a kernel older than 5.0 has no `THP_enabled` line to read.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_runs_without_transparent_huge_pages() {
    let own = std::fs::read_to_string("/proc/self/status").expect("own status");
    if !own.lines().any(|l| l.starts_with("THP_enabled:")) {
        eprintln!("this kernel shows no THP_enabled in /proc/PID/status; nothing to check");
        return;
    }
    let server = serve(&[]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .expect("server status");
    let thp = status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .map(str::trim);
    assert_eq!(thp, Some("0"), "peerctl's own status: {status}");
}
