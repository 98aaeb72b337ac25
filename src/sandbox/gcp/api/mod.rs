//! The Compute v1 operations: generic get/list/delete over every collection, per-kind insert,
//! patch and update with the validation GCP does synchronously, Operation resources, and the
//! rendering of stored resources into API bodies. This module routes a request and holds the
//! generic operations; `validate` has each kind's insert/patch checks, `render` the bodies.

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

mod render;
mod validate;
use render::{render, Render};
use validate::{field, valid_name, Validate};

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
