//! `peerctl validate`: check a topology file. Diagnostics go to stderr, one per line; the
//! planner runs too (on an empty state), so that a file that validates also plans.

use clap::Args;
use peerctl::state::State;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ValidateArgs {
    /// The topology file.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Print every diagnostic (default: the first 100).
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let loaded = match super::plan::load_topology(&args.file, args.all)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let plan = match super::plan::make_plan(&loaded, &State::empty()) {
        Ok(p) => p,
        Err(e) => {
            // Positional errors already start with `file:line:col:`.
            let msg = format!("{e:#}");
            if msg.starts_with(&loaded.path) {
                eprintln!("{msg}");
            } else {
                eprintln!("{}: {msg}", loaded.path);
            }
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "{}: valid ({} networks, {} links)",
        args.file.display(),
        loaded.topology.networks.len(),
        loaded.topology.links.len()
    );
    super::plan::exit_without_freeing((plan, loaded));
    Ok(ExitCode::SUCCESS)
}
