//! Sandbox speed: how fast one describe call is answered, over HTTP on loopback and in
//! process, and how many calls per second the server sustains. A bench binary that prints
//! figures (`cargo bench --bench sandbox`); docs/performance.md records them.

use peerctl::cloud::Cloud;
use peerctl::sandbox::http::Request;
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::{Sandbox, SandboxConfig};
use peerctl::topology::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const VPC: &str = "vpc-0a1b2c3d4e5f60789";

fn topology() -> Topology {
    let span = Span { line: 1, col: 1 };
    Topology {
        version: 1,
        name: "bench".into(),
        networks: vec![Network {
            name: "aws-use1".into(),
            cloud: Cloud::Aws,
            cidrs: vec!["10.10.0.0/16".parse().expect("cidr")],
            asn: None,
            location: Location::Aws(AwsNetwork {
                region: "us-east-1".into(),
                vpc_id: VPC.into(),
                route_tables: None,
                security_groups: None,
            }),
            span,
        }],
        links: vec![],
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("Version", "2016-11-15");
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Pulls `<tag>value</tag>` out of an XML body.
fn xml_value(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_string())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort();
    let n = samples.len();
    println!(
        "{name:<44} n={n:<6} p50={:>8.1?} p99={:>8.1?} max={:>8.1?} {:>9.0} calls/s",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[n - 1],
        n as f64 / wall.as_secs_f64()
    );
}

fn main() {
    let config = SandboxConfig {
        latency: Latency { scale: 0.0 },
        ..SandboxConfig::default()
    };
    let sandbox = Arc::new(Sandbox::new(config, Some(topology())).expect("sandbox"));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let running = rt
        .block_on(peerctl::sandbox::serve(
            sandbox.clone(),
            "127.0.0.1:0".parse().expect("addr"),
        ))
        .expect("serve");
    let url = running.url();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(16)
        .build()
        .expect("client");
    let post = {
        let (client, url) = (client.clone(), url.clone());
        move |body: String| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let r = client
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                let status = r.status();
                let text = r.text().await.expect("body");
                assert!(status.is_success(), "{status}: {text}");
                text
            }
        }
    };

    // A VPN connection to describe: VGW attached to the VPC, a customer gateway, a connection.
    let vpn_id = rt.block_on(async {
        let vgw = post(form(&[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")])).await;
        let vgw = xml_value(&vgw, "vpnGatewayId").expect("vgw id");
        post(form(&[
            ("Action", "AttachVpnGateway"),
            ("VpcId", VPC),
            ("VpnGatewayId", &vgw),
        ]))
        .await;
        let cgw = post(form(&[
            ("Action", "CreateCustomerGateway"),
            ("Type", "ipsec.1"),
            ("BgpAsn", "65010"),
            ("IpAddress", "198.18.200.7"),
        ]))
        .await;
        let cgw = xml_value(&cgw, "customerGatewayId").expect("cgw id");
        let vpn = post(form(&[
            ("Action", "CreateVpnConnection"),
            ("Type", "ipsec.1"),
            ("CustomerGatewayId", &cgw),
            ("VpnGatewayId", &vgw),
            ("Options.StaticRoutesOnly", "true"),
        ]))
        .await;
        xml_value(&vpn, "vpnConnectionId").expect("vpn id")
    });

    println!("sandbox speed (loopback HTTP/1.1 keep-alive unless noted; time scale 0)");
    for (name, body) in [
        ("DescribeVpcs", form(&[("Action", "DescribeVpcs")])),
        (
            "DescribeVpnConnections (1 connection)",
            form(&[
                ("Action", "DescribeVpnConnections"),
                ("VpnConnectionId.1", &vpn_id),
            ]),
        ),
    ] {
        // In process: the handler alone, no HTTP.
        let req = Request {
            method: "POST".into(),
            path: "/".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: body.clone().into_bytes(),
            base_url: url.clone(),
            ..Request::default()
        };
        let n = 20_000;
        let mut samples = Vec::with_capacity(n);
        let wall = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            let resp = sandbox.handle(&req);
            samples.push(t.elapsed());
            assert_eq!(resp.status, 200);
        }
        report(&format!("{name}, in process"), samples, wall.elapsed());

        // Over HTTP, one client, sequential.
        let n = 5_000;
        let samples = rt.block_on(async {
            let mut samples = Vec::with_capacity(n);
            for _ in 0..200 {
                post(body.clone()).await;
            }
            for _ in 0..n {
                let t = Instant::now();
                post(body.clone()).await;
                samples.push(t.elapsed());
            }
            samples
        });
        let wall: Duration = samples.iter().sum();
        report(&format!("{name}, HTTP sequential"), samples, wall);

        // Over HTTP, 8 concurrent clients.
        let per = 2_000;
        let wall = Instant::now();
        let samples = rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let body = body.clone();
                    let post = post.clone();
                    tokio::spawn(async move {
                        let mut s = Vec::with_capacity(per);
                        for _ in 0..per {
                            let t = Instant::now();
                            post(body.clone()).await;
                            s.push(t.elapsed());
                        }
                        s
                    })
                })
                .collect();
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.expect("task"));
            }
            all
        });
        report(
            &format!("{name}, HTTP 8 concurrent"),
            samples,
            wall.elapsed(),
        );
    }
    rt.block_on(running.stop());
}
