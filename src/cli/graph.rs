//! `peerctl graph`: the topology as a picture: networks grouped by cloud, links labelled with
//! their strategy and tunnel count, as Mermaid or Graphviz dot text on stdout. With `--state`
//! it reads the clouds as `verify` does and draws each link by health: up, degraded or down,
//! per direction.

use super::verify::{check, Checking};
use anyhow::Context;
use clap::{Args, ValueEnum};
use peerctl::cloud::Cloud;
use peerctl::plan::render;
use peerctl::plan::templates::Templates;
use peerctl::verify::Options;
use std::collections::BTreeSet;
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
    /// Draw each link by health: read the clouds as `verify` does, with this state (no value:
    /// the default state file).
    #[arg(long, value_name = "STATE")]
    pub state: Option<Option<PathBuf>>,
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
    state: Option<&std::path::Path>,
    sandbox: Option<&str>,
    strict: bool,
) -> anyhow::Result<(render::Health, ExitCode)> {
    let path = super::target::state_path(state, sandbox);
    let state = peerctl::state::State::load(&path)?;
    super::redact::register(state.secrets.values().map(|s| s.expose()));
    let plan = super::plan::make_plan(loaded, &state)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let target = super::target::CloudTarget::resolve(sandbox, &loaded.topology).await?;
        let result = async {
            let clouds: BTreeSet<Cloud> =
                loaded.topology.networks.iter().map(|n| n.cloud).collect();
            let providers = target.providers(&clouds).await?;
            let c = Checking {
                providers: &providers,
                time_scale: target.time_scale,
                plan: &plan,
                state: &state,
                topology: &loaded.topology,
                options: Options { strict },
                quiet: true,
            };
            let found = check(&c, None).await;
            for (c, e) in &found.errors {
                eprintln!(
                    "error: cannot read {} ({} {}): {}",
                    c.display_name(),
                    e.scope,
                    e.what,
                    e.message
                );
            }
            let code = if found.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
            Ok((peerctl::verify::render::health(&found.report), code))
        }
        .await;
        target.close().await;
        result
    })
}
