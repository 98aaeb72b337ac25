//! verify's reads on AWS: per region one DescribeVpnConnections, DescribeVpnGateways and
//! DescribeCustomerGateways (by the topology tag), one DescribeRouteTables and one
//! DescribeSecurityGroups (by VPC) — never one call per resource — turned into a snapshot.

use super::{filter, AwsProvider, TAG_TOPOLOGY};
use crate::plan::resource::Kind;
use crate::providers::{ObserveRequest, ProviderError, Recorded};
use crate::topology::{Location, Network};
use crate::verify::snapshot::{
    Action, AttrDiff, BgpObs, CloudSnapshot, Direction, FirewallKind, FirewallObs, NetworkObs,
    Proto, ReadError, ResourceObs, RouteObs, RouteTableObs, RuleObs, TunnelObs,
};
use aws_sdk_ec2::types::{
    CustomerGateway, IpPermission, RouteTable, SecurityGroup, VpnConnection, VpnGateway,
};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};

/// Everything read in one region.
#[derive(Default)]
struct Region {
    vpns: Vec<VpnConnection>,
    vgws: Vec<VpnGateway>,
    cgws: Vec<CustomerGateway>,
    tables: Vec<RouteTable>,
    groups: Vec<SecurityGroup>,
}

fn gone(s: Option<&str>) -> bool {
    matches!(s, Some("deleting" | "deleted"))
}

fn proto(p: &str) -> Proto {
    match p.to_ascii_lowercase().as_str() {
        "-1" | "all" => Proto::All,
        "tcp" | "6" => Proto::Tcp,
        "udp" | "17" => Proto::Udp,
        "icmp" | "1" => Proto::Icmp,
        o => Proto::Other(o.to_string()),
    }
}

fn rules_of(g: &SecurityGroup, perms: &[IpPermission], dir: Direction) -> Vec<RuleObs> {
    let mut out = Vec::new();
    for p in perms {
        let pr = proto(p.ip_protocol().unwrap_or("-1"));
        let ports = match (&pr, p.from_port(), p.to_port()) {
            (Proto::Tcp | Proto::Udp, Some(a), Some(b)) if a >= 0 && b >= 0 => {
                vec![(a as u16, b as u16)]
            }
            _ => vec![],
        };
        for r in p.ip_ranges() {
            let Some(net) = r.cidr_ip().and_then(|c| c.parse::<Ipv4Net>().ok()) else {
                continue;
            };
            let any: Ipv4Net = "0.0.0.0/0".parse().unwrap_or(net);
            let (sources, destinations) = match dir {
                Direction::Ingress => (vec![net], vec![any]),
                Direction::Egress => (vec![any], vec![net]),
            };
            out.push(RuleObs {
                name: format!(
                    "{} {} from {net}",
                    g.group_id().unwrap_or("sg-?"),
                    p.ip_protocol().unwrap_or("-1")
                ),
                address: None,
                direction: dir,
                action: Action::Allow,
                priority: 0,
                protocol: pr.clone(),
                ports: ports.clone(),
                sources,
                destinations,
                disabled: false,
            });
        }
    }
    out
}

impl AwsProvider {
    async fn read_region(
        &self,
        region: &str,
        topology: &str,
        vpcs: &[&str],
        errors: &mut Vec<ReadError>,
        reads: &mut usize,
    ) -> Region {
        let tag = vec![filter(&format!("tag:{TAG_TOPOLOGY}"), &[topology])];
        let mut r = Region::default();
        let mut err = |what: &str, e: ProviderError| {
            errors.push(ReadError {
                scope: format!("aws {region}"),
                what: what.to_string(),
                message: e.to_string(),
            })
        };
        *reads += 3;
        match self
            .call(region, "DescribeVpnConnections", |c| {
                c.describe_vpn_connections()
                    .set_filters(Some(tag.clone()))
                    .send()
            })
            .await
        {
            Ok(o) => r.vpns = o.vpn_connections().to_vec(),
            Err(e) => err("DescribeVpnConnections", e),
        }
        match self
            .call(region, "DescribeVpnGateways", |c| {
                c.describe_vpn_gateways()
                    .set_filters(Some(tag.clone()))
                    .send()
            })
            .await
        {
            Ok(o) => r.vgws = o.vpn_gateways().to_vec(),
            Err(e) => err("DescribeVpnGateways", e),
        }
        match self
            .call(region, "DescribeCustomerGateways", |c| {
                c.describe_customer_gateways()
                    .set_filters(Some(tag.clone()))
                    .send()
            })
            .await
        {
            Ok(o) => r.cgws = o.customer_gateways().to_vec(),
            Err(e) => err("DescribeCustomerGateways", e),
        }
        if !vpcs.is_empty() {
            let by_vpc = vec![filter("vpc-id", vpcs)];
            *reads += 2;
            match self.route_tables(region, by_vpc.clone()).await {
                Ok(t) => r.tables = t,
                Err(e) => err("DescribeRouteTables", e),
            }
            match self
                .call(region, "DescribeSecurityGroups", |c| {
                    c.describe_security_groups()
                        .set_filters(Some(by_vpc.clone()))
                        .send()
                })
                .await
            {
                Ok(o) => r.groups = o.security_groups().to_vec(),
                Err(e) => err("DescribeSecurityGroups", e),
            }
        }
        r
    }

    pub(super) async fn observe_all(
        &self,
        req: &ObserveRequest,
    ) -> Result<CloudSnapshot, ProviderError> {
        let mut snap = CloudSnapshot::default();
        let mut regions: BTreeSet<&str> = req
            .resources
            .iter()
            .map(|r| r.desired.region.as_str())
            .collect();
        regions.extend(req.networks.iter().map(Network::region));
        let mut seen = BTreeMap::new();
        for region in regions {
            let vpcs: Vec<&str> = req
                .networks
                .iter()
                .filter(|n| n.region() == region)
                .filter_map(|n| match &n.location {
                    Location::Aws(a) => Some(a.vpc_id.as_str()),
                    _ => None,
                })
                .collect();
            let r = self
                .read_region(
                    region,
                    &req.topology,
                    &vpcs,
                    &mut snap.errors,
                    &mut snap.reads,
                )
                .await;
            seen.insert(region.to_string(), r);
        }
        // Plan address by cloud id, so that routes name the link's objects.
        let by_id: BTreeMap<&str, &str> = req
            .resources
            .iter()
            .map(|r| (r.id.as_str(), r.desired.address.as_str()))
            .collect();
        for rec in &req.resources {
            let Some(r) = seen.get(&rec.desired.region) else {
                continue;
            };
            let obs = observe_resource(rec, r, req, &mut snap);
            snap.resources.insert(rec.desired.address.clone(), obs);
        }
        for n in &req.networks {
            let Location::Aws(a) = &n.location else {
                continue;
            };
            let Some(r) = seen.get(n.region()) else {
                continue;
            };
            let mut obs = NetworkObs {
                cidrs: n.cidrs.clone(),
                ..NetworkObs::default()
            };
            let in_vpc = |t: &&RouteTable| t.vpc_id() == Some(a.vpc_id.as_str());
            for t in r.tables.iter().filter(in_vpc) {
                let id = t.route_table_id().unwrap_or("rtb-?");
                if let Some(list) = &a.route_tables {
                    if !list.iter().any(|x| x == id) {
                        continue;
                    }
                }
                let routes = t
                    .routes()
                    .iter()
                    .filter_map(|rt| {
                        let dest: Ipv4Net = rt.destination_cidr_block()?.parse().ok()?;
                        let hop = rt.gateway_id().unwrap_or("local").to_string();
                        Some(RouteObs {
                            dest,
                            via: by_id.get(hop.as_str()).map(|s| s.to_string()),
                            next_hop: hop,
                            active: rt.state().map(|s| s.as_str()) == Some("active"),
                            origin: rt
                                .origin()
                                .map(|o| o.as_str().to_string())
                                .unwrap_or_default(),
                            priority: 0,
                        })
                    })
                    .collect();
                obs.route_tables.push(RouteTableObs {
                    name: id.to_string(),
                    routes,
                });
            }
            for g in r
                .groups
                .iter()
                .filter(|g| g.vpc_id() == Some(a.vpc_id.as_str()))
            {
                let id = g.group_id().unwrap_or("sg-?");
                if let Some(list) = &a.security_groups {
                    if !list.iter().any(|x| x == id) {
                        continue;
                    }
                }
                let mut rules = rules_of(g, g.ip_permissions(), Direction::Ingress);
                rules.extend(rules_of(g, g.ip_permissions_egress(), Direction::Egress));
                obs.firewalls.push(FirewallObs {
                    name: id.to_string(),
                    kind: FirewallKind::SecurityGroup,
                    rules,
                });
            }
            snap.networks.insert(n.name.clone(), obs);
        }
        Ok(snap)
    }
}

/// The managed security groups / route tables of the network a resource belongs to.
fn network_of<'a>(
    rec: &Recorded,
    req: &'a ObserveRequest,
) -> Option<&'a crate::topology::AwsNetwork> {
    let n = req
        .networks
        .iter()
        .find(|n| Some(&n.name) == rec.network.as_ref())?;
    match &n.location {
        Location::Aws(a) => Some(a),
        _ => None,
    }
}

fn observe_resource(
    rec: &Recorded,
    r: &Region,
    req: &ObserveRequest,
    snap: &mut CloudSnapshot,
) -> ResourceObs {
    let d = &rec.desired;
    match d.kind {
        Kind::AwsVpnGateway => {
            match r.vgws.iter().find(|g| {
                g.vpn_gateway_id() == Some(&rec.id) && !gone(g.state().map(|s| s.as_str()))
            }) {
                Some(g) => {
                    let mut o = ResourceObs::present(&rec.id);
                    if let Some(asn) = g.amazon_side_asn() {
                        o = o.attr("amazon_side_asn", asn);
                    }
                    o
                }
                None => ResourceObs::absent(),
            }
        }
        Kind::AwsVpnGatewayAttachment => {
            let (vgw, vpc) = rec.id.split_once('/').unwrap_or((&rec.id, ""));
            let attached = r.vgws.iter().any(|g| {
                g.vpn_gateway_id() == Some(vgw)
                    && g.vpc_attachments().iter().any(|a| {
                        a.vpc_id() == Some(vpc)
                            && matches!(
                                a.state().map(|s| s.as_str()),
                                Some("attached" | "attaching")
                            )
                    })
            });
            if attached {
                ResourceObs::present(&rec.id).attr("vpc_id", vpc)
            } else {
                ResourceObs::absent()
            }
        }
        Kind::AwsCustomerGateway => match r
            .cgws
            .iter()
            .find(|g| g.customer_gateway_id() == Some(&rec.id) && !gone(g.state()))
        {
            Some(g) => {
                let mut o = ResourceObs::present(&rec.id);
                if let Some(ip) = g.ip_address() {
                    o = o.attr("ip_address", ip);
                }
                if let Some(asn) = g.bgp_asn() {
                    o = o.attr("bgp_asn", asn);
                }
                o
            }
            None => ResourceObs::absent(),
        },
        Kind::AwsVpnConnection => match r.vpns.iter().find(|c| {
            c.vpn_connection_id() == Some(&rec.id) && !gone(c.state().map(|s| s.as_str()))
        }) {
            Some(c) => observe_vpn(rec, c, snap),
            None => ResourceObs::absent(),
        },
        Kind::AwsVpnConnectionRoute => {
            let (vpn, dest) = rec.id.split_once('/').unwrap_or((&rec.id, ""));
            let there = r.vpns.iter().any(|c| {
                c.vpn_connection_id() == Some(vpn)
                    && c.routes().iter().any(|rt| {
                        rt.destination_cidr_block() == Some(dest)
                            && !gone(rt.state().map(|s| s.as_str()))
                    })
            });
            if there {
                ResourceObs::present(&rec.id).attr("destination_cidr_block", dest)
            } else {
                ResourceObs::absent()
            }
        }
        Kind::AwsRoutePropagation => {
            let Some(a) = network_of(rec, req) else {
                return ResourceObs::present(&rec.id);
            };
            let mut o = ResourceObs::present(&rec.id);
            let tables: Vec<&RouteTable> = r
                .tables
                .iter()
                .filter(|t| t.vpc_id() == Some(a.vpc_id.as_str()))
                .filter(|t| {
                    a.route_tables
                        .as_ref()
                        .is_none_or(|l| l.iter().any(|x| Some(x.as_str()) == t.route_table_id()))
                })
                .collect();
            let off: Vec<&str> = tables
                .iter()
                .filter(|t| {
                    !t.propagating_vgws()
                        .iter()
                        .any(|p| p.gateway_id() == Some(rec.id.as_str()))
                })
                .filter_map(|t| t.route_table_id())
                .collect();
            if !tables.is_empty() && off.len() == tables.len() {
                return ResourceObs::absent();
            }
            for t in off {
                o.diffs.push(AttrDiff {
                    attr: format!("propagation in {t}"),
                    expected: format!("routes of {} propagated", rec.id),
                    actual: "not propagated".into(),
                });
            }
            o
        }
        Kind::AwsSecurityGroupRule => {
            let description = d.attrs.opt_str("description").unwrap_or_default();
            let groups: Vec<&str> = rec.id.split(',').collect();
            let sources = d.attrs.strs("source_cidrs").unwrap_or_default();
            let mut o = ResourceObs::present(&rec.id);
            let mut with = 0;
            for g in r
                .groups
                .iter()
                .filter(|g| g.group_id().is_some_and(|id| groups.contains(&id)))
            {
                let has = g
                    .ip_permissions()
                    .iter()
                    .chain(g.ip_permissions_egress())
                    .flat_map(|p| p.ip_ranges())
                    // The description marks peerctl's rules; a rule for a planned source
                    // CIDR written without it (an older peerctl, by hand) counts too.
                    .any(|r| {
                        r.description() == Some(description)
                            || r.cidr_ip().is_some_and(|c| sources.contains(&c))
                    });
                if has {
                    with += 1;
                } else {
                    o.diffs.push(AttrDiff {
                        attr: format!("rules in {}", g.group_id().unwrap_or("sg-?")),
                        expected: format!("rules described \"{description}\""),
                        actual: "none".into(),
                    });
                }
            }
            if with == 0 {
                return ResourceObs::absent();
            }
            o
        }
        _ => ResourceObs::present(&rec.id),
    }
}

/// A VPN connection: tunnels in planned order (by inside CIDR), keys compared, telemetry.
fn observe_vpn(rec: &Recorded, c: &VpnConnection, snap: &mut CloudSnapshot) -> ResourceObs {
    let d = &rec.desired;
    let mut o = ResourceObs::present(&rec.id);
    let opts = c.options();
    let static_only = opts.and_then(|o| o.static_routes_only()).unwrap_or(false);
    o = o.attr("static_routes_only", static_only);
    let actual = opts.map(|o| o.tunnel_options()).unwrap_or_default();
    let planned = d.attrs.maps("tunnels").unwrap_or_default();
    for (i, p) in planned.iter().enumerate() {
        let inside = p.opt_str("inside_cidr");
        let t = actual
            .iter()
            .find(|t| inside.is_some() && t.tunnel_inside_cidr() == inside)
            .or_else(|| actual.get(i));
        let Some(t) = t else { continue };
        if let Some(cidr) = t.tunnel_inside_cidr() {
            o = o.attr(&format!("tunnels[{i}].inside_cidr"), cidr);
        }
        if let Ok(key) = p.secret("pre_shared_key") {
            let same = t.pre_shared_key() == Some(key.expose());
            o = o.attr(
                &format!("tunnels[{i}].pre_shared_key"),
                if same { "matches" } else { "differs" },
            );
        }
        let ip = t.outside_ip_address().unwrap_or_default();
        let tel = c
            .vgw_telemetry()
            .iter()
            .find(|v| v.outside_ip_address() == Some(ip));
        let status = tel
            .and_then(|v| v.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "UNKNOWN".into());
        let detail = tel
            .and_then(|v| v.status_message())
            .unwrap_or_default()
            .to_string();
        let up = status == "UP" || detail.starts_with("IPSEC IS UP");
        let name = format!("{} tunnel {} ({ip})", rec.id, i + 1);
        if !static_only {
            snap.bgp.push(BgpObs {
                address: d.address.clone(),
                index: i as u8,
                name: name.clone(),
                peer_ip: None,
                established: status == "UP",
                state: if detail.is_empty() {
                    status.clone()
                } else {
                    detail.clone()
                },
                learned: vec![],
                learned_count: tel
                    .and_then(|v| v.accepted_route_count())
                    .map(|n| n.max(0) as u32)
                    .unwrap_or(0),
            });
        }
        snap.tunnels.push(TunnelObs {
            address: d.address.clone(),
            index: i as u8,
            name,
            up,
            status,
            detail,
        });
    }
    o
}
