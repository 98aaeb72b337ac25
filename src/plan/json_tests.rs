//! The `plan --json` document is written straight from the plan (render/json.rs); these tests
//! hold it byte for byte to the way it used to be made: a `serde_json::Value` tree (sorted
//! keys) printed pretty. The reference builder below is that former code, kept as the oracle.

use super::render::{self, JsonPlan};
use super::resource::{Kind, Resource, Value};
use super::tests::{applied, aws, edit_for_every_action, gcp, link, topo, triangle};
use super::*;
use crate::engine::refresh::{Drift, DriftChange};
use crate::state::State;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

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

/// The former `render::json_against`, unchanged.
fn reference(plan: &Plan, state: &State) -> serde_json::Value {
    let sum = plan.summary();
    let planned: BTreeMap<&str, &Resource> = plan
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    let renewed: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .map(|c| c.address.as_str())
        .collect();
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
        "format_version": render::JSON_FORMAT_VERSION,
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

fn reference_text(doc: &serde_json::Value) -> String {
    serde_json::to_string_pretty(doc).unwrap() + "\n"
}

fn run(t: &Topology, state: &State) -> Plan {
    let tpl = Templates::embedded().unwrap();
    plan(t, state, &tpl, &mut ChaCha20Rng::seed_from_u64(3)).unwrap()
}

/// Asserts the streamed document equals the reference, as text and as a value.
fn same(p: &Plan, state: &State, drift: Option<&serde_json::Value>) {
    let mut want = reference(p, state);
    let mut doc = JsonPlan::new(p, state);
    if let Some(d) = drift {
        want["drift"] = d.clone();
        doc = doc.with_drift(d);
    }
    let text = doc.text();
    assert_eq!(text, reference_text(&want));
    let mut streamed = Vec::new();
    doc.write_pretty(&mut streamed).unwrap();
    assert_eq!(streamed, text.as_bytes());
    assert_eq!(serde_json::to_value(&doc).unwrap(), want);
    if drift.is_none() {
        assert_eq!(render::json_against(p, state), want);
    }
}

#[test]
fn example_topologies_render_byte_for_byte_as_the_value_tree_did() {
    for (name, text) in [
        ("triangle", include_str!("../../topologies/triangle.yaml")),
        ("aws-gcp", include_str!("../../topologies/aws-gcp.yaml")),
        ("mesh12", include_str!("../../topologies/mesh12.yaml")),
    ] {
        let t = crate::topology::parse(name, text).unwrap();
        let p = run(&t, &State::empty());
        assert!(!p.changes.is_empty(), "{name}");
        same(&p, &State::empty(), None);
        assert_eq!(
            render::json_text(&p),
            reference_text(&reference(&p, &State::empty()))
        );
    }
}

#[test]
fn quota_warnings_render_as_the_value_tree_did() {
    // Six VPCs in one region linked to one GCP network: over the 5 VGWs per region.
    let mut nets = vec![gcp("hub", "10.100.0.0/16")];
    let mut links = Vec::new();
    for i in 0..6 {
        let n = format!("spoke{i}");
        nets.push(aws(&n, "us-east-1", &format!("10.{i}.0.0/16")));
        links.push(link("hub", &n, vec![]));
    }
    let p = run(&topo(nets, links), &State::empty());
    assert!(!p.warnings.is_empty());
    same(&p, &State::empty(), None);
}

/// The state an apply of `p` leaves, with every output known (some needing escapes).
fn recorded_with_outputs(p: &Plan) -> State {
    let mut s = applied(p);
    for r in s.resources.values_mut() {
        for o in r.kind.outputs() {
            r.outputs
                .insert(o.to_string(), format!("{o}-\"é\"\\\n-{}", r.name));
        }
    }
    s
}

#[test]
fn changes_against_a_state_render_as_the_value_tree_did() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let mut s = recorded_with_outputs(&p);
    // Unchanged against itself: no changes, links and summary only.
    same(&run(&t, &s), &s, None);
    // Create (gone from the state), update, replace, delete of a link no longer planned.
    edit_for_every_action(&mut s);
    let p2 = run(&t, &s);
    let actions: BTreeSet<Action> = p2.changes.iter().map(|c| c.action).collect();
    assert_eq!(actions.len(), 4, "{:?}", p2.changes);
    same(&p2, &s, None);
    // A replaced VGW: references to renewed outputs become unknown, others stay known.
    let mut t3 = t.clone();
    t3.networks[0].asn = Some(64999);
    let p3 = run(&t3, &s);
    assert!(p3.changes.iter().any(|c| c.kind == Kind::AwsVpnGateway));
    same(&p3, &s, None);
}

#[test]
fn drift_is_placed_in_key_order_as_the_value_tree_placed_it() {
    let t = triangle();
    let p = run(&t, &State::empty());
    let s = recorded_with_outputs(&p);
    let drift = vec![
        Drift {
            address: "gcp.router.gcp1".into(),
            cloud: Cloud::Gcp,
            name: "t-gcp1".into(),
            change: DriftChange::Deleted { id: "id-1".into() },
        },
        Drift {
            address: "aws.vpn_gateway.aws1".into(),
            cloud: Cloud::Aws,
            name: "t-aws1".into(),
            change: DriftChange::Changed {
                attribute: "amazon_side_asn".into(),
                expected: "65000".into(),
                actual: "64512".into(),
            },
        },
    ];
    let d = serde_json::to_value(&drift).unwrap();
    same(&run(&t, &s), &s, Some(&d));
    same(
        &p,
        &State::empty(),
        Some(&serde_json::to_value(Vec::<Drift>::new()).unwrap()),
    );
}
