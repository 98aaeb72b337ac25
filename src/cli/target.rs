//! Where peerctl's cloud calls go when `--sandbox` is given: a running sandbox at a URL, or an
//! in-process one persisted under `.peerctl/sandbox/` (started on an ephemeral loopback port
//! for the duration of the command).

use anyhow::{bail, Context};
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use peerctl::topology::Topology;
use std::path::PathBuf;
use std::sync::Arc;

/// The value `--sandbox` takes when given without a URL.
pub const IN_PROCESS: &str = "local";

/// Where the in-process sandbox keeps its world.
pub const LOCAL_DIR: &str = ".peerctl/sandbox";

/// Time scale of the in-process sandbox: real durations ÷ 1000 keep the order of events
/// realistic (an Azure gateway still finishes last) while a whole apply takes seconds.
pub const LOCAL_TIME_SCALE: f64 = 0.001;

/// A sandbox to talk to for the duration of one command.
pub struct SandboxEndpoint {
    pub url: String,
    /// Set when the sandbox runs in this process; stopped when the command ends.
    server: Option<RunningSandbox>,
}

impl SandboxEndpoint {
    /// Resolves `--sandbox [URL]`: a URL is used as is; `local` starts the in-process sandbox,
    /// seeded from `topology` when `.peerctl/sandbox/` holds no world yet.
    pub async fn connect(flag: &str, topology: Option<Topology>) -> anyhow::Result<Self> {
        if flag != IN_PROCESS {
            if !(flag.starts_with("http://") || flag.starts_with("https://")) {
                bail!("--sandbox takes a URL such as http://127.0.0.1:4566, or no value for the in-process sandbox (got {flag:?})");
            }
            return Ok(SandboxEndpoint {
                url: flag.trim_end_matches('/').to_string(),
                server: None,
            });
        }
        let dir = PathBuf::from(LOCAL_DIR);
        if topology.is_none() && !dir.join("world.json").exists() {
            bail!(
                "the in-process sandbox in {LOCAL_DIR}/ has no world yet: pass -f TOPOLOGY once to seed it"
            );
        }
        let config = SandboxConfig {
            latency: Latency {
                scale: LOCAL_TIME_SCALE,
            },
            data_dir: Some(dir),
            ..SandboxConfig::default()
        };
        let sandbox = Arc::new(Sandbox::new(config, topology)?);
        let server = peerctl::sandbox::serve(sandbox, "127.0.0.1:0".parse()?)
            .await
            .context("starting the in-process sandbox")?;
        Ok(SandboxEndpoint {
            url: server.url(),
            server: Some(server),
        })
    }

    /// Stops the in-process server, if any.
    pub async fn close(self) {
        if let Some(s) = self.server {
            s.stop().await;
        }
    }
}
