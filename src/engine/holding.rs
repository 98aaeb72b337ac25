//! What a per-cloud destroy (`destroy --cloud`) must leave for later: a recorded resource of
//! its own clouds that a recorded resource of another cloud still depends on (an AWS VPN
//! connection while GCP's peer gateway that names its tunnel addresses exists), and
//! everything of its own clouds that such a resource depends on. Deleting in this order is
//! the order of a full destroy, split by cloud: dependents first, so the other side is never
//! left pointing at something gone while it can still be torn down cleanly. Pure.

use crate::cloud::Cloud;
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};

/// One resource a per-cloud destroy keeps, with the dependent it must outlive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    pub address: String,
    pub cloud: Cloud,
    /// The recorded resource of another cloud that depends on it (directly, or through
    /// `after`).
    pub dependent: String,
    /// The cloud whose runner deletes `dependent`.
    pub owner: Cloud,
    /// Set when it is kept only because a resource of its own clouds that depends on it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} must outlive {} (owned by {}; destroy with the {} runner first)",
            self.address,
            self.dependent,
            self.owner.as_str(),
            self.owner.as_str()
        )?;
        if let Some(a) = &self.after {
            write!(f, ", through {a}")?;
        }
        Ok(())
    }
}

/// Splits the recorded resources of `owned` clouds into what a destroy may delete now (in
/// address order) and what it must keep for now.
pub fn destroy_holds(state: &State, owned: &BTreeSet<Cloud>) -> (Vec<String>, Vec<Held>) {
    // dependents[a] = recorded resources that must be deleted before `a`.
    let mut dependents: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (addr, r) in &state.resources {
        for d in r.dependencies() {
            dependents.entry(d).or_default().push(addr.as_str());
        }
    }
    let mut held: BTreeMap<String, Held> = BTreeMap::new();
    for (addr, r) in &state.resources {
        if !owned.contains(&r.cloud) {
            continue;
        }
        let foreign = dependents.get(addr).into_iter().flatten().find(|d| {
            state
                .resources
                .get(**d)
                .is_some_and(|x| !owned.contains(&x.cloud))
        });
        if let Some(d) = foreign {
            held.insert(
                addr.clone(),
                Held {
                    address: addr.clone(),
                    cloud: r.cloud,
                    dependent: d.to_string(),
                    owner: state.resources[*d].cloud,
                    after: None,
                },
            );
        }
    }
    // What a kept resource depends on (of the owned clouds) is kept too, transitively.
    let mut todo: Vec<String> = held.keys().cloned().collect();
    while let Some(a) = todo.pop() {
        let Some(r) = state.resources.get(&a) else {
            continue;
        };
        let why = held[&a].clone();
        for d in r.dependencies() {
            let Some(x) = state.resources.get(&d) else {
                continue;
            };
            if !owned.contains(&x.cloud) || held.contains_key(&d) {
                continue;
            }
            held.insert(
                d.clone(),
                Held {
                    address: d.clone(),
                    cloud: x.cloud,
                    dependent: why.dependent.clone(),
                    owner: why.owner,
                    after: Some(a.clone()),
                },
            );
            todo.push(d);
        }
    }
    let now = state
        .resources
        .iter()
        .filter(|(a, r)| owned.contains(&r.cloud) && !held.contains_key(*a))
        .map(|(a, _)| a.clone())
        .collect();
    (now, held.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::templates::Templates;
    use crate::plan::tests::{applied, triangle};
    use rand_core::SeedableRng;

    fn triangle_state() -> State {
        let tpl = Templates::embedded().unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let p = crate::plan::plan(&triangle(), &State::empty(), &tpl, &mut rng).unwrap();
        applied(&p)
    }

    fn only(c: Cloud) -> BTreeSet<Cloud> {
        [c].into_iter().collect()
    }

    /// Deletes `addrs` from `state` after checking that no remaining resource depends on one.
    fn delete(state: &mut State, addrs: &[String]) {
        for a in addrs {
            state.resources.remove(a);
        }
        for (x, r) in &state.resources {
            for d in r.dependencies() {
                assert!(
                    !addrs.contains(&d),
                    "{d} was deleted while {x} still depends on it"
                );
            }
        }
    }

    #[test]
    fn all_clouds_hold_nothing_and_one_cloud_holds_what_others_depend_on() {
        let s = triangle_state();
        let all: BTreeSet<Cloud> = Cloud::ALL.into_iter().collect();
        let (now, held) = destroy_holds(&s, &all);
        assert!(held.is_empty());
        assert_eq!(now.len(), s.resources.len());
        let mut kept_somewhere = false;
        for c in Cloud::ALL {
            let (now, held) = destroy_holds(&s, &only(c));
            for h in &held {
                assert_eq!(h.cloud, c, "{h}");
                assert_ne!(h.owner, c, "{h}");
                assert!(!now.contains(&h.address), "{h}");
                let text = h.to_string();
                assert!(text.contains("destroy with the") && text.contains(h.owner.as_str()));
                match &h.after {
                    None => assert!(s.resources[&h.dependent]
                        .dependencies()
                        .contains(&h.address)),
                    Some(a) => assert!(s.resources[a].dependencies().contains(&h.address)),
                }
            }
            assert!(now.iter().all(|a| s.resources[a].cloud == c));
            kept_somewhere |= !held.is_empty();
        }
        assert!(kept_somewhere, "the triangle has cross-cloud dependencies");
    }

    #[test]
    fn runners_taking_turns_delete_everything_in_a_safe_order() {
        let mut s = triangle_state();
        let mut rounds = 0;
        while !s.resources.is_empty() {
            rounds += 1;
            assert!(rounds < 10, "no progress: {:?}", s.resources.keys());
            for c in [Cloud::Azure, Cloud::Gcp, Cloud::Aws] {
                let (now, _) = destroy_holds(&s, &only(c));
                delete(&mut s, &now);
            }
        }
        assert!(rounds >= 2, "one round cannot untangle AWS–GCP");
    }
}
