//! The sandbox's Compute front end driven by the real google-cloud-compute-v1 crate (every
//! operation peerctl needs, Operation polling, error codes, retries of injected faults,
//! counters, tunnel and BGP status from the physics), by the Python google-cloud-compute
//! client, and checked against the published Compute discovery document.

use crate::common;
use google_cloud_auth::credentials::anonymous;
use google_cloud_compute_v1::builder;
use google_cloud_compute_v1::client::*;
use google_cloud_compute_v1::model::*;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::{AlwaysRetry, RetryPolicyExt};
use google_cloud_lro::Poller;
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::net::{CloudModel, Flow, FwDecision, Proto, RouteDecision};
use peerctl::sandbox::{RunningSandbox, SandboxConfig};
use peerctl::topology::Topology;
use std::net::Ipv4Addr;
use std::time::Duration;

const P: &str = "acme-net";
const R: &str = "us-central1";
const PROD: &str = "gcp:projects/acme-net/global/networks/prod-vpc";

/// The triangle plus a second GCP network (edge-vpc, 10.40.0.0/16) so that both ends of a
/// tunnel can be driven through the GCP API alone.
fn topology() -> Topology {
    let mut t = common::triangle();
    t.networks
        .push(common::gcp_net("gcp-edge", "edge-vpc", "10.40.0.0/16"));
    t
}

async fn start() -> RunningSandbox {
    common::start(topology()).await
}

/// A sandbox at time scale 1: every operation is RUNNING until its latency has passed on
/// the sandbox clock.
async fn start_timed() -> RunningSandbox {
    common::start_with(
        topology(),
        SandboxConfig {
            latency: Latency { scale: 1.0 },
            ..SandboxConfig::default()
        },
    )
    .await
}

/// Polling and retry backoff of milliseconds: the sandbox answers at once.
fn fast() -> google_cloud_gax::exponential_backoff::ExponentialBackoff {
    ExponentialBackoffBuilder::new()
        .with_initial_delay(Duration::from_millis(5))
        .with_maximum_delay(Duration::from_millis(20))
        .build()
        .expect("backoff")
}

macro_rules! client {
    ($t:ty, $url:expr) => {
        <$t>::builder()
            .with_endpoint($url)
            .with_credentials(anonymous::Builder::new().build())
            .with_polling_backoff_policy(fast())
            .with_backoff_policy(fast())
            .with_attempt_timeout(Duration::from_secs(10))
            .build()
            .await
            .expect(stringify!($t))
    };
}

/// One client per collection, all on the sandbox.
struct Gcp {
    url: String,
    nets: Networks,
    subnets: Subnetworks,
    gws: VpnGateways,
    ext: ExternalVpnGateways,
    routers: Routers,
    tunnels: VpnTunnels,
    tgws: TargetVpnGateways,
    addrs: Addresses,
    fwd: ForwardingRules,
    routes: Routes,
    fws: Firewalls,
    rops: RegionOperations,
    gops: GlobalOperations,
}

async fn gcp(url: &str) -> Gcp {
    Gcp {
        url: url.to_string(),
        nets: client!(Networks, url),
        subnets: client!(Subnetworks, url),
        gws: client!(VpnGateways, url),
        ext: client!(ExternalVpnGateways, url),
        routers: client!(Routers, url),
        tunnels: client!(VpnTunnels, url),
        tgws: client!(TargetVpnGateways, url),
        addrs: client!(Addresses, url),
        fwd: client!(ForwardingRules, url),
        routes: client!(Routes, url),
        fws: client!(Firewalls, url),
        rops: client!(RegionOperations, url),
        gops: client!(GlobalOperations, url),
    }
}

/// Runs an LRO to completion (bounded: a never-finishing operation would poll forever) and
/// turns an operation error into `Err`.
async fn done<P: Poller<Operation, Operation>>(p: P) -> Operation {
    let op = tokio::time::timeout(Duration::from_secs(20), p.until_done())
        .await
        .expect("operation finished in time")
        .expect("operation polled");
    op.to_result().expect("operation succeeded")
}

async fn admin(url: &str, method: &str, path: &str, body: &str) -> serde_json::Value {
    let http = reqwest::Client::new();
    let req = match method {
        "POST" => http.post(format!("{url}{path}")).body(body.to_string()),
        _ => http.get(format!("{url}{path}")),
    };
    let text = req.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn raw_get(url: &str, path: &str) -> serde_json::Value {
    admin(url, "GET", &format!("/compute/v1/{path}"), "").await
}

/// Request builders of one collection with the project (and, for a regional one, the region)
/// already set, so that a test names only what it is about; the caller finishes each with
/// `send()` or `poller()`.
macro_rules! collection {
    (@regional $field:ident, $m:ident, $body:ty, $setter:ident,
     $insert:ident, $get:ident, $delete:ident, $list:ident) => {
        fn $insert(&self, body: $body) -> builder::$m::Insert {
            self.$field
                .insert()
                .set_project(P)
                .set_region(R)
                .set_body(body)
        }
        fn $get(&self, name: &str) -> builder::$m::Get {
            self.$field.get().set_project(P).set_region(R).$setter(name)
        }
        fn $delete(&self, name: &str) -> builder::$m::Delete {
            self.$field
                .delete()
                .set_project(P)
                .set_region(R)
                .$setter(name)
        }
        fn $list(&self) -> builder::$m::List {
            self.$field.list().set_project(P).set_region(R)
        }
    };
    (@global $field:ident, $m:ident, $body:ty, $setter:ident,
     $insert:ident, $get:ident, $delete:ident, $list:ident) => {
        fn $insert(&self, body: $body) -> builder::$m::Insert {
            self.$field.insert().set_project(P).set_body(body)
        }
        fn $get(&self, name: &str) -> builder::$m::Get {
            self.$field.get().set_project(P).$setter(name)
        }
        fn $delete(&self, name: &str) -> builder::$m::Delete {
            self.$field.delete().set_project(P).$setter(name)
        }
        fn $list(&self) -> builder::$m::List {
            self.$field.list().set_project(P)
        }
    };
}

impl Gcp {
    collection!(@regional tunnels, vpn_tunnels, VpnTunnel, set_vpn_tunnel,
        insert_tunnel, get_tunnel, delete_tunnel, list_tunnels);
    collection!(@regional gws, vpn_gateways, VpnGateway, set_vpn_gateway,
        insert_gateway, get_gateway, delete_gateway, list_gateways);
    collection!(@global ext, external_vpn_gateways, ExternalVpnGateway, set_external_vpn_gateway,
        insert_external_gw, get_external_gw, delete_external_gw, list_external_gws);
    collection!(@regional routers, routers, Router, set_router,
        insert_router, get_router, delete_router, list_routers);
    collection!(@regional tgws, target_vpn_gateways, TargetVpnGateway, set_target_vpn_gateway,
        insert_tgw, get_tgw, delete_tgw, list_tgws);
    collection!(@regional addrs, addresses, Address, set_address,
        insert_address, get_address, delete_address, list_addresses);
    collection!(@regional fwd, forwarding_rules, ForwardingRule, set_forwarding_rule,
        insert_forwarding_rule, get_forwarding_rule, delete_forwarding_rule, list_forwarding_rules);
    collection!(@global routes, routes, Route, set_route,
        insert_route, get_route, delete_route, list_routes);
    collection!(@global fws, firewalls, Firewall, set_firewall,
        insert_firewall, get_firewall, delete_firewall, list_firewalls);

    fn patch_router(&self, name: &str, body: Router) -> builder::routers::Patch {
        self.routers
            .patch()
            .set_project(P)
            .set_region(R)
            .set_router(name)
            .set_body(body)
    }

    fn patch_firewall(&self, name: &str, body: Firewall) -> builder::firewalls::Patch {
        self.fws
            .patch()
            .set_project(P)
            .set_firewall(name)
            .set_body(body)
    }

    fn update_firewall(&self, name: &str, body: Firewall) -> builder::firewalls::Update {
        self.fws
            .update()
            .set_project(P)
            .set_firewall(name)
            .set_body(body)
    }

    async fn router_status(&self, name: &str) -> RouterStatus {
        self.routers
            .get_router_status()
            .set_project(P)
            .set_region(R)
            .set_router(name)
            .send()
            .await
            .expect("router status")
            .result
            .expect("result")
    }

    async fn ha_gateway(&self, name: &str, network: &str) -> VpnGateway {
        done(
            self.insert_gateway(
                VpnGateway::new()
                    .set_name(name)
                    .set_network(network)
                    .set_labels([("peerctl-topology", "prod-mesh")]),
            )
            .poller(),
        )
        .await;
        self.get_gateway(name).send().await.expect("get gateway")
    }

    async fn external(&self, name: &str, ips: &[String]) {
        let ifaces: Vec<ExternalVpnGatewayInterface> = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                ExternalVpnGatewayInterface::new()
                    .set_id(i as u32)
                    .set_ip_address(ip)
            })
            .collect();
        done(
            self.insert_external_gw(
                ExternalVpnGateway::new()
                    .set_name(name)
                    .set_redundancy_type(external_vpn_gateway::RedundancyType::TwoIpsRedundancy)
                    .set_interfaces(ifaces),
            )
            .poller(),
        )
        .await;
    }

    async fn router(&self, name: &str, network: &str, asn: u32) {
        done(
            self.insert_router(
                Router::new()
                    .set_name(name)
                    .set_network(network)
                    .set_bgp(RouterBgp::new().set_asn(asn)),
            )
            .poller(),
        )
        .await;
    }

    /// Adds the BGP interface and peer for `tunnel` to `router` with PATCH, as peerctl does.
    async fn bgp(&self, router: &str, tunnel: &str, local: &str, peer: &str, peer_asn: u32) {
        done(
            self.patch_router(
                router,
                Router::new()
                    .set_interfaces([RouterInterface::new()
                        .set_name("if-0")
                        .set_ip_range(format!("{local}/30"))
                        .set_linked_vpn_tunnel(format!(
                            "projects/{P}/regions/{R}/vpnTunnels/{tunnel}"
                        ))])
                    .set_bgp_peers([RouterBgpPeer::new()
                        .set_name("peer-0")
                        .set_interface_name("if-0")
                        .set_ip_address(local)
                        .set_peer_ip_address(peer)
                        .set_peer_asn(peer_asn)]),
            )
            .poller(),
        )
        .await;
    }

    async fn tunnel(&self, name: &str) -> VpnTunnel {
        self.get_tunnel(name).send().await.expect("get tunnel")
    }

    async fn classic_front(&self, suffix: &str, network: &str) -> String {
        let addr = format!("vpn-ip-{suffix}");
        done(self.insert_address(Address::new().set_name(&addr)).poller()).await;
        done(
            self.insert_tgw(
                TargetVpnGateway::new()
                    .set_name(format!("tgw-{suffix}"))
                    .set_network(network),
            )
            .poller(),
        )
        .await;
        self.get_address(&addr)
            .send()
            .await
            .expect("get address")
            .address
            .expect("address assigned")
    }

    async fn forwarding_rules(&self, suffix: &str, ip: &str) {
        for (name, proto, ports) in [
            ("esp", forwarding_rule::IPProtocol::Esp, None),
            ("udp500", forwarding_rule::IPProtocol::Udp, Some("500")),
            ("udp4500", forwarding_rule::IPProtocol::Udp, Some("4500")),
        ] {
            let mut rule = ForwardingRule::new()
                .set_name(format!("fr-{suffix}-{name}"))
                .set_ip_protocol(proto)
                .set_ip_address(ip)
                .set_target(format!(
                    "https://www.googleapis.com/compute/v1/projects/{P}/regions/{R}/targetVpnGateways/tgw-{suffix}"
                ));
            if let Some(p) = ports {
                rule = rule.set_port_range(p);
            }
            done(self.insert_forwarding_rule(rule).poller()).await;
        }
    }

    async fn classic_tunnel(&self, name: &str, suffix: &str, peer: &str, secret: &str) {
        done(
            self.insert_tunnel(
                VpnTunnel::new()
                    .set_name(name)
                    .set_target_vpn_gateway(format!("regions/{R}/targetVpnGateways/tgw-{suffix}"))
                    .set_peer_ip(peer)
                    .set_shared_secret(secret)
                    .set_ike_version(2)
                    .set_local_traffic_selector(["0.0.0.0/0"])
                    .set_remote_traffic_selector(["0.0.0.0/0"]),
            )
            .poller(),
        )
        .await;
    }
}

/// The Google error code of a failed call.
fn code(err: &google_cloud_compute_v1::Error) -> Option<Code> {
    err.status().map(|s| s.code)
}

/// An HA tunnel on interface 0 of `gw` and of the external gateway `ext`, with the test key.
fn ha_tunnel(name: &str, gw: &str, ext: &str, router: &str) -> VpnTunnel {
    VpnTunnel::new()
        .set_name(name)
        .set_vpn_gateway(gw)
        .set_vpn_gateway_interface(0)
        .set_peer_external_gateway(ext)
        .set_peer_external_gateway_interface(0)
        .set_router(router)
        .set_shared_secret(SECRET)
}

fn status(t: &VpnTunnel) -> String {
    t.status.as_ref().map(|s| s.to_string()).unwrap_or_default()
}

fn ips(gw: &VpnGateway) -> Vec<String> {
    gw.vpn_interfaces
        .iter()
        .map(|i| i.ip_address.clone().expect("interface address"))
        .collect()
}

const SECRET: &str = "Kx7pQ2mZr9Lw4Vt8Nc3Hb6Yd1Fs5Gj0A";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_networks_and_subnetworks_are_served_as_the_topology_declares() {
    let sb = start().await;
    let g = gcp(&sb.url()).await;
    let net = g
        .nets
        .get()
        .set_project(P)
        .set_network("prod-vpc")
        .send()
        .await
        .expect("network");
    assert_eq!(net.auto_create_subnetworks, Some(false));
    assert_eq!(net.subnetworks.len(), 1);
    assert!(net.subnetworks[0].ends_with("/regions/us-central1/subnetworks/prod-vpc-us-central1"));
    let subnets = g
        .subnets
        .list()
        .set_project(P)
        .set_region(R)
        .send()
        .await
        .expect("subnetworks");
    let mut ranges: Vec<(String, String)> = subnets
        .items
        .iter()
        .map(|s| {
            (
                s.name.clone().unwrap_or_default(),
                s.ip_cidr_range.clone().unwrap_or_default(),
            )
        })
        .collect();
    ranges.sort();
    assert_eq!(
        ranges,
        vec![
            (
                "edge-vpc-us-central1".to_string(),
                "10.40.0.0/16".to_string()
            ),
            (
                "prod-vpc-us-central1".to_string(),
                "10.20.0.0/16".to_string()
            ),
        ]
    );
    // No firewall rules besides the implied ones, and nothing counted as created.
    let fws = g.list_firewalls().send().await.expect("firewalls");
    assert!(fws.items.is_empty());
    let stats = admin(&sb.url(), "GET", "/_sandbox/stats", "").await;
    assert_eq!(stats["created_resources"], 0);
    let verdict = sb.sandbox.inspect(|w, _| {
        w.gcp.ingress(
            PROD,
            Ipv4Addr::new(10, 10, 0, 5),
            Flow {
                proto: Proto::Tcp,
                port: Some(22),
            },
        )
    });
    assert!(
        matches!(verdict, FwDecision::Deny { rule } if rule.contains("implied deny-all ingress"))
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ha_vpn_between_two_networks_comes_up_and_bgp_exchanges_subnets() {
    let sb = start().await;
    let g = gcp(&sb.url()).await;
    // Three reference forms clients send: partial, full googleapis URL, sandbox URL.
    let a = g.ha_gateway("gw-a", "global/networks/prod-vpc").await;
    let b = g
        .ha_gateway(
            "gw-b",
            &format!("https://www.googleapis.com/compute/v1/projects/{P}/global/networks/edge-vpc"),
        )
        .await;
    let (ia, ib) = (ips(&a), ips(&b));
    assert_eq!(ia.len(), 2);
    assert_ne!(ia, ib);
    assert!(a
        .network
        .as_deref()
        .unwrap_or_default()
        .ends_with("/global/networks/prod-vpc"));
    g.external("peer-of-a", &ib).await;
    g.external("peer-of-b", &ia).await;
    g.router("router-a", "global/networks/prod-vpc", 64514)
        .await;
    g.router("router-b", "global/networks/edge-vpc", 64515)
        .await;
    for (name, gw, ext, router) in [
        ("tun-a0", "gw-a", "peer-of-a", "router-a"),
        ("tun-b0", "gw-b", "peer-of-b", "router-b"),
    ] {
        done(
            g.insert_tunnel(
                ha_tunnel(
                    name,
                    &format!(
                        "{}/compute/v1/projects/{P}/regions/{R}/vpnGateways/{gw}",
                        g.url
                    ),
                    &format!("projects/{P}/global/externalVpnGateways/{ext}"),
                    router,
                )
                .set_ike_version(2),
            )
            .poller(),
        )
        .await;
    }
    let t = g.tunnel("tun-a0").await;
    assert_eq!(status(&t), "ESTABLISHED", "{:?}", t.detailed_status);
    assert_eq!(t.shared_secret.as_deref(), Some("*************"));
    assert!(t.shared_secret_hash.is_some());
    assert_eq!(t.peer_ip.as_deref(), Some(ib[0].as_str()));
    assert_eq!(t.local_traffic_selector, vec!["0.0.0.0/0".to_string()]);
    let listed = g.list_tunnels().send().await.expect("list");
    let body = serde_json::to_string(&listed).unwrap();
    assert!(!body.contains(SECRET), "the shared secret never comes back");

    // Without BGP configured the router has no peers to report.
    assert!(g.router_status("router-a").await.bgp_peer_status.is_empty());

    g.bgp("router-a", "tun-a0", "169.254.10.1", "169.254.10.2", 64515)
        .await;
    g.bgp("router-b", "tun-b0", "169.254.10.2", "169.254.10.1", 64514)
        .await;
    let router = g.get_router("router-a").send().await.expect("router");
    assert_eq!(
        router.bgp.as_ref().and_then(|b| b.asn),
        Some(64514),
        "patch keeps unsent fields"
    );
    assert_eq!(router.interfaces.len(), 1);
    let st = g.router_status("router-a").await;
    let peer = &st.bgp_peer_status[0];
    assert_eq!(
        peer.status.as_ref().map(|s| s.to_string()).as_deref(),
        Some("UP")
    );
    assert_eq!(peer.state.as_deref(), Some("Established"));
    assert_eq!(peer.num_learned_routes, Some(1));
    assert_eq!(st.best_routes.len(), 1);
    assert_eq!(
        st.best_routes[0].dest_range.as_deref(),
        Some("10.40.0.0/16")
    );
    assert!(st.best_routes[0]
        .next_hop_vpn_tunnel
        .as_deref()
        .unwrap_or_default()
        .ends_with("/vpnTunnels/tun-a0"));
    let decision = sb
        .sandbox
        .inspect(|w, net| w.gcp.route(PROD, Ipv4Addr::new(10, 40, 3, 4), net));
    assert!(
        matches!(&decision, RouteDecision::Tunnel { end, route } if end.resource.ends_with("vpnTunnels/tun-a0") && route.contains("BGP")),
        "{decision:?}"
    );

    // One interface only: HA redundancy is not met.
    let gs = g
        .gws
        .get_status()
        .set_project(P)
        .set_region(R)
        .set_vpn_gateway("gw-a")
        .send()
        .await
        .expect("gateway status");
    let conn = &gs.result.expect("result").vpn_connections[0];
    assert_eq!(conn.tunnels.len(), 1);
    let state = serde_json::to_value(conn.state.as_ref().expect("state")).unwrap();
    assert_eq!(state["state"], "CONNECTION_REDUNDANCY_NOT_MET");

    // A wrong peer ASN: the tunnel stays up, the session does not establish, routes vanish.
    g.bgp("router-b", "tun-b0", "169.254.10.2", "169.254.10.1", 65000)
        .await;
    let st = g.router_status("router-a").await;
    assert_eq!(
        st.bgp_peer_status[0]
            .status
            .as_ref()
            .map(|s| s.to_string())
            .as_deref(),
        Some("DOWN")
    );
    assert_eq!(st.bgp_peer_status[0].num_learned_routes, Some(0));
    assert!(st.best_routes.is_empty());
    assert_eq!(status(&g.tunnel("tun-a0").await), "ESTABLISHED");
    let decision = sb
        .sandbox
        .inspect(|w, net| w.gcp.route(PROD, Ipv4Addr::new(10, 40, 3, 4), net));
    assert!(
        matches!(decision, RouteDecision::NoRoute { .. }),
        "{decision:?}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_vpn_waits_for_forwarding_rules_and_names_each_failure() {
    let sb = start().await;
    let g = gcp(&sb.url()).await;
    let ip_a = g.classic_front("a", "global/networks/prod-vpc").await;
    let ip_b = g.classic_front("b", "global/networks/edge-vpc").await;
    g.classic_tunnel("ct-a", "a", &ip_b, SECRET).await;
    let t = g.tunnel("ct-a").await;
    assert_eq!(status(&t), "WAITING_FOR_FULL_CONFIG");
    assert!(t
        .detailed_status
        .as_deref()
        .unwrap_or_default()
        .contains("ESP, UDP 500, UDP 4500"));

    g.forwarding_rules("a", &ip_a).await;
    let t = g.tunnel("ct-a").await;
    assert_eq!(status(&t), "NO_INCOMING_PACKETS", "{:?}", t.detailed_status);

    // A static route is in the table but not in effect while its tunnel is down.
    done(
        g.insert_route(
            Route::new()
                .set_name("to-edge")
                .set_network("global/networks/prod-vpc")
                .set_dest_range("10.40.0.0/16")
                .set_next_hop_vpn_tunnel(format!("projects/{P}/regions/{R}/vpnTunnels/ct-a"))
                .set_priority(1000u32),
        )
        .poller(),
    )
    .await;
    let raw = raw_get(&sb.url(), &format!("projects/{P}/global/routes/to-edge")).await;
    assert_eq!(raw["warnings"][0]["code"], "NEXT_HOP_NOT_RUNNING");
    let decision = sb
        .sandbox
        .inspect(|w, net| w.gcp.route(PROD, Ipv4Addr::new(10, 40, 0, 9), net));
    assert!(
        matches!(&decision, RouteDecision::NoRoute { table } if table.contains("to-edge")),
        "{decision:?}"
    );

    g.forwarding_rules("b", &ip_b).await;
    g.classic_tunnel("ct-b", "b", &ip_a, "WrongSecret0123456789abcdefABCDE")
        .await;
    assert_eq!(status(&g.tunnel("ct-a").await), "AUTHORIZATION_ERROR");
    let t = g.tunnel("ct-b").await;
    assert_eq!(status(&t), "AUTHORIZATION_ERROR");
    assert!(!t
        .detailed_status
        .unwrap_or_default()
        .contains("WrongSecret"));

    // Tunnels cannot be edited: delete and recreate with the right key.
    done(g.delete_tunnel("ct-b").poller()).await;
    g.classic_tunnel("ct-b", "b", &ip_a, SECRET).await;
    assert_eq!(status(&g.tunnel("ct-a").await), "ESTABLISHED");
    assert_eq!(status(&g.tunnel("ct-b").await), "ESTABLISHED");
    let raw = raw_get(&sb.url(), &format!("projects/{P}/global/routes/to-edge")).await;
    assert!(raw.get("warnings").is_none(), "{raw}");
    let decision = sb
        .sandbox
        .inspect(|w, net| w.gcp.route(PROD, Ipv4Addr::new(10, 40, 0, 9), net));
    assert!(
        matches!(&decision, RouteDecision::Tunnel { end, route } if end.resource.ends_with("vpnTunnels/ct-a") && route.contains("to-edge")),
        "{decision:?}"
    );

    let addr = g.get_address("vpn-ip-a").send().await.expect("address");
    assert_eq!(
        addr.status.map(|s| s.to_string()).as_deref(),
        Some("IN_USE")
    );
    assert_eq!(addr.users.len(), 3);
    let tgw = g.get_tgw("tgw-a").send().await.expect("target gateway");
    assert_eq!(tgw.forwarding_rules.len(), 3);
    assert_eq!(tgw.tunnels.len(), 1);

    // Deleting the gateway under its tunnel fails in the operation, as GCP reports it.
    let op = tokio::time::timeout(
        Duration::from_secs(20),
        g.delete_tgw("tgw-a").poller().until_done(),
    )
    .await
    .unwrap()
    .expect("polled");
    let err = op.to_result().expect_err("in use");
    assert!(
        format!("{err:?}").contains("RESOURCE_IN_USE_BY_ANOTHER_RESOURCE"),
        "{err:?}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_run_until_the_latency_model_says_done() {
    let sb = start_timed().await;
    let g = gcp(&sb.url()).await;
    let op = g
        .insert_gateway(
            VpnGateway::new()
                .set_name("slow")
                .set_network("global/networks/prod-vpc"),
        )
        .send()
        .await
        .expect("insert");
    assert_eq!(op_status(&op), "RUNNING");
    let name = op.name.clone().expect("operation name");
    let get = || {
        g.rops
            .get()
            .set_project(P)
            .set_region(R)
            .set_operation(&name)
            .send()
    };
    assert_eq!(op_status(&get().await.unwrap()), "RUNNING");
    // The gateway exists (with its addresses) while its operation runs.
    let gw = g.get_gateway("slow").send().await.unwrap();
    assert_eq!(ips(&gw).len(), 2);
    sb.sandbox.advance_clock(61_000);
    let op = get().await.unwrap();
    assert_eq!(op_status(&op), "DONE");
    assert_eq!(op.progress, Some(100));
    assert!(op
        .target_link
        .unwrap_or_default()
        .ends_with("/vpnGateways/slow"));
    let waited = g
        .rops
        .wait()
        .set_project(P)
        .set_region(R)
        .set_operation(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(op_status(&waited), "DONE");

    // Global operations, and a tunnel that is PROVISIONING until its create finishes.
    let op = g
        .insert_firewall(
            Firewall::new()
                .set_name("slow-fw")
                .set_network("global/networks/prod-vpc")
                .set_source_ranges(["10.10.0.0/16"])
                .set_allowed([firewall::Allowed::new().set_ip_protocol("icmp")]),
        )
        .send()
        .await
        .unwrap();
    let gname = op.name.clone().unwrap();
    let gget = || g.gops.get().set_project(P).set_operation(&gname).send();
    assert_eq!(op_status(&gget().await.unwrap()), "RUNNING");
    sb.sandbox.advance_clock(11_000);
    assert_eq!(op_status(&gget().await.unwrap()), "DONE");

    g.insert_tgw(
        TargetVpnGateway::new()
            .set_name("tgw-slow")
            .set_network("global/networks/prod-vpc"),
    )
    .send()
    .await
    .unwrap();
    sb.sandbox.advance_clock(31_000);
    g.insert_tunnel(
        VpnTunnel::new()
            .set_name("slow-tunnel")
            .set_target_vpn_gateway("tgw-slow")
            .set_peer_ip("198.19.0.10")
            .set_shared_secret(SECRET),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(status(&g.tunnel("slow-tunnel").await), "PROVISIONING");
    sb.sandbox.advance_clock(61_000);
    assert_eq!(
        status(&g.tunnel("slow-tunnel").await),
        "WAITING_FOR_FULL_CONFIG"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_the_sdk_with_googles_codes() {
    let sb = start().await;
    let g = gcp(&sb.url()).await;
    let err = g
        .get_gateway("missing")
        .send()
        .await
        .expect_err("not found");
    assert_eq!(err.http_status_code(), Some(404));
    assert_eq!(code(&err), Some(Code::NotFound));
    assert!(err
        .status()
        .unwrap()
        .message
        .contains("vpnGateways/missing"));

    g.ha_gateway("gw", "global/networks/prod-vpc").await;
    let err = g
        .insert_gateway(
            VpnGateway::new()
                .set_name("gw")
                .set_network("global/networks/prod-vpc"),
        )
        .send()
        .await
        .expect_err("duplicate");
    assert_eq!(err.http_status_code(), Some(409));
    assert_eq!(code(&err), Some(Code::AlreadyExists));

    let err = g
        .insert_gateway(
            VpnGateway::new()
                .set_name("gw2")
                .set_network("global/networks/nope"),
        )
        .send()
        .await
        .expect_err("missing network");
    assert_eq!(code(&err), Some(Code::NotFound));

    g.router("rt", "global/networks/prod-vpc", 64514).await;
    g.external(
        "peer",
        &["198.18.0.10".to_string(), "198.18.0.11".to_string()],
    )
    .await;
    let err = g
        .insert_tunnel(
            VpnTunnel::new()
                .set_name("bad")
                .set_vpn_gateway("gw")
                .set_vpn_gateway_interface(3)
                .set_peer_external_gateway("peer")
                .set_peer_external_gateway_interface(0)
                .set_router("rt")
                .set_shared_secret(SECRET),
        )
        .send()
        .await
        .expect_err("bad interface");
    assert_eq!(err.http_status_code(), Some(400));
    assert_eq!(code(&err), Some(Code::InvalidArgument));
    assert!(err
        .status()
        .unwrap()
        .message
        .contains("vpnGatewayInterface"));

    let err = g
        .patch_router(
            "rt",
            Router::new().set_bgp_peers([RouterBgpPeer::new()
                .set_name("p")
                .set_interface_name("no-such-interface")
                .set_peer_ip_address("169.254.0.1")
                .set_peer_asn(64515u32)]),
        )
        .send()
        .await
        .expect_err("unknown interface");
    assert_eq!(code(&err), Some(Code::InvalidArgument));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_use_googles_codes_and_are_retried_by_policy() {
    let sb = start().await;
    let url = sb.url();
    let g = gcp(&url).await;
    g.ha_gateway("gw", "global/networks/prod-vpc").await;
    let script = |op: &str, kind: &str, count: u32| {
        format!(
            r#"{{"scripted":[{{"cloud":"gcp","operation":"{op}","kind":"{kind}","count":{count}}}]}}"#
        )
    };
    // Throttling: 429 RESOURCE_EXHAUSTED, which the default (AIP-194) policy does not retry.
    admin(
        &url,
        "POST",
        "/_sandbox/faults",
        &script("vpnGateways.get", "throttle", 1),
    )
    .await;
    let err = g.get_gateway("gw").send().await.expect_err("throttled");
    assert_eq!(err.http_status_code(), Some(429));
    assert_eq!(code(&err), Some(Code::ResourceExhausted));
    // A client with a retrying policy (what peerctl's provider configures) gets through.
    let retrying = VpnGateways::builder()
        .with_endpoint(&url)
        .with_credentials(anonymous::Builder::new().build())
        .with_retry_policy(AlwaysRetry.with_attempt_limit(4))
        .with_backoff_policy(fast())
        .build()
        .await
        .unwrap();
    admin(
        &url,
        "POST",
        "/_sandbox/faults",
        &script("vpnGateways.get", "throttle", 2),
    )
    .await;
    let gw = retrying
        .get()
        .set_project(P)
        .set_region(R)
        .set_vpn_gateway("gw")
        .send()
        .await
        .expect("retried through throttling");
    assert_eq!(gw.name.as_deref(), Some("gw"));
    // Server errors (503 UNAVAILABLE) on an idempotent call: the default policy retries.
    admin(
        &url,
        "POST",
        "/_sandbox/faults",
        &script("networks.get", "server_error", 2),
    )
    .await;
    g.nets
        .get()
        .set_project(P)
        .set_network("prod-vpc")
        .send()
        .await
        .expect("retried through 503");
    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    assert_eq!(stats["clouds"]["gcp"]["faults"], 5);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_compute_operations_by_collection_and_method() {
    let sb = start().await;
    let url = sb.url();
    let g = gcp(&url).await;
    g.ha_gateway("gw", "global/networks/prod-vpc").await;
    g.router("rt", "global/networks/prod-vpc", 64514).await;
    g.list_tunnels().send().await.unwrap();
    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    let gcp = &stats["clouds"]["gcp"];
    assert_eq!(gcp["operations"]["vpnGateways.insert"], 1);
    assert_eq!(gcp["operations"]["routers.insert"], 1);
    assert_eq!(gcp["operations"]["vpnGateways.get"], 1);
    assert_eq!(gcp["operations"]["vpnTunnels.list"], 1);
    assert!(
        gcp["operations"]["regionOperations.get"]
            .as_u64()
            .unwrap_or(0)
            <= 2
    );
    assert_eq!(gcp["mutating"], 2);
    assert_eq!(stats["created_resources"], 2);
    done(g.delete_router("rt").poller()).await;
    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    assert_eq!(stats["created_resources"], 1);
    assert_eq!(stats["clouds"]["gcp"]["operations"]["routers.delete"], 1);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firewall_rules_insert_patch_update_and_decide_like_gcp() {
    let sb = start().await;
    let g = gcp(&sb.url()).await;
    let from_aws = Ipv4Addr::new(10, 10, 4, 4);
    let https = Flow {
        proto: Proto::Tcp,
        port: Some(443),
    };
    let verdict = |sb: &RunningSandbox| {
        sb.sandbox
            .inspect(|w, _| w.gcp.ingress(PROD, from_aws, https))
    };
    for (name, prio, deny) in [("allow-aws-443", 1000u32, false), ("deny-aws", 900, true)] {
        let mut fw = Firewall::new()
            .set_name(name)
            .set_network("global/networks/prod-vpc")
            .set_direction(firewall::Direction::Ingress)
            .set_priority(prio as i32)
            .set_source_ranges(["10.10.0.0/16"]);
        fw = if deny {
            fw.set_denied([firewall::Denied::new().set_ip_protocol("all")])
        } else {
            fw.set_allowed([firewall::Allowed::new()
                .set_ip_protocol("tcp")
                .set_ports(["443"])])
        };
        done(g.insert_firewall(fw).poller()).await;
    }
    assert!(matches!(verdict(&sb), FwDecision::Deny { rule } if rule.contains("deny-aws")));
    done(
        g.patch_firewall("deny-aws", Firewall::new().set_disabled(true))
            .poller(),
    )
    .await;
    assert!(matches!(verdict(&sb), FwDecision::Allow { rule } if rule.contains("allow-aws-443")));
    let fw = g.get_firewall("deny-aws").send().await.unwrap();
    assert_eq!(fw.disabled, Some(true));
    assert_eq!(fw.priority, Some(900), "patch keeps unsent fields");
    // PUT replaces the rule: same priority as the allow, deny wins the tie.
    done(
        g.update_firewall(
            "deny-aws",
            Firewall::new()
                .set_name("deny-aws")
                .set_network("global/networks/prod-vpc")
                .set_priority(1000)
                .set_source_ranges(["10.10.0.0/16"])
                .set_denied([firewall::Denied::new().set_ip_protocol("tcp")]),
        )
        .poller(),
    )
    .await;
    assert!(
        matches!(verdict(&sb), FwDecision::Deny { rule } if rule.contains("deny-aws (priority 1000)"))
    );
    let only = g
        .list_firewalls()
        .set_filter(r#"name = "allow-aws-443""#)
        .send()
        .await
        .unwrap();
    assert_eq!(only.items.len(), 1);
    done(g.delete_firewall("deny-aws").poller()).await;
    assert!(matches!(verdict(&sb), FwDecision::Allow { .. }));
    // Egress is open by default.
    let out = sb
        .sandbox
        .inspect(|w, _| w.gcp.egress(PROD, from_aws, https));
    assert!(matches!(out, FwDecision::Allow { rule } if rule.contains("implied allow-all egress")));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_google_cloud_compute_client_drives_the_sandbox() {
    // Time scale 1: every operation the script starts is RUNNING until it moves the clock,
    // so the library's operation polling has to reach the sandbox to see it DONE.
    let sb = start_timed().await;
    let url = sb.url();
    let out = tokio::task::spawn_blocking(move || common::run_python("gcp_client.py", &[&url]))
        .await
        .unwrap();
    assert!(out.contains("ok"), "{out}");
    let stats = admin(&sb.url(), "GET", "/_sandbox/stats", "").await;
    let ops = &stats["clouds"]["gcp"]["operations"];
    assert!(ops["vpnTunnels.insert"].as_u64() >= Some(2));
    // The library polled the sandbox, not compute.googleapis.com.
    assert!(ops["regionOperations.get"].as_u64() >= Some(10), "{ops}");
    assert!(ops["globalOperations.get"].as_u64() >= Some(3), "{ops}");
    assert!(ops["globalOperations.wait"].as_u64() >= Some(2), "{ops}");
    assert!(ops["regionOperations.wait"].as_u64() >= Some(1), "{ops}");
    sb.stop().await;
}

/// Builds a world with one of everything (HA and classic VPN, BGP up, routes, firewalls),
/// then has `gcp_conformance.py` check every field of every response against the
/// discovery document's schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_conform_to_the_published_compute_discovery_document() {
    let sb = start().await;
    let url = sb.url();
    let g = gcp(&url).await;
    let a = g.ha_gateway("gw-a", "global/networks/prod-vpc").await;
    let b = g.ha_gateway("gw-b", "global/networks/edge-vpc").await;
    g.external("peer-of-a", &ips(&b)).await;
    g.external("peer-of-b", &ips(&a)).await;
    g.router("router-a", "global/networks/prod-vpc", 64514)
        .await;
    g.router("router-b", "global/networks/edge-vpc", 64515)
        .await;
    for (name, gw, ext, router) in [
        ("tun-a0", "gw-a", "peer-of-a", "router-a"),
        ("tun-b0", "gw-b", "peer-of-b", "router-b"),
    ] {
        done(g.insert_tunnel(ha_tunnel(name, gw, ext, router)).poller()).await;
    }
    g.bgp("router-a", "tun-a0", "169.254.10.1", "169.254.10.2", 64515)
        .await;
    g.bgp("router-b", "tun-b0", "169.254.10.2", "169.254.10.1", 64514)
        .await;
    let ip_a = g.classic_front("a", "global/networks/prod-vpc").await;
    g.forwarding_rules("a", &ip_a).await;
    g.classic_tunnel("ct-a", "a", "198.19.0.99", SECRET).await;
    done(
        g.insert_tunnel(
            VpnTunnel::new()
                .set_name("ct-suite")
                .set_target_vpn_gateway("tgw-a")
                .set_peer_ip("198.19.0.98")
                .set_shared_secret(SECRET)
                .set_cipher_suite(
                    VpnTunnelCipherSuite::new()
                        .set_phase1(
                            VpnTunnelPhase1Algorithms::new()
                                .set_encryption(["AES-CBC-256"])
                                .set_integrity(["HMAC-SHA2-256-128"])
                                .set_prf(["PRF-HMAC-SHA2-256"])
                                .set_dh(["Group-14"]),
                        )
                        .set_phase2(
                            VpnTunnelPhase2Algorithms::new()
                                .set_encryption(["AES-CBC-256"])
                                .set_integrity(["HMAC-SHA2-256-128"])
                                .set_pfs(["Group-14"]),
                        ),
                ),
        )
        .poller(),
    )
    .await;
    done(
        g.insert_route(
            Route::new()
                .set_name("to-az")
                .set_network("global/networks/prod-vpc")
                .set_dest_range("10.30.0.0/16")
                .set_next_hop_vpn_tunnel(format!("projects/{P}/regions/{R}/vpnTunnels/ct-a")),
        )
        .poller(),
    )
    .await;
    done(
        g.insert_firewall(
            Firewall::new()
                .set_name("allow-az")
                .set_network("global/networks/prod-vpc")
                .set_source_ranges(["10.30.0.0/16"])
                .set_allowed([firewall::Allowed::new()
                    .set_ip_protocol("tcp")
                    .set_ports(["443", "8000-8100"])]),
        )
        .poller(),
    )
    .await;
    // A failed operation too.
    let failed = g.delete_tgw("tgw-a").send().await.unwrap();

    let region = format!("projects/{P}/regions/{R}");
    let global = format!("projects/{P}/global");
    // (schema name, path) of every response shape the front end produces.
    let mut samples: Vec<(String, String)> = vec![
        ("Network".into(), format!("{global}/networks/prod-vpc")),
        ("NetworkList".into(), format!("{global}/networks")),
        (
            "Subnetwork".into(),
            format!("{region}/subnetworks/prod-vpc-us-central1"),
        ),
        ("SubnetworkList".into(), format!("{region}/subnetworks")),
        ("VpnGateway".into(), format!("{region}/vpnGateways/gw-a")),
        ("VpnGatewayList".into(), format!("{region}/vpnGateways")),
        (
            "VpnGatewaysGetStatusResponse".into(),
            format!("{region}/vpnGateways/gw-a/getStatus"),
        ),
        (
            "ExternalVpnGateway".into(),
            format!("{global}/externalVpnGateways/peer-of-a"),
        ),
        (
            "ExternalVpnGatewayList".into(),
            format!("{global}/externalVpnGateways"),
        ),
        ("Router".into(), format!("{region}/routers/router-a")),
        ("RouterList".into(), format!("{region}/routers")),
        (
            "RouterStatusResponse".into(),
            format!("{region}/routers/router-a/getRouterStatus"),
        ),
        ("VpnTunnel".into(), format!("{region}/vpnTunnels/tun-a0")),
        ("VpnTunnel".into(), format!("{region}/vpnTunnels/ct-a")),
        ("VpnTunnel".into(), format!("{region}/vpnTunnels/ct-suite")),
        ("VpnTunnelList".into(), format!("{region}/vpnTunnels")),
        (
            "TargetVpnGateway".into(),
            format!("{region}/targetVpnGateways/tgw-a"),
        ),
        (
            "TargetVpnGatewayList".into(),
            format!("{region}/targetVpnGateways"),
        ),
        ("Address".into(), format!("{region}/addresses/vpn-ip-a")),
        ("AddressList".into(), format!("{region}/addresses")),
        (
            "ForwardingRule".into(),
            format!("{region}/forwardingRules/fr-a-udp500"),
        ),
        (
            "ForwardingRuleList".into(),
            format!("{region}/forwardingRules"),
        ),
        ("Route".into(), format!("{global}/routes/to-az")),
        ("RouteList".into(), format!("{global}/routes")),
        ("Firewall".into(), format!("{global}/firewalls/allow-az")),
        ("FirewallList".into(), format!("{global}/firewalls")),
        ("OperationList".into(), format!("{region}/operations")),
        ("OperationList".into(), format!("{global}/operations")),
    ];
    samples.push((
        "Operation".into(),
        format!("{region}/operations/{}", failed.name.clone().unwrap()),
    ));
    let mut captured = Vec::new();
    for (schema, path) in &samples {
        let body = raw_get(&url, path).await;
        assert!(body["error"].get("code").is_none(), "{path}: {body}");
        captured.push(serde_json::json!({"schema": schema, "path": path, "body": body}));
    }
    let err = raw_get(&url, &format!("{region}/vpnTunnels/nope")).await;
    captured.push(serde_json::json!({"schema": "#error", "path": "missing", "body": err}));
    captured.extend(running_operation_samples().await);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gcp_samples.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&captured).unwrap()).unwrap();
    let f = file.display().to_string();
    let out = tokio::task::spawn_blocking(move || common::run_python("gcp_conformance.py", &[&f]))
        .await
        .unwrap();
    assert!(
        out.contains(&format!("checked {} responses", captured.len())),
        "{out}"
    );
    sb.stop().await;
}

/// Any Compute call as raw JSON (for the shapes the SDK hides: an insert's own response).
async fn raw(url: &str, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let http = reqwest::Client::new();
    let u = format!("{url}/compute/v1/{path}");
    let req = match method {
        "POST" => http
            .post(u)
            .header("content-type", "application/json")
            .body(body.to_string()),
        "DELETE" => http.delete(u),
        _ => http.get(u),
    };
    let text = req.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Operation bodies as a time-scaled sandbox gives them: a global and a regional insert
/// while RUNNING, `wait` while RUNNING and once DONE, a RUNNING delete, for the
/// conformance check.
async fn running_operation_samples() -> Vec<serde_json::Value> {
    let sb = start_timed().await;
    let url = sb.url();
    let region = format!("projects/{P}/regions/{R}");
    let global = format!("projects/{P}/global");
    let mut out = Vec::new();
    let mut sample = |path: String, method: &str, status: &str, body: serde_json::Value| {
        assert_eq!(body["status"], status, "{method} {path}: {body}");
        out.push(
            serde_json::json!({"schema": "Operation", "path": path, "method": method,
            "status": status, "body": body}),
        );
    };
    let path = format!("{global}/firewalls");
    let fw = raw(
        &url,
        "POST",
        &path,
        serde_json::json!({"name": "conf-fw",
        "network": "global/networks/prod-vpc", "sourceRanges": ["10.30.0.0/16"],
        "allowed": [{"IPProtocol": "icmp"}]}),
    )
    .await;
    sample(path, "POST", "RUNNING", fw);
    let path = format!("{region}/vpnGateways");
    let gw = raw(
        &url,
        "POST",
        &path,
        serde_json::json!({"name": "conf-gw",
        "network": "global/networks/prod-vpc"}),
    )
    .await;
    let op = format!("{region}/operations/{}", gw["name"].as_str().unwrap());
    sample(path, "POST", "RUNNING", gw);
    let wait = format!("{op}/wait");
    let body = raw(&url, "POST", &wait, serde_json::json!({})).await;
    sample(wait.clone(), "POST", "RUNNING", body);
    sb.sandbox.advance_clock(3_600_000);
    let body = raw(&url, "POST", &wait, serde_json::json!({})).await;
    sample(wait, "POST", "DONE", body);
    let path = format!("{region}/vpnGateways/conf-gw");
    let del = raw(&url, "DELETE", &path, serde_json::Value::Null).await;
    sample(path, "DELETE", "RUNNING", del);
    sb.stop().await;
    out
}

fn op_status(op: &Operation) -> String {
    op.status
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Counter of one Compute method in the sandbox's stats.
async fn calls(url: &str, op: &str) -> u64 {
    admin(url, "GET", "/_sandbox/stats", "").await["clouds"]["gcp"]["operations"][op]
        .as_u64()
        .unwrap_or(0)
}

/// For a sandbox with a non-zero time scale: the operation a mutating call (`sent`) returns is
/// RUNNING; once the sandbox clock has passed its latency, `wait` (of its scope) says DONE.
async fn settle(
    g: &Gcp,
    sb: &RunningSandbox,
    sent: impl std::future::Future<Output = google_cloud_compute_v1::Result<Operation>>,
) -> Operation {
    let op = sent.await.expect("call accepted");
    assert_eq!(op_status(&op), "RUNNING", "{op:?}");
    sb.sandbox.advance_clock(3_600_000);
    let name = op.name.clone().expect("operation name");
    let done = if op.region.is_some() {
        g.rops
            .wait()
            .set_project(P)
            .set_region(R)
            .set_operation(&name)
            .send()
            .await
            .expect("regionOperations.wait")
    } else {
        g.gops
            .wait()
            .set_project(P)
            .set_operation(&name)
            .send()
            .await
            .expect("globalOperations.wait")
    };
    assert_eq!(op_status(&done), "DONE", "{done:?}");
    assert!(done.error.is_none(), "{done:?}");
    assert_eq!(done.target_link, op.target_link);
    done
}

/// Runs the SDK's own poller while the sandbox clock moves on after a moment, so that the
/// poller sees RUNNING at least once and then DONE; returns the final operation and how
/// many times `poll_method` was called meanwhile.
async fn poll_across_the_clock<Q: Poller<Operation, Operation>>(
    sb: &RunningSandbox,
    poll_method: &str,
    poller: Q,
) -> (Operation, u64) {
    let url = sb.url();
    let before = calls(&url, poll_method).await;
    let sandbox = sb.sandbox.clone();
    let clock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        sandbox.advance_clock(3_600_000);
    });
    let op = done(poller).await;
    clock.await.unwrap();
    (op, calls(&url, poll_method).await - before)
}

/// Every collection through google-cloud-compute-v1 at time scale 1: insert (RUNNING, then
/// DONE through `wait`), get, list, delete (RUNNING → DONE, once through the SDK's poller of
/// each scope), and the resource gone afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_collection_round_trips_insert_get_list_delete_with_running_operations() {
    let sb = start_timed().await;
    let url = sb.url();
    let g = gcp(&url).await;

    let nets = g.nets.list().set_project(P).send().await.unwrap();
    let names: Vec<_> = nets.items.iter().filter_map(|n| n.name.clone()).collect();
    assert_eq!(names, ["edge-vpc", "prod-vpc"]);
    let sub = g
        .subnets
        .get()
        .set_project(P)
        .set_region(R)
        .set_subnetwork("prod-vpc-us-central1")
        .send()
        .await
        .unwrap();
    assert_eq!(sub.ip_cidr_range.as_deref(), Some("10.20.0.0/16"));
    assert!(sub
        .network
        .unwrap_or_default()
        .ends_with("/networks/prod-vpc"));
    let subs = g
        .subnets
        .list()
        .set_project(P)
        .set_region(R)
        .send()
        .await
        .unwrap();
    assert_eq!(subs.items.len(), 2);

    // Inserts, each RUNNING until the clock passes its latency.
    settle(
        &g,
        &sb,
        g.insert_gateway(
            VpnGateway::new()
                .set_name("rt-gw")
                .set_network("global/networks/prod-vpc"),
        )
        .send(),
    )
    .await;
    settle(
        &g,
        &sb,
        g.insert_external_gw(
            ExternalVpnGateway::new()
                .set_name("rt-peer")
                .set_redundancy_type(
                    external_vpn_gateway::RedundancyType::SingleIpInternallyRedundant,
                )
                .set_interfaces([ExternalVpnGatewayInterface::new()
                    .set_id(0u32)
                    .set_ip_address("198.51.100.7")]),
        )
        .send(),
    )
    .await;
    settle(
        &g,
        &sb,
        g.insert_router(
            Router::new()
                .set_name("rt-router")
                .set_network("global/networks/prod-vpc")
                .set_bgp(RouterBgp::new().set_asn(64520u32)),
        )
        .send(),
    )
    .await;
    settle(
        &g,
        &sb,
        g.insert_tgw(
            TargetVpnGateway::new()
                .set_name("rt-tgw")
                .set_network("global/networks/prod-vpc"),
        )
        .send(),
    )
    .await;
    settle(
        &g,
        &sb,
        g.insert_address(Address::new().set_name("rt-ip")).send(),
    )
    .await;
    let ip = g
        .get_address("rt-ip")
        .send()
        .await
        .unwrap()
        .address
        .expect("address");
    for (name, proto, ports) in [
        ("rt-fr-esp", forwarding_rule::IPProtocol::Esp, None),
        (
            "rt-fr-udp500",
            forwarding_rule::IPProtocol::Udp,
            Some("500"),
        ),
        (
            "rt-fr-udp4500",
            forwarding_rule::IPProtocol::Udp,
            Some("4500"),
        ),
    ] {
        let mut rule = ForwardingRule::new()
            .set_name(name)
            .set_ip_protocol(proto)
            .set_ip_address("projects/acme-net/regions/us-central1/addresses/rt-ip")
            .set_target("rt-tgw");
        if let Some(p) = ports {
            rule = rule.set_port_range(p);
        }
        settle(&g, &sb, g.insert_forwarding_rule(rule).send()).await;
    }
    settle(
        &g,
        &sb,
        g.insert_tunnel(ha_tunnel("rt-ha-tunnel", "rt-gw", "rt-peer", "rt-router"))
            .send(),
    )
    .await;
    settle(
        &g,
        &sb,
        g.insert_tunnel(
            VpnTunnel::new()
                .set_name("rt-classic")
                .set_target_vpn_gateway("rt-tgw")
                .set_peer_ip("198.51.100.9")
                .set_shared_secret(SECRET),
        )
        .send(),
    )
    .await;
    settle(
        &g,
        &sb,
        g.insert_route(
            Route::new()
                .set_name("rt-route")
                .set_network("global/networks/prod-vpc")
                .set_dest_range("10.30.0.0/16")
                .set_next_hop_vpn_tunnel("regions/us-central1/vpnTunnels/rt-classic"),
        )
        .send(),
    )
    .await;

    // get and list of each.
    let ext = g.get_external_gw("rt-peer").send().await.unwrap();
    assert_eq!(
        ext.interfaces[0].ip_address.as_deref(),
        Some("198.51.100.7")
    );
    let fr = g.get_forwarding_rule("rt-fr-udp4500").send().await.unwrap();
    assert_eq!(fr.port_range.as_deref(), Some("4500-4500"));
    assert_eq!(fr.ip_address.as_deref(), Some(ip.as_str()));
    let route = g.get_route("rt-route").send().await.unwrap();
    assert_eq!(route.priority, Some(1000));
    assert!(route
        .next_hop_vpn_tunnel
        .unwrap_or_default()
        .ends_with("/vpnTunnels/rt-classic"));
    let only =
        |items: Vec<Option<String>>| -> Vec<String> { items.into_iter().flatten().collect() };
    let gws = g.list_gateways().send().await.unwrap();
    assert_eq!(
        only(gws.items.into_iter().map(|x| x.name).collect()),
        ["rt-gw"]
    );
    let exts = g.list_external_gws().send().await.unwrap();
    assert_eq!(
        only(exts.items.into_iter().map(|x| x.name).collect()),
        ["rt-peer"]
    );
    let routers = g.list_routers().send().await.unwrap();
    assert_eq!(
        only(routers.items.into_iter().map(|x| x.name).collect()),
        ["rt-router"]
    );
    let tgws = g.list_tgws().send().await.unwrap();
    let tgw = &tgws.items[0];
    assert_eq!(tgw.name.as_deref(), Some("rt-tgw"));
    assert_eq!(tgw.forwarding_rules.len(), 3);
    assert_eq!(tgw.tunnels.len(), 1);
    let addrs = g.list_addresses().send().await.unwrap();
    assert_eq!(
        only(addrs.items.into_iter().map(|x| x.name).collect()),
        ["rt-ip"]
    );
    let udp = g
        .list_forwarding_rules()
        .set_filter("IPProtocol = UDP")
        .send()
        .await
        .unwrap();
    assert_eq!(
        only(udp.items.into_iter().map(|x| x.name).collect()),
        ["rt-fr-udp4500", "rt-fr-udp500"]
    );
    let routes = g.list_routes().send().await.unwrap();
    assert_eq!(
        only(routes.items.into_iter().map(|x| x.name).collect()),
        ["rt-route"]
    );
    let tunnels = g.list_tunnels().send().await.unwrap();
    assert_eq!(tunnels.items.len(), 2);

    // Deletes: a global and a regional one through the SDK's poller across the clock move,
    // the rest through wait.
    let (op, polls) = poll_across_the_clock(
        &sb,
        "globalOperations.get",
        g.delete_route("rt-route").poller(),
    )
    .await;
    assert_eq!(op_status(&op), "DONE");
    assert!(
        polls >= 2,
        "the poller saw RUNNING before DONE ({polls} polls)"
    );
    for t in ["rt-classic", "rt-ha-tunnel"] {
        settle(&g, &sb, g.delete_tunnel(t).send()).await;
    }
    for r in ["rt-fr-esp", "rt-fr-udp500", "rt-fr-udp4500"] {
        settle(&g, &sb, g.delete_forwarding_rule(r).send()).await;
    }
    settle(&g, &sb, g.delete_address("rt-ip").send()).await;
    settle(&g, &sb, g.delete_tgw("rt-tgw").send()).await;
    settle(&g, &sb, g.delete_router("rt-router").send()).await;
    settle(&g, &sb, g.delete_external_gw("rt-peer").send()).await;
    let (op, polls) = poll_across_the_clock(
        &sb,
        "regionOperations.get",
        g.delete_gateway("rt-gw").poller(),
    )
    .await;
    assert_eq!(op_status(&op), "DONE");
    assert!(
        polls >= 2,
        "the poller saw RUNNING before DONE ({polls} polls)"
    );

    // Gone: a get is 404 and the lists are empty.
    let err = g
        .get_forwarding_rule("rt-fr-esp")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(err.http_status_code(), Some(404));
    let err = g
        .get_external_gw("rt-peer")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(err.http_status_code(), Some(404));
    let err = g.get_route("rt-route").send().await.expect_err("deleted");
    assert_eq!(err.http_status_code(), Some(404));
    assert!(g.list_gateways().send().await.unwrap().items.is_empty());
    assert!(g.list_addresses().send().await.unwrap().items.is_empty());

    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    assert_eq!(stats["created_resources"], 0, "{stats}");
    let ops = &stats["clouds"]["gcp"]["operations"];
    for name in [
        "networks.list",
        "subnetworks.get",
        "subnetworks.list",
        "vpnGateways.insert",
        "vpnGateways.list",
        "vpnGateways.delete",
        "externalVpnGateways.insert",
        "externalVpnGateways.get",
        "externalVpnGateways.list",
        "externalVpnGateways.delete",
        "routers.insert",
        "routers.list",
        "routers.delete",
        "targetVpnGateways.insert",
        "targetVpnGateways.list",
        "targetVpnGateways.delete",
        "addresses.insert",
        "addresses.get",
        "addresses.list",
        "addresses.delete",
        "forwardingRules.insert",
        "forwardingRules.get",
        "forwardingRules.list",
        "forwardingRules.delete",
        "vpnTunnels.insert",
        "vpnTunnels.list",
        "vpnTunnels.delete",
        "routes.insert",
        "routes.get",
        "routes.list",
        "routes.delete",
        "regionOperations.get",
        "regionOperations.wait",
        "globalOperations.get",
        "globalOperations.wait",
    ] {
        assert!(
            ops[name].as_u64() >= Some(1),
            "{name} was not called: {ops}"
        );
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_paging_behave_like_compute_and_refuse_what_it_refuses() {
    let sb = start().await;
    let g = gcp(&sb.url()).await;
    for (name, prio) in [("fw-a1", 900), ("fw-a2", 1000), ("fw-b1", 1100)] {
        done(
            g.insert_firewall(
                Firewall::new()
                    .set_name(name)
                    .set_network("global/networks/prod-vpc")
                    .set_priority(prio)
                    .set_source_ranges(["10.10.0.0/16"])
                    .set_allowed([firewall::Allowed::new().set_ip_protocol("icmp")]),
            )
            .poller(),
        )
        .await;
    }
    let names =
        |l: FirewallList| -> Vec<String> { l.items.into_iter().filter_map(|f| f.name).collect() };
    let list = |filter: &str| g.list_firewalls().set_filter(filter).send();
    // eq/ne are regular expressions over the whole field.
    assert_eq!(
        names(list("name eq fw-a.*").await.unwrap()),
        ["fw-a1", "fw-a2"]
    );
    assert_eq!(
        names(list("name eq fw-a").await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(names(list("name ne .*1").await.unwrap()), ["fw-a2"]);
    assert_eq!(
        names(list("(name eq fw-.*) (priority eq 1[01]00)").await.unwrap()),
        ["fw-a2", "fw-b1"]
    );
    // AIP-160: comparisons, OR (binding tighter than AND).
    assert_eq!(
        names(
            list("priority >= 1000 AND name = fw-a2 OR name = fw-b1")
                .await
                .unwrap()
        ),
        ["fw-a2", "fw-b1"]
    );
    assert_eq!(names(list("priority < 1000").await.unwrap()), ["fw-a1"]);
    for bad in [
        "()",
        "(name = fw-a1) (name eq fw-.*)",
        "name eq (",
        "name = fw-a1 AND",
        "NOT name = fw-a1",
    ] {
        let err = list(bad).await.expect_err(bad);
        assert_eq!(err.http_status_code(), Some(400), "{bad}");
        assert_eq!(code(&err), Some(Code::InvalidArgument), "{bad}");
    }

    // Paging: pages of one, followed by the token; bad sizes and tokens are 400.
    let first = g
        .list_firewalls()
        .set_max_results(1u32)
        .send()
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    let token = first.next_page_token.clone().expect("a next page");
    let mut seen = names(first);
    let mut token = Some(token);
    while let Some(t) = token {
        let page = g
            .list_firewalls()
            .set_max_results(1u32)
            .set_page_token(t)
            .send()
            .await
            .unwrap();
        token = page.next_page_token.clone();
        seen.extend(names(page));
    }
    assert_eq!(seen, ["fw-a1", "fw-a2", "fw-b1"]);
    let all = g
        .list_firewalls()
        .set_max_results(500u32)
        .send()
        .await
        .unwrap();
    assert!(all.next_page_token.is_none());
    assert_eq!(all.items.len(), 3);
    let err = g
        .list_firewalls()
        .set_max_results(501u32)
        .send()
        .await
        .expect_err("maxResults over 500");
    assert_eq!(err.http_status_code(), Some(400));
    assert!(err.status().unwrap().message.contains("maxResults"));
    let err = g
        .list_firewalls()
        .set_page_token("not-a-token")
        .send()
        .await
        .expect_err("bad page token");
    assert_eq!(err.http_status_code(), Some(400));
    assert!(err.status().unwrap().message.contains("pageToken"));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_bgp_interfaces_and_asns_are_validated_as_gcp_does() {
    let sb = start().await;
    let g = gcp(&sb.url()).await;
    g.ha_gateway("gw", "global/networks/prod-vpc").await;
    g.external(
        "peer",
        &["198.51.100.1".to_string(), "198.51.100.2".to_string()],
    )
    .await;
    g.router("rt", "global/networks/prod-vpc", 64514).await;
    g.router("rt-other", "global/networks/prod-vpc", 64530)
        .await;
    g.router("rt-edge", "global/networks/edge-vpc", 64531).await;
    done(
        g.insert_tunnel(ha_tunnel("t0", "gw", "peer", "rt"))
            .poller(),
    )
    .await;
    let patch = |range: &str, local: &str, peer: &str, asn: u32| {
        g.patch_router(
            "rt",
            Router::new()
                .set_interfaces([RouterInterface::new()
                    .set_name("if-0")
                    .set_ip_range(range)
                    .set_linked_vpn_tunnel("t0")])
                .set_bgp_peers([RouterBgpPeer::new()
                    .set_name("peer-0")
                    .set_interface_name("if-0")
                    .set_ip_address(local)
                    .set_peer_ip_address(peer)
                    .set_peer_asn(asn)]),
        )
        .send()
    };
    let refused = |r: Result<Operation, google_cloud_gax::error::Error>, field: &str, why: &str| {
        let err = r.expect_err(why);
        assert_eq!(err.http_status_code(), Some(400), "{why}: {err:?}");
        let st = err.status().expect("a Google error body");
        assert_eq!(st.code, Code::InvalidArgument, "{why}");
        assert!(
            st.message
                .contains(&format!("Invalid value for field 'resource.{field}'")),
            "{why}: {}",
            st.message
        );
    };
    // ipRange: a /30 inside 169.254.0.0/16 holding one of its two host addresses.
    refused(
        patch("10.0.0.1/30", "10.0.0.1", "10.0.0.2", 64600).await,
        "interfaces.ipRange",
        "not link-local",
    );
    refused(
        patch("169.254.1.1/29", "169.254.1.1", "169.254.1.2", 64600).await,
        "interfaces.ipRange",
        "a /29",
    );
    refused(
        patch("169.254.1.0/30", "169.254.1.1", "169.254.1.2", 64600).await,
        "interfaces.ipRange",
        "the network address",
    );
    refused(
        patch("169.254.1.3/30", "169.254.1.1", "169.254.1.2", 64600).await,
        "interfaces.ipRange",
        "the broadcast address",
    );
    // peerAsn: 1..=4294967294, and not a local ASN of a router in the same network and region.
    refused(
        patch(
            "169.254.1.1/30",
            "169.254.1.1",
            "169.254.1.2",
            4_294_967_295,
        )
        .await,
        "bgpPeers[0].peerAsn",
        "ASN 4294967295",
    );
    refused(
        patch("169.254.1.1/30", "169.254.1.1", "169.254.1.2", 0).await,
        "bgpPeers[0].peerAsn",
        "ASN 0",
    );
    refused(
        patch("169.254.1.1/30", "169.254.1.1", "169.254.1.2", 64514).await,
        "bgpPeers[0].peerAsn",
        "the router's own ASN",
    );
    let err = patch("169.254.1.1/30", "169.254.1.1", "169.254.1.2", 64530)
        .await
        .expect_err("another router's ASN");
    assert!(
        err.status().unwrap().message.contains("rt-other"),
        "{err:?}"
    );
    // A router of another network may use the same number; a valid patch goes through.
    done(
        g.patch_router(
            "rt",
            Router::new()
                .set_interfaces([RouterInterface::new()
                    .set_name("if-0")
                    .set_ip_range("169.254.1.2/30")
                    .set_linked_vpn_tunnel("t0")])
                .set_bgp_peers([RouterBgpPeer::new()
                    .set_name("peer-0")
                    .set_interface_name("if-0")
                    .set_peer_ip_address("169.254.1.1")
                    .set_peer_asn(64531u32)]),
        )
        .poller(),
    )
    .await;
    // bgp.asn: RFC 6996 private (or 16550).
    for asn in [1u32, 65535, 4_294_967_295, 64511] {
        let r = g
            .insert_router(
                Router::new()
                    .set_name("rt-bad")
                    .set_network("global/networks/prod-vpc")
                    .set_bgp(RouterBgp::new().set_asn(asn)),
            )
            .send()
            .await;
        refused(r, "bgp.asn", &format!("router ASN {asn}"));
    }
    for (name, asn) in [
        ("rt-16", 65534u32),
        ("rt-32", 4_200_000_000),
        ("rt-pi", 16550),
    ] {
        g.router(name, "global/networks/edge-vpc", asn).await;
    }
    sb.stop().await;
}

/// What a provider would do for the plan's GCP resources, through google-cloud-compute-v1,
/// in plan order: router interfaces and BGP peers are PATCHes of their router, as peerctl
/// applies them. Other clouds' outputs (AWS tunnel outside addresses, the Azure public IP)
/// are stood in for by distinct documentation addresses. Returns how many GCP resources the
/// plan holds.
async fn apply_gcp_part(g: &Gcp, plan: &peerctl::plan::Plan) -> usize {
    use peerctl::plan::resource::{Kind, Value};
    use std::collections::BTreeMap;
    let by_address: BTreeMap<&str, &peerctl::plan::resource::Resource> = plan
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    // (address, output) → value; GCP ids are the resources' canonical paths.
    let mut outputs: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut foreign = 0u8;
    let mut resolve = |outputs: &BTreeMap<(String, String), String>, v: &Value| -> String {
        match v {
            Value::Ref(r)
                if by_address[r.resource.as_str()].cloud() != peerctl::cloud::Cloud::Gcp =>
            {
                foreign += 1;
                format!("203.0.113.{foreign}")
            }
            Value::Ref(r) => outputs[&(r.resource.clone(), r.output.clone())].clone(),
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            other => panic!("not a scalar: {other:?}"),
        }
    };
    let text = |v: &Value| match v {
        Value::Str(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    };
    let int = |v: &Value| match v {
        Value::Int(i) => *i,
        other => panic!("not an int: {other:?}"),
    };
    let strs = |v: &Value| -> Vec<String> {
        match v {
            Value::List(l) => l.iter().map(text).collect(),
            other => panic!("not a list: {other:?}"),
        }
    };
    let secret = |v: &Value| match v {
        Value::Secret(s) => plan.secrets[&s.key].expose().to_string(),
        other => panic!("not a secret: {other:?}"),
    };
    let mut count = 0;
    for address in &plan.order {
        let r = by_address[address.as_str()];
        if r.cloud() != peerctl::cloud::Cloud::Gcp {
            continue;
        }
        count += 1;
        let a = &r.attributes;
        let project = text(&a["project"]);
        assert_eq!(project, P);
        let network = || format!("global/networks/{}", text(&a["network"]));
        let regional = |coll: &str| format!("projects/{P}/regions/{}/{coll}/{}", r.region, r.name);
        let global = |coll: &str| format!("projects/{P}/global/{coll}/{}", r.name);
        let id = match r.kind {
            Kind::GcpVpnGateway => {
                done(
                    g.gws
                        .insert()
                        .set_project(P)
                        .set_region(&r.region)
                        .set_body(VpnGateway::new().set_name(&r.name).set_network(network()))
                        .poller(),
                )
                .await;
                regional("vpnGateways")
            }
            Kind::GcpRouter => {
                done(
                    g.routers
                        .insert()
                        .set_project(P)
                        .set_region(&r.region)
                        .set_body(
                            Router::new()
                                .set_name(&r.name)
                                .set_network(network())
                                .set_bgp(
                                RouterBgp::new()
                                    .set_asn(int(&a["asn"]) as u32)
                                    .set_advertise_mode(text(&a["advertise_mode"]).as_str())
                                    .set_keepalive_interval(int(&a["keepalive_seconds"]) as u32),
                            ),
                        )
                        .poller(),
                )
                .await;
                regional("routers")
            }
            Kind::GcpExternalVpnGateway => {
                let Value::List(ifaces) = &a["interfaces"] else {
                    panic!("interfaces")
                };
                let ifaces: Vec<ExternalVpnGatewayInterface> = ifaces
                    .iter()
                    .map(|i| {
                        let Value::Map(i) = i else {
                            panic!("interface")
                        };
                        ExternalVpnGatewayInterface::new()
                            .set_id(int(&i["id"]) as u32)
                            .set_ip_address(resolve(&outputs, &i["ip_address"]))
                    })
                    .collect();
                done(
                    g.insert_external_gw(
                        ExternalVpnGateway::new()
                            .set_name(&r.name)
                            .set_redundancy_type(text(&a["redundancy_type"]).as_str())
                            .set_interfaces(ifaces),
                    )
                    .poller(),
                )
                .await;
                global("externalVpnGateways")
            }
            Kind::GcpVpnTunnel => {
                let mut t = VpnTunnel::new()
                    .set_name(&r.name)
                    .set_shared_secret(secret(&a["shared_secret"]))
                    .set_ike_version(int(&a["ike_version"]) as i32)
                    .set_local_traffic_selector(strs(&a["local_traffic_selector"]))
                    .set_remote_traffic_selector(strs(&a["remote_traffic_selector"]));
                if let Some(gw) = a.get("vpn_gateway") {
                    t = t
                        .set_vpn_gateway(resolve(&outputs, gw))
                        .set_vpn_gateway_interface(int(&a["vpn_gateway_interface"]) as i32)
                        .set_peer_external_gateway(resolve(&outputs, &a["peer_external_gateway"]))
                        .set_peer_external_gateway_interface(int(
                            &a["peer_external_gateway_interface"]
                        ) as i32)
                        .set_router(resolve(&outputs, &a["router"]));
                } else {
                    t = t
                        .set_target_vpn_gateway(resolve(&outputs, &a["target_vpn_gateway"]))
                        .set_peer_ip(resolve(&outputs, &a["peer_ip"]));
                }
                done(
                    g.tunnels
                        .insert()
                        .set_project(P)
                        .set_region(&r.region)
                        .set_body(t)
                        .poller(),
                )
                .await;
                regional("vpnTunnels")
            }
            Kind::GcpRouterInterface | Kind::GcpRouterPeer => {
                let router_path = resolve(&outputs, &a["router"]);
                let router_name = router_path.rsplit('/').next().unwrap().to_string();
                let mut router = g
                    .routers
                    .get()
                    .set_project(P)
                    .set_region(&r.region)
                    .set_router(&router_name)
                    .send()
                    .await
                    .unwrap();
                if r.kind == Kind::GcpRouterInterface {
                    router.interfaces.push(
                        RouterInterface::new()
                            .set_name(&r.name)
                            .set_ip_range(text(&a["ip_range"]))
                            .set_linked_vpn_tunnel(resolve(&outputs, &a["linked_vpn_tunnel"])),
                    );
                } else {
                    router.bgp_peers.push(
                        RouterBgpPeer::new()
                            .set_name(&r.name)
                            .set_interface_name(text(&a["interface_name"]))
                            .set_ip_address(text(&a["ip_address"]))
                            .set_peer_ip_address(text(&a["peer_ip_address"]))
                            .set_peer_asn(int(&a["peer_asn"]) as u32)
                            .set_advertise_mode(text(&a["advertise_mode"]).as_str())
                            .set_advertised_route_priority(
                                int(&a["advertised_route_priority"]) as u32
                            ),
                    );
                }
                done(
                    g.routers
                        .patch()
                        .set_project(P)
                        .set_region(&r.region)
                        .set_router(&router_name)
                        .set_body(
                            Router::new()
                                .set_interfaces(router.interfaces)
                                .set_bgp_peers(router.bgp_peers),
                        )
                        .poller(),
                )
                .await;
                format!("{router_path}#{}", r.name)
            }
            Kind::GcpAddress => {
                assert_eq!(text(&a["address_type"]), "EXTERNAL");
                done(
                    g.addrs
                        .insert()
                        .set_project(P)
                        .set_region(&r.region)
                        .set_body(Address::new().set_name(&r.name))
                        .poller(),
                )
                .await;
                let ip = g
                    .addrs
                    .get()
                    .set_project(P)
                    .set_region(&r.region)
                    .set_address(&r.name)
                    .send()
                    .await
                    .unwrap()
                    .address
                    .unwrap();
                outputs.insert((r.address.clone(), "address".into()), ip);
                regional("addresses")
            }
            Kind::GcpTargetVpnGateway => {
                done(
                    g.tgws
                        .insert()
                        .set_project(P)
                        .set_region(&r.region)
                        .set_body(
                            TargetVpnGateway::new()
                                .set_name(&r.name)
                                .set_network(network()),
                        )
                        .poller(),
                )
                .await;
                regional("targetVpnGateways")
            }
            Kind::GcpForwardingRule => {
                let mut rule = ForwardingRule::new()
                    .set_name(&r.name)
                    .set_ip_protocol(text(&a["ip_protocol"]).as_str())
                    .set_ip_address(resolve(&outputs, &a["ip_address"]))
                    .set_target(resolve(&outputs, &a["target"]));
                if let Some(p) = a.get("port_range") {
                    rule = rule.set_port_range(text(p));
                }
                done(
                    g.fwd
                        .insert()
                        .set_project(P)
                        .set_region(&r.region)
                        .set_body(rule)
                        .poller(),
                )
                .await;
                regional("forwardingRules")
            }
            Kind::GcpRoute => {
                done(
                    g.insert_route(
                        Route::new()
                            .set_name(&r.name)
                            .set_network(network())
                            .set_dest_range(text(&a["dest_range"]))
                            .set_next_hop_vpn_tunnel(resolve(&outputs, &a["next_hop_vpn_tunnel"]))
                            .set_priority(int(&a["priority"]) as u32),
                    )
                    .poller(),
                )
                .await;
                global("routes")
            }
            Kind::GcpFirewall => {
                let Value::List(allowed) = &a["allowed"] else {
                    panic!("allowed")
                };
                let allowed: Vec<firewall::Allowed> = allowed
                    .iter()
                    .map(|e| {
                        let Value::Map(e) = e else { panic!("entry") };
                        let mut x =
                            firewall::Allowed::new().set_ip_protocol(text(&e["ip_protocol"]));
                        if let Some(p) = e.get("ports") {
                            x = x.set_ports(strs(p));
                        }
                        x
                    })
                    .collect();
                done(
                    g.insert_firewall(
                        Firewall::new()
                            .set_name(&r.name)
                            .set_network(network())
                            .set_direction(text(&a["direction"]).as_str())
                            .set_priority(int(&a["priority"]) as i32)
                            .set_source_ranges(strs(&a["source_ranges"]))
                            .set_allowed(allowed),
                    )
                    .poller(),
                )
                .await;
                global("firewalls")
            }
            other => panic!("unexpected GCP kind {other}"),
        };
        outputs.insert((r.address.clone(), "id".into()), id);
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_applying_the_gcp_part_of_a_plan_created_resources_equals_its_gcp_resources() {
    use rand_core::SeedableRng;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/triangle.yaml");
    let topo = peerctl::topology::parse(path, &std::fs::read_to_string(path).unwrap()).unwrap();
    let plan = peerctl::plan::plan(
        &topo,
        &peerctl::state::State::empty(),
        &peerctl::plan::templates::Templates::embedded().unwrap(),
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap();
    let sb = common::start(topo).await;
    let url = sb.url();
    let g = gcp(&url).await;
    assert_eq!(
        admin(&url, "GET", "/_sandbox/stats", "").await["created_resources"],
        0
    );
    let planned = apply_gcp_part(&g, &plan).await;
    let kinds: std::collections::BTreeSet<_> = plan
        .resources
        .iter()
        .filter(|r| r.cloud() == peerctl::cloud::Cloud::Gcp)
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds.len(), 11, "every GCP kind is exercised: {kinds:?}");
    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    assert_eq!(stats["created_resources"], planned, "{stats}");

    // The router holds the plan's four interfaces and peers; dropping one peer is one
    // resource fewer.
    let router = plan
        .resources
        .iter()
        .find(|r| r.kind == peerctl::plan::resource::Kind::GcpRouter)
        .unwrap();
    let current = g
        .routers
        .get()
        .set_project(P)
        .set_region(&router.region)
        .set_router(&router.name)
        .send()
        .await
        .unwrap();
    assert_eq!((current.interfaces.len(), current.bgp_peers.len()), (4, 4));
    let mut peers = current.bgp_peers.clone();
    peers.pop();
    done(
        g.routers
            .patch()
            .set_project(P)
            .set_region(&router.region)
            .set_router(&router.name)
            .set_body(Router::new().set_bgp_peers(peers))
            .poller(),
    )
    .await;
    let stats = admin(&url, "GET", "/_sandbox/stats", "").await;
    assert_eq!(stats["created_resources"], planned - 1, "{stats}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_reach_the_sdk_as_unauthenticated() {
    let sb = common::start_with(
        topology(),
        SandboxConfig {
            latency: Latency { scale: 0.0 },
            reject_credentials: true,
            ..SandboxConfig::default()
        },
    )
    .await;
    let g = gcp(&sb.url()).await;
    let err = g
        .nets
        .get()
        .set_project(P)
        .set_network("prod-vpc")
        .send()
        .await
        .expect_err("rejected");
    assert_eq!(err.http_status_code(), Some(401), "{err:?}");
    assert_eq!(code(&err), Some(Code::Unauthenticated), "{err:?}");
    sb.sandbox.set_reject_credentials(false);
    g.nets
        .get()
        .set_project(P)
        .set_network("prod-vpc")
        .send()
        .await
        .expect("accepted");
    sb.stop().await;
}
