//! `peerctl verify`: reads every cloud of the topology (read-only, each cloud concurrently;
//! with `--cloud`, only those),
//! judges every link per direction and check, prints the table / JSON / JUnit and exits 0 (all
//! pass), 1 (could not read), or 3 (verification failed, also when `--wait` ran out).

use super::plan::{load_topology, make_plan};
use super::target::{read_state, state_location, CloudTarget};
use anyhow::Context;
use clap::Args;
use peerctl::cloud::Cloud;
use peerctl::engine::{observe, Providers};
use peerctl::plan::Plan;
use peerctl::state::State;
use peerctl::topology::Topology;
use peerctl::verify::snapshot::ReadError;
use peerctl::verify::{judge, render, Options, Report};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code for "verification failed" (3, as `sandbox reach` uses 3 for "not reachable").
pub const EXIT_FAILED: u8 = 3;

#[derive(Args)]
pub struct VerifyArgs {
    /// The topology file.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The state: a file path or etcd://HOST:PORT/KEY (default: $PEERCTL_STATE, else
    /// .peerctl/state.json; .peerctl/sandbox/state.json with the in-process sandbox).
    #[arg(long, value_name = "LOCATION")]
    pub state: Option<String>,
    /// Re-check until everything passes or this much time has gone (30s, 5m); scaled by a
    /// sandbox's time scale.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse)]
    pub wait: Option<Duration>,
    /// A degraded link (3 of 4 tunnels up, a BGP session down beside working ones) fails.
    #[arg(long)]
    pub strict: bool,
    /// One JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report (one test case per link × check) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Verify what this cloud can see, reading no other cloud (repeatable: a per-cloud
    /// runner's credentials). Only links touching it are judged; a side another cloud's runner
    /// has not built yet fails, naming that runner.
    #[arg(long = "cloud", value_name = "CLOUD", value_parser = super::apply::parse_cloud)]
    pub cloud: Vec<Cloud>,
}

pub fn run(args: VerifyArgs, sandbox: Option<&str>) -> anyhow::Result<ExitCode> {
    let loaded = match load_topology(&args.file, false)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let options = Options {
        strict: args.strict,
        seen: super::apply::owned_clouds(&args.cloud),
    };
    let found = verified(
        &loaded,
        args.state.as_deref(),
        sandbox,
        options,
        args.wait,
        args.json,
    )?;
    found.print(args.json, args.junit.as_deref())
}

/// Reads the state at `state` (a `--state` value), plans against it, reads every cloud of the
/// topology and judges (with `wait`, again until everything passes): what `verify` and
/// `graph --state` print.
pub fn verified(
    loaded: &super::plan::Loaded,
    state: Option<&str>,
    sandbox: Option<&str>,
    options: Options,
    wait: Option<Duration>,
    quiet: bool,
) -> anyhow::Result<Found> {
    let location = state_location(state, sandbox)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let state = rt.block_on(read_state(&location, "peerctl verify"))?;
    super::redact::register(state.secrets.values().map(|s| s.expose()));
    let plan = make_plan(loaded, &state)?;
    rt.block_on(async {
        let target = CloudTarget::resolve(sandbox, &loaded.topology).await?;
        let result = async {
            let clouds = read_clouds(&loaded.topology, options.seen.as_ref());
            let providers = target.providers(&clouds).await?;
            let c = Checking {
                providers: &providers,
                time_scale: target.time_scale,
                plan: &plan,
                state: &state,
                topology: &loaded.topology,
                options,
                quiet,
            };
            anyhow::Ok(check(&c, wait).await)
        }
        .await;
        target.close().await;
        result
    })
}

/// The clouds a verify reads: the topology's, only those of `seen` when given.
pub fn read_clouds(topology: &Topology, seen: Option<&BTreeSet<Cloud>>) -> BTreeSet<Cloud> {
    topology
        .networks
        .iter()
        .map(|n| n.cloud)
        .filter(|c| seen.is_none_or(|s| s.contains(c)))
        .collect()
}

/// What one verify needs: the providers to read with, and the plan and state to judge by.
pub struct Checking<'a> {
    pub providers: &'a Providers,
    /// The target's time scale (waits and pauses are scaled by it).
    pub time_scale: f64,
    pub plan: &'a Plan,
    pub state: &'a State,
    pub topology: &'a Topology,
    pub options: Options,
    /// No progress lines on stderr (JSON output).
    pub quiet: bool,
}

/// The outcome of a verify: the report of the last attempt and its read errors.
pub struct Found {
    pub report: Report,
    pub errors: Vec<(Cloud, ReadError)>,
    pub attempts: usize,
    /// Read calls of the last attempt, per cloud.
    pub reads: BTreeMap<Cloud, usize>,
}

/// Reads and judges; with `wait`, again every 15 s (scaled) until everything passes or the
/// time is up. A cloud that cannot be read ends the wait at once: it is an error to report,
/// not a state to wait out.
pub async fn check(c: &Checking<'_>, wait: Option<Duration>) -> Found {
    let limit = wait.map(|w| w.mul_f64(c.time_scale.max(0.0)));
    let start = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let snap = observe(c.providers, c.topology, c.state).await;
        let errors: Vec<(Cloud, ReadError)> = snap.errors().map(|(c, e)| (c, e.clone())).collect();
        let report = judge(c.plan, c.state, c.topology, &snap, &c.options);
        let done =
            report.passed() || !errors.is_empty() || limit.is_none_or(|l| start.elapsed() >= l);
        if done {
            let reads = snap.clouds.iter().map(|(c, s)| (*c, s.reads)).collect();
            return Found {
                report,
                errors,
                attempts,
                reads,
            };
        }
        if !c.quiet {
            eprintln!(
                "verify: attempt {attempts}: {} failing; checking again (waited {:.0?})",
                failing(&report),
                start.elapsed()
            );
        }
        let pause = Duration::from_secs(15).mul_f64(c.time_scale.max(0.0));
        tokio::time::sleep(pause.max(Duration::from_millis(20))).await;
    }
}

impl Found {
    /// Prints the table or the JSON document (and writes the JUnit file); the exit code: 0 all
    /// pass, 1 a cloud could not be read, 3 verification failed.
    pub fn print(&self, json: bool, junit: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
        if let Some(file) = junit {
            let xml = render::junit(&self.report).context("rendering the JUnit report")?;
            std::fs::write(file, xml)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&self.json())?);
        } else {
            print!("{}", render::human(&self.report));
            self.print_errors();
        }
        Ok(self.exit_code())
    }

    /// One line on stderr per cloud that could not be read.
    pub fn print_errors(&self) {
        for (c, e) in &self.errors {
            eprintln!(
                "error: cannot read {} ({} {}): {}",
                c.display_name(),
                e.scope,
                e.what,
                e.message
            );
        }
    }

    /// The JSON document (docs/cli.md), with the read calls of the last attempt per cloud.
    pub fn json(&self) -> serde_json::Value {
        let mut doc = render::json(&self.report, &self.errors, self.attempts);
        doc["reads"] = serde_json::to_value(&self.reads).unwrap_or_default();
        doc
    }

    pub fn exit_code(&self) -> ExitCode {
        if !self.errors.is_empty() {
            ExitCode::FAILURE
        } else if self.report.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn failing(r: &Report) -> usize {
    r.links
        .iter()
        .flat_map(|l| l.ways().map(|w| l.verdict_of(&w)))
        .filter(|v| *v == peerctl::verify::Verdict::Fail)
        .count()
}
