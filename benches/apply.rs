//! Apply benchmark (a binary printing figures, not a timed test): the wall time of a whole
//! `peerctl apply` process against a sandbox at time scale 0.01, divided by the limit — the
//! longest chain of the plan graph on the sandbox's latency table, including the serialisation
//! the clouds impose (one write at a time on an Azure gateway and on a Cloud Router). Beside
//! it the same apply walked with a fixed parallelism of 10 (Terraform's default), and the API
//! calls per cloud. Run: `cargo bench --bench apply`. Goal: ratio <= 1.03 on both topologies.

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
}

fn apply_once(rt: &tokio::runtime::Runtime, path: &Path, parallelism: Option<usize>) -> Run {
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
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peerctl"));
    cmd.current_dir(dir.path())
        .args(["--sandbox", &server.url(), "apply", "-f"])
        .arg(path)
        .args(["--auto-approve", "--json"])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    if let Some(p) = parallelism {
        cmd.args(["--parallelism", &p.to_string()]);
    }
    let t0 = Instant::now();
    let status = cmd.status().expect("run peerctl");
    let wall = t0.elapsed();
    assert!(status.success(), "apply failed");
    let stats = sandbox.stats_json();
    rt.block_on(server.stop());
    Run { wall, stats }
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
    for name in ["triangle", "mesh12"] {
        let path = root.join(format!("{name}.yaml"));
        let (_, plan) = plan_of(&path);
        let (limit, last) = limit_ms(&plan.resources);
        let limit_s = limit as f64 * SCALE / 1000.0;
        let free = apply_once(&rt, &path, None);
        let capped = apply_once(&rt, &path, Some(10));
        println!(
            "| {name} | {} | {limit_s:.2} | {last} | {:.2} | {:.3} | {:.2} | {:.3} |",
            plan.resources.len(),
            free.wall.as_secs_f64(),
            free.wall.as_secs_f64() / limit_s,
            capped.wall.as_secs_f64(),
            capped.wall.as_secs_f64() / limit_s,
        );
        call_rows.push((name, calls(&free.stats)));
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
}
