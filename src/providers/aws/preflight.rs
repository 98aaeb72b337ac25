//! Read-only checks of the topology's AWS networks before anything is created: credentials,
//! each VPC with the CIDRs, route tables and security groups the topology names, and no
//! foreign VGW on a VPC (a VPC takes one). A handful of Describe calls per region.

use super::{filter, is_gone, tag_value, AwsProvider};
use crate::cloud::Cloud;
use crate::plan::resource::Kind;
use crate::providers::{Problem, ProviderError, TAG_ADDRESS};
use crate::topology::{AwsNetwork, Location, Network};
use aws_sdk_ec2::types::{AttachmentStatus, Vpc};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;

fn problem(net: Option<&Network>, field: &str, message: String) -> Problem {
    Problem {
        cloud: Cloud::Aws,
        network: net.map(|n| n.name.clone()),
        field: field.to_string(),
        message,
    }
}

/// A failed call as a problem: refused credentials are about `credentials`, the rest about
/// reaching the cloud at all.
fn call_problem(region: &str, what: &str, e: &ProviderError) -> Problem {
    match e {
        ProviderError::Auth(m) => problem(
            None,
            "credentials",
            format!("EC2 in {region} refused the credentials: {m}"),
        ),
        other => problem(
            None,
            "region",
            format!("{what} in {region} failed: {other}"),
        ),
    }
}

/// The IPv4 blocks associated with a VPC.
fn vpc_cidrs(v: &Vpc) -> Vec<Ipv4Net> {
    let mut out: Vec<Ipv4Net> = v
        .cidr_block_association_set()
        .iter()
        .filter(|a| {
            a.cidr_block_state()
                .and_then(|s| s.state())
                .is_none_or(|s| s.as_str() == "associated")
        })
        .filter_map(|a| a.cidr_block()?.parse().ok())
        .collect();
    if let Some(c) = v.cidr_block().and_then(|c| c.parse().ok()) {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

impl AwsProvider {
    pub(super) async fn preflight_networks(&self, networks: &[Network]) -> Vec<Problem> {
        let mut by_region: BTreeMap<&str, Vec<(&Network, &AwsNetwork)>> = BTreeMap::new();
        for n in networks {
            if let Location::Aws(a) = &n.location {
                by_region.entry(a.region.as_str()).or_default().push((n, a));
            }
        }
        let mut problems = Vec::new();
        for (region, nets) in by_region {
            problems.extend(self.preflight_region(region, &nets).await);
        }
        problems
    }

    async fn preflight_region(
        &self,
        region: &str,
        nets: &[(&Network, &AwsNetwork)],
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        let ids: Vec<&str> = nets.iter().map(|(_, a)| a.vpc_id.as_str()).collect();
        // A filter (rather than VpcIds) so that one missing VPC does not fail the whole call.
        let vpcs = match self
            .call(region, "DescribeVpcs", |c| {
                c.describe_vpcs().filters(filter("vpc-id", &ids)).send()
            })
            .await
        {
            Ok(out) => out.vpcs().to_vec(),
            Err(e) => return vec![call_problem(region, "DescribeVpcs", &e)],
        };
        let mut present: Vec<(&Network, &AwsNetwork)> = Vec::new();
        for (n, a) in nets {
            let Some(v) = vpcs.iter().find(|v| v.vpc_id() == Some(a.vpc_id.as_str())) else {
                problems.push(problem(
                    Some(n),
                    "vpc_id",
                    format!("VPC {} does not exist in {region} (or is not visible to these credentials)", a.vpc_id),
                ));
                continue;
            };
            present.push((n, a));
            let actual = vpc_cidrs(v);
            let missing: Vec<String> = n
                .cidrs
                .iter()
                .filter(|c| !actual.iter().any(|b| b.contains(*c)))
                .map(|c| c.to_string())
                .collect();
            if !missing.is_empty() {
                let have: Vec<String> = actual.iter().map(|c| c.to_string()).collect();
                problems.push(problem(
                    Some(n),
                    "cidrs",
                    format!(
                        "expected {} inside VPC {}'s CIDR blocks, actual blocks: {}",
                        missing.join(", "),
                        a.vpc_id,
                        if have.is_empty() {
                            "none".to_string()
                        } else {
                            have.join(", ")
                        }
                    ),
                ));
            }
        }
        if present.is_empty() {
            return problems;
        }
        let live: Vec<&str> = present.iter().map(|(_, a)| a.vpc_id.as_str()).collect();

        if present.iter().any(|(_, a)| a.route_tables.is_some()) {
            match self
                .route_tables(region, vec![filter("vpc-id", &live)])
                .await
            {
                Ok(tables) => {
                    for (n, a) in &present {
                        for id in a.route_tables.iter().flatten() {
                            let ok = tables.iter().any(|t| {
                                t.route_table_id() == Some(id.as_str())
                                    && t.vpc_id() == Some(a.vpc_id.as_str())
                            });
                            if !ok {
                                problems.push(problem(
                                    Some(n),
                                    "route_tables",
                                    format!("route table {id} does not exist in VPC {}", a.vpc_id),
                                ));
                            }
                        }
                    }
                }
                Err(e) => problems.push(call_problem(region, "DescribeRouteTables", &e)),
            }
        }

        if present.iter().any(|(_, a)| a.security_groups.is_some()) {
            match self.vpc_security_groups(region, &live).await {
                Ok(groups) => {
                    for (n, a) in &present {
                        for id in a.security_groups.iter().flatten() {
                            let ok = groups.iter().any(|g| {
                                g.group_id() == Some(id.as_str())
                                    && g.vpc_id() == Some(a.vpc_id.as_str())
                            });
                            if !ok {
                                problems.push(problem(
                                    Some(n),
                                    "security_groups",
                                    format!(
                                        "security group {id} does not exist in VPC {}",
                                        a.vpc_id
                                    ),
                                ));
                            }
                        }
                    }
                }
                Err(e) => problems.push(call_problem(region, "DescribeSecurityGroups", &e)),
            }
        }

        match self
            .call(region, "DescribeVpnGateways", |c| {
                c.describe_vpn_gateways()
                    .filters(filter("attachment.vpc-id", &live))
                    .send()
            })
            .await
        {
            Ok(out) => {
                for g in out.vpn_gateways() {
                    if g.state().is_some_and(|s| is_gone(s.as_str())) {
                        continue;
                    }
                    for (n, a) in &present {
                        let attached = g.vpc_attachments().iter().any(|at| {
                            at.vpc_id() == Some(a.vpc_id.as_str())
                                && matches!(
                                    at.state(),
                                    Some(AttachmentStatus::Attached | AttachmentStatus::Attaching)
                                )
                        });
                        // The plan's VGW of this network is `aws.vpn_gateway.NETWORK`.
                        let ours = format!("{}.{}", Kind::AwsVpnGateway.as_str(), n.name);
                        if attached && tag_value(g.tags(), TAG_ADDRESS) != Some(ours.as_str()) {
                            problems.push(problem(
                                Some(n),
                                "vpc_id",
                                format!(
                                    "VPC {} already has virtual private gateway {} attached, not this topology's: a VPC takes one VGW (detach it, or use its VPC elsewhere)",
                                    a.vpc_id,
                                    g.vpn_gateway_id().unwrap_or("?")
                                ),
                            ));
                        }
                    }
                }
            }
            Err(e) => problems.push(call_problem(region, "DescribeVpnGateways", &e)),
        }
        problems
    }
}
