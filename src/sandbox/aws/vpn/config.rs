//! The customer gateway configuration document of a VPN connection, in the XML shape AWS
//! publishes for a generic device.

use super::*;

/// AWS's names for the algorithms of the configuration document, and the first choice
/// of a list (AWS's sample document shows the minimum, AES128 / SHA1 / group 2, unless the
/// tunnel narrowed the lists).
fn ike_encryption(name: &str) -> String {
    match name {
        "AES256" => "aes-256-cbc".into(),
        "AES128-GCM-16" => "aes-128-gcm-16".into(),
        "AES256-GCM-16" => "aes-256-gcm-16".into(),
        _ => "aes-128-cbc".into(),
    }
}

fn ike_integrity(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn esp_integrity(name: &str) -> String {
    match name {
        "SHA2-256" => "hmac-sha256-128".into(),
        "SHA2-384" => "hmac-sha384-192".into(),
        "SHA2-512" => "hmac-sha512-256".into(),
        _ => "hmac-sha1-96".into(),
    }
}

fn first_or<'a>(list: &'a [String], default: &'a str) -> &'a str {
    list.first().map_or(default, String::as_str)
}

/// The customer gateway configuration document in the XML format AWS publishes (the generic
/// device's): the connection's ids, then per tunnel the customer gateway's and the virtual
/// private gateway's outside and inside addresses (with BGP for dynamic connections), the IKE
/// and the IPsec parameters. Clients parse it (Terraform's AWS provider reads the addresses,
/// BGP ASN and hold time, and the key of each tunnel from it), so its shape is AWS's.
pub(super) fn cgw_configuration(aws: &AwsCloud, c: &VpnConnection) -> String {
    let cgw = aws.customer_gateways.get(&c.customer_gateway_id);
    let vgw = aws.vpn_gateways.get(&c.vpn_gateway_id);
    let bgp = !c.static_routes_only;
    let inside = |x: &mut Xml, t: &VpnTunnel, host: usize| {
        let ip = t.inside_cidr.hosts().nth(host);
        x.node("tunnel_inside_address", |x| {
            x.opt("ip_address", ip)
                .leaf("network_mask", t.inside_cidr.netmask())
                .leaf("network_cidr", t.inside_cidr.prefix_len());
        });
    };
    let bgp_node = |x: &mut Xml, asn: Option<u64>| {
        if let Some(asn) = asn.filter(|_| bgp) {
            x.node("bgp", |x| {
                x.leaf("asn", asn).leaf("hold_time", BGP_HOLD_TIME_S);
            });
        }
    };
    let mut x = Xml::new();
    x.leaf("customer_gateway_id", &c.customer_gateway_id)
        .leaf("vpn_gateway_id", &c.vpn_gateway_id)
        .leaf("vpn_connection_type", "ipsec.1");
    for t in &c.tunnels {
        let pfs = |groups: &[u32]| format!("group{}", groups.first().copied().unwrap_or(2));
        x.node("ipsec_tunnel", |x| {
            x.node("customer_gateway", |x| {
                x.node("tunnel_outside_address", |x| {
                    x.opt("ip_address", cgw.map(|g| g.ip_address));
                });
                inside(x, t, 1);
                bgp_node(x, cgw.map(|g| g.bgp_asn));
            })
            .node("vpn_gateway", |x| {
                x.node("tunnel_outside_address", |x| {
                    x.leaf("ip_address", t.outside_ip);
                });
                inside(x, t, 0);
                bgp_node(x, vgw.map(|g| g.amazon_side_asn));
            })
            .node("ike", |x| {
                x.leaf(
                    "authentication_protocol",
                    ike_integrity(first_or(&t.phase1_integrity, "SHA1")),
                )
                .leaf(
                    "encryption_protocol",
                    ike_encryption(first_or(&t.phase1_encryption, "AES128")),
                )
                .leaf(
                    "lifetime",
                    t.tuning.phase1_lifetime_s.unwrap_or(PHASE1_LIFETIME_S),
                )
                .leaf("perfect_forward_secrecy", pfs(&t.phase1_dh_groups))
                .leaf("mode", "main")
                .leaf("pre_shared_key", &t.psk);
            })
            .node("ipsec", |x| {
                let dpd = t.tuning.dpd_timeout_s.unwrap_or(30);
                x.leaf("protocol", "esp")
                    .leaf(
                        "authentication_protocol",
                        esp_integrity(first_or(&t.phase2_integrity, "SHA1")),
                    )
                    .leaf(
                        "encryption_protocol",
                        ike_encryption(first_or(&t.phase2_encryption, "AES128")),
                    )
                    .leaf(
                        "lifetime",
                        t.tuning.phase2_lifetime_s.unwrap_or(PHASE2_LIFETIME_S),
                    )
                    .leaf("perfect_forward_secrecy", pfs(&t.phase2_dh_groups))
                    .leaf("mode", "tunnel")
                    .leaf("clear_df_bit", true)
                    .leaf("fragmentation_before_encryption", true)
                    .leaf("tcp_mss_adjustment", 1379)
                    .node("dead_peer_detection", |x| {
                        // DPD declares the peer dead after `retries` missed `interval`s.
                        x.leaf("interval", 10).leaf("retries", (dpd / 10).max(3));
                    });
            });
        });
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vpn_connection id=\"{}\">{}</vpn_connection>",
        c.id,
        x.into_string()
    )
}
