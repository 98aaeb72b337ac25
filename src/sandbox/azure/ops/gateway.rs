//! Virtual network gateways (and their BGP and route actions) and local network gateways.

use super::*;

fn bgp_settings(v: &Value, default_asn: u32) -> R<BgpSettings> {
    let asn = match int_at(v, &["asn"])? {
        Some(a) if (1..=u32::MAX as i64).contains(&a) => a as u32,
        Some(a) => return Err(invalid(format!("bgpSettings.asn {a} is not a valid ASN."))),
        None => default_asn,
    };
    let peering_address = str_at(v, &["bgpPeeringAddress"])
        .map(|s| parse_ip(s, "bgpSettings.bgpPeeringAddress"))
        .transpose()?;
    let peer_weight = int_at(v, &["peerWeight"])?.unwrap_or(0) as i32;
    let mut custom = Vec::new();
    for a in at(v, &["bgpPeeringAddresses"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        for s in strings(a.get("customBgpIpAddresses")) {
            let ip = parse_ip(&s, "customBgpIpAddresses")?;
            // Azure's custom (APIPA) BGP range.
            let o = ip.octets();
            if !(o[0] == 169 && o[1] == 254 && (o[2] == 21 || o[2] == 22)) {
                return Err(bad_request("InvalidCustomBgpIpAddress", format!("Custom BGP IP address {ip} must be in the range 169.254.21.0 to 169.254.22.255.")));
            }
            custom.push(ip);
        }
    }
    Ok(BgpSettings {
        asn,
        peering_address,
        peer_weight,
        custom_addresses: custom,
    })
}

pub(super) fn gateway_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Gateway>(c, p)?;
    let k = key(&p.id());
    let now = c.now();
    if let Some(o) = &old {
        if o.busy(now) || o.meta.deleting() {
            return Err(another_operation(&o.meta.id));
        }
    }
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let props = b.get("properties").cloned().unwrap_or(json!({}));
    let gateway_type = one_of(
        str_at(&props, &["gatewayType"])
            .ok_or_else(|| invalid("properties.gatewayType is required."))?,
        &["Vpn", "ExpressRoute", "LocalGateway"],
        "gatewayType",
    )?;
    if gateway_type != "Vpn" {
        return Err(invalid(format!(
            "The sandbox serves VPN gateways only, not gatewayType {gateway_type}."
        )));
    }
    let vpn_type = one_of(
        str_at(&props, &["vpnType"]).unwrap_or("RouteBased"),
        &["RouteBased", "PolicyBased"],
        "vpnType",
    )?;
    let sku = one_of(
        str_at(&props, &["sku", "name"])
            .ok_or_else(|| invalid("properties.sku.name is required."))?,
        &SKUS,
        "sku.name",
    )?;
    let active_active = bool_at(&props, &["activeActive"])?.unwrap_or(false);
    let enable_bgp = bool_at(&props, &["enableBgp"])?.unwrap_or(false);
    if sku == "Basic" && (enable_bgp || active_active) {
        return Err(invalid(
            "The Basic SKU supports neither BGP nor active-active.",
        ));
    }
    let bgp = match props.get("bgpSettings") {
        Some(v) if !v.is_null() => bgp_settings(v, 65515)?,
        _ => old.as_ref().map(|o| o.bgp.clone()).unwrap_or(BgpSettings {
            asn: 65515,
            ..BgpSettings::default()
        }),
    };
    let mut ip_configs = Vec::new();
    for (i, cfg) in props
        .get("ipConfigurations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let name = cfg
            .get("name")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("ipconfig{i}"));
        let subnet = str_at(cfg, &["properties", "subnet", "id"])
            .ok_or_else(|| {
                invalid(format!(
                    "Subnet reference is required for ipconfiguration {name}."
                ))
            })?
            .to_string();
        let public_ip = str_at(cfg, &["properties", "publicIPAddress", "id"])
            .ok_or_else(|| {
                invalid(format!(
                    "A public IP address reference is required for ipconfiguration {name}."
                ))
            })?
            .to_string();
        let alloc = one_of(
            str_at(cfg, &["properties", "privateIPAllocationMethod"]).unwrap_or("Dynamic"),
            &["Dynamic", "Static"],
            "privateIPAllocationMethod",
        )?;
        ip_configs.push(GwIpConfig {
            name,
            subnet,
            public_ip,
            private_allocation: alloc,
        });
    }
    let wanted = if active_active { 2 } else { 1 };
    if ip_configs.len() != wanted {
        return Err(invalid(format!(
            "A{} gateway needs exactly {wanted} ipConfigurations, got {}.",
            if active_active {
                "n active-active"
            } else {
                "n active-standby"
            },
            ip_configs.len()
        )));
    }
    let mut vnet_key = None;
    for cfg in &ip_configs {
        let Some((vnet, subnet)) = c.az().subnet_by_id(&cfg.subnet) else {
            return Err(reference_missing(&cfg.subnet, &p.id()));
        };
        if !subnet.is_gateway_subnet() {
            return Err(bad_request("InvalidGatewaySubnet", format!("Subnet {} cannot be used by a virtual network gateway: the gateway's subnet must be named GatewaySubnet.", subnet.meta.id)));
        }
        let vk = key(&vnet.meta.id);
        if vnet_key.as_ref().is_some_and(|v| *v != vk) {
            return Err(invalid(
                "All ipConfigurations of a gateway must use the same virtual network.",
            ));
        }
        vnet_key = Some(vk);
        c.check_ref(Kind::PublicIpAddresses, &cfg.public_ip, &p.id())?;
        let ipk = key(&cfg.public_ip);
        if let Some(g) =
            c.az().gateways.values().find(|g| {
                key(&g.meta.id) != k && g.ip_configs.iter().any(|x| key(&x.public_ip) == ipk)
            })
        {
            return Err(bad_request(
                "PublicIPAddressInUse",
                format!(
                    "Public IP address {} is already used by {}.",
                    cfg.public_ip, g.meta.id
                ),
            ));
        }
    }
    let vnet_key = vnet_key.unwrap_or_default();
    if let Some(g) = c
        .az()
        .gateways
        .values()
        .find(|g| g.vnet == vnet_key && key(&g.meta.id) != k && !g.meta.deleting())
    {
        return Err(bad_request(
            "VirtualNetworkGatewayExistsInVirtualNetwork",
            format!("Virtual network already has a VPN gateway: {}.", g.meta.id),
        ));
    }
    if let Some(o) = &old {
        let same = o
            .ip_configs
            .iter()
            .map(|x| key(&x.subnet))
            .eq(ip_configs.iter().map(|x| key(&x.subnet)));
        if !same {
            return Err(invalid(
                "The ipConfigurations' subnets of an existing gateway cannot change.",
            ));
        }
    }
    let generation = str_at(&props, &["vpnGatewayGeneration"]).map(String::from);
    // A change of configuration reprovisions the gateway; a tags-only PUT is instant.
    let ready = match &old {
        None => now + c.lat(Op::AzureVpnGatewayCreate),
        Some(o)
            if o.sku != sku
                || o.enable_bgp != enable_bgp
                || o.bgp != bgp
                || o.active_active != active_active
                || o.vpn_type != vpn_type =>
        {
            now + c.lat(Op::AzureVpnGatewayUpdate)
        }
        Some(o) => o.meta.ready_ms.max(now),
    };
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let busy_until = old.as_ref().map(|o| o.busy_until).unwrap_or(0);
    let g = Gateway {
        meta,
        vnet: vnet_key,
        ip_configs,
        gateway_type,
        vpn_type,
        sku,
        generation,
        active_active,
        enable_bgp,
        bgp,
        busy_until,
    };
    Ok(store_top(c, p, g, old.is_none()))
}

pub(super) fn gateway_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, g: &Gateway| {
        if g.busy(c.now()) && !g.meta.deleting() {
            return Err(another_operation(&g.meta.id));
        }
        match c.az().connections.values().find(|x| key(&x.gateway1) == k) {
            Some(conn) => Err(bad_request(
                "InUseVirtualNetworkGatewayCannotBeDeleted",
                format!(
                    "Virtual network gateway {} cannot be deleted while connection {} uses it.",
                    g.meta.id, conn.meta.id
                ),
            )),
            None => Ok(()),
        }
    };
    delete_top(c, p, Op::AzureVpnGatewayDelete, refuse, |_, _| {})
}

/// getBgpPeerStatus / getLearnedRoutes / getAdvertisedRoutes: ARM answers these with 202 +
/// Location and the result on the Location URL; the sandbox answers 200 with the result at
/// once (the shape azure_mgmt_network 0.21's poller can parse — see sdks.md).
pub(super) fn gateway_action(c: &mut Call, action: &str, p: &ResPath) -> R<Response> {
    let k = key(&p.id());
    let Some(g) = c.az().gateways.get(&k) else {
        return Err(arm::not_found(p.kind, &p.rg, name_of(p)));
    };
    let net = c.ctx.net(c.world);
    let az = c.az();
    let local = g
        .bgp
        .peering_address
        .or(super::super::physics::default_bgp_address(az, g))
        .map(|a| a.to_string())
        .unwrap_or_default();
    match action {
        "GetBgpPeerStatus" => {
            let filter = c.req.query_param("peer");
            let mut peers = Vec::new();
            for conn in az
                .connections
                .values()
                .filter(|x| key(&x.gateway1) == k && x.enable_bgp && g.enable_bgp)
            {
                let Some(lb) = az
                    .local_gateways
                    .get(&key(&conn.local_gateway2))
                    .and_then(|l| l.bgp.clone())
                else {
                    continue;
                };
                let neighbor = lb
                    .peering_address
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                if filter.is_some_and(|f| f != neighbor) {
                    continue;
                }
                let st = net.end(&crate::sandbox::net::EndId {
                    cloud: Cloud::Azure,
                    resource: conn.meta.id.clone(),
                    tunnel: 0,
                });
                let bgp = st.and_then(|s| s.bgp.as_ref());
                let state = match bgp.map(|b| b.state) {
                    Some(crate::sandbox::net::BgpState::Established) => "Connected",
                    Some(crate::sandbox::net::BgpState::Active) => "Connecting",
                    Some(crate::sandbox::net::BgpState::Idle) => "Idle",
                    None => "Unknown",
                };
                let secs = match (state, st) {
                    ("Connected", Some(s)) => c.now().saturating_sub(s.since_ms) / 1000,
                    _ => 0,
                };
                peers.push(json!({
                    "localAddress": local,
                    "neighbor": neighbor,
                    "asn": lb.asn,
                    "state": state,
                    "connectedDuration": format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
                    "routesReceived": bgp.map(|b| b.learned.len()).unwrap_or(0),
                    "messagesSent": secs / 60,
                    "messagesReceived": secs / 60,
                }));
            }
            Ok(list(peers))
        }
        "GetLearnedRoutes" => Ok(list(render::learned_routes(az, g, net))),
        "GetAdvertisedRoutes" => {
            let Some(peer) = c.req.query_param("peer") else {
                return Err(invalid("The peer query parameter is required."));
            };
            let prefixes = az
                .vnets
                .get(&g.vnet)
                .map(|v| v.prefixes.clone())
                .unwrap_or_default();
            Ok(list(prefixes.iter().map(|pfx| json!({
                "localAddress": local, "network": pfx.to_string(), "nextHop": local,
                "sourcePeer": peer, "origin": "Network", "asPath": g.bgp.asn.to_string(), "weight": 0,
            })).collect()))
        }
        _ => Err(error(
            405,
            "MethodNotAllowed",
            format!("The action {action} is not served."),
        )),
    }
}

// ---- local network gateways ----

pub(super) fn local_gateway_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<LocalGateway>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let props = b.get("properties").cloned().unwrap_or(json!({}));
    let ip = str_at(&props, &["gatewayIpAddress"])
        .map(|s| parse_ip(s, "gatewayIpAddress"))
        .transpose()?;
    let fqdn = str_at(&props, &["fqdn"]).map(String::from);
    if ip.is_none() && fqdn.is_none() {
        return Err(invalid(
            "A local network gateway needs properties.gatewayIpAddress (or fqdn).",
        ));
    }
    let pfx = arm_prefixes(
        at(&props, &["localNetworkAddressSpace", "addressPrefixes"]),
        "localNetworkAddressSpace.addressPrefixes",
        &p.id(),
    )?;
    let bgp = match props.get("bgpSettings") {
        Some(v) if !v.is_null() => Some(bgp_settings(v, 0)?),
        _ => None,
    };
    if bgp
        .as_ref()
        .is_some_and(|b| b.asn == 0 || b.peering_address.is_none())
    {
        return Err(invalid(
            "bgpSettings of a local network gateway need asn and bgpPeeringAddress.",
        ));
    }
    if bgp.is_none() && pfx.is_empty() {
        return Err(invalid("A local network gateway without bgpSettings needs localNetworkAddressSpace.addressPrefixes."));
    }
    let ready = c.now() + c.lat(Op::AzureLocalNetworkGatewayCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    Ok(store_top(
        c,
        p,
        LocalGateway {
            meta,
            ip,
            fqdn,
            prefixes: pfx,
            bgp,
        },
        old.is_none(),
    ))
}

pub(super) fn local_gateway_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, l: &LocalGateway| match c
        .az()
        .connections
        .values()
        .find(|x| key(&x.local_gateway2) == k)
    {
        Some(conn) => Err(bad_request(
            "InUseLocalNetworkGatewayCannotBeDeleted",
            format!(
                "Local network gateway {} cannot be deleted while connection {} uses it.",
                l.meta.id, conn.meta.id
            ),
        )),
        None => Ok(()),
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}
