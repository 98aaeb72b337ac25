//! Gateway connections and their shared keys.

use super::*;

fn check_shared_key(k: &str) -> R<()> {
    if k.is_empty() || k.len() > 128 || !k.chars().all(|ch| ch.is_ascii_graphic() || ch == ' ') {
        return Err(invalid(
            "The shared key must be 1 to 128 printable ASCII characters.",
        ));
    }
    Ok(())
}

fn ipsec_policy(v: &Value) -> R<IpsecPolicy> {
    let s = |f: &str, allowed: &[&str]| -> R<String> {
        one_of(
            str_at(v, &[f]).ok_or_else(|| invalid(format!("ipsecPolicies[].{f} is required.")))?,
            allowed,
            f,
        )
    };
    Ok(IpsecPolicy {
        sa_lifetime_s: int_at(v, &["saLifeTimeSeconds"])?
            .ok_or_else(|| invalid("ipsecPolicies[].saLifeTimeSeconds is required."))?,
        sa_data_kb: int_at(v, &["saDataSizeKilobytes"])?
            .ok_or_else(|| invalid("ipsecPolicies[].saDataSizeKilobytes is required."))?,
        ipsec_encryption: s(
            "ipsecEncryption",
            &[
                "None",
                "DES",
                "DES3",
                "AES128",
                "AES192",
                "AES256",
                "GCMAES128",
                "GCMAES192",
                "GCMAES256",
            ],
        )?,
        ipsec_integrity: s(
            "ipsecIntegrity",
            &[
                "MD5",
                "SHA1",
                "SHA256",
                "GCMAES128",
                "GCMAES192",
                "GCMAES256",
            ],
        )?,
        ike_encryption: s(
            "ikeEncryption",
            &[
                "DES",
                "DES3",
                "AES128",
                "AES192",
                "AES256",
                "GCMAES256",
                "GCMAES128",
            ],
        )?,
        ike_integrity: s(
            "ikeIntegrity",
            &["MD5", "SHA1", "SHA256", "SHA384", "GCMAES256", "GCMAES128"],
        )?,
        dh_group: s(
            "dhGroup",
            &[
                "None",
                "DHGroup1",
                "DHGroup2",
                "DHGroup14",
                "DHGroup2048",
                "ECP256",
                "ECP384",
                "DHGroup24",
            ],
        )?,
        pfs_group: s(
            "pfsGroup",
            &[
                "None", "PFS1", "PFS2", "PFS2048", "ECP256", "ECP384", "PFS24", "PFS14", "PFSMM",
            ],
        )?,
    })
}

/// A key for a connection created without one: Azure generates it; the sandbox derives it
/// from the id counter so that runs stay deterministic.
fn generated_key(c: &mut Call) -> String {
    arm::guid(&mut c.world.ids).replace('-', "")
}

pub(super) fn connection_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Connection>(c, p)?;
    let now = c.now();
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let props = b.get("properties").cloned().unwrap_or(json!({}));
    let connection_type = one_of(
        str_at(&props, &["connectionType"])
            .ok_or_else(|| invalid("properties.connectionType is required."))?,
        &["IPsec", "Vnet2Vnet", "ExpressRoute", "VPNClient"],
        "connectionType",
    )?;
    if connection_type != "IPsec" {
        return Err(invalid(format!(
            "The sandbox serves IPsec connections only, not {connection_type}."
        )));
    }
    let gateway1 = str_at(&props, &["virtualNetworkGateway1", "id"])
        .ok_or_else(|| invalid("properties.virtualNetworkGateway1.id is required."))?
        .to_string();
    let local_gateway2 = str_at(&props, &["localNetworkGateway2", "id"])
        .ok_or_else(|| {
            invalid("properties.localNetworkGateway2.id is required for an IPsec connection.")
        })?
        .to_string();
    c.check_ref(Kind::VirtualNetworkGateways, &gateway1, &p.id())?;
    c.check_ref(Kind::LocalNetworkGateways, &local_gateway2, &p.id())?;
    if let Some(o) = &old {
        if key(&o.gateway1) != key(&gateway1) || key(&o.local_gateway2) != key(&local_gateway2) {
            return Err(invalid(
                "The gateways of an existing connection cannot change.",
            ));
        }
        if o.meta.deleting() {
            return Err(another_operation(&o.meta.id));
        }
    }
    let gk = key(&gateway1);
    if let Some(g) = c.az().gateways.get(&gk) {
        if g.busy(now) {
            return Err(another_operation(&g.meta.id));
        }
    }
    let protocol = one_of(
        str_at(&props, &["connectionProtocol"]).unwrap_or("IKEv2"),
        &["IKEv2", "IKEv1"],
        "connectionProtocol",
    )?;
    let shared_key = match (str_at(&props, &["sharedKey"]), &old) {
        (Some(s), _) => {
            check_shared_key(s)?;
            s.to_string()
        }
        (None, Some(o)) => o.shared_key.clone(),
        (None, None) => generated_key(c),
    };
    let mut ipsec_policies = Vec::new();
    for v in props
        .get("ipsecPolicies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        ipsec_policies.push(ipsec_policy(&v)?);
    }
    let mut selector_policies = Vec::new();
    for v in props
        .get("trafficSelectorPolicies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        selector_policies.push(TrafficSelector {
            local: prefixes(v.get("localAddressRanges"), "localAddressRanges")?,
            remote: prefixes(v.get("remoteAddressRanges"), "remoteAddressRanges")?,
        });
    }
    let conn = Connection {
        meta: Meta::default(),
        gateway1,
        local_gateway2,
        connection_type,
        protocol,
        shared_key,
        enable_bgp: bool_at(&props, &["enableBgp"])?.unwrap_or(false),
        routing_weight: int_at(&props, &["routingWeight"])?.unwrap_or(0) as i32,
        dpd_timeout_s: int_at(&props, &["dpdTimeoutSeconds"])?.unwrap_or(45) as i32,
        connection_mode: one_of(
            str_at(&props, &["connectionMode"]).unwrap_or("Default"),
            &["Default", "ResponderOnly", "InitiatorOnly"],
            "connectionMode",
        )?,
        use_policy_based_selectors: bool_at(&props, &["usePolicyBasedTrafficSelectors"])?
            .unwrap_or(false),
        ipsec_policies,
        selector_policies,
    };
    let ready = now + c.lat(Op::AzureConnectionCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    // Creating or changing a connection is an update of its gateway.
    if let Some(g) = c.world.azure.gateways.get_mut(&gk) {
        g.busy_until = g.busy_until.max(ready);
    }
    Ok(store_top(c, p, Connection { meta, ..conn }, old.is_none()))
}

pub(super) fn connection_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    // Deleting a connection is an update of its gateway: refused while the gateway is busy,
    // and keeps it busy until done.
    let gk = c
        .az()
        .connections
        .get(&key(&p.id()))
        .map(|x| key(&x.gateway1))
        .unwrap_or_default();
    let refuse = |c: &Call, _: &str, conn: &Connection| match c.az().gateways.get(&gk) {
        Some(g) if g.busy(c.now()) && !conn.meta.deleting() => Err(another_operation(&g.meta.id)),
        _ => Ok(()),
    };
    let after = |az: &mut AzureCloud, done: u64| {
        if let Some(g) = az.gateways.get_mut(&gk) {
            g.busy_until = g.busy_until.max(done);
        }
    };
    delete_top(c, p, Op::AzureDelete, refuse, after)
}

/// `…/connections/{n}/sharedkey`: the only place the key can be read back.
pub(super) fn shared_key(c: &mut Call, verb: &str, p: &ResPath) -> R<Response> {
    let k = key(&p.id());
    let Some(conn) = c.az().connections.get(&k).cloned() else {
        return Err(arm::not_found(p.kind, &p.rg, name_of(p)));
    };
    let id = format!("{}/sharedkey", conn.meta.id);
    if verb == "GetSharedKey" {
        return Ok(ok(json!({"id": id, "value": conn.shared_key})));
    }
    let b = arm::body(c.req)?;
    let value = b
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("The shared key value is required."))?
        .to_string();
    check_shared_key(&value)?;
    let now = c.now();
    let gk = key(&conn.gateway1);
    if c.az().gateways.get(&gk).is_some_and(|g| g.busy(now)) || conn.meta.deleting() {
        return Err(another_operation(&conn.gateway1));
    }
    let ready = now + c.lat(Op::AzureConnectionCreate);
    if let Some(x) = c.world.azure.connections.get_mut(&k) {
        x.shared_key = value.clone();
        x.meta.ready_ms = ready;
    }
    let etag = arm::guid(&mut c.world.ids);
    if let Some(x) = c.world.azure.connections.get_mut(&k) {
        x.meta.etag = etag;
    }
    if let Some(g) = c.world.azure.gateways.get_mut(&gk) {
        g.busy_until = g.busy_until.max(ready);
    }
    Ok(c.accepted_put(
        false,
        &p.sub,
        &conn.meta.location,
        ready,
        json!({"id": id, "value": value}),
    ))
}
