//! The VPC side of a link: VGW route propagation into route tables and the security group
//! rules admitting the remote CIDRs. Both are reconciled against what EC2 shows, so a create
//! adopts what is already there and an update touches only the difference.
//!
//! Ids: a route propagation is `vgw-…` (the VGW whose routes propagate; the tables come from
//! the VPC and the plan). A security group rule is the sorted ids of the security groups it
//! was written into, comma-separated (`sg-…,sg-…`), so a delete or update after a change of
//! the VPC's groups still revokes from exactly those groups.

use super::{filter, is_code, AwsProvider, Desired};
use crate::providers::{Attrs, Outputs, ProviderError};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, RouteTable, SecurityGroup};
use std::collections::BTreeSet;

const VGW_NOT_FOUND: &str = "InvalidVpnGatewayID.NotFound";
const TABLE_NOT_FOUND: &str = "InvalidRouteTableID.NotFound";
const GROUP_NOT_FOUND: &str = "InvalidGroup.NotFound";

fn propagates(t: &RouteTable, vgw: &str) -> bool {
    t.propagating_vgws()
        .iter()
        .any(|p| p.gateway_id() == Some(vgw))
}

/// One security group rule as EC2 matches rules: protocol, port range, CIDR.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    /// `None` for protocols without ports (all traffic).
    ports: Option<(i32, i32)>,
    cidr: String,
}

fn normal_protocol(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        other => other.to_string(),
    }
}

impl Rule {
    fn new(protocol: &str, from: Option<i32>, to: Option<i32>, cidr: &str) -> Rule {
        let protocol = normal_protocol(protocol);
        let ports = match protocol.as_str() {
            "-1" => None,
            _ => Some((from.unwrap_or(-1), to.unwrap_or(-1))),
        };
        Rule {
            protocol,
            ports,
            cidr: cidr.to_string(),
        }
    }
}

/// The planned rules: every permission for every source CIDR.
fn planned_rules(attrs: &Attrs) -> Result<BTreeSet<Rule>, ProviderError> {
    let cidrs = attrs.strs("source_cidrs")?;
    let mut out = BTreeSet::new();
    for p in attrs.maps("permissions")? {
        let proto = p.str("protocol")?;
        let port = |k: &str| -> Result<Option<i32>, ProviderError> {
            p.opt_int(k)
                .map(|v| {
                    i32::try_from(v)
                        .map_err(|_| ProviderError::Attribute(format!("{k} {v} is not a port")))
                })
                .transpose()
        };
        let (from, to) = (port("from_port")?, port("to_port")?);
        for c in &cidrs {
            out.insert(Rule::new(proto, from, to, c));
        }
    }
    Ok(out)
}

/// The text that marks a security group rule as this resource's: the planned `description`
/// attribute (what verify and drift checks compare), else `peerctl TOPOLOGY ADDRESS`.
fn rule_description(d: &Desired) -> String {
    d.attrs
        .opt_str("description")
        .map(str::to_string)
        .unwrap_or_else(|| d.description())
}

/// The rules of a group in one direction, each with its description.
fn group_rules(g: &SecurityGroup, egress: bool) -> Vec<(Rule, Option<String>)> {
    let perms = if egress {
        g.ip_permissions_egress()
    } else {
        g.ip_permissions()
    };
    perms
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().filter_map(move |r| {
                let cidr = r.cidr_ip()?;
                Some((
                    Rule::new(
                        p.ip_protocol().unwrap_or("-1"),
                        p.from_port(),
                        p.to_port(),
                        cidr,
                    ),
                    r.description().map(str::to_string),
                ))
            })
        })
        .collect()
}

/// IpPermissions for `rules`, one per (protocol, ports) with all its CIDRs.
fn permissions<'a>(
    rules: impl IntoIterator<Item = &'a Rule>,
    description: Option<&str>,
) -> Vec<IpPermission> {
    type Group = (String, Option<(i32, i32)>, Vec<IpRange>);
    let mut out: Vec<Group> = Vec::new();
    for r in rules {
        let range = IpRange::builder()
            .cidr_ip(&r.cidr)
            .set_description(description.map(str::to_string))
            .build();
        match out
            .iter_mut()
            .find(|(p, ports, _)| *p == r.protocol && *ports == r.ports)
        {
            Some(e) => e.2.push(range),
            None => out.push((r.protocol.clone(), r.ports, vec![range])),
        }
    }
    out.into_iter()
        .map(|(proto, ports, ranges)| {
            IpPermission::builder()
                .ip_protocol(proto)
                .set_from_port(ports.map(|p| p.0))
                .set_to_port(ports.map(|p| p.1))
                .set_ip_ranges(Some(ranges))
                .build()
        })
        .collect()
}

fn egress(d: &Desired) -> bool {
    d.attrs.opt_str("direction") == Some("egress")
}

impl AwsProvider {
    // ------------------------------------------------------------ route propagation

    /// Every route table of `vpc` (all pages).
    pub(super) async fn route_tables(
        &self,
        region: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<RouteTable>, ProviderError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call(region, "DescribeRouteTables", |c| {
                    c.describe_route_tables()
                        .set_filters(Some(filters.clone()))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            out.extend(page.route_tables().iter().cloned());
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// The planned route tables of the VPC (`all` = every one) and every table of the VPC.
    async fn planned_tables(
        &self,
        d: &Desired,
    ) -> Result<(Vec<String>, Vec<RouteTable>), ProviderError> {
        let vpc = d.attrs.str("vpc_id")?;
        let tables = self
            .route_tables(&d.region, vec![filter("vpc-id", &[vpc])])
            .await?;
        let wanted: Vec<String> = match d.attrs.all_or_strs("route_tables")? {
            None => tables
                .iter()
                .filter_map(|t| t.route_table_id().map(str::to_string))
                .collect(),
            Some(ids) => {
                if let Some(missing) = ids
                    .iter()
                    .find(|id| !tables.iter().any(|t| t.route_table_id() == Some(**id)))
                {
                    return Err(ProviderError::cloud(
                        TABLE_NOT_FOUND,
                        format!("route table {missing} is not in VPC {vpc}"),
                    ));
                }
                ids.iter().map(|s| s.to_string()).collect()
            }
        };
        Ok((wanted, tables))
    }

    async fn set_propagation(
        &self,
        region: &str,
        vgw: &str,
        table: &str,
        on: bool,
    ) -> Result<(), ProviderError> {
        if on {
            // Right after the attachment EC2 may not see the VGW (or its attachment) yet.
            self.consistent(
                "EnableVgwRoutePropagation",
                &[VGW_NOT_FOUND, "Gateway.NotAttached"],
                || {
                    self.call(region, "EnableVgwRoutePropagation", |c| {
                        c.enable_vgw_route_propagation()
                            .gateway_id(vgw)
                            .route_table_id(table)
                            .send()
                    })
                },
            )
            .await
            .map(|_| ())
        } else {
            match self
                .call(region, "DisableVgwRoutePropagation", |c| {
                    c.disable_vgw_route_propagation()
                        .gateway_id(vgw)
                        .route_table_id(table)
                        .send()
                })
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if is_code(&e, &[VGW_NOT_FOUND, TABLE_NOT_FOUND]) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }

    /// Enables propagation on every planned table and disables it on every other table of
    /// the VPC that propagates this VGW (none on a create; the dropped ones on an update).
    async fn reconcile_propagation(
        &self,
        d: &Desired,
        vgw: &str,
    ) -> Result<Outputs, ProviderError> {
        let (wanted, tables) = self.planned_tables(d).await?;
        for t in &tables {
            let Some(id) = t.route_table_id() else {
                continue;
            };
            let want = wanted.iter().any(|w| w == id);
            let has = propagates(t, vgw);
            if want != has {
                tracing::info!(route_table = %id, %vgw, enable = want, "route propagation");
                self.set_propagation(&d.region, vgw, id, want).await?;
            }
        }
        Ok(super::id_output(vgw))
    }

    pub(super) async fn create_propagation(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let vgw = d.attrs.str("vpn_gateway_id")?;
        self.reconcile_propagation(d, vgw).await
    }

    pub(super) async fn update_propagation(
        &self,
        d: &Desired,
        id: &str,
    ) -> Result<Outputs, ProviderError> {
        self.reconcile_propagation(d, id).await
    }

    pub(super) async fn read_propagation(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let Some(vgw) = id.or_else(|| super::known(d, "vpn_gateway_id")) else {
            return Ok(None);
        };
        let (wanted, tables) = self.planned_tables(d).await?;
        let any = tables.iter().any(|t| {
            t.route_table_id()
                .is_some_and(|id| wanted.iter().any(|w| w == id))
                && propagates(t, vgw)
        });
        Ok(any.then(|| super::id_output(vgw)))
    }

    pub(super) async fn delete_propagation(
        &self,
        d: &Desired,
        id: &str,
    ) -> Result<(), ProviderError> {
        let vpc = d.attrs.str("vpc_id")?;
        let listed = d.attrs.all_or_strs("route_tables")?;
        let tables = self
            .route_tables(&d.region, vec![filter("vpc-id", &[vpc])])
            .await?;
        for t in tables.iter().filter(|t| propagates(t, id)) {
            let Some(tid) = t.route_table_id() else {
                continue;
            };
            // Only the tables this propagation covers: another table's propagation of the
            // same VGW was enabled by someone else.
            if listed.as_ref().is_some_and(|l| !l.contains(&tid)) {
                continue;
            }
            self.set_propagation(&d.region, id, tid, false).await?;
        }
        Ok(())
    }

    // ------------------------------------------------------------ security group rules

    async fn security_groups(
        &self,
        region: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<SecurityGroup>, ProviderError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call(region, "DescribeSecurityGroups", |c| {
                    c.describe_security_groups()
                        .set_filters(Some(filters.clone()))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            out.extend(page.security_groups().iter().cloned());
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn vpc_security_groups(
        &self,
        region: &str,
        vpcs: &[&str],
    ) -> Result<Vec<SecurityGroup>, ProviderError> {
        self.security_groups(region, vec![filter("vpc-id", vpcs)])
            .await
    }

    /// The planned groups (sorted ids) and their current state.
    async fn planned_groups(&self, d: &Desired) -> Result<Vec<SecurityGroup>, ProviderError> {
        let vpc = d.attrs.str("vpc_id")?;
        let all = self.vpc_security_groups(&d.region, &[vpc]).await?;
        let mut groups: Vec<SecurityGroup> = match d.attrs.all_or_strs("security_groups")? {
            None => all,
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids {
                    match all.iter().find(|g| g.group_id() == Some(id)) {
                        Some(g) => out.push(g.clone()),
                        None => {
                            return Err(ProviderError::cloud(
                                GROUP_NOT_FOUND,
                                format!("security group {id} is not in VPC {vpc}"),
                            ))
                        }
                    }
                }
                out
            }
        };
        groups.sort_by(|a, b| a.group_id().cmp(&b.group_id()));
        Ok(groups)
    }

    /// Groups by id (those that still exist).
    async fn groups_by_id(
        &self,
        region: &str,
        ids: &[&str],
    ) -> Result<Vec<SecurityGroup>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.security_groups(region, vec![filter("group-id", ids)])
            .await
    }

    async fn authorize(
        &self,
        region: &str,
        group: &str,
        rules: &[&Rule],
        egress: bool,
        description: &str,
    ) -> Result<(), ProviderError> {
        if rules.is_empty() {
            return Ok(());
        }
        let perms = permissions(rules.iter().copied(), Some(description));
        match self.authorize_call(region, group, perms, egress).await {
            Err(e) if is_code(&e, &["InvalidPermission.Duplicate"]) => {
                // Someone added one of them meanwhile: one at a time, a duplicate being done.
                for r in rules {
                    let perms = permissions([*r], Some(description));
                    match self.authorize_call(region, group, perms, egress).await {
                        Err(e) if !is_code(&e, &["InvalidPermission.Duplicate"]) => return Err(e),
                        _ => {}
                    }
                }
                Ok(())
            }
            r => r,
        }
    }

    async fn authorize_call(
        &self,
        region: &str,
        group: &str,
        perms: Vec<IpPermission>,
        egress: bool,
    ) -> Result<(), ProviderError> {
        if egress {
            self.call(region, "AuthorizeSecurityGroupEgress", |c| {
                c.authorize_security_group_egress()
                    .group_id(group)
                    .set_ip_permissions(Some(perms.clone()))
                    .send()
            })
            .await
            .map(|_| ())
        } else {
            self.call(region, "AuthorizeSecurityGroupIngress", |c| {
                c.authorize_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(perms.clone()))
                    .send()
            })
            .await
            .map(|_| ())
        }
    }

    async fn revoke(
        &self,
        region: &str,
        group: &str,
        rules: &[&Rule],
        egress: bool,
    ) -> Result<(), ProviderError> {
        if rules.is_empty() {
            return Ok(());
        }
        let perms = permissions(rules.iter().copied(), None);
        let r = if egress {
            self.call(region, "RevokeSecurityGroupEgress", |c| {
                c.revoke_security_group_egress()
                    .group_id(group)
                    .set_ip_permissions(Some(perms.clone()))
                    .send()
            })
            .await
            .map(|_| ())
        } else {
            self.call(region, "RevokeSecurityGroupIngress", |c| {
                c.revoke_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(perms.clone()))
                    .send()
            })
            .await
            .map(|_| ())
        };
        match r {
            Err(e) if is_code(&e, &["InvalidPermission.NotFound", GROUP_NOT_FOUND]) => Ok(()),
            r => r,
        }
    }

    /// Makes `groups` hold exactly the planned rules among those carrying this resource's
    /// description: missing planned rules are authorized (an identical rule already there is
    /// adopted, whatever its description), rules of ours no longer planned are revoked.
    /// `old` are further groups (from the previous id) that must lose our rules.
    async fn reconcile_rules(
        &self,
        d: &Desired,
        groups: &[SecurityGroup],
        old: &[SecurityGroup],
    ) -> Result<Outputs, ProviderError> {
        let planned = planned_rules(&d.attrs)?;
        let ours = rule_description(d);
        let egress = egress(d);
        let mut ids = Vec::new();
        for g in groups {
            let Some(gid) = g.group_id() else {
                continue;
            };
            ids.push(gid.to_string());
            let have = group_rules(g, egress);
            let missing: Vec<&Rule> = planned
                .iter()
                .filter(|r| !have.iter().any(|(h, _)| h == *r))
                .collect();
            let stale: Vec<&Rule> = have
                .iter()
                .filter(|(r, desc)| desc.as_deref() == Some(ours.as_str()) && !planned.contains(r))
                .map(|(r, _)| r)
                .collect();
            self.revoke(&d.region, gid, &stale, egress).await?;
            self.authorize(&d.region, gid, &missing, egress, &ours)
                .await?;
        }
        for g in old {
            let Some(gid) = g.group_id() else {
                continue;
            };
            if ids.iter().any(|i| i == gid) {
                continue;
            }
            let have = group_rules(g, egress);
            let ours_here: Vec<&Rule> = have
                .iter()
                .filter(|(r, desc)| desc.as_deref() == Some(ours.as_str()) || planned.contains(r))
                .map(|(r, _)| r)
                .collect();
            self.revoke(&d.region, gid, &ours_here, egress).await?;
        }
        ids.sort();
        if ids.is_empty() {
            return Err(ProviderError::cloud(
                GROUP_NOT_FOUND,
                format!(
                    "VPC {} has no security group to write rules into",
                    d.attrs.str("vpc_id")?
                ),
            ));
        }
        Ok(super::id_output(&ids.join(",")))
    }

    pub(super) async fn create_sg_rule(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        let groups = self.planned_groups(d).await?;
        self.reconcile_rules(d, &groups, &[]).await
    }

    pub(super) async fn update_sg_rule(
        &self,
        d: &Desired,
        id: &str,
    ) -> Result<Outputs, ProviderError> {
        let groups = self.planned_groups(d).await?;
        let old_ids: Vec<&str> = id.split(',').filter(|s| !s.is_empty()).collect();
        let old = self.groups_by_id(&d.region, &old_ids).await?;
        self.reconcile_rules(d, &groups, &old).await
    }

    pub(super) async fn read_sg_rule(
        &self,
        d: &Desired,
        id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        let groups = match id {
            Some(id) => {
                let ids: Vec<&str> = id.split(',').filter(|s| !s.is_empty()).collect();
                self.groups_by_id(&d.region, &ids).await?
            }
            None => self.planned_groups(d).await?,
        };
        let planned = planned_rules(&d.attrs)?;
        let egress = egress(d);
        let mut found: Vec<String> = groups
            .iter()
            .filter(|g| {
                group_rules(g, egress)
                    .iter()
                    .any(|(r, _)| planned.contains(r))
            })
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        found.sort();
        // Read by id, the recorded id stays (a group that lost the rules is drift, not a new
        // resource); by identity, the id is the groups that hold them.
        let id = id.map_or_else(|| found.join(","), str::to_string);
        Ok((!found.is_empty()).then(|| super::id_output(&id)))
    }

    /// Revokes, in the groups of `id`, the planned rules and any rule carrying this
    /// resource's description.
    pub(super) async fn delete_sg_rule(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        let ids: Vec<&str> = id.split(',').filter(|s| !s.is_empty()).collect();
        let groups = self.groups_by_id(&d.region, &ids).await?;
        let planned = planned_rules(&d.attrs)?;
        let ours = rule_description(d);
        let egress = egress(d);
        for g in &groups {
            let Some(gid) = g.group_id() else {
                continue;
            };
            let have = group_rules(g, egress);
            let mut gone: Vec<&Rule> = have
                .iter()
                .filter(|(r, desc)| planned.contains(r) || desc.as_deref() == Some(ours.as_str()))
                .map(|(r, _)| r)
                .collect();
            gone.sort();
            gone.dedup();
            self.revoke(&d.region, gid, &gone, egress).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_across_protocol_spellings() {
        assert_eq!(
            Rule::new("-1", Some(-1), Some(-1), "10.0.0.0/16"),
            Rule::new("all", None, None, "10.0.0.0/16")
        );
        assert_eq!(
            Rule::new("6", Some(443), Some(443), "10.0.0.0/16"),
            Rule::new("tcp", Some(443), Some(443), "10.0.0.0/16")
        );
        assert_ne!(
            Rule::new("icmp", Some(-1), Some(-1), "10.0.0.0/16"),
            Rule::new("icmp", Some(8), Some(0), "10.0.0.0/16")
        );
    }

    #[test]
    fn permissions_group_cidrs_by_protocol_and_ports() {
        let a = Rule::new("tcp", Some(443), Some(443), "10.1.0.0/16");
        let b = Rule::new("tcp", Some(443), Some(443), "10.2.0.0/16");
        let c = Rule::new("-1", None, None, "10.1.0.0/16");
        let p = permissions([&a, &b, &c], Some("peerctl t x"));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].ip_ranges().len(), 2);
        assert_eq!(p[1].from_port(), None);
        assert_eq!(p[0].ip_ranges()[0].description(), Some("peerctl t x"));
    }
}
