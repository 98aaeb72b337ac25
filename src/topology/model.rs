//! The validated topology: what a user declared, with every value parsed and every source
//! position kept so that later stages can point back at the file.

use crate::cloud::Cloud;
use ipnet::Ipv4Net;
use serde::Serialize;

/// A position in the topology file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub line: usize,
    pub col: usize,
}

/// A whole topology file, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    pub version: u32,
    /// Used in every resource name and tag. Lowercase letters, digits and '-'.
    pub name: String,
    pub networks: Vec<Network>,
    /// Every link, `mesh` entries already expanded into pairs. Each pair is stored with
    /// `a < b` (by network name) so that a link has one identity whatever order it was written in.
    pub links: Vec<Link>,
}

/// An existing VPC / VNet / VPC network. peerctl never creates or deletes these.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub name: String,
    pub cloud: Cloud,
    pub cidrs: Vec<Ipv4Net>,
    /// The ASN the user fixed for this network's gateway/router; allocated when `None`.
    pub asn: Option<u32>,
    pub location: Location,
    pub span: Span,
}

impl Network {
    pub fn region(&self) -> &str {
        match &self.location {
            Location::Aws(a) => &a.region,
            Location::Gcp(g) => &g.region,
            Location::Azure(z) => &z.location,
        }
    }
}

/// Where a network lives, per cloud.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Location {
    Aws(AwsNetwork),
    Gcp(GcpNetwork),
    Azure(AzureNetwork),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsNetwork {
    pub region: String,
    pub vpc_id: String,
    /// Route tables that get the routes to remote networks. `None` = every route table of the
    /// VPC (discovered at apply time).
    pub route_tables: Option<Vec<String>>,
    /// Security groups that get ingress rules for remote networks. `None` = every security
    /// group of the VPC (discovered at apply time).
    pub security_groups: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GcpNetwork {
    pub project: String,
    pub region: String,
    /// The VPC network's name.
    pub network: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AzureNetwork {
    pub subscription: String,
    pub resource_group: String,
    pub location: String,
    pub vnet: String,
    /// The GatewaySubnet prefix; created if the VNet has none.
    pub gateway_subnet: Ipv4Net,
    /// VPN gateway SKU (VpnGw1..VpnGw5, VpnGw1AZ..VpnGw5AZ; never Basic); default VpnGw1.
    pub gateway_sku: String,
    /// Network security groups that get the link's rules. `None` = one NSG named after the
    /// VNet is expected on every subnet (the seeded sandbox layout).
    pub network_security_groups: Option<Vec<String>>,
}

/// One pair of networks that must reach each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Network names, `a < b`.
    pub a: String,
    pub b: String,
    /// What may cross the link, in both directions. Empty = all traffic.
    pub allow: Vec<Allow>,
    pub span: Span,
}

impl Link {
    /// The link's stable identity, e.g. `aws-use1--gcp-usc1`.
    pub fn id(&self) -> String {
        format!("{}--{}", self.a, self.b)
    }
}

/// One entry of a link's `allow` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Allow {
    /// Every protocol and port.
    All,
    Tcp {
        from: u16,
        to: u16,
    },
    Udp {
        from: u16,
        to: u16,
    },
    Icmp,
}

impl std::fmt::Display for Allow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let range = |f: &mut std::fmt::Formatter<'_>, p: &str, a: u16, b: u16| {
            if a == b {
                write!(f, "{p}/{a}")
            } else {
                write!(f, "{p}/{a}-{b}")
            }
        };
        match *self {
            Allow::All => f.write_str("all"),
            Allow::Tcp { from, to } => range(f, "tcp", from, to),
            Allow::Udp { from, to } => range(f, "udp", from, to),
            Allow::Icmp => f.write_str("icmp"),
        }
    }
}

/// The private ASN ranges (RFC 6996): the only ASNs peerctl accepts or allocates.
pub const PRIVATE_ASN_RANGES: [(u32, u32); 2] = [(64512, 65534), (4_200_000_000, 4_294_967_294)];

/// ASNs Azure reserves (VPN Gateway FAQ): never used on any network, whatever its cloud, so that
/// a later switch of an Azure pair to BGP needs no renumbering.
pub const AZURE_RESERVED_ASNS: [u32; 8] = [8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520];

/// Whether `asn` is in one of [`PRIVATE_ASN_RANGES`].
pub fn is_private_asn(asn: u32) -> bool {
    PRIVATE_ASN_RANGES
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&asn))
}

/// The Azure VPN gateway SKUs peerctl accepts, with their hard limit of S2S tunnels
/// (connections) per gateway. Not `Basic` (10 tunnels): it supports neither IKEv2 nor custom
/// IPsec/IKE policies, and every peerctl connection uses both.
pub const AZURE_GATEWAY_SKUS: [(&str, usize); 10] = [
    ("VpnGw1", 30),
    ("VpnGw2", 30),
    ("VpnGw3", 30),
    ("VpnGw4", 100),
    ("VpnGw5", 100),
    ("VpnGw1AZ", 30),
    ("VpnGw2AZ", 30),
    ("VpnGw3AZ", 30),
    ("VpnGw4AZ", 100),
    ("VpnGw5AZ", 100),
];

/// The SKU used when a topology names none.
pub const DEFAULT_AZURE_GATEWAY_SKU: &str = "VpnGw1";

/// S2S tunnels one gateway of `sku` terminates at most; `None` for an unknown SKU.
pub fn azure_sku_tunnel_limit(sku: &str) -> Option<usize> {
    AZURE_GATEWAY_SKUS
        .iter()
        .find(|(s, _)| *s == sku)
        .map(|&(_, n)| n)
}
