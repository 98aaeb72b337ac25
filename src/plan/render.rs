//! Renderings of a plan and of a topology: the human plan (grouped by link, then cloud), the
//! JSON plan document (allocations visible, secrets never), and the topology as a Mermaid or
//! Graphviz picture. Pure functions returning strings; the CLI prints them. The JSON plan
//! ([`JsonPlan`], in `render/json.rs`) is also serialisable straight into a writer the caller
//! gives (the CLI's buffered stdout), so that a large plan is never held as a tree or a string.

use super::templates::Templates;
use super::{Action, Change, Plan, Strategy};
use crate::cloud::Cloud;
use crate::topology::Topology;
use std::collections::BTreeMap;
use std::fmt::Write;

mod json;
pub use json::{json, json_against, json_text, JsonPlan};

/// Version of the `plan --json` document layout.
pub const JSON_FORMAT_VERSION: u32 = 1;

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Network(String),
    Region(Cloud, String),
    Link(String),
}

/// The human plan: shared resources per network and region first, then each link with its
/// tunnels and changes per cloud, warnings, and the summary line.
pub fn human(plan: &Plan, topo: &Topology) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Topology {}: {} networks, {} links, {} resources planned.",
        plan.topology,
        topo.networks.len(),
        plan.links.len(),
        plan.resources.len()
    );
    let mut groups: BTreeMap<Group, Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        let g = match (&c.link, &c.network) {
            (Some(l), _) => Group::Link(l.clone()),
            (None, Some(n)) => Group::Network(n.clone()),
            (None, None) => Group::Region(c.cloud, c.region.clone()),
        };
        groups.entry(g).or_default().push(c);
    }
    for l in &plan.links {
        groups.entry(Group::Link(l.id.clone())).or_default();
    }
    let nets: BTreeMap<&str, &crate::topology::Network> =
        topo.networks.iter().map(|n| (n.name.as_str(), n)).collect();
    let links: BTreeMap<&str, &super::LinkPlan> =
        plan.links.iter().map(|l| (l.id.as_str(), l)).collect();
    for (g, changes) in &groups {
        s.push('\n');
        match g {
            Group::Network(n) => {
                // A network that left the topology is shown where the state recorded it.
                let where_ = match (nets.get(n.as_str()), changes.first()) {
                    (Some(n), _) => format!("{}, {}", n.cloud, n.region()),
                    (None, Some(c)) => {
                        format!("no longer in the topology; {}, {}", c.cloud, c.region)
                    }
                    (None, None) => "no longer in the topology".into(),
                };
                let _ = writeln!(s, "Network {n} ({where_}), shared by its links:");
            }
            Group::Region(c, r) => {
                let _ = writeln!(s, "Region {c} {r}, shared by its networks:");
            }
            Group::Link(id) => match links.get(id.as_str()) {
                Some(l) => {
                    let _ = writeln!(
                        s,
                        "Link {} <-> {}: {}, {} routing, {}, allow {}",
                        l.between[0],
                        l.between[1],
                        l.strategy,
                        l.routing,
                        tunnels_label_only(l.tunnels.len()),
                        l.allow.join(", ")
                    );
                    for t in &l.tunnels {
                        let _ = write!(s, "  tunnel {}:", t.index);
                        match t.inside_cidr {
                            Some(c) => {
                                let _ = write!(s, " inside {c}");
                            }
                            None => s.push_str(" no inside range"),
                        }
                        if let (Some(a), Some(b)) = (t.local_asn, t.peer_asn) {
                            let _ = write!(s, ", ASN {a} <-> {b}");
                        }
                        if t.standby {
                            s.push_str(", standby (no peer by design)");
                        }
                        s.push('\n');
                    }
                }
                None => {
                    let _ = writeln!(s, "Link {id} (no longer in the topology):");
                }
            },
        }
        for cloud in Cloud::ALL {
            let mine: Vec<&&Change> = changes.iter().filter(|c| c.cloud == cloud).collect();
            if mine.is_empty() {
                continue;
            }
            let _ = writeln!(s, "  {cloud}:");
            for c in mine {
                let _ = write!(s, "    {:<3} {} ({})", c.action.sign(), c.address, c.name);
                if matches!(c.action, Action::Update | Action::Replace) {
                    let _ = write!(s, ": {}", c.attributes.join(", "));
                }
                s.push('\n');
            }
        }
        if changes.is_empty() {
            s.push_str("  no changes\n");
        }
    }
    if !plan.warnings.is_empty() {
        s.push_str("\nWarnings:\n");
        for w in &plan.warnings {
            let _ = writeln!(s, "  ! {w}");
        }
    }
    let sum = plan.summary();
    let _ = writeln!(
        s,
        "\nPlan: {} to create, {} to change, {} to destroy.",
        sum.create, sum.update, sum.delete
    );
    s
}

fn link_label(topo: &Topology, tpl: &Templates, a: &str, b: &str) -> String {
    let cloud = |n: &str| topo.networks.iter().find(|x| x.name == n).map(|x| x.cloud);
    match (cloud(a), cloud(b)) {
        (Some(ca), Some(cb)) => match Strategy::for_pair(ca, cb) {
            Some(s) => format!(
                "{s}, {}",
                tunnels_label_only(s.tunnels(ca, cb, tpl) as usize)
            ),
            None => "unsupported pair".into(),
        },
        _ => "unknown network".into(),
    }
}

fn tunnels_label_only(n: usize) -> String {
    if n == 1 {
        "1 tunnel".into()
    } else {
        format!("{n} tunnels")
    }
}

/// A Mermaid node id for a network: prefixed (`net_`), so that no network can take a cloud
/// subgraph's id (`cloud_…`) or a keyword (`end`), and injective: network names hold only
/// `[a-z0-9-]`, where '-' becomes '_'; any other name gets a hash suffix.
fn mermaid_id(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let body: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if plain {
        format!("net_{body}")
    } else {
        format!("net_{body}_{:08x}", super::alloc::hash64(name) >> 32)
    }
}

/// Text inside a quoted Mermaid label: `"` as its entity code, `<`/`>` too so that a name can
/// never open markup (the label's own line break is added by the caller).
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// How one direction of a link fares, as verify judged it (for drawing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Up,
    Degraded,
    Down,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Up => "up",
            Level::Degraded => "degraded",
            Level::Down => "down",
        }
    }
    /// Line colour (GitHub's green, amber and red, readable on light and dark backgrounds).
    fn colour(self) -> &'static str {
        match self {
            Level::Up => "#1a7f37",
            Level::Degraded => "#bf8700",
            Level::Down => "#cf222e",
        }
    }
}

/// Verdicts per direction, keyed by (from, to) network names.
pub type Health = BTreeMap<(String, String), Level>;

/// How to draw one link given its two directions' levels.
struct Drawn {
    /// Second label line: `a → b up · b → a down`.
    note: String,
    /// The worst of both directions (the line's colour).
    worst: Level,
    /// Exactly one direction works: draw an arrow from `from` to `to`.
    one_way: Option<(String, String)>,
}

fn drawn(health: Option<&Health>, a: &str, b: &str) -> Option<Drawn> {
    let h = health?;
    let ab = *h.get(&(a.to_string(), b.to_string()))?;
    let ba = *h.get(&(b.to_string(), a.to_string()))?;
    let note = if ab == ba {
        match ab {
            Level::Up => "up both ways".to_string(),
            other => format!("{} both ways", other.word()),
        }
    } else {
        format!("{a} → {b} {} · {b} → {a} {}", ab.word(), ba.word())
    };
    let one_way = match (ab, ba) {
        (Level::Down, Level::Down) => None,
        (_, Level::Down) => Some((a.to_string(), b.to_string())),
        (Level::Down, _) => Some((b.to_string(), a.to_string())),
        _ => None,
    };
    Some(Drawn {
        note,
        worst: ab.max(ba),
        one_way,
    })
}

/// The topology as a Mermaid flowchart: one subgraph per cloud, links labelled with their
/// strategy and tunnel count.
pub fn mermaid(topo: &Topology, tpl: &Templates) -> String {
    mermaid_with(topo, tpl, None)
}

/// [`mermaid`] with each link drawn by health when `health` has both its directions: green
/// up, amber degraded, red (dotted) down, an arrow in the one direction that works, and the
/// verdict of each direction in the label.
pub fn mermaid_with(topo: &Topology, tpl: &Templates, health: Option<&Health>) -> String {
    let mut s = String::from("flowchart LR\n");
    if health.is_some() {
        s.push_str("  %% links by verify's verdict: green up, amber degraded, red down; an arrow points the one way that works\n");
    }
    for cloud in Cloud::ALL {
        let nets: Vec<_> = topo.networks.iter().filter(|n| n.cloud == cloud).collect();
        if nets.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "  subgraph cloud_{}[\"{}\"]",
            cloud,
            mermaid_text(cloud.display_name())
        );
        for n in nets {
            let cidrs: Vec<String> = n.cidrs.iter().map(|c| c.to_string()).collect();
            let _ = writeln!(
                s,
                "    {}[\"{}<br/>{}\"]",
                mermaid_id(&n.name),
                mermaid_text(&n.name),
                mermaid_text(&format!("{} {}", n.region(), cidrs.join(" ")))
            );
        }
        s.push_str("  end\n");
    }
    let mut styles = Vec::new();
    for (i, l) in topo.links.iter().enumerate() {
        let label = mermaid_text(&link_label(topo, tpl, &l.a, &l.b));
        let Some(d) = drawn(health, &l.a, &l.b) else {
            let _ = writeln!(
                s,
                "  {} ---|\"{label}\"| {}",
                mermaid_id(&l.a),
                mermaid_id(&l.b)
            );
            continue;
        };
        let (from, to, line) = match &d.one_way {
            Some((f, t)) => (f.as_str(), t.as_str(), "-->"),
            None if d.worst == Level::Down => (l.a.as_str(), l.b.as_str(), "-.-"),
            None => (l.a.as_str(), l.b.as_str(), "---"),
        };
        let _ = writeln!(
            s,
            "  {} {line}|\"{label}<br/>{}\"| {}",
            mermaid_id(from),
            mermaid_text(&d.note),
            mermaid_id(to)
        );
        styles.push(format!(
            "  linkStyle {i} stroke:{},stroke-width:3px",
            d.worst.colour()
        ));
    }
    for st in styles {
        s.push_str(&st);
        s.push('\n');
    }
    s
}

/// Escapes text for a dot quoted string (backslash and double quote).
fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot_str(s: &str) -> String {
    format!("\"{}\"", dot_escape(s))
}

/// A dot label of several lines: each part escaped, then joined with dot's `\n` line break
/// (escaping the joined text would turn the break into a literal backslash).
fn dot_lines(parts: &[&str]) -> String {
    let escaped: Vec<String> = parts.iter().map(|p| dot_escape(p)).collect();
    format!("\"{}\"", escaped.join("\\n"))
}

/// The topology as a Graphviz (dot) graph: one cluster per cloud.
pub fn dot(topo: &Topology, tpl: &Templates) -> String {
    dot_with(topo, tpl, None)
}

/// [`dot`] with links drawn by health, as [`mermaid_with`] draws them.
pub fn dot_with(topo: &Topology, tpl: &Templates, health: Option<&Health>) -> String {
    let mut s = format!(
        "graph {} {{\n  rankdir=LR;\n  node [shape=box];\n",
        dot_str(&topo.name)
    );
    for cloud in Cloud::ALL {
        let nets: Vec<_> = topo.networks.iter().filter(|n| n.cloud == cloud).collect();
        if nets.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "  subgraph cluster_{cloud} {{\n    label={};",
            dot_str(cloud.display_name())
        );
        for n in nets {
            let cidrs: Vec<String> = n.cidrs.iter().map(|c| c.to_string()).collect();
            let _ = writeln!(
                s,
                "    {} [label={}];",
                dot_str(&n.name),
                dot_lines(&[&n.name, &format!("{} {}", n.region(), cidrs.join(" "))])
            );
        }
        s.push_str("  }\n");
    }
    for l in &topo.links {
        let label = link_label(topo, tpl, &l.a, &l.b);
        let Some(d) = drawn(health, &l.a, &l.b) else {
            let _ = writeln!(
                s,
                "  {} -- {} [label={}];",
                dot_str(&l.a),
                dot_str(&l.b),
                dot_str(&label)
            );
            continue;
        };
        let (from, to, extra) = match &d.one_way {
            Some((f, t)) => (f.as_str(), t.as_str(), ", dir=forward"),
            None if d.worst == Level::Down => (l.a.as_str(), l.b.as_str(), ", style=dashed"),
            None => (l.a.as_str(), l.b.as_str(), ""),
        };
        let _ = writeln!(
            s,
            "  {} -- {} [label={}, color={}, penwidth=2{extra}];",
            dot_str(from),
            dot_str(to),
            dot_lines(&[&label, &d.note]),
            dot_str(d.worst.colour())
        );
    }
    s.push_str("}\n");
    s
}
