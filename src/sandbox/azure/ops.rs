//! The Azure operations: create/update (PUT, answered with `Azure-AsyncOperation`), get,
//! list, delete (202 + `Location`), the gateway's BGP/route actions, the connection's shared
//! key, and the polling endpoints of long-running operations. Validation follows what ARM
//! refuses synchronously; provisioning time comes from the latency model.

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

// ---- virtual networks and subnets ----

/// A subnet's writable properties, validated against its VNet and sibling subnets.
struct SubnetSpec {
    prefix: Ipv4Net,
    nsg: Option<String>,
    route_table: Option<String>,
}

fn subnet_spec(c: &Call, props: Option<&Value>, id: &str) -> R<SubnetSpec> {
    let empty = json!({});
    let props = props.unwrap_or(&empty);
    let prefix = match (
        str_at(props, &["addressPrefix"]),
        at(props, &["addressPrefixes"]),
    ) {
        (Some(s), _) => parse_net(s, "addressPrefix")?,
        (None, Some(v)) => prefixes(Some(v), "addressPrefixes")?
            .first()
            .copied()
            .ok_or_else(|| invalid("The subnet needs an address prefix."))?,
        (None, None) => {
            return Err(invalid(
                "The subnet needs an address prefix (properties.addressPrefix).",
            ))
        }
    };
    let nsg = str_at(props, &["networkSecurityGroup", "id"]).map(String::from);
    let route_table = str_at(props, &["routeTable", "id"]).map(String::from);
    if let Some(n) = &nsg {
        c.check_ref(Kind::NetworkSecurityGroups, n, id)?;
    }
    if let Some(r) = &route_table {
        c.check_ref(Kind::RouteTables, r, id)?;
    }
    Ok(SubnetSpec {
        prefix,
        nsg,
        route_table,
    })
}

fn check_subnet_layout(
    vnet_name: &str,
    vnet_prefixes: &[Ipv4Net],
    subnets: &[(String, Ipv4Net)],
) -> R<()> {
    for (i, (name, p)) in subnets.iter().enumerate() {
        if p.trunc() != *p {
            return Err(bad_request("NetcfgInvalidSubnet", format!("Subnet '{name}' is not valid in virtual network '{vnet_name}': {p} has host bits set.")));
        }
        if !vnet_prefixes.iter().any(|v| v.contains(p)) {
            return Err(bad_request("NetcfgSubnetRangeOutsideVnet", format!("Subnet '{name}' is not valid because its IP address range {p} is outside the IP address range of virtual network '{vnet_name}'.")));
        }
        if let Some((other, q)) = subnets[..i].iter().find(|(_, q)| overlaps(*p, *q)) {
            return Err(bad_request("NetcfgSubnetRangesOverlap", format!("Subnet '{name}' is not valid because its IP address range {p} overlaps with that of an existing subnet '{other}' ({q}) in virtual network '{vnet_name}'.")));
        }
    }
    Ok(())
}

fn vnet_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Vnet>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|v| &v.meta))?;
    let vnet_prefixes = arm_prefixes(
        at(&b, &["properties", "addressSpace", "addressPrefixes"]),
        "addressSpace.addressPrefixes",
        &p.id(),
    )?;
    if vnet_prefixes.is_empty() {
        return Err(invalid(
            "properties.addressSpace.addressPrefixes must name at least one prefix.",
        ));
    }
    let vnet_id = old
        .as_ref()
        .map(|v| v.meta.id.clone())
        .unwrap_or_else(|| p.id());
    let mut specs = Vec::new();
    for s in at(&b, &["properties", "subnets"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Every subnet needs a name."))?
            .to_string();
        let id = format!("{vnet_id}/subnets/{name}");
        specs.push((name, id.clone(), subnet_spec(c, s.get("properties"), &id)?));
    }
    let layout: Vec<(String, Ipv4Net)> = specs
        .iter()
        .map(|(n, _, s)| (n.clone(), s.prefix))
        .collect();
    check_subnet_layout(name_of(p), &vnet_prefixes, &layout)?;
    // A PUT replaces the subnet list: subnets left out are deleted, unless in use.
    if let Some(old) = &old {
        for s in old.subnets.values() {
            let kept = specs
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(&s.meta.name));
            if let Some(g) = c.subnet_user(&s.meta.id) {
                match kept {
                    None => return Err(subnet_undeletable(s, g)),
                    Some((_, _, spec)) if spec.prefix != s.prefix => {
                        return Err(subnet_prefix_fixed(s, g))
                    }
                    _ => {}
                }
            }
        }
    }
    let now = c.now();
    let ready = now + c.lat(Op::AzureSubnetCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|v| &v.meta), &location, ready)?;
    let mut subnets = BTreeMap::new();
    for (name, id, spec) in specs {
        let old_meta = old
            .as_ref()
            .and_then(|v| v.subnets.get(&name.to_ascii_lowercase()))
            .map(|s| &s.meta);
        let m = c.child_meta(old_meta, id, &name, ready);
        subnets.insert(
            name.to_ascii_lowercase(),
            Subnet {
                meta: m,
                prefix: spec.prefix,
                nsg: spec.nsg,
                route_table: spec.route_table,
            },
        );
    }
    let vnet = Vnet {
        meta,
        prefixes: vnet_prefixes,
        subnets,
        topology_name: old.as_ref().and_then(|v| v.topology_name.clone()),
    };
    Ok(store_top(c, p, vnet, old.is_none()))
}

fn vnet_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, _: &str, v: &Vnet| {
        for s in v.subnets.values() {
            if let Some(g) = c.subnet_user(&s.meta.id) {
                return Err(subnet_undeletable(s, g));
            }
        }
        Ok(())
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

fn subnet_undeletable(s: &Subnet, g: &Gateway) -> Response {
    bad_request(
        "InUseSubnetCannotBeDeleted",
        format!(
            "Subnet {} is in use by {} and cannot be deleted.",
            s.meta.name, g.meta.id
        ),
    )
}

fn subnet_prefix_fixed(s: &Subnet, g: &Gateway) -> Response {
    bad_request(
        "InUseSubnetCannotBeUpdated",
        format!(
            "Subnet {} is in use by {} and its address prefix cannot be changed.",
            s.meta.name, g.meta.id
        ),
    )
}

impl Child for Subnet {
    child_of!(Vnet, subnets, "subnets");

    fn render(az: &AzureCloud, s: &Subnet, now: u64) -> Value {
        render::subnet(az, s, now)
    }

    fn refuse_delete(c: &Call, s: &Subnet) -> R<()> {
        match c.subnet_user(&s.meta.id) {
            Some(g) => Err(subnet_undeletable(s, g)),
            None => Ok(()),
        }
    }

    fn build(
        c: &mut Call,
        vnet: &Vnet,
        b: &Value,
        old: Option<&Subnet>,
        id: String,
        name: &str,
    ) -> R<Subnet> {
        let spec = subnet_spec(c, b.get("properties"), &id)?;
        let mut layout: Vec<(String, Ipv4Net)> = vnet
            .subnets
            .values()
            .filter(|s| !s.meta.name.eq_ignore_ascii_case(name) && !s.meta.deleting())
            .map(|s| (s.meta.name.clone(), s.prefix))
            .collect();
        // Check the new subnet against the others (it comes last so overlaps name it).
        layout.push((name.to_string(), spec.prefix));
        check_subnet_layout(&vnet.meta.name, &vnet.prefixes, &layout)?;
        if let Some((s, g)) = old.and_then(|s| c.subnet_user(&s.meta.id).map(|g| (s, g))) {
            if s.prefix != spec.prefix {
                return Err(subnet_prefix_fixed(s, g));
            }
        }
        let ready = c.now() + c.lat(Op::AzureSubnetCreate);
        let m = c.child_meta(old.map(|s| &s.meta), id, name, ready);
        Ok(Subnet {
            meta: m,
            prefix: spec.prefix,
            nsg: spec.nsg,
            route_table: spec.route_table,
        })
    }
}

// ---- public IPs ----

fn public_ip_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<PublicIp>(c, p)?;
    let k = key(&p.id());
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let sku = match str_at(&b, &["sku", "name"]) {
        Some(s) => one_of(s, &["Basic", "Standard"], "sku.name")?,
        None => old
            .as_ref()
            .map(|o| o.sku.clone())
            .unwrap_or_else(|| "Basic".into()),
    };
    let allocation = match str_at(&b, &["properties", "publicIPAllocationMethod"]) {
        Some(a) => one_of(a, &["Static", "Dynamic"], "publicIPAllocationMethod")?,
        None if sku == "Standard" => "Static".into(),
        None => "Dynamic".into(),
    };
    if sku == "Standard" && allocation == "Dynamic" {
        return Err(bad_request(
            "StandardSkuPublicIPAddressesMustBeStatic",
            "Standard sku publicIp addresses must have publicIPAllocationMethod set to Static.",
        ));
    }
    if let (Some(o), Some(_)) = (
        &old,
        c.az()
            .gateways
            .values()
            .find(|g| g.ip_configs.iter().any(|x| key(&x.public_ip) == k)),
    ) {
        if o.sku != sku || o.allocation != allocation {
            return Err(bad_request("PublicIPAddressInUse", format!("Public IP address {} is in use and its sku or allocation method cannot change.", o.meta.id)));
        }
    }
    let idle = int_at(&b, &["properties", "idleTimeoutInMinutes"])?.unwrap_or(4);
    if !(4..=30).contains(&idle) {
        return Err(invalid("idleTimeoutInMinutes must be between 4 and 30."));
    }
    let ready = c.now() + c.lat(Op::AzurePublicIpCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let ip = match &old {
        Some(o) => o.ip,
        None => c.world.ips.allocate(Cloud::Azure),
    };
    Ok(store_top(
        c,
        p,
        PublicIp {
            meta,
            ip,
            sku,
            allocation,
            idle_timeout: idle as u32,
        },
        old.is_none(),
    ))
}

fn public_ip_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, ip: &PublicIp| {
        match c
        .az()
        .gateways
        .values()
        .find(|g| g.ip_configs.iter().any(|x| key(&x.public_ip) == k))
    {
        Some(g) => Err(bad_request("PublicIPAddressCannotBeDeleted", format!("Public IP address {} can not be deleted since it is still allocated to resource {}/ipConfigurations/{}.", ip.meta.id, g.meta.id, g.ip_configs.first().map(|x| x.name.as_str()).unwrap_or("")))),
        None => Ok(()),
    }
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

// ---- virtual network gateways ----

fn bgp_settings(v: &Value, default_asn: u32) -> R<BgpSettings> {
    let asn = match int_at(v, &["asn"])? {
        Some(a) if (1..=u32::MAX as i64).contains(&a) => a as u32,
        Some(a) => return Err(invalid(format!("bgpSettings.asn {a} is not a valid ASN."))),
        None => default_asn,
    };
    let peering_address = str_at(v, &["bgpPeeringAddress"])
        .map(|s| parse_ip(s, "bgpSettings.bgpPeeringAddress"))
        .transpose()?;
    let peer_weight = int_at(v, &["peerWeight"])?.unwrap_or(0) as i32;
    let mut custom = Vec::new();
    for a in at(v, &["bgpPeeringAddresses"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        for s in strings(a.get("customBgpIpAddresses")) {
            let ip = parse_ip(&s, "customBgpIpAddresses")?;
            // Azure's custom (APIPA) BGP range.
            let o = ip.octets();
            if !(o[0] == 169 && o[1] == 254 && (o[2] == 21 || o[2] == 22)) {
                return Err(bad_request("InvalidCustomBgpIpAddress", format!("Custom BGP IP address {ip} must be in the range 169.254.21.0 to 169.254.22.255.")));
            }
            custom.push(ip);
        }
    }
    Ok(BgpSettings {
        asn,
        peering_address,
        peer_weight,
        custom_addresses: custom,
    })
}

fn gateway_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Gateway>(c, p)?;
    let k = key(&p.id());
    let now = c.now();
    if let Some(o) = &old {
        if o.busy(now) || o.meta.deleting() {
            return Err(another_operation(&o.meta.id));
        }
    }
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let props = b.get("properties").cloned().unwrap_or(json!({}));
    let gateway_type = one_of(
        str_at(&props, &["gatewayType"])
            .ok_or_else(|| invalid("properties.gatewayType is required."))?,
        &["Vpn", "ExpressRoute", "LocalGateway"],
        "gatewayType",
    )?;
    if gateway_type != "Vpn" {
        return Err(invalid(format!(
            "The sandbox serves VPN gateways only, not gatewayType {gateway_type}."
        )));
    }
    let vpn_type = one_of(
        str_at(&props, &["vpnType"]).unwrap_or("RouteBased"),
        &["RouteBased", "PolicyBased"],
        "vpnType",
    )?;
    let sku = one_of(
        str_at(&props, &["sku", "name"])
            .ok_or_else(|| invalid("properties.sku.name is required."))?,
        &SKUS,
        "sku.name",
    )?;
    let active_active = bool_at(&props, &["activeActive"])?.unwrap_or(false);
    let enable_bgp = bool_at(&props, &["enableBgp"])?.unwrap_or(false);
    if sku == "Basic" && (enable_bgp || active_active) {
        return Err(invalid(
            "The Basic SKU supports neither BGP nor active-active.",
        ));
    }
    let bgp = match props.get("bgpSettings") {
        Some(v) if !v.is_null() => bgp_settings(v, 65515)?,
        _ => old.as_ref().map(|o| o.bgp.clone()).unwrap_or(BgpSettings {
            asn: 65515,
            ..BgpSettings::default()
        }),
    };
    let mut ip_configs = Vec::new();
    for (i, cfg) in props
        .get("ipConfigurations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let name = cfg
            .get("name")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("ipconfig{i}"));
        let subnet = str_at(cfg, &["properties", "subnet", "id"])
            .ok_or_else(|| {
                invalid(format!(
                    "Subnet reference is required for ipconfiguration {name}."
                ))
            })?
            .to_string();
        let public_ip = str_at(cfg, &["properties", "publicIPAddress", "id"])
            .ok_or_else(|| {
                invalid(format!(
                    "A public IP address reference is required for ipconfiguration {name}."
                ))
            })?
            .to_string();
        let alloc = one_of(
            str_at(cfg, &["properties", "privateIPAllocationMethod"]).unwrap_or("Dynamic"),
            &["Dynamic", "Static"],
            "privateIPAllocationMethod",
        )?;
        ip_configs.push(GwIpConfig {
            name,
            subnet,
            public_ip,
            private_allocation: alloc,
        });
    }
    let wanted = if active_active { 2 } else { 1 };
    if ip_configs.len() != wanted {
        return Err(invalid(format!(
            "A{} gateway needs exactly {wanted} ipConfigurations, got {}.",
            if active_active {
                "n active-active"
            } else {
                "n active-standby"
            },
            ip_configs.len()
        )));
    }
    let mut vnet_key = None;
    for cfg in &ip_configs {
        let Some((vnet, subnet)) = c.az().subnet_by_id(&cfg.subnet) else {
            return Err(reference_missing(&cfg.subnet, &p.id()));
        };
        if !subnet.is_gateway_subnet() {
            return Err(bad_request("InvalidGatewaySubnet", format!("Subnet {} cannot be used by a virtual network gateway: the gateway's subnet must be named GatewaySubnet.", subnet.meta.id)));
        }
        let vk = key(&vnet.meta.id);
        if vnet_key.as_ref().is_some_and(|v| *v != vk) {
            return Err(invalid(
                "All ipConfigurations of a gateway must use the same virtual network.",
            ));
        }
        vnet_key = Some(vk);
        c.check_ref(Kind::PublicIpAddresses, &cfg.public_ip, &p.id())?;
        let ipk = key(&cfg.public_ip);
        if let Some(g) =
            c.az().gateways.values().find(|g| {
                key(&g.meta.id) != k && g.ip_configs.iter().any(|x| key(&x.public_ip) == ipk)
            })
        {
            return Err(bad_request(
                "PublicIPAddressInUse",
                format!(
                    "Public IP address {} is already used by {}.",
                    cfg.public_ip, g.meta.id
                ),
            ));
        }
    }
    let vnet_key = vnet_key.unwrap_or_default();
    if let Some(g) = c
        .az()
        .gateways
        .values()
        .find(|g| g.vnet == vnet_key && key(&g.meta.id) != k && !g.meta.deleting())
    {
        return Err(bad_request(
            "VirtualNetworkGatewayExistsInVirtualNetwork",
            format!("Virtual network already has a VPN gateway: {}.", g.meta.id),
        ));
    }
    if let Some(o) = &old {
        let same = o
            .ip_configs
            .iter()
            .map(|x| key(&x.subnet))
            .eq(ip_configs.iter().map(|x| key(&x.subnet)));
        if !same {
            return Err(invalid(
                "The ipConfigurations' subnets of an existing gateway cannot change.",
            ));
        }
    }
    let generation = str_at(&props, &["vpnGatewayGeneration"]).map(String::from);
    // A change of configuration reprovisions the gateway; a tags-only PUT is instant.
    let ready = match &old {
        None => now + c.lat(Op::AzureVpnGatewayCreate),
        Some(o)
            if o.sku != sku
                || o.enable_bgp != enable_bgp
                || o.bgp != bgp
                || o.active_active != active_active
                || o.vpn_type != vpn_type =>
        {
            now + c.lat(Op::AzureVpnGatewayUpdate)
        }
        Some(o) => o.meta.ready_ms.max(now),
    };
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let busy_until = old.as_ref().map(|o| o.busy_until).unwrap_or(0);
    let g = Gateway {
        meta,
        vnet: vnet_key,
        ip_configs,
        gateway_type,
        vpn_type,
        sku,
        generation,
        active_active,
        enable_bgp,
        bgp,
        busy_until,
    };
    Ok(store_top(c, p, g, old.is_none()))
}

fn gateway_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, g: &Gateway| {
        if g.busy(c.now()) && !g.meta.deleting() {
            return Err(another_operation(&g.meta.id));
        }
        match c.az().connections.values().find(|x| key(&x.gateway1) == k) {
            Some(conn) => Err(bad_request(
                "InUseVirtualNetworkGatewayCannotBeDeleted",
                format!(
                    "Virtual network gateway {} cannot be deleted while connection {} uses it.",
                    g.meta.id, conn.meta.id
                ),
            )),
            None => Ok(()),
        }
    };
    delete_top(c, p, Op::AzureVpnGatewayDelete, refuse, |_, _| {})
}

/// getBgpPeerStatus / getLearnedRoutes / getAdvertisedRoutes: ARM answers these with 202 +
/// Location and the result on the Location URL; the sandbox answers 200 with the result at
/// once (the shape azure_mgmt_network 0.21's poller can parse — see sdks.md).
fn gateway_action(c: &mut Call, action: &str, p: &ResPath) -> R<Response> {
    let k = key(&p.id());
    let Some(g) = c.az().gateways.get(&k) else {
        return Err(arm::not_found(p.kind, &p.rg, name_of(p)));
    };
    let net = c.ctx.net(c.world);
    let az = c.az();
    let local = g
        .bgp
        .peering_address
        .or(super::physics::default_bgp_address(az, g))
        .map(|a| a.to_string())
        .unwrap_or_default();
    match action {
        "GetBgpPeerStatus" => {
            let filter = c.req.query_param("peer");
            let mut peers = Vec::new();
            for conn in az
                .connections
                .values()
                .filter(|x| key(&x.gateway1) == k && x.enable_bgp && g.enable_bgp)
            {
                let Some(lb) = az
                    .local_gateways
                    .get(&key(&conn.local_gateway2))
                    .and_then(|l| l.bgp.clone())
                else {
                    continue;
                };
                let neighbor = lb
                    .peering_address
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                if filter.is_some_and(|f| f != neighbor) {
                    continue;
                }
                let st = net.end(&crate::sandbox::net::EndId {
                    cloud: Cloud::Azure,
                    resource: conn.meta.id.clone(),
                    tunnel: 0,
                });
                let bgp = st.and_then(|s| s.bgp.as_ref());
                let state = match bgp.map(|b| b.state) {
                    Some(crate::sandbox::net::BgpState::Established) => "Connected",
                    Some(crate::sandbox::net::BgpState::Active) => "Connecting",
                    Some(crate::sandbox::net::BgpState::Idle) => "Idle",
                    None => "Unknown",
                };
                let secs = match (state, st) {
                    ("Connected", Some(s)) => c.now().saturating_sub(s.since_ms) / 1000,
                    _ => 0,
                };
                peers.push(json!({
                    "localAddress": local,
                    "neighbor": neighbor,
                    "asn": lb.asn,
                    "state": state,
                    "connectedDuration": format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
                    "routesReceived": bgp.map(|b| b.learned.len()).unwrap_or(0),
                    "messagesSent": secs / 60,
                    "messagesReceived": secs / 60,
                }));
            }
            Ok(list(peers))
        }
        "GetLearnedRoutes" => Ok(list(render::learned_routes(az, g, net))),
        "GetAdvertisedRoutes" => {
            let Some(peer) = c.req.query_param("peer") else {
                return Err(invalid("The peer query parameter is required."));
            };
            let prefixes = az
                .vnets
                .get(&g.vnet)
                .map(|v| v.prefixes.clone())
                .unwrap_or_default();
            Ok(list(prefixes.iter().map(|pfx| json!({
                "localAddress": local, "network": pfx.to_string(), "nextHop": local,
                "sourcePeer": peer, "origin": "Network", "asPath": g.bgp.asn.to_string(), "weight": 0,
            })).collect()))
        }
        _ => Err(error(
            405,
            "MethodNotAllowed",
            format!("The action {action} is not served."),
        )),
    }
}

// ---- local network gateways ----

fn local_gateway_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<LocalGateway>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let props = b.get("properties").cloned().unwrap_or(json!({}));
    let ip = str_at(&props, &["gatewayIpAddress"])
        .map(|s| parse_ip(s, "gatewayIpAddress"))
        .transpose()?;
    let fqdn = str_at(&props, &["fqdn"]).map(String::from);
    if ip.is_none() && fqdn.is_none() {
        return Err(invalid(
            "A local network gateway needs properties.gatewayIpAddress (or fqdn).",
        ));
    }
    let pfx = arm_prefixes(
        at(&props, &["localNetworkAddressSpace", "addressPrefixes"]),
        "localNetworkAddressSpace.addressPrefixes",
        &p.id(),
    )?;
    let bgp = match props.get("bgpSettings") {
        Some(v) if !v.is_null() => Some(bgp_settings(v, 0)?),
        _ => None,
    };
    if bgp
        .as_ref()
        .is_some_and(|b| b.asn == 0 || b.peering_address.is_none())
    {
        return Err(invalid(
            "bgpSettings of a local network gateway need asn and bgpPeeringAddress.",
        ));
    }
    if bgp.is_none() && pfx.is_empty() {
        return Err(invalid("A local network gateway without bgpSettings needs localNetworkAddressSpace.addressPrefixes."));
    }
    let ready = c.now() + c.lat(Op::AzureLocalNetworkGatewayCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    Ok(store_top(
        c,
        p,
        LocalGateway {
            meta,
            ip,
            fqdn,
            prefixes: pfx,
            bgp,
        },
        old.is_none(),
    ))
}

fn local_gateway_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, l: &LocalGateway| match c
        .az()
        .connections
        .values()
        .find(|x| key(&x.local_gateway2) == k)
    {
        Some(conn) => Err(bad_request(
            "InUseLocalNetworkGatewayCannotBeDeleted",
            format!(
                "Local network gateway {} cannot be deleted while connection {} uses it.",
                l.meta.id, conn.meta.id
            ),
        )),
        None => Ok(()),
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

// ---- connections ----

fn check_shared_key(k: &str) -> R<()> {
    if k.is_empty() || k.len() > 128 || !k.chars().all(|ch| ch.is_ascii_graphic() || ch == ' ') {
        return Err(invalid(
            "The shared key must be 1 to 128 printable ASCII characters.",
        ));
    }
    Ok(())
}

fn ipsec_policy(v: &Value) -> R<IpsecPolicy> {
    let s = |f: &str, allowed: &[&str]| -> R<String> {
        one_of(
            str_at(v, &[f]).ok_or_else(|| invalid(format!("ipsecPolicies[].{f} is required.")))?,
            allowed,
            f,
        )
    };
    Ok(IpsecPolicy {
        sa_lifetime_s: int_at(v, &["saLifeTimeSeconds"])?
            .ok_or_else(|| invalid("ipsecPolicies[].saLifeTimeSeconds is required."))?,
        sa_data_kb: int_at(v, &["saDataSizeKilobytes"])?
            .ok_or_else(|| invalid("ipsecPolicies[].saDataSizeKilobytes is required."))?,
        ipsec_encryption: s(
            "ipsecEncryption",
            &[
                "None",
                "DES",
                "DES3",
                "AES128",
                "AES192",
                "AES256",
                "GCMAES128",
                "GCMAES192",
                "GCMAES256",
            ],
        )?,
        ipsec_integrity: s(
            "ipsecIntegrity",
            &[
                "MD5",
                "SHA1",
                "SHA256",
                "GCMAES128",
                "GCMAES192",
                "GCMAES256",
            ],
        )?,
        ike_encryption: s(
            "ikeEncryption",
            &[
                "DES",
                "DES3",
                "AES128",
                "AES192",
                "AES256",
                "GCMAES256",
                "GCMAES128",
            ],
        )?,
        ike_integrity: s(
            "ikeIntegrity",
            &["MD5", "SHA1", "SHA256", "SHA384", "GCMAES256", "GCMAES128"],
        )?,
        dh_group: s(
            "dhGroup",
            &[
                "None",
                "DHGroup1",
                "DHGroup2",
                "DHGroup14",
                "DHGroup2048",
                "ECP256",
                "ECP384",
                "DHGroup24",
            ],
        )?,
        pfs_group: s(
            "pfsGroup",
            &[
                "None", "PFS1", "PFS2", "PFS2048", "ECP256", "ECP384", "PFS24", "PFS14", "PFSMM",
            ],
        )?,
    })
}

/// A key for a connection created without one: Azure generates it; the sandbox derives it
/// from the id counter so that runs stay deterministic.
fn generated_key(c: &mut Call) -> String {
    arm::guid(&mut c.world.ids).replace('-', "")
}

fn connection_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Connection>(c, p)?;
    let now = c.now();
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let props = b.get("properties").cloned().unwrap_or(json!({}));
    let connection_type = one_of(
        str_at(&props, &["connectionType"])
            .ok_or_else(|| invalid("properties.connectionType is required."))?,
        &["IPsec", "Vnet2Vnet", "ExpressRoute", "VPNClient"],
        "connectionType",
    )?;
    if connection_type != "IPsec" {
        return Err(invalid(format!(
            "The sandbox serves IPsec connections only, not {connection_type}."
        )));
    }
    let gateway1 = str_at(&props, &["virtualNetworkGateway1", "id"])
        .ok_or_else(|| invalid("properties.virtualNetworkGateway1.id is required."))?
        .to_string();
    let local_gateway2 = str_at(&props, &["localNetworkGateway2", "id"])
        .ok_or_else(|| {
            invalid("properties.localNetworkGateway2.id is required for an IPsec connection.")
        })?
        .to_string();
    c.check_ref(Kind::VirtualNetworkGateways, &gateway1, &p.id())?;
    c.check_ref(Kind::LocalNetworkGateways, &local_gateway2, &p.id())?;
    if let Some(o) = &old {
        if key(&o.gateway1) != key(&gateway1) || key(&o.local_gateway2) != key(&local_gateway2) {
            return Err(invalid(
                "The gateways of an existing connection cannot change.",
            ));
        }
        if o.meta.deleting() {
            return Err(another_operation(&o.meta.id));
        }
    }
    let gk = key(&gateway1);
    if let Some(g) = c.az().gateways.get(&gk) {
        if g.busy(now) {
            return Err(another_operation(&g.meta.id));
        }
    }
    let protocol = one_of(
        str_at(&props, &["connectionProtocol"]).unwrap_or("IKEv2"),
        &["IKEv2", "IKEv1"],
        "connectionProtocol",
    )?;
    let shared_key = match (str_at(&props, &["sharedKey"]), &old) {
        (Some(s), _) => {
            check_shared_key(s)?;
            s.to_string()
        }
        (None, Some(o)) => o.shared_key.clone(),
        (None, None) => generated_key(c),
    };
    let mut ipsec_policies = Vec::new();
    for v in props
        .get("ipsecPolicies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        ipsec_policies.push(ipsec_policy(&v)?);
    }
    let mut selector_policies = Vec::new();
    for v in props
        .get("trafficSelectorPolicies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        selector_policies.push(TrafficSelector {
            local: prefixes(v.get("localAddressRanges"), "localAddressRanges")?,
            remote: prefixes(v.get("remoteAddressRanges"), "remoteAddressRanges")?,
        });
    }
    let conn = Connection {
        meta: Meta::default(),
        gateway1,
        local_gateway2,
        connection_type,
        protocol,
        shared_key,
        enable_bgp: bool_at(&props, &["enableBgp"])?.unwrap_or(false),
        routing_weight: int_at(&props, &["routingWeight"])?.unwrap_or(0) as i32,
        dpd_timeout_s: int_at(&props, &["dpdTimeoutSeconds"])?.unwrap_or(45) as i32,
        connection_mode: one_of(
            str_at(&props, &["connectionMode"]).unwrap_or("Default"),
            &["Default", "ResponderOnly", "InitiatorOnly"],
            "connectionMode",
        )?,
        use_policy_based_selectors: bool_at(&props, &["usePolicyBasedTrafficSelectors"])?
            .unwrap_or(false),
        ipsec_policies,
        selector_policies,
    };
    let ready = now + c.lat(Op::AzureConnectionCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    // Creating or changing a connection is an update of its gateway.
    if let Some(g) = c.world.azure.gateways.get_mut(&gk) {
        g.busy_until = g.busy_until.max(ready);
    }
    Ok(store_top(c, p, Connection { meta, ..conn }, old.is_none()))
}

fn connection_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    // Deleting a connection is an update of its gateway: refused while the gateway is busy,
    // and keeps it busy until done.
    let gk = c
        .az()
        .connections
        .get(&key(&p.id()))
        .map(|x| key(&x.gateway1))
        .unwrap_or_default();
    let refuse = |c: &Call, _: &str, conn: &Connection| match c.az().gateways.get(&gk) {
        Some(g) if g.busy(c.now()) && !conn.meta.deleting() => Err(another_operation(&g.meta.id)),
        _ => Ok(()),
    };
    let after = |az: &mut AzureCloud, done: u64| {
        if let Some(g) = az.gateways.get_mut(&gk) {
            g.busy_until = g.busy_until.max(done);
        }
    };
    delete_top(c, p, Op::AzureDelete, refuse, after)
}

/// `…/connections/{n}/sharedkey`: the only place the key can be read back.
fn shared_key(c: &mut Call, verb: &str, p: &ResPath) -> R<Response> {
    let k = key(&p.id());
    let Some(conn) = c.az().connections.get(&k).cloned() else {
        return Err(arm::not_found(p.kind, &p.rg, name_of(p)));
    };
    let id = format!("{}/sharedkey", conn.meta.id);
    if verb == "GetSharedKey" {
        return Ok(ok(json!({"id": id, "value": conn.shared_key})));
    }
    let b = arm::body(c.req)?;
    let value = b
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("The shared key value is required."))?
        .to_string();
    check_shared_key(&value)?;
    let now = c.now();
    let gk = key(&conn.gateway1);
    if c.az().gateways.get(&gk).is_some_and(|g| g.busy(now)) || conn.meta.deleting() {
        return Err(another_operation(&conn.gateway1));
    }
    let ready = now + c.lat(Op::AzureConnectionCreate);
    if let Some(x) = c.world.azure.connections.get_mut(&k) {
        x.shared_key = value.clone();
        x.meta.ready_ms = ready;
    }
    let etag = arm::guid(&mut c.world.ids);
    if let Some(x) = c.world.azure.connections.get_mut(&k) {
        x.meta.etag = etag;
    }
    if let Some(g) = c.world.azure.gateways.get_mut(&gk) {
        g.busy_until = g.busy_until.max(ready);
    }
    Ok(c.accepted_put(
        false,
        &p.sub,
        &conn.meta.location,
        ready,
        json!({"id": id, "value": value}),
    ))
}

// ---- network security groups and rules ----

/// Service tags a security rule may name besides `VirtualNetwork`, `Internet` and
/// `AzureLoadBalancer` (Azure's published service tags, the common ones). They name Azure
/// service ranges that no sandbox flow comes from, so the physics never matches them.
const SERVICE_TAGS: [&str; 40] = [
    "VirtualNetwork",
    "Internet",
    "AzureLoadBalancer",
    "AzureCloud",
    "AzureActiveDirectory",
    "AzureBackup",
    "AzureConnectors",
    "AzureContainerRegistry",
    "AzureCosmosDB",
    "AzureDatabricks",
    "AzureDataLake",
    "AzureDevOps",
    "AzureEventGrid",
    "AzureFrontDoor.Backend",
    "AzureFrontDoor.Frontend",
    "AzureFrontDoor.FirstParty",
    "AzureIoTHub",
    "AzureKeyVault",
    "AzureMachineLearning",
    "AzureMonitor",
    "AzurePlatformDNS",
    "AzurePlatformIMDS",
    "AzurePlatformLKM",
    "AzureResourceManager",
    "AzureSiteRecovery",
    "AzureTrafficManager",
    "AzureUpdateDelivery",
    "ApiManagement",
    "AppService",
    "BatchNodeManagement",
    "DataFactory",
    "EventHub",
    "GatewayManager",
    "GuestAndHybridManagement",
    "HDInsight",
    "LogicApps",
    "MicrosoftContainerRegistry",
    "ServiceBus",
    "Sql",
    "Storage",
];

/// What an NSG address prefix is, or `None` when ARM refuses it.
#[derive(Debug, PartialEq, Eq)]
enum AddressPrefix {
    /// `*`
    Any,
    ServiceTag,
    /// An IPv4/IPv6 address or a CIDR prefix without host bits.
    Address,
}

fn address_prefix(s: &str) -> Option<AddressPrefix> {
    if s == "*" {
        return Some(AddressPrefix::Any);
    }
    // Tags compare case-insensitively; the regional form `Storage.WestUS` exists for the
    // service tags, not for the three that the default rules use.
    let (base, region) = match s.split_once('.') {
        Some((b, r)) if !SERVICE_TAGS.iter().any(|t| t.eq_ignore_ascii_case(s)) => (b, Some(r)),
        _ => (s, None),
    };
    let known = SERVICE_TAGS.iter().any(|t| t.eq_ignore_ascii_case(base));
    let regional_ok = |r: &str| {
        !r.is_empty()
            && r.bytes().all(|b| b.is_ascii_alphanumeric())
            && !["VirtualNetwork", "Internet", "AzureLoadBalancer"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(base))
    };
    if known && region.is_none_or(regional_ok) {
        return Some(AddressPrefix::ServiceTag);
    }
    let exact_v4 = |n: Ipv4Net| n.trunc() == n;
    let exact_v6 = |n: ipnet::Ipv6Net| n.trunc() == n;
    let ok = s.parse::<std::net::IpAddr>().is_ok()
        || s.parse::<Ipv4Net>().is_ok_and(exact_v4)
        || s.parse::<ipnet::Ipv6Net>().is_ok_and(exact_v6);
    ok.then_some(AddressPrefix::Address)
}

/// A port or port range as ARM accepts it: `*`, `0`–`65535`, or `a-b` with `a <= b`.
fn port_range_ok(s: &str) -> bool {
    let num = |x: &str| {
        (1..=5).contains(&x.len())
            && x.bytes().all(|b| b.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|n| n <= 65535)
    };
    s == "*"
        || num(s)
        || s.split_once('-').is_some_and(|(a, b)| {
            num(a) && num(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok()
        })
}

fn security_rule(v: &Value, meta: Meta) -> R<SecurityRule> {
    let props = v.get("properties").cloned().unwrap_or(json!({}));
    let s = |f: &str| str_at(&props, &[f]).map(String::from);
    let pair = |single: &str, plural: &str| -> (Vec<String>, bool) {
        let many = strings(props.get(plural));
        if many.is_empty() {
            (s(single).into_iter().collect(), false)
        } else {
            (many, true)
        }
    };
    let protocol = one_of(
        &s("protocol").ok_or_else(|| invalid("securityRule.protocol is required."))?,
        &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"],
        "protocol",
    )?;
    let access = one_of(
        &s("access").ok_or_else(|| invalid("securityRule.access is required."))?,
        &["Allow", "Deny"],
        "access",
    )?;
    let direction = one_of(
        &s("direction").ok_or_else(|| invalid("securityRule.direction is required."))?,
        &["Inbound", "Outbound"],
        "direction",
    )?;
    let priority = int_at(&props, &["priority"])?
        .ok_or_else(|| invalid("securityRule.priority is required."))?;
    if !(100..=4096).contains(&priority) {
        return Err(bad_request("SecurityRuleInvalidPriority", format!("Security rule has invalid Priority. Value provided: {priority} Allowed range 100-4096.")));
    }
    let (source_ports, plural_source_ports) = pair("sourcePortRange", "sourcePortRanges");
    let (dest_ports, plural_dest_ports) = pair("destinationPortRange", "destinationPortRanges");
    let (sources, plural_sources) = pair("sourceAddressPrefix", "sourceAddressPrefixes");
    let (destinations, plural_destinations) =
        pair("destinationAddressPrefix", "destinationAddressPrefixes");
    let id = &meta.id;
    for (fields, v) in [
        ("SourcePortRanges or SourcePortRange", &source_ports),
        ("DestinationPortRanges or DestinationPortRange", &dest_ports),
        (
            "SourceAddressPrefixes, SourceAddressPrefix, or SourceApplicationSecurityGroups",
            &sources,
        ),
        (
            "DestinationAddressPrefixes, DestinationAddressPrefix, or DestinationApplicationSecurityGroups",
            &destinations,
        ),
    ] {
        if v.is_empty() {
            return Err(bad_request("SecurityRuleParametersMissing", format!("Required security rule parameters are missing for security rule with Id: {id}. Security rule must specify {fields}.")));
        }
    }
    for p in source_ports.iter().chain(&dest_ports) {
        if !port_range_ok(p) {
            return Err(bad_request("SecurityRuleInvalidPortRange", format!("Security rule has invalid Port range. Value provided: {p}. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535.")));
        }
    }
    for (field, plural, v) in [
        ("SourceAddressPrefixes", plural_sources, &sources),
        (
            "DestinationAddressPrefixes",
            plural_destinations,
            &destinations,
        ),
    ] {
        for p in v {
            match address_prefix(p) {
                None => {
                    return Err(bad_request(
                        "SecurityRuleInvalidAddressPrefix",
                        format!(
                            "Security rule {id} has invalid Address prefix. Value provided: {p}."
                        ),
                    ))
                }
                // The plural fields take addresses and prefixes only.
                Some(AddressPrefix::Any | AddressPrefix::ServiceTag) if plural => {
                    return Err(bad_request("SecurityRuleParameterContainsUnsupportedValue", format!("Security rule parameter {field} for rule with Id {id} cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: {p}.")));
                }
                Some(_) => {}
            }
        }
    }
    Ok(SecurityRule {
        meta,
        description: s("description"),
        protocol,
        source_ports,
        dest_ports,
        sources,
        destinations,
        access,
        priority: priority as u32,
        direction,
        plural_source_ports,
        plural_dest_ports,
        plural_sources,
        plural_destinations,
    })
}

fn check_rule_conflict<'a>(
    rules: impl Iterator<Item = &'a SecurityRule>,
    r: &SecurityRule,
) -> R<()> {
    for o in rules {
        if !o.meta.name.eq_ignore_ascii_case(&r.meta.name)
            && o.priority == r.priority
            && o.direction == r.direction
            && !o.meta.deleting()
        {
            return Err(bad_request("SecurityRuleConflict", format!("Security rule {} conflicts with rule {}. Rules cannot have the same Priority and Direction.", r.meta.name, o.meta.name)));
        }
    }
    Ok(())
}

fn nsg_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Nsg>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let ready = c.now() + c.lat(Op::AzureNsgRuleCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let rules = inline_children(
        c,
        &b,
        old.as_ref(),
        &meta.id,
        ready,
        "Every security rule needs a name.",
        |v, m, so_far| {
            let r = security_rule(v, m)?;
            check_rule_conflict(so_far.values(), &r)?;
            Ok(r)
        },
    )?;
    Ok(store_top(c, p, Nsg { meta, rules }, old.is_none()))
}

fn nsg_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, n: &Nsg| {
        match c
        .az()
        .vnets
        .values()
        .flat_map(|v| v.subnets.values())
        .find(|s| s.nsg.as_deref().map(key).as_deref() == Some(k))
    {
        Some(s) => Err(bad_request("InUseNetworkSecurityGroupCannotBeDeleted", format!("Network security group {} cannot be deleted because it is in use by the following resources: {}.", n.meta.id, s.meta.id))),
        None => Ok(()),
    }
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

impl Child for SecurityRule {
    child_of!(Nsg, rules, "securityRules");

    fn render(_: &AzureCloud, r: &SecurityRule, now: u64) -> Value {
        render::security_rule(r, render::RULE_TYPE, now)
    }

    fn build(
        c: &mut Call,
        nsg: &Nsg,
        b: &Value,
        old: Option<&SecurityRule>,
        id: String,
        name: &str,
    ) -> R<SecurityRule> {
        let ready = c.now() + c.lat(Op::AzureNsgRuleCreate);
        let m = c.child_meta(old.map(|r| &r.meta), id, name, ready);
        let r = security_rule(b, m)?;
        check_rule_conflict(nsg.rules.values(), &r)?;
        Ok(r)
    }
}

/// Security rules are children like any; the default rules are read-only and derived.
fn rule_op(c: &mut Call, family: &str, verb: &str, p: &ResPath) -> R<Response> {
    if family != "DefaultSecurityRules" {
        return child_op::<SecurityRule>(c, verb, p);
    }
    let nsg = parent_of::<SecurityRule>(c, p)?;
    let now = c.now();
    let defaults = super::physics::default_rules(&nsg);
    let show = |r: &SecurityRule| render::security_rule(r, render::DEFAULT_RULE_TYPE, now);
    if verb == "List" {
        return Ok(list(defaults.iter().map(show).collect()));
    }
    let name = p.rest.get(1).cloned().unwrap_or_default();
    defaults
        .iter()
        .find(|r| r.meta.name.eq_ignore_ascii_case(&name))
        .map(|r| ok(show(r)))
        .ok_or_else(|| {
            arm::child_not_found(&format!("{}/defaultSecurityRules/{name}", nsg.meta.id))
        })
}

// ---- route tables and routes ----

fn route(v: &Value, meta: Meta) -> R<Route> {
    let props = v.get("properties").cloned().unwrap_or(json!({}));
    let prefix = arm_prefix(
        str_at(&props, &["addressPrefix"])
            .ok_or_else(|| invalid("route.addressPrefix is required."))?,
        &meta.id,
    )?;
    let next_hop_type = one_of(
        str_at(&props, &["nextHopType"])
            .ok_or_else(|| invalid("route.nextHopType is required."))?,
        &[
            "VirtualNetworkGateway",
            "VnetLocal",
            "Internet",
            "VirtualAppliance",
            "None",
        ],
        "nextHopType",
    )?;
    let name = &meta.name;
    // Clients that model the field as a plain string send "" for "no address".
    let next_hop_ip = match str_at(&props, &["nextHopIpAddress"]).filter(|s| !s.is_empty()) {
        None if next_hop_type == "VirtualAppliance" => {
            return Err(bad_request("MissingNextHopIpAddress", format!("NextHopIpAddress cannot be Null or Empty in route {name} when NextHopType is VirtualAppliance.")));
        }
        None => None,
        Some(ip) if next_hop_type != "VirtualAppliance" => {
            return Err(bad_request("InvalidNextHopIpAddress", format!("NextHopIpAddress {ip} is not allowed in route {name}: only NextHopType VirtualAppliance takes a next hop address, not {next_hop_type}.")));
        }
        Some(ip) => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
            bad_request(
                "InvalidNextHopIpAddress",
                format!("NextHopIpAddress {ip} in route {name} is not a valid IPv4 address."),
            )
        })?),
    };
    Ok(Route {
        meta,
        prefix,
        next_hop_type,
        next_hop_ip,
    })
}

fn route_table_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<RouteTable>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let ready = c.now() + c.lat(Op::AzureRouteCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let routes = inline_children(
        c,
        &b,
        old.as_ref(),
        &meta.id,
        ready,
        "Every route needs a name.",
        |v, m, _| route(v, m),
    )?;
    let disable = bool_at(&b, &["properties", "disableBgpRoutePropagation"])?.unwrap_or(false);
    Ok(store_top(
        c,
        p,
        RouteTable {
            meta,
            disable_bgp_propagation: disable,
            routes,
        },
        old.is_none(),
    ))
}

fn route_table_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, t: &RouteTable| match c
        .az()
        .vnets
        .values()
        .flat_map(|v| v.subnets.values())
        .find(|s| s.route_table.as_deref().map(key).as_deref() == Some(k))
    {
        Some(s) => Err(bad_request(
            "InUseRouteTableCannotBeDeleted",
            format!(
                "Route table {} is in use by {} and cannot be deleted.",
                t.meta.id, s.meta.id
            ),
        )),
        None => Ok(()),
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

impl Child for Route {
    child_of!(RouteTable, routes, "routes");

    fn render(_: &AzureCloud, r: &Route, now: u64) -> Value {
        render::route(r, now)
    }

    fn build(
        c: &mut Call,
        _: &RouteTable,
        b: &Value,
        old: Option<&Route>,
        id: String,
        name: &str,
    ) -> R<Route> {
        let ready = c.now() + c.lat(Op::AzureRouteCreate);
        let m = c.child_meta(old.map(|r| &r.meta), id, name, ready);
        route(b, m)
    }
}
