//! The sandbox's Azure ARM front end driven by the real azure_mgmt_network SDK (every
//! operation peerctl needs, LRO polling, error codes, throttling retries, counters), by the
//! Python azure-mgmt-network client, and checked against the published ARM models.

use crate::common;
use azure_core::error::ErrorKind;
use azure_core::{RetryOptions, StatusCode, TransportOptions};
use azure_mgmt_network::package_2024_03::models::{
    self, public_ip_address_sku,
    security_rule_properties_format::Protocol,
    virtual_network_gateway_properties_format::{GatewayType, VpnType},
    virtual_network_gateway_sku,
};
use azure_mgmt_network::package_2024_03::Client;
use futures::StreamExt;
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::SandboxConfig;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const SUB: &str = "00000000-0000-0000-0000-000000000000";
const RG: &str = "net-rg";
const VNET: &str = "prod-vnet";

#[derive(Debug)]
struct FakeCred;

#[async_trait::async_trait]
impl azure_core::auth::TokenCredential for FakeCred {
    async fn get_token(
        &self,
        _scopes: &[&str],
    ) -> azure_core::Result<azure_core::auth::AccessToken> {
        Ok(azure_core::auth::AccessToken::new(
            "fake-token",
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

fn client_with(url: &str, retry: RetryOptions) -> Client {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();
    Client::builder(Arc::new(FakeCred))
        .endpoint(azure_core::Url::parse(url).unwrap())
        .retry(retry)
        .transport(TransportOptions::new(Arc::new(http)))
        .build()
        .unwrap()
}

fn client(url: &str) -> Client {
    client_with(url, RetryOptions::none())
}

fn id(kind: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/{kind}/{name}")
}

fn sub_ref(id: String) -> models::SubResource {
    models::SubResource { id: Some(id) }
}

fn error_code(e: &azure_core::Error) -> (StatusCode, Option<String>) {
    match e.kind() {
        ErrorKind::HttpResponse { status, error_code } => (*status, error_code.clone()),
        other => panic!("not an HTTP error: {other:?} ({e})"),
    }
}

async fn admin(url: &str, method: &str, path: &str, body: Value) -> Value {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let req = match method {
        "POST" => http
            .post(format!("{url}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string()),
        _ => http.get(format!("{url}{path}")),
    };
    json_of(req.send().await.unwrap()).await
}

async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn gateway_subnet(prefix: &str) -> models::Subnet {
    let mut s = models::Subnet::new();
    s.properties = Some(models::SubnetPropertiesFormat {
        address_prefix: Some(prefix.into()),
        ..Default::default()
    });
    s
}

fn standard_ip() -> models::PublicIpAddress {
    let mut ip = models::PublicIpAddress::new();
    ip.resource.location = Some("eastus".into());
    ip.sku = Some(models::PublicIpAddressSku {
        name: Some(public_ip_address_sku::Name::Standard),
        tier: Some(public_ip_address_sku::Tier::Regional),
    });
    ip.properties = Some(Box::new(models::PublicIpAddressPropertiesFormat {
        public_ip_allocation_method: Some(models::IpAllocationMethod::Static),
        ..Default::default()
    }));
    ip
}

fn vpn_gateway(vnet: &str, ip: &str) -> models::VirtualNetworkGateway {
    let props = models::VirtualNetworkGatewayPropertiesFormat {
        ip_configurations: vec![models::VirtualNetworkGatewayIpConfiguration {
            sub_resource: models::SubResource { id: None },
            name: Some("default".into()),
            etag: None,
            properties: Some(
                models::VirtualNetworkGatewayIpConfigurationPropertiesFormat {
                    private_ip_allocation_method: Some(models::IpAllocationMethod::Dynamic),
                    subnet: Some(sub_ref(format!(
                        "{}/subnets/GatewaySubnet",
                        id("virtualNetworks", vnet)
                    ))),
                    public_ip_address: Some(sub_ref(id("publicIPAddresses", ip))),
                    ..Default::default()
                },
            ),
        }],
        gateway_type: Some(GatewayType::Vpn),
        vpn_type: Some(VpnType::RouteBased),
        enable_bgp: Some(false),
        sku: Some(models::VirtualNetworkGatewaySku {
            name: Some(virtual_network_gateway_sku::Name::VpnGw1),
            tier: Some(virtual_network_gateway_sku::Tier::VpnGw1),
            capacity: None,
        }),
        ..Default::default()
    };
    let mut g = models::VirtualNetworkGateway::new(props);
    g.resource.location = Some("eastus".into());
    g.resource.tags = Some(json!({"peerctl-topology": "prod-mesh"}));
    g
}

fn local_gateway(ip: &str, prefixes: &[&str]) -> models::LocalNetworkGateway {
    let mut l = models::LocalNetworkGateway::new(models::LocalNetworkGatewayPropertiesFormat {
        local_network_address_space: Some(models::AddressSpace {
            address_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        }),
        gateway_ip_address: Some(ip.into()),
        ..Default::default()
    });
    l.resource.location = Some("eastus".into());
    l
}

fn connection(gateway: &str, lng: &str, psk: &str) -> models::VirtualNetworkGatewayConnection {
    let mut gw = models::VirtualNetworkGateway::new(Default::default());
    gw.resource.id = Some(id("virtualNetworkGateways", gateway));
    let mut l = models::LocalNetworkGateway::new(Default::default());
    l.resource.id = Some(id("localNetworkGateways", lng));
    let mut props = models::VirtualNetworkGatewayConnectionPropertiesFormat::new(
        gw,
        models::VirtualNetworkGatewayConnectionType::IPsec,
    );
    props.local_network_gateway2 = Some(l);
    props.shared_key = Some(psk.into());
    props.connection_protocol = Some(models::ConnectionProtocol::IkEv2);
    props.enable_bgp = Some(false);
    let mut c = models::VirtualNetworkGatewayConnection::new(props);
    c.resource.location = Some("eastus".into());
    c
}

/// Builds GatewaySubnet, a Standard public IP and a VPN gateway in `vnet`; returns the IP.
async fn build_gateway(az: &Client, vnet: &str, gw_subnet: &str, name: &str) -> String {
    let s = az
        .subnets_client()
        .create_or_update(RG, vnet, "GatewaySubnet", gateway_subnet(gw_subnet), SUB)
        .await
        .unwrap();
    assert_eq!(
        s.properties.unwrap().provisioning_state,
        Some(models::ProvisioningState::Succeeded)
    );
    let ip_name = format!("{name}-ip");
    let ip = az
        .public_ip_addresses_client()
        .create_or_update(RG, &ip_name, standard_ip(), SUB)
        .await
        .unwrap();
    let address = ip
        .properties
        .unwrap()
        .ip_address
        .expect("a Static IP has its address at once");
    let g = az
        .virtual_network_gateways_client()
        .create_or_update(RG, name, vpn_gateway(vnet, &ip_name), SUB)
        .await
        .unwrap();
    assert_eq!(
        g.properties.provisioning_state,
        Some(models::ProvisioningState::Succeeded)
    );
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_vnet_has_its_prefixes_a_default_subnet_and_an_nsg_with_default_rules() {
    let sb = common::start(common::triangle()).await;
    let az = client(&sb.url());
    let v = az
        .virtual_networks_client()
        .get(RG, VNET, SUB)
        .await
        .unwrap();
    let props = v.properties.unwrap();
    assert_eq!(
        props.address_space.unwrap().address_prefixes,
        vec!["10.30.0.0/16"]
    );
    assert_eq!(v.resource.tags.unwrap()["peerctl-network"], "az-eus");
    let mut subnets = az.subnets_client().list(RG, VNET, SUB).into_stream();
    let page = subnets.next().await.unwrap().unwrap();
    let names: Vec<_> = page.value.iter().filter_map(|s| s.name.clone()).collect();
    assert_eq!(
        names,
        vec!["default"],
        "no GatewaySubnet until peerctl creates it"
    );
    let default = page.value[0].properties.clone().unwrap();
    assert_eq!(default.address_prefix.as_deref(), Some("10.30.0.0/24"));
    assert_eq!(
        default.network_security_group.unwrap().resource.id,
        Some(id("networkSecurityGroups", "prod-vnet-nsg"))
    );
    let nsg = az
        .network_security_groups_client()
        .get(RG, "prod-vnet-nsg", SUB)
        .await
        .unwrap();
    let rules: Vec<(String, i32)> = nsg
        .properties
        .unwrap()
        .default_security_rules
        .iter()
        .map(|r| {
            (
                r.name.clone().unwrap(),
                r.properties.as_ref().unwrap().priority,
            )
        })
        .collect();
    assert!(rules.contains(&("AllowVnetInBound".into(), 65000)));
    assert!(rules.contains(&("AllowAzureLoadBalancerInBound".into(), 65001)));
    assert!(rules.contains(&("DenyAllInBound".into(), 65500)));
    assert_eq!(rules.len(), 6);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_connection_and_shared_key_round_trip_through_lro_polling() {
    let sb = common::start(common::triangle()).await;
    let az = client(&sb.url());
    let ip = build_gateway(&az, VNET, "10.30.255.0/27", "gw").await;
    assert!(
        ip.starts_with("198.19."),
        "Azure public IPs come from 198.19.0.0/17: {ip}"
    );
    az.local_network_gateways_client()
        .create_or_update(
            RG,
            "to-aws",
            local_gateway("198.18.0.10", &["10.10.0.0/16"]),
            SUB,
        )
        .await
        .unwrap();
    let c = az
        .virtual_network_gateway_connections_client()
        .create_or_update(
            RG,
            "to-aws",
            connection("gw", "to-aws", "Abcdefgh12345678"),
            SUB,
        )
        .await
        .unwrap();
    let p = c.properties;
    assert_eq!(
        p.connection_protocol,
        Some(models::ConnectionProtocol::IkEv2)
    );
    assert_eq!(
        p.shared_key, None,
        "the key is write-only on the connection"
    );
    // Nobody answers at 198.18.0.10: IKE keeps trying.
    assert_eq!(
        p.connection_status,
        Some(models::VirtualNetworkGatewayConnectionStatus::Connecting)
    );
    assert_eq!(p.tunnel_connection_status.len(), 1);
    let conns = az.virtual_network_gateway_connections_client();
    let k = conns.get_shared_key(RG, "to-aws", SUB).await.unwrap();
    assert_eq!(k.value, "Abcdefgh12345678");
    conns
        .set_shared_key(
            RG,
            "to-aws",
            models::ConnectionSharedKey {
                sub_resource: models::SubResource { id: None },
                value: "Zyxwvuts87654321".into(),
            },
            SUB,
        )
        .await
        .unwrap();
    assert_eq!(
        conns.get_shared_key(RG, "to-aws", SUB).await.unwrap().value,
        "Zyxwvuts87654321"
    );

    let gws = az.virtual_network_gateways_client();
    let g = gws.get(RG, "gw", SUB).await.unwrap();
    let bgp = g.properties.bgp_settings.unwrap();
    assert_eq!(bgp.asn, Some(65515));
    assert_eq!(bgp.bgp_peering_address.as_deref(), Some("10.30.255.30"));
    // Static routing: no BGP peers; the gateway knows its VNet's prefix.
    let peers = gws.get_bgp_peer_status(RG, "gw", SUB).await.unwrap();
    assert!(peers.value.is_empty());
    let routes = gws.get_learned_routes(RG, "gw", SUB).await.unwrap();
    assert!(routes
        .value
        .iter()
        .any(|r| r.network.as_deref() == Some("10.30.0.0/16")
            && r.origin.as_deref() == Some("Network")));
    let adv = gws
        .get_advertised_routes(RG, "gw", "198.18.0.10", SUB)
        .await
        .unwrap();
    assert_eq!(adv.value.len(), 1);

    let mut list = gws.list(RG, SUB).into_stream();
    let names: Vec<_> = list
        .next()
        .await
        .unwrap()
        .unwrap()
        .value
        .iter()
        .filter_map(|g| g.resource.name.clone())
        .collect();
    assert_eq!(names, vec!["gw"]);

    // Delete: 202 + Location, then 404 on the resource; deleting again is 204.
    let r = conns.delete(RG, "to-aws", SUB).send().await.unwrap();
    assert_eq!(r.as_raw_response().status(), StatusCode::Accepted);
    let location = r
        .as_raw_response()
        .headers()
        .get_optional_str(&azure_core::headers::LOCATION)
        .map(String::from);
    assert!(location.unwrap().starts_with(&sb.url()));
    let e = conns.get(RG, "to-aws", SUB).await.unwrap_err();
    assert_eq!(
        error_code(&e),
        (StatusCode::NotFound, Some("ResourceNotFound".into()))
    );
    let r = conns.delete(RG, "to-aws", SUB).send().await.unwrap();
    assert_eq!(r.as_raw_response().status(), StatusCode::NoContent);

    let stats = admin(&sb.url(), "GET", "/_sandbox/stats", Value::Null).await;
    let ops = &stats["clouds"]["azure"]["operations"];
    assert_eq!(ops["VirtualNetworkGateways_CreateOrUpdate"], 1);
    assert_eq!(ops["VirtualNetworkGatewayConnections_SetSharedKey"], 1);
    assert_eq!(ops["VirtualNetworkGatewayConnections_Delete"], 2);
    assert!(
        ops["AzureAsyncOperation_Get"].as_u64().unwrap() >= 5,
        "{ops}"
    );
    // GatewaySubnet, public IP, gateway, local network gateway (the connection is gone).
    assert_eq!(stats["created_resources"], 4);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_errors_reach_the_sdk_with_their_codes() {
    let sb = common::start(common::triangle()).await;
    let az = client(&sb.url());
    let e = az
        .virtual_network_gateways_client()
        .get(RG, "nope", SUB)
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (StatusCode::NotFound, Some("ResourceNotFound".into()))
    );
    let e = az
        .subnets_client()
        .get(RG, VNET, "nope", SUB)
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (StatusCode::NotFound, Some("NotFound".into()))
    );
    // A gateway on a subnet not named GatewaySubnet is refused.
    az.public_ip_addresses_client()
        .create_or_update(RG, "gw-ip", standard_ip(), SUB)
        .await
        .unwrap();
    let mut g = vpn_gateway(VNET, "gw-ip");
    g.properties.ip_configurations[0]
        .properties
        .as_mut()
        .unwrap()
        .subnet = Some(sub_ref(format!(
        "{}/subnets/default",
        id("virtualNetworks", VNET)
    )));
    let e = az
        .virtual_network_gateways_client()
        .create_or_update(RG, "gw", g, SUB)
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (StatusCode::BadRequest, Some("InvalidGatewaySubnet".into()))
    );
    // A subnet outside the VNet.
    let e = az
        .subnets_client()
        .create_or_update(
            RG,
            VNET,
            "GatewaySubnet",
            gateway_subnet("10.99.0.0/27"),
            SUB,
        )
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            StatusCode::BadRequest,
            Some("NetcfgSubnetRangeOutsideVnet".into())
        )
    );
    // A security rule outside 100-4096.
    let mut rule = models::SecurityRule::new();
    let mut p = models::SecurityRulePropertiesFormat::new(
        Protocol::Tcp,
        models::SecurityRuleAccess::Allow,
        50,
        models::SecurityRuleDirection::Inbound,
    );
    p.source_port_range = Some("*".into());
    p.destination_port_range = Some("443".into());
    p.source_address_prefix = Some("10.10.0.0/16".into());
    p.destination_address_prefix = Some("*".into());
    rule.properties = Some(p);
    let e = az
        .security_rules_client()
        .create_or_update(RG, "prod-vnet-nsg", "r", rule, SUB)
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            StatusCode::BadRequest,
            Some("SecurityRuleInvalidPriority".into())
        )
    );
    // Ports and prefixes the physics could never match are refused, not stored.
    for (r, code) in [
        (
            security_rule(300, &["70000"], "10.10.0.0/16"),
            "SecurityRuleInvalidPortRange",
        ),
        (
            security_rule(300, &["443"], "10.0.0.0/99"),
            "SecurityRuleInvalidAddressPrefix",
        ),
    ] {
        let e = az
            .security_rules_client()
            .create_or_update(RG, "prod-vnet-nsg", "bad", r, SUB)
            .await
            .unwrap_err();
        assert_eq!(error_code(&e), (StatusCode::BadRequest, Some(code.into())));
    }
    // api-version: missing, too old or no real date, as ARM words it.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let vnet_url = format!("{}{}", sb.url(), id("virtualNetworks", VNET));
    for (query, code) in [
        ("", "MissingApiVersionParameter"),
        ("?api-version=2023-11-01", "InvalidApiVersionParameter"),
        ("?api-version=2099-99-99", "InvalidApiVersionParameter"),
        ("?api-version=2025-02-29", "InvalidApiVersionParameter"),
    ] {
        let r = http.get(format!("{vnet_url}{query}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.headers()["x-ms-error-code"], code);
        let body = json_of(r).await;
        assert_eq!(body["error"]["code"], code);
    }
    let r = http
        .get(format!("{vnet_url}?api-version=2026-03-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "newer api-versions are served");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried_by_the_sdk_and_counted() {
    let sb = common::start(common::triangle()).await;
    admin(
        &sb.url(),
        "POST",
        "/_sandbox/faults",
        json!({"scripted": [
            {"cloud": "azure", "operation": "VirtualNetworks_Get", "kind": "throttle", "count": 1},
        ]}),
    )
    .await;
    // Without retries the throttling surfaces with ARM's code.
    let e = client(&sb.url())
        .virtual_networks_client()
        .get(RG, VNET, SUB)
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            StatusCode::TooManyRequests,
            Some("SubscriptionRequestsThrottled".into())
        )
    );
    admin(&sb.url(), "POST", "/_sandbox/faults", json!({"scripted": [
        {"cloud": "azure", "operation": "VirtualNetworks_Get", "kind": "throttle", "count": 1},
        {"cloud": "azure", "operation": "NetworkSecurityGroups_Get", "kind": "server_error", "count": 1},
    ]})).await;
    let az = client_with(
        &sb.url(),
        RetryOptions::fixed(
            azure_core::FixedRetryOptions::default()
                .delay(Duration::from_millis(10))
                .max_retries(3u32),
        ),
    );
    az.virtual_networks_client()
        .get(RG, VNET, SUB)
        .await
        .unwrap();
    az.network_security_groups_client()
        .get(RG, "prod-vnet-nsg", SUB)
        .await
        .unwrap();
    let stats = admin(&sb.url(), "GET", "/_sandbox/stats", Value::Null).await;
    let azure = &stats["clouds"]["azure"];
    assert_eq!(azure["faults"], 3);
    assert_eq!(azure["operations"]["VirtualNetworks_Get"], 1);
    assert_eq!(azure["operations"]["NetworkSecurityGroups_Get"], 1);
    assert_eq!(azure["mutating"], 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_gateway_is_updating_and_refuses_connections_until_built() {
    // Real time: the gateway takes 35 minutes; the test moves the sandbox clock instead.
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 1.0 },
            ..SandboxConfig::default()
        },
    )
    .await;
    let az = client(&sb.url());
    az.subnets_client()
        .create_or_update(
            RG,
            VNET,
            "GatewaySubnet",
            gateway_subnet("10.30.255.0/27"),
            SUB,
        )
        .send()
        .await
        .unwrap();
    az.public_ip_addresses_client()
        .create_or_update(RG, "gw-ip", standard_ip(), SUB)
        .send()
        .await
        .unwrap();
    sb.sandbox.advance_clock(60_000);
    let r = az
        .virtual_network_gateways_client()
        .create_or_update(RG, "gw", vpn_gateway(VNET, "gw-ip"), SUB)
        .send()
        .await
        .unwrap();
    let raw = r.as_raw_response();
    assert_eq!(raw.status(), StatusCode::Created);
    let async_op = raw
        .headers()
        .get_optional_str(&azure_core::headers::HeaderName::from_static(
            "azure-asyncoperation",
        ))
        .unwrap()
        .to_string();
    assert_eq!(
        raw.headers()
            .get_optional_str(&azure_core::headers::RETRY_AFTER),
        Some("10")
    );
    let g: models::VirtualNetworkGateway = r.into_body().await.unwrap();
    assert_eq!(
        g.properties.provisioning_state,
        Some(models::ProvisioningState::Updating)
    );
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let status = json_of(http.get(&async_op).send().await.unwrap()).await;
    assert_eq!(status["status"], "InProgress");

    az.local_network_gateways_client()
        .create_or_update(
            RG,
            "to-gcp",
            local_gateway("198.18.128.5", &["10.20.0.0/16"]),
            SUB,
        )
        .send()
        .await
        .unwrap();
    let e = az
        .virtual_network_gateway_connections_client()
        .create_or_update(
            RG,
            "to-gcp",
            connection("gw", "to-gcp", "Abcdefgh12345678"),
            SUB,
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            StatusCode::Conflict,
            Some("AnotherOperationInProgress".into())
        )
    );

    sb.sandbox.advance_clock(35 * 60_000);
    let status = json_of(http.get(&async_op).send().await.unwrap()).await;
    assert_eq!(status["status"], "Succeeded");
    let g = az
        .virtual_network_gateways_client()
        .get(RG, "gw", SUB)
        .await
        .unwrap();
    assert_eq!(
        g.properties.provisioning_state,
        Some(models::ProvisioningState::Succeeded)
    );
    let r = az
        .virtual_network_gateway_connections_client()
        .create_or_update(
            RG,
            "to-gcp",
            connection("gw", "to-gcp", "Abcdefgh12345678"),
            SUB,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.as_raw_response().status(), StatusCode::Created);
    // The connection now keeps the gateway busy: a second gateway write collides.
    let e = az
        .virtual_network_gateways_client()
        .create_or_update(RG, "gw", vpn_gateway(VNET, "gw-ip"), SUB)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            StatusCode::Conflict,
            Some("AnotherOperationInProgress".into())
        )
    );
    let c = az
        .virtual_network_gateway_connections_client()
        .get(RG, "to-gcp", SUB)
        .await
        .unwrap();
    assert_eq!(
        c.properties.connection_status,
        Some(models::VirtualNetworkGatewayConnectionStatus::Unknown)
    );
    sb.stop().await;
}

/// Two Azure VNets connected to each other over IPsec (site-to-site through local network
/// gateways): matching keys come up, learned routes and reachability follow; a wrong key
/// stays NotConnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_vnets_connect_when_keys_match_and_disconnect_on_a_key_mismatch() {
    let mut topo = common::triangle();
    topo.networks.push(common::azure_net(
        "az-weu",
        "edge-vnet",
        "10.40.0.0/16",
        "10.40.255.0/27",
    ));
    let sb = common::start(topo).await;
    let az = client(&sb.url());
    let ip1 = build_gateway(&az, VNET, "10.30.255.0/27", "gw1").await;
    let ip2 = build_gateway(&az, "edge-vnet", "10.40.255.0/27", "gw2").await;
    let lngs = az.local_network_gateways_client();
    lngs.create_or_update(RG, "to-edge", local_gateway(&ip2, &["10.40.0.0/16"]), SUB)
        .await
        .unwrap();
    lngs.create_or_update(RG, "to-prod", local_gateway(&ip1, &["10.30.0.0/16"]), SUB)
        .await
        .unwrap();
    let conns = az.virtual_network_gateway_connections_client();
    conns
        .create_or_update(
            RG,
            "prod-edge",
            connection("gw1", "to-edge", "Abcdefgh12345678"),
            SUB,
        )
        .await
        .unwrap();
    conns
        .create_or_update(
            RG,
            "edge-prod",
            connection("gw2", "to-prod", "Abcdefgh12345678"),
            SUB,
        )
        .await
        .unwrap();
    let c = conns.get(RG, "prod-edge", SUB).await.unwrap();
    assert_eq!(
        c.properties.connection_status,
        Some(models::VirtualNetworkGatewayConnectionStatus::Connected)
    );
    let routes = az
        .virtual_network_gateways_client()
        .get_learned_routes(RG, "gw1", SUB)
        .await
        .unwrap();
    assert!(
        routes
            .value
            .iter()
            .any(|r| r.network.as_deref() == Some("10.40.0.0/16")
                && r.next_hop.as_deref() == Some(ip2.as_str())),
        "{:?}",
        routes.value
    );
    let reach = admin(
        &sb.url(),
        "GET",
        "/_sandbox/reach?from=az-eus&to=az-weu&proto=tcp&port=443",
        Value::Null,
    )
    .await;
    assert_eq!(reach["reachable"], true, "{reach}");

    conns
        .set_shared_key(
            RG,
            "edge-prod",
            models::ConnectionSharedKey {
                sub_resource: models::SubResource { id: None },
                value: "Wrongkey12345678".into(),
            },
            SUB,
        )
        .await
        .unwrap();
    let c = conns.get(RG, "prod-edge", SUB).await.unwrap();
    assert_eq!(
        c.properties.connection_status,
        Some(models::VirtualNetworkGatewayConnectionStatus::NotConnected)
    );
    let routes = az
        .virtual_network_gateways_client()
        .get_learned_routes(RG, "gw1", SUB)
        .await
        .unwrap();
    assert!(!routes
        .value
        .iter()
        .any(|r| r.network.as_deref() == Some("10.40.0.0/16")));
    let reach = admin(
        &sb.url(),
        "GET",
        "/_sandbox/reach?from=az-eus&to=az-weu&proto=tcp&port=443",
        Value::Null,
    )
    .await;
    assert_eq!(reach["reachable"], false, "{reach}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsg_rules_and_routes_are_created_listed_and_deleted() {
    let sb = common::start(common::triangle()).await;
    let az = client(&sb.url());
    let mut rule = models::SecurityRule::new();
    let mut p = models::SecurityRulePropertiesFormat::new(
        Protocol::Tcp,
        models::SecurityRuleAccess::Allow,
        1000,
        models::SecurityRuleDirection::Inbound,
    );
    p.source_port_range = Some("*".into());
    p.destination_port_ranges = vec!["443".into(), "5432".into()];
    p.source_address_prefixes = vec!["10.10.0.0/16".into()];
    p.destination_address_prefix = Some("VirtualNetwork".into());
    rule.properties = Some(p);
    let rules = az.security_rules_client();
    let r = rules
        .create_or_update(RG, "prod-vnet-nsg", "allow-aws", rule, SUB)
        .await
        .unwrap();
    let rp = r.properties.unwrap();
    assert_eq!(rp.destination_port_ranges, vec!["443", "5432"]);
    assert_eq!(rp.priority, 1000);
    let mut page = rules.list(RG, "prod-vnet-nsg", SUB).into_stream();
    assert_eq!(page.next().await.unwrap().unwrap().value.len(), 1);
    let d = az
        .default_security_rules_client()
        .get(RG, "prod-vnet-nsg", "DenyAllInBound", SUB)
        .await
        .unwrap();
    assert_eq!(
        d.properties.unwrap().access,
        models::SecurityRuleAccess::Deny
    );
    let r = rules
        .delete(RG, "prod-vnet-nsg", "allow-aws", SUB)
        .send()
        .await
        .unwrap();
    assert_eq!(r.as_raw_response().status(), StatusCode::Accepted);
    let e = rules
        .get(RG, "prod-vnet-nsg", "allow-aws", SUB)
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e),
        (StatusCode::NotFound, Some("NotFound".into()))
    );

    let mut rt = models::RouteTable::new();
    rt.resource.location = Some("eastus".into());
    az.route_tables_client()
        .create_or_update(RG, "rt", rt, SUB)
        .await
        .unwrap();
    let mut route = models::Route::new();
    route.properties = Some(models::RoutePropertiesFormat {
        address_prefix: Some("10.10.0.0/16".into()),
        ..models::RoutePropertiesFormat::new(models::RouteNextHopType::VirtualNetworkGateway)
    });
    az.routes_client()
        .create_or_update(RG, "rt", "to-aws", route, SUB)
        .await
        .unwrap();
    let t = az.route_tables_client().get(RG, "rt", SUB).await.unwrap();
    let routes = t.properties.unwrap().routes;
    assert_eq!(routes.len(), 1);
    assert_eq!(
        routes[0].properties.as_ref().unwrap().next_hop_type,
        models::RouteNextHopType::VirtualNetworkGateway
    );
    az.routes_client()
        .delete(RG, "rt", "to-aws", SUB)
        .send()
        .await
        .unwrap();
    let r = az
        .route_tables_client()
        .delete(RG, "rt", SUB)
        .send()
        .await
        .unwrap();
    assert_eq!(r.as_raw_response().status(), StatusCode::Accepted);
    let stats = admin(&sb.url(), "GET", "/_sandbox/stats", Value::Null).await;
    assert_eq!(stats["created_resources"], 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_conform_to_the_published_arm_models() {
    let sb = common::start(common::triangle()).await;
    let url = sb.url();
    let out =
        tokio::task::spawn_blocking(move || common::run_python("azure_conformance.py", &[&url]))
            .await
            .unwrap();
    println!("{out}");
    assert!(out.contains("azure_conformance: ok"), "{out}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_azure_mgmt_network_drives_the_sandbox() {
    let sb = common::start(common::triangle()).await;
    let url = sb.url();
    let out = tokio::task::spawn_blocking(move || common::run_python("azure_client.py", &[&url]))
        .await
        .unwrap();
    println!("{out}");
    assert!(out.contains("azure_client: ok"), "{out}");
    sb.stop().await;
}

/// Finishes a delete sent with `.send()` the way sdks.md describes (azure_mgmt_network 0.21
/// does not follow a delete's Location): 202 with an absolute Location on the sandbox, polled
/// until it answers 204. Returns how many polls that took.
async fn finish_delete(url: &str, raw: &azure_core::Response) -> usize {
    assert_eq!(raw.status(), StatusCode::Accepted);
    let location = raw
        .headers()
        .get_optional_str(&azure_core::headers::LOCATION)
        .expect("a delete answers with Location")
        .to_string();
    assert!(location.starts_with(url), "{location}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for polls in 1..=50 {
        let r = http.get(&location).send().await.unwrap();
        match r.status().as_u16() {
            202 => tokio::time::sleep(Duration::from_millis(10)).await,
            204 => return polls,
            other => panic!("Location answered {other}"),
        }
    }
    panic!("the delete never finished");
}

fn not_found_code<T: std::fmt::Debug>(r: azure_core::Result<T>) -> (StatusCode, Option<String>) {
    error_code(&r.expect_err("the resource is gone"))
}

fn security_rule(priority: i32, dest_ports: &[&str], source: &str) -> models::SecurityRule {
    let mut rule = models::SecurityRule::new();
    rule.name = Some(format!("r{priority}"));
    let mut p = models::SecurityRulePropertiesFormat::new(
        Protocol::Tcp,
        models::SecurityRuleAccess::Allow,
        priority,
        models::SecurityRuleDirection::Inbound,
    );
    p.source_port_range = Some("*".into());
    p.destination_port_ranges = dest_ports.iter().map(|s| s.to_string()).collect();
    p.source_address_prefix = Some(source.into());
    p.destination_address_prefix = Some("*".into());
    rule.properties = Some(p);
    rule
}

/// The operations the other tests do not reach, each through azure_mgmt_network: VNet create
/// and list, subnet delete, public IP get/list/delete, gateway delete, local network gateway
/// get/list/delete, connection list, NSG create/list/delete, route table list, route get/list;
/// deletes sent with `.send()` and finished by polling Location.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_remaining_operation_runs_through_the_sdk() {
    let sb = common::start(common::triangle()).await;
    let url = sb.url();
    let az = client(&url);

    // Virtual networks: create one with an inline subnet, list both.
    let vnets = az.virtual_networks_client();
    let mut v = models::VirtualNetwork::new();
    v.resource.location = Some("eastus".into());
    let mut s = gateway_subnet("10.50.1.0/24");
    s.name = Some("apps".into());
    v.properties = Some(models::VirtualNetworkPropertiesFormat {
        address_space: Some(models::AddressSpace {
            address_prefixes: vec!["10.50.0.0/16".into()],
        }),
        subnets: vec![s],
        ..Default::default()
    });
    let created = vnets
        .create_or_update(RG, "lab-vnet", v, SUB)
        .await
        .unwrap();
    let props = created.properties.unwrap();
    assert_eq!(props.subnets.len(), 1);
    assert_eq!(
        props.provisioning_state,
        Some(models::ProvisioningState::Succeeded)
    );
    let page = vnets
        .list(RG, SUB)
        .into_stream()
        .next()
        .await
        .unwrap()
        .unwrap();
    let mut names: Vec<_> = page
        .value
        .iter()
        .filter_map(|v| v.resource.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, vec!["lab-vnet", "prod-vnet"]);
    // Subnet delete.
    let r = az
        .subnets_client()
        .delete(RG, "lab-vnet", "apps", SUB)
        .send()
        .await
        .unwrap();
    finish_delete(&url, r.as_raw_response()).await;
    assert_eq!(
        not_found_code(az.subnets_client().get(RG, "lab-vnet", "apps", SUB).await),
        (StatusCode::NotFound, Some("NotFound".into()))
    );

    // Public IP get/list, gateway on it, connection list.
    let address = build_gateway(&az, VNET, "10.30.255.0/27", "gw").await;
    let ips = az.public_ip_addresses_client();
    let ip = ips.get(RG, "gw-ip", SUB).await.unwrap();
    let ip_props = ip.properties.unwrap();
    assert_eq!(ip_props.ip_address.as_deref(), Some(address.as_str()));
    assert!(ip_props
        .ip_configuration
        .and_then(|c| c.sub_resource.id)
        .is_some_and(|id| id.contains("/virtualNetworkGateways/gw/")));
    let page = ips
        .list(RG, SUB)
        .into_stream()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.value.len(), 1);

    // Local network gateways get/list, connection list.
    let lngs = az.local_network_gateways_client();
    lngs.create_or_update(
        RG,
        "to-aws",
        local_gateway("198.18.0.10", &["10.10.0.0/16"]),
        SUB,
    )
    .await
    .unwrap();
    let l = lngs.get(RG, "to-aws", SUB).await.unwrap();
    assert_eq!(
        l.properties.gateway_ip_address.as_deref(),
        Some("198.18.0.10")
    );
    assert_eq!(
        l.properties
            .local_network_address_space
            .unwrap()
            .address_prefixes,
        vec!["10.10.0.0/16"]
    );
    let page = lngs
        .list(RG, SUB)
        .into_stream()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.value.len(), 1);
    let conns = az.virtual_network_gateway_connections_client();
    conns
        .create_or_update(
            RG,
            "to-aws",
            connection("gw", "to-aws", "Abcdefgh12345678"),
            SUB,
        )
        .await
        .unwrap();
    let page = conns
        .list(RG, SUB)
        .into_stream()
        .next()
        .await
        .unwrap()
        .unwrap();
    let names: Vec<_> = page
        .value
        .iter()
        .filter_map(|c| c.resource.name.clone())
        .collect();
    assert_eq!(names, vec!["to-aws"]);

    // Route tables list, routes get/list.
    let mut rt = models::RouteTable::new();
    rt.resource.location = Some("eastus".into());
    az.route_tables_client()
        .create_or_update(RG, "rt", rt, SUB)
        .await
        .unwrap();
    let mut route = models::Route::new();
    route.properties = Some(models::RoutePropertiesFormat {
        address_prefix: Some("10.10.0.0/16".into()),
        ..models::RoutePropertiesFormat::new(models::RouteNextHopType::VirtualNetworkGateway)
    });
    az.routes_client()
        .create_or_update(RG, "rt", "to-aws", route, SUB)
        .await
        .unwrap();
    let page = az
        .route_tables_client()
        .list(RG, SUB)
        .into_stream()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.value.len(), 1);
    let r = az
        .routes_client()
        .get(RG, "rt", "to-aws", SUB)
        .await
        .unwrap();
    assert_eq!(
        r.properties.unwrap().address_prefix.as_deref(),
        Some("10.10.0.0/16")
    );
    let page = az
        .routes_client()
        .list(RG, "rt", SUB)
        .into_stream()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.value.len(), 1);

    // NSGs: create one with an inline rule, list, delete.
    let nsgs = az.network_security_groups_client();
    let mut n = models::NetworkSecurityGroup::new();
    n.resource.location = Some("eastus".into());
    n.properties = Some(models::NetworkSecurityGroupPropertiesFormat {
        security_rules: vec![security_rule(200, &["443"], "10.10.0.0/16")],
        ..Default::default()
    });
    let created = nsgs.create_or_update(RG, "lab-nsg", n, SUB).await.unwrap();
    assert_eq!(created.properties.unwrap().security_rules.len(), 1);
    let page = nsgs
        .list(RG, SUB)
        .into_stream()
        .next()
        .await
        .unwrap()
        .unwrap();
    let mut names: Vec<_> = page
        .value
        .iter()
        .filter_map(|n| n.resource.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, vec!["lab-nsg", "prod-vnet-nsg"]);
    let r = nsgs.delete(RG, "lab-nsg", SUB).send().await.unwrap();
    finish_delete(&url, r.as_raw_response()).await;
    assert_eq!(
        not_found_code(nsgs.get(RG, "lab-nsg", SUB).await),
        (StatusCode::NotFound, Some("ResourceNotFound".into()))
    );

    // Tear down in dependency order: what is still in use is refused first.
    let e = lngs.delete(RG, "to-aws", SUB).send().await.unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            StatusCode::BadRequest,
            Some("InUseLocalNetworkGatewayCannotBeDeleted".into())
        )
    );
    let r = conns.delete(RG, "to-aws", SUB).send().await.unwrap();
    finish_delete(&url, r.as_raw_response()).await;
    let r = lngs.delete(RG, "to-aws", SUB).send().await.unwrap();
    finish_delete(&url, r.as_raw_response()).await;
    assert_eq!(
        not_found_code(lngs.get(RG, "to-aws", SUB).await),
        (StatusCode::NotFound, Some("ResourceNotFound".into()))
    );
    let e = ips.delete(RG, "gw-ip", SUB).send().await.unwrap_err();
    assert_eq!(
        error_code(&e),
        (
            StatusCode::BadRequest,
            Some("PublicIPAddressCannotBeDeleted".into())
        )
    );
    let gws = az.virtual_network_gateways_client();
    let r = gws.delete(RG, "gw", SUB).send().await.unwrap();
    finish_delete(&url, r.as_raw_response()).await;
    assert_eq!(
        not_found_code(gws.get(RG, "gw", SUB).await),
        (StatusCode::NotFound, Some("ResourceNotFound".into()))
    );
    let r = ips.delete(RG, "gw-ip", SUB).send().await.unwrap();
    finish_delete(&url, r.as_raw_response()).await;
    assert_eq!(
        not_found_code(ips.get(RG, "gw-ip", SUB).await),
        (StatusCode::NotFound, Some("ResourceNotFound".into()))
    );

    let stats = admin(&url, "GET", "/_sandbox/stats", Value::Null).await;
    let ops = &stats["clouds"]["azure"]["operations"];
    for op in [
        "VirtualNetworks_CreateOrUpdate",
        "VirtualNetworks_List",
        "Subnets_Delete",
        "PublicIPAddresses_Get",
        "PublicIPAddresses_List",
        "PublicIPAddresses_Delete",
        "VirtualNetworkGateways_Delete",
        "LocalNetworkGateways_Get",
        "LocalNetworkGateways_List",
        "LocalNetworkGateways_Delete",
        "VirtualNetworkGatewayConnections_List",
        "NetworkSecurityGroups_CreateOrUpdate",
        "NetworkSecurityGroups_List",
        "NetworkSecurityGroups_Delete",
        "RouteTables_List",
        "Routes_Get",
        "Routes_List",
    ] {
        assert!(ops[op].as_u64().unwrap_or(0) >= 1, "{op} never ran: {ops}");
    }
    assert!(ops["OperationResults_Get"].as_u64().unwrap() >= 6, "{ops}");
    // Left: lab-vnet, GatewaySubnet, the route table and its route.
    assert_eq!(stats["created_resources"], 4, "{stats}");
    sb.stop().await;
}

/// Creates every Azure resource of `plan` through an in-process sandbox, the way an apply would
/// (references to other clouds' outputs replaced by addresses from the test ranges).
fn apply_azure_side(sb: &peerctl::sandbox::Sandbox, rg: &str, plan: &peerctl::plan::Plan) {
    use peerctl::cloud::Cloud;
    use peerctl::plan::resource::{Kind as K, Resource, Value as V};
    use std::collections::BTreeMap;
    let by_addr: BTreeMap<&str, &Resource> = plan
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    fn text(v: &V) -> String {
        match v {
            V::Str(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }
    let path_of = |r: &Resource| match r.kind {
        K::AzureSubnet => format!(
            "/virtualNetworks/{}/subnets/{}",
            text(&r.attributes["vnet"]),
            r.name
        ),
        K::AzurePublicIp => format!("/publicIPAddresses/{}", r.name),
        K::AzureVpnGateway => format!("/virtualNetworkGateways/{}", r.name),
        K::AzureLocalNetworkGateway => format!("/localNetworkGateways/{}", r.name),
        K::AzureConnection => format!("/connections/{}", r.name),
        K::AzureNsgRule => format!(
            "/networkSecurityGroups/{}/securityRules/{}",
            text(&r.attributes["network_security_group"]),
            r.name
        ),
        _ => unreachable!(),
    };
    let id_of = |v: &V| match v {
        V::Ref(r) => format!("{rg}{}", path_of(by_addr[r.resource.as_str()])),
        other => panic!("not a reference: {other:?}"),
    };
    let s = |r: &Resource, k: &str| text(&r.attributes[k]);
    let strs = |r: &Resource, k: &str| match &r.attributes[k] {
        V::List(l) => l.iter().map(text).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    for addr in &plan.order {
        let r = by_addr[addr.as_str()];
        if r.cloud() != Cloud::Azure {
            continue;
        }
        let body = match r.kind {
            K::AzureSubnet => json!({"properties": {"addressPrefix": s(r, "address_prefix")}}),
            K::AzurePublicIp => json!({"location": r.region, "sku": {"name": s(r, "sku")},
                "properties": {"publicIPAllocationMethod": s(r, "allocation")}}),
            K::AzureVpnGateway => json!({"location": r.region, "properties": {
                "gatewayType": s(r, "gateway_type"), "vpnType": s(r, "vpn_type"),
                "sku": {"name": s(r, "sku"), "tier": s(r, "sku")},
                "ipConfigurations": [{"name": "default", "properties": {
                    "subnet": {"id": id_of(&r.attributes["subnet"])},
                    "publicIPAddress": {"id": id_of(&r.attributes["public_ip"])}}}]}}),
            K::AzureLocalNetworkGateway => json!({"location": r.region, "properties": {
                "gatewayIpAddress": "198.18.0.10",
                "localNetworkAddressSpace": {"addressPrefixes": strs(r, "address_prefixes")}}}),
            K::AzureConnection => json!({"location": r.region, "properties": {
                "connectionType": s(r, "connection_type"),
                "connectionProtocol": s(r, "connection_protocol"),
                "sharedKey": "Abcdefgh12345678",
                "virtualNetworkGateway1": {"id": id_of(&r.attributes["virtual_network_gateway"]), "properties": {}},
                "localNetworkGateway2": {"id": id_of(&r.attributes["local_network_gateway"]), "properties": {}}}}),
            K::AzureNsgRule => json!({"properties": {
                "protocol": s(r, "protocol"), "access": s(r, "access"), "direction": s(r, "direction"),
                "priority": match r.attributes["priority"] { V::Int(p) => p, ref o => panic!("{o:?}") },
                "sourcePortRange": "*",
                "destinationPortRanges": strs(r, "destination_port_ranges"),
                "sourceAddressPrefixes": strs(r, "source_address_prefixes"),
                "destinationAddressPrefixes": strs(r, "destination_address_prefixes")}}),
            other => panic!("the planner has a new Azure kind {other}: teach this test"),
        };
        let path = format!("{rg}{}", path_of(r));
        let resp = sb.handle(&peerctl::sandbox::http::Request {
            method: "PUT".into(),
            path: path.clone(),
            query: vec![("api-version".into(), "2024-03-01".into())],
            body: serde_json::to_vec(&body).unwrap(),
            base_url: "http://sandbox".into(),
            ..Default::default()
        });
        assert!(
            resp.status == 200 || resp.status == 201,
            "PUT {path}: {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
}

/// The sandbox counts ARM resources under their own types; each planner kind is one of them.
fn arm_type_of(kind: peerctl::plan::resource::Kind) -> &'static str {
    use peerctl::plan::resource::Kind as K;
    match kind {
        K::AzureSubnet => "virtualNetworks/subnets",
        K::AzurePublicIp => "publicIPAddresses",
        K::AzureVpnGateway => "virtualNetworkGateways",
        K::AzureLocalNetworkGateway => "localNetworkGateways",
        K::AzureConnection => "connections",
        K::AzureNsgRule => "networkSecurityGroups/securityRules",
        other => panic!("the planner has a new Azure kind {other}: teach this test"),
    }
}

#[test]
fn after_applying_a_plan_created_resources_counts_what_the_plan_creates_by_kind() {
    use peerctl::cloud::Cloud;
    use peerctl::topology::{Allow, AzureNetwork, Link, Location};
    use std::collections::BTreeMap;
    let nsgs = vec!["prod-vnet-nsg".to_string(), "app-nsg".to_string()];
    let mut az = common::azure_net("az-eus", "prod-vnet", "10.30.0.0/16", "10.30.255.0/27");
    if let Location::Azure(z) = &mut az.location {
        *z = AzureNetwork {
            subscription: "sub1".into(),
            network_security_groups: Some(nsgs),
            ..z.clone()
        };
    }
    let link = |a: &str, b: &str, allow: Vec<Allow>| Link {
        a: a.into(),
        b: b.into(),
        allow,
        span: peerctl::topology::Span::default(),
    };
    let topo = peerctl::topology::Topology {
        version: 1,
        name: "t".into(),
        networks: vec![
            common::aws_net("aws-use1", "vpc-1", "10.10.0.0/16"),
            common::gcp_net("gcp-usc1", "n", "10.20.0.0/16"),
            az,
        ],
        links: vec![
            link(
                "aws-use1",
                "az-eus",
                vec![Allow::Tcp { from: 443, to: 443 }, Allow::Icmp],
            ),
            link("az-eus", "gcp-usc1", vec![]),
        ],
    };
    let tpl = peerctl::plan::templates::Templates::embedded().unwrap();
    let plan = peerctl::plan::plan(
        &topo,
        &peerctl::state::State::empty(),
        &tpl,
        &mut <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(7),
    )
    .unwrap();
    let mut want: BTreeMap<&str, usize> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.cloud == Cloud::Azure) {
        assert_eq!(c.action, peerctl::plan::Action::Create);
        *want.entry(arm_type_of(c.kind)).or_default() += 1;
    }
    assert_eq!(
        want["networkSecurityGroups/securityRules"], 8,
        "3 + 1 rules per NSG and link: {want:?}"
    );
    let sb = peerctl::sandbox::Sandbox::new(
        SandboxConfig {
            latency: Latency { scale: 0.0 },
            ..SandboxConfig::default()
        },
        Some(topo),
    )
    .unwrap();
    let rg = "/subscriptions/sub1/resourceGroups/net-rg/providers/Microsoft.Network";
    apply_azure_side(&sb, rg, &plan);
    let got: BTreeMap<&str, usize> = sb.inspect(|w, _| {
        w.azure
            .created_by_kind()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    });
    assert_eq!(got, want);
    assert_eq!(
        sb.stats_json()["created_resources"],
        want.values().sum::<usize>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_reach_the_sdk_as_invalid_authentication_token() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 0.0 },
            reject_credentials: true,
            ..SandboxConfig::default()
        },
    )
    .await;
    let az = client(&sb.url());
    let err = az
        .virtual_networks_client()
        .get(RG, VNET, SUB)
        .await
        .expect_err("rejected");
    assert_eq!(
        error_code(&err),
        (
            StatusCode::Unauthorized,
            Some("InvalidAuthenticationToken".to_string())
        )
    );
    sb.sandbox.set_reject_credentials(false);
    az.virtual_networks_client()
        .get(RG, VNET, SUB)
        .await
        .expect("accepted");
    sb.stop().await;
}
