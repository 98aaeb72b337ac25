//! `peerctl destroy`: deletes what peerctl created for a topology, dependents first, never a
//! network or anything it did not create. With a lost state it first finds peerctl's
//! resources by their deterministic names and tags (the planned identities).

use super::apply::{cancel_on_signals, confirm, open_state, summarise};
use super::plan::{load_topology, make_plan};
use super::progress::{Mode, Progress};
use super::target::{state_location, CloudTarget};
use anyhow::Context;
use clap::Args;
use peerctl::cloud::Cloud;
use peerctl::engine::{self, NoEvents, Store};
use peerctl::state::State;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct DestroyArgs {
    /// The topology file.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The state: a file path or etcd://HOST:PORT/KEY (default: $PEERCTL_STATE, else
    /// .peerctl/state.json; .peerctl/sandbox/state.json with the in-process sandbox).
    #[arg(long, value_name = "LOCATION")]
    pub state: Option<String>,
    /// Destroy without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// One JSON event per line instead of progress text.
    #[arg(long)]
    pub json: bool,
    /// Print every diagnostic of an invalid topology (default: the first 100).
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: DestroyArgs, sandbox: Option<&str>) -> anyhow::Result<ExitCode> {
    let loaded = match load_topology(&args.file, args.all)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let location = state_location(args.state.as_deref(), sandbox)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let cancel = cancel_on_signals();
        let (mut backend, state, version) = open_state(&location, "peerctl destroy", None).await?;
        let mode = Mode::pick(args.json);
        super::redact::register(state.secrets.values().map(|s| s.expose()));
        let lost = state.is_empty();
        if !lost && state.resources.is_empty() {
            println!(
                "Nothing to destroy: {} records no resources.",
                location.describe()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let target = CloudTarget::resolve(sandbox, &loaded.topology).await?;
        let result = async {
            let mut store = Store {
                state,
                backend: &mut *backend,
                version,
            };
            if lost {
                // No state: find what exists under the planned names and tags.
                let plan = make_plan(&loaded, &State::empty())?;
                super::redact::register(plan.secrets.values().map(|s| s.expose()));
                let clouds: BTreeSet<Cloud> = plan.resources.iter().map(|r| r.cloud()).collect();
                let providers = target.providers(&clouds).await?;
                if mode != Mode::Json {
                    println!(
                        "{} holds no state: looking for {}'s resources by name and tags…",
                        location.describe(),
                        plan.topology
                    );
                }
                let found = engine::discover(
                    &plan.topology,
                    &plan.resources,
                    &plan.secrets,
                    &providers,
                    &mut store,
                    Arc::new(NoEvents),
                    cancel.clone(),
                )
                .await?;
                if !found.failures.is_empty() {
                    for f in &found.failures {
                        eprintln!("error: {f}");
                    }
                    return Ok(ExitCode::from(1));
                }
                if store.state.resources.is_empty() {
                    println!(
                        "Nothing to destroy: no resource of {} exists.",
                        plan.topology
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let mut addrs: Vec<&String> = store.state.resources.keys().collect();
            addrs.sort();
            if mode != Mode::Json {
                for a in &addrs {
                    println!("  -   {a}");
                }
                println!(
                    "\nPlan: 0 to create, 0 to change, {} to destroy.",
                    addrs.len()
                );
            }
            if !confirm(args.auto_approve, "destroy these resources")? {
                return Ok(ExitCode::from(1));
            }
            let clouds: BTreeSet<Cloud> = store.state.resources.values().map(|r| r.cloud).collect();
            let providers = target.providers(&clouds).await?;
            let progress = Arc::new(Progress::new(mode, store.state.resources.len()));
            let topology = loaded.topology.name.clone();
            let report =
                engine::destroy(&topology, &providers, &mut store, progress.clone(), cancel)
                    .await?;
            progress.finish();
            Ok::<_, anyhow::Error>(summarise("Destroy", &report, mode, &store, &loaded.path))
        }
        .await;
        target.close().await;
        result
    })
}
