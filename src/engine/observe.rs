//! Reads every cloud a state touches, concurrently, into one [`Snapshot`]: what verify
//! judges and what plan/apply refresh the state from. A provider that fails outright becomes
//! a read error in the snapshot, never a panic or a partial silence.

use super::{desired, Providers};
use crate::providers::{ObserveRequest, Recorded};
use crate::state::State;
use crate::topology::Topology;
use crate::verify::snapshot::{CloudSnapshot, ReadError, Snapshot};

/// The observation request of one cloud: its recorded resources and its topology networks.
pub fn request(cloud: crate::cloud::Cloud, topo: &Topology, state: &State) -> ObserveRequest {
    let outputs = |a: &str| state.resources.get(a).map(|r| r.outputs.clone());
    ObserveRequest {
        topology: topo.name.clone(),
        resources: state
            .resources
            .iter()
            .filter(|(_, r)| r.cloud == cloud)
            .map(|(a, r)| Recorded {
                desired: desired(
                    &topo.name,
                    a,
                    r.kind,
                    &r.name,
                    &r.region,
                    &r.attributes,
                    &outputs,
                    &state.secrets,
                ),
                id: r.id.clone(),
                network: r.network.clone(),
                link: r.link.clone(),
            })
            .collect(),
        networks: topo
            .networks
            .iter()
            .filter(|n| n.cloud == cloud)
            .cloned()
            .collect(),
    }
}

/// Every cloud of `providers`, read concurrently.
pub async fn observe(providers: &Providers, topo: &Topology, state: &State) -> Snapshot {
    let reads = providers.clouds().filter_map(|cloud| {
        let p = providers.get(cloud)?;
        let req = request(cloud, topo, state);
        Some(async move { (cloud, p.observe(&req).await) })
    });
    let mut snap = Snapshot::default();
    for (cloud, r) in futures::future::join_all(reads).await {
        let s = r.unwrap_or_else(|e| CloudSnapshot {
            errors: vec![ReadError {
                scope: cloud.as_str().to_string(),
                what: "observe".into(),
                message: e.to_string(),
            }],
            ..Default::default()
        });
        snap.clouds.insert(cloud, s);
    }
    snap
}
