//! Cloud Router, its interfaces and its BGP peers. Interfaces and peers are entries of the
//! router: each write re-reads the router and PATCHes the whole `interfaces[]` / `bgpPeers[]`
//! array, one write per router at a time (a per-router lock), so no write loses another's.

use super::{
    canonical, check_adopted, id_only, int, network_path, project, GcpProvider, Loc, Scope, POLL,
};
use crate::plan::resource::Kind;
use crate::providers::{Attr, Desired, Outputs, ProviderError};
use google_cloud_compute_v1::model::{
    router_bgp, router_bgp_peer, Router, RouterBgp, RouterBgpPeer, RouterInterface,
};

/// Which router array an entry lives in, with its id infix.
#[derive(Clone, Copy)]
enum Entry {
    Interface,
    Peer,
}

impl Entry {
    fn of(kind: Kind) -> Option<Entry> {
        match kind {
            Kind::GcpRouterInterface => Some(Entry::Interface),
            Kind::GcpRouterPeer => Some(Entry::Peer),
            _ => None,
        }
    }
    fn infix(self) -> &'static str {
        match self {
            Entry::Interface => "interfaces",
            Entry::Peer => "bgpPeers",
        }
    }
    fn names(self, r: &Router) -> Vec<Option<&String>> {
        match self {
            Entry::Interface => r.interfaces.iter().map(|i| i.name.as_ref()).collect(),
            Entry::Peer => r.bgp_peers.iter().map(|p| p.name.as_ref()).collect(),
        }
    }
}

/// A router write. The SDK leaves empty arrays out of a request body, so a PATCH cannot empty
/// `interfaces[]` or `bgpPeers[]`: removing the last entry PUTs the whole router as read,
/// minus that entry (routers.update replaces the resource).
enum Write {
    Patch(Router),
    Put(Router),
}

/// The write that sets one array to `list`.
fn set_interfaces(current: &Router, list: Vec<RouterInterface>) -> Write {
    if list.is_empty() {
        let mut all = current.clone();
        all.interfaces = list;
        Write::Put(all)
    } else {
        Write::Patch(Router::new().set_interfaces(list))
    }
}

fn set_peers(current: &Router, list: Vec<RouterBgpPeer>) -> Write {
    if list.is_empty() {
        let mut all = current.clone();
        all.bgp_peers = list;
        Write::Put(all)
    } else {
        Write::Patch(Router::new().set_bgp_peers(list))
    }
}

fn scope(l: &Loc) -> Scope {
    Scope::Region {
        project: l.project.clone(),
        region: l.region.clone().unwrap_or_default(),
    }
}

/// The router itself: from its id, or as planned.
fn router_loc(d: &Desired, id: Option<&str>) -> Result<Loc, ProviderError> {
    if let Some(l) = id.and_then(Loc::parse).filter(|l| l.region.is_some()) {
        return Ok(l);
    }
    Ok(Loc {
        project: project(d)?,
        region: Some(d.region.clone()),
        collection: "routers".into(),
        name: d.name.clone(),
    })
}

/// The router holding an interface or peer, and the entry's name: from the id
/// (`…/routers/R/interfaces/N`) when given, else from the `router` reference and the name.
fn entry_loc(d: &Desired, id: Option<&str>) -> Result<(Loc, String), ProviderError> {
    if let Some(id) = id {
        if let (Some(l), Some((_, name))) = (Loc::parse(id), id.rsplit_once('/')) {
            if l.collection == "routers" && l.region.is_some() {
                return Ok((l, name.to_string()));
            }
        }
    }
    let r = d.attrs.str("router")?;
    let l = match Loc::parse(r) {
        Some(l) if l.region.is_some() => l,
        // A bare router name: the planned project and region.
        _ => Loc {
            project: project(d)?,
            region: Some(d.region.clone()),
            collection: "routers".into(),
            name: r.rsplit('/').next().unwrap_or(r).to_string(),
        },
    };
    Ok((l, d.name.clone()))
}

fn entry_id(router: &Router, e: Entry, name: &str, what: &str) -> Result<Outputs, ProviderError> {
    let base = id_only(router.self_link.as_ref(), what)?;
    let id = format!("{}/{}/{name}", base["id"], e.infix());
    Ok(Outputs::from([("id".to_string(), id)]))
}

fn bgp(d: &Desired, base: RouterBgp) -> Result<RouterBgp, ProviderError> {
    let mut b = base.set_asn(int::<u32>(d, "asn")?);
    if let Some(m) = d.attrs.opt_str("advertise_mode") {
        b = b.set_advertise_mode(router_bgp::AdvertiseMode::from(m));
    }
    if d.attrs.get("keepalive_seconds").is_some() {
        b = b.set_keepalive_interval(int::<u32>(d, "keepalive_seconds")?);
    }
    Ok(b)
}

fn interface(d: &Desired) -> Result<RouterInterface, ProviderError> {
    Ok(RouterInterface::new()
        .set_name(&d.name)
        .set_ip_range(d.attrs.str("ip_range")?)
        .set_linked_vpn_tunnel(d.attrs.str("linked_vpn_tunnel")?))
}

fn peer(d: &Desired) -> Result<RouterBgpPeer, ProviderError> {
    let mut p = RouterBgpPeer::new()
        .set_name(&d.name)
        .set_interface_name(d.attrs.str("interface_name")?)
        .set_ip_address(d.attrs.str("ip_address")?)
        .set_peer_ip_address(d.attrs.str("peer_ip_address")?)
        .set_peer_asn(int::<u32>(d, "peer_asn")?)
        // A peer disabled by hand is drift verify reports, so peerctl's peers are enabled.
        .set_enable(router_bgp_peer::Enable::True);
    if let Some(m) = d.attrs.opt_str("advertise_mode") {
        p = p.set_advertise_mode(router_bgp_peer::AdvertiseMode::from(m));
    }
    if d.attrs.get("advertised_route_priority").is_some() {
        p = p.set_advertised_route_priority(int::<u32>(d, "advertised_route_priority")?);
    }
    Ok(p)
}

/// The planned fields of an interface as found equal the wanted ones.
fn same_interface(have: &RouterInterface, want: &RouterInterface) -> bool {
    have.ip_range == want.ip_range
        && have.linked_vpn_tunnel.as_deref().map(canonical)
            == want.linked_vpn_tunnel.as_deref().map(canonical)
}

/// A peer's `enable` left out means TRUE (the API's default).
fn enabled(p: &RouterBgpPeer) -> bool {
    p.enable.as_ref().and_then(|e| e.name()) != Some("FALSE")
}

fn same_peer(have: &RouterBgpPeer, want: &RouterBgpPeer) -> bool {
    have.interface_name == want.interface_name
        && enabled(have) == enabled(want)
        && have.ip_address == want.ip_address
        && have.peer_ip_address == want.peer_ip_address
        && have.peer_asn == want.peer_asn
        && (want.advertise_mode.is_none() || have.advertise_mode == want.advertise_mode)
        && (want.advertised_route_priority.is_none()
            || have.advertised_route_priority == want.advertised_route_priority)
}

impl GcpProvider {
    async fn get_router(&self, l: &Loc, what: &str) -> Result<Option<Router>, ProviderError> {
        let region = l.region.clone().unwrap_or_default();
        self.find(what, || {
            self.c
                .routers
                .get()
                .set_project(&l.project)
                .set_region(&region)
                .set_router(&l.name)
                .send()
        })
        .await
    }

    /// Under the router's lock: reads it, lets `change` build the write from what it holds
    /// now (`None`: nothing to change), sends it and waits. Returns the router after the
    /// change, or `None` when the router does not exist.
    async fn change_router(
        &self,
        l: &Loc,
        what: &str,
        change: impl Fn(&Router) -> Result<Option<Write>, ProviderError>,
    ) -> Result<Option<Router>, ProviderError> {
        let lock = self.router_lock(&l.path());
        let _held = lock.lock().await;
        let Some(current) = self.get_router(l, what).await? else {
            return Ok(None);
        };
        let Some(write) = change(&current)? else {
            return Ok(Some(current));
        };
        let region = l.region.clone().unwrap_or_default();
        let routers = &self.c.routers;
        let op = match write {
            Write::Patch(body) => {
                self.call(what, || {
                    routers
                        .patch()
                        .set_project(&l.project)
                        .set_region(&region)
                        .set_router(&l.name)
                        .set_body(body.clone())
                        .send()
                })
                .await?
            }
            Write::Put(body) => {
                self.call(what, || {
                    routers
                        .update()
                        .set_project(&l.project)
                        .set_region(&region)
                        .set_router(&l.name)
                        .set_body(body.clone())
                        .send()
                })
                .await?
            }
        };
        self.wait(op, &scope(l), what, POLL).await?;
        self.get_router(l, what).await
    }

    /// Adds the planned interface or peer, or replaces an entry of the same name whose
    /// planned fields differ; an equal entry is adopted without a write.
    async fn upsert_entry(
        &self,
        d: &Desired,
        e: Entry,
        id: Option<&str>,
    ) -> Result<Outputs, ProviderError> {
        let what = d.address.as_str();
        let (l, name) = entry_loc(d, id)?;
        let router = match e {
            Entry::Interface => {
                let want = interface(d)?;
                self.change_router(&l, what, |r| {
                    let mut list = r.interfaces.clone();
                    match list.iter_mut().find(|i| i.name.as_ref() == Some(&name)) {
                        Some(have) if same_interface(have, &want) => return Ok(None),
                        Some(have) => *have = want.clone(),
                        None => list.push(want.clone()),
                    }
                    Ok(Some(set_interfaces(r, list)))
                })
                .await?
            }
            Entry::Peer => {
                let want = peer(d)?;
                self.change_router(&l, what, |r| {
                    let mut list = r.bgp_peers.clone();
                    match list.iter_mut().find(|p| p.name.as_ref() == Some(&name)) {
                        Some(have) if same_peer(have, &want) => return Ok(None),
                        // Fields peerctl does not plan (BFD, MD5, custom ranges…) are kept.
                        Some(have) => {
                            have.enable = want.enable.clone();
                            have.interface_name = want.interface_name.clone();
                            have.ip_address = want.ip_address.clone();
                            have.peer_ip_address = want.peer_ip_address.clone();
                            have.peer_asn = want.peer_asn;
                            if want.advertise_mode.is_some() {
                                have.advertise_mode = want.advertise_mode.clone();
                            }
                            if want.advertised_route_priority.is_some() {
                                have.advertised_route_priority = want.advertised_route_priority;
                            }
                        }
                        None => list.push(want.clone()),
                    }
                    Ok(Some(set_peers(r, list)))
                })
                .await?
            }
        };
        let router = router.ok_or_else(|| {
            ProviderError::cloud(
                "NOT_FOUND",
                format!("{what}: router {} does not exist", l.path()),
            )
        })?;
        if !e.names(&router).contains(&Some(&name)) {
            return Err(ProviderError::cloud(
                "NOT_FOUND",
                format!("{what}: router {} lost the entry after its patch", l.path()),
            ));
        }
        entry_id(&router, e, &name, what)
    }
}

pub(super) async fn create(p: &GcpProvider, d: &Desired) -> Result<Outputs, ProviderError> {
    let what = d.address.as_str();
    if let Some(e) = Entry::of(d.kind) {
        return p.upsert_entry(d, e, None).await;
    }
    let l = router_loc(d, None)?;
    let region = l.region.clone().unwrap_or_default();
    let body = Router::new()
        .set_name(&l.name)
        .set_description(d.description())
        .set_network(network_path(&l.project, d.attrs.str("network")?))
        .set_bgp(bgp(d, RouterBgp::new())?);
    let c = &p.c.routers;
    let r = p
        .ensure(
            what,
            scope(&l),
            POLL,
            || {
                c.get()
                    .set_project(&l.project)
                    .set_region(&region)
                    .set_router(&l.name)
                    .send()
            },
            || {
                c.insert()
                    .set_project(&l.project)
                    .set_region(&region)
                    .set_body(body.clone())
                    .send()
            },
        )
        .await?;
    check_adopted(d, r.description.as_ref());
    id_only(r.self_link.as_ref(), what)
}

/// A router's BGP settings (ASN, advertise mode, keepalive) or one BGP peer, patched.
pub(super) async fn update(
    p: &GcpProvider,
    d: &Desired,
    id: &str,
) -> Result<Outputs, ProviderError> {
    let what = d.address.as_str();
    match d.kind {
        Kind::GcpRouterPeer => p.upsert_entry(d, Entry::Peer, Some(id)).await,
        Kind::GcpRouter => {
            let l = router_loc(d, Some(id))?;
            let r = p
                .change_router(&l, what, |r| {
                    let base = r.bgp.clone().unwrap_or_default();
                    Ok(Some(Write::Patch(Router::new().set_bgp(bgp(d, base)?))))
                })
                .await?
                .ok_or_else(|| {
                    ProviderError::cloud("NOT_FOUND", format!("{what}: {} is absent", l.path()))
                })?;
            id_only(r.self_link.as_ref(), what)
        }
        other => Err(super::not_gcp(other)),
    }
}

pub(super) async fn read(
    p: &GcpProvider,
    d: &Desired,
    id: Option<&str>,
) -> Result<Option<Outputs>, ProviderError> {
    let what = d.address.as_str();
    match Entry::of(d.kind) {
        None => {
            let l = router_loc(d, id)?;
            let r = p.get_router(&l, what).await?;
            r.map(|r| id_only(r.self_link.as_ref(), what)).transpose()
        }
        Some(e) => {
            // Looked up by identity while the router was not found: neither is its entry.
            if id.is_none() && matches!(d.attrs.get("router"), Some(Attr::Unknown(_))) {
                return Ok(None);
            }
            let (l, name) = entry_loc(d, id)?;
            match p.get_router(&l, what).await? {
                Some(r) if e.names(&r).contains(&Some(&name)) => {
                    entry_id(&r, e, &name, what).map(Some)
                }
                _ => Ok(None),
            }
        }
    }
}

pub(super) async fn delete(p: &GcpProvider, d: &Desired, id: &str) -> Result<(), ProviderError> {
    let what = d.address.as_str();
    match Entry::of(d.kind) {
        None => {
            let l = router_loc(d, Some(id))?;
            let region = l.region.clone().unwrap_or_default();
            p.remove(what, scope(&l), POLL, || {
                p.c.routers
                    .delete()
                    .set_project(&l.project)
                    .set_region(&region)
                    .set_router(&l.name)
                    .send()
            })
            .await
        }
        Some(e) => {
            let (l, name) = entry_loc(d, Some(id))?;
            let named = |n: Option<&String>| n == Some(&name);
            p.change_router(&l, what, |r| {
                Ok(match e {
                    Entry::Interface if r.interfaces.iter().any(|i| named(i.name.as_ref())) => {
                        let list = r.interfaces.iter().filter(|i| !named(i.name.as_ref()));
                        Some(set_interfaces(r, list.cloned().collect()))
                    }
                    Entry::Peer if r.bgp_peers.iter().any(|x| named(x.name.as_ref())) => {
                        let list = r.bgp_peers.iter().filter(|x| !named(x.name.as_ref()));
                        Some(set_peers(r, list.cloned().collect()))
                    }
                    _ => None,
                })
            })
            .await
            .map(|_| ())
        }
    }
}
