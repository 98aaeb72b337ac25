//! The AWS front end of the sandbox: the EC2 Query API (2016-11-15) for VPCs, route tables,
//! security groups, virtual private gateways, customer gateways and Site-to-Site VPN
//! connections, with lazily derived provisioning states and VgwTelemetry from the physics.
//!
//! `wire` is the protocol, `vpn` the VPN operations, `vpc` the VPC-side operations,
//! `model` what the physics sees. See docs/sandbox-aws.md.

mod model;
mod vpc;
mod vpn;
pub mod wire;

#[cfg(test)]
mod tests;

use crate::sandbox::http::{Request, Response};
use crate::sandbox::world::{Ctx, World};
use crate::sandbox::{FaultKind, OpInfo};
use crate::topology::{Location, Network};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use wire::{ApiError, ApiResult, Params, Tags};

pub use model::telemetry_message;

/// The account that owns every sandbox resource.
pub const OWNER_ID: &str = "123456789012";

/// How long a deleted VGW, CGW or VPN connection stays visible (state `deleted`) in Describe
/// calls after its deletion finished, in sandbox time. AWS keeps them for about an hour; this
/// is not scaled by `--time-scale` so that a fast sandbox still shows them.
pub const DELETED_VISIBLE_MS: u64 = 60 * 60 * 1000;

/// Every AWS resource in the sandbox.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct AwsCloud {
    pub vpcs: BTreeMap<String, Vpc>,
    pub subnets: BTreeMap<String, Subnet>,
    pub route_tables: BTreeMap<String, RouteTable>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub vpn_gateways: BTreeMap<String, VpnGateway>,
    pub customer_gateways: BTreeMap<String, CustomerGateway>,
    pub vpn_connections: BTreeMap<String, VpnConnection>,
    /// Eventual consistency: for this long after its creation a resource is
    /// `….NotFound` when described by id (0 = always consistent).
    #[serde(default)]
    pub consistency_ms: u64,
}

/// When a deletion was asked for and when it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    pub requested_ms: u64,
    pub done_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    pub cidrs: Vec<Ipv4Net>,
    pub region: String,
    /// The topology network it was seeded from.
    pub network: Option<String>,
    pub tags: Tags,
    pub seeded: bool,
    /// The route tables peerctl manages in this VPC (the topology's `route_tables`);
    /// `None` = every route table of the VPC, as the planner reads an absent list.
    #[serde(default)]
    pub managed_route_tables: Option<Vec<String>>,
    /// The security groups peerctl writes rules into (the topology's `security_groups`);
    /// `None` = every security group of the VPC.
    #[serde(default)]
    pub managed_security_groups: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub cidr: Ipv4Net,
    pub availability_zone: String,
    pub tags: Tags,
    pub seeded: bool,
}

/// A route written with CreateRoute (or the seeded `local` routes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRoute {
    pub destination: Ipv4Net,
    /// `local` or a `vgw-…`.
    pub gateway_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub main: bool,
    pub association_id: String,
    /// The subnet a non-main table is associated with (the main table's association is the
    /// VPC-wide implicit one).
    #[serde(default)]
    pub subnet_id: Option<String>,
    pub routes: Vec<TableRoute>,
    /// VGWs whose routes propagate into this table.
    pub propagating_vgws: Vec<String>,
    pub tags: Tags,
    pub seeded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SgRule {
    pub id: String,
    pub egress: bool,
    /// `-1` (all), `tcp`, `udp`, `icmp`, or another protocol number.
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidr: Option<Ipv4Net>,
    /// A referenced security group (`sg-…`) instead of a CIDR.
    pub group: Option<String>,
    pub description: Option<String>,
    pub seeded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub rules: Vec<SgRule>,
    pub tags: Tags,
    pub seeded: bool,
}

/// A VGW's attachment to a VPC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VgwAttachment {
    pub vpc_id: String,
    /// `attaching` until then, `attached` after.
    pub attached_ms: u64,
    /// Set by DetachVpnGateway: `detaching` until `done_ms`, `detached` after.
    pub detach: Option<Deletion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VpnGateway {
    pub id: String,
    pub amazon_side_asn: u64,
    pub availability_zone: Option<String>,
    pub attachment: Option<VgwAttachment>,
    pub tags: Tags,
    pub created_ms: u64,
    pub ready_ms: u64,
    pub deleted: Option<Deletion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerGateway {
    pub id: String,
    pub ip_address: Ipv4Addr,
    pub bgp_asn: u64,
    pub device_name: Option<String>,
    /// The region it was created in: customer gateways are regional, so the same address
    /// and ASN in two regions are two gateways.
    #[serde(default = "default_region")]
    pub region: String,
    pub tags: Tags,
    pub created_ms: u64,
    pub ready_ms: u64,
    pub deleted: Option<Deletion>,
}

/// The region of a request without a SigV4 signature, and of gateways stored before regions
/// were recorded.
pub const DEFAULT_REGION: &str = "us-east-1";

fn default_region() -> String {
    DEFAULT_REGION.to_string()
}

/// The region a request is addressed to: EC2 has one endpoint per region and the sandbox one
/// for all, so the region comes from the SigV4 credential scope
/// (`Credential=AKID/20240101/us-west-2/ec2/aws4_request`), as every SDK and tool signs.
pub(crate) fn request_region(req: &Request) -> String {
    req.header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .filter(|r| !r.is_empty())
        .map_or_else(default_region, str::to_string)
}

/// One of a VPN connection's two tunnels, as configured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VpnTunnel {
    pub outside_ip: Ipv4Addr,
    pub inside_cidr: Ipv4Net,
    pub psk: String,
    /// `ikev1`, `ikev2`; empty = both (AWS's default).
    pub ike_versions: Vec<String>,
    pub phase1_encryption: Vec<String>,
    pub phase1_integrity: Vec<String>,
    pub phase1_dh_groups: Vec<u32>,
    pub phase2_encryption: Vec<String>,
    pub phase2_integrity: Vec<String>,
    pub phase2_dh_groups: Vec<u32>,
    /// Lifetimes, rekey, replay window, DPD and startup options, as given.
    #[serde(default)]
    pub tuning: TunnelTuning,
    /// When the tunnel's last ModifyVpnTunnelOptions completes: until then the tunnel is
    /// being re-established and the physics sees it as provisioning (0 = never modified).
    #[serde(default)]
    pub reconfigured_ms: u64,
}

/// A tunnel's tuning options. `None` = not given, AWS's default applies (and DescribeVpnConnections
/// does not show it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelTuning {
    pub phase1_lifetime_s: Option<u32>,
    pub phase2_lifetime_s: Option<u32>,
    pub rekey_margin_s: Option<u32>,
    pub rekey_fuzz_pct: Option<u32>,
    pub replay_window: Option<u32>,
    pub dpd_timeout_s: Option<u32>,
    pub dpd_timeout_action: Option<String>,
    pub startup_action: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VpnConnection {
    pub id: String,
    pub customer_gateway_id: String,
    pub vpn_gateway_id: String,
    pub static_routes_only: bool,
    pub local_ipv4_network_cidr: Ipv4Net,
    pub remote_ipv4_network_cidr: Ipv4Net,
    pub tunnels: Vec<VpnTunnel>,
    /// CreateVpnConnectionRoute destinations.
    pub routes: Vec<Ipv4Net>,
    pub tags: Tags,
    pub created_ms: u64,
    pub ready_ms: u64,
    /// ModifyVpnTunnelOptions: the connection is `modifying` until then.
    #[serde(default)]
    pub modifying_until_ms: u64,
    pub deleted: Option<Deletion>,
}

impl VpnConnection {
    /// `pending → available ⇄ modifying → deleting → deleted`.
    pub(crate) fn state(&self, now_ms: u64) -> &'static str {
        match lifecycle(now_ms, self.ready_ms, self.deleted.as_ref()) {
            "available" if now_ms < self.modifying_until_ms => "modifying",
            s => s,
        }
    }
}

/// `pending → available → deleting → deleted`, derived from the stored times.
pub(crate) fn lifecycle(now_ms: u64, ready_ms: u64, deleted: Option<&Deletion>) -> &'static str {
    match deleted {
        Some(d) if now_ms < d.done_ms => "deleting",
        Some(_) => "deleted",
        None if now_ms < ready_ms => "pending",
        None => "available",
    }
}

impl AwsCloud {
    /// Drops deleted resources whose visibility window has passed.
    fn purge(&mut self, now_ms: u64) {
        let keep = |d: &Option<Deletion>| d.is_none_or(|d| now_ms < d.done_ms + DELETED_VISIBLE_MS);
        self.vpn_gateways.retain(|_, g| keep(&g.deleted));
        self.customer_gateways.retain(|_, g| keep(&g.deleted));
        self.vpn_connections.retain(|_, c| keep(&c.deleted));
    }

    /// Whether `created_ms` is still inside the eventual-consistency window.
    fn invisible(&self, now_ms: u64, created_ms: u64) -> bool {
        now_ms < created_ms.saturating_add(self.consistency_ms)
    }

    /// Whether a VGW exists and no deletion was asked for.
    fn vgw_live(&self, id: &str) -> bool {
        self.vpn_gateways
            .get(id)
            .is_some_and(|g| g.deleted.is_none())
    }

    fn cgw_live(&self, id: &str) -> bool {
        self.customer_gateways
            .get(id)
            .is_some_and(|g| g.deleted.is_none())
    }

    /// The VPC's main route table.
    pub fn main_route_table(&self, vpc_id: &str) -> Option<&RouteTable> {
        self.route_tables
            .values()
            .find(|t| t.vpc_id == vpc_id && t.main)
    }

    /// The route tables peerctl manages in a VPC, in the order routing evaluates them: the
    /// topology's list when it gave one (an id missing from the world is `Err(id)`), else
    /// every table of the VPC, main table first.
    pub fn managed_route_tables(&self, vpc: &Vpc) -> Vec<Result<&RouteTable, String>> {
        match &vpc.managed_route_tables {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    self.route_tables
                        .get(id)
                        .filter(|t| t.vpc_id == vpc.id)
                        .ok_or_else(|| id.clone())
                })
                .collect(),
            None => {
                let mut tables: Vec<&RouteTable> = self
                    .route_tables
                    .values()
                    .filter(|t| t.vpc_id == vpc.id)
                    .collect();
                tables.sort_by_key(|t| !t.main);
                tables.into_iter().map(Ok).collect()
            }
        }
    }

    /// The security groups peerctl manages in a VPC: the topology's list when it gave one
    /// (an id missing from the world is `Err(id)`), else every group of the VPC (default
    /// first), as the topology format documents.
    pub fn managed_security_groups(&self, vpc: &Vpc) -> Vec<Result<&SecurityGroup, String>> {
        match &vpc.managed_security_groups {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    self.security_groups
                        .get(id)
                        .filter(|g| g.vpc_id == vpc.id)
                        .ok_or_else(|| id.clone())
                })
                .collect(),
            None => {
                let mut groups: Vec<&SecurityGroup> = self
                    .security_groups
                    .values()
                    .filter(|g| g.vpc_id == vpc.id)
                    .collect();
                groups.sort_by_key(|g| g.name != "default");
                if groups.is_empty() {
                    vec![Err("default".to_string())]
                } else {
                    groups.into_iter().map(Ok).collect()
                }
            }
        }
    }

    /// The VPC's security group named `default`.
    pub fn default_security_group(&self, vpc_id: &str) -> Option<&SecurityGroup> {
        self.security_groups
            .values()
            .find(|g| g.vpc_id == vpc_id && g.name == "default")
    }
}

/// Every action this front end serves.
const ACTIONS: &[&str] = &[
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeVpcAttribute",
    "CreateVpnGateway",
    "DescribeVpnGateways",
    "DeleteVpnGateway",
    "AttachVpnGateway",
    "DetachVpnGateway",
    "CreateCustomerGateway",
    "DescribeCustomerGateways",
    "DeleteCustomerGateway",
    "CreateVpnConnection",
    "DescribeVpnConnections",
    "DeleteVpnConnection",
    "ModifyVpnTunnelOptions",
    "CreateVpnConnectionRoute",
    "DeleteVpnConnectionRoute",
    "DescribeRouteTables",
    "EnableVgwRoutePropagation",
    "DisableVgwRoutePropagation",
    "CreateRoute",
    "DeleteRoute",
    "DescribeSecurityGroups",
    "DescribeSecurityGroupRules",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupEgress",
    "CreateTags",
    "DeleteTags",
];

/// Reads a request's parameters, before the world lock is taken: linear in the body, with
/// EC2's member limits and one value per parameter (so there is one `Action`). A refusal is
/// the EC2 error document, ready to send.
pub fn prepare(req: &Request) -> Result<Params, Response> {
    Params::parse(&req.body).map_err(|e| {
        // No world here: a process-wide counter keeps request ids distinct.
        static REFUSED: AtomicU64 = AtomicU64::new(0);
        let id = wire::request_id((1 << 45) | REFUSED.fetch_add(1, Ordering::Relaxed));
        wire::error(&e, &id)
    })
}

/// Names the operation a request's parameters ask for; `None` when it is not an EC2 action
/// this front end serves.
pub fn identify(p: &Params) -> Option<OpInfo> {
    let a = p.get("Action")?;
    ACTIONS.contains(&a).then(|| OpInfo {
        mutating: !a.starts_with("Describe"),
        name: a.to_string(),
    })
}

/// Handles one request whose parameters [`prepare`] read.
pub fn handle(world: &mut World, ctx: &Ctx, req: &Request, p: &Params) -> Response {
    let request_id = wire::request_id(world.ids.next("aws-request"));
    world.aws.purge(ctx.now_ms);
    let action = p.get("Action").unwrap_or("").to_string();
    let region = request_region(req);
    match dispatch(world, ctx, &action, p, &region) {
        Ok(body) => wire::success(&action, &request_id, &body),
        Err(e) => wire::error(&e, &request_id),
    }
}

fn dispatch(
    world: &mut World,
    ctx: &Ctx,
    action: &str,
    p: &Params,
    region: &str,
) -> ApiResult<String> {
    match action {
        "DescribeVpcs" => vpc::describe_vpcs(&world.aws, ctx, p),
        "DescribeSubnets" => vpc::describe_subnets(&world.aws, p),
        "DescribeVpcAttribute" => vpc::describe_vpc_attribute(&world.aws, p),
        "DescribeRouteTables" => {
            let net = ctx.net(world);
            vpc::describe_route_tables(&world.aws, net, p)
        }
        "CreateRoute" => vpc::create_route(&mut world.aws, p),
        "DeleteRoute" => vpc::delete_route(&mut world.aws, p),
        "EnableVgwRoutePropagation" => vpc::set_propagation(&mut world.aws, p, true),
        "DisableVgwRoutePropagation" => vpc::set_propagation(&mut world.aws, p, false),
        "DescribeSecurityGroups" => vpc::describe_security_groups(&world.aws, p),
        "DescribeSecurityGroupRules" => vpc::describe_security_group_rules(&world.aws, p),
        "AuthorizeSecurityGroupIngress" => vpc::authorize(world, p, false),
        "AuthorizeSecurityGroupEgress" => vpc::authorize(world, p, true),
        "RevokeSecurityGroupIngress" => vpc::revoke(&mut world.aws, p, false),
        "RevokeSecurityGroupEgress" => vpc::revoke(&mut world.aws, p, true),
        "CreateTags" => vpc::create_tags(&mut world.aws, ctx, p),
        "DeleteTags" => vpc::delete_tags(&mut world.aws, ctx, p),
        "CreateVpnGateway" => vpn::create_vpn_gateway(world, ctx, p),
        "DescribeVpnGateways" => vpn::describe_vpn_gateways(&world.aws, ctx, p),
        "DeleteVpnGateway" => vpn::delete_vpn_gateway(&mut world.aws, ctx, p),
        "AttachVpnGateway" => vpn::attach_vpn_gateway(&mut world.aws, ctx, p),
        "DetachVpnGateway" => vpn::detach_vpn_gateway(&mut world.aws, ctx, p),
        "CreateCustomerGateway" => vpn::create_customer_gateway(world, ctx, p, region),
        "DescribeCustomerGateways" => vpn::describe_customer_gateways(&world.aws, ctx, p),
        "DeleteCustomerGateway" => vpn::delete_customer_gateway(&mut world.aws, ctx, p),
        "CreateVpnConnection" => vpn::create_vpn_connection(world, ctx, p),
        "DescribeVpnConnections" => {
            let net = ctx.net(world);
            vpn::describe_vpn_connections(&world.aws, ctx, net, p)
        }
        "DeleteVpnConnection" => vpn::delete_vpn_connection(&mut world.aws, ctx, p),
        "ModifyVpnTunnelOptions" => vpn::modify_vpn_tunnel_options(world, ctx, p),
        "CreateVpnConnectionRoute" => vpn::vpn_connection_route(&mut world.aws, ctx, p, true),
        "DeleteVpnConnectionRoute" => vpn::vpn_connection_route(&mut world.aws, ctx, p, false),
        "" => Err(ApiError::missing("Action")),
        other => Err(ApiError::client(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

/// The error response for an injected fault, in EC2's format.
pub fn fault_response(kind: FaultKind, _req: &Request) -> Response {
    // No world here: a process-wide counter keeps request ids distinct.
    static FAULTS: AtomicU64 = AtomicU64::new(0);
    let id = wire::request_id((1 << 47) | FAULTS.fetch_add(1, Ordering::Relaxed));
    let err = match kind {
        FaultKind::Throttle => ApiError {
            status: 503,
            code: "RequestLimitExceeded".into(),
            message: "Request limit exceeded.".into(),
        },
        FaultKind::ServerError => ApiError {
            status: 500,
            code: "InternalError".into(),
            message: "An internal error has occurred".into(),
        },
    };
    wire::error(&err, &id)
}

/// EC2's answer to a request whose credentials it cannot validate: HTTP 401 `AuthFailure`
/// in the usual error document.
pub fn auth_failure(_req: &Request) -> Response {
    static REJECTED: AtomicU64 = AtomicU64::new(0);
    let id = wire::request_id((1 << 46) | REJECTED.fetch_add(1, Ordering::Relaxed));
    let err = ApiError {
        status: 401,
        code: "AuthFailure".into(),
        message: "AWS was not able to validate the provided access credentials".into(),
    };
    wire::error(&err, &id)
}

/// Seeds one topology network: the VPC with its CIDRs, its main route table (a `local`
/// route per CIDR), one subnet per CIDR and the default security group, each tagged `Name`
/// with the topology network's name. The topology's `route_tables` and `security_groups`
/// ids are seeded too, as further tables (each associated with a subnet of its own) and
/// groups of the VPC, and recorded as the ones peerctl manages.
pub fn seed(world: &mut World, net: &Network) {
    let Location::Aws(loc) = &net.location else {
        return;
    };
    let vpc_id = loc.vpc_id.clone();
    let name_tag = || Tags::from([("Name".to_string(), net.name.clone())]);
    let extra_tables: Vec<&String> = loc.route_tables.iter().flatten().collect();
    let extra_groups: Vec<&String> = loc.security_groups.iter().flatten().collect();
    let aws = &mut world.aws;
    aws.vpcs.insert(
        vpc_id.clone(),
        Vpc {
            id: vpc_id.clone(),
            cidrs: net.cidrs.clone(),
            region: loc.region.clone(),
            network: Some(net.name.clone()),
            tags: name_tag(),
            seeded: true,
            managed_route_tables: loc.route_tables.clone(),
            managed_security_groups: loc.security_groups.clone(),
        },
    );
    let mut subnet_ids = Vec::new();
    for (i, cidr) in subnet_cidrs(&net.cidrs, extra_tables.len())
        .into_iter()
        .enumerate()
    {
        let id = world.ids.aws("subnet");
        let az = format!("{}{}", loc.region, ['a', 'b', 'c', 'd'][i % 4]);
        subnet_ids.push(id.clone());
        world.aws.subnets.insert(
            id.clone(),
            Subnet {
                id,
                vpc_id: vpc_id.clone(),
                cidr,
                availability_zone: az,
                tags: name_tag(),
                seeded: true,
            },
        );
    }
    let local_routes = || {
        net.cidrs
            .iter()
            .map(|c| TableRoute {
                destination: *c,
                gateway_id: "local".into(),
            })
            .collect::<Vec<_>>()
    };
    let rtb = world.ids.aws("rtb");
    let assoc = world.ids.aws("rtbassoc");
    world.aws.route_tables.insert(
        rtb.clone(),
        RouteTable {
            id: rtb,
            vpc_id: vpc_id.clone(),
            main: true,
            association_id: assoc,
            subnet_id: None,
            routes: local_routes(),
            propagating_vgws: Vec::new(),
            tags: name_tag(),
            seeded: true,
        },
    );
    let sg = world.ids.aws("sg");
    let ingress = world.ids.aws("sgr");
    let egress = world.ids.aws("sgr");
    world.aws.security_groups.insert(
        sg.clone(),
        SecurityGroup {
            id: sg.clone(),
            name: "default".into(),
            description: "default VPC security group".into(),
            vpc_id: vpc_id.clone(),
            rules: vec![
                SgRule {
                    id: ingress,
                    egress: false,
                    protocol: "-1".into(),
                    from_port: None,
                    to_port: None,
                    cidr: None,
                    group: Some(sg),
                    description: None,
                    seeded: true,
                },
                allow_all_egress(egress),
            ],
            tags: name_tag(),
            seeded: true,
        },
    );
    for (i, id) in extra_tables.into_iter().enumerate() {
        // An id another network already seeded stays with that network.
        if world.aws.route_tables.contains_key(id) {
            continue;
        }
        let assoc = world.ids.aws("rtbassoc");
        world.aws.route_tables.insert(
            id.clone(),
            RouteTable {
                id: id.clone(),
                vpc_id: vpc_id.clone(),
                main: false,
                association_id: assoc,
                subnet_id: subnet_ids.get(i).cloned(),
                routes: local_routes(),
                propagating_vgws: Vec::new(),
                tags: name_tag(),
                seeded: true,
            },
        );
    }
    for id in extra_groups {
        if world.aws.security_groups.contains_key(id) {
            continue;
        }
        let egress = world.ids.aws("sgr");
        // A new group's defaults on AWS: no ingress rule, all egress allowed.
        world.aws.security_groups.insert(
            id.clone(),
            SecurityGroup {
                id: id.clone(),
                name: format!("{}-{}", net.name, id.trim_start_matches("sg-")),
                description: format!("seeded from topology network {}", net.name),
                vpc_id: vpc_id.clone(),
                rules: vec![allow_all_egress(egress)],
                tags: name_tag(),
                seeded: true,
            },
        );
    }
}

/// AWS's default egress rule: everything to 0.0.0.0/0.
fn allow_all_egress(id: String) -> SgRule {
    SgRule {
        id,
        egress: true,
        protocol: "-1".into(),
        from_port: None,
        to_port: None,
        cidr: Some(Ipv4Net::default()),
        group: None,
        description: None,
        seeded: true,
    }
}

/// The seeded subnets: one per VPC CIDR, and when more are needed (one per extra route table,
/// as a subnet has one table) the largest is halved, first one first, down to AWS's smallest
/// subnet (/28). Deterministic, non-overlapping, inside the VPC.
fn subnet_cidrs(cidrs: &[Ipv4Net], needed: usize) -> Vec<Ipv4Net> {
    let mut out = cidrs.to_vec();
    while out.len() < needed {
        let Some((i, big)) = out
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, c)| c.prefix_len() < 28)
            .min_by_key(|(i, c)| (c.prefix_len(), *i))
        else {
            break;
        };
        let Ok(halves) = big.subnets(big.prefix_len() + 1) else {
            break;
        };
        out.splice(i..=i, halves);
    }
    out
}
