//! verify's reads on GCP: per (project, region) one list of each VPN kind recorded there, per
//! project one list of external gateways, routes and firewalls (by network), and one
//! `getRouterStatus` per Cloud Router (the API has no batch form) — all at once, then turned
//! into a snapshot by [`resources`] (presence, drift, tunnels, BGP) and [`network`] (routes,
//! firewall rules).
//!
//! Judging conventions fixed here:
//! - The pre-shared key is not compared: GCP returns only `sharedSecretHash`, whose algorithm
//!   Google does not document, so an observer cannot tell which key it hashes. A key that
//!   differs shows as the tunnel's `AUTHORIZATION_ERROR` (and on AWS as a key that differs).
//! - A firewall rule with target tags or target service accounts applies to some instances
//!   only. verify judges "every host of the network": such an allow is left out (it admits
//!   no flow as a whole), such a deny is kept (it blocks the hosts it targets, which is a
//!   failure worth naming). A route with instance tags is shown as not in effect, for the
//!   same reason.
//! - A static route whose next-hop tunnel is not `ESTABLISHED` is kept but not in effect
//!   (GCP keeps it and does not use it); dynamic routes are the routers' best routes, each
//!   via the tunnel whose BGP peer learned it.

mod network;
mod resources;

use super::{canonical, GcpProvider, Loc};
use crate::plan::resource::Kind;
use crate::providers::{ObserveRequest, ProviderError, Recorded};
use crate::topology::{Location, Network};
use crate::verify::snapshot::{CloudSnapshot, NetworkObs, ReadError};
use google_cloud_compute_v1::model::{
    Address, ExternalVpnGateway, Firewall, ForwardingRule, Route, Router, RouterStatus,
    TargetVpnGateway, VpnGateway, VpnTunnel,
};
use std::collections::{BTreeMap, BTreeSet};

/// What was read in one (project, region); `None` where the kind was not needed or its list
/// failed (its resources are then not judged: the read error says why).
#[derive(Default)]
pub(super) struct Regional {
    pub tunnels: Option<Vec<VpnTunnel>>,
    pub routers: Option<Vec<Router>>,
    pub gateways: Option<Vec<VpnGateway>>,
    pub targets: Option<Vec<TargetVpnGateway>>,
    pub forwarding: Option<Vec<ForwardingRule>>,
    pub addresses: Option<Vec<Address>>,
}

/// What was read in one project's global scope.
#[derive(Default)]
pub(super) struct Global {
    pub externals: Option<Vec<ExternalVpnGateway>>,
    pub routes: Option<Vec<Route>>,
    pub firewalls: Option<Vec<Firewall>>,
}

/// Everything read, by scope.
#[derive(Default)]
pub(super) struct Seen {
    pub regional: BTreeMap<(String, String), Regional>,
    pub global: BTreeMap<String, Global>,
    /// `getRouterStatus` by the router's canonical path.
    pub status: BTreeMap<String, RouterStatus>,
}

impl Seen {
    /// The found resource of a list whose canonical selfLink is `id`'s.
    pub fn find<'a, T>(
        list: Option<&'a Vec<T>>,
        id: &str,
        link: impl Fn(&T) -> Option<&String>,
    ) -> Option<Option<&'a T>> {
        let want = canonical(id);
        list.map(|l| {
            l.iter()
                .find(|x| link(x).is_some_and(|s| canonical(s) == want))
        })
    }
}

/// The scope a resource is read in: `(project, Some(region))` or `(project, None)`.
fn scope_of(r: &Recorded) -> Option<(String, Option<String>)> {
    if let Some(l) = Loc::parse(&r.id) {
        return Some((l.project, l.region));
    }
    let project = r.desired.attrs.opt_str("project")?.to_string();
    let region = (r.desired.region != "global").then(|| r.desired.region.clone());
    Some((project, region))
}

/// Which lists one regional scope needs.
#[derive(Default, Clone, Copy)]
struct Needs {
    tunnels: bool,
    routers: bool,
    gateways: bool,
    targets: bool,
    forwarding: bool,
    addresses: bool,
}

/// Which lists one project's global scope needs, and the networks its routes and
/// firewalls are listed for.
#[derive(Default, Clone)]
struct GlobalNeeds {
    externals: bool,
    networks: BTreeSet<String>,
}

/// `network eq ".*/global/networks/(a|b)"`: Compute's regular-expression filter on the
/// network URL, whatever host the URL names.
fn network_filter(project: &str, networks: &BTreeSet<String>) -> String {
    let names: Vec<String> = networks.iter().map(|n| regex_escape(n)).collect();
    format!(
        "network eq \".*/projects/{}/global/networks/({})\"",
        regex_escape(project),
        names.join("|")
    )
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = !(c.is_ascii_alphanumeric() || c == '-' || c == '_');
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Every page of a list call, by `nextPageToken`: the items and the number of calls made.
macro_rules! pages {
    ($p:expr, $what:expr, $make:expr) => {
        async {
            let mut items = Vec::new();
            let mut token: Option<String> = None;
            let mut calls = 0usize;
            loop {
                calls += 1;
                let page = $p
                    .call($what, || {
                        $make.set_or_clear_page_token(token.clone()).send()
                    })
                    .await;
                let page = match page {
                    Ok(p) => p,
                    Err(e) => return (Err(e), calls),
                };
                items.extend(page.items);
                match page.next_page_token.filter(|t| !t.is_empty()) {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            (Ok::<_, ProviderError>(items), calls)
        }
    };
}

/// Records a list's outcome (`None`: not needed): its calls, and its error under `scope`.
fn settle<T>(
    out: Option<(Result<Vec<T>, ProviderError>, usize)>,
    scope: &str,
    what: &str,
    snap: &mut CloudSnapshot,
) -> Option<Vec<T>> {
    let (items, calls) = out?;
    snap.reads += calls;
    match items {
        Ok(v) => Some(v),
        Err(e) => {
            snap.errors.push(ReadError {
                scope: scope.to_string(),
                what: what.to_string(),
                message: e.to_string(),
            });
            None
        }
    }
}

impl GcpProvider {
    async fn read_regional(
        &self,
        project: &str,
        region: &str,
        n: Needs,
        snap: &mut CloudSnapshot,
    ) -> Regional {
        let c = &self.c;
        let (tunnels, routers, gateways, targets, forwarding, addresses) = futures::join!(
            async {
                if !n.tunnels {
                    return None;
                }
                let what = "vpnTunnels.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.vpn_tunnels.list().set_project(project).set_region(region)
                    )
                    .await,
                )
            },
            async {
                if !n.routers {
                    return None;
                }
                let what = "routers.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.routers.list().set_project(project).set_region(region)
                    )
                    .await,
                )
            },
            async {
                if !n.gateways {
                    return None;
                }
                let what = "vpnGateways.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.vpn_gateways
                            .list()
                            .set_project(project)
                            .set_region(region)
                    )
                    .await,
                )
            },
            async {
                if !n.targets {
                    return None;
                }
                let what = "targetVpnGateways.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.target_vpn_gateways
                            .list()
                            .set_project(project)
                            .set_region(region)
                    )
                    .await,
                )
            },
            async {
                if !n.forwarding {
                    return None;
                }
                let what = "forwardingRules.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.forwarding_rules
                            .list()
                            .set_project(project)
                            .set_region(region)
                    )
                    .await,
                )
            },
            async {
                if !n.addresses {
                    return None;
                }
                let what = "addresses.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.addresses.list().set_project(project).set_region(region)
                    )
                    .await,
                )
            },
        );
        let scope = format!("gcp {project}/{region}");
        Regional {
            tunnels: settle(tunnels, &scope, "vpnTunnels.list", snap),
            routers: settle(routers, &scope, "routers.list", snap),
            gateways: settle(gateways, &scope, "vpnGateways.list", snap),
            targets: settle(targets, &scope, "targetVpnGateways.list", snap),
            forwarding: settle(forwarding, &scope, "forwardingRules.list", snap),
            addresses: settle(addresses, &scope, "addresses.list", snap),
        }
    }

    async fn read_global(
        &self,
        project: &str,
        n: &GlobalNeeds,
        snap: &mut CloudSnapshot,
    ) -> Global {
        let c = &self.c;
        let filter = (!n.networks.is_empty()).then(|| network_filter(project, &n.networks));
        let (externals, routes, firewalls) = futures::join!(
            async {
                if !n.externals {
                    return None;
                }
                let what = "externalVpnGateways.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.external_vpn_gateways.list().set_project(project)
                    )
                    .await,
                )
            },
            async {
                let f = filter.as_ref()?;
                let what = "routes.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.routes.list().set_project(project).set_filter(f)
                    )
                    .await,
                )
            },
            async {
                let f = filter.as_ref()?;
                let what = "firewalls.list";
                Some(
                    pages!(
                        self,
                        what,
                        c.firewalls.list().set_project(project).set_filter(f)
                    )
                    .await,
                )
            },
        );
        let scope = format!("gcp {project}/global");
        Global {
            externals: settle(externals, &scope, "externalVpnGateways.list", snap),
            routes: settle(routes, &scope, "routes.list", snap),
            firewalls: settle(firewalls, &scope, "firewalls.list", snap),
        }
    }

    /// `getRouterStatus` of one router; `Ok(None)` when the router is gone.
    async fn router_status(&self, l: &Loc) -> Result<Option<RouterStatus>, ProviderError> {
        let region = l.region.clone().unwrap_or_default();
        let r = self
            .find("routers.getRouterStatus", || {
                self.c
                    .routers
                    .get_router_status()
                    .set_project(&l.project)
                    .set_region(&region)
                    .set_router(&l.name)
                    .send()
            })
            .await?;
        Ok(r.and_then(|r| r.result))
    }

    pub(super) async fn observe_all(
        &self,
        req: &ObserveRequest,
    ) -> Result<CloudSnapshot, ProviderError> {
        let mut snap = CloudSnapshot::default();
        let mut regional: BTreeMap<(String, String), Needs> = BTreeMap::new();
        let mut global: BTreeMap<String, GlobalNeeds> = BTreeMap::new();
        let mut routers: BTreeSet<String> = BTreeSet::new();
        for r in &req.resources {
            let Some((project, region)) = scope_of(r) else {
                continue;
            };
            match region {
                Some(region) => {
                    let n = regional.entry((project, region)).or_default();
                    match r.desired.kind {
                        Kind::GcpVpnTunnel => n.tunnels = true,
                        Kind::GcpRouter => {
                            n.routers = true;
                            if let Some(l) = Loc::parse(&r.id) {
                                routers.insert(l.path());
                            }
                        }
                        Kind::GcpRouterInterface | Kind::GcpRouterPeer => n.routers = true,
                        Kind::GcpVpnGateway => n.gateways = true,
                        Kind::GcpTargetVpnGateway => n.targets = true,
                        Kind::GcpForwardingRule => n.forwarding = true,
                        Kind::GcpAddress => n.addresses = true,
                        _ => {}
                    }
                }
                None => {
                    let g = global.entry(project).or_default();
                    match r.desired.kind {
                        Kind::GcpExternalVpnGateway => g.externals = true,
                        Kind::GcpRoute | Kind::GcpFirewall => {
                            if let Some(n) = r.desired.attrs.opt_str("network") {
                                g.networks
                                    .insert(n.rsplit('/').next().unwrap_or(n).to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        for n in &req.networks {
            if let Location::Gcp(g) = &n.location {
                global
                    .entry(g.project.clone())
                    .or_default()
                    .networks
                    .insert(g.network.clone());
            }
        }
        // Every read at once (the provider's request limit bounds them).
        let mut reg_snaps = Vec::new();
        let mut glob_snaps = Vec::new();
        let reg = futures::future::join_all(regional.iter().map(|((p, r), n)| {
            let mut s = CloudSnapshot::default();
            async move {
                let out = self.read_regional(p, r, *n, &mut s).await;
                ((p.clone(), r.clone()), out, s)
            }
        }));
        let glob = futures::future::join_all(global.iter().map(|(p, n)| {
            let mut s = CloudSnapshot::default();
            async move {
                let out = self.read_global(p, n, &mut s).await;
                (p.clone(), out, s)
            }
        }));
        let stat = futures::future::join_all(routers.iter().map(|path| async move {
            let l = Loc::parse(path);
            let r = match &l {
                Some(l) => self.router_status(l).await,
                None => Ok(None),
            };
            (path.clone(), l, r)
        }));
        let (reg, glob, stat) = futures::join!(reg, glob, stat);
        let mut seen = Seen::default();
        for (k, v, s) in reg {
            seen.regional.insert(k, v);
            reg_snaps.push(s);
        }
        for (k, v, s) in glob {
            seen.global.insert(k, v);
            glob_snaps.push(s);
        }
        for s in reg_snaps.into_iter().chain(glob_snaps) {
            snap.reads += s.reads;
            snap.errors.extend(s.errors);
        }
        for (path, l, r) in stat {
            snap.reads += 1;
            match r {
                Ok(Some(s)) => {
                    seen.status.insert(path, s);
                }
                Ok(None) => {}
                Err(e) => snap.errors.push(ReadError {
                    scope: match &l {
                        Some(l) => format!(
                            "gcp {}/{}",
                            l.project,
                            l.region.as_deref().unwrap_or("global")
                        ),
                        None => "gcp".into(),
                    },
                    what: format!(
                        "routers.getRouterStatus {}",
                        l.as_ref().map(|l| l.name.as_str()).unwrap_or("?")
                    ),
                    message: e.to_string(),
                }),
            }
        }
        resources::observe_resources(req, &seen, &mut snap);
        for n in &req.networks {
            if let Some(obs) = network_obs(n, req, &seen) {
                snap.networks.insert(n.name.clone(), obs);
            }
        }
        Ok(snap)
    }
}

/// One topology network's routes and firewall rules, when its lists could be read.
fn network_obs(n: &Network, req: &ObserveRequest, seen: &Seen) -> Option<NetworkObs> {
    let Location::Gcp(g) = &n.location else {
        return None;
    };
    let glob = seen.global.get(&g.project)?;
    let path = format!("projects/{}/global/networks/{}", g.project, g.network);
    let in_net = |u: Option<&String>| u.is_some_and(|u| canonical(u) == path);
    // Plan address by canonical cloud id, so that routes and rules name peerctl's objects.
    let by_id: BTreeMap<String, &str> = req
        .resources
        .iter()
        .map(|r| (canonical(&r.id), r.desired.address.as_str()))
        .collect();
    let up: BTreeMap<String, bool> = seen
        .regional
        .values()
        .flat_map(|r| r.tunnels.iter().flatten())
        .filter_map(|t| Some((canonical(t.self_link.as_ref()?), network::established(t))))
        .collect();
    let mut obs = NetworkObs {
        cidrs: n.cidrs.clone(),
        ..NetworkObs::default()
    };
    let mut routes = Vec::new();
    if let Some(list) = &glob.routes {
        routes.extend(
            list.iter()
                .filter(|r| in_net(r.network.as_ref()))
                .filter_map(|r| network::static_route(r, &by_id, &up)),
        );
    }
    // Dynamic routes: the best routes of every router of this network in its region.
    let mut dynamic = BTreeSet::new();
    for (router, status) in &seen.status {
        if !in_net(status.network.as_ref()) {
            continue;
        }
        let learned_by = network::peers_by_hop(router, seen);
        for r in &status.best_routes {
            if let Some(ro) = network::dynamic_route(r, &by_id, &up, &learned_by) {
                let key = (ro.dest, ro.next_hop.clone());
                if dynamic.insert(key) {
                    routes.push(ro);
                }
            }
        }
    }
    // Without the route list the table would be partial: left out (the read error says why).
    if glob.routes.is_some() {
        obs.route_tables
            .push(crate::verify::snapshot::RouteTableObs {
                name: format!("network {}", g.network),
                routes,
            });
    }
    if let Some(list) = &glob.firewalls {
        let rules = list
            .iter()
            .filter(|f| in_net(f.network.as_ref()))
            .flat_map(|f| network::rules_of(f, &by_id))
            .collect();
        obs.firewalls.push(crate::verify::snapshot::FirewallObs {
            name: format!("network {}", g.network),
            kind: crate::verify::snapshot::FirewallKind::GcpNetwork,
            rules,
        });
    }
    Some(obs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_filter_matches_any_host_and_escapes_names() {
        let nets: BTreeSet<String> = ["prod-vpc".to_string(), "b.c".to_string()].into();
        assert_eq!(
            network_filter("acme-net", &nets),
            "network eq \".*/projects/acme-net/global/networks/(b\\.c|prod-vpc)\""
        );
    }
}
