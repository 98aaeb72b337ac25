//! Resources as ARM JSON: the `{id, name, type, location, tags, etag, properties}` envelope
//! and each type's `properties`, computed at read time (provisioningState from the clock,
//! connection status from the physics). Shared keys are never rendered here.

use super::arm::Kind;
use super::model::*;
use super::physics::{connection_health, learned_prefixes};
use super::AzureCloud;
use crate::sandbox::net::NetState;
use serde_json::{json, Map, Value};

fn etag(meta: &Meta) -> String {
    format!("W/\"{}\"", meta.etag)
}

fn top(meta: &Meta, kind: Kind, props: Value) -> Value {
    json!({
        "id": meta.id,
        "name": meta.name,
        "type": kind.arm_type(),
        "location": meta.location,
        "tags": meta.tags,
        "etag": etag(meta),
        "properties": props,
    })
}

fn child(meta: &Meta, arm_type: &str, props: Value) -> Value {
    json!({
        "id": meta.id,
        "name": meta.name,
        "type": arm_type,
        "etag": etag(meta),
        "properties": props,
    })
}

fn sub_ref(id: &str) -> Value {
    json!({ "id": id })
}

pub fn subnet(az: &AzureCloud, s: &Subnet, now: u64) -> Value {
    let mut p = Map::new();
    p.insert("addressPrefix".into(), json!(s.prefix.to_string()));
    if let Some(n) = &s.nsg {
        p.insert("networkSecurityGroup".into(), sub_ref(n));
    }
    if let Some(r) = &s.route_table {
        p.insert("routeTable".into(), sub_ref(r));
    }
    let key = super::arm::key(&s.meta.id);
    let configs: Vec<Value> = az
        .gateways
        .values()
        .flat_map(|g| {
            g.ip_configs
                .iter()
                .filter(|c| super::arm::key(&c.subnet) == key)
                .map(|c| sub_ref(&format!("{}/ipConfigurations/{}", g.meta.id, c.name)))
                .collect::<Vec<_>>()
        })
        .collect();
    if !configs.is_empty() {
        p.insert("ipConfigurations".into(), Value::Array(configs));
    }
    p.insert("privateEndpointNetworkPolicies".into(), json!("Disabled"));
    p.insert("privateLinkServiceNetworkPolicies".into(), json!("Enabled"));
    p.insert("provisioningState".into(), json!(s.meta.state(now)));
    child(
        &s.meta,
        "Microsoft.Network/virtualNetworks/subnets",
        Value::Object(p),
    )
}

pub fn vnet(az: &AzureCloud, v: &Vnet, now: u64) -> Value {
    let subnets: Vec<Value> = v.subnets.values().map(|s| subnet(az, s, now)).collect();
    top(
        &v.meta,
        Kind::VirtualNetworks,
        json!({
            "addressSpace": {"addressPrefixes": v.prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>()},
            "subnets": subnets,
            "virtualNetworkPeerings": [],
            "enableDdosProtection": false,
            "resourceGuid": v.meta.guid,
            "provisioningState": v.meta.state(now),
        }),
    )
}

pub fn public_ip(az: &AzureCloud, ip: &PublicIp, now: u64) -> Value {
    let key = super::arm::key(&ip.meta.id);
    let user = az.gateways.values().find_map(|g| {
        g.ip_configs
            .iter()
            .find(|c| super::arm::key(&c.public_ip) == key)
            .map(|c| (g, c))
    });
    let mut p = Map::new();
    p.insert("publicIPAllocationMethod".into(), json!(ip.allocation));
    p.insert("publicIPAddressVersion".into(), json!("IPv4"));
    p.insert("idleTimeoutInMinutes".into(), json!(ip.idle_timeout));
    // A Dynamic address exists only once the resource using it is built; Static at once.
    let shown = ip.allocation == "Static"
        || user.is_some_and(|(g, _)| !g.meta.deleting() && now >= g.meta.ready_ms);
    if shown {
        p.insert("ipAddress".into(), json!(ip.ip.to_string()));
    }
    if let Some((g, c)) = user {
        p.insert(
            "ipConfiguration".into(),
            sub_ref(&format!("{}/ipConfigurations/{}", g.meta.id, c.name)),
        );
    }
    p.insert("resourceGuid".into(), json!(ip.meta.guid));
    p.insert("provisioningState".into(), json!(ip.meta.state(now)));
    let mut v = top(&ip.meta, Kind::PublicIpAddresses, Value::Object(p));
    v["sku"] = json!({"name": ip.sku, "tier": "Regional"});
    v
}

fn bgp_settings(b: &BgpSettings) -> Value {
    let mut v = json!({ "asn": b.asn, "peerWeight": b.peer_weight });
    if let Some(a) = b.peering_address {
        v["bgpPeeringAddress"] = json!(a.to_string());
    }
    v
}

pub fn gateway(az: &AzureCloud, g: &Gateway, now: u64) -> Value {
    let state = if g.meta.deleting() {
        "Deleting"
    } else if g.busy(now) {
        "Updating"
    } else {
        "Succeeded"
    };
    let configs: Vec<Value> = g
        .ip_configs
        .iter()
        .map(|c| {
            json!({
                "id": format!("{}/ipConfigurations/{}", g.meta.id, c.name),
                "name": c.name,
                "etag": etag(&g.meta),
                "properties": {
                    "privateIPAllocationMethod": c.private_allocation,
                    "subnet": sub_ref(&c.subnet),
                    "publicIPAddress": sub_ref(&c.public_ip),
                    "provisioningState": state,
                }
            })
        })
        .collect();
    let mut p = json!({
        "ipConfigurations": configs,
        "gatewayType": g.gateway_type,
        "vpnType": g.vpn_type,
        "enableBgp": g.enable_bgp,
        "activeActive": g.active_active,
        "sku": {"name": g.sku, "tier": g.sku, "capacity": 2},
        "resourceGuid": g.meta.guid,
        "provisioningState": state,
    });
    if let Some(gen) = &g.generation {
        p["vpnGatewayGeneration"] = json!(gen);
    }
    if g.sku != "Basic" {
        let mut b = bgp_settings(&g.bgp);
        let default = super::physics::default_bgp_address(az, g);
        if let Some(a) = g.bgp.peering_address.or(default) {
            b["bgpPeeringAddress"] = json!(a.to_string());
        }
        if let Some(c) = g.ip_configs.first() {
            let tunnel_ip = az
                .public_ips
                .get(&super::arm::key(&c.public_ip))
                .map(|ip| vec![ip.ip.to_string()])
                .unwrap_or_default();
            b["bgpPeeringAddresses"] = json!([{
                "ipconfigurationId": format!("{}/ipConfigurations/{}", g.meta.id, c.name),
                "defaultBgpIpAddresses": default.map(|a| vec![a.to_string()]).unwrap_or_default(),
                "customBgpIpAddresses": g.bgp.custom_addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "tunnelIpAddresses": tunnel_ip,
            }]);
        }
        p["bgpSettings"] = b;
    }
    top(&g.meta, Kind::VirtualNetworkGateways, p)
}

pub fn local_gateway(l: &LocalGateway, now: u64) -> Value {
    let mut p = json!({
        "localNetworkAddressSpace": {"addressPrefixes": l.prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>()},
        "resourceGuid": l.meta.guid,
        "provisioningState": l.meta.state(now),
    });
    if let Some(ip) = l.ip {
        p["gatewayIpAddress"] = json!(ip.to_string());
    }
    if let Some(f) = &l.fqdn {
        p["fqdn"] = json!(f);
    }
    if let Some(b) = &l.bgp {
        p["bgpSettings"] = bgp_settings(b);
    }
    top(&l.meta, Kind::LocalNetworkGateways, p)
}

pub fn connection(az: &AzureCloud, c: &Connection, now: u64, net: &NetState) -> Value {
    let health = connection_health(az, c, now, net);
    let policies: Vec<Value> = c
        .ipsec_policies
        .iter()
        .map(|p| {
            json!({
                "saLifeTimeSeconds": p.sa_lifetime_s,
                "saDataSizeKilobytes": p.sa_data_kb,
                "ipsecEncryption": p.ipsec_encryption,
                "ipsecIntegrity": p.ipsec_integrity,
                "ikeEncryption": p.ike_encryption,
                "ikeIntegrity": p.ike_integrity,
                "dhGroup": p.dh_group,
                "pfsGroup": p.pfs_group,
            })
        })
        .collect();
    let selectors: Vec<Value> = c
        .selector_policies
        .iter()
        .map(|t| {
            json!({
                "localAddressRanges": t.local.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "remoteAddressRanges": t.remote.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let tunnel = json!({
        "tunnel": health.tunnel,
        "connectionStatus": health.status,
        "ingressBytesTransferred": health.ingress_bytes,
        "egressBytesTransferred": health.egress_bytes,
    });
    // `properties` inside the references: the Rust SDK's VirtualNetworkGateway and
    // LocalNetworkGateway models require the field, and it is part of both models.
    top(
        &c.meta,
        Kind::Connections,
        json!({
            "virtualNetworkGateway1": {"id": c.gateway1, "properties": {}},
            "localNetworkGateway2": {"id": c.local_gateway2, "properties": {}},
            "connectionType": c.connection_type,
            "connectionProtocol": c.protocol,
            "routingWeight": c.routing_weight,
            "dpdTimeoutSeconds": c.dpd_timeout_s,
            "connectionMode": c.connection_mode,
            "enableBgp": c.enable_bgp,
            "usePolicyBasedTrafficSelectors": c.use_policy_based_selectors,
            "ipsecPolicies": policies,
            "trafficSelectorPolicies": selectors,
            "connectionStatus": health.status,
            "tunnelConnectionStatus": [tunnel],
            "ingressBytesTransferred": health.ingress_bytes,
            "egressBytesTransferred": health.egress_bytes,
            "expressRouteGatewayBypass": false,
            "enablePrivateLinkFastPath": false,
            "useLocalAzureIpAddress": false,
            "resourceGuid": c.meta.guid,
            "provisioningState": c.meta.state(now),
        }),
    )
}

pub fn security_rule(r: &SecurityRule, arm_type: &str, now: u64) -> Value {
    let mut p = Map::new();
    if let Some(d) = &r.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("protocol".into(), json!(r.protocol));
    let mut put = |single: &str, plural: &str, vals: &[String], is_plural: bool| {
        if is_plural {
            p.insert(plural.into(), json!(vals));
        } else {
            p.insert(
                single.into(),
                json!(vals.first().cloned().unwrap_or_default()),
            );
        }
    };
    put(
        "sourcePortRange",
        "sourcePortRanges",
        &r.source_ports,
        r.plural_source_ports,
    );
    put(
        "destinationPortRange",
        "destinationPortRanges",
        &r.dest_ports,
        r.plural_dest_ports,
    );
    put(
        "sourceAddressPrefix",
        "sourceAddressPrefixes",
        &r.sources,
        r.plural_sources,
    );
    put(
        "destinationAddressPrefix",
        "destinationAddressPrefixes",
        &r.destinations,
        r.plural_destinations,
    );
    p.insert("access".into(), json!(r.access));
    p.insert("priority".into(), json!(r.priority));
    p.insert("direction".into(), json!(r.direction));
    p.insert("provisioningState".into(), json!(r.meta.state(now)));
    child(&r.meta, arm_type, Value::Object(p))
}

pub const RULE_TYPE: &str = "Microsoft.Network/networkSecurityGroups/securityRules";
pub const DEFAULT_RULE_TYPE: &str = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules";

pub fn nsg(az: &AzureCloud, n: &Nsg, now: u64) -> Value {
    let key = super::arm::key(&n.meta.id);
    let subnets: Vec<Value> = az
        .vnets
        .values()
        .flat_map(|v| v.subnets.values())
        .filter(|s| s.nsg.as_deref().map(super::arm::key) == Some(key.clone()))
        .map(|s| sub_ref(&s.meta.id))
        .collect();
    top(
        &n.meta,
        Kind::NetworkSecurityGroups,
        json!({
            "securityRules": n.rules.values().map(|r| security_rule(r, RULE_TYPE, now)).collect::<Vec<_>>(),
            "defaultSecurityRules": super::physics::default_rules(n).iter()
                .map(|r| security_rule(r, DEFAULT_RULE_TYPE, now)).collect::<Vec<_>>(),
            "subnets": subnets,
            "resourceGuid": n.meta.guid,
            "provisioningState": n.meta.state(now),
        }),
    )
}

pub fn route(r: &Route, now: u64) -> Value {
    let mut p = json!({
        "addressPrefix": r.prefix.to_string(),
        "nextHopType": r.next_hop_type,
        "hasBgpOverride": false,
        "provisioningState": r.meta.state(now),
    });
    if let Some(ip) = r.next_hop_ip {
        p["nextHopIpAddress"] = json!(ip.to_string());
    }
    child(&r.meta, "Microsoft.Network/routeTables/routes", p)
}

pub fn route_table(az: &AzureCloud, t: &RouteTable, now: u64) -> Value {
    let key = super::arm::key(&t.meta.id);
    let subnets: Vec<Value> = az
        .vnets
        .values()
        .flat_map(|v| v.subnets.values())
        .filter(|s| s.route_table.as_deref().map(super::arm::key) == Some(key.clone()))
        .map(|s| sub_ref(&s.meta.id))
        .collect();
    top(
        &t.meta,
        Kind::RouteTables,
        json!({
            "routes": t.routes.values().map(|r| route(r, now)).collect::<Vec<_>>(),
            "subnets": subnets,
            "disableBgpRoutePropagation": t.disable_bgp_propagation,
            "resourceGuid": t.meta.guid,
            "provisioningState": t.meta.state(now),
        }),
    )
}

/// `GatewayRoute` entries for getLearnedRoutes: the VNet's own prefixes, the local network
/// gateway prefixes of connected connections, and prefixes learned over BGP.
pub fn learned_routes(az: &AzureCloud, g: &Gateway, net: &NetState) -> Vec<Value> {
    let local = super::physics::default_bgp_address(az, g)
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut out: Vec<Value> = az
        .vnets
        .get(&g.vnet)
        .map(|v| v.prefixes.clone())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            json!({"localAddress": local, "network": p.to_string(), "sourcePeer": local,
                   "origin": "Network", "asPath": "", "weight": 32768})
        })
        .collect();
    for l in learned_prefixes(az, g, net) {
        out.push(json!({
            "localAddress": local,
            "network": l.prefix.to_string(),
            "nextHop": l.next_hop,
            "sourcePeer": l.source_peer,
            "origin": l.origin,
            "asPath": l.as_path,
            "weight": 32768,
        }));
    }
    out
}
