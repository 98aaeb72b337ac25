//! Unit tests of the Azure front end, driven through `handle` with hand-made requests and a
//! hand-made physics verdict where the network model matters.

use super::*;
use crate::cloud::Cloud;
use crate::sandbox::latency::Latency;
use crate::sandbox::net::{
    CloudModel, EndId, EndStatus, Flow, FwDecision, NetState, Proto, RouteDecision,
};
use crate::topology::{AzureNetwork, Span};
use serde_json::{json, Value};

const RG: &str = "/subscriptions/sub1/resourceGroups/net-rg/providers/Microsoft.Network";
const API: &str = "2024-03-01";

fn world() -> World {
    world_with_nsgs(None)
}

/// The seeded world, with the topology's `network_security_groups` set to `nsgs`.
fn world_with_nsgs(nsgs: Option<Vec<String>>) -> World {
    let mut w = World::default();
    seed(
        &mut w,
        &Network {
            name: "az-eus".into(),
            cloud: Cloud::Azure,
            cidrs: vec!["10.30.0.0/16".parse().unwrap()],
            asn: None,
            location: Location::Azure(AzureNetwork {
                subscription: "sub1".into(),
                resource_group: "net-rg".into(),
                location: "eastus".into(),
                vnet: "prod-vnet".into(),
                gateway_subnet: "10.30.255.0/27".parse().unwrap(),
                gateway_sku: "VpnGw1".into(),
                network_security_groups: nsgs,
            }),
            span: Span::default(),
        },
    );
    w
}

fn call(
    w: &mut World,
    now: u64,
    scale: f64,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let latency = Latency { scale };
    let ctx = Ctx::new(now, &latency, "http://sandbox");
    let req = Request {
        method: method.into(),
        path: format!("{RG}{path}"),
        query: vec![("api-version".into(), API.into())],
        body: if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        },
        base_url: "http://sandbox".into(),
        ..Request::default()
    };
    let r = handle(w, &ctx, &req);
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

fn put(w: &mut World, path: &str, body: Value) -> Value {
    let (s, v) = call(w, 1_000, 0.0, "PUT", path, body);
    assert!(s == 200 || s == 201, "PUT {path}: {s} {v}");
    v
}

fn gateway_setup(w: &mut World) {
    put(
        w,
        "/virtualNetworks/prod-vnet/subnets/GatewaySubnet",
        json!({"properties": {"addressPrefix": "10.30.255.0/27"}}),
    );
    put(
        w,
        "/publicIPAddresses/gw-ip",
        json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}),
    );
    put(
        w,
        "/virtualNetworkGateways/gw",
        json!({"location": "eastus", "properties": {
        "gatewayType": "Vpn", "vpnType": "RouteBased", "sku": {"name": "VpnGw1", "tier": "VpnGw1"},
        "ipConfigurations": [{"name": "default", "properties": {
            "subnet": {"id": format!("{RG}/virtualNetworks/prod-vnet/subnets/GatewaySubnet")},
            "publicIPAddress": {"id": format!("{RG}/publicIPAddresses/gw-ip")}}}]}}),
    );
    put(
        w,
        "/localNetworkGateways/to-aws",
        json!({"location": "eastus", "properties": {
        "gatewayIpAddress": "198.18.0.10", "localNetworkAddressSpace": {"addressPrefixes": ["10.10.0.0/16"]}}}),
    );
    put(
        w,
        "/connections/to-aws",
        json!({"location": "eastus", "properties": {
        "connectionType": "IPsec", "connectionProtocol": "IKEv2", "sharedKey": "Abcdefgh12345678",
        "virtualNetworkGateway1": {"id": format!("{RG}/virtualNetworkGateways/gw"), "properties": {}},
        "localNetworkGateway2": {"id": format!("{RG}/localNetworkGateways/to-aws"), "properties": {}}}}),
    );
}

fn conn_end() -> EndId {
    EndId {
        cloud: Cloud::Azure,
        resource: format!("{RG}/connections/to-aws"),
        tunnel: 0,
    }
}

fn net_with(up: bool) -> NetState {
    let mut n = NetState::default();
    n.ends.insert(
        conn_end(),
        EndStatus {
            up,
            reason: if up {
                None
            } else {
                Some(crate::sandbox::net::DownReason::PskMismatch)
            },
            since_ms: 0,
            peer: None,
            peer_network: None,
            bgp: None,
        },
    );
    n
}

const VNET_KEY: &str = "azure:/subscriptions/sub1/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/prod-vnet";

#[test]
fn seeding_creates_vnet_default_subnet_and_nsg_but_no_gateway_subnet() {
    let mut w = world();
    let (s, v) = call(
        &mut w,
        0,
        0.0,
        "GET",
        "/virtualNetworks/prod-vnet",
        Value::Null,
    );
    assert_eq!(s, 200);
    assert_eq!(
        v["properties"]["addressSpace"]["addressPrefixes"],
        json!(["10.30.0.0/16"])
    );
    let subnets = v["properties"]["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 1);
    assert_eq!(subnets[0]["name"], "default");
    assert_eq!(subnets[0]["properties"]["addressPrefix"], "10.30.0.0/24");
    assert!(subnets[0]["properties"]["networkSecurityGroup"]["id"]
        .as_str()
        .unwrap()
        .ends_with("/networkSecurityGroups/prod-vnet-nsg"));
    assert_eq!(v["tags"][NETWORK_TAG], "az-eus");
    assert_eq!(w.azure.created_resources(), 0);
}

#[test]
fn default_subnet_skips_a_gateway_subnet_in_the_first_slash_24() {
    let cidrs = vec!["10.1.0.0/16".parse().unwrap()];
    assert_eq!(
        free_subnet(&cidrs, &["10.1.0.0/27".parse().unwrap()]),
        Some("10.1.1.0/24".parse().unwrap())
    );
    let small = vec!["10.2.0.0/26".parse().unwrap()];
    assert_eq!(
        free_subnet(&small, &["10.9.0.0/27".parse().unwrap()]),
        Some("10.2.0.0/26".parse().unwrap())
    );
}

#[test]
fn a_vnet_without_a_free_slash_24_gets_smaller_workload_subnets() {
    // A /24 VNet whose GatewaySubnet sits in it: the /25 before the gateway, then a /26.
    let cidrs = vec!["10.3.0.0/24".parse().unwrap()];
    let gw: Ipv4Net = "10.3.0.224/27".parse().unwrap();
    let first = free_subnet(&cidrs, &[gw]);
    assert_eq!(first, Some("10.3.0.0/25".parse().unwrap()));
    assert_eq!(
        free_subnet(&cidrs, &[gw, first.unwrap()]),
        Some("10.3.0.128/26".parse().unwrap())
    );
    let full: Vec<Ipv4Net> = vec!["10.3.0.0/24".parse().unwrap()];
    assert_eq!(free_subnet(&cidrs, &full), None);
}

#[test]
fn gateway_needs_a_subnet_named_gateway_subnet() {
    let mut w = world();
    put(
        &mut w,
        "/publicIPAddresses/gw-ip",
        json!({"location": "eastus", "sku": {"name": "Standard"}}),
    );
    let (s, v) = call(
        &mut w,
        0,
        0.0,
        "PUT",
        "/virtualNetworkGateways/gw",
        json!({"location": "eastus", "properties": {
        "gatewayType": "Vpn", "sku": {"name": "VpnGw1"},
        "ipConfigurations": [{"name": "default", "properties": {
            "subnet": {"id": format!("{RG}/virtualNetworks/prod-vnet/subnets/default")},
            "publicIPAddress": {"id": format!("{RG}/publicIPAddresses/gw-ip")}}}]}}),
    );
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], "InvalidGatewaySubnet");
}

#[test]
fn a_write_to_a_provisioning_gateway_is_another_operation_in_progress() {
    let mut w = world();
    put(
        &mut w,
        "/virtualNetworks/prod-vnet/subnets/GatewaySubnet",
        json!({"properties": {"addressPrefix": "10.30.255.0/27"}}),
    );
    put(
        &mut w,
        "/publicIPAddresses/gw-ip",
        json!({"location": "eastus", "sku": {"name": "Standard"}}),
    );
    let gw = json!({"location": "eastus", "properties": {
        "gatewayType": "Vpn", "sku": {"name": "VpnGw1"},
        "ipConfigurations": [{"name": "default", "properties": {
            "subnet": {"id": format!("{RG}/virtualNetworks/prod-vnet/subnets/GatewaySubnet")},
            "publicIPAddress": {"id": format!("{RG}/publicIPAddresses/gw-ip")}}}]}});
    // Real time scale: 35 minutes of provisioning.
    let (s, v) = call(
        &mut w,
        1_000,
        1.0,
        "PUT",
        "/virtualNetworkGateways/gw",
        gw.clone(),
    );
    assert_eq!(s, 201);
    assert_eq!(v["properties"]["provisioningState"], "Updating");
    let (s, v) = call(
        &mut w,
        60_000,
        1.0,
        "PUT",
        "/virtualNetworkGateways/gw",
        gw.clone(),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("AnotherOperationInProgress"))
    );
    let done = 1_000 + 35 * 60_000;
    let (_, v) = call(
        &mut w,
        done,
        1.0,
        "GET",
        "/virtualNetworkGateways/gw",
        Value::Null,
    );
    assert_eq!(v["properties"]["provisioningState"], "Succeeded");
    let (s, _) = call(&mut w, done, 1.0, "PUT", "/virtualNetworkGateways/gw", gw);
    assert_eq!(s, 200);
}

#[test]
fn shared_key_is_readable_only_through_the_sharedkey_resource() {
    let mut w = world();
    gateway_setup(&mut w);
    let (_, v) = call(
        &mut w,
        2_000,
        0.0,
        "GET",
        "/connections/to-aws",
        Value::Null,
    );
    assert!(!v.to_string().contains("Abcdefgh12345678"), "{v}");
    assert!(v["properties"].get("sharedKey").is_none());
    let (_, v) = call(
        &mut w,
        2_000,
        0.0,
        "GET",
        "/connections/to-aws/sharedkey",
        Value::Null,
    );
    assert_eq!(v["value"], "Abcdefgh12345678");
}

#[test]
fn local_network_gateway_prefixes_route_into_the_tunnel_only_while_connected() {
    let mut w = world();
    gateway_setup(&mut w);
    let dst = "10.10.1.5".parse().unwrap();
    match w.azure.route(VNET_KEY, dst, &net_with(true)) {
        RouteDecision::Tunnel { end, .. } => assert_eq!(end, conn_end()),
        other => panic!("{other:?}"),
    }
    match w.azure.route(VNET_KEY, dst, &net_with(false)) {
        RouteDecision::NoRoute { table } => assert!(table.contains("subnet default"), "{table}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.azure
            .route(VNET_KEY, "10.30.0.9".parse().unwrap(), &net_with(false)),
        RouteDecision::Local
    );
}

#[test]
fn a_route_table_without_gateway_propagation_hides_the_connection_routes() {
    let mut w = world();
    gateway_setup(&mut w);
    put(
        &mut w,
        "/routeTables/rt",
        json!({"location": "eastus", "properties": {"disableBgpRoutePropagation": true}}),
    );
    put(
        &mut w,
        "/virtualNetworks/prod-vnet/subnets/default",
        json!({"properties": {
        "addressPrefix": "10.30.0.0/24",
        "networkSecurityGroup": {"id": format!("{RG}/networkSecurityGroups/prod-vnet-nsg")},
        "routeTable": {"id": format!("{RG}/routeTables/rt")}}}),
    );
    let dst = "10.10.1.5".parse().unwrap();
    assert!(matches!(
        w.azure.route(VNET_KEY, dst, &net_with(true)),
        RouteDecision::NoRoute { .. }
    ));
    put(
        &mut w,
        "/routeTables/rt/routes/aws",
        json!({"properties": {"addressPrefix": "10.10.0.0/16", "nextHopType": "VirtualNetworkGateway"}}),
    );
    assert!(matches!(
        w.azure.route(VNET_KEY, dst, &net_with(true)),
        RouteDecision::Tunnel { .. }
    ));
}

#[test]
fn default_rules_admit_vpn_prefixes_and_a_deny_rule_narrows_them() {
    let mut w = world();
    let tcp443 = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    let src = "10.10.1.5".parse().unwrap();
    // Not connected through the gateway: not VirtualNetwork, so DenyAllInBound decides.
    match w.azure.ingress(VNET_KEY, src, tcp443) {
        FwDecision::Deny { rule } => assert!(rule.contains("DenyAllInBound"), "{rule}"),
        other => panic!("{other:?}"),
    }
    gateway_setup(&mut w);
    match w.azure.ingress(VNET_KEY, src, tcp443) {
        FwDecision::Allow { rule } => assert!(rule.contains("AllowVnetInBound"), "{rule}"),
        other => panic!("{other:?}"),
    }
    put(
        &mut w,
        "/networkSecurityGroups/prod-vnet-nsg/securityRules/deny-aws",
        json!({"properties": {
        "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
        "sourceAddressPrefix": "10.10.0.0/16", "destinationAddressPrefix": "*",
        "access": "Deny", "priority": 4000, "direction": "Inbound"}}),
    );
    put(
        &mut w,
        "/networkSecurityGroups/prod-vnet-nsg/securityRules/allow-https",
        json!({"properties": {
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRanges": ["443", "8000-8100"],
        "sourceAddressPrefixes": ["10.10.0.0/16"], "destinationAddressPrefix": "VirtualNetwork",
        "access": "Allow", "priority": 100, "direction": "Inbound"}}),
    );
    assert!(
        matches!(w.azure.ingress(VNET_KEY, src, tcp443), FwDecision::Allow { rule } if rule.contains("allow-https"))
    );
    let ssh = Flow {
        proto: Proto::Tcp,
        port: Some(22),
    };
    assert!(
        matches!(w.azure.ingress(VNET_KEY, src, ssh), FwDecision::Deny { rule } if rule.contains("deny-aws"))
    );
    // Egress is untouched by inbound rules.
    assert!(
        matches!(w.azure.egress(VNET_KEY, src, ssh), FwDecision::Allow { rule } if rule.contains("AllowVnetOutBound"))
    );
}

#[test]
fn security_rule_priorities_are_checked_like_azure() {
    let mut w = world();
    let rule = |prio: u32| {
        json!({"properties": {
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22",
        "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
        "access": "Allow", "priority": prio, "direction": "Inbound"}})
    };
    let (s, v) = call(
        &mut w,
        0,
        0.0,
        "PUT",
        "/networkSecurityGroups/prod-vnet-nsg/securityRules/a",
        rule(99),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("SecurityRuleInvalidPriority"))
    );
    put(
        &mut w,
        "/networkSecurityGroups/prod-vnet-nsg/securityRules/a",
        rule(200),
    );
    let (s, v) = call(
        &mut w,
        0,
        0.0,
        "PUT",
        "/networkSecurityGroups/prod-vnet-nsg/securityRules/b",
        rule(200),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("SecurityRuleConflict"))
    );
}

#[test]
fn tunnel_end_describes_the_connection_for_the_physics() {
    let mut w = world();
    gateway_setup(&mut w);
    let ends = w.azure.tunnel_ends(5_000);
    assert_eq!(ends.len(), 1);
    let e = &ends[0];
    assert_eq!(e.id, conn_end());
    assert_eq!(e.network, VNET_KEY);
    assert_eq!(e.peer_ip, Some("198.18.0.10".parse().unwrap()));
    assert_eq!(e.local_ip, w.azure.public_ips.values().next().map(|p| p.ip));
    assert_eq!(e.psk.as_deref(), Some("Abcdefgh12345678"));
    assert_eq!(e.ike_versions, vec![2]);
    assert!(e.phase1.is_none() && e.selectors.is_none() && e.bgp.is_none());
    assert_eq!(w.azure.created_resources(), 5);
}

#[test]
fn delete_answers_202_then_the_resource_is_gone_and_a_second_delete_is_204() {
    let mut w = world();
    put(
        &mut w,
        "/localNetworkGateways/lng",
        json!({"location": "eastus", "properties": {
        "gatewayIpAddress": "198.18.0.10", "localNetworkAddressSpace": {"addressPrefixes": ["10.10.0.0/16"]}}}),
    );
    let (s, _) = call(
        &mut w,
        2_000,
        0.0,
        "DELETE",
        "/localNetworkGateways/lng",
        Value::Null,
    );
    assert_eq!(s, 202);
    let (s, v) = call(
        &mut w,
        2_001,
        0.0,
        "GET",
        "/localNetworkGateways/lng",
        Value::Null,
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    let (s, _) = call(
        &mut w,
        2_002,
        0.0,
        "DELETE",
        "/localNetworkGateways/lng",
        Value::Null,
    );
    assert_eq!(s, 204);
}

#[test]
fn a_dynamic_public_ip_gets_its_address_only_once_the_gateway_is_built() {
    let mut w = world();
    put(
        &mut w,
        "/virtualNetworks/prod-vnet/subnets/GatewaySubnet",
        json!({"properties": {"addressPrefix": "10.30.255.0/27"}}),
    );
    put(
        &mut w,
        "/publicIPAddresses/basic-ip",
        json!({"location": "eastus", "properties": {"publicIPAllocationMethod": "Dynamic"}}),
    );
    let (_, v) = call(
        &mut w,
        1_000,
        1.0,
        "GET",
        "/publicIPAddresses/basic-ip",
        Value::Null,
    );
    assert!(v["properties"].get("ipAddress").is_none(), "{v}");
    let (s, _) = call(
        &mut w,
        1_000,
        1.0,
        "PUT",
        "/virtualNetworkGateways/gw",
        json!({"location": "eastus", "properties": {
        "gatewayType": "Vpn", "sku": {"name": "Basic"},
        "ipConfigurations": [{"name": "default", "properties": {
            "subnet": {"id": format!("{RG}/virtualNetworks/prod-vnet/subnets/GatewaySubnet")},
            "publicIPAddress": {"id": format!("{RG}/publicIPAddresses/basic-ip")}}}]}}),
    );
    assert_eq!(s, 201);
    let (_, v) = call(
        &mut w,
        2_000,
        1.0,
        "GET",
        "/publicIPAddresses/basic-ip",
        Value::Null,
    );
    assert!(
        v["properties"].get("ipAddress").is_none(),
        "still building: {v}"
    );
    let (_, v) = call(
        &mut w,
        1_000 + 35 * 60_000,
        1.0,
        "GET",
        "/publicIPAddresses/basic-ip",
        Value::Null,
    );
    assert!(
        v["properties"]["ipAddress"]
            .as_str()
            .unwrap()
            .starts_with("198.19."),
        "{v}"
    );
    assert!(v["properties"]["ipConfiguration"]["id"]
        .as_str()
        .unwrap()
        .ends_with("/virtualNetworkGateways/gw/ipConfigurations/default"));
}

#[test]
fn a_vnet_put_replaces_its_subnets_but_never_drops_one_a_gateway_uses() {
    let mut w = world();
    gateway_setup(&mut w);
    let body = |subnets: Value| {
        json!({"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.30.0.0/16"]}, "subnets": subnets}})
    };
    let (s, v) = call(
        &mut w,
        2_000,
        0.0,
        "PUT",
        "/virtualNetworks/prod-vnet",
        body(json!([{"name": "default", "properties": {"addressPrefix": "10.30.0.0/24"}}])),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InUseSubnetCannotBeDeleted"))
    );
    let (s, v) = call(
        &mut w,
        2_000,
        0.0,
        "PUT",
        "/virtualNetworks/prod-vnet",
        body(json!([
        {"name": "GatewaySubnet", "properties": {"addressPrefix": "10.30.255.0/27"}},
        {"name": "apps", "properties": {"addressPrefix": "10.30.8.0/24"}}])),
    );
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v["properties"]["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["apps", "GatewaySubnet"]);
}

#[test]
fn the_azure_world_survives_a_json_round_trip() {
    let mut w = world();
    gateway_setup(&mut w);
    let json = serde_json::to_string(&w.azure).unwrap();
    let mut back = World {
        azure: serde_json::from_str(&json).unwrap(),
        ..World::default()
    };
    let (_, before) = call(
        &mut w,
        3_000,
        0.0,
        "GET",
        "/virtualNetworkGateways/gw",
        Value::Null,
    );
    let (_, after) = call(
        &mut back,
        3_000,
        0.0,
        "GET",
        "/virtualNetworkGateways/gw",
        Value::Null,
    );
    assert_eq!(before, after);
    let (_, key) = call(
        &mut back,
        3_000,
        0.0,
        "GET",
        "/connections/to-aws/sharedkey",
        Value::Null,
    );
    assert_eq!(key["value"], "Abcdefgh12345678");
}

#[test]
fn a_bgp_connection_gives_the_physics_its_apipa_session() {
    let mut w = world();
    put(
        &mut w,
        "/virtualNetworks/prod-vnet/subnets/GatewaySubnet",
        json!({"properties": {"addressPrefix": "10.30.255.0/27"}}),
    );
    put(
        &mut w,
        "/publicIPAddresses/gw-ip",
        json!({"location": "eastus", "sku": {"name": "Standard"}}),
    );
    put(
        &mut w,
        "/virtualNetworkGateways/gw",
        json!({"location": "eastus", "properties": {
        "gatewayType": "Vpn", "sku": {"name": "VpnGw1"}, "enableBgp": true,
        "bgpSettings": {"asn": 65010, "bgpPeeringAddresses": [{"customBgpIpAddresses": ["169.254.21.1"]}]},
        "ipConfigurations": [{"name": "default", "properties": {
            "subnet": {"id": format!("{RG}/virtualNetworks/prod-vnet/subnets/GatewaySubnet")},
            "publicIPAddress": {"id": format!("{RG}/publicIPAddresses/gw-ip")}}}]}}),
    );
    put(
        &mut w,
        "/localNetworkGateways/peer",
        json!({"location": "eastus", "properties": {
        "gatewayIpAddress": "198.18.0.10", "bgpSettings": {"asn": 64512, "bgpPeeringAddress": "169.254.21.2"}}}),
    );
    put(
        &mut w,
        "/connections/peer",
        json!({"location": "eastus", "properties": {
        "connectionType": "IPsec", "sharedKey": "Abcdefgh12345678", "enableBgp": true,
        "virtualNetworkGateway1": {"id": format!("{RG}/virtualNetworkGateways/gw")},
        "localNetworkGateway2": {"id": format!("{RG}/localNetworkGateways/peer")}}}),
    );
    let ends = w.azure.tunnel_ends(5_000);
    let bgp = ends[0].bgp.clone().expect("a BGP session");
    assert_eq!(
        (
            bgp.local_ip,
            bgp.peer_ip,
            bgp.prefix_len,
            bgp.local_asn,
            bgp.peer_asn
        ),
        (
            "169.254.21.1".parse().unwrap(),
            "169.254.21.2".parse().unwrap(),
            30,
            65010,
            64512
        )
    );
    assert_eq!(ends[0].advertises, vec!["10.30.0.0/16".parse().unwrap()]);
    // Custom BGP addresses outside Azure's APIPA range are refused.
    let (s, v) = call(
        &mut w,
        0,
        0.0,
        "PUT",
        "/virtualNetworkGateways/gw2",
        json!({"location": "eastus", "properties": {
        "gatewayType": "Vpn", "sku": {"name": "VpnGw1"}, "enableBgp": true,
        "bgpSettings": {"bgpPeeringAddresses": [{"customBgpIpAddresses": ["169.254.10.1"]}]},
        "ipConfigurations": []}}),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidCustomBgpIpAddress"))
    );
}

fn rule_body(overrides: Value) -> Value {
    let mut p = json!({
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "443",
        "sourceAddressPrefix": "10.10.0.0/16", "destinationAddressPrefix": "*",
        "access": "Allow", "priority": 300, "direction": "Inbound"});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    json!({ "properties": p })
}

#[test]
fn security_rules_with_invalid_ports_or_prefixes_are_refused_with_arm_codes() {
    let mut w = world();
    let cases = [
        (
            json!({"destinationPortRange": "70000"}),
            "SecurityRuleInvalidPortRange",
        ),
        (
            json!({"destinationPortRange": "abc-xyz"}),
            "SecurityRuleInvalidPortRange",
        ),
        (
            json!({"destinationPortRange": "200-100"}),
            "SecurityRuleInvalidPortRange",
        ),
        (
            json!({"destinationPortRange": "80,443"}),
            "SecurityRuleInvalidPortRange",
        ),
        (
            json!({"destinationPortRange": "+80"}),
            "SecurityRuleInvalidPortRange",
        ),
        (
            json!({"sourcePortRange": ""}),
            "SecurityRuleInvalidPortRange",
        ),
        (
            json!({"destinationPortRanges": ["443", "65536"]}),
            "SecurityRuleInvalidPortRange",
        ),
        (
            json!({"sourceAddressPrefix": "not-a-prefix"}),
            "SecurityRuleInvalidAddressPrefix",
        ),
        (
            json!({"sourceAddressPrefix": "10.0.0.0/99"}),
            "SecurityRuleInvalidAddressPrefix",
        ),
        (
            json!({"sourceAddressPrefix": "10.10.0.1/16"}),
            "SecurityRuleInvalidAddressPrefix",
        ),
        (
            json!({"sourceAddressPrefix": "any"}),
            "SecurityRuleInvalidAddressPrefix",
        ),
        (
            json!({"destinationAddressPrefix": "Internet.EastUS"}),
            "SecurityRuleInvalidAddressPrefix",
        ),
        (
            json!({"sourceAddressPrefix": null, "sourceAddressPrefixes": ["10.10.0.0/16", "VirtualNetwork"]}),
            "SecurityRuleParameterContainsUnsupportedValue",
        ),
        (
            json!({"destinationAddressPrefix": null, "destinationAddressPrefixes": ["*"]}),
            "SecurityRuleParameterContainsUnsupportedValue",
        ),
        (
            json!({"sourceAddressPrefix": null}),
            "SecurityRuleParametersMissing",
        ),
        (
            json!({"destinationPortRange": null}),
            "SecurityRuleParametersMissing",
        ),
        (json!({"priority": 4097}), "SecurityRuleInvalidPriority"),
        (json!({"direction": "Sideways"}), "InvalidRequestFormat"),
        (json!({"access": "Permit"}), "InvalidRequestFormat"),
        (json!({"protocol": "Gre"}), "InvalidRequestFormat"),
    ];
    for (overrides, code) in cases {
        let (s, v) = call(
            &mut w,
            0,
            0.0,
            "PUT",
            "/networkSecurityGroups/prod-vnet-nsg/securityRules/r",
            rule_body(overrides.clone()),
        );
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "{overrides}: {v}"
        );
        // The same rule inline in an NSG PUT is refused the same way.
        let mut inline = rule_body(overrides.clone());
        inline["name"] = json!("r");
        let (s, v) = call(
            &mut w,
            0,
            0.0,
            "PUT",
            "/networkSecurityGroups/other-nsg",
            json!({"location": "eastus", "properties": {"securityRules": [inline]}}),
        );
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "inline {overrides}: {v}"
        );
    }
    assert!(w.azure.nsgs.values().all(|n| n.rules.is_empty()));
    assert_eq!(w.azure.nsgs.len(), 1, "no NSG was created by a refused PUT");
}

#[test]
fn security_rules_accept_every_form_azure_accepts() {
    let mut w = world();
    let cases = [
        json!({"destinationPortRange": "0"}),
        json!({"destinationPortRange": "65535"}),
        json!({"destinationPortRange": "1-65535"}),
        json!({"destinationPortRange": "443-443"}),
        json!({"destinationPortRange": "*"}),
        json!({"sourceAddressPrefix": "10.10.1.5"}),
        json!({"sourceAddressPrefix": "VirtualNetwork"}),
        json!({"sourceAddressPrefix": "internet"}),
        json!({"sourceAddressPrefix": "AzureLoadBalancer"}),
        json!({"destinationAddressPrefix": "Storage.WestUS"}),
        json!({"destinationAddressPrefix": "AzureCloud"}),
        json!({"destinationAddressPrefix": "2001:db8::/32"}),
        json!({"sourceAddressPrefix": null, "sourceAddressPrefixes": ["10.10.0.0/16", "10.11.0.5"]}),
    ];
    for (i, overrides) in cases.into_iter().enumerate() {
        let mut body = rule_body(overrides.clone());
        body["properties"]["priority"] = json!(300 + i);
        let (s, v) = call(
            &mut w,
            0,
            0.0,
            "PUT",
            &format!("/networkSecurityGroups/prod-vnet-nsg/securityRules/r{i}"),
            body,
        );
        assert_eq!(s, 201, "{overrides}: {v}");
    }
}

#[test]
fn a_service_tag_in_any_case_is_evaluated_by_the_physics() {
    let mut w = world();
    gateway_setup(&mut w);
    let mut body = rule_body(json!({
        "protocol": "*", "destinationPortRange": "*", "sourceAddressPrefix": "virtualnetwork",
        "access": "Deny", "priority": 100}));
    body["properties"]["description"] = json!("lower-case tag");
    put(
        &mut w,
        "/networkSecurityGroups/prod-vnet-nsg/securityRules/deny-vnet",
        body,
    );
    let flow = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    match w
        .azure
        .ingress(VNET_KEY, "10.10.1.5".parse().unwrap(), flow)
    {
        FwDecision::Deny { rule } => assert!(
            rule.contains("NSG prod-vnet-nsg rule deny-vnet (priority 100)"),
            "{rule}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn routes_are_validated_like_azure() {
    let mut w = world();
    put(
        &mut w,
        "/routeTables/rt",
        json!({"location": "eastus", "properties": {}}),
    );
    let cases = [
        (
            json!({"addressPrefix": "banana", "nextHopType": "VirtualNetworkGateway"}),
            "InvalidAddressPrefixFormat",
        ),
        (
            json!({"addressPrefix": "10.10.0.0/33", "nextHopType": "VirtualNetworkGateway"}),
            "InvalidAddressPrefixFormat",
        ),
        (
            json!({"addressPrefix": "10.10.0.1/16", "nextHopType": "VirtualNetworkGateway"}),
            "InvalidCIDRNotation",
        ),
        (
            json!({"addressPrefix": "10.10.0.0/16", "nextHopType": "Gateway"}),
            "InvalidRequestFormat",
        ),
        (
            json!({"addressPrefix": "10.10.0.0/16", "nextHopType": "VirtualAppliance"}),
            "MissingNextHopIpAddress",
        ),
        (
            json!({"addressPrefix": "10.10.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": ""}),
            "MissingNextHopIpAddress",
        ),
        (
            json!({"addressPrefix": "10.10.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.30.0.300"}),
            "InvalidNextHopIpAddress",
        ),
        (
            json!({"addressPrefix": "10.10.0.0/16", "nextHopType": "VnetLocal", "nextHopIpAddress": "10.30.0.4"}),
            "InvalidNextHopIpAddress",
        ),
    ];
    for (props, code) in cases {
        let (s, v) = call(
            &mut w,
            0,
            0.0,
            "PUT",
            "/routeTables/rt/routes/r",
            json!({ "properties": props }),
        );
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "{props}: {v}"
        );
        let (s, v) = call(
            &mut w,
            0,
            0.0,
            "PUT",
            "/routeTables/rt2",
            json!({"location": "eastus", "properties": {"routes": [{"name": "r", "properties": props}]}}),
        );
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "inline {props}: {v}"
        );
    }
    assert!(w.azure.route_tables.values().all(|t| t.routes.is_empty()));
    put(
        &mut w,
        "/routeTables/rt/routes/nva",
        json!({"properties": {"addressPrefix": "10.10.0.0/16", "nextHopType": "virtualappliance", "nextHopIpAddress": "10.30.0.4"}}),
    );
}

#[test]
fn local_network_gateway_and_vnet_prefixes_must_be_exact_cidrs() {
    let mut w = world();
    for (prefix, code) in [
        ("10.10.0.1/16", "InvalidCIDRNotation"),
        ("10.10.0.0/33", "InvalidAddressPrefixFormat"),
        ("10.10.0.0", "InvalidAddressPrefixFormat"),
    ] {
        let (s, v) = call(
            &mut w,
            0,
            0.0,
            "PUT",
            "/localNetworkGateways/lng",
            json!({"location": "eastus", "properties": {"gatewayIpAddress": "198.18.0.10",
                "localNetworkAddressSpace": {"addressPrefixes": ["10.11.0.0/16", prefix]}}}),
        );
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "{prefix}: {v}"
        );
        let (s, v) = call(
            &mut w,
            0,
            0.0,
            "PUT",
            "/virtualNetworks/other",
            json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": [prefix]}}}),
        );
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "vnet {prefix}: {v}"
        );
    }
    assert!(w.azure.local_gateways.is_empty());
}

#[test]
fn the_topologys_nsgs_are_seeded_each_on_its_own_subnet_and_evaluated() {
    let mut w = world_with_nsgs(Some(vec!["prod-vnet-nsg".into(), "app-nsg".into()]));
    assert_eq!(
        w.azure.created_resources(),
        0,
        "seeded NSGs and subnets are not created"
    );
    let (s, v) = call(
        &mut w,
        0,
        0.0,
        "GET",
        "/virtualNetworks/prod-vnet/subnets",
        Value::Null,
    );
    assert_eq!(s, 200);
    let subnets: Vec<(String, String, String)> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["properties"]["addressPrefix"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                s["properties"]["networkSecurityGroup"]["id"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        subnets,
        vec![
            (
                "app-nsg-subnet".into(),
                "10.30.1.0/24".into(),
                "app-nsg".into()
            ),
            (
                "default".into(),
                "10.30.0.0/24".into(),
                "prod-vnet-nsg".into()
            ),
        ]
    );
    let (s, v) = call(
        &mut w,
        0,
        0.0,
        "GET",
        "/networkSecurityGroups/app-nsg",
        Value::Null,
    );
    assert_eq!(s, 200);
    assert_eq!(v["properties"]["securityRules"], json!([]));
    assert_eq!(
        v["properties"]["defaultSecurityRules"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(v["tags"][NETWORK_TAG], "az-eus");

    // The default rules admit the VPN prefixes in both NSGs; a deny in the second NSG stops
    // the flow and names that NSG and rule.
    gateway_setup(&mut w);
    let src = "10.10.1.5".parse().unwrap();
    let tcp443 = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    assert!(matches!(
        w.azure.ingress(VNET_KEY, src, tcp443),
        FwDecision::Allow { .. }
    ));
    put(
        &mut w,
        "/networkSecurityGroups/app-nsg/securityRules/deny-aws",
        rule_body(
            json!({"protocol": "*", "destinationPortRange": "*", "access": "Deny", "priority": 4000}),
        ),
    );
    match w.azure.ingress(VNET_KEY, src, tcp443) {
        FwDecision::Deny { rule } => {
            assert_eq!(rule, "NSG app-nsg rule deny-aws (priority 4000)")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.azure.egress(VNET_KEY, src, tcp443),
        FwDecision::Allow { .. }
    ));
    assert_eq!(
        w.azure.created_resources(),
        6,
        "GatewaySubnet, IP, gateway, LNG, connection, rule"
    );
}

#[test]
fn created_resources_counts_each_arm_resource_a_client_made() {
    let mut w = world();
    assert_eq!(
        w.azure.created_resources(),
        0,
        "seeded resources do not count"
    );
    gateway_setup(&mut w);
    let before = w.azure.created_by_kind();
    put(
        &mut w,
        "/routeTables/rt",
        json!({"location": "eastus", "properties": {"routes": [{"name": "r",
            "properties": {"addressPrefix": "10.10.0.0/16", "nextHopType": "VirtualNetworkGateway"}}]}}),
    );
    let after = w.azure.created_by_kind();
    assert_eq!(after["routeTables"], before["routeTables"] + 1);
    assert_eq!(
        after["routeTables/routes"],
        before["routeTables/routes"] + 1
    );
    assert_eq!(w.azure.created_resources(), after.values().sum::<usize>());
}
