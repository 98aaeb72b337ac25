//! Validation rules that relate several values: unique names, link resolution and expansion,
//! address overlaps across links, ASN collisions and per-gateway hard limits. Also assembles
//! the final [`Topology`] once nothing is wrong.

use super::decode::{closest, Cidr, Ctx, Draft, LinkDraft, LinkKind, NetDraft};
use super::model::*;
use crate::cloud::Cloud;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One resolved pair of networks (indices into the drafts, `a` first by name).
struct Pair {
    a: usize,
    b: usize,
    /// Index of the `links` entry that declared it.
    link: usize,
}

fn place(link: &LinkDraft) -> String {
    format!("{}, line {}", link.path, link.span.line)
}

fn net_name(d: &NetDraft) -> &str {
    d.name.as_ref().map(|(n, _)| n.as_str()).unwrap_or("?")
}

/// Runs every cross-field rule, then builds the topology if no diagnostic was recorded.
pub(crate) fn check(ctx: &mut Ctx, draft: Draft) -> Option<Topology> {
    let names = unique_networks(ctx, &draft.networks);
    let pairs = resolve_links(ctx, &draft, &names);
    linked_overlaps(ctx, &draft, &pairs);
    shared_neighbour_overlaps(ctx, &draft, &pairs);
    linked_asns(ctx, &draft, &pairs);
    gateway_limits(ctx, &draft, &pairs);

    if !ctx.diags.is_empty() {
        return None;
    }
    let mut links = Vec::with_capacity(pairs.len());
    for p in &pairs {
        let src = &draft.links[p.link];
        links.push(Link {
            a: net_name(&draft.networks[p.a]).to_string(),
            b: net_name(&draft.networks[p.b]).to_string(),
            allow: src.allow.clone()?,
            span: src.span,
        });
    }
    // The planner's input must not depend on the order links were written in.
    links.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    let networks = draft
        .networks
        .into_iter()
        .map(|d| d.network)
        .collect::<Option<Vec<_>>>()?;
    Some(Topology {
        version: draft.version?,
        name: draft.name?,
        networks,
        links,
    })
}

/// Duplicate names and the same cloud network declared twice. Returns name → first index.
fn unique_networks(ctx: &mut Ctx, nets: &[NetDraft]) -> HashMap<String, usize> {
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut identities: HashMap<&str, usize> = HashMap::new();
    for (i, d) in nets.iter().enumerate() {
        if let Some((name, span)) = &d.name {
            if let Some(&first) = names.get(name) {
                let f = &nets[first];
                ctx.error(
                    *span,
                    format!("{}.name", d.path),
                    format!(
                        "network `{name}` is already declared at {} (line {})",
                        f.path, f.span.line
                    ),
                    Some("network names must be unique: rename one of them".into()),
                );
            } else {
                names.insert(name.clone(), i);
            }
        }
        if let Some(id) = &d.identity {
            if let Some(&first) = identities.get(id.as_str()) {
                let f = &nets[first];
                ctx.error(
                    d.span,
                    &d.path,
                    format!(
                        "{id} is already declared as `{}` at {} (line {})",
                        net_name(f),
                        f.path,
                        f.span.line
                    ),
                    Some("declare each network once and link it as often as needed".into()),
                );
            } else {
                identities.insert(id, i);
            }
        }
    }
    names
}

/// Resolves link members, expands meshes, and rejects self-links and pairs declared twice.
fn resolve_links(ctx: &mut Ctx, draft: &Draft, names: &HashMap<String, usize>) -> Vec<Pair> {
    let all_names: Vec<&str> = names.keys().map(String::as_str).collect();
    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    let mut pairs = Vec::new();
    for (li, link) in draft.links.iter().enumerate() {
        let mut members: Vec<usize> = Vec::new();
        for (mi, m) in link.members.iter().enumerate() {
            let Some(&idx) = names.get(&m.name) else {
                let hint = match closest(&m.name, &all_names) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "declare it under `networks`, or fix the name".into(),
                };
                ctx.error(
                    m.span,
                    &m.path,
                    format!("no network named `{}`", m.name),
                    Some(hint),
                );
                continue;
            };
            if link.members[..mi].iter().any(|o| o.name == m.name) {
                let (message, hint) = match link.kind {
                    LinkKind::Between => (
                        format!("`{}` is linked to itself", m.name),
                        "a link joins two different networks",
                    ),
                    LinkKind::Mesh => (
                        format!("`{}` is listed twice in this mesh", m.name),
                        "list each network once",
                    ),
                };
                ctx.error(m.span, &m.path, message, Some(hint.into()));
                continue;
            }
            members.push(idx);
        }
        let key_path = match link.kind {
            LinkKind::Between => format!("{}.between", link.path),
            LinkKind::Mesh => format!("{}.mesh", link.path),
        };
        for (i, &x) in members.iter().enumerate() {
            for &y in &members[i + 1..] {
                let (a, b) = if net_name(&draft.networks[x]) <= net_name(&draft.networks[y]) {
                    (x, y)
                } else {
                    (y, x)
                };
                let (na, nb) = (net_name(&draft.networks[a]), net_name(&draft.networks[b]));
                if let (Some(ca), Some(cb)) = (draft.networks[a].cloud, draft.networks[b].cloud) {
                    // Azure–Azure is a VNet-to-VNet VPN (classic-vpn-static on both sides); AWS
                    // has no VGW-to-VGW VPN and the planner has no GCP–GCP strategy.
                    if ca == cb && ca != Cloud::Azure {
                        ctx.error(
                            link.span,
                            &key_path,
                            format!(
                                "`{na}` and `{nb}` are both {} networks; peerctl has no VPN \
                                 strategy within that cloud",
                                ca.display_name()
                            ),
                            Some(format!(
                                "connect them with {}, or link each to a network of another cloud",
                                native_peering(ca)
                            )),
                        );
                        continue;
                    }
                }
                if let Some(&first) = seen.get(&(a, b)) {
                    let f = &draft.links[first];
                    let (message, hint) = match (link.kind, f.kind) {
                        (LinkKind::Between, LinkKind::Between) => (
                            format!(
                                "link `{na}` <-> `{nb}` is declared twice (first at {})",
                                place(f)
                            ),
                            "remove one entry; merge their allow lists if they differ",
                        ),
                        (LinkKind::Between, LinkKind::Mesh) => (
                            format!(
                                "link `{na}` <-> `{nb}` is also made by the mesh at {}",
                                place(f)
                            ),
                            "remove this entry, or take one of the two out of the mesh",
                        ),
                        (LinkKind::Mesh, LinkKind::Between) => (
                            format!(
                                "this mesh links `{na}` <-> `{nb}`, already declared at {}",
                                place(f)
                            ),
                            "remove the explicit link, or take one of the two out of the mesh",
                        ),
                        (LinkKind::Mesh, LinkKind::Mesh) => (
                            format!(
                                "this mesh links `{na}` <-> `{nb}`, already linked by the mesh at {}",
                                place(f)
                            ),
                            "take one of the two out of one of the meshes",
                        ),
                    };
                    ctx.error(link.span, &key_path, message, Some(hint.into()));
                    continue;
                }
                seen.insert((a, b), li);
                pairs.push(Pair { a, b, link: li });
            }
        }
    }
    pairs
}

/// The cloud's own way to join two of its networks, which beats a VPN there.
fn native_peering(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Aws => "VPC peering or a transit gateway",
        Cloud::Gcp => "VPC Network Peering",
        Cloud::Azure => "VNet peering",
    }
}

fn overlaps(x: &Cidr, y: &Cidr) -> bool {
    x.net.contains(&y.net) || y.net.contains(&x.net)
}

/// Reports `later` overlapping `earlier` (of network `other`), `why` saying how they relate.
fn report_overlap(ctx: &mut Ctx, later: &Cidr, earlier: &Cidr, other: &str, why: &str) {
    ctx.error(
        later.span,
        &later.path,
        format!(
            "`{}` overlaps `{}` of `{other}` ({}, line {}); {why}",
            later.net, earlier.net, earlier.path, earlier.span.line
        ),
        Some("renumber one of the two networks, or remove the link".into()),
    );
}

/// Two linked networks must have disjoint address spaces.
fn linked_overlaps(ctx: &mut Ctx, draft: &Draft, pairs: &[Pair]) {
    for p in pairs {
        // Reported at the network written later, naming the earlier one.
        let (first, second) = (p.a.min(p.b), p.a.max(p.b));
        let (f, s) = (&draft.networks[first], &draft.networks[second]);
        for sc in &s.cidrs {
            if let Some(fc) = f.cidrs.iter().find(|fc| overlaps(fc, sc)) {
                let why = format!("the two are linked ({})", place(&draft.links[p.link]));
                report_overlap(ctx, sc, fc, net_name(f), &why);
            }
        }
    }
}

/// Two networks linked to the same network must not overlap either, even when they are not
/// linked to each other: the shared neighbour would have two routes for the same addresses.
fn shared_neighbour_overlaps(ctx: &mut Ctx, draft: &Draft, pairs: &[Pair]) {
    let mut neighbours: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut linked: BTreeSet<(usize, usize)> = BTreeSet::new();
    for p in pairs {
        neighbours.entry(p.a).or_default().push(p.b);
        neighbours.entry(p.b).or_default().push(p.a);
        linked.insert((p.a.min(p.b), p.a.max(p.b)));
    }
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (&hub, ns) in &neighbours {
        // A sweep over the neighbours' CIDRs sorted by start address finds every CIDR that
        // overlaps an earlier one in O(n log n), which matters for hubs with many spokes.
        let mut all: Vec<(usize, &Cidr)> = ns
            .iter()
            .flat_map(|&n| draft.networks[n].cidrs.iter().map(move |c| (n, c)))
            .collect();
        all.sort_by_key(|(n, c)| (c.net.network(), c.net.prefix_len(), *n));
        let mut widest: Option<(usize, &Cidr)> = None;
        for (n, c) in all {
            if let Some((wn, wc)) = widest {
                let pair = (wn.min(n), wn.max(n));
                if wn != n && overlaps(wc, c) && !linked.contains(&pair) && reported.insert(pair) {
                    let (later, earlier) = if n > wn {
                        ((n, c), (wn, wc))
                    } else {
                        ((wn, wc), (n, c))
                    };
                    let why = format!(
                        "both are linked to `{}`, which could not route to both",
                        net_name(&draft.networks[hub])
                    );
                    report_overlap(
                        ctx,
                        later.1,
                        earlier.1,
                        net_name(&draft.networks[earlier.0]),
                        &why,
                    );
                }
                if c.net.broadcast() > wc.net.broadcast() {
                    widest = Some((n, c));
                }
            } else {
                widest = Some((n, c));
            }
        }
    }
}

/// BGP needs a different ASN on each side of a link; checked for every link so that a later
/// switch of an Azure pair to BGP needs no renumbering.
fn linked_asns(ctx: &mut Ctx, draft: &Draft, pairs: &[Pair]) {
    for p in pairs {
        let (first, second) = (p.a.min(p.b), p.a.max(p.b));
        let (f, s) = (&draft.networks[first], &draft.networks[second]);
        if let (Some((x, _)), Some((y, span))) = (f.asn, s.asn) {
            if x == y {
                ctx.error(
                    span,
                    format!("{}.asn", s.path),
                    format!(
                        "`{}` and `{}` both use ASN {x} and are linked ({})",
                        net_name(s),
                        net_name(f),
                        place(&draft.links[p.link])
                    ),
                    Some(
                        "BGP needs a distinct ASN on each side: change one, or omit `asn` to \
                         let peerctl allocate"
                            .into(),
                    ),
                );
            }
        }
    }
}

/// Hard limits per gateway that the links would exceed: Azure S2S tunnels per SKU, where every
/// link of an Azure network is one connection on its gateway.
fn gateway_limits(ctx: &mut Ctx, draft: &Draft, pairs: &[Pair]) {
    let mut count: HashMap<usize, usize> = HashMap::new();
    for p in pairs {
        *count.entry(p.a).or_default() += 1;
        *count.entry(p.b).or_default() += 1;
    }
    for (i, d) in draft.networks.iter().enumerate() {
        if d.cloud != Some(Cloud::Azure) {
            continue;
        }
        let (Some((sku, span)), Some(&n)) = (&d.sku, count.get(&i)) else {
            continue;
        };
        let Some(limit) = azure_sku_tunnel_limit(sku) else {
            continue;
        };
        if n > limit {
            let bigger: Vec<&str> = AZURE_GATEWAY_SKUS
                .iter()
                .filter(|(_, l)| *l >= n)
                .map(|(s, _)| *s)
                .collect();
            let hint = if bigger.is_empty() {
                "no Azure VPN gateway SKU terminates that many: split the links over more VNets"
                    .to_string()
            } else {
                format!(
                    "set `gateway_sku` to one of {} or link fewer networks",
                    bigger.join(", ")
                )
            };
            ctx.error(
                *span,
                format!("{}.gateway_sku", d.path),
                format!(
                    "`{}` has {n} links, but a {sku} gateway terminates at most {limit} site-to-site tunnels",
                    net_name(d)
                ),
                Some(hint),
            );
        }
    }
}
