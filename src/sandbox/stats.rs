//! API-call counters, per cloud and per operation, as served by `GET /_sandbox/stats`.

use crate::cloud::Cloud;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, Serialize)]
pub struct CloudStats {
    pub mutating: u64,
    pub reads: u64,
    /// Injected faults answered instead of the operation.
    pub faults: u64,
    pub operations: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub clouds: BTreeMap<Cloud, CloudStats>,
}

impl Stats {
    pub fn record(&mut self, cloud: Cloud, op: &str, mutating: bool) {
        let s = self.clouds.entry(cloud).or_default();
        if mutating {
            s.mutating += 1;
        } else {
            s.reads += 1;
        }
        *s.operations.entry(op.to_string()).or_insert(0) += 1;
    }

    pub fn record_fault(&mut self, cloud: Cloud) {
        self.clouds.entry(cloud).or_default().faults += 1;
    }

    /// The `/_sandbox/stats` document.
    pub fn to_json(&self, created_resources: usize) -> serde_json::Value {
        let mut clouds = serde_json::Map::new();
        let (mut mutating, mut reads) = (0, 0);
        for cloud in Cloud::ALL {
            let s = self.clouds.get(&cloud).cloned().unwrap_or_default();
            mutating += s.mutating;
            reads += s.reads;
            clouds.insert(
                cloud.as_str().to_string(),
                serde_json::to_value(&s).unwrap_or_default(),
            );
        }
        serde_json::json!({
            "mutating": mutating,
            "reads": reads,
            "created_resources": created_resources,
            "clouds": clouds,
        })
    }
}
