//! CLI tests of plan / validate / graph: exit codes (with --detailed-exitcode), the JSON
//! document's shape, the saved plan (mode 0600, stale-plan fields), and that no pre-shared key
//! ever reaches stdout or stderr.

use assert_cmd::Command;
use peerctl::plan::saved::{digest, SavedPlan, Stale};
use peerctl::state::{ResourceState, State};
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topologies")
        .join(name)
}

fn peerctl(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("peerctl").unwrap();
    c.current_dir(dir);
    c
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Out {
    let o = peerctl(dir).args(args).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn saved(path: &Path) -> SavedPlan {
    SavedPlan::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_no_key(plan: &SavedPlan, outs: &[&Out]) {
    assert!(!plan.secrets.is_empty());
    for k in plan.secrets.values() {
        for o in outs {
            assert!(!o.stdout.contains(k.expose()), "a key leaked to stdout");
            assert!(!o.stderr.contains(k.expose()), "a key leaked to stderr");
        }
    }
}

#[test]
fn plan_prints_changes_by_link_and_the_summary_line_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["plan", "-f", s(&example("triangle.yaml"))]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("Link aws-use1 <-> gcp-usc1: ha-vpn-bgp"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("  gcp:\n"), "{}", o.stdout);
    let last = o.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("Plan: ") && last.ends_with(" to create, 0 to change, 0 to destroy."),
        "{last}"
    );
    // The default state path was only read, never created.
    assert!(!dir.path().join(".peerctl").exists());
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_0_once_applied() {
    let dir = tempfile::tempdir().unwrap();
    let topo = example("aws-gcp.yaml");
    let out = dir.path().join("p.plan");
    let o = run(
        dir.path(),
        &[
            "plan",
            "-f",
            s(&topo),
            "--detailed-exitcode",
            "--out",
            s(&out),
        ],
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    // Without the flag changes still exit 0.
    assert_eq!(run(dir.path(), &["plan", "-f", s(&topo)]).code, 0);

    // A state as apply would write it after applying the saved plan: no changes left.
    let plan = saved(&out);
    let mut st = State::empty();
    st.lineage = "22222222-2222-4222-8222-222222222222".into();
    st.serial = 1;
    st.allocations = plan.allocations.clone();
    st.secrets = plan.secrets.clone();
    for r in &plan.resources {
        st.resources.insert(
            r.address.clone(),
            ResourceState::created(r, format!("id-{}", r.address)),
        );
    }
    st.save(&dir.path().join(".peerctl/state.json")).unwrap();
    let o = run(dir.path(), &["plan", "-f", s(&topo), "--detailed-exitcode"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o
        .stdout
        .contains("Plan: 0 to create, 0 to change, 0 to destroy."));
}

#[test]
fn json_plan_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &["plan", "-f", s(&example("triangle.yaml")), "--json"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["topology"], "prod-mesh");
    let sum = &v["summary"];
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(sum["create"].as_u64().unwrap() as usize, changes.len());
    assert_eq!(sum["update"], 0);
    assert_eq!(sum["delete"], 0);
    for c in changes {
        for k in ["action", "cloud", "type", "name", "link"] {
            assert!(c.get(k).is_some(), "change without {k}: {c}");
        }
        assert_eq!(c["action"], "create");
        assert!(c["type"]
            .as_str()
            .unwrap()
            .starts_with(c["cloud"].as_str().unwrap()));
    }
    let links = v["links"].as_array().unwrap();
    assert_eq!(links.len(), 3);
    let bgp = links
        .iter()
        .find(|l| l["strategy"] == "ha-vpn-bgp")
        .expect("an ha-vpn-bgp link");
    assert_eq!(bgp["between"], serde_json::json!(["aws-use1", "gcp-usc1"]));
    let tunnels = bgp["tunnels"].as_array().unwrap();
    assert_eq!(tunnels.len(), 4);
    for (i, t) in tunnels.iter().enumerate() {
        assert_eq!(t["index"], i);
        assert!(t["inside_cidr"].as_str().unwrap().starts_with("169.254."));
        assert!(t["local_asn"].is_u64() && t["peer_asn"].is_u64());
    }
    assert!(v["warnings"].is_array());
}

#[test]
fn saved_plan_is_private_and_records_what_it_was_made_against() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let topo = example("triangle.yaml");
    let out = dir.path().join("plans/p.plan");
    let o = run(dir.path(), &["plan", "-f", s(&topo), "--out", s(&out)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let p = saved(&out);
    let d = digest(&std::fs::read(&topo).unwrap());
    assert_eq!(p.topology_digest, d);
    assert!(p.state.empty && p.state.lineage.is_none());
    assert_eq!(p.secrets.len(), 7);
    assert!(p.check_fresh(&d, &State::empty()).is_ok());

    // A state written since (by an apply elsewhere) makes the plan stale.
    let mut st = State::empty();
    st.lineage = "33333333-3333-4333-8333-333333333333".into();
    st.serial = 1;
    assert!(matches!(
        p.check_fresh(&d, &st),
        Err(Stale::StateCreated { .. })
    ));
    assert!(matches!(
        p.check_fresh("sha256:00", &State::empty()),
        Err(Stale::Topology { .. })
    ));

    // Planned against that state: lineage and serial recorded; a later serial is stale.
    let state_path = dir.path().join("st.json");
    st.save(&state_path).unwrap();
    let out2 = dir.path().join("p2.plan");
    let o = run(
        dir.path(),
        &[
            "plan",
            "-f",
            s(&topo),
            "--state",
            s(&state_path),
            "--out",
            s(&out2),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let p2 = saved(&out2);
    assert_eq!(p2.state.lineage.as_deref(), Some(st.lineage.as_str()));
    assert_eq!(p2.state.serial, 1);
    assert!(p2.check_fresh(&d, &st).is_ok());
    st.serial = 2;
    assert!(matches!(
        p2.check_fresh(&d, &st),
        Err(Stale::Serial { planned: 1, now: 2 })
    ));
}

#[test]
fn no_pre_shared_key_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let topo = example("mesh12.yaml");
    let human_plan = dir.path().join("h.plan");
    let json_plan = dir.path().join("j.plan");
    let human = run(
        dir.path(),
        &["plan", "-f", s(&topo), "--out", s(&human_plan)],
    );
    let json = run(
        dir.path(),
        &[
            "-vvv",
            "plan",
            "-f",
            s(&topo),
            "--json",
            "--out",
            s(&json_plan),
        ],
    );
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_no_key(&saved(&human_plan), &[&human]);
    assert_no_key(&saved(&json_plan), &[&json]);
    // Each run draws fresh keys when no state records them.
    assert_ne!(saved(&human_plan).secrets, saved(&json_plan).secrets);
}

#[test]
fn invalid_topology_prints_every_diagnostic_exits_1_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nname: bad\nnetworks:\n  - name: a\n    cloud: aws\n    region: us-east-1\n    vpc_id: vpc-1\n    cidrs: [10.0.0.0/33]\n  - name: b\n    cloud: moon\n    cidrs: [10.1.0.0/16]\nlinks:\n  - between: [a, c]\n",
    )
    .unwrap();
    let out = dir.path().join("p.plan");
    for args in [
        vec!["plan", "-f", s(&bad), "--out", s(&out)],
        vec!["plan", "-f", s(&bad), "--json"],
        vec!["validate", "-f", s(&bad)],
        vec!["graph", "-f", s(&bad)],
    ] {
        let o = run(dir.path(), &args);
        assert_eq!(o.code, 1, "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
        let diags: Vec<&str> = o
            .stderr
            .lines()
            .filter(|l| l.contains("bad.yaml:"))
            .collect();
        assert!(
            diags.len() >= 3,
            "{args:?}: expected every problem, got:\n{}",
            o.stderr
        );
        assert!(o.stderr.contains("bad.yaml:8:"), "{}", o.stderr);
    }
    assert!(!out.exists());
}

#[test]
fn validate_accepts_every_example() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["triangle.yaml", "aws-gcp.yaml", "mesh12.yaml"] {
        let o = run(dir.path(), &["validate", "-f", s(&example(f))]);
        assert_eq!(o.code, 0, "{f}: {}", o.stderr);
        assert!(o.stderr.is_empty(), "{f}: {}", o.stderr);
    }
}

#[test]
fn graph_groups_networks_by_cloud_and_labels_links() {
    let dir = tempfile::tempdir().unwrap();
    let topo = example("triangle.yaml");
    let m = run(dir.path(), &["graph", "-f", s(&topo)]);
    assert_eq!(m.code, 0);
    assert!(m.stdout.starts_with("flowchart LR\n"));
    assert!(m.stdout.contains("subgraph aws[\"AWS\"]"));
    assert!(
        m.stdout.contains("|\"ha-vpn-bgp, 4 tunnels\"|"),
        "{}",
        m.stdout
    );
    assert!(
        m.stdout.contains("|\"classic-vpn-static, 2 tunnels\"|"),
        "{}",
        m.stdout
    );
    assert!(
        m.stdout.contains("|\"classic-vpn-static, 1 tunnel\"|"),
        "{}",
        m.stdout
    );
    let d = run(dir.path(), &["graph", "-f", s(&topo), "--format", "dot"]);
    assert_eq!(d.code, 0);
    assert!(d.stdout.contains("subgraph cluster_gcp {"));
    assert!(
        d.stdout
            .contains("\"aws-use1\" -- \"gcp-usc1\" [label=\"ha-vpn-bgp, 4 tunnels\"];"),
        "{}",
        d.stdout
    );
}

#[test]
fn a_corrupt_state_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("st.json");
    std::fs::write(&st, "{not json").unwrap();
    let o = run(
        dir.path(),
        &["plan", "-f", s(&example("aws-gcp.yaml")), "--state", s(&st)],
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("st.json"), "{}", o.stderr);
}
