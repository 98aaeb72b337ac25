//! Turns a validated topology plus allocations into resources, one strategy per cloud pair
//! (interop.md §4). Shared per-network resources are created once and referenced by every
//! link; everything that names a peer is per link.

use super::resource::{Builder, Kind, Resource, Value};
use super::templates::{Template, Templates, NSG_BLOCK};
use super::{names, PlanError, Strategy};
use crate::cloud::Cloud;
use crate::state::Allocations;
use crate::topology::{Allow, Link, Location, Network, Topology};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::BTreeMap;

/// Tunnels of one AWS VPN connection: always two (interop.md §1).
pub const AWS_TUNNELS_PER_CONNECTION: u8 = 2;

/// The largest ASN EC2 takes as a customer gateway's `BgpAsn`; above it, `BgpAsnExtended`.
pub const AWS_BGP_ASN_MAX: u32 = 2_147_483_647;

/// Default NSG when a network lists none: one named after the VNet.
pub fn default_nsg(vnet: &str) -> String {
    format!("{vnet}-nsg")
}

pub(crate) struct Ctx<'a> {
    topo: &'a Topology,
    tpl: &'a Templates,
    alloc: &'a Allocations,
    nets: HashMap<&'a str, &'a Network>,
    /// Resources in the order built; [`Ctx::into_resources`] sorts them by address. A vector
    /// plus an address set rather than a `BTreeMap`: ~15,000 resources at 1,000 networks were
    /// shifted around the map's nodes on every insert.
    res: Vec<Resource>,
    addresses: HashSet<String>,
    /// Addresses of the resources a network shares between its links, by network name: built
    /// on the network's first link, looked up on every other (a hub's gateway is built once,
    /// not once per spoke).
    shared: HashMap<&'a str, Shared>,
}

/// A network's shared resources built so far (addresses).
#[derive(Default)]
struct Shared {
    /// AWS: the VGW.
    vgw: Option<String>,
    /// GCP: HA VPN gateway and Cloud Router.
    ha: Option<(String, String)>,
    /// GCP: target gateway, static IP and forwarding rules.
    classic: Option<(String, String, Vec<String>)>,
    /// Azure: VPN gateway and its public IP.
    azure_gw: Option<(String, String)>,
}

fn host(net: &ipnet::Ipv4Net, n: u32) -> String {
    let base = u32::from(net.network());
    format!(
        "{}/{}",
        std::net::Ipv4Addr::from(base + n),
        net.prefix_len()
    )
}

fn host_ip(net: &ipnet::Ipv4Net, n: u32) -> String {
    std::net::Ipv4Addr::from(u32::from(net.network()) + n).to_string()
}

fn cidrs(n: &Network) -> Value {
    Value::strs(n.cidrs.iter())
}

fn ike_attrs(t: &Template) -> BTreeMap<String, Value> {
    let p1 = &t.ike.phase1;
    let p2 = &t.ike.phase2;
    let mut m = BTreeMap::new();
    m.insert(
        "ike_versions".into(),
        Value::strs([format!("ikev{}", t.ike.version)]),
    );
    m.insert("phase1_encryption".into(), Value::strs([&p1.encryption]));
    m.insert("phase1_integrity".into(), Value::strs([&p1.integrity]));
    m.insert(
        "phase1_dh_groups".into(),
        Value::List(vec![p1.group.into()]),
    );
    m.insert("phase1_lifetime_seconds".into(), p1.lifetime_seconds.into());
    m.insert("phase2_encryption".into(), Value::strs([&p2.encryption]));
    m.insert("phase2_integrity".into(), Value::strs([&p2.integrity]));
    m.insert(
        "phase2_dh_groups".into(),
        Value::List(vec![p2.group.into()]),
    );
    m.insert("phase2_lifetime_seconds".into(), p2.lifetime_seconds.into());
    m.insert(
        "dpd_timeout_seconds".into(),
        t.ike.dpd_timeout_seconds.into(),
    );
    m
}

impl<'a> Ctx<'a> {
    pub fn new(topo: &'a Topology, tpl: &'a Templates, alloc: &'a Allocations) -> Ctx<'a> {
        Ctx {
            topo,
            tpl,
            alloc,
            nets: topo.networks.iter().map(|n| (n.name.as_str(), n)).collect(),
            res: Vec::new(),
            addresses: HashSet::new(),
            shared: HashMap::new(),
        }
    }

    /// Every resource built, sorted by address.
    pub fn into_resources(self) -> Vec<Resource> {
        let mut res = self.res;
        res.sort_unstable_by(|a, b| a.address.cmp(&b.address));
        res
    }

    /// Adds a resource unless one with its address exists (the first one built stays) and
    /// returns the address.
    fn add(&mut self, r: Resource) -> String {
        let a = r.address.clone();
        if self.addresses.insert(a.clone()) {
            self.res.push(r);
        }
        a
    }

    fn name(&self, parts: &[&str]) -> String {
        let mut v = vec![self.topo.name.as_str()];
        v.extend_from_slice(parts);
        names::name(&v)
    }

    /// A resource shared by all of a network's links: keyed by the network, named
    /// `TOPOLOGY-NETWORK-SUFFIX`, in the network's region.
    fn per_network(&self, kind: Kind, n: &Network, suffix: &str, region: &str) -> Builder {
        Builder::new(kind, &n.name, self.name(&[&n.name, suffix]), region).network(&n.name)
    }

    fn asn(&self, net: &str) -> Result<u32, PlanError> {
        self.alloc
            .asns
            .get(net)
            .copied()
            .ok_or_else(|| PlanError::Internal(format!("no ASN allocated for {net}")))
    }

    fn net(&self, name: &str) -> Result<&'a Network, PlanError> {
        self.nets
            .get(name)
            .copied()
            .ok_or_else(|| PlanError::UnknownNetwork(name.to_string()))
    }

    pub fn link(&mut self, link: &Link) -> Result<(), PlanError> {
        let (a, b) = (self.net(&link.a)?, self.net(&link.b)?);
        let strategy =
            Strategy::for_pair(a.cloud, b.cloud).ok_or_else(|| PlanError::UnsupportedPair {
                link: link.id(),
                a: a.cloud,
                b: b.cloud,
            })?;
        let id = link.id();
        // Order each pair as the strategy's sides expect, whatever the link's name order.
        let (x, y) = if (a.cloud as u8) <= (b.cloud as u8) {
            (a, b)
        } else {
            (b, a)
        };
        match (strategy, x.cloud, y.cloud) {
            (Strategy::HaVpnBgp, Cloud::Aws, Cloud::Gcp) => self.aws_gcp(&id, link, x, y),
            (Strategy::ClassicVpnStatic, Cloud::Aws, Cloud::Azure) => {
                self.aws_azure(&id, link, x, y)
            }
            (Strategy::ClassicVpnStatic, Cloud::Gcp, Cloud::Azure) => {
                self.gcp_azure(&id, link, x, y)
            }
            (Strategy::ClassicVpnStatic, Cloud::Azure, Cloud::Azure) => {
                self.azure_azure(&id, link, a, b)
            }
            _ => Err(PlanError::UnsupportedPair {
                link: id,
                a: a.cloud,
                b: b.cloud,
            }),
        }
    }

    fn inside(&self, link: &str, k: u8) -> Result<ipnet::Ipv4Net, PlanError> {
        self.alloc
            .links
            .get(link)
            .and_then(|l| l.tunnels.iter().find(|t| t.index == k))
            .and_then(|t| t.inside_cidr)
            .ok_or_else(|| PlanError::Internal(format!("no inside range for {link} tunnel {k}")))
    }

    fn nsg_base(&self, link: &str, net: &str) -> Result<u16, PlanError> {
        self.alloc
            .links
            .get(link)
            .and_then(|l| l.nsg_priorities.get(net))
            .copied()
            .ok_or_else(|| PlanError::Internal(format!("no NSG priority for {link} in {net}")))
    }

    // ---------------------------------------------------------------- AWS

    /// VGW + attachment + route propagation of a VPC, shared by its links.
    fn aws_vgw(&mut self, n: &'a Network) -> Result<String, PlanError> {
        if let Some(vgw) = self.shared.get(n.name.as_str()).and_then(|s| s.vgw.clone()) {
            return Ok(vgw);
        }
        let Location::Aws(aws) = &n.location else {
            return Err(PlanError::Internal(format!(
                "{} is not an AWS network",
                n.name
            )));
        };
        let asn = self.asn(&n.name)?;
        let vgw = self.add(
            self.per_network(Kind::AwsVpnGateway, n, "vgw", &aws.region)
                .attr("type", "ipsec.1")
                .attr("amazon_side_asn", asn)
                .build(),
        );
        let attach = self.add(
            self.per_network(Kind::AwsVpnGatewayAttachment, n, "vgw", &aws.region)
                .attr("vpc_id", aws.vpc_id.as_str())
                .attr("vpn_gateway_id", Value::r(&vgw, "id"))
                .build(),
        );
        let tables = match &aws.route_tables {
            Some(t) => Value::strs(t),
            None => Value::from("all"),
        };
        self.add(
            self.per_network(Kind::AwsRoutePropagation, n, "vgw", &aws.region)
                .attr("vpc_id", aws.vpc_id.as_str())
                .attr("vpn_gateway_id", Value::r(&vgw, "id"))
                .attr("route_tables", tables)
                .after(&attach)
                .build(),
        );
        self.shared.entry(&n.name).or_default().vgw = Some(vgw.clone());
        Ok(vgw)
    }

    /// A customer gateway per (region, peer IP): `peer` names the peer's address source.
    /// EC2 caps `BgpAsn` at 2^31-1; a larger (32-bit private) ASN goes in `BgpAsnExtended`.
    fn aws_cgw(&mut self, region: &str, peer: &str, ip: Value, asn: u32) -> String {
        let key = format!("{region}.{peer}");
        let address = format!("{}.{key}", Kind::AwsCustomerGateway.as_str());
        if self.addresses.contains(&address) {
            return address;
        }
        let asn_attr = if asn > AWS_BGP_ASN_MAX {
            "bgp_asn_extended"
        } else {
            "bgp_asn"
        };
        self.add(
            Builder::new(
                Kind::AwsCustomerGateway,
                &key,
                self.name(&[region, peer, "cgw"]),
                region,
            )
            .attr("type", "ipsec.1")
            .attr("ip_address", ip)
            .attr(asn_attr, asn)
            .build(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn aws_vpn_connection(
        &mut self,
        n: &Network,
        link: &str,
        key: &str,
        vgw: &str,
        cgw: &str,
        static_routes: bool,
        tunnels: std::ops::Range<u8>,
        tpl: &Template,
    ) -> Result<String, PlanError> {
        let mut list = Vec::new();
        for k in tunnels {
            let mut m = ike_attrs(tpl);
            m.insert(
                "inside_cidr".into(),
                self.inside(link, k)?.to_string().into(),
            );
            m.insert(
                "pre_shared_key".into(),
                Value::secret(&format!("{link}/{k}")),
            );
            list.push(Value::Map(m));
        }
        let attach = format!("{}.{}", Kind::AwsVpnGatewayAttachment.as_str(), n.name);
        Ok(self.add(
            Builder::new(Kind::AwsVpnConnection, key, self.name(&[key]), n.region())
                .network(&n.name)
                .link(link)
                .attr("type", "ipsec.1")
                .attr("vpn_gateway_id", Value::r(vgw, "id"))
                .attr("customer_gateway_id", Value::r(cgw, "id"))
                .attr("static_routes_only", static_routes)
                .attr(
                    "local_ipv4_network_cidr",
                    tpl.traffic_selector_local.as_str(),
                )
                .attr(
                    "remote_ipv4_network_cidr",
                    tpl.traffic_selector_remote.as_str(),
                )
                .attr("tunnels", Value::List(list))
                .after(&attach)
                .build(),
        ))
    }

    fn aws_sg_rule(&mut self, n: &Network, link: &Link, remote: &Network) {
        let Location::Aws(aws) = &n.location else {
            return;
        };
        let groups = match &aws.security_groups {
            Some(g) => Value::strs(g),
            None => Value::from("all"),
        };
        let perms = allow_list(link)
            .iter()
            .map(|a| {
                let (p, f, t): (&str, i64, i64) = match *a {
                    Allow::All => ("-1", -1, -1),
                    Allow::Tcp { from, to } => ("tcp", from.into(), to.into()),
                    Allow::Udp { from, to } => ("udp", from.into(), to.into()),
                    Allow::Icmp => ("icmp", -1, -1),
                };
                Value::Map(BTreeMap::from([
                    ("protocol".to_string(), p.into()),
                    ("from_port".to_string(), f.into()),
                    ("to_port".to_string(), t.into()),
                ]))
            })
            .collect();
        let id = link.id();
        self.add(
            Builder::new(
                Kind::AwsSecurityGroupRule,
                &format!("{id}.{}", n.name),
                self.name(&[&id, "from", &remote.name]),
                n.region(),
            )
            .network(&n.name)
            .link(&id)
            .attr("vpc_id", aws.vpc_id.as_str())
            .attr("direction", "ingress")
            .attr("security_groups", groups)
            .attr("source_cidrs", cidrs(remote))
            .attr("permissions", Value::List(perms))
            .attr("description", format!("peerctl {} {id}", self.topo.name))
            .build(),
        );
    }

    // ---------------------------------------------------------------- GCP

    fn gcp_loc(n: &Network) -> Result<(&str, &str, &str), PlanError> {
        match &n.location {
            Location::Gcp(g) => Ok((&g.project, &g.region, &g.network)),
            _ => Err(PlanError::Internal(format!(
                "{} is not a GCP network",
                n.name
            ))),
        }
    }

    /// HA VPN gateway + Cloud Router of a network, shared by its BGP links.
    fn gcp_ha(&mut self, n: &'a Network) -> Result<(String, String), PlanError> {
        if let Some(ha) = self.shared.get(n.name.as_str()).and_then(|s| s.ha.clone()) {
            return Ok(ha);
        }
        let (project, region, network) = Self::gcp_loc(n)?;
        let tpl = self.tpl;
        let bgp = tpl
            .ha_vpn_bgp
            .bgp
            .as_ref()
            .ok_or_else(|| PlanError::Internal("ha-vpn-bgp template without bgp".into()))?;
        let gw = self.add(
            self.per_network(Kind::GcpVpnGateway, n, "ha", region)
                .attr("project", project)
                .attr("network", network)
                .attr("interfaces", 2i64)
                .build(),
        );
        let router = self.add(
            self.per_network(Kind::GcpRouter, n, "router", region)
                .attr("project", project)
                .attr("network", network)
                .attr("asn", self.asn(&n.name)?)
                .attr("advertise_mode", bgp.advertise_mode.as_str())
                .attr("keepalive_seconds", bgp.keepalive_seconds)
                .build(),
        );
        self.shared.entry(&n.name).or_default().ha = Some((gw.clone(), router.clone()));
        Ok((gw, router))
    }

    /// Classic VPN: static IP, target gateway and its 3 forwarding rules, shared by the
    /// network's Azure links. Returns the gateway, the address and the rules.
    fn gcp_classic(&mut self, n: &'a Network) -> Result<(String, String, Vec<String>), PlanError> {
        if let Some(c) = self
            .shared
            .get(n.name.as_str())
            .and_then(|s| s.classic.clone())
        {
            return Ok(c);
        }
        let (project, region, network) = Self::gcp_loc(n)?;
        let addr = self.add(
            self.per_network(Kind::GcpAddress, n, "vpn-ip", region)
                .attr("project", project)
                .attr("address_type", "EXTERNAL")
                .build(),
        );
        let tvg = self.add(
            self.per_network(Kind::GcpTargetVpnGateway, n, "classic", region)
                .attr("project", project)
                .attr("network", network)
                .build(),
        );
        let mut rules = Vec::new();
        for (suffix, proto, port) in [
            ("esp", "ESP", None),
            ("udp500", "UDP", Some("500")),
            ("udp4500", "UDP", Some("4500")),
        ] {
            let mut b = Builder::new(
                Kind::GcpForwardingRule,
                &format!("{}-{suffix}", n.name),
                self.name(&[&n.name, "classic", suffix]),
                region,
            )
            .network(&n.name)
            .attr("project", project)
            .attr("ip_protocol", proto)
            .attr("ip_address", Value::r(&addr, "address"))
            .attr("target", Value::r(&tvg, "id"));
            if let Some(p) = port {
                b = b.attr("port_range", p);
            }
            rules.push(self.add(b.build()));
        }
        self.shared.entry(&n.name).or_default().classic =
            Some((tvg.clone(), addr.clone(), rules.clone()));
        Ok((tvg, addr, rules))
    }

    fn gcp_firewall(
        &mut self,
        n: &Network,
        link: &Link,
        remote: &Network,
        tpl: &Template,
    ) -> Result<(), PlanError> {
        let (project, _, network) = Self::gcp_loc(n)?;
        let mut tcp = Vec::new();
        let mut udp = Vec::new();
        let mut allowed = Vec::new();
        let port = |f: u16, t: u16| {
            if f == t {
                f.to_string()
            } else {
                format!("{f}-{t}")
            }
        };
        for a in allow_list(link) {
            match a {
                Allow::All => allowed.push(proto_map("all", None)),
                Allow::Icmp => allowed.push(proto_map("icmp", None)),
                Allow::Tcp { from, to } => tcp.push(port(from, to)),
                Allow::Udp { from, to } => udp.push(port(from, to)),
            }
        }
        if !tcp.is_empty() {
            allowed.push(proto_map("tcp", Some(tcp)));
        }
        if !udp.is_empty() {
            allowed.push(proto_map("udp", Some(udp)));
        }
        let id = link.id();
        self.add(
            Builder::new(
                Kind::GcpFirewall,
                &format!("{id}.{}", n.name),
                self.name(&[&id, "from", &remote.name]),
                "global",
            )
            .network(&n.name)
            .link(&id)
            .attr("project", project)
            .attr("network", network)
            .attr("direction", "INGRESS")
            .attr("priority", tpl.firewall.gcp_priority)
            .attr("source_ranges", cidrs(remote))
            .attr("allowed", Value::List(allowed))
            .build(),
        );
        Ok(())
    }

    // ---------------------------------------------------------------- Azure

    fn azure_loc(n: &Network) -> Result<&crate::topology::AzureNetwork, PlanError> {
        match &n.location {
            Location::Azure(z) => Ok(z),
            _ => Err(PlanError::Internal(format!(
                "{} is not an Azure network",
                n.name
            ))),
        }
    }

    /// GatewaySubnet + public IP + VPN gateway of a VNet. Returns (gateway, public IP).
    fn azure_gw(&mut self, n: &'a Network) -> Result<(String, String), PlanError> {
        if let Some(gw) = self
            .shared
            .get(n.name.as_str())
            .and_then(|s| s.azure_gw.clone())
        {
            return Ok(gw);
        }
        let z = Self::azure_loc(n)?;
        let tpl = self.tpl;
        let az = tpl.classic_vpn_static.azure.as_ref().ok_or_else(|| {
            PlanError::Internal("classic-vpn-static template without azure".into())
        })?;
        let common = |b: Builder| {
            b.network(&n.name)
                .attr("subscription", z.subscription.as_str())
                .attr("resource_group", z.resource_group.as_str())
        };
        let subnet = self.add(
            common(Builder::new(
                Kind::AzureSubnet,
                &n.name,
                "GatewaySubnet".into(),
                &z.location,
            ))
            .attr("vnet", z.vnet.as_str())
            .attr("address_prefix", z.gateway_subnet.to_string())
            .build(),
        );
        let pip = self.add(
            common(self.per_network(Kind::AzurePublicIp, n, "gw-ip", &z.location))
                .attr("sku", az.public_ip_sku.as_str())
                .attr("allocation", az.public_ip_allocation.as_str())
                .build(),
        );
        let gw = self.add(
            common(self.per_network(Kind::AzureVpnGateway, n, "gw", &z.location))
                .attr("gateway_type", "Vpn")
                .attr("vpn_type", az.vpn_type.as_str())
                .attr("sku", z.gateway_sku.as_str())
                .attr("active_active", false)
                .attr("enable_bgp", false)
                .attr("public_ip", Value::r(&pip, "id"))
                .attr("subnet", Value::r(&subnet, "id"))
                .build(),
        );
        self.shared.entry(&n.name).or_default().azure_gw = Some((gw.clone(), pip.clone()));
        Ok((gw, pip))
    }

    /// LNG + connection on an Azure side of a static link, towards a peer whose public IP is
    /// `peer_ip` and whose prefixes are `remote`'s CIDRs.
    fn azure_side(
        &mut self,
        n: &'a Network,
        link: &Link,
        key: &str,
        remote: &Network,
        peer_ip: Value,
    ) -> Result<(), PlanError> {
        let z = Self::azure_loc(n)?;
        let (gw, _) = self.azure_gw(n)?;
        let id = link.id();
        let tpl = &self.tpl.classic_vpn_static;
        let common = |b: Builder| {
            b.network(&n.name)
                .link(&id)
                .attr("subscription", z.subscription.as_str())
                .attr("resource_group", z.resource_group.as_str())
        };
        let lng = self.add(
            common(Builder::new(
                Kind::AzureLocalNetworkGateway,
                key,
                self.name(&[key, "lng"]),
                &z.location,
            ))
            .attr("gateway_ip_address", peer_ip)
            .attr("address_prefixes", cidrs(remote))
            .build(),
        );
        let p1 = &tpl.ike.phase1;
        let p2 = &tpl.ike.phase2;
        let sa_kb = tpl
            .azure
            .as_ref()
            .map(|a| a.sa_data_size_kilobytes)
            .unwrap_or(102_400_000);
        let policy = Value::Map(BTreeMap::from([
            (
                "ike_encryption".to_string(),
                Value::from(p1.encryption.as_str()),
            ),
            (
                "ike_integrity".to_string(),
                Template::azure_integrity(&p1.integrity).into(),
            ),
            (
                "dh_group".to_string(),
                Template::azure_dh_group(p1.group).into(),
            ),
            (
                "ipsec_encryption".to_string(),
                p2.encryption.as_str().into(),
            ),
            (
                "ipsec_integrity".to_string(),
                Template::azure_integrity(&p2.integrity).into(),
            ),
            (
                "pfs_group".to_string(),
                Template::azure_pfs_group(p2.group).into(),
            ),
            (
                "sa_lifetime_seconds".to_string(),
                p2.lifetime_seconds.into(),
            ),
            (
                "sa_data_size_kilobytes".to_string(),
                Value::Int(i64::try_from(sa_kb).unwrap_or(i64::MAX)),
            ),
        ]));
        self.add(
            common(Builder::new(
                Kind::AzureConnection,
                key,
                self.name(&[key, "conn"]),
                &z.location,
            ))
            .attr("connection_type", "IPsec")
            .attr("connection_protocol", format!("IKEv{}", tpl.ike.version))
            .attr("virtual_network_gateway", Value::r(&gw, "id"))
            .attr("local_network_gateway", Value::r(&lng, "id"))
            .attr("shared_key", Value::secret(&format!("{id}/0")))
            .attr("enable_bgp", false)
            .attr("use_policy_based_traffic_selectors", false)
            .attr("ipsec_policy", policy)
            .build(),
        );
        self.azure_nsg(n, link, remote)?;
        Ok(())
    }

    /// NSG rules admitting the remote prefixes for the allow list; a deny for the rest of the
    /// remote prefixes' traffic when the list is narrower than all (the VirtualNetwork tag in
    /// the default rules would otherwise admit it).
    fn azure_nsg(&mut self, n: &Network, link: &Link, remote: &Network) -> Result<(), PlanError> {
        let z = Self::azure_loc(n)?;
        let id = link.id();
        let base = self.nsg_base(&id, &n.name)?;
        let allow = allow_list(link);
        let all = allow.contains(&Allow::All);
        let port = |f: u16, t: u16| {
            if f == t {
                f.to_string()
            } else {
                format!("{f}-{t}")
            }
        };
        // Block layout: +0 tcp (or all), +1 udp, +2 icmp, +3 deny.
        let mut rules: Vec<(u16, &str, &str, Vec<String>)> = Vec::new();
        if all {
            rules.push((0, "Allow", "*", vec!["*".into()]));
        } else {
            let tcp: Vec<String> = allow
                .iter()
                .filter_map(|a| match *a {
                    Allow::Tcp { from, to } => Some(port(from, to)),
                    _ => None,
                })
                .collect();
            let udp: Vec<String> = allow
                .iter()
                .filter_map(|a| match *a {
                    Allow::Udp { from, to } => Some(port(from, to)),
                    _ => None,
                })
                .collect();
            if !tcp.is_empty() {
                rules.push((0, "Allow", "Tcp", tcp));
            }
            if !udp.is_empty() {
                rules.push((1, "Allow", "Udp", udp));
            }
            if allow.contains(&Allow::Icmp) {
                rules.push((2, "Allow", "Icmp", vec!["*".into()]));
            }
            rules.push((NSG_BLOCK - 1, "Deny", "*", vec!["*".into()]));
        }
        let nsgs: Vec<String> = match &z.network_security_groups {
            Some(v) => v.clone(),
            None => vec![default_nsg(&z.vnet)],
        };
        for nsg in &nsgs {
            for (off, access, proto, ports) in &rules {
                let label = if *access == "Deny" {
                    "deny".to_string()
                } else {
                    format!("allow-{}", proto.to_lowercase().replace('*', "all"))
                };
                let key = if nsgs.len() == 1 {
                    format!("{id}.{}.{label}", n.name)
                } else {
                    format!("{id}.{}.{nsg}.{label}", n.name)
                };
                self.add(
                    Builder::new(
                        Kind::AzureNsgRule,
                        &key,
                        self.name(&[&id, &label]),
                        &z.location,
                    )
                    .network(&n.name)
                    .link(&id)
                    .attr("subscription", z.subscription.as_str())
                    .attr("resource_group", z.resource_group.as_str())
                    .attr("network_security_group", nsg.as_str())
                    .attr("direction", "Inbound")
                    .attr("access", *access)
                    .attr("protocol", *proto)
                    .attr("priority", i64::from(base + off))
                    .attr("source_address_prefixes", cidrs(remote))
                    .attr("destination_address_prefixes", cidrs(n))
                    .attr("destination_port_ranges", Value::strs(ports))
                    .build(),
                );
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- strategies

    /// AWS ↔ GCP, HA VPN with BGP: one AWS VPN connection per GCP HA interface, each with
    /// [`AWS_TUNNELS_PER_CONNECTION`] tunnels, = the template's tunnel count (4, checked when the
    /// template is parsed); GCP tunnel k = AWS connection k/2, tunnel k%2+1 = allocation index k,
    /// on HA interface k/2.
    fn aws_gcp(
        &mut self,
        id: &str,
        link: &Link,
        aws: &'a Network,
        gcp: &'a Network,
    ) -> Result<(), PlanError> {
        let tpl = &self.tpl.ha_vpn_bgp;
        let bgp = tpl
            .bgp
            .as_ref()
            .ok_or_else(|| PlanError::Internal("ha-vpn-bgp without bgp".into()))?;
        let vgw = self.aws_vgw(aws)?;
        let (ha, router) = self.gcp_ha(gcp)?;
        let (project, region, _) = Self::gcp_loc(gcp)?;
        let gcp_asn = self.asn(&gcp.name)?;
        let aws_asn = self.asn(&aws.name)?;
        let per = AWS_TUNNELS_PER_CONNECTION;
        let tunnels = u8::try_from(tpl.tunnels)
            .map_err(|_| PlanError::Internal("ha-vpn-bgp tunnel count".into()))?;
        let mut conns = Vec::new();
        for j in 0..tunnels / per {
            let cgw = self.aws_cgw(
                aws.region(),
                &format!("{}-if{j}", gcp.name),
                Value::r(&ha, &format!("interface{j}_ip")),
                gcp_asn,
            );
            let key = format!("{id}-{j}");
            conns.push(self.aws_vpn_connection(
                aws,
                id,
                &key,
                &vgw,
                &cgw,
                false,
                per * j..per * (j + 1),
                tpl,
            )?);
        }
        let interfaces = (0..usize::from(tunnels))
            .map(|k| {
                Value::Map(BTreeMap::from([
                    ("id".to_string(), Value::Int(k as i64)),
                    (
                        "ip_address".to_string(),
                        Value::r(
                            &conns[k / usize::from(per)],
                            &format!("tunnel{}_outside_ip", k % usize::from(per) + 1),
                        ),
                    ),
                ]))
            })
            .collect();
        let ext = self.add(
            Builder::new(
                Kind::GcpExternalVpnGateway,
                id,
                self.name(&[id, "peer"]),
                "global",
            )
            .network(&gcp.name)
            .link(id)
            .attr("project", project)
            .attr("redundancy_type", "FOUR_IPS_REDUNDANCY")
            .attr("interfaces", Value::List(interfaces))
            .build(),
        );
        for k in 0..tunnels {
            let inside = self.inside(id, k)?;
            let key = format!("{id}-{k}");
            let tunnel = self.add(
                Builder::new(
                    Kind::GcpVpnTunnel,
                    &key,
                    self.name(&[id, &format!("t{k}")]),
                    region,
                )
                .network(&gcp.name)
                .link(id)
                .attr("project", project)
                .attr("vpn_gateway", Value::r(&ha, "id"))
                .attr("vpn_gateway_interface", i64::from(k / per))
                .attr("peer_external_gateway", Value::r(&ext, "id"))
                .attr("peer_external_gateway_interface", i64::from(k))
                .attr("router", Value::r(&router, "id"))
                .attr("shared_secret", Value::secret(&format!("{id}/{k}")))
                .attr("ike_version", tpl.ike.version)
                .attr(
                    "local_traffic_selector",
                    Value::strs([&tpl.traffic_selector_local]),
                )
                .attr(
                    "remote_traffic_selector",
                    Value::strs([&tpl.traffic_selector_remote]),
                )
                .build(),
            );
            let iface_name = names::name(&[id, &format!("if{k}")]);
            let iface = self.add(
                Builder::new(Kind::GcpRouterInterface, &key, iface_name.clone(), region)
                    .network(&gcp.name)
                    .link(id)
                    .attr("project", project)
                    .attr("router", Value::r(&router, "id"))
                    // AWS takes the first host (.1) for the VGW, the second (.2) is ours.
                    .attr("ip_range", host(&inside, 2))
                    .attr("linked_vpn_tunnel", Value::r(&tunnel, "id"))
                    .build(),
            );
            self.add(
                Builder::new(
                    Kind::GcpRouterPeer,
                    &key,
                    names::name(&[id, &format!("peer{k}")]),
                    region,
                )
                .network(&gcp.name)
                .link(id)
                .attr("project", project)
                .attr("router", Value::r(&router, "id"))
                .attr("interface", Value::r(&iface, "id"))
                .attr("interface_name", iface_name)
                .attr("ip_address", host_ip(&inside, 2))
                .attr("peer_ip_address", host_ip(&inside, 1))
                .attr("peer_asn", aws_asn)
                .attr("advertise_mode", bgp.advertise_mode.as_str())
                .attr("advertised_route_priority", bgp.advertised_route_priority)
                .build(),
            );
        }
        self.aws_sg_rule(aws, link, gcp);
        self.gcp_firewall(gcp, link, aws, tpl)?;
        Ok(())
    }

    /// AWS ↔ Azure, static: one StaticRoutesOnly VPN connection (tunnel 1 ↔ Azure, tunnel 2
    /// standby by design), one LNG to tunnel 1's outside IP, one connection.
    fn aws_azure(
        &mut self,
        id: &str,
        link: &Link,
        aws: &'a Network,
        az: &'a Network,
    ) -> Result<(), PlanError> {
        let tpl = &self.tpl.classic_vpn_static;
        let vgw = self.aws_vgw(aws)?;
        let (_, pip) = self.azure_gw(az)?;
        let cgw = self.aws_cgw(
            aws.region(),
            &az.name,
            Value::r(&pip, "ip_address"),
            self.asn(&az.name)?,
        );
        let conn = self.aws_vpn_connection(
            aws,
            id,
            id,
            &vgw,
            &cgw,
            true,
            0..AWS_TUNNELS_PER_CONNECTION,
            tpl,
        )?;
        for (i, c) in az.cidrs.iter().enumerate() {
            self.add(
                Builder::new(
                    Kind::AwsVpnConnectionRoute,
                    &format!("{id}-{i}"),
                    self.name(&[id, &format!("r{i}")]),
                    aws.region(),
                )
                .network(&aws.name)
                .link(id)
                .attr("vpn_connection_id", Value::r(&conn, "id"))
                .attr("destination_cidr_block", c.to_string())
                .build(),
            );
        }
        self.aws_sg_rule(aws, link, az);
        self.azure_side(az, link, id, aws, Value::r(&conn, "tunnel1_outside_ip"))
    }

    /// GCP ↔ Azure, static: one classic tunnel on the network's target gateway (the template's
    /// tunnel count, which parsing holds at 1: several static tunnels to one Azure site would
    /// need BGP).
    fn gcp_azure(
        &mut self,
        id: &str,
        link: &Link,
        gcp: &'a Network,
        az: &'a Network,
    ) -> Result<(), PlanError> {
        let tpl = &self.tpl.classic_vpn_static;
        let route_priority = tpl.routes.as_ref().map(|r| r.gcp_priority).ok_or_else(|| {
            PlanError::Internal("classic-vpn-static template without routes".into())
        })?;
        let (tvg, addr, rules) = self.gcp_classic(gcp)?;
        let (_, pip) = self.azure_gw(az)?;
        let (project, region, network) = Self::gcp_loc(gcp)?;
        let mut b = Builder::new(Kind::GcpVpnTunnel, id, self.name(&[id, "t0"]), region)
            .network(&gcp.name)
            .link(id)
            .attr("project", project)
            .attr("target_vpn_gateway", Value::r(&tvg, "id"))
            .attr("peer_ip", Value::r(&pip, "ip_address"))
            .attr("shared_secret", Value::secret(&format!("{id}/0")))
            .attr("ike_version", tpl.ike.version)
            .attr(
                "local_traffic_selector",
                Value::strs([&tpl.traffic_selector_local]),
            )
            .attr(
                "remote_traffic_selector",
                Value::strs([&tpl.traffic_selector_remote]),
            );
        // Without its gateway's forwarding rules a classic tunnel stays WAITING_FOR_FULL_CONFIG.
        for r in &rules {
            b = b.after(r);
        }
        let tunnel = self.add(b.build());
        for (i, c) in az.cidrs.iter().enumerate() {
            self.add(
                Builder::new(
                    Kind::GcpRoute,
                    &format!("{id}-{i}"),
                    self.name(&[id, &format!("r{i}")]),
                    "global",
                )
                .network(&gcp.name)
                .link(id)
                .attr("project", project)
                .attr("network", network)
                .attr("dest_range", c.to_string())
                .attr("next_hop_vpn_tunnel", Value::r(&tunnel, "id"))
                .attr("priority", route_priority)
                .build(),
            );
        }
        self.gcp_firewall(gcp, link, az, tpl)?;
        self.azure_side(az, link, id, gcp, Value::r(&addr, "address"))
    }

    /// Azure ↔ Azure, static: each gateway gets an LNG for the other's public IP.
    fn azure_azure(
        &mut self,
        id: &str,
        link: &Link,
        a: &'a Network,
        b: &'a Network,
    ) -> Result<(), PlanError> {
        let (_, pip_a) = self.azure_gw(a)?;
        let (_, pip_b) = self.azure_gw(b)?;
        self.azure_side(
            a,
            link,
            &format!("{id}.{}", a.name),
            b,
            Value::r(&pip_b, "ip_address"),
        )?;
        self.azure_side(
            b,
            link,
            &format!("{id}.{}", b.name),
            a,
            Value::r(&pip_a, "ip_address"),
        )
    }
}

fn proto_map(proto: &str, ports: Option<Vec<String>>) -> Value {
    let mut m = BTreeMap::from([("ip_protocol".to_string(), Value::from(proto))]);
    if let Some(p) = ports {
        m.insert("ports".into(), Value::strs(p));
    }
    Value::Map(m)
}

/// The link's allow list, `[All]` when the topology left it empty; sorted and deduplicated.
pub fn allow_list(link: &Link) -> Vec<Allow> {
    let mut v = if link.allow.is_empty() {
        vec![Allow::All]
    } else {
        link.allow.clone()
    };
    v.sort();
    v.dedup();
    if v.contains(&Allow::All) {
        return vec![Allow::All];
    }
    v
}
