//! The sandbox core over HTTP: dispatch by path, fault injection (scripted and seeded random),
//! AWS eventual consistency, counters, reset, the clock.

use crate::common;
use peerctl::sandbox::latency::Latency;
use peerctl::sandbox::SandboxConfig;
use serde_json::{json, Value};

struct Http {
    client: reqwest::Client,
    url: String,
}

impl Http {
    fn new(url: String) -> Http {
        Http {
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            url,
        }
    }

    async fn ec2(&self, pairs: &[(&str, &str)]) -> (u16, String) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Version", "2016-11-15");
        for (k, v) in pairs {
            form.append_pair(k, v);
        }
        let r = self
            .client
            .post(&self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.finish())
            .send()
            .await
            .expect("post");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/_sandbox/{path}", self.url);
        let req = match method {
            "POST" => self.client.post(url),
            _ => self.client.get(url),
        };
        let req = match body {
            Some(b) => req.body(b.to_string()),
            None => req,
        };
        let r = req.send().await.expect("admin");
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.expect("body")).expect("json"),
        )
    }
}

fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let s = xml.find(&open)? + open.len();
    Some(&xml[s..s + xml[s..].find('<')?])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_faults_hit_exactly_the_named_operation_in_each_clouds_format() {
    let sb = common::start(common::triangle()).await;
    let http = Http::new(sb.url());
    let (status, _) = http
        .admin(
            "POST",
            "faults",
            Some(json!({"scripted": [
                {"cloud": "aws", "operation": "DescribeVpcs", "kind": "throttle", "count": 1},
                {"cloud": "aws", "operation": "DescribeVpnGateways", "kind": "server_error", "count": 1}
            ]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = http.ec2(&[("Action", "DescribeVpnGateways")]).await;
    assert_eq!(status, 500);
    assert_eq!(tag(&body, "Code"), Some("InternalError"), "{body}");
    let (status, body) = http.ec2(&[("Action", "DescribeVpcs")]).await;
    assert_eq!(status, 503);
    assert_eq!(tag(&body, "Code"), Some("RequestLimitExceeded"), "{body}");
    // Both scripted faults are spent: the next calls succeed.
    assert_eq!(http.ec2(&[("Action", "DescribeVpcs")]).await.0, 200);
    assert_eq!(http.ec2(&[("Action", "DescribeVpnGateways")]).await.0, 200);
    let (_, stats) = http.admin("GET", "stats", None).await;
    assert_eq!(stats["clouds"]["aws"]["faults"], 2, "{stats}");
    // A faulted call is not counted as performed.
    assert_eq!(
        stats["clouds"]["aws"]["operations"]["DescribeVpcs"], 1,
        "{stats}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_follow_the_seed_and_the_rate() {
    async fn outcomes(seed: u64) -> Vec<u16> {
        let config = SandboxConfig {
            latency: Latency { scale: 0.0 },
            fault_rate: 0.2,
            throttle_rate: 0.2,
            seed,
            ..SandboxConfig::default()
        };
        let sb = common::start_with(common::triangle(), config).await;
        let http = Http::new(sb.url());
        let mut v = Vec::new();
        for _ in 0..100 {
            v.push(http.ec2(&[("Action", "DescribeVpcs")]).await.0);
        }
        sb.stop().await;
        v
    }
    let a = outcomes(42).await;
    assert_eq!(a, outcomes(42).await, "same seed, same faults");
    assert_ne!(a, outcomes(43).await, "another seed, other faults");
    let throttled = a.iter().filter(|s| **s == 503).count();
    let failed = a.iter().filter(|s| **s == 500).count();
    assert!(
        (5..40).contains(&throttled),
        "{throttled} throttled of 100 at 20%"
    );
    assert!((5..40).contains(&failed), "{failed} failed of 100 at 20%");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_resources_are_not_found_by_id_until_the_consistency_window_passes() {
    let config = SandboxConfig {
        latency: Latency { scale: 0.0 },
        aws_consistency_ms: 60_000,
        ..SandboxConfig::default()
    };
    let sb = common::start_with(common::triangle(), config).await;
    let http = Http::new(sb.url());
    let (status, body) = http
        .ec2(&[("Action", "CreateVpnGateway"), ("Type", "ipsec.1")])
        .await;
    assert_eq!(status, 200, "{body}");
    let id = tag(&body, "vpnGatewayId").expect("id").to_string();
    let describe = [
        ("Action", "DescribeVpnGateways"),
        ("VpnGatewayId.1", id.as_str()),
    ];
    let (status, body) = http.ec2(&describe).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(tag(&body, "Code"), Some("InvalidVpnGatewayID.NotFound"));
    let (status, _) = http
        .admin("POST", "clock", Some(json!({"advance_ms": 61_000})))
        .await;
    assert_eq!(status, 200);
    let (status, body) = http.ec2(&describe).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&id));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_refuses_bad_input_and_unknown_paths() {
    let sb = common::start(common::triangle()).await;
    let http = Http::new(sb.url());
    let (status, body) = http
        .admin("POST", "faults", Some(json!({"fault_rate": 2.0})))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap_or("").contains("fault_rate"),
        "{body}"
    );
    let (status, body) = http
        .admin(
            "POST",
            "faults",
            Some(json!({"scripted": [{"cloud": "aws", "kind": "throttle", "count": 0}]})),
        )
        .await;
    assert_eq!(status, 400, "a count of 0 would never run out: {body}");
    let (status, _) = http
        .admin("POST", "clock", Some(json!({"advance_ms": u64::MAX})))
        .await;
    assert_eq!(status, 400);
    // Neither refused request changed anything: calls still succeed.
    assert_eq!(http.ec2(&[("Action", "DescribeVpcs")]).await.0, 200);
    let (status, _) = http.admin("GET", "nonsense", None).await;
    assert_eq!(status, 404);
    let r = http
        .client
        .get(format!("{}/nowhere", sb.url()))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 404);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_table_shows_the_scale_and_each_operations_real_and_scaled_time() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 0.001 },
            ..SandboxConfig::default()
        },
    )
    .await;
    let http = Http::new(sb.url());
    let (status, body) = http.admin("GET", "latency", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scale"], 0.001);
    assert_eq!(body["real_ms"]["azure_vpn_gateway_create"], 35 * 60 * 1000);
    assert_eq!(body["scaled_ms"]["azure_vpn_gateway_create"], 2100);
    assert_eq!(body["real_ms"]["aws_vpn_connection_create"], 300_000);
    assert_eq!(body["scaled_ms"]["aws_vpn_connection_create"], 300);
    let real = body["real_ms"].as_object().expect("real_ms");
    let scaled = body["scaled_ms"].as_object().expect("scaled_ms");
    assert_eq!(
        real.keys().collect::<Vec<_>>(),
        scaled.keys().collect::<Vec<_>>()
    );
    assert_eq!(real.len(), peerctl::sandbox::latency::Op::ALL.len());
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_answer_each_clouds_own_auth_error_until_lifted() {
    let sb = common::start_with(
        common::triangle(),
        SandboxConfig {
            latency: Latency { scale: 0.0 },
            reject_credentials: true,
            ..SandboxConfig::default()
        },
    )
    .await;
    let http = Http::new(sb.url());
    let gcp_url = format!(
        "{}/compute/v1/projects/acme-net/global/networks/prod-vpc",
        sb.url()
    );
    let azure_url = format!(
        "{}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/prod-vnet?api-version=2024-03-01",
        sb.url()
    );
    let get = |url: String| {
        let client = http.client.clone();
        async move {
            let r = client.get(url).send().await.expect("get");
            let status = r.status().as_u16();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = serde_json::from_str(&r.text().await.unwrap()).expect("json");
            (status, challenge, body)
        }
    };
    let (status, body) = http.ec2(&[("Action", "DescribeVpcs")]).await;
    assert_eq!(status, 401);
    assert_eq!(tag(&body, "Code"), Some("AuthFailure"), "{body}");
    assert!(body.contains("<Response><Errors><Error>"), "{body}");
    let (status, challenge, body) = get(gcp_url.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], 401, "{body}");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED", "{body}");
    assert_eq!(body["error"]["errors"][0]["reason"], "authError", "{body}");
    assert!(challenge.unwrap().starts_with("Bearer "));
    let (status, challenge, body) = get(azure_url.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"]["code"], "InvalidAuthenticationToken",
        "{body}"
    );
    assert!(challenge.unwrap().contains("invalid_token"));
    // Nothing was counted: the clouds refused before doing anything.
    let (_, stats) = http.admin("GET", "stats", None).await;
    assert_eq!(stats["reads"], 0, "{stats}");

    let (status, v) = http.admin("GET", "auth", None).await;
    assert_eq!((status, v), (200, json!({"reject": true})));
    let (status, _) = http
        .admin("POST", "auth", Some(json!({"reject": "no"})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = http
        .admin("POST", "auth", Some(json!({"reject": false})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(http.ec2(&[("Action", "DescribeVpcs")]).await.0, 200);
    assert_eq!(get(gcp_url.clone()).await.0, 200);
    assert_eq!(get(azure_url.clone()).await.0, 200);
    // A reset goes back to the configured behaviour.
    http.admin("POST", "reset", None).await;
    assert_eq!(http.ec2(&[("Action", "DescribeVpcs")]).await.0, 401);

    let url = sb.url();
    let out = tokio::task::spawn_blocking(move || common::run_python("auth_rejection.py", &[&url]))
        .await
        .unwrap();
    assert!(out.contains("auth_rejection: ok"), "{out}");
    sb.stop().await;
}
