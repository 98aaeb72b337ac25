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
    // The recorded ids are made up: plan from the state alone, without reading any cloud.
    let o = run(
        dir.path(),
        &[
            "plan",
            "-f",
            s(&topo),
            "--detailed-exitcode",
            "--refresh=false",
        ],
    );
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
        for k in [
            "action", "cloud", "type", "name", "link", "network", "region",
        ] {
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
    assert!(m.stdout.contains("subgraph cloud_aws[\"AWS\"]"));
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

/// The subcommands a `--help` text lists under `Commands:` (without `help`).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_and_subcommand_answers_help_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let top = run(dir.path(), &["--help"]);
    assert_eq!(top.code, 0, "{}", top.stderr);
    let mut todo: Vec<Vec<String>> = listed_commands(&top.stdout)
        .into_iter()
        .map(|c| vec![c])
        .collect();
    let firsts: Vec<&str> = todo.iter().map(|p| p[0].as_str()).collect();
    for c in ["plan", "validate", "graph", "sandbox", "completions"] {
        assert!(firsts.contains(&c), "{c} not listed:\n{}", top.stdout);
    }
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = run(dir.path(), &args);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        assert!(
            o.stdout
                .contains(&format!("Usage: peerctl {}", path.join(" "))),
            "{args:?}:\n{}",
            o.stdout
        );
        for sub in listed_commands(&o.stdout) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        seen += 1;
    }
    // The five commands and at least the sandbox's own subcommands.
    assert!(seen > 5, "{seen}");
    // `help CMD` and `-h` are the same help.
    let h = run(dir.path(), &["help", "plan"]);
    assert_eq!(h.code, 0);
    assert!(h.stdout.contains("Usage: peerctl plan"), "{}", h.stdout);
    assert_eq!(run(dir.path(), &["plan", "-h"]).code, 0);
}

#[test]
fn help_of_plan_validate_graph_and_completions_names_every_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (cmd, flags) in [
        (
            "plan",
            &[
                "-f, --file",
                "--state",
                "--out",
                "--json",
                "--detailed-exitcode",
                ".peerctl/state.json",
            ][..],
        ),
        ("validate", &["-f, --file"][..]),
        ("graph", &["-f, --file", "--format", "mermaid", "dot"][..]),
        ("completions", &["<SHELL>", "bash", "zsh", "fish"][..]),
    ] {
        let o = run(dir.path(), &[cmd, "--help"]);
        assert_eq!(o.code, 0, "{cmd}: {}", o.stderr);
        for f in flags {
            assert!(
                o.stdout.contains(f),
                "{cmd} --help lacks {f}:\n{}",
                o.stdout
            );
        }
    }
}

#[test]
fn completions_for_bash_zsh_and_fish_are_scripts_that_know_plan() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef peerctl"),
        ("fish", "complete -c peerctl"),
    ] {
        let o = run(dir.path(), &["completions", shell]);
        assert_eq!(o.code, 0, "{shell}: {}", o.stderr);
        assert!(o.stdout.contains(marker), "{shell}: no {marker}");
        assert!(o.stdout.contains("plan"), "{shell}: no plan command");
        assert!(
            o.stdout.contains("detailed-exitcode"),
            "{shell}: no plan flags"
        );
        assert!(o.stderr.is_empty(), "{shell}: {}", o.stderr);
    }
}

#[test]
fn usage_errors_exit_1_never_2() {
    let dir = tempfile::tempdir().unwrap();
    let topo = example("aws-gcp.yaml");
    for args in [
        vec!["completions", "nosh"],
        vec!["completions"],
        vec!["plan"],
        vec!["plan", "-f", s(&topo), "--detailed-exitcode", "--bogus"],
        vec!["graph", "-f", s(&topo), "--format", "png"],
        vec!["no-such-command"],
    ] {
        let o = run(dir.path(), &args);
        assert_eq!(o.code, 1, "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
        assert!(o.stderr.contains("error:"), "{args:?}: {}", o.stderr);
    }
    let o = run(dir.path(), &["completions", "nosh"]);
    assert!(o.stderr.contains("'nosh'"), "{}", o.stderr);
}

#[test]
fn a_fixed_asn_taken_by_a_linked_networks_recorded_one_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("aws-gcp.yaml")).unwrap();
    // Both ASNs left to the planner at first.
    let free: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("asn:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let topo = dir.path().join("t.yaml");
    std::fs::write(&topo, &free).unwrap();
    let out = dir.path().join("p.plan");
    let o = run(dir.path(), &["plan", "-f", s(&topo), "--out", s(&out)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let plan = saved(&out);
    let mut st = State::empty();
    st.lineage = "44444444-4444-4444-8444-444444444444".into();
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
    // Now the user fixes gcp-usc1's ASN to the one recorded for aws-use1.
    let taken = plan.allocations.asns["aws-use1"];
    let edited = free.replace(
        "    network: prod-vpc\n",
        &format!("    network: prod-vpc\n    asn: {taken}\n"),
    );
    std::fs::write(&topo, &edited).unwrap();
    let line = edited
        .lines()
        .position(|l| l.contains("- name: gcp-usc1"))
        .unwrap()
        + 1;
    // The recorded ids are made up: plan from the state alone, without reading any cloud.
    let o = run(
        dir.path(),
        &[
            "plan",
            "-f",
            s(&topo),
            "--detailed-exitcode",
            "--refresh=false",
        ],
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains(&format!("{}:{line}:", s(&topo))),
        "expected {}:{line}: in {}",
        s(&topo),
        o.stderr
    );
    assert!(
        o.stderr.contains("gcp-usc1") && o.stderr.contains(&taken.to_string()),
        "{}",
        o.stderr
    );
}
