//! How long each resource usually takes, from the clouds' documentation and common reports
//! (interop.md): shown beside a resource in flight ("12s of ~35m") and used to order ready
//! work. An estimate for people, never a timeout (those are the providers').

use crate::plan::resource::Kind;
use crate::plan::Action;
use std::time::Duration;

/// The usual real duration of `action` on a resource of `kind`.
pub fn expected(kind: Kind, action: Action) -> Duration {
    use Kind::*;
    const S: u64 = 1;
    const M: u64 = 60;
    let secs = match (kind, action) {
        (AzureVpnGateway, Action::Create | Action::Replace) => 35 * M,
        (AzureVpnGateway, Action::Update) => 20 * M,
        (AzureVpnGateway, Action::Delete) => 15 * M,
        (AwsVpnConnection, Action::Delete) => 2 * M,
        (AwsVpnConnection, _) => 5 * M,
        (AwsVpnGateway, _) => 2 * M,
        (AwsVpnGatewayAttachment, _) => M,
        (AzureConnection, _) => 2 * M,
        (GcpVpnGateway | GcpVpnTunnel, _) => M,
        (GcpTargetVpnGateway, _) => 30 * S,
        (AzureLocalNetworkGateway, _) => 30 * S,
        (GcpRouter, _) => 20 * S,
        (GcpRouterInterface | GcpRouterPeer | GcpForwardingRule, _) => 15 * S,
        (AwsCustomerGateway | GcpFirewall | GcpRoute | AzurePublicIp, _) => 10 * S,
        (AzureSubnet | AzureNsgRule, _) => 10 * S,
        (GcpAddress | GcpExternalVpnGateway, _) => 5 * S,
        (AwsVpnConnectionRoute | AwsRoutePropagation | AwsSecurityGroupRule, _) => 2 * S,
    };
    Duration::from_secs(secs)
}

/// `12s`, `3m05s`, `1h02m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_azure_gateway_is_the_slowest_create() {
        let slowest = Kind::ALL
            .iter()
            .max_by_key(|k| expected(**k, Action::Create))
            .unwrap();
        assert_eq!(*slowest, Kind::AzureVpnGateway);
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(human(Duration::from_secs(9)), "9s");
        assert_eq!(human(Duration::from_secs(185)), "3m05s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
    }
}
