//! `peerctl graph`: the topology as a picture: networks grouped by cloud, links labelled with
//! their strategy and tunnel count, as Mermaid or Graphviz dot text on stdout. With `--state`
//! it reads the clouds as `verify` does and draws each link by health: up, degraded or down,
//! per direction.

use anyhow::Context;
use clap::{Args, ValueEnum};
use peerctl::plan::render;
use peerctl::plan::templates::Templates;
use peerctl::verify::Options;
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
    /// Draw each link by health: read the clouds as `verify` does, with this state (a file
    /// path or etcd://HOST:PORT/KEY; no value: $PEERCTL_STATE, else the default file).
    #[arg(long, value_name = "LOCATION")]
    pub state: Option<Option<String>>,
    /// With --state: a degraded link (3 of 4 tunnels up) is drawn down.
    #[arg(long, requires = "state")]
    pub strict: bool,
}

pub fn run(args: GraphArgs, sandbox: Option<&str>) -> anyhow::Result<ExitCode> {
    let loaded = match super::plan::load_topology(&args.file, args.all)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let templates = Templates::embedded().context("embedded connection templates")?;
    let (health, code) = match &args.state {
        None => (None, ExitCode::SUCCESS),
        Some(state) => {
            let (h, code) = judged(&loaded, state.as_deref(), sandbox, args.strict)?;
            (Some(h), code)
        }
    };
    let text = match args.format {
        Format::Mermaid => render::mermaid_with(&loaded.topology, &templates, health.as_ref()),
        Format::Dot => render::dot_with(&loaded.topology, &templates, health.as_ref()),
    };
    print!("{text}");
    Ok(code)
}

/// Verify's verdicts per direction; exit 1 when a cloud could not be read (its links are
/// drawn as the judge saw them, i.e. down). A failing link is drawn, not an error: the
/// picture is for looking, `verify` is the gate.
fn judged(
    loaded: &super::plan::Loaded,
    state: Option<&str>,
    sandbox: Option<&str>,
    strict: bool,
) -> anyhow::Result<(render::Health, ExitCode)> {
    let found = super::verify::verified(
        loaded,
        state,
        sandbox,
        Options {
            strict,
            ..Default::default()
        },
        None,
        true,
    )?;
    found.print_errors();
    let code = if found.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    Ok((peerctl::verify::render::health(&found.report), code))
}
