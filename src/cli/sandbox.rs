//! `peerctl sandbox …`: `serve` runs the emulators on loopback until interrupted; `stats`,
//! `reset` and `reach` talk to a running sandbox (`--sandbox URL`, default
//! http://127.0.0.1:4566) or to the in-process one (`--sandbox` alone).

use anyhow::Context;
use clap::{Args, Subcommand};
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{Sandbox, SandboxConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Serve the AWS EC2, GCP Compute and Azure ARM network APIs on one loopback port.
    Serve(ServeArgs),
    /// Show the API-call counters of a sandbox.
    Stats(ClientArgs),
    /// Put a sandbox back to its seeded world.
    Reset(ClientArgs),
    /// Ask the sandbox's network model whether one network reaches another (exit 3 if not).
    Reach(ReachArgs),
}

#[derive(Args)]
pub struct ClientArgs {
    /// Topology that seeds the in-process sandbox on first use (`--sandbox` without a URL).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Print the sandbox's JSON answer as is.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ReachArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Source network (topology name).
    #[arg(long)]
    pub from: String,
    /// Destination network (topology name).
    #[arg(long)]
    pub to: String,
    /// Protocol: tcp, udp or icmp.
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "udp", "icmp"])]
    pub proto: String,
    /// Destination port (tcp/udp).
    #[arg(long)]
    pub port: Option<u16>,
}

/// Where sandbox client commands go when no --sandbox is given: `serve`'s default address.
const DEFAULT_URL: &str = "http://127.0.0.1:4566";

#[derive(Args)]
pub struct ServeArgs {
    /// The topology whose networks are seeded at start.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Address to listen on (port 0 = any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Persist the clouds' state here, so that separate runs see the same world.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Multiplier on every provisioning time (0.001 turns 35 minutes into 2.1 s).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Probability that a call fails with a server error.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Probability that a call is throttled.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Seed for injected faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// AWS eventual consistency: a just-created resource is NotFound when described by id
    /// for this many milliseconds of sandbox time.
    #[arg(long, default_value_t = 0)]
    pub aws_consistency_ms: u64,
    /// Refuse every cloud call as unauthenticated, with each cloud's own error (to test a
    /// client's credential checks; `POST /_sandbox/auth {"reject": false}` lifts it).
    #[arg(long)]
    pub reject_credentials: bool,
}

pub fn run(args: SandboxArgs, target: Option<&str>) -> anyhow::Result<ExitCode> {
    match args.command {
        SandboxCommand::Serve(a) => serve(a),
        SandboxCommand::Stats(a) => client(target, a.file.clone(), |http, url| async move {
            let v = get_json(&http, &format!("{url}/_sandbox/stats"), "GET").await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_stats(&v);
            }
            Ok(ExitCode::SUCCESS)
        }),
        SandboxCommand::Reset(a) => client(target, a.file.clone(), |http, url| async move {
            let v = get_json(&http, &format!("{url}/_sandbox/reset"), "POST").await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("sandbox reset to its seeded world");
            }
            Ok(ExitCode::SUCCESS)
        }),
        SandboxCommand::Reach(r) => {
            match (r.proto.as_str(), r.port) {
                ("icmp", Some(_)) => anyhow::bail!("--port is not used with --proto icmp"),
                ("tcp" | "udp", None) => anyhow::bail!("--proto {} needs --port", r.proto),
                _ => {}
            }
            reach(target, r)
        }
    }
}

/// `sandbox reach`: asks the sandbox's network model; exit 0 reachable, 3 not.
fn reach(target: Option<&str>, r: ReachArgs) -> anyhow::Result<ExitCode> {
    client(target, r.client.file.clone(), |http, url| async move {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("from", &r.from)
            .append_pair("to", &r.to)
            .append_pair("proto", &r.proto);
        if let Some(p) = r.port {
            q.append_pair("port", &p.to_string());
        }
        let v = get_json(
            &http,
            &format!("{url}/_sandbox/reach?{}", q.finish()),
            "GET",
        )
        .await?;
        let reachable = v
            .get("reachable")
            .and_then(|b| b.as_bool())
            .unwrap_or(false);
        if r.client.json {
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print_reach(&r, &v, reachable);
        }
        Ok(ExitCode::from(if reachable { 0 } else { 3 }))
    })
}

/// Runs `f` against the sandbox the flags name, on a fresh runtime.
fn client<F, Fut>(target: Option<&str>, file: Option<PathBuf>, f: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(reqwest::Client, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let topology = match file {
        Some(file) => match peerctl::topology::load(&file) {
            Ok(t) => Some(t),
            Err(peerctl::topology::TopologyError::Invalid(diags)) => {
                for d in &diags {
                    eprintln!("{d}");
                }
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let endpoint =
            super::target::SandboxEndpoint::connect(target.unwrap_or(DEFAULT_URL), topology)
                .await?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let result = f(http, endpoint.url.clone()).await;
        endpoint.close().await;
        result
    })
}

async fn get_json(
    http: &reqwest::Client,
    url: &str,
    method: &str,
) -> anyhow::Result<serde_json::Value> {
    let req = if method == "POST" {
        http.post(url)
    } else {
        http.get(url)
    };
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach the sandbox at {url}"))?;
    let status = resp.status();
    let body = resp.bytes().await?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("{url} did not answer JSON (HTTP {status})"))?;
    if !status.is_success() {
        let msg = v.get("error").and_then(|e| e.as_str()).unwrap_or("");
        anyhow::bail!("the sandbox answered HTTP {status}: {msg}");
    }
    Ok(v)
}

fn print_stats(v: &serde_json::Value) {
    let n = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
    println!(
        "calls: {} reads, {} mutating; {} resources created",
        n(v, "reads"),
        n(v, "mutating"),
        n(v, "created_resources")
    );
    if let Some(clouds) = v.get("clouds").and_then(|c| c.as_object()) {
        for (cloud, s) in clouds {
            println!(
                "  {cloud:<6} {:>6} reads {:>6} mutating {:>4} faults",
                n(s, "reads"),
                n(s, "mutating"),
                n(s, "faults")
            );
            if let Some(ops) = s.get("operations").and_then(|o| o.as_object()) {
                for (op, count) in ops {
                    println!("           {:>6}  {op}", count.as_u64().unwrap_or(0));
                }
            }
        }
    }
}

fn print_reach(r: &ReachArgs, v: &serde_json::Value, reachable: bool) {
    let what = match r.port {
        Some(p) => format!("{}/{p}", r.proto),
        None => r.proto.clone(),
    };
    if reachable {
        println!("{} → {} ({what}): reachable", r.from, r.to);
    } else {
        let why = ["blocked", "reason", "message"]
            .iter()
            .find_map(|k| v.get(*k))
            .map(|b| match b.as_str() {
                Some(s) => s.to_string(),
                None => b.to_string(),
            })
            .unwrap_or_else(|| "no reason given".into());
        println!("{} → {} ({what}): NOT reachable: {why}", r.from, r.to);
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    for (name, v) in [
        ("--fault-rate", a.fault_rate),
        ("--throttle-rate", a.throttle_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            anyhow::bail!("{name} must be between 0 and 1, got {v}");
        }
    }
    if !(a.time_scale >= 0.0 && a.time_scale.is_finite()) {
        anyhow::bail!("--time-scale must be a number >= 0, got {}", a.time_scale);
    }
    let topology = match peerctl::topology::load(&a.file) {
        Ok(t) => t,
        Err(peerctl::topology::TopologyError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let config = SandboxConfig {
        latency: Latency {
            scale: a.time_scale,
        },
        fault_rate: a.fault_rate,
        throttle_rate: a.throttle_rate,
        seed: a.seed,
        data_dir: a.data.clone(),
        aws_consistency_ms: a.aws_consistency_ms,
        reject_credentials: a.reject_credentials,
    };
    let sandbox = Arc::new(Sandbox::new(config, Some(topology))?);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let running = peerctl::sandbox::serve(sandbox, a.listen).await?;
        println!("peerctl sandbox listening on {}", running.url());
        println!("  AWS EC2:     --endpoint-url {}", running.url());
        println!("  GCP Compute: {}/compute/v1/", running.url());
        println!("  Azure ARM:   {}/subscriptions/", running.url());
        println!("  admin:       {}/_sandbox/stats", running.url());
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        eprintln!("stopping");
        running.stop().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
