//! How long each cloud operation takes in the sandbox: a table of realistic provisioning
//! times (see docs/sandbox.md for the sources), multiplied by `--time-scale`.

use serde::{Deserialize, Serialize};

/// What takes time, in the sandbox's own vocabulary (cloud, resource, action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op {
    AwsVpnGatewayCreate,
    AwsVpnGatewayAttach,
    AwsVpnGatewayDelete,
    AwsCustomerGatewayCreate,
    AwsVpnConnectionCreate,
    AwsVpnConnectionDelete,
    /// ModifyVpnTunnelOptions: the connection is `modifying` and the tunnel re-established.
    AwsVpnConnectionModify,
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

impl Op {
    /// Every entry of the table, in declaration order.
    pub const ALL: [Op; 30] = [
        Op::AwsVpnGatewayCreate,
        Op::AwsVpnGatewayAttach,
        Op::AwsVpnGatewayDelete,
        Op::AwsCustomerGatewayCreate,
        Op::AwsVpnConnectionCreate,
        Op::AwsVpnConnectionDelete,
        Op::AwsVpnConnectionModify,
        Op::GcpHaVpnGatewayCreate,
        Op::GcpRouterCreate,
        Op::GcpRouterUpdate,
        Op::GcpVpnTunnelCreate,
        Op::GcpTargetVpnGatewayCreate,
        Op::GcpAddressCreate,
        Op::GcpForwardingRuleCreate,
        Op::GcpExternalVpnGatewayCreate,
        Op::GcpFirewallCreate,
        Op::GcpRouteCreate,
        Op::GcpDelete,
        Op::AzurePublicIpCreate,
        Op::AzureVpnGatewayCreate,
        Op::AzureVpnGatewayUpdate,
        Op::AzureVpnGatewayDelete,
        Op::AzureLocalNetworkGatewayCreate,
        Op::AzureConnectionCreate,
        Op::AzureSubnetCreate,
        Op::AzureNsgRuleCreate,
        Op::AzureRouteCreate,
        Op::AzureDelete,
        Op::TunnelHandshake,
        Op::BgpEstablish,
    ];

    /// The entry's name as `GET /_sandbox/latency` shows it (`aws_vpn_gateway_create`).
    pub fn name(self) -> &'static str {
        match self {
            Op::AwsVpnGatewayCreate => "aws_vpn_gateway_create",
            Op::AwsVpnGatewayAttach => "aws_vpn_gateway_attach",
            Op::AwsVpnGatewayDelete => "aws_vpn_gateway_delete",
            Op::AwsCustomerGatewayCreate => "aws_customer_gateway_create",
            Op::AwsVpnConnectionCreate => "aws_vpn_connection_create",
            Op::AwsVpnConnectionDelete => "aws_vpn_connection_delete",
            Op::AwsVpnConnectionModify => "aws_vpn_connection_modify",
            Op::GcpHaVpnGatewayCreate => "gcp_ha_vpn_gateway_create",
            Op::GcpRouterCreate => "gcp_router_create",
            Op::GcpRouterUpdate => "gcp_router_update",
            Op::GcpVpnTunnelCreate => "gcp_vpn_tunnel_create",
            Op::GcpTargetVpnGatewayCreate => "gcp_target_vpn_gateway_create",
            Op::GcpAddressCreate => "gcp_address_create",
            Op::GcpForwardingRuleCreate => "gcp_forwarding_rule_create",
            Op::GcpExternalVpnGatewayCreate => "gcp_external_vpn_gateway_create",
            Op::GcpFirewallCreate => "gcp_firewall_create",
            Op::GcpRouteCreate => "gcp_route_create",
            Op::GcpDelete => "gcp_delete",
            Op::AzurePublicIpCreate => "azure_public_ip_create",
            Op::AzureVpnGatewayCreate => "azure_vpn_gateway_create",
            Op::AzureVpnGatewayUpdate => "azure_vpn_gateway_update",
            Op::AzureVpnGatewayDelete => "azure_vpn_gateway_delete",
            Op::AzureLocalNetworkGatewayCreate => "azure_local_network_gateway_create",
            Op::AzureConnectionCreate => "azure_connection_create",
            Op::AzureSubnetCreate => "azure_subnet_create",
            Op::AzureNsgRuleCreate => "azure_nsg_rule_create",
            Op::AzureRouteCreate => "azure_route_create",
            Op::AzureDelete => "azure_delete",
            Op::TunnelHandshake => "tunnel_handshake",
            Op::BgpEstablish => "bgp_establish",
        }
    }
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
            Op::AwsVpnGatewayCreate => 5 * S,
            Op::AwsVpnGatewayAttach => M,
            Op::AwsVpnGatewayDelete => 2 * M,
            Op::AwsCustomerGatewayCreate => 10 * S,
            Op::AwsVpnConnectionCreate => 5 * M,
            Op::AwsVpnConnectionDelete => 2 * M,
            Op::AwsVpnConnectionModify => 5 * M,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_entry_is_listed_once_under_a_distinct_snake_case_name() {
        let names: BTreeSet<&str> = Op::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Op::ALL.len());
        for n in names {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{n}");
        }
        let ops: BTreeSet<Op> = Op::ALL.into_iter().collect();
        assert_eq!(ops.len(), Op::ALL.len());
    }

    #[test]
    fn scaling_multiplies_and_rounds() {
        let l = Latency { scale: 0.001 };
        assert_eq!(l.ms(Op::AzureVpnGatewayCreate), 2100);
        assert_eq!(Latency { scale: 0.0 }.ms(Op::AwsVpnConnectionCreate), 0);
    }
}
