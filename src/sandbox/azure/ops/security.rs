//! Network security groups and their rules.

use super::*;

/// Service tags a security rule may name besides `VirtualNetwork`, `Internet` and
/// `AzureLoadBalancer` (Azure's published service tags, the common ones). They name Azure
/// service ranges that no sandbox flow comes from, so the physics never matches them.
const SERVICE_TAGS: [&str; 40] = [
    "VirtualNetwork",
    "Internet",
    "AzureLoadBalancer",
    "AzureCloud",
    "AzureActiveDirectory",
    "AzureBackup",
    "AzureConnectors",
    "AzureContainerRegistry",
    "AzureCosmosDB",
    "AzureDatabricks",
    "AzureDataLake",
    "AzureDevOps",
    "AzureEventGrid",
    "AzureFrontDoor.Backend",
    "AzureFrontDoor.Frontend",
    "AzureFrontDoor.FirstParty",
    "AzureIoTHub",
    "AzureKeyVault",
    "AzureMachineLearning",
    "AzureMonitor",
    "AzurePlatformDNS",
    "AzurePlatformIMDS",
    "AzurePlatformLKM",
    "AzureResourceManager",
    "AzureSiteRecovery",
    "AzureTrafficManager",
    "AzureUpdateDelivery",
    "ApiManagement",
    "AppService",
    "BatchNodeManagement",
    "DataFactory",
    "EventHub",
    "GatewayManager",
    "GuestAndHybridManagement",
    "HDInsight",
    "LogicApps",
    "MicrosoftContainerRegistry",
    "ServiceBus",
    "Sql",
    "Storage",
];

/// What an NSG address prefix is, or `None` when ARM refuses it.
#[derive(Debug, PartialEq, Eq)]
enum AddressPrefix {
    /// `*`
    Any,
    ServiceTag,
    /// An IPv4/IPv6 address or a CIDR prefix without host bits.
    Address,
}

fn address_prefix(s: &str) -> Option<AddressPrefix> {
    if s == "*" {
        return Some(AddressPrefix::Any);
    }
    // Tags compare case-insensitively; the regional form `Storage.WestUS` exists for the
    // service tags, not for the three that the default rules use.
    let (base, region) = match s.split_once('.') {
        Some((b, r)) if !SERVICE_TAGS.iter().any(|t| t.eq_ignore_ascii_case(s)) => (b, Some(r)),
        _ => (s, None),
    };
    let known = SERVICE_TAGS.iter().any(|t| t.eq_ignore_ascii_case(base));
    let regional_ok = |r: &str| {
        !r.is_empty()
            && r.bytes().all(|b| b.is_ascii_alphanumeric())
            && !["VirtualNetwork", "Internet", "AzureLoadBalancer"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(base))
    };
    if known && region.is_none_or(regional_ok) {
        return Some(AddressPrefix::ServiceTag);
    }
    let exact_v4 = |n: Ipv4Net| n.trunc() == n;
    let exact_v6 = |n: ipnet::Ipv6Net| n.trunc() == n;
    let ok = s.parse::<std::net::IpAddr>().is_ok()
        || s.parse::<Ipv4Net>().is_ok_and(exact_v4)
        || s.parse::<ipnet::Ipv6Net>().is_ok_and(exact_v6);
    ok.then_some(AddressPrefix::Address)
}

/// A port or port range as ARM accepts it: `*`, `0`–`65535`, or `a-b` with `a <= b`.
fn port_range_ok(s: &str) -> bool {
    let num = |x: &str| {
        (1..=5).contains(&x.len())
            && x.bytes().all(|b| b.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|n| n <= 65535)
    };
    s == "*"
        || num(s)
        || s.split_once('-').is_some_and(|(a, b)| {
            num(a) && num(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok()
        })
}

fn security_rule(v: &Value, meta: Meta) -> R<SecurityRule> {
    let props = v.get("properties").cloned().unwrap_or(json!({}));
    let s = |f: &str| str_at(&props, &[f]).map(String::from);
    let pair = |single: &str, plural: &str| -> (Vec<String>, bool) {
        let many = strings(props.get(plural));
        if many.is_empty() {
            (s(single).into_iter().collect(), false)
        } else {
            (many, true)
        }
    };
    let protocol = one_of(
        &s("protocol").ok_or_else(|| invalid("securityRule.protocol is required."))?,
        &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"],
        "protocol",
    )?;
    let access = one_of(
        &s("access").ok_or_else(|| invalid("securityRule.access is required."))?,
        &["Allow", "Deny"],
        "access",
    )?;
    let direction = one_of(
        &s("direction").ok_or_else(|| invalid("securityRule.direction is required."))?,
        &["Inbound", "Outbound"],
        "direction",
    )?;
    let priority = int_at(&props, &["priority"])?
        .ok_or_else(|| invalid("securityRule.priority is required."))?;
    if !(100..=4096).contains(&priority) {
        return Err(bad_request("SecurityRuleInvalidPriority", format!("Security rule has invalid Priority. Value provided: {priority} Allowed range 100-4096.")));
    }
    let (source_ports, plural_source_ports) = pair("sourcePortRange", "sourcePortRanges");
    let (dest_ports, plural_dest_ports) = pair("destinationPortRange", "destinationPortRanges");
    let (sources, plural_sources) = pair("sourceAddressPrefix", "sourceAddressPrefixes");
    let (destinations, plural_destinations) =
        pair("destinationAddressPrefix", "destinationAddressPrefixes");
    let id = &meta.id;
    for (fields, v) in [
        ("SourcePortRanges or SourcePortRange", &source_ports),
        ("DestinationPortRanges or DestinationPortRange", &dest_ports),
        (
            "SourceAddressPrefixes, SourceAddressPrefix, or SourceApplicationSecurityGroups",
            &sources,
        ),
        (
            "DestinationAddressPrefixes, DestinationAddressPrefix, or DestinationApplicationSecurityGroups",
            &destinations,
        ),
    ] {
        if v.is_empty() {
            return Err(bad_request("SecurityRuleParametersMissing", format!("Required security rule parameters are missing for security rule with Id: {id}. Security rule must specify {fields}.")));
        }
    }
    for p in source_ports.iter().chain(&dest_ports) {
        if !port_range_ok(p) {
            return Err(bad_request("SecurityRuleInvalidPortRange", format!("Security rule has invalid Port range. Value provided: {p}. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535.")));
        }
    }
    for (field, plural, v) in [
        ("SourceAddressPrefixes", plural_sources, &sources),
        (
            "DestinationAddressPrefixes",
            plural_destinations,
            &destinations,
        ),
    ] {
        for p in v {
            match address_prefix(p) {
                None => {
                    return Err(bad_request(
                        "SecurityRuleInvalidAddressPrefix",
                        format!(
                            "Security rule {id} has invalid Address prefix. Value provided: {p}."
                        ),
                    ))
                }
                // The plural fields take addresses and prefixes only.
                Some(AddressPrefix::Any | AddressPrefix::ServiceTag) if plural => {
                    return Err(bad_request("SecurityRuleParameterContainsUnsupportedValue", format!("Security rule parameter {field} for rule with Id {id} cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: {p}.")));
                }
                Some(_) => {}
            }
        }
    }
    Ok(SecurityRule {
        meta,
        description: s("description"),
        protocol,
        source_ports,
        dest_ports,
        sources,
        destinations,
        access,
        priority: priority as u32,
        direction,
        plural_source_ports,
        plural_dest_ports,
        plural_sources,
        plural_destinations,
    })
}

fn check_rule_conflict<'a>(
    rules: impl Iterator<Item = &'a SecurityRule>,
    r: &SecurityRule,
) -> R<()> {
    for o in rules {
        if !o.meta.name.eq_ignore_ascii_case(&r.meta.name)
            && o.priority == r.priority
            && o.direction == r.direction
            && !o.meta.deleting()
        {
            return Err(bad_request("SecurityRuleConflict", format!("Security rule {} conflicts with rule {}. Rules cannot have the same Priority and Direction.", r.meta.name, o.meta.name)));
        }
    }
    Ok(())
}

pub(super) fn nsg_put(c: &mut Call, p: &ResPath) -> R<Response> {
    let (b, old) = put_start::<Nsg>(c, p)?;
    let location = c.location(&b, old.as_ref().map(|x| &x.meta))?;
    let ready = c.now() + c.lat(Op::AzureNsgRuleCreate);
    let meta = c.top_meta(p, &b, old.as_ref().map(|x| &x.meta), &location, ready)?;
    let rules = inline_children(
        c,
        &b,
        old.as_ref(),
        &meta.id,
        ready,
        "Every security rule needs a name.",
        |v, m, so_far| {
            let r = security_rule(v, m)?;
            check_rule_conflict(so_far.values(), &r)?;
            Ok(r)
        },
    )?;
    Ok(store_top(c, p, Nsg { meta, rules }, old.is_none()))
}

pub(super) fn nsg_delete(c: &mut Call, p: &ResPath) -> R<Response> {
    let refuse = |c: &Call, k: &str, n: &Nsg| {
        match c
        .az()
        .vnets
        .values()
        .flat_map(|v| v.subnets.values())
        .find(|s| s.nsg.as_deref().map(key).as_deref() == Some(k))
    {
        Some(s) => Err(bad_request("InUseNetworkSecurityGroupCannotBeDeleted", format!("Network security group {} cannot be deleted because it is in use by the following resources: {}.", n.meta.id, s.meta.id))),
        None => Ok(()),
    }
    };
    delete_top(c, p, Op::AzureDelete, refuse, |_, _| {})
}

impl Child for SecurityRule {
    child_of!(Nsg, rules, "securityRules");

    fn render(_: &AzureCloud, r: &SecurityRule, now: u64) -> Value {
        render::security_rule(r, render::RULE_TYPE, now)
    }

    fn build(
        c: &mut Call,
        nsg: &Nsg,
        b: &Value,
        old: Option<&SecurityRule>,
        id: String,
        name: &str,
    ) -> R<SecurityRule> {
        let ready = c.now() + c.lat(Op::AzureNsgRuleCreate);
        let m = c.child_meta(old.map(|r| &r.meta), id, name, ready);
        let r = security_rule(b, m)?;
        check_rule_conflict(nsg.rules.values(), &r)?;
        Ok(r)
    }
}

/// Security rules are children like any; the default rules are read-only and derived.
pub(super) fn rule_op(c: &mut Call, family: &str, verb: &str, p: &ResPath) -> R<Response> {
    if family != "DefaultSecurityRules" {
        return child_op::<SecurityRule>(c, verb, p);
    }
    let nsg = parent_of::<SecurityRule>(c, p)?;
    let now = c.now();
    let defaults = super::super::physics::default_rules(&nsg);
    let show = |r: &SecurityRule| render::security_rule(r, render::DEFAULT_RULE_TYPE, now);
    if verb == "List" {
        return Ok(list(defaults.iter().map(show).collect()));
    }
    let name = p.rest.get(1).cloned().unwrap_or_default();
    defaults
        .iter()
        .find(|r| r.meta.name.eq_ignore_ascii_case(&name))
        .map(|r| ok(show(r)))
        .ok_or_else(|| {
            arm::child_not_found(&format!("{}/defaultSecurityRules/{name}", nsg.meta.id))
        })
}
