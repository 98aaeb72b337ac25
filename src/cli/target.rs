//! Where peerctl's cloud calls go when `--sandbox` is given: a running sandbox at a URL, or an
//! in-process one persisted under `.peerctl/sandbox/` (started on an ephemeral loopback port
//! for the duration of the command).

use anyhow::{bail, Context};
use peerctl::cloud::Cloud;
use peerctl::engine::Providers;
use peerctl::providers::aws::AwsProvider;
use peerctl::providers::azure::AzureProvider;
use peerctl::providers::gcp::GcpProvider;
use peerctl::providers::{Provider, ProviderConfig};
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use peerctl::state::open::{self, Location, OpenOptions, STATE_VAR};
use peerctl::state::State;
use peerctl::topology::Topology;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
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

/// Where the providers of one command send their calls: the clouds (default credential
/// chains) or a sandbox (its URL, placeholder credentials, and its time scale, read from its
/// admin API so that every poll interval and timeout is scaled alike).
pub struct CloudTarget {
    pub endpoint: Option<String>,
    pub time_scale: f64,
    sandbox: Option<SandboxEndpoint>,
}

impl CloudTarget {
    /// Resolves the global `--sandbox` flag: none = the clouds.
    pub async fn resolve(flag: Option<&str>, topology: &Topology) -> anyhow::Result<CloudTarget> {
        let Some(flag) = flag else {
            return Ok(CloudTarget {
                endpoint: None,
                time_scale: 1.0,
                sandbox: None,
            });
        };
        let sandbox = SandboxEndpoint::connect(flag, Some(topology.clone())).await?;
        let time_scale = sandbox_time_scale(&sandbox.url).await?;
        Ok(CloudTarget {
            endpoint: Some(sandbox.url.clone()),
            time_scale,
            sandbox: Some(sandbox),
        })
    }

    /// The configuration every provider of this command gets: the target, and the timeouts
    /// with any `PEERCTL_TIMEOUT_*` override.
    pub fn provider_config(&self) -> anyhow::Result<ProviderConfig> {
        Ok(ProviderConfig {
            endpoint: self.endpoint.clone(),
            time_scale: self.time_scale,
            timeouts: timeouts_from_env(|k| std::env::var(k).ok())?,
            ..ProviderConfig::default()
        })
    }

    /// Providers for `clouds`.
    pub async fn providers(&self, clouds: &BTreeSet<Cloud>) -> anyhow::Result<Providers> {
        let cfg = self.provider_config()?;
        let mut p = Providers::new();
        for c in clouds {
            let provider: Arc<dyn Provider> = match c {
                Cloud::Aws => Arc::new(AwsProvider::new(cfg.clone()).await?),
                Cloud::Gcp => Arc::new(GcpProvider::new(cfg.clone()).await?),
                Cloud::Azure => Arc::new(AzureProvider::new(cfg.clone()).await?),
            };
            p.insert(provider);
        }
        Ok(p)
    }

    /// Stops the in-process sandbox, if any.
    pub async fn close(self) {
        if let Some(s) = self.sandbox {
            s.close().await;
        }
    }
}

/// The sandbox's time scale from `GET /_sandbox/latency`.
async fn sandbox_time_scale(url: &str) -> anyhow::Result<f64> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let at = format!("{url}/_sandbox/latency");
    let resp = http
        .get(&at)
        .send()
        .await
        .with_context(|| format!("cannot reach the sandbox at {url}"))?;
    let status = resp.status();
    let body = resp.bytes().await?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("{at} did not answer JSON (HTTP {status})"))?;
    v.get("scale")
        .and_then(|s| s.as_f64())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .with_context(|| {
            format!("{at} gave no time scale (HTTP {status}): is {url} a peerctl sandbox?")
        })
}

/// The state file a command uses when no location is given: the in-process sandbox keeps
/// its own beside its world, so that trying the sandbox never touches the state of real
/// clouds.
pub fn state_path(arg: Option<&Path>, sandbox: Option<&str>) -> PathBuf {
    match (arg, sandbox) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(IN_PROCESS)) => PathBuf::from(LOCAL_DIR).join("state.json"),
        (None, _) => PathBuf::from(DEFAULT_STATE),
    }
}

/// Where a command's state lives: `--state` (a path or `etcd://HOST:PORT/KEY`), else
/// `PEERCTL_STATE`, else the default file ([`state_path`]).
pub fn state_location(arg: Option<&str>, sandbox: Option<&str>) -> anyhow::Result<Location> {
    let env = std::env::var(STATE_VAR).ok().filter(|v| !v.is_empty());
    let (spec, from) = match (arg, env) {
        (Some(a), _) => (a.to_string(), "--state"),
        (None, Some(v)) => (v, STATE_VAR),
        (None, None) => return Ok(Location::File(state_path(None, sandbox))),
    };
    Location::parse(&spec).with_context(|| format!("{from} {spec:?}"))
}

/// The options a command opens its state with: the keys and etcd settings from the
/// environment, and the clouds it writes (None: all), whose writer locks it takes when it
/// opens the state for writing.
pub fn state_options(command: &str, owned: Option<BTreeSet<Cloud>>) -> anyhow::Result<OpenOptions> {
    let mut o = OpenOptions::from_env(command)?;
    o.owned = owned;
    o.lock = true;
    Ok(o)
}

/// Reads the state once, unlocked (plan, verify, state list).
pub async fn read_state(location: &Location, command: &str) -> anyhow::Result<State> {
    let o = state_options(command, None)?;
    open::read(location, &o)
        .await
        .with_context(|| format!("reading the state {}", location.describe()))
}

/// The default state file against the clouds (and a sandbox at a URL).
pub const DEFAULT_STATE: &str = ".peerctl/state.json";

/// The variables that override the providers' timeouts (real time; scaled against a sandbox).
pub const TIMEOUT_VARS: [&str; 5] = [
    "PEERCTL_TIMEOUT_AZURE_GATEWAY",
    "PEERCTL_TIMEOUT_AZURE_OTHER",
    "PEERCTL_TIMEOUT_AWS_VPN_CONNECTION",
    "PEERCTL_TIMEOUT_AWS_OTHER",
    "PEERCTL_TIMEOUT_GCP_OPERATION",
];

/// The default timeouts with the overrides `var` gives.
pub fn timeouts_from_env(
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<peerctl::providers::Timeouts> {
    let mut t = peerctl::providers::Timeouts::default();
    for name in TIMEOUT_VARS {
        let Some(v) = var(name) else { continue };
        let d = super::duration::parse(&v).map_err(|e| {
            anyhow::anyhow!("{name}={v:?}: {e}; a duration with a unit, such as 90m or 2h")
        })?;
        let slot = match name {
            "PEERCTL_TIMEOUT_AZURE_GATEWAY" => &mut t.azure_gateway,
            "PEERCTL_TIMEOUT_AZURE_OTHER" => &mut t.azure_other,
            "PEERCTL_TIMEOUT_AWS_VPN_CONNECTION" => &mut t.aws_vpn_connection,
            "PEERCTL_TIMEOUT_AWS_OTHER" => &mut t.aws_other,
            _ => &mut t.gcp_operation,
        };
        *slot = d;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timeouts_default_to_terraforms_and_can_be_overridden() {
        let t = timeouts_from_env(|_| None).unwrap();
        assert_eq!(t.azure_gateway, Duration::from_secs(90 * 60));
        let t = timeouts_from_env(|k| (k == "PEERCTL_TIMEOUT_AZURE_GATEWAY").then(|| "2h".into()))
            .unwrap();
        assert_eq!(t.azure_gateway, Duration::from_secs(7200));
        let e =
            timeouts_from_env(|k| (k == "PEERCTL_TIMEOUT_GCP_OPERATION").then(|| "soon".into()))
                .unwrap_err();
        assert!(e.to_string().contains("PEERCTL_TIMEOUT_GCP_OPERATION"));
    }
}
