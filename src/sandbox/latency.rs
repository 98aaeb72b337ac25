//! How long each cloud operation takes in the sandbox: a table of realistic provisioning
//! times (see docs/sandbox.md for the sources), multiplied by `--time-scale`.

use serde::{Deserialize, Serialize};

/// What takes time. Names follow the plan's resource kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op {
    AwsVpnGatewayCreate,
    AwsVpnGatewayAttach,
    AwsVpnGatewayDelete,
    AwsCustomerGatewayCreate,
    AwsVpnConnectionCreate,
    AwsVpnConnectionDelete,
    GcpHaVpnGatewayCreate,
    GcpRouterCreate,
    GcpRouterUpdate,
    GcpVpnTunnelCreate,
    GcpTargetVpnGatewayCreate,
    GcpAddressCreate,
    GcpForwardingRuleCreate,
    GcpExternalVpnGatewayCreate,
    GcpFirewallCreate,
    GcpRouteCreate,
    GcpDelete,
    AzurePublicIpCreate,
    AzureVpnGatewayCreate,
    AzureVpnGatewayUpdate,
    AzureVpnGatewayDelete,
    AzureLocalNetworkGatewayCreate,
    AzureConnectionCreate,
    AzureSubnetCreate,
    AzureNsgRuleCreate,
    AzureRouteCreate,
    AzureDelete,
    /// IKE negotiation once both ends agree.
    TunnelHandshake,
    /// BGP OPEN/KEEPALIVE exchange once the tunnel is up.
    BgpEstablish,
}

/// The latency model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    /// Multiplier on every duration (0.001 turns 35 minutes into 2.1 s; 0 = instant).
    pub scale: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency { scale: 1.0 }
    }
}

impl Latency {
    /// The real-world duration of `op` in milliseconds, before scaling.
    pub fn real_ms(op: Op) -> u64 {
        const S: u64 = 1000;
        const M: u64 = 60 * S;
        match op {
            Op::AwsVpnGatewayCreate => 2 * M,
            Op::AwsVpnGatewayAttach => M,
            Op::AwsVpnGatewayDelete => 2 * M,
            Op::AwsCustomerGatewayCreate => 10 * S,
            Op::AwsVpnConnectionCreate => 5 * M,
            Op::AwsVpnConnectionDelete => 2 * M,
            Op::GcpHaVpnGatewayCreate => M,
            Op::GcpRouterCreate => 20 * S,
            Op::GcpRouterUpdate => 15 * S,
            Op::GcpVpnTunnelCreate => M,
            Op::GcpTargetVpnGatewayCreate => 30 * S,
            Op::GcpAddressCreate => 5 * S,
            Op::GcpForwardingRuleCreate => 15 * S,
            Op::GcpExternalVpnGatewayCreate => 5 * S,
            Op::GcpFirewallCreate => 10 * S,
            Op::GcpRouteCreate => 10 * S,
            Op::GcpDelete => 20 * S,
            Op::AzurePublicIpCreate => 10 * S,
            Op::AzureVpnGatewayCreate => 35 * M,
            Op::AzureVpnGatewayUpdate => 20 * M,
            Op::AzureVpnGatewayDelete => 15 * M,
            Op::AzureLocalNetworkGatewayCreate => 30 * S,
            Op::AzureConnectionCreate => 2 * M,
            Op::AzureSubnetCreate => 10 * S,
            Op::AzureNsgRuleCreate => 10 * S,
            Op::AzureRouteCreate => 10 * S,
            Op::AzureDelete => 30 * S,
            Op::TunnelHandshake => M,
            Op::BgpEstablish => 30 * S,
        }
    }

    /// The scaled duration of `op` in milliseconds.
    pub fn ms(&self, op: Op) -> u64 {
        (Self::real_ms(op) as f64 * self.scale).round() as u64
    }
}
