//! The fetch → modify → compare-and-swap loop on a shared backend, retried with jitter on
//! conflict: [`update`] for a change expressed as a function of the current document, and
//! [`Merging`], a backend wrapper that turns every write of a runner into "apply what this
//! runner changed to the latest document" ([`super::merge::Delta`]), so that runners writing
//! the same document at the same time never lose each other's updates.

use super::backend::{Backend, Version};
use super::merge::Delta;
use super::{State, StateError};
use crate::cloud::Cloud;
use backon::{BackoffBuilder, ExponentialBuilder};
use std::collections::BTreeSet;
use std::time::Duration;

/// Attempts before a write gives up ([`StateError::Contended`]): far more than any realistic
/// number of runners needs, since each lost attempt means another writer succeeded.
pub const MAX_ATTEMPTS: usize = 500;

/// Delays between attempts: exponential from 5 ms to 1 s, with full jitter so that writers
/// that collided do not collide again in lockstep.
fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_secs(1))
        .with_factor(1.6)
        .with_jitter()
        .with_max_times(MAX_ATTEMPTS)
        .build()
}

/// Reads the document, applies `change`, writes it if nobody wrote in between; on a conflict
/// re-reads and applies `change` again. Returns the document written and its version. The
/// serial is bumped on every write.
pub async fn update<F>(
    backend: &mut dyn Backend,
    mut change: F,
) -> Result<(State, Version), StateError>
where
    F: FnMut(&mut State) -> Result<(), StateError> + Send,
{
    let mut delays = backoff();
    let mut attempts = 0;
    loop {
        let (mut state, version) = backend.read().await?;
        change(&mut state)?;
        state.serial += 1;
        attempts += 1;
        match backend.write(&state, version).await {
            Ok(v) => return Ok((state, v)),
            Err(StateError::Conflict { .. }) => match delays.next() {
                Some(d) => tokio::time::sleep(d).await,
                None => {
                    return Err(StateError::Contended {
                        path: backend.describe(),
                        attempts,
                    })
                }
            },
            Err(e) => return Err(e),
        }
    }
}

/// A backend whose writes merge: the caller's document is compared with the one it last
/// read or wrote, and only that difference is applied to the stored document (re-read after
/// a lost compare-and-swap, then retried with jitter). Resources of clouds outside `owned`
/// are never written by this runner; allocations and secrets it adds only fill gaps (the
/// first writer's win). [`Merging::latest`] is the merged document.
pub struct Merging {
    inner: Box<dyn Backend>,
    owned: Option<BTreeSet<Cloud>>,
    /// The document as the caller last saw it (read, or passed to a write).
    given: Option<State>,
    /// The document as last stored by anyone, as far as this runner knows, and its version.
    stored: Option<(State, Version)>,
}

impl Merging {
    /// Wraps `inner`; `owned`: the clouds this runner writes (None: all).
    pub fn new(inner: Box<dyn Backend>, owned: Option<BTreeSet<Cloud>>) -> Merging {
        Merging {
            inner,
            owned,
            given: None,
            stored: None,
        }
    }

    /// The stored document after the last read or write (with everyone's changes merged).
    pub fn latest(&self) -> Option<&State> {
        self.stored.as_ref().map(|(s, _)| s)
    }
}

#[async_trait::async_trait]
impl Backend for Merging {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    async fn read(&mut self) -> Result<(State, Version), StateError> {
        let (s, v) = self.inner.read().await?;
        self.given = Some(s.clone());
        self.stored = Some((s.clone(), v));
        Ok((s, v))
    }

    /// `expected` is not compared: the merge is against whatever is stored now.
    async fn write(&mut self, state: &State, _expected: Version) -> Result<Version, StateError> {
        let base = self.given.clone().unwrap_or_else(State::empty);
        let delta = Delta::between(&base, state, self.owned.as_ref());
        let (mut current, mut version) = match self.stored.take() {
            Some(sv) => sv,
            None => self.inner.read().await?,
        };
        let mut delays = backoff();
        let mut attempts = 0;
        loop {
            let mut next = current.clone();
            delta.apply(&mut next);
            next.serial = current.serial + 1;
            attempts += 1;
            match self.inner.write(&next, version).await {
                Ok(v) => {
                    self.given = Some(state.clone());
                    self.stored = Some((next, v));
                    return Ok(v);
                }
                Err(StateError::Conflict { .. }) => {
                    let Some(d) = delays.next() else {
                        return Err(StateError::Contended {
                            path: self.describe(),
                            attempts,
                        });
                    };
                    tokio::time::sleep(d).await;
                    (current, version) = self.inner.read().await?;
                }
                Err(e) => {
                    self.stored = Some((current, version));
                    return Err(e);
                }
            }
        }
    }

    async fn wait_for_change(
        &mut self,
        seen: Version,
        timeout: Duration,
    ) -> Result<bool, StateError> {
        self.inner.wait_for_change(seen, timeout).await
    }

    async fn close(&mut self) {
        self.inner.close().await
    }
}
