//! Apply, destroy and discovery: the plan's changes turned into provider calls in two walks
//! (deletions in reverse dependency order, then creations and updates in dependency order),
//! with the state written after every finished resource.

use super::resolve::desired;
use super::walk::{walk, Driver, WalkEnd};
use super::{expect, Event, Events, Providers};
use crate::cloud::Cloud;
use crate::plan::resource::Resource;
use crate::plan::{Action, Change};
use crate::providers::{Desired, Outputs, ProviderError};
use crate::state::backend::{Backend, Version};
use crate::state::{Allocations, ResourceState, Secret, State, StateError};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One resource that failed, with the cloud's error.
#[derive(Debug, Clone)]
pub struct Failure {
    pub address: String,
    pub cloud: Cloud,
    pub action: Action,
    pub error: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}): {}",
            self.action.as_str(),
            self.address,
            self.cloud.display_name(),
            self.error
        )
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub failures: Vec<Failure>,
    /// Stopped by a signal before everything ran.
    pub cancelled: bool,
    /// Planned changes that did not run (after a failure or a cancellation).
    pub not_run: usize,
    pub elapsed: Duration,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && !self.cancelled && self.not_run == 0
    }
}

/// Why a run could not start or record its work.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("no provider for {0}")]
    NoProvider(Cloud),
}

/// The plan's side of an apply: planned resources, changes, allocations and keys.
pub struct Work<'a> {
    pub topology: &'a str,
    pub resources: &'a [Resource],
    pub changes: &'a [Change],
    pub allocations: &'a Allocations,
    pub secrets: &'a BTreeMap<String, Secret>,
    pub topology_digest: Option<String>,
    /// Cap on resources in flight (`None`: none; see [`super::walk::walk`]).
    pub parallelism: Option<usize>,
    /// When every change ran, forget the allocations and keys the plan dropped. False for a
    /// per-cloud runner (`apply --cloud`), whose plan covers only part of the document.
    pub prune: bool,
}

/// The state as a run owns it: the document, its backend and the version last written.
pub struct Store<'a> {
    pub state: State,
    pub backend: &'a mut dyn Backend,
    pub version: Version,
}

impl Store<'_> {
    /// Bumps the serial and writes (compare-and-swap on the version last read or written).
    pub async fn save(&mut self) -> Result<(), StateError> {
        self.state.serial += 1;
        self.version = self.backend.write(&self.state, self.version).await?;
        Ok(())
    }
}

fn outputs_of(state: &State) -> impl Fn(&str) -> Option<Outputs> + '_ {
    move |a: &str| state.resources.get(a).map(|r| r.outputs.clone())
}

/// The provider's view of a recorded resource.
fn desired_of_record(topology: &str, address: &str, r: &ResourceState, state: &State) -> Desired {
    desired(
        topology,
        address,
        r.kind,
        &r.name,
        &r.region,
        &r.attributes,
        &outputs_of(state),
        &state.secrets,
    )
}

type Outcome = (Result<Option<Outputs>, ProviderError>, Duration);

/// One node of a walk.
struct Node {
    address: String,
    action: Action,
    cloud: Cloud,
    /// Planned resource (creations and updates).
    planned: Option<Resource>,
    changed: Vec<String>,
}

struct Runner<'a, 's> {
    topology: &'a str,
    nodes: Vec<Node>,
    providers: &'a Providers,
    store: &'a mut Store<'s>,
    events: Arc<dyn Events>,
    report: &'a mut Report,
    /// Secrets the creations use (the plan's), on top of the state's.
    secrets: &'a BTreeMap<String, Secret>,
    /// Discovery only: found resources are recorded, absent ones skipped.
    discover: bool,
}

impl Runner<'_, '_> {
    fn fail(&mut self, i: usize, error: String) -> bool {
        let n = &self.nodes[i];
        self.events.emit(&Event::Failed {
            address: n.address.clone(),
            action: n.action,
            error: error.clone(),
        });
        self.report.failures.push(Failure {
            address: n.address.clone(),
            cloud: n.cloud,
            action: n.action,
            error,
        });
        false
    }
}

#[async_trait::async_trait]
impl Driver for Runner<'_, '_> {
    type Out = Outcome;

    fn start(&mut self, i: usize) -> BoxFuture<'static, Outcome> {
        let n = &self.nodes[i];
        let state = &self.store.state;
        let provider = self.providers.get(n.cloud);
        let (d, id) = match (&n.planned, n.action) {
            (Some(r), _) => {
                let mut secrets = state.secrets.clone();
                secrets.extend(self.secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
                let d = desired(
                    self.topology,
                    &r.address,
                    r.kind,
                    &r.name,
                    &r.region,
                    &r.attributes,
                    &outputs_of(state),
                    &secrets,
                );
                let id = state.resources.get(&r.address).map(|s| s.id.clone());
                (d, id)
            }
            (None, _) => match state.resources.get(&n.address) {
                Some(rec) => (
                    desired_of_record(self.topology, &n.address, rec, state),
                    Some(rec.id.clone()),
                ),
                None => {
                    let msg = format!("{} is not in the state", n.address);
                    return Box::pin(async move {
                        (Err(ProviderError::Attribute(msg)), Duration::ZERO)
                    });
                }
            },
        };
        self.events.emit(&Event::Started {
            address: n.address.clone(),
            action: n.action,
            cloud: n.cloud,
            expected: expect::expected(d.kind, n.action),
        });
        let action = n.action;
        let changed = n.changed.clone();
        let discover = self.discover;
        Box::pin(async move {
            let t0 = Instant::now();
            let Some(p) = provider else {
                return (
                    Err(ProviderError::Attribute(format!(
                        "no provider configured for {}",
                        d.kind.cloud()
                    ))),
                    t0.elapsed(),
                );
            };
            let r = if discover {
                p.read(&d, None).await
            } else {
                match (action, id) {
                    (Action::Delete, Some(id)) => p.delete(&d, &id).await.map(|()| None),
                    (Action::Update, Some(id)) => p.update(&d, &id, &changed).await.map(Some),
                    _ => p.create(&d).await.map(Some),
                }
            };
            (r, t0.elapsed())
        })
    }

    async fn finish(&mut self, i: usize, (result, elapsed): Outcome) -> bool {
        let outputs = match result {
            Ok(o) => o,
            Err(e) => return self.fail(i, e.to_string()),
        };
        let n = &self.nodes[i];
        let (address, action) = (n.address.clone(), n.action);
        match (action, outputs) {
            (Action::Delete, _) => {
                self.store.state.resources.remove(&address);
                self.report.deleted += 1;
            }
            (_, None) if self.discover => return true,
            (_, None) => return self.fail(i, "the provider returned no outputs".into()),
            (_, Some(outputs)) => {
                let Some(id) = outputs.get("id").cloned() else {
                    return self.fail(i, "the provider returned no id".into());
                };
                let Some(r) = &n.planned else {
                    return self.fail(i, "no planned resource".into());
                };
                let mut rec = ResourceState::created(r, id);
                rec.outputs = outputs;
                self.store.state.resources.insert(address.clone(), rec);
                match action {
                    Action::Update => self.report.updated += 1,
                    _ if !self.discover => self.report.created += 1,
                    _ => {}
                }
            }
        }
        if let Err(e) = self.store.save().await {
            return self.fail(i, format!("recording it in state failed: {e}"));
        }
        self.events.emit(&Event::Finished {
            address,
            action,
            elapsed,
        });
        true
    }
}

fn index(nodes: &[Node]) -> HashMap<String, usize> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.address.clone(), i))
        .collect()
}

/// Deletion nodes for `addresses` (in state) and their order: a resource is deleted after
/// every resource in the set that depends on it.
fn deletions(addresses: &[String], state: &State) -> (Vec<Node>, Vec<Vec<usize>>) {
    let nodes: Vec<Node> = addresses
        .iter()
        .filter_map(|a| {
            state.resources.get(a).map(|r| Node {
                address: a.clone(),
                action: Action::Delete,
                cloud: r.cloud,
                planned: None,
                changed: Vec::new(),
            })
        })
        .collect();
    let idx = index(&nodes);
    let mut deps = vec![Vec::new(); nodes.len()];
    for (j, n) in nodes.iter().enumerate() {
        if let Some(r) = state.resources.get(&n.address) {
            for dep in r.dependencies() {
                if let Some(&i) = idx.get(&dep) {
                    // `n` depends on `dep`: delete `n` first.
                    deps[i].push(j);
                }
            }
        }
    }
    (nodes, deps)
}

/// Creation / update nodes in dependency order among themselves.
fn creations(
    resources: &[&Resource],
    actions: &HashMap<&str, &Change>,
) -> (Vec<Node>, Vec<Vec<usize>>) {
    let nodes: Vec<Node> = resources
        .iter()
        .map(|r| {
            let c = actions.get(r.address.as_str());
            let action = match c.map(|c| c.action) {
                Some(Action::Update) => Action::Update,
                Some(Action::Replace) => Action::Replace,
                _ => Action::Create,
            };
            Node {
                address: r.address.clone(),
                action,
                cloud: r.kind.cloud(),
                planned: Some((*r).clone()),
                changed: c.map(|c| c.attributes.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let idx = index(&nodes);
    let deps = resources
        .iter()
        .map(|r| {
            r.depends_on
                .iter()
                .filter_map(|d| idx.get(d).copied())
                .collect()
        })
        .collect();
    (nodes, deps)
}

fn count_not_run(end: &WalkEnd) -> usize {
    end.done.iter().filter(|d| !**d).count()
}

/// Applies `work` on top of `store`. The allocations and keys are recorded before any cloud
/// call, so a crash never loses the key a resource was created with.
pub async fn apply(
    work: Work<'_>,
    providers: &Providers,
    store: &mut Store<'_>,
    events: Arc<dyn Events>,
    cancel: watch::Receiver<bool>,
) -> Result<Report, EngineError> {
    let t0 = Instant::now();
    let mut report = Report::default();
    if work.changes.is_empty() {
        return Ok(report);
    }
    if store.state.is_empty() {
        use rand_core::{OsRng, TryRngCore};
        let mut rng = OsRng.unwrap_err();
        store.state.lineage = State::new_lineage(&mut rng);
    }
    merge_allocations(&mut store.state.allocations, work.allocations);
    for (k, v) in work.secrets {
        store.state.secrets.insert(k.clone(), v.clone());
    }
    store.state.topology_digest = work.topology_digest.clone();
    store.save().await?;

    // Deletions (and the old halves of replacements), dependents first.
    let gone: Vec<String> = work
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| c.address.clone())
        .collect();
    let (nodes, deps) = deletions(&gone, &store.state);
    let end = {
        let mut runner = Runner {
            topology: work.topology,
            nodes,
            providers,
            store,
            events: events.clone(),
            report: &mut report,
            secrets: work.secrets,
            discover: false,
        };
        walk(&mut runner, &deps, cancel.clone(), work.parallelism).await
    };
    report.cancelled |= end.cancelled;
    if !end.complete() {
        report.not_run += count_not_run(&end);
        report.not_run += work
            .changes
            .iter()
            .filter(|c| c.action != Action::Delete)
            .count();
        report.elapsed = t0.elapsed();
        return Ok(report);
    }

    // Creations, replacements and updates, dependencies first.
    let actions: HashMap<&str, &Change> = work
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .map(|c| (c.address.as_str(), c))
        .collect();
    let todo: Vec<&Resource> = work
        .resources
        .iter()
        .filter(|r| actions.contains_key(r.address.as_str()))
        .collect();
    let (nodes, deps) = creations(&todo, &actions);
    let end = {
        let mut runner = Runner {
            topology: work.topology,
            nodes,
            providers,
            store,
            events: events.clone(),
            report: &mut report,
            secrets: work.secrets,
            discover: false,
        };
        walk(&mut runner, &deps, cancel, work.parallelism).await
    };
    report.cancelled |= end.cancelled;
    report.not_run += count_not_run(&end);
    if end.complete() && work.prune {
        // Everything the plan dropped is gone: forget its allocations and keys.
        store.state.allocations = work.allocations.clone();
        store.state.secrets = work.secrets.clone();
        store.save().await?;
    }
    report.elapsed = t0.elapsed();
    Ok(report)
}

/// Recorded allocations win; new ones are added (what the planner already guarantees, kept
/// here so that a state written before the walk holds every allocation the walk may use).
fn merge_allocations(into: &mut Allocations, from: &Allocations) {
    for (k, v) in &from.asns {
        into.asns.entry(k.clone()).or_insert(*v);
    }
    for (k, v) in &from.links {
        into.links.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// Deletes the recorded resources at `addresses` (all of them, or what a per-cloud runner
/// may delete now: [`super::holding`]), dependents first; the state keeps what could not be
/// deleted.
pub async fn destroy(
    topology: &str,
    addresses: &[String],
    providers: &Providers,
    store: &mut Store<'_>,
    events: Arc<dyn Events>,
    cancel: watch::Receiver<bool>,
) -> Result<Report, EngineError> {
    let t0 = Instant::now();
    let mut report = Report::default();
    if addresses.is_empty() {
        return Ok(report);
    }
    let (nodes, deps) = deletions(addresses, &store.state);
    let end = {
        let mut runner = Runner {
            topology,
            nodes,
            providers,
            store,
            events,
            report: &mut report,
            secrets: &BTreeMap::new(),
            discover: false,
        };
        walk(&mut runner, &deps, cancel, None).await
    };
    report.cancelled |= end.cancelled;
    report.not_run += count_not_run(&end);
    // The shared numbers and keys go with the last resource (a per-cloud destroy leaves
    // them for the runners still to come).
    if end.complete() && store.state.resources.is_empty() {
        store.state.secrets.clear();
        store.state.allocations = Allocations::default();
        store.save().await?;
    }
    report.elapsed = t0.elapsed();
    Ok(report)
}

/// Finds the planned resources that exist in the clouds by their identity (names, tags) and
/// records them in the state, for a destroy after the state was lost.
pub async fn discover(
    topology: &str,
    resources: &[Resource],
    secrets: &BTreeMap<String, Secret>,
    providers: &Providers,
    store: &mut Store<'_>,
    events: Arc<dyn Events>,
    cancel: watch::Receiver<bool>,
) -> Result<Report, EngineError> {
    let t0 = Instant::now();
    let mut report = Report::default();
    let all: Vec<&Resource> = resources.iter().collect();
    let (nodes, deps) = creations(&all, &HashMap::new());
    let end = {
        let mut runner = Runner {
            topology,
            nodes,
            providers,
            store,
            events,
            report: &mut report,
            secrets,
            discover: true,
        };
        walk(&mut runner, &deps, cancel, None).await
    };
    report.cancelled |= end.cancelled;
    report.elapsed = t0.elapsed();
    Ok(report)
}
