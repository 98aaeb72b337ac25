//! The refresh step of `plan` and `apply`: read what the recorded resources look like in
//! their clouds (the same batched reads as verify) and plan against that. An empty state, or
//! `--refresh=false`, needs no cloud access at all.

use super::target::CloudTarget;
use peerctl::cloud::Cloud;
use peerctl::engine::{self, Drift};
use peerctl::state::State;
use peerctl::topology::Topology;
use std::collections::BTreeSet;

/// `state` as the clouds hold it, and what differed; `only`: read just these clouds (a
/// per-cloud runner; the other clouds' records are kept as they are). Fails (naming every unreadable cloud)
/// rather than plan from a partial reading.
pub async fn refreshed(
    target: &CloudTarget,
    topology: &Topology,
    state: &State,
    only: Option<&BTreeSet<Cloud>>,
) -> anyhow::Result<(State, Vec<Drift>)> {
    let clouds: BTreeSet<Cloud> = state
        .resources
        .values()
        .map(|r| r.cloud)
        .filter(|c| only.is_none_or(|o| o.contains(c)))
        .collect();
    if clouds.is_empty() {
        return Ok((state.clone(), Vec::new()));
    }
    let providers = target.providers(&clouds).await?;
    let snap = engine::observe(&providers, topology, state).await;
    let errors: Vec<String> = snap
        .errors()
        .map(|(c, e)| {
            format!(
                "{} ({} {}): {}",
                c.display_name(),
                e.scope,
                e.what,
                e.message
            )
        })
        .collect();
    if !errors.is_empty() {
        anyhow::bail!(
            "cannot refresh the state from the clouds: {}\n(--refresh=false plans from the recorded state alone)",
            errors.join("; ")
        );
    }
    Ok(engine::refresh(state, &snap))
}

/// The drift found, for a human (nothing when there is none).
pub fn drift_text(drift: &[Drift]) -> String {
    if drift.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "Refreshed from the clouds: {} difference(s) with the state, repaired by this plan:\n",
        drift.len()
    );
    for d in drift {
        s.push_str("  ! ");
        s.push_str(&d.to_string());
        s.push('\n');
    }
    s.push('\n');
    s
}
