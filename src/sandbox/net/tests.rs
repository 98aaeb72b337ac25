//! Unit tests of the physics over fake cloud models: pairing, every down reason, BGP, and
//! reachability.

use super::*;
use crate::cloud::Cloud;

const AWS_NET: &str = "aws:vpc-1";
const GCP_NET: &str = "gcp:projects/p/global/networks/n";
const AZ_NET: &str =
    "azure:/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn cidr(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn id(cloud: Cloud, resource: &str, tunnel: u8) -> EndId {
    EndId {
        cloud,
        resource: resource.into(),
        tunnel,
    }
}

fn end(cloud: Cloud, resource: &str, tunnel: u8, local: &str, peer: &str) -> TunnelEnd {
    let network = match cloud {
        Cloud::Aws => AWS_NET,
        Cloud::Gcp => GCP_NET,
        Cloud::Azure => AZ_NET,
    };
    TunnelEnd {
        id: id(cloud, resource, tunnel),
        network: network.into(),
        local_ip: Some(ip(local)),
        peer_ip: Some(ip(peer)),
        psk: Some("Secretkey0123456789abcdefABCDEF01".into()),
        ike_versions: vec![],
        phase1: None,
        phase2: None,
        selectors: None,
        bgp: None,
        advertises: vec![],
        ready_ms: 0,
        disabled: false,
    }
}

fn bgp(local: &str, peer: &str, local_asn: u32, peer_asn: u32) -> Option<BgpConfig> {
    Some(BgpConfig {
        local_ip: ip(local),
        prefix_len: 30,
        peer_ip: ip(peer),
        local_asn,
        peer_asn,
    })
}

/// A cloud that reports fixed ends and networks; routes follow the decided state the way
/// the real front ends do (static routes need an up tunnel, BGP routes need a learned
/// prefix); firewalls admit only what is listed.
#[derive(Default)]
struct Fake {
    cloud: Option<Cloud>,
    ends: Vec<TunnelEnd>,
    nets: Vec<NetInfo>,
    statics: Vec<(NetKey, Ipv4Net, EndId)>,
    bgp_ends: Vec<(NetKey, EndId)>,
    ingress_allow: Vec<(NetKey, Ipv4Net)>,
    egress_deny: Vec<(NetKey, Ipv4Net)>,
}

impl Fake {
    fn new(cloud: Cloud) -> Fake {
        Fake {
            cloud: Some(cloud),
            ..Fake::default()
        }
    }
    fn with_ends(cloud: Cloud, ends: Vec<TunnelEnd>) -> Fake {
        Fake {
            ends,
            ..Fake::new(cloud)
        }
    }
    fn net(mut self, key: &str, name: &str, c: &str) -> Fake {
        self.nets.push(NetInfo {
            key: key.into(),
            cloud: self.cloud.unwrap_or(Cloud::Aws),
            name: Some(name.into()),
            cidrs: vec![cidr(c)],
        });
        self
    }
}

impl CloudModel for Fake {
    fn tunnel_ends(&self, _now_ms: u64) -> Vec<TunnelEnd> {
        self.ends.clone()
    }
    fn networks(&self) -> Vec<NetInfo> {
        self.nets.clone()
    }
    fn route(&self, network: &str, dst: Ipv4Addr, net: &NetState) -> RouteDecision {
        let own = self.nets.iter().find(|n| n.key == network);
        if own.is_some_and(|n| n.cidrs.iter().any(|c| c.contains(&dst))) {
            return RouteDecision::Local;
        }
        for (n, prefix, end) in &self.statics {
            if n == network && prefix.contains(&dst) && net.is_up(end) {
                return RouteDecision::Tunnel {
                    end: end.clone(),
                    route: format!("static route {prefix}"),
                };
            }
        }
        for (n, end) in &self.bgp_ends {
            if n == network && net.learned(end).iter().any(|p| p.contains(&dst)) {
                return RouteDecision::Tunnel {
                    end: end.clone(),
                    route: "propagated BGP route".into(),
                };
            }
        }
        RouteDecision::NoRoute {
            table: format!("route table of {network}"),
        }
    }
    fn ingress(&self, network: &str, src: Ipv4Addr, _flow: Flow) -> FwDecision {
        match self
            .ingress_allow
            .iter()
            .find(|(n, p)| n == network && p.contains(&src))
        {
            Some((_, p)) => FwDecision::Allow {
                rule: format!("allow-{p}"),
            },
            None => FwDecision::Deny {
                rule: format!("no ingress rule for {src} in fw-{network}"),
            },
        }
    }
    fn egress(&self, network: &str, dst: Ipv4Addr, _flow: Flow) -> FwDecision {
        match self
            .egress_deny
            .iter()
            .find(|(n, p)| n == network && p.contains(&dst))
        {
            Some((_, p)) => FwDecision::Deny {
                rule: format!("egress deny {p}"),
            },
            None => FwDecision::Allow {
                rule: "default egress".into(),
            },
        }
    }
    fn created_resources(&self) -> usize {
        self.ends.len()
    }
}

const INSTANT: Latency = Latency { scale: 0.0 };

fn eval(models: &[&dyn CloudModel]) -> NetState {
    evaluate_models(models, 1_000, &INSTANT)
}

/// An AWS end and a GCP end that agree on everything.
fn matching_pair() -> (TunnelEnd, TunnelEnd) {
    (
        end(Cloud::Aws, "vpn-1", 0, "198.18.0.1", "198.18.128.1"),
        end(Cloud::Gcp, "tunnel-a", 0, "198.18.128.1", "198.18.0.1"),
    )
}

fn eval_pair(a: TunnelEnd, b: TunnelEnd) -> (EndStatus, EndStatus) {
    let (ia, ib) = (a.id.clone(), b.id.clone());
    let aws = Fake::with_ends(Cloud::Aws, vec![a]);
    let gcp = Fake::with_ends(Cloud::Gcp, vec![b]);
    let s = eval(&[&aws, &gcp]);
    (s.end(&ia).unwrap().clone(), s.end(&ib).unwrap().clone())
}

fn reason_pair(a: TunnelEnd, b: TunnelEnd) -> (Option<DownReason>, Option<DownReason>) {
    let (x, y) = eval_pair(a, b);
    (x.reason, y.reason)
}

#[test]
fn matching_ends_come_up_and_name_each_other() {
    let (a, b) = matching_pair();
    let (x, y) = eval_pair(a.clone(), b.clone());
    assert!(x.up && y.up);
    assert_eq!(x.peer.as_ref(), Some(&b.id));
    assert_eq!(y.peer.as_ref(), Some(&a.id));
    assert_eq!(x.peer_network.as_deref(), Some(GCP_NET));
    assert_eq!(y.peer_network.as_deref(), Some(AWS_NET));
}

#[test]
fn end_before_its_ready_time_or_without_address_is_provisioning() {
    let (mut a, b) = matching_pair();
    a.ready_ms = 5_000;
    assert_eq!(reason_pair(a, b.clone()).0, Some(DownReason::Provisioning));
    let (mut a, _) = matching_pair();
    a.local_ip = None;
    let (x, y) = reason_pair(a, b);
    assert_eq!(x, Some(DownReason::Provisioning));
    // Nothing answers at the address the GCP end expects its peer at.
    assert_eq!(y, Some(DownReason::NoPeer));
}

#[test]
fn disabled_peer_leaves_no_peer() {
    let (a, mut b) = matching_pair();
    b.disabled = true;
    let (x, y) = reason_pair(a, b);
    assert_eq!(x, Some(DownReason::NoPeer));
    assert_eq!(y, Some(DownReason::Provisioning));
}

#[test]
fn nothing_at_the_peer_address_is_no_peer() {
    let (a, mut b) = matching_pair();
    b.local_ip = Some(ip("198.18.128.99"));
    b.peer_ip = Some(ip("198.18.0.99"));
    assert_eq!(
        reason_pair(a, b),
        (Some(DownReason::NoPeer), Some(DownReason::NoPeer))
    );
}

#[test]
fn peer_expecting_another_address_is_peer_address_mismatch() {
    let (a, mut b) = matching_pair();
    // GCP answers at the AWS end's peer address but expects AWS somewhere else.
    b.peer_ip = Some(ip("198.18.0.77"));
    let (x, y) = eval_pair(a, b.clone());
    assert_eq!(x.reason, Some(DownReason::PeerAddressMismatch));
    assert_eq!(x.peer.as_ref(), Some(&b.id));
    assert_eq!(y.reason, Some(DownReason::NoPeer));
}

#[test]
fn different_keys_are_psk_mismatch_on_both_ends() {
    let (a, mut b) = matching_pair();
    b.psk = Some("Otherkey0123456789abcdefABCDEF012".into());
    assert_eq!(
        reason_pair(a, b),
        (Some(DownReason::PskMismatch), Some(DownReason::PskMismatch))
    );
}

#[test]
fn no_common_ike_version_is_ike_version_mismatch() {
    let (mut a, b) = matching_pair();
    a.ike_versions = vec![1];
    // GCP speaks IKEv2 when the tunnel does not say.
    assert_eq!(
        reason_pair(a.clone(), b.clone()).0,
        Some(DownReason::IkeVersionMismatch)
    );
    a.ike_versions = vec![1, 2];
    assert!(eval_pair(a, b).0.up);
}

#[test]
fn no_common_phase1_or_phase2_set_is_proposal_mismatch() {
    let (mut a, mut b) = matching_pair();
    a.phase1 = Some(Proposal {
        encryption: vec!["AES256".into()],
        integrity: vec!["SHA2-256".into()],
        dh_groups: vec![14],
    });
    b.phase1 = Some(Proposal {
        encryption: vec!["AES-CBC-256".into()],
        integrity: vec!["HMAC-SHA2-256-128".into()],
        dh_groups: vec![19],
    });
    assert_eq!(
        reason_pair(a.clone(), b.clone()),
        (
            Some(DownReason::ProposalMismatch),
            Some(DownReason::ProposalMismatch)
        )
    );
    // Same algorithms in GCP's spelling, common DH group: up.
    b.phase1.as_mut().unwrap().dh_groups = vec![19, 14];
    assert!(eval_pair(a.clone(), b.clone()).0.up);
    // Phase 2 alone can fail too.
    a.phase2 = Some(Proposal {
        encryption: vec!["AES128".into()],
        integrity: vec!["SHA1".into()],
        dh_groups: vec![2],
    });
    b.phase2 = Some(Proposal {
        encryption: vec!["AES-CBC-256".into()],
        integrity: vec!["HMAC-SHA1-96".into()],
        dh_groups: vec![2],
    });
    assert_eq!(reason_pair(a, b).0, Some(DownReason::ProposalMismatch));
}

#[test]
fn aws_single_dh14_set_against_azure_default_policy_is_proposal_mismatch() {
    let mut a = end(Cloud::Aws, "vpn-1", 0, "198.18.0.1", "198.19.0.1");
    a.phase1 = Some(Proposal {
        encryption: vec!["AES256".into()],
        integrity: vec!["SHA2-256".into()],
        dh_groups: vec![14],
    });
    let z = end(Cloud::Azure, "conn-1", 0, "198.19.0.1", "198.18.0.1");
    let (ia, iz) = (a.id.clone(), z.id.clone());
    let aws = Fake::with_ends(Cloud::Aws, vec![a]);
    let az = Fake::with_ends(Cloud::Azure, vec![z]);
    let s = eval(&[&aws, &az]);
    assert_eq!(
        s.end(&ia).unwrap().reason,
        Some(DownReason::ProposalMismatch)
    );
    assert_eq!(
        s.end(&iz).unwrap().reason,
        Some(DownReason::ProposalMismatch)
    );
}

#[test]
fn narrowed_selectors_against_ha_style_any_is_traffic_selector_mismatch() {
    let (mut a, b) = matching_pair();
    a.selectors = Some((vec![cidr("10.10.0.0/16")], vec![cidr("10.20.0.0/16")]));
    assert_eq!(
        reason_pair(a.clone(), b.clone()),
        (
            Some(DownReason::TrafficSelectorMismatch),
            Some(DownReason::TrafficSelectorMismatch)
        )
    );
    // Explicit 0.0.0.0/0 both ways is the same as none.
    a.selectors = Some((vec![cidr("0.0.0.0/0")], vec![cidr("0.0.0.0/0")]));
    assert!(eval_pair(a, b).0.up);
}

#[test]
fn agreeing_ends_negotiate_for_the_handshake_time_then_come_up() {
    let (mut a, b) = matching_pair();
    a.ready_ms = 10_000;
    let latency = Latency { scale: 1.0 };
    let handshake = latency.ms(Op::TunnelHandshake);
    let (ia, ib) = (a.id.clone(), b.id.clone());
    let aws = Fake::with_ends(Cloud::Aws, vec![a]);
    let gcp = Fake::with_ends(Cloud::Gcp, vec![b]);
    let models: [&dyn CloudModel; 2] = [&aws, &gcp];
    let s = evaluate_models(&models, 10_000 + handshake - 1, &latency);
    // The GCP end has been ready for long; it waits on the later of the two.
    assert_eq!(s.end(&ib).unwrap().reason, Some(DownReason::Negotiating));
    assert_eq!(s.end(&ia).unwrap().reason, Some(DownReason::Negotiating));
    let s = evaluate_models(&models, 10_000 + handshake, &latency);
    let x = s.end(&ia).unwrap();
    assert!(x.up);
    assert_eq!(x.since_ms, 10_000 + handshake);
}

#[test]
fn aws_standby_tunnel_whose_peer_serves_tunnel_one_is_no_peer() {
    // AWS–Azure static: both AWS tunnels point at the Azure IP; Azure's one connection
    // points at tunnel 1 only.
    let t1 = end(Cloud::Aws, "vpn-1", 0, "198.18.0.1", "198.19.0.1");
    let t2 = end(Cloud::Aws, "vpn-1", 1, "198.18.0.2", "198.19.0.1");
    let z = end(Cloud::Azure, "conn-1", 0, "198.19.0.1", "198.18.0.1");
    let (i1, i2, iz) = (t1.id.clone(), t2.id.clone(), z.id.clone());
    // The pairing must not depend on the order the ends are listed in.
    for order in [vec![t1.clone(), t2.clone()], vec![t2, t1]] {
        let aws = Fake::with_ends(Cloud::Aws, order);
        let az = Fake::with_ends(Cloud::Azure, vec![z.clone()]);
        let s = eval(&[&az, &aws]);
        assert!(s.end(&i1).unwrap().up);
        assert_eq!(s.end(&iz).unwrap().peer.as_ref(), Some(&i1));
        let standby = s.end(&i2).unwrap();
        assert_eq!(standby.reason, Some(DownReason::NoPeer));
        assert_eq!(standby.peer, None);
    }
}

#[test]
fn ha_interface_shared_by_two_tunnels_pairs_each_by_mutual_address() {
    // GCP HA interface 0 carries tunnels to AWS connection 1 tunnel 1 and tunnel 2.
    let g0 = end(Cloud::Gcp, "t0", 0, "198.18.128.1", "198.18.0.1");
    let g1 = end(Cloud::Gcp, "t1", 0, "198.18.128.1", "198.18.0.2");
    let a1 = end(Cloud::Aws, "vpn-1", 0, "198.18.0.1", "198.18.128.1");
    let a2 = end(Cloud::Aws, "vpn-1", 1, "198.18.0.2", "198.18.128.1");
    let ids = [g0.id.clone(), g1.id.clone(), a1.id.clone(), a2.id.clone()];
    let gcp = Fake::with_ends(Cloud::Gcp, vec![g0, g1]);
    let aws = Fake::with_ends(Cloud::Aws, vec![a2, a1]);
    let s = eval(&[&aws, &gcp]);
    assert_eq!(s.end(&ids[0]).unwrap().peer.as_ref(), Some(&ids[2]));
    assert_eq!(s.end(&ids[1]).unwrap().peer.as_ref(), Some(&ids[3]));
    assert!(ids.iter().all(|i| s.is_up(i)));
}

fn bgp_pair(a_cfg: Option<BgpConfig>, b_cfg: Option<BgpConfig>) -> (TunnelEnd, TunnelEnd) {
    let (mut a, mut b) = matching_pair();
    a.bgp = a_cfg;
    b.bgp = b_cfg;
    a.advertises = vec![cidr("10.10.0.0/16")];
    b.advertises = vec![cidr("10.20.0.0/16"), cidr("10.21.0.0/16")];
    (a, b)
}

#[test]
fn mirrored_bgp_over_an_up_tunnel_is_established_and_learns_the_peer_prefixes() {
    let (a, b) = bgp_pair(
        bgp("169.254.10.1", "169.254.10.2", 64512, 65001),
        bgp("169.254.10.2", "169.254.10.1", 65001, 64512),
    );
    let (x, y) = eval_pair(a, b);
    let (xb, yb) = (x.bgp.unwrap(), y.bgp.unwrap());
    assert_eq!(xb.state, BgpState::Established);
    assert_eq!(xb.learned, vec![cidr("10.20.0.0/16"), cidr("10.21.0.0/16")]);
    assert_eq!(yb.state, BgpState::Established);
    assert_eq!(yb.learned, vec![cidr("10.10.0.0/16")]);
}

#[test]
fn bgp_asn_mismatch_is_active_naming_the_asn_and_learns_nothing() {
    let (a, b) = bgp_pair(
        bgp("169.254.10.1", "169.254.10.2", 64512, 65002),
        bgp("169.254.10.2", "169.254.10.1", 65001, 64512),
    );
    let (x, y) = eval_pair(a, b);
    assert!(x.up, "the tunnel itself is up");
    let xb = x.bgp.unwrap();
    assert_eq!(xb.state, BgpState::Active);
    assert!(xb.learned.is_empty());
    let detail = xb.detail.unwrap();
    assert!(
        detail.contains("ASN") && detail.contains("65002"),
        "{detail}"
    );
    let yb = y.bgp.unwrap();
    assert_eq!(yb.state, BgpState::Active);
    assert!(yb.learned.is_empty());
}

#[test]
fn same_asn_on_both_sides_is_active() {
    let (a, b) = bgp_pair(
        bgp("169.254.10.1", "169.254.10.2", 64512, 64512),
        bgp("169.254.10.2", "169.254.10.1", 64512, 64512),
    );
    let xb = eval_pair(a, b).0.bgp.unwrap();
    assert_eq!(xb.state, BgpState::Active);
    assert!(xb.detail.unwrap().contains("different ASNs"));
}

#[test]
fn bgp_inside_address_mismatch_is_active_naming_the_addresses() {
    // Mirrored ASNs, but the GCP side uses an inside range of another /30.
    let (a, b) = bgp_pair(
        bgp("169.254.10.1", "169.254.10.2", 64512, 65001),
        bgp("169.254.10.6", "169.254.10.5", 65001, 64512),
    );
    let xb = eval_pair(a, b).0.bgp.unwrap();
    assert_eq!(xb.state, BgpState::Active);
    assert!(xb.learned.is_empty());
    let detail = xb.detail.unwrap();
    assert!(
        detail.contains("inside address") && detail.contains("169.254.10.6"),
        "{detail}"
    );
}

#[test]
fn bgp_addresses_must_be_two_hosts_of_one_slash_30() {
    // .0 and .1 mirror each other but .0 is the /30's network address.
    let (a, b) = bgp_pair(
        bgp("169.254.10.0", "169.254.10.1", 64512, 65001),
        bgp("169.254.10.1", "169.254.10.0", 65001, 64512),
    );
    assert_eq!(eval_pair(a, b).0.bgp.unwrap().state, BgpState::Active);
    // .2 and .5 are in different /30s.
    let (a, b) = bgp_pair(
        bgp("169.254.10.2", "169.254.10.5", 64512, 65001),
        bgp("169.254.10.5", "169.254.10.2", 65001, 64512),
    );
    assert_eq!(eval_pair(a, b).0.bgp.unwrap().state, BgpState::Active);
}

#[test]
fn bgp_over_a_down_tunnel_is_idle_and_learns_nothing() {
    let (a, mut b) = bgp_pair(
        bgp("169.254.10.1", "169.254.10.2", 64512, 65001),
        bgp("169.254.10.2", "169.254.10.1", 65001, 64512),
    );
    b.psk = Some("Wrongkey0123456789abcdefABCDEF012".into());
    let x = eval_pair(a, b).0;
    assert_eq!(x.reason, Some(DownReason::PskMismatch));
    let xb = x.bgp.unwrap();
    assert_eq!(xb.state, BgpState::Idle);
    assert!(xb.learned.is_empty());
}

#[test]
fn bgp_learns_nothing_until_the_session_setup_time_has_passed() {
    let (a, b) = bgp_pair(
        bgp("169.254.10.1", "169.254.10.2", 64512, 65001),
        bgp("169.254.10.2", "169.254.10.1", 65001, 64512),
    );
    let ia = a.id.clone();
    let latency = Latency { scale: 1.0 };
    let up_at = latency.ms(Op::TunnelHandshake);
    let established_at = up_at + latency.ms(Op::BgpEstablish);
    let aws = Fake::with_ends(Cloud::Aws, vec![a]);
    let gcp = Fake::with_ends(Cloud::Gcp, vec![b]);
    let models: [&dyn CloudModel; 2] = [&aws, &gcp];
    let s = evaluate_models(&models, established_at - 1, &latency);
    assert!(s.is_up(&ia));
    assert_eq!(
        s.end(&ia).unwrap().bgp.as_ref().unwrap().state,
        BgpState::Active
    );
    assert!(s.learned(&ia).is_empty());
    let s = evaluate_models(&models, established_at, &latency);
    assert_eq!(
        s.learned(&ia),
        &[cidr("10.20.0.0/16"), cidr("10.21.0.0/16")]
    );
}

/// AWS (10.10/16) and GCP (10.20/16) joined by one tunnel with static routes both ways
/// and ingress rules admitting each other.
fn static_link() -> (Fake, Fake) {
    let (a, b) = matching_pair();
    let (ia, ib) = (a.id.clone(), b.id.clone());
    let mut aws = Fake::with_ends(Cloud::Aws, vec![a]).net(AWS_NET, "aws-use1", "10.10.0.0/16");
    let mut gcp = Fake::with_ends(Cloud::Gcp, vec![b]).net(GCP_NET, "gcp-usc1", "10.20.0.0/16");
    aws.statics.push((AWS_NET.into(), cidr("10.20.0.0/16"), ia));
    gcp.statics.push((GCP_NET.into(), cidr("10.10.0.0/16"), ib));
    aws.ingress_allow
        .push((AWS_NET.into(), cidr("10.20.0.0/16")));
    gcp.ingress_allow
        .push((GCP_NET.into(), cidr("10.10.0.0/16")));
    (aws, gcp)
}

const HTTPS: Flow = Flow {
    proto: Proto::Tcp,
    port: Some(443),
};

fn reach2(aws: &Fake, gcp: &Fake, from: &str, to: &str) -> Result<Path, Blocked> {
    let models: [&dyn CloudModel; 2] = [aws, gcp];
    let s = evaluate_models(&models, 1_000, &INSTANT);
    reach_models(&models, &s, from, to, HTTPS)
}

#[test]
fn static_link_reaches_both_ways_by_name_or_key() {
    let (aws, gcp) = static_link();
    let p = reach2(&aws, &gcp, "aws-use1", "gcp-usc1").unwrap();
    assert_eq!(p.src, ip("10.10.0.10"));
    assert_eq!(p.dst, ip("10.20.0.10"));
    assert!(p
        .forward
        .iter()
        .any(|h| matches!(h, Hop::Tunnel { to, .. } if to.cloud == Cloud::Gcp)));
    assert!(matches!(p.forward.last(), Some(Hop::Ingress { .. })));
    assert!(matches!(p.back.first(), Some(Hop::Route { network, .. }) if network == GCP_NET));
    assert!(reach2(&aws, &gcp, GCP_NET, AWS_NET).is_ok());
}

#[test]
fn missing_ingress_rule_blocks_exactly_one_direction() {
    let (mut aws, gcp) = static_link();
    aws.ingress_allow.clear();
    let err = reach2(&aws, &gcp, "gcp-usc1", "aws-use1").unwrap_err();
    assert_eq!(err.direction, Direction::Forward);
    assert_eq!(err.at, BlockedAt::Ingress);
    assert_eq!(err.network.as_deref(), Some(AWS_NET));
    assert!(
        err.message
            .starts_with("GCP→AWS blocked: no ingress rule for 10.20.0.10")
            && err.message.contains("aws-use1"),
        "{}",
        err.message
    );
    // The other direction only needs the reply route: stateful firewalls admit replies.
    assert!(reach2(&aws, &gcp, "aws-use1", "gcp-usc1").is_ok());
}

#[test]
fn egress_deny_blocks_at_the_source() {
    let (mut aws, gcp) = static_link();
    aws.egress_deny.push((AWS_NET.into(), cidr("10.20.0.0/16")));
    let err = reach2(&aws, &gcp, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(
        (err.direction, err.at),
        (Direction::Forward, BlockedAt::Egress)
    );
    assert!(reach2(&aws, &gcp, "gcp-usc1", "aws-use1").is_ok());
}

#[test]
fn static_route_without_its_tunnel_up_is_no_route() {
    let (mut aws, gcp) = static_link();
    aws.ends[0].psk = Some("Wrongkey0123456789abcdefABCDEF012".into());
    let err = reach2(&aws, &gcp, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(err.at, BlockedAt::NoRoute);
    assert!(
        err.message.contains("no route to 10.20.0.10"),
        "{}",
        err.message
    );
}

#[test]
fn missing_route_back_blocks_the_replies() {
    let (aws, mut gcp) = static_link();
    gcp.statics.clear();
    let err = reach2(&aws, &gcp, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(err.direction, Direction::Return);
    assert_eq!(err.at, BlockedAt::NoRoute);
    assert_eq!(err.network.as_deref(), Some(GCP_NET));
    assert!(
        err.message.starts_with("GCP→AWS replies blocked"),
        "{}",
        err.message
    );
}

#[test]
fn route_into_a_down_tunnel_names_the_reason() {
    // A model that keeps routing into a tunnel whatever its state (like a route table
    // entry pointing at the gateway) must be stopped at the tunnel hop.
    struct Stubborn(Fake);
    impl CloudModel for Stubborn {
        fn tunnel_ends(&self, now_ms: u64) -> Vec<TunnelEnd> {
            self.0.tunnel_ends(now_ms)
        }
        fn networks(&self) -> Vec<NetInfo> {
            self.0.networks()
        }
        fn route(&self, _network: &str, _dst: Ipv4Addr, _net: &NetState) -> RouteDecision {
            RouteDecision::Tunnel {
                end: self.0.ends[0].id.clone(),
                route: "route 10.20.0.0/16 via vgw-1".into(),
            }
        }
        fn ingress(&self, n: &str, s: Ipv4Addr, f: Flow) -> FwDecision {
            self.0.ingress(n, s, f)
        }
        fn egress(&self, n: &str, d: Ipv4Addr, f: Flow) -> FwDecision {
            self.0.egress(n, d, f)
        }
        fn created_resources(&self) -> usize {
            0
        }
    }
    let (mut aws, gcp) = static_link();
    aws.ends[0].psk = Some("Wrongkey0123456789abcdefABCDEF012".into());
    let aws = Stubborn(aws);
    let models: [&dyn CloudModel; 2] = [&aws, &gcp];
    let s = evaluate_models(&models, 1_000, &INSTANT);
    let err = reach_models(&models, &s, "aws-use1", "gcp-usc1", HTTPS).unwrap_err();
    assert_eq!(err.at, BlockedAt::Tunnel);
    assert!(
        err.message.contains("pre-shared key mismatch"),
        "{}",
        err.message
    );
}

/// The same pair of networks with BGP instead of static routes.
fn bgp_link(b_asn_seen_by_a: u32) -> (Fake, Fake) {
    let (a, b) = bgp_pair(
        bgp("169.254.10.1", "169.254.10.2", 64512, b_asn_seen_by_a),
        bgp("169.254.10.2", "169.254.10.1", 65001, 64512),
    );
    let (ia, ib) = (a.id.clone(), b.id.clone());
    let mut aws = Fake::with_ends(Cloud::Aws, vec![a]).net(AWS_NET, "aws-use1", "10.10.0.0/16");
    let mut gcp = Fake::with_ends(Cloud::Gcp, vec![b]).net(GCP_NET, "gcp-usc1", "10.20.0.0/16");
    aws.bgp_ends.push((AWS_NET.into(), ia));
    gcp.bgp_ends.push((GCP_NET.into(), ib));
    aws.ingress_allow
        .push((AWS_NET.into(), cidr("10.20.0.0/16")));
    gcp.ingress_allow
        .push((GCP_NET.into(), cidr("10.10.0.0/16")));
    (aws, gcp)
}

#[test]
fn bgp_routes_carry_traffic_only_over_an_established_session() {
    let (aws, gcp) = bgp_link(65001);
    let p = reach2(&aws, &gcp, "aws-use1", "gcp-usc1").unwrap();
    assert!(p
        .forward
        .iter()
        .any(|h| matches!(h, Hop::Route { route, .. } if route.contains("BGP"))));
    let (aws, gcp) = bgp_link(65002);
    let err = reach2(&aws, &gcp, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(err.at, BlockedAt::NoRoute);
}

#[test]
fn overlapping_destination_is_reported_as_overlap() {
    let (aws, mut gcp) = static_link();
    gcp.nets[0].cidrs = vec![cidr("10.10.0.0/16")];
    let err = reach2(&aws, &gcp, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(err.at, BlockedAt::Overlap);
}

#[test]
fn unknown_network_is_blocked_with_its_name() {
    let (aws, gcp) = static_link();
    let err = reach2(&aws, &gcp, "aws-use1", "nowhere").unwrap_err();
    assert_eq!(err.at, BlockedAt::UnknownNetwork);
    assert!(err.message.contains("nowhere"));
}

#[test]
fn reach_addr_finds_the_networks_of_the_addresses() {
    let (mut aws, gcp) = static_link();
    aws.ingress_allow = vec![(AWS_NET.into(), cidr("10.20.5.0/24"))];
    let models: [&dyn CloudModel; 2] = [&aws, &gcp];
    let s = evaluate_models(&models, 1_000, &INSTANT);
    let ok = reach_addr_models(&models, &s, ip("10.20.5.7"), ip("10.10.1.1"), HTTPS).unwrap();
    assert_eq!((ok.from.as_str(), ok.to.as_str()), (GCP_NET, AWS_NET));
    let err = reach_addr_models(&models, &s, ip("10.20.6.7"), ip("10.10.1.1"), HTTPS).unwrap_err();
    assert_eq!(err.at, BlockedAt::Ingress);
}

#[test]
fn decided_state_serialises_as_a_list_without_any_psk() {
    let (a, b) = matching_pair();
    let psk = a.psk.clone().unwrap();
    let aws = Fake::with_ends(Cloud::Aws, vec![a]);
    let gcp = Fake::with_ends(Cloud::Gcp, vec![b]);
    let s = eval(&[&aws, &gcp]);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["ends"].as_array().map(|a| a.len()), Some(2));
    assert_eq!(json["ends"][0]["up"], true);
    assert!(!json.to_string().contains(&psk));
}
