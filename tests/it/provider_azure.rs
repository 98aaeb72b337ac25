//! The Azure provider against the sandbox: the Azure side of topologies/triangle.yaml planned,
//! created (two connections on one gateway at once), adopted, re-keyed, updated, read and
//! deleted; an existing GatewaySubnet left alone; error mapping; preflight.

use crate::common;
use peerctl::cloud::Cloud;
use peerctl::plan::resource::{Kind, Resource};
use peerctl::plan::templates::Templates;
use peerctl::plan::Plan;
use peerctl::providers::azure::AzureProvider;
use peerctl::providers::{Desired, Outputs, Provider, ProviderConfig, ProviderError};
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{RunningSandbox, SandboxConfig};
use peerctl::state::{Secret, State};
use peerctl::topology::{Location, Topology};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SUB: &str = "00000000-0000-0000-0000-000000000000";
const RG: &str = "net-rg";
const MARK: &str = "#created-by-peerctl";

fn triangle() -> Topology {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/triangle.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    peerctl::topology::parse("topologies/triangle.yaml", &text).unwrap()
}

fn plan_of(topo: &Topology) -> Plan {
    let tpl = Templates::embedded().unwrap();
    peerctl::plan::plan(
        topo,
        &State::empty(),
        &tpl,
        &mut ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap()
}

/// The plan's Azure resources in dependency order.
fn azure_resources(p: &Plan) -> Vec<Resource> {
    p.order
        .iter()
        .filter_map(|a| p.resources.iter().find(|r| &r.address == a))
        .filter(|r| r.kind.cloud() == Cloud::Azure)
        .cloned()
        .collect()
}

/// Outputs of the other clouds' resources that Azure ones reference, as fixed fake IPs.
fn foreign_outputs(p: &Plan) -> BTreeMap<String, Outputs> {
    let mut out = BTreeMap::new();
    let mut n = 10;
    for r in &p.resources {
        if r.kind.cloud() == Cloud::Azure {
            continue;
        }
        let o: Outputs = r
            .kind
            .outputs()
            .iter()
            .map(|k| {
                n += 1;
                (k.to_string(), format!("198.51.100.{n}"))
            })
            .collect();
        out.insert(r.address.clone(), o);
    }
    out
}

fn desired_with(
    p: &Plan,
    r: &Resource,
    outs: &BTreeMap<String, Outputs>,
    secrets: &BTreeMap<String, Secret>,
) -> Desired {
    peerctl::engine::desired(
        &p.topology,
        &r.address,
        r.kind,
        &r.name,
        &r.region,
        &r.attributes,
        &|a: &str| outs.get(a).cloned(),
        secrets,
    )
}

fn desired(p: &Plan, r: &Resource, outs: &BTreeMap<String, Outputs>) -> Desired {
    desired_with(p, r, outs, &p.secrets)
}

async fn provider(url: &str, scale: f64) -> AzureProvider {
    AzureProvider::new(ProviderConfig {
        endpoint: Some(url.to_string()),
        time_scale: scale,
        ..ProviderConfig::default()
    })
    .await
    .unwrap()
}

async fn scaled(topo: Topology, scale: f64) -> RunningSandbox {
    common::start_with(
        topo,
        SandboxConfig {
            latency: Latency { scale },
            ..SandboxConfig::default()
        },
    )
    .await
}

fn stats(sb: &RunningSandbox) -> Value {
    sb.sandbox.stats_json()
}

fn mutating(sb: &RunningSandbox) -> u64 {
    stats(sb)["clouds"]["azure"]["mutating"].as_u64().unwrap()
}

fn op_count(sb: &RunningSandbox, op: &str) -> u64 {
    stats(sb)["clouds"]["azure"]["operations"][op]
        .as_u64()
        .unwrap_or(0)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An ARM GET of `id` (or of a sub-path of it) on the sandbox: (status, JSON body).
async fn arm_get(url: &str, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{url}{path}?api-version=2024-03-01"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn arm_put(url: &str, path: &str, body: Value) -> u16 {
    http()
        .put(format!("{url}{path}?api-version=2024-03-01"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn net_path(kind: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/{kind}/{name}")
}

fn gateway_subnet_path() -> String {
    format!(
        "{}/subnets/GatewaySubnet",
        net_path("virtualNetworks", "prod-vnet")
    )
}

/// Creates every Azure resource of the plan: all but the connections one by one in order,
/// then the connections (two on one gateway) at once. Returns the outputs by address.
async fn create_all(
    az: &AzureProvider,
    p: &Plan,
    outs: &mut BTreeMap<String, Outputs>,
) -> Vec<Desired> {
    let rs = azure_resources(p);
    let mut all = Vec::new();
    for r in rs.iter().filter(|r| r.kind != Kind::AzureConnection) {
        let d = desired(p, r, outs);
        let o = az
            .create(&d)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", r.address));
        outs.insert(r.address.clone(), o);
        all.push(d);
    }
    let conns: Vec<Desired> = rs
        .iter()
        .filter(|r| r.kind == Kind::AzureConnection)
        .map(|r| desired(p, r, outs))
        .collect();
    assert_eq!(conns.len(), 2, "the triangle's Azure VNet has two links");
    let created = futures::future::join_all(conns.iter().map(|d| az.create(d))).await;
    for (d, o) in conns.iter().zip(created) {
        let o = o.unwrap_or_else(|e| panic!("{}: {e}", d.address));
        outs.insert(d.address.clone(), o);
    }
    all.extend(conns);
    all
}

fn out<'a>(outs: &'a BTreeMap<String, Outputs>, address: &str) -> &'a Outputs {
    outs.get(address)
        .unwrap_or_else(|| panic!("no outputs for {address}"))
}

/// The whole life of the triangle's Azure side on a time-scaled sandbox (the gateway takes
/// ~2 s, a connection ~0.1 s), so that the two connections really contend for the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triangle_azure_side_is_created_adopted_rekeyed_updated_and_deleted() {
    let topo = triangle();
    let scale = 0.001;
    let sb = scaled(topo.clone(), scale).await;
    let url = sb.url();
    let az = provider(&url, scale).await;
    let p = plan_of(&topo);
    let rs = azure_resources(&p);
    assert_eq!(
        rs.len(),
        11,
        "{:?}",
        rs.iter().map(|r| &r.address).collect::<Vec<_>>()
    );

    let mut outs = foreign_outputs(&p);
    let ds = create_all(&az, &p, &mut outs).await;

    // Outputs: exactly what the kind declares (the subnet adds whether peerctl created it).
    for r in &rs {
        let o = out(&outs, &r.address);
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort();
        let mut want: Vec<&str> = r.kind.outputs().to_vec();
        if r.kind == Kind::AzureSubnet {
            want.push("created");
        }
        want.sort();
        assert_eq!(keys, want, "{}", r.address);
        assert!(
            o["id"].starts_with("/subscriptions/"),
            "{}: {}",
            r.address,
            o["id"]
        );
    }
    let subnet = out(&outs, "azure.subnet.az-eus");
    assert_eq!(subnet["id"], format!("{}{MARK}", gateway_subnet_path()));
    assert_eq!(subnet["created"], "true");
    let ip = &out(&outs, "azure.public_ip.az-eus")["ip_address"];
    assert!(ip.starts_with("198.19."), "{ip}");
    let gw_id = out(&outs, "azure.vpn_gateway.az-eus")["id"].clone();
    assert_eq!(
        gw_id,
        net_path("virtualNetworkGateways", "prod-mesh-az-eus-gw")
    );

    let s = stats(&sb);
    assert_eq!(s["created_resources"], 11, "{s}");
    // Two connections on one gateway, created at once: the lock serialised them, so neither
    // PUT was refused and retried.
    assert_eq!(
        op_count(&sb, "VirtualNetworkGatewayConnections_CreateOrUpdate"),
        2
    );

    // The sandbox's view of what was written.
    let (st, g) = arm_get(&url, &gw_id).await;
    assert_eq!(st, 200);
    let gp = &g["properties"];
    assert_eq!(gp["sku"]["name"], "VpnGw1");
    assert_eq!(gp["vpnType"], "RouteBased");
    assert_eq!(gp["activeActive"], false);
    assert_eq!(gp["enableBgp"], false);
    assert_eq!(
        gp["ipConfigurations"][0]["properties"]["subnet"]["id"],
        gateway_subnet_path(),
        "the ownership mark never reaches ARM"
    );
    assert_eq!(g["tags"]["peerctl-topology"], "prod-mesh");
    assert_eq!(g["tags"]["peerctl-address"], "azure.vpn_gateway.az-eus");
    assert_eq!(g["tags"]["peerctl-gateway-subnet"], "created");
    let conn = "azure.connection.aws-use1--az-eus";
    let conn_id = out(&outs, conn)["id"].clone();
    let (_, c) = arm_get(&url, &conn_id).await;
    let cp = &c["properties"];
    assert_eq!(cp["connectionProtocol"], "IKEv2");
    assert_eq!(cp["enableBgp"], false);
    assert_eq!(cp["usePolicyBasedTrafficSelectors"], false);
    assert_eq!(cp["ipsecPolicies"][0]["dhGroup"], "DHGroup14");
    assert_eq!(cp["ipsecPolicies"][0]["pfsGroup"], "PFS2048");
    assert_eq!(cp["ipsecPolicies"][0]["ikeIntegrity"], "SHA256");
    let lng_id = out(&outs, "azure.local_network_gateway.aws-use1--az-eus")["id"].clone();
    let (_, l) = arm_get(&url, &lng_id).await;
    assert!(l["properties"]["gatewayIpAddress"]
        .as_str()
        .unwrap()
        .starts_with("198.51.100."));
    assert_eq!(
        l["properties"]["localNetworkAddressSpace"]["addressPrefixes"],
        json!(["10.10.0.0/16"])
    );
    let key_of = |id: String| {
        let url = url.clone();
        async move { arm_get(&url, &format!("{id}/sharedkey")).await.1["value"].clone() }
    };
    let planned = |d: &Desired| d.attrs.secret("shared_key").unwrap().expose().to_string();
    let conn_d = ds.iter().find(|d| d.address == conn).unwrap().clone();
    assert_eq!(key_of(conn_id.clone()).await, planned(&conn_d));
    let rule = ds
        .iter()
        .find(|d| d.kind == Kind::AzureNsgRule)
        .unwrap()
        .clone();
    let (_, r) = arm_get(&url, &out(&outs, &rule.address)["id"]).await;
    assert_eq!(r["properties"]["description"], rule.description());

    // read: every resource is found with the same outputs.
    for d in &ds {
        let id = out(&outs, &d.address)["id"].clone();
        let o = az.read(d, Some(&id)).await.unwrap().expect("present");
        assert_eq!(&o, out(&outs, &d.address), "{}", d.address);
    }

    // Create again (a lost state): everything adopted, same ids, not one mutating call. The
    // subnet keeps its mark: the gateway that uses it says peerctl created it.
    let before = mutating(&sb);
    for d in &ds {
        let o = az.create(d).await.unwrap();
        assert_eq!(&o, out(&outs, &d.address), "{}", d.address);
    }
    let subnet_d = ds.iter().find(|d| d.kind == Kind::AzureSubnet).unwrap();
    assert_eq!(
        az.read(subnet_d, None).await.unwrap().as_ref(),
        Some(out(&outs, "azure.subnet.az-eus")),
        "found by name after a lost state, still marked"
    );
    assert_eq!(mutating(&sb), before, "adoption made no writes");

    // A connection that got another key (another run, a lost state) is re-keyed on adoption.
    let other = Secret::new("Otherkey0123456789abcdefghijklmn".into());
    let mut secrets = p.secrets.clone();
    for v in secrets.values_mut() {
        *v = other.clone();
    }
    let conn_r = rs.iter().find(|r| r.address == conn).unwrap();
    let rekeyed = desired_with(&p, conn_r, &outs, &secrets);
    az.create(&rekeyed).await.unwrap();
    assert_eq!(key_of(conn_id.clone()).await, other.expose());
    let again = az.create(&conn_d).await.unwrap();
    assert_eq!(again["id"], conn_id);
    assert_eq!(key_of(conn_id.clone()).await, planned(&conn_d));
    assert_eq!(
        op_count(&sb, "VirtualNetworkGatewayConnections_SetSharedKey"),
        2
    );
    assert_eq!(
        op_count(&sb, "VirtualNetworkGatewayConnections_CreateOrUpdate"),
        2,
        "re-keying does not recreate"
    );

    // update: a new peer address on the LNG, a new priority on a rule, a new key.
    let lng_r = rs
        .iter()
        .find(|r| r.address == "azure.local_network_gateway.aws-use1--az-eus")
        .unwrap();
    let mut moved = outs.clone();
    for o in moved.values_mut() {
        for v in o.values_mut() {
            if v.starts_with("198.51.100.") {
                *v = "203.0.113.7".into();
            }
        }
    }
    let lng_d = desired(&p, lng_r, &moved);
    let o = az
        .update(&lng_d, &lng_id, &["gateway_ip_address".to_string()])
        .await
        .unwrap();
    assert_eq!(o["id"], lng_id);
    let (_, l) = arm_get(&url, &lng_id).await;
    assert_eq!(l["properties"]["gatewayIpAddress"], "203.0.113.7");
    let mut rule2 = rule.clone();
    rule2
        .attrs
        .0
        .insert("priority".into(), peerctl::providers::Attr::Int(3333));
    let rule_id = out(&outs, &rule.address)["id"].clone();
    az.update(&rule2, &rule_id, &["priority".to_string()])
        .await
        .unwrap();
    let (_, r) = arm_get(&url, &rule_id).await;
    assert_eq!(r["properties"]["priority"], 3333);
    az.update(&rekeyed, &conn_id, &["shared_key".to_string()])
        .await
        .unwrap();
    assert_eq!(key_of(conn_id.clone()).await, other.expose());

    // Delete in reverse order (the two connections at once), then again: absent is success.
    let mut rev: Vec<&Desired> = ds.iter().collect();
    rev.reverse();
    let (conns, rest): (Vec<&Desired>, Vec<&Desired>) = rev
        .into_iter()
        .partition(|d| d.kind == Kind::AzureConnection);
    let deleted =
        futures::future::join_all(conns.iter().map(|d| az.delete(d, &outs[&d.address]["id"])))
            .await;
    for r in deleted {
        r.unwrap();
    }
    for d in &rest {
        az.delete(d, &outs[&d.address]["id"])
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", d.address));
    }
    assert_eq!(stats(&sb)["created_resources"], 0, "{}", stats(&sb));
    assert_eq!(arm_get(&url, &gateway_subnet_path()).await.0, 404);
    for d in &ds {
        let id = outs[&d.address]["id"].clone();
        az.delete(d, &id).await.unwrap();
        assert_eq!(az.read(d, Some(&id)).await.unwrap(), None, "{}", d.address);
    }
    sb.stop().await;
}

/// A GatewaySubnet that existed before peerctl is adopted, used, and left in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_gateway_subnet_is_adopted_and_survives_the_delete() {
    let topo = triangle();
    let sb = common::start(topo.clone()).await;
    let url = sb.url();
    let st = arm_put(
        &url,
        &gateway_subnet_path(),
        json!({"properties": {"addressPrefix": "10.30.255.0/27"}}),
    )
    .await;
    assert!(st == 200 || st == 201, "{st}");
    let az = provider(&url, 0.0).await;
    let p = plan_of(&topo);
    let mut outs = foreign_outputs(&p);
    let rs = azure_resources(&p);
    let shared: Vec<&Resource> = rs
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                Kind::AzureSubnet | Kind::AzurePublicIp | Kind::AzureVpnGateway
            )
        })
        .collect();
    let mut ds = Vec::new();
    for r in &shared {
        let d = desired(&p, r, &outs);
        let o = az.create(&d).await.unwrap();
        outs.insert(r.address.clone(), o);
        ds.push(d);
    }
    let subnet = out(&outs, "azure.subnet.az-eus");
    assert_eq!(subnet["id"], gateway_subnet_path());
    assert_eq!(subnet["created"], "false");
    let subnet_d = ds.iter().find(|d| d.kind == Kind::AzureSubnet).unwrap();
    assert_eq!(
        az.read(subnet_d, None).await.unwrap().unwrap()["created"],
        "false",
        "the gateway on it says nothing of peerctl creating it"
    );
    // A SKU change is a PUT of the whole gateway on the same name.
    let gw = ds.iter().find(|d| d.kind == Kind::AzureVpnGateway).unwrap();
    let mut bigger = gw.clone();
    bigger
        .attrs
        .0
        .insert("sku".into(), peerctl::providers::Attr::Str("VpnGw2".into()));
    let gw_id = outs[&gw.address]["id"].clone();
    let o = az
        .update(&bigger, &gw_id, &["sku".to_string()])
        .await
        .unwrap();
    assert_eq!(o["id"], gw_id);
    let (_, g) = arm_get(&url, &gw_id).await;
    assert_eq!(g["properties"]["sku"]["name"], "VpnGw2");
    assert_eq!(g["properties"]["provisioningState"], "Succeeded");
    assert_eq!(g["tags"].get("peerctl-gateway-subnet"), None);
    for d in ds.iter().rev() {
        az.delete(d, &outs[&d.address]["id"]).await.unwrap();
    }
    let (st, s) = arm_get(&url, &gateway_subnet_path()).await;
    assert_eq!(st, 200, "the user's GatewaySubnet survives: {s}");
    assert_eq!(s["properties"]["addressPrefix"], "10.30.255.0/27");

    // A rule of the same name that another plan address owns is not taken over.
    let rule_r = rs.iter().find(|r| r.kind == Kind::AzureNsgRule).unwrap();
    let rule = desired(&p, rule_r, &outs);
    az.create(&rule).await.unwrap();
    let mut twin = rule.clone();
    twin.address = format!("{}-twin", rule.address);
    let e = az.create(&twin).await.unwrap_err();
    assert_eq!(e.code(), Some("PeerctlNameTaken"), "{e}");
    az.delete(&rule, &az.read(&rule, None).await.unwrap().unwrap()["id"])
        .await
        .unwrap();

    // A GatewaySubnet with another prefix is never adopted (nor changed).
    let mut wrong = ds
        .iter()
        .find(|d| d.kind == Kind::AzureSubnet)
        .unwrap()
        .clone();
    wrong.attrs.0.insert(
        "address_prefix".into(),
        peerctl::providers::Attr::Str("10.30.254.0/27".into()),
    );
    let e = az.create(&wrong).await.unwrap_err();
    assert_eq!(e.code(), Some("GatewaySubnetPrefixMismatch"), "{e}");
    sb.stop().await;
}

/// ARM errors keep their code and status; throttling is retried inside; nothing listening is a
/// connection error naming the endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_mapped_and_transient_ones_retried() {
    let topo = triangle();
    let sb = common::start(topo.clone()).await;
    let url = sb.url();
    let az = provider(&url, 0.001).await;
    let p = plan_of(&topo);
    let outs = foreign_outputs(&p);
    let subnet_r = azure_resources(&p)
        .into_iter()
        .find(|r| r.kind == Kind::AzureSubnet)
        .unwrap();
    let mut outside = desired(&p, &subnet_r, &outs);
    outside.attrs.0.insert(
        "address_prefix".into(),
        peerctl::providers::Attr::Str("10.99.0.0/27".into()),
    );
    match az.create(&outside).await.unwrap_err() {
        ProviderError::Cloud {
            status,
            code,
            retryable,
            ..
        } => {
            assert_eq!(status, Some(400));
            assert_eq!(code, "NetcfgSubnetRangeOutsideVnet");
            assert!(!retryable);
        }
        other => panic!("{other:?}"),
    }

    let r = http()
        .post(format!("{url}/_sandbox/faults"))
        .header("content-type", "application/json")
        .body(
            json!({"scripted": [
                {"cloud": "azure", "operation": "Subnets_Get", "kind": "throttle", "count": 2},
                {"cloud": "azure", "operation": "Subnets_CreateOrUpdate", "kind": "server_error", "count": 1},
            ]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let d = desired(&p, &subnet_r, &outs);
    let o = az.create(&d).await.unwrap();
    assert_eq!(o["created"], "true");
    assert_eq!(stats(&sb)["clouds"]["azure"]["faults"], 3);
    sb.stop().await;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let az = provider(&dead, 0.001).await;
    match az.read(&d, None).await.unwrap_err() {
        ProviderError::Connect { endpoint, .. } => assert_eq!(endpoint, dead),
        other => panic!("{other:?}"),
    }
}

/// Preflight reports every problem of every Azure network: a missing VNet, CIDRs outside the
/// VNet, a GatewaySubnet with another prefix, a missing NSG; a good network has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_reports_every_problem() {
    let topo = triangle();
    let sb = common::start(topo.clone()).await;
    let url = sb.url();
    let az = provider(&url, 0.0).await;
    let good = topo
        .networks
        .iter()
        .find(|n| n.cloud == Cloud::Azure)
        .unwrap()
        .clone();
    assert_eq!(
        az.preflight(&topo.networks).await,
        vec![],
        "the seeded VNet is fine"
    );

    let edit = |f: &dyn Fn(&mut peerctl::topology::AzureNetwork), name: &str| {
        let mut n = good.clone();
        n.name = name.into();
        if let Location::Azure(z) = &mut n.location {
            f(z);
        }
        n
    };
    let missing = edit(&|z| z.vnet = "ghost-vnet".into(), "az-ghost");
    let mut cidrs = edit(
        &|z| z.network_security_groups = Some(vec!["prod-vnet-nsg".into(), "nope-nsg".into()]),
        "az-cidrs",
    );
    cidrs.cidrs = vec!["10.31.0.0/16".parse().unwrap()];
    let st = arm_put(
        &url,
        &gateway_subnet_path(),
        json!({"properties": {"addressPrefix": "10.30.255.0/27"}}),
    )
    .await;
    assert!(st == 200 || st == 201, "{st}");
    let other_gw = edit(
        &|z| z.gateway_subnet = "10.30.254.0/27".parse().unwrap(),
        "az-gw",
    );

    let problems = az
        .preflight(&[good.clone(), missing, cidrs, other_gw])
        .await;
    let got: Vec<(String, String)> = problems
        .iter()
        .map(|p| (p.network.clone().unwrap_or_default(), p.field.clone()))
        .collect();
    let want: Vec<(String, String)> = [
        ("az-ghost", "vnet"),
        ("az-ghost", "network_security_groups"),
        ("az-cidrs", "cidrs"),
        ("az-cidrs", "network_security_groups"),
        ("az-gw", "gateway_subnet"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want, "{problems:#?}");
    let cidr = problems.iter().find(|p| p.field == "cidrs").unwrap();
    assert!(
        cidr.message.contains("10.31.0.0/16") && cidr.message.contains("10.30.0.0/16"),
        "expected and actual: {}",
        cidr.message
    );
    assert!(problems.iter().all(|p| p.cloud == Cloud::Azure));
    sb.stop().await;
}

type Handler = dyn Fn(&str, &str, &str) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync;

/// A minimal ARM stand-in on a loopback port for answers the sandbox never gives (refused
/// credentials, a provisioning that fails after it was accepted): `handler(url, method, path)`
/// gives status, headers and body. Returns its URL.
async fn fake_arm(handler: std::sync::Arc<Handler>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let base = url.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (handler, base) = (handler.clone(), base.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let target = first.next().unwrap_or("");
                let path = target.split('?').next().unwrap_or("").to_string();
                let (status, headers, body) = handler(&base, &method, &path);
                let mut rsp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    rsp.push_str(&format!("{k}: {v}\r\n"));
                }
                rsp.push_str("\r\n");
                rsp.push_str(&body);
                let _ = sock.write_all(rsp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    url
}

/// Refused credentials become a `credentials` problem in preflight; a provisioning that ends
/// `Failed` is an error carrying the async operation's code and message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_and_failed_provisioning_are_reported_with_arm_details() {
    let put_seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = put_seen.clone();
    let url = fake_arm(std::sync::Arc::new(move |base: &str, method: &str, path: &str| {
        use std::sync::atomic::Ordering;
        let err = |status: u16, code: &str| {
            (
                status,
                vec![("x-ms-error-code", code.to_string())],
                json!({"error": {"code": code, "message": format!("{code} says no")}}).to_string(),
            )
        };
        if path.contains("/virtualNetworks/") {
            return err(401, "InvalidAuthenticationToken");
        }
        if path.contains("/networkSecurityGroups/") {
            return err(403, "AuthorizationFailed");
        }
        if path == "/op/1" {
            let body = json!({"status": "Failed", "error": {"code": "GatewayIpInvalid", "message": "no VPN device answers there"}});
            return (200, vec![], body.to_string());
        }
        if path.contains("/localNetworkGateways/") {
            let lng = |state: &str| {
                json!({"id": path, "name": "x", "location": "eastus",
                       "properties": {"provisioningState": state}})
                .to_string()
            };
            return match method {
                "PUT" => {
                    seen.store(true, Ordering::SeqCst);
                    (
                        201,
                        vec![("azure-asyncoperation", format!("{base}/op/1"))],
                        lng("Updating"),
                    )
                }
                _ if seen.load(Ordering::SeqCst) => (200, vec![], lng("Failed")),
                _ => err(404, "ResourceNotFound"),
            };
        }
        err(404, "InvalidResourceType")
    }))
    .await;
    let az = provider(&url, 0.001).await;
    let topo = triangle();
    let problems = az.preflight(&topo.networks).await;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "credentials");
    assert!(
        problems[0].message.contains("InvalidAuthenticationToken"),
        "{}",
        problems[0].message
    );

    let p = plan_of(&topo);
    let outs = foreign_outputs(&p);
    let lng = azure_resources(&p)
        .into_iter()
        .find(|r| r.kind == Kind::AzureLocalNetworkGateway)
        .unwrap();
    match az.create(&desired(&p, &lng, &outs)).await.unwrap_err() {
        ProviderError::Failed { what, message } => {
            assert!(what.contains(&lng.name), "{what}");
            assert_eq!(message, "GatewayIpInvalid: no VPN device answers there");
        }
        other => panic!("{other:?}"),
    }
    assert!(put_seen.load(std::sync::atomic::Ordering::SeqCst));
}
