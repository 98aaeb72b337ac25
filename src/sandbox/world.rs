//! The sandbox's world: the three clouds' resources plus the counters that name new ones.
//! Serialisable as a whole so that `--data DIR` can persist it between invocations.

use crate::cloud::Cloud;
use crate::sandbox::latency::Latency;
use crate::sandbox::net::{self, CloudModel, NetState};
use serde::{Deserialize, Serialize};
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{aws::AwsCloud, azure::AzureCloud, gcp::GcpCloud};

/// All three clouds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct World {
    pub aws: AwsCloud,
    pub gcp: GcpCloud,
    pub azure: AzureCloud,
    pub ids: Ids,
    pub ips: PublicIps,
}

impl World {
    /// The three clouds as the physics sees them.
    pub fn models(&self) -> [&dyn CloudModel; 3] {
        [&self.aws, &self.gcp, &self.azure]
    }

    pub fn model(&self, cloud: Cloud) -> &dyn CloudModel {
        match cloud {
            Cloud::Aws => &self.aws,
            Cloud::Gcp => &self.gcp,
            Cloud::Azure => &self.azure,
        }
    }

    pub fn created_resources(&self) -> usize {
        self.models().iter().map(|m| m.created_resources()).sum()
    }
}

/// Deterministic identifiers: the same sequence of calls yields the same ids.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Ids {
    counters: BTreeMap<String, u64>,
}

impl Ids {
    /// An AWS-style id: `vgw-` followed by 17 hex digits, unique per prefix.
    pub fn aws(&mut self, prefix: &str) -> String {
        let n = self.bump(prefix);
        format!("{prefix}-{:017x}", 0x0a00_0000_0000_0000u64 + n)
    }

    /// A GCP-style numeric id (sent as a JSON string).
    pub fn numeric(&mut self) -> u64 {
        1_000_000_000_000_000_000 + self.bump("#numeric")
    }

    /// A counter for anything else (operation names, request ids).
    pub fn next(&mut self, kind: &str) -> u64 {
        self.bump(kind)
    }

    fn bump(&mut self, key: &str) -> u64 {
        let c = self.counters.entry(key.to_string()).or_insert(0);
        *c += 1;
        *c
    }
}

/// Public addresses handed out by the clouds. Each cloud draws from its own block of the
/// benchmarking range 198.18.0.0/15 (RFC 2544), which is never routed on the internet:
/// AWS 198.18.0.0/17, GCP 198.18.128.0/17, Azure 198.19.0.0/17.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PublicIps {
    next: BTreeMap<Cloud, u32>,
}

impl PublicIps {
    pub fn allocate(&mut self, cloud: Cloud) -> Ipv4Addr {
        let base: u32 = match cloud {
            Cloud::Aws => u32::from(Ipv4Addr::new(198, 18, 0, 0)),
            Cloud::Gcp => u32::from(Ipv4Addr::new(198, 18, 128, 0)),
            Cloud::Azure => u32::from(Ipv4Addr::new(198, 19, 0, 0)),
        };
        let n = self.next.entry(cloud).or_insert(0);
        *n += 1;
        // Skip .0 and .255 of every /24 so that no address looks like a network or broadcast.
        let mut k = *n;
        while k.is_multiple_of(256) || k % 256 == 255 {
            *n += 1;
            k = *n;
        }
        Ipv4Addr::from(base + (k % (1 << 15)))
    }
}

/// What a cloud front end gets with every request besides the world.
pub struct Ctx<'a> {
    /// Sandbox time, milliseconds since the Unix epoch.
    pub now_ms: u64,
    pub latency: &'a Latency,
    /// `http://127.0.0.1:PORT`.
    pub base_url: &'a str,
    net: OnceCell<NetState>,
}

impl<'a> Ctx<'a> {
    pub fn new(now_ms: u64, latency: &'a Latency, base_url: &'a str) -> Ctx<'a> {
        Ctx {
            now_ms,
            latency,
            base_url,
            net: OnceCell::new(),
        }
    }

    /// The physics' verdict for the world as it is now. Computed once per request, on first
    /// use: call it before mutating, or after the last mutation that should be visible.
    pub fn net(&self, world: &World) -> &NetState {
        self.net
            .get_or_init(|| net::evaluate(world, self.now_ms, self.latency))
    }
}
