//! One module per command. Errors become messages and exit codes here (anyhow lives only in
//! this layer).

pub mod apply;
pub mod completions;
pub mod destroy;
pub mod graph;
pub mod plan;
pub mod progress;
pub mod sandbox;
pub mod state_cmd;
pub mod target;
pub mod validate;

/// Logs to stderr; `PEERCTL_LOG` (an env-filter) overrides the -v count.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PEERCTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
