//! Renderings of a plan and of a topology: the human plan (grouped by link, then cloud), the
//! JSON plan document (allocations visible, secrets never), and the topology as a Mermaid or
//! Graphviz picture. Pure functions returning strings; the CLI prints them.

use super::resource::Value;
use super::templates::Templates;
use super::{Action, Change, Plan, Strategy};
use crate::cloud::Cloud;
use crate::state::State;
use crate::topology::Topology;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

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

/// The `plan --json` document against an empty state (see [`json_against`]).
pub fn json(plan: &Plan) -> serde_json::Value {
    json_against(plan, &State::empty())
}

/// A planned or recorded attribute as policy tools see it: a secret as `"(sensitive)"`, a
/// reference as its value when `known` gives one, else `{"unknown": "address.output"}`.
fn reviewable(v: &Value, known: &dyn Fn(&str, &str) -> Option<String>) -> serde_json::Value {
    match v {
        Value::Secret(_) => "(sensitive)".into(),
        Value::Ref(r) => match known(&r.resource, &r.output) {
            Some(s) => s.into(),
            None => json!({"unknown": format!("{}.{}", r.resource, r.output)}),
        },
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Str(s) => s.clone().into(),
        Value::List(l) => l
            .iter()
            .map(|v| reviewable(v, known))
            .collect::<Vec<_>>()
            .into(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), reviewable(v, known)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn attrs_json(
    attrs: &BTreeMap<String, Value>,
    known: &dyn Fn(&str, &str) -> Option<String>,
) -> serde_json::Value {
    attrs
        .iter()
        .map(|(k, v)| (k.clone(), reviewable(v, known)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The `plan --json` document. Holds allocations; never a secret. Each create, update and
/// replace carries `after` (the planned attributes; an output not known before apply as
/// `{"unknown": "address.output"}`), each update, replace and delete `before` (as recorded
/// in `state`), and every change its `depends_on` addresses.
pub fn json_against(plan: &Plan, state: &State) -> serde_json::Value {
    let sum = plan.summary();
    let planned: BTreeMap<&str, &super::resource::Resource> = plan
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    let renewed: std::collections::BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .map(|c| c.address.as_str())
        .collect();
    // After apply: outputs of resources that stay are known from state; new ones are not.
    let after_known = |r: &str, o: &str| -> Option<String> {
        if renewed.contains(r) {
            return None;
        }
        state
            .resources
            .get(r)
            .and_then(|s| s.outputs.get(o).cloned())
    };
    let before_known = |r: &str, o: &str| {
        state
            .resources
            .get(r)
            .and_then(|s| s.outputs.get(o).cloned())
    };
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "topology": plan.topology,
        "summary": sum,
        "changes": plan.changes.iter().map(|c| {
            let mut doc = json!({
                "action": c.action,
                "cloud": c.cloud,
                "type": c.kind,
                "name": c.name,
                "address": c.address,
                "link": c.link,
                "network": c.network,
                "region": c.region,
                "attributes": c.attributes,
            });
            let p = planned.get(c.address.as_str());
            let recorded = state.resources.get(&c.address);
            if c.action != Action::Delete {
                if let Some(p) = p {
                    doc["after"] = attrs_json(&p.attributes, &after_known);
                }
            }
            if c.action != Action::Create {
                if let Some(s) = recorded {
                    doc["before"] = attrs_json(&s.attributes, &before_known);
                }
            }
            doc["depends_on"] = match (p, recorded) {
                (Some(p), _) => json!(p.depends_on),
                (None, Some(s)) => json!(s.dependencies()),
                _ => json!([]),
            };
            doc
        }).collect::<Vec<_>>(),
        "links": plan.links.iter().map(|l| json!({
            "id": l.id,
            "between": l.between,
            "clouds": l.clouds,
            "strategy": l.strategy,
            "routing": l.routing,
            "allow": l.allow,
            "tunnels": l.tunnels,
        })).collect::<Vec<_>>(),
        "warnings": plan.warnings.iter().map(|w| json!({
            "cloud": w.cloud,
            "quota": w.quota,
            "scope": w.scope,
            "planned": w.planned,
            "default_limit": w.default_limit,
            "message": w.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// The JSON plan as pretty text with a final newline.
pub fn json_text(plan: &Plan) -> String {
    serde_json::to_string_pretty(&json(plan)).unwrap_or_default() + "\n"
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
