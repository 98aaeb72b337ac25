//! `peerctl apply`: plan (or read a saved plan), confirm, preflight every cloud the changes
//! touch, then run the engine with progress, and summarise. Also the pieces destroy shares:
//! confirmation, signal handling, the state backend and the summary.

use super::plan::{load_topology, make_plan, Loaded};
use super::progress::{json_line, Mode, Progress};
use super::target::{state_path, CloudTarget};
use anyhow::Context;
use clap::Args;
use peerctl::cloud::Cloud;
use peerctl::engine::{self, Providers, Report, Store, Work};
use peerctl::plan::saved::SavedPlan;
use peerctl::plan::{render, Change};
use peerctl::state::backend::{Backend, LocalFile, Version};
use peerctl::state::State;
use peerctl::topology::Network;
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Args)]
pub struct ApplyArgs {
    /// The topology file.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The state file (default .peerctl/state.json; .peerctl/sandbox/state.json with the
    /// in-process sandbox).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// One JSON event per line instead of progress text.
    #[arg(long)]
    pub json: bool,
    /// Cap the resources in flight at once (default: no cap; each resource starts as soon as
    /// what it needs exists). `--parallelism 10` walks as Terraform does by default.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: Option<u16>,
    /// A plan saved with `plan --out` (refused when the topology or state moved since).
    pub planfile: Option<PathBuf>,
    /// Print every diagnostic of an invalid topology (default: the first 100).
    #[arg(long)]
    pub all: bool,
    /// Read the recorded resources in their clouds first and repair what changed outside
    /// peerctl (default); `--refresh=false` plans from the state alone. A saved plan is
    /// applied as planned.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// After a successful apply, run `verify` (waiting for tunnels and BGP to come up, up to
    /// `--verify-wait`); exit 3 when verification fails.
    #[arg(long)]
    pub verify: bool,
    /// How long `--verify` waits for everything to pass (30s, 10m; scaled by a sandbox's time
    /// scale).
    #[arg(long, value_name = "DURATION", default_value = "15m",
          value_parser = super::duration::parse, requires = "verify")]
    pub verify_wait: std::time::Duration,
}

/// The changes to make and everything needed to make them.
struct Intent {
    topology: String,
    resources: Vec<peerctl::plan::resource::Resource>,
    changes: Vec<Change>,
    allocations: peerctl::state::Allocations,
    secrets: std::collections::BTreeMap<String, peerctl::state::Secret>,
}

pub fn run(args: ApplyArgs, sandbox: Option<&str>) -> anyhow::Result<ExitCode> {
    let loaded = match load_topology(&args.file, args.all)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let path = state_path(args.state.as_deref(), sandbox);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(apply(args, sandbox, loaded, path))
}

async fn apply(
    args: ApplyArgs,
    sandbox: Option<&str>,
    loaded: Loaded,
    path: PathBuf,
) -> anyhow::Result<ExitCode> {
    let cancel = cancel_on_signals();
    let mut backend = LocalFile::open(&path, "peerctl apply")?;
    let (state, version) = backend.read().await?;
    super::redact::register(state.secrets.values().map(|s| s.expose()));
    let mode = Mode::pick(args.json);
    let target = CloudTarget::resolve(sandbox, &loaded.topology).await?;
    let result = async {
        let code = run_apply(
            &args,
            sandbox,
            &loaded,
            &target,
            &mut backend,
            state,
            version,
            cancel,
            mode,
        )
        .await?;
        match code {
            Done::Applied(state) if args.verify => {
                verify_after(&loaded, &target, &state, mode, args.verify_wait).await
            }
            Done::Applied(_) => Ok(ExitCode::SUCCESS),
            Done::Exit(code) => Ok(code),
        }
    }
    .await;
    target.close().await;
    result
}

/// How an apply ended: everything applied (with the state now recorded), or an exit code.
enum Done {
    Applied(State),
    Exit(ExitCode),
}

#[allow(clippy::too_many_arguments)]
async fn run_apply(
    args: &ApplyArgs,
    sandbox: Option<&str>,
    loaded: &Loaded,
    target: &CloudTarget,
    backend: &mut LocalFile,
    state: State,
    version: Version,
    cancel: watch::Receiver<bool>,
    mode: Mode,
) -> anyhow::Result<Done> {
    let (state, intent) = match &args.planfile {
        Some(pf) => {
            let text = std::fs::read_to_string(pf)
                .with_context(|| format!("cannot read the saved plan {}", pf.display()))?;
            let saved = SavedPlan::from_json(&text)
                .with_context(|| format!("{} is not a saved peerctl plan", pf.display()))?;
            saved
                .check_fresh(&loaded.digest, &state)
                .with_context(|| format!("the saved plan {} is stale; plan again", pf.display()))?;
            if mode != Mode::Json {
                print!("{}", changes_text(&saved.changes));
            }
            let intent = Intent {
                topology: saved.topology,
                resources: saved.resources,
                changes: saved.changes,
                allocations: saved.allocations,
                secrets: saved.secrets,
            };
            (state, intent)
        }
        None => {
            let (state, drift) = if args.refresh {
                super::refresh::refreshed(target, &loaded.topology, &state).await?
            } else {
                (state, Vec::new())
            };
            let plan = make_plan(loaded, &state)?;
            if mode == Mode::Json {
                for d in &drift {
                    let mut v = serde_json::to_value(d).unwrap_or_default();
                    v["event"] = "drift".into();
                    json_line(&v);
                }
            } else if !plan.changes.is_empty() {
                print!("{}", super::refresh::drift_text(&drift));
                print!("{}", render::human(&plan, &loaded.topology));
            }
            let intent = Intent {
                topology: plan.topology,
                resources: plan.resources,
                changes: plan.changes,
                allocations: plan.allocations,
                secrets: plan.secrets,
            };
            (state, intent)
        }
    };
    super::redact::register(intent.secrets.values().map(|s| s.expose()));
    if intent.changes.is_empty() {
        if mode == Mode::Json {
            json_line(&serde_json::json!({"event": "summary", "changes": 0,
                "created": 0, "updated": 0, "destroyed": 0}));
        } else {
            println!("No changes. The clouds match the topology {}.", loaded.path);
        }
        return Ok(Done::Applied(state));
    }
    if !confirm(args.auto_approve, "apply these changes")? {
        return Ok(Done::Exit(ExitCode::from(1)));
    }
    let clouds: BTreeSet<Cloud> = intent.changes.iter().map(|c| c.cloud).collect();
    let providers = target.providers(&clouds).await?;
    if !preflight(&providers, &loaded.topology.networks, mode).await {
        return Ok(Done::Exit(ExitCode::from(1)));
    }
    let progress = Arc::new(Progress::new(mode, intent.changes.len()));
    let mut store = Store {
        state,
        backend,
        version,
    };
    let work = Work {
        topology: &intent.topology,
        resources: &intent.resources,
        changes: &intent.changes,
        allocations: &intent.allocations,
        secrets: &intent.secrets,
        topology_digest: Some(loaded.digest.clone()),
        parallelism: args.parallelism.map(usize::from),
    };
    let report = engine::apply(work, &providers, &mut store, progress.clone(), cancel).await?;
    progress.finish();
    let next = if args.verify {
        String::new()
    } else {
        format!("{} plan -f {}", command_prefix(sandbox), loaded.path)
    };
    let code = summarise("Apply", &report, mode, &store, &next);
    Ok(if report.ok() {
        Done::Applied(store.state)
    } else {
        Done::Exit(code)
    })
}

/// `apply --verify`: verify with the state just recorded, waiting up to `wait`.
async fn verify_after(
    loaded: &Loaded,
    target: &CloudTarget,
    state: &State,
    mode: Mode,
    wait: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    let plan = make_plan(loaded, state)?;
    let clouds: BTreeSet<Cloud> = loaded.topology.networks.iter().map(|n| n.cloud).collect();
    let providers = target.providers(&clouds).await?;
    if mode != Mode::Json {
        let scaled = wait.mul_f64(target.time_scale.max(0.0));
        let note = if target.time_scale == 1.0 {
            String::new()
        } else {
            format!(", {scaled:.1?} on this sandbox's clock")
        };
        println!("\nVerifying (waiting up to {wait:.0?}{note} for tunnels and BGP)…");
    }
    let found = super::verify::check(
        &super::verify::Checking {
            providers: &providers,
            time_scale: target.time_scale,
            plan: &plan,
            state,
            topology: &loaded.topology,
            options: Default::default(),
            quiet: mode == Mode::Json,
        },
        Some(wait),
    )
    .await;
    if mode == Mode::Json {
        json_line(&serde_json::json!({
            "event": "verify",
            "result": found.json(),
        }));
        return Ok(found.exit_code());
    }
    found.print(false, None)
}

/// `peerctl` as the user would type it again to reach the same clouds.
pub fn command_prefix(sandbox: Option<&str>) -> String {
    match sandbox {
        None => "peerctl".into(),
        Some(super::target::IN_PROCESS) => "peerctl --sandbox".into(),
        Some(url) => format!("peerctl --sandbox {url}"),
    }
}

/// Text for a saved plan's changes (the full human plan needs the planner's link view).
fn changes_text(changes: &[Change]) -> String {
    let mut s = String::new();
    for c in changes {
        s.push_str(&format!(
            "  {:<3} {} ({})\n",
            c.action.sign(),
            c.address,
            c.name
        ));
    }
    let sum = peerctl::plan::Summary::of(changes);
    s.push_str(&format!(
        "\nPlan: {} to create, {} to change, {} to destroy.\n",
        sum.create, sum.update, sum.delete
    ));
    s
}

/// Asks on a terminal; refuses without `--auto-approve` when stdin is not one.
pub fn confirm(auto_approve: bool, what: &str) -> anyhow::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: refusing to {what} without --auto-approve: standard input is not a terminal"
        );
        return Ok(false);
    }
    print!("\nDo you want to {what}? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == "yes" {
        Ok(true)
    } else {
        eprintln!("Cancelled; nothing was changed.");
        Ok(false)
    }
}

/// Runs every provider's preflight; prints every problem and returns false when any exists.
pub async fn preflight(providers: &Providers, networks: &[Network], mode: Mode) -> bool {
    let problems = providers.preflight(networks).await;
    if problems.is_empty() {
        return true;
    }
    for p in &problems {
        if mode == Mode::Json {
            json_line(
                &serde_json::json!({"event": "preflight_failed", "cloud": p.cloud,
                "network": p.network, "field": p.field, "message": p.message}),
            );
        } else {
            eprintln!("preflight: {p}");
        }
    }
    eprintln!(
        "error: preflight found {} problem(s); nothing was created or changed",
        problems.len()
    );
    false
}

/// A receiver that turns true on SIGINT or SIGTERM (how CI cancels a job): running
/// operations finish and are recorded, nothing new starts. The handlers are installed before
/// this returns, so a signal that arrives at any later point is seen.
pub fn cancel_on_signals() -> watch::Receiver<bool> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (term, int) else {
            return std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("\ninterrupted: letting running operations finish and recording them; nothing new starts");
        let _ = tx.send(true);
        // Keep the sender alive so the engine sees the cancellation, not a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}

/// The final summary (and exit code) of an apply or destroy.
pub fn summarise(what: &str, r: &Report, mode: Mode, store: &Store<'_>, next: &str) -> ExitCode {
    let secs = r.elapsed.as_secs_f64();
    if mode == Mode::Json {
        json_line(&serde_json::json!({
            "event": "summary", "ok": r.ok(), "created": r.created, "updated": r.updated,
            "destroyed": r.deleted, "not_run": r.not_run, "cancelled": r.cancelled,
            "elapsed_seconds": secs, "state": store.backend.describe(),
            "state_serial": store.state.serial,
            "failed": r.failures.iter().map(|f| serde_json::json!({
                "address": f.address, "cloud": f.cloud, "action": f.action, "error": f.error,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let line = format!(
            "{} created, {} updated, {} destroyed in {:.1}s",
            r.created, r.updated, r.deleted, secs
        );
        if r.ok() {
            println!(
                "\n{what} complete: {line}. State: {}.",
                store.backend.describe()
            );
            if what == "Apply" && !next.is_empty() {
                println!(
                    "Next: `{next}` shows no changes; tunnels and BGP come up over the next minutes."
                );
            }
        } else {
            println!("\n{what} incomplete: {line}; {} not run.", r.not_run);
            for f in &r.failures {
                eprintln!("error: {f}");
            }
            if r.cancelled {
                eprintln!("error: cancelled by a signal");
            }
            eprintln!(
                "What finished is recorded in {}; run the same command again to continue.",
                store.backend.describe()
            );
        }
    }
    if r.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Opens the state backend for `command` and reads it.
pub async fn open_state(
    path: &std::path::Path,
    command: &str,
) -> anyhow::Result<(LocalFile, State, Version)> {
    let mut backend = LocalFile::open(path, command)?;
    let (state, version) = backend.read().await?;
    Ok((backend, state, version))
}
