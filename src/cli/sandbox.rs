//! `peerctl sandbox serve`: run the emulators on loopback until interrupted.

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
}

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
}

pub fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SandboxCommand::Serve(a) => serve(a),
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
