//! Fault injection: random server errors and throttling at configured rates (deterministic
//! under a seed), plus scripted faults ("fail the next N calls of this operation") set at
//! runtime through `/_sandbox/faults`.

use crate::cloud::Cloud;
use crate::sandbox::FaultKind;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A scripted fault: the next `count` calls matching `cloud`/`operation` fail with `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptedFault {
    /// `None` = any cloud.
    #[serde(default)]
    pub cloud: Option<Cloud>,
    /// `None` = any operation; otherwise the operation name as counted in the stats.
    #[serde(default)]
    pub operation: Option<String>,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone)]
pub struct Faults {
    /// Probability that a call gets a server error.
    pub fault_rate: f64,
    /// Probability that a call is throttled.
    pub throttle_rate: f64,
    pub scripted: Vec<ScriptedFault>,
    rng: ChaCha8Rng,
}

impl Faults {
    pub fn new(fault_rate: f64, throttle_rate: f64, seed: u64) -> Faults {
        Faults {
            fault_rate,
            throttle_rate,
            scripted: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Decides whether this call fails, and how. Scripted faults come first; the random draw
    /// is made for every call so that the sequence depends only on the seed and call order.
    pub fn decide(&mut self, cloud: Cloud, operation: &str) -> Option<FaultKind> {
        let draw = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if let Some(i) = self.scripted.iter().position(|f| {
            f.cloud.is_none_or(|c| c == cloud)
                && f.operation.as_deref().is_none_or(|o| o == operation)
        }) {
            let kind = self.scripted[i].kind;
            self.scripted[i].count = self.scripted[i].count.saturating_sub(1);
            if self.scripted[i].count == 0 {
                self.scripted.remove(i);
            }
            return Some(kind);
        }
        if draw < self.throttle_rate {
            Some(FaultKind::Throttle)
        } else if draw < self.throttle_rate + self.fault_rate {
            Some(FaultKind::ServerError)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let run = |seed| {
            let mut f = Faults::new(0.2, 0.2, seed);
            (0..200)
                .map(|_| f.decide(Cloud::Aws, "DescribeVpcs"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let faults = run(7).iter().filter(|f| f.is_some()).count();
        assert!((40..120).contains(&faults), "{faults} faults of 200 at 40%");
    }

    #[test]
    fn scripted_fault_hits_only_its_operation_and_count() {
        let mut f = Faults::new(0.0, 0.0, 1);
        f.scripted.push(ScriptedFault {
            cloud: Some(Cloud::Gcp),
            operation: Some("vpnTunnels.insert".into()),
            kind: FaultKind::Throttle,
            count: 2,
        });
        assert_eq!(f.decide(Cloud::Aws, "vpnTunnels.insert"), None);
        assert_eq!(f.decide(Cloud::Gcp, "routers.get"), None);
        assert_eq!(
            f.decide(Cloud::Gcp, "vpnTunnels.insert"),
            Some(FaultKind::Throttle)
        );
        assert_eq!(
            f.decide(Cloud::Gcp, "vpnTunnels.insert"),
            Some(FaultKind::Throttle)
        );
        assert_eq!(f.decide(Cloud::Gcp, "vpnTunnels.insert"), None);
    }
}
