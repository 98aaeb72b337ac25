//! `peerctl graph` (stub, being written).

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct GraphArgs {
    /// The topology file.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
}

pub fn run(_args: GraphArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
