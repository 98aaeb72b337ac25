//! The AWS provider against the sandbox: the AWS resources of the triangle's plan created in
//! plan order (other clouds' outputs faked), checked in the sandbox's world, created again
//! (adopted: no mutating call), re-keyed when a tunnel's key differs, updated, deleted in
//! reverse order (twice), plus preflight problems, eventual consistency, injected faults and
//! an endpoint where nothing listens.

use crate::common;
use peerctl::plan::resource::{Kind, Resource};
use peerctl::plan::templates::Templates;
use peerctl::plan::Plan;
use peerctl::providers::aws::AwsProvider;
use peerctl::providers::{Desired, Outputs, Provider, ProviderConfig, ProviderError};
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{RunningSandbox, SandboxConfig};
use peerctl::state::{Secret, State};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;

const VPC: &str = "vpc-0a1b2c3d4e5f60789";

fn triangle_plan() -> (peerctl::topology::Topology, Plan) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/triangle.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let topo = peerctl::topology::parse("topologies/triangle.yaml", &text).unwrap();
    let plan = peerctl::plan::plan(
        &topo,
        &State::empty(),
        &Templates::embedded().unwrap(),
        &mut ChaCha20Rng::seed_from_u64(7),
    )
    .unwrap();
    (topo, plan)
}

fn provider_config(sb: &RunningSandbox, time_scale: f64) -> ProviderConfig {
    ProviderConfig {
        endpoint: Some(sb.url()),
        time_scale,
        ..ProviderConfig::default()
    }
}

/// The AWS resources of the plan, in plan order.
fn aws_resources(plan: &Plan) -> Vec<&Resource> {
    plan.order
        .iter()
        .filter_map(|a| plan.resources.iter().find(|r| &r.address == a))
        .filter(|r| r.kind.cloud() == peerctl::cloud::Cloud::Aws)
        .collect()
}

/// Outputs of other clouds' resources: fixed documentation addresses (198.51.100.0/24), one
/// per (resource, output), so every peer IP differs.
fn fake_outputs(plan: &Plan) -> BTreeMap<String, Outputs> {
    let mut out = BTreeMap::new();
    let mut n = 10;
    for r in plan
        .resources
        .iter()
        .filter(|r| r.kind.cloud() != peerctl::cloud::Cloud::Aws)
    {
        let mut o = Outputs::new();
        for name in r.kind.outputs() {
            let v = if *name == "id" {
                format!("fake-{}", r.name)
            } else {
                n += 1;
                format!("198.51.100.{n}")
            };
            o.insert(name.to_string(), v);
        }
        out.insert(r.address.clone(), o);
    }
    out
}

fn desired_with(
    plan: &Plan,
    r: &Resource,
    outputs: &BTreeMap<String, Outputs>,
    secrets: &BTreeMap<String, Secret>,
) -> Desired {
    peerctl::engine::desired(
        &plan.topology,
        &r.address,
        r.kind,
        &r.name,
        &r.region,
        &r.attributes,
        &|a| outputs.get(a).cloned(),
        secrets,
    )
}

fn aws_mutating(sb: &RunningSandbox) -> u64 {
    sb.sandbox.stats_json()["clouds"]["aws"]["mutating"]
        .as_u64()
        .unwrap_or(0)
}

fn created(sb: &RunningSandbox) -> u64 {
    sb.sandbox.stats_json()["created_resources"]
        .as_u64()
        .unwrap()
}

/// Creates every AWS resource of `plan` in order; returns all outputs (fakes included) and
/// the desired resources.
async fn create_all(p: &AwsProvider, plan: &Plan) -> (BTreeMap<String, Outputs>, Vec<Desired>) {
    let mut outputs = fake_outputs(plan);
    let mut done = Vec::new();
    for r in aws_resources(plan) {
        let d = desired_with(plan, r, &outputs, &plan.secrets);
        let o = p
            .create(&d)
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", r.address));
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        let mut want = r.kind.outputs().to_vec();
        keys.sort();
        want.sort();
        assert_eq!(keys, want, "{}", r.address);
        outputs.insert(r.address.clone(), o);
        done.push(d);
    }
    (outputs, done)
}

fn psks(d: &Desired) -> Vec<String> {
    d.attrs
        .maps("tunnels")
        .unwrap()
        .iter()
        .map(|m| m.secret("pre_shared_key").unwrap().expose().to_string())
        .collect()
}

fn inside_cidrs(d: &Desired) -> Vec<String> {
    d.attrs
        .maps("tunnels")
        .unwrap()
        .iter()
        .map(|m| m.str("inside_cidr").unwrap().to_string())
        .collect()
}

/// (inside CIDR, outside IP, PSK) of each tunnel of a sandbox VPN connection.
fn sandbox_tunnels(sb: &RunningSandbox, id: &str) -> Vec<(String, String, String)> {
    sb.sandbox.inspect(|w, _| {
        w.aws.vpn_connections[id]
            .tunnels
            .iter()
            .map(|t| {
                (
                    t.inside_cidr.to_string(),
                    t.outside_ip.to_string(),
                    t.psk.clone(),
                )
            })
            .collect()
    })
}

fn aws_op(sb: &RunningSandbox, op: &str) -> u64 {
    sb.sandbox.stats_json()["clouds"]["aws"]["operations"][op]
        .as_u64()
        .unwrap_or(0)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The connection `vpn` created with other keys is re-keyed (one ModifyVpnTunnelOptions per
/// tunnel, no new connection), then back to the planned keys; the same through update().
async fn rekey_round_trip(
    p: &AwsProvider,
    sb: &RunningSandbox,
    plan: &Plan,
    vpn: &Desired,
    outputs: &BTreeMap<String, Outputs>,
) {
    let res = plan
        .resources
        .iter()
        .find(|r| r.address == vpn.address)
        .unwrap();
    let other: BTreeMap<String, Secret> = plan
        .secrets
        .keys()
        .map(|k| {
            let k2: String = k
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            (k.clone(), Secret::new(format!("Other{k2}")))
        })
        .collect();
    let rekeyed = desired_with(plan, res, outputs, &other);
    let id = outputs[&vpn.address]["id"].clone();
    let keys = || sorted(sandbox_tunnels(sb, &id).into_iter().map(|t| t.2).collect());
    let (modifies, creates) = (
        aws_op(sb, "ModifyVpnTunnelOptions"),
        aws_op(sb, "CreateVpnConnection"),
    );
    let o = p.create(&rekeyed).await.unwrap();
    assert_eq!(o, outputs[&vpn.address]);
    assert_eq!(keys(), sorted(psks(&rekeyed)));
    assert_eq!(aws_op(sb, "ModifyVpnTunnelOptions"), modifies + 2);
    p.create(vpn).await.unwrap();
    assert_eq!(keys(), sorted(psks(vpn)));
    assert_eq!(aws_op(sb, "ModifyVpnTunnelOptions"), modifies + 4);
    let o = p
        .update(&rekeyed, &id, &["tunnels".to_string()])
        .await
        .unwrap();
    assert_eq!(o, outputs[&vpn.address]);
    assert_eq!(keys(), sorted(psks(&rekeyed)));
    p.update(vpn, &id, &["tunnels".to_string()]).await.unwrap();
    assert_eq!(keys(), sorted(psks(vpn)));
    assert_eq!(aws_op(sb, "CreateVpnConnection"), creates);
    // Nothing left to change: no call.
    p.update(vpn, &id, &["tunnels".to_string()]).await.unwrap();
    assert_eq!(aws_op(sb, "ModifyVpnTunnelOptions"), modifies + 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triangles_aws_resources_are_created_adopted_rekeyed_and_deleted() {
    let sb = common::start(common::triangle()).await;
    let p = AwsProvider::new(provider_config(&sb, 0.001)).await.unwrap();
    let (_, plan) = triangle_plan();
    let resources = aws_resources(&plan);
    assert!(resources.len() >= 10, "{}", resources.len());

    let (outputs, desired) = create_all(&p, &plan).await;
    assert_eq!(
        created(&sb) as usize,
        resources.len(),
        "{}",
        sb.sandbox.stats_json()
    );

    // Outside IPs follow the planned inside CIDRs; the keys are the planned ones.
    for d in desired.iter().filter(|d| d.kind == Kind::AwsVpnConnection) {
        let o = &outputs[&d.address];
        let tunnels = sandbox_tunnels(&sb, &o["id"]);
        for (k, cidr) in inside_cidrs(d).iter().enumerate() {
            let t = tunnels
                .iter()
                .find(|t| &t.0 == cidr)
                .expect("tunnel by inside CIDR");
            assert_eq!(
                o[&format!("tunnel{}_outside_ip", k + 1)],
                t.1,
                "{}",
                d.address
            );
            assert_eq!(t.2, psks(d)[k], "{}", d.address);
        }
    }
    // The sandbox's view: one VGW attached to the VPC, propagating into its tables, and the
    // security group rules carrying the resource's description.
    let vgw = outputs
        .iter()
        .find(|(a, _)| a.starts_with("aws.vpn_gateway."))
        .map(|(_, o)| o["id"].clone())
        .unwrap();
    let sg_rule = desired
        .iter()
        .find(|d| d.kind == Kind::AwsSecurityGroupRule)
        .unwrap();
    sb.sandbox.inspect(|w, _| {
        let g = &w.aws.vpn_gateways[&vgw];
        assert_eq!(g.attachment.as_ref().unwrap().vpc_id, VPC);
        assert_eq!(g.tags["peerctl-topology"], "prod-mesh");
        assert!(w
            .aws
            .route_tables
            .values()
            .filter(|t| t.vpc_id == VPC)
            .all(|t| t.propagating_vgws.contains(&vgw)));
        // The planned description attribute marks peerctl's rules (verify compares it).
        let ours = sg_rule.attrs.opt_str("description").unwrap().to_string();
        assert!(w.aws.security_groups.values().any(|g| g
            .rules
            .iter()
            .any(|r| r.description.as_deref() == Some(&ours))));
    });
    assert_eq!(
        outputs[&sg_rule.address]["id"],
        sb.sandbox.inspect(|w, _| {
            let mut ids: Vec<String> = w
                .aws
                .security_groups
                .values()
                .filter(|g| g.vpc_id == VPC)
                .map(|g| g.id.clone())
                .collect();
            ids.sort();
            ids.join(",")
        })
    );

    // Created again: everything is found and adopted, nothing is written.
    let before = aws_mutating(&sb);
    for d in &desired {
        let o = p.create(d).await.unwrap();
        assert_eq!(o, outputs[&d.address], "{}", d.address);
        assert_eq!(
            p.read(d, Some(&o["id"])).await.unwrap(),
            Some(o.clone()),
            "{}",
            d.address
        );
        assert_eq!(p.read(d, None).await.unwrap(), Some(o), "{}", d.address);
    }
    assert_eq!(aws_mutating(&sb), before, "{}", sb.sandbox.stats_json());
    assert_eq!(created(&sb) as usize, resources.len());

    // A connection whose keys differ from the plan (another key set) is re-keyed in place
    // on adoption, and back again; update() does the same.
    let vpn = desired
        .iter()
        .find(|d| d.kind == Kind::AwsVpnConnection)
        .unwrap();
    rekey_round_trip(&p, &sb, &plan, vpn, &outputs).await;

    // Route propagation and security group rules update to a narrower plan and back.
    let prop = desired
        .iter()
        .find(|d| d.kind == Kind::AwsRoutePropagation)
        .unwrap();
    let tables: Vec<String> = sb.sandbox.inspect(|w, _| {
        w.aws
            .route_tables
            .values()
            .filter(|t| t.vpc_id == VPC)
            .map(|t| t.id.clone())
            .collect()
    });
    let mut narrow = prop.clone();
    narrow.attrs.0.insert(
        "route_tables".into(),
        peerctl::providers::Attr::List(vec![peerctl::providers::Attr::Str(tables[0].clone())]),
    );
    p.update(&narrow, &vgw, &["route_tables".to_string()])
        .await
        .unwrap();
    p.update(prop, &vgw, &["route_tables".to_string()])
        .await
        .unwrap();

    let rule_id = outputs[&sg_rule.address]["id"].clone();
    let mut fewer = sg_rule.clone();
    let first_cidr = sg_rule.attrs.strs("source_cidrs").unwrap()[0].to_string();
    fewer.attrs.0.insert(
        "permissions".into(),
        peerctl::providers::Attr::List(vec![peerctl::providers::Attr::Map(
            peerctl::providers::Attrs(BTreeMap::from([
                (
                    "protocol".to_string(),
                    peerctl::providers::Attr::Str("tcp".into()),
                ),
                ("from_port".to_string(), peerctl::providers::Attr::Int(22)),
                ("to_port".to_string(), peerctl::providers::Attr::Int(22)),
            ])),
        )]),
    );
    let o = p
        .update(&fewer, &rule_id, &["permissions".to_string()])
        .await
        .unwrap();
    assert_eq!(o["id"], rule_id);
    let ours = sg_rule.attrs.opt_str("description").unwrap().to_string();
    let rules_of_ours = |sb: &RunningSandbox| -> Vec<(String, Option<i32>, String)> {
        sb.sandbox.inspect(|w, _| {
            let mut v: Vec<_> = w
                .aws
                .security_groups
                .values()
                .flat_map(|g| g.rules.iter())
                .filter(|r| r.description.as_deref() == Some(ours.as_str()))
                .map(|r| (r.protocol.clone(), r.from_port, r.cidr.unwrap().to_string()))
                .collect();
            v.sort();
            v.dedup();
            v
        })
    };
    assert_eq!(
        rules_of_ours(&sb),
        vec![("tcp".to_string(), Some(22), first_cidr.clone())]
    );
    p.update(sg_rule, &rule_id, &["permissions".to_string()])
        .await
        .unwrap();
    assert!(rules_of_ours(&sb).len() > 1);
    assert_eq!(created(&sb) as usize, resources.len());

    // Deleted in reverse order: nothing is left; deleting again is fine, and reads say absent.
    for d in desired.iter().rev() {
        p.delete(d, &outputs[&d.address]["id"])
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", d.address));
    }
    assert_eq!(created(&sb), 0, "{}", sb.sandbox.stats_json());
    for d in desired.iter().rev() {
        let id = &outputs[&d.address]["id"];
        p.delete(d, id).await.unwrap();
        assert_eq!(p.read(d, Some(id)).await.unwrap(), None, "{}", d.address);
    }
    assert!(rules_of_ours(&sb).is_empty());
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_time_eventual_consistency_and_injected_faults_are_ridden_out() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 0.001 },
            aws_consistency_ms: 300,
            throttle_rate: 0.15,
            fault_rate: 0.05,
            seed: 11,
            ..SandboxConfig::default()
        },
    )
    .await;
    let p = AwsProvider::new(provider_config(&sb, 0.001)).await.unwrap();
    let (_, plan) = triangle_plan();
    let (outputs, desired) = create_all(&p, &plan).await;
    let stats = sb.sandbox.stats_json();
    assert!(
        stats["clouds"]["aws"]["faults"].as_u64().unwrap() > 0,
        "{stats}"
    );
    for d in desired.iter().rev() {
        p.delete(d, &outputs[&d.address]["id"]).await.unwrap();
    }
    assert_eq!(created(&sb), 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_reports_every_problem_of_the_aws_networks() {
    let sb = common::start(common::triangle()).await;
    let p = AwsProvider::new(provider_config(&sb, 0.001)).await.unwrap();
    let (topo, plan) = triangle_plan();
    assert_eq!(p.preflight(&topo.networks).await, vec![]);

    let mut missing = common::aws_net("gone", "vpc-0000000000000dead", "10.50.0.0/16");
    let wrong_cidr = common::aws_net("wide", VPC, "10.11.0.0/16");
    let mut bad_lists = common::aws_net("lists", VPC, "10.10.1.0/24");
    if let peerctl::topology::Location::Aws(a) = &mut bad_lists.location {
        a.route_tables = Some(vec!["rtb-0000000000000beef".into()]);
        a.security_groups = Some(vec!["sg-0000000000000beef".into()]);
    }
    if let peerctl::topology::Location::Aws(a) = &mut missing.location {
        a.route_tables = Some(vec!["rtb-0000000000000beef".into()]);
    }
    let problems = p
        .preflight(&[
            missing,
            wrong_cidr,
            bad_lists,
            common::gcp_net("g", "prod-vpc", "10.20.0.0/16"),
        ])
        .await;
    let fields: Vec<(Option<&str>, &str)> = problems
        .iter()
        .map(|p| (p.network.as_deref(), p.field.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            (Some("gone"), "vpc_id"),
            (Some("wide"), "cidrs"),
            (Some("lists"), "route_tables"),
            (Some("lists"), "security_groups"),
        ],
        "{problems:#?}"
    );
    let cidrs = &problems[1].message;
    assert!(
        cidrs.contains("10.11.0.0/16") && cidrs.contains("10.10.0.0/16"),
        "{cidrs}"
    );

    // This topology's VGW on the VPC is fine; for another network of the same VPC it is a
    // second VGW.
    let outputs = fake_outputs(&plan);
    let mut out = outputs.clone();
    for r in aws_resources(&plan)
        .into_iter()
        .filter(|r| matches!(r.kind, Kind::AwsVpnGateway | Kind::AwsVpnGatewayAttachment))
    {
        let d = desired_with(&plan, r, &out, &plan.secrets);
        let o = p.create(&d).await.unwrap();
        out.insert(r.address.clone(), o);
    }
    assert_eq!(p.preflight(&topo.networks).await, vec![]);
    let twin = common::aws_net("twin", VPC, "10.10.0.0/16");
    let problems = p.preflight(&[twin]).await;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "vpc_id");
    assert!(problems[0].message.contains("vgw-"), "{}", problems[0]);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_connect_error_naming_the_endpoint() {
    common::no_proxy();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let p = AwsProvider::new(ProviderConfig {
        endpoint: Some(url.clone()),
        time_scale: 0.001,
        ..ProviderConfig::default()
    })
    .await
    .unwrap();
    let (_, plan) = triangle_plan();
    let r = aws_resources(&plan)[0];
    let d = desired_with(&plan, r, &fake_outputs(&plan), &plan.secrets);
    match p.create(&d).await {
        Err(ProviderError::Connect { endpoint, .. }) => assert_eq!(endpoint, url),
        other => panic!("{other:?}"),
    }
    let problems = p.preflight(&plan_networks()).await;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].message.contains(&url), "{}", problems[0]);
}

fn plan_networks() -> Vec<peerctl::topology::Network> {
    triangle_plan().0.networks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_longer_than_the_timeout_fails_and_the_next_create_adopts() {
    // Real provisioning times (a VGW takes 5 s) against a provider whose timeouts are scaled
    // to a thousandth (the VGW wait gives up after 0.6 s).
    let sb = common::start_with(common::triangle(), SandboxConfig::default()).await;
    let p = AwsProvider::new(provider_config(&sb, 0.001)).await.unwrap();
    let (_, plan) = triangle_plan();
    let r = aws_resources(&plan)
        .into_iter()
        .find(|r| r.kind == Kind::AwsVpnGateway)
        .unwrap();
    let d = desired_with(&plan, r, &fake_outputs(&plan), &plan.secrets);
    for _ in 0..2 {
        match p.create(&d).await {
            Err(ProviderError::Timeout { what, .. }) => {
                assert!(what.contains("vgw-") && what.contains("pending"), "{what}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(aws_op(&sb, "CreateVpnGateway"), 1);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_resources_read_as_none_and_delete_fine() {
    let sb = common::start(common::triangle()).await;
    let p = AwsProvider::new(provider_config(&sb, 0.001)).await.unwrap();
    let (_, plan) = triangle_plan();
    let outputs = fake_outputs(&plan);
    for r in aws_resources(&plan) {
        let d = desired_with(&plan, r, &outputs, &plan.secrets);
        let id = match r.kind {
            Kind::AwsVpnGateway | Kind::AwsRoutePropagation => "vgw-0000000000000dead".into(),
            Kind::AwsVpnGatewayAttachment => format!("vgw-0000000000000dead/{VPC}"),
            Kind::AwsCustomerGateway => "cgw-0000000000000dead".into(),
            Kind::AwsVpnConnection => "vpn-0000000000000dead".into(),
            Kind::AwsVpnConnectionRoute => "vpn-0000000000000dead/10.30.0.0/16".into(),
            _ => sb.sandbox.inspect(|w, _| {
                w.aws
                    .security_groups
                    .values()
                    .find(|g| g.vpc_id == VPC)
                    .map(|g| g.id.clone())
                    .unwrap()
            }),
        };
        assert_eq!(p.read(&d, Some(&id)).await.unwrap(), None, "{}", r.address);
        p.delete(&d, &id)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", r.address));
    }
    assert_eq!(
        aws_mutating(&sb),
        aws_op(&sb, "DeleteVpnGateway")
            + aws_op(&sb, "DetachVpnGateway")
            + aws_op(&sb, "DeleteCustomerGateway")
            + aws_op(&sb, "DeleteVpnConnection")
            + aws_op(&sb, "DeleteVpnConnectionRoute")
    );
    assert_eq!(created(&sb), 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tagged_predecessor_with_other_fixed_attributes_is_not_adopted() {
    // A customer gateway replaced for a new peer IP: the old one (same identity tags, still
    // there until its replacement is in) is not adopted for the new address.
    let sb = common::start(common::triangle()).await;
    let p = AwsProvider::new(provider_config(&sb, 0.001)).await.unwrap();
    let (_, plan) = triangle_plan();
    let r = aws_resources(&plan)
        .into_iter()
        .find(|r| r.kind == Kind::AwsCustomerGateway)
        .unwrap();
    let d = desired_with(&plan, r, &fake_outputs(&plan), &plan.secrets);
    let old = p.create(&d).await.unwrap();
    let mut moved = d.clone();
    moved.attrs.0.insert(
        "ip_address".into(),
        peerctl::providers::Attr::Str("203.0.113.99".into()),
    );
    let new = p.create(&moved).await.unwrap();
    assert_ne!(old["id"], new["id"]);
    assert_eq!(p.read(&moved, None).await.unwrap(), Some(new.clone()));
    assert_eq!(p.read(&d, None).await.unwrap(), Some(old.clone()));
    p.delete(&d, &old["id"]).await.unwrap();
    p.delete(&moved, &new["id"]).await.unwrap();
    assert_eq!(created(&sb), 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_an_auth_error_and_a_credentials_problem() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 0.0 },
            reject_credentials: true,
            ..SandboxConfig::default()
        },
    )
    .await;
    let p = AwsProvider::new(provider_config(&sb, 0.001)).await.unwrap();
    let (topo, plan) = triangle_plan();
    let problems = p.preflight(&topo.networks).await;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "credentials");
    assert!(
        problems[0].message.contains("AuthFailure"),
        "{}",
        problems[0]
    );
    let r = aws_resources(&plan)[0];
    let d = desired_with(&plan, r, &fake_outputs(&plan), &plan.secrets);
    match p.create(&d).await {
        Err(ProviderError::Auth(m)) => assert!(m.contains("AuthFailure"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(created(&sb), 0);
    sb.stop().await;
}
