//! The GCP resources the sandbox keeps, as plain serde data in Compute v1's own camelCase
//! field names, so that a resource body is at once what is persisted and, after rendering
//! (`api::render`), what the API returns. References are stored as canonical partial paths
//! (`projects/p/regions/r/vpnGateways/g`) and made absolute only on the way out.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the sandbox knows about a resource besides its API body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub id: u64,
    /// Created by seeding from the topology (not counted in `created_resources`).
    pub seeded: bool,
    pub created_ms: u64,
    /// When provisioning (or the last update) finishes, in sandbox milliseconds.
    pub ready_ms: u64,
    /// The topology's name for a seeded network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_name: Option<String>,
}

/// One stored resource: bookkeeping plus the API body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Res<T> {
    pub meta: Meta,
    pub body: T,
}

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoutingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Network {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub auto_create_subnetworks: bool,
    pub routing_config: RoutingConfig,
    pub mtu: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Subnetwork {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub network: String,
    pub ip_cidr_range: String,
    pub gateway_address: String,
    pub private_ip_google_access: bool,
    pub stack_type: String,
    pub purpose: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VpnGatewayInterface {
    pub id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VpnGateway {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub network: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    pub vpn_interfaces: Vec<VpnGatewayInterface>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_ip_version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalVpnGateway {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_type: Option<String>,
    pub interfaces: Vec<VpnGatewayInterface>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AdvertisedRange {
    pub range: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouterBgp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advertised_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advertised_ip_ranges: Vec<AdvertisedRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive_interval: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouterInterface {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_vpn_tunnel: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouterBgpPeer {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advertised_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advertised_ip_ranges: Vec<AdvertisedRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertised_route_priority: Option<u32>,
    /// "TRUE" | "FALSE" (the API's own enum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Router {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub network: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<RouterBgp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<RouterInterface>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bgp_peers: Vec<RouterBgpPeer>,
}

/// IKE phase 1 algorithms (`VpnTunnelPhase1Algorithms`), in GCP's spelling
/// (`AES-CBC-256`, `HMAC-SHA2-256-128`, `PRF-HMAC-SHA2-256`, `Group-14`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Phase1Algorithms {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dh: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub integrity: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prf: Vec<String>,
}

/// IKE phase 2 algorithms (`VpnTunnelPhase2Algorithms`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Phase2Algorithms {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub integrity: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pfs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CipherSuite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase1: Option<Phase1Algorithms>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase2: Option<Phase2Algorithms>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VpnTunnel {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpn_gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpn_gateway_interface: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_external_gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_external_gateway_interface: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_gcp_gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_vpn_gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<String>,
    /// Write-only on the wire: rendered as asterisks, kept here for the physics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_secret_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ike_version: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local_traffic_selector: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_traffic_selector: Vec<String>,
    /// The IKE offer; absent = GCP's full default list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<CipherSuite>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TargetVpnGateway {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub network: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ForwardingRule {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "IPAddress", skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(rename = "IPProtocol", skip_serializing_if = "Option::is_none")]
    pub ip_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancing_scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_tier: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Route {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub network: String,
    pub dest_range: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_hop_vpn_tunnel: Option<String>,
    /// Defaults to 1000 at insert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallEntry {
    #[serde(rename = "IPProtocol")]
    pub ip_protocol: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Firewall {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub network: String,
    /// Defaults to 1000 at insert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// INGRESS (the default) or EGRESS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_ranges: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub destination_ranges: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<FirewallEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<FirewallEntry>,
    pub disabled: bool,
}

/// A failed operation's error, as `Operation.error.errors[0]` plus the HTTP status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpError {
    pub code: String,
    pub message: String,
    pub http_status: u16,
    pub http_message: String,
}

/// A long-running operation (every insert, delete, patch and update returns one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub id: u64,
    pub name: String,
    /// `projects/p/regions/r` or `projects/p/global`.
    pub scope: String,
    pub operation_type: String,
    /// Canonical path of the target resource.
    pub target_link: String,
    pub target_id: u64,
    pub insert_ms: u64,
    pub done_ms: u64,
    pub error: Option<OpError>,
}

/// Every GCP resource in the sandbox, keyed by canonical path.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GcpCloud {
    pub networks: BTreeMap<String, Res<Network>>,
    pub subnetworks: BTreeMap<String, Res<Subnetwork>>,
    pub vpn_gateways: BTreeMap<String, Res<VpnGateway>>,
    pub external_vpn_gateways: BTreeMap<String, Res<ExternalVpnGateway>>,
    pub routers: BTreeMap<String, Res<Router>>,
    pub vpn_tunnels: BTreeMap<String, Res<VpnTunnel>>,
    pub target_vpn_gateways: BTreeMap<String, Res<TargetVpnGateway>>,
    pub addresses: BTreeMap<String, Res<Address>>,
    pub forwarding_rules: BTreeMap<String, Res<ForwardingRule>>,
    pub routes: BTreeMap<String, Res<Route>>,
    pub firewalls: BTreeMap<String, Res<Firewall>>,
    pub operations: BTreeMap<String, Operation>,
}

/// What the generic handlers need to know about a resource type.
pub trait Kind: Serialize + serde::de::DeserializeOwned + Clone + Default {
    /// The URL collection, e.g. `vpnTunnels`.
    const COLLECTION: &'static str;
    /// The `kind` field, e.g. `compute#vpnTunnel`.
    const KIND: &'static str;
    const REGIONAL: bool;
    fn name(&self) -> &str;
    fn map(c: &GcpCloud) -> &BTreeMap<String, Res<Self>>;
    fn map_mut(c: &mut GcpCloud) -> &mut BTreeMap<String, Res<Self>>;
}

macro_rules! kind {
    ($t:ty, $coll:literal, $kind:literal, $regional:expr, $field:ident) => {
        impl Kind for $t {
            const COLLECTION: &'static str = $coll;
            const KIND: &'static str = $kind;
            const REGIONAL: bool = $regional;
            fn name(&self) -> &str {
                &self.name
            }
            fn map(c: &GcpCloud) -> &BTreeMap<String, Res<Self>> {
                &c.$field
            }
            fn map_mut(c: &mut GcpCloud) -> &mut BTreeMap<String, Res<Self>> {
                &mut c.$field
            }
        }
    };
}

kind!(Network, "networks", "compute#network", false, networks);
kind!(
    Subnetwork,
    "subnetworks",
    "compute#subnetwork",
    true,
    subnetworks
);
kind!(
    VpnGateway,
    "vpnGateways",
    "compute#vpnGateway",
    true,
    vpn_gateways
);
kind!(
    ExternalVpnGateway,
    "externalVpnGateways",
    "compute#externalVpnGateway",
    false,
    external_vpn_gateways
);
kind!(Router, "routers", "compute#router", true, routers);
kind!(
    VpnTunnel,
    "vpnTunnels",
    "compute#vpnTunnel",
    true,
    vpn_tunnels
);
kind!(
    TargetVpnGateway,
    "targetVpnGateways",
    "compute#targetVpnGateway",
    true,
    target_vpn_gateways
);
kind!(Address, "addresses", "compute#address", true, addresses);
kind!(
    ForwardingRule,
    "forwardingRules",
    "compute#forwardingRule",
    true,
    forwarding_rules
);
kind!(Route, "routes", "compute#route", false, routes);
kind!(Firewall, "firewalls", "compute#firewall", false, firewalls);
