//! Decodes the spanned YAML tree into drafts of networks and links, checking every field on
//! its own (presence, type, shape). Rules that relate several fields live in `rules`.

use super::model::*;
use super::yaml::{Kind, Node};
use super::Diagnostic;
use crate::cloud::Cloud;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

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

/// Words and candidates longer than this get no "did you mean": every name and field peerctl
/// knows is shorter, and the distance costs the product of the two lengths.
pub(crate) const TYPO_MAX_CHARS: usize = 64;

/// How many edits away `word` (of `word_chars` characters) is from `candidate`, when that is
/// close enough to be a likely typo. The difference in length is a lower bound of the distance,
/// checked first so that most candidates cost nothing.
pub(crate) fn typo_distance(word: &str, word_chars: usize, candidate: &str) -> Option<usize> {
    let chars = candidate.chars().count();
    if word_chars > TYPO_MAX_CHARS || chars > TYPO_MAX_CHARS {
        return None;
    }
    let limit = 2
        .max(candidate.len() / 3)
        .min(candidate.len().saturating_sub(1));
    if word_chars.abs_diff(chars) > limit {
        return None;
    }
    distance_within(word, candidate, limit)
}

/// The Levenshtein (edit) distance of `a` and `b`, for "did you mean" hints, when it is at most `limit`: stops at the first row
/// whose every cell is past the limit (the distance can only grow from there), so an unlikely
/// candidate costs a row or two, not the product of the lengths.
fn distance_within(a: &str, b: &str, limit: usize) -> Option<usize> {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        let mut best = row[0];
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            best = best.min(row[j + 1]);
            prev = cur;
        }
        if best > limit {
            return None;
        }
    }
    Some(row[b.len()]).filter(|&d| d <= limit)
}

/// The candidate closest to `word`, if close enough to be a likely typo (the first of equally
/// close ones).
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_chars = word.chars().count();
    let mut best: Option<(usize, &'a str)> = None;
    for &c in candidates {
        if let Some(d) = typo_distance(word, word_chars, c) {
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Names that end up in cloud resource names: the topology's and every network's.
/// Returns the problem and its fix.
pub(crate) fn check_name(s: &str, network: bool) -> Result<(), (String, String)> {
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let problem = if s.is_empty() {
        Some("is empty")
    } else if s.len() > 40 {
        Some("is longer than 40 characters")
    } else if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("must start with a lowercase letter")
    } else if !ok_chars {
        Some("may hold only lowercase letters, digits and '-'")
    } else if network && s.ends_with('-') {
        Some("must not end with '-'")
    } else if network && s.contains("--") {
        Some("must not contain \"--\" (it separates the two names in a link's id)")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => {
            let suggestion: String = s
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let suggestion = suggestion
                .split('-')
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("-");
            let hint = if !suggestion.is_empty()
                && suggestion != s
                && check_name(&suggestion, network).is_ok()
            {
                format!("e.g. `{suggestion}`; it goes into every cloud resource name")
            } else {
                "use 1-40 lowercase letters, digits and '-', starting with a letter; it goes into \
                 every cloud resource name"
                    .to_string()
            };
            Err((format!("name `{}` {p}", shown(s)), hint))
        }
    }
}

/// Address blocks no network may use. 169.254.0.0/16 matters most: the clouds take VPN tunnel
/// inside addresses from it.
const RESERVED: [(&str, &str); 5] = [
    ("0.0.0.0/8", "the \"this network\" block"),
    ("127.0.0.0/8", "loopback"),
    (
        "169.254.0.0/16",
        "link-local, where the clouds put VPN tunnel inside addresses",
    ),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (class E)"),
];

/// Pairwise disjoint prefixes (each with an index), answering "which one overlaps this
/// prefix?" in O(log n): a network may list thousands of CIDRs, and comparing each with every
/// earlier one would cost the square of that.
#[derive(Default)]
struct Disjoint {
    by_start: std::collections::BTreeMap<u32, (Ipv4Net, usize)>,
}

impl Disjoint {
    fn overlapping(&self, net: &Ipv4Net) -> Option<usize> {
        let (start, end) = (u32::from(net.network()), u32::from(net.broadcast()));
        // Disjoint prefixes: at most one starts at or before `start` and reaches it (it then
        // contains `net`); any other overlap starts inside `net`.
        if let Some((_, (n, i))) = self.by_start.range(..=start).next_back() {
            if u32::from(n.broadcast()) >= start {
                return Some(*i);
            }
        }
        self.by_start
            .range(start..=end)
            .next()
            .map(|(_, (_, i))| *i)
    }

    fn insert(&mut self, net: Ipv4Net, index: usize) {
        self.by_start.insert(u32::from(net.network()), (net, index));
    }
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(b) || b.contains(a)
}

/// Parses one CIDR and applies the checks that need no other value.
pub(crate) fn parse_cidr(raw: &str) -> Result<Ipv4Net, (String, Option<String>)> {
    let raw = raw.trim();
    let s = shown(raw);
    if raw.contains(':') {
        return Err((
            format!("`{s}` is an IPv6 prefix; peerctl connects IPv4 address spaces only"),
            None,
        ));
    }
    let net: Ipv4Net = match raw.parse() {
        Ok(n) => n,
        Err(_) => {
            let hint = if raw.parse::<Ipv4Addr>().is_ok() {
                format!("add the prefix length, e.g. `{s}/16`")
            } else {
                "write an address and a prefix length, e.g. `10.0.0.0/16`".to_string()
            };
            return Err((format!("`{s}` is not an IPv4 CIDR"), Some(hint)));
        }
    };
    if net.prefix_len() == 0 {
        return Err((
            format!("`{s}` is every address, not a network's address space"),
            Some("list the network's own ranges, e.g. 10.0.0.0/16".into()),
        ));
    }
    if net.addr() != net.network() {
        return Err((
            format!("`{s}` has host bits set"),
            Some(format!("use `{}`", net.trunc())),
        ));
    }
    for (block, why) in RESERVED {
        let Ok(reserved) = block.parse::<Ipv4Net>() else {
            continue;
        };
        if overlaps(&net, &reserved) {
            return Err((
                format!("`{s}` overlaps {block}, {why}"),
                Some(
                    "use private address space such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
                        .into(),
                ),
            ));
        }
    }
    Ok(net)
}

/// Parses one `allow` entry: `all`, `icmp`, `tcp/443`, `udp/53`, `tcp/8000-8100`.
pub(crate) fn parse_allow(raw: &str) -> Result<Allow, (String, String)> {
    let s = shown(raw);
    let usage = "write `all`, `icmp`, `tcp/PORT`, `udp/PORT` or `tcp/FROM-TO`, e.g. tcp/443";
    let bad = |m: String| Err((m, usage.to_string()));
    match raw {
        "all" => return Ok(Allow::All),
        "icmp" => return Ok(Allow::Icmp),
        _ => {}
    }
    let Some((proto, ports)) = raw.split_once('/') else {
        if raw == "tcp" || raw == "udp" {
            return Err((
                format!("`{s}` needs a port or a range"),
                format!("e.g. {s}/443, or {s}/1-65535 for every port"),
            ));
        }
        return bad(format!("`{s}` is not a protocol peerctl knows"));
    };
    if proto != "tcp" && proto != "udp" {
        let lower = proto.to_ascii_lowercase();
        if lower == "tcp" || lower == "udp" {
            return Err((
                format!("protocol `{}` must be lowercase", shown(proto)),
                format!("write `{}/{}`", shown(&lower), shown(ports)),
            ));
        }
        return bad(format!(
            "`{}` is not a protocol peerctl knows (tcp, udp, icmp, all)",
            shown(proto)
        ));
    }
    let port = |p: &str| -> Result<u16, (String, String)> {
        match p.trim().parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            Ok(_) => Err((
                format!("port `{}` in `{s}` is outside 1-65535", shown(p)),
                usage.to_string(),
            )),
            Err(_) => Err((
                format!("`{}` in `{s}` is not a port number", shown(p)),
                usage.to_string(),
            )),
        }
    };
    let (from, to) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if from > to {
        return Err((
            format!("port range `{}` in `{s}` runs backwards", shown(ports)),
            format!("write `{proto}/{to}-{from}`"),
        ));
    }
    Ok(if proto == "tcp" {
        Allow::Tcp { from, to }
    } else {
        Allow::Udp { from, to }
    })
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// AWS ids such as `vpc-0a1b2c3d4e5f60789`: a prefix and 8 or 17 lowercase hex digits.
fn aws_id_ok(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|h| (h.len() == 8 || h.len() == 17) && is_hex(h))
}

fn guid_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    parts.len() == 5
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// GCP project ids: 6-30 characters, lowercase letters, digits and '-', starting with a
/// letter and not ending with '-'.
fn gcp_project_ok(s: &str) -> bool {
    (6..=30).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// GCP resource names (RFC 1035 labels): the VPC network's name.
fn gcp_name_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Cloud regions and Azure locations as the APIs spell them: `us-east-1`, `us-central1`,
/// `eastus`.
fn region_ok(s: &str, dashes: bool) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || (dashes && c == '-'))
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

/// The fix for every ASN problem: the private ranges, or no `asn` at all.
const PRIVATE_ASN_HINT: &str = "use a private ASN: 64512-65534 or 4200000000-4294967294, or \
                                omit `asn` to let peerctl allocate one";

/// Checks a user-fixed ASN: 32-bit, private, and not one Azure reserves.
pub(crate) fn check_asn(v: u64) -> Result<u32, (String, String)> {
    let private = PRIVATE_ASN_HINT;
    let Ok(asn) = u32::try_from(v) else {
        return Err((
            format!("ASN {v} is out of range: ASNs are 32-bit, at most 4294967295"),
            private.into(),
        ));
    };
    if AZURE_RESERVED_ASNS.contains(&asn) {
        return Err((
            format!("ASN {asn} is reserved by Azure"),
            format!("{private}; Azure reserves 65515 and 65517-65520 on every side"),
        ));
    }
    if !is_private_asn(asn) {
        return Err((format!("ASN {asn} is not a private ASN"), private.into()));
    }
    Ok(asn)
}

/// Reads a required string field and checks its shape; `None` when missing or invalid.
fn shaped(
    ctx: &mut Ctx,
    obj: &Obj,
    key: &str,
    example: &str,
    ok: &dyn Fn(&str) -> bool,
    rule: &str,
) -> Option<String> {
    let (s, span) = req_string(ctx, obj, key, example)?;
    if ok(&s) {
        Some(s)
    } else {
        ctx.error(
            span,
            obj.path(key),
            format!("`{}` is not a valid {key}: {rule}", shown(&s)),
            Some(format!("e.g. `{example}`")),
        );
        None
    }
}

fn decode_aws(ctx: &mut Ctx, obj: &Obj, d: &mut NetDraft) -> Option<Location> {
    let region = shaped(
        ctx,
        obj,
        "region",
        "us-east-1",
        &|s| region_ok(s, true),
        "AWS region codes are lowercase letters, digits and '-'",
    );
    let vpc_id = shaped(
        ctx,
        obj,
        "vpc_id",
        "vpc-0a1b2c3d4e5f60789",
        &|s| aws_id_ok(s, "vpc"),
        "`vpc-` and 8 or 17 lowercase hex digits",
    );
    let id_check = |prefix: &'static str, example: &'static str| {
        move |s: &str| {
            (!aws_id_ok(s, prefix)).then(|| {
                (
                    format!(
                        "`{}` is not a {prefix} id (`{prefix}-` and 8 or 17 lowercase hex digits)",
                        shown(s)
                    ),
                    format!("e.g. `{example}`"),
                )
            })
        }
    };
    let route_tables = string_list(
        ctx,
        obj,
        "route_tables",
        "route table ids",
        &id_check("rtb", "rtb-0123456789abcdef0"),
    );
    let security_groups = string_list(
        ctx,
        obj,
        "security_groups",
        "security group ids",
        &id_check("sg", "sg-0123456789abcdef0"),
    );
    let (region, vpc_id) = (region?, vpc_id?);
    d.identity = Some(format!("AWS VPC {vpc_id} in {region}"));
    Some(Location::Aws(AwsNetwork {
        region,
        vpc_id,
        route_tables: route_tables?,
        security_groups: security_groups?,
    }))
}

fn decode_gcp(ctx: &mut Ctx, obj: &Obj, d: &mut NetDraft) -> Option<Location> {
    let project = shaped(
        ctx,
        obj,
        "project",
        "acme-net",
        &gcp_project_ok,
        "6-30 lowercase letters, digits and '-', starting with a letter",
    );
    let region = shaped(
        ctx,
        obj,
        "region",
        "us-central1",
        &|s| region_ok(s, true),
        "GCP region names are lowercase letters, digits and '-'",
    );
    let network = shaped(
        ctx,
        obj,
        "network",
        "prod-vpc",
        &gcp_name_ok,
        "1-63 lowercase letters, digits and '-', starting with a letter",
    );
    let (project, region, network) = (project?, region?, network?);
    d.identity = Some(format!("GCP network {project}/{network} in {region}"));
    Some(Location::Gcp(GcpNetwork {
        project,
        region,
        network,
    }))
}

fn decode_azure(ctx: &mut Ctx, obj: &Obj, d: &mut NetDraft) -> Option<Location> {
    let subscription = shaped(
        ctx,
        obj,
        "subscription",
        "00000000-0000-0000-0000-000000000000",
        &guid_ok,
        "a subscription id is a GUID",
    );
    let resource_group = req_string(ctx, obj, "resource_group", "net-rg").map(|(s, _)| s);
    let location = shaped(
        ctx,
        obj,
        "location",
        "eastus",
        &|s| region_ok(s, false),
        "Azure locations are written lowercase without spaces",
    );
    let vnet = req_string(ctx, obj, "vnet", "prod-vnet").map(|(s, _)| s);

    let gateway_subnet =
        req_string(ctx, obj, "gateway_subnet", "10.30.255.0/27").and_then(|(s, span)| {
            let p = obj.path("gateway_subnet");
            let net = match parse_cidr(&s) {
                Ok(n) => n,
                Err((m, h)) => {
                    ctx.error(span, &p, m, h);
                    return None;
                }
            };
            let mut ok = true;
            if net.prefix_len() > 27 {
                ctx.error(
                    span,
                    &p,
                    format!("GatewaySubnet `{net}` is smaller than /27"),
                    Some(format!(
                        "Azure VPN gateways need a /27 or larger, e.g. `{}`",
                        Ipv4Net::new(net.network(), 27)
                            .map(|n| n.trunc().to_string())
                            .unwrap_or_else(|_| "10.30.255.0/27".into())
                    )),
                );
                ok = false;
            }
            // Only judged when every VNet CIDR was valid: otherwise the error would be a guess.
            let all_cidrs_valid = obj
                .get("cidrs")
                .is_some_and(|n| matches!(&n.kind, Kind::Seq(v) if v.len() == d.cidrs.len()));
            if all_cidrs_valid && !d.cidrs.iter().any(|c| c.net.contains(&net)) {
                let list: Vec<String> = d.cidrs.iter().map(|c| c.net.to_string()).collect();
                ctx.error(
                    span,
                    &p,
                    format!(
                        "GatewaySubnet `{net}` is not inside the VNet's CIDRs ({})",
                        list.join(", ")
                    ),
                    Some("pick a free /27 inside one of the VNet's CIDRs".into()),
                );
                ok = false;
            }
            ok.then_some(net)
        });

    let gateway_sku = match obj.get("gateway_sku") {
        None => Some(DEFAULT_AZURE_GATEWAY_SKU.to_string()),
        Some(n) => {
            let p = obj.path("gateway_sku");
            string(ctx, n, &p).and_then(|s| {
                if s.eq_ignore_ascii_case("basic") {
                    // peerctl's connections always carry a custom IPsec/IKE policy (Azure's
                    // default IKEv2 policy has no DH group 14), and Basic takes neither custom
                    // policies nor IKEv2.
                    ctx.error(
                        n.span,
                        &p,
                        format!(
                            "the `{s}` SKU supports neither IKEv2 nor custom IPsec/IKE \
                             policies, which every peerctl connection uses"
                        ),
                        Some(format!(
                            "use `{DEFAULT_AZURE_GATEWAY_SKU}`, the smallest SKU with both (30 \
                             tunnels), or omit `gateway_sku`"
                        )),
                    );
                    None
                } else if azure_sku_tunnel_limit(&s).is_some() {
                    d.sku = Some((s.clone(), n.span));
                    Some(s)
                } else {
                    let names: Vec<&str> = AZURE_GATEWAY_SKUS.iter().map(|(s, _)| *s).collect();
                    let hint = match names.iter().find(|k| k.eq_ignore_ascii_case(&s)) {
                        Some(k) => format!("SKU names are case-sensitive: `{k}`"),
                        None => format!("one of: {}", names.join(", ")),
                    };
                    ctx.error(
                        n.span,
                        &p,
                        format!("unknown Azure VPN gateway SKU `{}`", shown(&s)),
                        Some(hint),
                    );
                    None
                }
            })
        }
    };
    if obj.get("gateway_sku").is_none() {
        d.sku = Some((DEFAULT_AZURE_GATEWAY_SKU.to_string(), d.span));
    }

    let nsgs = string_list(
        ctx,
        obj,
        "network_security_groups",
        "network security group names",
        &|s| {
            (s.is_empty() || s.len() > 80).then(|| {
                (
                    format!(
                        "`{}` is not a network security group name (1-80 characters)",
                        shown(s)
                    ),
                    "use the NSG's name as Azure shows it".to_string(),
                )
            })
        },
    );

    let (subscription, resource_group, location, vnet) =
        (subscription?, resource_group?, location?, vnet?);
    d.identity = Some(format!(
        "Azure VNet {resource_group}/{vnet} in subscription {subscription}"
    ));
    Some(Location::Azure(AzureNetwork {
        subscription,
        resource_group,
        location,
        vnet,
        gateway_subnet: gateway_subnet?,
        gateway_sku: gateway_sku?,
        network_security_groups: nsgs?,
    }))
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
