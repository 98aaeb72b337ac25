//! The judge: a pure function of (plan, state, topology, snapshot) that gives, per link, per
//! direction and per check (presence, tunnels, routing, firewall), a verdict and the causes of
//! every failure, naming the clouds' own objects. No I/O, no async, no clock.

use super::snapshot::{
    Action, Direction, FirewallKind, FirewallObs, Proto, RouteTableObs, RuleObs, Snapshot,
    TunnelObs,
};
use crate::cloud::Cloud;
use crate::plan::resource::{Kind, Value};
use crate::plan::{build, LinkPlan, Plan, Strategy};
use crate::state::State;
use crate::topology::{Allow, Network, Topology};
use ipnet::Ipv4Net;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How strictly to judge, and from where.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A degraded link (3 of 4 tunnels, a BGP session down beside working ones) fails.
    pub strict: bool,
    /// The clouds that were read (`verify --cloud`); None: all of them. Only links touching
    /// one of them are judged, each from the sides that were read; a planned resource of an
    /// unread cloud that the state does not record fails as "not built yet" and names that
    /// cloud's runner.
    pub seen: Option<BTreeSet<Cloud>>,
}

impl Options {
    fn sees(&self, c: Cloud) -> bool {
        self.seen.as_ref().is_none_or(|s| s.contains(&c))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Presence,
    Tunnels,
    Routing,
    Firewall,
}

impl Check {
    pub const ALL: [Check; 4] = [
        Check::Presence,
        Check::Tunnels,
        Check::Routing,
        Check::Firewall,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Presence => "presence",
            Check::Tunnels => "tunnels",
            Check::Routing => "routing",
            Check::Firewall => "firewall",
        }
    }
}

/// Worse is greater, so that `max` combines verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

/// A direction of a link: traffic from `from` to `to` (and its replies).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Way {
    pub from: String,
    pub to: String,
}

/// One reason for a warning or a failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    pub verdict: Verdict,
    /// One sentence, naming the cloud objects (`NSG rule deny-all-in (priority 4000) in erp-nsg`).
    pub message: String,
    /// The plan address concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Firewall: the allow entry and source CIDR judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

impl Cause {
    fn new(verdict: Verdict, message: String) -> Cause {
        Cause {
            verdict,
            message,
            address: None,
            expected: None,
            actual: None,
            entry: None,
            cidr: None,
        }
    }
    fn fail(message: String) -> Cause {
        Cause::new(Verdict::Fail, message)
    }
    fn at(mut self, address: &str) -> Cause {
        self.address = Some(address.to_string());
        self
    }
}

/// One check of one link, for one direction or (`direction` absent) for both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub check: Check,
    pub direction: Option<Way>,
    pub verdict: Verdict,
    pub summary: String,
    pub causes: Vec<Cause>,
}

impl CheckResult {
    fn new(check: Check, direction: Option<Way>, summary: String, causes: Vec<Cause>) -> Self {
        let verdict = causes
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Pass);
        CheckResult {
            check,
            direction,
            verdict,
            summary,
            causes,
        }
    }
    /// True when this result bears on traffic in `way`.
    pub fn concerns(&self, way: &Way) -> bool {
        self.direction.as_ref().is_none_or(|d| d == way)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkReport {
    pub id: String,
    pub between: [String; 2],
    pub clouds: [Cloud; 2],
    pub strategy: Strategy,
    pub results: Vec<CheckResult>,
    /// The clouds of this link that were not read (`verify --cloud`): their side is judged
    /// only by what the state records and what the read side sees of it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<Cloud>,
}

impl LinkReport {
    /// Both directions, `between[0]` → `between[1]` first.
    pub fn ways(&self) -> [Way; 2] {
        let [a, b] = &self.between;
        [
            Way {
                from: a.clone(),
                to: b.clone(),
            },
            Way {
                from: b.clone(),
                to: a.clone(),
            },
        ]
    }
    pub fn verdict(&self) -> Verdict {
        self.results
            .iter()
            .map(|r| r.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }
    pub fn verdict_of(&self, way: &Way) -> Verdict {
        self.results
            .iter()
            .filter(|r| r.concerns(way))
            .map(|r| r.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }
}

/// The findings of one verify run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub topology: String,
    pub links: Vec<LinkReport>,
}

impl Report {
    pub fn verdict(&self) -> Verdict {
        self.links
            .iter()
            .map(LinkReport::verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }
    /// Everything passes (warnings allowed).
    pub fn passed(&self) -> bool {
        self.verdict() != Verdict::Fail
    }
}

/// Judges every link of `plan`.
pub fn judge(
    plan: &Plan,
    state: &State,
    topo: &Topology,
    snap: &Snapshot,
    opts: &Options,
) -> Report {
    let nets: BTreeMap<&str, &Network> =
        topo.networks.iter().map(|n| (n.name.as_str(), n)).collect();
    let links = plan
        .links
        .iter()
        .filter(|l| l.clouds.iter().any(|c| opts.sees(*c)))
        .map(|l| {
            let ctx = LinkCtx {
                link: l,
                plan,
                state,
                snap,
                opts,
                allow: topo
                    .links
                    .iter()
                    .find(|t| t.id() == l.id)
                    .map(build::allow_list)
                    .unwrap_or_else(|| vec![Allow::All]),
                nets: [
                    nets.get(l.between[0].as_str()),
                    nets.get(l.between[1].as_str()),
                ],
            };
            ctx.judge()
        })
        .collect();
    Report {
        topology: plan.topology.clone(),
        links,
    }
}

struct LinkCtx<'a> {
    link: &'a LinkPlan,
    plan: &'a Plan,
    state: &'a State,
    snap: &'a Snapshot,
    opts: &'a Options,
    allow: Vec<Allow>,
    nets: [Option<&'a &'a Network>; 2],
}

/// One end of a tunnel or session, with the cloud that reported it.
type End<'a> = (Cloud, &'a TunnelObs);

impl LinkCtx<'_> {
    fn judge(&self) -> LinkReport {
        let l = self.link;
        let mut results = vec![self.presence()];
        let (tunnels, up) = self.tunnels();
        results.push(tunnels);
        let [w1, w2] = self.ways();
        let bgp = self.bgp(&up);
        for w in [&w1, &w2] {
            results.push(self.routing(w, &bgp));
        }
        for w in [&w1, &w2] {
            results.push(self.firewall(w));
        }
        let mut unread: Vec<Cloud> = l
            .clouds
            .iter()
            .copied()
            .filter(|c| !self.opts.sees(*c))
            .collect();
        unread.dedup();
        LinkReport {
            id: l.id.clone(),
            between: l.between.clone(),
            clouds: l.clouds,
            strategy: l.strategy,
            results,
            unread,
        }
    }

    fn ways(&self) -> [Way; 2] {
        let [a, b] = &self.link.between;
        [
            Way {
                from: a.clone(),
                to: b.clone(),
            },
            Way {
                from: b.clone(),
                to: a.clone(),
            },
        ]
    }

    fn degraded(&self) -> Verdict {
        if self.opts.strict {
            Verdict::Fail
        } else {
            Verdict::Warn
        }
    }

    /// The planned resources this link needs: its own, its networks' shared ones, and the
    /// region-shared ones (customer gateways) its own depend on.
    fn addresses(&self) -> Vec<&str> {
        let l = self.link;
        let own: Vec<_> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.link.as_deref() == Some(&l.id))
            .collect();
        let mut out: BTreeSet<&str> = own.iter().map(|r| r.address.as_str()).collect();
        for r in &self.plan.resources {
            let shared = r.link.is_none()
                && match &r.network {
                    Some(n) => l.between.contains(n),
                    None => own.iter().any(|o| o.depends_on.contains(&r.address)),
                };
            if shared {
                out.insert(&r.address);
            }
        }
        out.into_iter().collect()
    }

    fn presence(&self) -> CheckResult {
        let mut causes = Vec::new();
        let addresses = self.addresses();
        for a in &addresses {
            let Some(rec) = self.state.resources.get(*a) else {
                let cloud = self.plan_kind(a).map(Kind::cloud);
                let message = match cloud.filter(|c| !self.opts.sees(*c)) {
                    Some(c) => format!(
                        "{a} not built yet: {}'s side (run the {} runner)",
                        c.as_str(),
                        c.as_str()
                    ),
                    None => format!("{a} is planned but not applied (run peerctl apply)"),
                };
                causes.push(Cause::fail(message).at(a));
                continue;
            };
            let Some(obs) = self.snap.resource(a) else {
                continue; // its cloud was not read (a read error says why)
            };
            if !obs.present {
                causes.push(
                    Cause::fail(format!(
                        "{a} ({} {}, id {}) is missing",
                        rec.cloud.display_name(),
                        rec.name,
                        rec.id
                    ))
                    .at(a),
                );
                continue;
            }
            for (attr, e, actual) in differences(&rec.attributes, obs, self.state) {
                let mut c = Cause::fail(format!(
                    "{a} ({}) {attr}: expected {e}, actual {actual}",
                    rec.name
                ))
                .at(a);
                c.expected = Some(e);
                c.actual = Some(actual);
                causes.push(c);
            }
        }
        let bad = causes.len();
        let summary = if bad == 0 {
            format!("{} resources present as planned", addresses.len())
        } else {
            format!("{bad} of {} resources missing or drifted", addresses.len())
        };
        CheckResult::new(Check::Presence, None, summary, causes)
    }

    /// The link's resources of `kind`, sorted by address (the order tunnel slots follow).
    fn own_of(&self, kind: Kind) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.kind == kind && r.link.as_deref() == Some(&self.link.id))
            .map(|r| r.address.as_str())
            .collect();
        v.sort();
        v
    }

    /// The link tunnel (allocation index) an observed end belongs to.
    fn slot(&self, address: &str, index: u8) -> Option<u8> {
        let kind = self.plan_kind(address)?;
        let pos = self.own_of(kind).iter().position(|a| *a == address)? as u8;
        Some(match kind {
            Kind::AwsVpnConnection => pos * 2 + index,
            Kind::AzureConnection if self.link.clouds == [Cloud::Azure, Cloud::Azure] => index,
            _ => pos + index,
        })
    }

    fn plan_kind(&self, address: &str) -> Option<Kind> {
        self.plan
            .resources
            .iter()
            .find(|r| r.address == address)
            .map(|r| r.kind)
    }

    fn ends(&self) -> BTreeMap<u8, Vec<End<'_>>> {
        let mut out: BTreeMap<u8, Vec<End<'_>>> = BTreeMap::new();
        for (cloud, c) in &self.snap.clouds {
            for t in &c.tunnels {
                if let Some(s) = self.slot(&t.address, t.index) {
                    out.entry(s).or_default().push((*cloud, t));
                }
            }
        }
        out
    }

    /// The tunnels check, and which tunnels are up (by allocation index).
    fn tunnels(&self) -> (CheckResult, BTreeSet<u8>) {
        let ends = self.ends();
        let mut causes = Vec::new();
        let mut up = BTreeSet::new();
        let mut active = 0;
        let mut notes = Vec::new();
        for t in &self.link.tunnels {
            let e = ends.get(&t.index).map(Vec::as_slice).unwrap_or_default();
            let is_up = !e.is_empty() && e.iter().all(|(_, o)| o.up);
            if t.standby {
                notes.push(format!(
                    "tunnel {} standby (no peer by design)",
                    t.index + 1
                ));
                continue;
            }
            active += 1;
            if is_up {
                up.insert(t.index);
                continue;
            }
            let text = if e.is_empty() {
                "not found in any cloud".to_string()
            } else {
                e.iter()
                    .map(|(c, o)| describe_end(*c, o))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            causes.push(Cause::fail(format!("tunnel {} down: {text}", t.index + 1)));
        }
        let n_up = up.len();
        // One tunnel of several down is degraded (traffic still flows), not failed.
        if active >= 2 && n_up == active - 1 {
            let v = self.degraded();
            for c in &mut causes {
                c.verdict = v;
            }
        }
        let mut summary = format!("{n_up}/{active} tunnels up");
        if active >= 2 && n_up == active - 1 {
            summary.push_str(" (degraded)");
        }
        for n in notes {
            summary.push_str(", ");
            summary.push_str(&n);
        }
        (CheckResult::new(Check::Tunnels, None, summary, causes), up)
    }

    /// BGP findings shared by both directions (empty on static links).
    fn bgp(&self, up: &BTreeSet<u8>) -> Vec<Cause> {
        if self.link.routing != "bgp" {
            return Vec::new();
        }
        let peers = self.own_of(Kind::GcpRouterPeer);
        let mut sessions: BTreeMap<u8, Vec<(Cloud, &super::snapshot::BgpObs)>> = BTreeMap::new();
        for (cloud, c) in &self.snap.clouds {
            for b in &c.bgp {
                let slot = match self.plan_kind(&b.address) {
                    Some(Kind::GcpRouterPeer) => {
                        peers.iter().position(|a| *a == b.address).map(|p| p as u8)
                    }
                    _ => self.slot(&b.address, b.index),
                };
                if let Some(s) = slot {
                    sessions.entry(s).or_default().push((*cloud, b));
                }
            }
        }
        let mut causes = Vec::new();
        let mut established = 0;
        let mut down = Vec::new();
        for t in &self.link.tunnels {
            let s = sessions
                .get(&t.index)
                .map(Vec::as_slice)
                .unwrap_or_default();
            // The expected peer: the planned BGP peer address of the GCP router peer.
            let expected = peers
                .get(usize::from(t.index))
                .and_then(|a| self.state.resources.get(*a))
                .and_then(|r| match r.attributes.get("peer_ip_address") {
                    Some(Value::Str(s)) => Some(s.clone()),
                    _ => None,
                });
            let wrong_peer = s.iter().find(|(_, b)| {
                b.address.starts_with("gcp.") && expected.is_some() && b.peer_ip != expected
            });
            if let (Some((_, b)), Some(e)) = (wrong_peer, &expected) {
                let mut c = Cause::fail(format!(
                    "BGP session {} talks to {}, not the planned peer {e}",
                    b.name,
                    b.peer_ip.as_deref().unwrap_or("nobody")
                ))
                .at(&b.address);
                c.expected = Some(e.clone());
                c.actual = b.peer_ip.clone();
                causes.push(c);
            }
            if !s.is_empty() && s.iter().all(|(_, b)| b.established) && wrong_peer.is_none() {
                established += 1;
            } else {
                let text = if s.is_empty() {
                    "no session found".to_string()
                } else {
                    s.iter()
                        .map(|(c, b)| {
                            format!(
                                "{} BGP {}{}: {}",
                                c.display_name(),
                                b.name,
                                b.peer_ip
                                    .as_deref()
                                    .map(|p| format!(" (peer {p})"))
                                    .unwrap_or_default(),
                                b.state
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                down.push((t.index, up.contains(&t.index), text));
            }
        }
        for (i, tunnel_up, text) in down {
            // A session on a down tunnel is explained by the tunnel; one on an up tunnel
            // (inside addresses or ASNs that do not mirror) is a routing cause of its own.
            let v = if established == 0 {
                Verdict::Fail
            } else if tunnel_up {
                self.degraded()
            } else {
                continue;
            };
            let lead = if tunnel_up {
                format!("tunnel {} up but BGP not established", i + 1)
            } else {
                format!("tunnel {} BGP not established", i + 1)
            };
            causes.push(Cause::new(v, format!("{lead}: {text}")));
        }
        causes
    }

    /// Addresses a route of `network`'s side may use for this link: the link's own resources
    /// and the network's shared ones (an AWS route targets the VGW).
    fn vias(&self, network: &str) -> BTreeSet<&str> {
        self.plan
            .resources
            .iter()
            .filter(|r| {
                r.link.as_deref() == Some(&self.link.id)
                    || (r.link.is_none() && r.network.as_deref() == Some(network))
            })
            .map(|r| r.address.as_str())
            .collect()
    }

    fn routing(&self, way: &Way, bgp: &[Cause]) -> CheckResult {
        let mut causes: Vec<Cause> = bgp.to_vec();
        let (from, to) = (self.net(&way.from), self.net(&way.to));
        let mut checked = 0;
        for (src, dst, replies) in [(&way.from, to, false), (&way.to, from, true)] {
            let (Some(dst), Some(obs)) = (dst, self.snap.network(src)) else {
                continue;
            };
            let vias = self.vias(src);
            for cidr in &dst.cidrs {
                for t in &obs.route_tables {
                    checked += 1;
                    if let Some(msg) = route_problem(t, cidr, &vias) {
                        let lead = if replies {
                            format!("replies: {src}")
                        } else {
                            src.to_string()
                        };
                        let mut c = Cause::fail(format!("{lead} {msg}"));
                        c.cidr = Some(cidr.to_string());
                        causes.push(c);
                    }
                }
            }
        }
        let summary = if causes.iter().any(|c| c.verdict == Verdict::Fail) {
            "not routed".to_string()
        } else if causes.is_empty() {
            format!("routed both ways ({checked} table checks)")
        } else {
            "routed (degraded)".to_string()
        };
        CheckResult::new(Check::Routing, Some(way.clone()), summary, causes)
    }

    fn net(&self, name: &str) -> Option<&Network> {
        self.nets
            .iter()
            .flatten()
            .find(|n| n.name == name)
            .map(|n| **n)
    }

    fn firewall(&self, way: &Way) -> CheckResult {
        let mut causes = Vec::new();
        let (Some(from), Some(to)) = (self.net(&way.from), self.net(&way.to)) else {
            return CheckResult::new(
                Check::Firewall,
                Some(way.clone()),
                "networks unknown".into(),
                vec![],
            );
        };
        let (src_obs, dst_obs) = (self.snap.network(&from.name), self.snap.network(&to.name));
        let mut judged = 0;
        for entry in &self.allow {
            for src in &from.cidrs {
                judged += 1;
                let flow = Flow {
                    entry: *entry,
                    src: *src,
                    dst: to.cidrs.clone(),
                };
                let mut blocked = None;
                if let Some(o) = src_obs {
                    blocked = o
                        .firewalls
                        .iter()
                        .find_map(|f| decide(f, Direction::Egress, &flow).err());
                }
                if blocked.is_none() {
                    if let Some(o) = dst_obs {
                        blocked = o
                            .firewalls
                            .iter()
                            .find_map(|f| decide(f, Direction::Ingress, &flow).err());
                    }
                }
                let Some(why) = blocked else { continue };
                let mut msg = format!("{} blocked ({entry} from {src}): {why}", arrow(way));
                let missing = self.missing_rules(&to.name, entry);
                if !missing.is_empty() {
                    msg.push_str("; missing planned rule ");
                    msg.push_str(&missing.join(", "));
                }
                let mut c = Cause::fail(msg);
                c.entry = Some(entry.to_string());
                c.cidr = Some(src.to_string());
                causes.push(c);
            }
        }
        let summary = if causes.is_empty() {
            format!("{judged} entry × source CIDR flows admitted")
        } else {
            format!("{} of {judged} flows blocked", causes.len())
        };
        CheckResult::new(Check::Firewall, Some(way.clone()), summary, causes)
    }

    /// The link's planned firewall rules on `network` that would admit `entry` and are
    /// missing or drifted in the cloud.
    fn missing_rules(&self, network: &str, entry: &Allow) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.plan.resources {
            if r.link.as_deref() != Some(&self.link.id) || r.network.as_deref() != Some(network) {
                continue;
            }
            let relevant = match r.kind {
                Kind::AzureNsgRule => {
                    let s = |k: &str| match r.attributes.get(k) {
                        Some(Value::Str(s)) => s.to_ascii_lowercase(),
                        _ => String::new(),
                    };
                    s("access") == "allow"
                        && matches!(
                            (s("protocol").as_str(), entry),
                            ("*", _)
                                | ("tcp", Allow::Tcp { .. })
                                | ("udp", Allow::Udp { .. })
                                | ("icmp", Allow::Icmp)
                        )
                }
                Kind::GcpFirewall | Kind::AwsSecurityGroupRule => true,
                _ => false,
            };
            if !relevant {
                continue;
            }
            let broken = match self.snap.resource(&r.address) {
                Some(o) => !o.present || !o.diffs.is_empty(),
                None => false,
            };
            if broken {
                out.push(format!("{} ({})", r.name, r.address));
            }
        }
        out
    }
}

fn arrow(w: &Way) -> String {
    format!("{} → {}", w.from, w.to)
}

fn describe_end(cloud: Cloud, o: &TunnelObs) -> String {
    let mut s = format!("{} {}: {}", cloud.display_name(), o.name, o.status);
    if !o.detail.is_empty() && o.detail != o.status {
        s.push_str(" (");
        s.push_str(&o.detail);
        s.push(')');
    }
    s
}

/// Why `table` does not route `cidr` over the link (`vias`), or `None` when it does.
fn route_problem(t: &RouteTableObs, cidr: &Ipv4Net, vias: &BTreeSet<&str>) -> Option<String> {
    let covering = || t.routes.iter().filter(|r| r.dest.contains(cidr));
    let best = covering().filter(|r| r.active).max_by(|a, b| {
        a.dest
            .prefix_len()
            .cmp(&b.dest.prefix_len())
            .then(b.priority.cmp(&a.priority))
    });
    match best {
        Some(r) if r.via.as_deref().is_some_and(|v| vias.contains(v)) => None,
        Some(r) => Some(format!(
            "routes {cidr} in {} via {}, not over this link",
            t.name, r.next_hop
        )),
        None => {
            let idle: Vec<String> = covering()
                .map(|r| {
                    format!(
                        "{} via {} ({}) is not in effect",
                        r.dest, r.next_hop, r.origin
                    )
                })
                .collect();
            let mut s = format!("has no route to {cidr} in {}", t.name);
            if !idle.is_empty() {
                s.push_str(": ");
                s.push_str(&idle.join(", "));
            }
            Some(s)
        }
    }
}

/// One flow to judge: an allow entry from every address of `src` to the destination network.
struct Flow {
    entry: Allow,
    src: Ipv4Net,
    dst: Vec<Ipv4Net>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Match {
    None,
    Partial,
    Full,
}

fn cover(ranges: &[Ipv4Net], net: &Ipv4Net) -> Match {
    if ranges.iter().any(|r| r.contains(net)) {
        Match::Full
    } else if ranges.iter().any(|r| net.contains(r) || r.contains(net)) {
        Match::Partial
    } else {
        Match::None
    }
}

fn proto_match(r: &RuleObs, e: &Allow) -> Match {
    let ports = |from: u16, to: u16| {
        if r.ports.is_empty() || r.ports.iter().any(|&(a, b)| a <= from && to <= b) {
            Match::Full
        } else if r.ports.iter().any(|&(a, b)| a <= to && from <= b) {
            Match::Partial
        } else {
            Match::None
        }
    };
    match (&r.protocol, e) {
        (Proto::All, _) => Match::Full,
        (_, Allow::All) => match r.protocol {
            Proto::Other(_) => Match::None,
            _ => Match::Partial,
        },
        (Proto::Tcp, Allow::Tcp { from, to }) | (Proto::Udp, Allow::Udp { from, to }) => {
            ports(*from, *to)
        }
        (Proto::Icmp, Allow::Icmp) => Match::Full,
        _ => Match::None,
    }
}

/// How much of `flow` the rule covers, in `dir` (ingress: sources = the flow's source;
/// egress: destinations = the flow's destination).
fn rule_match(r: &RuleObs, dir: Direction, flow: &Flow) -> Match {
    if r.disabled || r.direction != dir {
        return Match::None;
    }
    let (remote, local): (Vec<Match>, Vec<Match>) = match dir {
        Direction::Ingress => (
            vec![cover(&r.sources, &flow.src)],
            flow.dst.iter().map(|d| cover(&r.destinations, d)).collect(),
        ),
        Direction::Egress => (
            flow.dst.iter().map(|d| cover(&r.destinations, d)).collect(),
            vec![cover(&r.sources, &flow.src)],
        ),
    };
    let all = remote
        .into_iter()
        .chain(local)
        .chain([proto_match(r, &flow.entry)]);
    all.min().unwrap_or(Match::None)
}

fn rule_text(f: &FirewallObs, r: &RuleObs) -> String {
    match f.kind {
        FirewallKind::SecurityGroup => format!("rule {} in {}", r.name, f.name),
        FirewallKind::GcpNetwork => format!(
            "firewall rule {} (priority {}, {}) in {}",
            r.name,
            r.priority,
            if r.action == Action::Deny {
                "deny"
            } else {
                "allow"
            },
            f.name
        ),
        FirewallKind::Nsg => format!(
            "NSG rule {} (priority {}) in {}",
            r.name, r.priority, f.name
        ),
    }
}

/// Whether firewall `f` admits `flow` in `dir`: `Ok` or `Err(the blocking rule, in words)`.
fn decide(f: &FirewallObs, dir: Direction, flow: &Flow) -> Result<(), String> {
    let word = match dir {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    match f.kind {
        FirewallKind::SecurityGroup => {
            if f.rules
                .iter()
                .any(|r| r.action == Action::Allow && rule_match(r, dir, flow) == Match::Full)
            {
                Ok(())
            } else {
                Err(format!(
                    "no {word} rule in security group {} allows it",
                    f.name
                ))
            }
        }
        FirewallKind::GcpNetwork | FirewallKind::Nsg => {
            let mut rules: Vec<&RuleObs> = f.rules.iter().collect();
            // Lowest priority first; at equal priority a deny wins (GCP).
            rules.sort_by_key(|r| (r.priority, r.action == Action::Allow));
            for r in rules {
                match (rule_match(r, dir, flow), r.action) {
                    (Match::Full, Action::Allow) => return Ok(()),
                    (Match::Full | Match::Partial, Action::Deny) => {
                        return Err(rule_text(f, r));
                    }
                    _ => {}
                }
            }
            match (f.kind, dir) {
                (FirewallKind::GcpNetwork, Direction::Egress) => Ok(()),
                (FirewallKind::GcpNetwork, Direction::Ingress) => Err(format!(
                    "implied deny-all ingress rule (priority 65535) of {}",
                    f.name
                )),
                _ => Err(format!("no {word} rule of {} admits it", f.name)),
            }
        }
    }
}

/// Where an observed resource differs from its recorded attributes: (attribute, expected,
/// actual) for every observed attribute whose value is not the recorded one, then the
/// differences only the observer could state. Shared by the presence check and refresh.
pub fn differences(
    recorded: &BTreeMap<String, Value>,
    obs: &super::snapshot::ResourceObs,
    state: &State,
) -> Vec<(String, String, String)> {
    let expected = flatten(recorded, state);
    let mut out: Vec<(String, String, String)> = obs
        .attrs
        .iter()
        .filter_map(|(k, actual)| {
            let e = expected.get(k)?;
            (e != actual).then(|| (k.clone(), e.clone(), actual.clone()))
        })
        .collect();
    out.extend(
        obs.diffs
            .iter()
            .map(|d| (d.attr.clone(), d.expected.clone(), d.actual.clone())),
    );
    out
}

/// Flattens planned attributes the way observers report them: `a.b`, `a[i].b`, lists of
/// scalars as sorted comma-joined text, references resolved from the state's outputs, a
/// secret as `matches` (what an observer reports when the cloud's key equals the recorded one).
pub fn flatten(attrs: &BTreeMap<String, Value>, state: &State) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in attrs {
        flat(k, v, state, &mut out);
    }
    out
}

fn scalar(v: &Value, state: &State) -> Option<String> {
    Some(match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Secret(_) => "matches".into(),
        Value::Ref(r) => state
            .resources
            .get(&r.resource)
            .and_then(|s| s.outputs.get(&r.output))
            .cloned()
            .unwrap_or_else(|| format!("(unknown {}.{})", r.resource, r.output)),
        Value::List(_) | Value::Map(_) => return None,
    })
}

fn flat(key: &str, v: &Value, state: &State, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Map(m) => {
            for (k, v) in m {
                flat(&format!("{key}.{k}"), v, state, out);
            }
        }
        Value::List(l) => {
            let scalars: Option<Vec<String>> = l.iter().map(|v| scalar(v, state)).collect();
            match scalars {
                Some(mut s) => {
                    s.sort();
                    out.insert(key.to_string(), s.join(","));
                }
                None => {
                    for (i, v) in l.iter().enumerate() {
                        flat(&format!("{key}[{i}]"), v, state, out);
                    }
                }
            }
        }
        other => {
            if let Some(s) = scalar(other, state) {
                out.insert(key.to_string(), s);
            }
        }
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
