//! Virtual private gateways (with their VPC attachment) and customer gateways.

use super::*;

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
