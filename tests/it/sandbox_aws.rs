//! The sandbox's EC2 front end driven by the real aws-sdk-ec2 (every operation peerctl
//! needs, provisioning states, error codes, retries of injected throttling, counters), by
//! boto3 (a third-party client) and checked against botocore's published EC2 model.

use crate::common;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::*;
use aws_sdk_ec2::Client;
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{RunningSandbox, SandboxConfig};
use std::time::Duration;

const VPC: &str = "vpc-0a1b2c3d4e5f60789";

fn client_with(url: &str, retry: RetryConfig) -> Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "SECRET", None, None, "static"))
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

fn client(url: &str) -> Client {
    client_with(
        url,
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(10)),
    )
}

/// The triangle's sandbox and an EC2 client on it.
async fn start() -> (RunningSandbox, Client) {
    let sb = common::start(common::triangle()).await;
    let ec2 = client(&sb.url());
    (sb, ec2)
}

async fn admin(url: &str, method: &str, path: &str, body: &str) -> serde_json::Value {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let req = match method {
        "POST" => http.post(format!("{url}{path}")).body(body.to_string()),
        _ => http.get(format!("{url}{path}")),
    };
    let text = req.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

fn tags(rt: ResourceType, k: &str, v: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .tags(tag(k, v))
        .build()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn attached_vgw(ec2: &Client) -> String {
    let vgw = ec2
        .create_vpn_gateway()
        .r#type(GatewayType::Ipsec1)
        .amazon_side_asn(64600)
        .tag_specifications(tags(ResourceType::VpnGateway, "Name", "prod-mesh-aws-use1"))
        .send()
        .await
        .unwrap();
    let id = vgw
        .vpn_gateway()
        .unwrap()
        .vpn_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_vpn_gateway()
        .vpc_id(VPC)
        .vpn_gateway_id(&id)
        .send()
        .await
        .unwrap();
    id
}

/// Creates an ipsec.1 customer gateway; returns its id.
async fn customer_gateway(ec2: &Client, asn: i32, ip: &str) -> String {
    ec2.create_customer_gateway()
        .r#type(GatewayType::Ipsec1)
        .bgp_asn(asn)
        .ip_address(ip)
        .send()
        .await
        .unwrap()
        .customer_gateway()
        .unwrap()
        .customer_gateway_id()
        .unwrap()
        .to_string()
}

/// The request for an ipsec.1 VPN connection between `cgw` and `vgw`.
fn vpn_connection(
    ec2: &Client,
    cgw: &str,
    vgw: &str,
    options: VpnConnectionOptionsSpecification,
) -> aws_sdk_ec2::operation::create_vpn_connection::builders::CreateVpnConnectionFluentBuilder {
    ec2.create_vpn_connection()
        .customer_gateway_id(cgw)
        .vpn_gateway_id(vgw)
        .r#type("ipsec.1")
        .options(options)
}

fn tunnel(cidr: &str, psk: &str) -> VpnTunnelOptionsSpecification {
    VpnTunnelOptionsSpecification::builder()
        .tunnel_inside_cidr(cidr)
        .pre_shared_key(psk)
        .ike_versions(
            IkeVersionsRequestListValue::builder()
                .value("ikev2")
                .build(),
        )
        .phase1_encryption_algorithms(
            Phase1EncryptionAlgorithmsRequestListValue::builder()
                .value("AES256")
                .build(),
        )
        .phase1_integrity_algorithms(
            Phase1IntegrityAlgorithmsRequestListValue::builder()
                .value("SHA2-256")
                .build(),
        )
        .phase1_dh_group_numbers(
            Phase1DhGroupNumbersRequestListValue::builder()
                .value(14)
                .build(),
        )
        .phase2_encryption_algorithms(
            Phase2EncryptionAlgorithmsRequestListValue::builder()
                .value("AES256")
                .build(),
        )
        .phase2_integrity_algorithms(
            Phase2IntegrityAlgorithmsRequestListValue::builder()
                .value("SHA2-256")
                .build(),
        )
        .phase2_dh_group_numbers(
            Phase2DhGroupNumbersRequestListValue::builder()
                .value(14)
                .build(),
        )
        .build()
}

async fn stop(s: RunningSandbox) {
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_vpc_has_its_cidrs_main_route_table_subnet_and_default_security_group() {
    let (sb, ec2) = start().await;
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter("tag:Name", "aws-use1"))
        .send()
        .await
        .unwrap();
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpcs.vpcs().len(), 1);
    assert_eq!(vpc.vpc_id(), Some(VPC));
    assert_eq!(vpc.cidr_block(), Some("10.10.0.0/16"));
    assert_eq!(vpc.state(), Some(&VpcState::Available));

    let tables = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", VPC))
        .filters(filter("association.main", "true"))
        .send()
        .await
        .unwrap();
    let rt = &tables.route_tables()[0];
    let local = &rt.routes()[0];
    assert_eq!(local.destination_cidr_block(), Some("10.10.0.0/16"));
    assert_eq!(local.gateway_id(), Some("local"));
    assert_eq!(local.origin(), Some(&RouteOrigin::CreateRouteTable));
    assert_eq!(rt.associations()[0].main(), Some(true));

    let subnets = ec2
        .describe_subnets()
        .filters(filter("vpc-id", VPC))
        .send()
        .await
        .unwrap();
    assert_eq!(subnets.subnets()[0].cidr_block(), Some("10.10.0.0/16"));

    let sgs = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", VPC))
        .filters(filter("group-name", "default"))
        .send()
        .await
        .unwrap();
    let sg = &sgs.security_groups()[0];
    let ingress = &sg.ip_permissions()[0];
    assert_eq!(ingress.ip_protocol(), Some("-1"));
    assert_eq!(ingress.user_id_group_pairs()[0].group_id(), sg.group_id());
    assert_eq!(
        sg.ip_permissions_egress()[0].ip_ranges()[0].cidr_ip(),
        Some("0.0.0.0/0")
    );
    // A VPC the topology does not have is not found, with EC2's code.
    let err = ec2
        .describe_vpcs()
        .vpc_ids("vpc-404")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidVpcID.NotFound"));
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpn_gateway_goes_pending_available_attaching_attached_and_deleted_stays_visible() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 1.0 },
            ..SandboxConfig::default()
        },
    )
    .await;
    let ec2 = client(&sb.url());
    let out = ec2
        .create_vpn_gateway()
        .r#type(GatewayType::Ipsec1)
        .send()
        .await
        .unwrap();
    let g = out.vpn_gateway().unwrap();
    let id = g.vpn_gateway_id().unwrap().to_string();
    assert_eq!(g.state(), Some(&VpnState::Pending));
    assert_eq!(g.amazon_side_asn(), Some(64512));
    let attach = || {
        ec2.attach_vpn_gateway()
            .vpc_id(VPC)
            .vpn_gateway_id(&id)
            .send()
    };
    let detach = || {
        ec2.detach_vpn_gateway()
            .vpc_id(VPC)
            .vpn_gateway_id(&id)
            .send()
    };
    let delete = || ec2.delete_vpn_gateway().vpn_gateway_id(&id).send();
    let describe = || ec2.describe_vpn_gateways().vpn_gateway_ids(&id).send();
    // Attaching a pending gateway succeeds (Terraform's AWS provider attaches at once); the
    // attachment completes a minute after the gateway is available.
    let a = attach().await.unwrap();
    assert_eq!(
        a.vpc_attachment().unwrap().state(),
        Some(&AttachmentStatus::Attaching)
    );
    sb.sandbox.advance_clock(5 * 1000);
    let d = describe().await.unwrap();
    assert_eq!(d.vpn_gateways()[0].state(), Some(&VpnState::Available));
    assert_eq!(
        d.vpn_gateways()[0].vpc_attachments()[0].state(),
        Some(&AttachmentStatus::Attaching)
    );
    sb.sandbox.advance_clock(60 * 1000);
    let d = ec2
        .describe_vpn_gateways()
        .filters(filter("attachment.vpc-id", VPC))
        .filters(filter("attachment.state", "attached"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.vpn_gateways().len(), 1);

    // Deleting an attached gateway is refused; detach first, and wait for the detachment.
    let err = delete().await.unwrap_err();
    assert_eq!(err.code(), Some("IncorrectState"));
    detach().await.unwrap();
    let err = detach().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidVpnGatewayAttachment.NotFound"));
    let err = delete().await.unwrap_err();
    assert_eq!(err.code(), Some("IncorrectState"), "still detaching");
    assert!(err.message().unwrap_or("").contains("detaching"), "{err:?}");
    sb.sandbox.advance_clock(60 * 1000);
    delete().await.unwrap();
    let state = |d: &aws_sdk_ec2::operation::describe_vpn_gateways::DescribeVpnGatewaysOutput| {
        d.vpn_gateways()[0].state().cloned()
    };
    assert_eq!(state(&describe().await.unwrap()), Some(VpnState::Deleting));
    sb.sandbox.advance_clock(2 * 60 * 1000);
    assert_eq!(state(&describe().await.unwrap()), Some(VpnState::Deleted));
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_gateways_are_shared_per_address_and_refuse_a_second_asn() {
    let (sb, ec2) = start().await;
    let create = |asn: i32| {
        ec2.create_customer_gateway()
            .r#type(GatewayType::Ipsec1)
            .bgp_asn(asn)
            .ip_address("198.18.128.5")
            .tag_specifications(tags(ResourceType::CustomerGateway, "peerctl:link", "a--b"))
            .send()
    };
    let first = create(65010).await.unwrap();
    let first = first.customer_gateway().unwrap();
    assert_eq!(first.bgp_asn(), Some("65010"));
    assert_eq!(first.ip_address(), Some("198.18.128.5"));
    let again = create(65010).await.unwrap();
    assert_eq!(
        again.customer_gateway().unwrap().customer_gateway_id(),
        first.customer_gateway_id()
    );
    let err = create(65011).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some("InvalidCustomerGateway.DuplicateIpAddress")
    );

    let id = first.customer_gateway_id().unwrap();
    let d = ec2
        .describe_customer_gateways()
        .filters(filter("tag:peerctl:link", "a--b"))
        .filters(filter("state", "available"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.customer_gateways().len(), 1);
    ec2.delete_customer_gateway()
        .customer_gateway_id(id)
        .send()
        .await
        .unwrap();
    let d = ec2
        .describe_customer_gateways()
        .customer_gateway_ids(id)
        .send()
        .await
        .unwrap();
    assert_eq!(d.customer_gateways()[0].state(), Some("deleted"));
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpn_connection_keeps_its_tunnel_options_and_reports_telemetry_per_tunnel() {
    let (sb, ec2) = start().await;
    let vgw = attached_vgw(&ec2).await;
    let cgw = customer_gateway(&ec2, 65010, "198.51.100.7").await;
    let created = vpn_connection(
        &ec2,
        &cgw,
        &vgw,
        VpnConnectionOptionsSpecification::builder()
            .static_routes_only(false)
            .tunnel_options(tunnel("169.254.10.0/30", "key_one_1234"))
            .tunnel_options(tunnel("169.254.10.4/30", "key.two.5678"))
            .build(),
    )
    .tag_specifications(tags(
        ResourceType::VpnConnection,
        "Name",
        "aws-use1--gcp-usc1-1",
    ))
    .send()
    .await
    .unwrap();
    let conn = created.vpn_connection().unwrap();
    let id = conn.vpn_connection_id().unwrap().to_string();
    assert!(conn
        .customer_gateway_configuration()
        .is_some_and(|c| c.contains("169.254.10.1")));

    let d = ec2
        .describe_vpn_connections()
        .filters(filter("vpn-gateway-id", &vgw))
        .filters(filter("tag:Name", "aws-use1--*"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.vpn_connections().len(), 1);
    let c = &d.vpn_connections()[0];
    assert_eq!(c.vpn_connection_id(), Some(id.as_str()));
    assert_eq!(c.state(), Some(&VpnState::Available));
    let opts = c.options().unwrap();
    assert_eq!(opts.static_routes_only(), Some(false));
    let t = opts.tunnel_options();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].tunnel_inside_cidr(), Some("169.254.10.0/30"));
    assert_eq!(t[1].pre_shared_key(), Some("key.two.5678"));
    assert_eq!(t[0].ike_versions()[0].value(), Some("ikev2"));
    assert_eq!(t[0].phase1_dh_group_numbers()[0].value(), Some(14));
    assert_eq!(
        t[0].phase2_encryption_algorithms()[0].value(),
        Some("AES256")
    );
    assert_ne!(t[0].outside_ip_address(), t[1].outside_ip_address());
    let tel = c.vgw_telemetry();
    assert_eq!(tel.len(), 2);
    for (i, telemetry) in tel.iter().enumerate() {
        assert_eq!(telemetry.outside_ip_address(), t[i].outside_ip_address());
        // Nobody answers at 198.51.100.7: the tunnels are down, for want of a peer.
        assert_eq!(telemetry.status(), Some(&TelemetryStatus::Down));
        assert_eq!(telemetry.status_message(), Some("IPSEC IS DOWN"));
        assert_eq!(telemetry.accepted_route_count(), Some(0));
        assert!(telemetry.last_status_change().is_some());
    }

    // AWS's validation: reserved inside ranges, inside ranges already used on this VGW, bad
    // keys (without echoing the key).
    let bad = |t1: VpnTunnelOptionsSpecification| {
        vpn_connection(
            &ec2,
            &cgw,
            &vgw,
            VpnConnectionOptionsSpecification::builder()
                .tunnel_options(t1)
                .build(),
        )
        .send()
    };
    for (t1, why) in [
        (tunnel("169.254.169.252/30", "key_one_1234"), "reserved"),
        (tunnel("169.254.10.0/30", "key_one_1234"), "already used"),
        (tunnel("169.254.20.0/29", "key_one_1234"), "/30"),
    ] {
        let err = bad(t1).await.unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterValue"), "{why}");
        assert!(err.message().unwrap().contains(why), "{:?}", err.message());
    }
    let err = bad(tunnel("169.254.20.0/30", "0leading-dash"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert!(!err.message().unwrap().contains("0leading-dash"));

    ec2.delete_vpn_connection()
        .vpn_connection_id(&id)
        .send()
        .await
        .unwrap();
    let d = ec2
        .describe_vpn_connections()
        .vpn_connection_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(d.vpn_connections()[0].state(), Some(&VpnState::Deleted));
    let err = ec2
        .describe_vpn_connections()
        .vpn_connection_ids("vpn-0000000000000dead")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidVpnConnectionID.NotFound"));
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_routes_propagation_and_route_table_routes_round_trip() {
    let (sb, ec2) = start().await;
    let vgw = attached_vgw(&ec2).await;
    let cgw = customer_gateway(&ec2, 65515, "198.19.0.9").await;
    let conn = vpn_connection(
        &ec2,
        &cgw,
        &vgw,
        VpnConnectionOptionsSpecification::builder()
            .static_routes_only(true)
            .build(),
    )
    .send()
    .await
    .unwrap();
    let conn = conn
        .vpn_connection()
        .unwrap()
        .vpn_connection_id()
        .unwrap()
        .to_string();
    let vpn_route = || {
        ec2.create_vpn_connection_route()
            .vpn_connection_id(&conn)
            .destination_cidr_block("10.30.0.0/16")
            .send()
    };
    vpn_route().await.unwrap();
    let err = vpn_route().await.unwrap_err();
    assert_eq!(err.code(), Some("RouteAlreadyExists"));
    let d = ec2
        .describe_vpn_connections()
        .filters(filter("route.destination-cidr-block", "10.30.0.0/16"))
        .send()
        .await
        .unwrap();
    let routes = d.vpn_connections()[0].routes();
    assert_eq!(routes[0].destination_cidr_block(), Some("10.30.0.0/16"));
    assert_eq!(routes[0].source(), Some(&VpnStaticRouteSource::Static));

    let rtb = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", VPC))
        .send()
        .await
        .unwrap();
    let rtb = rtb.route_tables()[0].route_table_id().unwrap().to_string();
    ec2.enable_vgw_route_propagation()
        .gateway_id(&vgw)
        .route_table_id(&rtb)
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(&rtb)
        .destination_cidr_block("10.40.0.0/16")
        .gateway_id(&vgw)
        .send()
        .await
        .unwrap();
    let all: Vec<RouteTable> = ec2
        .describe_route_tables()
        .filters(filter("route.gateway-id", &vgw))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let t = &all[0];
    assert_eq!(t.propagating_vgws()[0].gateway_id(), Some(vgw.as_str()));
    let created = t
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("10.40.0.0/16"))
        .unwrap();
    assert_eq!(created.origin(), Some(&RouteOrigin::CreateRoute));
    assert_eq!(created.state(), Some(&RouteState::Active));
    // The static VPN route shows up as propagated only while its tunnel is up: nobody
    // answers at 198.19.0.9 here.
    assert!(!t
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("10.30.0.0/16")));

    let delete_route = || {
        ec2.delete_route()
            .route_table_id(&rtb)
            .destination_cidr_block("10.40.0.0/16")
            .send()
    };
    delete_route().await.unwrap();
    let err = delete_route().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidRoute.NotFound"));
    ec2.disable_vgw_route_propagation()
        .gateway_id(&vgw)
        .route_table_id(&rtb)
        .send()
        .await
        .unwrap();
    ec2.delete_vpn_connection_route()
        .vpn_connection_id(&conn)
        .destination_cidr_block("10.30.0.0/16")
        .send()
        .await
        .unwrap();
    let d = ec2
        .describe_route_tables()
        .route_table_ids(&rtb)
        .send()
        .await
        .unwrap();
    assert!(d.route_tables()[0].propagating_vgws().is_empty());
    assert_eq!(
        d.route_tables()[0].routes().len(),
        1,
        "only the local route"
    );
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_rules_are_authorized_revoked_and_duplicates_refused() {
    let (sb, ec2) = start().await;
    let sgs = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", VPC))
        .send()
        .await
        .unwrap();
    let sg = sgs.security_groups()[0].group_id().unwrap().to_string();
    let perm = |port: i32| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip("10.20.0.0/16")
                    .description("peerctl aws-use1--gcp-usc1")
                    .build(),
            )
            .build()
    };
    // Each request on the default group, for one port (more added by the caller).
    let authorize_in = |port: i32| {
        ec2.authorize_security_group_ingress()
            .group_id(&sg)
            .ip_permissions(perm(port))
    };
    let authorize_out = |port: i32| {
        ec2.authorize_security_group_egress()
            .group_id(&sg)
            .ip_permissions(perm(port))
    };
    let revoke_in = |port: i32| {
        ec2.revoke_security_group_ingress()
            .group_id(&sg)
            .ip_permissions(perm(port))
    };
    let revoke_out = |port: i32| {
        ec2.revoke_security_group_egress()
            .group_id(&sg)
            .ip_permissions(perm(port))
    };
    let describe = || ec2.describe_security_groups().group_ids(&sg).send();
    let out = authorize_in(443)
        .ip_permissions(perm(5432))
        .send()
        .await
        .unwrap();
    assert_eq!(out.r#return(), Some(true));
    assert_eq!(out.security_group_rules().len(), 2);
    assert_eq!(
        out.security_group_rules()[0].cidr_ipv4(),
        Some("10.20.0.0/16")
    );
    let err = authorize_in(443).send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidPermission.Duplicate"));
    authorize_out(443).send().await.unwrap();

    let d = describe().await.unwrap();
    let g = &d.security_groups()[0];
    let ingress: Vec<(Option<i32>, Option<&str>)> = g
        .ip_permissions()
        .iter()
        .filter(|p| p.ip_protocol() == Some("tcp"))
        .map(|p| (p.from_port(), p.ip_ranges()[0].cidr_ip()))
        .collect();
    assert_eq!(
        ingress,
        vec![
            (Some(443), Some("10.20.0.0/16")),
            (Some(5432), Some("10.20.0.0/16"))
        ]
    );
    assert_eq!(g.ip_permissions_egress().len(), 2);

    let revoked = revoke_in(5432).send().await.unwrap();
    // EC2 names what it removed.
    assert_eq!(revoked.r#return(), Some(true));
    let gone = revoked.revoked_security_group_rules();
    assert_eq!(gone.len(), 1, "{revoked:?}");
    assert_eq!(gone[0].group_id(), Some(sg.as_str()));
    assert_eq!(gone[0].is_egress(), Some(false));
    assert_eq!(gone[0].ip_protocol(), Some("tcp"));
    assert_eq!(
        (gone[0].from_port(), gone[0].to_port()),
        (Some(5432), Some(5432))
    );
    assert!(gone[0]
        .security_group_rule_id()
        .is_some_and(|id| id.starts_with("sgr-")));
    let err = revoke_in(5432).send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidPermission.NotFound"));
    revoke_out(443).send().await.unwrap();
    let d = describe().await.unwrap();
    let g = &d.security_groups()[0];
    assert_eq!(g.ip_permissions().len(), 2, "the self rule and tcp/443");
    assert_eq!(g.ip_permissions_egress().len(), 1, "allow-all egress only");
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_created_deleted_and_filtered_on() {
    let (sb, ec2) = start().await;
    let vgw = attached_vgw(&ec2).await;
    ec2.create_tags()
        .resources(&vgw)
        .resources(VPC)
        .tags(tag("peerctl:topology", "prod-mesh"))
        .tags(tag("team", "net"))
        .send()
        .await
        .unwrap();
    let d = ec2
        .describe_vpn_gateways()
        .filters(filter("tag:peerctl:topology", "prod-mesh"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.vpn_gateways().len(), 1);
    let d = ec2
        .describe_vpcs()
        .filters(filter("tag-key", "team"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.vpcs().len(), 1);
    ec2.delete_tags()
        .resources(&vgw)
        .tags(Tag::builder().key("team").build())
        .send()
        .await
        .unwrap();
    let d = ec2
        .describe_vpn_gateways()
        .filters(filter("tag-key", "team"))
        .send()
        .await
        .unwrap();
    assert!(d.vpn_gateways().is_empty());
    let d = ec2
        .describe_vpn_gateways()
        .vpn_gateway_ids(&vgw)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = d.vpn_gateways()[0]
        .tags()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    assert_eq!(keys, vec!["Name", "peerctl:topology"]);
    let err = ec2
        .create_tags()
        .resources("vgw-0000000000000dead")
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidVpnGatewayID.NotFound"));
    let err = ec2
        .describe_vpn_gateways()
        .filters(filter("no-such-filter", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_throttling_is_retried_by_the_sdk_and_every_call_is_counted() {
    let sb = common::start(common::triangle()).await;
    let url = sb.url();
    let ec2 = client(&url);
    admin(
        &url,
        "POST",
        "/_sandbox/faults",
        r#"{"scripted":[{"cloud":"aws","operation":"CreateVpnGateway","kind":"throttle","count":1}]}"#,
    )
    .await;
    let out = ec2
        .create_vpn_gateway()
        .r#type(GatewayType::Ipsec1)
        .send()
        .await
        .expect("the SDK retries RequestLimitExceeded");
    assert!(out.vpn_gateway().is_some());
    ec2.describe_vpn_gateways().send().await.unwrap();

    // Without retries the injected server error reaches the caller with EC2's code.
    admin(
        &url,
        "POST",
        "/_sandbox/faults",
        r#"{"scripted":[{"cloud":"aws","operation":"DescribeVpcs","kind":"server_error","count":1}]}"#,
    )
    .await;
    let err = client_with(&url, RetryConfig::disabled())
        .describe_vpcs()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalError"));

    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    let aws = &stats["clouds"]["aws"];
    assert_eq!(aws["operations"]["CreateVpnGateway"], 1, "{stats}");
    assert_eq!(aws["operations"]["DescribeVpnGateways"], 1, "{stats}");
    assert_eq!(aws["mutating"], 1, "{stats}");
    assert_eq!(aws["reads"], 1, "{stats}");
    assert_eq!(aws["faults"], 2, "{stats}");
    assert_eq!(stats["created_resources"], 1, "{stats}");
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_drives_the_sandbox() {
    let sb = common::start(common::triangle()).await;
    let url = sb.url();
    let out = tokio::task::spawn_blocking(move || common::run_python("aws_client.py", &[&url]))
        .await
        .unwrap();
    assert!(out.contains("aws_client: ok"), "{out}");
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_conform_to_botocore_ec2_model() {
    let sb = common::start(common::triangle()).await;
    let url = sb.url();
    let out =
        tokio::task::spawn_blocking(move || common::run_python("aws_conformance.py", &[&url]))
            .await
            .unwrap();
    assert!(out.contains("aws_conformance: ok"), "{out}");
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pathological_filter_patterns_answer_and_overlong_values_are_refused() {
    let (sb, ec2) = start().await;
    // 30 stars before a literal that never comes: exponential for a recursive matcher, which
    // held the world lock for seconds. The answer must still be right.
    let stars = "*".repeat(30);
    let none = ec2
        .describe_vpcs()
        .filters(filter("tag:Name", &format!("{stars}x")))
        .send()
        .await
        .unwrap();
    assert!(none.vpcs().is_empty());
    let one = ec2
        .describe_vpcs()
        .filters(filter("tag:Name", &format!("{stars}1")))
        .send()
        .await
        .unwrap();
    assert_eq!(one.vpcs().len(), 1);
    assert_eq!(one.vpcs()[0].vpc_id(), Some(VPC));
    // Longer than EC2's 255 characters: refused before any matching (50,000 stars used to
    // overflow the stack and abort the process).
    let err = ec2
        .describe_vpcs()
        .filters(filter("tag:Name", &"*".repeat(50_000)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
    // The sandbox is still serving.
    assert_eq!(ec2.describe_vpcs().send().await.unwrap().vpcs().len(), 1);
    stop(sb).await;
}

/// What a provider would do for the plan's AWS resources, through aws-sdk-ec2, in plan
/// order. Other clouds' outputs (the customer gateways' addresses) are stood in for by
/// distinct documentation addresses. Returns how many AWS resources the plan holds.
async fn apply_aws_part(ec2: &Client, plan: &peerctl::plan::Plan) -> usize {
    use peerctl::plan::resource::{Kind, Value};
    use std::collections::BTreeMap;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let by_address: BTreeMap<&str, &peerctl::plan::resource::Resource> = plan
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    let resolve = |ids: &BTreeMap<String, String>, v: &Value| match v {
        Value::Ref(r) => ids[&r.resource].clone(),
        Value::Str(s) => s.clone(),
        other => panic!("not an id: {other:?}"),
    };
    let text = |v: &Value| match v {
        Value::Str(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    };
    let int = |v: &Value| match v {
        Value::Int(i) => *i,
        other => panic!("not an int: {other:?}"),
    };
    let strs = |v: &Value| -> Option<Vec<String>> {
        match v {
            Value::List(l) => Some(l.iter().map(text).collect()),
            _ => None,
        }
    };
    let mut cgw_ips = 0u8;
    let mut count = 0;
    for address in &plan.order {
        let r = by_address[address.as_str()];
        if r.cloud() != peerctl::cloud::Cloud::Aws {
            continue;
        }
        count += 1;
        let a = &r.attributes;
        let id = match r.kind {
            Kind::AwsVpnGateway => ec2
                .create_vpn_gateway()
                .r#type(GatewayType::Ipsec1)
                .amazon_side_asn(int(&a["amazon_side_asn"]))
                .tag_specifications(tags(ResourceType::VpnGateway, "Name", &r.name))
                .send()
                .await
                .unwrap()
                .vpn_gateway()
                .unwrap()
                .vpn_gateway_id()
                .unwrap()
                .to_string(),
            Kind::AwsVpnGatewayAttachment => {
                ec2.attach_vpn_gateway()
                    .vpc_id(text(&a["vpc_id"]))
                    .vpn_gateway_id(resolve(&ids, &a["vpn_gateway_id"]))
                    .send()
                    .await
                    .unwrap();
                r.address.clone()
            }
            Kind::AwsRoutePropagation => {
                let vpc = text(&a["vpc_id"]);
                let tables = match strs(&a["route_tables"]) {
                    Some(t) => t,
                    None => ec2
                        .describe_route_tables()
                        .filters(filter("vpc-id", &vpc))
                        .send()
                        .await
                        .unwrap()
                        .route_tables()
                        .iter()
                        .map(|t| t.route_table_id().unwrap().to_string())
                        .collect(),
                };
                for t in tables {
                    ec2.enable_vgw_route_propagation()
                        .gateway_id(resolve(&ids, &a["vpn_gateway_id"]))
                        .route_table_id(t)
                        .send()
                        .await
                        .unwrap();
                }
                r.address.clone()
            }
            Kind::AwsCustomerGateway => {
                cgw_ips += 1;
                ec2.create_customer_gateway()
                    .r#type(GatewayType::Ipsec1)
                    .ip_address(format!("203.0.113.{cgw_ips}"))
                    .bgp_asn(int(&a["bgp_asn"]) as i32)
                    .send()
                    .await
                    .unwrap()
                    .customer_gateway()
                    .unwrap()
                    .customer_gateway_id()
                    .unwrap()
                    .to_string()
            }
            Kind::AwsVpnConnection => {
                let Value::List(tunnels) = &a["tunnels"] else {
                    panic!("tunnels")
                };
                let mut options = VpnConnectionOptionsSpecification::builder()
                    .static_routes_only(matches!(a["static_routes_only"], Value::Bool(true)));
                for t in tunnels {
                    let Value::Map(t) = t else { panic!("tunnel") };
                    let Value::Secret(key) = &t["pre_shared_key"] else {
                        panic!("psk")
                    };
                    options = options.tunnel_options(
                        VpnTunnelOptionsSpecification::builder()
                            .tunnel_inside_cidr(text(&t["inside_cidr"]))
                            .pre_shared_key(plan.secrets[&key.key].expose())
                            .build(),
                    );
                }
                ec2.create_vpn_connection()
                    .r#type("ipsec.1")
                    .vpn_gateway_id(resolve(&ids, &a["vpn_gateway_id"]))
                    .customer_gateway_id(resolve(&ids, &a["customer_gateway_id"]))
                    .options(options.build())
                    .send()
                    .await
                    .unwrap()
                    .vpn_connection()
                    .unwrap()
                    .vpn_connection_id()
                    .unwrap()
                    .to_string()
            }
            Kind::AwsVpnConnectionRoute => {
                ec2.create_vpn_connection_route()
                    .vpn_connection_id(resolve(&ids, &a["vpn_connection_id"]))
                    .destination_cidr_block(text(&a["destination_cidr_block"]))
                    .send()
                    .await
                    .unwrap();
                r.address.clone()
            }
            Kind::AwsSecurityGroupRule => {
                let vpc = text(&a["vpc_id"]);
                let groups = match strs(&a["security_groups"]) {
                    Some(g) => g,
                    None => ec2
                        .describe_security_groups()
                        .filters(filter("vpc-id", &vpc))
                        .filters(filter("group-name", "default"))
                        .send()
                        .await
                        .unwrap()
                        .security_groups()
                        .iter()
                        .map(|g| g.group_id().unwrap().to_string())
                        .collect(),
                };
                let description = text(&a["description"]);
                let sources = strs(&a["source_cidrs"]).unwrap();
                let Value::List(perms) = &a["permissions"] else {
                    panic!("permissions")
                };
                for g in groups {
                    let mut req = ec2.authorize_security_group_ingress().group_id(g);
                    for p in perms {
                        let Value::Map(p) = p else {
                            panic!("permission")
                        };
                        let mut perm = IpPermission::builder()
                            .ip_protocol(text(&p["protocol"]))
                            .from_port(int(&p["from_port"]) as i32)
                            .to_port(int(&p["to_port"]) as i32);
                        for s in &sources {
                            perm = perm.ip_ranges(
                                IpRange::builder()
                                    .cidr_ip(s)
                                    .description(&description)
                                    .build(),
                            );
                        }
                        req = req.ip_permissions(perm.build());
                    }
                    req.send().await.unwrap();
                }
                r.address.clone()
            }
            other => panic!("unexpected AWS kind {other}"),
        };
        ids.insert(r.address.clone(), id);
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_applying_the_aws_part_of_a_plan_created_resources_equals_its_aws_resources() {
    use rand_core::SeedableRng;
    // mesh12 lists route tables and security groups of its own: they must exist in the
    // sandbox for the plan to apply unchanged.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/mesh12.yaml");
    let topo = peerctl::topology::parse(path, &std::fs::read_to_string(path).unwrap()).unwrap();
    let plan = peerctl::plan::plan(
        &topo,
        &peerctl::state::State::empty(),
        &peerctl::plan::templates::Templates::embedded().unwrap(),
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap();
    let sb = common::start(topo).await;
    let url = sb.url();
    let ec2 = client(&url);
    assert_eq!(
        admin(&url, "GET", "/_sandbox/stats", "").await["created_resources"],
        0
    );
    let planned = apply_aws_part(&ec2, &plan).await;
    let kinds: std::collections::BTreeSet<_> = plan
        .resources
        .iter()
        .filter(|r| r.cloud() == peerctl::cloud::Cloud::Aws)
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds.len(), 7, "every AWS kind is exercised: {kinds:?}");
    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    assert_eq!(stats["created_resources"], planned, "{stats}");

    // The topology's own tables got the propagation, its group the rules.
    let tables = ec2
        .describe_route_tables()
        .route_table_ids("rtb-0a1b2c3d4e5f60781")
        .route_table_ids("rtb-0a1b2c3d4e5f60782")
        .send()
        .await
        .unwrap();
    for t in tables.route_tables() {
        assert_eq!(t.propagating_vgws().len(), 1, "{t:?}");
        assert_eq!(t.associations()[0].main(), Some(false));
        assert!(t.associations()[0].subnet_id().is_some());
    }
    let sg = ec2
        .describe_security_groups()
        .group_ids("sg-0a1b2c3d4e5f60781")
        .send()
        .await
        .unwrap();
    assert!(!sg.security_groups()[0].ip_permissions().is_empty());
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_walks_the_vpn_lifecycle_in_real_time() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 1.0 },
            ..SandboxConfig::default()
        },
    )
    .await;
    let url = sb.url();
    let out = tokio::task::spawn_blocking(move || common::run_python("aws_lifecycle.py", &[&url]))
        .await
        .unwrap();
    assert!(out.contains("aws_lifecycle: ok"), "{out}");
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_modifies_tunnel_options_and_reads_vpc_attributes_and_security_group_rules() {
    let (sb, ec2) = start().await;
    let vgw = attached_vgw(&ec2).await;
    let cgw = customer_gateway(&ec2, 65010, "198.51.100.7").await;
    let created = vpn_connection(
        &ec2,
        &cgw,
        &vgw,
        VpnConnectionOptionsSpecification::builder()
            .static_routes_only(true)
            .tunnel_options(tunnel("169.254.10.0/30", "key_one_1234"))
            .build(),
    )
    .send()
    .await
    .unwrap();
    let conn = created.vpn_connection().unwrap();
    let id = conn.vpn_connection_id().unwrap();
    let outside = conn.options().unwrap().tunnel_options()[0]
        .outside_ip_address()
        .unwrap();
    let out = ec2
        .modify_vpn_tunnel_options()
        .vpn_connection_id(id)
        .vpn_tunnel_outside_ip_address(outside)
        .tunnel_options(
            ModifyVpnTunnelOptionsSpecification::builder()
                .pre_shared_key("key_new_5678")
                .dpd_timeout_seconds(45)
                .dpd_timeout_action("restart")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let t = &out
        .vpn_connection()
        .unwrap()
        .options()
        .unwrap()
        .tunnel_options()[0];
    assert_eq!(t.pre_shared_key(), Some("key_new_5678"));
    assert_eq!(t.dpd_timeout_seconds(), Some(45));
    assert_eq!(t.dpd_timeout_action(), Some("restart"));
    assert_eq!(
        t.tunnel_inside_cidr(),
        Some("169.254.10.0/30"),
        "unchanged options stay"
    );
    let err = ec2
        .modify_vpn_tunnel_options()
        .vpn_connection_id(id)
        .vpn_tunnel_outside_ip_address(outside)
        .tunnel_options(
            ModifyVpnTunnelOptionsSpecification::builder()
                .pre_shared_key("0bad")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));

    let a = ec2
        .describe_vpc_attribute()
        .vpc_id(VPC)
        .attribute(VpcAttributeName::EnableDnsSupport)
        .send()
        .await
        .unwrap();
    assert_eq!(a.vpc_id(), Some(VPC));
    assert_eq!(a.enable_dns_support().and_then(|v| v.value()), Some(true));
    let a = ec2
        .describe_vpc_attribute()
        .vpc_id(VPC)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .unwrap();
    assert_eq!(
        a.enable_dns_hostnames().and_then(|v| v.value()),
        Some(false)
    );

    let sg = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", VPC))
        .filters(filter("group-name", "default"))
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_string();
    let rules: Vec<SecurityGroupRule> = ec2
        .describe_security_group_rules()
        .filters(filter("group-id", &sg))
        .into_paginator()
        .page_size(5)
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rules.len(), 2, "the default group's two rules: {rules:?}");
    assert!(rules.iter().any(|r| r.is_egress() == Some(true)
        && r.cidr_ipv4() == Some("0.0.0.0/0")
        && r.ip_protocol() == Some("-1")));
    let by_id = ec2
        .describe_security_group_rules()
        .security_group_rule_ids(rules[0].security_group_rule_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.security_group_rules().len(), 1);
    stop(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_reach_the_sdk_as_auth_failure() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 0.0 },
            reject_credentials: true,
            ..SandboxConfig::default()
        },
    )
    .await;
    let ec2 = client(&sb.url());
    let err = ec2.describe_vpcs().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure"), "{err:?}");
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(401),
        "{err:?}"
    );
    sb.sandbox.set_reject_credentials(false);
    ec2.describe_vpcs().send().await.unwrap();
    stop(sb).await;
}
