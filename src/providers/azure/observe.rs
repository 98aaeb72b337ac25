//! verify's reads on Azure: per (subscription, resource group) one list each of connections,
//! local network gateways, VPN gateways, public IPs, virtual networks (with their subnets),
//! NSGs (with custom and default rules) and route tables, plus one `sharedkey` GET per
//! connection (ARM shows a connection's key nowhere else) — turned into a snapshot.
//!
//! - Resources are found by their recorded ARM id (compared case-insensitively; a created
//!   GatewaySubnet's id carries peerctl's mark); a resource being deleted counts as absent. A
//!   list that failed leaves its resources out of the snapshot (unjudged, the read error says
//!   why) rather than calling them absent.
//! - Tunnels: one per connection, up when ARM's `connectionStatus` is `Connected`.
//! - BGP: none. Every Azure link peerctl plans is static (route-based, `enableBgp` false on
//!   the gateway and its connections; docs/ARCHITECTURE.md says why), so there is no session to
//!   read and getBgpPeerStatus is never called.
//! - Routes: per network, the table `gateway NAME`, holding every local network gateway prefix
//!   of the gateway's connections, in effect while the connection is `Connected` (what the
//!   gateway routes and propagates into the VNet's subnets); and each user-defined route table
//!   of a workload subnet (every subnet but GatewaySubnet) as that subnet's effective routes:
//!   its routes (a next hop `VirtualNetworkGateway` is the gateway, any other — `None`,
//!   `VirtualAppliance`, `Internet` — is not the link), which beat the propagated gateway routes
//!   of equal prefix, plus those gateway routes unless the table disables propagation.
//! - Firewalls: each NSG of a workload subnet, its custom rules and Azure's default rules
//!   (ARM's `defaultSecurityRules`; Azure's documented six when an answer lacks them). Service
//!   tags are expanded to ranges ([`nsg`]): `VirtualNetwork` is, as Microsoft documents it, the
//!   VNet's address space, every connected on-premises space (the local network gateway
//!   prefixes of the connections on its gateway, connected or not) and the prefixes of the
//!   user-defined routes of its subnets — so AllowVnetInBound (65000) admits the remote side of
//!   every link, which is why peerctl narrows with a deny of its own; `Internet` is the public
//!   space outside that; `AzureLoadBalancer` is 168.63.129.16; `*` is everything. The sandbox's
//!   physics holds the same tags.

mod nsg;
mod resources;

use super::gateway::bare;
use super::{arm_id, ArmId, AzureProvider};
use crate::plan::resource::Kind;
use crate::providers::{ObserveRequest, ProviderError, Recorded};
use crate::topology::{Location, Network};
use crate::verify::snapshot::{
    CloudSnapshot, FirewallKind, FirewallObs, NetworkObs, ReadError, RouteObs, RouteTableObs,
};
use azure_mgmt_network::package_2024_03::models::{self, ProvisioningState};
use futures::StreamExt;
use ipnet::Ipv4Net;
use nsg::{spell, RuleSpec, Tags};
use std::collections::{BTreeMap, BTreeSet};
use std::future::IntoFuture;

/// The kinds listed per scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum List {
    Connections,
    LocalGateways,
    Gateways,
    PublicIps,
    Vnets,
    Nsgs,
    RouteTables,
}

impl List {
    const ALL: [List; 7] = [
        List::Connections,
        List::LocalGateways,
        List::Gateways,
        List::PublicIps,
        List::Vnets,
        List::Nsgs,
        List::RouteTables,
    ];
    fn what(self) -> &'static str {
        match self {
            List::Connections => "list connections",
            List::LocalGateways => "list local network gateways",
            List::Gateways => "list virtual network gateways",
            List::PublicIps => "list public IP addresses",
            List::Vnets => "list virtual networks",
            List::Nsgs => "list network security groups",
            List::RouteTables => "list route tables",
        }
    }
    /// The list holding resources of a plan kind.
    fn of(kind: Kind) -> Option<List> {
        Some(match kind {
            Kind::AzureConnection => List::Connections,
            Kind::AzureLocalNetworkGateway => List::LocalGateways,
            Kind::AzureVpnGateway => List::Gateways,
            Kind::AzurePublicIp => List::PublicIps,
            Kind::AzureSubnet => List::Vnets,
            Kind::AzureNsgRule => List::Nsgs,
            _ => return None,
        })
    }
}

/// A (subscription, resource group) scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Scope {
    sub: String,
    rg: String,
}

impl Scope {
    fn of(sub: &str, rg: &str) -> Scope {
        Scope {
            sub: sub.to_string(),
            rg: rg.to_string(),
        }
    }
    fn key(&self) -> String {
        format!("{}/{}", self.sub, self.rg).to_ascii_lowercase()
    }
    fn of_id(id: &str) -> Option<Scope> {
        ArmId::parse(id).map(|a| Scope::of(&a.sub, &a.rg))
    }
}

/// Everything listed, over every scope, by lower-cased ARM id.
#[derive(Default)]
struct Seen {
    conns: BTreeMap<String, models::VirtualNetworkGatewayConnection>,
    lngs: BTreeMap<String, models::LocalNetworkGateway>,
    gateways: BTreeMap<String, models::VirtualNetworkGateway>,
    pips: BTreeMap<String, models::PublicIpAddress>,
    vnets: BTreeMap<String, models::VirtualNetwork>,
    nsgs: BTreeMap<String, models::NetworkSecurityGroup>,
    tables: BTreeMap<String, models::RouteTable>,
    /// Lists that failed, by scope key: absence there proves nothing.
    failed: BTreeSet<(String, List)>,
    /// Per connection (lower-cased id): whether ARM's key equals the recorded one.
    keys: BTreeMap<String, bool>,
    /// Plan address by lower-cased recorded id (mark stripped).
    by_id: BTreeMap<String, String>,
}

impl Seen {
    fn listed(&self, id: &str, list: List) -> bool {
        Scope::of_id(id).is_some_and(|s| !self.failed.contains(&(s.key(), list)))
    }
    fn address_of(&self, id: &str) -> Option<String> {
        self.by_id.get(&low(id)).cloned()
    }
}

/// The lookup key of an ARM id: mark stripped, lower-cased.
fn low(id: &str) -> String {
    bare(id).to_ascii_lowercase()
}

fn deleting(s: &Option<ProvisioningState>) -> bool {
    matches!(s, Some(ProvisioningState::Deleting))
}

/// What one scope's lists returned.
struct ScopeRead {
    scope: Scope,
    reads: usize,
    errors: Vec<(List, ProviderError)>,
    conns: Vec<models::VirtualNetworkGatewayConnection>,
    lngs: Vec<models::LocalNetworkGateway>,
    gateways: Vec<models::VirtualNetworkGateway>,
    pips: Vec<models::PublicIpAddress>,
    vnets: Vec<models::VirtualNetwork>,
    nsgs: Vec<models::NetworkSecurityGroup>,
    tables: Vec<models::RouteTable>,
}

fn by_id<T>(into: &mut BTreeMap<String, T>, items: Vec<T>, id: impl Fn(&T) -> Option<&String>) {
    for x in items {
        if let Some(k) = id(&x).map(|s| low(s)) {
            into.insert(k, x);
        }
    }
}

impl AzureProvider {
    /// Every page of one list, with peerctl's retries (a retry lists again from the start).
    /// Returns the calls it took (pages; one for a failure) and the pages.
    async fn pages<P, F>(&self, list: List, make: F) -> (usize, Result<Vec<P>, ProviderError>)
    where
        F: Fn() -> azure_core::Pageable<P, azure_core::Error>,
        P: Send + 'static,
    {
        let r = self
            .call(list.what(), || {
                let mut s = make();
                async move {
                    let mut out = Vec::new();
                    while let Some(page) = s.next().await {
                        out.push(page?);
                    }
                    Ok(out)
                }
            })
            .await;
        (r.as_ref().map(|p| p.len().max(1)).unwrap_or(1), r)
    }

    /// The lists `lists` of one scope, concurrently.
    async fn read_scope(&self, scope: Scope, lists: &[List]) -> ScopeRead {
        let (sub, rg) = (scope.sub.as_str(), scope.rg.as_str());
        let c = &self.client;
        let want = |l: List| lists.contains(&l);
        let (conns, lngs, gateways, pips, vnets, nsgs, tables) = tokio::join!(
            self.maybe(want(List::Connections), List::Connections, || c
                .virtual_network_gateway_connections_client()
                .list(rg, sub)
                .into_stream()),
            self.maybe(want(List::LocalGateways), List::LocalGateways, || c
                .local_network_gateways_client()
                .list(rg, sub)
                .into_stream()),
            self.maybe(want(List::Gateways), List::Gateways, || c
                .virtual_network_gateways_client()
                .list(rg, sub)
                .into_stream()),
            self.maybe(want(List::PublicIps), List::PublicIps, || c
                .public_ip_addresses_client()
                .list(rg, sub)
                .into_stream()),
            self.maybe(want(List::Vnets), List::Vnets, || c
                .virtual_networks_client()
                .list(rg, sub)
                .into_stream()),
            self.maybe(want(List::Nsgs), List::Nsgs, || c
                .network_security_groups_client()
                .list(rg, sub)
                .into_stream()),
            self.maybe(want(List::RouteTables), List::RouteTables, || c
                .route_tables_client()
                .list(rg, sub)
                .into_stream()),
        );
        let mut out = ScopeRead {
            scope: scope.clone(),
            reads: 0,
            errors: Vec::new(),
            conns: Vec::new(),
            lngs: Vec::new(),
            gateways: Vec::new(),
            pips: Vec::new(),
            vnets: Vec::new(),
            nsgs: Vec::new(),
            tables: Vec::new(),
        };
        macro_rules! take {
            ($r:expr, $list:expr, $field:ident) => {
                if let Some((n, r)) = $r {
                    out.reads += n;
                    match r {
                        Ok(pages) => out.$field = pages.into_iter().flat_map(|p| p.value).collect(),
                        Err(e) => out.errors.push(($list, e)),
                    }
                }
            };
        }
        take!(conns, List::Connections, conns);
        take!(lngs, List::LocalGateways, lngs);
        take!(gateways, List::Gateways, gateways);
        take!(pips, List::PublicIps, pips);
        take!(vnets, List::Vnets, vnets);
        take!(nsgs, List::Nsgs, nsgs);
        take!(tables, List::RouteTables, tables);
        out
    }

    async fn maybe<P, F>(
        &self,
        wanted: bool,
        list: List,
        make: F,
    ) -> Option<(usize, Result<Vec<P>, ProviderError>)>
    where
        F: Fn() -> azure_core::Pageable<P, azure_core::Error>,
        P: Send + 'static,
    {
        if wanted {
            Some(self.pages(list, make).await)
        } else {
            None
        }
    }

    /// Reads `scopes` (each with its lists) into `seen`, counting and recording errors.
    async fn read_scopes(
        &self,
        scopes: Vec<(Scope, Vec<List>)>,
        seen: &mut Seen,
        snap: &mut CloudSnapshot,
    ) {
        let reads = scopes
            .into_iter()
            .map(|(s, lists)| async move { self.read_scope(s, &lists).await });
        for r in futures::future::join_all(reads).await {
            snap.reads += r.reads;
            for (list, e) in r.errors {
                seen.failed.insert((r.scope.key(), list));
                snap.errors.push(ReadError {
                    scope: format!("azure {}/{}", r.scope.sub, r.scope.rg),
                    what: list.what().to_string(),
                    message: e.to_string(),
                });
            }
            by_id(&mut seen.conns, r.conns, |x| x.resource.id.as_ref());
            by_id(&mut seen.lngs, r.lngs, |x| x.resource.id.as_ref());
            by_id(&mut seen.gateways, r.gateways, |x| x.resource.id.as_ref());
            by_id(&mut seen.pips, r.pips, |x| x.resource.id.as_ref());
            by_id(&mut seen.vnets, r.vnets, |x| x.resource.id.as_ref());
            by_id(&mut seen.nsgs, r.nsgs, |x| x.resource.id.as_ref());
            by_id(&mut seen.tables, r.tables, |x| x.resource.id.as_ref());
        }
    }

    /// One `sharedkey` GET per recorded connection that exists: whether its key is the
    /// recorded one (the key itself goes nowhere).
    async fn read_keys(&self, req: &ObserveRequest, seen: &mut Seen, snap: &mut CloudSnapshot) {
        let conns = self.client.virtual_network_gateway_connections_client();
        let gets = req
            .resources
            .iter()
            .filter(|r| r.desired.kind == Kind::AzureConnection)
            .filter(|r| {
                seen.conns
                    .get(&low(&r.id))
                    .is_some_and(|c| !deleting(&c.properties.provisioning_state))
            })
            .filter_map(|r| {
                let a = ArmId::parse(&r.id)?;
                let key = r
                    .desired
                    .attrs
                    .secret("shared_key")
                    .ok()?
                    .expose()
                    .to_string();
                let conns = &conns;
                Some(async move {
                    let got = self
                        .call("get shared key", || {
                            conns.get_shared_key(&a.rg, &a.name, &a.sub).into_future()
                        })
                        .await;
                    let got = got.map(|k| k.value == key).map_err(|e| e.redacted(&[&key]));
                    (r, a, got)
                })
            });
        for (r, a, got) in futures::future::join_all(gets).await {
            snap.reads += 1;
            match got {
                Ok(same) => {
                    seen.keys.insert(low(&r.id), same);
                }
                Err(e) => snap.errors.push(ReadError {
                    scope: format!("azure {}/{}", a.sub, a.rg),
                    what: format!("get shared key of connection {}", a.name),
                    message: e.to_string(),
                }),
            }
        }
    }

    pub(super) async fn observe_all(
        &self,
        req: &ObserveRequest,
    ) -> Result<CloudSnapshot, ProviderError> {
        let mut snap = CloudSnapshot::default();
        let mut seen = Seen::default();
        let mut scopes: BTreeMap<String, Scope> = BTreeMap::new();
        for r in &req.resources {
            if let Some(s) = Scope::of_id(&r.id) {
                scopes.entry(s.key()).or_insert(s);
            }
            seen.by_id.insert(low(&r.id), r.desired.address.clone());
        }
        for n in &req.networks {
            if let Location::Azure(z) = &n.location {
                let s = Scope::of(&z.subscription, &z.resource_group);
                scopes.entry(s.key()).or_insert(s);
            }
        }
        let first: Vec<(Scope, Vec<List>)> = scopes
            .values()
            .map(|s| (s.clone(), List::ALL.to_vec()))
            .collect();
        self.read_scopes(first, &mut seen, &mut snap).await;
        // NSGs and route tables of the topology's subnets kept in another resource group.
        let mut more: BTreeMap<String, (Scope, BTreeSet<List>)> = BTreeMap::new();
        for n in &req.networks {
            for (list, id) in subnet_refs(n, &seen) {
                let Some(s) = Scope::of_id(&id) else { continue };
                if !scopes.contains_key(&s.key()) {
                    more.entry(s.key())
                        .or_insert_with(|| (s, BTreeSet::new()))
                        .1
                        .insert(list);
                }
            }
        }
        let more: Vec<(Scope, Vec<List>)> = more
            .into_values()
            .map(|(s, l)| (s, l.into_iter().collect()))
            .collect();
        self.read_scopes(more, &mut seen, &mut snap).await;
        self.read_keys(req, &mut seen, &mut snap).await;

        for rec in &req.resources {
            if let Some(obs) = resources::observe(rec, &seen, &mut snap) {
                snap.resources.insert(rec.desired.address.clone(), obs);
            }
        }
        for n in &req.networks {
            if let Some(obs) = network(n, req, &seen) {
                snap.networks.insert(n.name.clone(), obs);
            }
        }
        Ok(snap)
    }
}

/// The VNet of a topology network, when listed.
fn vnet_of<'a>(n: &Network, seen: &'a Seen) -> Option<(String, &'a models::VirtualNetwork)> {
    let Location::Azure(z) = &n.location else {
        return None;
    };
    let id = arm_id(
        &z.subscription,
        &z.resource_group,
        &format!("virtualNetworks/{}", z.vnet),
    );
    seen.vnets.get(&low(&id)).map(|v| (low(&id), v))
}

fn is_gateway_subnet(s: &models::Subnet) -> bool {
    s.name
        .as_deref()
        .is_some_and(|n| n.eq_ignore_ascii_case("GatewaySubnet"))
}

/// The subnets of a VNet that hold workloads (all but GatewaySubnet).
fn workload_subnets(v: &models::VirtualNetwork) -> impl Iterator<Item = &models::Subnet> {
    v.properties
        .iter()
        .flat_map(|p| p.subnets.iter())
        .filter(|s| !is_gateway_subnet(s))
}

/// The NSGs and route tables the workload subnets of `n` reference.
fn subnet_refs(n: &Network, seen: &Seen) -> Vec<(List, String)> {
    let Some((_, v)) = vnet_of(n, seen) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in workload_subnets(v) {
        let Some(p) = &s.properties else { continue };
        if let Some(id) = p
            .network_security_group
            .as_ref()
            .and_then(|g| g.resource.id.clone())
        {
            out.push((List::Nsgs, id));
        }
        if let Some(id) = p.route_table.as_ref().and_then(|t| t.resource.id.clone()) {
            out.push((List::RouteTables, id));
        }
    }
    out
}

fn prefixes(space: Option<&models::AddressSpace>) -> Vec<Ipv4Net> {
    space
        .map(|a| a.address_prefixes.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.parse::<Ipv4Net>().ok())
        .collect()
}

fn connected(c: &models::VirtualNetworkGatewayConnection) -> bool {
    matches!(
        c.properties.connection_status,
        Some(models::VirtualNetworkGatewayConnectionStatus::Connected)
    ) && !deleting(&c.properties.provisioning_state)
}

/// The network's effective routes and firewalls.
fn network(n: &Network, req: &ObserveRequest, seen: &Seen) -> Option<NetworkObs> {
    let Location::Azure(z) = &n.location else {
        return None;
    };
    let scope = Scope::of(&z.subscription, &z.resource_group).key();
    if seen.failed.contains(&(scope.clone(), List::Vnets)) {
        return None;
    }
    let planned_gw: Option<&Recorded> = req.resources.iter().find(|r| {
        r.desired.kind == Kind::AzureVpnGateway && r.network.as_deref() == Some(n.name.as_str())
    });
    let mut obs = NetworkObs {
        cidrs: n.cidrs.clone(),
        ..NetworkObs::default()
    };
    let vnet = vnet_of(n, seen);
    // The VNet's gateway: the one whose ipConfiguration sits in this VNet's GatewaySubnet.
    let gateway = vnet.as_ref().and_then(|(vid, _)| {
        let inside = format!("{vid}/subnets/");
        seen.gateways.iter().find(|(_, g)| {
            !deleting(&g.properties.provisioning_state)
                && g.properties.ip_configurations.iter().any(|c| {
                    c.properties
                        .as_ref()
                        .and_then(|p| p.subnet.as_ref())
                        .and_then(|s| s.id.as_deref())
                        .is_some_and(|s| low(s).starts_with(&inside))
                })
        })
    });
    let gw_name = gateway
        .and_then(|(_, g)| g.resource.name.clone())
        .or_else(|| planned_gw.map(|r| r.desired.name.clone()))
        .unwrap_or_else(|| "(none)".into());
    let gw_address = gateway
        .and_then(|(id, _)| seen.by_id.get(id).cloned())
        .or_else(|| planned_gw.map(|r| r.desired.address.clone()));
    let conns: Vec<&models::VirtualNetworkGatewayConnection> = match gateway {
        Some((gid, _)) => seen
            .conns
            .values()
            .filter(|c| {
                c.properties
                    .virtual_network_gateway1
                    .resource
                    .id
                    .as_deref()
                    .is_some_and(|g| low(g) == *gid)
                    && !deleting(&c.properties.provisioning_state)
            })
            .collect(),
        None => Vec::new(),
    };
    let mut gw_routes = Vec::new();
    let mut vnet_tag: Vec<Ipv4Net> = vnet
        .as_ref()
        .and_then(|(_, v)| v.properties.as_ref())
        .map(|p| prefixes(p.address_space.as_ref()))
        .unwrap_or_default();
    for c in &conns {
        let Some(l) = c
            .properties
            .local_network_gateway2
            .as_ref()
            .and_then(|l| l.resource.id.as_deref())
            .and_then(|id| seen.lngs.get(&low(id)))
        else {
            continue;
        };
        let sites = prefixes(l.properties.local_network_address_space.as_ref());
        vnet_tag.extend(sites.iter().copied());
        let name = c.resource.name.clone().unwrap_or_default();
        let via = c.resource.id.as_deref().and_then(|id| seen.address_of(id));
        for dest in sites {
            gw_routes.push(RouteObs {
                dest,
                next_hop: name.clone(),
                via: via.clone(),
                active: connected(c),
                origin: "lng".into(),
                priority: 1,
            });
        }
    }
    obs.route_tables.push(RouteTableObs {
        name: format!("gateway {gw_name}"),
        routes: gw_routes.clone(),
    });
    let Some((_, v)) = vnet else {
        return Some(obs);
    };
    let mut tables_done = BTreeSet::new();
    let mut nsgs_done = BTreeSet::new();
    let mut nsgs = Vec::new();
    for s in workload_subnets(v) {
        let Some(p) = &s.properties else { continue };
        if let Some(t) = p
            .route_table
            .as_ref()
            .and_then(|t| t.resource.id.as_deref())
            .filter(|id| tables_done.insert(low(id)))
            .and_then(|id| seen.tables.get(&low(id)))
        {
            let (table, udr_prefixes) = user_routes(t, &gw_routes, gw_address.as_deref());
            vnet_tag.extend(udr_prefixes);
            obs.route_tables.push(table);
        }
        if let Some(g) = p
            .network_security_group
            .as_ref()
            .and_then(|g| g.resource.id.as_deref())
            .filter(|id| nsgs_done.insert(low(id)))
            .and_then(|id| seen.nsgs.get(&low(id)))
        {
            nsgs.push(g);
        }
    }
    let tags = Tags::new(vnet_tag);
    for g in nsgs {
        obs.firewalls.push(firewall(g, &tags, seen));
    }
    Some(obs)
}

/// A user-defined route table as the effective routes of the subnets it is on, and the
/// prefixes of its routes (part of the `VirtualNetwork` tag).
fn user_routes(
    t: &models::RouteTable,
    gateway: &[RouteObs],
    gw_address: Option<&str>,
) -> (RouteTableObs, Vec<Ipv4Net>) {
    let name = t.resource.name.clone().unwrap_or_default();
    let mut routes = Vec::new();
    let mut dests = Vec::new();
    let p = t.properties.as_ref();
    for r in p.map(|p| p.routes.as_slice()).unwrap_or_default() {
        let Some(rp) = &r.properties else { continue };
        let Some(dest) = rp
            .address_prefix
            .as_deref()
            .and_then(|a| a.parse::<Ipv4Net>().ok())
        else {
            continue; // a service-tag destination: no topology network's range
        };
        if deleting(&rp.provisioning_state) {
            continue;
        }
        dests.push(dest);
        let hop = spell(&rp.next_hop_type);
        let to_gateway = hop.eq_ignore_ascii_case("VirtualNetworkGateway");
        let next_hop = match &rp.next_hop_ip_address {
            Some(ip) if !ip.is_empty() => format!("{hop} {ip}"),
            _ => hop.clone(),
        };
        routes.push(RouteObs {
            dest,
            next_hop: format!(
                "{next_hop} (route {})",
                r.name.as_deref().unwrap_or_default()
            ),
            via: if to_gateway {
                gw_address.map(str::to_string)
            } else {
                None
            },
            active: true,
            origin: "user".into(),
            priority: 0,
        });
    }
    let propagate = !p
        .and_then(|p| p.disable_bgp_route_propagation)
        .unwrap_or(false);
    if propagate {
        routes.extend(gateway.iter().cloned());
    }
    (
        RouteTableObs {
            name: format!("route table {name}"),
            routes,
        },
        dests,
    )
}

/// One NSG with its custom and default rules.
fn firewall(g: &models::NetworkSecurityGroup, tags: &Tags, seen: &Seen) -> FirewallObs {
    let p = g.properties.as_ref();
    let custom = p.map(|p| p.security_rules.as_slice()).unwrap_or_default();
    let defaults = p
        .map(|p| p.default_security_rules.as_slice())
        .unwrap_or_default();
    let mut rules = Vec::new();
    for r in custom {
        if r.properties
            .as_ref()
            .is_some_and(|p| deleting(&p.provisioning_state))
        {
            continue;
        }
        let Some(spec) = RuleSpec::from_model(r) else {
            continue;
        };
        let address = r
            .sub_resource
            .id
            .as_deref()
            .and_then(|id| seen.address_of(id));
        rules.push(nsg::rule_obs(&spec, tags, address));
    }
    let default_specs: Vec<RuleSpec> = if defaults.is_empty() {
        nsg::default_rules()
    } else {
        defaults.iter().filter_map(RuleSpec::from_model).collect()
    };
    rules.extend(default_specs.iter().map(|s| nsg::rule_obs(s, tags, None)));
    FirewallObs {
        name: g.resource.name.clone().unwrap_or_default(),
        kind: FirewallKind::Nsg,
        rules,
    }
}
