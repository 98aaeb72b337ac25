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
    /// Serialised as a list of `{"id": EndId, ...EndStatus}`: JSON keys must be strings.
    #[serde(serialize_with = "ends_as_list")]
    pub ends: BTreeMap<EndId, EndStatus>,
}

fn ends_as_list<S: serde::Serializer>(
    ends: &BTreeMap<EndId, EndStatus>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Entry<'a> {
        id: &'a EndId,
        #[serde(flatten)]
        status: &'a EndStatus,
    }
    s.collect_seq(ends.iter().map(|(id, status)| Entry { id, status }))
}

impl NetState {
    pub fn end(&self, id: &EndId) -> Option<&EndStatus> {
        self.ends.get(id)
    }
}

/// A protocol/port a reachability question is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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

mod ike;
mod reach;

pub use self::ike::{canonical_algorithm, default_ike_versions, default_proposal, Phase};
pub use self::reach::{find_network, reach, reach_addr, reach_addr_models, reach_models};
pub use self::reach::{Blocked, BlockedAt, Direction, Hop, Path};

use crate::sandbox::latency::{Latency, Op};
use std::collections::HashMap;

impl DownReason {
    /// A short phrase for messages ("pre-shared key mismatch").
    pub fn describe(self) -> &'static str {
        match self {
            DownReason::Provisioning => "provisioning",
            DownReason::NoPeer => "no peer at the peer address",
            DownReason::PeerAddressMismatch => "the peer expects a different address",
            DownReason::PskMismatch => "pre-shared key mismatch",
            DownReason::IkeVersionMismatch => "no common IKE version",
            DownReason::ProposalMismatch => "no common IKE/IPsec proposal",
            DownReason::TrafficSelectorMismatch => "traffic selector mismatch",
            DownReason::Negotiating => "negotiating",
        }
    }
}

impl std::fmt::Display for DownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl NetState {
    /// Whether the end is known and up.
    pub fn is_up(&self, id: &EndId) -> bool {
        self.ends.get(id).is_some_and(|s| s.up)
    }

    /// The prefixes the end learned over an established BGP session (empty otherwise).
    pub fn learned(&self, id: &EndId) -> &[Ipv4Net] {
        self.ends
            .get(id)
            .and_then(|s| s.bgp.as_ref())
            .map(|b| b.learned.as_slice())
            .unwrap_or(&[])
    }
}

impl Proto {
    /// `tcp`, `udp` or `icmp` (any case).
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "icmp" => Some(Proto::Icmp),
            _ => None,
        }
    }
}

/// Decides every tunnel end's state at `now_ms`.
pub fn evaluate(world: &crate::sandbox::world::World, now_ms: u64, latency: &Latency) -> NetState {
    evaluate_models(&world.models(), now_ms, latency)
}

/// [`evaluate`] over any set of cloud models (the world's three, or fakes in tests).
pub fn evaluate_models(models: &[&dyn CloudModel], now_ms: u64, latency: &Latency) -> NetState {
    let mut ends: Vec<TunnelEnd> = models.iter().flat_map(|m| m.tunnel_ends(now_ms)).collect();
    ends.sort_by(|a, b| a.id.cmp(&b.id));
    let partner = pair(&ends);
    let mut state = NetState {
        now_ms,
        ends: BTreeMap::new(),
    };
    let mut up_since: Vec<Option<u64>> = vec![None; ends.len()];
    for (i, a) in ends.iter().enumerate() {
        let status = decide(i, &ends, &partner, now_ms, latency);
        if status.up {
            up_since[i] = Some(status.since_ms);
        }
        state.ends.insert(a.id.clone(), status);
    }
    for (i, a) in ends.iter().enumerate() {
        if a.bgp.is_none() {
            continue;
        }
        let peer = match partner[i] {
            Partner::Mutual(j) => Some(&ends[j]),
            _ => None,
        };
        let bgp = bgp_status(a, peer, up_since[i], now_ms, latency);
        if let Some(s) = state.ends.get_mut(&a.id) {
            s.bgp = Some(bgp);
        }
    }
    state
}

/// Whom an end negotiates with, decided from addresses alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partner {
    /// Not negotiating at all: disabled, or without its own or its peer's address.
    Inactive,
    /// Each end's peer address is the other's outside address.
    Mutual(usize),
    /// An end answers at our peer address, is paired with nobody, and expects another
    /// address for us.
    Mismatch(usize),
    /// Nothing at our peer address, or everything there already has its own tunnel.
    None,
}

fn negotiable(e: &TunnelEnd) -> bool {
    !e.disabled && e.local_ip.is_some() && e.peer_ip.is_some()
}

/// Pairs ends by mutual addresses, one to one, in `EndId` order so that the result never
/// depends on the order the clouds listed their ends in. Several ends may share an
/// outside address (GCP HA interface, Azure gateway): mutuality tells them apart.
fn pair(ends: &[TunnelEnd]) -> Vec<Partner> {
    let mut by_ip: HashMap<Ipv4Addr, Vec<usize>> = HashMap::new();
    for (i, e) in ends.iter().enumerate() {
        if let (true, Some(ip)) = (negotiable(e), e.local_ip) {
            by_ip.entry(ip).or_default().push(i);
        }
    }
    let mut partner = vec![Partner::None; ends.len()];
    for (i, e) in ends.iter().enumerate() {
        if !negotiable(e) {
            partner[i] = Partner::Inactive;
        }
    }
    let at = |ip: Option<Ipv4Addr>| -> &[usize] {
        ip.and_then(|ip| by_ip.get(&ip))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    };
    for i in 0..ends.len() {
        if partner[i] != Partner::None {
            continue;
        }
        let found = at(ends[i].peer_ip).iter().copied().find(|&j| {
            j != i && partner[j] == Partner::None && ends[j].peer_ip == ends[i].local_ip
        });
        if let Some(j) = found {
            partner[i] = Partner::Mutual(j);
            partner[j] = Partner::Mutual(i);
        }
    }
    for i in 0..ends.len() {
        if partner[i] != Partner::None {
            continue;
        }
        let free = at(ends[i].peer_ip)
            .iter()
            .copied()
            .find(|&j| j != i && !matches!(partner[j], Partner::Mutual(_)));
        if let Some(j) = free {
            partner[i] = Partner::Mismatch(j);
        }
    }
    partner
}

fn down(reason: DownReason, since_ms: u64, peer: Option<&TunnelEnd>) -> EndStatus {
    EndStatus {
        up: false,
        reason: Some(reason),
        since_ms,
        peer: peer.map(|p| p.id.clone()),
        peer_network: None,
        bgp: None,
    }
}

fn decide(
    i: usize,
    ends: &[TunnelEnd],
    partner: &[Partner],
    now_ms: u64,
    latency: &Latency,
) -> EndStatus {
    let a = &ends[i];
    // The physics keeps no history, so it cannot know when provisioning began.
    if partner[i] == Partner::Inactive || now_ms < a.ready_ms {
        return down(DownReason::Provisioning, now_ms, None);
    }
    let b = match partner[i] {
        Partner::Mutual(j) => &ends[j],
        Partner::Mismatch(j) => {
            let b = &ends[j];
            return down(
                DownReason::PeerAddressMismatch,
                a.ready_ms.max(b.ready_ms),
                Some(b),
            );
        }
        Partner::None | Partner::Inactive => return down(DownReason::NoPeer, a.ready_ms, None),
    };
    let agreed = a.ready_ms.max(b.ready_ms);
    if let Some(reason) = ike::mismatch(a, b) {
        return down(reason, agreed, Some(b));
    }
    let up_at = agreed.saturating_add(latency.ms(Op::TunnelHandshake));
    if now_ms < up_at {
        return down(DownReason::Negotiating, agreed, Some(b));
    }
    EndStatus {
        up: true,
        reason: None,
        since_ms: up_at,
        peer: Some(b.id.clone()),
        peer_network: Some(b.network.clone()),
        bgp: None,
    }
}

/// Why two BGP configurations cannot form a session, in words; `None` when they mirror.
fn bgp_mismatch(a: &BgpConfig, b: &BgpConfig) -> Option<String> {
    let net_a = Ipv4Net::new(a.local_ip, a.prefix_len)
        .ok()
        .map(|n| n.trunc());
    let net_b = Ipv4Net::new(b.local_ip, b.prefix_len)
        .ok()
        .map(|n| n.trunc());
    let host = |ip: Ipv4Addr, net: Option<Ipv4Net>| match net {
        Some(n) if n.prefix_len() <= 30 => ip != n.network() && ip != n.broadcast(),
        Some(_) => true,
        None => false,
    };
    let addresses_mirror = a.local_ip == b.peer_ip
        && a.peer_ip == b.local_ip
        && a.prefix_len == b.prefix_len
        && net_a.is_some()
        && net_a == net_b
        && a.local_ip != b.local_ip
        && host(a.local_ip, net_a)
        && host(b.local_ip, net_b);
    if !addresses_mirror {
        return Some(format!(
            "inside address mismatch: this side is {}/{} and expects the peer at {}; \
             the peer is {}/{} and expects {}",
            a.local_ip, a.prefix_len, a.peer_ip, b.local_ip, b.prefix_len, b.peer_ip
        ));
    }
    if a.peer_asn != b.local_asn {
        return Some(format!(
            "peer ASN mismatch: this side expects AS {}, the peer is AS {}",
            a.peer_asn, b.local_asn
        ));
    }
    if b.peer_asn != a.local_asn {
        return Some(format!(
            "peer ASN mismatch: the peer expects AS {}, this side is AS {}",
            b.peer_asn, a.local_asn
        ));
    }
    if a.local_asn == b.local_asn {
        return Some(format!(
            "both sides use AS {}: an eBGP session needs two different ASNs",
            a.local_asn
        ));
    }
    None
}

fn bgp_status(
    a: &TunnelEnd,
    peer: Option<&TunnelEnd>,
    up_since: Option<u64>,
    now_ms: u64,
    latency: &Latency,
) -> BgpStatus {
    let not = |state, detail: String| BgpStatus {
        state,
        learned: Vec::new(),
        detail: Some(detail),
    };
    let (Some(mine), Some(b), Some(since)) = (a.bgp.as_ref(), peer, up_since) else {
        return not(BgpState::Idle, "tunnel is down".into());
    };
    let Some(theirs) = b.bgp.as_ref() else {
        return not(
            BgpState::Active,
            "the peer has no BGP session configured".into(),
        );
    };
    if let Some(why) = bgp_mismatch(mine, theirs) {
        return not(BgpState::Active, why);
    }
    // Until the OPEN/KEEPALIVE exchange is over the session is not established and
    // nothing is learned.
    if now_ms < since.saturating_add(latency.ms(Op::BgpEstablish)) {
        return not(BgpState::Active, "connecting: OPEN sent".into());
    }
    BgpStatus {
        state: BgpState::Established,
        learned: b.advertises.clone(),
        detail: None,
    }
}

#[cfg(test)]
mod tests;
