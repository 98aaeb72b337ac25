//! `peerctl graph`: the topology as a picture: networks grouped by cloud, links labelled with
//! their strategy and tunnel count, as Mermaid or Graphviz dot text on stdout.

use anyhow::Context;
use clap::{Args, ValueEnum};
use peerctl::plan::render;
use peerctl::plan::templates::Templates;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
}

#[derive(Args)]
pub struct GraphArgs {
    /// The topology file.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Print every diagnostic of an invalid topology (default: the first 100).
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let loaded = match super::plan::load_topology(&args.file, args.all)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let templates = Templates::embedded().context("embedded connection templates")?;
    let text = match args.format {
        Format::Mermaid => render::mermaid(&loaded.topology, &templates),
        Format::Dot => render::dot(&loaded.topology, &templates),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
