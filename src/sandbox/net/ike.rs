//! IKE negotiation as the physics sees it: each cloud's default offers, algorithm names
//! brought to one spelling, and whether two ends find a common algorithm set per phase.
//! The lists and their sources are in docs/sandbox-physics.md.

use super::{DownReason, Proposal, TunnelEnd};
use crate::cloud::Cloud;
use ipnet::Ipv4Net;

/// Which IKE phase a proposal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    One,
    Two,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What `cloud` offers in `phase` when the tunnel does not set its own lists.
///
/// AWS offers every algorithm it supports (EC2 API `VpnTunnelOptionsSpecification`). GCP has
/// no per-tunnel setting and offers its whole "Supported IKE ciphers" table. Azure uses its
/// default policy ("About VPN devices and IPsec/IKE parameters"): DH group 2 only in main mode;
/// in quick mode the union of what it offers as initiator and accepts as responder, with the
/// PFS groups it accepts.
pub fn default_proposal(cloud: Cloud, phase: Phase) -> Proposal {
    match (cloud, phase) {
        (Cloud::Aws, Phase::One) => Proposal {
            encryption: strings(&["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"]),
            integrity: strings(&["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"]),
            dh_groups: vec![2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
        },
        (Cloud::Aws, Phase::Two) => Proposal {
            encryption: strings(&["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"]),
            integrity: strings(&["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"]),
            dh_groups: vec![2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
        },
        (Cloud::Gcp, _) => Proposal {
            encryption: strings(&[
                "AES128",
                "AES192",
                "AES256",
                "AES128-GCM-8",
                "AES192-GCM-8",
                "AES256-GCM-8",
                "AES128-GCM-12",
                "AES192-GCM-12",
                "AES256-GCM-12",
                "AES128-GCM-16",
                "AES192-GCM-16",
                "AES256-GCM-16",
            ]),
            integrity: strings(&["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"]),
            // Group 22 was dropped by Google's 2024 cipher change; 31 is Curve25519.
            dh_groups: vec![2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 31],
        },
        (Cloud::Azure, Phase::One) => Proposal {
            encryption: strings(&["AES256", "AES128", "3DES"]),
            integrity: strings(&["SHA1", "SHA2-256"]),
            dh_groups: vec![2],
        },
        (Cloud::Azure, Phase::Two) => Proposal {
            encryption: strings(&["AES256-GCM-16", "AES256", "AES128", "3DES", "DES"]),
            integrity: strings(&["SHA1", "SHA2-256", "MD5"]),
            dh_groups: vec![1, 2, 5, 14, 24],
        },
    }
}

/// The IKE versions `cloud` speaks when a tunnel does not say: AWS both, GCP and Azure
/// route-based gateways IKEv2 (GCP's `ikeVersion` defaults to 2, Azure's
/// `connectionProtocol` to IKEv2).
pub fn default_ike_versions(cloud: Cloud) -> Vec<u8> {
    match cloud {
        Cloud::Aws => vec![1, 2],
        Cloud::Gcp | Cloud::Azure => vec![2],
    }
}

/// One spelling for the algorithm names the three APIs use, so that front ends may pass
/// their cloud's own names: AWS `AES256-GCM-16`, `SHA2-256`; GCP `AES-CBC-256`,
/// `AES-GCM-16-256`, `HMAC-SHA2-256-128`; Azure `GCMAES256`, `SHA256`, `DES3`.
/// The canonical form is AWS's.
pub fn canonical_algorithm(name: &str) -> String {
    let n = name.trim().to_ascii_uppercase().replace('_', "-");
    // GCP: AES-CBC-256 / AES-GCM-16-256
    if let Some(bits) = n.strip_prefix("AES-CBC-") {
        return format!("AES{bits}");
    }
    if let Some(rest) = n.strip_prefix("AES-GCM-") {
        if let Some((icv, bits)) = rest.split_once('-') {
            return format!("AES{bits}-GCM-{icv}");
        }
    }
    // Azure: GCMAES256 (16-octet ICV)
    if let Some(bits) = n.strip_prefix("GCMAES") {
        return format!("AES{bits}-GCM-16");
    }
    // GCP integrity: HMAC-SHA2-256-128, HMAC-SHA1-96, HMAC-MD5-96
    let n = match n.strip_prefix("HMAC-") {
        Some(rest) => match rest.rsplit_once('-') {
            Some((alg, _truncation)) if alg.starts_with("SHA") || alg == "MD5" => alg.to_string(),
            _ => rest.to_string(),
        },
        None => n,
    };
    match n.as_str() {
        "SHA256" => "SHA2-256".into(),
        "SHA384" => "SHA2-384".into(),
        "SHA512" => "SHA2-512".into(),
        "SHA" | "SHA-1" | "SHA128" => "SHA1".into(),
        "DES3" | "3DES-CBC" | "TRIPLEDES" => "3DES".into(),
        "AES-128" => "AES128".into(),
        "AES-192" => "AES192".into(),
        "AES-256" => "AES256".into(),
        _ => n,
    }
}

fn is_gcm(canonical: &str) -> bool {
    canonical.contains("-GCM-")
}

fn common(a: &[String], b: &[String]) -> Vec<String> {
    let b: Vec<String> = b.iter().map(|s| canonical_algorithm(s)).collect();
    a.iter()
        .map(|s| canonical_algorithm(s))
        .filter(|s| b.contains(s))
        .collect()
}

/// Whether the two offers share an algorithm set for `phase`. A GCM cipher carries its own
/// integrity check, so in phase 2 it needs no common integrity algorithm; phase 1 always
/// needs one (IKE derives its PRF from it).
pub fn proposals_agree(a: &Proposal, b: &Proposal, phase: Phase) -> bool {
    let enc = common(&a.encryption, &b.encryption);
    let integ: Vec<String> = common(&a.integrity, &b.integrity)
        .into_iter()
        .filter(|s| !is_gcm(s))
        .collect();
    let dh = a.dh_groups.iter().any(|g| b.dh_groups.contains(g));
    let enc_ok = match phase {
        Phase::One => !enc.is_empty() && !integ.is_empty(),
        Phase::Two => enc.iter().any(|e| is_gcm(e)) || (!enc.is_empty() && !integ.is_empty()),
    };
    enc_ok && dh
}

fn effective(end: &TunnelEnd, phase: Phase) -> Proposal {
    let own = match phase {
        Phase::One => &end.phase1,
        Phase::Two => &end.phase2,
    };
    own.clone()
        .unwrap_or_else(|| default_proposal(end.id.cloud, phase))
}

fn versions(end: &TunnelEnd) -> Vec<u8> {
    if end.ike_versions.is_empty() {
        default_ike_versions(end.id.cloud)
    } else {
        end.ike_versions.clone()
    }
}

const ANY: Ipv4Net = Ipv4Net::new_assert(std::net::Ipv4Addr::UNSPECIFIED, 0);

fn selectors(end: &TunnelEnd) -> (Vec<Ipv4Net>, Vec<Ipv4Net>) {
    let norm = |v: &[Ipv4Net]| {
        let mut v: Vec<Ipv4Net> = if v.is_empty() { vec![ANY] } else { v.to_vec() };
        v.sort();
        v.dedup();
        v
    };
    match &end.selectors {
        None => (vec![ANY], vec![ANY]),
        Some((l, r)) => (norm(l), norm(r)),
    }
}

/// The first reason two paired ends cannot bring their tunnel up, checking in the order an
/// IKE exchange would fail: authentication, version, phase 1, phase 2, traffic selectors.
pub fn mismatch(a: &TunnelEnd, b: &TunnelEnd) -> Option<DownReason> {
    match (&a.psk, &b.psk) {
        (Some(x), Some(y)) if x == y => {}
        _ => return Some(DownReason::PskMismatch),
    }
    let vb = versions(b);
    if !versions(a).iter().any(|v| vb.contains(v)) {
        return Some(DownReason::IkeVersionMismatch);
    }
    for phase in [Phase::One, Phase::Two] {
        if !proposals_agree(&effective(a, phase), &effective(b, phase), phase) {
            return Some(DownReason::ProposalMismatch);
        }
    }
    // Route-based gateways (GCP HA and classic, Azure RouteBased, AWS by default) propose
    // 0.0.0.0/0 both ways, and GCP HA VPN refuses narrowing: the selectors must mirror.
    let (al, ar) = selectors(a);
    let (bl, br) = selectors(b);
    if al != br || ar != bl {
        return Some(DownReason::TrafficSelectorMismatch);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_spellings_of_one_algorithm_are_the_same() {
        assert_eq!(canonical_algorithm("AES-CBC-256"), "AES256");
        assert_eq!(canonical_algorithm("AES-GCM-16-256"), "AES256-GCM-16");
        assert_eq!(canonical_algorithm("GCMAES256"), "AES256-GCM-16");
        assert_eq!(canonical_algorithm("HMAC-SHA2-256-128"), "SHA2-256");
        assert_eq!(canonical_algorithm("SHA256"), "SHA2-256");
        assert_eq!(canonical_algorithm("HMAC-SHA1-96"), "SHA1");
        assert_eq!(canonical_algorithm("DES3"), "3DES");
        assert_eq!(canonical_algorithm("sha2-384"), "SHA2-384");
    }

    #[test]
    fn every_pair_of_cloud_defaults_agrees() {
        for a in Cloud::ALL {
            for b in Cloud::ALL {
                for phase in [Phase::One, Phase::Two] {
                    assert!(
                        proposals_agree(
                            &default_proposal(a, phase),
                            &default_proposal(b, phase),
                            phase
                        ),
                        "{a}/{b} {phase:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn dh14_only_does_not_meet_azure_default_main_mode() {
        let aws = Proposal {
            encryption: vec!["AES256".into()],
            integrity: vec!["SHA2-256".into()],
            dh_groups: vec![14],
        };
        assert!(!proposals_agree(
            &aws,
            &default_proposal(Cloud::Azure, Phase::One),
            Phase::One
        ));
        assert!(proposals_agree(
            &aws,
            &default_proposal(Cloud::Gcp, Phase::One),
            Phase::One
        ));
    }

    #[test]
    fn gcm_needs_no_common_integrity_in_phase_two_only() {
        let a = Proposal {
            encryption: vec!["AES256-GCM-16".into()],
            integrity: vec!["SHA1".into()],
            dh_groups: vec![14],
        };
        let b = Proposal {
            encryption: vec!["GCMAES256".into()],
            integrity: vec!["SHA2-256".into()],
            dh_groups: vec![14],
        };
        assert!(proposals_agree(&a, &b, Phase::Two));
        assert!(!proposals_agree(&a, &b, Phase::One));
    }
}
