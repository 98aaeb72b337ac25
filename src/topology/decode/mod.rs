//! Decodes the spanned YAML tree into drafts of networks and links, checking every field on
//! its own (presence, type, shape). Rules that relate several fields live in `rules`.

use super::model::*;
use super::yaml::{Kind, Node};
use super::Diagnostic;
use crate::cloud::Cloud;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

mod location;
mod values;
use location::{decode_aws, decode_azure, decode_gcp};
use values::{
    aws_id_ok, gcp_name_ok, gcp_project_ok, guid_ok, region_ok, Disjoint, PRIVATE_ASN_HINT,
};
pub(crate) use values::{
    check_asn, check_name, closest, parse_allow, parse_cidr, typo_distance, TYPO_MAX_CHARS,
};

/// Collects diagnostics for one file.
pub(crate) struct Ctx<'f> {
    file: std::borrow::Cow<'f, str>,
    pub diags: Vec<Diagnostic>,
    /// Field names compared for "did you mean" hints so far (see
    /// [`MAX_FIELD_SUGGESTION_COMPARISONS`]).
    pub compared: usize,
}

/// Field-name comparisons for "did you mean" hints on unknown fields, per file. Each unknown
/// field is compared with the dozen fields its mapping takes; a file of tens of thousands of
/// unknown keys (80,000 `k: ,` on one line) would otherwise spend seconds on hints nobody
/// reads. Past the budget an unknown field gets the list of fields its mapping takes.
pub(crate) const MAX_FIELD_SUGGESTION_COMPARISONS: usize = 20_000;

impl<'f> Ctx<'f> {
    pub fn new(file: &'f str) -> Self {
        Ctx {
            file: super::escape(file),
            diags: Vec::new(),
            compared: 0,
        }
    }

    /// Records one diagnostic. Every part is escaped here, once for all the rules: a value
    /// echoed in a message may hold a newline or a terminal escape sequence, and a diagnostic
    /// is one line of plain text.
    pub fn error(
        &mut self,
        span: Span,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut field = field.into();
        if field.is_empty() {
            field = super::DOCUMENT.to_string();
        }
        let message = message.into();
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line: span.line,
            col: span.col,
            field: escaped(field),
            message: escaped(message),
            hint: hint.map(escaped),
        });
    }
}

fn escaped(s: String) -> String {
    match super::escape(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(e) => e,
    }
}

/// Values echoed in messages are cut to this many characters: a message that quotes another
/// place's value (an overlap naming the other network) is written once per place that relates
/// to it, so an echo of unbounded length would make the diagnostics grow with the square of the
/// file.
const SHOWN_CHARS: usize = 64;

/// A user's value as echoed in a message: as written, or its first [`SHOWN_CHARS`] characters
/// and how many more there are.
pub(crate) fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(SHOWN_CHARS) {
        None => std::borrow::Cow::Borrowed(s),
        Some((cut, _)) => std::borrow::Cow::Owned(format!(
            "{}… ({} more characters)",
            &s[..cut],
            s[cut..].chars().count()
        )),
    }
}

/// A CIDR that parsed and passed the single-value checks, with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Cidr {
    pub net: Ipv4Net,
    pub span: Span,
    pub path: String,
}

/// A network as far as it decoded. `network` is set only when every field was valid.
#[derive(Debug)]
pub(crate) struct NetDraft {
    pub path: String,
    pub span: Span,
    pub name: Option<(String, Span)>,
    pub cloud: Option<Cloud>,
    pub cidrs: Vec<Cidr>,
    pub asn: Option<(u32, Span)>,
    /// Azure only: the valid SKU and where it was written (the network when defaulted).
    pub sku: Option<(String, Span)>,
    /// The cloud resource this network denotes (e.g. an AWS VPC in a region), to catch the same
    /// VPC declared twice.
    pub identity: Option<String>,
    pub network: Option<Network>,
}

/// A name written in a link, with where.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub name: String,
    pub span: Span,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkKind {
    Between,
    Mesh,
}

/// A `links` entry as far as it decoded.
#[derive(Debug)]
pub(crate) struct LinkDraft {
    pub path: String,
    pub span: Span,
    pub kind: LinkKind,
    pub members: Vec<Member>,
    /// `None` when the allow list had errors (already reported).
    pub allow: Option<Vec<Allow>>,
}

/// Everything decoded from one file.
pub(crate) struct Draft {
    pub version: Option<u32>,
    pub name: Option<String>,
    pub networks: Vec<NetDraft>,
    pub links: Vec<LinkDraft>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The fields of a mapping, keys checked for type and duplicates.
struct Obj<'n> {
    span: Span,
    path: String,
    fields: Vec<(&'n str, Span, &'n Node)>,
}

impl<'n> Obj<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.fields
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|&(_, _, n)| n)
    }

    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Reports every field not in `allowed`. `elsewhere` names fields that belong to another
    /// variant (e.g. another cloud's networks), for a more helpful message.
    fn check_known(
        &self,
        ctx: &mut Ctx,
        allowed: &[&str],
        what: &str,
        elsewhere: &dyn Fn(&str) -> Option<String>,
    ) {
        // Built once per mapping, not once per unknown field: a mapping can hold tens of
        // thousands of them.
        let take = format!("{what} take: {}", allowed.join(", "));
        for &(key, span, _) in &self.fields {
            if allowed.contains(&key) {
                continue;
            }
            let (message, hint) = match elsewhere(key) {
                Some(owner) => (
                    format!("`{}` is not a field of {what} ({owner})", shown(key)),
                    Some(take.clone()),
                ),
                None => (
                    format!("unknown field `{}`", shown(key)),
                    Some(match suggest_field(ctx, key, allowed) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => take.clone(),
                    }),
                ),
            };
            ctx.error(span, self.path(key), message, hint);
        }
    }

    fn missing(&self, ctx: &mut Ctx, key: &str, example: &str) {
        ctx.error(
            self.span,
            self.path(key),
            format!("missing field `{key}`"),
            Some(format!("add `{key}: {example}`")),
        );
    }
}

/// [`closest`] within the file's budget of comparisons.
fn suggest_field<'a>(ctx: &mut Ctx, key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    if ctx.compared + allowed.len() > MAX_FIELD_SUGGESTION_COMPARISONS {
        return None;
    }
    ctx.compared += allowed.len();
    closest(key, allowed)
}

fn object<'n>(ctx: &mut Ctx, node: &'n Node, path: &str, what: &str) -> Option<Obj<'n>> {
    let Kind::Map(entries) = &node.kind else {
        ctx.error(
            node.span,
            path,
            format!(
                "expected {what} (a mapping of fields), found {}",
                node.describe()
            ),
            None,
        );
        return None;
    };
    let mut fields: Vec<(&str, Span, &Node)> = Vec::new();
    // Where each key was first written: a mapping may hold tens of thousands of keys, and
    // searching the list for each one would cost the square of that.
    let mut first_at: std::collections::HashMap<&str, Span> = std::collections::HashMap::new();
    for (k, v) in entries {
        let Kind::Scalar { value: key, .. } = &k.kind else {
            ctx.error(
                k.span,
                path,
                format!("field names are plain words, found {}", k.describe()),
                None,
            );
            continue;
        };
        if let Some(first) = first_at.get(key.as_str()) {
            ctx.error(
                k.span,
                join(path, key),
                format!(
                    "`{}` is given twice (first on line {})",
                    shown(key),
                    first.line
                ),
                Some("keep one of them".into()),
            );
            continue;
        }
        first_at.insert(key.as_str(), k.span);
        fields.push((key.as_str(), k.span, v));
    }
    Some(Obj {
        span: node.span,
        path: path.to_string(),
        fields,
    })
}

fn string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match &node.kind {
        Kind::Scalar { value, .. } if !node.is_null() => Some(value.clone()),
        _ => {
            ctx.error(
                node.span,
                path,
                format!("expected a string, found {}", node.describe()),
                None,
            );
            None
        }
    }
}

/// A plain scalar written as a whole number (optional sign, digits, `_` separators), by
/// whether it fits the unsigned 64 bits peerctl reads.
enum Whole {
    Value(u64),
    Negative,
    TooLarge,
}

fn whole(node: &Node) -> Option<Whole> {
    let Kind::Scalar { value, plain: true } = &node.kind else {
        return None;
    };
    let text = value.replace('_', "");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(if negative && digits.chars().any(|c| c != '0') {
        Whole::Negative
    } else {
        match digits.parse::<u64>() {
            Ok(v) => Whole::Value(v),
            Err(_) => Whole::TooLarge,
        }
    })
}

fn integer(ctx: &mut Ctx, node: &Node, path: &str) -> Option<u64> {
    let message = match whole(node) {
        Some(Whole::Value(v)) => return Some(v),
        Some(Whole::Negative) => "expected a whole number, found a negative number".to_string(),
        Some(Whole::TooLarge) => {
            "expected a whole number, found one out of range (above 18446744073709551615)"
                .to_string()
        }
        None => format!("expected a whole number, found {}", node.describe()),
    };
    let hint = match &node.kind {
        Kind::Scalar {
            value,
            plain: false,
        } if value.trim().parse::<u64>().is_ok() => {
            Some(format!("remove the quotes: {}", value.trim()))
        }
        _ => None,
    };
    ctx.error(node.span, path, message, hint);
    None
}

fn list<'n>(ctx: &mut Ctx, node: &'n Node, path: &str, of: &str) -> Option<&'n [Node]> {
    match &node.kind {
        Kind::Seq(items) => Some(items),
        _ => {
            let hint = matches!(node.kind, Kind::Scalar { .. })
                .then(|| "write a list, e.g. [a, b] or one `- item` per line".to_string());
            ctx.error(
                node.span,
                path,
                format!("expected a list of {of}, found {}", node.describe()),
                hint,
            );
            None
        }
    }
}

fn req_string(ctx: &mut Ctx, obj: &Obj, key: &str, example: &str) -> Option<(String, Span)> {
    match obj.get(key) {
        None => {
            obj.missing(ctx, key, example);
            None
        }
        Some(n) => string(ctx, n, &obj.path(key)).map(|s| (s, n.span)),
    }
}

const COMMON_FIELDS: [&str; 4] = ["name", "cloud", "cidrs", "asn"];
const AWS_FIELDS: [&str; 4] = ["region", "vpc_id", "route_tables", "security_groups"];
const GCP_FIELDS: [&str; 3] = ["project", "region", "network"];
const AZURE_FIELDS: [&str; 7] = [
    "subscription",
    "resource_group",
    "location",
    "vnet",
    "gateway_subnet",
    "gateway_sku",
    "network_security_groups",
];

fn cloud_fields(cloud: Cloud) -> Vec<&'static str> {
    let own: &[&str] = match cloud {
        Cloud::Aws => &AWS_FIELDS,
        Cloud::Gcp => &GCP_FIELDS,
        Cloud::Azure => &AZURE_FIELDS,
    };
    COMMON_FIELDS.iter().chain(own).copied().collect()
}

/// Which other clouds' networks take `key`, e.g. "it belongs to aws networks".
fn owner_of(key: &str, cloud: Cloud) -> Option<String> {
    let owners: Vec<&str> = Cloud::ALL
        .iter()
        .filter(|&&c| c != cloud && cloud_fields(c).contains(&key))
        .map(|c| c.as_str())
        .collect();
    (!owners.is_empty()).then(|| format!("it belongs to {} networks", owners.join(" and ")))
}

/// Decodes the whole file.
pub(crate) fn decode(ctx: &mut Ctx, root: &Node) -> Draft {
    let mut draft = Draft {
        version: None,
        name: None,
        networks: Vec::new(),
        links: Vec::new(),
    };
    let Some(top) = object(ctx, root, "", "a topology") else {
        return draft;
    };
    top.check_known(
        ctx,
        &["version", "name", "networks", "links"],
        "topology files",
        &|_| None,
    );

    match top.get("version") {
        None => top.missing(ctx, "version", "1"),
        Some(n) => {
            if let Some(v) = integer(ctx, n, "version") {
                if v == 1 {
                    draft.version = Some(1);
                } else {
                    ctx.error(
                        n.span,
                        "version",
                        format!("unsupported format version {v}"),
                        Some("this peerctl reads `version: 1`".into()),
                    );
                }
            }
        }
    }

    if let Some((name, span)) = req_string(ctx, &top, "name", "prod-mesh") {
        match check_name(&name, false) {
            Ok(()) => draft.name = Some(name),
            Err((m, h)) => ctx.error(span, "name", m, Some(h)),
        }
    }

    match top.get("networks") {
        None => top.missing(ctx, "networks", "[...]"),
        Some(n) => {
            if let Some(items) = list(ctx, n, "networks", "networks") {
                if items.is_empty() {
                    ctx.error(
                        n.span,
                        "networks",
                        "no networks are declared",
                        Some("declare the VPCs/VNets to connect".into()),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    draft
                        .networks
                        .push(decode_network(ctx, item, &format!("networks[{i}]")));
                }
            }
        }
    }

    if let Some(n) = top.get("links") {
        if !n.is_null() {
            if let Some(items) = list(ctx, n, "links", "links") {
                for (i, item) in items.iter().enumerate() {
                    if let Some(l) = decode_link(ctx, item, &format!("links[{i}]")) {
                        draft.links.push(l);
                    }
                }
            }
        }
    }
    draft
}

/// Decodes a list of plain strings (ids, names); `None` when any entry was invalid.
fn string_list(
    ctx: &mut Ctx,
    obj: &Obj,
    key: &str,
    of: &str,
    check: &dyn Fn(&str) -> Option<(String, String)>,
) -> Option<Option<Vec<String>>> {
    let Some(node) = obj.get(key) else {
        return Some(None);
    };
    let path = obj.path(key);
    let items = list(ctx, node, &path, of)?;
    if items.is_empty() {
        ctx.error(
            node.span,
            &path,
            format!("an empty `{key}` list would leave nothing to configure"),
            Some(format!("remove `{key}` to use the default")),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match string(ctx, item, &p) {
            Some(s) => {
                if let Some((m, h)) = check(&s) {
                    ctx.error(item.span, &p, m, Some(h));
                    ok = false;
                } else if !seen.insert(s.clone()) {
                    ctx.error(
                        item.span,
                        &p,
                        format!("`{}` is listed twice", shown(&s)),
                        Some("remove one of them".into()),
                    );
                    ok = false;
                } else {
                    out.push(s);
                }
            }
            None => ok = false,
        }
    }
    ok.then_some(Some(out))
}

fn decode_network(ctx: &mut Ctx, node: &Node, path: &str) -> NetDraft {
    let mut d = NetDraft {
        path: path.to_string(),
        span: node.span,
        name: None,
        cloud: None,
        cidrs: Vec::new(),
        asn: None,
        sku: None,
        identity: None,
        network: None,
    };
    let Some(obj) = object(ctx, node, path, "a network") else {
        return d;
    };
    let mut ok = true;

    match req_string(ctx, &obj, "name", "aws-use1") {
        Some((name, span)) => {
            if let Err((m, h)) = check_name(&name, true) {
                ctx.error(span, obj.path("name"), m, Some(h));
                ok = false;
            }
            // Even an invalid name is kept, so that links to it are not also reported unknown.
            d.name = Some((name, span));
        }
        None => ok = false,
    }

    match req_string(ctx, &obj, "cloud", "aws") {
        Some((c, span)) => match Cloud::parse(&c) {
            Some(cloud) => d.cloud = Some(cloud),
            None => {
                let names: Vec<&str> = Cloud::ALL.iter().map(|c| c.as_str()).collect();
                let hint = match closest(&c.to_ascii_lowercase(), &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "one of: aws, gcp, azure".into(),
                };
                ctx.error(
                    span,
                    obj.path("cloud"),
                    format!("unknown cloud `{}`", shown(&c)),
                    Some(hint),
                );
                ok = false;
            }
        },
        None => ok = false,
    }

    // The known-field check needs the cloud; without one, only names no cloud takes are flagged.
    match d.cloud {
        Some(cloud) => obj.check_known(
            ctx,
            &cloud_fields(cloud),
            &format!("{cloud} networks"),
            &|k| owner_of(k, cloud),
        ),
        None => {
            let all: Vec<&str> = Cloud::ALL.iter().flat_map(|&c| cloud_fields(c)).collect();
            obj.check_known(ctx, &all, "networks", &|_| None);
        }
    }

    match obj.get("cidrs") {
        None => {
            obj.missing(ctx, "cidrs", "[10.10.0.0/16]");
            ok = false;
        }
        Some(n) => {
            let cpath = obj.path("cidrs");
            match list(ctx, n, &cpath, "CIDRs") {
                None => ok = false,
                Some([]) => {
                    ctx.error(
                        n.span,
                        &cpath,
                        "a network needs at least one CIDR",
                        Some("list the VPC's address ranges, e.g. [10.10.0.0/16]".into()),
                    );
                    ok = false;
                }
                Some(items) => {
                    let mut accepted = Disjoint::default();
                    for (i, item) in items.iter().enumerate() {
                        let p = format!("{cpath}[{i}]");
                        let Some(s) = string(ctx, item, &p) else {
                            ok = false;
                            continue;
                        };
                        match parse_cidr(&s) {
                            Ok(net) => {
                                if let Some(prev) = accepted.overlapping(&net).map(|i| &d.cidrs[i])
                                {
                                    ctx.error(
                                        item.span,
                                        &p,
                                        format!(
                                            "`{net}` overlaps `{}` of the same network ({}, line {})",
                                            prev.net, prev.path, prev.span.line
                                        ),
                                        Some(
                                            "list each address range once; drop the one \
                                             contained in the other"
                                                .into(),
                                        ),
                                    );
                                    ok = false;
                                } else {
                                    accepted.insert(net, d.cidrs.len());
                                    d.cidrs.push(Cidr {
                                        net,
                                        span: item.span,
                                        path: p,
                                    });
                                }
                            }
                            Err((m, h)) => {
                                ctx.error(item.span, &p, m, h);
                                ok = false;
                            }
                        }
                    }
                }
            }
        }
    }

    if let Some(n) = obj.get("asn") {
        let p = obj.path("asn");
        let written = match &n.kind {
            Kind::Scalar { value, .. } => value.as_str(),
            _ => "",
        };
        let checked = match whole(n) {
            Some(Whole::Value(v)) => Some(check_asn(v)),
            Some(Whole::Negative) => Some(Err((
                format!("ASN {written} is negative"),
                PRIVATE_ASN_HINT.to_string(),
            ))),
            Some(Whole::TooLarge) => Some(Err((
                format!("ASN {written} is out of range: ASNs are 32-bit, at most 4294967295"),
                PRIVATE_ASN_HINT.to_string(),
            ))),
            // Not a whole number at all: the generic message says what was found.
            None => integer(ctx, n, &p).map(check_asn),
        };
        match checked {
            Some(Ok(asn)) => d.asn = Some((asn, n.span)),
            Some(Err((m, h))) => {
                ctx.error(n.span, &p, m, Some(h));
                ok = false;
            }
            None => ok = false,
        }
    }

    let location = match d.cloud {
        Some(Cloud::Aws) => decode_aws(ctx, &obj, &mut d),
        Some(Cloud::Gcp) => decode_gcp(ctx, &obj, &mut d),
        Some(Cloud::Azure) => decode_azure(ctx, &obj, &mut d),
        None => None,
    };

    if let (true, Some(location), Some((name, _)), Some(cloud)) =
        (ok, location, d.name.clone(), d.cloud)
    {
        d.network = Some(Network {
            name,
            cloud,
            cidrs: d.cidrs.iter().map(|c| c.net).collect(),
            asn: d.asn.map(|(a, _)| a),
            location,
            span: d.span,
        });
    }
    d
}

fn decode_link(ctx: &mut Ctx, node: &Node, path: &str) -> Option<LinkDraft> {
    let obj = object(ctx, node, path, "a link")?;
    obj.check_known(ctx, &["between", "mesh", "allow"], "links", &|_| None);
    let (kind, key, members_node) = match (obj.get("between"), obj.get("mesh")) {
        (Some(_), Some(_)) => {
            ctx.error(
                obj.span,
                path,
                "a link has either `between` or `mesh`, not both",
                Some("split it into two entries".into()),
            );
            return None;
        }
        (None, None) => {
            ctx.error(
                obj.span,
                obj.path("between"),
                "missing field `between` (or `mesh`)",
                Some("add `between: [net-a, net-b]`, or `mesh: [a, b, c]` for every pair".into()),
            );
            return None;
        }
        (Some(n), None) => (LinkKind::Between, "between", n),
        (None, Some(n)) => (LinkKind::Mesh, "mesh", n),
    };
    let mpath = obj.path(key);
    let items = list(ctx, members_node, &mpath, "network names")?;
    match kind {
        LinkKind::Between if items.len() != 2 => {
            ctx.error(
                members_node.span,
                &mpath,
                format!(
                    "`between` takes exactly two network names, found {}",
                    items.len()
                ),
                Some(if items.len() > 2 {
                    "use `mesh` to link every pair of a longer list".into()
                } else {
                    "write `between: [net-a, net-b]`".into()
                }),
            );
            return None;
        }
        LinkKind::Mesh if items.len() < 2 => {
            ctx.error(
                members_node.span,
                &mpath,
                format!("a mesh needs at least two networks, found {}", items.len()),
                None,
            );
            return None;
        }
        _ => {}
    }
    let mut members = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{mpath}[{i}]");
        match string(ctx, item, &p) {
            Some(name) => members.push(Member {
                name,
                span: item.span,
                path: p,
            }),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }

    let allow = match obj.get("allow") {
        None => Some(Vec::new()),
        Some(n) => decode_allow(ctx, n, &obj.path("allow")),
    };
    Some(LinkDraft {
        path: path.to_string(),
        span: obj.span,
        kind,
        members,
        allow,
    })
}

/// An allow list, normalised: sorted, without repeats, and `[all]` stored as the empty list
/// (the model's one spelling of "all traffic").
fn decode_allow(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Allow>> {
    let items = list(ctx, node, path, "allow entries")?;
    if items.is_empty() {
        ctx.error(
            node.span,
            path,
            "an empty `allow` list would block all traffic on the link",
            Some("remove `allow` to allow all traffic, or list what may cross".into()),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(s) = string(ctx, item, &p) else {
            ok = false;
            continue;
        };
        match parse_allow(&s) {
            Ok(a) => out.push((a, item.span, p)),
            Err((m, h)) => {
                ctx.error(item.span, &p, m, Some(h));
                ok = false;
            }
        }
    }
    if out.len() > 1 {
        if let Some((_, span, p)) = out.iter().find(|(a, _, _)| *a == Allow::All) {
            ctx.error(
                *span,
                p,
                "`all` already allows everything the other entries list",
                Some("keep `all` alone, or remove it to allow only the listed traffic".into()),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let mut allow: Vec<Allow> = out.into_iter().map(|(a, _, _)| a).collect();
    allow.sort();
    allow.dedup();
    if allow == [Allow::All] {
        allow.clear();
    }
    Some(allow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_with_host_bits_suggests_the_network_address() {
        let (m, h) = parse_cidr("10.0.0.1/16").unwrap_err();
        assert!(m.contains("host bits"), "{m}");
        assert_eq!(h.as_deref(), Some("use `10.0.0.0/16`"));
    }

    #[test]
    fn cidrs_in_link_local_and_everything_are_rejected() {
        assert!(parse_cidr("169.254.10.0/24")
            .unwrap_err()
            .0
            .contains("169.254.0.0/16"));
        assert!(parse_cidr("0.0.0.0/0")
            .unwrap_err()
            .0
            .contains("every address"));
        assert!(parse_cidr("10.0.0.0/8").is_ok());
    }

    #[test]
    fn allow_entries_parse_ports_and_ranges() {
        assert_eq!(
            parse_allow("tcp/443"),
            Ok(Allow::Tcp { from: 443, to: 443 })
        );
        assert_eq!(
            parse_allow("udp/8000-8100"),
            Ok(Allow::Udp {
                from: 8000,
                to: 8100
            })
        );
        assert_eq!(parse_allow("icmp"), Ok(Allow::Icmp));
        assert!(parse_allow("tcp/0").is_err());
        assert!(parse_allow("tcp/70000").is_err());
        assert!(parse_allow("tcp/9-1").unwrap_err().1.contains("tcp/1-9"));
        assert!(parse_allow("TCP/443").unwrap_err().1.contains("tcp/443"));
        assert!(parse_allow("sctp/1").is_err());
    }

    #[test]
    fn asn_rules_reject_public_large_and_azure_reserved() {
        assert_eq!(check_asn(64512), Ok(64512));
        assert_eq!(check_asn(4_200_000_000), Ok(4_200_000_000));
        assert!(check_asn(65515)
            .unwrap_err()
            .0
            .contains("reserved by Azure"));
        assert!(check_asn(15169).unwrap_err().0.contains("not a private"));
        assert!(check_asn(65535).is_err());
        assert!(check_asn(5_000_000_000).is_err());
    }

    #[test]
    fn names_follow_the_resource_name_rule() {
        assert!(check_name("prod-mesh", false).is_ok());
        assert!(check_name("Prod", false).unwrap_err().1.contains("`prod`"));
        assert!(check_name("1abc", false).is_err());
        assert!(check_name(&"a".repeat(41), false).is_err());
        assert!(check_name("a--b", true).is_err());
        assert!(check_name("a--b", false).is_ok());
    }

    #[test]
    fn shapes_of_cloud_ids() {
        assert!(aws_id_ok("vpc-0a1b2c3d4e5f60789", "vpc"));
        assert!(aws_id_ok("vpc-0a1b2c3d", "vpc"));
        assert!(!aws_id_ok("vpc-0a1b2c3", "vpc"));
        assert!(!aws_id_ok("vpc-0A1B2C3D", "vpc"));
        assert!(guid_ok("00000000-0000-0000-0000-000000000000"));
        assert!(!guid_ok("0000-0000"));
        assert!(gcp_project_ok("acme-net"));
        assert!(!gcp_project_ok("acme"));
        assert!(!gcp_project_ok("1acme-net"));
    }

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(closest("cidr", &["cidrs", "name"]), Some("cidrs"));
        assert_eq!(closest("zzzzzz", &["cidrs", "name"]), None);
    }
}
