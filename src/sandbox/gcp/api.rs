//! The Compute v1 operations: generic get/list/delete over every collection, per-kind insert,
//! patch and update with the validation GCP does synchronously, Operation resources, and the
//! rendering of stored resources into API bodies.

use super::filter;
use super::model::*;
use super::physics;
use super::wire::{self, absolutize, invalid, not_found, timestamp, Target};
use crate::cloud::Cloud;
use crate::sandbox::http::{Request, Response};
use crate::sandbox::latency::Op;
use crate::sandbox::net::NetState;
use crate::sandbox::world::{Ctx, World};
use ipnet::Ipv4Net;
use serde_json::{json, Map, Value};
use std::net::Ipv4Addr;

/// Per-kind output-only fields added when a resource is rendered.
pub trait Render: Kind {
    fn extra(
        &self,
        _c: &GcpCloud,
        _path: &str,
        _meta: &Meta,
        _net: &NetState,
        _now: u64,
        _m: &mut Map<String, Value>,
    ) {
    }
}

impl Render for Network {
    fn extra(
        &self,
        c: &GcpCloud,
        path: &str,
        _meta: &Meta,
        _net: &NetState,
        _now: u64,
        m: &mut Map<String, Value>,
    ) {
        let subnets: Vec<&String> = c
            .subnetworks
            .iter()
            .filter(|(_, s)| s.body.network == path)
            .map(|(p, _)| p)
            .collect();
        m.insert("subnetworks".into(), json!(subnets));
    }
}
impl Render for Subnetwork {}
impl Render for VpnGateway {}
impl Render for ExternalVpnGateway {}
impl Render for Router {}
impl Render for Address {
    fn extra(
        &self,
        c: &GcpCloud,
        _path: &str,
        meta: &Meta,
        _net: &NetState,
        now: u64,
        m: &mut Map<String, Value>,
    ) {
        let users: Vec<&String> = c
            .forwarding_rules
            .iter()
            .filter(|(_, f)| f.body.ip_address.is_some() && f.body.ip_address == self.address)
            .map(|(p, _)| p)
            .collect();
        let status = if now < meta.ready_ms {
            "RESERVING"
        } else if users.is_empty() {
            "RESERVED"
        } else {
            "IN_USE"
        };
        m.insert("status".into(), json!(status));
        if !users.is_empty() {
            m.insert("users".into(), json!(users));
        }
    }
}
impl Render for ForwardingRule {}
impl Render for TargetVpnGateway {
    fn extra(
        &self,
        c: &GcpCloud,
        path: &str,
        meta: &Meta,
        _net: &NetState,
        now: u64,
        m: &mut Map<String, Value>,
    ) {
        let rules: Vec<&String> = c
            .forwarding_rules
            .iter()
            .filter(|(_, f)| f.body.target.as_deref() == Some(path))
            .map(|(p, _)| p)
            .collect();
        let tunnels: Vec<&String> = c
            .vpn_tunnels
            .iter()
            .filter(|(_, t)| t.body.target_vpn_gateway.as_deref() == Some(path))
            .map(|(p, _)| p)
            .collect();
        if !rules.is_empty() {
            m.insert("forwardingRules".into(), json!(rules));
        }
        if !tunnels.is_empty() {
            m.insert("tunnels".into(), json!(tunnels));
        }
        let status = if now < meta.ready_ms {
            "CREATING"
        } else {
            "READY"
        };
        m.insert("status".into(), json!(status));
    }
}
impl Render for VpnTunnel {
    fn extra(
        &self,
        c: &GcpCloud,
        path: &str,
        meta: &Meta,
        net: &NetState,
        now: u64,
        m: &mut Map<String, Value>,
    ) {
        if self.shared_secret.is_some() {
            m.insert("sharedSecret".into(), json!("*************"));
        }
        if self.vpn_gateway.is_some() {
            if let Some(ip) = physics::tunnel_peer_ip(c, self) {
                m.insert("peerIp".into(), json!(ip.to_string()));
            }
            m.insert("localTrafficSelector".into(), json!(["0.0.0.0/0"]));
            m.insert("remoteTrafficSelector".into(), json!(["0.0.0.0/0"]));
        }
        let (status, detail) = physics::tunnel_status(c, path, self, meta, net, now);
        m.insert("status".into(), json!(status));
        m.insert("detailedStatus".into(), json!(detail));
    }
}
impl Render for Route {
    fn extra(
        &self,
        c: &GcpCloud,
        _path: &str,
        _meta: &Meta,
        net: &NetState,
        _now: u64,
        m: &mut Map<String, Value>,
    ) {
        m.insert("routeType".into(), json!("STATIC"));
        if let Some(t) = &self.next_hop_vpn_tunnel {
            if !physics::tunnel_up(c, t, net) {
                m.insert(
                    "warnings".into(),
                    json!([{"code": "NEXT_HOP_NOT_RUNNING",
                        "message": format!("Next hop VPN tunnel '{}' is not established.", wire::last(t)),
                        "data": [{"key": "next_hop_vpn_tunnel", "value": wire::last(t)}]}]),
                );
            }
        }
    }
}
impl Render for Firewall {}

/// The API body of one stored resource.
pub fn render<T: Render>(
    c: &GcpCloud,
    path: &str,
    r: &Res<T>,
    net: &NetState,
    now: u64,
    base: &str,
) -> Value {
    let mut v = serde_json::to_value(&r.body).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("kind".into(), json!(T::KIND));
        m.insert("id".into(), json!(r.meta.id.to_string()));
        m.insert(
            "creationTimestamp".into(),
            json!(timestamp(r.meta.created_ms)),
        );
        m.insert("selfLink".into(), json!(path));
        if T::REGIONAL {
            if let Some(region) = wire::region_of(path) {
                let project = path.split('/').nth(1).unwrap_or_default();
                m.insert(
                    "region".into(),
                    json!(format!("projects/{project}/regions/{region}")),
                );
            }
        }
        r.body.extra(c, path, &r.meta, net, now, m);
    }
    absolutize(&mut v, base);
    v
}

/// Answers one Compute request (already known to `wire::operation_name`).
pub fn handle(world: &mut World, ctx: &Ctx, req: &Request) -> Response {
    let (Some((op, _)), Some(t)) = (wire::operation_name(req), wire::parse_path(&req.path)) else {
        return wire::error(
            404,
            "NOT_FOUND",
            "notFound",
            format!(
                "The sandbox's Compute API serves no {} {}",
                req.method, req.path
            ),
        );
    };
    let method = op.split_once('.').map(|(_, m)| m).unwrap_or_default();
    match (t.collection.as_str(), method) {
        ("operations", "get" | "wait") => get_operation(world, ctx, &t),
        ("operations", "list") => list_operations(world, ctx, &t, req),
        ("operations", "delete") => match t.resource_path() {
            Some(p) if world.gcp.operations.remove(&p).is_some() => {
                Response::new(204, "application/json", "")
            }
            Some(p) => not_found(&p),
            None => not_found(&t.collection_path()),
        },
        ("routers", "getRouterStatus") => {
            let net = ctx.net(world);
            physics::router_status(&world.gcp, &t, net, ctx.base_url)
        }
        ("vpnGateways", "getStatus") => physics::vpn_gateway_status(&world.gcp, &t, ctx.base_url),
        (coll, "get" | "list") => {
            let empty = NetState::default();
            let net = if matches!(coll, "vpnTunnels" | "routes") {
                ctx.net(world)
            } else {
                &empty
            };
            let c = &world.gcp;
            match coll {
                "networks" => read::<Network>(c, ctx, &t, req, net),
                "subnetworks" => read::<Subnetwork>(c, ctx, &t, req, net),
                "vpnGateways" => read::<VpnGateway>(c, ctx, &t, req, net),
                "externalVpnGateways" => read::<ExternalVpnGateway>(c, ctx, &t, req, net),
                "routers" => read::<Router>(c, ctx, &t, req, net),
                "vpnTunnels" => read::<VpnTunnel>(c, ctx, &t, req, net),
                "targetVpnGateways" => read::<TargetVpnGateway>(c, ctx, &t, req, net),
                "addresses" => read::<Address>(c, ctx, &t, req, net),
                "forwardingRules" => read::<ForwardingRule>(c, ctx, &t, req, net),
                "routes" => read::<Route>(c, ctx, &t, req, net),
                _ => read::<Firewall>(c, ctx, &t, req, net),
            }
        }
        (coll, "delete") => match coll {
            "vpnGateways" => delete::<VpnGateway>(world, ctx, &t),
            "externalVpnGateways" => delete::<ExternalVpnGateway>(world, ctx, &t),
            "routers" => delete::<Router>(world, ctx, &t),
            "vpnTunnels" => delete::<VpnTunnel>(world, ctx, &t),
            "targetVpnGateways" => delete::<TargetVpnGateway>(world, ctx, &t),
            "addresses" => delete::<Address>(world, ctx, &t),
            "forwardingRules" => delete::<ForwardingRule>(world, ctx, &t),
            "routes" => delete::<Route>(world, ctx, &t),
            _ => delete::<Firewall>(world, ctx, &t),
        },
        (coll, "insert") => {
            let body: Value =
                match serde_json::from_slice(&req.body) {
                    Ok(v @ Value::Object(_)) => v,
                    Ok(_) => return invalid(
                        "Invalid JSON payload received. The request body must be a JSON object.",
                    ),
                    Err(e) => return invalid(format!("Invalid JSON payload received. {e}")),
                };
            match coll {
                "vpnGateways" => insert::<VpnGateway>(world, ctx, &t, body),
                "externalVpnGateways" => insert::<ExternalVpnGateway>(world, ctx, &t, body),
                "routers" => insert::<Router>(world, ctx, &t, body),
                "vpnTunnels" => insert::<VpnTunnel>(world, ctx, &t, body),
                "targetVpnGateways" => insert::<TargetVpnGateway>(world, ctx, &t, body),
                "addresses" => insert::<Address>(world, ctx, &t, body),
                "forwardingRules" => insert::<ForwardingRule>(world, ctx, &t, body),
                "routes" => insert::<Route>(world, ctx, &t, body),
                _ => insert::<Firewall>(world, ctx, &t, body),
            }
        }
        (coll, "patch" | "update") => {
            let body: Value =
                match serde_json::from_slice(&req.body) {
                    Ok(v @ Value::Object(_)) => v,
                    Ok(_) => return invalid(
                        "Invalid JSON payload received. The request body must be a JSON object.",
                    ),
                    Err(e) => return invalid(format!("Invalid JSON payload received. {e}")),
                };
            let merge = method == "patch";
            match coll {
                "routers" => modify::<Router>(world, ctx, &t, body, merge),
                _ => modify::<Firewall>(world, ctx, &t, body, merge),
            }
        }
        _ => not_found(&t.collection_path()),
    }
}

fn read<T: Render>(c: &GcpCloud, ctx: &Ctx, t: &Target, req: &Request, net: &NetState) -> Response {
    let map = T::map(c);
    if let Some(path) = t.resource_path() {
        return match map.get(&path) {
            Some(r) => Response::json(200, &render(c, &path, r, net, ctx.now_ms, ctx.base_url)),
            None => not_found(&path),
        };
    }
    let prefix = format!("{}/", t.collection_path());
    let items: Vec<Value> = map
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .map(|(p, r)| render(c, p, r, net, ctx.now_ms, ctx.base_url))
        .collect();
    list_response(T::KIND, t, items, req, ctx.base_url)
}

/// A `…List` body with Compute's filter (see `filter`) and paging: `maxResults` 0–500 (0 or
/// absent = 500) and `pageToken` (the offset of the next item, as issued in `nextPageToken`).
fn list_response(kind: &str, t: &Target, items: Vec<Value>, req: &Request, base: &str) -> Response {
    let filter = match req.query_param("filter").map(filter::parse).transpose() {
        Ok(f) => f.flatten(),
        Err(msg) => return invalid(msg),
    };
    let max = match req.query_param("maxResults") {
        None => 500,
        Some(m) => match m.parse::<u32>() {
            Ok(0) => 500,
            Ok(n) if n <= 500 => n as usize,
            _ => {
                return invalid(format!(
                    "Invalid value for field 'maxResults': '{m}'. Must be between 0 and 500."
                ))
            }
        },
    };
    let start = match req.query_param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(tok) => match tok.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                return invalid(format!(
                    "Invalid value for field 'pageToken': '{tok}'. Invalid page token."
                ))
            }
        },
    };
    let mut items: Vec<Value> = match &filter {
        Some(f) => items
            .into_iter()
            .filter(|v| filter::matches(f, v))
            .collect(),
        None => items,
    };
    let total = items.len();
    let page: Vec<Value> = items.drain(start.min(total)..).take(max).collect();
    let mut body = json!({
        "kind": format!("{kind}List"),
        "id": t.collection_path(),
        "selfLink": wire::url(base, &t.collection_path()),
    });
    if !page.is_empty() {
        body["items"] = json!(page);
    }
    if start.saturating_add(max) < total {
        body["nextPageToken"] = json!((start + max).to_string());
    }
    Response::json(200, &body)
}

/// Insert/patch validation per kind: normalises references to canonical paths, fills
/// defaults and output fields the client cannot set, or answers the API's error.
pub trait Validate: Kind + Render {
    /// How long inserting (or updating) this kind takes.
    const CREATE: Op;
    const UPDATE: Op = Self::CREATE;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        path: &str,
        fresh: bool,
    ) -> Result<(), Response>;
    /// The resource that keeps this one from being deleted, if any.
    fn used_by(_c: &GcpCloud, _path: &str, _me: &Self) -> Option<String> {
        None
    }
}

fn field(name: &str, value: &str, why: &str) -> Response {
    invalid(format!(
        "Invalid value for field 'resource.{name}': '{value}'. {why}"
    ))
}

fn required(name: &str) -> Response {
    invalid(format!("Required field 'resource.{name}' not specified"))
}

/// Resolves a reference to an existing `T` (404 when missing).
fn existing<T: Kind>(
    c: &GcpCloud,
    t: &Target,
    name: &str,
    input: &str,
) -> Result<String, Response> {
    let region = if T::REGIONAL {
        t.region.as_deref()
    } else {
        None
    };
    let path = wire::resolve_ref(input, &t.project, region, T::COLLECTION)
        .map_err(|why| field(name, input, &why))?;
    if T::map(c).contains_key(&path) {
        Ok(path)
    } else {
        Err(not_found(&path))
    }
}

fn same_region(name: &str, input: &str, path: &str, t: &Target) -> Result<(), Response> {
    if wire::region_of(path) == t.region.as_deref() {
        Ok(())
    } else {
        Err(field(
            name,
            input,
            "The referenced resource must be in the same region.",
        ))
    }
}

fn ip(name: &str, s: &str) -> Result<Ipv4Addr, Response> {
    s.parse::<Ipv4Addr>()
        .map_err(|_| field(name, s, "Must be an IPv4 address."))
}

fn cidr(name: &str, s: &str) -> Result<Ipv4Net, Response> {
    s.parse::<Ipv4Net>()
        .map_err(|_| field(name, s, "Must be a CIDR range such as 10.0.0.0/16."))
}

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

fn check_advertised(
    prefix: &str,
    mode: &Option<String>,
    groups: &[String],
    ranges: &[AdvertisedRange],
) -> Result<(), Response> {
    if let Some(m) = mode {
        if m != "DEFAULT" && m != "CUSTOM" {
            return Err(field(
                &format!("{prefix}advertiseMode"),
                m,
                "Must be DEFAULT or CUSTOM.",
            ));
        }
    }
    for g in groups {
        if g != "ALL_SUBNETS" {
            return Err(field(
                &format!("{prefix}advertisedGroups"),
                g,
                "Must be ALL_SUBNETS.",
            ));
        }
    }
    for r in ranges {
        cidr(&format!("{prefix}advertisedIpRanges.range"), &r.range)?;
    }
    Ok(())
}

/// A Cloud Router's own ASN: RFC 6996 private, or Google's 16550 (Partner Interconnect).
fn router_asn_ok(asn: u32) -> bool {
    (64512..=65534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn) || asn == 16550
}

/// A VPN BGP interface's `ipRange`: the interface's own address with a /30 prefix inside
/// 169.254.0.0/16 (link-local), the address one of the two hosts of the /30.
fn vpn_interface_range(input: &str, net: Ipv4Net) -> Result<(), Response> {
    let link_local: Ipv4Net = Ipv4Net::new(Ipv4Addr::new(169, 254, 0, 0), 16).unwrap_or_default();
    if net.prefix_len() != 30 || !link_local.contains(&net.addr()) {
        return Err(field(
            "interfaces.ipRange",
            input,
            "The IP range of a VPN tunnel's BGP interface must be a /30 in the link-local range 169.254.0.0/16, for example 169.254.0.1/30.",
        ));
    }
    if net.addr() == net.network() || net.addr() == net.broadcast() {
        return Err(field(
            "interfaces.ipRange",
            input,
            "The interface's address must be one of the two usable addresses of the /30 (do not truncate it to the network address).",
        ));
    }
    Ok(())
}

impl Validate for VpnGateway {
    const CREATE: Op = Op::GcpHaVpnGatewayCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(&world.gcp, t, "network", &self.network)?;
        if let Some(s) = &self.stack_type {
            if s != "IPV4_ONLY" {
                return Err(field("stackType", s, "The sandbox supports IPV4_ONLY."));
            }
        }
        self.stack_type = Some("IPV4_ONLY".into());
        self.gateway_ip_version = Some("IPV4".into());
        // Both interfaces get their external addresses at insert, as GCP does.
        self.vpn_interfaces = (0..2)
            .map(|id| VpnGatewayInterface {
                id,
                ip_address: Some(world.ips.allocate(Cloud::Gcp).to_string()),
            })
            .collect();
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| {
                r.body.vpn_gateway.as_deref() == Some(path)
                    || r.body.peer_gcp_gateway.as_deref() == Some(path)
            })
            .map(|(p, _)| p.clone())
    }
}

impl Validate for ExternalVpnGateway {
    const CREATE: Op = Op::GcpExternalVpnGatewayCreate;
    fn validate(
        &mut self,
        _world: &mut World,
        _t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let rt = self
            .redundancy_type
            .clone()
            .ok_or_else(|| required("redundancyType"))?;
        let want = match rt.as_str() {
            "FOUR_IPS_REDUNDANCY" => 4,
            "TWO_IPS_REDUNDANCY" => 2,
            "SINGLE_IP_INTERNALLY_REDUNDANT" => 1,
            _ => return Err(field("redundancyType", &rt, "Must be FOUR_IPS_REDUNDANCY, TWO_IPS_REDUNDANCY or SINGLE_IP_INTERNALLY_REDUNDANT.")),
        };
        if self.interfaces.len() != want {
            return Err(field(
                "interfaces",
                &self.interfaces.len().to_string(),
                &format!("{rt} requires exactly {want} interface(s)."),
            ));
        }
        let mut ids: Vec<u32> = self.interfaces.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        if ids != (0..want as u32).collect::<Vec<_>>() {
            return Err(field(
                "interfaces.id",
                &format!("{ids:?}"),
                &format!("Interface ids must be 0 to {}.", want - 1),
            ));
        }
        for i in &self.interfaces {
            let a = i
                .ip_address
                .as_deref()
                .ok_or_else(|| required("interfaces.ipAddress"))?;
            ip("interfaces.ipAddress", a)?;
        }
        self.interfaces.sort_by_key(|i| i.id);
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| r.body.peer_external_gateway.as_deref() == Some(path))
            .map(|(p, _)| p.clone())
    }
}

impl Validate for Router {
    const CREATE: Op = Op::GcpRouterCreate;
    const UPDATE: Op = Op::GcpRouterUpdate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let c = &world.gcp;
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(c, t, "network", &self.network)?;
        let local_asn = self.bgp.as_ref().and_then(|b| b.asn);
        if let Some(asn) = local_asn {
            if !router_asn_ok(asn) {
                return Err(field(
                    "bgp.asn",
                    &asn.to_string(),
                    "The ASN must be an RFC6996 private ASN (64512-65534 or 4200000000-4294967294), or 16550 for Partner Interconnect.",
                ));
            }
        }
        if let Some(bgp) = &self.bgp {
            check_advertised(
                "bgp.",
                &bgp.advertise_mode,
                &bgp.advertised_groups,
                &bgp.advertised_ip_ranges,
            )?;
        }
        let mut ranges: Vec<(String, Option<Ipv4Net>)> = Vec::new();
        let mut linked: Vec<String> = Vec::new();
        for i in &mut self.interfaces {
            if i.name.is_empty() {
                return Err(required("interfaces.name"));
            }
            if ranges.iter().any(|(n, _)| *n == i.name) {
                return Err(field(
                    "interfaces.name",
                    &i.name,
                    "Interface names must be unique.",
                ));
            }
            let range = match &i.ip_range {
                Some(r) => {
                    let net = cidr("interfaces.ipRange", r)?;
                    vpn_interface_range(r, net)?;
                    if let Some((other, _)) = ranges.iter().find(|(_, o)| {
                        o.is_some_and(|o| o.contains(&net.network()) || net.contains(&o.network()))
                    }) {
                        return Err(field(
                            "interfaces.ipRange",
                            r,
                            &format!("The range overlaps with the range of interface '{other}'."),
                        ));
                    }
                    Some(net)
                }
                None => None,
            };
            if let Some(tun) = &i.linked_vpn_tunnel {
                let tp = existing::<VpnTunnel>(c, t, "interfaces.linkedVpnTunnel", tun)?;
                same_region("interfaces.linkedVpnTunnel", tun, &tp, t)?;
                if linked.contains(&tp) {
                    return Err(field(
                        "interfaces.linkedVpnTunnel",
                        tun,
                        "A VPN tunnel can be linked to one interface only.",
                    ));
                }
                if let Some(r) = c.vpn_tunnels.get(&tp).and_then(|x| x.body.router.clone()) {
                    if r != path {
                        return Err(field(
                            "interfaces.linkedVpnTunnel",
                            tun,
                            "The VPN tunnel uses a different router.",
                        ));
                    }
                }
                linked.push(tp.clone());
                i.linked_vpn_tunnel = Some(tp);
            }
            ranges.push((i.name.clone(), range));
        }
        let mut names: Vec<&str> = Vec::new();
        let has_bgp_peers = !self.bgp_peers.is_empty();
        // GCP refuses a peer ASN equal to the local ASN of a router of the same network and
        // region (this one included): Cloud Router speaks eBGP only.
        let local_asns: Vec<(String, u32)> = c
            .routers
            .iter()
            .filter(|(p, r)| {
                p.as_str() != path
                    && r.body.network == self.network
                    && wire::region_of(p) == t.region.as_deref()
            })
            .filter_map(|(p, r)| Some((wire::last(p).to_string(), r.body.bgp.as_ref()?.asn?)))
            .collect();
        for (index, p) in self.bgp_peers.iter().enumerate() {
            if p.name.is_empty() {
                return Err(required("bgpPeers.name"));
            }
            if names.contains(&p.name.as_str()) {
                return Err(field(
                    "bgpPeers.name",
                    &p.name,
                    "BGP peer names must be unique.",
                ));
            }
            names.push(&p.name);
            let iface = p
                .interface_name
                .as_deref()
                .ok_or_else(|| required("bgpPeers.interfaceName"))?;
            let Some((_, range)) = ranges.iter().find(|(n, _)| n == iface) else {
                return Err(field(
                    "bgpPeers.interfaceName",
                    iface,
                    "No interface of this router has that name.",
                ));
            };
            let Some(peer_asn) = p.peer_asn else {
                return Err(required("bgpPeers.peerAsn"));
            };
            let asn_field = format!("bgpPeers[{index}].peerAsn");
            if peer_asn == 0 || peer_asn == u32::MAX {
                return Err(field(
                    &asn_field,
                    &peer_asn.to_string(),
                    "The peer ASN must be between 1 and 4294967294.",
                ));
            }
            if local_asn == Some(peer_asn) {
                return Err(field(
                    &asn_field,
                    &peer_asn.to_string(),
                    "Peer ASN conflicts with the local ASN of this router.",
                ));
            }
            if let Some((other, _)) = local_asns.iter().find(|(_, a)| *a == peer_asn) {
                return Err(field(
                    &asn_field,
                    &peer_asn.to_string(),
                    &format!("Peer ASN conflicts with local ASN of another router in the same region and network: {other}."),
                ));
            }
            let peer = p
                .peer_ip_address
                .as_deref()
                .ok_or_else(|| required("bgpPeers.peerIpAddress"))?;
            let peer = ip("bgpPeers.peerIpAddress", peer)?;
            let local = p
                .ip_address
                .as_deref()
                .map(|a| ip("bgpPeers.ipAddress", a))
                .transpose()?;
            if let Some(range) = range {
                for (name, a) in [("peerIpAddress", Some(peer)), ("ipAddress", local)] {
                    if let Some(a) = a {
                        if !range.contains(&a) {
                            return Err(field(
                                &format!("bgpPeers.{name}"),
                                &a.to_string(),
                                &format!(
                                    "The address must be inside the interface's range {range}."
                                ),
                            ));
                        }
                    }
                }
            }
            if let Some(e) = &p.enable {
                if e != "TRUE" && e != "FALSE" {
                    return Err(field("bgpPeers.enable", e, "Must be TRUE or FALSE."));
                }
            }
            check_advertised(
                "bgpPeers.",
                &p.advertise_mode,
                &p.advertised_groups,
                &p.advertised_ip_ranges,
            )?;
        }
        if has_bgp_peers && self.bgp.as_ref().and_then(|b| b.asn).is_none() {
            return Err(required("bgp.asn"));
        }
        // The local address of a peer defaults to the interface's own address.
        for p in &mut self.bgp_peers {
            if p.ip_address.is_none() {
                p.ip_address = self
                    .interfaces
                    .iter()
                    .find(|i| Some(&i.name) == p.interface_name.as_ref())
                    .and_then(|i| i.ip_range.as_deref())
                    .and_then(|r| r.parse::<Ipv4Net>().ok())
                    .map(|n| n.addr().to_string());
            }
        }
        if let Some(bgp) = &mut self.bgp {
            bgp.advertise_mode.get_or_insert_with(|| "DEFAULT".into());
            bgp.keepalive_interval.get_or_insert(20);
        }
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| r.body.router.as_deref() == Some(path))
            .map(|(p, _)| p.clone())
    }
}

impl Validate for VpnTunnel {
    const CREATE: Op = Op::GcpVpnTunnelCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let c = &world.gcp;
        let secret = self
            .shared_secret
            .as_deref()
            .ok_or_else(|| required("sharedSecret"))?;
        if secret.is_empty() {
            return Err(required("sharedSecret"));
        }
        let ike = self.ike_version.unwrap_or(2);
        if ike != 1 && ike != 2 {
            return Err(field("ikeVersion", &ike.to_string(), "Must be 1 or 2."));
        }
        self.ike_version = Some(ike);
        let network = match (&self.vpn_gateway, &self.target_vpn_gateway) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(invalid(
                    "Exactly one of 'resource.vpnGateway' and 'resource.targetVpnGateway' must be specified",
                ))
            }
            (Some(gw), None) => {
                let gp = existing::<VpnGateway>(c, t, "vpnGateway", gw)?;
                same_region("vpnGateway", gw, &gp, t)?;
                let iface = self.vpn_gateway_interface.ok_or_else(|| required("vpnGatewayInterface"))?;
                if iface > 1 {
                    return Err(field("vpnGatewayInterface", &iface.to_string(), "Must be 0 or 1."));
                }
                match (&self.peer_external_gateway, &self.peer_gcp_gateway) {
                    (Some(ext), None) => {
                        let ep = existing::<ExternalVpnGateway>(c, t, "peerExternalGateway", ext)?;
                        let n = c.external_vpn_gateways.get(&ep).map_or(0, |e| e.body.interfaces.len());
                        let pi = self
                            .peer_external_gateway_interface
                            .ok_or_else(|| required("peerExternalGatewayInterface"))?;
                        if pi as usize >= n {
                            return Err(field(
                                "peerExternalGatewayInterface",
                                &pi.to_string(),
                                &format!("The external VPN gateway has {n} interface(s)."),
                            ));
                        }
                        self.peer_external_gateway = Some(ep);
                    }
                    (None, Some(peer)) => {
                        let pp = existing::<VpnGateway>(c, t, "peerGcpGateway", peer)?;
                        self.peer_gcp_gateway = Some(pp);
                    }
                    _ => {
                        return Err(invalid(
                            "Exactly one of 'resource.peerExternalGateway' and 'resource.peerGcpGateway' must be specified for an HA VPN tunnel",
                        ))
                    }
                }
                if self.peer_ip.is_some() {
                    return Err(invalid("'resource.peerIp' cannot be set for an HA VPN tunnel: it comes from the peer gateway"));
                }
                for (name, sel) in [("localTrafficSelector", &self.local_traffic_selector), ("remoteTrafficSelector", &self.remote_traffic_selector)] {
                    if sel.iter().any(|s| s != "0.0.0.0/0") {
                        return Err(field(name, &sel.join(","), "HA VPN tunnels always use 0.0.0.0/0."));
                    }
                }
                self.local_traffic_selector.clear();
                self.remote_traffic_selector.clear();
                if self.router.is_none() {
                    return Err(invalid("'resource.router' must be specified for an HA VPN tunnel"));
                }
                let network = c.vpn_gateways.get(&gp).map(|g| g.body.network.clone()).unwrap_or_default();
                self.vpn_gateway = Some(gp);
                network
            }
            (None, Some(tg)) => {
                let tp = existing::<TargetVpnGateway>(c, t, "targetVpnGateway", tg)?;
                same_region("targetVpnGateway", tg, &tp, t)?;
                let peer = self.peer_ip.as_deref().ok_or_else(|| required("peerIp"))?;
                ip("peerIp", peer)?;
                for (name, sel) in [("localTrafficSelector", &mut self.local_traffic_selector), ("remoteTrafficSelector", &mut self.remote_traffic_selector)] {
                    for s in sel.iter() {
                        cidr(name, s)?;
                    }
                    if sel.is_empty() {
                        sel.push("0.0.0.0/0".into());
                    }
                }
                let network = c.target_vpn_gateways.get(&tp).map(|g| g.body.network.clone()).unwrap_or_default();
                self.target_vpn_gateway = Some(tp);
                network
            }
        };
        if let Some(r) = &self.router {
            let rp = existing::<Router>(c, t, "router", r)?;
            same_region("router", r, &rp, t)?;
            if c.routers.get(&rp).map(|x| x.body.network.as_str()) != Some(network.as_str()) {
                return Err(field(
                    "router",
                    r,
                    "The router must be in the VPN gateway's network.",
                ));
            }
            self.router = Some(rp);
        }
        if let Some(cs) = &self.cipher_suite {
            let groups = cs
                .phase1
                .iter()
                .flat_map(|p| p.dh.iter().map(|g| ("cipherSuite.phase1.dh", g)))
                .chain(
                    cs.phase2
                        .iter()
                        .flat_map(|p| p.pfs.iter().map(|g| ("cipherSuite.phase2.pfs", g))),
                );
            for (name, g) in groups {
                if physics::dh_group(g).is_none() {
                    return Err(field(
                        name,
                        g,
                        "Must be a Diffie-Hellman group such as Group-14.",
                    ));
                }
            }
        }
        self.shared_secret_hash = Some(physics::secret_hash(secret));
        Ok(())
    }
    fn used_by(_c: &GcpCloud, _path: &str, _me: &Self) -> Option<String> {
        None
    }
}

impl Validate for TargetVpnGateway {
    const CREATE: Op = Op::GcpTargetVpnGatewayCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(&world.gcp, t, "network", &self.network)?;
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| r.body.target_vpn_gateway.as_deref() == Some(path))
            .map(|(p, _)| p.clone())
            .or_else(|| {
                c.forwarding_rules
                    .iter()
                    .find(|(_, r)| r.body.target.as_deref() == Some(path))
                    .map(|(p, _)| p.clone())
            })
    }
}

impl Validate for Address {
    const CREATE: Op = Op::GcpAddressCreate;
    fn validate(
        &mut self,
        world: &mut World,
        _t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let at = self.address_type.get_or_insert_with(|| "EXTERNAL".into());
        if at != "EXTERNAL" {
            return Err(field(
                "addressType",
                at,
                "The sandbox serves EXTERNAL addresses only.",
            ));
        }
        if let Some(a) = &self.address {
            return Err(field(
                "address",
                a,
                "The sandbox assigns external addresses itself: omit 'address'.",
            ));
        }
        if let Some(v) = &self.ip_version {
            if v != "IPV4" {
                return Err(field("ipVersion", v, "The sandbox serves IPV4 only."));
            }
        }
        self.network_tier.get_or_insert_with(|| "PREMIUM".into());
        self.address = Some(world.ips.allocate(Cloud::Gcp).to_string());
        Ok(())
    }
    fn used_by(c: &GcpCloud, _path: &str, me: &Self) -> Option<String> {
        c.forwarding_rules
            .iter()
            .find(|(_, r)| r.body.ip_address.is_some() && r.body.ip_address == me.address)
            .map(|(p, _)| p.clone())
    }
}

impl Validate for ForwardingRule {
    const CREATE: Op = Op::GcpForwardingRuleCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let target = self.target.clone().ok_or_else(|| required("target"))?;
        let tp = wire::resolve_ref(
            &target,
            &t.project,
            t.region.as_deref(),
            "targetVpnGateways",
        )
        .map_err(|_| {
            field(
                "target",
                &target,
                "The sandbox serves forwarding rules to target VPN gateways only.",
            )
        })?;
        if !world.gcp.target_vpn_gateways.contains_key(&tp) {
            return Err(not_found(&tp));
        }
        same_region("target", &target, &tp, t)?;
        let proto = self
            .ip_protocol
            .clone()
            .unwrap_or_else(|| "TCP".into())
            .to_ascii_uppercase();
        match proto.as_str() {
            "ESP" | "AH" => {
                if let Some(p) = &self.port_range {
                    return Err(field(
                        "portRange",
                        p,
                        &format!("Ports cannot be set for {proto}."),
                    ));
                }
            }
            "UDP" | "TCP" => {
                let pr = self
                    .port_range
                    .clone()
                    .ok_or_else(|| required("portRange"))?;
                let (a, b) = pr.split_once('-').unwrap_or((&pr, &pr));
                let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) else {
                    return Err(field(
                        "portRange",
                        &pr,
                        "Must be a port or a range such as 500-500.",
                    ));
                };
                if a > b || a == 0 {
                    return Err(field(
                        "portRange",
                        &pr,
                        "Must be a port or a range such as 500-500.",
                    ));
                }
                self.port_range = Some(format!("{a}-{b}"));
            }
            _ => {
                return Err(field(
                    "IPProtocol",
                    &proto,
                    "Must be ESP, AH, UDP or TCP for a target VPN gateway.",
                ))
            }
        }
        self.ip_protocol = Some(proto);
        // The address: an IP literal or a reference to a reserved address of this region.
        let addr = match self.ip_address.as_deref() {
            None => world.ips.allocate(Cloud::Gcp),
            Some(a) => match a.parse::<Ipv4Addr>() {
                Ok(ip) => ip,
                Err(_) => {
                    let ap = existing::<Address>(&world.gcp, t, "IPAddress", a)?;
                    same_region("IPAddress", a, &ap, t)?;
                    let lit = world
                        .gcp
                        .addresses
                        .get(&ap)
                        .and_then(|x| x.body.address.clone())
                        .unwrap_or_default();
                    ip("IPAddress", &lit)?
                }
            },
        };
        if let Some((other, r)) = world
            .gcp
            .forwarding_rules
            .iter()
            .find(|(_, r)| r.body.target.as_deref() == Some(tp.as_str()))
        {
            if r.body.ip_address.as_deref() != Some(addr.to_string().as_str()) {
                return Err(field(
                    "IPAddress",
                    &addr.to_string(),
                    &format!("Every forwarding rule of a target VPN gateway must use one address; '{}' uses {}.", wire::last(other), r.body.ip_address.clone().unwrap_or_default()),
                ));
            }
        }
        self.ip_address = Some(addr.to_string());
        self.target = Some(tp);
        self.load_balancing_scheme = Some("EXTERNAL".into());
        self.network_tier.get_or_insert_with(|| "PREMIUM".into());
        Ok(())
    }
}

impl Validate for Route {
    const CREATE: Op = Op::GcpRouteCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let c = &world.gcp;
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(c, t, "network", &self.network)?;
        if self.dest_range.is_empty() {
            return Err(required("destRange"));
        }
        let d = cidr("destRange", &self.dest_range)?;
        if d.trunc() != d {
            return Err(field(
                "destRange",
                &self.dest_range,
                "The range has host bits set.",
            ));
        }
        let hop = self.next_hop_vpn_tunnel.clone().ok_or_else(|| {
            invalid("The sandbox serves routes with 'resource.nextHopVpnTunnel' only")
        })?;
        let tp = wire::resolve_ref(&hop, &t.project, None, "vpnTunnels")
            .map_err(|why| field("nextHopVpnTunnel", &hop, &why))?;
        let tunnel = c.vpn_tunnels.get(&tp).ok_or_else(|| not_found(&tp))?;
        if physics::tunnel_network(c, &tunnel.body).as_deref() != Some(self.network.as_str()) {
            return Err(field(
                "nextHopVpnTunnel",
                &hop,
                "The VPN tunnel is not in the route's network.",
            ));
        }
        self.next_hop_vpn_tunnel = Some(tp);
        let p = self.priority.unwrap_or(1000);
        if p > 65535 {
            return Err(field(
                "priority",
                &p.to_string(),
                "Must be between 0 and 65535.",
            ));
        }
        self.priority = Some(p);
        Ok(())
    }
}

fn check_entries(name: &str, entries: &[FirewallEntry]) -> Result<Vec<FirewallEntry>, Response> {
    let mut out = Vec::new();
    for e in entries {
        let proto = e.ip_protocol.to_ascii_lowercase();
        let named = ["tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"];
        if !named.contains(&proto.as_str()) && proto.parse::<u8>().is_err() {
            return Err(field(
                &format!("{name}.IPProtocol"),
                &e.ip_protocol,
                "Unknown protocol.",
            ));
        }
        if !e.ports.is_empty()
            && !matches!(proto.as_str(), "tcp" | "udp" | "sctp" | "6" | "17" | "132")
        {
            return Err(field(
                &format!("{name}.ports"),
                &e.ports.join(","),
                "Ports can be set for tcp, udp and sctp only.",
            ));
        }
        for p in &e.ports {
            if super::firewall::port_range(p).is_none() {
                return Err(field(
                    &format!("{name}.ports"),
                    p,
                    "Must be a port or a range such as 1000-2000.",
                ));
            }
        }
        out.push(FirewallEntry {
            ip_protocol: proto,
            ports: e.ports.clone(),
        });
    }
    Ok(out)
}

impl Validate for Firewall {
    const CREATE: Op = Op::GcpFirewallCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        if self.network.is_empty() {
            self.network = format!("projects/{}/global/networks/default", t.project);
        }
        self.network = existing::<Network>(&world.gcp, t, "network", &self.network)?;
        let dir = self.direction.clone().unwrap_or_else(|| "INGRESS".into());
        if dir != "INGRESS" && dir != "EGRESS" {
            return Err(field("direction", &dir, "Must be INGRESS or EGRESS."));
        }
        let p = self.priority.unwrap_or(1000);
        if p > 65535 {
            return Err(field(
                "priority",
                &p.to_string(),
                "Must be between 0 and 65535.",
            ));
        }
        self.priority = Some(p);
        match (self.allowed.is_empty(), self.denied.is_empty()) {
            (true, true) | (false, false) => {
                return Err(invalid(
                    "Exactly one of 'resource.allowed' and 'resource.denied' must be specified",
                ))
            }
            _ => {}
        }
        self.allowed = check_entries("allowed", &self.allowed)?;
        self.denied = check_entries("denied", &self.denied)?;
        for (name, ranges) in [
            ("sourceRanges", &self.source_ranges),
            ("destinationRanges", &self.destination_ranges),
        ] {
            for r in ranges {
                cidr(name, r)?;
            }
        }
        if dir == "INGRESS" && self.source_ranges.is_empty() && self.source_tags.is_empty() {
            self.source_ranges = vec!["0.0.0.0/0".into()];
        }
        if dir == "EGRESS" {
            if !self.source_tags.is_empty() {
                return Err(field(
                    "sourceTags",
                    &self.source_tags.join(","),
                    "Source tags cannot be set on an EGRESS rule.",
                ));
            }
            if self.destination_ranges.is_empty() {
                self.destination_ranges = vec!["0.0.0.0/0".into()];
            }
        }
        self.direction = Some(dir);
        Ok(())
    }
}

// The two kinds that are only read are never validated; these satisfy the generic bounds.
impl Validate for Network {
    const CREATE: Op = Op::GcpDelete;
    fn validate(
        &mut self,
        _w: &mut World,
        _t: &Target,
        _p: &str,
        _f: bool,
    ) -> Result<(), Response> {
        Err(invalid("networks are seeded from the topology"))
    }
}
impl Validate for Subnetwork {
    const CREATE: Op = Op::GcpDelete;
    fn validate(
        &mut self,
        _w: &mut World,
        _t: &Target,
        _p: &str,
        _f: bool,
    ) -> Result<(), Response> {
        Err(invalid("subnetworks are seeded from the topology"))
    }
}

/// Keys a client may send back from a GET that are output only.
const OUTPUT_ONLY: &[&str] = &[
    "kind",
    "id",
    "creationTimestamp",
    "selfLink",
    "region",
    "status",
    "detailedStatus",
    "sharedSecretHash",
    "subnetworks",
    "users",
    "forwardingRules",
    "tunnels",
    "routeType",
    "warnings",
    "labelFingerprint",
    "fingerprint",
    "peerIp",
];

fn strip_output_only(body: &mut Value, keep_peer_ip: bool) {
    if let Value::Object(m) = body {
        for k in OUTPUT_ONLY {
            if *k == "peerIp" && keep_peer_ip {
                continue;
            }
            m.remove(*k);
        }
    }
}

fn insert<T: Validate>(world: &mut World, ctx: &Ctx, t: &Target, mut body: Value) -> Response {
    // peerIp is input for classic tunnels only; HA tunnels derive it.
    strip_output_only(&mut body, T::COLLECTION == "vpnTunnels");
    let mut res: T = match serde_json::from_value(body) {
        Ok(r) => r,
        Err(e) => return invalid(format!("Invalid JSON payload received. {e}")),
    };
    if !valid_name(res.name()) {
        return field(
            "name",
            res.name(),
            "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
        );
    }
    let path = format!("{}/{}", t.collection_path(), res.name());
    if T::map(&world.gcp).contains_key(&path) {
        return wire::already_exists(&path);
    }
    if let Err(resp) = res.validate(world, t, &path, true) {
        return resp;
    }
    let id = world.ids.numeric();
    let ready = ctx.now_ms + ctx.latency.ms(T::CREATE);
    T::map_mut(&mut world.gcp).insert(
        path.clone(),
        Res {
            meta: Meta {
                id,
                seeded: false,
                created_ms: ctx.now_ms,
                ready_ms: ready,
                topology_name: None,
            },
            body: res,
        },
    );
    new_operation(world, ctx, t, "insert", &path, id, ready, None)
}

fn modify<T: Validate>(
    world: &mut World,
    ctx: &Ctx,
    t: &Target,
    mut body: Value,
    merge: bool,
) -> Response {
    let Some(path) = t.resource_path() else {
        return not_found(&t.collection_path());
    };
    let Some(old) = T::map(&world.gcp).get(&path).cloned() else {
        return not_found(&path);
    };
    strip_output_only(&mut body, false);
    let name = body.get("name").and_then(Value::as_str).map(str::to_string);
    if name.as_deref().is_some_and(|n| n != old.body.name()) {
        return field(
            "name",
            name.as_deref().unwrap_or_default(),
            "The name of a resource cannot be changed.",
        );
    }
    let merged = if merge {
        let mut cur = serde_json::to_value(&old.body).unwrap_or_else(|_| json!({}));
        if let (Value::Object(c), Value::Object(b)) = (&mut cur, body) {
            for (k, v) in b {
                c.insert(k, v);
            }
        }
        cur
    } else {
        let mut b = body;
        b["name"] = json!(old.body.name());
        b
    };
    let mut res: T = match serde_json::from_value(merged) {
        Ok(r) => r,
        Err(e) => return invalid(format!("Invalid JSON payload received. {e}")),
    };
    if let Err(resp) = res.validate(world, t, &path, false) {
        return resp;
    }
    let ready = ctx.now_ms + ctx.latency.ms(T::UPDATE);
    let id = old.meta.id;
    T::map_mut(&mut world.gcp).insert(
        path.clone(),
        Res {
            meta: Meta {
                ready_ms: ready,
                ..old.meta
            },
            body: res,
        },
    );
    let kind = if merge { "patch" } else { "update" };
    new_operation(world, ctx, t, kind, &path, id, ready, None)
}

fn delete<T: Validate>(world: &mut World, ctx: &Ctx, t: &Target) -> Response {
    let Some(path) = t.resource_path() else {
        return not_found(&t.collection_path());
    };
    let Some(r) = T::map(&world.gcp).get(&path) else {
        return not_found(&path);
    };
    let id = r.meta.id;
    if let Some(user) = T::used_by(&world.gcp, &path, &r.body) {
        // GCP reports a delete of a resource in use as a failed operation.
        let kind = T::KIND.trim_start_matches("compute#");
        let err = OpError {
            code: "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE".into(),
            message: format!("The {kind} resource '{path}' is already being used by '{user}'"),
            http_status: 400,
            http_message: "BAD REQUEST".into(),
        };
        return new_operation(world, ctx, t, "delete", &path, id, ctx.now_ms, Some(err));
    }
    T::map_mut(&mut world.gcp).remove(&path);
    let done = ctx.now_ms + ctx.latency.ms(Op::GcpDelete);
    new_operation(world, ctx, t, "delete", &path, id, done, None)
}

#[allow(clippy::too_many_arguments)]
fn new_operation(
    world: &mut World,
    ctx: &Ctx,
    t: &Target,
    kind: &str,
    target: &str,
    target_id: u64,
    done_ms: u64,
    error: Option<OpError>,
) -> Response {
    let n = world.ids.next("gcp-operation");
    let name = format!("operation-{}-{n:012x}", ctx.now_ms);
    let op = Operation {
        id: world.ids.numeric(),
        name: name.clone(),
        scope: t.scope(),
        operation_type: kind.into(),
        target_link: target.into(),
        target_id,
        insert_ms: ctx.now_ms,
        done_ms,
        error,
    };
    let path = format!("{}/operations/{name}", t.scope());
    let body = render_operation(&path, &op, ctx.now_ms, ctx.base_url);
    world.gcp.operations.insert(path, op);
    prune_operations(&mut world.gcp, ctx.now_ms);
    Response::json(200, &body)
}

/// Finished operations kept; older ones are forgotten so that the persisted world does not
/// grow with every call (GCP, too, drops old operations).
pub const KEPT_OPERATIONS: usize = 1000;

fn prune_operations(c: &mut GcpCloud, now: u64) {
    // Prune in batches so that the sort runs once per KEPT_OPERATIONS calls, not per call.
    if c.operations.len() <= 2 * KEPT_OPERATIONS {
        return;
    }
    let mut done: Vec<(u64, String)> = c
        .operations
        .iter()
        .filter(|(_, op)| now >= op.done_ms)
        .map(|(p, op)| (op.done_ms, p.clone()))
        .collect();
    done.sort();
    let excess = done.len().saturating_sub(KEPT_OPERATIONS);
    for (_, p) in done.into_iter().take(excess) {
        c.operations.remove(&p);
    }
}

pub fn render_operation(path: &str, op: &Operation, now: u64, base: &str) -> Value {
    let done = now >= op.done_ms;
    let mut v = json!({
        "kind": "compute#operation",
        "id": op.id.to_string(),
        "name": op.name,
        "operationType": op.operation_type,
        "targetLink": op.target_link,
        "targetId": op.target_id.to_string(),
        "status": if done { "DONE" } else { "RUNNING" },
        "progress": if done { 100 } else { 0 },
        "insertTime": timestamp(op.insert_ms),
        "startTime": timestamp(op.insert_ms),
        "selfLink": path,
        "user": "sandbox@peerctl.invalid",
    });
    if let Some(region) = wire::region_of(path) {
        let project = path.split('/').nth(1).unwrap_or_default();
        v["region"] = json!(format!("projects/{project}/regions/{region}"));
    }
    if done {
        v["endTime"] = json!(timestamp(op.done_ms));
        if let Some(e) = &op.error {
            v["error"] = json!({"errors": [{"code": e.code, "message": e.message}]});
            v["httpErrorStatusCode"] = json!(e.http_status);
            v["httpErrorMessage"] = json!(e.http_message);
        }
    }
    absolutize(&mut v, base);
    v
}

/// `operations.get` and `operations.wait`. Wait answers at once: the sandbox handles a
/// request under the world's lock, so it cannot block until the operation ends; callers loop
/// until DONE, as they must against GCP (whose wait returns after about two minutes).
fn get_operation(world: &World, ctx: &Ctx, t: &Target) -> Response {
    let Some(path) = t.resource_path() else {
        return not_found(&t.collection_path());
    };
    match world.gcp.operations.get(&path) {
        Some(op) => Response::json(200, &render_operation(&path, op, ctx.now_ms, ctx.base_url)),
        None => not_found(&path),
    }
}

fn list_operations(world: &World, ctx: &Ctx, t: &Target, req: &Request) -> Response {
    let prefix = format!("{}/", t.collection_path());
    let items = world
        .gcp
        .operations
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .map(|(p, op)| render_operation(p, op, ctx.now_ms, ctx.base_url))
        .collect();
    list_response("compute#operation", t, items, req, ctx.base_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u64, done_ms: u64) -> Operation {
        Operation {
            id: n,
            name: format!("operation-{n}"),
            scope: "projects/p/global".into(),
            operation_type: "insert".into(),
            target_link: "projects/p/global/firewalls/f".into(),
            target_id: 1,
            insert_ms: n,
            done_ms,
            error: None,
        }
    }

    #[test]
    fn old_finished_operations_are_forgotten_and_running_ones_kept() {
        let mut c = GcpCloud::default();
        let total = 2 * KEPT_OPERATIONS as u64 + 1;
        for n in 0..total {
            // The very first operation is still running.
            let done = if n == 0 { u64::MAX } else { n };
            c.operations.insert(
                format!("projects/p/global/operations/operation-{n:06}"),
                op(n, done),
            );
        }
        prune_operations(&mut c, total);
        assert_eq!(c.operations.len(), KEPT_OPERATIONS + 1);
        assert!(c
            .operations
            .contains_key("projects/p/global/operations/operation-000000"));
        assert!(!c
            .operations
            .contains_key("projects/p/global/operations/operation-000001"));
        assert!(c.operations.contains_key(&format!(
            "projects/p/global/operations/operation-{:06}",
            total - 1
        )));
    }
}
