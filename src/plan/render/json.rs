//! The `plan --json` document, serialised straight from the plan: no `serde_json::Value` tree
//! is built on the way (at 1,000 networks that tree was ~15,000 changes of small maps and
//! strings, allocated, printed and freed again: most of a whole process's time).
//!
//! The layout is the one the document has always had: every object's keys in sorted order
//! (serde_json's maps are sorted), so each `serialize_struct` below lists its fields
//! alphabetically, and `render_tests` compares the text with a `Value`-built reference.

use super::JSON_FORMAT_VERSION;
use crate::plan::diff::{Action, Change, Summary};
use crate::plan::resource::{Resource, Value};
use crate::plan::{LinkPlan, Plan, Warning};
use crate::state::{ResourceState, State};
use foldhash::{HashMap, HashSet, HashSetExt};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt::Display;

/// The `plan --json` document of `plan` against `state`. Holds allocations; never a secret.
/// Each create, update and replace carries `after` (the planned attributes; an output not
/// known before apply as `{"unknown": "address.output"}`), each update, replace and delete
/// `before` (as recorded in `state`), and every change its `depends_on` addresses.
///
/// Implements [`Serialize`]; [`JsonPlan::write_pretty`] prints it as `plan --json` does.
pub struct JsonPlan<'a> {
    plan: &'a Plan,
    state: &'a State,
    drift: Option<&'a serde_json::Value>,
    /// Planned resources by address.
    planned: HashMap<&'a str, &'a Resource>,
    /// Addresses created or replaced: after apply their outputs are new, so not known yet.
    /// Only looked at for a resource the state records (empty when the state is).
    renewed: HashSet<&'a str>,
}

impl<'a> JsonPlan<'a> {
    pub fn new(plan: &'a Plan, state: &'a State) -> JsonPlan<'a> {
        let planned = plan
            .resources
            .iter()
            .map(|r| (r.address.as_str(), r))
            .collect();
        let renewed = if state.resources.is_empty() {
            HashSet::new()
        } else {
            plan.changes
                .iter()
                .filter(|c| matches!(c.action, Action::Create | Action::Replace))
                .map(|c| c.address.as_str())
                .collect()
        };
        JsonPlan {
            plan,
            state,
            drift: None,
            planned,
            renewed,
        }
    }

    /// Adds a `drift` member (what a refresh found; the CLI's, serialised by it).
    pub fn with_drift(mut self, drift: &'a serde_json::Value) -> JsonPlan<'a> {
        self.drift = Some(drift);
        self
    }

    /// The document as pretty text (two-space indent) with a final newline, into whatever
    /// writer the caller gives (a buffer, or the CLI's buffered stdout); nothing is opened
    /// here. Write errors are the writer's.
    pub fn write_pretty<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(&mut w, Pretty::default());
        self.serialize(&mut ser).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    }

    /// The document as pretty text with a final newline.
    pub fn text(&self) -> String {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail, and serde_json writes UTF-8 only.
        let _ = self.write_pretty(&mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    fn known(&self, after: bool) -> Known<'_> {
        Known {
            state: self.state,
            renewed: after.then_some(&self.renewed),
        }
    }
}

impl Serialize for JsonPlan<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let plan = self.plan;
        let mut m = s.serialize_struct("Plan", 6 + usize::from(self.drift.is_some()))?;
        m.serialize_field(
            "changes",
            &Seq(|| {
                plan.changes.iter().map(|c| ChangeJson {
                    c,
                    planned: self.planned.get(c.address.as_str()).copied(),
                    recorded: self.state.resources.get(&c.address),
                    after: self.known(true),
                    before: self.known(false),
                })
            }),
        )?;
        if let Some(d) = self.drift {
            m.serialize_field("drift", d)?;
        }
        m.serialize_field("format_version", &JSON_FORMAT_VERSION)?;
        m.serialize_field("links", &Seq(|| plan.links.iter().map(LinkJson)))?;
        m.serialize_field("summary", &SummaryJson(plan.summary()))?;
        m.serialize_field("topology", &plan.topology)?;
        m.serialize_field("warnings", &Seq(|| plan.warnings.iter().map(WarningJson)))?;
        m.end()
    }
}

/// serde_json's pretty layout (two-space indent, `": "` after a key), with each line break and
/// its indentation written in one piece: serde_json's own `PrettyFormatter` writes the indent
/// one level at a time, a dozen tiny writes per line of a 14 MB plan.
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

/// `",\n"` and the deepest indentation written in one piece (deeper levels add to it).
const BREAK: &[u8; 2 + 2 * 16] = b",\n                                ";

impl Pretty {
    /// A line break (after a comma unless `first`) and the current indentation.
    fn line<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        let start = usize::from(first);
        let width = 2 * self.depth;
        let inline = width.min(BREAK.len() - 2);
        w.write_all(&BREAK[start..2 + inline])?;
        for _ in 0..(width - inline) / 2 {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w, true)?;
        }
        w.write_all(c)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A sequence produced on demand (serialising walks it once).
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// Displayed text as a JSON string, written without an intermediate `String`.
struct Text<T>(T);

impl<T: Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// What a reference's value is: after apply (`renewed` given: a created or replaced
/// resource's outputs are not known yet) or as recorded (`before`).
#[derive(Clone, Copy)]
struct Known<'a> {
    state: &'a State,
    renewed: Option<&'a HashSet<&'a str>>,
}

impl<'a> Known<'a> {
    fn get(&self, resource: &str, output: &str) -> Option<&'a str> {
        let recorded = self.state.resources.get(resource)?;
        if self.renewed.is_some_and(|r| r.contains(resource)) {
            return None;
        }
        recorded.outputs.get(output).map(String::as_str)
    }
}

/// A planned or recorded attribute as policy tools see it: a secret as `"(sensitive)"`, a
/// reference as its value when known, else `{"unknown": "address.output"}`.
struct Reviewable<'a> {
    v: &'a Value,
    known: Known<'a>,
}

impl Serialize for Reviewable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.v {
            Value::Secret(_) => s.serialize_str("(sensitive)"),
            Value::Ref(r) => match self.known.get(&r.resource, &r.output) {
                Some(v) => s.serialize_str(v),
                None => {
                    let mut m = s.serialize_map(Some(1))?;
                    m.serialize_entry(
                        "unknown",
                        &Text(format_args!("{}.{}", r.resource, r.output)),
                    )?;
                    m.end()
                }
            },
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Str(v) => s.serialize_str(v),
            Value::List(l) => s.collect_seq(l.iter().map(|v| Reviewable {
                v,
                known: self.known,
            })),
            Value::Map(m) => Attrs {
                m,
                known: self.known,
            }
            .serialize(s),
        }
    }
}

/// An attribute map (a `BTreeMap`: already in key order).
struct Attrs<'a> {
    m: &'a BTreeMap<String, Value>,
    known: Known<'a>,
}

impl Serialize for Attrs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.m.iter().map(|(k, v)| {
            (
                k,
                Reviewable {
                    v,
                    known: self.known,
                },
            )
        }))
    }
}

struct ChangeJson<'a> {
    c: &'a Change,
    planned: Option<&'a Resource>,
    recorded: Option<&'a ResourceState>,
    after: Known<'a>,
    before: Known<'a>,
}

impl Serialize for ChangeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.c;
        let after = self.planned.filter(|_| c.action != Action::Delete);
        let before = self.recorded.filter(|_| c.action != Action::Create);
        let len = 10 + usize::from(after.is_some()) + usize::from(before.is_some());
        let mut m = s.serialize_struct("Change", len)?;
        m.serialize_field("action", &c.action)?;
        m.serialize_field("address", &c.address)?;
        if let Some(p) = after {
            m.serialize_field(
                "after",
                &Attrs {
                    m: &p.attributes,
                    known: self.after,
                },
            )?;
        }
        m.serialize_field("attributes", &c.attributes)?;
        if let Some(r) = before {
            m.serialize_field(
                "before",
                &Attrs {
                    m: &r.attributes,
                    known: self.before,
                },
            )?;
        }
        m.serialize_field("cloud", &c.cloud)?;
        match (self.planned, self.recorded) {
            (Some(p), _) => m.serialize_field("depends_on", &p.depends_on)?,
            (None, Some(r)) => m.serialize_field("depends_on", &r.dependencies())?,
            (None, None) => m.serialize_field("depends_on", &[] as &[String])?,
        }
        m.serialize_field("link", &c.link)?;
        m.serialize_field("name", &c.name)?;
        m.serialize_field("network", &c.network)?;
        m.serialize_field("region", &c.region)?;
        m.serialize_field("type", &c.kind)?;
        m.end()
    }
}

struct LinkJson<'a>(&'a LinkPlan);

impl Serialize for LinkJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let l = self.0;
        let mut m = s.serialize_struct("Link", 7)?;
        m.serialize_field("allow", &l.allow)?;
        m.serialize_field("between", &l.between)?;
        m.serialize_field("clouds", &l.clouds)?;
        m.serialize_field("id", &l.id)?;
        m.serialize_field("routing", &l.routing)?;
        m.serialize_field("strategy", &l.strategy)?;
        // TunnelPlan's derived fields are declared in key order (index, inside_cidr,
        // local_asn, peer_asn, standby); render_tests holds it to that.
        m.serialize_field("tunnels", &l.tunnels)?;
        m.end()
    }
}

struct WarningJson<'a>(&'a Warning);

impl Serialize for WarningJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.0;
        let mut m = s.serialize_struct("Warning", 6)?;
        m.serialize_field("cloud", &w.cloud)?;
        m.serialize_field("default_limit", &w.default_limit)?;
        m.serialize_field("message", &Text(w))?;
        m.serialize_field("planned", &w.planned)?;
        m.serialize_field("quota", &w.quota)?;
        m.serialize_field("scope", &w.scope)?;
        m.end()
    }
}

struct SummaryJson(Summary);

impl Serialize for SummaryJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Summary", 3)?;
        m.serialize_field("create", &self.0.create)?;
        m.serialize_field("delete", &self.0.delete)?;
        m.serialize_field("update", &self.0.update)?;
        m.end()
    }
}

/// The `plan --json` document against an empty state, as a JSON value (for tests and
/// callers that inspect it; printing goes through [`JsonPlan`] without this tree).
pub fn json(plan: &Plan) -> serde_json::Value {
    json_against(plan, &State::empty())
}

/// [`JsonPlan`] of `plan` against `state` as a JSON value.
pub fn json_against(plan: &Plan, state: &State) -> serde_json::Value {
    serde_json::to_value(JsonPlan::new(plan, state)).unwrap_or_default()
}

/// The JSON plan against an empty state as pretty text with a final newline.
pub fn json_text(plan: &Plan) -> String {
    JsonPlan::new(plan, &State::empty()).text()
}

#[cfg(test)]
mod tests {
    use super::Pretty;
    use serde_json::json;

    fn pretty(v: &serde_json::Value) -> String {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, Pretty::default());
        serde::Serialize::serialize(v, &mut ser).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn pretty_writes_what_serde_json_pretty_writes_at_any_depth() {
        // Empty containers, mixed members, and nesting past the indentation written in one
        // piece (16 levels).
        let mut deep = json!({"leaf": [1, "two", null, {}, []]});
        for level in 0..40 {
            deep = if level % 2 == 0 {
                json!([deep, level, {"k": []}])
            } else {
                json!({"a": deep, "b": {}, "c": [true]})
            };
            assert_eq!(pretty(&deep), serde_json::to_string_pretty(&deep).unwrap());
        }
        for v in [
            json!({}),
            json!([]),
            json!("s\n\"q\""),
            json!({"x": {"y": []}}),
        ] {
            assert_eq!(pretty(&v), serde_json::to_string_pretty(&v).unwrap());
        }
    }
}
