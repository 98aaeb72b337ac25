//! The sandbox: local emulators of the AWS EC2, GCP Compute and Azure ARM network APIs over
//! one shared world model, plus the network between the clouds (`net`), a latency model,
//! fault injection and API-call counters. Real SDK clients run against it unmodified.
//!
//! Layout: `http` (request/response types), `world` (the resources of all three clouds),
//! `net` (physics), `aws`/`gcp`/`azure` (wire front ends, one per cloud), `latency`,
//! `faults`, `stats`, `persist` (`--data`), `seed` (networks from a topology), `core`
//! (dispatch), `server` (the HTTP listener), `transport` (errors below any operation, in
//! each cloud's format), `admin` (`/_sandbox/`).

pub mod admin;
pub mod aws;
pub mod azure;
pub mod core;
pub mod faults;
pub mod gcp;
pub mod http;
pub mod latency;
pub mod line_guard;
pub mod net;
pub mod persist;
pub mod seed;
pub mod server;
pub mod stats;
pub mod transport;
pub mod world;

pub use self::core::{Sandbox, SandboxConfig};
pub use self::server::{serve, RunningSandbox};

/// What a front end says about a request before it is handled: its operation name (EC2
/// action, e.g. `CreateVpnConnection`; GCP `vpnTunnels.insert`; Azure
/// `VirtualNetworkGateways_CreateOrUpdate`) and whether it changes anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpInfo {
    pub name: String,
    pub mutating: bool,
}

/// An injected failure, rendered by each cloud in its own error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// An internal error (EC2 500 InternalError, GCP 500/503, Azure 500 InternalServerError).
    ServerError,
    /// Throttling (EC2 503 RequestLimitExceeded, GCP 429 rateLimitExceeded, Azure 429 with
    /// Retry-After).
    Throttle,
}
