//! `peerctl destroy`: deletes what peerctl created for a topology, dependents first, never a
//! network or anything it did not create. With a lost state it first finds peerctl's
//! resources by their deterministic names and tags (the planned identities). With `--cloud`
//! it deletes only that cloud's resources, keeping those another cloud's recorded resources
//! still depend on ([`engine::holding`]) and exiting 4 ("run again after the others") while
//! any are kept.

use super::apply::{
    cancel_on_signals, confirm, open_backend, owned_clouds, parse_cloud, reopen_backend, summarise,
    wait_for_state, LockArgs, EXIT_WAITING,
};
use super::plan::{load_topology, make_plan, Loaded};
use super::progress::{json_line, Mode, Progress};
use super::target::{state_location, state_options, CloudTarget};
use anyhow::Context;
use clap::Args;
use peerctl::cloud::Cloud;
use peerctl::engine::holding::{destroy_holds, Held};
use peerctl::engine::{self, NoEvents, Store};
use peerctl::state::backend::{Backend, Version};
use peerctl::state::open::Location;
use peerctl::state::{Allocations, State};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

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
    /// Destroy only this cloud's resources and call no other cloud's API (repeatable). What
    /// another cloud's recorded resources still depend on is kept, and the exit code is 4
    /// ("run again after the others") while anything is kept.
    #[arg(long = "cloud", value_name = "CLOUD", value_parser = parse_cloud)]
    pub cloud: Vec<Cloud>,
    /// With `--cloud`: watch the shared state for up to this long (30s, 4m) for the other
    /// runners to delete what this cloud's kept resources must outlive; exit 4 if it runs out.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse, requires = "cloud")]
    pub wait: Option<std::time::Duration>,
    #[command(flatten)]
    pub lock: LockArgs,
}

pub fn run(args: DestroyArgs, sandbox: Option<&str>) -> anyhow::Result<ExitCode> {
    let loaded = match load_topology(&args.file, args.all)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let location = state_location(args.state.as_deref(), sandbox)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(destroy(args, sandbox, loaded, location))
}

/// How one pass of a destroy ended.
enum Pass {
    Exit(ExitCode),
    /// Deleted what it could; these are kept for other clouds' runners.
    Held(Vec<Held>),
}

/// What stays the same across the passes of one destroy.
struct Run<'a> {
    args: &'a DestroyArgs,
    sandbox: Option<&'a str>,
    loaded: &'a Loaded,
    location: &'a Location,
    owned: BTreeSet<Cloud>,
    mode: Mode,
    cancel: watch::Receiver<bool>,
}

async fn destroy(
    args: DestroyArgs,
    sandbox: Option<&str>,
    loaded: Loaded,
    location: Location,
) -> anyhow::Result<ExitCode> {
    let owned = owned_clouds(&args.cloud);
    let mut options = state_options("peerctl destroy", owned.clone())?;
    options.lock_timeout = args.lock.lock_timeout;
    let mut backend = Some(open_backend(&location, &options).await?);
    let cx = Run {
        args: &args,
        sandbox,
        loaded: &loaded,
        location: &location,
        owned: owned.unwrap_or_else(|| Cloud::ALL.into_iter().collect()),
        mode: Mode::pick(args.json),
        cancel: cancel_on_signals(),
    };
    let until = args.wait.map(|w| tokio::time::Instant::now() + w);
    // The sandbox or clouds are reached only once something is to be deleted.
    let mut target: Option<CloudTarget> = None;
    let mut approved = false;
    let result = async {
        loop {
            let b = match backend.as_mut() {
                Some(b) => b,
                None => backend.insert(reopen_backend(&location, &options, until).await?),
            };
            let (state, version) = b
                .read()
                .await
                .with_context(|| format!("reading the state {}", location.describe()))?;
            let held = match pass(&cx, &mut **b, state, version, &mut target, &mut approved).await?
            {
                Pass::Exit(code) => return Ok(code),
                Pass::Held(held) => held,
            };
            let left = until
                .map(|u| u.saturating_duration_since(tokio::time::Instant::now()))
                .unwrap_or_default();
            if left.is_zero() || *cx.cancel.borrow() {
                return Ok(held_exit(&held, cx.mode, args.wait.is_some()));
            }
            if cx.mode != Mode::Json {
                println!(
                    "\nWatching {} for up to {left:.0?} for the other runners' deletions…",
                    location.describe()
                );
            }
            // A local file is locked while open: let the other runners write it.
            if !location.shared() {
                backend = None;
            }
            let owned = &cx.owned;
            let freed = wait_for_state(&location, &mut backend, "peerctl destroy", left, |s| {
                let (now, held) = destroy_holds(s, owned);
                !now.is_empty() || held.is_empty()
            })
            .await?;
            if !freed {
                return Ok(held_exit(&held, cx.mode, true));
            }
        }
    }
    .await;
    if let Some(b) = backend.as_mut() {
        b.close().await;
    }
    if let Some(t) = target {
        t.close().await;
    }
    result
}

/// One pass: deletes what the owned clouds may delete now.
async fn pass(
    cx: &Run<'_>,
    backend: &mut dyn Backend,
    state: State,
    version: Version,
    target: &mut Option<CloudTarget>,
    approved: &mut bool,
) -> anyhow::Result<Pass> {
    super::redact::register(state.secrets.values().map(|s| s.expose()));
    let lost = state.is_empty();
    let mut store = Store {
        state,
        backend,
        version,
    };
    if !lost && store.state.resources.is_empty() {
        // Numbers and keys left by runners that finished while another still held resources.
        if !store.state.secrets.is_empty() || store.state.allocations != Allocations::default() {
            store.state.secrets.clear();
            store.state.allocations = Allocations::default();
            store.save().await?;
        }
        println!(
            "Nothing to destroy: {} records no resources.",
            cx.location.describe()
        );
        return Ok(Pass::Exit(ExitCode::SUCCESS));
    }
    if target.is_none() {
        *target = Some(CloudTarget::resolve(cx.sandbox, &cx.loaded.topology).await?);
    }
    let target = target.as_ref().expect("resolved above");
    if lost {
        // No state: find what exists under the planned names and tags (of the owned clouds).
        let plan = make_plan(cx.loaded, &State::empty())?;
        super::redact::register(plan.secrets.values().map(|s| s.expose()));
        let mine: Vec<_> = plan
            .resources
            .iter()
            .filter(|r| cx.owned.contains(&r.cloud()))
            .cloned()
            .collect();
        let clouds: BTreeSet<Cloud> = mine.iter().map(|r| r.cloud()).collect();
        let providers = target.providers(&clouds).await?;
        if cx.mode != Mode::Json {
            println!(
                "{} holds no state: looking for {}'s resources by name and tags…",
                cx.location.describe(),
                plan.topology
            );
        }
        let found = engine::discover(
            &plan.topology,
            &mine,
            &plan.secrets,
            &providers,
            &mut store,
            Arc::new(NoEvents),
            cx.cancel.clone(),
        )
        .await?;
        if !found.failures.is_empty() {
            for f in &found.failures {
                eprintln!("error: {f}");
            }
            return Ok(Pass::Exit(ExitCode::from(1)));
        }
        if store.state.resources.is_empty() {
            println!(
                "Nothing to destroy: no resource of {} exists.",
                plan.topology
            );
            return Ok(Pass::Exit(ExitCode::SUCCESS));
        }
    }
    let (now, held) = destroy_holds(&store.state, &cx.owned);
    if now.is_empty() {
        if held.is_empty() && cx.mode != Mode::Json {
            println!(
                "Nothing to destroy: {} records no resources of {}.",
                cx.location.describe(),
                names(&cx.owned)
            );
        }
        return Ok(if held.is_empty() {
            Pass::Exit(ExitCode::SUCCESS)
        } else {
            Pass::Held(held)
        });
    }
    if cx.mode != Mode::Json {
        for a in &now {
            println!("  -   {a}");
        }
        for h in &held {
            println!("  (kept for now) {h}");
        }
        println!(
            "\nPlan: 0 to create, 0 to change, {} to destroy.",
            now.len()
        );
    }
    if !*approved {
        if !confirm(cx.args.auto_approve, "destroy these resources")? {
            return Ok(Pass::Exit(ExitCode::from(1)));
        }
        *approved = true;
    }
    let clouds: BTreeSet<Cloud> = now.iter().map(|a| store.state.resources[a].cloud).collect();
    let providers = target.providers(&clouds).await?;
    let progress = Arc::new(Progress::new(cx.mode, now.len()));
    let topology = cx.loaded.topology.name.clone();
    let report = engine::destroy(
        &topology,
        &now,
        &providers,
        &mut store,
        progress.clone(),
        cx.cancel.clone(),
    )
    .await?;
    progress.finish();
    let code = summarise("Destroy", &report, cx.mode, &store, &cx.loaded.path);
    if !report.ok() || held.is_empty() {
        return Ok(Pass::Exit(code));
    }
    Ok(Pass::Held(held))
}

/// Lists (or emits as JSON events) what is kept and returns exit 4.
fn held_exit(held: &[Held], mode: Mode, waited: bool) -> ExitCode {
    if mode == Mode::Json {
        for h in held {
            let mut v = serde_json::to_value(h).unwrap_or_default();
            v["event"] = "kept".into();
            json_line(&v);
        }
    } else {
        let why = if waited {
            "the --wait ran out"
        } else {
            "no --wait given"
        };
        eprintln!(
            "{} resource(s) are kept until other clouds' runners destroy what depends on them ({why}); run again after the others (exit {EXIT_WAITING}):",
            held.len()
        );
        for h in held {
            eprintln!("  kept: {h}");
        }
    }
    ExitCode::from(EXIT_WAITING)
}

fn names(clouds: &BTreeSet<Cloud>) -> String {
    clouds
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
