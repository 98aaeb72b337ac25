//! The Azure operations: create/update (PUT, answered with `Azure-AsyncOperation`), get,
//! list, delete (202 + `Location`), the gateway's BGP/route actions, the connection's shared
//! key, and the polling endpoints of long-running operations. Validation follows what ARM
//! refuses synchronously; provisioning time comes from the latency model.
//!
//! This module routes a request and holds what every resource family shares (metas, async
//! operations, generic get/list/delete, child resources); each family's PUT, DELETE and
//! actions are in a module of their own.

use super::arm::{self, at, bad_request, error, key, str_at, ArmPath, Kind, ResPath};
use super::model::*;
use super::render;
use super::AzureCloud;
use crate::cloud::Cloud;
use crate::sandbox::http::{Request, Response};
use crate::sandbox::latency::Op;
use crate::sandbox::world::{Ctx, World};
use ipnet::Ipv4Net;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use connection::{connection_delete, connection_put, shared_key};
use gateway::{
    gateway_action, gateway_delete, gateway_put, local_gateway_delete, local_gateway_put,
};
use network::{public_ip_delete, public_ip_put, vnet_delete, vnet_put};
use route_table::{route_table_delete, route_table_put};
use security::{nsg_delete, nsg_put, rule_op};

type R<T> = Result<T, Response>;

pub struct Call<'a, 'c> {
    pub world: &'a mut World,
    pub ctx: &'a Ctx<'c>,
    pub req: &'a Request,
    pub api: String,
}

const SKUS: [&str; 11] = [
    "Basic", "VpnGw1", "VpnGw2", "VpnGw3", "VpnGw4", "VpnGw5", "VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ",
    "VpnGw4AZ", "VpnGw5AZ",
];

fn ok(v: Value) -> Response {
    Response::json(200, &v)
}

fn list(values: Vec<Value>) -> Response {
    ok(json!({ "value": values }))
}

fn invalid(message: impl Into<String>) -> Response {
    bad_request("InvalidRequestFormat", message)
}

fn reference_missing(id: &str, by: &str) -> Response {
    bad_request(
        "InvalidResourceReference",
        format!("Resource {id} referenced by resource {by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
    )
}

fn another_operation(id: &str) -> Response {
    error(
        409,
        "AnotherOperationInProgress",
        format!("Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri of the operation on {id}."),
    )
}

fn parse_net(s: &str, field: &str) -> R<Ipv4Net> {
    s.parse::<Ipv4Net>()
        .map_err(|_| invalid(format!("{field}: '{s}' is not a valid IPv4 CIDR prefix.")))
}

fn parse_ip(s: &str, field: &str) -> R<Ipv4Addr> {
    s.parse::<Ipv4Addr>()
        .map_err(|_| invalid(format!("{field}: '{s}' is not a valid IPv4 address.")))
}

/// An address prefix of a VNet, local network gateway or route, checked as the network
/// resource provider does: `InvalidAddressPrefixFormat` when it is no CIDR prefix,
/// `InvalidCIDRNotation` when host bits are set.
fn arm_prefix(s: &str, resource: &str) -> R<Ipv4Net> {
    let n = s.parse::<Ipv4Net>().map_err(|_| {
        bad_request(
            "InvalidAddressPrefixFormat",
            format!("Address prefix {s} of resource {resource} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24."),
        )
    })?;
    if n.trunc() != n {
        return Err(bad_request(
            "InvalidCIDRNotation",
            format!("The address prefix {s} in resource {resource} has an invalid CIDR notation. For the given prefix length, the address prefix should be {}.", n.trunc()),
        ));
    }
    Ok(n)
}

/// A list of [`arm_prefix`]es.
fn arm_prefixes(v: Option<&Value>, field: &str, resource: &str) -> R<Vec<Ipv4Net>> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .ok_or_else(|| invalid(format!("{field} must hold strings.")))
                    .and_then(|s| arm_prefix(s, resource))
            })
            .collect(),
        Some(_) => Err(invalid(format!("{field} must be an array."))),
    }
}

fn prefixes(v: Option<&Value>, field: &str) -> R<Vec<Ipv4Net>> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .ok_or_else(|| invalid(format!("{field} must hold strings.")))
                    .and_then(|s| parse_net(s, field))
            })
            .collect(),
        Some(_) => Err(invalid(format!("{field} must be an array."))),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn tags(b: &Value) -> R<BTreeMap<String, String>> {
    match b.get("tags") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| invalid(format!("tag '{k}' must be a string.")))
            })
            .collect(),
        Some(_) => Err(invalid("tags must be an object.")),
    }
}

fn bool_at(b: &Value, path: &[&str]) -> R<Option<bool>> {
    match at(b, path) {
        None => Ok(None),
        Some(Value::Bool(x)) => Ok(Some(*x)),
        Some(_) => Err(invalid(format!("{} must be a boolean.", path.join(".")))),
    }
}

fn int_at(b: &Value, path: &[&str]) -> R<Option<i64>> {
    match at(b, path) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{} must be an integer.", path.join(".")))),
    }
}

/// `value` must be one of `allowed` (compared as ARM does, case-insensitively); returns the
/// canonical spelling.
fn one_of(value: &str, allowed: &[&str], field: &str) -> R<String> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .map(|a| a.to_string())
        .ok_or_else(|| {
            invalid(format!(
                "{field}: '{value}' is not one of {}.",
                allowed.join(", ")
            ))
        })
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn in_rg(k: &str, p: &ResPath) -> bool {
    k.starts_with(&format!(
        "/subscriptions/{}/resourcegroups/{}/providers/microsoft.network/{}/",
        p.sub.to_ascii_lowercase(),
        p.rg.to_ascii_lowercase(),
        p.kind.segment().to_ascii_lowercase()
    ))
}

fn name_of(p: &ResPath) -> &str {
    p.name.as_deref().unwrap_or("")
}

/// The answer to a delete of what is already absent.
fn no_content() -> Response {
    Response::new(204, "application/json; charset=utf-8", Vec::new())
}

/// A stored resource, through its meta.
trait Res: Clone {
    fn meta(&self) -> &Meta;
    fn meta_mut(&mut self) -> &mut Meta;
}

macro_rules! res {
    ($($t:ty),*) => {$(
        impl Res for $t {
            fn meta(&self) -> &Meta {
                &self.meta
            }
            fn meta_mut(&mut self) -> &mut Meta {
                &mut self.meta
            }
        }
    )*};
}

res!(
    Vnet,
    Subnet,
    PublicIp,
    Gateway,
    LocalGateway,
    Connection,
    Nsg,
    SecurityRule,
    Route,
    RouteTable
);

/// A top-level resource kind and the map of the cloud that holds it.
trait Top: Res {
    const KIND: Kind;
    fn all(az: &AzureCloud) -> &BTreeMap<String, Self>;
    fn all_mut(az: &mut AzureCloud) -> &mut BTreeMap<String, Self>;
}

macro_rules! top {
    ($($t:ty, $kind:ident, $field:ident;)*) => {$(
        impl Top for $t {
            const KIND: Kind = Kind::$kind;
            fn all(az: &AzureCloud) -> &BTreeMap<String, Self> {
                &az.$field
            }
            fn all_mut(az: &mut AzureCloud) -> &mut BTreeMap<String, Self> {
                &mut az.$field
            }
        }
    )*};
}

top! {
    Vnet, VirtualNetworks, vnets;
    PublicIp, PublicIpAddresses, public_ips;
    Gateway, VirtualNetworkGateways, gateways;
    LocalGateway, LocalNetworkGateways, local_gateways;
    Connection, Connections, connections;
    Nsg, NetworkSecurityGroups, nsgs;
    RouteTable, RouteTables, route_tables;
}

/// A child resource kind (subnet, security rule, route): where it sits in its parent, and
/// what is its own in a GET, a DELETE and a PUT; [`child_op`] does the rest.
trait Child: Res {
    type Parent: Top;
    /// The segment below the parent's id, also the parent's inline property.
    const SEGMENT: &'static str;
    fn children(parent: &Self::Parent) -> &BTreeMap<String, Self>;
    fn children_mut(parent: &mut Self::Parent) -> &mut BTreeMap<String, Self>;
    fn render(az: &AzureCloud, x: &Self, now: u64) -> Value;
    /// Vetoes a delete (a child in use).
    fn refuse_delete(_c: &Call, _x: &Self) -> R<()> {
        Ok(())
    }
    /// The child a PUT writes, validated; its meta's `ready_ms` is when it is built.
    fn build(
        c: &mut Call,
        parent: &Self::Parent,
        b: &Value,
        old: Option<&Self>,
        id: String,
        name: &str,
    ) -> R<Self>;
}

/// The delete of a top-level resource: 204 when it is absent; `refuse` may veto it (in use,
/// busy), given the resource's key; otherwise it is marked deleting until `op`'s latency from
/// now, `after` sees that time (a connection's delete keeps its gateway busy), and a 202 answers.
fn delete_top<T: Top>(
    c: &mut Call,
    p: &ResPath,
    op: Op,
    refuse: impl FnOnce(&Call, &str, &T) -> R<()>,
    after: impl FnOnce(&mut AzureCloud, u64),
) -> R<Response> {
    let k = key(&p.id());
    let Some(x) = T::all(c.az()).get(&k) else {
        return Ok(no_content());
    };
    refuse(c, &k, x)?;
    let location = x.meta().location.clone();
    let done = c.now() + c.lat(op);
    if let Some(x) = T::all_mut(&mut c.world.azure).get_mut(&k) {
        x.meta_mut().delete_at.get_or_insert(done);
    }
    after(&mut c.world.azure, done);
    Ok(c.accepted_delete(&p.sub, &location, done))
}

/// What a top-level PUT starts from: the body and the old resource.
fn put_start<T: Top>(c: &Call, p: &ResPath) -> R<(Value, Option<T>)> {
    let b = arm::body(c.req)?;
    let old = T::all(c.az()).get(&key(&p.id())).cloned();
    Ok((b, old))
}

/// Stores the top-level resource a PUT wrote and answers with it: 201 when `created`, 200
/// otherwise, with `Azure-AsyncOperation` polling until its meta's `ready_ms`.
fn store_top<T: Top>(c: &mut Call, p: &ResPath, x: T, created: bool) -> Response {
    let k = key(&p.id());
    let location = x.meta().location.clone();
    let ready = x.meta().ready_ms;
    T::all_mut(&mut c.world.azure).insert(k.clone(), x);
    let body = render_top(c, T::KIND, &k).unwrap_or_default();
    c.accepted_put(created, &p.sub, &location, ready, body)
}

/// The items of a [`Child`] impl that say where the child sits: the parent type, the
/// parent's map of it, and the segment of its id.
macro_rules! child_of {
    ($parent:ty, $field:ident, $segment:literal) => {
        type Parent = $parent;
        const SEGMENT: &'static str = $segment;
        fn children(parent: &$parent) -> &BTreeMap<String, Self> {
            &parent.$field
        }
        fn children_mut(parent: &mut $parent) -> &mut BTreeMap<String, Self> {
            &mut parent.$field
        }
    };
}

/// The parent of a child resource's path, or ARM's 404 for it.
fn parent_of<T: Child>(c: &Call, p: &ResPath) -> R<T::Parent> {
    T::Parent::all(c.az())
        .get(&key(&p.id()))
        .cloned()
        .ok_or_else(|| arm::not_found(T::Parent::KIND, &p.rg, name_of(p)))
}

/// The children a parent's PUT writes inline (`properties.<segment>`), in order; each keeps
/// the meta of the old child of its name. `build` sees the children before it.
fn inline_children<T: Child>(
    c: &mut Call,
    b: &Value,
    old: Option<&T::Parent>,
    parent_id: &str,
    ready: u64,
    unnamed: &str,
    mut build: impl FnMut(&Value, Meta, &BTreeMap<String, T>) -> R<T>,
) -> R<BTreeMap<String, T>> {
    let mut out = BTreeMap::new();
    for v in at(b, &["properties", T::SEGMENT])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(unnamed))?
            .to_string();
        let old_meta = old
            .and_then(|o| T::children(o).get(&name.to_ascii_lowercase()))
            .map(|x| x.meta());
        let id = format!("{parent_id}/{}/{name}", T::SEGMENT);
        let m = c.child_meta(old_meta, id, &name, ready);
        let x = build(&v, m, &out)?;
        out.insert(name.to_ascii_lowercase(), x);
    }
    Ok(out)
}

/// List, get, delete (204 when absent, 202 otherwise) and create/update of a child resource.
fn child_op<T: Child>(c: &mut Call, verb: &str, p: &ResPath) -> R<Response> {
    let pk = key(&p.id());
    let parent = parent_of::<T>(c, p)?;
    let now = c.now();
    let children = T::children(&parent);
    if verb == "List" {
        return Ok(list(
            children
                .values()
                .map(|x| T::render(c.az(), x, now))
                .collect(),
        ));
    }
    let name = p.rest.get(1).cloned().unwrap_or_default();
    let ck = name.to_ascii_lowercase();
    let id = format!("{}/{}/{name}", parent.meta().id, T::SEGMENT);
    let old = children.get(&ck).cloned();
    let location = &parent.meta().location;
    match verb {
        "Get" => old
            .map(|x| ok(T::render(c.az(), &x, now)))
            .ok_or_else(|| arm::child_not_found(&id)),
        "Delete" => {
            let Some(x) = old else {
                return Ok(no_content());
            };
            T::refuse_delete(c, &x)?;
            let done = now + c.lat(Op::AzureDelete);
            if let Some(x) = T::Parent::all_mut(&mut c.world.azure)
                .get_mut(&pk)
                .and_then(|q| T::children_mut(q).get_mut(&ck))
            {
                x.meta_mut().delete_at.get_or_insert(done);
            }
            Ok(c.accepted_delete(&p.sub, location, done))
        }
        _ => {
            let b = arm::body(c.req)?;
            let x = T::build(c, &parent, &b, old.as_ref(), id, &name)?;
            let ready = x.meta().ready_ms;
            let body = T::render(c.az(), &x, now);
            if let Some(q) = T::Parent::all_mut(&mut c.world.azure).get_mut(&pk) {
                T::children_mut(q).insert(ck, x);
            }
            Ok(c.accepted_put(old.is_none(), &p.sub, location, ready, body))
        }
    }
}

impl Call<'_, '_> {
    fn now(&self) -> u64 {
        self.ctx.now_ms
    }

    fn az(&self) -> &AzureCloud {
        &self.world.azure
    }

    fn lat(&self, op: Op) -> u64 {
        self.ctx.latency.ms(op)
    }

    fn meta(
        &mut self,
        id: String,
        name: &str,
        location: &str,
        tags: BTreeMap<String, String>,
        ready_ms: u64,
    ) -> Meta {
        Meta {
            id,
            name: name.to_string(),
            location: location.to_string(),
            tags,
            etag: arm::guid(&mut self.world.ids),
            guid: arm::guid(&mut self.world.ids),
            seeded: false,
            created_ms: self.now(),
            ready_ms,
            delete_at: None,
        }
    }

    /// A fresh meta for a write: a new one on create, the old one with a new etag on update.
    fn write_meta(
        &mut self,
        old: Option<&Meta>,
        id: String,
        name: &str,
        location: &str,
        tags: BTreeMap<String, String>,
        ready_ms: u64,
    ) -> Meta {
        match old {
            Some(m) => Meta {
                etag: arm::guid(&mut self.world.ids),
                tags,
                ready_ms,
                ..m.clone()
            },
            None => self.meta(id, name, location, tags, ready_ms),
        }
    }

    /// The meta of a child resource's write (children have no location or tags).
    fn child_meta(&mut self, old: Option<&Meta>, id: String, name: &str, ready_ms: u64) -> Meta {
        self.write_meta(old, id, name, "", BTreeMap::new(), ready_ms)
    }

    /// The meta of a top-level resource's write, with the request's tags.
    fn top_meta(
        &mut self,
        p: &ResPath,
        b: &Value,
        old: Option<&Meta>,
        location: &str,
        ready_ms: u64,
    ) -> R<Meta> {
        let tags = tags(b)?;
        Ok(self.write_meta(old, p.id(), name_of(p), location, tags, ready_ms))
    }

    /// Registers a long-running operation finishing at `done_ms`; returns its id.
    fn operation(&mut self, sub: &str, location: &str, done_ms: u64) -> String {
        let id = arm::guid(&mut self.world.ids);
        self.world.azure.operations.insert(
            id.clone(),
            AsyncOp {
                done_ms,
                error: None,
                sub: sub.to_string(),
                location: location.to_string(),
            },
        );
        id
    }

    /// 201 (created) or 200 (updated) with the resource and `Azure-AsyncOperation`.
    fn accepted_put(
        &mut self,
        created: bool,
        sub: &str,
        location: &str,
        done_ms: u64,
        body: Value,
    ) -> Response {
        let op = self.operation(sub, location, done_ms);
        let url = arm::async_op_url(self.ctx.base_url, sub, location, &op, &self.api);
        Response::json(if created { 201 } else { 200 }, &body)
            .with_header("Azure-AsyncOperation", url)
            .with_header("Retry-After", arm::retry_after(self.now(), done_ms))
    }

    /// 202 with `Location` and `Azure-AsyncOperation` for a delete finishing at `done_ms`.
    fn accepted_delete(&mut self, sub: &str, location: &str, done_ms: u64) -> Response {
        let op = self.operation(sub, location, done_ms);
        let base = self.ctx.base_url;
        Response::new(202, "application/json; charset=utf-8", Vec::new())
            .with_header(
                "Location",
                arm::op_result_url(base, sub, location, &op, &self.api),
            )
            .with_header(
                "Azure-AsyncOperation",
                arm::async_op_url(base, sub, location, &op, &self.api),
            )
            .with_header("Retry-After", arm::retry_after(self.now(), done_ms))
    }

    fn location(&self, b: &Value, old: Option<&Meta>) -> R<String> {
        match (b.get("location").and_then(Value::as_str), old) {
            (Some(l), Some(m)) if !norm_loc(l).eq(&norm_loc(&m.location)) => Err(bad_request(
                "InvalidResourceLocation",
                format!("The resource '{}' already exists in location '{}'. A resource with the same name cannot be created in location '{l}'.", m.name, m.location),
            )),
            (_, Some(m)) => Ok(m.location.clone()),
            (Some(l), None) => Ok(l.to_string()),
            (None, None) => Err(bad_request("LocationRequired", "The location property is required for this definition.")),
        }
    }

    fn subnet_user(&self, subnet_id: &str) -> Option<&Gateway> {
        let k = key(subnet_id);
        self.az()
            .gateways
            .values()
            .find(|g| g.ip_configs.iter().any(|c| key(&c.subnet) == k))
    }

    fn check_ref(&self, kind: Kind, id: &str, by: &str) -> R<()> {
        let k = key(id);
        let found = match kind {
            Kind::NetworkSecurityGroups => self.az().nsgs.get(&k).map(|x| &x.meta),
            Kind::RouteTables => self.az().route_tables.get(&k).map(|x| &x.meta),
            Kind::PublicIpAddresses => self.az().public_ips.get(&k).map(|x| &x.meta),
            Kind::VirtualNetworkGateways => self.az().gateways.get(&k).map(|x| &x.meta),
            Kind::LocalNetworkGateways => self.az().local_gateways.get(&k).map(|x| &x.meta),
            _ => None,
        };
        match found {
            Some(m) if !m.deleting() => Ok(()),
            _ => Err(reference_missing(id, by)),
        }
    }
}

fn norm_loc(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Answers one Azure request whose operation `op` was identified.
pub fn dispatch(c: &mut Call, op: &str, path: &ArmPath) -> Response {
    let r = match path {
        ArmPath::AsyncOperation { id } => async_status(c, id),
        ArmPath::OperationResult { id } => op_result(c, id),
        ArmPath::Resource(p) => resource(c, op, p),
    };
    r.unwrap_or_else(|e| e)
}

fn async_status(c: &Call, id: &str) -> R<Response> {
    let Some(op) = c.az().operations.get(id) else {
        return Err(error(404, "NotFound", format!("Operation {id} not found.")));
    };
    let now = c.now();
    let body = match (&op.error, now >= op.done_ms) {
        (_, false) => json!({"status": "InProgress"}),
        (None, true) => json!({"status": "Succeeded"}),
        (Some((code, msg)), true) => {
            json!({"status": "Failed", "error": {"code": code, "message": msg}})
        }
    };
    Ok(ok(body).with_header("Retry-After", arm::retry_after(now, op.done_ms)))
}

fn op_result(c: &Call, id: &str) -> R<Response> {
    let Some(op) = c.az().operations.get(id) else {
        return Err(error(404, "NotFound", format!("Operation {id} not found.")));
    };
    let now = c.now();
    if now < op.done_ms {
        let url = arm::op_result_url(c.ctx.base_url, &op.sub, &op.location, id, &c.api);
        return Ok(
            Response::new(202, "application/json; charset=utf-8", Vec::new())
                .with_header("Location", url)
                .with_header("Retry-After", arm::retry_after(now, op.done_ms)),
        );
    }
    Ok(match &op.error {
        None => no_content(),
        Some((code, msg)) => error(400, code, msg.clone()),
    })
}

fn resource(c: &mut Call, op: &str, p: &ResPath) -> R<Response> {
    let (_, verb) = op.split_once('_').unwrap_or((op, ""));
    let family = op.split('_').next().unwrap_or("");
    match (family, verb) {
        (_, "List") if p.rest.is_empty() => Ok(list_top(c, p)),
        ("VirtualNetworks", "Get") => get_top(c, p),
        ("VirtualNetworks", "CreateOrUpdate") => vnet_put(c, p),
        ("VirtualNetworks", "Delete") => vnet_delete(c, p),
        ("Subnets", _) => child_op::<Subnet>(c, verb, p),
        ("PublicIPAddresses", "Get") => get_top(c, p),
        ("PublicIPAddresses", "CreateOrUpdate") => public_ip_put(c, p),
        ("PublicIPAddresses", "Delete") => public_ip_delete(c, p),
        ("VirtualNetworkGateways", "Get") => get_top(c, p),
        ("VirtualNetworkGateways", "CreateOrUpdate") => gateway_put(c, p),
        ("VirtualNetworkGateways", "Delete") => gateway_delete(c, p),
        ("VirtualNetworkGateways", action) => gateway_action(c, action, p),
        ("LocalNetworkGateways", "Get") => get_top(c, p),
        ("LocalNetworkGateways", "CreateOrUpdate") => local_gateway_put(c, p),
        ("LocalNetworkGateways", "Delete") => local_gateway_delete(c, p),
        ("VirtualNetworkGatewayConnections", "Get") => get_top(c, p),
        ("VirtualNetworkGatewayConnections", "CreateOrUpdate") => connection_put(c, p),
        ("VirtualNetworkGatewayConnections", "Delete") => connection_delete(c, p),
        ("VirtualNetworkGatewayConnections", "GetSharedKey" | "SetSharedKey") => {
            shared_key(c, verb, p)
        }
        ("NetworkSecurityGroups", "Get") => get_top(c, p),
        ("NetworkSecurityGroups", "CreateOrUpdate") => nsg_put(c, p),
        ("NetworkSecurityGroups", "Delete") => nsg_delete(c, p),
        ("SecurityRules" | "DefaultSecurityRules", _) => rule_op(c, family, verb, p),
        ("RouteTables", "Get") => get_top(c, p),
        ("RouteTables", "CreateOrUpdate") => route_table_put(c, p),
        ("RouteTables", "Delete") => route_table_delete(c, p),
        ("Routes", _) => child_op::<Route>(c, verb, p),
        _ => Err(error(
            405,
            "MethodNotAllowed",
            format!("The operation {op} is not served."),
        )),
    }
}

/// The JSON of one top-level resource, or `None` when it does not exist.
fn render_top(c: &Call, kind: Kind, k: &str) -> Option<Value> {
    let az = c.az();
    let now = c.now();
    Some(match kind {
        Kind::VirtualNetworks => render::vnet(az, az.vnets.get(k)?, now),
        Kind::PublicIpAddresses => render::public_ip(az, az.public_ips.get(k)?, now),
        Kind::VirtualNetworkGateways => render::gateway(az, az.gateways.get(k)?, now),
        Kind::LocalNetworkGateways => render::local_gateway(az.local_gateways.get(k)?, now),
        Kind::Connections => {
            let conn = az.connections.get(k)?;
            let net = c.ctx.net(c.world);
            render::connection(az, conn, now, net)
        }
        Kind::NetworkSecurityGroups => render::nsg(az, az.nsgs.get(k)?, now),
        Kind::RouteTables => render::route_table(az, az.route_tables.get(k)?, now),
    })
}

fn keys_of(az: &AzureCloud, kind: Kind) -> Vec<String> {
    match kind {
        Kind::VirtualNetworks => az.vnets.keys().cloned().collect(),
        Kind::PublicIpAddresses => az.public_ips.keys().cloned().collect(),
        Kind::VirtualNetworkGateways => az.gateways.keys().cloned().collect(),
        Kind::LocalNetworkGateways => az.local_gateways.keys().cloned().collect(),
        Kind::Connections => az.connections.keys().cloned().collect(),
        Kind::NetworkSecurityGroups => az.nsgs.keys().cloned().collect(),
        Kind::RouteTables => az.route_tables.keys().cloned().collect(),
    }
}

fn list_top(c: &Call, p: &ResPath) -> Response {
    let values = keys_of(c.az(), p.kind)
        .iter()
        .filter(|k| in_rg(k, p))
        .filter_map(|k| render_top(c, p.kind, k))
        .collect();
    list(values)
}

fn get_top(c: &Call, p: &ResPath) -> R<Response> {
    render_top(c, p.kind, &key(&p.id()))
        .map(ok)
        .ok_or_else(|| arm::not_found(p.kind, &p.rg, name_of(p)))
}

// After the macros above, which the per-family modules use.
mod connection;
mod gateway;
mod network;
mod route_table;
mod security;
