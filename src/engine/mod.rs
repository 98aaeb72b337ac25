//! The engine: executes a plan's changes against providers. It walks the resource graph,
//! starting each resource the moment its dependencies are done and the outputs it references
//! are known, records every finished resource in state, and stops cleanly on failure or
//! cancellation. It knows clouds only through [`crate::providers::Provider`], and the state
//! only through [`crate::state::backend::Backend`].
//!
//! `walk` is the scheduler, `run` the apply / destroy / discovery drivers over it, `resolve`
//! turns planned attributes into a provider's view, `expect` holds the usual durations shown
//! in progress, `waiting` finds what a per-cloud runner must leave for later (`holding`: what a per-cloud destroy must keep), `observe` reads every cloud at once and `refresh` turns that reading into
//! the state the planner diffs against.

pub mod expect;
pub mod holding;
pub mod observe;
pub mod refresh;
pub mod resolve;
pub mod run;
pub mod waiting;
pub mod walk;

pub use observe::observe;
pub use refresh::{refresh, Drift};
pub use resolve::desired;
pub use run::{apply, destroy, discover, EngineError, Failure, Report, Store, Work};
pub use waiting::{satisfied, waiting, Waiting};

use crate::cloud::Cloud;
use crate::plan::Action;
use crate::providers::{Problem, Provider};
use crate::topology::Network;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What the engine reports while it runs (rendered by the CLI as progress bars, timestamped
/// lines or JSON events). Never carries a secret.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        address: String,
        action: Action,
        cloud: Cloud,
        /// The usual duration of this action on this kind (an estimate).
        expected: Duration,
    },
    Finished {
        address: String,
        action: Action,
        elapsed: Duration,
    },
    Failed {
        address: String,
        action: Action,
        error: String,
    },
}

/// Receives events; called from the engine's own task, so an implementation must not block.
pub trait Events: Send + Sync {
    fn emit(&self, event: &Event);
}

/// Discards events.
pub struct NoEvents;
impl Events for NoEvents {
    fn emit(&self, _: &Event) {}
}

/// The providers of a run, one per cloud.
#[derive(Default, Clone)]
pub struct Providers {
    map: BTreeMap<Cloud, Arc<dyn Provider>>,
}

impl Providers {
    pub fn new() -> Providers {
        Providers::default()
    }
    pub fn insert(&mut self, p: Arc<dyn Provider>) {
        self.map.insert(p.cloud(), p);
    }
    pub fn get(&self, c: Cloud) -> Option<Arc<dyn Provider>> {
        self.map.get(&c).cloned()
    }
    pub fn clouds(&self) -> impl Iterator<Item = Cloud> + '_ {
        self.map.keys().copied()
    }

    /// Every provider's preflight over its networks, concurrently; every problem found.
    pub async fn preflight(&self, networks: &[Network]) -> Vec<Problem> {
        let checks = self.map.iter().map(|(cloud, p)| {
            let mine: Vec<Network> = networks
                .iter()
                .filter(|n| n.cloud == *cloud)
                .cloned()
                .collect();
            let p = p.clone();
            async move { p.preflight(&mine).await }
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
