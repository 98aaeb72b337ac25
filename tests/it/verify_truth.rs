//! verify against ground truth: seeded random breakages of mesh12, made through the clouds'
//! APIs on random sides; for every link, direction and allow entry, verify's verdict must be
//! the sandbox's own reachability answer (`/_sandbox/reach`), and the hop the sandbox names
//! must be a check verify fails. `PEERCTL_VERIFY_SEEDS=N` runs more seeds (default 200).

use super::apply::{peerctl, scaled, text, topology_file};
use super::verify::{arm_id, compute_path, ec2_at, failing, rest_at};
use aws_sdk_ec2::types::{IpPermission, IpRange, ModifyVpnTunnelOptionsSpecification};
use futures::StreamExt;
use peerctl::plan::resource::Kind;
use peerctl::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use peerctl::state::State;
use peerctl::topology::{Allow, Location, Topology};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ARM_API: &str = "api-version=2024-05-01";

/// splitmix64: a seeded, dependency-free sequence.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<T: Clone>(&mut self, v: &[T]) -> Option<T> {
        (!v.is_empty()).then(|| v[self.below(v.len())].clone())
    }
}

/// One sandbox restored from the applied world, and how to talk to its clouds.
struct World {
    sb: RunningSandbox,
    http: reqwest::Client,
}

impl World {
    async fn restore(base: &Path, into: &Path) -> World {
        std::fs::create_dir_all(into).unwrap();
        std::fs::copy(base.join("world.json"), into.join("world.json")).unwrap();
        let config = SandboxConfig {
            data_dir: Some(into.to_path_buf()),
            ..scaled()
        };
        let sandbox = Arc::new(Sandbox::new(config, None).expect("restored sandbox"));
        let sb = peerctl::sandbox::serve(sandbox, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        World {
            sb,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        ec2_at(&self.sb.url(), region)
    }

    async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        rest_at(&self.sb.url(), method, path, body).await
    }

    /// `/_sandbox/reach` between two addresses for one protocol/port.
    async fn reach(&self, src: &str, dst: &str, proto: &str, port: Option<u16>) -> Value {
        let mut url = format!(
            "{}/_sandbox/reach?src={src}&dst={dst}&proto={proto}",
            self.sb.url()
        );
        if let Some(p) = port {
            url.push_str(&format!("&port={p}"));
        }
        let text = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// One breakage, described for the failure message.
async fn break_one(w: &World, state: &State, topo: &Topology, rng: &mut Rng) -> String {
    let of = |k: Kind| -> Vec<(&String, &peerctl::state::ResourceState)> {
        state
            .resources
            .iter()
            .filter(|(_, r)| r.kind == k)
            .collect()
    };
    let attr = |r: &peerctl::state::ResourceState, k: &str| {
        serde_json::to_value(&r.attributes[k]).unwrap_or_default()
    };
    let cidrs_linked_to = |net: &str| -> Vec<String> {
        topo.links
            .iter()
            .filter(|l| l.a == net || l.b == net)
            .map(|l| if l.a == net { &l.b } else { &l.a })
            .filter_map(|n| topo.networks.iter().find(|x| &x.name == n))
            .flat_map(|n| n.cidrs.iter().map(|c| c.to_string()))
            .collect()
    };
    loop {
        match rng.below(10) {
            0 => {
                let Some((a, r)) = rng.pick(&of(Kind::AwsSecurityGroupRule)) else {
                    continue;
                };
                let sources = attr(r, "source_cidrs");
                let cidrs: Vec<&str> = sources
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let cidr = rng.pick(&cidrs).unwrap().to_string();
                let sg = r.id.split(',').next().unwrap().to_string();
                let ec2 = w.ec2(&r.region);
                for p in attr(r, "permissions").as_array().unwrap() {
                    let mut b = IpPermission::builder()
                        .ip_protocol(p["protocol"].as_str().unwrap())
                        .ip_ranges(IpRange::builder().cidr_ip(&cidr).build());
                    if p["protocol"] != "-1" {
                        b = b
                            .from_port(p["from_port"].as_i64().unwrap() as i32)
                            .to_port(p["to_port"].as_i64().unwrap() as i32);
                    }
                    let _ = ec2
                        .revoke_security_group_ingress()
                        .group_id(&sg)
                        .ip_permissions(b.build())
                        .send()
                        .await;
                }
                return format!("revoked {a} for {cidr} in {sg}");
            }
            1 => {
                let Some((a, r)) = rng.pick(&of(Kind::AwsVpnGateway)) else {
                    continue;
                };
                let ec2 = w.ec2(&r.region);
                let Some(net) = topo
                    .networks
                    .iter()
                    .find(|n| Some(&n.name) == r.network.as_ref())
                else {
                    continue;
                };
                let Location::Aws(aws) = &net.location else {
                    continue;
                };
                let tables = ec2
                    .describe_route_tables()
                    .filters(
                        aws_sdk_ec2::types::Filter::builder()
                            .name("vpc-id")
                            .values(&aws.vpc_id)
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
                let ids: Vec<String> = tables
                    .route_tables()
                    .iter()
                    .filter_map(|t| t.route_table_id().map(str::to_string))
                    .collect();
                let Some(t) = rng.pick(&ids) else { continue };
                ec2.disable_vgw_route_propagation()
                    .route_table_id(&t)
                    .gateway_id(&r.id)
                    .send()
                    .await
                    .unwrap();
                return format!("propagation of {a} off in {t}");
            }
            2 => {
                let Some((a, r)) = rng.pick(&of(Kind::AwsVpnConnection)) else {
                    continue;
                };
                let ec2 = w.ec2(&r.region);
                let c = ec2
                    .describe_vpn_connections()
                    .vpn_connection_ids(&r.id)
                    .send()
                    .await
                    .unwrap();
                let ips: Vec<String> = c.vpn_connections()[0]
                    .options()
                    .unwrap()
                    .tunnel_options()
                    .iter()
                    .filter_map(|t| t.outside_ip_address().map(str::to_string))
                    .collect();
                let ip = rng.pick(&ips).unwrap();
                ec2.modify_vpn_tunnel_options()
                    .vpn_connection_id(&r.id)
                    .vpn_tunnel_outside_ip_address(&ip)
                    .tunnel_options(
                        ModifyVpnTunnelOptionsSpecification::builder()
                            .pre_shared_key("someone.elses.key.0123456789")
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
                return format!("key of {a} tunnel {ip} changed");
            }
            3 => {
                let gcp: Vec<_> = topo
                    .networks
                    .iter()
                    .filter(|n| matches!(n.location, Location::Gcp(_)))
                    .collect();
                let Some(n) = rng.pick(&gcp) else { continue };
                let Location::Gcp(g) = &n.location else {
                    continue;
                };
                let sources = cidrs_linked_to(&n.name);
                let Some(src) = rng.pick(&sources) else {
                    continue;
                };
                let name = format!("ops-deny-{}", rng.next() % 100_000);
                let body = json!({
                    "name": name,
                    "network": format!("projects/{}/global/networks/{}", g.project, g.network),
                    "direction": "INGRESS", "priority": 100,
                    "denied": [{"IPProtocol": "all"}], "sourceRanges": [src],
                });
                w.rest(
                    "POST",
                    &format!("/compute/v1/projects/{}/global/firewalls", g.project),
                    Some(body),
                )
                .await
                .unwrap();
                return format!("GCP deny {name} from {src} in {}", n.name);
            }
            4..=6 => {
                let kind = [Kind::GcpRoute, Kind::GcpFirewall, Kind::GcpVpnTunnel][rng.below(3)];
                let Some((a, r)) = rng.pick(&of(kind)) else {
                    continue;
                };
                w.rest("DELETE", &compute_path(&r.id), None).await.unwrap();
                return format!("deleted {a}");
            }
            7 => {
                let allows: Vec<_> = of(Kind::AzureNsgRule)
                    .into_iter()
                    .filter(|(_, r)| attr(r, "access") == "Allow")
                    .collect();
                let Some((a, r)) = rng.pick(&allows) else {
                    continue;
                };
                w.rest("DELETE", &format!("{}?{ARM_API}", arm_id(&r.id)), None)
                    .await
                    .unwrap();
                return format!("deleted {a}");
            }
            8 => {
                let Some((_, r)) = rng.pick(&of(Kind::AzureNsgRule)) else {
                    continue;
                };
                let id = arm_id(&r.id);
                let nsg = &id[..id.find("/securityRules/").unwrap()];
                let net = r.network.clone().unwrap_or_default();
                let sources = cidrs_linked_to(&net);
                let Some(src) = rng.pick(&sources) else {
                    continue;
                };
                let body = json!({"properties": {
                    "priority": 100, "access": "Deny", "direction": "Inbound", "protocol": "*",
                    "sourceAddressPrefix": src, "sourcePortRange": "*",
                    "destinationAddressPrefix": "*", "destinationPortRange": "*",
                }});
                w.rest(
                    "PUT",
                    &format!("{nsg}/securityRules/ops-deny?{ARM_API}"),
                    Some(body),
                )
                .await
                .unwrap();
                return format!("NSG deny from {src} in {nsg}");
            }
            _ => {
                let Some((a, r)) = rng.pick(&of(Kind::AzureConnection)) else {
                    continue;
                };
                w.rest(
                    "PUT",
                    &format!("{}/sharedkey?{ARM_API}", arm_id(&r.id)),
                    Some(json!({"value": "someone.elses.key.0123456789"})),
                )
                .await
                .unwrap();
                return format!("shared key of {a} changed");
            }
        }
    }
}

/// The address the sandbox takes as "a host" of a CIDR (its tenth address).
fn host(c: &ipnet::Ipv4Net) -> String {
    std::net::Ipv4Addr::from(u32::from(c.network()) + 10).to_string()
}

/// Protocol/port probes standing for one allow entry.
fn probes(e: &Allow) -> Vec<(&'static str, Option<u16>)> {
    match *e {
        Allow::All => vec![("tcp", Some(443)), ("udp", Some(53)), ("icmp", None)],
        Allow::Tcp { from, .. } => vec![("tcp", Some(from))],
        Allow::Udp { from, .. } => vec![("udp", Some(from))],
        Allow::Icmp => vec![("icmp", None)],
    }
}

/// The checks verify fails for traffic `from → to` with `entry` (presence is configuration,
/// not traffic, and is left out).
fn verify_failures(doc: &Value, link: &str, from: &str, to: &str, entry: &str) -> Vec<String> {
    let mut out = Vec::new();
    for r in doc["results"].as_array().unwrap() {
        if r["link"] != link || r["verdict"] != "fail" {
            continue;
        }
        let check = r["check"].as_str().unwrap();
        let this_way = match &r["direction"] {
            Value::Null => true,
            d => d["from"] == from && d["to"] == to,
        };
        if !this_way {
            continue;
        }
        let relevant = match check {
            "tunnels" | "routing" => true,
            "firewall" => r["causes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["verdict"] == "fail" && c["entry"] == entry),
            _ => false,
        };
        if relevant {
            out.push(check.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_agrees_with_the_sandbox_over_seeded_breakages() {
    let seeds: u64 = std::env::var("PEERCTL_VERIFY_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let topo_path = topology_file("mesh12");
    let topo = peerctl::topology::load(&topo_path).unwrap();
    let t = topo_path.display().to_string();
    {
        let config = SandboxConfig {
            data_dir: Some(base.clone()),
            ..scaled()
        };
        let sandbox = Arc::new(Sandbox::new(config, Some(topo.clone())).unwrap());
        let sb = peerctl::sandbox::serve(sandbox, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let out = peerctl(&work, &sb.url(), &["apply", "--auto-approve", "-f", &t]).await;
        assert!(out.status.success(), "{}", text(&out));
        sb.sandbox.advance_clock(60 * 60 * 1000);
        let out = peerctl(&work, &sb.url(), &["verify", "--json", "-f", &t]).await;
        assert!(
            out.status.success(),
            "mesh12 verifies green: {}",
            text(&out)
        );
        sb.stop().await;
    }
    let state = State::load(&work.join(".peerctl/state.json")).unwrap();
    let allow: BTreeMap<String, Vec<Allow>> = topo
        .links
        .iter()
        .map(|l| (l.id(), peerctl::plan::build::allow_list(l)))
        .collect();
    let nets: BTreeMap<&str, &peerctl::topology::Network> =
        topo.networks.iter().map(|n| (n.name.as_str(), n)).collect();

    let tmp_path: PathBuf = tmp.path().to_path_buf();
    let results = futures::stream::iter(0..seeds)
        .map(|seed| {
            let (base, work, tmp_path, t) = (base.clone(), work.clone(), tmp_path.clone(), t.clone());
            let (state, topo, allow, nets) = (&state, &topo, &allow, &nets);
            async move {
                let w = World::restore(&base, &tmp_path.join(format!("seed{seed}"))).await;
                let mut rng = Rng(seed.wrapping_mul(7919) + 1);
                let mut done = Vec::new();
                for _ in 0..1 + rng.below(2) {
                    done.push(break_one(&w, state, topo, &mut rng).await);
                }
                w.sb.sandbox.advance_clock(60 * 60 * 1000);
                let out = peerctl(&work, &w.sb.url(), &["verify", "--json", "-f", &t]).await;
                let doc: Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("seed {seed}: no JSON ({e}): {}", text(&out)));
                assert!(
                    doc["read_errors"].as_array().unwrap().is_empty(),
                    "seed {seed}: {doc:#}"
                );
                let mut mismatches = Vec::new();
                let mut judged = 0usize;
                for l in doc["links"].as_array().unwrap() {
                    let id = l["id"].as_str().unwrap();
                    let pair = [l["between"][0].as_str().unwrap(), l["between"][1].as_str().unwrap()];
                    for (from, to) in [(pair[0], pair[1]), (pair[1], pair[0])] {
                        for entry in &allow[id] {
                            judged += 1;
                            let fails = verify_failures(&doc, id, from, to, &entry.to_string());
                            let mut truth: Option<Value> = None;
                            'probe: for src in &nets[from].cidrs {
                                for dst in &nets[to].cidrs {
                                    for (proto, port) in probes(entry) {
                                        let r = w.reach(&host(src), &host(dst), proto, port).await;
                                        if r["reachable"] != true {
                                            truth = Some(r);
                                            break 'probe;
                                        }
                                    }
                                }
                            }
                            let ok = fails.is_empty();
                            match (&truth, ok) {
                                (None, true) => {}
                                (Some(r), false) => {
                                    // The hop the sandbox names must be a check verify fails.
                                    let at = r["blocked_at"]["at"].as_str().unwrap_or_default();
                                    let expect: &[&str] = match at {
                                        "egress" | "ingress" => &["firewall"],
                                        _ => &["routing", "tunnels"],
                                    };
                                    if !fails.iter().any(|f| expect.contains(&f.as_str())) {
                                        mismatches.push(format!(
                                            "{id} {from} → {to} {entry}: sandbox blocked at {at} ({}), verify fails {fails:?}",
                                            r["blocked"]
                                        ));
                                    }
                                }
                                (Some(r), true) => mismatches.push(format!(
                                    "{id} {from} → {to} {entry}: sandbox blocked ({}), verify passes",
                                    r["blocked"]
                                )),
                                (None, false) => mismatches.push(format!(
                                    "{id} {from} → {to} {entry}: sandbox reaches, verify fails {fails:?}: {:?}",
                                    failing(&doc, "fail").iter().filter(|f| f.0 == id).collect::<Vec<_>>()
                                )),
                            }
                        }
                    }
                }
                w.sb.stop().await;
                (seed, done, judged, mismatches)
            }
        })
        .buffer_unordered(2)
        .collect::<Vec<_>>()
        .await;
    let mut bad = Vec::new();
    let mut judged = 0;
    for (seed, done, n, m) in &results {
        judged += n;
        for x in m {
            bad.push(format!("seed {seed} [{}]: {x}", done.join("; ")));
        }
    }
    eprintln!(
        "verify vs sandbox: {seeds} seeds, {judged} (link, direction, entry) verdicts compared, {} mismatches",
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{} mismatches, first ones:\n{}",
        bad.len(),
        bad.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
}
