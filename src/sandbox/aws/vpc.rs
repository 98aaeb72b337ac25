//! EC2's VPC-side operations the VPN needs: VPCs and subnets (seeded, read-only), route
//! tables (CreateRoute/DeleteRoute, VGW route propagation with propagated routes from the
//! physics), security groups (authorize/revoke ingress and egress) and tags.

use super::model::propagated_routes;
use super::vpn::attached_vpc;
use super::wire::{matches, paginate, ApiError, ApiResult, Params, Tags, Xml};
use super::{AwsCloud, SecurityGroup, SgRule, TableRoute, OWNER_ID};
use crate::sandbox::net::NetState;
use crate::sandbox::world::{Ctx, World};
use ipnet::Ipv4Net;

fn ok_return() -> ApiResult<String> {
    Ok("<return>true</return>".to_string())
}

fn check_ids(
    ids: &[String],
    exists: impl Fn(&str) -> bool,
    code: &str,
    what: &str,
) -> ApiResult<()> {
    match ids.iter().find(|id| !exists(id)) {
        Some(id) => Err(ApiError::not_found(code, what, id)),
        None => Ok(()),
    }
}

fn bool_text(b: bool) -> String {
    b.to_string()
}

// ---------------------------------------------------------------- VPCs and subnets

pub fn describe_vpcs(aws: &AwsCloud, _ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let ids = p.values("VpcId");
    check_ids(
        &ids,
        |id| aws.vpcs.contains_key(id),
        "InvalidVpcID.NotFound",
        "vpc",
    )?;
    let filters = p.filters()?;
    let mut out = Vec::new();
    for v in aws.vpcs.values() {
        if !ids.is_empty() && !ids.contains(&v.id) {
            continue;
        }
        let cidrs = || v.cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let keep = matches(&filters, &v.tags, |name| {
            Some(match name {
                "vpc-id" => vec![v.id.clone()],
                "cidr" | "cidr-block-association.cidr-block" => cidrs(),
                "state" => vec!["available".into()],
                "is-default" => vec!["false".into()],
                "owner-id" => vec![OWNER_ID.into()],
                _ => return None,
            })
        })?;
        if keep {
            out.push(v);
        }
    }
    let (page, next) = paginate(p, out)?;
    let mut x = Xml::new();
    x.list("vpcSet", page, |x, v| {
        x.leaf("vpcId", &v.id)
            .leaf("ownerId", OWNER_ID)
            .leaf("state", "available")
            .opt("cidrBlock", v.cidrs.first())
            .list(
                "cidrBlockAssociationSet",
                v.cidrs.iter().enumerate(),
                |x, (i, c)| {
                    x.leaf(
                        "associationId",
                        format!("vpc-cidr-assoc-{}{i}", v.id.trim_start_matches("vpc-")),
                    )
                    .leaf("cidrBlock", c)
                    .node("cidrBlockState", |x| {
                        x.leaf("state", "associated");
                    });
                },
            )
            .leaf("dhcpOptionsId", "default")
            .leaf("instanceTenancy", "default")
            .leaf("isDefault", false)
            .tags(&v.tags);
    })
    .opt("nextToken", next);
    Ok(x.into_string())
}

/// DescribeVpcAttribute: one attribute per call, as EC2 answers it. The sandbox's VPCs are
/// non-default VPCs with EC2's defaults for one (DNS resolution on, DNS hostnames off,
/// network address usage metrics off); nothing modifies them.
pub fn describe_vpc_attribute(aws: &AwsCloud, p: &Params) -> ApiResult<String> {
    let id = p.req("VpcId")?;
    let attribute = p.req("Attribute")?;
    let value = match attribute {
        "enableDnsSupport" => true,
        "enableDnsHostnames" | "enableNetworkAddressUsageMetrics" => false,
        other => {
            return Err(ApiError::invalid(format!(
                "Value ({other}) for parameter attribute is invalid. Valid values: enableDnsSupport, enableDnsHostnames, enableNetworkAddressUsageMetrics"
            )))
        }
    };
    if !aws.vpcs.contains_key(id) {
        return Err(ApiError::not_found("InvalidVpcID.NotFound", "vpc", id));
    }
    let mut x = Xml::new();
    x.leaf("vpcId", id).node(attribute, |x| {
        x.leaf("value", value);
    });
    Ok(x.into_string())
}

pub fn describe_subnets(aws: &AwsCloud, p: &Params) -> ApiResult<String> {
    let ids = p.values("SubnetId");
    check_ids(
        &ids,
        |id| aws.subnets.contains_key(id),
        "InvalidSubnetID.NotFound",
        "subnet",
    )?;
    let filters = p.filters()?;
    let mut out = Vec::new();
    for s in aws.subnets.values() {
        if !ids.is_empty() && !ids.contains(&s.id) {
            continue;
        }
        let keep = matches(&filters, &s.tags, |name| {
            Some(match name {
                "subnet-id" => vec![s.id.clone()],
                "vpc-id" => vec![s.vpc_id.clone()],
                "cidr-block" | "cidr" => vec![s.cidr.to_string()],
                "state" => vec!["available".into()],
                "availability-zone" => vec![s.availability_zone.clone()],
                _ => return None,
            })
        })?;
        if keep {
            out.push(s);
        }
    }
    let (page, next) = paginate(p, out)?;
    let mut x = Xml::new();
    x.list("subnetSet", page, |x, s| {
        let region = aws
            .vpcs
            .get(&s.vpc_id)
            .map_or("us-east-1", |v| v.region.as_str());
        let usable = (1u64 << (32 - u32::from(s.cidr.prefix_len()))).saturating_sub(5);
        x.leaf("subnetId", &s.id)
            .leaf(
                "subnetArn",
                format!("arn:aws:ec2:{region}:{OWNER_ID}:subnet/{}", s.id),
            )
            .leaf("state", "available")
            .leaf("vpcId", &s.vpc_id)
            .leaf("cidrBlock", s.cidr)
            .leaf("availableIpAddressCount", usable)
            .leaf("availabilityZone", &s.availability_zone)
            .leaf("defaultForAz", false)
            .leaf("mapPublicIpOnLaunch", false)
            .leaf("ownerId", OWNER_ID)
            .tags(&s.tags);
    })
    .opt("nextToken", next);
    Ok(x.into_string())
}

// ---------------------------------------------------------------- route tables

/// A route as DescribeRouteTables shows it.
struct ShownRoute {
    destination: Ipv4Net,
    gateway_id: String,
    origin: &'static str,
    state: &'static str,
}

fn shown_routes(
    aws: &AwsCloud,
    t: &super::RouteTable,
    net: &NetState,
    now: u64,
) -> Vec<ShownRoute> {
    let mut out: Vec<ShownRoute> = t
        .routes
        .iter()
        .map(|r| {
            let (origin, state) = if r.gateway_id == "local" {
                ("CreateRouteTable", "active")
            } else {
                let attached = aws
                    .vpn_gateways
                    .get(&r.gateway_id)
                    .and_then(|g| attached_vpc(g, now))
                    .is_some_and(|v| v == t.vpc_id);
                ("CreateRoute", if attached { "active" } else { "blackhole" })
            };
            ShownRoute {
                destination: r.destination,
                gateway_id: r.gateway_id.clone(),
                origin,
                state,
            }
        })
        .collect();
    out.extend(
        propagated_routes(aws, t, net, now)
            .into_iter()
            .map(|(d, vgw, _)| ShownRoute {
                destination: d,
                gateway_id: vgw,
                origin: "EnableVgwRoutePropagation",
                state: "active",
            }),
    );
    out
}

pub fn describe_route_tables(aws: &AwsCloud, net: &NetState, p: &Params) -> ApiResult<String> {
    let now = net.now_ms;
    let ids = p.values("RouteTableId");
    check_ids(
        &ids,
        |id| aws.route_tables.contains_key(id),
        "InvalidRouteTableID.NotFound",
        "route table",
    )?;
    let filters = p.filters()?;
    let mut out = Vec::new();
    for t in aws.route_tables.values() {
        if !ids.is_empty() && !ids.contains(&t.id) {
            continue;
        }
        let routes = shown_routes(aws, t, net, now);
        let keep = matches(&filters, &t.tags, |name| {
            let r = routes.iter();
            Some(match name {
                "route-table-id" => vec![t.id.clone()],
                "vpc-id" => vec![t.vpc_id.clone()],
                "owner-id" => vec![OWNER_ID.into()],
                "association.main" => vec![bool_text(t.main)],
                "association.route-table-association-id" => vec![t.association_id.clone()],
                "association.route-table-id" => vec![t.id.clone()],
                "association.subnet-id" => t.subnet_id.iter().cloned().collect(),
                "route.gateway-id" => r.map(|r| r.gateway_id.clone()).collect(),
                "route.destination-cidr-block" => r.map(|r| r.destination.to_string()).collect(),
                "route.origin" => r.map(|r| r.origin.to_string()).collect(),
                "route.state" => r.map(|r| r.state.to_string()).collect(),
                _ => return None,
            })
        })?;
        if keep {
            out.push((t, routes));
        }
    }
    let (page, next) = paginate(p, out)?;
    let mut x = Xml::new();
    x.list("routeTableSet", page, |x, (t, routes)| {
        x.leaf("routeTableId", &t.id)
            .leaf("vpcId", &t.vpc_id)
            .leaf("ownerId", OWNER_ID)
            .list("routeSet", routes, |x, r| {
                x.leaf("destinationCidrBlock", r.destination)
                    .leaf("gatewayId", &r.gateway_id)
                    .leaf("state", r.state)
                    .leaf("origin", r.origin);
            })
            .list(
                "associationSet",
                (t.main || t.subnet_id.is_some()).then_some(t),
                |x, t| {
                    x.leaf("routeTableAssociationId", &t.association_id)
                        .leaf("routeTableId", &t.id)
                        .opt("subnetId", t.subnet_id.as_ref())
                        .leaf("main", t.main)
                        .node("associationState", |x| {
                            x.leaf("state", "associated");
                        });
                },
            )
            .list("propagatingVgwSet", &t.propagating_vgws, |x, g| {
                x.leaf("gatewayId", g);
            })
            .tags(&t.tags);
    })
    .opt("nextToken", next);
    Ok(x.into_string())
}

fn table_mut<'a>(aws: &'a mut AwsCloud, id: &str) -> ApiResult<&'a mut super::RouteTable> {
    aws.route_tables
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found("InvalidRouteTableID.NotFound", "route table", id))
}

fn parse_cidr(text: &str, what: &str) -> ApiResult<Ipv4Net> {
    let net: Ipv4Net = text.parse().map_err(|_| {
        ApiError::invalid(format!(
            "Value ({text}) for parameter {what} is invalid. This is not a valid CIDR block."
        ))
    })?;
    if net.trunc() != net {
        return Err(ApiError::invalid(format!(
            "Value ({text}) for parameter {what} is invalid. This is not a valid CIDR block."
        )));
    }
    Ok(net)
}

pub fn create_route(aws: &mut AwsCloud, p: &Params) -> ApiResult<String> {
    let table_id = p.req("RouteTableId")?.to_string();
    let dest = parse_cidr(p.req("DestinationCidrBlock")?, "destinationCidrBlock")?;
    let gateway = match p.get("GatewayId") {
        Some(g) => g.to_string(),
        None => {
            return Err(ApiError::client(
                "InvalidParameterCombination",
                "The sandbox emulates routes to virtual private gateways only: give GatewayId",
            ))
        }
    };
    if !gateway.starts_with("vgw-") || !aws.vgw_live(&gateway) {
        return Err(ApiError::not_found(
            "InvalidGatewayID.NotFound",
            "gateway",
            &gateway,
        ));
    }
    let t = table_mut(aws, &table_id)?;
    if t.routes.iter().any(|r| r.destination == dest) {
        return Err(ApiError::client(
            "RouteAlreadyExists",
            format!("The route identified by {dest} already exists."),
        ));
    }
    t.routes.push(TableRoute {
        destination: dest,
        gateway_id: gateway,
    });
    ok_return()
}

pub fn delete_route(aws: &mut AwsCloud, p: &Params) -> ApiResult<String> {
    let table_id = p.req("RouteTableId")?.to_string();
    let dest = parse_cidr(p.req("DestinationCidrBlock")?, "destinationCidrBlock")?;
    let t = table_mut(aws, &table_id)?;
    match t.routes.iter().position(|r| r.destination == dest) {
        Some(i) if t.routes[i].gateway_id == "local" => Err(ApiError::invalid(format!(
            "cannot remove local route {dest} in route table {table_id}"
        ))),
        Some(i) => {
            t.routes.remove(i);
            ok_return()
        }
        None => Err(ApiError::client(
            "InvalidRoute.NotFound",
            format!("no route with destination-cidr-block {dest} in route table {table_id}"),
        )),
    }
}

/// Enable (`on`) or DisableVgwRoutePropagation.
pub fn set_propagation(aws: &mut AwsCloud, p: &Params, on: bool) -> ApiResult<String> {
    let vgw = p.req("GatewayId")?.to_string();
    let table_id = p.req("RouteTableId")?.to_string();
    if !aws.vgw_live(&vgw) {
        return Err(ApiError::not_found(
            "InvalidVpnGatewayID.NotFound",
            "virtual private gateway",
            &vgw,
        ));
    }
    let t = table_mut(aws, &table_id)?;
    let present = t.propagating_vgws.contains(&vgw);
    if on && !present {
        t.propagating_vgws.push(vgw);
    } else if !on {
        t.propagating_vgws.retain(|g| *g != vgw);
    }
    ok_return()
}

// ---------------------------------------------------------------- security groups

pub fn describe_security_groups(aws: &AwsCloud, p: &Params) -> ApiResult<String> {
    let ids = p.values("GroupId");
    check_ids(
        &ids,
        |id| aws.security_groups.contains_key(id),
        "InvalidGroup.NotFound",
        "security group",
    )?;
    let names = p.values("GroupName");
    if let Some(n) = names
        .iter()
        .find(|n| !aws.security_groups.values().any(|g| &g.name == *n))
    {
        return Err(ApiError::client(
            "InvalidGroup.NotFound",
            format!("The security group '{n}' does not exist"),
        ));
    }
    let filters = p.filters()?;
    let mut out = Vec::new();
    for g in aws.security_groups.values() {
        if (!ids.is_empty() && !ids.contains(&g.id))
            || (!names.is_empty() && !names.contains(&g.name))
        {
            continue;
        }
        let keep = matches(&filters, &g.tags, |name| {
            Some(match name {
                "group-id" => vec![g.id.clone()],
                "group-name" => vec![g.name.clone()],
                "vpc-id" => vec![g.vpc_id.clone()],
                "description" => vec![g.description.clone()],
                "owner-id" => vec![OWNER_ID.into()],
                _ => return None,
            })
        })?;
        if keep {
            out.push(g);
        }
    }
    let (page, next) = paginate(p, out)?;
    let mut x = Xml::new();
    x.list("securityGroupInfo", page, |x, g| sg_xml(x, aws, g))
        .opt("nextToken", next);
    Ok(x.into_string())
}

fn sg_xml(x: &mut Xml, aws: &AwsCloud, g: &SecurityGroup) {
    let region = aws
        .vpcs
        .get(&g.vpc_id)
        .map_or("us-east-1", |v| v.region.as_str());
    x.leaf("ownerId", OWNER_ID)
        .leaf("groupId", &g.id)
        .leaf("groupName", &g.name)
        .leaf("groupDescription", &g.description)
        .leaf("vpcId", &g.vpc_id)
        .leaf(
            "securityGroupArn",
            format!("arn:aws:ec2:{region}:{OWNER_ID}:security-group/{}", g.id),
        );
    permissions_xml(x, "ipPermissions", g.rules.iter().filter(|r| !r.egress));
    permissions_xml(
        x,
        "ipPermissionsEgress",
        g.rules.iter().filter(|r| r.egress),
    );
    x.tags(&g.tags);
}

/// Rules grouped into IpPermissions by (protocol, ports), as EC2 presents them.
fn permissions_xml<'a>(x: &mut Xml, tag: &str, rules: impl Iterator<Item = &'a SgRule>) {
    type Permission<'r> = (&'r str, Option<i32>, Option<i32>, Vec<&'r SgRule>);
    let mut groups: Vec<Permission> = Vec::new();
    for r in rules {
        match groups
            .iter_mut()
            .find(|(p, a, b, _)| *p == r.protocol && *a == r.from_port && *b == r.to_port)
        {
            Some(g) => g.3.push(r),
            None => groups.push((&r.protocol, r.from_port, r.to_port, vec![r])),
        }
    }
    x.list(tag, groups, |x, (proto, from, to, rs)| {
        x.leaf("ipProtocol", proto)
            .opt("fromPort", from)
            .opt("toPort", to)
            .list("groups", rs.iter().filter(|r| r.group.is_some()), |x, r| {
                x.leaf("userId", OWNER_ID)
                    .opt("groupId", r.group.as_ref())
                    .opt("description", r.description.as_ref());
            })
            .list(
                "ipRanges",
                rs.iter().filter(|r| r.cidr.is_some()),
                |x, r| {
                    x.opt("cidrIp", r.cidr)
                        .opt("description", r.description.as_ref());
                },
            )
            .list("ipv6Ranges", std::iter::empty::<()>(), |_, _| {})
            .list("prefixListIds", std::iter::empty::<()>(), |_, _| {});
    });
}

/// A rule as requested, before it gets an id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RuleSpec {
    protocol: String,
    from_port: Option<i32>,
    to_port: Option<i32>,
    cidr: Option<Ipv4Net>,
    group: Option<String>,
    description: Option<String>,
}

impl RuleSpec {
    fn same_rule(&self, r: &SgRule) -> bool {
        self.protocol == r.protocol
            && self.from_port == r.from_port
            && self.to_port == r.to_port
            && self.cidr == r.cidr
            && self.group == r.group
    }

    fn describe(&self) -> String {
        let peer = self
            .cidr
            .map(|c| c.to_string())
            .or_else(|| self.group.clone())
            .unwrap_or_default();
        format!(
            "peer: {peer}, {}, from port: {}, to port: {}, ALLOW",
            self.protocol.to_uppercase(),
            self.from_port.unwrap_or(-1),
            self.to_port.unwrap_or(-1)
        )
    }
}

fn normalise_protocol(p: &str) -> ApiResult<String> {
    Ok(match p.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "-1" | "all" => "-1".into(),
        n if n.parse::<u8>().is_ok() => n.to_string(),
        _ => {
            return Err(ApiError::invalid(format!(
                "Invalid value '{p}' for IP protocol. Unknown protocol."
            )))
        }
    })
}

/// The rules a request names: `IpPermissions.N` (one rule per range or group) plus the
/// legacy top-level `IpProtocol`/`FromPort`/`ToPort`/`CidrIp`.
fn rule_specs(aws: &AwsCloud, p: &Params) -> ApiResult<Vec<RuleSpec>> {
    let mut perms = p.items("IpPermissions");
    if p.get("IpProtocol").is_some() {
        perms.push(p.clone());
    }
    let mut specs = Vec::new();
    for perm in perms {
        let protocol = normalise_protocol(perm.req("IpProtocol")?)?;
        let from: Option<i32> = perm.int("FromPort")?;
        let to: Option<i32> = perm.int("ToPort")?;
        let (from, to) = match protocol.as_str() {
            "tcp" | "udp" => match (from, to) {
                (Some(a), Some(b)) if (0..=65535).contains(&a) && (a..=65535).contains(&b) => {
                    (Some(a), Some(b))
                }
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid port range for {protocol}: from {} to {} (0-65535, from <= to)",
                        from.map_or("-".into(), |v| v.to_string()),
                        to.map_or("-".into(), |v| v.to_string())
                    )))
                }
            },
            "icmp" => (Some(from.unwrap_or(-1)), Some(to.unwrap_or(-1))),
            _ => (None, None),
        };
        let mut ranges: Vec<(Option<Ipv4Net>, Option<String>, Option<String>)> = Vec::new();
        for r in perm.items("IpRanges") {
            let cidr = parse_cidr(r.req("CidrIp")?, "cidrIp")?;
            ranges.push((Some(cidr), None, r.get("Description").map(str::to_string)));
        }
        if let Some(c) = perm.get("CidrIp") {
            ranges.push((Some(parse_cidr(c, "cidrIp")?), None, None));
        }
        for g in perm.items("Groups") {
            let id = g.req("GroupId")?;
            if !aws.security_groups.contains_key(id) {
                return Err(ApiError::not_found(
                    "InvalidGroup.NotFound",
                    "security group",
                    id,
                ));
            }
            ranges.push((
                None,
                Some(id.to_string()),
                g.get("Description").map(str::to_string),
            ));
        }
        if ranges.is_empty() {
            return Err(ApiError::missing("IpPermissions.N.IpRanges"));
        }
        for (cidr, group, description) in ranges {
            specs.push(RuleSpec {
                protocol: protocol.clone(),
                from_port: from,
                to_port: to,
                cidr,
                group,
                description,
            });
        }
    }
    if specs.is_empty() {
        return Err(ApiError::missing("IpPermissions"));
    }
    Ok(specs)
}

fn group_id(aws: &AwsCloud, p: &Params) -> ApiResult<String> {
    if let Some(id) = p.get("GroupId") {
        return match aws.security_groups.contains_key(id) {
            true => Ok(id.to_string()),
            false => Err(ApiError::not_found(
                "InvalidGroup.NotFound",
                "security group",
                id,
            )),
        };
    }
    let name = p.req("GroupName")?;
    aws.security_groups
        .values()
        .find(|g| g.name == name)
        .map(|g| g.id.clone())
        .ok_or_else(|| {
            ApiError::client(
                "InvalidGroup.NotFound",
                format!("The security group '{name}' does not exist"),
            )
        })
}

/// AuthorizeSecurityGroupIngress / Egress.
pub fn authorize(world: &mut World, p: &Params, egress: bool) -> ApiResult<String> {
    let sg_id = group_id(&world.aws, p)?;
    let specs = rule_specs(&world.aws, p)?;
    let Some(sg) = world.aws.security_groups.get(&sg_id) else {
        return Err(ApiError::not_found(
            "InvalidGroup.NotFound",
            "security group",
            &sg_id,
        ));
    };
    for (i, s) in specs.iter().enumerate() {
        let dup_existing = sg
            .rules
            .iter()
            .any(|r| r.egress == egress && s.same_rule(r));
        let dup_request = specs[..i].iter().any(|o| {
            o.protocol == s.protocol
                && o.from_port == s.from_port
                && o.to_port == s.to_port
                && o.cidr == s.cidr
                && o.group == s.group
        });
        if dup_existing || dup_request {
            return Err(ApiError::client(
                "InvalidPermission.Duplicate",
                format!("the specified rule \"{}\" already exists", s.describe()),
            ));
        }
    }
    let mut added = Vec::new();
    for s in specs {
        added.push(SgRule {
            id: world.ids.aws("sgr"),
            egress,
            protocol: s.protocol,
            from_port: s.from_port,
            to_port: s.to_port,
            cidr: s.cidr,
            group: s.group,
            description: s.description,
            seeded: false,
        });
    }
    let mut x = Xml::new();
    x.leaf("return", true)
        .list("securityGroupRuleSet", &added, |x, r| {
            rule_xml(x, &sg_id, r)
        });
    if let Some(sg) = world.aws.security_groups.get_mut(&sg_id) {
        sg.rules.extend(added);
    }
    Ok(x.into_string())
}

/// One rule as a `SecurityGroupRule` (Authorize's answer and DescribeSecurityGroupRules):
/// all-protocol rules show ports -1, as EC2 does.
fn rule_xml(x: &mut Xml, sg_id: &str, r: &SgRule) {
    x.leaf("securityGroupRuleId", &r.id)
        .leaf("groupId", sg_id)
        .leaf("groupOwnerId", OWNER_ID)
        .leaf("isEgress", r.egress)
        .leaf("ipProtocol", &r.protocol)
        .leaf("fromPort", r.from_port.unwrap_or(-1))
        .leaf("toPort", r.to_port.unwrap_or(-1))
        .opt("cidrIpv4", r.cidr);
    if let Some(g) = &r.group {
        x.node("referencedGroupInfo", |x| {
            x.leaf("groupId", g).leaf("userId", OWNER_ID);
        });
    }
    x.opt("description", r.description.as_ref());
}

/// DescribeSecurityGroupRules: every rule of every group, one `sgr-…` each, by
/// `SecurityGroupRuleId.N` and filters `group-id`, `security-group-rule-id` (and the tag
/// filters, which match nothing: rules carry no tags here); paginated.
pub fn describe_security_group_rules(aws: &AwsCloud, p: &Params) -> ApiResult<String> {
    let ids = p.values("SecurityGroupRuleId");
    let all = || {
        aws.security_groups
            .values()
            .flat_map(|g| g.rules.iter().map(move |r| (g, r)))
    };
    if let Some(id) = ids.iter().find(|id| !all().any(|(_, r)| &r.id == *id)) {
        return Err(ApiError::client(
            "InvalidSecurityGroupRuleId.NotFound",
            format!("The security group rule ID '{id}' does not exist"),
        ));
    }
    let filters = p.filters()?;
    let no_tags = Tags::new();
    let mut out = Vec::new();
    for (g, r) in all() {
        if !ids.is_empty() && !ids.contains(&r.id) {
            continue;
        }
        let keep = matches(&filters, &no_tags, |name| {
            Some(match name {
                "group-id" => vec![g.id.clone()],
                "security-group-rule-id" => vec![r.id.clone()],
                _ => return None,
            })
        })?;
        if keep {
            out.push((g, r));
        }
    }
    let (page, next) = paginate(p, out)?;
    let mut x = Xml::new();
    x.list("securityGroupRuleSet", page, |x, (g, r)| {
        rule_xml(x, &g.id, r);
        x.tags(&no_tags);
        let region = aws
            .vpcs
            .get(&g.vpc_id)
            .map_or("us-east-1", |v| v.region.as_str());
        x.leaf(
            "securityGroupRuleArn",
            format!(
                "arn:aws:ec2:{region}:{OWNER_ID}:security-group-rule/{}",
                r.id
            ),
        );
    })
    .opt("nextToken", next);
    Ok(x.into_string())
}

/// RevokeSecurityGroupIngress / Egress: by rule ids or by permissions; every named rule
/// must exist, or nothing is revoked.
pub fn revoke(aws: &mut AwsCloud, p: &Params, egress: bool) -> ApiResult<String> {
    let sg_id = group_id(aws, p)?;
    let rule_ids = p.values("SecurityGroupRuleId");
    let specs = if rule_ids.is_empty() {
        rule_specs(aws, p)?
    } else {
        Vec::new()
    };
    let Some(sg) = aws.security_groups.get_mut(&sg_id) else {
        return Err(ApiError::not_found(
            "InvalidGroup.NotFound",
            "security group",
            &sg_id,
        ));
    };
    let mut remove: Vec<String> = Vec::new();
    for id in &rule_ids {
        match sg.rules.iter().find(|r| &r.id == id && r.egress == egress) {
            Some(r) => remove.push(r.id.clone()),
            None => {
                return Err(ApiError::client(
                    "InvalidSecurityGroupRuleId.NotFound",
                    format!("The security group rule ID '{id}' does not exist"),
                ))
            }
        }
    }
    for s in &specs {
        match sg
            .rules
            .iter()
            .find(|r| r.egress == egress && s.same_rule(r))
        {
            Some(r) => remove.push(r.id.clone()),
            None => {
                return Err(ApiError::client(
                    "InvalidPermission.NotFound",
                    "The specified rule does not exist in this security group.",
                ))
            }
        }
    }
    // EC2 answers with the rules it removed (`revokedSecurityGroupRuleSet`).
    let mut x = Xml::new();
    x.leaf("return", true).list(
        "revokedSecurityGroupRuleSet",
        sg.rules.iter().filter(|r| remove.contains(&r.id)),
        |x, r| {
            x.leaf("securityGroupRuleId", &r.id)
                .leaf("groupId", &sg_id)
                .leaf("isEgress", r.egress)
                .leaf("ipProtocol", &r.protocol)
                .leaf("fromPort", r.from_port.unwrap_or(-1))
                .leaf("toPort", r.to_port.unwrap_or(-1))
                .opt("cidrIpv4", r.cidr)
                .opt("referencedGroupId", r.group.as_ref())
                .opt("description", r.description.as_ref());
        },
    );
    sg.rules.retain(|r| !remove.contains(&r.id));
    Ok(x.into_string())
}

// ---------------------------------------------------------------- tags

fn tags_of<'a>(aws: &'a mut AwsCloud, id: &str) -> ApiResult<&'a mut Tags> {
    let nf = |code: &str, what: &str| ApiError::not_found(code, what, id);
    let prefix = id.split('-').next().unwrap_or("");
    match prefix {
        "vpc" => aws
            .vpcs
            .get_mut(id)
            .map(|r| &mut r.tags)
            .ok_or_else(|| nf("InvalidVpcID.NotFound", "vpc")),
        "subnet" => aws
            .subnets
            .get_mut(id)
            .map(|r| &mut r.tags)
            .ok_or_else(|| nf("InvalidSubnetID.NotFound", "subnet")),
        "rtb" => aws
            .route_tables
            .get_mut(id)
            .map(|r| &mut r.tags)
            .ok_or_else(|| nf("InvalidRouteTableID.NotFound", "route table")),
        "sg" => aws
            .security_groups
            .get_mut(id)
            .map(|r| &mut r.tags)
            .ok_or_else(|| nf("InvalidGroup.NotFound", "security group")),
        "vgw" => aws
            .vpn_gateways
            .get_mut(id)
            .map(|r| &mut r.tags)
            .ok_or_else(|| nf("InvalidVpnGatewayID.NotFound", "virtual private gateway")),
        "cgw" => aws
            .customer_gateways
            .get_mut(id)
            .map(|r| &mut r.tags)
            .ok_or_else(|| nf("InvalidCustomerGatewayID.NotFound", "customer gateway")),
        "vpn" => aws
            .vpn_connections
            .get_mut(id)
            .map(|r| &mut r.tags)
            .ok_or_else(|| nf("InvalidVpnConnectionID.NotFound", "vpn connection")),
        _ => Err(ApiError::client(
            "InvalidID",
            format!("The ID '{id}' is not valid"),
        )),
    }
}

pub fn create_tags(aws: &mut AwsCloud, _ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let ids = p.values("ResourceId");
    if ids.is_empty() {
        return Err(ApiError::missing("ResourceId"));
    }
    let mut new = Tags::new();
    for t in p.items("Tag") {
        let k = t.req("Key")?;
        let v = t.get("Value").unwrap_or("");
        if k.len() > 128 || v.len() > 256 || k.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::invalid(format!(
                "Tag key '{k}' is invalid: keys are up to 128 characters, values up to 256, and the 'aws:' prefix is reserved"
            )));
        }
        new.insert(k.to_string(), v.to_string());
    }
    // Check every resource first: CreateTags applies to all or none.
    for id in &ids {
        let tags = tags_of(aws, id)?;
        let total = tags
            .keys()
            .chain(new.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if total > 50 {
            return Err(ApiError::client(
                "TagLimitExceeded",
                format!("The maximum number of tags (50) for resource '{id}' has been exceeded"),
            ));
        }
    }
    for id in &ids {
        tags_of(aws, id)?.extend(new.clone());
    }
    ok_return()
}

pub fn delete_tags(aws: &mut AwsCloud, _ctx: &Ctx, p: &Params) -> ApiResult<String> {
    let ids = p.values("ResourceId");
    if ids.is_empty() {
        return Err(ApiError::missing("ResourceId"));
    }
    let which: Vec<(String, Option<String>)> = p
        .items("Tag")
        .iter()
        .filter_map(|t| {
            t.get("Key")
                .map(|k| (k.to_string(), t.get("Value").map(str::to_string)))
        })
        .collect();
    for id in &ids {
        tags_of(aws, id)?;
    }
    for id in &ids {
        let tags = tags_of(aws, id)?;
        if which.is_empty() {
            tags.clear();
        }
        for (k, v) in &which {
            if v.is_none() || tags.get(k) == v.as_ref() {
                tags.remove(k);
            }
        }
    }
    ok_return()
}
