//! Ground truth for "can traffic from network A reach network B on this protocol/port, and if
//! not, which hop stops it": A's egress, A's route, the tunnel, B's ingress, then B's route
//! back. Every verdict comes from the cloud models; this module only walks the hops.

use super::{CloudModel, EndId, Flow, FwDecision, NetInfo, NetKey, NetState, RouteDecision};
use ipnet::Ipv4Net;
use serde::Serialize;
use std::net::Ipv4Addr;

/// Which way the packet that was stopped was travelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the source to the destination.
    Forward,
    /// The destination's reply back to the source.
    Return,
}

/// The hop that stopped a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedAt {
    /// A network or address the sandbox does not know.
    UnknownNetwork,
    /// The source network's egress firewall.
    Egress,
    /// No effective route (missing, or its tunnel is down / its BGP session not established).
    NoRoute,
    /// The destination falls inside the source network's own address space.
    Overlap,
    /// The route's tunnel is down, or leads into another network.
    Tunnel,
    /// The destination network's ingress firewall.
    Ingress,
}

/// One step of a working path.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hop {
    Egress {
        network: NetKey,
        rule: String,
    },
    /// The destination is inside this network.
    Local {
        network: NetKey,
    },
    Route {
        network: NetKey,
        route: String,
    },
    Tunnel {
        from: EndId,
        to: EndId,
    },
    Ingress {
        network: NetKey,
        rule: String,
    },
}

/// A working path in both directions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Path {
    pub from: NetKey,
    pub to: NetKey,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub forward: Vec<Hop>,
    /// The reply: firewalls are stateful in all three clouds, so only the route back counts.
    pub back: Vec<Hop>,
}

/// Why traffic does not get through, naming the hop.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Blocked {
    pub direction: Direction,
    pub at: BlockedAt,
    /// The network whose hop stopped the packet.
    pub network: Option<NetKey>,
    /// e.g. "GCP→AWS blocked: no ingress rule for 10.20.0.0/16 in sg-… (ingress of aws-use1)"
    pub message: String,
}

struct Net<'m> {
    info: NetInfo,
    model: &'m dyn CloudModel,
}

impl Net<'_> {
    fn label(&self) -> &str {
        self.info.name.as_deref().unwrap_or(&self.info.key)
    }
    fn cloud(&self) -> &'static str {
        self.info.cloud.display_name()
    }
}

fn index<'m>(models: &[&'m dyn CloudModel]) -> Vec<Net<'m>> {
    models
        .iter()
        .flat_map(|m| {
            m.networks()
                .into_iter()
                .map(move |info| Net { info, model: *m })
        })
        .collect()
}

/// The network named `name_or_key` (the topology's name, or the sandbox key).
pub fn find_network(models: &[&dyn CloudModel], name_or_key: &str) -> Option<NetInfo> {
    models
        .iter()
        .flat_map(|m| m.networks())
        .find(|n| n.key == name_or_key || n.name.as_deref() == Some(name_or_key))
}

/// The address that stands for "a host of this network": the tenth address of its first
/// CIDR, past what every cloud reserves at the start of a range (AWS and Azure .0–.3, GCP
/// .0–.1), or the first address of a tiny range.
fn host_in(cidrs: &[Ipv4Net]) -> Option<Ipv4Addr> {
    let c = cidrs.first()?;
    let base = u32::from(c.network());
    Some(match c.prefix_len() {
        0..=28 => Ipv4Addr::from(base + 10),
        29..=31 => Ipv4Addr::from(base + 1),
        _ => c.network(),
    })
}

fn unknown(what: &str) -> Blocked {
    Blocked {
        direction: Direction::Forward,
        at: BlockedAt::UnknownNetwork,
        network: None,
        message: format!("the sandbox knows no network {what}"),
    }
}

/// Can a host of `from` reach a host of `to` with `flow`, and get replies back?
pub fn reach(
    world: &crate::sandbox::world::World,
    net: &NetState,
    from: &NetKey,
    to: &NetKey,
    flow: Flow,
) -> Result<Path, Blocked> {
    reach_models(&world.models(), net, from, to, flow)
}

/// [`reach`] over any set of cloud models. `from`/`to` are network keys or topology names.
pub fn reach_models(
    models: &[&dyn CloudModel],
    net: &NetState,
    from: &str,
    to: &str,
    flow: Flow,
) -> Result<Path, Blocked> {
    let nets = index(models);
    let find = |k: &str| {
        nets.iter()
            .find(|n| n.info.key == k || n.info.name.as_deref() == Some(k))
    };
    let a = find(from).ok_or_else(|| unknown(from))?;
    let b = find(to).ok_or_else(|| unknown(to))?;
    let src = host_in(&a.info.cidrs).ok_or_else(|| unknown(&format!("{from} with an address")))?;
    let dst = host_in(&b.info.cidrs).ok_or_else(|| unknown(&format!("{to} with an address")))?;
    trace(&nets, net, a, b, src, dst, flow)
}

/// Like [`reach`] between two specific addresses; each must be inside a known network.
pub fn reach_addr(
    world: &crate::sandbox::world::World,
    net: &NetState,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    flow: Flow,
) -> Result<Path, Blocked> {
    reach_addr_models(&world.models(), net, src, dst, flow)
}

/// [`reach_addr`] over any set of cloud models.
pub fn reach_addr_models(
    models: &[&dyn CloudModel],
    net: &NetState,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    flow: Flow,
) -> Result<Path, Blocked> {
    let nets = index(models);
    let owner = |ip: Ipv4Addr| {
        nets.iter()
            .find(|n| n.info.cidrs.iter().any(|c| c.contains(&ip)))
    };
    let a = owner(src).ok_or_else(|| unknown(&format!("containing {src}")))?;
    let b = owner(dst).ok_or_else(|| unknown(&format!("containing {dst}")))?;
    trace(&nets, net, a, b, src, dst, flow)
}

fn trace(
    nets: &[Net<'_>],
    state: &NetState,
    a: &Net<'_>,
    b: &Net<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    flow: Flow,
) -> Result<Path, Blocked> {
    let mut path = Path {
        from: a.info.key.clone(),
        to: b.info.key.clone(),
        src,
        dst,
        forward: Vec::new(),
        back: Vec::new(),
    };
    let head = format!("{}→{} blocked", a.cloud(), b.cloud());
    let blocked = |direction, at, network: &Net<'_>, what: String| Blocked {
        direction,
        at,
        network: Some(network.info.key.clone()),
        message: what,
    };
    if a.info.key == b.info.key {
        path.forward.push(Hop::Local {
            network: a.info.key.clone(),
        });
        return Ok(path);
    }
    match a.model.egress(&a.info.key, dst, flow) {
        FwDecision::Allow { rule } => path.forward.push(Hop::Egress {
            network: a.info.key.clone(),
            rule,
        }),
        FwDecision::Deny { rule } => {
            return Err(blocked(
                Direction::Forward,
                BlockedAt::Egress,
                a,
                format!("{head}: {rule} (egress of {}, to {dst})", a.label()),
            ))
        }
    }
    let hops = route_into(nets, state, a, b, dst)
        .map_err(|(at, why)| blocked(Direction::Forward, at, a, format!("{head}: {why}")))?;
    path.forward.extend(hops);
    match b.model.ingress(&b.info.key, src, flow) {
        FwDecision::Allow { rule } => path.forward.push(Hop::Ingress {
            network: b.info.key.clone(),
            rule,
        }),
        FwDecision::Deny { rule } => {
            return Err(blocked(
                Direction::Forward,
                BlockedAt::Ingress,
                b,
                format!(
                    "{head}: {rule} (ingress of {}, from {} {src})",
                    b.label(),
                    a.label()
                ),
            ))
        }
    }
    let back_head = format!("{}→{} replies blocked", b.cloud(), a.cloud());
    let hops = route_into(nets, state, b, a, src)
        .map_err(|(at, why)| blocked(Direction::Return, at, b, format!("{back_head}: {why}")))?;
    path.back.extend(hops);
    Ok(path)
}

/// The hops that carry a packet for `dst` from network `a` into network `b`, or why none do.
fn route_into(
    nets: &[Net<'_>],
    state: &NetState,
    a: &Net<'_>,
    b: &Net<'_>,
    dst: Ipv4Addr,
) -> Result<Vec<Hop>, (BlockedAt, String)> {
    match a.model.route(&a.info.key, dst, state) {
        RouteDecision::Local => Err((
            BlockedAt::Overlap,
            format!(
                "{} treats {dst} as its own address (its address space overlaps {})",
                a.label(),
                b.label()
            ),
        )),
        RouteDecision::NoRoute { table } => Err((
            BlockedAt::NoRoute,
            format!("{} has no route to {dst} in {table}", a.label()),
        )),
        RouteDecision::Tunnel { end, route } => {
            let Some(status) = state.end(&end) else {
                return Err((
                    BlockedAt::Tunnel,
                    format!(
                        "{} routes {dst} by {route} into tunnel {}, which does not exist",
                        a.label(),
                        end.resource
                    ),
                ));
            };
            if !status.up {
                let reason = status.reason.map(|r| r.describe()).unwrap_or("down");
                return Err((
                    BlockedAt::Tunnel,
                    format!(
                        "{} routes {dst} by {route} into tunnel {} (#{}), which is down: {reason}",
                        a.label(),
                        end.resource,
                        end.tunnel
                    ),
                ));
            }
            let far = status.peer_network.as_deref().unwrap_or_default();
            if far != b.info.key {
                let far_label = nets
                    .iter()
                    .find(|n| n.info.key == far)
                    .map(|n| n.label().to_string())
                    .unwrap_or_else(|| far.to_string());
                return Err((
                    BlockedAt::Tunnel,
                    format!(
                        "{} routes {dst} by {route} into tunnel {}, which leads to {far_label}, \
                         not {} (VPN gateways do not transit between tunnels here)",
                        a.label(),
                        end.resource,
                        b.label()
                    ),
                ));
            }
            let mut hops = vec![Hop::Route {
                network: a.info.key.clone(),
                route,
            }];
            if let Some(to) = status.peer.clone() {
                hops.push(Hop::Tunnel { from: end, to });
            }
            Ok(hops)
        }
    }
}
