//! The pure planner: validated topology + state + templates → a plan (resource graph,
//! allocations, diff, warnings). No I/O, no async, no clock; its only randomness (pre-shared
//! keys) comes from an injected RNG. Rendering (human, JSON, graph) and the saved plan file
//! format live here too, as pure functions of a plan; the CLI prints and writes them.

pub mod alloc;
pub mod build;
pub mod diff;
pub mod graph;
pub mod names;
pub mod render;
pub mod resource;
pub mod saved;
pub mod templates;

use crate::cloud::Cloud;
use crate::state::{Allocations, Secret, State};
use crate::topology::Topology;
use foldhash::HashMap;
use ipnet::Ipv4Net;
use rand_core::{CryptoRng, RngCore};
use resource::{Kind, Resource};
use serde::Serialize;
use std::collections::BTreeMap;
use templates::{Templates, NSG_BLOCK};

pub use diff::{Action, Change, Summary};

/// How a link is built (interop.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// AWS ↔ GCP: GCP HA VPN + Cloud Router, AWS VGW with two dynamic VPN connections.
    HaVpnBgp,
    /// Any pair with Azure: route-based Azure gateway, static routing.
    ClassicVpnStatic,
}

impl Strategy {
    /// The strategy for a cloud pair; `None` for pairs peerctl does not connect.
    pub fn for_pair(a: Cloud, b: Cloud) -> Option<Strategy> {
        match (a, b) {
            (Cloud::Aws, Cloud::Gcp) | (Cloud::Gcp, Cloud::Aws) => Some(Strategy::HaVpnBgp),
            (Cloud::Azure, _) | (_, Cloud::Azure) => Some(Strategy::ClassicVpnStatic),
            // AWS VGWs cannot terminate each other, and GCP ↔ GCP belongs to VPC peering.
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::HaVpnBgp => "ha-vpn-bgp",
            Strategy::ClassicVpnStatic => "classic-vpn-static",
        }
    }

    /// Tunnels a link of this strategy has between `a` and `b`: from the template, except that
    /// an AWS side always builds one VPN connection's two (the second one standby on a static
    /// link).
    pub fn tunnels(self, a: Cloud, b: Cloud, t: &Templates) -> u32 {
        match self {
            Strategy::HaVpnBgp => t.ha_vpn_bgp.tunnels,
            Strategy::ClassicVpnStatic if a == Cloud::Aws || b == Cloud::Aws => {
                u32::from(build::AWS_TUNNELS_PER_CONNECTION)
            }
            Strategy::ClassicVpnStatic => t.classic_vpn_static.tunnels,
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("link {link}: peerctl does not connect {a} to {b}")]
    UnsupportedPair { link: String, a: Cloud, b: Cloud },
    #[error("unknown network {0}")]
    UnknownNetwork(String),
    #[error(transparent)]
    Alloc(#[from] alloc::AllocError),
    #[error("resource graph: {0}")]
    Graph(#[from] graph::GraphError),
    #[error("internal planner error: {0}")]
    Internal(String),
}

impl PlanError {
    /// The topology file position (line, column) the error is about, when it is one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            PlanError::Alloc(alloc::AllocError::AsnTaken { line, col, .. }) => Some((*line, *col)),
            _ => None,
        }
    }
}

/// One tunnel of a link, as shown to users (`local` = the link's first network).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TunnelPlan {
    pub index: u8,
    pub inside_cidr: Option<Ipv4Net>,
    /// ASNs of the BGP session; `None` on static links.
    pub local_asn: Option<u32>,
    pub peer_asn: Option<u32>,
    /// True for AWS tunnel 2 on an Azure link: no Azure peer by design.
    pub standby: bool,
}

/// One link of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkPlan {
    pub id: String,
    pub between: [String; 2],
    pub clouds: [Cloud; 2],
    pub strategy: Strategy,
    pub routing: String,
    pub allow: Vec<String>,
    pub tunnels: Vec<TunnelPlan>,
}

/// A raisable quota the plan exceeds (a warning, never a refusal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub cloud: Cloud,
    /// The quota's name as the cloud documents it.
    pub quota: String,
    pub scope: String,
    pub planned: usize,
    pub default_limit: usize,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} quota \"{}\" ({}): plan uses {}, default limit {}; request an increase before apply",
            self.cloud.display_name(),
            self.quota,
            self.scope,
            self.planned,
            self.default_limit
        )
    }
}

/// The planner's output.
#[derive(Debug, Clone)]
pub struct Plan {
    pub topology: String,
    /// Every resource the topology needs, sorted by address.
    pub resources: Vec<Resource>,
    /// Addresses in a dependency-respecting order.
    pub order: Vec<String>,
    pub links: Vec<LinkPlan>,
    pub allocations: Allocations,
    /// Pre-shared keys by `link/tunnel` (from state when recorded, else generated).
    pub secrets: BTreeMap<String, Secret>,
    pub changes: Vec<Change>,
    pub warnings: Vec<Warning>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.changes)
    }

    /// The resource graph (validated when the plan was made).
    pub fn graph(&self) -> Result<graph::Graph<'_>, graph::GraphError> {
        graph::Graph::new(&self.resources)
    }
}

/// Plans `topo` against `state`. Pure: same inputs and RNG state → the same plan.
pub fn plan<R: RngCore + CryptoRng>(
    topo: &Topology,
    state: &State,
    tpl: &Templates,
    rng: &mut R,
) -> Result<Plan, PlanError> {
    let nets: HashMap<&str, &crate::topology::Network> =
        topo.networks.iter().map(|n| (n.name.as_str(), n)).collect();
    let cloud_of = |name: &str| {
        nets.get(name)
            .map(|n| n.cloud)
            .ok_or_else(|| PlanError::UnknownNetwork(name.to_string()))
    };

    let mut needs = Vec::with_capacity(topo.links.len());
    let mut strategies = Vec::with_capacity(topo.links.len());
    for l in &topo.links {
        let (ca, cb) = (cloud_of(&l.a)?, cloud_of(&l.b)?);
        let s = Strategy::for_pair(ca, cb).ok_or_else(|| PlanError::UnsupportedPair {
            link: l.id(),
            a: ca,
            b: cb,
        })?;
        let tunnels = u8::try_from(s.tunnels(ca, cb, tpl)).unwrap_or(u8::MAX);
        let mut azure_networks = Vec::new();
        for (n, c) in [(&l.a, ca), (&l.b, cb)] {
            if c == Cloud::Azure {
                azure_networks.push(n.clone());
            }
        }
        needs.push(alloc::LinkNeeds {
            id: l.id(),
            tunnels,
            // BGP needs inside addresses; AWS tunnels get explicit ones even when static,
            // or AWS picks random ranges (false drift, tunnel swaps).
            inside_ranges: s == Strategy::HaVpnBgp || ca == Cloud::Aws || cb == Cloud::Aws,
            azure_networks,
        });
        strategies.push((s, ca, cb));
    }
    let fw = &tpl.classic_vpn_static.firewall;
    let allocations = alloc::allocate(
        topo,
        &needs,
        &state.allocations,
        fw.azure_priority_first,
        fw.azure_priority_last,
        NSG_BLOCK,
    )?;

    let mut ctx = build::Ctx::new(topo, tpl, &allocations);
    let mut links = Vec::with_capacity(topo.links.len());
    for (l, (s, ca, cb)) in topo.links.iter().zip(&strategies) {
        ctx.link(l)?;
        let la = allocations.links.get(&l.id());
        let bgp = *s == Strategy::HaVpnBgp;
        let aws_azure = !bgp && (*ca == Cloud::Aws || *cb == Cloud::Aws);
        let tunnels = la
            .map(|la| {
                la.tunnels
                    .iter()
                    .map(|t| TunnelPlan {
                        index: t.index,
                        inside_cidr: t.inside_cidr,
                        local_asn: bgp.then(|| allocations.asns.get(&l.a).copied()).flatten(),
                        peer_asn: bgp.then(|| allocations.asns.get(&l.b).copied()).flatten(),
                        standby: aws_azure && t.index == 1,
                    })
                    .collect()
            })
            .unwrap_or_default();
        links.push(LinkPlan {
            id: l.id(),
            between: [l.a.clone(), l.b.clone()],
            clouds: [*ca, *cb],
            strategy: *s,
            routing: if bgp { "bgp".into() } else { "static".into() },
            allow: build::allow_list(l).iter().map(|a| a.to_string()).collect(),
            tunnels,
        });
    }
    links.sort_by(|a, b| a.id.cmp(&b.id));
    let resources: Vec<Resource> = ctx.into_resources();

    let g = graph::Graph::new(&resources)?;
    let order = g
        .topo_order()?
        .into_iter()
        .map(|i| resources[i].address.clone())
        .collect();

    let psk = alloc::PskSource::new(rng);
    let mut secrets = BTreeMap::new();
    for r in &resources {
        let mut keys = Vec::new();
        for v in r.attributes.values() {
            v.secrets(&mut keys);
        }
        for k in keys {
            if !secrets.contains_key(k) {
                let s = state.secrets.get(k).cloned().unwrap_or_else(|| psk.psk(k));
                secrets.insert(k.to_string(), s);
            }
        }
    }

    let changes = diff::diff(&resources, &state.resources);
    let warnings = quota_warnings(&resources);
    Ok(Plan {
        topology: topo.name.clone(),
        resources,
        order,
        links,
        allocations,
        secrets,
        changes,
        warnings,
    })
}

/// Default per-account/per-region quotas (interop.md §1–2) the plan exceeds.
fn quota_warnings(resources: &[Resource]) -> Vec<Warning> {
    let mut per: BTreeMap<(Kind, &str), usize> = BTreeMap::new();
    let mut vpn_per_vgw: BTreeMap<&str, usize> = BTreeMap::new();
    let mut peers_per_router: BTreeMap<&str, usize> = BTreeMap::new();
    for r in resources {
        *per.entry((r.kind, r.region.as_str())).or_default() += 1;
        match r.kind {
            Kind::AwsVpnConnection => {
                *vpn_per_vgw
                    .entry(r.network.as_deref().unwrap_or_default())
                    .or_default() += 1
            }
            Kind::GcpRouterPeer => {
                *peers_per_router
                    .entry(r.network.as_deref().unwrap_or_default())
                    .or_default() += 1
            }
            _ => {}
        }
    }
    let mut w = Vec::new();
    let mut push = |cloud, quota: &str, scope: String, planned, limit| {
        if planned > limit {
            w.push(Warning {
                cloud,
                quota: quota.to_string(),
                scope,
                planned,
                default_limit: limit,
            });
        }
    };
    for ((kind, region), n) in &per {
        match kind {
            Kind::AwsVpnGateway => push(
                Cloud::Aws,
                "Virtual private gateways per Region",
                format!("region {region}"),
                *n,
                5,
            ),
            Kind::AwsCustomerGateway => push(
                Cloud::Aws,
                "Customer gateways per Region",
                format!("region {region}"),
                *n,
                50,
            ),
            Kind::AwsVpnConnection => push(
                Cloud::Aws,
                "Site-to-Site VPN connections per Region",
                format!("region {region}"),
                *n,
                50,
            ),
            _ => {}
        }
    }
    for (net, n) in vpn_per_vgw {
        push(
            Cloud::Aws,
            "Site-to-Site VPN connections per virtual private gateway",
            format!("network {net}"),
            n,
            10,
        );
    }
    for (net, n) in peers_per_router {
        push(
            Cloud::Gcp,
            "BGP peers per Cloud Router",
            format!("network {net}"),
            n,
            128,
        );
    }
    w
}

#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod render_tests;
#[cfg(test)]
pub(crate) mod tests;
