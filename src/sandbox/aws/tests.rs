//! Unit tests of the AWS front end through `handle` (the wire in, the wire out) and of what
//! it shows of a hand-made physics verdict.

use super::wire::Params;
use super::*;
use crate::cloud::Cloud;
use crate::sandbox::latency::Latency;
use crate::sandbox::net::{
    BgpState, BgpStatus, CloudModel, DownReason, EndId, EndStatus, Flow, FwDecision, NetState,
    Proto, RouteDecision,
};
use crate::topology::{AwsNetwork, Span};

const VPC: &str = "vpc-0a1b2c3d4e5f60789";

fn world() -> World {
    let mut w = World::default();
    seed(
        &mut w,
        &Network {
            name: "aws-use1".into(),
            cloud: Cloud::Aws,
            cidrs: vec!["10.10.0.0/16".parse().unwrap()],
            asn: None,
            location: Location::Aws(AwsNetwork {
                region: "us-east-1".into(),
                vpc_id: VPC.into(),
                route_tables: None,
                security_groups: None,
            }),
            span: Span::default(),
        },
    );
    w
}

/// The whole front end for one request: parameters read, then handled.
fn handle(w: &mut World, ctx: &Ctx, req: &Request) -> Response {
    match prepare(req) {
        Ok(p) => super::handle(w, ctx, req, &p),
        Err(r) => r,
    }
}

fn call(w: &mut World, now: u64, params: &[(&str, &str)]) -> (u16, String) {
    call_scaled(w, now, 0.0, params)
}

/// `call` with real durations multiplied by `scale` (1 = real time).
fn call_scaled(w: &mut World, now: u64, scale: f64, params: &[(&str, &str)]) -> (u16, String) {
    let latency = Latency { scale };
    let ctx = Ctx::new(now, &latency, "http://127.0.0.1:1");
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().copied().chain([("Version", "2016-11-15")]))
        .finish();
    let req = Request {
        method: "POST".into(),
        path: "/".into(),
        body: body.into_bytes(),
        ..Request::default()
    };
    let r = handle(w, &ctx, &req);
    (r.status, String::from_utf8(r.body).unwrap())
}

/// The text of the first `<tag>` in `xml`.
fn first(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_string()
}

fn vgw_attached(w: &mut World) -> String {
    let (_, b) = call(
        w,
        1,
        &[
            ("Action", "CreateVpnGateway"),
            ("Type", "ipsec.1"),
            ("AmazonSideAsn", "64600"),
        ],
    );
    let vgw = first(&b, "vpnGatewayId");
    let (s, b) = call(
        w,
        1,
        &[
            ("Action", "AttachVpnGateway"),
            ("VpcId", VPC),
            ("VpnGatewayId", &vgw),
        ],
    );
    assert_eq!(s, 200, "{b}");
    vgw
}

fn connection(w: &mut World, vgw: &str, static_routes: bool) -> String {
    let (_, b) = call(
        w,
        1,
        &[
            ("Action", "CreateCustomerGateway"),
            ("Type", "ipsec.1"),
            ("IpAddress", "198.18.200.1"),
            ("BgpAsn", "65010"),
        ],
    );
    let cgw = first(&b, "customerGatewayId");
    let srt = static_routes.to_string();
    let (s, b) = call(
        w,
        1,
        &[
            ("Action", "CreateVpnConnection"),
            ("Type", "ipsec.1"),
            ("CustomerGatewayId", &cgw),
            ("VpnGatewayId", vgw),
            ("Options.StaticRoutesOnly", &srt),
            (
                "Options.TunnelOptions.1.TunnelInsideCidr",
                "169.254.10.0/30",
            ),
            ("Options.TunnelOptions.1.PreSharedKey", "key_one_1234"),
            ("Options.TunnelOptions.1.IKEVersion.1.Value", "ikev2"),
            (
                "Options.TunnelOptions.1.Phase1EncryptionAlgorithm.1.Value",
                "AES256",
            ),
            ("Options.TunnelOptions.1.Phase1DHGroupNumber.1.Value", "14"),
        ],
    );
    assert_eq!(s, 200, "{b}");
    first(&b, "vpnConnectionId")
}

fn end(conn: &str, tunnel: u8) -> EndId {
    EndId {
        cloud: Cloud::Aws,
        resource: conn.into(),
        tunnel,
    }
}

fn up(bgp: Option<BgpStatus>) -> EndStatus {
    EndStatus {
        up: true,
        reason: None,
        since_ms: 5,
        peer: None,
        peer_network: Some("gcp:projects/p/global/networks/n".into()),
        bgp,
    }
}

fn down(reason: DownReason) -> EndStatus {
    EndStatus {
        reason: Some(reason),
        up: false,
        ..up(None)
    }
}

#[test]
fn just_created_gateway_is_not_found_by_id_during_the_consistency_window() {
    let mut w = world();
    w.aws.consistency_ms = 5_000;
    let (_, b) = call(
        &mut w,
        1_000,
        &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")],
    );
    let id = first(&b, "vpnGatewayId");
    let describe = [
        ("Action", "DescribeVpnGateways"),
        ("VpnGatewayId.1", id.as_str()),
    ];
    let (s, b) = call(&mut w, 2_000, &describe);
    assert_eq!(
        (s, first(&b, "Code")),
        (400, "InvalidVpnGatewayID.NotFound".into())
    );
    let (s, b) = call(&mut w, 6_000, &describe);
    assert_eq!((s, first(&b, "vpnGatewayId")), (200, id));
}

#[test]
fn customer_gateway_same_address_and_asn_is_reused_other_asn_is_refused() {
    let mut w = world();
    let create = |w: &mut World, asn: &str| {
        call(
            w,
            1,
            &[
                ("Action", "CreateCustomerGateway"),
                ("Type", "ipsec.1"),
                ("IpAddress", "198.18.128.9"),
                ("BgpAsn", asn),
            ],
        )
    };
    let (_, a) = create(&mut w, "65010");
    let (_, b) = create(&mut w, "65010");
    assert_eq!(
        first(&a, "customerGatewayId"),
        first(&b, "customerGatewayId")
    );
    let (s, c) = create(&mut w, "65011");
    assert_eq!(
        (s, first(&c, "Code")),
        (400, "InvalidCustomerGateway.DuplicateIpAddress".into())
    );
    assert_eq!(w.aws.customer_gateways.len(), 1);
}

#[test]
fn one_vpn_gateway_per_vpc() {
    let mut w = world();
    vgw_attached(&mut w);
    let (_, b) = call(
        &mut w,
        1,
        &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")],
    );
    let second = first(&b, "vpnGatewayId");
    let (s, b) = call(
        &mut w,
        1,
        &[
            ("Action", "AttachVpnGateway"),
            ("VpcId", VPC),
            ("VpnGatewayId", &second),
        ],
    );
    assert_eq!(
        (s, first(&b, "Code")),
        (400, "VpnGatewayAttachmentLimitExceeded".into())
    );
}

#[test]
fn telemetry_texts_tell_each_down_reason_apart() {
    let reasons = [
        DownReason::Provisioning,
        DownReason::NoPeer,
        DownReason::PeerAddressMismatch,
        DownReason::PskMismatch,
        DownReason::IkeVersionMismatch,
        DownReason::ProposalMismatch,
        DownReason::TrafficSelectorMismatch,
        DownReason::Negotiating,
    ];
    let mut texts: Vec<String> = reasons
        .iter()
        .map(|r| {
            let (is_up, text) = telemetry_message(Some(&down(*r)), false);
            assert!(!is_up);
            assert!(text.starts_with("IPSEC IS DOWN"), "{text}");
            text
        })
        .collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), reasons.len());
    // No verdict yet (e.g. before the physics saw the tunnel) reads like "no peer".
    assert_eq!(
        telemetry_message(None, true),
        telemetry_message(Some(&down(DownReason::NoPeer)), true)
    );
    // A dynamic tunnel is UP only with BGP established; IPsec up alone shows DOWN.
    let idle = BgpStatus {
        state: BgpState::Active,
        learned: vec![],
        detail: None,
    };
    assert_eq!(
        telemetry_message(Some(&up(Some(idle))), true),
        (false, "IPSEC IS UP".into())
    );
    let est = BgpStatus {
        state: BgpState::Established,
        learned: vec![
            "10.20.0.0/16".parse().unwrap(),
            "10.21.0.0/16".parse().unwrap(),
        ],
        detail: None,
    };
    assert_eq!(
        telemetry_message(Some(&up(Some(est))), true),
        (true, "2 BGP ROUTES".into())
    );
    assert!(telemetry_message(Some(&up(None)), false).0);
}

#[test]
fn static_vpn_routes_propagate_only_while_their_tunnel_is_up() {
    let mut w = world();
    let vgw = vgw_attached(&mut w);
    let conn = connection(&mut w, &vgw, true);
    let (s, b) = call(
        &mut w,
        1,
        &[
            ("Action", "CreateVpnConnectionRoute"),
            ("VpnConnectionId", &conn),
            ("DestinationCidrBlock", "10.30.0.0/16"),
        ],
    );
    assert_eq!(s, 200, "{b}");
    let rtb = w.aws.main_route_table(VPC).unwrap().id.clone();
    let (s, _) = call(
        &mut w,
        1,
        &[
            ("Action", "EnableVgwRoutePropagation"),
            ("GatewayId", &vgw),
            ("RouteTableId", &rtb),
        ],
    );
    assert_eq!(s, 200);
    let p = Params::new(vec![]);
    let mut net = NetState {
        now_ms: 10,
        ..NetState::default()
    };
    let shown = vpc::describe_route_tables(&w.aws, &net, &p).unwrap();
    assert!(!shown.contains("10.30.0.0/16"), "{shown}");
    assert!(shown.contains(&format!(
        "<propagatingVgwSet><item><gatewayId>{vgw}</gatewayId>"
    )));
    let dst = "10.30.1.1".parse().unwrap();
    assert!(matches!(
        w.aws.route(&format!("aws:{VPC}"), dst, &net),
        RouteDecision::NoRoute { .. }
    ));

    net.ends.insert(end(&conn, 1), up(None));
    let shown = vpc::describe_route_tables(&w.aws, &net, &p).unwrap();
    assert!(
        shown.contains(&format!("<destinationCidrBlock>10.30.0.0/16</destinationCidrBlock><gatewayId>{vgw}</gatewayId><state>active</state><origin>EnableVgwRoutePropagation</origin>")),
        "{shown}"
    );
    match w.aws.route(&format!("aws:{VPC}"), dst, &net) {
        RouteDecision::Tunnel { end: e, .. } => assert_eq!(e, end(&conn, 1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.aws
            .route(&format!("aws:{VPC}"), "10.10.3.4".parse().unwrap(), &net),
        RouteDecision::Local
    );

    call(
        &mut w,
        1,
        &[
            ("Action", "DisableVgwRoutePropagation"),
            ("GatewayId", &vgw),
            ("RouteTableId", &rtb),
        ],
    );
    let shown = vpc::describe_route_tables(&w.aws, &net, &p).unwrap();
    assert!(!shown.contains("10.30.0.0/16"), "{shown}");
}

#[test]
fn bgp_learned_routes_propagate_only_from_established_sessions() {
    let mut w = world();
    let vgw = vgw_attached(&mut w);
    let conn = connection(&mut w, &vgw, false);
    let rtb = w.aws.main_route_table(VPC).unwrap().id.clone();
    call(
        &mut w,
        1,
        &[
            ("Action", "EnableVgwRoutePropagation"),
            ("GatewayId", &vgw),
            ("RouteTableId", &rtb),
        ],
    );
    let learned = vec!["10.20.0.0/16".parse().unwrap()];
    let mut net = NetState {
        now_ms: 10,
        ..NetState::default()
    };
    net.ends.insert(
        end(&conn, 0),
        up(Some(BgpStatus {
            state: BgpState::Active,
            learned: vec![],
            detail: None,
        })),
    );
    let p = Params::new(vec![]);
    assert!(!vpc::describe_route_tables(&w.aws, &net, &p)
        .unwrap()
        .contains("10.20.0.0/16"));
    net.ends.insert(
        end(&conn, 0),
        up(Some(BgpStatus {
            state: BgpState::Established,
            learned,
            detail: None,
        })),
    );
    assert!(vpc::describe_route_tables(&w.aws, &net, &p)
        .unwrap()
        .contains("10.20.0.0/16"));
}

#[test]
fn tunnel_ends_carry_outside_ips_inside_addresses_asns_and_proposals() {
    let mut w = world();
    let vgw = vgw_attached(&mut w);
    let conn = connection(&mut w, &vgw, false);
    let ends = w.aws.tunnel_ends(10);
    assert_eq!(ends.len(), 2);
    let e = &ends[0];
    assert_eq!(e.id, end(&conn, 0));
    assert_eq!(e.network, format!("aws:{VPC}"));
    assert_eq!(e.peer_ip, Some("198.18.200.1".parse().unwrap()));
    assert_eq!(
        e.local_ip,
        Some(w.aws.vpn_connections[&conn].tunnels[0].outside_ip)
    );
    assert_ne!(ends[0].local_ip, ends[1].local_ip);
    assert_eq!(e.psk.as_deref(), Some("key_one_1234"));
    assert_eq!(e.ike_versions, vec![2]);
    let bgp = e.bgp.as_ref().unwrap();
    assert_eq!(
        (bgp.local_ip.to_string(), bgp.peer_ip.to_string()),
        ("169.254.10.1".into(), "169.254.10.2".into())
    );
    assert_eq!(
        (bgp.local_asn, bgp.peer_asn, bgp.prefix_len),
        (64600, 65010, 30)
    );
    let p1 = e.phase1.as_ref().unwrap();
    assert_eq!(
        (p1.encryption.clone(), p1.dh_groups.clone()),
        (vec!["AES256".to_string()], vec![14])
    );
    assert_eq!(p1.integrity.len(), 4, "unset lists offer AWS's defaults");
    assert!(e.phase2.is_none());
    assert_eq!(e.advertises, vec!["10.10.0.0/16".parse().unwrap()]);
    // Tunnel 2 was left to AWS's defaults: both IKE versions, a generated key.
    assert_eq!(ends[1].ike_versions, vec![1, 2]);
    assert_ne!(ends[1].psk, e.psk);
}

#[test]
fn security_group_admits_only_what_a_rule_allows_and_egress_is_open() {
    let mut w = world();
    let sg = w.aws.default_security_group(VPC).unwrap().id.clone();
    let net = format!("aws:{VPC}");
    let src = "10.20.0.5".parse().unwrap();
    let https = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    let ssh = Flow {
        proto: Proto::Tcp,
        port: Some(22),
    };
    assert!(
        matches!(w.aws.ingress(&net, src, https), FwDecision::Deny { rule } if rule.contains(&sg))
    );
    assert!(matches!(
        w.aws.egress(&net, src, ssh),
        FwDecision::Allow { .. }
    ));
    let (s, b) = call(
        &mut w,
        1,
        &[
            ("Action", "AuthorizeSecurityGroupIngress"),
            ("GroupId", &sg),
            ("IpPermissions.1.IpProtocol", "tcp"),
            ("IpPermissions.1.FromPort", "443"),
            ("IpPermissions.1.ToPort", "443"),
            ("IpPermissions.1.IpRanges.1.CidrIp", "10.20.0.0/16"),
        ],
    );
    assert_eq!(s, 200, "{b}");
    let rule = first(&b, "securityGroupRuleId");
    assert!(
        matches!(w.aws.ingress(&net, src, https), FwDecision::Allow { rule: r } if r.contains(&rule))
    );
    assert!(matches!(
        w.aws.ingress(&net, src, ssh),
        FwDecision::Deny { .. }
    ));
    assert!(matches!(
        w.aws.ingress(&net, "10.30.0.5".parse().unwrap(), https),
        FwDecision::Deny { .. }
    ));
    assert_eq!(w.aws.created_resources(), 1);
    let (s, b) = call(
        &mut w,
        1,
        &[
            ("Action", "RevokeSecurityGroupIngress"),
            ("GroupId", &sg),
            ("SecurityGroupRuleId.1", &rule),
        ],
    );
    assert_eq!(s, 200, "{b}");
    assert!(matches!(
        w.aws.ingress(&net, src, https),
        FwDecision::Deny { .. }
    ));
    assert_eq!(w.aws.created_resources(), 0);
}

#[test]
fn deleted_connection_shows_deleting_then_deleted_then_disappears() {
    let mut w = world();
    let vgw = vgw_attached(&mut w);
    let conn = connection(&mut w, &vgw, true);
    let latency = Latency { scale: 1.0 };
    let ctx = Ctx::new(100, &latency, "");
    vpn::delete_vpn_connection(
        &mut w.aws,
        &ctx,
        &Params::new(vec![("VpnConnectionId".into(), conn.clone())]),
    )
    .unwrap();
    let describe = [
        ("Action", "DescribeVpnConnections"),
        ("VpnConnectionId.1", conn.as_str()),
    ];
    let done = 100 + Latency::real_ms(crate::sandbox::latency::Op::AwsVpnConnectionDelete);
    assert_eq!(first(&call(&mut w, 101, &describe).1, "state"), "deleting");
    assert_eq!(first(&call(&mut w, done, &describe).1, "state"), "deleted");
    assert_eq!(
        w.aws.created_resources(),
        3,
        "the VGW, its attachment and the CGW remain; the connection is gone"
    );
    let (s, b) = call(&mut w, done + DELETED_VISIBLE_MS, &describe);
    assert_eq!(
        (s, first(&b, "Code")),
        (400, "InvalidVpnConnectionID.NotFound".into())
    );
}

#[test]
fn world_survives_a_json_round_trip() {
    let mut w = world();
    let vgw = vgw_attached(&mut w);
    connection(&mut w, &vgw, false);
    let json = serde_json::to_string(&w.aws).unwrap();
    let back: AwsCloud = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.tunnel_ends(10), w.aws.tunnel_ends(10));
}

#[test]
fn unknown_action_and_missing_parameters_use_ec2_error_codes() {
    let mut w = world();
    let (s, b) = call(&mut w, 1, &[("Action", "RunInstances")]);
    assert_eq!((s, first(&b, "Code")), (400, "InvalidAction".into()));
    let (s, b) = call(&mut w, 1, &[("Action", "AttachVpnGateway"), ("VpcId", VPC)]);
    assert_eq!((s, first(&b, "Code")), (400, "MissingParameter".into()));
    assert!(b.contains("<RequestID>"));
}

/// Two VPCs whose VPN connections point at each other's tunnel-1 outside address (the
/// sandbox hands out addresses in a fixed order, so they can be known in advance).
fn paired_vpcs(psk_b: &str, static_routes: bool) -> (World, String, String) {
    let mut w = world();
    seed(
        &mut w,
        &Network {
            name: "aws-usw2".into(),
            cloud: Cloud::Aws,
            cidrs: vec!["10.11.0.0/16".parse().unwrap()],
            asn: None,
            location: Location::Aws(AwsNetwork {
                region: "us-west-2".into(),
                vpc_id: "vpc-0b".into(),
                route_tables: None,
                security_groups: None,
            }),
            span: Span::default(),
        },
    );
    let mut ips = w.ips.clone();
    let (a0, _a1, b0) = (
        ips.allocate(Cloud::Aws),
        ips.allocate(Cloud::Aws),
        ips.allocate(Cloud::Aws),
    );
    let conn = |w: &mut World, vpc: &str, peer: std::net::Ipv4Addr, psk: &str, dest: &str| {
        let (_, b) = call(w, 1, &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")]);
        let vgw = first(&b, "vpnGatewayId");
        call(
            w,
            1,
            &[
                ("Action", "AttachVpnGateway"),
                ("VpcId", vpc),
                ("VpnGatewayId", &vgw),
            ],
        );
        let rtb = w.aws.main_route_table(vpc).unwrap().id.clone();
        call(
            w,
            1,
            &[
                ("Action", "EnableVgwRoutePropagation"),
                ("GatewayId", &vgw),
                ("RouteTableId", &rtb),
            ],
        );
        let ip = peer.to_string();
        let (_, b) = call(
            w,
            1,
            &[
                ("Action", "CreateCustomerGateway"),
                ("Type", "ipsec.1"),
                ("IpAddress", &ip),
                ("BgpAsn", "65000"),
            ],
        );
        let cgw = first(&b, "customerGatewayId");
        let (s, b) = call(
            w,
            1,
            &[
                ("Action", "CreateVpnConnection"),
                ("Type", "ipsec.1"),
                ("CustomerGatewayId", &cgw),
                ("VpnGatewayId", &vgw),
                (
                    "Options.StaticRoutesOnly",
                    if static_routes { "true" } else { "false" },
                ),
                (
                    "Options.TunnelOptions.1.TunnelInsideCidr",
                    "169.254.50.0/30",
                ),
                ("Options.TunnelOptions.1.PreSharedKey", psk),
            ],
        );
        assert_eq!(s, 200, "{b}");
        let id = first(&b, "vpnConnectionId");
        call(
            w,
            1,
            &[
                ("Action", "CreateVpnConnectionRoute"),
                ("VpnConnectionId", &id),
                ("DestinationCidrBlock", dest),
            ],
        );
        id
    };
    let a = conn(&mut w, VPC, b0, "shared_key_1", "10.11.0.0/16");
    let b = conn(&mut w, "vpc-0b", a0, psk_b, "10.10.0.0/16");
    assert_eq!(w.aws.vpn_connections[&a].tunnels[0].outside_ip, a0);
    assert_eq!(w.aws.vpn_connections[&b].tunnels[0].outside_ip, b0);
    (w, a, b)
}

fn tunnel1(w: &mut World, conn: &str) -> (String, String) {
    let (_, b) = call(
        w,
        10,
        &[
            ("Action", "DescribeVpnConnections"),
            ("VpnConnectionId.1", conn),
        ],
    );
    let tel = first(&b, "vgwTelemetry");
    (first(&tel, "status"), first(&tel, "statusMessage"))
}

#[test]
fn matching_ends_come_up_and_their_static_routes_propagate() {
    let (mut w, a, _) = paired_vpcs("shared_key_1", true);
    assert_eq!(tunnel1(&mut w, &a), ("UP".into(), String::new()));
    let (_, b) = call(
        &mut w,
        10,
        &[
            ("Action", "DescribeRouteTables"),
            ("Filter.1.Name", "vpc-id"),
            ("Filter.1.Value.1", VPC),
        ],
    );
    assert!(
        b.contains("<destinationCidrBlock>10.11.0.0/16</destinationCidrBlock>"),
        "{b}"
    );
    assert!(
        b.contains("<origin>EnableVgwRoutePropagation</origin>"),
        "{b}"
    );
}

#[test]
fn a_key_mismatch_keeps_both_ends_down_with_the_key_reason() {
    let (mut w, a, b) = paired_vpcs("other_key_22", true);
    for conn in [a, b] {
        let (status, message) = tunnel1(&mut w, &conn);
        assert_eq!(status, "DOWN");
        assert_eq!(
            message,
            telemetry_message(Some(&down(DownReason::PskMismatch)), false).1
        );
    }
    let (_, b) = call(
        &mut w,
        10,
        &[
            ("Action", "DescribeRouteTables"),
            ("Filter.1.Name", "vpc-id"),
            ("Filter.1.Value.1", VPC),
        ],
    );
    assert!(!b.contains("10.11.0.0/16"), "{b}");
}

#[test]
fn dynamic_tunnel_with_ipsec_up_but_no_bgp_session_reads_ipsec_is_up() {
    // Both VGWs take the .1 inside address: IPsec comes up, BGP cannot.
    let (mut w, a, _) = paired_vpcs("shared_key_1", false);
    assert_eq!(tunnel1(&mut w, &a), ("DOWN".into(), "IPSEC IS UP".into()));
}

const RTB_A: &str = "rtb-0a1b2c3d4e5f60781";
const RTB_B: &str = "rtb-0a1b2c3d4e5f60782";
const SG_X: &str = "sg-0a1b2c3d4e5f60781";
const SG_Y: &str = "sg-0a1b2c3d4e5f60782";

/// A world whose network lists two route tables and the given security groups, as
/// topologies/mesh12.yaml does.
fn managed_world(groups: &[&str]) -> World {
    let mut w = World::default();
    seed(
        &mut w,
        &Network {
            name: "aws-use1".into(),
            cloud: Cloud::Aws,
            cidrs: vec!["10.10.0.0/16".parse().unwrap()],
            asn: None,
            location: Location::Aws(AwsNetwork {
                region: "us-east-1".into(),
                vpc_id: VPC.into(),
                route_tables: Some(vec![RTB_A.into(), RTB_B.into()]),
                security_groups: Some(groups.iter().map(|g| g.to_string()).collect()),
            }),
            span: Span::default(),
        },
    );
    w
}

#[test]
fn topology_route_tables_and_security_groups_are_seeded_in_the_vpc() {
    let mut w = managed_world(&[SG_X]);
    let (s, b) = call(
        &mut w,
        1,
        &[
            ("Action", "DescribeRouteTables"),
            ("RouteTableId.1", RTB_A),
            ("RouteTableId.2", RTB_B),
        ],
    );
    assert_eq!(s, 200, "{b}");
    // Each listed table: in the VPC, not main, with the local route and its own subnet.
    let a = &w.aws.route_tables[RTB_A];
    let b_t = &w.aws.route_tables[RTB_B];
    for t in [a, b_t] {
        assert_eq!(t.vpc_id, VPC);
        assert!(!t.main);
        assert_eq!(t.routes[0].gateway_id, "local");
        assert!(b.contains(&format!(
            "<routeTableId>{}</routeTableId><subnetId>{}</subnetId><main>false</main>",
            t.id,
            t.subnet_id.as_deref().unwrap()
        )));
    }
    assert_ne!(a.subnet_id, b_t.subnet_id);
    // One CIDR, two tables: the /16 is halved so that each table has a subnet of its own.
    let mut cidrs: Vec<String> = w
        .aws
        .subnets
        .values()
        .filter(|s| s.vpc_id == VPC)
        .map(|s| s.cidr.to_string())
        .collect();
    cidrs.sort();
    assert_eq!(cidrs, vec!["10.10.0.0/17", "10.10.128.0/17"]);
    let subnet = a.subnet_id.clone().unwrap();
    let (_, b) = call(
        &mut w,
        1,
        &[
            ("Action", "DescribeRouteTables"),
            ("Filter.1.Name", "association.subnet-id"),
            ("Filter.1.Value.1", &subnet),
        ],
    );
    assert!(b.contains(RTB_A) && !b.contains(RTB_B), "{b}");
    // The main table is still there and still the main one.
    assert!(w.aws.main_route_table(VPC).is_some());

    let (s, b) = call(
        &mut w,
        1,
        &[("Action", "DescribeSecurityGroups"), ("GroupId.1", SG_X)],
    );
    assert_eq!(s, 200, "{b}");
    assert!(b.contains(&format!("<vpcId>{VPC}</vpcId>")), "{b}");
    // A new group's defaults: no ingress rule, all egress.
    let x = &w.aws.security_groups[SG_X];
    assert!(x.rules.iter().all(|r| r.egress && r.seeded));
    assert!(w.aws.default_security_group(VPC).is_some());
    let vpc = &w.aws.vpcs[VPC];
    assert_eq!(
        vpc.managed_route_tables.as_deref(),
        Some(&[RTB_A.to_string(), RTB_B.to_string()][..])
    );
    assert_eq!(
        vpc.managed_security_groups.as_deref(),
        Some(&[SG_X.to_string()][..])
    );
    assert_eq!(
        w.aws.created_resources(),
        0,
        "seeded resources are not created"
    );
}

#[test]
fn a_destination_is_routed_only_when_every_managed_table_routes_it() {
    let mut w = managed_world(&[SG_X]);
    let vgw = vgw_attached(&mut w);
    let conn = connection(&mut w, &vgw, true);
    call(
        &mut w,
        1,
        &[
            ("Action", "CreateVpnConnectionRoute"),
            ("VpnConnectionId", &conn),
            ("DestinationCidrBlock", "10.30.0.0/16"),
        ],
    );
    let propagate = |w: &mut World, table: &str| {
        let (s, b) = call(
            w,
            1,
            &[
                ("Action", "EnableVgwRoutePropagation"),
                ("GatewayId", &vgw),
                ("RouteTableId", table),
            ],
        );
        assert_eq!(s, 200, "{b}");
    };
    let mut net = NetState {
        now_ms: 10,
        ..NetState::default()
    };
    net.ends.insert(end(&conn, 0), up(None));
    let key = format!("aws:{VPC}");
    let dst = "10.30.1.1".parse().unwrap();
    // The main table is not managed here: propagating into it alone routes nothing.
    let main = w.aws.main_route_table(VPC).unwrap().id.clone();
    propagate(&mut w, &main);
    match w.aws.route(&key, dst, &net) {
        RouteDecision::NoRoute { table } => assert!(table.contains(RTB_A), "{table}"),
        other => panic!("{other:?}"),
    }
    propagate(&mut w, RTB_A);
    match w.aws.route(&key, dst, &net) {
        RouteDecision::NoRoute { table } => assert!(table.contains(RTB_B), "{table}"),
        other => panic!("{other:?}"),
    }
    propagate(&mut w, RTB_B);
    match w.aws.route(&key, dst, &net) {
        RouteDecision::Tunnel { end: e, route } => {
            assert_eq!(e, end(&conn, 0));
            assert!(route.contains(RTB_A), "{route}");
        }
        other => panic!("{other:?}"),
    }
    // A CreateRoute route in B works as well as propagation.
    call(
        &mut w,
        1,
        &[
            ("Action", "DisableVgwRoutePropagation"),
            ("GatewayId", &vgw),
            ("RouteTableId", RTB_B),
        ],
    );
    assert!(matches!(
        w.aws.route(&key, dst, &net),
        RouteDecision::NoRoute { .. }
    ));
    let (s, b) = call(
        &mut w,
        1,
        &[
            ("Action", "CreateRoute"),
            ("RouteTableId", RTB_B),
            ("DestinationCidrBlock", "10.30.0.0/16"),
            ("GatewayId", &vgw),
        ],
    );
    assert_eq!(s, 200, "{b}");
    assert!(matches!(
        w.aws.route(&key, dst, &net),
        RouteDecision::Tunnel { .. }
    ));
}

#[test]
fn without_a_topology_list_every_route_table_of_the_vpc_is_managed() {
    let mut w = world();
    let vpc = w.aws.vpcs[VPC].clone();
    let tables = w.aws.managed_route_tables(&vpc);
    assert_eq!(tables.len(), 1);
    assert!(tables[0].as_ref().is_ok_and(|t| t.main));
    // A listed id the world does not hold is named, not skipped.
    w.aws.vpcs.get_mut(VPC).unwrap().managed_route_tables = Some(vec!["rtb-404".into()]);
    match w.aws.route(
        &format!("aws:{VPC}"),
        "10.30.1.1".parse().unwrap(),
        &NetState::default(),
    ) {
        RouteDecision::NoRoute { table } => assert!(table.contains("rtb-404"), "{table}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ingress_is_judged_by_the_managed_groups_and_a_deny_names_the_group_lacking_a_rule() {
    let mut w = managed_world(&[SG_X, SG_Y]);
    let key = format!("aws:{VPC}");
    let src = "10.20.0.5".parse().unwrap();
    let https = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    let authorize = |w: &mut World, sg: &str| {
        let (s, b) = call(
            w,
            1,
            &[
                ("Action", "AuthorizeSecurityGroupIngress"),
                ("GroupId", sg),
                ("IpPermissions.1.IpProtocol", "tcp"),
                ("IpPermissions.1.FromPort", "443"),
                ("IpPermissions.1.ToPort", "443"),
                ("IpPermissions.1.IpRanges.1.CidrIp", "10.20.0.0/16"),
            ],
        );
        assert_eq!(s, 200, "{b}");
        first(&b, "securityGroupRuleId")
    };
    // A rule in the default group does not count: the topology names other groups.
    let default = w.aws.default_security_group(VPC).unwrap().id.clone();
    authorize(&mut w, &default);
    match w.aws.ingress(&key, src, https) {
        FwDecision::Deny { rule } => assert!(rule.contains(SG_X), "{rule}"),
        other => panic!("{other:?}"),
    }
    let rx = authorize(&mut w, SG_X);
    match w.aws.ingress(&key, src, https) {
        FwDecision::Deny { rule } => {
            assert!(rule.contains(SG_Y) && !rule.contains(SG_X), "{rule}")
        }
        other => panic!("{other:?}"),
    }
    let ry = authorize(&mut w, SG_Y);
    match w.aws.ingress(&key, src, https) {
        FwDecision::Allow { rule } => assert!(rule.contains(&rx) && rule.contains(&ry), "{rule}"),
        other => panic!("{other:?}"),
    }
    // The seeded groups keep AWS's open egress.
    assert!(matches!(
        w.aws.egress(&key, src, https),
        FwDecision::Allow { .. }
    ));
}

#[test]
fn without_a_topology_list_every_security_group_of_the_vpc_is_judged() {
    let mut w = managed_world(&[SG_X, SG_Y]);
    w.aws.vpcs.get_mut(VPC).unwrap().managed_security_groups = None;
    let key = format!("aws:{VPC}");
    let src = "10.20.0.5".parse().unwrap();
    let https = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    let default = w.aws.default_security_group(VPC).unwrap().id.clone();
    for sg in [default.as_str(), SG_X] {
        let (s, b) = call(
            &mut w,
            1,
            &[
                ("Action", "AuthorizeSecurityGroupIngress"),
                ("GroupId", sg),
                ("IpPermissions.1.IpProtocol", "tcp"),
                ("IpPermissions.1.FromPort", "443"),
                ("IpPermissions.1.ToPort", "443"),
                ("IpPermissions.1.IpRanges.1.CidrIp", "10.20.0.0/16"),
            ],
        );
        assert_eq!(s, 200, "{b}");
    }
    // The default group and SG_X admit the flow; SG_Y, also in the VPC, does not.
    match w.aws.ingress(&key, src, https) {
        FwDecision::Deny { rule } => assert!(rule.contains(SG_Y), "{rule}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn created_resources_counts_like_the_planner_counts_its_aws_kinds() {
    let mut w = managed_world(&[SG_X, SG_Y]);
    let ok = |(s, b): (u16, String)| assert_eq!(s, 200, "{b}");
    // aws.vpn_gateway + aws.vpn_gateway_attachment
    let vgw = vgw_attached(&mut w);
    assert_eq!(w.aws.created_resources(), 2);
    // aws.route_propagation: one for the VPC, however many tables it enables.
    for t in [RTB_A, RTB_B] {
        ok(call(
            &mut w,
            1,
            &[
                ("Action", "EnableVgwRoutePropagation"),
                ("GatewayId", &vgw),
                ("RouteTableId", t),
            ],
        ));
    }
    assert_eq!(w.aws.created_resources(), 3);
    // aws.customer_gateway + aws.vpn_connection
    let conn = connection(&mut w, &vgw, true);
    assert_eq!(w.aws.created_resources(), 5);
    // aws.vpn_connection_route: one per destination.
    for d in ["10.30.0.0/16", "10.31.0.0/16"] {
        ok(call(
            &mut w,
            1,
            &[
                ("Action", "CreateVpnConnectionRoute"),
                ("VpnConnectionId", &conn),
                ("DestinationCidrBlock", d),
            ],
        ));
    }
    assert_eq!(w.aws.created_resources(), 7);
    // aws.security_group_rule: one link's rules in every managed group, several permissions
    // and source CIDRs, one description — one resource.
    for sg in [SG_X, SG_Y] {
        ok(call(
            &mut w,
            1,
            &[
                ("Action", "AuthorizeSecurityGroupIngress"),
                ("GroupId", sg),
                ("IpPermissions.1.IpProtocol", "tcp"),
                ("IpPermissions.1.FromPort", "443"),
                ("IpPermissions.1.ToPort", "443"),
                ("IpPermissions.1.IpRanges.1.CidrIp", "10.30.0.0/16"),
                (
                    "IpPermissions.1.IpRanges.1.Description",
                    "peerctl t aws-use1--az-eus",
                ),
                ("IpPermissions.1.IpRanges.2.CidrIp", "10.31.0.0/16"),
                (
                    "IpPermissions.1.IpRanges.2.Description",
                    "peerctl t aws-use1--az-eus",
                ),
                ("IpPermissions.2.IpProtocol", "icmp"),
                ("IpPermissions.2.IpRanges.1.CidrIp", "10.30.0.0/16"),
                (
                    "IpPermissions.2.IpRanges.1.Description",
                    "peerctl t aws-use1--az-eus",
                ),
            ],
        ));
    }
    assert_eq!(w.aws.created_resources(), 8);
    // Another link's rules are another resource; a rule without a description counts alone.
    ok(call(
        &mut w,
        1,
        &[
            ("Action", "AuthorizeSecurityGroupIngress"),
            ("GroupId", SG_X),
            ("IpPermissions.1.IpProtocol", "-1"),
            ("IpPermissions.1.IpRanges.1.CidrIp", "10.20.0.0/16"),
            (
                "IpPermissions.1.IpRanges.1.Description",
                "peerctl t aws-use1--gcp-usc1",
            ),
        ],
    ));
    ok(call(
        &mut w,
        1,
        &[
            ("Action", "AuthorizeSecurityGroupIngress"),
            ("GroupId", SG_X),
            ("IpPermissions.1.IpProtocol", "udp"),
            ("IpPermissions.1.FromPort", "53"),
            ("IpPermissions.1.ToPort", "53"),
            ("IpPermissions.1.IpRanges.1.CidrIp", "10.40.0.0/16"),
        ],
    ));
    assert_eq!(w.aws.created_resources(), 10);
    // A CreateRoute route (never planned) counts one.
    ok(call(
        &mut w,
        1,
        &[
            ("Action", "CreateRoute"),
            ("RouteTableId", RTB_A),
            ("DestinationCidrBlock", "10.50.0.0/16"),
            ("GatewayId", &vgw),
        ],
    ));
    assert_eq!(w.aws.created_resources(), 11);
    // Deletions take their resources away: the connection with its routes, the attachment.
    ok(call(
        &mut w,
        1,
        &[
            ("Action", "DeleteVpnConnection"),
            ("VpnConnectionId", &conn),
        ],
    ));
    assert_eq!(w.aws.created_resources(), 8);
    ok(call(
        &mut w,
        1,
        &[
            ("Action", "DetachVpnGateway"),
            ("VpcId", VPC),
            ("VpnGatewayId", &vgw),
        ],
    ));
    assert_eq!(w.aws.created_resources(), 7);
}

/// What a Describe of `conn` shows at `now` in real time: its state, tunnel 1's key and
/// tunnel 1's telemetry.
fn conn_at(w: &mut World, now: u64, conn: &str) -> (String, String, String, String) {
    let (s, b) = call_scaled(
        w,
        now,
        1.0,
        &[
            ("Action", "DescribeVpnConnections"),
            ("VpnConnectionId.1", conn),
        ],
    );
    assert_eq!(s, 200, "{b}");
    let tel = first(&b, "vgwTelemetry");
    (
        first(&b, "state"),
        first(&b, "preSharedKey"),
        first(&tel, "status"),
        first(&tel, "statusMessage"),
    )
}

#[test]
fn modify_vpn_tunnel_options_fixes_a_key_after_a_modifying_phase() {
    let (mut w, a, b) = paired_vpcs("other_key_22", true);
    let outside = w.aws.vpn_connections[&b].tunnels[0].outside_ip.to_string();
    let modify = |w: &mut World, now: u64, extra: &[(&str, &str)]| {
        let mut params = vec![
            ("Action", "ModifyVpnTunnelOptions"),
            ("VpnConnectionId", b.as_str()),
            ("VpnTunnelOutsideIpAddress", outside.as_str()),
        ];
        params.extend_from_slice(extra);
        call_scaled(w, now, 1.0, &params)
    };
    let (s, body) = modify(
        &mut w,
        10,
        &[
            ("TunnelOptions.PreSharedKey", "shared_key_1"),
            ("TunnelOptions.DPDTimeoutSeconds", "40"),
            ("TunnelOptions.IKEVersion.1.Value", "ikev2"),
        ],
    );
    assert_eq!(s, 200, "{body}");
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(body.contains("<ModifyVpnTunnelOptionsResponse"), "{body}");
    assert_eq!(first(&body, "state"), "modifying");
    assert_eq!(first(&body, "dpdTimeoutSeconds"), "40");
    let (state, key, status, message) = conn_at(&mut w, 20, &b);
    assert_eq!(state, "modifying");
    assert_eq!(key, "shared_key_1", "the new options show at once");
    assert_eq!(status, "DOWN");
    assert_eq!(message, "IPSEC IS DOWN - TUNNEL IS BEING PROVISIONED");
    // One modification at a time: the connection must be available again first.
    let (s, body) = modify(&mut w, 30, &[("TunnelOptions.PreSharedKey", "third_key_3")]);
    assert_eq!(s, 400);
    assert_eq!(first(&body, "Code"), "IncorrectState");
    // Modification done, then a handshake: both ends agree on the key now.
    let done = 10 + Latency::real_ms(crate::sandbox::latency::Op::AwsVpnConnectionModify);
    let up_at = done + Latency::real_ms(crate::sandbox::latency::Op::TunnelHandshake);
    let (state, _, status, message) = conn_at(&mut w, done + 1, &b);
    assert_eq!(state, "available");
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("DOWN", "IPSEC IS DOWN - IKE NEGOTIATION IN PROGRESS")
    );
    for conn in [&a, &b] {
        let (_, _, status, _) = conn_at(&mut w, up_at + 1, conn);
        assert_eq!(status, "UP", "{conn}");
    }
}

#[test]
fn modify_vpn_tunnel_options_validates_like_create() {
    let (mut w, a, b) = paired_vpcs("shared_key_1", true);
    let outside = w.aws.vpn_connections[&b].tunnels[0].outside_ip.to_string();
    let other_outside = w.aws.vpn_connections[&b].tunnels[1].outside_ip.to_string();
    let a_cidr = w.aws.vpn_connections[&a].tunnels[1].inside_cidr.to_string();
    let b2_cidr = w.aws.vpn_connections[&b].tunnels[1].inside_cidr.to_string();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("no options", vec![], "MissingParameter"),
        (
            "bad key",
            vec![("TunnelOptions.PreSharedKey", "0bad")],
            "InvalidParameterValue",
        ),
        (
            "reserved inside CIDR",
            vec![("TunnelOptions.TunnelInsideCidr", "169.254.1.0/30")],
            "InvalidParameterValue",
        ),
        (
            "the other tunnel's inside CIDR",
            vec![("TunnelOptions.TunnelInsideCidr", b2_cidr.as_str())],
            "InvalidParameterValue",
        ),
        (
            "DPD below 30 s",
            vec![("TunnelOptions.DPDTimeoutSeconds", "10")],
            "InvalidParameterValue",
        ),
        (
            "phase 2 longer than phase 1",
            vec![
                ("TunnelOptions.Phase1LifetimeSeconds", "1000"),
                ("TunnelOptions.Phase2LifetimeSeconds", "2000"),
            ],
            "InvalidParameterValue",
        ),
        (
            "unknown algorithm",
            vec![("TunnelOptions.Phase1EncryptionAlgorithm.1.Value", "DES")],
            "InvalidParameterValue",
        ),
        (
            "unknown DPD action",
            vec![("TunnelOptions.DPDTimeoutAction", "explode")],
            "InvalidParameterValue",
        ),
    ];
    for (why, extra, code) in cases {
        let mut params = vec![
            ("Action", "ModifyVpnTunnelOptions"),
            ("VpnConnectionId", b.as_str()),
            ("VpnTunnelOutsideIpAddress", outside.as_str()),
        ];
        params.extend(extra);
        let (s, body) = call(&mut w, 10, &params);
        assert_eq!(
            (s, first(&body, "Code")),
            (400, code.to_string()),
            "{why}: {body}"
        );
    }
    // The inside CIDR of a tunnel on another VGW is free for this one.
    let (s, body) = call(
        &mut w,
        10,
        &[
            ("Action", "ModifyVpnTunnelOptions"),
            ("VpnConnectionId", &b),
            ("VpnTunnelOutsideIpAddress", &other_outside),
            ("TunnelOptions.TunnelInsideCidr", &a_cidr),
        ],
    );
    assert_eq!(s, 200, "{body}");
    for (id, ip, code) in [
        (
            "vpn-404",
            outside.as_str(),
            "InvalidVpnConnectionID.NotFound",
        ),
        (b.as_str(), "198.18.99.99", "InvalidParameterValue"),
    ] {
        let (s, body) = call(
            &mut w,
            10,
            &[
                ("Action", "ModifyVpnTunnelOptions"),
                ("VpnConnectionId", id),
                ("VpnTunnelOutsideIpAddress", ip),
                ("TunnelOptions.PreSharedKey", "good_key_123"),
            ],
        );
        assert_eq!((s, first(&body, "Code")), (400, code.to_string()), "{body}");
    }
}

#[test]
fn a_pending_gateway_can_be_attached_and_the_attachment_waits_for_it() {
    let mut w = world();
    let (_, b) = call_scaled(
        &mut w,
        1_000,
        1.0,
        &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")],
    );
    assert_eq!(first(&b, "state"), "pending");
    let vgw = first(&b, "vpnGatewayId");
    let (s, b) = call_scaled(
        &mut w,
        1_000,
        1.0,
        &[
            ("Action", "AttachVpnGateway"),
            ("VpcId", VPC),
            ("VpnGatewayId", &vgw),
        ],
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(first(&b, "state"), "attaching");
    let create = Latency::real_ms(crate::sandbox::latency::Op::AwsVpnGatewayCreate);
    let attach = Latency::real_ms(crate::sandbox::latency::Op::AwsVpnGatewayAttach);
    assert!(create <= 10_000, "a VGW is available within seconds");
    let describe = |w: &mut World, now: u64| {
        let (_, b) = call_scaled(w, now, 1.0, &[("Action", "DescribeVpnGateways")]);
        (
            first(&b, "state"),
            first(&first(&b, "attachments"), "state"),
        )
    };
    assert_eq!(
        describe(&mut w, 1_000 + create),
        ("available".into(), "attaching".into())
    );
    assert_eq!(
        describe(&mut w, 1_000 + create + attach),
        ("available".into(), "attached".into())
    );
}

#[test]
fn a_gateway_still_detaching_cannot_be_deleted() {
    let mut w = world();
    let vgw = vgw_attached(&mut w);
    let (s, _) = call_scaled(
        &mut w,
        100,
        1.0,
        &[
            ("Action", "DetachVpnGateway"),
            ("VpcId", VPC),
            ("VpnGatewayId", &vgw),
        ],
    );
    assert_eq!(s, 200);
    let delete = |w: &mut World, now: u64| {
        call_scaled(
            w,
            now,
            1.0,
            &[("Action", "DeleteVpnGateway"), ("VpnGatewayId", &vgw)],
        )
    };
    let (s, b) = delete(&mut w, 200);
    assert_eq!((s, first(&b, "Code")), (400, "IncorrectState".to_string()));
    assert!(first(&b, "Message").contains("detaching"), "{b}");
    // Nor attached again until the detachment completes.
    let attach = |w: &mut World, now: u64| {
        call_scaled(
            w,
            now,
            1.0,
            &[
                ("Action", "AttachVpnGateway"),
                ("VpcId", VPC),
                ("VpnGatewayId", &vgw),
            ],
        )
    };
    let (s, b) = attach(&mut w, 200);
    assert_eq!(
        (s, first(&b, "Code")),
        (400, "IncorrectState".to_string()),
        "{b}"
    );
    let detach = Latency::real_ms(crate::sandbox::latency::Op::AwsVpnGatewayAttach);
    let (s, b) = delete(&mut w, 100 + detach);
    assert_eq!(s, 200, "{b}");
}

#[test]
fn customer_gateway_configuration_follows_the_format_aws_publishes() {
    let mut w = world();
    let vgw = vgw_attached(&mut w);
    let conn = connection(&mut w, &vgw, false);
    let (_, b) = call(
        &mut w,
        10,
        &[
            ("Action", "DescribeVpnConnections"),
            ("VpnConnectionId.1", &conn),
        ],
    );
    let doc = first(&b, "customerGatewayConfiguration")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"");
    assert!(
        doc.starts_with(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vpn_connection id=\"{conn}\">"
        )),
        "{doc}"
    );
    assert_eq!(doc.matches("<ipsec_tunnel>").count(), 2);
    let c = &w.aws.vpn_connections[&conn];
    let t1 = first(&doc, "ipsec_tunnel");
    let cgw_side = first(&t1, "customer_gateway");
    let vgw_side = first(&t1, "vpn_gateway");
    assert_eq!(
        first(&first(&cgw_side, "tunnel_outside_address"), "ip_address"),
        "198.18.200.1"
    );
    let cgw_inside = first(&cgw_side, "tunnel_inside_address");
    assert_eq!(first(&cgw_inside, "ip_address"), "169.254.10.2");
    assert_eq!(first(&cgw_inside, "network_mask"), "255.255.255.252");
    assert_eq!(first(&cgw_inside, "network_cidr"), "30");
    assert_eq!(first(&first(&cgw_side, "bgp"), "asn"), "65010");
    assert_eq!(first(&first(&cgw_side, "bgp"), "hold_time"), "30");
    assert_eq!(
        first(&first(&vgw_side, "tunnel_outside_address"), "ip_address"),
        c.tunnels[0].outside_ip.to_string()
    );
    assert_eq!(
        first(&first(&vgw_side, "tunnel_inside_address"), "ip_address"),
        "169.254.10.1"
    );
    assert_eq!(first(&first(&vgw_side, "bgp"), "asn"), "64600");
    let ike = first(&t1, "ike");
    assert_eq!(first(&ike, "pre_shared_key"), "key_one_1234");
    assert_eq!(
        first(&ike, "encryption_protocol"),
        "aes-256-cbc",
        "tunnel 1 asked AES256"
    );
    assert_eq!(first(&ike, "perfect_forward_secrecy"), "group14");
    assert_eq!(first(&ike, "lifetime"), "28800");
    assert_eq!(first(&first(&t1, "ipsec"), "protocol"), "esp");
    // Static connections have no BGP section.
    let (_, b) = call(
        &mut w,
        1,
        &[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")],
    );
    let static_conn = connection(&mut w, &first(&b, "vpnGatewayId"), true);
    let (_, b) = call(
        &mut w,
        10,
        &[
            ("Action", "DescribeVpnConnections"),
            ("VpnConnectionId.1", &static_conn),
        ],
    );
    assert!(
        !first(&b, "customerGatewayConfiguration").contains("bgp"),
        "{b}"
    );
}

#[test]
fn describe_vpc_attribute_answers_each_attribute_with_ec2s_defaults() {
    let mut w = world();
    for (attr, value) in [
        ("enableDnsSupport", "true"),
        ("enableDnsHostnames", "false"),
        ("enableNetworkAddressUsageMetrics", "false"),
    ] {
        let (s, b) = call(
            &mut w,
            1,
            &[
                ("Action", "DescribeVpcAttribute"),
                ("VpcId", VPC),
                ("Attribute", attr),
            ],
        );
        assert_eq!(s, 200, "{b}");
        assert_eq!(first(&b, "vpcId"), VPC);
        assert_eq!(first(&first(&b, attr), "value"), value);
    }
    for (params, code) in [
        (
            vec![("VpcId", "vpc-404"), ("Attribute", "enableDnsSupport")],
            "InvalidVpcID.NotFound",
        ),
        (
            vec![("VpcId", VPC), ("Attribute", "enableTelepathy")],
            "InvalidParameterValue",
        ),
        (vec![("VpcId", VPC)], "MissingParameter"),
    ] {
        let mut p = vec![("Action", "DescribeVpcAttribute")];
        p.extend(params);
        let (s, b) = call(&mut w, 1, &p);
        assert_eq!((s, first(&b, "Code")), (400, code.to_string()), "{b}");
    }
}

#[test]
fn describe_security_group_rules_lists_rules_by_id_filter_and_page() {
    let mut w = world();
    let sg = w.aws.default_security_group(VPC).unwrap().id.clone();
    for port in ["443", "8443", "500"] {
        let (s, b) = call(
            &mut w,
            1,
            &[
                ("Action", "AuthorizeSecurityGroupIngress"),
                ("GroupId", &sg),
                ("IpPermissions.1.IpProtocol", "tcp"),
                ("IpPermissions.1.FromPort", port),
                ("IpPermissions.1.ToPort", port),
                ("IpPermissions.1.IpRanges.1.CidrIp", "10.20.0.0/16"),
            ],
        );
        assert_eq!(s, 200, "{b}");
    }
    let total = w.aws.security_groups[&sg].rules.len();
    assert_eq!(total, 5, "2 default rules and 3 added");
    let rule = w.aws.security_groups[&sg].rules[2].id.clone();
    let (_, b) = call(
        &mut w,
        1,
        &[
            ("Action", "DescribeSecurityGroupRules"),
            ("SecurityGroupRuleId.1", &rule),
        ],
    );
    assert_eq!(b.matches("<securityGroupRuleId>").count(), 1, "{b}");
    assert_eq!(first(&b, "fromPort"), "443");
    assert_eq!(first(&b, "isEgress"), "false");
    assert!(first(&b, "securityGroupRuleArn").ends_with(&rule));
    // Filter by group, five per page.
    let mut seen = Vec::new();
    let mut token = None::<String>;
    loop {
        let mut p = vec![
            ("Action", "DescribeSecurityGroupRules"),
            ("Filter.1.Name", "group-id"),
            ("Filter.1.Value.1", sg.as_str()),
            ("MaxResults", "5"),
        ];
        let t = token.clone();
        if let Some(t) = &t {
            p.push(("NextToken", t));
        }
        let (s, b) = call(&mut w, 1, &p);
        assert_eq!(s, 200, "{b}");
        seen.extend(
            b.split("<securityGroupRuleId>")
                .skip(1)
                .map(|x| x[..x.find('<').unwrap()].to_string()),
        );
        token = b.contains("<nextToken>").then(|| first(&b, "nextToken"));
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), total);
    let (_, b) = call(
        &mut w,
        1,
        &[
            ("Action", "DescribeSecurityGroupRules"),
            ("Filter.1.Name", "group-id"),
            ("Filter.1.Value.1", "sg-none"),
        ],
    );
    assert!(!b.contains("<securityGroupRuleId>"), "{b}");
    for (params, code) in [
        (
            vec![("SecurityGroupRuleId.1", "sgr-404")],
            "InvalidSecurityGroupRuleId.NotFound",
        ),
        (
            vec![("Filter.1.Name", "colour"), ("Filter.1.Value.1", "x")],
            "InvalidParameterValue",
        ),
        (vec![("MaxResults", "2")], "InvalidParameterValue"),
    ] {
        let mut p = vec![("Action", "DescribeSecurityGroupRules")];
        p.extend(params);
        let (s, b) = call(&mut w, 1, &p);
        assert_eq!((s, first(&b, "Code")), (400, code.to_string()), "{b}");
    }
}

#[test]
fn customer_gateways_are_regional_the_same_address_in_another_region_is_another_gateway() {
    let mut w = world();
    let create = |w: &mut World, region: Option<&str>, asn: &str| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("Action", "CreateCustomerGateway"),
                ("Version", "2016-11-15"),
                ("Type", "ipsec.1"),
                ("IpAddress", "198.18.200.9"),
                ("BgpAsn", asn),
            ])
            .finish();
        let headers = region
            .map(|r| {
                vec![(
                    "authorization".to_string(),
                    format!("AWS4-HMAC-SHA256 Credential=AKIDTEST/20261202/{r}/ec2/aws4_request, SignedHeaders=host, Signature=00"),
                )]
            })
            .unwrap_or_default();
        let latency = Latency { scale: 0.0 };
        let ctx = Ctx::new(1, &latency, "http://127.0.0.1:1");
        let r = handle(
            w,
            &ctx,
            &Request {
                method: "POST".into(),
                path: "/".into(),
                headers,
                body: body.into_bytes(),
                ..Request::default()
            },
        );
        let b = String::from_utf8(r.body).unwrap();
        (r.status, b)
    };
    let (_, east) = create(&mut w, Some("us-east-1"), "65010");
    let (_, unsigned) = create(&mut w, None, "65010");
    assert_eq!(
        first(&east, "customerGatewayId"),
        first(&unsigned, "customerGatewayId"),
        "an unsigned request is us-east-1's"
    );
    let (_, west) = create(&mut w, Some("us-west-2"), "65010");
    assert_ne!(
        first(&east, "customerGatewayId"),
        first(&west, "customerGatewayId")
    );
    // Another ASN for the address is refused within the region, not across regions.
    let (s, b) = create(&mut w, Some("us-west-2"), "65011");
    assert_eq!(
        (s, first(&b, "Code")),
        (400, "InvalidCustomerGateway.DuplicateIpAddress".to_string())
    );
    let (s, _) = create(&mut w, Some("eu-west-1"), "65011");
    assert_eq!(s, 200);
    assert_eq!(w.aws.customer_gateways.len(), 3);
}
