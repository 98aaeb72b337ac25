//! The Azure resources the sandbox keeps, as plain persisted data: one map per resource type,
//! keyed by the lower-cased ARM id (ARM ids compare case-insensitively), child resources
//! (subnets, security rules, routes) inside their parent.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// What every resource carries besides its own properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    /// The id as first written (ARM keeps the casing of the creating request).
    pub id: String,
    pub name: String,
    /// Empty for child resources.
    pub location: String,
    pub tags: BTreeMap<String, String>,
    pub etag: String,
    pub guid: String,
    /// Put there from the topology at start; not counted in `created_resources`.
    pub seeded: bool,
    pub created_ms: u64,
    /// When the last create/update finishes provisioning.
    pub ready_ms: u64,
    /// When a delete in progress finishes; the resource is gone from then on.
    pub delete_at: Option<u64>,
}

impl Meta {
    /// `provisioningState` at `now`.
    pub fn state(&self, now: u64) -> &'static str {
        if self.delete_at.is_some() {
            "Deleting"
        } else if now < self.ready_ms {
            "Updating"
        } else {
            "Succeeded"
        }
    }

    pub fn exists(&self, now: u64) -> bool {
        self.delete_at.is_none_or(|t| t > now)
    }

    pub fn deleting(&self) -> bool {
        self.delete_at.is_some()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Vnet {
    pub meta: Meta,
    pub prefixes: Vec<Ipv4Net>,
    /// Keyed by lower-cased name.
    pub subnets: BTreeMap<String, Subnet>,
    /// The topology's name for it, when seeded.
    pub topology_name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Subnet {
    pub meta: Meta,
    pub prefix: Ipv4Net,
    /// ARM ids as written.
    pub nsg: Option<String>,
    pub route_table: Option<String>,
}

impl Subnet {
    pub fn is_gateway_subnet(&self) -> bool {
        self.meta.name.eq_ignore_ascii_case("GatewaySubnet")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublicIp {
    pub meta: Meta,
    /// Drawn at creation; shown at once for Static, only once attached and built for Dynamic.
    pub ip: Ipv4Addr,
    /// Basic | Standard
    pub sku: String,
    /// Static | Dynamic
    pub allocation: String,
    pub idle_timeout: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GwIpConfig {
    pub name: String,
    pub subnet: String,
    pub public_ip: String,
    pub private_allocation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BgpSettings {
    pub asn: u32,
    pub peering_address: Option<Ipv4Addr>,
    pub peer_weight: i32,
    /// Custom (APIPA) BGP addresses of the gateway's first ipConfiguration.
    pub custom_addresses: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Gateway {
    pub meta: Meta,
    /// Lower-cased key of the VNet whose GatewaySubnet it sits in.
    pub vnet: String,
    pub ip_configs: Vec<GwIpConfig>,
    pub gateway_type: String,
    pub vpn_type: String,
    pub sku: String,
    pub generation: Option<String>,
    pub active_active: bool,
    pub enable_bgp: bool,
    pub bgp: BgpSettings,
    /// Until when a write touching the gateway (e.g. a connection being created) keeps it
    /// Updating; writes before then get `AnotherOperationInProgress`.
    pub busy_until: u64,
}

impl Gateway {
    pub fn busy(&self, now: u64) -> bool {
        now < self.meta.ready_ms.max(self.busy_until)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LocalGateway {
    pub meta: Meta,
    pub ip: Option<Ipv4Addr>,
    pub fqdn: Option<String>,
    pub prefixes: Vec<Ipv4Net>,
    pub bgp: Option<BgpSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpsecPolicy {
    pub sa_lifetime_s: i64,
    pub sa_data_kb: i64,
    pub ipsec_encryption: String,
    pub ipsec_integrity: String,
    pub ike_encryption: String,
    pub ike_integrity: String,
    pub dh_group: String,
    pub pfs_group: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficSelector {
    pub local: Vec<Ipv4Net>,
    pub remote: Vec<Ipv4Net>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Connection {
    pub meta: Meta,
    /// ARM ids as written.
    pub gateway1: String,
    pub local_gateway2: String,
    pub connection_type: String,
    pub protocol: String,
    /// Write-only on the resource; readable only through `…/sharedkey`.
    pub shared_key: String,
    pub enable_bgp: bool,
    pub routing_weight: i32,
    pub dpd_timeout_s: i32,
    pub connection_mode: String,
    pub use_policy_based_selectors: bool,
    pub ipsec_policies: Vec<IpsecPolicy>,
    pub selector_policies: Vec<TrafficSelector>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SecurityRule {
    pub meta: Meta,
    pub description: Option<String>,
    /// Tcp | Udp | Icmp | Esp | Ah | *
    pub protocol: String,
    pub source_ports: Vec<String>,
    pub dest_ports: Vec<String>,
    /// CIDRs, single addresses, `*` or service tags.
    pub sources: Vec<String>,
    pub destinations: Vec<String>,
    pub access: String,
    pub priority: u32,
    pub direction: String,
    /// Whether the request used the plural fields (echoed the way it was written).
    pub plural_source_ports: bool,
    pub plural_dest_ports: bool,
    pub plural_sources: bool,
    pub plural_destinations: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Nsg {
    pub meta: Meta,
    /// Keyed by lower-cased name.
    pub rules: BTreeMap<String, SecurityRule>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Route {
    pub meta: Meta,
    pub prefix: Ipv4Net,
    /// VirtualNetworkGateway | VnetLocal | Internet | VirtualAppliance | None
    pub next_hop_type: String,
    pub next_hop_ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RouteTable {
    pub meta: Meta,
    pub disable_bgp_propagation: bool,
    /// Keyed by lower-cased name.
    pub routes: BTreeMap<String, Route>,
}

/// A long-running operation, polled through `Azure-AsyncOperation` / `Location`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AsyncOp {
    pub done_ms: u64,
    /// `Some((code, message))` when it ends Failed.
    pub error: Option<(String, String)>,
    pub sub: String,
    pub location: String,
}
