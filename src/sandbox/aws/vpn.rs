//! EC2's Site-to-Site VPN operations: virtual private gateways (with their VPC attachment),
//! customer gateways and VPN connections (tunnel options validated like AWS, VgwTelemetry
//! from the physics, static VPN routes).

use super::model::{self, Telemetry};
use super::wire::{matches, ApiError, ApiResult, Params, Xml};
use super::{
    lifecycle, AwsCloud, CustomerGateway, Deletion, TunnelTuning, VgwAttachment, VpnConnection,
    VpnGateway, VpnTunnel,
};
use crate::cloud::Cloud;
use crate::sandbox::latency::Op;
use crate::sandbox::net::NetState;
use crate::sandbox::world::{Ctx, World};
use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;

/// Inside CIDRs AWS refuses for VPN tunnels.
pub const RESERVED_INSIDE_CIDRS: [&str; 7] = [
    "169.254.0.0/30",
    "169.254.1.0/30",
    "169.254.2.0/30",
    "169.254.3.0/30",
    "169.254.4.0/30",
    "169.254.5.0/30",
    "169.254.169.252/30",
];

pub const ENCRYPTION: [&str; 4] = ["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"];
pub const INTEGRITY: [&str; 4] = ["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"];
pub const PHASE1_DH: [u32; 12] = [2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
pub const PHASE2_DH: [u32; 13] = [2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];

fn asn_is_private(asn: u64) -> bool {
    (64512..=65534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn)
}

fn ok_return() -> ApiResult<String> {
    Ok("<return>true</return>".to_string())
}

// ---------------------------------------------------------------- virtual private gateways

fn attachment_state(a: &VgwAttachment, now: u64) -> &'static str {
    match &a.detach {
        Some(d) if now < d.done_ms => "detaching",
        Some(_) => "detached",
        None if now < a.attached_ms => "attaching",
        None => "attached",
    }
}

/// The VPC a VGW is attached to right now (state `attached`).
pub(crate) fn attached_vpc(g: &VpnGateway, now: u64) -> Option<&str> {
    let a = g.attachment.as_ref()?;
    (g.deleted.is_none() && attachment_state(a, now) == "attached").then_some(a.vpc_id.as_str())
}

fn vgw_xml(x: &mut Xml, g: &VpnGateway, now: u64) {
    x.leaf("vpnGatewayId", &g.id)
        .leaf("state", lifecycle(now, g.ready_ms, g.deleted.as_ref()))
        .leaf("type", "ipsec.1")
        .opt("availabilityZone", g.availability_zone.as_ref())
        .list("attachments", &g.attachment, |x, a| {
            x.leaf("vpcId", &a.vpc_id)
                .leaf("state", attachment_state(a, now));
        })
        .leaf("amazonSideAsn", g.amazon_side_asn)
        .tags(&g.tags);
}

fn live_vgw<'a>(aws: &'a mut AwsCloud, id: &str) -> ApiResult<&'a mut VpnGateway> {
    aws.vpn_gateways
        .get_mut(id)
        .filter(|g| g.deleted.is_none())
        .ok_or_else(|| {
            ApiError::not_found(
                "InvalidVpnGatewayID.NotFound",
                "virtual private gateway",
                id,
            )
        })
}

pub fn create_vpn_gateway(world: &mut World, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let ty = p.req("Type")?;
    if ty != "ipsec.1" {
        return Err(ApiError::invalid(format!("Invalid gateway type: {ty}")));
    }
    let asn: u64 = p.int("AmazonSideAsn")?.unwrap_or(64512);
    if !asn_is_private(asn) {
        return Err(ApiError::invalid(format!(
            "The Amazon side ASN {asn} is invalid: use a private ASN (64512-65534 or 4200000000-4294967294)"
        )));
    }
    let tags = p.tag_specifications("vpn-gateway")?;
    let id = world.ids.aws("vgw");
    let g = VpnGateway {
        id: id.clone(),
        amazon_side_asn: asn,
        availability_zone: p.get("AvailabilityZone").map(str::to_string),
        attachment: None,
        tags,
        created_ms: ctx.now_ms,
        ready_ms: ctx.now_ms + ctx.latency.ms(Op::AwsVpnGatewayCreate),
        deleted: None,
    };
    let mut x = Xml::new();
    x.node("vpnGateway", |x| vgw_xml(x, &g, ctx.now_ms));
    world.aws.vpn_gateways.insert(id, g);
    Ok(x.into_string())
}

pub fn describe_vpn_gateways(aws: &AwsCloud, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let now = ctx.now_ms;
    let ids = p.values("VpnGatewayId");
    for id in &ids {
        match aws.vpn_gateways.get(id) {
            Some(g) if !aws.invisible(now, g.created_ms) => {}
            _ => {
                return Err(ApiError::not_found(
                    "InvalidVpnGatewayID.NotFound",
                    "virtual private gateway",
                    id,
                ))
            }
        }
    }
    let filters = p.filters()?;
    let mut x = Xml::new();
    let mut out = Vec::new();
    for g in aws.vpn_gateways.values() {
        if !ids.is_empty() && !ids.contains(&g.id) {
            continue;
        }
        let keep = matches(&filters, &g.tags, |name| {
            let att = g.attachment.iter();
            Some(match name {
                "vpn-gateway-id" => vec![g.id.clone()],
                "state" => vec![lifecycle(now, g.ready_ms, g.deleted.as_ref()).into()],
                "type" => vec!["ipsec.1".into()],
                "amazon-side-asn" => vec![g.amazon_side_asn.to_string()],
                "availability-zone" => g.availability_zone.iter().cloned().collect(),
                "attachment.vpc-id" => att.map(|a| a.vpc_id.clone()).collect(),
                "attachment.state" => att.map(|a| attachment_state(a, now).into()).collect(),
                _ => return None,
            })
        })?;
        if keep {
            out.push(g);
        }
    }
    x.list("vpnGatewaySet", out, |x, g| vgw_xml(x, g, now));
    Ok(x.into_string())
}

pub fn delete_vpn_gateway(aws: &mut AwsCloud, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let id = p.req("VpnGatewayId")?.to_string();
    let now = ctx.now_ms;
    match aws.vpn_gateways.get(&id) {
        None => {
            return Err(ApiError::not_found(
                "InvalidVpnGatewayID.NotFound",
                "virtual private gateway",
                &id,
            ))
        }
        Some(g) if g.deleted.is_some() => return ok_return(),
        Some(g) => {
            if let Some(a) = &g.attachment {
                match attachment_state(a, now) {
                    "detached" => {}
                    "detaching" => {
                        return Err(ApiError::incorrect_state(format!(
                            "The virtual private gateway '{id}' is still detaching from VPC '{}'",
                            a.vpc_id
                        )))
                    }
                    _ => {
                        return Err(ApiError::incorrect_state(format!(
                            "The virtual private gateway '{id}' is attached to VPC '{}': detach it first",
                            a.vpc_id
                        )))
                    }
                }
            }
        }
    }
    if let Some(c) = aws
        .vpn_connections
        .values()
        .find(|c| c.vpn_gateway_id == id && c.deleted.is_none())
    {
        return Err(ApiError::incorrect_state(format!(
            "The virtual private gateway '{id}' is used by VPN connection '{}'",
            c.id
        )));
    }
    let done = now + ctx.latency.ms(Op::AwsVpnGatewayDelete);
    live_vgw(aws, &id)?.deleted = Some(Deletion {
        requested_ms: now,
        done_ms: done,
    });
    ok_return()
}

pub fn attach_vpn_gateway(aws: &mut AwsCloud, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let vpc_id = p.req("VpcId")?.to_string();
    let vgw_id = p.req("VpnGatewayId")?.to_string();
    let now = ctx.now_ms;
    if !aws.vpcs.contains_key(&vpc_id) {
        return Err(ApiError::not_found("InvalidVpcID.NotFound", "vpc", &vpc_id));
    }
    let g = aws
        .vpn_gateways
        .get(&vgw_id)
        .filter(|g| g.deleted.is_none())
        .ok_or_else(|| {
            ApiError::not_found(
                "InvalidVpnGatewayID.NotFound",
                "virtual private gateway",
                &vgw_id,
            )
        })?;
    // A pending VGW can be attached (Terraform's AWS provider attaches right after the
    // create); the attachment completes only once the VGW itself is available.
    let attach_from = now.max(g.ready_ms);
    // A detachment in progress is not undone by a new attachment: the VGW is in a
    // transitional state until it completes.
    if let Some(a) = g
        .attachment
        .as_ref()
        .filter(|a| attachment_state(a, now) == "detaching")
    {
        return Err(ApiError::incorrect_state(format!(
            "The virtual private gateway '{vgw_id}' is still detaching from VPC '{}'",
            a.vpc_id
        )));
    }
    if let Some(a) = g.attachment.as_ref().filter(|a| a.detach.is_none()) {
        return Err(ApiError::client(
            "VpnGatewayAttachmentLimitExceeded",
            format!(
                "The virtual private gateway '{vgw_id}' is already attached to VPC '{}'",
                a.vpc_id
            ),
        ));
    }
    if let Some(other) = aws.vpn_gateways.values().find(|o| {
        o.id != vgw_id
            && o.deleted.is_none()
            && o.attachment
                .as_ref()
                .is_some_and(|a| a.vpc_id == vpc_id && attachment_state(a, now) != "detached")
    }) {
        return Err(ApiError::client(
            "VpnGatewayAttachmentLimitExceeded",
            format!(
                "The VPC '{vpc_id}' already has virtual private gateway '{}' attached: one per VPC",
                other.id
            ),
        ));
    }
    let a = VgwAttachment {
        vpc_id,
        attached_ms: attach_from + ctx.latency.ms(Op::AwsVpnGatewayAttach),
        detach: None,
    };
    let mut x = Xml::new();
    x.node("attachment", |x| {
        x.leaf("vpcId", &a.vpc_id)
            .leaf("state", attachment_state(&a, now));
    });
    live_vgw(aws, &vgw_id)?.attachment = Some(a);
    Ok(x.into_string())
}

pub fn detach_vpn_gateway(aws: &mut AwsCloud, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let vpc_id = p.req("VpcId")?.to_string();
    let vgw_id = p.req("VpnGatewayId")?.to_string();
    let now = ctx.now_ms;
    let done = now + ctx.latency.ms(Op::AwsVpnGatewayAttach);
    let g = live_vgw(aws, &vgw_id)?;
    match g.attachment.as_mut() {
        Some(a) if a.vpc_id == vpc_id && a.detach.is_none() => {
            a.detach = Some(Deletion {
                requested_ms: now,
                done_ms: done,
            });
            ok_return()
        }
        _ => Err(ApiError::client(
            "InvalidVpnGatewayAttachment.NotFound",
            format!("The attachment with vpn gateway ID '{vgw_id}' and vpc ID '{vpc_id}' does not exist"),
        )),
    }
}

// ---------------------------------------------------------------- customer gateways

fn cgw_xml(x: &mut Xml, g: &CustomerGateway, now: u64) {
    x.leaf("customerGatewayId", &g.id)
        .leaf("state", lifecycle(now, g.ready_ms, g.deleted.as_ref()))
        .leaf("type", "ipsec.1")
        .leaf("ipAddress", g.ip_address);
    if g.bgp_asn <= i32::MAX as u64 {
        x.leaf("bgpAsn", g.bgp_asn);
    } else {
        x.leaf("bgpAsnExtended", g.bgp_asn);
    }
    x.opt("deviceName", g.device_name.as_ref()).tags(&g.tags);
}

pub fn create_customer_gateway(
    world: &mut World,
    ctx: &Ctx,
    p: &Params,
    region: &str,
) -> ApiResult<String> {
    let ty = p.req("Type")?;
    if ty != "ipsec.1" {
        return Err(ApiError::invalid(format!("Invalid gateway type: {ty}")));
    }
    let ip_text = p
        .get("IpAddress")
        .or_else(|| p.get("PublicIp"))
        .ok_or_else(|| ApiError::missing("IpAddress"))?;
    let ip: Ipv4Addr = ip_text
        .parse()
        .map_err(|_| ApiError::invalid(format!("Invalid IP address: {ip_text}")))?;
    let asn: u64 = match (p.int::<u64>("BgpAsn")?, p.int::<u64>("BgpAsnExtended")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::client(
                "InvalidParameterCombination",
                "BgpAsn and BgpAsnExtended cannot both be specified",
            ))
        }
        (Some(a), None) if (1..=i32::MAX as u64).contains(&a) => a,
        (None, Some(a)) if (2_147_483_648..=4_294_967_294).contains(&a) => a,
        (None, None) => 65000,
        (Some(a), None) | (None, Some(a)) => {
            return Err(ApiError::invalid(format!("Invalid BGP ASN: {a}")))
        }
    };
    let device = p.get("DeviceName").map(str::to_string);
    let tags = p.tag_specifications("customer-gateway")?;
    let now = ctx.now_ms;
    // AWS returns the existing gateway for the same address and ASN (unless another device
    // name asks for a distinct one) and refuses the same address with another ASN — within a
    // region: another region's gateway for the address is another gateway.
    for g in world.aws.customer_gateways.values() {
        if g.deleted.is_some() || g.ip_address != ip || g.region != region {
            continue;
        }
        if g.bgp_asn != asn {
            return Err(ApiError::client(
                "InvalidCustomerGateway.DuplicateIpAddress",
                format!(
                    "Conflict among chosen gateway IP addresses: customer gateway '{}' already uses {ip} with ASN {}",
                    g.id, g.bgp_asn
                ),
            ));
        }
        if device.is_none() || device == g.device_name {
            let mut x = Xml::new();
            x.node("customerGateway", |x| cgw_xml(x, g, now));
            return Ok(x.into_string());
        }
    }
    let id = world.ids.aws("cgw");
    let g = CustomerGateway {
        id: id.clone(),
        ip_address: ip,
        bgp_asn: asn,
        device_name: device,
        region: region.to_string(),
        tags,
        created_ms: now,
        ready_ms: now + ctx.latency.ms(Op::AwsCustomerGatewayCreate),
        deleted: None,
    };
    let mut x = Xml::new();
    x.node("customerGateway", |x| cgw_xml(x, &g, now));
    world.aws.customer_gateways.insert(id, g);
    Ok(x.into_string())
}

pub fn describe_customer_gateways(aws: &AwsCloud, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let now = ctx.now_ms;
    let ids = p.values("CustomerGatewayId");
    for id in &ids {
        match aws.customer_gateways.get(id) {
            Some(g) if !aws.invisible(now, g.created_ms) => {}
            _ => {
                return Err(ApiError::not_found(
                    "InvalidCustomerGatewayID.NotFound",
                    "customer gateway",
                    id,
                ))
            }
        }
    }
    let filters = p.filters()?;
    let mut out = Vec::new();
    for g in aws.customer_gateways.values() {
        if !ids.is_empty() && !ids.contains(&g.id) {
            continue;
        }
        let keep = matches(&filters, &g.tags, |name| {
            Some(match name {
                "customer-gateway-id" => vec![g.id.clone()],
                "ip-address" => vec![g.ip_address.to_string()],
                "bgp-asn" => vec![g.bgp_asn.to_string()],
                "state" => vec![lifecycle(now, g.ready_ms, g.deleted.as_ref()).into()],
                "type" => vec!["ipsec.1".into()],
                _ => return None,
            })
        })?;
        if keep {
            out.push(g);
        }
    }
    let mut x = Xml::new();
    x.list("customerGatewaySet", out, |x, g| cgw_xml(x, g, now));
    Ok(x.into_string())
}

pub fn delete_customer_gateway(aws: &mut AwsCloud, ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let id = p.req("CustomerGatewayId")?.to_string();
    if let Some(c) = aws
        .vpn_connections
        .values()
        .find(|c| c.customer_gateway_id == id && c.deleted.is_none())
    {
        return Err(ApiError::incorrect_state(format!(
            "The customer gateway '{id}' is in use by VPN connection '{}'",
            c.id
        )));
    }
    let g = aws.customer_gateways.get_mut(&id).ok_or_else(|| {
        ApiError::not_found("InvalidCustomerGatewayID.NotFound", "customer gateway", &id)
    })?;
    if g.deleted.is_none() {
        // Deleting a customer gateway is near-instant on AWS.
        g.deleted = Some(Deletion {
            requested_ms: ctx.now_ms,
            done_ms: ctx.now_ms,
        });
    }
    ok_return()
}

// ---------------------------------------------------------------- VPN connections

fn validate_inside_cidr(text: &str, tunnel: usize) -> ApiResult<Ipv4Net> {
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
fn validate_psk(psk: &str, tunnel: usize) -> ApiResult<()> {
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
fn generated_psk(n: u64) -> String {
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
fn generated_inside_cidr(n: u64, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
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

/// AWS's defaults for the tuning options a tunnel leaves unset.
const PHASE1_LIFETIME_S: u32 = 28_800;
const PHASE2_LIFETIME_S: u32 = 3_600;

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
fn cgw_configuration(aws: &AwsCloud, c: &VpnConnection) -> String {
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

/// The BGP hold time AWS's VGW uses (and shows in the configuration document).
const BGP_HOLD_TIME_S: u32 = 30;

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
                .leaf("lastStatusChange", super::wire::iso8601(last_change_ms))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_malformed_inside_cidrs_are_rejected() {
        for bad in [
            "169.254.1.0/30",
            "169.254.169.252/30",
            "169.254.10.0/29",
            "169.254.10.1/30",
            "10.0.0.0/30",
            "x",
        ] {
            let e = validate_inside_cidr(bad, 1).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue", "{bad}");
        }
        assert!(validate_inside_cidr("169.254.10.0/30", 1).is_ok());
    }

    #[test]
    fn psk_rules_follow_aws_and_never_echo_the_key() {
        for bad in [
            "short12",
            "0startswithzero",
            "has-dash-in-it",
            &"a".repeat(65),
        ] {
            let e = validate_psk(bad, 2).unwrap_err();
            assert!(!e.message.contains(bad), "{}", e.message);
        }
        assert!(validate_psk("Good.key_123", 1).is_ok());
    }

    #[test]
    fn generated_keys_and_inside_cidrs_satisfy_aws_rules() {
        for n in 0..50 {
            let k = generated_psk(n);
            assert!(validate_psk(&k, 1).is_ok(), "{n}");
        }
        let taken: Vec<Ipv4Net> = vec!["169.254.0.0/30".parse().unwrap()];
        let net = generated_inside_cidr(0, &taken).unwrap();
        assert!(validate_inside_cidr(&net.to_string(), 1).is_ok());
        assert!(!taken.contains(&net));
    }
}
