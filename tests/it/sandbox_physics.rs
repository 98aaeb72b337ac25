//! The network model end to end: links built through the clouds' own APIs (aws-sdk-ec2 for
//! EC2, raw Compute REST and ARM requests for GCP and Azure), then the tunnel, BGP and
//! reachability verdicts read back from each cloud's API and from `net::reach`.

use crate::common;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::*;
use peerctl::sandbox::net::{self, BlockedAt, Direction, Flow, Proto};
use peerctl::sandbox::RunningSandbox;
use serde_json::{json, Value};

const VPC: &str = "vpc-0a1b2c3d4e5f60789";
const PROJECT: &str = "acme-net";
const REGION: &str = "us-central1";
const GCP_NETWORK: &str = "projects/acme-net/global/networks/prod-vpc";
const VGW_ASN: i64 = 64600;
const ROUTER_ASN: u32 = 65010;
const AZ_SUB: &str = "00000000-0000-0000-0000-000000000000";
const AZ_RG: &str = "net-rg";

const HTTPS: Flow = Flow {
    proto: Proto::Tcp,
    port: Some(443),
};

/// The three clouds of one running sandbox.
struct Clouds {
    url: String,
    ec2: aws_sdk_ec2::Client,
    http: reqwest::Client,
}

impl Clouds {
    fn new(sb: &RunningSandbox) -> Clouds {
        let url = sb.url();
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "SECRET", None, None, "static"))
            .build();
        Clouds {
            url,
            ec2: aws_sdk_ec2::Client::from_conf(conf),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    async fn send(&self, method: &str, url: String, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, &url);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: {e}: {text}"))
        };
        (status, v)
    }

    /// A Compute request under `projects/acme-net/`; a returned Operation is polled to DONE.
    async fn gcp(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/compute/v1/projects/{PROJECT}/{path}", self.url);
        let (status, v) = self.send(method, url.clone(), body).await;
        assert!(status < 300, "{method} {url}: HTTP {status}: {v}");
        if v["kind"] == "compute#operation" {
            let mut op = v;
            for _ in 0..100 {
                if op["status"] == "DONE" {
                    assert!(op.get("error").is_none(), "{method} {url} failed: {op}");
                    return op;
                }
                let scope = if path.starts_with("global/") {
                    "global".to_string()
                } else {
                    format!("regions/{REGION}")
                };
                let name = op["name"].as_str().unwrap().to_string();
                op = self.gcp_get(&format!("{scope}/operations/{name}")).await;
            }
            panic!("operation for {method} {url} never finished: {op}");
        }
        v
    }

    async fn gcp_get(&self, path: &str) -> Value {
        let url = format!("{}/compute/v1/projects/{PROJECT}/{path}", self.url);
        let (status, v) = self.send("GET", url.clone(), None).await;
        assert_eq!(status, 200, "GET {url}: {v}");
        v
    }

    /// An ARM request under the test resource group's `Microsoft.Network` provider; a PUT
    /// is followed by GETs until its provisioningState is final.
    async fn arm(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!(
            "{}/subscriptions/{AZ_SUB}/resourceGroups/{AZ_RG}/providers/Microsoft.Network/{path}?api-version=2024-03-01",
            self.url
        );
        let (status, mut v) = self.send(method, url.clone(), body).await;
        assert!(status < 300, "{method} {url}: HTTP {status}: {v}");
        if method == "PUT" {
            for _ in 0..100 {
                match v["properties"]["provisioningState"].as_str() {
                    Some("Succeeded") => return v,
                    Some("Failed") => panic!("PUT {url} failed: {v}"),
                    _ => {}
                }
                let (_, again) = self.send("GET", url.clone(), None).await;
                v = again;
            }
            panic!("PUT {url} never finished: {v}");
        }
        v
    }

    fn arm_id(&self, path: &str) -> String {
        format!("/subscriptions/{AZ_SUB}/resourceGroups/{AZ_RG}/providers/Microsoft.Network/{path}")
    }

    async fn admin_reach(&self, from: &str, to: &str) -> Value {
        let url = format!(
            "{}/_sandbox/reach?from={from}&to={to}&proto=tcp&port=443",
            self.url
        );
        let (status, v) = self.send("GET", url, None).await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

// ---------------------------------------------------------------------------------------
// AWS side

async fn vgw(ec2: &aws_sdk_ec2::Client) -> String {
    let out = ec2
        .create_vpn_gateway()
        .r#type(GatewayType::Ipsec1)
        .amazon_side_asn(VGW_ASN)
        .send()
        .await
        .unwrap();
    let id = out
        .vpn_gateway()
        .unwrap()
        .vpn_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_vpn_gateway()
        .vpn_gateway_id(&id)
        .vpc_id(VPC)
        .send()
        .await
        .unwrap();
    id
}

async fn route_tables(ec2: &aws_sdk_ec2::Client) -> Vec<RouteTable> {
    ec2.describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(VPC).build())
        .send()
        .await
        .unwrap()
        .route_tables()
        .to_vec()
}

async fn enable_propagation(ec2: &aws_sdk_ec2::Client, vgw: &str) {
    for rt in route_tables(ec2).await {
        ec2.enable_vgw_route_propagation()
            .route_table_id(rt.route_table_id().unwrap())
            .gateway_id(vgw)
            .send()
            .await
            .unwrap();
    }
}

async fn allow_into_aws(ec2: &aws_sdk_ec2::Client, cidr: &str) {
    let sgs = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(VPC).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sg = sgs.security_groups()[0].group_id().unwrap().to_string();
    ec2.authorize_security_group_ingress()
        .group_id(sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn cgw(ec2: &aws_sdk_ec2::Client, ip: &str, asn: i32) -> String {
    ec2.create_customer_gateway()
        .r#type(GatewayType::Ipsec1)
        .public_ip(ip)
        .bgp_asn(asn)
        .send()
        .await
        .unwrap()
        .customer_gateway()
        .unwrap()
        .customer_gateway_id()
        .unwrap()
        .to_string()
}

/// A VPN connection with explicit inside CIDRs and keys; returns its id and tunnel outside
/// IPs in tunnel order.
async fn vpn_connection(
    ec2: &aws_sdk_ec2::Client,
    vgw: &str,
    cgw: &str,
    static_routes: bool,
    tunnels: [(&str, &str); 2],
    flaws: [Flaw; 2],
) -> (String, Vec<String>) {
    let mut opts = VpnConnectionOptionsSpecification::builder().static_routes_only(static_routes);
    if flaws.contains(&Flaw::NarrowSelectors) {
        opts = opts
            .local_ipv4_network_cidr("10.20.0.0/16")
            .remote_ipv4_network_cidr("10.10.0.0/16");
    }
    for ((inside, psk), flaw) in tunnels.into_iter().zip(flaws) {
        let mut t = VpnTunnelOptionsSpecification::builder()
            .tunnel_inside_cidr(inside)
            .pre_shared_key(psk);
        if flaw == Flaw::IkeV1Only {
            t = t.ike_versions(
                IkeVersionsRequestListValue::builder()
                    .value("ikev1")
                    .build(),
            );
        }
        if flaw == Flaw::Dh22Only {
            t = t.phase1_dh_group_numbers(
                Phase1DhGroupNumbersRequestListValue::builder()
                    .value(22)
                    .build(),
            );
        }
        opts = opts.tunnel_options(t.build());
    }
    let out = ec2
        .create_vpn_connection()
        .r#type("ipsec.1")
        .vpn_gateway_id(vgw)
        .customer_gateway_id(cgw)
        .options(opts.build())
        .send()
        .await
        .unwrap();
    let id = out
        .vpn_connection()
        .unwrap()
        .vpn_connection_id()
        .unwrap()
        .to_string();
    let c = describe_vpn(ec2, &id).await;
    let ips = c
        .options()
        .unwrap()
        .tunnel_options()
        .iter()
        .map(|t| t.outside_ip_address().unwrap().to_string())
        .collect();
    (id, ips)
}

async fn describe_vpn(ec2: &aws_sdk_ec2::Client, id: &str) -> VpnConnection {
    // The EC2 front end models eventual consistency: retry a just-created id briefly.
    for _ in 0..50 {
        if let Ok(out) = ec2
            .describe_vpn_connections()
            .vpn_connection_ids(id)
            .send()
            .await
        {
            if let Some(c) = out.vpn_connections().first() {
                return c.clone();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{id} never became visible");
}

/// `(outside IP, status, status message, accepted routes)` per tunnel, in tunnel order.
async fn telemetry(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    ips: &[String],
) -> Vec<(String, String, String, i32)> {
    let c = describe_vpn(ec2, id).await;
    ips.iter()
        .map(|ip| {
            let t = c
                .vgw_telemetry()
                .iter()
                .find(|t| t.outside_ip_address() == Some(ip.as_str()))
                .unwrap_or_else(|| panic!("no telemetry for {ip}: {c:?}"));
            (
                ip.clone(),
                t.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                t.status_message().unwrap_or_default().to_string(),
                t.accepted_route_count().unwrap_or_default(),
            )
        })
        .collect()
}

/// Routes of the VPC's route tables to `dest` through the VGW.
async fn vgw_routes_to(ec2: &aws_sdk_ec2::Client, dest: &str) -> Vec<Route> {
    route_tables(ec2)
        .await
        .iter()
        .flat_map(|rt| rt.routes().to_vec())
        .filter(|r| r.destination_cidr_block() == Some(dest))
        .filter(|r| r.gateway_id().is_some_and(|g| g.starts_with("vgw-")))
        .collect()
}

// ---------------------------------------------------------------------------------------
// AWS–GCP HA VPN with BGP (Google's interop recipe)

const INSIDE: [&str; 4] = [
    "169.254.10.0/30",
    "169.254.10.4/30",
    "169.254.10.8/30",
    "169.254.10.12/30",
];
const PSKS: [&str; 4] = [
    "Ka1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p",
    "Kb1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p",
    "Kc1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p",
    "Kd1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p",
];

/// What to get wrong on the GCP side of one of the four tunnels.
#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    None,
    /// GCP tunnel with another shared secret.
    Psk,
    /// GCP BGP peer expecting another ASN than the VGW's.
    PeerAsn,
    /// GCP router interface in a /30 AWS knows nothing about.
    InsideAddress,
    /// GCP tunnel on the other HA interface than its AWS customer gateway names.
    WrongInterface,
    /// AWS tunnel restricted to IKEv1 (GCP HA speaks IKEv2).
    IkeV1Only,
    /// AWS tunnel restricted to DH group 22 in phase 1 (Cloud VPN dropped group 22).
    Dh22Only,
    /// AWS connection with narrowed traffic selectors (both of its tunnels).
    NarrowSelectors,
}

fn host(cidr: &str, n: u8) -> String {
    let base: std::net::Ipv4Addr = cidr.split('/').next().unwrap().parse().unwrap();
    let o = base.octets();
    format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3] + n)
}

struct HaLink {
    vgw: String,
    conns: Vec<(String, Vec<String>)>,
}

/// Builds the whole AWS–GCP HA VPN: GCP HA gateway and Cloud Router, AWS VGW, 2 CGWs and 2
/// dynamic VPN connections, GCP external gateway, 4 tunnels, 4 router interfaces and BGP
/// peers, and firewall rules on both sides; `flaws[k]` spoils GCP tunnel k.
async fn ha_link(c: &Clouds, flaws: [Flaw; 4]) -> HaLink {
    let region = format!("regions/{REGION}");
    c.gcp(
        "POST",
        &format!("{region}/vpnGateways"),
        Some(json!({"name": "ha-gw", "network": GCP_NETWORK})),
    )
    .await;
    let gw = c.gcp_get(&format!("{region}/vpnGateways/ha-gw")).await;
    let gcp_ips: Vec<String> = gw["vpnInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ipAddress"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(gcp_ips.len(), 2, "{gw}");
    c.gcp(
        "POST",
        &format!("{region}/routers"),
        Some(json!({"name": "cr", "network": GCP_NETWORK, "bgp": {"asn": ROUTER_ASN}})),
    )
    .await;

    let vgw = vgw(&c.ec2).await;
    enable_propagation(&c.ec2, &vgw).await;
    let mut conns = Vec::new();
    for (i, ip) in gcp_ips.iter().enumerate() {
        let cgw = cgw(&c.ec2, ip, ROUTER_ASN as i32).await;
        let tunnels = [
            (INSIDE[2 * i], PSKS[2 * i]),
            (INSIDE[2 * i + 1], PSKS[2 * i + 1]),
        ];
        let aws_flaws = [flaws[2 * i], flaws[2 * i + 1]];
        conns.push(vpn_connection(&c.ec2, &vgw, &cgw, false, tunnels, aws_flaws).await);
    }
    let aws_ips: Vec<String> = conns.iter().flat_map(|(_, ips)| ips.clone()).collect();

    c.gcp(
        "POST",
        "global/externalVpnGateways",
        Some(json!({
            "name": "aws-peer",
            "redundancyType": "FOUR_IPS_REDUNDANCY",
            "interfaces": aws_ips.iter().enumerate()
                .map(|(i, ip)| json!({"id": i, "ipAddress": ip})).collect::<Vec<_>>(),
        })),
    )
    .await;
    let mut interfaces = Vec::new();
    let mut peers = Vec::new();
    for k in 0..4 {
        let psk = if flaws[k] == Flaw::Psk {
            "Wrong0key0for0this0tunnel0000000"
        } else {
            PSKS[k]
        };
        c.gcp(
            "POST",
            &format!("{region}/vpnTunnels"),
            Some(json!({
                "name": format!("t{k}"),
                "vpnGateway": format!("projects/{PROJECT}/{region}/vpnGateways/ha-gw"),
                "vpnGatewayInterface": if flaws[k] == Flaw::WrongInterface { 1 - k / 2 } else { k / 2 },
                "peerExternalGateway": format!("projects/{PROJECT}/global/externalVpnGateways/aws-peer"),
                "peerExternalGatewayInterface": k,
                "sharedSecret": psk,
                "router": format!("projects/{PROJECT}/{region}/routers/cr"),
                "ikeVersion": 2,
            })),
        )
        .await;
        // AWS takes .1 of each inside /30, the customer gateway (GCP) .2.
        let (mine, theirs) = if flaws[k] == Flaw::InsideAddress {
            // A /30 of its own that AWS knows nothing about.
            ("169.254.20.2".to_string(), "169.254.20.1".to_string())
        } else {
            (host(INSIDE[k], 2), host(INSIDE[k], 1))
        };
        let peer_asn = if flaws[k] == Flaw::PeerAsn {
            64999
        } else {
            VGW_ASN
        };
        interfaces.push(json!({
            "name": format!("if-t{k}"),
            "ipRange": format!("{mine}/30"),
            "linkedVpnTunnel": format!("projects/{PROJECT}/{region}/vpnTunnels/t{k}"),
        }));
        peers.push(json!({
            "name": format!("peer-t{k}"),
            "interfaceName": format!("if-t{k}"),
            "ipAddress": mine,
            "peerIpAddress": theirs,
            "peerAsn": peer_asn,
        }));
    }
    c.gcp(
        "PATCH",
        &format!("{region}/routers/cr"),
        Some(json!({"interfaces": interfaces, "bgpPeers": peers})),
    )
    .await;
    c.gcp(
        "POST",
        "global/firewalls",
        Some(json!({
            "name": "allow-from-aws",
            "network": GCP_NETWORK,
            "direction": "INGRESS",
            "priority": 1000,
            "sourceRanges": ["10.10.0.0/16"],
            "allowed": [{"IPProtocol": "all"}],
        })),
    )
    .await;
    allow_into_aws(&c.ec2, "10.20.0.0/16").await;
    HaLink { vgw, conns }
}

async fn gcp_tunnel(c: &Clouds, k: usize) -> Value {
    c.gcp_get(&format!("regions/{REGION}/vpnTunnels/t{k}"))
        .await
}

async fn router_status(c: &Clouds) -> Value {
    c.gcp_get(&format!("regions/{REGION}/routers/cr/getRouterStatus"))
        .await["result"]
        .clone()
}

fn peer_status(status: &Value, k: usize) -> &Value {
    status["bgpPeerStatus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == format!("peer-t{k}"))
        .unwrap_or_else(|| panic!("no status of peer-t{k}: {status}"))
}

fn best_ranges(status: &Value) -> Vec<String> {
    status["bestRoutes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["destRange"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn reach(sb: &RunningSandbox, from: &str, to: &str) -> Result<net::Path, net::Blocked> {
    sb.sandbox
        .inspect(|world, state| net::reach(world, state, &from.to_string(), &to.to_string(), HTTPS))
}

#[tokio::test]
async fn aws_gcp_ha_vpn_comes_up_with_bgp_routes_both_ways() {
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    let link = ha_link(&c, [Flaw::None; 4]).await;

    for (id, ips) in &link.conns {
        for (ip, status, msg, routes) in telemetry(&c.ec2, id, ips).await {
            assert_eq!(status, "UP", "{id} {ip}: {msg}");
            assert!(routes >= 1, "{id} {ip} accepted no route: {msg}");
        }
    }
    for k in 0..4 {
        let t = gcp_tunnel(&c, k).await;
        assert_eq!(t["status"], "ESTABLISHED", "t{k}: {t}");
    }
    let rs = router_status(&c).await;
    for k in 0..4 {
        let p = peer_status(&rs, k);
        assert_eq!(p["status"], "UP", "{p}");
        assert_eq!(p["numLearnedRoutes"], 1, "{p}");
    }
    assert!(
        best_ranges(&rs).contains(&"10.10.0.0/16".to_string()),
        "{rs}"
    );
    let learned = vgw_routes_to(&c.ec2, "10.20.0.0/16").await;
    assert!(!learned.is_empty(), "no propagated route to GCP");
    assert!(learned
        .iter()
        .all(|r| r.gateway_id() == Some(link.vgw.as_str())));

    let there = reach(&sb, "aws-use1", "gcp-usc1").expect("AWS reaches GCP");
    assert!(!there.back.is_empty());
    reach(&sb, "gcp-usc1", "aws-use1").expect("GCP reaches AWS");
    let v = c.admin_reach("gcp-usc1", "aws-use1").await;
    assert_eq!(v["reachable"], true, "{v}");
    sb.stop().await;
}

#[tokio::test]
async fn each_tunnel_flaw_shows_in_both_clouds_and_routes_come_only_from_established_sessions() {
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    let link = ha_link(
        &c,
        [Flaw::Psk, Flaw::PeerAsn, Flaw::InsideAddress, Flaw::None],
    )
    .await;
    let tel: Vec<_> = {
        let mut all = Vec::new();
        for (id, ips) in &link.conns {
            all.extend(telemetry(&c.ec2, id, ips).await);
        }
        all
    };
    let rs = router_status(&c).await;

    // t0: wrong key — the tunnel itself stays down on both sides.
    let t0 = gcp_tunnel(&c, 0).await;
    assert_eq!(t0["status"], "AUTHORIZATION_ERROR", "{t0}");
    assert_eq!(tel[0].1, "DOWN");
    assert!(tel[0].2.contains("PRE-SHARED KEY"), "{:?}", tel[0]);
    assert_ne!(peer_status(&rs, 0)["status"], "UP");

    // t1 and t2: IPsec is up but BGP is not (ASN, inside address): no routes learned.
    for k in [1, 2] {
        let t = gcp_tunnel(&c, k).await;
        assert_eq!(t["status"], "ESTABLISHED", "t{k}: {t}");
        let p = peer_status(&rs, k);
        assert_ne!(p["status"], "UP", "{p}");
        assert_eq!(p["numLearnedRoutes"], 0, "{p}");
        assert_eq!(tel[k].3, 0, "AWS accepted routes over t{k}: {:?}", tel[k]);
    }
    sb.sandbox.inspect(|world, state| {
        let details: Vec<String> = state
            .ends
            .values()
            .filter_map(|s| s.bgp.as_ref())
            .filter_map(|b| b.detail.clone())
            .collect();
        assert!(details.iter().any(|d| d.contains("ASN")), "{details:?}");
        assert!(
            details.iter().any(|d| d.contains("inside address")),
            "{details:?}"
        );
        let _ = world;
    });

    // t3 is healthy, so the networks still reach each other — over t3 only.
    let p3 = peer_status(&rs, 3);
    assert_eq!(p3["status"], "UP", "{p3}");
    assert_eq!(p3["numLearnedRoutes"], 1);
    assert_eq!(tel[3].1, "UP", "{:?}", tel[3]);
    let path = reach(&sb, "aws-use1", "gcp-usc1").expect("AWS reaches GCP over t3");
    let tunnel_hops: Vec<_> = path
        .forward
        .iter()
        .filter_map(|h| match h {
            net::Hop::Tunnel { to, .. } => Some(to.resource.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(tunnel_hops.len(), 1);
    assert!(tunnel_hops[0].ends_with("vpnTunnels/t3"), "{tunnel_hops:?}");
    sb.stop().await;
}

/// `(GCP status, GCP detailedStatus, AWS status message, physics reason)` of tunnel k.
async fn tunnel_views(
    sb: &RunningSandbox,
    c: &Clouds,
    link: &HaLink,
    k: usize,
) -> (String, String, String, Option<net::DownReason>) {
    let t = gcp_tunnel(c, k).await;
    let (id, ips) = &link.conns[k / 2];
    let tel = telemetry(&c.ec2, id, ips).await;
    let reason = sb.sandbox.inspect(|_, state| {
        state
            .ends
            .iter()
            .find(|(e, _)| e.resource.ends_with(&format!("vpnTunnels/t{k}")))
            .and_then(|(_, s)| s.reason)
    });
    (
        t["status"].as_str().unwrap_or_default().to_string(),
        t["detailedStatus"].as_str().unwrap_or_default().to_string(),
        tel[k % 2].2.clone(),
        reason,
    )
}

#[tokio::test]
async fn ike_version_proposal_and_peer_address_mismatches_each_keep_their_tunnel_down() {
    use net::DownReason::*;
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    let link = ha_link(
        &c,
        [
            Flaw::IkeV1Only,
            Flaw::Dh22Only,
            Flaw::WrongInterface,
            Flaw::None,
        ],
    )
    .await;

    let (gs, _, aws, r) = tunnel_views(&sb, &c, &link, 0).await;
    assert_eq!(
        (gs.as_str(), r),
        ("NEGOTIATION_FAILURE", Some(IkeVersionMismatch))
    );
    assert!(aws.contains("IKE VERSION"), "{aws}");

    let (gs, gd, aws, r) = tunnel_views(&sb, &c, &link, 1).await;
    assert_eq!(
        (gs.as_str(), r),
        ("NEGOTIATION_FAILURE", Some(ProposalMismatch))
    );
    assert!(gd.contains("proposal"), "{gd}");
    assert!(aws.contains("NO PROPOSAL CHOSEN"), "{aws}");

    // GCP t2 sits on interface 0 while AWS connection 2 expects interface 1: AWS's tunnel
    // answers at the address GCP dials but is configured for another peer; AWS itself
    // finds only GCP ends busy with their own tunnels at its peer address.
    let (gs, gd, aws, r) = tunnel_views(&sb, &c, &link, 2).await;
    assert_eq!(
        (gs.as_str(), r),
        ("NEGOTIATION_FAILURE", Some(PeerAddressMismatch))
    );
    assert!(gd.to_lowercase().contains("identity"), "{gd}");
    assert_eq!(aws, "IPSEC IS DOWN");

    let (gs, _, _, r) = tunnel_views(&sb, &c, &link, 3).await;
    assert_eq!((gs.as_str(), r), ("ESTABLISHED", None));
    sb.stop().await;
}

#[tokio::test]
async fn narrowed_aws_selectors_are_refused_by_gcp_ha_vpn() {
    use net::DownReason::*;
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    let link = ha_link(
        &c,
        [
            Flaw::NarrowSelectors,
            Flaw::NarrowSelectors,
            Flaw::None,
            Flaw::None,
        ],
    )
    .await;
    for k in [0, 1] {
        let (gs, gd, aws, r) = tunnel_views(&sb, &c, &link, k).await;
        assert_eq!(
            (gs.as_str(), r),
            ("NEGOTIATION_FAILURE", Some(TrafficSelectorMismatch))
        );
        assert!(gd.contains("Traffic selector"), "{gd}");
        assert!(aws.contains("TRAFFIC SELECTORS"), "{aws}");
    }
    for k in [2, 3] {
        assert_eq!(tunnel_views(&sb, &c, &link, k).await.0, "ESTABLISHED");
    }
    sb.stop().await;
}

#[tokio::test]
async fn without_an_established_session_no_bgp_route_exists_and_nothing_is_reachable() {
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    ha_link(&c, [Flaw::PeerAsn; 4]).await;
    for k in 0..4 {
        assert_eq!(gcp_tunnel(&c, k).await["status"], "ESTABLISHED");
    }
    let rs = router_status(&c).await;
    assert!(best_ranges(&rs).is_empty(), "{rs}");
    assert!(vgw_routes_to(&c.ec2, "10.20.0.0/16").await.is_empty());
    let err = reach(&sb, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(
        (err.direction, err.at),
        (Direction::Forward, BlockedAt::NoRoute)
    );
    let err = reach(&sb, "gcp-usc1", "aws-use1").unwrap_err();
    assert_eq!(err.at, BlockedAt::NoRoute, "{}", err.message);
    sb.stop().await;
}

#[tokio::test]
async fn deleting_the_gcp_firewall_rule_blocks_only_traffic_into_gcp() {
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    ha_link(&c, [Flaw::None; 4]).await;
    reach(&sb, "aws-use1", "gcp-usc1").expect("reachable before the delete");

    c.gcp("DELETE", "global/firewalls/allow-from-aws", None)
        .await;
    let err = reach(&sb, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(err.direction, Direction::Forward);
    assert_eq!(err.at, BlockedAt::Ingress);
    assert_eq!(err.network, Some(format!("gcp:{GCP_NETWORK}")));
    assert!(
        err.message.starts_with("AWS→GCP blocked") && err.message.contains("gcp-usc1"),
        "{}",
        err.message
    );
    // GCP → AWS still works: AWS admits it, and GCP's replies need no rule (stateful).
    reach(&sb, "gcp-usc1", "aws-use1").expect("GCP still reaches AWS");

    let v = c.admin_reach("aws-use1", "gcp-usc1").await;
    assert_eq!(v["reachable"], false, "{v}");
    assert_eq!(v["blocked_at"]["at"], "ingress", "{v}");
    assert_eq!(
        c.admin_reach("gcp-usc1", "aws-use1").await["reachable"],
        true
    );
    sb.stop().await;
}

// ---------------------------------------------------------------------------------------
// AWS–Azure static (one local network gateway for AWS tunnel 1; tunnel 2 standby)

const AZ_PSK: &str = "Az1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p";
const AZ_PSK2: &str = "Az2b2c3d4e5f6g7h8i9j0k1l2m3n4o5p";

/// Builds the Azure gateway side and the AWS static VPN connection to it; the Azure
/// connection uses `azure_key`. Returns the AWS connection id and its tunnel IPs.
async fn azure_static_link(c: &Clouds, azure_key: &str) -> (String, Vec<String>) {
    let loc = "eastus";
    c.arm(
        "PUT",
        "virtualNetworks/prod-vnet/subnets/GatewaySubnet",
        Some(json!({"properties": {"addressPrefix": "10.30.255.0/27"}})),
    )
    .await;
    let pip = c
        .arm(
            "PUT",
            "publicIPAddresses/az-gw-ip",
            Some(json!({
                "location": loc,
                "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static"},
            })),
        )
        .await;
    let azure_ip = pip["properties"]["ipAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("no static IP at creation: {pip}"))
        .to_string();
    c.arm(
        "PUT",
        "virtualNetworkGateways/az-gw",
        Some(json!({
            "location": loc,
            "properties": {
                "ipConfigurations": [{
                    "name": "default",
                    "properties": {
                        "privateIPAllocationMethod": "Dynamic",
                        "subnet": {"id": c.arm_id("virtualNetworks/prod-vnet/subnets/GatewaySubnet")},
                        "publicIPAddress": {"id": c.arm_id("publicIPAddresses/az-gw-ip")},
                    },
                }],
                "gatewayType": "Vpn",
                "vpnType": "RouteBased",
                "enableBgp": false,
                "sku": {"name": "VpnGw1", "tier": "VpnGw1"},
            },
        })),
    )
    .await;

    let vgw = vgw(&c.ec2).await;
    enable_propagation(&c.ec2, &vgw).await;
    let cgw = cgw(&c.ec2, &azure_ip, 65000).await;
    let (conn, ips) = vpn_connection(
        &c.ec2,
        &vgw,
        &cgw,
        true,
        [("169.254.30.0/30", AZ_PSK), ("169.254.30.4/30", AZ_PSK2)],
        [Flaw::None; 2],
    )
    .await;
    c.ec2
        .create_vpn_connection_route()
        .vpn_connection_id(&conn)
        .destination_cidr_block("10.30.0.0/16")
        .send()
        .await
        .unwrap();
    allow_into_aws(&c.ec2, "10.30.0.0/16").await;

    c.arm(
        "PUT",
        "localNetworkGateways/aws-t1",
        Some(json!({
            "location": loc,
            "properties": {
                "gatewayIpAddress": ips[0],
                "localNetworkAddressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
            },
        })),
    )
    .await;
    c.arm(
        "PUT",
        "connections/aws-t1",
        Some(json!({
            "location": loc,
            "properties": {
                "connectionType": "IPsec",
                "virtualNetworkGateway1": {"id": c.arm_id("virtualNetworkGateways/az-gw"), "properties": {}},
                "localNetworkGateway2": {"id": c.arm_id("localNetworkGateways/aws-t1"), "properties": {}},
                "sharedKey": azure_key,
                "connectionProtocol": "IKEv2",
                "enableBgp": false,
            },
        })),
    )
    .await;
    (conn, ips)
}

#[tokio::test]
async fn aws_azure_static_link_is_up_on_tunnel_one_with_tunnel_two_standby() {
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    let (conn, ips) = azure_static_link(&c, AZ_PSK).await;

    let status = c.arm("GET", "connections/aws-t1", None).await;
    assert_eq!(
        status["properties"]["connectionStatus"], "Connected",
        "{status}"
    );
    let tel = telemetry(&c.ec2, &conn, &ips).await;
    assert_eq!(tel[0].1, "UP", "{:?}", tel[0]);
    assert_eq!(tel[1].1, "DOWN", "{:?}", tel[1]);
    sb.sandbox.inspect(|_, state| {
        let t2 = state
            .ends
            .iter()
            .find(|(id, _)| id.resource == conn && id.tunnel == 1)
            .map(|(_, s)| s.clone())
            .expect("tunnel 2 has a verdict");
        assert_eq!(t2.reason, Some(net::DownReason::NoPeer), "{t2:?}");
    });

    reach(&sb, "aws-use1", "az-eus").expect("AWS reaches Azure");
    reach(&sb, "az-eus", "aws-use1").expect("Azure reaches AWS");
    // The GCP link was never built: nothing reaches it.
    let err = reach(&sb, "aws-use1", "gcp-usc1").unwrap_err();
    assert_eq!(err.at, BlockedAt::NoRoute, "{}", err.message);
    sb.stop().await;
}

#[tokio::test]
async fn aws_azure_key_mismatch_stays_down_in_both_apis_and_blocks_traffic() {
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    let (conn, ips) = azure_static_link(&c, "Wrong0azure0key0000000000000000x").await;

    let status = c.arm("GET", "connections/aws-t1", None).await;
    assert_eq!(
        status["properties"]["connectionStatus"], "NotConnected",
        "{status}"
    );
    let tel = telemetry(&c.ec2, &conn, &ips).await;
    assert_eq!(tel[0].1, "DOWN");
    assert!(tel[0].2.contains("PRE-SHARED KEY"), "{:?}", tel[0]);
    assert!(
        !status.to_string().contains("Wrong0azure0key"),
        "the key leaked: {status}"
    );

    let err = reach(&sb, "aws-use1", "az-eus").unwrap_err();
    assert_eq!(err.direction, Direction::Forward);
    assert!(
        matches!(err.at, BlockedAt::NoRoute | BlockedAt::Tunnel),
        "{}",
        err.message
    );
    sb.stop().await;
}

#[tokio::test]
async fn admin_api_lists_every_end_and_refuses_malformed_reach_questions() {
    let sb = common::start(common::triangle()).await;
    let c = Clouds::new(&sb);
    azure_static_link(&c, AZ_PSK).await;

    let (status, v) = c.send("GET", format!("{}/_sandbox/net", c.url), None).await;
    assert_eq!(status, 200);
    let ends = v["ends"].as_array().unwrap_or_else(|| panic!("{v}"));
    // Two AWS tunnels and one Azure connection.
    assert_eq!(ends.len(), 3, "{v}");
    assert_eq!(ends.iter().filter(|e| e["up"] == true).count(), 2, "{v}");
    assert!(ends.iter().any(|e| e["reason"] == "NoPeer"), "{v}");
    assert!(!v.to_string().contains(AZ_PSK), "a key leaked: {v}");

    let v = c.admin_reach("aws-use1", "az-eus").await;
    assert_eq!(v["reachable"], true, "{v}");
    assert_eq!(v["from"]["name"], "aws-use1");
    assert_eq!(v["to"]["cloud"], "azure");
    assert!(
        v["path"]["forward"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{v}"
    );

    for bad in [
        "from=aws-use1&to=az-eus&proto=sctp&port=1",
        "from=aws-use1&to=az-eus&proto=tcp",
        "from=aws-use1&to=az-eus&proto=icmp&port=7",
        "from=aws-use1&proto=tcp&port=443",
    ] {
        let (status, v) = c
            .send("GET", format!("{}/_sandbox/reach?{bad}", c.url), None)
            .await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let v = c.admin_reach("aws-use1", "no-such-net").await;
    assert_eq!(v["reachable"], false);
    assert_eq!(v["blocked_at"]["at"], "unknown_network", "{v}");
    sb.stop().await;
}
