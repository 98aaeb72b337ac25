//! Each recorded Azure resource as found in the lists: present or absent by its ARM id, its
//! attributes under the planned names (as `judge::flatten` spells them), and each connection's
//! tunnel.

use super::nsg::{joined, spell};
use super::{connected, deleting, low, List, Seen};
use crate::plan::resource::Kind;
use crate::providers::azure::gateway::bare;
use crate::providers::azure::ArmId;
use crate::providers::Recorded;
use crate::verify::snapshot::{CloudSnapshot, ResourceObs, TunnelObs};
use azure_mgmt_network::package_2024_03::models;

/// An observed ARM id in the planned spelling when it names the planned resource (ARM ids
/// compare case-insensitively, and a planned subnet id may carry peerctl's mark), else as ARM
/// gives it.
fn as_planned(planned: Option<&str>, actual: &str) -> String {
    match planned {
        Some(p) if bare(p).eq_ignore_ascii_case(actual) => p.to_string(),
        _ => actual.to_string(),
    }
}

/// A list of values as `flatten` joins a planned list: sorted, comma-joined.
fn list(mut v: Vec<String>) -> String {
    v.sort();
    v.join(",")
}

/// `None` when the list that would show the resource failed (it is then not judged).
pub(super) fn observe(
    rec: &Recorded,
    seen: &Seen,
    snap: &mut CloudSnapshot,
) -> Option<ResourceObs> {
    let list_kind = List::of(rec.desired.kind)?;
    if !seen.listed(&rec.id, list_kind) {
        return None;
    }
    let key = low(&rec.id);
    Some(match rec.desired.kind {
        Kind::AzurePublicIp => match seen.pips.get(&key) {
            Some(ip)
                if !deleting(
                    &ip.properties
                        .as_ref()
                        .and_then(|p| p.provisioning_state.clone()),
                ) =>
            {
                public_ip(rec, ip)
            }
            _ => ResourceObs::absent(),
        },
        Kind::AzureSubnet => subnet(rec, seen),
        Kind::AzureVpnGateway => match seen.gateways.get(&key) {
            Some(g) if !deleting(&g.properties.provisioning_state) => gateway(rec, g),
            _ => ResourceObs::absent(),
        },
        Kind::AzureLocalNetworkGateway => match seen.lngs.get(&key) {
            Some(l) if !deleting(&l.properties.provisioning_state) => local_gateway(rec, l),
            _ => ResourceObs::absent(),
        },
        Kind::AzureConnection => match seen.conns.get(&key) {
            Some(c) if !deleting(&c.properties.provisioning_state) => {
                connection(rec, c, seen, snap)
            }
            _ => ResourceObs::absent(),
        },
        Kind::AzureNsgRule => nsg_rule(rec, seen),
        _ => return None,
    })
}

fn public_ip(rec: &Recorded, ip: &models::PublicIpAddress) -> ResourceObs {
    let mut o = ResourceObs::present(&rec.id);
    if let Some(name) = ip.sku.as_ref().and_then(|s| s.name.as_ref()) {
        o = o.attr("sku", spell(name));
    }
    if let Some(m) = ip
        .properties
        .as_ref()
        .and_then(|p| p.public_ip_allocation_method.as_ref())
    {
        o = o.attr("allocation", spell(m));
    }
    o
}

fn subnet(rec: &Recorded, seen: &Seen) -> ResourceObs {
    let Some(a) = ArmId::parse(&rec.id) else {
        return ResourceObs::absent();
    };
    let Some(name) = &a.child else {
        return ResourceObs::absent();
    };
    let vnet_id = super::arm_id(&a.sub, &a.rg, &format!("virtualNetworks/{}", a.name));
    let Some(v) = seen.vnets.get(&low(&vnet_id)) else {
        return ResourceObs::absent();
    };
    let found = v
        .properties
        .iter()
        .flat_map(|p| p.subnets.iter())
        .find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
    let Some(s) = found else {
        return ResourceObs::absent();
    };
    let Some(p) = s.properties.as_ref() else {
        return ResourceObs::present(&rec.id);
    };
    if deleting(&p.provisioning_state) {
        return ResourceObs::absent();
    }
    let mut o = ResourceObs::present(&rec.id).attr(
        "vnet",
        v.resource.name.clone().unwrap_or_else(|| a.name.clone()),
    );
    let have = joined(&p.address_prefix, &p.address_prefixes);
    let planned = rec.desired.attrs.opt_str("address_prefix");
    let same = |x: &String| {
        planned.is_some_and(|w| x.parse::<ipnet::IpNet>().ok() == w.parse::<ipnet::IpNet>().ok())
    };
    let shown = match (have.iter().find(|x| same(x)), planned) {
        (Some(_), Some(w)) => w.to_string(),
        _ => list(have),
    };
    o = o.attr("address_prefix", shown);
    o
}

fn gateway(rec: &Recorded, g: &models::VirtualNetworkGateway) -> ResourceObs {
    let d = &rec.desired;
    let p = &g.properties;
    let mut o = ResourceObs::present(&rec.id);
    if let Some(t) = &p.gateway_type {
        o = o.attr("gateway_type", spell(t));
    }
    if let Some(t) = &p.vpn_type {
        o = o.attr("vpn_type", spell(t));
    }
    if let Some(s) = p.sku.as_ref().and_then(|s| s.name.as_ref()) {
        o = o.attr("sku", spell(s));
    }
    o = o
        .attr("active_active", p.active_active.unwrap_or(false))
        .attr("enable_bgp", p.enable_bgp.unwrap_or(false));
    if let Some(c) = p
        .ip_configurations
        .first()
        .and_then(|c| c.properties.as_ref())
    {
        if let Some(id) = c.public_ip_address.as_ref().and_then(|x| x.id.as_deref()) {
            o = o.attr("public_ip", as_planned(d.attrs.opt_str("public_ip"), id));
        }
        if let Some(id) = c.subnet.as_ref().and_then(|x| x.id.as_deref()) {
            o = o.attr("subnet", as_planned(d.attrs.opt_str("subnet"), id));
        }
    }
    o
}

fn local_gateway(rec: &Recorded, l: &models::LocalNetworkGateway) -> ResourceObs {
    let p = &l.properties;
    let mut o = ResourceObs::present(&rec.id);
    if let Some(ip) = &p.gateway_ip_address {
        o = o.attr("gateway_ip_address", ip);
    }
    let prefixes = p
        .local_network_address_space
        .as_ref()
        .map(|a| a.address_prefixes.clone())
        .unwrap_or_default();
    o.attr("address_prefixes", list(prefixes))
}

fn connection(
    rec: &Recorded,
    c: &models::VirtualNetworkGatewayConnection,
    seen: &Seen,
    snap: &mut CloudSnapshot,
) -> ResourceObs {
    let d = &rec.desired;
    let p = &c.properties;
    let mut o = ResourceObs::present(&rec.id)
        .attr("connection_type", spell(&p.connection_type))
        .attr("enable_bgp", p.enable_bgp.unwrap_or(false))
        .attr(
            "use_policy_based_traffic_selectors",
            p.use_policy_based_traffic_selectors.unwrap_or(false),
        );
    if let Some(proto) = &p.connection_protocol {
        o = o.attr("connection_protocol", spell(proto));
    }
    if let Some(id) = p.virtual_network_gateway1.resource.id.as_deref() {
        o = o.attr(
            "virtual_network_gateway",
            as_planned(d.attrs.opt_str("virtual_network_gateway"), id),
        );
    }
    if let Some(id) = p
        .local_network_gateway2
        .as_ref()
        .and_then(|l| l.resource.id.as_deref())
    {
        o = o.attr(
            "local_network_gateway",
            as_planned(d.attrs.opt_str("local_network_gateway"), id),
        );
    }
    if let Some(pol) = p.ipsec_policies.first() {
        let k = |s: &str| format!("ipsec_policy.{s}");
        o = o
            .attr(&k("sa_lifetime_seconds"), pol.sa_life_time_seconds)
            .attr(&k("sa_data_size_kilobytes"), pol.sa_data_size_kilobytes)
            .attr(&k("ipsec_encryption"), spell(&pol.ipsec_encryption))
            .attr(&k("ipsec_integrity"), spell(&pol.ipsec_integrity))
            .attr(&k("ike_encryption"), spell(&pol.ike_encryption))
            .attr(&k("ike_integrity"), spell(&pol.ike_integrity))
            .attr(&k("dh_group"), spell(&pol.dh_group))
            .attr(&k("pfs_group"), spell(&pol.pfs_group));
    }
    if let Some(same) = seen.keys.get(&low(&rec.id)) {
        o = o.attr("shared_key", if *same { "matches" } else { "differs" });
    }
    let status = p
        .connection_status
        .as_ref()
        .map(spell)
        .unwrap_or_else(|| "Unknown".into());
    let mut detail = Vec::new();
    if let Some(s) = &p.provisioning_state {
        detail.push(format!("provisioning {}", spell(s)));
    }
    if let (Some(i), Some(e)) = (p.ingress_bytes_transferred, p.egress_bytes_transferred) {
        detail.push(format!("{i} bytes in, {e} bytes out"));
    }
    snap.tunnels.push(TunnelObs {
        address: d.address.clone(),
        index: 0,
        name: format!(
            "connection {}",
            c.resource.name.clone().unwrap_or_else(|| d.name.clone())
        ),
        up: connected(c),
        status,
        detail: detail.join(", "),
    });
    o
}

fn nsg_rule(rec: &Recorded, seen: &Seen) -> ResourceObs {
    let Some(a) = ArmId::parse(&rec.id) else {
        return ResourceObs::absent();
    };
    let Some(rule_name) = &a.child else {
        return ResourceObs::absent();
    };
    let nsg_id = super::arm_id(&a.sub, &a.rg, &format!("networkSecurityGroups/{}", a.name));
    let Some(g) = seen.nsgs.get(&low(&nsg_id)) else {
        return ResourceObs::absent();
    };
    let found = g
        .properties
        .iter()
        .flat_map(|p| p.security_rules.iter())
        .find(|r| {
            r.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(rule_name))
        });
    let Some(p) = found.and_then(|r| r.properties.as_ref()) else {
        return ResourceObs::absent();
    };
    if deleting(&p.provisioning_state) {
        return ResourceObs::absent();
    }
    ResourceObs::present(&rec.id)
        .attr(
            "network_security_group",
            g.resource.name.clone().unwrap_or_else(|| a.name.clone()),
        )
        .attr("direction", spell(&p.direction))
        .attr("access", spell(&p.access))
        .attr("protocol", spell(&p.protocol))
        .attr("priority", p.priority)
        .attr(
            "source_address_prefixes",
            list(joined(&p.source_address_prefix, &p.source_address_prefixes)),
        )
        .attr(
            "destination_address_prefixes",
            list(joined(
                &p.destination_address_prefix,
                &p.destination_address_prefixes,
            )),
        )
        .attr(
            "destination_port_ranges",
            list(joined(
                &p.destination_port_range,
                &p.destination_port_ranges,
            )),
        )
}
