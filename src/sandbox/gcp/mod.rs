//! The GCP Compute v1 front end of the sandbox: networks, HA and classic Cloud VPN, Cloud
//! Router, routes and firewall rules over REST/JSON with Operation resources, as the
//! google-cloud-compute clients speak it. See docs/sandbox-gcp.md.
//!
//! Layout: `model` (stored resources), `wire` (paths, references, errors), `api` (the
//! operations), `filter` (list filters), `physics` (tunnel ends, BGP, routes for `net`),
//! `firewall` (rule evaluation).

pub mod api;
pub mod filter;
pub mod firewall;
pub mod model;
pub mod physics;
pub mod wire;

pub use model::GcpCloud;

use crate::sandbox::http::{Request, Response};
use crate::sandbox::world::{Ctx, World};
use crate::sandbox::{FaultKind, OpInfo};
use crate::topology::{Location, Network};
use model::{Meta, Res, RoutingConfig, Subnetwork};

/// Names the operation a request asks for (`vpnTunnels.insert`, `regionOperations.get`);
/// `None` when it is not a Compute request this front end serves.
pub fn identify(req: &Request) -> Option<OpInfo> {
    wire::operation_name(req).map(|(name, mutating)| OpInfo { name, mutating })
}

/// Handles one request.
pub fn handle(world: &mut World, ctx: &Ctx, req: &Request) -> Response {
    api::handle(world, ctx, req)
}

/// The error response for an injected fault, in Compute's format: throttling is 429
/// `rateLimitExceeded` (RESOURCE_EXHAUSTED), a server error 503 `backendError`
/// (UNAVAILABLE, which the Rust SDK's default policy retries on idempotent calls).
pub fn fault_response(kind: FaultKind, _req: &Request) -> Response {
    match kind {
        FaultKind::Throttle => wire::error(
            429,
            "RESOURCE_EXHAUSTED",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        ),
        FaultKind::ServerError => wire::error(
            503,
            "UNAVAILABLE",
            "backendError",
            "The service is currently unavailable.",
        ),
    }
}

/// Google's answer to a call without valid credentials: 401 `UNAUTHENTICATED` (reason
/// `authError`) and a `WWW-Authenticate` challenge naming the token as invalid.
pub fn auth_failure(_req: &Request) -> Response {
    wire::error(
        401,
        "UNAUTHENTICATED",
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
    )
    .with_header(
        "www-authenticate",
        "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
    )
}

/// When seeded resources say they were created (seeding has no clock): 2024-01-01T00:00Z.
const SEEDED_MS: u64 = 1_704_067_200_000;

/// Seeds one topology network: the VPC network (custom mode, regional routing) and one
/// subnetwork per CIDR in the topology's region. No firewall rules besides the implied ones.
pub fn seed(world: &mut World, net: &Network) {
    let Location::Gcp(g) = &net.location else {
        return;
    };
    let np = format!("projects/{}/global/networks/{}", g.project, g.network);
    let meta = |world: &mut World, name: Option<String>| Meta {
        id: world.ids.numeric(),
        seeded: true,
        created_ms: SEEDED_MS,
        ready_ms: SEEDED_MS,
        topology_name: name,
    };
    if !world.gcp.networks.contains_key(&np) {
        let m = meta(world, Some(net.name.clone()));
        world.gcp.networks.insert(
            np.clone(),
            Res {
                meta: m,
                body: model::Network {
                    name: g.network.clone(),
                    description: Some(format!(
                        "Seeded by the peerctl sandbox from topology network '{}'",
                        net.name
                    )),
                    auto_create_subnetworks: false,
                    routing_config: RoutingConfig {
                        routing_mode: Some("REGIONAL".into()),
                    },
                    mtu: 1460,
                },
            },
        );
    }
    for (i, cidr) in net.cidrs.iter().enumerate() {
        let name = if i == 0 {
            format!("{}-{}", g.network, g.region)
        } else {
            format!("{}-{}-{}", g.network, g.region, i + 1)
        };
        let path = format!(
            "projects/{}/regions/{}/subnetworks/{name}",
            g.project, g.region
        );
        if world.gcp.subnetworks.contains_key(&path) {
            continue;
        }
        let m = meta(world, None);
        world.gcp.subnetworks.insert(
            path,
            Res {
                meta: m,
                body: Subnetwork {
                    name,
                    description: Some(format!("Seeded from topology network '{}'", net.name)),
                    network: np.clone(),
                    ip_cidr_range: cidr.to_string(),
                    gateway_address: cidr
                        .hosts()
                        .next()
                        .map(|h| h.to_string())
                        .unwrap_or_default(),
                    private_ip_google_access: false,
                    stack_type: "IPV4_ONLY".into(),
                    purpose: "PRIVATE".into(),
                },
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Cloud;
    use crate::sandbox::net::CloudModel;
    use crate::topology::{GcpNetwork, Span};

    fn topo_net() -> Network {
        Network {
            name: "gcp-usc1".into(),
            cloud: Cloud::Gcp,
            cidrs: vec![
                "10.20.0.0/16".parse().unwrap(),
                "10.21.0.0/16".parse().unwrap(),
            ],
            asn: None,
            location: Location::Gcp(GcpNetwork {
                project: "acme-net".into(),
                region: "us-central1".into(),
                network: "prod-vpc".into(),
            }),
            span: Span::default(),
        }
    }

    #[test]
    fn seeding_creates_the_network_and_one_subnetwork_per_cidr_counted_as_seeded() {
        let mut w = World::default();
        seed(&mut w, &topo_net());
        let nets = w.gcp.networks();
        assert_eq!(nets.len(), 1);
        assert_eq!(
            nets[0].key,
            "gcp:projects/acme-net/global/networks/prod-vpc"
        );
        assert_eq!(nets[0].name.as_deref(), Some("gcp-usc1"));
        assert_eq!(nets[0].cidrs.len(), 2);
        let names: Vec<&str> = w
            .gcp
            .subnetworks
            .values()
            .map(|s| s.body.name.as_str())
            .collect();
        assert_eq!(
            names,
            vec!["prod-vpc-us-central1", "prod-vpc-us-central1-2"]
        );
        assert!(w.gcp.firewalls.is_empty());
        assert_eq!(w.gcp.created_resources(), 0);
    }

    #[test]
    fn created_resources_counts_each_router_interface_and_bgp_peer_as_the_planner_does() {
        let mut w = World::default();
        seed(&mut w, &topo_net());
        let iface = |n: &str| model::RouterInterface {
            name: n.into(),
            ..Default::default()
        };
        let router = model::Router {
            name: "r".into(),
            network: "projects/acme-net/global/networks/prod-vpc".into(),
            interfaces: vec![iface("if-0"), iface("if-1")],
            bgp_peers: vec![model::RouterBgpPeer {
                name: "peer-0".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        w.gcp.routers.insert(
            "projects/acme-net/regions/us-central1/routers/r".into(),
            Res {
                meta: Meta::default(),
                body: router,
            },
        );
        // gcp.router + 2 × gcp.router_interface + 1 × gcp.router_peer.
        assert_eq!(w.gcp.created_resources(), 4);
    }

    #[test]
    fn the_cloud_survives_a_json_round_trip_for_persistence() {
        let mut w = World::default();
        seed(&mut w, &topo_net());
        let text = serde_json::to_string(&w.gcp).unwrap();
        let back: GcpCloud = serde_json::from_str(&text).unwrap();
        assert_eq!(back.networks, w.gcp.networks);
        assert_eq!(back.subnetworks, w.gcp.subnetworks);
    }
}
