//! Diff of planned resources against the state: create, update (in place), replace, delete.
//! Which attribute changes a cloud can apply in place is decided per kind here, from the
//! clouds' update APIs (ModifyVpnTunnelOptions, GCP patch, Azure PUT on the same name).

use super::resource::{Kind, Resource};
use crate::cloud::Cloud;
use crate::state::ResourceState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
    /// The sign shown in human output (Terraform's convention).
    pub fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One change the plan makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    pub address: String,
    pub kind: Kind,
    pub cloud: Cloud,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// For update/replace: the attributes that differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// True when a change of `attr` on a `kind` can be applied without recreating it.
pub fn updatable(kind: Kind, attr: &str) -> bool {
    use Kind::*;
    matches!(
        (kind, attr),
        (AwsVpnConnection, "tunnels")
            | (AwsRoutePropagation, "route_tables")
            | (
                AwsSecurityGroupRule,
                "permissions" | "source_cidrs" | "security_groups" | "description"
            )
            | (GcpRouter, "advertise_mode" | "keepalive_seconds")
            | (
                GcpRouterPeer,
                "peer_asn" | "advertise_mode" | "advertised_route_priority"
            )
            | (GcpFirewall, "source_ranges" | "allowed" | "priority")
            | (AzureVpnGateway, "sku")
            | (
                AzureLocalNetworkGateway,
                "gateway_ip_address" | "address_prefixes"
            )
            | (AzureConnection, "shared_key" | "ipsec_policy")
            | (AzureNsgRule, _)
    )
}

/// Compares the plan's resources with the state's. Output order: by address.
pub fn diff(planned: &[Resource], state: &BTreeMap<String, ResourceState>) -> Vec<Change> {
    let mut out = Vec::new();
    let change = |action, r: &Resource, attributes| Change {
        action,
        address: r.address.clone(),
        kind: r.kind,
        cloud: r.kind.cloud(),
        name: r.name.clone(),
        network: r.network.clone(),
        link: r.link.clone(),
        attributes,
    };
    for r in planned {
        match state.get(&r.address) {
            None => out.push(change(Action::Create, r, Vec::new())),
            Some(s) if s.kind != r.kind || s.name != r.name => {
                out.push(change(Action::Replace, r, vec!["name".into()]))
            }
            Some(s) => {
                let mut keys: Vec<&String> =
                    r.attributes.keys().chain(s.attributes.keys()).collect();
                keys.sort();
                keys.dedup();
                let differ: Vec<String> = keys
                    .into_iter()
                    .filter(|k| r.attributes.get(*k) != s.attributes.get(*k))
                    .cloned()
                    .collect();
                if differ.is_empty() {
                    continue;
                }
                let action = if differ.iter().all(|a| updatable(r.kind, a)) {
                    Action::Update
                } else {
                    Action::Replace
                };
                out.push(change(action, r, differ));
            }
        }
    }
    let planned_addrs: std::collections::HashSet<&str> =
        planned.iter().map(|r| r.address.as_str()).collect();
    for (addr, s) in state {
        if !planned_addrs.contains(addr.as_str()) {
            out.push(Change {
                action: Action::Delete,
                address: addr.clone(),
                kind: s.kind,
                cloud: s.kind.cloud(),
                name: s.name.clone(),
                network: None,
                link: s.link.clone(),
                attributes: Vec::new(),
            });
        }
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

/// Counts as in the summary line: a replace is one create and one destroy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

impl Summary {
    pub fn of(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => {
                    s.create += 1;
                    s.delete += 1;
                }
                Action::Delete => s.delete += 1,
            }
        }
        s
    }
    pub fn is_empty(&self) -> bool {
        self.create + self.update + self.delete == 0
    }
}
