//! What verify observed in the clouds, as plain data: per cloud, the recorded resources'
//! presence and attributes, tunnel and BGP status texts, and per network the effective routes
//! and firewall rules. Filled by the providers' `observe`, read by the pure [`super::judge`].

use crate::cloud::Cloud;
use ipnet::Ipv4Net;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything observed, per cloud.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub clouds: BTreeMap<Cloud, CloudSnapshot>,
}

impl Snapshot {
    /// The observation of the resource at `address`, in whichever cloud holds it.
    pub fn resource(&self, address: &str) -> Option<&ResourceObs> {
        self.clouds.values().find_map(|c| c.resources.get(address))
    }
    pub fn network(&self, name: &str) -> Option<&NetworkObs> {
        self.clouds.values().find_map(|c| c.networks.get(name))
    }
    pub fn tunnels(&self) -> impl Iterator<Item = &TunnelObs> {
        self.clouds.values().flat_map(|c| c.tunnels.iter())
    }
    pub fn bgp(&self) -> impl Iterator<Item = &BgpObs> {
        self.clouds.values().flat_map(|c| c.bgp.iter())
    }
    /// Reads that failed, in every cloud.
    pub fn errors(&self) -> impl Iterator<Item = (Cloud, &ReadError)> {
        self.clouds
            .iter()
            .flat_map(|(c, s)| s.errors.iter().map(move |e| (*c, e)))
    }
}

/// One cloud's observation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CloudSnapshot {
    /// Every recorded resource of this cloud, by plan address.
    pub resources: BTreeMap<String, ResourceObs>,
    pub tunnels: Vec<TunnelObs>,
    pub bgp: Vec<BgpObs>,
    /// Per topology network of this cloud.
    pub networks: BTreeMap<String, NetworkObs>,
    /// Reads that failed (verify then cannot judge what they would have shown).
    pub errors: Vec<ReadError>,
    /// Read calls made.
    pub reads: usize,
}

/// A read that failed: which scope and kind, and the cloud's error (never a secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadError {
    pub scope: String,
    pub what: String,
    pub message: String,
}

/// One recorded resource as found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceObs {
    pub present: bool,
    /// The cloud's id or name, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Observed attribute values, flattened the way [`super::judge::flatten`] flattens the
    /// planned ones (`tunnels[0].inside_cidr`, lists of scalars as sorted comma-joined text;
    /// a pre-shared key as `matches` / `differs`, never the key).
    pub attrs: BTreeMap<String, String>,
    /// Differences only the observer can state (a rule missing from one of several groups,
    /// propagation off in one table).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<AttrDiff>,
}

impl ResourceObs {
    pub fn absent() -> ResourceObs {
        ResourceObs::default()
    }
    pub fn present(id: impl Into<String>) -> ResourceObs {
        ResourceObs {
            present: true,
            id: Some(id.into()),
            ..ResourceObs::default()
        }
    }
    pub fn attr(mut self, k: &str, v: impl ToString) -> ResourceObs {
        self.attrs.insert(k.to_string(), v.to_string());
        self
    }
}

/// An attribute whose observed value differs from the recorded one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AttrDiff {
    pub attr: String,
    pub expected: String,
    pub actual: String,
}

/// One end of one tunnel, as its cloud reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TunnelObs {
    /// The plan address of the resource carrying it (`aws.vpn_connection.…`,
    /// `gcp.vpn_tunnel.…`, `azure.connection.…`).
    pub address: String,
    /// The tunnel's index inside that resource (AWS: 0 or 1 in planned order; else 0).
    pub index: u8,
    /// How the cloud names it (`vpn-… tunnel 198.18.0.5`, the GCP tunnel's name…).
    pub name: String,
    /// IPsec is up (AWS: also `IPSEC IS UP` with BGP not yet established).
    pub up: bool,
    /// The cloud's status field (`UP`, `ESTABLISHED`, `Connected`…).
    pub status: String,
    /// The cloud's free text (`StatusMessage`, `detailedStatus`), possibly empty.
    pub detail: String,
}

/// One BGP session, as one end reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgpObs {
    /// The plan address of the resource the session belongs to (`gcp.router_peer.…`, or
    /// `aws.vpn_connection.…` with `index` the tunnel).
    pub address: String,
    pub index: u8,
    pub name: String,
    /// The peer address the session talks to, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<String>,
    pub established: bool,
    /// The cloud's state text (`Established`, `Active`, `IPSEC IS UP`…).
    pub state: String,
    /// Prefixes learned over it (or only their count, when that is all the cloud says).
    pub learned: Vec<Ipv4Net>,
    pub learned_count: u32,
}

/// One topology network's effective routes and firewalls.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkObs {
    pub cidrs: Vec<Ipv4Net>,
    /// Every route table traffic of this network may use (AWS: the managed tables; GCP: the
    /// network; Azure: the gateway's routes). Traffic is routed only when every one routes it.
    pub route_tables: Vec<RouteTableObs>,
    /// Every firewall a packet must pass (AWS: each managed security group; GCP: the
    /// network's rules; Azure: each managed NSG).
    pub firewalls: Vec<FirewallObs>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteTableObs {
    /// `rtb-…`, `network prod-vpc`, `gateway …`.
    pub name: String,
    pub routes: Vec<RouteObs>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteObs {
    pub dest: Ipv4Net,
    /// The cloud's next hop (`vgw-…`, a tunnel's name, a connection's name).
    pub next_hop: String,
    /// The plan address of the next hop, when it is peerctl's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// In effect (AWS `active`, a GCP route whose tunnel runs, a connected Azure connection).
    pub active: bool,
    /// `static`, `propagated`, `bgp`, `lng`…
    pub origin: String,
    /// Lower wins among equal prefixes (GCP).
    pub priority: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallKind {
    /// AWS: stateful, allow-only; no matching rule = blocked.
    SecurityGroup,
    /// GCP: lowest priority wins, deny beats allow at equal priority, implied rules at 65535.
    GcpNetwork,
    /// Azure: custom then default rules by priority, first match decides (the observer
    /// includes the default rules).
    Nsg,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirewallObs {
    /// `sg-…`, the NSG's name, `network prod-vpc`.
    pub name: String,
    pub kind: FirewallKind,
    pub rules: Vec<RuleObs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    All,
    Tcp,
    Udp,
    Icmp,
    /// Another protocol (never matches the link's entries).
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleObs {
    /// The rule's cloud name or id (`sgr-…`, the firewall's or NSG rule's name).
    pub name: String,
    /// The plan address when the rule is peerctl's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub direction: Direction,
    pub action: Action,
    pub priority: u32,
    pub protocol: Proto,
    /// Port ranges (inclusive); empty = every port.
    pub ports: Vec<(u16, u16)>,
    /// Source ranges (ingress) — tags already expanded; `0.0.0.0/0` for any.
    pub sources: Vec<Ipv4Net>,
    /// Destination ranges; `0.0.0.0/0` for any.
    pub destinations: Vec<Ipv4Net>,
    pub disabled: bool,
}
