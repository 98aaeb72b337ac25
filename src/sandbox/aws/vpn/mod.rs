//! EC2's Site-to-Site VPN operations: virtual private gateways (with their VPC attachment),
//! customer gateways and VPN connections (tunnel options validated like AWS, VgwTelemetry
//! from the physics, static VPN routes). `gateway` holds the gateways, `connection` the VPN
//! connections, `config` their customer gateway configuration document; this module the
//! limits and algorithm lists they share.

use super::model::{self, Telemetry};
use super::wire::{matches, ApiError, ApiResult, Params, Xml};
use super::{
    lifecycle, AwsCloud, CustomerGateway, Deletion, TunnelTuning, VgwAttachment, VpnConnection,
    VpnGateway, VpnTunnel,
};
use crate::cloud::Cloud;
use crate::sandbox::latency::Op;
use crate::sandbox::net::NetState;
use crate::sandbox::world::{Ctx, World};
use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;

mod config;
mod connection;
mod gateway;
use config::cgw_configuration;
pub use connection::{
    create_vpn_connection, delete_vpn_connection, describe_vpn_connections,
    modify_vpn_tunnel_options, vpn_connection_route,
};
pub(crate) use gateway::attached_vpc;
pub use gateway::{
    attach_vpn_gateway, create_customer_gateway, create_vpn_gateway, delete_customer_gateway,
    delete_vpn_gateway, describe_customer_gateways, describe_vpn_gateways, detach_vpn_gateway,
};

/// Inside CIDRs AWS refuses for VPN tunnels.
pub const RESERVED_INSIDE_CIDRS: [&str; 7] = [
    "169.254.0.0/30",
    "169.254.1.0/30",
    "169.254.2.0/30",
    "169.254.3.0/30",
    "169.254.4.0/30",
    "169.254.5.0/30",
    "169.254.169.252/30",
];

/// AWS's defaults for the tuning options a tunnel leaves unset.
const PHASE1_LIFETIME_S: u32 = 28_800;
const PHASE2_LIFETIME_S: u32 = 3_600;

/// The BGP hold time AWS's VGW uses (and shows in the configuration document).
const BGP_HOLD_TIME_S: u32 = 30;

pub const ENCRYPTION: [&str; 4] = ["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"];
pub const INTEGRITY: [&str; 4] = ["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"];
pub const PHASE1_DH: [u32; 12] = [2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
pub const PHASE2_DH: [u32; 13] = [2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];

fn asn_is_private(asn: u64) -> bool {
    (64512..=65534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn)
}

fn ok_return() -> ApiResult<String> {
    Ok("<return>true</return>".to_string())
}

#[cfg(test)]
mod tests {
    use super::connection::{
        generated_inside_cidr, generated_psk, validate_inside_cidr, validate_psk,
    };
    use super::*;

    #[test]
    fn reserved_and_malformed_inside_cidrs_are_rejected() {
        for bad in [
            "169.254.1.0/30",
            "169.254.169.252/30",
            "169.254.10.0/29",
            "169.254.10.1/30",
            "10.0.0.0/30",
            "x",
        ] {
            let e = validate_inside_cidr(bad, 1).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue", "{bad}");
        }
        assert!(validate_inside_cidr("169.254.10.0/30", 1).is_ok());
    }

    #[test]
    fn psk_rules_follow_aws_and_never_echo_the_key() {
        for bad in [
            "short12",
            "0startswithzero",
            "has-dash-in-it",
            &"a".repeat(65),
        ] {
            let e = validate_psk(bad, 2).unwrap_err();
            assert!(!e.message.contains(bad), "{}", e.message);
        }
        assert!(validate_psk("Good.key_123", 1).is_ok());
    }

    #[test]
    fn generated_keys_and_inside_cidrs_satisfy_aws_rules() {
        for n in 0..50 {
            let k = generated_psk(n);
            assert!(validate_psk(&k, 1).is_ok(), "{n}");
        }
        let taken: Vec<Ipv4Net> = vec!["169.254.0.0/30".parse().unwrap()];
        let net = generated_inside_cidr(0, &taken).unwrap();
        assert!(validate_inside_cidr(&net.to_string(), 1).is_ok());
        assert!(!taken.contains(&net));
    }
}
