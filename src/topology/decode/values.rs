//! The checks of single values, free of the YAML tree: names, CIDRs and reserved ranges, allow
//! rules, cloud identifiers, ASNs, and the typo distance behind "did you mean".

use super::*;

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
pub(super) struct Disjoint {
    by_start: std::collections::BTreeMap<u32, (Ipv4Net, usize)>,
}

impl Disjoint {
    pub(super) fn overlapping(&self, net: &Ipv4Net) -> Option<usize> {
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

    pub(super) fn insert(&mut self, net: Ipv4Net, index: usize) {
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
pub(super) fn aws_id_ok(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|h| (h.len() == 8 || h.len() == 17) && is_hex(h))
}

pub(super) fn guid_ok(s: &str) -> bool {
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
pub(super) fn gcp_project_ok(s: &str) -> bool {
    (6..=30).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// GCP resource names (RFC 1035 labels): the VPC network's name.
pub(super) fn gcp_name_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Cloud regions and Azure locations as the APIs spell them: `us-east-1`, `us-central1`,
/// `eastus`.
pub(super) fn region_ok(s: &str, dashes: bool) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || (dashes && c == '-'))
}

/// The fix for every ASN problem: the private ranges, or no `asn` at all.
pub(super) const PRIVATE_ASN_HINT: &str =
    "use a private ASN: 64512-65534 or 4200000000-4294967294, or \
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
