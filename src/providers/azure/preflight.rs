//! Preflight of the Azure networks: reads only (the VNet with its inline subnets, each NSG) to
//! check credentials, the VNet and its address space, an existing GatewaySubnet's prefix and
//! the NSGs the rules go into. Every problem is reported, none stops the others.

use super::{found, AzureProvider};
use crate::cloud::Cloud;
use crate::plan::build::default_nsg;
use crate::providers::{Problem, ProviderError};
use crate::topology::{AzureNetwork, Location, Network};
use ipnet::{IpNet, Ipv4Net};
use std::future::IntoFuture;

pub(super) async fn run(p: &AzureProvider, networks: &[Network]) -> Vec<Problem> {
    let checks = networks.iter().filter_map(|n| match &n.location {
        Location::Azure(z) => Some(network(p, n, z)),
        _ => None,
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn problem(n: &Network, field: &str, message: String) -> Problem {
    Problem {
        cloud: Cloud::Azure,
        network: Some(n.name.clone()),
        field: field.to_string(),
        message,
    }
}

/// The problem for an error no check can go past (credentials, nothing answering), or `None`
/// when the error is about the one thing being checked.
fn blocking(n: &Network, e: &ProviderError) -> Option<Problem> {
    match e {
        ProviderError::Auth(m) => Some(problem(n, "credentials", m.clone())),
        ProviderError::Connect { .. } => Some(problem(n, "credentials", e.to_string())),
        _ => None,
    }
}

fn inside(net: &Ipv4Net, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| match p.parse::<IpNet>() {
        Ok(IpNet::V4(v)) => v.contains(net),
        _ => false,
    })
}

async fn network(p: &AzureProvider, n: &Network, z: &AzureNetwork) -> Vec<Problem> {
    let mut out = Vec::new();
    let vnet = found(
        p.call("get virtual network", || {
            p.client
                .virtual_networks_client()
                .get(&z.resource_group, &z.vnet, &z.subscription)
                .into_future()
        })
        .await,
    );
    match vnet {
        Err(e) => {
            if let Some(b) = blocking(n, &e) {
                return vec![b];
            }
            out.push(problem(
                n,
                "vnet",
                format!("cannot read VNet {}: {e}", z.vnet),
            ));
        }
        Ok(None) => out.push(problem(
            n,
            "vnet",
            format!(
                "VNet {} not found in resource group {} of subscription {}",
                z.vnet, z.resource_group, z.subscription
            ),
        )),
        Ok(Some(v)) => {
            let props = v.properties.unwrap_or_default();
            let space = props
                .address_space
                .map(|a| a.address_prefixes)
                .unwrap_or_default();
            let missing: Vec<String> = n
                .cidrs
                .iter()
                .filter(|c| !inside(c, &space))
                .map(|c| c.to_string())
                .collect();
            if !missing.is_empty() {
                out.push(problem(
                    n,
                    "cidrs",
                    format!(
                        "expected {} inside the address space of VNet {}; actual: {}",
                        missing.join(", "),
                        z.vnet,
                        if space.is_empty() {
                            "none".to_string()
                        } else {
                            space.join(", ")
                        }
                    ),
                ));
            }
            let gw = props
                .subnets
                .iter()
                .find(|s| s.name.as_deref() == Some("GatewaySubnet"));
            match gw {
                Some(s) => {
                    let have = super::gateway::subnet_prefixes(s);
                    let same = have
                        .iter()
                        .any(|h| h.parse::<IpNet>().ok() == Some(IpNet::V4(z.gateway_subnet)));
                    if !same {
                        out.push(problem(
                            n,
                            "gateway_subnet",
                            format!(
                                "VNet {} has a GatewaySubnet with {} but the topology gives {}",
                                z.vnet,
                                have.join(", "),
                                z.gateway_subnet
                            ),
                        ));
                    }
                }
                None if !inside(&z.gateway_subnet, &space) => out.push(problem(
                    n,
                    "gateway_subnet",
                    format!(
                        "{} (to be created as GatewaySubnet) is outside the address space of VNet {}",
                        z.gateway_subnet, z.vnet
                    ),
                )),
                None => {}
            }
        }
    }
    let nsgs = z
        .network_security_groups
        .clone()
        .unwrap_or_else(|| vec![default_nsg(&z.vnet)]);
    for nsg in nsgs {
        let r = found(
            p.call("get network security group", || {
                p.client
                    .network_security_groups_client()
                    .get(&z.resource_group, &nsg, &z.subscription)
                    .into_future()
            })
            .await,
        );
        match r {
            Ok(Some(_)) => {}
            Ok(None) => out.push(problem(
                n,
                "network_security_groups",
                format!(
                    "network security group {nsg} not found in resource group {}",
                    z.resource_group
                ),
            )),
            Err(e) => {
                if let Some(b) = blocking(n, &e) {
                    out.push(b);
                    break;
                }
                out.push(problem(
                    n,
                    "network_security_groups",
                    format!("cannot read network security group {nsg}: {e}"),
                ));
            }
        }
    }
    out
}
