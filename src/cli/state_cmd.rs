//! `peerctl state list|show`: what the state records, never a secret (secret pointers are
//! shown as `(sensitive)`, and the secrets map is never printed).

use super::target::{read_state, state_location};
use anyhow::bail;
use clap::{Args, Subcommand};
use peerctl::plan::resource::Value;
use peerctl::state::State;
use std::process::ExitCode;

#[derive(Args)]
pub struct StateArgs {
    /// The state: a file path or etcd://HOST:PORT/KEY (default: $PEERCTL_STATE, else
    /// .peerctl/state.json; .peerctl/sandbox/state.json with the in-process sandbox).
    #[arg(long, global = true, value_name = "LOCATION")]
    pub state: Option<String>,
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Subcommand)]
pub enum StateCommand {
    /// Every recorded resource: address, cloud id.
    List,
    /// One resource's record: kind, name, id, region, attributes, outputs.
    Show {
        /// The resource's address, e.g. aws.vpn_connection.aws-use1--gcp-usc1-0.
        address: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A value for display: secret pointers masked, references as `<address.output>`.
fn shown(v: &Value) -> serde_json::Value {
    match v {
        Value::Secret(_) => serde_json::Value::from("(sensitive)"),
        Value::Ref(r) => serde_json::json!({"ref": format!("{}.{}", r.resource, r.output)}),
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Str(s) => s.clone().into(),
        Value::List(l) => l.iter().map(shown).collect::<Vec<_>>().into(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), shown(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

pub fn run(args: StateArgs, sandbox: Option<&str>) -> anyhow::Result<ExitCode> {
    let location = state_location(args.state.as_deref(), sandbox)?;
    let rt = tokio::runtime::Runtime::new()?;
    let state: State = rt.block_on(read_state(&location, "peerctl state"))?;
    match args.command {
        StateCommand::List => {
            for (a, r) in &state.resources {
                println!("{a}\t{}", r.id);
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Show { address, json } => {
            let Some(r) = state.resources.get(&address) else {
                bail!("{address} is not in {}", location.describe());
            };
            let doc = serde_json::json!({
                "address": address, "kind": r.kind, "cloud": r.cloud, "name": r.name,
                "id": r.id, "region": r.region, "network": r.network, "link": r.link,
                "attributes": r.attributes.iter().map(|(k, v)| (k.clone(), shown(v)))
                    .collect::<serde_json::Map<_, _>>(),
                "outputs": r.outputs, "depends_on": r.depends_on,
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                println!(
                    "{address}\n  kind: {}\n  name: {}\n  id: {}\n  region: {}",
                    r.kind, r.name, r.id, r.region
                );
                if let Some(n) = &r.network {
                    println!("  network: {n}");
                }
                if let Some(l) = &r.link {
                    println!("  link: {l}");
                }
                println!("  attributes:");
                for (k, v) in &r.attributes {
                    println!("    {k} = {}", shown(v));
                }
                println!("  outputs:");
                for (k, v) in &r.outputs {
                    println!("    {k} = {v}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
