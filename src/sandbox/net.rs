//! The network between the clouds ("physics"): which tunnels are up, which BGP sessions are
//! established, which routes are in effect, and whether traffic from one network reaches
//! another. Pure functions over the world: no I/O, no clock (the time is passed in).
//!
//! Each cloud front end describes its own resources to this module in one normalised form
//! ([`TunnelEnd`], [`CloudModel`]); this module pairs the ends across clouds and decides.

use crate::cloud::Cloud;
use ipnet::Ipv4Net;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A network (VPC, VPC network, VNet) in the sandbox, e.g. `aws:vpc-0a1b…`,
/// `gcp:projects/p/global/networks/n`, `azure:/subscriptions/…/virtualNetworks/v`.
pub type NetKey = String;

/// One end of one IPsec tunnel, named by the resource that carries it.
/// AWS: (`vpn-…`, tunnel 0 or 1). GCP: (the vpnTunnel's selfLink path, 0). Azure: (the
/// connection's ARM id, 0).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EndId {
    pub cloud: Cloud,
    pub resource: String,
    pub tunnel: u8,
}

/// An IKE/IPsec proposal: the algorithm lists one side offers for a phase.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Proposal {
    /// e.g. "AES256", "AES128", "AES256-GCM-16"
    pub encryption: Vec<String>,
    /// e.g. "SHA2-256", "SHA1"
    pub integrity: Vec<String>,
    /// Diffie-Hellman group numbers, e.g. 14
    pub dh_groups: Vec<u32>,
}

/// BGP configuration of one end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BgpConfig {
    /// This side's inside address and the prefix length of the inside range (30 for the /30s).
    pub local_ip: Ipv4Addr,
    pub prefix_len: u8,
    pub peer_ip: Ipv4Addr,
    pub local_asn: u32,
    pub peer_asn: u32,
}

/// What the physics needs to know about one tunnel end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TunnelEnd {
    pub id: EndId,
    /// The network this end delivers traffic into.
    pub network: NetKey,
    /// This end's public (outside) address; `None` while the gateway has none yet.
    pub local_ip: Option<Ipv4Addr>,
    /// The address this end expects its peer at.
    pub peer_ip: Option<Ipv4Addr>,
    pub psk: Option<String>,
    /// IKE versions this end speaks (1, 2).
    pub ike_versions: Vec<u8>,
    /// Phase 1 / phase 2 offers; `None` = this cloud's full default list.
    pub phase1: Option<Proposal>,
    pub phase2: Option<Proposal>,
    /// Traffic selectors (local, remote); `None` = 0.0.0.0/0 both ways (route-based).
    pub selectors: Option<(Vec<Ipv4Net>, Vec<Ipv4Net>)>,
    pub bgp: Option<BgpConfig>,
    /// Prefixes this end advertises over BGP when a session is established.
    pub advertises: Vec<Ipv4Net>,
    /// When this end's current configuration took effect (its resource finished provisioning
    /// or its last update), in sandbox milliseconds. Before it, the end is provisioning.
    pub ready_ms: u64,
    /// The tunnel does not exist as far as negotiation goes (e.g. being deleted).
    pub disabled: bool,
}

/// Why a tunnel end is not up. Each cloud front end turns this into its own status text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DownReason {
    /// This end's resource (or its gateway) is still being created or updated.
    Provisioning,
    /// No end anywhere has this end's peer address as its outside address.
    NoPeer,
    /// An end answers at the peer address, but it expects a different address for us.
    PeerAddressMismatch,
    /// Both ends found each other, the pre-shared keys differ.
    PskMismatch,
    /// No IKE version in common.
    IkeVersionMismatch,
    /// No common algorithm set in phase 1 or 2.
    ProposalMismatch,
    /// One side narrowed its traffic selectors and the other refuses.
    TrafficSelectorMismatch,
    /// Everything agrees; the handshake is still in progress.
    Negotiating,
}

/// The state of a BGP session as the sandbox decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BgpState {
    Established,
    /// Tunnel up but the session does not come up (addresses or ASNs do not mirror).
    Active,
    /// Tunnel down.
    Idle,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgpStatus {
    pub state: BgpState,
    /// Prefixes learned from the peer (empty unless established).
    pub learned: Vec<Ipv4Net>,
    /// A short text for a session that is not established ("peer ASN mismatch: …").
    pub detail: Option<String>,
}

/// The decided state of one end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndStatus {
    pub up: bool,
    /// Set when `up` is false.
    pub reason: Option<DownReason>,
    /// Sandbox time at which the current state began.
    pub since_ms: u64,
    /// The end at the other side, when one was found at the peer address.
    pub peer: Option<EndId>,
    /// The peer's network, when the tunnel is up.
    pub peer_network: Option<NetKey>,
    /// Present when this end has BGP configured.
    pub bgp: Option<BgpStatus>,
}

/// Everything the physics decided at one instant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NetState {
    pub now_ms: u64,
    pub ends: BTreeMap<EndId, EndStatus>,
}

impl NetState {
    pub fn end(&self, id: &EndId) -> Option<&EndStatus> {
        self.ends.get(id)
    }
}

/// A protocol/port a reachability question is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub proto: Proto,
    /// Destination port; `None` for ICMP.
    pub port: Option<u16>,
}

/// Where a network sends a packet for a destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RouteDecision {
    /// The destination is inside this network.
    Local,
    /// Into this tunnel end (the route is in effect: its tunnel is up / it was learned).
    Tunnel { end: EndId, route: String },
    /// No effective route; `table` names where the route is missing (e.g. "route table rtb-…").
    NoRoute { table: String },
}

/// A firewall's verdict on one packet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FwDecision {
    Allow {
        rule: String,
    },
    /// `rule` names the deciding rule, or the default/implied rule when nothing matched.
    Deny {
        rule: String,
    },
}

/// A network as the sandbox knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetInfo {
    pub key: NetKey,
    pub cloud: Cloud,
    /// The topology's name for it when it was seeded from a topology.
    pub name: Option<String>,
    pub cidrs: Vec<Ipv4Net>,
}

/// What each cloud front end tells the physics about its part of the world.
pub trait CloudModel {
    /// Every tunnel end this cloud has, at `now_ms`.
    fn tunnel_ends(&self, now_ms: u64) -> Vec<TunnelEnd>;
    /// This cloud's networks.
    fn networks(&self) -> Vec<NetInfo>;
    /// Where `network` sends a packet for `dst`, given the decided tunnel/BGP states.
    fn route(&self, network: &str, dst: Ipv4Addr, net: &NetState) -> RouteDecision;
    /// Whether `network` admits a packet from `src` (from outside) to its hosts.
    fn ingress(&self, network: &str, src: Ipv4Addr, flow: Flow) -> FwDecision;
    /// Whether `network` lets a packet to `dst` leave its hosts.
    fn egress(&self, network: &str, dst: Ipv4Addr, flow: Flow) -> FwDecision;
    /// Resources that exist now and were not seeded.
    fn created_resources(&self) -> usize;
}

/// Decides every tunnel end's state at `now_ms`.
pub fn evaluate(
    world: &crate::sandbox::world::World,
    now_ms: u64,
    latency: &crate::sandbox::latency::Latency,
) -> NetState {
    let _ = (world, latency);
    NetState {
        now_ms,
        ends: BTreeMap::new(),
    }
}
