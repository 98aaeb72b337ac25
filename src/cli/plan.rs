//! `peerctl plan`: validate a topology, plan it against the state, print the plan (human or
//! JSON) and optionally save it (with its pre-shared keys, mode 0600) for apply.

use anyhow::Context;
use clap::Args;
use peerctl::plan::saved::{self, SavedPlan};
use peerctl::plan::templates::Templates;
use peerctl::plan::{render, Plan};
use peerctl::state::{self, State};
use peerctl::topology::{self, Topology, TopologyError};
use rand_core::SeedableRng;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct PlanArgs {
    /// The topology file.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The state: a file path or etcd://HOST:PORT/KEY (default: $PEERCTL_STATE, else
    /// .peerctl/state.json; .peerctl/sandbox/state.json with the in-process sandbox).
    #[arg(long, value_name = "LOCATION")]
    pub state: Option<String>,
    /// Save the plan (with its pre-shared keys, mode 0600) for `apply`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON document instead of the human plan.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when the plan has changes (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print every diagnostic of an invalid topology (default: the first 100).
    #[arg(long)]
    pub all: bool,
    /// Read the recorded resources in their clouds first and plan against what is there
    /// (default); `--refresh=false` plans from the state alone, without cloud access.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

/// A topology file read and validated, with its bytes' digest.
pub struct Loaded {
    /// The file as the user named it (for messages).
    pub path: String,
    pub topology: Topology,
    pub digest: String,
}

/// Diagnostics printed without `--all`: enough to fix a file by, few enough that a hostile or
/// badly broken file cannot flood the terminal.
pub const SHOWN_DIAGNOSTICS: usize = 100;

/// Reads and validates the topology; prints its diagnostics to stderr (one per line, the first
/// [`SHOWN_DIAGNOSTICS`] unless `all`) and returns `Err(exit code 1)` when it is invalid.
pub fn load_topology(path: &Path, all: bool) -> anyhow::Result<Result<Loaded, ExitCode>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    match topology::parse_bytes(&name, &bytes) {
        Ok(topology) => Ok(Ok(Loaded {
            path: name,
            topology,
            digest: saved::digest(&bytes),
        })),
        Err(TopologyError::Invalid(diags)) => {
            let shown = if all {
                diags.len()
            } else {
                diags.len().min(SHOWN_DIAGNOSTICS)
            };
            for d in &diags[..shown] {
                eprintln!("{d}");
            }
            if shown < diags.len() {
                eprintln!("… and {} more (--all to list them)", diags.len() - shown);
            }
            eprintln!(
                "{}: {} problem(s); nothing was planned",
                topology::escape(&name),
                diags.len()
            );
            Ok(Err(ExitCode::from(1)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Plans a loaded topology against `state` with an OS-seeded key generator. An error about a
/// place in the topology file is prefixed with `file:line:col:` like a validation diagnostic.
pub fn make_plan(loaded: &Loaded, state: &State) -> anyhow::Result<Plan> {
    let templates = Templates::embedded().context("embedded connection templates")?;
    let mut rng = rand_chacha::ChaCha20Rng::from_os_rng();
    peerctl::plan::plan(&loaded.topology, state, &templates, &mut rng).map_err(|e| {
        match e.position() {
            Some((line, col)) => anyhow::anyhow!("{}:{line}:{col}: {e}", loaded.path),
            None => e.into(),
        }
    })
}

pub fn run(args: PlanArgs, sandbox: Option<&str>) -> anyhow::Result<ExitCode> {
    let loaded = match load_topology(&args.file, args.all)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let location = super::target::state_location(args.state.as_deref(), sandbox)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let state = rt.block_on(super::target::read_state(&location, "peerctl plan"))?;
    super::redact::register(state.secrets.values().map(|s| s.expose()));
    let (state, drift) = if args.refresh && !state.resources.is_empty() {
        rt.block_on(async {
            let target = super::target::CloudTarget::resolve(sandbox, &loaded.topology).await?;
            let r = super::refresh::refreshed(&target, &loaded.topology, &state, None).await;
            target.close().await;
            r
        })?
    } else {
        (state, Vec::new())
    };
    let plan = make_plan(&loaded, &state)?;
    if let Some(out) = &args.out {
        let saved = SavedPlan::new(&plan, loaded.digest.clone(), &state);
        state::write_atomic(out, saved.to_json().as_bytes())
            .with_context(|| format!("saving the plan to {}", out.display()))?;
    }
    if args.json {
        // Straight from the plan into a large buffer on stdout: no document tree, no 14 MB
        // string at 1,000 networks, a few large writes to the pipe.
        let drift = serde_json::to_value(&drift).unwrap_or_default();
        let mut out = std::io::BufWriter::with_capacity(STDOUT_BUFFER, std::io::stdout().lock());
        render::JsonPlan::new(&plan, &state)
            .with_drift(&drift)
            .write_pretty(&mut out)
            .and_then(|()| out.flush())
            .context("writing the plan to stdout")?;
    } else {
        print!("{}", super::refresh::drift_text(&drift));
        print!("{}", render::human(&plan, &loaded.topology));
        if let Some(out) = &args.out {
            println!(
                "\nSaved the plan to {} (it holds pre-shared keys; keep it private).",
                out.display()
            );
        }
    }
    let code = if args.detailed_exitcode && !plan.summary().is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    // The runtime shuts down as before (an in-process sandbox or a client may hold tasks).
    drop(rt);
    exit_without_freeing((plan, state, loaded));
    Ok(code)
}

/// Buffer between the JSON writer and stdout.
const STDOUT_BUFFER: usize = 1 << 20;

/// Leaves what a command built to the end of the process instead of freeing it: everything
/// is printed and flushed by then, and `main` returns right after. Freeing a large plan is
/// one free per map node and string (hundreds of thousands at 1,000 networks), which glibc
/// spends tens of milliseconds on; the kernel takes the pages back at exit for nothing. Only
/// for plain data: nothing given here may need its destructor (no file, lock, connection or
/// task; secrets are not zeroed on drop anyway).
pub fn exit_without_freeing<T>(held: T) {
    std::mem::forget(held);
}
