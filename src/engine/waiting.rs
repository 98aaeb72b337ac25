//! What a per-cloud runner (`apply --cloud`) cannot do yet: a planned resource whose inputs
//! are outputs of another cloud's resource that nobody has published in the shared state,
//! and everything of its own clouds that depends on such a resource. Pure.

use crate::cloud::Cloud;
use crate::plan::resource::Resource;
use crate::plan::{Action, Change};
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};

/// One resource held back, with the value it waits for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Waiting {
    pub address: String,
    pub cloud: Cloud,
    /// The missing value: `RESOURCE.OUTPUT` (or `RESOURCE` when the resource itself is
    /// missing), of a resource of another cloud.
    pub needs: String,
    /// The cloud whose runner publishes it.
    pub owner: Cloud,
    /// Set when this resource waits only because one of its own cloud's dependencies does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} needs {} (owned by {}; run the {} runner)",
            self.address,
            self.needs,
            self.owner.as_str(),
            self.owner.as_str()
        )?;
        if let Some(a) = &self.after {
            write!(f, ", through {a}")?;
        }
        Ok(())
    }
}

/// The changes of `owned` clouds among `changes` that must wait, given what `state` holds.
/// Deletions never wait.
pub fn waiting(
    resources: &[Resource],
    changes: &[Change],
    state: &State,
    owned: &BTreeSet<Cloud>,
) -> Vec<Waiting> {
    let by_address: BTreeMap<&str, &Resource> =
        resources.iter().map(|r| (r.address.as_str(), r)).collect();
    let cloud_of = |a: &str| {
        by_address
            .get(a)
            .map(|r| r.kind.cloud())
            .or_else(|| state.resources.get(a).map(|r| r.cloud))
    };
    let todo: Vec<&Resource> = changes
        .iter()
        .filter(|c| c.action != Action::Delete && owned.contains(&c.cloud))
        .filter_map(|c| by_address.get(c.address.as_str()).copied())
        .collect();
    let mut out: BTreeMap<String, Waiting> = BTreeMap::new();
    for r in &todo {
        let mut refs = Vec::new();
        for v in r.attributes.values() {
            v.refs(&mut refs);
        }
        let missing_output = refs.iter().find_map(|x| {
            let owner = cloud_of(&x.resource)?;
            if owned.contains(&owner) {
                return None;
            }
            let known = state
                .resources
                .get(&x.resource)
                .is_some_and(|s| s.outputs.contains_key(&x.output));
            (!known).then(|| (format!("{}.{}", x.resource, x.output), owner))
        });
        let missing_dep = || {
            r.depends_on.iter().find_map(|d| {
                let owner = cloud_of(d)?;
                (!owned.contains(&owner) && !state.resources.contains_key(d))
                    .then(|| (d.clone(), owner))
            })
        };
        if let Some((needs, owner)) = missing_output.or_else(missing_dep) {
            out.insert(
                r.address.clone(),
                Waiting {
                    address: r.address.clone(),
                    cloud: r.kind.cloud(),
                    needs,
                    owner,
                    after: None,
                },
            );
        }
    }
    // Whatever depends on a waiting resource waits too (until nothing changes).
    loop {
        let mut added = false;
        for r in &todo {
            if out.contains_key(&r.address) {
                continue;
            }
            let Some(w) = r.depends_on.iter().find_map(|d| out.get(d)) else {
                continue;
            };
            let w = Waiting {
                address: r.address.clone(),
                cloud: r.kind.cloud(),
                needs: w.needs.clone(),
                owner: w.owner,
                after: Some(w.address.clone()),
            };
            out.insert(r.address.clone(), w);
            added = true;
        }
        if !added {
            break;
        }
    }
    out.into_values().collect()
}

/// True when every value `waits` names is now in `state` (time to plan again).
pub fn satisfied(waits: &[Waiting], state: &State) -> bool {
    waits.iter().filter(|w| w.after.is_none()).all(|w| {
        if state.resources.contains_key(&w.needs) {
            return true;
        }
        let Some((res, out)) = w.needs.rsplit_once('.') else {
            return false;
        };
        state
            .resources
            .get(res)
            .is_some_and(|s| s.outputs.contains_key(out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::templates::Templates;
    use crate::plan::tests::{applied, triangle};
    use crate::plan::Plan;
    use rand_core::SeedableRng;

    fn planned(state: &State) -> Plan {
        let tpl = Templates::embedded().unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        crate::plan::plan(&triangle(), state, &tpl, &mut rng).unwrap()
    }

    fn only(c: Cloud) -> BTreeSet<Cloud> {
        [c].into_iter().collect()
    }

    /// `state` with every output every planned reference names, as the other runners would
    /// have published them.
    fn published(p: &Plan) -> State {
        let mut s = applied(p);
        for r in &p.resources {
            let mut refs = Vec::new();
            for v in r.attributes.values() {
                v.refs(&mut refs);
            }
            for x in refs {
                if let Some(t) = s.resources.get_mut(&x.resource) {
                    t.outputs.insert(x.output.clone(), "203.0.113.7".into());
                }
            }
        }
        s
    }

    #[test]
    fn a_gcp_runner_on_an_empty_state_waits_for_the_other_clouds_and_names_them() {
        let p = planned(&State::empty());
        let w = waiting(&p.resources, &p.changes, &State::empty(), &only(Cloud::Gcp));
        assert!(!w.is_empty());
        let gcp_changes = p.changes.iter().filter(|c| c.cloud == Cloud::Gcp).count();
        assert!(
            w.len() < gcp_changes,
            "something of GCP's own can start at once"
        );
        let waiting_at: BTreeSet<&str> = w.iter().map(|x| x.address.as_str()).collect();
        for x in &w {
            assert_eq!(x.cloud, Cloud::Gcp, "{x}");
            assert_ne!(x.owner, Cloud::Gcp, "{x}");
            match &x.after {
                // Held back by a dependency of its own cloud, which itself waits.
                Some(a) => assert!(waiting_at.contains(a.as_str()), "{x}"),
                // The missing value is another cloud's resource (or one of its outputs).
                None => {
                    let owner = p
                        .resources
                        .iter()
                        .find(|r| {
                            x.needs == r.address
                                || x.needs
                                    .strip_prefix(r.address.as_str())
                                    .is_some_and(|o| o.starts_with('.') && !o[1..].contains('.'))
                        })
                        .map(|r| r.kind.cloud());
                    assert_eq!(owner, Some(x.owner), "{x}");
                }
            }
            let text = x.to_string();
            assert!(
                text.contains("run the") && text.contains(x.owner.as_str()),
                "{text}"
            );
        }
        assert!(!satisfied(&w, &State::empty()));
        assert!(satisfied(&w, &published(&p)));
    }

    #[test]
    fn nothing_waits_for_owned_clouds_published_values_or_deletions() {
        let p = planned(&State::empty());
        let all: BTreeSet<Cloud> = Cloud::ALL.into_iter().collect();
        assert!(waiting(&p.resources, &p.changes, &State::empty(), &all).is_empty());
        let s = published(&p);
        for c in Cloud::ALL {
            assert!(
                waiting(&p.resources, &p.changes, &s, &only(c)).is_empty(),
                "{c:?} still waits with every value published"
            );
        }
        // A destroy plan: every change a deletion, none waits.
        let applied_state = applied(&p);
        let tpl = Templates::embedded().unwrap();
        let mut empty = triangle();
        empty.links.clear();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let gone = crate::plan::plan(&empty, &applied_state, &tpl, &mut rng).unwrap();
        assert!(gone.changes.iter().any(|c| c.action == Action::Delete));
        for c in Cloud::ALL {
            assert!(
                waiting(&gone.resources, &gone.changes, &State::empty(), &only(c))
                    .iter()
                    .all(|w| gone
                        .changes
                        .iter()
                        .any(|ch| ch.address == w.address && ch.action != Action::Delete))
            );
        }
    }
}
