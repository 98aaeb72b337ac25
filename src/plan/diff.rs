//! Diff of planned resources against the state: create, update (in place), replace, delete.
//! Which attribute changes a cloud can apply in place is decided per kind here, from the
//! clouds' update APIs (ModifyVpnTunnelOptions, GCP patch, Azure PUT on the same name).

use super::resource::{Kind, Resource};
use crate::cloud::Cloud;
use crate::state::ResourceState;
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
    /// The sign shown in human output (Terraform's convention).
    pub fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One change the plan makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    pub address: String,
    pub kind: Kind,
    pub cloud: Cloud,
    pub name: String,
    /// Region (or Azure location, or `global`) of the resource; for a deletion, as recorded.
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// For update/replace: the attributes that differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// True when a change of `attr` on a `kind` can be applied without recreating it (the
/// per-kind table lives with the kinds: [`Kind::updatable`]).
pub fn updatable(kind: Kind, attr: &str) -> bool {
    kind.updatable(attr)
}

/// A resource's action (`None`: unchanged) and the attributes that differ.
type Decision = Option<(Action, Vec<String>)>;

/// Whether a resource's outputs (id, addresses) will differ from the recorded ones: it is
/// created anew (also when the state lost it) or replaced.
fn outputs_change(a: Option<Action>) -> bool {
    matches!(a, Some(Action::Create | Action::Replace))
}

/// Compares the plan's resources with the state's. Output order: by address.
///
/// Attributes are compared as planned (references unresolved), so a reference to a resource
/// that is recreated looks unchanged although its value will be a new id or address: such an
/// attribute counts as changed, and the kind decides whether that is an update or a replace,
/// transitively along the references (a replaced VGW replaces its VPN connections, whose new
/// outside IPs replace GCP's external gateway and update Azure's LNG…). `planned` must form an
/// acyclic graph (the planner checks it before diffing).
pub fn diff(planned: &[Resource], state: &BTreeMap<String, ResourceState>) -> Vec<Change> {
    let index: HashMap<&str, usize> = planned
        .iter()
        .enumerate()
        .map(|(i, r)| (r.address.as_str(), i))
        .collect();
    let mut memo: Vec<Option<Decision>> = vec![None; planned.len()];
    for i in 0..planned.len() {
        decide(i, planned, &index, state, &mut memo);
    }
    let mut out = Vec::new();
    for (r, d) in planned.iter().zip(memo) {
        if let Some(Some((action, attributes))) = d {
            out.push(Change {
                action,
                address: r.address.clone(),
                kind: r.kind,
                cloud: r.kind.cloud(),
                name: r.name.clone(),
                region: r.region.clone(),
                network: r.network.clone(),
                link: r.link.clone(),
                attributes,
            });
        }
    }
    for (addr, s) in state {
        if !index.contains_key(addr.as_str()) {
            // What the state recorded: the network may have left the topology since.
            out.push(Change {
                action: Action::Delete,
                address: addr.clone(),
                kind: s.kind,
                cloud: s.kind.cloud(),
                name: s.name.clone(),
                region: s.region.clone(),
                network: s.network.clone(),
                link: s.link.clone(),
                attributes: Vec::new(),
            });
        }
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

/// The action for `planned[i]` (`None`: unchanged) and the attributes that differ, after its
/// dependencies'. Memoised; a resource being decided reads as unchanged, which only matters
/// for a cyclic input (never planned: it would not terminate otherwise).
fn decide(
    i: usize,
    planned: &[Resource],
    index: &HashMap<&str, usize>,
    state: &BTreeMap<String, ResourceState>,
    memo: &mut [Option<Decision>],
) -> Option<Action> {
    if let Some(d) = &memo[i] {
        return d.as_ref().map(|(a, _)| *a);
    }
    memo[i] = Some(None);
    let r = &planned[i];
    let dep_changed = |addr: &str, memo: &mut [Option<Decision>]| -> bool {
        index
            .get(addr)
            .is_some_and(|&j| outputs_change(decide(j, planned, index, state, memo)))
    };
    let decision = match state.get(&r.address) {
        None => Some((Action::Create, Vec::new())),
        Some(s) => {
            let mut differ: Vec<String> = Vec::new();
            // Where and under which name a resource lives cannot change in place.
            if s.kind != r.kind || s.name != r.name {
                differ.push("name".into());
            }
            if s.region != r.region {
                differ.push("region".into());
            }
            if s.network != r.network {
                differ.push("network".into());
            }
            let mut keys: Vec<&String> = r.attributes.keys().chain(s.attributes.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let now = r.attributes.get(k);
                let changed = now != s.attributes.get(k)
                    || now.is_some_and(|v| {
                        let mut refs = Vec::new();
                        v.refs(&mut refs);
                        refs.iter().any(|x| dep_changed(&x.resource, memo))
                    });
                if changed {
                    differ.push(k.clone());
                }
            }
            let mut referenced = Vec::new();
            for v in r.attributes.values() {
                v.refs(&mut referenced);
            }
            let ordering_only = r
                .depends_on
                .iter()
                .filter(|d| !referenced.iter().any(|x| &x.resource == *d));
            if r.kind.follows_ordering_dependencies() {
                for d in ordering_only {
                    if dep_changed(d, memo) {
                        differ.push(format!("depends_on {d}"));
                    }
                }
            }
            if differ.is_empty() {
                None
            } else {
                let in_place = differ.iter().all(|a| r.kind.updatable(a));
                let action = if in_place {
                    Action::Update
                } else {
                    Action::Replace
                };
                Some((action, differ))
            }
        }
    };
    let action = decision.as_ref().map(|(a, _)| *a);
    memo[i] = Some(decision);
    action
}

/// Counts as in the summary line: a replace is one create and one destroy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

impl Summary {
    pub fn of(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => {
                    s.create += 1;
                    s.delete += 1;
                }
                Action::Delete => s.delete += 1,
            }
        }
        s
    }
    pub fn is_empty(&self) -> bool {
        self.create + self.update + self.delete == 0
    }
}
