//! Shared test harness: sandboxes on ephemeral loopback ports and a three-cloud topology built
//! in code.
#![allow(dead_code)]

use peerctl::cloud::Cloud;
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use peerctl::topology::*;
use std::sync::Arc;

/// The SDKs honour HTTP(S)_PROXY even for loopback; make sure they do not use one.
pub fn no_proxy() {
    // SAFETY-free: set once before any client is built; tests only add loopback entries.
    for k in ["NO_PROXY", "no_proxy"] {
        std::env::set_var(k, "127.0.0.1,localhost");
    }
}

/// A sandbox seeded with `topology`, listening on an ephemeral loopback port, with instant
/// provisioning (time scale 0) unless `config` says otherwise.
pub async fn start(topology: Topology) -> RunningSandbox {
    start_with(
        topology,
        SandboxConfig {
            latency: Latency { scale: 0.0 },
            ..SandboxConfig::default()
        },
    )
    .await
}

pub async fn start_with(topology: Topology, config: SandboxConfig) -> RunningSandbox {
    no_proxy();
    let sandbox = Arc::new(Sandbox::new(config, Some(topology)).expect("sandbox"));
    peerctl::sandbox::serve(sandbox, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("serve")
}

fn span() -> Span {
    Span { line: 1, col: 1 }
}

pub fn aws_net(name: &str, vpc: &str, cidr: &str) -> Network {
    Network {
        name: name.into(),
        cloud: Cloud::Aws,
        cidrs: vec![cidr.parse().unwrap()],
        asn: None,
        location: Location::Aws(AwsNetwork {
            region: "us-east-1".into(),
            vpc_id: vpc.into(),
            route_tables: None,
            security_groups: None,
        }),
        span: span(),
    }
}

pub fn gcp_net(name: &str, network: &str, cidr: &str) -> Network {
    Network {
        name: name.into(),
        cloud: Cloud::Gcp,
        cidrs: vec![cidr.parse().unwrap()],
        asn: None,
        location: Location::Gcp(GcpNetwork {
            project: "acme-net".into(),
            region: "us-central1".into(),
            network: network.into(),
        }),
        span: span(),
    }
}

pub fn azure_net(name: &str, vnet: &str, cidr: &str, gateway_subnet: &str) -> Network {
    Network {
        name: name.into(),
        cloud: Cloud::Azure,
        cidrs: vec![cidr.parse().unwrap()],
        asn: None,
        location: Location::Azure(AzureNetwork {
            subscription: "00000000-0000-0000-0000-000000000000".into(),
            resource_group: "net-rg".into(),
            location: "eastus".into(),
            vnet: vnet.into(),
            gateway_subnet: gateway_subnet.parse().unwrap(),
            gateway_sku: "VpnGw1".into(),
            network_security_groups: None,
        }),
        span: span(),
    }
}

/// aws-use1 (vpc-0a1b2c3d4e5f60789, 10.10.0.0/16), gcp-usc1 (acme-net/prod-vpc,
/// 10.20.0.0/16), az-eus (net-rg/prod-vnet, 10.30.0.0/16), all three pairs linked.
pub fn triangle() -> Topology {
    let link = |a: &str, b: &str| Link {
        a: a.into(),
        b: b.into(),
        allow: vec![],
        span: span(),
    };
    Topology {
        version: 1,
        name: "prod-mesh".into(),
        networks: vec![
            aws_net("aws-use1", "vpc-0a1b2c3d4e5f60789", "10.10.0.0/16"),
            gcp_net("gcp-usc1", "prod-vpc", "10.20.0.0/16"),
            azure_net("az-eus", "prod-vnet", "10.30.0.0/16", "10.30.255.0/27"),
        ],
        links: vec![
            link("aws-use1", "gcp-usc1"),
            link("aws-use1", "az-eus"),
            link("az-eus", "gcp-usc1"),
        ],
    }
}

/// The Python interpreter of the venv that `tests/run` sets up (third-party clients and the
/// clouds' published API models). Panics with instructions when it is missing: these tests are
/// never skipped.
pub fn python() -> std::path::PathBuf {
    let p = std::env::var_os("PEERCTL_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyvenv/bin/python")
        });
    assert!(
        p.exists(),
        "no Python venv at {}: run the tests with `tests/run`, which creates it",
        p.display()
    );
    p
}

/// Runs `tests/python/<script>` with `args`; returns stdout, panicking with both streams when
/// the script fails.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = std::process::Command::new(python())
        .arg(&path)
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
