//! Refresh: the state brought in line with what the clouds hold, before planning (as
//! Terraform refreshes). A recorded resource that is gone is dropped (the plan then creates
//! it again); one whose observed configuration differs from the recorded one gets the drifted
//! attributes marked, so that the planner's diff updates (or replaces) it. Pure: the snapshot
//! comes from [`super::observe`]. Resources peerctl does not own are never touched here.

use crate::cloud::Cloud;
use crate::plan::resource::Value;
use crate::state::State;
use crate::verify::judge::differences;
use crate::verify::snapshot::Snapshot;
use serde::Serialize;
use std::collections::BTreeSet;

/// What a recorded attribute is replaced with when the cloud holds something else: never a
/// planned value, so the planner's diff sees a change.
pub const DRIFTED: &str = "(changed outside peerctl)";

/// The pseudo attribute that marks drift no attribute of the resource names and no in-place
/// update repairs (the planner replaces the resource).
pub const DRIFT_ATTRIBUTE: &str = "drift";

/// One difference between the state and a cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub address: String,
    pub cloud: Cloud,
    pub name: String,
    #[serde(flatten)]
    pub change: DriftChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub enum DriftChange {
    /// The resource no longer exists in its cloud.
    Deleted { id: String },
    /// An attribute differs (a key is shown as `matches` / `differs`, never its value).
    Changed {
        attribute: String,
        expected: String,
        actual: String,
    },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.change {
            DriftChange::Deleted { id } => write!(
                f,
                "{} ({} {}, id {id}) was deleted outside peerctl",
                self.address,
                self.cloud.display_name(),
                self.name
            ),
            DriftChange::Changed {
                attribute,
                expected,
                actual,
            } => write!(
                f,
                "{} ({}) {attribute} changed outside peerctl: expected {expected}, actual {actual}",
                self.address, self.name
            ),
        }
    }
}

/// The top-level attribute a flattened key belongs to (`tunnels[0].inside_cidr` → `tunnels`).
fn top_key(flat: &str) -> &str {
    flat.split(['.', '[', ' ']).next().unwrap_or(flat)
}

/// `state` refreshed from `snap`, and every drift found. Resources whose cloud was not read
/// (no observation) are kept as recorded.
pub fn refresh(state: &State, snap: &Snapshot) -> (State, Vec<Drift>) {
    let mut out = state.clone();
    let mut drift = Vec::new();
    for (address, rec) in &state.resources {
        let Some(obs) = snap.resource(address) else {
            continue;
        };
        let at = |change| Drift {
            address: address.clone(),
            cloud: rec.cloud,
            name: rec.name.clone(),
            change,
        };
        if !obs.present {
            out.resources.remove(address);
            drift.push(at(DriftChange::Deleted { id: rec.id.clone() }));
            continue;
        }
        let changed = differences(&rec.attributes, obs, state);
        let mut marked = BTreeSet::new();
        for (attr, e, a) in changed {
            let top = top_key(&attr);
            let key = if rec.attributes.contains_key(top) {
                top.to_string()
            } else {
                // Drift only the observer can name (a rule missing from one group, propagation
                // off in one table): the first attribute the cloud updates in place repairs it
                // (the provider's update reconciles the whole resource); else replace.
                rec.attributes
                    .keys()
                    .find(|k| rec.kind.updatable(k))
                    .cloned()
                    .unwrap_or_else(|| DRIFT_ATTRIBUTE.to_string())
            };
            marked.insert(key);
            drift.push(at(DriftChange::Changed {
                attribute: attr,
                expected: e,
                actual: a,
            }));
        }
        if let Some(r) = out.resources.get_mut(address) {
            for k in marked {
                r.attributes.insert(k, Value::Str(DRIFTED.into()));
            }
        }
    }
    (out, drift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::resource::Kind;
    use crate::state::ResourceState;
    use crate::verify::snapshot::{AttrDiff, CloudSnapshot, ResourceObs};
    use std::collections::BTreeMap;

    fn rec(kind: Kind, attrs: &[(&str, Value)]) -> ResourceState {
        ResourceState {
            kind,
            cloud: kind.cloud(),
            name: "n".into(),
            id: "id-1".into(),
            region: "us-east-1".into(),
            network: None,
            link: None,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            outputs: BTreeMap::new(),
            depends_on: vec![],
        }
    }

    fn snap(cloud: Cloud, obs: &[(&str, ResourceObs)]) -> Snapshot {
        let mut c = CloudSnapshot::default();
        for (a, o) in obs {
            c.resources.insert(a.to_string(), o.clone());
        }
        let mut s = Snapshot::default();
        s.clouds.insert(cloud, c);
        s
    }

    fn state(rs: &[(&str, ResourceState)]) -> State {
        let mut s = State::empty();
        for (a, r) in rs {
            s.resources.insert(a.to_string(), r.clone());
        }
        s
    }

    #[test]
    fn a_vanished_resource_is_dropped_and_named() {
        let st = state(&[("aws.vpn_gateway.a", rec(Kind::AwsVpnGateway, &[]))]);
        let (out, drift) = refresh(
            &st,
            &snap(Cloud::Aws, &[("aws.vpn_gateway.a", ResourceObs::absent())]),
        );
        assert!(out.resources.is_empty());
        assert_eq!(drift[0].change, DriftChange::Deleted { id: "id-1".into() });
        assert!(drift[0].to_string().contains("deleted outside peerctl"));
    }

    #[test]
    fn a_changed_attribute_is_marked_on_its_top_level_key() {
        let tunnels = Value::List(vec![Value::Map(BTreeMap::from([(
            "inside_cidr".to_string(),
            Value::Str("169.254.10.0/30".into()),
        )]))]);
        let st = state(&[(
            "aws.vpn_connection.l",
            rec(Kind::AwsVpnConnection, &[("tunnels", tunnels.clone())]),
        )]);
        let obs = ResourceObs::present("vpn-1").attr("tunnels[0].inside_cidr", "169.254.99.0/30");
        let (out, drift) = refresh(&st, &snap(Cloud::Aws, &[("aws.vpn_connection.l", obs)]));
        let r = &out.resources["aws.vpn_connection.l"];
        assert_eq!(r.attributes["tunnels"], Value::Str(DRIFTED.into()));
        assert_eq!(drift.len(), 1);
        let text = drift[0].to_string();
        assert!(text.contains("tunnels[0].inside_cidr"), "{text}");
        assert!(text.contains("expected 169.254.10.0/30, actual 169.254.99.0/30"));
    }

    #[test]
    fn agreeing_and_unread_resources_are_kept_as_recorded() {
        let r = rec(
            Kind::AwsVpnGateway,
            &[("amazon_side_asn", Value::Int(64512))],
        );
        let st = state(&[("aws.vpn_gateway.a", r.clone()), ("aws.vpn_gateway.b", r)]);
        let obs = ResourceObs::present("vgw-1").attr("amazon_side_asn", "64512");
        let (out, drift) = refresh(&st, &snap(Cloud::Aws, &[("aws.vpn_gateway.a", obs)]));
        assert!(drift.is_empty());
        assert_eq!(out, st);
    }

    #[test]
    fn observer_only_drift_marks_an_updatable_attribute_or_the_replace_marker() {
        let st = state(&[
            (
                "aws.route_propagation.a",
                rec(
                    Kind::AwsRoutePropagation,
                    &[
                        ("route_tables", Value::List(vec![])),
                        ("vpn_gateway_id", Value::Str("vgw-1".into())),
                    ],
                ),
            ),
            ("aws.vpn_gateway.a", rec(Kind::AwsVpnGateway, &[])),
        ]);
        let diff = AttrDiff {
            attr: "propagation in rtb-1".into(),
            expected: "routes of vgw-1 propagated".into(),
            actual: "not propagated".into(),
        };
        let mut p = ResourceObs::present("vgw-1");
        p.diffs.push(diff.clone());
        let mut g = ResourceObs::present("vgw-1");
        g.diffs.push(diff);
        let (out, drift) = refresh(
            &st,
            &snap(
                Cloud::Aws,
                &[("aws.route_propagation.a", p), ("aws.vpn_gateway.a", g)],
            ),
        );
        assert_eq!(drift.len(), 2);
        assert_eq!(
            out.resources["aws.route_propagation.a"].attributes["route_tables"],
            Value::Str(DRIFTED.into())
        );
        assert!(out.resources["aws.vpn_gateway.a"]
            .attributes
            .contains_key(DRIFT_ATTRIBUTE));
    }
}
