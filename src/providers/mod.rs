//! Providers: create, read, update and delete one resource of one kind in one cloud, on that
//! cloud's official SDK. A provider knows nothing of the plan graph, the state file, progress
//! or the sandbox (only an endpoint URL and a time scale, which a sandbox may supply); the
//! engine (`crate::engine`) schedules, retries at the resource level and records.
//!
//! The contract every provider keeps:
//! - `create` first looks the resource up by its identity (deterministic name, and the
//!   `peerctl-topology` / `peerctl-address` tags, labels or description where the cloud has
//!   them) and adopts what it finds, so a lost state or a crash between a cloud's answer and
//!   the state write never makes a twin. An adopted resource is made to carry the planned
//!   pre-shared key (read back and compared where the cloud returns keys, re-keyed or recreated
//!   where it does not), so both ends of a tunnel agree again.
//! - `create` and `update` return once the resource is usable (operation done, state
//!   `available`, provisioning `Succeeded`) with the outputs its kind declares
//!   ([`Kind::outputs`]), `id` always.
//! - `delete` of an absent resource succeeds.
//! - Throttling and transient errors are retried inside ([`retry`]); any other error is
//!   returned with the cloud's code and message.

pub mod attrs;
pub mod aws;
pub mod azure;
pub mod gcp;
pub mod poll;
pub mod retry;

pub use attrs::{Attr, Attrs};

use crate::cloud::Cloud;
use crate::plan::resource::Kind;
use crate::topology::Network;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a created resource exposes to the resources that reference it (`id`, outside IPs…).
pub type Outputs = BTreeMap<String, String>;

/// Tag / label key carrying the topology name on every resource that can hold one.
pub const TAG_TOPOLOGY: &str = "peerctl-topology";
/// Tag key carrying the plan address (`aws.vpn_connection.a--b-0`).
pub const TAG_ADDRESS: &str = "peerctl-address";

/// One resource as a provider sees it: the planned attributes with every reference resolved to
/// the value it names and every secret pointer replaced by the secret.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The plan address, `kind.key`.
    pub address: String,
    pub kind: Kind,
    /// The deterministic cloud name.
    pub name: String,
    /// Region, `global`, or Azure location.
    pub region: String,
    /// The topology's name (for tags and descriptions).
    pub topology: String,
    pub attrs: Attrs,
}

impl Desired {
    /// The description / tag text that identifies this resource as peerctl's:
    /// `peerctl TOPOLOGY ADDRESS`.
    pub fn description(&self) -> String {
        format!("peerctl {} {}", self.topology, self.address)
    }
}

/// One problem found by a preflight check (nothing is created when any exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub cloud: Cloud,
    /// The topology network it is about, when it is about one.
    pub network: Option<String>,
    /// The topology field it is about (`vpc_id`, `cidrs`, `credentials`…).
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.network {
            Some(n) => write!(
                f,
                "{} network {n}: {}: {}",
                self.cloud.display_name(),
                self.field,
                self.message
            ),
            None => write!(
                f,
                "{}: {}: {}",
                self.cloud.display_name(),
                self.field,
                self.message
            ),
        }
    }
}

/// Why a provider call failed. Never carries a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The cloud answered with an error.
    #[error("{code}: {message}")]
    Cloud {
        /// HTTP status, when known.
        status: Option<u16>,
        /// The cloud's error code (`InvalidVpnGatewayID.NotFound`, `RESOURCE_NOT_READY`,
        /// `AnotherOperationInProgress`…).
        code: String,
        message: String,
        /// Throttling or a transient server error: worth another attempt.
        retryable: bool,
        /// Seconds the cloud asked to wait (`Retry-After`), when it did.
        retry_after: Option<Duration>,
    },
    /// Nothing answered at the endpoint (refused, DNS, TLS, timeout).
    #[error("cannot reach {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    /// Credentials missing or refused.
    #[error("credentials: {0}")]
    Auth(String),
    /// A long operation did not finish in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: Duration },
    /// The operation finished and failed (GCP Operation error, Azure `Failed`, AWS `failed`).
    #[error("{what} failed: {message}")]
    Failed { what: String, message: String },
    /// An attribute the provider needs is missing or has the wrong shape (a planner/provider
    /// mismatch, never a user error).
    #[error("attribute {0}")]
    Attribute(String),
}

impl ProviderError {
    pub fn cloud(code: impl Into<String>, message: impl Into<String>) -> ProviderError {
        ProviderError::Cloud {
            status: None,
            code: code.into(),
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// True for errors a retry may cure (throttling, 5xx, a collision such as Azure's
    /// `AnotherOperationInProgress`), and for connection errors (retried a few times only).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Cloud {
                retryable: true,
                ..
            } | ProviderError::Connect { .. }
        )
    }

    /// This error with every one of `secrets` replaced by `***` in its texts: a cloud may echo
    /// a request's key back in a message, and errors reach logs and the terminal.
    pub fn redacted(self, secrets: &[&str]) -> ProviderError {
        let clean = |s: String| {
            secrets
                .iter()
                .filter(|k| !k.is_empty())
                .fold(s, |s, k| s.replace(k, "***"))
        };
        match self {
            ProviderError::Cloud {
                status,
                code,
                message,
                retryable,
                retry_after,
            } => ProviderError::Cloud {
                status,
                code: clean(code),
                message: clean(message),
                retryable,
                retry_after,
            },
            ProviderError::Connect { endpoint, message } => ProviderError::Connect {
                endpoint,
                message: clean(message),
            },
            ProviderError::Auth(m) => ProviderError::Auth(clean(m)),
            ProviderError::Timeout { what, after } => ProviderError::Timeout {
                what: clean(what),
                after,
            },
            ProviderError::Failed { what, message } => ProviderError::Failed {
                what: clean(what),
                message: clean(message),
            },
            ProviderError::Attribute(m) => ProviderError::Attribute(clean(m)),
        }
    }

    /// The cloud's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ProviderError::Cloud { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Timeouts for the slow operations, in real time (scaled with the time scale against a
/// sandbox). Defaults follow the Terraform providers' create timeouts.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Azure VPN gateway create/update/delete (azurerm default: 90 min).
    pub azure_gateway: Duration,
    /// Any other Azure operation (azurerm connection default: 30 min).
    pub azure_other: Duration,
    /// AWS VPN connection create/delete (Terraform: 40 min create).
    pub aws_vpn_connection: Duration,
    /// Any other AWS wait (VGW available / attached / detached).
    pub aws_other: Duration,
    /// A GCP Operation.
    pub gcp_operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        const MIN: u64 = 60;
        Timeouts {
            azure_gateway: Duration::from_secs(90 * MIN),
            azure_other: Duration::from_secs(30 * MIN),
            aws_vpn_connection: Duration::from_secs(40 * MIN),
            aws_other: Duration::from_secs(10 * MIN),
            gcp_operation: Duration::from_secs(20 * MIN),
        }
    }
}

/// How a provider reaches its cloud.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// An endpoint URL overriding the cloud's (a sandbox, or a private endpoint). With it, the
    /// provider uses fixed placeholder credentials and consults no credential chain.
    pub endpoint: Option<String>,
    /// Multiplier on every poll interval and timeout: 1 against the clouds; a time-scaled
    /// sandbox's scale against it.
    pub time_scale: f64,
    pub timeouts: Timeouts,
    /// Requests in flight at once towards this cloud.
    pub max_concurrent_requests: usize,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            endpoint: None,
            time_scale: 1.0,
            timeouts: Timeouts::default(),
            max_concurrent_requests: 16,
        }
    }
}

impl ProviderConfig {
    /// `real` scaled by the time scale (never below 1 ms, so loops still yield).
    pub fn scaled(&self, real: Duration) -> Duration {
        let s = real.as_secs_f64() * self.time_scale.max(0.0);
        Duration::from_secs_f64(s).max(Duration::from_millis(1))
    }

    /// Sleeps a poll interval of `real` duration, scaled.
    pub async fn poll_sleep(&self, real: Duration) {
        tokio::time::sleep(self.scaled(real)).await;
    }
}

/// One resource of the state as verify hands it to its cloud's provider: what it should be
/// (resolved as the engine resolves it, keys included so a provider can compare them without
/// returning them) and the id it was recorded with.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub desired: Desired,
    pub id: String,
    /// The topology network holding it, when it has one.
    pub network: Option<String>,
    pub link: Option<String>,
}

/// What verify asks one cloud to read: the recorded resources of that cloud and its topology
/// networks (for their effective routes and firewalls).
#[derive(Debug, Clone)]
pub struct ObserveRequest {
    pub topology: String,
    pub resources: Vec<Recorded>,
    pub networks: Vec<Network>,
}

/// One cloud's provider. Implementations hold their SDK clients (one per region where the
/// SDK is regional) and keep the per-gateway / per-router write serialisation the cloud needs.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn cloud(&self) -> Cloud;

    /// Cheap reads before any mutation: the credentials work, every network of the topology
    /// in this cloud exists with the CIDRs the topology gives, and hard limits hold. Returns
    /// every problem found (empty: go).
    async fn preflight(&self, networks: &[Network]) -> Vec<Problem>;

    /// Finds the resource by `id` (from state) or else by its identity; `None` when absent.
    /// Returns its outputs.
    async fn read(&self, d: &Desired, id: Option<&str>) -> Result<Option<Outputs>, ProviderError>;

    /// Creates the resource (or adopts the one with its identity) and waits until usable.
    async fn create(&self, d: &Desired) -> Result<Outputs, ProviderError>;

    /// Applies changed attributes in place (`changed` names them) to the resource `id`.
    async fn update(
        &self,
        d: &Desired,
        id: &str,
        changed: &[String],
    ) -> Result<Outputs, ProviderError>;

    /// Deletes the resource `id` (as described by `d`) and waits until it is gone; absent is
    /// success.
    async fn delete(&self, d: &Desired, id: &str) -> Result<(), ProviderError>;

    /// Reads (never writes) what verify needs, batched per scope and kind: each recorded
    /// resource's presence and attributes, tunnel and BGP status, and each network's routes
    /// and firewall rules. A read that fails is recorded in the snapshot's `errors`; `Err` only
    /// when nothing could be read at all.
    async fn observe(
        &self,
        request: &ObserveRequest,
    ) -> Result<crate::verify::snapshot::CloudSnapshot, ProviderError>;
}
