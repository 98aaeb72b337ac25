//! NSG rules as the judge reads them: ARM's security rules (custom and default) with service
//! tags expanded to address ranges, ports parsed, and Azure's matching conventions kept. Pure:
//! no I/O, tested on plain values.

use crate::verify::snapshot::{Action, Direction, Proto, RuleObs};
use azure_mgmt_network::package_2024_03::models;
use ipnet::{Ipv4Net, Ipv4Subnets};
use std::net::Ipv4Addr;

/// The address of the Azure host where the platform's health probes originate: what the
/// `AzureLoadBalancer` tag stands for in an NSG rule (Microsoft: "Azure IP address
/// 168.63.129.16").
pub(super) const AZURE_HOST: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);

/// Ranges that are never `Internet` (RFC 1918, link-local, shared CGN space), as the sandbox's
/// physics holds them too.
const NOT_INTERNET: [(Ipv4Addr, u8); 5] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
];

/// What the service tags of one VNet's rules stand for.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tags {
    /// `VirtualNetwork`: the VNet's address space, every local network gateway prefix of a
    /// connection on its gateway, and the prefixes of its subnets' user-defined routes.
    pub virtual_network: Vec<Ipv4Net>,
    /// `Internet`: everything outside `VirtualNetwork` and the private ranges.
    pub internet: Vec<Ipv4Net>,
}

impl Tags {
    pub fn new(mut virtual_network: Vec<Ipv4Net>) -> Tags {
        virtual_network.sort();
        virtual_network.dedup();
        let mut excluded: Vec<Ipv4Net> = NOT_INTERNET
            .iter()
            .filter_map(|(a, l)| Ipv4Net::new(*a, *l).ok())
            .collect();
        excluded.extend(virtual_network.iter().copied());
        Tags {
            internet: complement(&excluded),
            virtual_network,
        }
    }
}

/// Every IPv4 range not covered by `excluded`, as few CIDRs as possible.
pub(super) fn complement(excluded: &[Ipv4Net]) -> Vec<Ipv4Net> {
    let mut spans: Vec<(u32, u32)> = excluded
        .iter()
        .map(|n| (u32::from(n.network()), u32::from(n.broadcast())))
        .collect();
    spans.sort();
    let mut out = Vec::new();
    // `next`: the first address not yet known to be excluded (None once past the end).
    let mut next: Option<u32> = Some(0);
    for (a, b) in spans {
        let Some(n) = next else { break };
        if a > n {
            out.extend(Ipv4Subnets::new(
                Ipv4Addr::from(n),
                Ipv4Addr::from(a - 1),
                0,
            ));
        }
        if b >= n {
            next = b.checked_add(1);
        }
    }
    if let Some(n) = next {
        out.extend(Ipv4Subnets::new(Ipv4Addr::from(n), Ipv4Addr::BROADCAST, 0));
    }
    out
}

/// One security rule in ARM's wire spelling (plural and singular fields joined).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct RuleSpec {
    pub name: String,
    pub priority: i64,
    pub direction: String,
    pub access: String,
    pub protocol: String,
    pub source_ports: Vec<String>,
    pub dest_ports: Vec<String>,
    pub sources: Vec<String>,
    pub destinations: Vec<String>,
    /// The rule names application security groups (whose members verify cannot see).
    pub uses_asgs: bool,
}

/// The wire spelling of an ARM enum value.
pub(super) fn spell<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// ARM's singular + plural fields as one list.
pub(super) fn joined(one: &Option<String>, many: &[String]) -> Vec<String> {
    one.iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .chain(many.iter().cloned())
        .collect()
}

impl RuleSpec {
    pub fn from_model(r: &models::SecurityRule) -> Option<RuleSpec> {
        let p = r.properties.as_ref()?;
        Some(RuleSpec {
            name: r.name.clone().unwrap_or_default(),
            priority: i64::from(p.priority),
            direction: spell(&p.direction),
            access: spell(&p.access),
            protocol: spell(&p.protocol),
            source_ports: joined(&p.source_port_range, &p.source_port_ranges),
            dest_ports: joined(&p.destination_port_range, &p.destination_port_ranges),
            sources: joined(&p.source_address_prefix, &p.source_address_prefixes),
            destinations: joined(
                &p.destination_address_prefix,
                &p.destination_address_prefixes,
            ),
            uses_asgs: !p.source_application_security_groups.is_empty()
                || !p.destination_application_security_groups.is_empty(),
        })
    }
}

fn any() -> Ipv4Net {
    Ipv4Net::default()
}

/// The ranges one NSG address prefix stands for. Other service tags (`Storage`, `AzureCloud`…)
/// name Azure service ranges that no topology network's traffic comes from: nothing. IPv6:
/// nothing (the topology is IPv4).
pub(super) fn expand(spec: &str, tags: &Tags) -> Vec<Ipv4Net> {
    let s = spec.trim();
    let tag = |t: &str| s.eq_ignore_ascii_case(t);
    if s == "*" || tag("Any") {
        return vec![any()];
    }
    if tag("VirtualNetwork") {
        return tags.virtual_network.clone();
    }
    if tag("Internet") {
        return tags.internet.clone();
    }
    if tag("AzureLoadBalancer") {
        return vec![Ipv4Net::from(AZURE_HOST)];
    }
    if let Ok(n) = s.parse::<Ipv4Net>() {
        return vec![n.trunc()];
    }
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return vec![Ipv4Net::from(a)];
    }
    Vec::new()
}

fn proto(p: &str) -> Proto {
    match p.to_ascii_lowercase().as_str() {
        "*" => Proto::All,
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "icmp" => Proto::Icmp,
        other => Proto::Other(other.to_string()),
    }
}

/// Destination port ranges: empty for every port; `None` when one cannot be read (the rule
/// then matches nothing rather than everything).
fn ports(specs: &[String]) -> Option<Vec<(u16, u16)>> {
    let mut out = Vec::new();
    for s in specs {
        let s = s.trim();
        if s == "*" || s == "0-65535" {
            return Some(Vec::new());
        }
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
        out.push((a.min(b), a.max(b)));
    }
    (!out.is_empty()).then_some(out)
}

/// The rule as the judge evaluates it. Flows leave from ephemeral source ports, so a rule
/// restricted to some source ports matches none of them (as the sandbox's physics decides);
/// such a rule, one naming application security groups, or one whose ports cannot be read, is
/// kept (it shows in the snapshot) but `disabled`.
pub(super) fn rule_obs(r: &RuleSpec, tags: &Tags, address: Option<String>) -> RuleObs {
    let direction = if r.direction.eq_ignore_ascii_case("Outbound") {
        Direction::Egress
    } else {
        Direction::Ingress
    };
    let action = if r.access.eq_ignore_ascii_case("Allow") {
        Action::Allow
    } else {
        Action::Deny
    };
    let every_source_port = r
        .source_ports
        .iter()
        .any(|p| p.trim() == "*" || p.trim() == "0-65535");
    let dest_ports = ports(&r.dest_ports);
    let expand_all = |v: &[String]| -> Vec<Ipv4Net> {
        let mut out: Vec<Ipv4Net> = v.iter().flat_map(|s| expand(s, tags)).collect();
        out.sort();
        out.dedup();
        out
    };
    RuleObs {
        name: r.name.clone(),
        address,
        direction,
        action,
        priority: u32::try_from(r.priority).unwrap_or(u32::MAX),
        protocol: proto(&r.protocol),
        ports: dest_ports.clone().unwrap_or_default(),
        sources: expand_all(&r.sources),
        destinations: expand_all(&r.destinations),
        disabled: !every_source_port || dest_ports.is_none() || r.uses_asgs,
    }
}

/// Azure's default rules, in every NSG below the custom ones (Microsoft: "Network security
/// groups" → "Default security rules"): AllowVnetInBound 65000, AllowAzureLoadBalancerInBound
/// 65001, DenyAllInBound 65500, AllowVnetOutBound 65000, AllowInternetOutBound 65001,
/// DenyAllOutBound 65500. Used only when ARM's answer lacks `defaultSecurityRules`.
pub(super) fn default_rules() -> Vec<RuleSpec> {
    let rule = |name: &str, prio, dir: &str, access: &str, src: &str, dst: &str| RuleSpec {
        name: name.to_string(),
        priority: prio,
        direction: dir.to_string(),
        access: access.to_string(),
        protocol: "*".into(),
        source_ports: vec!["*".into()],
        dest_ports: vec!["*".into()],
        sources: vec![src.to_string()],
        destinations: vec![dst.to_string()],
        uses_asgs: false,
    };
    vec![
        rule(
            "AllowVnetInBound",
            65000,
            "Inbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork",
        ),
        rule(
            "AllowAzureLoadBalancerInBound",
            65001,
            "Inbound",
            "Allow",
            "AzureLoadBalancer",
            "*",
        ),
        rule("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
        rule(
            "AllowVnetOutBound",
            65000,
            "Outbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork",
        ),
        rule(
            "AllowInternetOutBound",
            65001,
            "Outbound",
            "Allow",
            "*",
            "Internet",
        ),
        rule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn tags() -> Tags {
        Tags::new(vec![net("10.30.0.0/16"), net("10.10.0.0/16")])
    }

    fn spec(dir: &str, access: &str, proto: &str, ports: &[&str], src: &[&str]) -> RuleSpec {
        RuleSpec {
            name: "r".into(),
            priority: 100,
            direction: dir.into(),
            access: access.into(),
            protocol: proto.into(),
            source_ports: vec!["*".into()],
            dest_ports: ports.iter().map(|s| s.to_string()).collect(),
            sources: src.iter().map(|s| s.to_string()).collect(),
            destinations: vec!["10.30.0.0/16".into()],
            uses_asgs: false,
        }
    }

    #[test]
    fn the_complement_covers_exactly_what_is_not_excluded() {
        let c = complement(&[net("10.0.0.0/8"), net("10.1.0.0/16"), net("192.168.0.0/16")]);
        let size = |v: &[Ipv4Net]| v.iter().map(|n| 1u64 << (32 - n.prefix_len())).sum::<u64>();
        assert_eq!(size(&c), (1u64 << 32) - (1 << 24) - (1 << 16));
        assert!(c.iter().any(|n| n.contains(&net("8.8.8.8/32"))));
        assert!(!c.iter().any(|n| n.contains(&net("10.1.2.0/24"))));
        assert!(!c.iter().any(|n| n.contains(&net("192.168.1.1/32"))));
        assert!(c.iter().any(|n| n.contains(&net("11.0.0.0/8"))));
        // Nothing excluded: one /0; everything excluded: nothing.
        assert_eq!(complement(&[]), vec![Ipv4Net::default()]);
        assert!(complement(&[Ipv4Net::default()]).is_empty());
        // The top of the space stays reachable.
        assert!(complement(&[net("0.0.0.0/1")])
            .iter()
            .any(|n| n.contains(&net("255.255.255.255/32"))));
    }

    #[test]
    fn service_tags_expand_to_the_vnet_and_its_connected_sites() {
        let t = tags();
        assert_eq!(
            expand("VirtualNetwork", &t),
            vec![net("10.10.0.0/16"), net("10.30.0.0/16")]
        );
        assert_eq!(expand("virtualnetwork", &t), expand("VirtualNetwork", &t));
        assert_eq!(expand("*", &t), vec![Ipv4Net::default()]);
        assert_eq!(
            expand("AzureLoadBalancer", &t),
            vec![net("168.63.129.16/32")]
        );
        assert_eq!(expand("198.18.0.5", &t), vec![net("198.18.0.5/32")]);
        assert_eq!(expand("10.10.1.0/24", &t), vec![net("10.10.1.0/24")]);
        assert!(expand("Storage", &t).is_empty());
        assert!(expand("2001:db8::/32", &t).is_empty());
        // Internet: public space outside the VNet tag; never the connected site's prefixes.
        let inet = expand("Internet", &t);
        assert!(inet.iter().any(|n| n.contains(&net("198.18.0.1/32"))));
        assert!(!inet.iter().any(|n| n.contains(&net("10.10.0.1/32"))));
        assert!(!inet.iter().any(|n| n.contains(&net("172.16.0.1/32"))));
    }

    #[test]
    fn rules_keep_direction_access_protocol_and_port_ranges() {
        let t = tags();
        let r = rule_obs(
            &spec(
                "Inbound",
                "Allow",
                "Tcp",
                &["443", "5432", "8000-8100"],
                &["10.10.0.0/16"],
            ),
            &t,
            Some("azure.nsg_rule.x".into()),
        );
        assert_eq!(r.direction, Direction::Ingress);
        assert_eq!(r.action, Action::Allow);
        assert_eq!(r.protocol, Proto::Tcp);
        assert_eq!(r.ports, vec![(443, 443), (5432, 5432), (8000, 8100)]);
        assert_eq!(r.sources, vec![net("10.10.0.0/16")]);
        assert_eq!(r.address.as_deref(), Some("azure.nsg_rule.x"));
        assert!(!r.disabled);

        let d = rule_obs(&spec("Outbound", "Deny", "*", &["*"], &["*"]), &t, None);
        assert_eq!(d.direction, Direction::Egress);
        assert_eq!(d.action, Action::Deny);
        assert_eq!(d.protocol, Proto::All);
        assert!(d.ports.is_empty());
        assert_eq!(d.sources, vec![Ipv4Net::default()]);

        let esp = rule_obs(&spec("Inbound", "Allow", "Esp", &["*"], &["*"]), &t, None);
        assert_eq!(esp.protocol, Proto::Other("esp".into()));
    }

    #[test]
    fn rules_no_flow_can_match_are_disabled() {
        let t = tags();
        let mut s = spec("Inbound", "Deny", "Tcp", &["443"], &["*"]);
        s.source_ports = vec!["80".into()];
        assert!(rule_obs(&s, &t, None).disabled, "source ports restricted");
        let s = spec("Inbound", "Allow", "Tcp", &["http"], &["*"]);
        assert!(rule_obs(&s, &t, None).disabled, "unreadable port");
        let mut s = spec("Inbound", "Allow", "Tcp", &["443"], &[]);
        s.uses_asgs = true;
        assert!(
            rule_obs(&s, &t, None).disabled,
            "application security groups"
        );
    }

    #[test]
    fn the_default_rules_are_azures_six() {
        let d = default_rules();
        let names: Vec<(&str, i64, &str)> = d
            .iter()
            .map(|r| (r.name.as_str(), r.priority, r.direction.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("AllowVnetInBound", 65000, "Inbound"),
                ("AllowAzureLoadBalancerInBound", 65001, "Inbound"),
                ("DenyAllInBound", 65500, "Inbound"),
                ("AllowVnetOutBound", 65000, "Outbound"),
                ("AllowInternetOutBound", 65001, "Outbound"),
                ("DenyAllOutBound", 65500, "Outbound"),
            ]
        );
        // AllowVnetInBound admits the connected site (its prefixes are in VirtualNetwork).
        let t = tags();
        let vnet_in = rule_obs(&d[0], &t, None);
        assert!(vnet_in.sources.contains(&net("10.10.0.0/16")));
        assert!(vnet_in.destinations.contains(&net("10.30.0.0/16")));
    }
}
