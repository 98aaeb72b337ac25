//! Merging one writer's changes into a document someone else changed meanwhile: what a
//! runner changed since the document it started from ([`Delta::between`]) is applied to the
//! document it re-reads after losing a compare-and-swap ([`Delta::apply`]). Pure.
//!
//! Resources (ids and outputs) are the writer's own part: its changes win, restricted to its
//! clouds. Allocations and secrets are first-writer-wins: an entry the writer added is only
//! added where the document has none, so a runner that lost the race keeps the winner's keys.

use super::{Allocations, LinkAllocation, ResourceState, Secret, State};
use crate::cloud::Cloud;
use std::collections::{BTreeMap, BTreeSet};

/// One entry's change: set to a value, or removed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    Set(T),
    Removed,
}

/// What one writer changed in a document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub lineage: Option<String>,
    pub topology_digest: Option<Option<String>>,
    pub resources: BTreeMap<String, Change<ResourceState>>,
    /// Entries new to the writer (added only where absent).
    pub added_asns: BTreeMap<String, u32>,
    pub added_links: BTreeMap<String, LinkAllocation>,
    pub added_secrets: BTreeMap<String, Secret>,
    /// Entries the writer had and changed or dropped (applied as they are).
    pub changed_asns: BTreeMap<String, Change<u32>>,
    pub changed_links: BTreeMap<String, Change<LinkAllocation>>,
    pub changed_secrets: BTreeMap<String, Change<Secret>>,
}

/// The entries of `ours` that differ from `base`, split into additions and changes.
fn diff<T: Clone + PartialEq>(
    base: &BTreeMap<String, T>,
    ours: &BTreeMap<String, T>,
) -> (BTreeMap<String, T>, BTreeMap<String, Change<T>>) {
    let mut added = BTreeMap::new();
    let mut changed = BTreeMap::new();
    for (k, v) in ours {
        match base.get(k) {
            None => {
                added.insert(k.clone(), v.clone());
            }
            Some(b) if b != v => {
                changed.insert(k.clone(), Change::Set(v.clone()));
            }
            Some(_) => {}
        }
    }
    for k in base.keys() {
        if !ours.contains_key(k) {
            changed.insert(k.clone(), Change::Removed);
        }
    }
    (added, changed)
}

fn apply_map<T: Clone>(
    into: &mut BTreeMap<String, T>,
    added: &BTreeMap<String, T>,
    changed: &BTreeMap<String, Change<T>>,
) {
    for (k, v) in added {
        into.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, c) in changed {
        match c {
            Change::Set(v) => {
                into.insert(k.clone(), v.clone());
            }
            Change::Removed => {
                into.remove(k);
            }
        }
    }
}

impl Delta {
    /// What `ours` changed relative to `base`; resources of clouds outside `owned` (when
    /// given) are left out.
    pub fn between(base: &State, ours: &State, owned: Option<&BTreeSet<Cloud>>) -> Delta {
        let mine = |r: &ResourceState| owned.is_none_or(|o| o.contains(&r.cloud));
        let mut resources = BTreeMap::new();
        for (a, r) in &ours.resources {
            if base.resources.get(a) != Some(r) && mine(r) {
                resources.insert(a.clone(), Change::Set(r.clone()));
            }
        }
        for (a, r) in &base.resources {
            if !ours.resources.contains_key(a) && mine(r) {
                resources.insert(a.clone(), Change::Removed);
            }
        }
        let (added_asns, changed_asns) = diff(&base.allocations.asns, &ours.allocations.asns);
        let (added_links, changed_links) = diff(&base.allocations.links, &ours.allocations.links);
        let (added_secrets, changed_secrets) = diff(&base.secrets, &ours.secrets);
        Delta {
            lineage: (base.lineage != ours.lineage).then(|| ours.lineage.clone()),
            topology_digest: (base.topology_digest != ours.topology_digest)
                .then(|| ours.topology_digest.clone()),
            resources,
            added_asns,
            added_links,
            added_secrets,
            changed_asns,
            changed_links,
            changed_secrets,
        }
    }

    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == Delta::default()
    }

    /// `theirs` with this delta applied (its serial is left to the writer).
    pub fn apply(&self, theirs: &mut State) {
        if let Some(l) = &self.lineage {
            if theirs.lineage.is_empty() {
                theirs.lineage = l.clone();
            }
        }
        if let Some(d) = &self.topology_digest {
            theirs.topology_digest = d.clone();
        }
        for (a, c) in &self.resources {
            match c {
                Change::Set(r) => {
                    theirs.resources.insert(a.clone(), r.clone());
                }
                Change::Removed => {
                    theirs.resources.remove(a);
                }
            }
        }
        let Allocations { asns, links } = &mut theirs.allocations;
        apply_map(asns, &self.added_asns, &self.changed_asns);
        apply_map(links, &self.added_links, &self.changed_links);
        apply_map(
            &mut theirs.secrets,
            &self.added_secrets,
            &self.changed_secrets,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::resource::Kind;

    fn res(cloud: Cloud, kind: Kind, id: &str) -> ResourceState {
        ResourceState {
            kind,
            cloud,
            name: id.into(),
            id: id.into(),
            region: "r".into(),
            network: None,
            link: None,
            attributes: BTreeMap::new(),
            outputs: BTreeMap::new(),
            depends_on: vec![],
        }
    }

    fn any_kind(cloud: Cloud) -> Kind {
        *Kind::ALL
            .iter()
            .find(|k| k.cloud() == cloud)
            .expect("a kind per cloud")
    }

    #[test]
    fn own_resources_win_others_are_kept_and_first_secret_wins() {
        let base = State::empty();
        let mut ours = base.clone();
        ours.resources
            .insert("aws.x".into(), res(Cloud::Aws, any_kind(Cloud::Aws), "i-1"));
        // A GCP resource in our view is not ours to write (runner owns AWS only).
        ours.resources.insert(
            "gcp.y".into(),
            res(Cloud::Gcp, any_kind(Cloud::Gcp), "stale"),
        );
        ours.secrets
            .insert("l/0".into(), Secret::new("OursLoses12345678".into()));
        ours.allocations.asns.insert("n".into(), 64512);
        let owned: BTreeSet<Cloud> = [Cloud::Aws].into();
        let d = Delta::between(&base, &ours, Some(&owned));

        let mut theirs = State::empty();
        theirs
            .resources
            .insert("gcp.y".into(), res(Cloud::Gcp, any_kind(Cloud::Gcp), "g-1"));
        theirs
            .secrets
            .insert("l/0".into(), Secret::new("TheirsWins1234567".into()));
        d.apply(&mut theirs);
        assert_eq!(theirs.resources["aws.x"].id, "i-1");
        assert_eq!(theirs.resources["gcp.y"].id, "g-1");
        assert_eq!(theirs.secrets["l/0"].expose(), "TheirsWins1234567");
        assert_eq!(theirs.allocations.asns["n"], 64512);
    }

    #[test]
    fn removals_and_changes_of_entries_the_writer_had_apply() {
        let mut base = State::empty();
        base.resources
            .insert("aws.x".into(), res(Cloud::Aws, any_kind(Cloud::Aws), "i-1"));
        base.secrets
            .insert("l/0".into(), Secret::new("Old1234567890abcd".into()));
        let mut ours = base.clone();
        ours.resources.remove("aws.x");
        ours.secrets
            .insert("l/0".into(), Secret::new("New1234567890abcd".into()));
        let d = Delta::between(&base, &ours, None);
        let mut theirs = base.clone();
        theirs
            .resources
            .insert("aws.z".into(), res(Cloud::Aws, any_kind(Cloud::Aws), "i-2"));
        d.apply(&mut theirs);
        assert!(!theirs.resources.contains_key("aws.x"));
        assert!(theirs.resources.contains_key("aws.z"));
        assert_eq!(theirs.secrets["l/0"].expose(), "New1234567890abcd");
        assert!(Delta::between(&ours, &ours, None).is_empty());
    }
}
