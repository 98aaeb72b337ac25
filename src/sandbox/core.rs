//! The sandbox's core: one world behind one lock, and the dispatch of each request to the
//! cloud front end it is addressed to, with fault injection, counters and persistence
//! around it.

use crate::cloud::Cloud;
use crate::sandbox::faults::Faults;
use crate::sandbox::http::{Request, Response};
use crate::sandbox::latency::Latency;
use crate::sandbox::net::NetState;
use crate::sandbox::stats::Stats;
use crate::sandbox::transport::{self, Failure};
use crate::sandbox::world::{Ctx, World};
use crate::sandbox::{admin, aws, azure, gcp, persist, seed};
use crate::topology::Topology;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How a sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub latency: Latency,
    /// Probability of an injected server error per call.
    pub fault_rate: f64,
    /// Probability of injected throttling per call.
    pub throttle_rate: f64,
    /// Seed of every random choice the sandbox makes (faults).
    pub seed: u64,
    /// Where the world is persisted; `None` = memory only.
    pub data_dir: Option<PathBuf>,
    /// AWS eventual consistency: for this long (sandbox ms) after its creation, a resource is
    /// `…NotFound` when described by id.
    pub aws_consistency_ms: u64,
    /// Answer every cloud call with that cloud's own authentication error (EC2
    /// `AuthFailure`, Google `UNAUTHENTICATED`, ARM `InvalidAuthenticationToken`), as a cloud
    /// does for bad credentials: what a client's credential preflight must recognise.
    /// `POST /_sandbox/auth` changes it at runtime.
    pub reject_credentials: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            latency: Latency::default(),
            fault_rate: 0.0,
            throttle_rate: 0.0,
            seed: 0,
            data_dir: None,
            aws_consistency_ms: 0,
            reject_credentials: false,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox data in {path}: {message}")]
    Data { path: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) struct Inner {
    pub world: World,
    pub stats: Stats,
    pub faults: Faults,
    pub config: SandboxConfig,
    /// Added to the wall clock: `POST /_sandbox/clock` moves time forward for tests.
    pub clock_offset_ms: u64,
    /// Whether cloud calls are refused as unauthenticated (starts as the config says).
    pub reject_credentials: bool,
    /// What `POST /_sandbox/reset` goes back to: the topology given at start, else the seeded
    /// world recorded when the data directory was first seeded (so that an in-process sandbox
    /// started without `-f` resets to its seed rather than to nothing).
    pub topology: Option<Topology>,
    pub seed: Option<serde_json::Value>,
}

impl Inner {
    pub fn now_ms(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        wall.saturating_add(self.clock_offset_ms)
    }

    /// Saves the world when the sandbox has a data directory.
    pub fn persist(&self) -> Result<(), SandboxError> {
        match &self.config.data_dir {
            Some(dir) => persist::save(dir, &self.world, self.clock_offset_ms, self.seed.as_ref()),
            None => Ok(()),
        }
    }

    /// A fresh world seeded with the topology's networks (or the recorded seed).
    pub fn reseed(&mut self) {
        self.world = match (&self.topology, &self.seed) {
            (Some(t), _) => {
                let mut w = World::default();
                seed::seed_topology(&mut w, t);
                self.seed = serde_json::to_value(&w).ok();
                w
            }
            (None, Some(v)) => serde_json::from_value(v.clone()).unwrap_or_default(),
            (None, None) => World::default(),
        };
        self.world.aws.consistency_ms = self.config.aws_consistency_ms;
        self.stats = Stats::default();
        self.faults = Faults::new(
            self.config.fault_rate,
            self.config.throttle_rate,
            self.config.seed,
        );
        self.reject_credentials = self.config.reject_credentials;
    }
}

/// A running sandbox's state, shared by every connection.
pub struct Sandbox {
    pub(crate) inner: Mutex<Inner>,
}

impl Sandbox {
    /// A sandbox seeded with `topology`'s networks, or the world persisted in
    /// `config.data_dir` when one is there.
    pub fn new(config: SandboxConfig, topology: Option<Topology>) -> Result<Sandbox, SandboxError> {
        let faults = Faults::new(config.fault_rate, config.throttle_rate, config.seed);
        let reject_credentials = config.reject_credentials;
        let mut inner = Inner {
            world: World::default(),
            stats: Stats::default(),
            faults,
            config,
            clock_offset_ms: 0,
            reject_credentials,
            topology,
            seed: None,
        };
        let loaded = match &inner.config.data_dir {
            Some(dir) => persist::load(dir)?,
            None => None,
        };
        match loaded {
            Some(saved) => {
                inner.world = saved.world;
                inner.world.aws.consistency_ms = inner.config.aws_consistency_ms;
                inner.clock_offset_ms = saved.clock_offset_ms;
                inner.seed = saved.seed;
            }
            None => {
                inner.reseed();
                inner.persist()?;
            }
        }
        Ok(Sandbox {
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic in a handler must not take the whole sandbox down with a poisoned lock.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers one request. What can be read without the world (the EC2 Query parameters,
    /// with their limits) is read before the world lock is taken, so that a large request
    /// holds no other client up while it is parsed.
    pub fn handle(&self, req: &Request) -> Response {
        let target = target(req);
        let aws_params = matches!(target, Target::Cloud(Cloud::Aws)).then(|| aws::prepare(req));
        let mut inner = self.lock();
        let cloud = match target {
            Target::Admin => return admin::handle(&mut inner, req),
            Target::Cloud(c) => c,
            Target::Unknown => {
                return transport::answer(
                    &req.path,
                    &Failure::NotServed {
                        method: req.method.clone(),
                        path: req.path.clone(),
                    },
                )
            }
        };
        // A cloud checks the caller's credentials before anything else: no fault draw, no
        // counter, no change.
        if inner.reject_credentials {
            tracing::debug!(%cloud, path = %req.path, "credentials rejected");
            return match cloud {
                Cloud::Aws => aws::auth_failure(req),
                Cloud::Gcp => gcp::auth_failure(req),
                Cloud::Azure => azure::auth_failure(req),
            };
        }
        // A request the EC2 front end cannot read as one operation is refused here, counted
        // as `unknown` (like an action it does not serve) and never executed.
        let aws_params = match aws_params {
            Some(Err(refusal)) => {
                inner.stats.record(cloud, "unknown", false);
                return refusal;
            }
            Some(Ok(p)) => Some(p),
            None => None,
        };
        let op = match (cloud, &aws_params) {
            (Cloud::Aws, Some(p)) => aws::identify(p),
            (Cloud::Aws, None) => None,
            (Cloud::Gcp, _) => gcp::identify(req),
            (Cloud::Azure, _) => azure::identify(req),
        };
        let (name, mutating) = op
            .map(|o| (o.name, o.mutating))
            .unwrap_or_else(|| ("unknown".to_string(), false));
        if let Some(kind) = inner.faults.decide(cloud, &name) {
            inner.stats.record_fault(cloud);
            tracing::debug!(%cloud, op = %name, ?kind, "injected fault");
            return match cloud {
                Cloud::Aws => aws::fault_response(kind, req),
                Cloud::Gcp => gcp::fault_response(kind, req),
                Cloud::Azure => azure::fault_response(kind, req),
            };
        }
        inner.stats.record(cloud, &name, mutating);
        let now = inner.now_ms();
        let Inner { world, config, .. } = &mut *inner;
        let ctx = Ctx::new(now, &config.latency, &req.base_url);
        let resp = match cloud {
            Cloud::Aws => match &aws_params {
                Some(p) => aws::handle(world, &ctx, req, p),
                None => transport::answer(&req.path, &Failure::Internal),
            },
            Cloud::Gcp => gcp::handle(world, &ctx, req),
            Cloud::Azure => azure::handle(world, &ctx, req),
        };
        tracing::debug!(%cloud, op = %name, status = resp.status, "handled");
        if mutating {
            if let Err(e) = inner.persist() {
                tracing::error!("cannot persist the sandbox world: {e}");
            }
        }
        resp
    }

    /// Runs `f` on the world and the physics' verdict now (for tests and for verify's
    /// ground truth).
    pub fn inspect<R>(&self, f: impl FnOnce(&World, &NetState) -> R) -> R {
        let inner = self.lock();
        let now = inner.now_ms();
        let ctx = Ctx::new(now, &inner.config.latency, "");
        let net = ctx.net(&inner.world);
        f(&inner.world, net)
    }

    /// Moves the sandbox clock forward (provisioning and handshakes finish sooner).
    pub fn advance_clock(&self, ms: u64) {
        let mut inner = self.lock();
        inner.clock_offset_ms = inner.clock_offset_ms.saturating_add(ms);
        if let Err(e) = inner.persist() {
            tracing::error!("cannot persist the sandbox world: {e}");
        }
    }

    /// Starts or stops answering every cloud call with the cloud's authentication error
    /// (`SandboxConfig::reject_credentials`, `POST /_sandbox/auth`).
    pub fn set_reject_credentials(&self, reject: bool) {
        self.lock().reject_credentials = reject;
    }

    /// The `/_sandbox/stats` document.
    pub fn stats_json(&self) -> serde_json::Value {
        let inner = self.lock();
        inner.stats.to_json(inner.world.created_resources())
    }
}

enum Target {
    Admin,
    Cloud(Cloud),
    Unknown,
}

fn target(req: &Request) -> Target {
    let p = req.path.as_str();
    if p.starts_with("/_sandbox/") {
        Target::Admin
    } else if p.starts_with("/compute/v1/") {
        Target::Cloud(Cloud::Gcp)
    } else if p.starts_with("/subscriptions/") {
        Target::Cloud(Cloud::Azure)
    } else if req.method == "POST" && (p == "/" || p.is_empty()) {
        Target::Cloud(Cloud::Aws)
    } else {
        Target::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_the_world_is_locked_does_not_stop_later_requests() {
        let sb = std::sync::Arc::new(Sandbox::new(SandboxConfig::default(), None).unwrap());
        let held = sb.clone();
        let r = std::thread::spawn(move || {
            let _world = held.inner.lock().unwrap();
            panic!("a handler fails with the world locked");
        })
        .join();
        assert!(r.is_err());
        assert!(sb.inner.is_poisoned());
        let req = Request {
            method: "POST".into(),
            path: "/".into(),
            body: b"Action=DescribeVpcs&Version=2016-11-15".to_vec(),
            ..Request::default()
        };
        let resp = sb.handle(&req);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert!(sb.stats_json().to_string().contains("DescribeVpcs"));
    }
}
