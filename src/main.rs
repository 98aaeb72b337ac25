//! The peerctl command line: clap definitions and dispatch only. Each command lives in
//! `cli/<command>.rs`, which reads its arguments, calls the library and renders the result.

mod cli;

/// A fresh `plan` process allocates ~15,000 resources' worth of small objects on a cold heap;
/// mimalloc serves those faster than glibc's malloc (docs/performance.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arenas
/// (`madvise`), and where the kernel's THP defrag setting is `madvise` (Debian's default) a
/// first touch may then wait for the kernel to compact memory into a 2 MB page: one
/// 1,000-network `plan --json` in two took 0.21–0.35 s instead of ~0.12 s, and the huge pages
/// added ~18 MB of peak RSS. With 4 KB pages every run took 0.14–0.21 s (docs/performance.md,
/// "Transparent huge pages"). The flag is checked at each page fault, so arenas mapped before
/// `main` are covered too.
fn small_pages_only() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours; on failure
    // (a kernel without it) the process keeps the kernel's default, which is only slower.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

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
    /// Create or update the planned resources in every cloud (after confirmation).
    Apply(cli::apply::ApplyArgs),
    /// Prove every link works in both directions, and name the cause when it does not.
    Verify(cli::verify::VerifyArgs),
    /// Delete every resource peerctl created for a topology (never a network).
    Destroy(cli::destroy::DestroyArgs),
    /// Show what the state records (never a secret).
    State(cli::state_cmd::StateArgs),
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
    small_pages_only();
    // clap exits 2 on a usage error, which a pipeline using --detailed-exitcode would read
    // as "changes exist": usage errors exit 1 like every other error.
    let args = match Cli::try_parse_from(sandbox_flag_without_value(std::env::args_os())) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    cli::init_logging(args.verbose);
    let result = match args.command {
        Command::Plan(a) => cli::plan::run(a, args.sandbox.as_deref()),
        Command::Apply(a) => cli::apply::run(a, args.sandbox.as_deref()),
        Command::Verify(a) => cli::verify::run(a, args.sandbox.as_deref()),
        Command::Destroy(a) => cli::destroy::run(a, args.sandbox.as_deref()),
        Command::State(a) => cli::state_cmd::run(a, args.sandbox.as_deref()),
        Command::Validate(a) => cli::validate::run(a),
        Command::Graph(a) => cli::graph::run(a, args.sandbox.as_deref()),
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

/// `--sandbox` takes an optional URL, so clap would read the word after a bare `--sandbox` as
/// that URL, even when it is a command (`peerctl --sandbox sandbox stats`). A bare `--sandbox`
/// followed by a command name or another option is therefore rewritten to `--sandbox=local`
/// (the in-process sandbox) before parsing.
fn sandbox_flag_without_value(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    fn names(cmd: &clap::Command, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            out.push(sub.get_name().to_string());
            names(sub, out);
        }
    }
    let mut commands = vec!["help".to_string()];
    names(&Cli::command(), &mut commands);
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let mut out = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let next_is_value = args.get(i + 1).is_some_and(|n| {
            let n = n.to_string_lossy();
            !n.starts_with('-') && !commands.iter().any(|c| *c == n)
        });
        if a == "--sandbox" && !next_is_value {
            out.push(format!("--sandbox={}", cli::target::IN_PROCESS).into());
        } else {
            out.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sandbox_flag_without_value as fix;

    fn v(args: &[&str]) -> Vec<String> {
        fix(args.iter().map(std::ffi::OsString::from))
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn bare_sandbox_before_a_command_means_in_process() {
        assert_eq!(
            v(&["peerctl", "--sandbox", "sandbox", "stats"]),
            ["peerctl", "--sandbox=local", "sandbox", "stats"]
        );
        assert_eq!(
            v(&["peerctl", "sandbox", "reach", "--sandbox", "--from", "a"]),
            [
                "peerctl",
                "sandbox",
                "reach",
                "--sandbox=local",
                "--from",
                "a"
            ]
        );
        assert_eq!(v(&["peerctl", "plan", "--sandbox"])[2], "--sandbox=local");
    }

    #[test]
    fn sandbox_followed_by_a_url_keeps_it() {
        assert_eq!(
            v(&[
                "peerctl",
                "--sandbox",
                "http://127.0.0.1:1",
                "sandbox",
                "stats"
            ]),
            [
                "peerctl",
                "--sandbox",
                "http://127.0.0.1:1",
                "sandbox",
                "stats"
            ]
        );
    }
}
