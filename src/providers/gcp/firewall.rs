//! Firewall rules and static routes (global, per network), and the preflight: credentials, the
//! VPC networks of the topology, and their subnetworks against the topology's CIDRs, with one
//! network list per project and one subnetwork list per (project, region).

use super::{check_adopted, id_only, int, network_path, project, GcpProvider, Loc, Scope, POLL};
use crate::cloud::Cloud;
use crate::plan::resource::Kind;
use crate::providers::{Desired, Outputs, Problem, ProviderError};
use crate::topology::{Location, Network};
use google_cloud_compute_v1::model::{firewall, Firewall, Route};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};

/// Project and name: from the id when given, else as planned.
fn loc(d: &Desired, id: Option<&str>) -> Result<(String, String), ProviderError> {
    match id.and_then(Loc::parse) {
        Some(l) => Ok((l.project, l.name)),
        None => Ok((project(d)?, d.name.clone())),
    }
}

fn allowed(d: &Desired) -> Result<Vec<firewall::Allowed>, ProviderError> {
    d.attrs
        .maps("allowed")?
        .into_iter()
        .map(|m| {
            let mut a = firewall::Allowed::new().set_ip_protocol(m.str("ip_protocol")?);
            if m.get("ports").is_some() {
                a = a.set_ports(m.strs("ports")?);
            }
            Ok(a)
        })
        .collect()
}

fn firewall_body(d: &Desired, project: &str) -> Result<Firewall, ProviderError> {
    let mut f = Firewall::new()
        .set_name(&d.name)
        .set_description(d.description())
        .set_network(network_path(project, d.attrs.str("network")?))
        .set_source_ranges(d.attrs.strs("source_ranges")?)
        .set_allowed(allowed(d)?);
    if let Some(dir) = d.attrs.opt_str("direction") {
        f = f.set_direction(firewall::Direction::from(dir));
    }
    if d.attrs.get("priority").is_some() {
        f = f.set_priority(int::<i32>(d, "priority")?);
    }
    Ok(f)
}

fn route_body(d: &Desired, project: &str) -> Result<Route, ProviderError> {
    let mut r = Route::new()
        .set_name(&d.name)
        .set_description(d.description())
        .set_network(network_path(project, d.attrs.str("network")?))
        .set_dest_range(d.attrs.str("dest_range")?)
        .set_next_hop_vpn_tunnel(d.attrs.str("next_hop_vpn_tunnel")?);
    if d.attrs.get("priority").is_some() {
        r = r.set_priority(int::<u32>(d, "priority")?);
    }
    Ok(r)
}

pub(super) async fn create(p: &GcpProvider, d: &Desired) -> Result<Outputs, ProviderError> {
    let what = d.address.as_str();
    let (project, name) = loc(d, None)?;
    let scope = Scope::Global {
        project: project.clone(),
    };
    match d.kind {
        Kind::GcpFirewall => {
            let body = firewall_body(d, &project)?;
            let c = &p.c.firewalls;
            let f = p
                .ensure(
                    what,
                    scope,
                    POLL,
                    || c.get().set_project(&project).set_firewall(&name).send(),
                    || {
                        c.insert()
                            .set_project(&project)
                            .set_body(body.clone())
                            .send()
                    },
                )
                .await?;
            check_adopted(d, f.description.as_ref());
            id_only(f.self_link.as_ref(), what)
        }
        Kind::GcpRoute => {
            let body = route_body(d, &project)?;
            let c = &p.c.routes;
            let r = p
                .ensure(
                    what,
                    scope,
                    POLL,
                    || c.get().set_project(&project).set_route(&name).send(),
                    || {
                        c.insert()
                            .set_project(&project)
                            .set_body(body.clone())
                            .send()
                    },
                )
                .await?;
            check_adopted(d, r.description.as_ref());
            id_only(r.self_link.as_ref(), what)
        }
        other => Err(super::not_gcp(other)),
    }
}

/// A firewall rule put back as planned: its sources, entries and priority, and enabled with no
/// target tags or service accounts (someone who disabled the rule or narrowed it to tagged
/// instances broke the link verify checks). The rule is read and written back whole (`update`,
/// a PUT: a merge patch cannot empty a list), so the fields peerctl does not plan (logging,
/// description) are kept.
pub(super) async fn update(
    p: &GcpProvider,
    d: &Desired,
    id: &str,
) -> Result<Outputs, ProviderError> {
    let what = d.address.as_str();
    let (project, name) = loc(d, Some(id))?;
    let c = &p.c.firewalls;
    let get = || c.get().set_project(&project).set_firewall(&name).send();
    let absent = || ProviderError::cloud("NOT_FOUND", format!("{what} is absent"));
    let mut body = p.find(what, get).await?.ok_or_else(absent)?;
    body.source_ranges = d
        .attrs
        .strs("source_ranges")?
        .into_iter()
        .map(String::from)
        .collect();
    body.allowed = allowed(d)?;
    if d.attrs.get("priority").is_some() {
        body.priority = Some(int::<i32>(d, "priority")?);
    }
    body.disabled = Some(false);
    body.target_tags.clear();
    body.target_service_accounts.clear();
    let op = p
        .call(what, || {
            c.update()
                .set_project(&project)
                .set_firewall(&name)
                .set_body(body.clone())
                .send()
        })
        .await?;
    let scope = Scope::Global {
        project: project.clone(),
    };
    p.wait(op, &scope, what, POLL).await?;
    let f = p.find(what, get).await?.ok_or_else(absent)?;
    id_only(f.self_link.as_ref(), what)
}

pub(super) async fn read(
    p: &GcpProvider,
    d: &Desired,
    id: Option<&str>,
) -> Result<Option<Outputs>, ProviderError> {
    let what = d.address.as_str();
    let (project, name) = loc(d, id)?;
    let link = match d.kind {
        Kind::GcpFirewall => {
            let c = &p.c.firewalls;
            p.find(what, || {
                c.get().set_project(&project).set_firewall(&name).send()
            })
            .await?
            .map(|f| f.self_link)
        }
        Kind::GcpRoute => {
            let c = &p.c.routes;
            p.find(what, || {
                c.get().set_project(&project).set_route(&name).send()
            })
            .await?
            .map(|r| r.self_link)
        }
        other => return Err(super::not_gcp(other)),
    };
    link.map(|l| id_only(l.as_ref(), what)).transpose()
}

pub(super) async fn delete(p: &GcpProvider, d: &Desired, id: &str) -> Result<(), ProviderError> {
    let what = d.address.as_str();
    let (project, name) = loc(d, Some(id))?;
    let scope = Scope::Global {
        project: project.clone(),
    };
    match d.kind {
        Kind::GcpFirewall => {
            let c = &p.c.firewalls;
            p.remove(what, scope, POLL, || {
                c.delete().set_project(&project).set_firewall(&name).send()
            })
            .await
        }
        Kind::GcpRoute => {
            let c = &p.c.routes;
            p.remove(what, scope, POLL, || {
                c.delete().set_project(&project).set_route(&name).send()
            })
            .await
        }
        other => Err(super::not_gcp(other)),
    }
}

/// Every page of a list call, by `nextPageToken`.
macro_rules! list_all {
    ($p:expr, $what:expr, $make:expr) => {
        async {
            let mut items = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = $p
                    .call($what, || {
                        $make.set_or_clear_page_token(token.clone()).send()
                    })
                    .await?;
                items.extend(page.items);
                match page.next_page_token.filter(|t| !t.is_empty()) {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            Ok::<_, ProviderError>(items)
        }
        .await
    };
}

/// A region's subnetworks as (network URL, range), or why they could not be listed.
type SubnetRanges = Result<Vec<(String, String)>, String>;

fn problem(network: Option<&str>, field: &str, message: String) -> Problem {
    Problem {
        cloud: Cloud::Gcp,
        network: network.map(str::to_string),
        field: field.to_string(),
        message,
    }
}

/// True when some subnetwork range overlaps `cidr` (for CIDRs: one holds the other).
fn covered(cidr: &Ipv4Net, ranges: &[Ipv4Net]) -> bool {
    ranges.iter().any(|r| r.contains(cidr) || cidr.contains(r))
}

/// Credentials (one network list per project), each network's existence, and each topology
/// CIDR overlapping a subnetwork of the network in its region. Every problem is reported.
pub(super) async fn preflight(p: &GcpProvider, networks: &[Network]) -> Vec<Problem> {
    let mut by_project: BTreeMap<&str, Vec<(&Network, &str, &str)>> = BTreeMap::new();
    for n in networks {
        if let Location::Gcp(g) = &n.location {
            by_project.entry(g.project.as_str()).or_default().push((
                n,
                g.region.as_str(),
                g.network.as_str(),
            ));
        }
    }
    let mut problems = Vec::new();
    for (project, nets) in by_project {
        let listed = list_all!(
            p,
            "preflight networks",
            p.c.networks.list().set_project(project)
        );
        let existing: BTreeSet<String> = match listed {
            Ok(list) => list.into_iter().filter_map(|n| n.name).collect(),
            Err(ProviderError::Auth(m)) => {
                problems.push(problem(
                    None,
                    "credentials",
                    format!("cannot read project {project}: {m}"),
                ));
                continue;
            }
            Err(e) => {
                for (n, _, _) in &nets {
                    problems.push(problem(
                        Some(&n.name),
                        "project",
                        format!("cannot list the networks of project {project}: {e}"),
                    ));
                }
                continue;
            }
        };
        let mut subnets: BTreeMap<&str, SubnetRanges> = BTreeMap::new();
        for (n, region, network) in nets {
            if !existing.contains(network) {
                problems.push(problem(
                    Some(&n.name),
                    "network",
                    format!("VPC network {network} does not exist in project {project}"),
                ));
                continue;
            }
            if !subnets.contains_key(region) {
                let listed = list_all!(
                    p,
                    "preflight subnetworks",
                    p.c.subnetworks
                        .list()
                        .set_project(project)
                        .set_region(region)
                );
                let pairs = listed
                    .map(|l| {
                        l.into_iter()
                            .map(|s| {
                                (
                                    s.network.unwrap_or_default(),
                                    s.ip_cidr_range.unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .map_err(|e| e.to_string());
                subnets.insert(region, pairs);
            }
            let ranges: Vec<Ipv4Net> = match &subnets[region] {
                Ok(all) => {
                    let wanted = network_path(project, network);
                    all.iter()
                        .filter(|(net, _)| super::canonical(net) == wanted)
                        .filter_map(|(_, r)| r.parse().ok())
                        .collect()
                }
                Err(e) => {
                    problems.push(problem(
                        Some(&n.name),
                        "cidrs",
                        format!("cannot list the subnetworks of {region}: {e}"),
                    ));
                    continue;
                }
            };
            let missing: Vec<String> = n
                .cidrs
                .iter()
                .filter(|c| !covered(c, &ranges))
                .map(|c| c.to_string())
                .collect();
            if !missing.is_empty() {
                let actual: Vec<String> = ranges.iter().map(|r| r.to_string()).collect();
                problems.push(problem(
                    Some(&n.name),
                    "cidrs",
                    format!(
                        "expected subnetworks of {network} in {region} covering {}, actual: {}",
                        missing.join(", "),
                        if actual.is_empty() {
                            "none".to_string()
                        } else {
                            actual.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cidr_is_covered_by_an_overlapping_subnetwork() {
        let r: Vec<Ipv4Net> = vec!["10.20.0.0/16".parse().unwrap()];
        assert!(covered(&"10.20.0.0/16".parse().unwrap(), &r));
        assert!(covered(&"10.20.4.0/24".parse().unwrap(), &r));
        assert!(covered(&"10.0.0.0/8".parse().unwrap(), &r));
        assert!(!covered(&"10.99.0.0/16".parse().unwrap(), &r));
    }
}
