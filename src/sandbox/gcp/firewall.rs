//! GCP VPC firewall evaluation: the lowest priority number wins, a deny beats an allow at the
//! same priority, and the implied rules (deny all ingress, allow all egress, priority 65535)
//! decide when nothing matches.

use super::model::{Firewall, FirewallEntry, GcpCloud};
use crate::sandbox::net::{Flow, FwDecision, Proto};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// `"443"` or `"1000-2000"` as an inclusive range.
pub fn port_range(p: &str) -> Option<(u16, u16)> {
    let (a, b) = p.split_once('-').unwrap_or((p, p));
    let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
    (a <= b).then_some((a, b))
}

fn entry_matches(e: &FirewallEntry, flow: Flow) -> bool {
    let proto_ok = matches!(
        (e.ip_protocol.as_str(), flow.proto),
        ("all", _)
            | ("tcp" | "6", Proto::Tcp)
            | ("udp" | "17", Proto::Udp)
            | ("icmp" | "1", Proto::Icmp)
    );
    if !proto_ok {
        return false;
    }
    if e.ports.is_empty() {
        return true;
    }
    match flow.port {
        Some(port) => e
            .ports
            .iter()
            .filter_map(|p| port_range(p))
            .any(|(a, b)| (a..=b).contains(&port)),
        None => false,
    }
}

fn in_ranges(ranges: &[String], addr: Ipv4Addr) -> bool {
    ranges
        .iter()
        .filter_map(|r| r.parse::<Ipv4Net>().ok())
        .any(|n| n.contains(&addr))
}

/// Whether `fw` applies to a packet from (ingress) or to (egress) `addr`.
fn applies(fw: &Firewall, ingress: bool, addr: Ipv4Addr, flow: Flow) -> Option<bool> {
    let direction = fw.direction.as_deref().unwrap_or("INGRESS");
    // Rules that target tagged instances cover only some hosts, never the network as a whole.
    if fw.disabled || (direction == "INGRESS") != ingress || !fw.target_tags.is_empty() {
        return None;
    }
    let ranges = if ingress {
        &fw.source_ranges
    } else {
        &fw.destination_ranges
    };
    if !in_ranges(ranges, addr) {
        return None;
    }
    let (entries, deny) = if fw.denied.is_empty() {
        (&fw.allowed, false)
    } else {
        (&fw.denied, true)
    };
    entries
        .iter()
        .any(|e| entry_matches(e, flow))
        .then_some(deny)
}

/// The verdict of `network`'s firewall rules on one packet, naming the deciding rule.
pub fn evaluate(
    c: &GcpCloud,
    network: &str,
    ingress: bool,
    addr: Ipv4Addr,
    flow: Flow,
) -> FwDecision {
    let mut best: Option<(u32, bool, &str)> = None;
    for r in c.firewalls.values().filter(|r| r.body.network == network) {
        let Some(deny) = applies(&r.body, ingress, addr, flow) else {
            continue;
        };
        let prio = r.body.priority.unwrap_or(1000);
        let better = match best {
            None => true,
            Some((bp, bdeny, _)) => prio < bp || (prio == bp && deny && !bdeny),
        };
        if better {
            best = Some((prio, deny, &r.body.name));
        }
    }
    match best {
        Some((prio, true, name)) => FwDecision::Deny {
            rule: format!("firewall rule {name} (priority {prio})"),
        },
        Some((prio, false, name)) => FwDecision::Allow {
            rule: format!("firewall rule {name} (priority {prio})"),
        },
        None if ingress => FwDecision::Deny {
            rule: "implied deny-all ingress rule (priority 65535)".into(),
        },
        None => FwDecision::Allow {
            rule: "implied allow-all egress rule (priority 65535)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::gcp::model::{Meta, Res};

    const NET: &str = "projects/p/global/networks/n";

    fn rule(name: &str, prio: u32, dir: &str, deny: bool, proto: &str, ports: &[&str]) -> Firewall {
        let e = vec![FirewallEntry {
            ip_protocol: proto.into(),
            ports: ports.iter().map(|p| p.to_string()).collect(),
        }];
        Firewall {
            name: name.into(),
            network: NET.into(),
            priority: Some(prio),
            direction: Some(dir.into()),
            source_ranges: if dir == "INGRESS" {
                vec!["10.10.0.0/16".into()]
            } else {
                vec![]
            },
            destination_ranges: if dir == "EGRESS" {
                vec!["10.10.0.0/16".into()]
            } else {
                vec![]
            },
            allowed: if deny { vec![] } else { e.clone() },
            denied: if deny { e } else { vec![] },
            ..Firewall::default()
        }
    }

    fn cloud(rules: Vec<Firewall>) -> GcpCloud {
        let mut c = GcpCloud::default();
        for r in rules {
            c.firewalls.insert(
                format!("projects/p/global/firewalls/{}", r.name),
                Res {
                    meta: Meta::default(),
                    body: r,
                },
            );
        }
        c
    }

    const TCP443: Flow = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    const SRC: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 5);

    #[test]
    fn ingress_without_rules_hits_the_implied_deny_and_egress_the_implied_allow() {
        let c = cloud(vec![]);
        assert!(
            matches!(evaluate(&c, NET, true, SRC, TCP443), FwDecision::Deny { rule } if rule.contains("implied deny-all ingress"))
        );
        assert!(
            matches!(evaluate(&c, NET, false, SRC, TCP443), FwDecision::Allow { rule } if rule.contains("implied allow-all egress"))
        );
    }

    #[test]
    fn lowest_priority_number_wins_and_deny_beats_allow_at_equal_priority() {
        let c = cloud(vec![
            rule("allow-443", 1000, "INGRESS", false, "tcp", &["443"]),
            rule("deny-all", 900, "INGRESS", true, "all", &[]),
        ]);
        assert_eq!(
            evaluate(&c, NET, true, SRC, TCP443),
            FwDecision::Deny {
                rule: "firewall rule deny-all (priority 900)".into()
            }
        );
        let c = cloud(vec![
            rule("allow-443", 1000, "INGRESS", false, "tcp", &["443"]),
            rule("deny-tcp", 1000, "INGRESS", true, "tcp", &[]),
        ]);
        assert!(
            matches!(evaluate(&c, NET, true, SRC, TCP443), FwDecision::Deny { rule } if rule.contains("deny-tcp"))
        );
        let c = cloud(vec![
            rule("allow-443", 100, "INGRESS", false, "tcp", &["400-500"]),
            rule("deny-tcp", 1000, "INGRESS", true, "tcp", &[]),
        ]);
        assert!(
            matches!(evaluate(&c, NET, true, SRC, TCP443), FwDecision::Allow { rule } if rule.contains("allow-443"))
        );
    }

    #[test]
    fn rules_match_only_their_ports_sources_and_direction() {
        let c = cloud(vec![rule(
            "allow-22",
            1000,
            "INGRESS",
            false,
            "tcp",
            &["22"],
        )]);
        assert!(matches!(
            evaluate(&c, NET, true, SRC, TCP443),
            FwDecision::Deny { .. }
        ));
        assert!(matches!(
            evaluate(
                &c,
                NET,
                true,
                Ipv4Addr::new(10, 99, 0, 1),
                Flow {
                    proto: Proto::Tcp,
                    port: Some(22)
                }
            ),
            FwDecision::Deny { .. }
        ));
        assert!(matches!(
            evaluate(
                &c,
                NET,
                true,
                SRC,
                Flow {
                    proto: Proto::Tcp,
                    port: Some(22)
                }
            ),
            FwDecision::Allow { .. }
        ));
        let c = cloud(vec![rule("deny-out", 1000, "EGRESS", true, "icmp", &[])]);
        let icmp = Flow {
            proto: Proto::Icmp,
            port: None,
        };
        assert!(
            matches!(evaluate(&c, NET, false, SRC, icmp), FwDecision::Deny { rule } if rule.contains("deny-out"))
        );
        assert!(
            matches!(evaluate(&c, NET, false, SRC, TCP443), FwDecision::Allow { rule } if rule.contains("implied"))
        );
        assert!(
            matches!(evaluate(&c, NET, true, SRC, icmp), FwDecision::Deny { rule } if rule.contains("implied"))
        );
    }

    #[test]
    fn disabled_rules_do_not_count() {
        let mut r = rule("allow-443", 1000, "INGRESS", false, "tcp", &["443"]);
        r.disabled = true;
        let c = cloud(vec![r]);
        assert!(
            matches!(evaluate(&c, NET, true, SRC, TCP443), FwDecision::Deny { rule } if rule.contains("implied"))
        );
    }
}
