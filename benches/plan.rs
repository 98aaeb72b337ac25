//! Planner benchmark (a binary printing figures, not a timed test): generated topologies of
//! 10, 100 and 1,000 networks, hub-and-spoke and small meshes, within the clouds' hard limits.
//! Each case runs in a child process so that its peak RSS (VmHWM) is its own.
//! A second child per case times a re-plan against the state apply would leave (the diff of
//! every resource).
//! A third table runs the real binary: whole `peerctl plan --json` and `peerctl validate`
//! processes on the generated files (start, read, validate, plan, render, print to a pipe),
//! timed from spawn to exit with the child's own peak RSS (`wait4`'s `ru_maxrss`): the figure a
//! pipeline sees.
//! Run: `cargo bench --bench plan`. Target: 1,000 networks in <= 200 ms, <= 150 MB peak RSS.
//! `-- --processes` runs the third table alone (`PEERCTL_BENCH_BIN=PATH` runs another peerctl
//! build on the same files, `PEERCTL_BENCH_RUNS=N` takes medians of N); `-- --write DIR` only
//! writes the generated files (to profile one process by hand).

#[path = "support/process.rs"]
mod process;

use peerctl::cloud::Cloud;
use peerctl::plan::templates::Templates;
use peerctl::plan::{plan, render};
use peerctl::state::{ResourceState, State};
use peerctl::topology::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [10, 100, 1000];
const SHAPES: [&str; 2] = ["hub-spoke", "mesh3"];
const AWS_REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
];

fn cloud_str(c: Cloud) -> &'static str {
    c.as_str()
}

/// Network i of cloud c: a /24 in 10.0.0.0/8 (its last /27 is the Azure GatewaySubnet).
fn yaml_network(s: &mut String, i: usize, c: Cloud) {
    let (x, y) = (i >> 8, i & 255);
    let name = format!("n{i:04}-{}", cloud_str(c));
    let _ = writeln!(s, "  - name: {name}\n    cloud: {}", cloud_str(c));
    match c {
        Cloud::Aws => {
            let _ = writeln!(
                s,
                "    region: {}\n    vpc_id: vpc-{i:08x}",
                AWS_REGIONS[i % AWS_REGIONS.len()]
            );
        }
        Cloud::Gcp => {
            let _ = writeln!(
                s,
                "    project: bench-net\n    region: us-central1\n    network: net{i}"
            );
        }
        Cloud::Azure => {
            let _ = writeln!(
                s,
                "    subscription: 00000000-0000-0000-0000-000000000000\n    resource_group: rg\n    location: eastus\n    vnet: vnet{i}\n    gateway_subnet: 10.{x}.{y}.224/27\n    gateway_sku: VpnGw2"
            );
        }
    }
    let _ = writeln!(s, "    cidrs: [10.{x}.{y}.0/24]");
}

/// The topology as YAML text, so that parsing and validation are measured too.
/// hub-spoke: every 25th network is a GCP hub; its 24 spokes alternate AWS (HA VPN, 4 BGP
/// peers each: 48 of the router's 128) and Azure (classic). mesh3: AWS/GCP/Azure triangles.
fn generate(shape: &str, n: usize) -> (String, usize) {
    let mut s = format!("version: 1\nname: bench-{shape}-{n}\nnetworks:\n");
    let mut clouds = Vec::with_capacity(n);
    for i in 0..n {
        let c = match shape {
            "hub-spoke" if i % 25 == 0 => Cloud::Gcp,
            "hub-spoke" if i % 2 == 0 => Cloud::Aws,
            "hub-spoke" => Cloud::Azure,
            _ => Cloud::ALL[i % 3],
        };
        clouds.push(c);
        yaml_network(&mut s, i, c);
    }
    s.push_str("links:\n");
    let name = |i: usize| format!("n{i:04}-{}", cloud_str(clouds[i]));
    let mut links = 0;
    for i in 0..n {
        match shape {
            "hub-spoke" if i % 25 != 0 => {
                let _ = writeln!(s, "  - between: [{}, {}]", name(i - i % 25), name(i));
                links += 1;
            }
            "mesh3" if i % 3 == 2 => {
                let _ = writeln!(
                    s,
                    "  - mesh: [{}, {}, {}]",
                    name(i - 2),
                    name(i - 1),
                    name(i)
                );
                links += 3;
            }
            "mesh3" if i + 1 == n && i % 3 == 1 => {
                let _ = writeln!(s, "  - between: [{}, {}]", name(i - 1), name(i));
                links += 1;
            }
            _ => {}
        }
    }
    (s, links)
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Minor page faults of this process so far (field 10 of /proc/self/stat).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = s.rsplit_once(')')?.1.to_string();
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One case, in this (child) process: prints one result line.
fn child(shape: &str, n: usize) {
    let (yaml, links) = generate(shape, n);
    let tpl = Templates::embedded().expect("templates");
    let runs = if n >= 1000 { 9 } else { 21 };
    let mut parse_t = Vec::new();
    let mut plan_t = Vec::new();
    let mut render_t = Vec::new();
    let mut faults = Vec::new();
    let mut resources = 0;
    let mut warnings = 0;
    for run in 0..runs {
        let t0 = Instant::now();
        let topo = match parse("bench.yaml", &yaml) {
            Ok(t) => t,
            Err(TopologyError::Invalid(d)) => {
                eprintln!("generated topology invalid: {}", d[0]);
                std::process::exit(1);
            }
            Err(e) => panic!("{e}"),
        };
        let f0 = minor_faults();
        let t1 = Instant::now();
        let p = plan(
            &topo,
            &State::empty(),
            &tpl,
            &mut ChaCha20Rng::seed_from_u64(run),
        )
        .expect("plan");
        let t2 = Instant::now();
        faults.push(minor_faults() - f0);
        let out = render::json_text(&p);
        let t3 = Instant::now();
        assert!(out.len() > 100);
        assert_eq!(p.links.len(), links);
        resources = p.resources.len();
        warnings = p.warnings.len();
        parse_t.push(t1 - t0);
        plan_t.push(t2 - t1);
        render_t.push(t3 - t2);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    faults.sort_unstable();
    let plan_faults = faults[faults.len() / 2];
    println!(
        "RESULT {shape} {n} {links} {resources} {warnings} {:.2} {:.2} {:.2} {} {plan_faults}",
        ms(median(parse_t)),
        ms(median(plan_t)),
        ms(median(render_t)),
        vm_hwm_kb()
    );
}

/// The re-plan case, in its own child process (its state copy would otherwise inflate the
/// plan case's peak RSS): plans once, builds the state apply would leave, then times plans
/// against it, each diffing every resource (references walked) and finding nothing to do.
/// Prints the median and this process's peak RSS.
fn child_replan(shape: &str, n: usize) {
    let (yaml, _) = generate(shape, n);
    let tpl = Templates::embedded().expect("templates");
    let topo = parse("bench.yaml", &yaml).expect("generated topology");
    let first = plan(
        &topo,
        &State::empty(),
        &tpl,
        &mut ChaCha20Rng::seed_from_u64(0),
    )
    .expect("plan");
    let mut st = State::empty();
    st.lineage = "bench".into();
    st.allocations = first.allocations.clone();
    st.secrets = first.secrets.clone();
    for r in &first.resources {
        st.resources.insert(
            r.address.clone(),
            ResourceState::created(r, r.address.clone()),
        );
    }
    drop(first);
    let runs = if n >= 1000 { 9 } else { 21 };
    let mut t = Vec::new();
    for run in 0..runs {
        let t0 = Instant::now();
        let again = plan(&topo, &st, &tpl, &mut ChaCha20Rng::seed_from_u64(run)).expect("replan");
        t.push(t0.elapsed());
        assert!(again.changes.is_empty());
    }
    println!(
        "REPLAN {:.2} {}",
        median(t).as_secs_f64() * 1e3,
        vm_hwm_kb()
    );
}

/// Whole `plan --json` and `validate` processes per case: medians of 7 runs
/// (`PEERCTL_BENCH_RUNS` to take more on a busy machine).
fn processes() {
    let runs: usize = std::env::var("PEERCTL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7);
    println!();
    println!(
        "whole processes of {} (median of {runs} runs; peak RSS of the child)",
        process::binary().to_string_lossy()
    );
    println!(
        "{:<10} {:>8} {:>15} {:>17} {:>11} {:>14} {:>18}",
        "shape",
        "networks",
        "plan --json ms",
        "plan --json RSS MB",
        "JSON MB",
        "validate ms",
        "validate RSS MB"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for shape in SHAPES {
        for n in SIZES {
            let (yaml, _) = generate(shape, n);
            let file = dir.path().join(format!("{shape}-{n}.yaml"));
            std::fs::write(&file, yaml).expect("write topology");
            let f = file.to_str().expect("utf-8 path");
            let run = |args: &[&str]| {
                let mut t = Vec::new();
                let mut rss = Vec::new();
                let mut bytes = 0;
                for _ in 0..runs {
                    let c = process::run(dir.path(), args, 0);
                    t.push(c.wall);
                    rss.push(c.peak_rss_kb);
                    bytes = c.stdout_bytes;
                }
                rss.sort_unstable();
                (median(t), rss[rss.len() / 2], bytes)
            };
            let (plan_t, plan_kb, bytes) = run(&["plan", "--json", "-f", f]);
            let (val_t, val_kb, _) = run(&["validate", "-f", f]);
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{:<10} {:>8} {:>15.1} {:>17.1} {:>11.1} {:>14.1} {:>18.1}",
                shape,
                n,
                ms(plan_t),
                plan_kb as f64 / 1024.0,
                bytes as f64 / 1e6,
                ms(val_t),
                val_kb as f64 / 1024.0
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write") {
        // The generated files, for profiling one whole process by hand.
        let dir = Path::new(&args[i + 1]);
        for shape in SHAPES {
            for n in SIZES {
                let file = dir.join(format!("{shape}-{n}.yaml"));
                std::fs::write(&file, generate(shape, n).0).expect("write topology");
                println!("{}", file.display());
            }
        }
        return;
    }
    if args.iter().any(|a| a == "--processes") {
        processes();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], args[i + 2].parse().expect("size"));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child-replan") {
        child_replan(&args[i + 1], args[i + 2].parse().expect("size"));
        return;
    }
    let exe = std::env::current_exe().expect("current exe");
    println!(
        "peerctl planner benchmark (median of 21 runs; 9 at 1,000 networks; peak RSS per case)"
    );
    println!(
        "{:<10} {:>8} {:>6} {:>9} {:>8} {:>10} {:>9} {:>11} {:>13} {:>13} {:>12} {:>10} {:>15}",
        "shape",
        "networks",
        "links",
        "resources",
        "warnings",
        "parse ms",
        "plan ms",
        "render ms",
        "plan us/link",
        "peak RSS MB",
        "plan faults",
        "replan ms",
        "replan RSS MB"
    );
    for shape in SHAPES {
        for n in SIZES {
            let out = std::process::Command::new(&exe)
                .args(["--child", shape, &n.to_string()])
                .output()
                .expect("run case");
            let text = String::from_utf8_lossy(&out.stdout);
            let Some(line) = text.lines().find(|l| l.starts_with("RESULT ")) else {
                eprintln!(
                    "{shape} {n}: failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                std::process::exit(1);
            };
            let f: Vec<&str> = line.split_whitespace().collect();
            let re = std::process::Command::new(&exe)
                .args(["--child-replan", shape, &n.to_string()])
                .output()
                .expect("run replan case");
            let re_text = String::from_utf8_lossy(&re.stdout);
            let Some(re_line) = re_text.lines().find(|l| l.starts_with("REPLAN ")) else {
                eprintln!(
                    "{shape} {n} replan: failed: {}",
                    String::from_utf8_lossy(&re.stderr)
                );
                std::process::exit(1);
            };
            let r: Vec<&str> = re_line.split_whitespace().collect();
            let re_hwm_kb: f64 = r[2].parse().unwrap_or(0.0);
            let links: f64 = f[3].parse().unwrap_or(1.0);
            let plan_ms: f64 = f[7].parse().unwrap_or(0.0);
            let hwm_kb: f64 = f[9].parse().unwrap_or(0.0);
            println!(
                "{:<10} {:>8} {:>6} {:>9} {:>8} {:>10} {:>9} {:>11} {:>13.1} {:>13.1} {:>12} {:>10} {:>15.1}",
                f[1],
                f[2],
                f[3],
                f[4],
                f[5],
                f[6],
                f[7],
                f[8],
                plan_ms * 1e3 / links.max(1.0),
                hwm_kb / 1024.0,
                f[10],
                r[1],
                re_hwm_kb / 1024.0
            );
        }
    }
    processes();
}
