//! `peerctl apply`: plan (or read a saved plan), confirm, preflight every cloud the changes
//! touch, then run the engine with progress, and summarise. Also the pieces destroy shares:
//! confirmation, signal handling, the state backend and the summary.

use super::plan::{load_topology, make_plan, Loaded};
use super::progress::{json_line, Mode, Progress};
use super::target::{state_location, state_options, CloudTarget};
use anyhow::Context;
use clap::Args;
use peerctl::cloud::Cloud;
use peerctl::engine::{self, Providers, Report, Store, Waiting, Work};
use peerctl::plan::saved::SavedPlan;
use peerctl::plan::{render, Change};
use peerctl::state::backend::{Backend, Version};
use peerctl::state::open::{self, Location};
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
    /// The state: a file path or etcd://HOST:PORT/KEY (default: $PEERCTL_STATE, else
    /// .peerctl/state.json; .peerctl/sandbox/state.json with the in-process sandbox).
    #[arg(long, value_name = "LOCATION")]
    pub state: Option<String>,
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
    /// Apply only this cloud's resources and call no other cloud's API (repeatable: a
    /// per-cloud runner holding only its own credentials). Resources waiting for another
    /// cloud's outputs are listed and the exit code is 4 ("run again after the others").
    #[arg(long = "cloud", value_name = "CLOUD", value_parser = parse_cloud)]
    pub cloud: Vec<Cloud>,
    /// With `--cloud`: watch the shared state for up to this long (30s, 4m) for the values
    /// other clouds' runners publish, and carry on as they appear; exit 4 if it runs out.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse, requires = "cloud")]
    pub wait: Option<std::time::Duration>,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// `--lock-timeout`, shared by the commands that write the state.
#[derive(Args)]
pub struct LockArgs {
    /// When another run holds the state's lock (of a cloud this run writes), wait this long
    /// for it (30s, 10m) instead of failing at once.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::duration::parse)]
    pub lock_timeout: std::time::Duration,
}

/// Exit code for "applied what it could; run again after the other clouds' runners".
pub const EXIT_WAITING: u8 = 4;

/// `--cloud aws|gcp|azure`.
pub fn parse_cloud(s: &str) -> Result<Cloud, String> {
    Cloud::parse(s).ok_or_else(|| format!("{s:?} is not a cloud: aws, gcp or azure"))
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
    let location = state_location(args.state.as_deref(), sandbox)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(apply(args, sandbox, loaded, location))
}

async fn apply(
    args: ApplyArgs,
    sandbox: Option<&str>,
    loaded: Loaded,
    location: Location,
) -> anyhow::Result<ExitCode> {
    let cancel = cancel_on_signals();
    let owned = owned_clouds(&args.cloud);
    let mut options = state_options("peerctl apply", owned.clone())?;
    options.lock_timeout = args.lock.lock_timeout;
    let mut backend = Some(open_backend(&location, &options).await?);
    let mode = Mode::pick(args.json);
    let target = CloudTarget::resolve(sandbox, &loaded.topology).await?;
    let until = args.wait.map(|w| tokio::time::Instant::now() + w);
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
            super::redact::register(state.secrets.values().map(|s| s.expose()));
            let code = run_apply(
                &args,
                sandbox,
                &loaded,
                &target,
                &mut **b,
                state,
                version,
                cancel.clone(),
                mode,
            )
            .await?;
            match code {
                Done::Applied(state) if args.verify => {
                    return verify_after(
                        &loaded,
                        &target,
                        &state,
                        mode,
                        args.verify_wait,
                        owned.clone(),
                    )
                    .await
                }
                Done::Applied(_) => return Ok(ExitCode::SUCCESS),
                Done::Exit(code) => return Ok(code),
                Done::Waiting(waits) => {
                    let left = until
                        .map(|u| u.saturating_duration_since(tokio::time::Instant::now()))
                        .unwrap_or_default();
                    if left.is_zero() || *cancel.borrow() {
                        return Ok(waiting_exit(&waits, mode, args.wait.is_some()));
                    }
                    if mode != Mode::Json {
                        println!(
                            "\nWatching {} for up to {left:.0?} for the other runners' values…",
                            location.describe()
                        );
                    }
                    // A local file is locked while open: let the other runners write it.
                    if !location.shared() {
                        backend = None;
                    }
                    if !wait_for_values(&location, &mut backend, &waits, left).await? {
                        return Ok(waiting_exit(&waits, mode, true));
                    }
                }
            }
        }
    }
    .await;
    if let Some(b) = backend.as_mut() {
        b.close().await;
    }
    target.close().await;
    result
}

/// The clouds of `--cloud` (None: every cloud).
pub fn owned_clouds(clouds: &[Cloud]) -> Option<BTreeSet<Cloud>> {
    (!clouds.is_empty()).then(|| clouds.iter().copied().collect())
}

/// Opens the state for writing, with a message naming the location on failure.
pub async fn open_backend(
    location: &Location,
    options: &peerctl::state::open::OpenOptions,
) -> anyhow::Result<Box<dyn Backend>> {
    open::open(location, options)
        .await
        .with_context(|| format!("opening the state {}", location.describe()))
}

/// Opens the state again after a wait on a local file (closed meanwhile): another runner may
/// hold its lock for a moment, so its lock is waited for as long as the `--wait` has left.
pub async fn reopen_backend(
    location: &Location,
    options: &peerctl::state::open::OpenOptions,
    until: Option<tokio::time::Instant>,
) -> anyhow::Result<Box<dyn Backend>> {
    let mut o = options.clone();
    let left = until
        .map(|u| u.saturating_duration_since(tokio::time::Instant::now()))
        .unwrap_or_default();
    o.lock_timeout = o.lock_timeout.max(left);
    open_backend(location, &o).await
}

/// Waits until the state holds every value `waits` names, or `left` passes (false).
async fn wait_for_values(
    location: &Location,
    backend: &mut Option<Box<dyn Backend>>,
    waits: &[Waiting],
    left: std::time::Duration,
) -> anyhow::Result<bool> {
    wait_for_state(location, backend, "peerctl apply", left, |s| {
        engine::satisfied(waits, s)
    })
    .await
}

/// Waits until `ready` holds for the stored state, or `left` passes (false). etcd is
/// watched; a local file (closed meanwhile, so that other runners can take its lock) is
/// polled twice a second.
pub async fn wait_for_state(
    location: &Location,
    backend: &mut Option<Box<dyn Backend>>,
    command: &str,
    left: std::time::Duration,
    ready: impl Fn(&State) -> bool,
) -> anyhow::Result<bool> {
    let until = tokio::time::Instant::now() + left;
    loop {
        let now = tokio::time::Instant::now();
        let (state, version) = match backend.as_mut() {
            Some(b) => b.read().await?,
            None => (
                super::target::read_state(location, command).await?,
                Version(0),
            ),
        };
        if ready(&state) {
            return Ok(true);
        }
        if now >= until {
            return Ok(false);
        }
        match backend.as_mut() {
            Some(b) => {
                b.wait_for_change(version, until - now).await?;
            }
            None => {
                tokio::time::sleep((until - now).min(std::time::Duration::from_millis(500))).await
            }
        }
    }
}

/// Lists what still waits and returns exit 4.
fn waiting_exit(waits: &[Waiting], mode: Mode, waited: bool) -> ExitCode {
    if mode != Mode::Json {
        let why = if waited {
            "the --wait ran out"
        } else {
            "no --wait given"
        };
        eprintln!(
            "{} resource(s) still wait for other clouds' runners ({why}); run again after the others (exit {EXIT_WAITING}):",
            waits.len()
        );
        for w in waits {
            eprintln!("  waiting: {w}");
        }
    }
    ExitCode::from(EXIT_WAITING)
}

/// How an apply ended: everything applied (with the state now recorded), or an exit code.
enum Done {
    Applied(State),
    Exit(ExitCode),
    /// What could run ran; these wait for other clouds' runners.
    Waiting(Vec<Waiting>),
}

#[allow(clippy::too_many_arguments)]
async fn run_apply(
    args: &ApplyArgs,
    sandbox: Option<&str>,
    loaded: &Loaded,
    target: &CloudTarget,
    backend: &mut dyn Backend,
    state: State,
    version: Version,
    cancel: watch::Receiver<bool>,
    mode: Mode,
) -> anyhow::Result<Done> {
    let owned = owned_clouds(&args.cloud);
    let mut version = version;
    let (state, mut intent) = match &args.planfile {
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
            let (state, v) = reserve(backend, loaded, state, version).await?;
            version = v;
            let (state, drift) = if args.refresh {
                super::refresh::refreshed(target, &loaded.topology, &state, owned.as_ref()).await?
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
    let mut waits = Vec::new();
    if let Some(owned) = &owned {
        intent.changes.retain(|c| owned.contains(&c.cloud));
        waits = engine::waiting(&intent.resources, &intent.changes, &state, owned);
        let held: BTreeSet<&str> = waits.iter().map(|w| w.address.as_str()).collect();
        intent
            .changes
            .retain(|c| !held.contains(c.address.as_str()));
        report_waiting(&waits, mode);
    }
    if intent.changes.is_empty() && !waits.is_empty() {
        return Ok(Done::Waiting(waits));
    }
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
        prune: owned.is_none(),
    };
    let report = engine::apply(work, &providers, &mut store, progress.clone(), cancel).await?;
    progress.finish();
    let next = if args.verify {
        String::new()
    } else {
        format!("{} plan -f {}", command_prefix(sandbox), loaded.path)
    };
    let code = summarise("Apply", &report, mode, &store, &next);
    Ok(if report.ok() && !waits.is_empty() {
        Done::Waiting(waits)
    } else if report.ok() {
        Done::Applied(store.state)
    } else {
        Done::Exit(code)
    })
}

/// Writes the plan's allocations and keys (ASNs, inside ranges, pre-shared keys) that the
/// document lacks, by compare-and-swap, before any cloud call: the first runner's values win
/// and a runner that lost the race plans again with the winner's (the planner keeps what the
/// state records). Only on a shared backend. Returns the document as stored and its version.
async fn reserve(
    backend: &mut dyn Backend,
    loaded: &Loaded,
    state: State,
    version: Version,
) -> anyhow::Result<(State, Version)> {
    // A local file is locked for the whole run: no one else draws keys meanwhile, and the
    // engine records them before its first cloud call (a refused apply writes nothing).
    if !backend.shared() {
        return Ok((state, version));
    }
    let plan = make_plan(loaded, &state)?;
    let missing = |s: &State| {
        plan.allocations
            .asns
            .keys()
            .any(|k| !s.allocations.asns.contains_key(k))
            || plan
                .allocations
                .links
                .keys()
                .any(|k| !s.allocations.links.contains_key(k))
            || plan.secrets.keys().any(|k| !s.secrets.contains_key(k))
            || s.is_empty()
    };
    if !missing(&state) {
        return Ok((state, version));
    }
    super::redact::register(plan.secrets.values().map(|s| s.expose()));
    let (state, version) = peerctl::state::shared::update(backend, |s| {
        if s.is_empty() {
            use rand_core::{OsRng, TryRngCore};
            s.lineage = State::new_lineage(&mut OsRng.unwrap_err());
        }
        for (k, v) in &plan.allocations.asns {
            s.allocations.asns.entry(k.clone()).or_insert(*v);
        }
        for (k, v) in &plan.allocations.links {
            s.allocations
                .links
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in &plan.secrets {
            s.secrets.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Ok(())
    })
    .await
    .with_context(|| {
        format!(
            "recording the allocations and keys in {}",
            backend.describe()
        )
    })?;
    super::redact::register(state.secrets.values().map(|s| s.expose()));
    Ok((state, version))
}

/// Prints (or emits as JSON events) what waits for other clouds' runners.
fn report_waiting(waits: &[Waiting], mode: Mode) {
    for w in waits {
        if mode == Mode::Json {
            let mut v = serde_json::to_value(w).unwrap_or_default();
            v["event"] = "waiting".into();
            json_line(&v);
        } else {
            println!("waiting: {w}");
        }
    }
}

/// `apply --verify`: verify with the state just recorded, waiting up to `wait`.
async fn verify_after(
    loaded: &Loaded,
    target: &CloudTarget,
    state: &State,
    mode: Mode,
    wait: std::time::Duration,
    seen: Option<BTreeSet<Cloud>>,
) -> anyhow::Result<ExitCode> {
    let plan = make_plan(loaded, state)?;
    let clouds = super::verify::read_clouds(&loaded.topology, seen.as_ref());
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
            options: peerctl::verify::Options {
                seen,
                ..Default::default()
            },
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
