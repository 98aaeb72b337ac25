//! Each cloud's location fields of a network (AWS region and VPC, GCP project, region and
//! network, Azure subscription, resource group, VNet, gateway subnet and SKU).

use super::*;

/// Reads a required string field and checks its shape; `None` when missing or invalid.
fn shaped(
    ctx: &mut Ctx,
    obj: &Obj,
    key: &str,
    example: &str,
    ok: &dyn Fn(&str) -> bool,
    rule: &str,
) -> Option<String> {
    let (s, span) = req_string(ctx, obj, key, example)?;
    if ok(&s) {
        Some(s)
    } else {
        ctx.error(
            span,
            obj.path(key),
            format!("`{}` is not a valid {key}: {rule}", shown(&s)),
            Some(format!("e.g. `{example}`")),
        );
        None
    }
}

pub(super) fn decode_aws(ctx: &mut Ctx, obj: &Obj, d: &mut NetDraft) -> Option<Location> {
    let region = shaped(
        ctx,
        obj,
        "region",
        "us-east-1",
        &|s| region_ok(s, true),
        "AWS region codes are lowercase letters, digits and '-'",
    );
    let vpc_id = shaped(
        ctx,
        obj,
        "vpc_id",
        "vpc-0a1b2c3d4e5f60789",
        &|s| aws_id_ok(s, "vpc"),
        "`vpc-` and 8 or 17 lowercase hex digits",
    );
    let id_check = |prefix: &'static str, example: &'static str| {
        move |s: &str| {
            (!aws_id_ok(s, prefix)).then(|| {
                (
                    format!(
                        "`{}` is not a {prefix} id (`{prefix}-` and 8 or 17 lowercase hex digits)",
                        shown(s)
                    ),
                    format!("e.g. `{example}`"),
                )
            })
        }
    };
    let route_tables = string_list(
        ctx,
        obj,
        "route_tables",
        "route table ids",
        &id_check("rtb", "rtb-0123456789abcdef0"),
    );
    let security_groups = string_list(
        ctx,
        obj,
        "security_groups",
        "security group ids",
        &id_check("sg", "sg-0123456789abcdef0"),
    );
    let (region, vpc_id) = (region?, vpc_id?);
    d.identity = Some(format!("AWS VPC {vpc_id} in {region}"));
    Some(Location::Aws(AwsNetwork {
        region,
        vpc_id,
        route_tables: route_tables?,
        security_groups: security_groups?,
    }))
}

pub(super) fn decode_gcp(ctx: &mut Ctx, obj: &Obj, d: &mut NetDraft) -> Option<Location> {
    let project = shaped(
        ctx,
        obj,
        "project",
        "acme-net",
        &gcp_project_ok,
        "6-30 lowercase letters, digits and '-', starting with a letter",
    );
    let region = shaped(
        ctx,
        obj,
        "region",
        "us-central1",
        &|s| region_ok(s, true),
        "GCP region names are lowercase letters, digits and '-'",
    );
    let network = shaped(
        ctx,
        obj,
        "network",
        "prod-vpc",
        &gcp_name_ok,
        "1-63 lowercase letters, digits and '-', starting with a letter",
    );
    let (project, region, network) = (project?, region?, network?);
    d.identity = Some(format!("GCP network {project}/{network} in {region}"));
    Some(Location::Gcp(GcpNetwork {
        project,
        region,
        network,
    }))
}

pub(super) fn decode_azure(ctx: &mut Ctx, obj: &Obj, d: &mut NetDraft) -> Option<Location> {
    let subscription = shaped(
        ctx,
        obj,
        "subscription",
        "00000000-0000-0000-0000-000000000000",
        &guid_ok,
        "a subscription id is a GUID",
    );
    let resource_group = req_string(ctx, obj, "resource_group", "net-rg").map(|(s, _)| s);
    let location = shaped(
        ctx,
        obj,
        "location",
        "eastus",
        &|s| region_ok(s, false),
        "Azure locations are written lowercase without spaces",
    );
    let vnet = req_string(ctx, obj, "vnet", "prod-vnet").map(|(s, _)| s);

    let gateway_subnet =
        req_string(ctx, obj, "gateway_subnet", "10.30.255.0/27").and_then(|(s, span)| {
            let p = obj.path("gateway_subnet");
            let net = match parse_cidr(&s) {
                Ok(n) => n,
                Err((m, h)) => {
                    ctx.error(span, &p, m, h);
                    return None;
                }
            };
            let mut ok = true;
            if net.prefix_len() > 27 {
                ctx.error(
                    span,
                    &p,
                    format!("GatewaySubnet `{net}` is smaller than /27"),
                    Some(format!(
                        "Azure VPN gateways need a /27 or larger, e.g. `{}`",
                        Ipv4Net::new(net.network(), 27)
                            .map(|n| n.trunc().to_string())
                            .unwrap_or_else(|_| "10.30.255.0/27".into())
                    )),
                );
                ok = false;
            }
            // Only judged when every VNet CIDR was valid: otherwise the error would be a guess.
            let all_cidrs_valid = obj
                .get("cidrs")
                .is_some_and(|n| matches!(&n.kind, Kind::Seq(v) if v.len() == d.cidrs.len()));
            if all_cidrs_valid && !d.cidrs.iter().any(|c| c.net.contains(&net)) {
                let list: Vec<String> = d.cidrs.iter().map(|c| c.net.to_string()).collect();
                ctx.error(
                    span,
                    &p,
                    format!(
                        "GatewaySubnet `{net}` is not inside the VNet's CIDRs ({})",
                        list.join(", ")
                    ),
                    Some("pick a free /27 inside one of the VNet's CIDRs".into()),
                );
                ok = false;
            }
            ok.then_some(net)
        });

    let gateway_sku = match obj.get("gateway_sku") {
        None => Some(DEFAULT_AZURE_GATEWAY_SKU.to_string()),
        Some(n) => {
            let p = obj.path("gateway_sku");
            string(ctx, n, &p).and_then(|s| {
                if s.eq_ignore_ascii_case("basic") {
                    // peerctl's connections always carry a custom IPsec/IKE policy (Azure's
                    // default IKEv2 policy has no DH group 14), and Basic takes neither custom
                    // policies nor IKEv2.
                    ctx.error(
                        n.span,
                        &p,
                        format!(
                            "the `{s}` SKU supports neither IKEv2 nor custom IPsec/IKE \
                             policies, which every peerctl connection uses"
                        ),
                        Some(format!(
                            "use `{DEFAULT_AZURE_GATEWAY_SKU}`, the smallest SKU with both (30 \
                             tunnels), or omit `gateway_sku`"
                        )),
                    );
                    None
                } else if azure_sku_tunnel_limit(&s).is_some() {
                    d.sku = Some((s.clone(), n.span));
                    Some(s)
                } else {
                    let names: Vec<&str> = AZURE_GATEWAY_SKUS.iter().map(|(s, _)| *s).collect();
                    let hint = match names.iter().find(|k| k.eq_ignore_ascii_case(&s)) {
                        Some(k) => format!("SKU names are case-sensitive: `{k}`"),
                        None => format!("one of: {}", names.join(", ")),
                    };
                    ctx.error(
                        n.span,
                        &p,
                        format!("unknown Azure VPN gateway SKU `{}`", shown(&s)),
                        Some(hint),
                    );
                    None
                }
            })
        }
    };
    if obj.get("gateway_sku").is_none() {
        d.sku = Some((DEFAULT_AZURE_GATEWAY_SKU.to_string(), d.span));
    }

    let nsgs = string_list(
        ctx,
        obj,
        "network_security_groups",
        "network security group names",
        &|s| {
            (s.is_empty() || s.len() > 80).then(|| {
                (
                    format!(
                        "`{}` is not a network security group name (1-80 characters)",
                        shown(s)
                    ),
                    "use the NSG's name as Azure shows it".to_string(),
                )
            })
        },
    );

    let (subscription, resource_group, location, vnet) =
        (subscription?, resource_group?, location?, vnet?);
    d.identity = Some(format!(
        "Azure VNet {resource_group}/{vnet} in subscription {subscription}"
    ));
    Some(Location::Azure(AzureNetwork {
        subscription,
        resource_group,
        location,
        vnet,
        gateway_subnet: gateway_subnet?,
        gateway_sku: gateway_sku?,
        network_security_groups: nsgs?,
    }))
}
