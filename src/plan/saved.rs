//! The saved plan file (`plan --out`): the resources, allocations and pre-shared keys to
//! apply, plus what the plan was made against (topology digest, state lineage and serial), so
//! that apply can refuse a stale plan. It holds secrets: the CLI writes it with mode 0600.

use super::resource::Resource;
use super::{Change, Plan};
use crate::state::{Allocations, Secret, State};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const FORMAT_VERSION: u32 = 1;

/// `sha256:<hex>` of the topology file's bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The state a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateBasis {
    /// True when no state existed: applying is refused once a state has been written since.
    pub empty: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    pub serial: u64,
}

impl StateBasis {
    pub fn of(state: &State) -> StateBasis {
        StateBasis {
            empty: state.is_empty(),
            lineage: (!state.is_empty()).then(|| state.lineage.clone()),
            serial: state.serial,
        }
    }
}

/// Why a saved plan may not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    #[error("the topology file changed since the plan was made ({planned} → {now})")]
    Topology { planned: String, now: String },
    #[error("the plan was made against an empty state, but a state (serial {serial}) exists now")]
    StateCreated { serial: u64 },
    #[error("the state belongs to another lineage ({now}) than the plan's ({planned})")]
    Lineage { planned: String, now: String },
    #[error("the state changed since the plan was made (serial {planned} → {now})")]
    Serial { planned: u64, now: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub topology: String,
    pub topology_digest: String,
    pub state: StateBasis,
    pub resources: Vec<Resource>,
    pub order: Vec<String>,
    pub allocations: Allocations,
    pub changes: Vec<Change>,
    pub secrets: BTreeMap<String, Secret>,
}

impl SavedPlan {
    pub fn new(plan: &Plan, topology_digest: String, state: &State) -> SavedPlan {
        SavedPlan {
            format_version: FORMAT_VERSION,
            topology: plan.topology.clone(),
            topology_digest,
            state: StateBasis::of(state),
            resources: plan.resources.clone(),
            order: plan.order.clone(),
            allocations: plan.allocations.clone(),
            changes: plan.changes.clone(),
            secrets: plan.secrets.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn from_json(text: &str) -> Result<SavedPlan, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Refuses the plan when the topology or the state moved since it was made.
    pub fn check_fresh(&self, topology_digest: &str, state: &State) -> Result<(), Stale> {
        if self.topology_digest != topology_digest {
            return Err(Stale::Topology {
                planned: self.topology_digest.clone(),
                now: topology_digest.to_string(),
            });
        }
        match (&self.state.lineage, state.is_empty()) {
            (None, true) => Ok(()),
            (None, false) => Err(Stale::StateCreated {
                serial: state.serial,
            }),
            (Some(l), _) if *l != state.lineage => Err(Stale::Lineage {
                planned: l.clone(),
                now: state.lineage.clone(),
            }),
            (Some(_), _) if self.state.serial != state.serial => Err(Stale::Serial {
                planned: self.state.serial,
                now: state.serial,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved_against(state: &State) -> SavedPlan {
        SavedPlan {
            format_version: FORMAT_VERSION,
            topology: "t".into(),
            topology_digest: digest(b"topology"),
            state: StateBasis::of(state),
            resources: Vec::new(),
            order: Vec::new(),
            allocations: Allocations::default(),
            changes: Vec::new(),
            secrets: BTreeMap::new(),
        }
    }

    fn state(lineage: &str, serial: u64) -> State {
        let mut s = State::empty();
        s.lineage = lineage.into();
        s.serial = serial;
        s
    }

    #[test]
    fn a_plan_is_fresh_only_against_the_state_and_topology_it_was_made_from() {
        let d = digest(b"topology");
        let p = saved_against(&state("l1", 4));
        assert_eq!(p.check_fresh(&d, &state("l1", 4)), Ok(()));
        assert!(matches!(
            p.check_fresh(&d, &state("l2", 4)),
            Err(Stale::Lineage { .. })
        ));
        assert!(matches!(
            p.check_fresh(&d, &state("l1", 5)),
            Err(Stale::Serial { planned: 4, now: 5 })
        ));
        assert!(matches!(
            p.check_fresh(&digest(b"other"), &state("l1", 4)),
            Err(Stale::Topology { .. })
        ));
        let empty = saved_against(&State::empty());
        assert_eq!(empty.check_fresh(&d, &State::empty()), Ok(()));
        assert!(matches!(
            empty.check_fresh(&d, &state("l1", 1)),
            Err(Stale::StateCreated { serial: 1 })
        ));
    }

    #[test]
    fn saved_plans_round_trip_and_debug_hides_keys() {
        let mut p = saved_against(&State::empty());
        p.secrets.insert(
            "a--b/0".into(),
            Secret::new("Kx9secretsecretsecretsecret0000".into()),
        );
        let back = SavedPlan::from_json(&p.to_json()).unwrap();
        assert_eq!(back, p);
        assert!(!format!("{p:?}").contains("Kx9secret"));
    }
}
