//! Validation rules that relate several values: unique names, link resolution and expansion,
//! address overlaps across links, ASN collisions and per-gateway hard limits. Also assembles
//! the final [`Topology`] once nothing is wrong.

use super::decode::{
    shown, typo_distance, Cidr, Ctx, Draft, LinkDraft, LinkKind, NetDraft, TYPO_MAX_CHARS,
};
use super::model::*;
use crate::cloud::Cloud;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    let resolved = resolve_links(ctx, &draft, &names);
    let pairs = &resolved.pairs;
    linked_overlaps(ctx, &draft, pairs);
    shared_neighbour_overlaps(ctx, &draft, pairs);
    linked_asns(ctx, &draft, pairs);
    gateway_limits(ctx, &draft, pairs, &resolved.extra_degree);

    if !ctx.diags.is_empty() {
        return None;
    }
    let mut links = Vec::with_capacity(pairs.len());
    for p in pairs {
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

/// Links (pairs, meshes expanded) a topology may declare. Ten times the largest topologies the
/// planner is measured at (docs/performance.md: about 1,000 links in ~75 ms); beyond it a plan
/// would take seconds and gigabytes, and a few lines (one mesh of 2,000 names makes 1,999,000
/// pairs) would make the rules below cost the square of the file.
pub(crate) const MAX_LINKS: usize = 10_000;

/// Names compared for "did you mean" hints on link members, per file. A comparison is one
/// edit distance between two names of at most [`TYPO_MAX_CHARS`] characters; past the budget
/// unknown names get the generic hint.
pub(crate) const MAX_SUGGESTION_COMPARISONS: usize = 100_000;

/// "Did you mean" for link members: the declared names bucketed by length in characters (a
/// name can only be a typo of one of about the same length), answers cached per word, and a
/// budget of comparisons for the whole file.
pub(crate) struct Suggester<'d> {
    by_len: BTreeMap<usize, Vec<&'d str>>,
    cache: HashMap<&'d str, Option<&'d str>>,
    pub compared: usize,
}

impl<'d> Suggester<'d> {
    fn new(nets: &'d [NetDraft], names: &HashMap<String, usize>) -> Self {
        let mut by_len: BTreeMap<usize, Vec<&'d str>> = BTreeMap::new();
        // File order within a length, so that a tie always resolves the same way.
        for (i, d) in nets.iter().enumerate() {
            if let Some((name, _)) = &d.name {
                let chars = name.chars().count();
                if names.get(name) == Some(&i) && chars <= TYPO_MAX_CHARS {
                    by_len.entry(chars).or_default().push(name);
                }
            }
        }
        Suggester {
            by_len,
            cache: HashMap::new(),
            compared: 0,
        }
    }

    fn suggest(&mut self, word: &'d str) -> Option<&'d str> {
        if let Some(&hit) = self.cache.get(word) {
            return hit;
        }
        let chars = word.chars().count();
        let mut best: Option<(usize, &'d str)> = None;
        if chars <= TYPO_MAX_CHARS {
            'buckets: for (&len, candidates) in &self.by_len {
                // A typo limit is at most a third of the candidate's bytes (4 per character).
                if chars.abs_diff(len) > 2.max(4 * len / 3) {
                    continue;
                }
                for &c in candidates {
                    if self.compared >= MAX_SUGGESTION_COMPARISONS {
                        break 'buckets;
                    }
                    self.compared += 1;
                    if let Some(d) = typo_distance(word, chars, c) {
                        if best.is_none_or(|(b, _)| d < b) {
                            best = Some((d, c));
                        }
                    }
                }
            }
        }
        let hit = best.map(|(_, c)| c);
        self.cache.insert(word, hit);
        hit
    }
}

/// The pairs the links declare, and what the rules need about the ones not expanded.
pub(crate) struct Resolved {
    pairs: Vec<Pair>,
    /// Links of a network beyond the expanded pairs (declared after [`MAX_LINKS`] was
    /// reached), for the per-gateway limits.
    extra_degree: HashMap<usize, usize>,
}

/// The networks a mesh lists of a cloud that has no VPN between its own networks, by cloud.
fn same_cloud_members(draft: &Draft, members: &[usize]) -> Vec<(Cloud, Vec<usize>)> {
    [Cloud::Aws, Cloud::Gcp]
        .into_iter()
        .map(|c| {
            let of: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&m| draft.networks[m].cloud == Some(c))
                .collect();
            (c, of)
        })
        .filter(|(_, of)| of.len() >= 2)
        .collect()
}

/// `a`, `b`, `c` and N more: the first few names of a long list.
fn some_names(draft: &Draft, members: &[usize]) -> String {
    const SHOWN: usize = 3;
    let mut out: Vec<String> = members
        .iter()
        .take(SHOWN)
        .map(|&m| format!("`{}`", shown(net_name(&draft.networks[m]))))
        .collect();
    if members.len() > SHOWN {
        out.push(format!("{} more", members.len() - SHOWN));
    }
    match out.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => out.join(""),
    }
}

/// Resolves link members, expands meshes, and rejects self-links and pairs declared twice.
/// Every diagnostic is about one member or one `links` entry, never one per pair of a mesh: a
/// mesh of n networks has n(n-1)/2 pairs, and a short file must not produce a long report.
fn resolve_links(ctx: &mut Ctx, draft: &Draft, names: &HashMap<String, usize>) -> Resolved {
    let mut suggester = Suggester::new(&draft.networks, names);
    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    let mut pairs = Vec::new();
    let mut extra_degree: HashMap<usize, usize> = HashMap::new();
    let mut over_limit = false;
    for (li, link) in draft.links.iter().enumerate() {
        let mut members: Vec<usize> = Vec::new();
        let mut listed: HashSet<usize> = HashSet::new();
        for m in &link.members {
            let Some(&idx) = names.get(&m.name) else {
                let hint = match suggester.suggest(&m.name) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "declare it under `networks`, or fix the name".into(),
                };
                ctx.error(
                    m.span,
                    &m.path,
                    format!("no network named `{}`", shown(&m.name)),
                    Some(hint),
                );
                continue;
            };
            if !listed.insert(idx) {
                let (message, hint) = match link.kind {
                    LinkKind::Between => (
                        format!("`{}` is linked to itself", shown(&m.name)),
                        "a link joins two different networks",
                    ),
                    LinkKind::Mesh => (
                        format!("`{}` is listed twice in this mesh", shown(&m.name)),
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

        // AWS has no VGW-to-VGW VPN and the planner has no GCP-GCP strategy; Azure-Azure is a
        // VNet-to-VNet VPN (classic-vpn-static on both sides). One diagnostic per cloud.
        let same_cloud = same_cloud_members(draft, &members);
        let mut refused = 0;
        for (cloud, of) in &same_cloud {
            refused += of.len() * (of.len() - 1) / 2;
            let message = if let [x, y] = of[..] {
                let (na, nb) = sorted_names(draft, x, y);
                format!(
                    "`{}` and `{}` are both {} networks; peerctl has no VPN strategy within                      that cloud",
                    shown(na),
                    shown(nb),
                    cloud.display_name()
                )
            } else {
                format!(
                    "this mesh links {} {} networks to each other ({}); peerctl has no VPN                      strategy within that cloud",
                    of.len(),
                    cloud.display_name(),
                    some_names(draft, of)
                )
            };
            ctx.error(
                link.span,
                &key_path,
                message,
                Some(format!(
                    "connect them with {}, or link each to a network of another cloud",
                    native_peering(*cloud)
                )),
            );
        }

        let declared = members.len() * members.len().saturating_sub(1) / 2 - refused;
        if !over_limit && pairs.len() + declared > MAX_LINKS {
            over_limit = true;
            ctx.error(
                link.span,
                &key_path,
                format!(
                    "the links declare more than {MAX_LINKS} pairs of networks (this entry                      adds {declared}); peerctl plans at most {MAX_LINKS} links"
                ),
                Some(
                    "split the topology into several files, or link fewer networks (a mesh of                      n networks links n(n-1)/2 pairs); later entries are not checked for                      overlaps or duplicates"
                        .into(),
                ),
            );
        }
        if over_limit {
            // Not expanded: only the per-gateway limits still count these links.
            for &m in &members {
                let peers = match draft.networks[m].cloud {
                    Some(c @ (Cloud::Aws | Cloud::Gcp)) => {
                        members.len()
                            - same_cloud
                                .iter()
                                .find(|(sc, _)| *sc == c)
                                .map_or(1, |(_, of)| of.len())
                    }
                    _ => members.len() - 1,
                };
                *extra_degree.entry(m).or_default() += peers;
            }
            continue;
        }

        // Pairs declared before: one diagnostic for this entry, naming the first of them.
        let mut repeated: Option<(String, &'static str)> = None;
        let mut repeats = 0usize;
        for (i, &x) in members.iter().enumerate() {
            for &y in &members[i + 1..] {
                let (a, b) = if net_name(&draft.networks[x]) <= net_name(&draft.networks[y]) {
                    (x, y)
                } else {
                    (y, x)
                };
                if let (Some(ca), Some(cb)) = (draft.networks[a].cloud, draft.networks[b].cloud) {
                    if ca == cb && ca != Cloud::Azure {
                        continue;
                    }
                }
                if let Some(&first) = seen.get(&(a, b)) {
                    repeats += 1;
                    if repeated.is_none() {
                        let (na, nb) = sorted_names(draft, a, b);
                        repeated = Some(repeat_message(
                            link.kind,
                            &draft.links[first],
                            shown(na).as_ref(),
                            shown(nb).as_ref(),
                        ));
                    }
                    continue;
                }
                seen.insert((a, b), li);
                pairs.push(Pair { a, b, link: li });
            }
        }
        if let Some((mut message, hint)) = repeated {
            if repeats > 1 {
                message.push_str(&format!(
                    " (and {} more of its pairs are declared earlier)",
                    repeats - 1
                ));
            }
            ctx.error(link.span, &key_path, message, Some(hint.into()));
        }
    }
    Resolved {
        pairs,
        extra_degree,
    }
}

fn sorted_names(draft: &Draft, x: usize, y: usize) -> (&str, &str) {
    let (a, b) = (net_name(&draft.networks[x]), net_name(&draft.networks[y]));
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The message and fix for a pair that the entry `first` already declared.
fn repeat_message(kind: LinkKind, first: &LinkDraft, na: &str, nb: &str) -> (String, &'static str) {
    match (kind, first.kind) {
        (LinkKind::Between, LinkKind::Between) => (
            format!(
                "link `{na}` <-> `{nb}` is declared twice (first at {})",
                place(first)
            ),
            "remove one entry; merge their allow lists if they differ",
        ),
        (LinkKind::Between, LinkKind::Mesh) => (
            format!(
                "link `{na}` <-> `{nb}` is also made by the mesh at {}",
                place(first)
            ),
            "remove this entry, or take one of the two out of the mesh",
        ),
        (LinkKind::Mesh, LinkKind::Between) => (
            format!(
                "this mesh links `{na}` <-> `{nb}`, already declared at {}",
                place(first)
            ),
            "remove the explicit link, or take one of the two out of the mesh",
        ),
        (LinkKind::Mesh, LinkKind::Mesh) => (
            format!(
                "this mesh links `{na}` <-> `{nb}`, already linked by the mesh at {}",
                place(first)
            ),
            "take one of the two out of one of the meshes",
        ),
    }
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
        // One neighbour cannot conflict with itself; skipping such hubs keeps a network with
        // many CIDRs from being swept once per spoke linked to it.
        if ns.len() < 2 {
            continue;
        }
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
fn gateway_limits(
    ctx: &mut Ctx,
    draft: &Draft,
    pairs: &[Pair],
    extra_degree: &HashMap<usize, usize>,
) {
    let mut count: HashMap<usize, usize> = extra_degree.clone();
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
