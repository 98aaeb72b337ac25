//! The Azure front end of the sandbox: Azure Resource Manager's Microsoft.Network API
//! (VNets, subnets, public IPs, VPN gateways, local network gateways, connections, NSGs, route
//! tables) as azure_mgmt_network and the other Azure SDKs speak it, over the shared world.
//!
//! `arm` holds the wire conventions, `model` the persisted resources, `ops` the operations,
//! `render` the JSON, `physics` the bridge to the network model (`net`).

pub mod arm;
pub mod model;
mod ops;
pub mod physics;
mod render;

use crate::sandbox::http::{Request, Response};
use crate::sandbox::world::{Ctx, World};
use crate::sandbox::{FaultKind, OpInfo};
use crate::topology::{Location, Network};
use ipnet::Ipv4Net;
use model::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every Azure resource in the sandbox. Maps are keyed by lower-cased ARM id.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct AzureCloud {
    pub vnets: BTreeMap<String, Vnet>,
    pub public_ips: BTreeMap<String, PublicIp>,
    pub gateways: BTreeMap<String, Gateway>,
    pub local_gateways: BTreeMap<String, LocalGateway>,
    pub connections: BTreeMap<String, Connection>,
    pub nsgs: BTreeMap<String, Nsg>,
    pub route_tables: BTreeMap<String, RouteTable>,
    /// Long-running operations, by id.
    pub operations: BTreeMap<String, AsyncOp>,
}

impl AzureCloud {
    /// Drops what finished deleting by `now`.
    fn purge(&mut self, now: u64) {
        fn keep<T>(m: &mut BTreeMap<String, T>, now: u64, meta: impl Fn(&T) -> &Meta) {
            m.retain(|_, x| meta(x).exists(now));
        }
        keep(&mut self.vnets, now, |x| &x.meta);
        for v in self.vnets.values_mut() {
            keep(&mut v.subnets, now, |x| &x.meta);
        }
        keep(&mut self.public_ips, now, |x| &x.meta);
        keep(&mut self.gateways, now, |x| &x.meta);
        keep(&mut self.local_gateways, now, |x| &x.meta);
        keep(&mut self.connections, now, |x| &x.meta);
        keep(&mut self.nsgs, now, |x| &x.meta);
        for n in self.nsgs.values_mut() {
            keep(&mut n.rules, now, |x| &x.meta);
        }
        keep(&mut self.route_tables, now, |x| &x.meta);
        for t in self.route_tables.values_mut() {
            keep(&mut t.routes, now, |x| &x.meta);
        }
    }
}

/// Names the operation a request asks for (the REST spec's operationId, e.g.
/// `VirtualNetworkGateways_CreateOrUpdate`); `None` when this front end does not serve it.
pub fn identify(req: &Request) -> Option<OpInfo> {
    let path = arm::parse_path(&req.path)?;
    arm::operation(&req.method, &path).map(|(name, mutating)| OpInfo { name, mutating })
}

/// Handles one request.
pub fn handle(world: &mut World, ctx: &Ctx, req: &Request) -> Response {
    world.azure.purge(ctx.now_ms);
    let Some(path) = arm::parse_path(&req.path) else {
        return arm::error(
            404,
            "InvalidResourceType",
            format!("The sandbox serves no Azure resource at {}.", req.path),
        );
    };
    let Some((op, _)) = arm::operation(&req.method, &path) else {
        return arm::error(
            405,
            "MethodNotAllowed",
            format!(
                "The requested method {} is not allowed on {}.",
                req.method, req.path
            ),
        );
    };
    let api = match arm::check_api_version(req) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut call = ops::Call {
        world,
        ctx,
        req,
        api,
    };
    ops::dispatch(&mut call, &op, &path)
}

/// The error response for an injected fault, in ARM's format: throttling is 429
/// `SubscriptionRequestsThrottled` with `Retry-After`, a server error 500
/// `InternalServerError`. azure_core retries both.
pub fn fault_response(kind: FaultKind, _req: &Request) -> Response {
    match kind {
        FaultKind::Throttle => arm::error(
            429,
            "SubscriptionRequestsThrottled",
            "Number of requests for subscription exceeded the limit. Please try again after 1 second.",
        )
        .with_header("Retry-After", "1"),
        FaultKind::ServerError => arm::error(
            500,
            "InternalServerError",
            "An error occurred while processing the request. Please retry.",
        ),
    }
}

/// ARM's answer to a request whose bearer token it does not accept: 401
/// `InvalidAuthenticationToken` with a `WWW-Authenticate` challenge (without `claims`, so
/// that clients do not take it for a continuous-access-evaluation challenge and retry).
pub fn auth_failure(_req: &Request) -> Response {
    arm::error(
        401,
        "InvalidAuthenticationToken",
        "The access token is invalid.",
    )
    .with_header(
        "www-authenticate",
        "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"The access token is invalid.\"",
    )
    .with_header("x-ms-failure-cause", "gateway")
}

/// The tag that names a seeded resource's topology network.
pub const NETWORK_TAG: &str = "peerctl-network";

/// A free workload subnet of a seeded VNet: the first /24 (or the whole prefix, when smaller)
/// of the VNet's prefixes that overlaps nothing in `taken`; when no /24 is free, the first free
/// /25, then /26 … down to /29 (the smallest subnet Azure allows).
fn free_subnet(cidrs: &[Ipv4Net], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    let overlaps = |a: &Ipv4Net, b: &Ipv4Net| a.contains(&b.network()) || b.contains(&a.network());
    (24..=29).find_map(|len| {
        cidrs.iter().find_map(|c| {
            let len = c.prefix_len().max(len);
            c.subnets(len)
                .ok()?
                .find(|s| !taken.iter().any(|t| overlaps(s, t)))
        })
    })
}

/// Seeds one topology network: the VNet with its prefixes and its NSGs with only the default
/// rules — the topology's `network_security_groups`, or one `<vnet>-nsg` when it names none.
/// Each NSG guards one workload subnet: the first `default`, each further one a subnet
/// `<nsg>-subnet` carved after it, so that every NSG peerctl writes rules into is one that
/// Azure (and the physics) evaluates. No GatewaySubnet: peerctl creates it.
pub fn seed(world: &mut World, net: &Network) {
    let Location::Azure(z) = &net.location else {
        return;
    };
    let rg_id = |kind: arm::Kind, name: &str| {
        arm::resource_id(&z.subscription, &z.resource_group, kind, name)
    };
    let tags: BTreeMap<String, String> = [(NETWORK_TAG.to_string(), net.name.clone())].into();
    let mut meta = |id: String, name: &str, location: &str, tags: BTreeMap<String, String>| Meta {
        id,
        name: name.to_string(),
        location: location.to_string(),
        tags,
        etag: arm::guid(&mut world.ids),
        guid: arm::guid(&mut world.ids),
        seeded: true,
        ..Meta::default()
    };
    let nsg_names = z
        .network_security_groups
        .clone()
        .unwrap_or_else(|| vec![format!("{}-nsg", z.vnet)]);
    let vnet_id = rg_id(arm::Kind::VirtualNetworks, &z.vnet);
    let mut nsgs = Vec::new();
    let mut subnets = BTreeMap::new();
    let mut taken = vec![z.gateway_subnet];
    for (i, nsg_name) in nsg_names.iter().enumerate() {
        let nsg_id = rg_id(arm::Kind::NetworkSecurityGroups, nsg_name);
        // Two networks of one resource group may name the same NSG: the first seeds it.
        if !world.azure.nsgs.contains_key(&arm::key(&nsg_id)) {
            nsgs.push(Nsg {
                meta: meta(nsg_id.clone(), nsg_name, &z.location, tags.clone()),
                rules: BTreeMap::new(),
            });
        }
        let subnet_name = if i == 0 {
            "default".to_string()
        } else {
            format!("{nsg_name}-subnet")
        };
        // A VNet too small for one subnet per NSG leaves the rest unassociated.
        let Some(prefix) = free_subnet(&net.cidrs, &taken) else {
            continue;
        };
        taken.push(prefix);
        subnets.insert(
            subnet_name.to_ascii_lowercase(),
            Subnet {
                meta: meta(
                    format!("{vnet_id}/subnets/{subnet_name}"),
                    &subnet_name,
                    "",
                    BTreeMap::new(),
                ),
                prefix,
                nsg: Some(nsg_id),
                route_table: None,
            },
        );
    }
    let vnet = Vnet {
        meta: meta(vnet_id.clone(), &z.vnet, &z.location, tags),
        prefixes: net.cidrs.clone(),
        subnets,
        topology_name: Some(net.name.clone()),
    };
    for nsg in nsgs {
        world.azure.nsgs.insert(arm::key(&nsg.meta.id), nsg);
    }
    world.azure.vnets.insert(arm::key(&vnet_id), vnet);
}

#[cfg(test)]
mod tests;
