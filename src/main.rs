//! The peerctl command line: clap definitions and dispatch only. Each command lives in
//! `cli/<command>.rs`, which reads its arguments, calls the library and renders the result.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Connect private networks across AWS, GCP and Azure from one declarative topology file.
#[derive(Parser)]
#[command(name = "peerctl", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). Logs go to stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Talk to a sandbox instead of the clouds: `--sandbox URL`, or `--sandbox` alone for an
    /// in-process sandbox persisted under .peerctl/sandbox/.
    #[arg(
        long,
        global = true,
        env = "PEERCTL_SANDBOX",
        num_args = 0..=1,
        require_equals = false,
        default_missing_value = cli::target::IN_PROCESS,
        value_name = "URL"
    )]
    sandbox: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a topology and show what apply would create, change or destroy.
    Plan(cli::plan::PlanArgs),
    /// Validate a topology file only.
    Validate(cli::validate::ValidateArgs),
    /// Draw the topology (Mermaid or Graphviz dot).
    Graph(cli::graph::GraphArgs),
    /// Run local emulators of the three clouds' network APIs.
    Sandbox(cli::sandbox::SandboxArgs),
    /// Print a shell completion script.
    Completions(cli::completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let args = Cli::parse();
    cli::init_logging(args.verbose);
    let result = match args.command {
        Command::Plan(a) => cli::plan::run(a),
        Command::Validate(a) => cli::validate::run(a),
        Command::Graph(a) => cli::graph::run(a),
        Command::Sandbox(a) => cli::sandbox::run(a, args.sandbox.as_deref()),
        Command::Completions(a) => cli::completions::run::<Cli>(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
