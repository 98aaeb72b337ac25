//! Insert, patch and update validation per kind: what GCP refuses synchronously, the
//! references normalised to canonical paths, and the defaults and output fields a client cannot
//! set.

use super::*;

/// Insert/patch validation per kind: normalises references to canonical paths, fills
/// defaults and output fields the client cannot set, or answers the API's error.
pub trait Validate: Kind + Render {
    /// How long inserting (or updating) this kind takes.
    const CREATE: Op;
    const UPDATE: Op = Self::CREATE;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        path: &str,
        fresh: bool,
    ) -> Result<(), Response>;
    /// The resource that keeps this one from being deleted, if any.
    fn used_by(_c: &GcpCloud, _path: &str, _me: &Self) -> Option<String> {
        None
    }
}

pub(super) fn field(name: &str, value: &str, why: &str) -> Response {
    invalid(format!(
        "Invalid value for field 'resource.{name}': '{value}'. {why}"
    ))
}

fn required(name: &str) -> Response {
    invalid(format!("Required field 'resource.{name}' not specified"))
}

/// Resolves a reference to an existing `T` (404 when missing).
fn existing<T: Kind>(
    c: &GcpCloud,
    t: &Target,
    name: &str,
    input: &str,
) -> Result<String, Response> {
    let region = if T::REGIONAL {
        t.region.as_deref()
    } else {
        None
    };
    let path = wire::resolve_ref(input, &t.project, region, T::COLLECTION)
        .map_err(|why| field(name, input, &why))?;
    if T::map(c).contains_key(&path) {
        Ok(path)
    } else {
        Err(not_found(&path))
    }
}

fn same_region(name: &str, input: &str, path: &str, t: &Target) -> Result<(), Response> {
    if wire::region_of(path) == t.region.as_deref() {
        Ok(())
    } else {
        Err(field(
            name,
            input,
            "The referenced resource must be in the same region.",
        ))
    }
}

fn ip(name: &str, s: &str) -> Result<Ipv4Addr, Response> {
    s.parse::<Ipv4Addr>()
        .map_err(|_| field(name, s, "Must be an IPv4 address."))
}

fn cidr(name: &str, s: &str) -> Result<Ipv4Net, Response> {
    s.parse::<Ipv4Net>()
        .map_err(|_| field(name, s, "Must be a CIDR range such as 10.0.0.0/16."))
}

pub(super) fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

fn check_advertised(
    prefix: &str,
    mode: &Option<String>,
    groups: &[String],
    ranges: &[AdvertisedRange],
) -> Result<(), Response> {
    if let Some(m) = mode {
        if m != "DEFAULT" && m != "CUSTOM" {
            return Err(field(
                &format!("{prefix}advertiseMode"),
                m,
                "Must be DEFAULT or CUSTOM.",
            ));
        }
    }
    for g in groups {
        if g != "ALL_SUBNETS" {
            return Err(field(
                &format!("{prefix}advertisedGroups"),
                g,
                "Must be ALL_SUBNETS.",
            ));
        }
    }
    for r in ranges {
        cidr(&format!("{prefix}advertisedIpRanges.range"), &r.range)?;
    }
    Ok(())
}

/// A Cloud Router's own ASN: RFC 6996 private, or Google's 16550 (Partner Interconnect).
fn router_asn_ok(asn: u32) -> bool {
    (64512..=65534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn) || asn == 16550
}

/// A VPN BGP interface's `ipRange`: the interface's own address with a /30 prefix inside
/// 169.254.0.0/16 (link-local), the address one of the two hosts of the /30.
fn vpn_interface_range(input: &str, net: Ipv4Net) -> Result<(), Response> {
    let link_local: Ipv4Net = Ipv4Net::new(Ipv4Addr::new(169, 254, 0, 0), 16).unwrap_or_default();
    if net.prefix_len() != 30 || !link_local.contains(&net.addr()) {
        return Err(field(
            "interfaces.ipRange",
            input,
            "The IP range of a VPN tunnel's BGP interface must be a /30 in the link-local range 169.254.0.0/16, for example 169.254.0.1/30.",
        ));
    }
    if net.addr() == net.network() || net.addr() == net.broadcast() {
        return Err(field(
            "interfaces.ipRange",
            input,
            "The interface's address must be one of the two usable addresses of the /30 (do not truncate it to the network address).",
        ));
    }
    Ok(())
}

impl Validate for VpnGateway {
    const CREATE: Op = Op::GcpHaVpnGatewayCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(&world.gcp, t, "network", &self.network)?;
        if let Some(s) = &self.stack_type {
            if s != "IPV4_ONLY" {
                return Err(field("stackType", s, "The sandbox supports IPV4_ONLY."));
            }
        }
        self.stack_type = Some("IPV4_ONLY".into());
        self.gateway_ip_version = Some("IPV4".into());
        // Both interfaces get their external addresses at insert, as GCP does.
        self.vpn_interfaces = (0..2)
            .map(|id| VpnGatewayInterface {
                id,
                ip_address: Some(world.ips.allocate(Cloud::Gcp).to_string()),
            })
            .collect();
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| {
                r.body.vpn_gateway.as_deref() == Some(path)
                    || r.body.peer_gcp_gateway.as_deref() == Some(path)
            })
            .map(|(p, _)| p.clone())
    }
}

impl Validate for ExternalVpnGateway {
    const CREATE: Op = Op::GcpExternalVpnGatewayCreate;
    fn validate(
        &mut self,
        _world: &mut World,
        _t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let rt = self
            .redundancy_type
            .clone()
            .ok_or_else(|| required("redundancyType"))?;
        let want = match rt.as_str() {
            "FOUR_IPS_REDUNDANCY" => 4,
            "TWO_IPS_REDUNDANCY" => 2,
            "SINGLE_IP_INTERNALLY_REDUNDANT" => 1,
            _ => return Err(field("redundancyType", &rt, "Must be FOUR_IPS_REDUNDANCY, TWO_IPS_REDUNDANCY or SINGLE_IP_INTERNALLY_REDUNDANT.")),
        };
        if self.interfaces.len() != want {
            return Err(field(
                "interfaces",
                &self.interfaces.len().to_string(),
                &format!("{rt} requires exactly {want} interface(s)."),
            ));
        }
        let mut ids: Vec<u32> = self.interfaces.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        if ids != (0..want as u32).collect::<Vec<_>>() {
            return Err(field(
                "interfaces.id",
                &format!("{ids:?}"),
                &format!("Interface ids must be 0 to {}.", want - 1),
            ));
        }
        for i in &self.interfaces {
            let a = i
                .ip_address
                .as_deref()
                .ok_or_else(|| required("interfaces.ipAddress"))?;
            ip("interfaces.ipAddress", a)?;
        }
        self.interfaces.sort_by_key(|i| i.id);
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| r.body.peer_external_gateway.as_deref() == Some(path))
            .map(|(p, _)| p.clone())
    }
}

impl Validate for Router {
    const CREATE: Op = Op::GcpRouterCreate;
    const UPDATE: Op = Op::GcpRouterUpdate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let c = &world.gcp;
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(c, t, "network", &self.network)?;
        let local_asn = self.bgp.as_ref().and_then(|b| b.asn);
        if let Some(asn) = local_asn {
            if !router_asn_ok(asn) {
                return Err(field(
                    "bgp.asn",
                    &asn.to_string(),
                    "The ASN must be an RFC6996 private ASN (64512-65534 or 4200000000-4294967294), or 16550 for Partner Interconnect.",
                ));
            }
        }
        if let Some(bgp) = &self.bgp {
            check_advertised(
                "bgp.",
                &bgp.advertise_mode,
                &bgp.advertised_groups,
                &bgp.advertised_ip_ranges,
            )?;
        }
        let mut ranges: Vec<(String, Option<Ipv4Net>)> = Vec::new();
        let mut linked: Vec<String> = Vec::new();
        for i in &mut self.interfaces {
            if i.name.is_empty() {
                return Err(required("interfaces.name"));
            }
            if ranges.iter().any(|(n, _)| *n == i.name) {
                return Err(field(
                    "interfaces.name",
                    &i.name,
                    "Interface names must be unique.",
                ));
            }
            let range = match &i.ip_range {
                Some(r) => {
                    let net = cidr("interfaces.ipRange", r)?;
                    vpn_interface_range(r, net)?;
                    if let Some((other, _)) = ranges.iter().find(|(_, o)| {
                        o.is_some_and(|o| o.contains(&net.network()) || net.contains(&o.network()))
                    }) {
                        return Err(field(
                            "interfaces.ipRange",
                            r,
                            &format!("The range overlaps with the range of interface '{other}'."),
                        ));
                    }
                    Some(net)
                }
                None => None,
            };
            if let Some(tun) = &i.linked_vpn_tunnel {
                let tp = existing::<VpnTunnel>(c, t, "interfaces.linkedVpnTunnel", tun)?;
                same_region("interfaces.linkedVpnTunnel", tun, &tp, t)?;
                if linked.contains(&tp) {
                    return Err(field(
                        "interfaces.linkedVpnTunnel",
                        tun,
                        "A VPN tunnel can be linked to one interface only.",
                    ));
                }
                if let Some(r) = c.vpn_tunnels.get(&tp).and_then(|x| x.body.router.clone()) {
                    if r != path {
                        return Err(field(
                            "interfaces.linkedVpnTunnel",
                            tun,
                            "The VPN tunnel uses a different router.",
                        ));
                    }
                }
                linked.push(tp.clone());
                i.linked_vpn_tunnel = Some(tp);
            }
            ranges.push((i.name.clone(), range));
        }
        let mut names: Vec<&str> = Vec::new();
        let has_bgp_peers = !self.bgp_peers.is_empty();
        // GCP refuses a peer ASN equal to the local ASN of a router of the same network and
        // region (this one included): Cloud Router speaks eBGP only.
        let local_asns: Vec<(String, u32)> = c
            .routers
            .iter()
            .filter(|(p, r)| {
                p.as_str() != path
                    && r.body.network == self.network
                    && wire::region_of(p) == t.region.as_deref()
            })
            .filter_map(|(p, r)| Some((wire::last(p).to_string(), r.body.bgp.as_ref()?.asn?)))
            .collect();
        for (index, p) in self.bgp_peers.iter().enumerate() {
            if p.name.is_empty() {
                return Err(required("bgpPeers.name"));
            }
            if names.contains(&p.name.as_str()) {
                return Err(field(
                    "bgpPeers.name",
                    &p.name,
                    "BGP peer names must be unique.",
                ));
            }
            names.push(&p.name);
            let iface = p
                .interface_name
                .as_deref()
                .ok_or_else(|| required("bgpPeers.interfaceName"))?;
            let Some((_, range)) = ranges.iter().find(|(n, _)| n == iface) else {
                return Err(field(
                    "bgpPeers.interfaceName",
                    iface,
                    "No interface of this router has that name.",
                ));
            };
            let Some(peer_asn) = p.peer_asn else {
                return Err(required("bgpPeers.peerAsn"));
            };
            let asn_field = format!("bgpPeers[{index}].peerAsn");
            if peer_asn == 0 || peer_asn == u32::MAX {
                return Err(field(
                    &asn_field,
                    &peer_asn.to_string(),
                    "The peer ASN must be between 1 and 4294967294.",
                ));
            }
            if local_asn == Some(peer_asn) {
                return Err(field(
                    &asn_field,
                    &peer_asn.to_string(),
                    "Peer ASN conflicts with the local ASN of this router.",
                ));
            }
            if let Some((other, _)) = local_asns.iter().find(|(_, a)| *a == peer_asn) {
                return Err(field(
                    &asn_field,
                    &peer_asn.to_string(),
                    &format!("Peer ASN conflicts with local ASN of another router in the same region and network: {other}."),
                ));
            }
            let peer = p
                .peer_ip_address
                .as_deref()
                .ok_or_else(|| required("bgpPeers.peerIpAddress"))?;
            let peer = ip("bgpPeers.peerIpAddress", peer)?;
            let local = p
                .ip_address
                .as_deref()
                .map(|a| ip("bgpPeers.ipAddress", a))
                .transpose()?;
            if let Some(range) = range {
                for (name, a) in [("peerIpAddress", Some(peer)), ("ipAddress", local)] {
                    if let Some(a) = a {
                        if !range.contains(&a) {
                            return Err(field(
                                &format!("bgpPeers.{name}"),
                                &a.to_string(),
                                &format!(
                                    "The address must be inside the interface's range {range}."
                                ),
                            ));
                        }
                    }
                }
            }
            if let Some(e) = &p.enable {
                if e != "TRUE" && e != "FALSE" {
                    return Err(field("bgpPeers.enable", e, "Must be TRUE or FALSE."));
                }
            }
            check_advertised(
                "bgpPeers.",
                &p.advertise_mode,
                &p.advertised_groups,
                &p.advertised_ip_ranges,
            )?;
        }
        if has_bgp_peers && self.bgp.as_ref().and_then(|b| b.asn).is_none() {
            return Err(required("bgp.asn"));
        }
        // The local address of a peer defaults to the interface's own address.
        for p in &mut self.bgp_peers {
            if p.ip_address.is_none() {
                p.ip_address = self
                    .interfaces
                    .iter()
                    .find(|i| Some(&i.name) == p.interface_name.as_ref())
                    .and_then(|i| i.ip_range.as_deref())
                    .and_then(|r| r.parse::<Ipv4Net>().ok())
                    .map(|n| n.addr().to_string());
            }
        }
        if let Some(bgp) = &mut self.bgp {
            bgp.advertise_mode.get_or_insert_with(|| "DEFAULT".into());
            bgp.keepalive_interval.get_or_insert(20);
        }
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| r.body.router.as_deref() == Some(path))
            .map(|(p, _)| p.clone())
    }
}

impl Validate for VpnTunnel {
    const CREATE: Op = Op::GcpVpnTunnelCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let c = &world.gcp;
        let secret = self
            .shared_secret
            .as_deref()
            .ok_or_else(|| required("sharedSecret"))?;
        if secret.is_empty() {
            return Err(required("sharedSecret"));
        }
        let ike = self.ike_version.unwrap_or(2);
        if ike != 1 && ike != 2 {
            return Err(field("ikeVersion", &ike.to_string(), "Must be 1 or 2."));
        }
        self.ike_version = Some(ike);
        let network = match (&self.vpn_gateway, &self.target_vpn_gateway) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(invalid(
                    "Exactly one of 'resource.vpnGateway' and 'resource.targetVpnGateway' must be specified",
                ))
            }
            (Some(gw), None) => {
                let gp = existing::<VpnGateway>(c, t, "vpnGateway", gw)?;
                same_region("vpnGateway", gw, &gp, t)?;
                let iface = self.vpn_gateway_interface.ok_or_else(|| required("vpnGatewayInterface"))?;
                if iface > 1 {
                    return Err(field("vpnGatewayInterface", &iface.to_string(), "Must be 0 or 1."));
                }
                match (&self.peer_external_gateway, &self.peer_gcp_gateway) {
                    (Some(ext), None) => {
                        let ep = existing::<ExternalVpnGateway>(c, t, "peerExternalGateway", ext)?;
                        let n = c.external_vpn_gateways.get(&ep).map_or(0, |e| e.body.interfaces.len());
                        let pi = self
                            .peer_external_gateway_interface
                            .ok_or_else(|| required("peerExternalGatewayInterface"))?;
                        if pi as usize >= n {
                            return Err(field(
                                "peerExternalGatewayInterface",
                                &pi.to_string(),
                                &format!("The external VPN gateway has {n} interface(s)."),
                            ));
                        }
                        self.peer_external_gateway = Some(ep);
                    }
                    (None, Some(peer)) => {
                        let pp = existing::<VpnGateway>(c, t, "peerGcpGateway", peer)?;
                        self.peer_gcp_gateway = Some(pp);
                    }
                    _ => {
                        return Err(invalid(
                            "Exactly one of 'resource.peerExternalGateway' and 'resource.peerGcpGateway' must be specified for an HA VPN tunnel",
                        ))
                    }
                }
                if self.peer_ip.is_some() {
                    return Err(invalid("'resource.peerIp' cannot be set for an HA VPN tunnel: it comes from the peer gateway"));
                }
                for (name, sel) in [("localTrafficSelector", &self.local_traffic_selector), ("remoteTrafficSelector", &self.remote_traffic_selector)] {
                    if sel.iter().any(|s| s != "0.0.0.0/0") {
                        return Err(field(name, &sel.join(","), "HA VPN tunnels always use 0.0.0.0/0."));
                    }
                }
                self.local_traffic_selector.clear();
                self.remote_traffic_selector.clear();
                if self.router.is_none() {
                    return Err(invalid("'resource.router' must be specified for an HA VPN tunnel"));
                }
                let network = c.vpn_gateways.get(&gp).map(|g| g.body.network.clone()).unwrap_or_default();
                self.vpn_gateway = Some(gp);
                network
            }
            (None, Some(tg)) => {
                let tp = existing::<TargetVpnGateway>(c, t, "targetVpnGateway", tg)?;
                same_region("targetVpnGateway", tg, &tp, t)?;
                let peer = self.peer_ip.as_deref().ok_or_else(|| required("peerIp"))?;
                ip("peerIp", peer)?;
                for (name, sel) in [("localTrafficSelector", &mut self.local_traffic_selector), ("remoteTrafficSelector", &mut self.remote_traffic_selector)] {
                    for s in sel.iter() {
                        cidr(name, s)?;
                    }
                    if sel.is_empty() {
                        sel.push("0.0.0.0/0".into());
                    }
                }
                let network = c.target_vpn_gateways.get(&tp).map(|g| g.body.network.clone()).unwrap_or_default();
                self.target_vpn_gateway = Some(tp);
                network
            }
        };
        if let Some(r) = &self.router {
            let rp = existing::<Router>(c, t, "router", r)?;
            same_region("router", r, &rp, t)?;
            if c.routers.get(&rp).map(|x| x.body.network.as_str()) != Some(network.as_str()) {
                return Err(field(
                    "router",
                    r,
                    "The router must be in the VPN gateway's network.",
                ));
            }
            self.router = Some(rp);
        }
        if let Some(cs) = &self.cipher_suite {
            let groups = cs
                .phase1
                .iter()
                .flat_map(|p| p.dh.iter().map(|g| ("cipherSuite.phase1.dh", g)))
                .chain(
                    cs.phase2
                        .iter()
                        .flat_map(|p| p.pfs.iter().map(|g| ("cipherSuite.phase2.pfs", g))),
                );
            for (name, g) in groups {
                if physics::dh_group(g).is_none() {
                    return Err(field(
                        name,
                        g,
                        "Must be a Diffie-Hellman group such as Group-14.",
                    ));
                }
            }
        }
        self.shared_secret_hash = Some(physics::secret_hash(secret));
        Ok(())
    }
    fn used_by(_c: &GcpCloud, _path: &str, _me: &Self) -> Option<String> {
        None
    }
}

impl Validate for TargetVpnGateway {
    const CREATE: Op = Op::GcpTargetVpnGatewayCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(&world.gcp, t, "network", &self.network)?;
        Ok(())
    }
    fn used_by(c: &GcpCloud, path: &str, _me: &Self) -> Option<String> {
        c.vpn_tunnels
            .iter()
            .find(|(_, r)| r.body.target_vpn_gateway.as_deref() == Some(path))
            .map(|(p, _)| p.clone())
            .or_else(|| {
                c.forwarding_rules
                    .iter()
                    .find(|(_, r)| r.body.target.as_deref() == Some(path))
                    .map(|(p, _)| p.clone())
            })
    }
}

impl Validate for Address {
    const CREATE: Op = Op::GcpAddressCreate;
    fn validate(
        &mut self,
        world: &mut World,
        _t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let at = self.address_type.get_or_insert_with(|| "EXTERNAL".into());
        if at != "EXTERNAL" {
            return Err(field(
                "addressType",
                at,
                "The sandbox serves EXTERNAL addresses only.",
            ));
        }
        if let Some(a) = &self.address {
            return Err(field(
                "address",
                a,
                "The sandbox assigns external addresses itself: omit 'address'.",
            ));
        }
        if let Some(v) = &self.ip_version {
            if v != "IPV4" {
                return Err(field("ipVersion", v, "The sandbox serves IPV4 only."));
            }
        }
        self.network_tier.get_or_insert_with(|| "PREMIUM".into());
        self.address = Some(world.ips.allocate(Cloud::Gcp).to_string());
        Ok(())
    }
    fn used_by(c: &GcpCloud, _path: &str, me: &Self) -> Option<String> {
        c.forwarding_rules
            .iter()
            .find(|(_, r)| r.body.ip_address.is_some() && r.body.ip_address == me.address)
            .map(|(p, _)| p.clone())
    }
}

impl Validate for ForwardingRule {
    const CREATE: Op = Op::GcpForwardingRuleCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let target = self.target.clone().ok_or_else(|| required("target"))?;
        let tp = wire::resolve_ref(
            &target,
            &t.project,
            t.region.as_deref(),
            "targetVpnGateways",
        )
        .map_err(|_| {
            field(
                "target",
                &target,
                "The sandbox serves forwarding rules to target VPN gateways only.",
            )
        })?;
        if !world.gcp.target_vpn_gateways.contains_key(&tp) {
            return Err(not_found(&tp));
        }
        same_region("target", &target, &tp, t)?;
        let proto = self
            .ip_protocol
            .clone()
            .unwrap_or_else(|| "TCP".into())
            .to_ascii_uppercase();
        match proto.as_str() {
            "ESP" | "AH" => {
                if let Some(p) = &self.port_range {
                    return Err(field(
                        "portRange",
                        p,
                        &format!("Ports cannot be set for {proto}."),
                    ));
                }
            }
            "UDP" | "TCP" => {
                let pr = self
                    .port_range
                    .clone()
                    .ok_or_else(|| required("portRange"))?;
                let (a, b) = pr.split_once('-').unwrap_or((&pr, &pr));
                let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) else {
                    return Err(field(
                        "portRange",
                        &pr,
                        "Must be a port or a range such as 500-500.",
                    ));
                };
                if a > b || a == 0 {
                    return Err(field(
                        "portRange",
                        &pr,
                        "Must be a port or a range such as 500-500.",
                    ));
                }
                self.port_range = Some(format!("{a}-{b}"));
            }
            _ => {
                return Err(field(
                    "IPProtocol",
                    &proto,
                    "Must be ESP, AH, UDP or TCP for a target VPN gateway.",
                ))
            }
        }
        self.ip_protocol = Some(proto);
        // The address: an IP literal or a reference to a reserved address of this region.
        let addr = match self.ip_address.as_deref() {
            None => world.ips.allocate(Cloud::Gcp),
            Some(a) => match a.parse::<Ipv4Addr>() {
                Ok(ip) => ip,
                Err(_) => {
                    let ap = existing::<Address>(&world.gcp, t, "IPAddress", a)?;
                    same_region("IPAddress", a, &ap, t)?;
                    let lit = world
                        .gcp
                        .addresses
                        .get(&ap)
                        .and_then(|x| x.body.address.clone())
                        .unwrap_or_default();
                    ip("IPAddress", &lit)?
                }
            },
        };
        if let Some((other, r)) = world
            .gcp
            .forwarding_rules
            .iter()
            .find(|(_, r)| r.body.target.as_deref() == Some(tp.as_str()))
        {
            if r.body.ip_address.as_deref() != Some(addr.to_string().as_str()) {
                return Err(field(
                    "IPAddress",
                    &addr.to_string(),
                    &format!("Every forwarding rule of a target VPN gateway must use one address; '{}' uses {}.", wire::last(other), r.body.ip_address.clone().unwrap_or_default()),
                ));
            }
        }
        self.ip_address = Some(addr.to_string());
        self.target = Some(tp);
        self.load_balancing_scheme = Some("EXTERNAL".into());
        self.network_tier.get_or_insert_with(|| "PREMIUM".into());
        Ok(())
    }
}

impl Validate for Route {
    const CREATE: Op = Op::GcpRouteCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        let c = &world.gcp;
        if self.network.is_empty() {
            return Err(required("network"));
        }
        self.network = existing::<Network>(c, t, "network", &self.network)?;
        if self.dest_range.is_empty() {
            return Err(required("destRange"));
        }
        let d = cidr("destRange", &self.dest_range)?;
        if d.trunc() != d {
            return Err(field(
                "destRange",
                &self.dest_range,
                "The range has host bits set.",
            ));
        }
        let hop = self.next_hop_vpn_tunnel.clone().ok_or_else(|| {
            invalid("The sandbox serves routes with 'resource.nextHopVpnTunnel' only")
        })?;
        let tp = wire::resolve_ref(&hop, &t.project, None, "vpnTunnels")
            .map_err(|why| field("nextHopVpnTunnel", &hop, &why))?;
        let tunnel = c.vpn_tunnels.get(&tp).ok_or_else(|| not_found(&tp))?;
        if physics::tunnel_network(c, &tunnel.body).as_deref() != Some(self.network.as_str()) {
            return Err(field(
                "nextHopVpnTunnel",
                &hop,
                "The VPN tunnel is not in the route's network.",
            ));
        }
        self.next_hop_vpn_tunnel = Some(tp);
        let p = self.priority.unwrap_or(1000);
        if p > 65535 {
            return Err(field(
                "priority",
                &p.to_string(),
                "Must be between 0 and 65535.",
            ));
        }
        self.priority = Some(p);
        Ok(())
    }
}

fn check_entries(name: &str, entries: &[FirewallEntry]) -> Result<Vec<FirewallEntry>, Response> {
    let mut out = Vec::new();
    for e in entries {
        let proto = e.ip_protocol.to_ascii_lowercase();
        let named = ["tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"];
        if !named.contains(&proto.as_str()) && proto.parse::<u8>().is_err() {
            return Err(field(
                &format!("{name}.IPProtocol"),
                &e.ip_protocol,
                "Unknown protocol.",
            ));
        }
        if !e.ports.is_empty()
            && !matches!(proto.as_str(), "tcp" | "udp" | "sctp" | "6" | "17" | "132")
        {
            return Err(field(
                &format!("{name}.ports"),
                &e.ports.join(","),
                "Ports can be set for tcp, udp and sctp only.",
            ));
        }
        for p in &e.ports {
            if super::super::firewall::port_range(p).is_none() {
                return Err(field(
                    &format!("{name}.ports"),
                    p,
                    "Must be a port or a range such as 1000-2000.",
                ));
            }
        }
        out.push(FirewallEntry {
            ip_protocol: proto,
            ports: e.ports.clone(),
        });
    }
    Ok(out)
}

impl Validate for Firewall {
    const CREATE: Op = Op::GcpFirewallCreate;
    fn validate(
        &mut self,
        world: &mut World,
        t: &Target,
        _path: &str,
        _fresh: bool,
    ) -> Result<(), Response> {
        if self.network.is_empty() {
            self.network = format!("projects/{}/global/networks/default", t.project);
        }
        self.network = existing::<Network>(&world.gcp, t, "network", &self.network)?;
        let dir = self.direction.clone().unwrap_or_else(|| "INGRESS".into());
        if dir != "INGRESS" && dir != "EGRESS" {
            return Err(field("direction", &dir, "Must be INGRESS or EGRESS."));
        }
        let p = self.priority.unwrap_or(1000);
        if p > 65535 {
            return Err(field(
                "priority",
                &p.to_string(),
                "Must be between 0 and 65535.",
            ));
        }
        self.priority = Some(p);
        match (self.allowed.is_empty(), self.denied.is_empty()) {
            (true, true) | (false, false) => {
                return Err(invalid(
                    "Exactly one of 'resource.allowed' and 'resource.denied' must be specified",
                ))
            }
            _ => {}
        }
        self.allowed = check_entries("allowed", &self.allowed)?;
        self.denied = check_entries("denied", &self.denied)?;
        for (name, ranges) in [
            ("sourceRanges", &self.source_ranges),
            ("destinationRanges", &self.destination_ranges),
        ] {
            for r in ranges {
                cidr(name, r)?;
            }
        }
        if dir == "INGRESS" && self.source_ranges.is_empty() && self.source_tags.is_empty() {
            self.source_ranges = vec!["0.0.0.0/0".into()];
        }
        if dir == "EGRESS" {
            if !self.source_tags.is_empty() {
                return Err(field(
                    "sourceTags",
                    &self.source_tags.join(","),
                    "Source tags cannot be set on an EGRESS rule.",
                ));
            }
            if self.destination_ranges.is_empty() {
                self.destination_ranges = vec!["0.0.0.0/0".into()];
            }
        }
        self.direction = Some(dir);
        Ok(())
    }
}

// The two kinds that are only read are never validated; these satisfy the generic bounds.
impl Validate for Network {
    const CREATE: Op = Op::GcpDelete;
    fn validate(
        &mut self,
        _w: &mut World,
        _t: &Target,
        _p: &str,
        _f: bool,
    ) -> Result<(), Response> {
        Err(invalid("networks are seeded from the topology"))
    }
}
impl Validate for Subnetwork {
    const CREATE: Op = Op::GcpDelete;
    fn validate(
        &mut self,
        _w: &mut World,
        _t: &Target,
        _p: &str,
        _f: bool,
    ) -> Result<(), Response> {
        Err(invalid("subnetworks are seeded from the topology"))
    }
}
