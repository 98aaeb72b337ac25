//! VPN connections: tunnel options validated like AWS, their creation, description (with
//! VgwTelemetry from the physics), modification and static routes.

use super::*;

pub(super) fn validate_inside_cidr(text: &str, tunnel: usize) -> ApiResult<Ipv4Net> {
    let bad = |why: &str| {
        ApiError::invalid(format!(
            "The tunnel inside CIDR '{text}' for tunnel {tunnel} is invalid: {why}"
        ))
    };
    let net: Ipv4Net = text.parse().map_err(|_| bad("not a CIDR block"))?;
    let link_local: Ipv4Net =
        Ipv4Net::new(Ipv4Addr::new(169, 254, 0, 0), 16).map_err(|_| bad("internal error"))?;
    if net.prefix_len() != 30 || net.trunc() != net {
        return Err(bad("it must be a /30 network"));
    }
    if !link_local.contains(&net) {
        return Err(bad("it must be within 169.254.0.0/16"));
    }
    if RESERVED_INSIDE_CIDRS.contains(&net.to_string().as_str()) {
        return Err(bad("this range is reserved by AWS"));
    }
    Ok(net)
}

/// AWS's pre-shared key rule. The message never contains the key.
pub(super) fn validate_psk(psk: &str, tunnel: usize) -> ApiResult<()> {
    let ok_len = (8..=64).contains(&psk.len());
    let ok_chars = psk
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    if !ok_len || !ok_chars || psk.starts_with('0') {
        return Err(ApiError::invalid(format!(
            "The pre-shared key for tunnel {tunnel} is invalid: it must be 8-64 characters of letters, digits, '.' and '_', and must not start with '0'"
        )));
    }
    Ok(())
}

fn check_values(values: &[String], allowed: &[&str], what: &str) -> ApiResult<()> {
    for v in values {
        if !allowed.contains(&v.as_str()) {
            return Err(ApiError::invalid(format!(
                "Value '{v}' for {what} is invalid. Valid values: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn dh_groups(values: &[String], allowed: &[u32], what: &str) -> ApiResult<Vec<u32>> {
    values
        .iter()
        .map(|v| {
            v.parse::<u32>()
                .ok()
                .filter(|n| allowed.contains(n))
                .ok_or_else(|| ApiError::invalid(format!("Value '{v}' for {what} is invalid")))
        })
        .collect()
}

/// A key AWS would pick: 32 characters from AWS's alphabet, never starting with `0`,
/// derived from a counter so that sandbox runs are reproducible.
pub(super) fn generated_psk(n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let digest = Sha256::digest(format!("peerctl-sandbox-aws-psk-{n}").as_bytes());
    let mut s: String = digest
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    if s.starts_with('0') || s.starts_with('.') || s.starts_with('_') {
        s.replace_range(0..1, "k");
    }
    s
}

/// The first free, allowed /30 that `taken` does not hold, walking 169.254.0.0/16 from a
/// counter-derived start (AWS picks a random one).
pub(super) fn generated_inside_cidr(n: u64, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    (0..16384u64).find_map(|k| {
        let slot = ((n * 7919 + k) % 16384) as u32;
        let base = u32::from(Ipv4Addr::new(169, 254, 0, 0)) + slot * 4;
        let net = Ipv4Net::new(Ipv4Addr::from(base), 30).ok()?;
        let reserved = RESERVED_INSIDE_CIDRS.contains(&net.to_string().as_str());
        (!reserved && !taken.contains(&net)).then_some(net)
    })
}

/// One tunnel's options as a request gives them (`Options.TunnelOptions.N` of
/// CreateVpnConnection, `TunnelOptions` of ModifyVpnTunnelOptions): `None` = not given.
#[derive(Debug, Default)]
struct TunnelSpec {
    inside_cidr: Option<Ipv4Net>,
    psk: Option<String>,
    ike_versions: Option<Vec<String>>,
    phase1_encryption: Option<Vec<String>>,
    phase1_integrity: Option<Vec<String>>,
    phase1_dh_groups: Option<Vec<u32>>,
    phase2_encryption: Option<Vec<String>>,
    phase2_integrity: Option<Vec<String>>,
    phase2_dh_groups: Option<Vec<u32>>,
    tuning: TunnelTuning,
}

/// Reads and checks one tunnel's options against AWS's rules; checks that depend on other
/// values (inside CIDR uniqueness, lifetimes against each other) are the caller's.
fn parse_tunnel_spec(spec: &Params, n: usize) -> ApiResult<TunnelSpec> {
    let inside_cidr = spec
        .get("TunnelInsideCidr")
        .map(|t| validate_inside_cidr(t, n))
        .transpose()?;
    if spec.get("TunnelInsideIpv6Cidr").is_some() {
        return Err(ApiError::invalid(
            "TunnelInsideIpv6Cidr needs TunnelInsideIpVersion ipv6, which a virtual private gateway does not support",
        ));
    }
    let psk = match spec.get("PreSharedKey") {
        Some(k) => {
            validate_psk(k, n)?;
            Some(k.to_string())
        }
        None => None,
    };
    let given = |v: Vec<String>| (!v.is_empty()).then_some(v);
    let names = |key: &str, allowed: &[&str], what: &str| -> ApiResult<Option<Vec<String>>> {
        let v = spec.value_items(key);
        check_values(&v, allowed, what)?;
        Ok(given(v))
    };
    let groups = |key: &str, allowed: &[u32], what: &str| -> ApiResult<Option<Vec<u32>>> {
        let v = spec.value_items(key);
        given(v).map(|v| dh_groups(&v, allowed, what)).transpose()
    };
    let number = |key: &str| -> ApiResult<Option<u32>> { spec.int::<u32>(key) };
    let choice = |key: &str, allowed: &[&str]| -> ApiResult<Option<String>> {
        match spec.get(key) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(v) => Err(ApiError::invalid(format!(
                "Value '{v}' for {key} of tunnel {n} is invalid. Valid values: {}",
                allowed.join(", ")
            ))),
        }
    };
    Ok(TunnelSpec {
        inside_cidr,
        psk,
        ike_versions: names("IKEVersion", &["ikev1", "ikev2"], "IKEVersions")?,
        phase1_encryption: names(
            "Phase1EncryptionAlgorithm",
            &ENCRYPTION,
            "Phase1EncryptionAlgorithms",
        )?,
        phase1_integrity: names(
            "Phase1IntegrityAlgorithm",
            &INTEGRITY,
            "Phase1IntegrityAlgorithms",
        )?,
        phase1_dh_groups: groups("Phase1DHGroupNumber", &PHASE1_DH, "Phase1DHGroupNumbers")?,
        phase2_encryption: names(
            "Phase2EncryptionAlgorithm",
            &ENCRYPTION,
            "Phase2EncryptionAlgorithms",
        )?,
        phase2_integrity: names(
            "Phase2IntegrityAlgorithm",
            &INTEGRITY,
            "Phase2IntegrityAlgorithms",
        )?,
        phase2_dh_groups: groups("Phase2DHGroupNumber", &PHASE2_DH, "Phase2DHGroupNumbers")?,
        tuning: TunnelTuning {
            phase1_lifetime_s: number("Phase1LifetimeSeconds")?,
            phase2_lifetime_s: number("Phase2LifetimeSeconds")?,
            rekey_margin_s: number("RekeyMarginTimeSeconds")?,
            rekey_fuzz_pct: number("RekeyFuzzPercentage")?,
            replay_window: number("ReplayWindowSize")?,
            dpd_timeout_s: number("DPDTimeoutSeconds")?,
            dpd_timeout_action: choice("DPDTimeoutAction", &["clear", "none", "restart"])?,
            startup_action: choice("StartupAction", &["add", "start"])?,
        },
    })
}

/// The documented ranges of the tuning options, on the values that will be in effect.
fn check_tuning(t: &TunnelTuning, n: usize) -> ApiResult<()> {
    let range = |name: &str, v: Option<u32>, lo: u32, hi: u32| -> ApiResult<()> {
        match v {
            Some(x) if !(lo..=hi).contains(&x) => Err(ApiError::invalid(format!(
                "The value {x} for {name} of tunnel {n} is invalid: it must be between {lo} and {hi}"
            ))),
            _ => Ok(()),
        }
    };
    let p1 = t.phase1_lifetime_s.unwrap_or(PHASE1_LIFETIME_S);
    let p2 = t.phase2_lifetime_s.unwrap_or(PHASE2_LIFETIME_S);
    range("Phase1LifetimeSeconds", t.phase1_lifetime_s, 900, 28_800)?;
    range("Phase2LifetimeSeconds", t.phase2_lifetime_s, 900, 3_600)?;
    if p2 >= p1 {
        return Err(ApiError::invalid(format!(
            "Phase2LifetimeSeconds ({p2}) of tunnel {n} must be less than Phase1LifetimeSeconds ({p1})"
        )));
    }
    range("RekeyMarginTimeSeconds", t.rekey_margin_s, 60, p2 / 2)?;
    range("RekeyFuzzPercentage", t.rekey_fuzz_pct, 0, 100)?;
    range("ReplayWindowSize", t.replay_window, 64, 2048)?;
    range("DPDTimeoutSeconds", t.dpd_timeout_s, 30, u32::MAX)?;
    Ok(())
}

fn inside_cidr_taken(net: Ipv4Net, n: usize, vgw_id: &str) -> ApiError {
    ApiError::invalid(format!(
        "The tunnel inside CIDR '{net}' for tunnel {n} is already used by another tunnel of virtual private gateway '{vgw_id}'"
    ))
}

pub fn create_vpn_connection(world: &mut World, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let ty = p.req("Type")?;
    if ty != "ipsec.1" {
        return Err(ApiError::invalid(format!(
            "Invalid VPN connection type: {ty}"
        )));
    }
    if p.get("TransitGatewayId").is_some() || p.get("VpnConcentratorId").is_some() {
        return Err(ApiError::client(
            "UnsupportedOperation",
            "The sandbox emulates VPN connections to virtual private gateways only",
        ));
    }
    let cgw_id = p.req("CustomerGatewayId")?.to_string();
    let vgw_id = p.req("VpnGatewayId")?.to_string();
    let aws = &world.aws;
    if !aws.cgw_live(&cgw_id) {
        return Err(ApiError::not_found(
            "InvalidCustomerGatewayID.NotFound",
            "customer gateway",
            &cgw_id,
        ));
    }
    if !aws.vgw_live(&vgw_id) {
        return Err(ApiError::not_found(
            "InvalidVpnGatewayID.NotFound",
            "virtual private gateway",
            &vgw_id,
        ));
    }
    let opts = p.sub("Options");
    let static_routes_only = opts.bool("StaticRoutesOnly")?.unwrap_or(false);
    if let Some(v) = opts.get("TunnelInsideIpVersion") {
        if v != "ipv4" {
            return Err(ApiError::invalid(format!(
                "TunnelInsideIpVersion '{v}' is not supported by a virtual private gateway"
            )));
        }
    }
    let any_net = |key: &str| -> ApiResult<Ipv4Net> {
        match opts.get(key) {
            None => Ok(Ipv4Net::default()),
            Some(t) => t
                .parse()
                .map_err(|_| ApiError::invalid(format!("Invalid {key}: {t}"))),
        }
    };
    let local_cidr = any_net("LocalIpv4NetworkCidr")?;
    let remote_cidr = any_net("RemoteIpv4NetworkCidr")?;
    let specs = opts.items("TunnelOptions");
    if specs.len() > 2 {
        return Err(ApiError::invalid(
            "A VPN connection has two tunnels: at most 2 TunnelOptions may be given",
        ));
    }
    // Inside CIDRs must be unique among the tunnels of one virtual private gateway.
    let mut taken: Vec<Ipv4Net> = aws
        .vpn_connections
        .values()
        .filter(|c| c.vpn_gateway_id == vgw_id && c.deleted.is_none())
        .flat_map(|c| c.tunnels.iter().map(|t| t.inside_cidr))
        .collect();
    let mut tunnels = Vec::new();
    for i in 0..2 {
        let n = i + 1;
        let spec = parse_tunnel_spec(&specs.get(i).cloned().unwrap_or_default(), n)?;
        let inside = match spec.inside_cidr {
            Some(net) => {
                if taken.contains(&net) {
                    return Err(inside_cidr_taken(net, n, &vgw_id));
                }
                net
            }
            None => generated_inside_cidr(world.ids.next("aws-inside-cidr"), &taken)
                .ok_or_else(|| ApiError::invalid("No free tunnel inside CIDR is left"))?,
        };
        taken.push(inside);
        let psk = match spec.psk {
            Some(k) => k,
            None => generated_psk(world.ids.next("aws-psk")),
        };
        check_tuning(&spec.tuning, n)?;
        tunnels.push(VpnTunnel {
            outside_ip: Ipv4Addr::UNSPECIFIED,
            inside_cidr: inside,
            psk,
            ike_versions: spec.ike_versions.unwrap_or_default(),
            phase1_encryption: spec.phase1_encryption.unwrap_or_default(),
            phase1_integrity: spec.phase1_integrity.unwrap_or_default(),
            phase1_dh_groups: spec.phase1_dh_groups.unwrap_or_default(),
            phase2_encryption: spec.phase2_encryption.unwrap_or_default(),
            phase2_integrity: spec.phase2_integrity.unwrap_or_default(),
            phase2_dh_groups: spec.phase2_dh_groups.unwrap_or_default(),
            tuning: spec.tuning,
            reconfigured_ms: 0,
        });
    }
    let tags = p.tag_specifications("vpn-connection")?;
    for t in &mut tunnels {
        t.outside_ip = world.ips.allocate(Cloud::Aws);
    }
    let now = ctx.now_ms;
    let id = world.ids.aws("vpn");
    let c = VpnConnection {
        id: id.clone(),
        customer_gateway_id: cgw_id,
        vpn_gateway_id: vgw_id,
        static_routes_only,
        local_ipv4_network_cidr: local_cidr,
        remote_ipv4_network_cidr: remote_cidr,
        tunnels,
        routes: Vec::new(),
        tags,
        created_ms: now,
        ready_ms: now + ctx.latency.ms(Op::AwsVpnConnectionCreate),
        modifying_until_ms: 0,
        deleted: None,
    };
    world.aws.vpn_connections.insert(id.clone(), c);
    // The physics is evaluated after the insert so the new tunnels show their first status.
    let net = ctx.net(world);
    let aws = &world.aws;
    let mut x = Xml::new();
    if let Some(c) = aws.vpn_connections.get(&id) {
        x.node("vpnConnection", |x| vpn_xml(x, aws, c, net, now));
    }
    Ok(x.into_string())
}

fn vpn_xml(x: &mut Xml, aws: &AwsCloud, c: &VpnConnection, net: &NetState, now: u64) {
    let state = c.state(now);
    x.leaf("vpnConnectionId", &c.id).leaf("state", state);
    if state != "deleted" {
        x.leaf("customerGatewayConfiguration", cgw_configuration(aws, c));
    }
    x.leaf("type", "ipsec.1")
        .leaf("customerGatewayId", &c.customer_gateway_id)
        .leaf("vpnGatewayId", &c.vpn_gateway_id)
        .leaf("category", "VPN")
        .node("options", |x| {
            x.leaf("staticRoutesOnly", c.static_routes_only)
                .leaf("localIpv4NetworkCidr", c.local_ipv4_network_cidr)
                .leaf("remoteIpv4NetworkCidr", c.remote_ipv4_network_cidr)
                .leaf("outsideIpAddressType", "PublicIpv4")
                .leaf("tunnelInsideIpVersion", "ipv4")
                .list("tunnelOptionSet", &c.tunnels, tunnel_option_xml);
        })
        .list("routes", &c.routes, |x, r| {
            x.leaf("destinationCidrBlock", r)
                .leaf("source", "Static")
                .leaf(
                    "state",
                    if c.deleted.is_some() {
                        "deleted"
                    } else {
                        "available"
                    },
                );
        })
        .list("vgwTelemetry", 0..c.tunnels.len(), |x, i| {
            let Telemetry {
                up,
                message,
                accepted_routes,
                last_change_ms,
            } = model::telemetry(aws, c, i, net, now);
            x.leaf("outsideIpAddress", c.tunnels[i].outside_ip)
                .leaf("status", if up { "UP" } else { "DOWN" })
                .leaf(
                    "lastStatusChange",
                    super::super::wire::iso8601(last_change_ms),
                )
                .leaf("statusMessage", message)
                .leaf("acceptedRouteCount", accepted_routes);
        })
        .tags(&c.tags);
}

fn tunnel_option_xml(x: &mut Xml, t: &VpnTunnel) {
    let values = |x: &mut Xml, tag: &str, vs: Vec<String>| {
        if !vs.is_empty() {
            x.list(tag, vs, |x, v| {
                x.leaf("value", v);
            });
        }
    };
    let tu = &t.tuning;
    x.leaf("outsideIpAddress", t.outside_ip)
        .leaf("tunnelInsideCidr", t.inside_cidr)
        .leaf("preSharedKey", &t.psk)
        .opt("phase1LifetimeSeconds", tu.phase1_lifetime_s)
        .opt("phase2LifetimeSeconds", tu.phase2_lifetime_s)
        .opt("rekeyMarginTimeSeconds", tu.rekey_margin_s)
        .opt("rekeyFuzzPercentage", tu.rekey_fuzz_pct)
        .opt("replayWindowSize", tu.replay_window)
        .opt("dpdTimeoutSeconds", tu.dpd_timeout_s)
        .opt("dpdTimeoutAction", tu.dpd_timeout_action.as_ref());
    values(
        x,
        "phase1EncryptionAlgorithmSet",
        t.phase1_encryption.clone(),
    );
    values(
        x,
        "phase2EncryptionAlgorithmSet",
        t.phase2_encryption.clone(),
    );
    values(x, "phase1IntegrityAlgorithmSet", t.phase1_integrity.clone());
    values(x, "phase2IntegrityAlgorithmSet", t.phase2_integrity.clone());
    values(
        x,
        "phase1DHGroupNumberSet",
        t.phase1_dh_groups.iter().map(u32::to_string).collect(),
    );
    values(
        x,
        "phase2DHGroupNumberSet",
        t.phase2_dh_groups.iter().map(u32::to_string).collect(),
    );
    values(x, "ikeVersionSet", t.ike_versions.clone());
    x.opt("startupAction", tu.startup_action.as_ref());
}

pub fn describe_vpn_connections(
    aws: &AwsCloud,
    ctx: &Ctx,
    net: &NetState,
    p: &Params,
) -> ApiResult<String> {
    let now = ctx.now_ms;
    let ids = p.values("VpnConnectionId");
    for id in &ids {
        match aws.vpn_connections.get(id) {
            Some(c) if !aws.invisible(now, c.created_ms) => {}
            _ => {
                return Err(ApiError::not_found(
                    "InvalidVpnConnectionID.NotFound",
                    "vpn connection",
                    id,
                ))
            }
        }
    }
    let filters = p.filters()?;
    let mut out = Vec::new();
    for c in aws.vpn_connections.values() {
        if !ids.is_empty() && !ids.contains(&c.id) {
            continue;
        }
        let keep = matches(&filters, &c.tags, |name| {
            Some(match name {
                "vpn-connection-id" => vec![c.id.clone()],
                "state" => vec![c.state(now).into()],
                "customer-gateway-id" => vec![c.customer_gateway_id.clone()],
                "vpn-gateway-id" => vec![c.vpn_gateway_id.clone()],
                "type" => vec!["ipsec.1".into()],
                "category" => vec!["VPN".into()],
                "option.static-routes-only" => vec![c.static_routes_only.to_string()],
                "route.destination-cidr-block" => c.routes.iter().map(|r| r.to_string()).collect(),
                "bgp-asn" => aws
                    .customer_gateways
                    .get(&c.customer_gateway_id)
                    .map(|g| g.bgp_asn.to_string())
                    .into_iter()
                    .collect(),
                "transit-gateway-id" => vec![],
                _ => return None,
            })
        })?;
        if keep {
            out.push(c);
        }
    }
    let mut x = Xml::new();
    x.list("vpnConnectionSet", out, |x, c| vpn_xml(x, aws, c, net, now));
    Ok(x.into_string())
}

pub fn delete_vpn_connection(aws: &mut AwsCloud, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let id = p.req("VpnConnectionId")?;
    let c = aws.vpn_connections.get_mut(id).ok_or_else(|| {
        ApiError::not_found("InvalidVpnConnectionID.NotFound", "vpn connection", id)
    })?;
    if c.deleted.is_none() {
        c.deleted = Some(Deletion {
            requested_ms: ctx.now_ms,
            done_ms: ctx.now_ms + ctx.latency.ms(Op::AwsVpnConnectionDelete),
        });
    }
    ok_return()
}

/// ModifyVpnTunnelOptions: changes one tunnel's options in place (the tunnel is named by its
/// outside address, which does not change). The connection is `modifying` and the tunnel
/// down while AWS re-establishes it with the new options; only an `available` connection can
/// be modified, one tunnel at a time, as EC2 documents.
pub fn modify_vpn_tunnel_options(world: &mut World, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let id = p.req("VpnConnectionId")?.to_string();
    let outside = p.req("VpnTunnelOutsideIpAddress")?.to_string();
    if p.sub("TunnelOptions").is_empty() {
        return Err(ApiError::missing("TunnelOptions"));
    }
    let now = ctx.now_ms;
    let aws = &world.aws;
    let c = aws
        .vpn_connections
        .get(&id)
        .filter(|c| c.deleted.is_none() && !aws.invisible(now, c.created_ms))
        .ok_or_else(|| {
            ApiError::not_found("InvalidVpnConnectionID.NotFound", "vpn connection", &id)
        })?;
    let i = c
        .tunnels
        .iter()
        .position(|t| t.outside_ip.to_string() == outside)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "The VPN tunnel outside IP address '{outside}' is not a tunnel of VPN connection '{id}'"
            ))
        })?;
    let state = c.state(now);
    if state != "available" {
        return Err(ApiError::incorrect_state(format!(
            "The VPN connection '{id}' cannot be modified while it is {state}"
        )));
    }
    let n = i + 1;
    let spec = parse_tunnel_spec(&p.sub("TunnelOptions"), n)?;
    if let Some(net) = spec.inside_cidr {
        let taken = aws.vpn_connections.values().any(|o| {
            o.vpn_gateway_id == c.vpn_gateway_id
                && o.deleted.is_none()
                && o.tunnels
                    .iter()
                    .enumerate()
                    .any(|(j, t)| t.inside_cidr == net && !(o.id == id && j == i))
        });
        if taken {
            return Err(inside_cidr_taken(net, n, &c.vpn_gateway_id));
        }
    }
    let mut t = c.tunnels[i].clone();
    let old = t.tuning.clone();
    let merge = |new: Option<u32>, old: Option<u32>| new.or(old);
    t.tuning = TunnelTuning {
        phase1_lifetime_s: merge(spec.tuning.phase1_lifetime_s, old.phase1_lifetime_s),
        phase2_lifetime_s: merge(spec.tuning.phase2_lifetime_s, old.phase2_lifetime_s),
        rekey_margin_s: merge(spec.tuning.rekey_margin_s, old.rekey_margin_s),
        rekey_fuzz_pct: merge(spec.tuning.rekey_fuzz_pct, old.rekey_fuzz_pct),
        replay_window: merge(spec.tuning.replay_window, old.replay_window),
        dpd_timeout_s: merge(spec.tuning.dpd_timeout_s, old.dpd_timeout_s),
        dpd_timeout_action: spec.tuning.dpd_timeout_action.or(old.dpd_timeout_action),
        startup_action: spec.tuning.startup_action.or(old.startup_action),
    };
    check_tuning(&t.tuning, n)?;
    if let Some(net) = spec.inside_cidr {
        t.inside_cidr = net;
    }
    if let Some(k) = spec.psk {
        t.psk = k;
    }
    let lists = [
        (spec.ike_versions, &mut t.ike_versions),
        (spec.phase1_encryption, &mut t.phase1_encryption),
        (spec.phase1_integrity, &mut t.phase1_integrity),
        (spec.phase2_encryption, &mut t.phase2_encryption),
        (spec.phase2_integrity, &mut t.phase2_integrity),
    ];
    for (new, field) in lists {
        if let Some(v) = new {
            *field = v;
        }
    }
    if let Some(v) = spec.phase1_dh_groups {
        t.phase1_dh_groups = v;
    }
    if let Some(v) = spec.phase2_dh_groups {
        t.phase2_dh_groups = v;
    }
    let done = now + ctx.latency.ms(Op::AwsVpnConnectionModify);
    t.reconfigured_ms = done;
    if let Some(c) = world.aws.vpn_connections.get_mut(&id) {
        c.tunnels[i] = t;
        c.modifying_until_ms = done;
    }
    let net = ctx.net(world);
    let aws = &world.aws;
    let mut x = Xml::new();
    if let Some(c) = aws.vpn_connections.get(&id) {
        x.node("vpnConnection", |x| vpn_xml(x, aws, c, net, now));
    }
    Ok(x.into_string())
}

/// CreateVpnConnectionRoute (`create`) and DeleteVpnConnectionRoute.
pub fn vpn_connection_route(
    aws: &mut AwsCloud,
    _ctx: &Ctx,
    p: &Params,
    create: bool,
) -> ApiResult<String> {
    let id = p.req("VpnConnectionId")?;
    let dest_text = p.req("DestinationCidrBlock")?;
    let dest: Ipv4Net = dest_text
        .parse()
        .map_err(|_| ApiError::invalid(format!("Invalid DestinationCidrBlock: {dest_text}")))?;
    let c = aws
        .vpn_connections
        .get_mut(id)
        .filter(|c| c.deleted.is_none())
        .ok_or_else(|| {
            ApiError::not_found("InvalidVpnConnectionID.NotFound", "vpn connection", id)
        })?;
    if !c.static_routes_only {
        return Err(ApiError::invalid(format!(
            "The VPN connection '{id}' uses dynamic (BGP) routing: static routes need StaticRoutesOnly"
        )));
    }
    let pos = c.routes.iter().position(|r| *r == dest);
    match (create, pos) {
        (true, Some(_)) => Err(ApiError::client(
            "RouteAlreadyExists",
            format!("The route {dest} already exists on VPN connection '{id}'"),
        )),
        (true, None) => {
            c.routes.push(dest);
            ok_return()
        }
        (false, Some(i)) => {
            c.routes.remove(i);
            ok_return()
        }
        (false, None) => Err(ApiError::client(
            "InvalidRoute.NotFound",
            format!("The route {dest} does not exist on VPN connection '{id}'"),
        )),
    }
}
