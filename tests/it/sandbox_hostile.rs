//! hostile requests to the sandbox: bounded, answered in each cloud's format, the server stays up.
//!
//! Each test sends an input of the size that once aborted the process, held the world lock for
//! seconds or was answered outside the cloud's format, asserts the cloud's answer, a generous
//! time bound (a safety net, not a measurement: figures belong in benches), and that the server
//! still serves afterwards.

use crate::common;
use serde_json::Value;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const GCP: &str = "/compute/v1/projects/acme-net/global/firewalls";
const ARM: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net-rg/providers/Microsoft.Network/networkSecurityGroups/nsg-x?api-version=2023-09-01";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

fn form(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
}

async fn ec2(url: &str, body: String) -> (u16, String) {
    let r = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.text().await.expect("body"))
}

fn ec2_code(xml: &str) -> &str {
    xml.split("<Response><Errors><Error><Code>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_else(|| panic!("not an EC2 error document: {xml}"))
}

/// The server still answers an ordinary call.
async fn still_serves(url: &str) {
    let (s, b) = ec2(
        url,
        form(&[
            ("Action".into(), "DescribeVpcs".into()),
            ("Version".into(), "2016-11-15".into()),
        ]),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.contains("vpc-0a1b2c3d4e5f60789"), "{b}");
}

#[tokio::test]
async fn a_gcp_filter_nested_thousands_deep_is_a_400_in_googles_format_not_an_abort() {
    let sb = common::start(common::triangle()).await;
    let n = 2000;
    let filter = format!("{}name = x{}", "(".repeat(n), ")".repeat(n));
    let start = Instant::now();
    let r = client()
        .get(format!("{}{GCP}", sb.url()))
        .query(&[("filter", filter.as_str())])
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(v["error"]["code"], 400);
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nested deeper than 64"));
    assert!(start.elapsed() < Duration::from_secs(10));
    still_serves(&sb.url()).await;
    sb.stop().await;
}

#[tokio::test]
async fn json_bodies_nested_past_the_parsers_limit_are_400s_in_each_clouds_format() {
    let sb = common::start(common::triangle()).await;
    let deep = "[".repeat(100_000);
    let r = client()
        .post(format!("{}{GCP}", sb.url()))
        .header("content-type", "application/json")
        .body(deep.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{v}"
    );
    let r = client()
        .put(format!("{}{ARM}", sb.url()))
        .header("content-type", "application/json")
        .body(format!("{{\"a\":{deep}"))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert!(v["error"]["code"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    still_serves(&sb.url()).await;
    sb.stop().await;
}

fn vpc_tags(sb: &peerctl::sandbox::RunningSandbox) -> usize {
    sb.sandbox.inspect(|w, _| {
        w.aws
            .vpcs
            .get("vpc-0a1b2c3d4e5f60789")
            .map_or(usize::MAX, |v| v.tags.len())
    })
}

#[tokio::test]
async fn one_and_a_half_megabytes_of_ec2_tags_is_refused_quickly_while_others_are_served() {
    let sb = common::start(common::triangle()).await;
    let url = sb.url();
    let mut pairs = vec![
        ("Action".to_string(), "CreateTags".to_string()),
        ("Version".into(), "2016-11-15".into()),
        ("ResourceId.1".into(), "vpc-0a1b2c3d4e5f60789".into()),
    ];
    for i in 1..=33_000 {
        pairs.push((format!("Tag.{i}.Key"), format!("key{i}")));
        pairs.push((format!("Tag.{i}.Value"), format!("v{i}")));
    }
    let before = vpc_tags(&sb);
    let body = form(&pairs);
    assert!(body.len() > 1_400_000, "{}", body.len());
    let start = Instant::now();
    let big = tokio::spawn({
        let url = url.clone();
        async move { ec2(&url, body).await }
    });
    // Another client meanwhile: the big request is read outside the world lock.
    let mut served = 0;
    while !big.is_finished() || served == 0 {
        still_serves(&url).await;
        served += 1;
    }
    let (status, xml) = big.await.expect("join");
    assert_eq!(status, 400, "{xml}");
    assert_eq!(ec2_code(&xml), "TagLimitExceeded");
    assert!(start.elapsed() < Duration::from_secs(10));
    // Nothing was tagged.
    assert_eq!(vpc_tags(&sb), before);
    sb.stop().await;
}

#[tokio::test]
async fn ec2_filter_lists_past_ec2s_limits_are_filter_limit_exceeded() {
    let sb = common::start(common::triangle()).await;
    let base = || {
        vec![
            ("Action".to_string(), "DescribeVpcs".to_string()),
            ("Version".into(), "2016-11-15".into()),
        ]
    };
    let mut many = base();
    for i in 1..=51 {
        many.push((format!("Filter.{i}.Name"), "vpc-id".into()));
        many.push((format!("Filter.{i}.Value.1"), "vpc-x".into()));
    }
    let (s, xml) = ec2(&sb.url(), form(&many)).await;
    assert_eq!((s, ec2_code(&xml)), (400, "FilterLimitExceeded"));
    let mut values = base();
    values.push(("Filter.1.Name".into(), "vpc-id".into()));
    for j in 1..=201 {
        values.push((format!("Filter.1.Value.{j}"), format!("vpc-{j}")));
    }
    let (s, xml) = ec2(&sb.url(), form(&values)).await;
    assert_eq!((s, ec2_code(&xml)), (400, "FilterLimitExceeded"));
    // At the limits: answered.
    values.pop();
    let (s, xml) = ec2(&sb.url(), form(&values)).await;
    assert_eq!(s, 200, "{xml}");
    // A parameter tree deeper than any EC2 shape.
    let mut deep = base();
    deep.push(("A.1.B.1.C.1.D.1.E".into(), "x".into()));
    let (s, xml) = ec2(&sb.url(), form(&deep)).await;
    assert_eq!((s, ec2_code(&xml)), (400, "UnknownParameter"));
    still_serves(&sb.url()).await;
    sb.stop().await;
}

#[tokio::test]
async fn a_query_body_with_two_actions_is_refused_and_neither_is_counted_or_done() {
    let sb = common::start(common::triangle()).await;
    let body = "Action=DescribeVpcs&Version=2016-11-15&Action=CreateVpnGateway&Type=ipsec.1";
    let (s, xml) = ec2(&sb.url(), body.to_string()).await;
    assert_eq!((s, ec2_code(&xml)), (400, "InvalidParameterCombination"));
    assert!(xml.contains("Action"), "{xml}");
    let stats = sb.sandbox.stats_json().to_string();
    assert!(!stats.contains("CreateVpnGateway"), "{stats}");
    assert!(!stats.contains("DescribeVpcs"), "{stats}");
    let gateways = sb.sandbox.inspect(|w, _| w.aws.vpn_gateways.len());
    assert_eq!(gateways, 0);
    still_serves(&sb.url()).await;
    sb.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_in_the_format_of_the_cloud_of_its_path() {
    let sb = common::start(common::triangle()).await;
    let huge = "x".repeat(peerctl::sandbox::transport::MAX_BODY_BYTES + 1);
    let (s, xml) = ec2(&sb.url(), huge.clone()).await;
    assert_eq!((s, ec2_code(&xml)), (413, "RequestEntityTooLarge"));
    let r = client()
        .post(format!("{}{GCP}", sb.url()))
        .body(huge.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(v["error"]["code"], 413);
    assert!(v["error"]["status"].is_string());
    let r = client()
        .put(format!("{}{ARM}", sb.url()))
        .body(huge)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(v["error"]["code"], "RequestEntityTooLarge");
    still_serves(&sb.url()).await;
    sb.stop().await;
}

#[tokio::test]
async fn a_url_over_the_limit_is_a_414_in_the_format_of_the_cloud_of_its_path() {
    let sb = common::start(common::triangle()).await;
    let long = "a".repeat(peerctl::sandbox::transport::MAX_URI_BYTES);
    let r = client()
        .get(format!("{}{ARM}&x={long}", sb.url()))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 414);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(v["error"]["code"], "RequestUriTooLong");
    let r = client()
        .get(format!("{}{GCP}?filter={long}", sb.url()))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 414);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(v["error"]["code"], 414);
    still_serves(&sb.url()).await;
    sb.stop().await;
}

/// Past 64 KiB the HTTP parser would refuse the line itself with an empty 414: the line guard
/// answers first, in the cloud's format, and the server goes on serving.
#[tokio::test]
async fn a_request_line_past_the_http_parsers_own_limit_is_a_414_in_the_clouds_format_too() {
    let sb = common::start(common::triangle()).await;
    let addr = sb.addr;
    for size in [100 * 1024, 1024 * 1024] {
        for (path, code) in [
            (GCP, serde_json::json!(414)),
            (ARM, serde_json::json!("RequestUriTooLong")),
            ("/", serde_json::json!("RequestURITooLong")),
        ] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let req = format!(
                "GET {path}{sep}x={} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
                "a".repeat(size)
            );
            let answer = tokio::task::spawn_blocking(move || raw(addr, req.as_bytes(), false))
                .await
                .unwrap();
            assert!(
                answer.starts_with("HTTP/1.1 414 "),
                "{size} {path}: {answer}"
            );
            let body = answer.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
            let found = match serde_json::from_str::<Value>(body) {
                Ok(v) => v["error"]["code"].clone(),
                Err(_) => body
                    .split_once("<Code>")
                    .and_then(|(_, r)| r.split_once("</Code>"))
                    .map(|(c, _)| serde_json::json!(c))
                    .unwrap_or_default(),
            };
            assert_eq!(found, code, "{size} {path}: {answer}");
        }
    }
    still_serves(&sb.url()).await;
    sb.stop().await;
}

/// Sends raw bytes on one connection and reads the answer until the server closes it or a
/// complete response with `Content-Length` arrived.
fn raw(addr: std::net::SocketAddr, bytes: &[u8], shutdown: bool) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).expect("write");
    if shutdown {
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            });
            if len.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn truncated_and_badly_chunked_bodies_are_400s_in_the_clouds_format() {
    let sb = common::start(common::triangle()).await;
    let addr = sb.addr;
    let truncated = tokio::task::spawn_blocking(move || {
        raw(
            addr,
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\nAction=Describe",
            true,
        )
    })
    .await
    .unwrap();
    // The client went away half-way: either the 400 reaches it or the connection is closed,
    // never a plain-text answer.
    if !truncated.is_empty() {
        assert!(truncated.starts_with("HTTP/1.1 400"), "{truncated}");
        assert!(
            truncated.contains("<Code>MalformedQueryString</Code>"),
            "{truncated}"
        );
    }
    let chunked = tokio::task::spawn_blocking(move || {
        raw(
            addr,
            format!("POST {GCP} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n").as_bytes(),
            false,
        )
    })
    .await
    .unwrap();
    assert!(chunked.starts_with("HTTP/1.1 400"), "{chunked}");
    assert!(
        chunked.contains("\"status\":\"INVALID_ARGUMENT\""),
        "{chunked}"
    );
    still_serves(&sb.url()).await;
    sb.stop().await;
}

#[tokio::test]
async fn a_path_or_method_no_front_end_serves_is_a_404_in_the_format_of_its_cloud() {
    let sb = common::start(common::triangle()).await;
    let r = client().delete(sb.url()).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 404);
    let xml = r.text().await.unwrap();
    assert_eq!(ec2_code(&xml), "InvalidAction");
    let r = client()
        .get(format!("{}/compute/v2/projects/acme-net", sb.url()))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    still_serves(&sb.url()).await;
    sb.stop().await;
}
