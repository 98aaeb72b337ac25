//! Apply benchmark (a binary printing figures, not a timed test): the wall time of a whole
//! `peerctl apply` process against a sandbox at time scale 0.01, divided by the limit — the
//! longest chain of the plan graph on the sandbox's latency table, including the serialisation
//! the clouds impose (one write at a time on an Azure gateway and on a Cloud Router). Beside
//! it the same apply walked with a fixed parallelism of 10 (Terraform's default), and the API
//! calls per cloud. Then, on the same sandbox, a no-op re-apply and a verify: wall time and
//! read calls per (cloud, region) scope. The triangle's timeline is drawn to
//! docs/apply-triangle.svg (resources per cloud in flight and done, the critical path marked).
//! Run: `cargo bench --bench apply`. Goal: ratio <= 1.03 on both topologies.

#[path = "apply/plot.rs"]
mod plot;

use peerctl::plan::resource::{Kind, Resource};
use peerctl::plan::templates::Templates;
use peerctl::sandbox::latency::{Latency, Op};
use peerctl::sandbox::{Sandbox, SandboxConfig};
use rand_core::SeedableRng;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCALE: f64 = 0.01;

/// The sandbox's provisioning time of a resource kind (real milliseconds); 0 for kinds the
/// sandbox completes at once.
fn real_ms(kind: Kind) -> u64 {
    use Kind::*;
    let op = match kind {
        AwsVpnGateway => Op::AwsVpnGatewayCreate,
        AwsVpnGatewayAttachment => Op::AwsVpnGatewayAttach,
        AwsCustomerGateway => Op::AwsCustomerGatewayCreate,
        AwsVpnConnection => Op::AwsVpnConnectionCreate,
        AwsVpnConnectionRoute | AwsRoutePropagation | AwsSecurityGroupRule => return 0,
        GcpVpnGateway => Op::GcpHaVpnGatewayCreate,
        GcpRouter => Op::GcpRouterCreate,
        GcpRouterInterface | GcpRouterPeer => Op::GcpRouterUpdate,
        GcpExternalVpnGateway => Op::GcpExternalVpnGatewayCreate,
        GcpVpnTunnel => Op::GcpVpnTunnelCreate,
        GcpAddress => Op::GcpAddressCreate,
        GcpTargetVpnGateway => Op::GcpTargetVpnGatewayCreate,
        GcpForwardingRule => Op::GcpForwardingRuleCreate,
        GcpRoute => Op::GcpRouteCreate,
        GcpFirewall => Op::GcpFirewallCreate,
        AzureSubnet => Op::AzureSubnetCreate,
        AzurePublicIp => Op::AzurePublicIpCreate,
        AzureVpnGateway => Op::AzureVpnGatewayCreate,
        AzureLocalNetworkGateway => Op::AzureLocalNetworkGatewayCreate,
        AzureConnection => Op::AzureConnectionCreate,
        AzureNsgRule => Op::AzureNsgRuleCreate,
    };
    Latency::real_ms(op)
}

/// The write lock a resource's creation holds: its Azure gateway, or its Cloud Router.
fn exclusive(r: &Resource) -> Option<String> {
    let target = |attr: &str| match r.attributes.get(attr) {
        Some(peerctl::plan::resource::Value::Ref(x)) => Some(x.resource.clone()),
        _ => None,
    };
    match r.kind {
        Kind::AzureVpnGateway => Some(r.address.clone()),
        Kind::AzureConnection => target("virtual_network_gateway"),
        Kind::GcpRouterInterface | Kind::GcpRouterPeer => target("router"),
        _ => None,
    }
}

/// The shortest makespan the clouds allow: every resource starts when its dependencies are
/// done and its write lock is free (an event simulation, locks granted in order of readiness).
fn limit_ms(resources: &[Resource]) -> (u64, String) {
    let idx: HashMap<&str, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.address.as_str(), i))
        .collect();
    let n = resources.len();
    let mut waiting: Vec<usize> = resources.iter().map(|r| r.depends_on.len()).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, r) in resources.iter().enumerate() {
        for d in &r.depends_on {
            dependents[idx[d.as_str()]].push(i);
        }
    }
    let mut lock_free: HashMap<String, u64> = HashMap::new();
    let mut finish = vec![0u64; n];
    let mut events = BinaryHeap::new(); // (Reverse(time), index) of finishes
    let mut ready: Vec<(u64, usize)> = (0..n)
        .filter(|&i| waiting[i] == 0)
        .map(|i| (0, i))
        .collect();
    let mut now;
    loop {
        ready.sort();
        for (t, i) in ready.drain(..) {
            let start = match exclusive(&resources[i]) {
                Some(k) => {
                    let free = lock_free.get(&k).copied().unwrap_or(0);
                    let s = t.max(free);
                    lock_free.insert(k, s + real_ms(resources[i].kind));
                    s
                }
                None => t,
            };
            finish[i] = start + real_ms(resources[i].kind);
            events.push((std::cmp::Reverse(finish[i]), i));
        }
        let Some((std::cmp::Reverse(t), i)) = events.pop() else {
            break;
        };
        now = t;
        for &k in &dependents[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push((now, k));
            }
        }
    }
    let last = (0..n).max_by_key(|&i| finish[i]).unwrap_or(0);
    (finish[last], resources[last].address.clone())
}

fn plan_of(path: &Path) -> (peerctl::topology::Topology, peerctl::plan::Plan) {
    let topo = peerctl::topology::load(path).expect("topology");
    let tpl = Templates::embedded().expect("templates");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let plan =
        peerctl::plan::plan(&topo, &peerctl::state::State::empty(), &tpl, &mut rng).expect("plan");
    (topo, plan)
}

struct Run {
    wall: Duration,
    stats: serde_json::Value,
    /// Each resource's start and end (seconds since the process started), from its events.
    spans: Vec<plot::Span>,
    /// The no-op re-apply and the verify after it (only for the uncapped run).
    after: Option<After>,
}

struct After {
    reapply: Duration,
    reapply_stats: serde_json::Value,
    verify: Duration,
    verify_reads: BTreeMap<String, u64>,
}

/// A whole peerctl process in `dir` against `url`: wall time and stdout lines, each stamped
/// with the time it arrived (stdout is line-buffered, so events arrive as they happen).
fn peerctl(dir: &Path, url: &str, args: &[&str]) -> (Duration, Vec<(f64, String)>) {
    use std::io::BufRead;
    let t0 = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_peerctl"))
        .current_dir(dir)
        .args(["--sandbox", url])
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run peerctl");
    let out = child.stdout.take().expect("stdout");
    let lines: Vec<(f64, String)> = std::io::BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .map(|l| (t0.elapsed().as_secs_f64(), l))
        .collect();
    let status = child.wait().expect("wait for peerctl");
    assert!(status.success(), "peerctl {args:?} failed");
    (t0.elapsed(), lines)
}

/// Start and end of every resource from `apply --json` events.
fn spans(lines: &[(f64, String)]) -> Vec<plot::Span> {
    let mut open: HashMap<String, (f64, String)> = HashMap::new();
    let mut out = Vec::new();
    for (t, l) in lines {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        let address = e["address"].as_str().unwrap_or_default().to_string();
        match e["event"].as_str() {
            Some("started") => {
                let cloud = e["cloud"].as_str().unwrap_or_default().to_string();
                open.insert(address, (*t, cloud));
            }
            Some("finished") => {
                if let Some((start, cloud)) = open.remove(&address) {
                    out.push(plot::Span {
                        address,
                        cloud,
                        start,
                        end: *t,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The observed critical path: from the resource that finished last, back through the
/// dependency that finished last before each one, to a resource that waited for nothing.
fn critical_path(plan: &peerctl::plan::Plan, spans: &[plot::Span]) -> Vec<String> {
    let end: HashMap<&str, f64> = spans.iter().map(|s| (s.address.as_str(), s.end)).collect();
    let by_addr: HashMap<&str, &Resource> = plan
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    let mut at = spans
        .iter()
        .max_by(|a, b| a.end.total_cmp(&b.end))
        .map(|s| s.address.clone());
    let mut path = Vec::new();
    while let Some(a) = at {
        at = by_addr.get(a.as_str()).and_then(|r| {
            r.depends_on
                .iter()
                .filter_map(|d| end.get(d.as_str()).map(|t| (d, *t)))
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(d, _)| d.clone())
        });
        path.push(a);
    }
    path.reverse();
    path
}

fn apply_once(
    rt: &tokio::runtime::Runtime,
    path: &Path,
    parallelism: Option<usize>,
    and_after: bool,
) -> Run {
    let topo = peerctl::topology::load(path).expect("topology");
    let config = SandboxConfig {
        latency: Latency { scale: SCALE },
        ..SandboxConfig::default()
    };
    let sandbox = Arc::new(Sandbox::new(config, Some(topo)).expect("sandbox"));
    let server = rt
        .block_on(peerctl::sandbox::serve(
            sandbox.clone(),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .expect("serve");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = path.to_str().expect("utf-8 path");
    let cap = parallelism.map(|p| p.to_string());
    let mut args = vec!["apply", "-f", file, "--auto-approve", "--json"];
    if let Some(p) = &cap {
        args.extend(["--parallelism", p]);
    }
    let (wall, lines) = peerctl(dir.path(), &server.url(), &args);
    let stats = sandbox.stats_json();
    let after = and_after.then(|| {
        // Let the clock run past tunnel and BGP set-up, as a pipeline's next step would find.
        sandbox.advance_clock(60 * 60 * 1000);
        let (reapply, _) = peerctl(
            dir.path(),
            &server.url(),
            &["apply", "-f", file, "--auto-approve", "--json"],
        );
        let reapply_stats = delta(&sandbox.stats_json(), &stats);
        let (verify, out) = peerctl(dir.path(), &server.url(), &["verify", "-f", file, "--json"]);
        let text: String = out.into_iter().map(|(_, l)| l + "\n").collect();
        let doc: serde_json::Value = serde_json::from_str(&text).expect("verify JSON");
        assert_eq!(doc["ok"], true, "verify failed after the apply");
        let verify_reads = doc["reads"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        After {
            reapply,
            reapply_stats,
            verify,
            verify_reads,
        }
    });
    rt.block_on(server.stop());
    Run {
        wall,
        stats,
        spans: spans(&lines),
        after,
    }
}

/// `now − before` for every counter of a stats document.
fn delta(now: &serde_json::Value, before: &serde_json::Value) -> serde_json::Value {
    match (now, before) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => serde_json::Value::Object(
            a.iter()
                .map(|(k, v)| {
                    let d = delta(v, b.get(k).unwrap_or(&serde_json::Value::Null));
                    (k.clone(), d)
                })
                .collect(),
        ),
        (serde_json::Value::Number(a), b) => serde_json::json!(a
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(b.as_u64().unwrap_or(0))),
        (v, _) => v.clone(),
    }
}

/// The read scopes of a topology per cloud: AWS regions, GCP (project, region), Azure
/// (subscription, resource group).
fn scopes(topo: &peerctl::topology::Topology) -> BTreeMap<String, usize> {
    use peerctl::topology::Location;
    let mut seen: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for n in &topo.networks {
        let scope = match &n.location {
            Location::Aws(a) => a.region.clone(),
            Location::Gcp(g) => format!("{}/{}", g.project, g.region),
            Location::Azure(z) => format!("{}/{}", z.subscription, z.resource_group),
        };
        seen.entry(n.cloud.as_str().to_string())
            .or_default()
            .insert(scope);
    }
    seen.into_iter().map(|(c, s)| (c, s.len())).collect()
}

/// Reads that ask whether an operation finished (GCP Operations, Azure async operations).
fn is_operation_poll(op: &str) -> bool {
    op.contains("Operations.") || op.starts_with("AzureAsyncOperation")
}

fn calls(stats: &serde_json::Value) -> BTreeMap<String, (u64, u64, u64)> {
    let mut out = BTreeMap::new();
    for cloud in ["aws", "gcp", "azure"] {
        let c = &stats["clouds"][cloud];
        let mutating = c["mutating"].as_u64().unwrap_or(0);
        let reads = c["reads"].as_u64().unwrap_or(0);
        let polls: u64 = c["operations"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| is_operation_poll(k))
                    .map(|(_, v)| v.as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0);
        out.insert(
            cloud.to_string(),
            (mutating, polls, reads.saturating_sub(polls)),
        );
    }
    out
}

fn main() {
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    println!(
        "apply at time scale {SCALE} (sandbox latency table), whole `peerctl apply` processes\n"
    );
    println!("| topology | resources | limit s | critical resource | apply s | ratio | parallelism 10 s | ratio |");
    println!("|---|---:|---:|---|---:|---:|---:|---:|");
    let mut call_rows = Vec::new();
    let mut after_rows = Vec::new();
    for name in ["triangle", "mesh12"] {
        let path = root.join(format!("{name}.yaml"));
        let (topo, plan) = plan_of(&path);
        let (limit, last) = limit_ms(&plan.resources);
        let limit_s = limit as f64 * SCALE / 1000.0;
        let free = apply_once(&rt, &path, None, true);
        let capped = apply_once(&rt, &path, Some(10), false);
        println!(
            "| {name} | {} | {limit_s:.2} | {last} | {:.2} | {:.3} | {:.2} | {:.3} |",
            plan.resources.len(),
            free.wall.as_secs_f64(),
            free.wall.as_secs_f64() / limit_s,
            capped.wall.as_secs_f64(),
            capped.wall.as_secs_f64() / limit_s,
        );
        if name == "triangle" {
            let critical = critical_path(&plan, &free.spans);
            let title = format!(
                "peerctl apply of the triangle on the sandbox (time scale {SCALE}): {} resources in {:.2} s, limit {limit_s:.2} s",
                plan.resources.len(),
                free.wall.as_secs_f64()
            );
            let svg = plot::svg(&title, &free.spans, &critical);
            let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/apply-triangle.svg");
            std::fs::write(&out, svg).expect("write the plot");
            println!(
                "\n(timeline written to {}; critical path: {})\n",
                out.display(),
                critical.join(" → ")
            );
        }
        call_rows.push((name, calls(&free.stats)));
        if let Some(a) = free.after {
            after_rows.push((name, scopes(&topo), a));
        }
    }
    println!("\nAPI calls of the uncapped apply (mutating / operation polls / other reads)\n");
    println!("| topology | AWS | GCP | Azure |");
    println!("|---|---|---|---|");
    for (name, c) in call_rows {
        let f = |k: &str| {
            let (m, p, r) = c.get(k).copied().unwrap_or_default();
            format!("{m} / {p} / {r}")
        };
        println!("| {name} | {} | {} | {} |", f("aws"), f("gcp"), f("azure"));
    }
    println!("\nNo-op re-apply and verify on the applied topology: wall time; calls per cloud (mutating / reads) with the (cloud, region) scopes and reads per scope\n");
    println!("| topology | step | wall s | AWS | GCP | Azure |");
    println!("|---|---|---:|---|---|---|");
    for (name, sc, a) in after_rows {
        let per = |cloud: &str, mutating: u64, reads: u64| {
            let n = sc.get(cloud).copied().unwrap_or(0);
            format!(
                "{mutating} / {reads} ({n} scope{}, {:.1} per scope)",
                if n == 1 { "" } else { "s" },
                reads as f64 / n.max(1) as f64
            )
        };
        let st = &a.reapply_stats["clouds"];
        let re = |c: &str| {
            per(
                c,
                st[c]["mutating"].as_u64().unwrap_or(0),
                st[c]["reads"].as_u64().unwrap_or(0),
            )
        };
        println!(
            "| {name} | re-apply | {:.2} | {} | {} | {} |",
            a.reapply.as_secs_f64(),
            re("aws"),
            re("gcp"),
            re("azure")
        );
        let ve = |c: &str| per(c, 0, a.verify_reads.get(c).copied().unwrap_or(0));
        println!(
            "| {name} | verify | {:.2} | {} | {} | {} |",
            a.verify.as_secs_f64(),
            ve("aws"),
            ve("gcp"),
            ve("azure")
        );
    }
}
