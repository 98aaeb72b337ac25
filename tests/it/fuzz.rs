//! property tests of the topology decoder and the sandbox's request parsing (bounded here; PEERCTL_FUZZ_CASES for a longer run).

use peerctl::sandbox::http::Request;
use peerctl::sandbox::{Sandbox, SandboxConfig};
use peerctl::topology::{parse, TopologyError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per property: a few seconds in the normal test command; `PEERCTL_FUZZ_CASES=N` for a
/// longer run by hand, and 5,000 in the reliability campaign's long mode
/// (`PEERCTL_CAMPAIGN=long`, docs/reliability.md).
fn cases() -> u32 {
    let long = std::env::var("PEERCTL_CAMPAIGN").as_deref() == Ok("long");
    std::env::var("PEERCTL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if long { 5000 } else { 64 })
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

const SEED_TOPOLOGY: &str = "version: 1\nname: x\nnetworks:\n  - name: a\n    cloud: aws\n    region: us-east-1\n    vpc_id: vpc-00000001\n    cidrs: [10.0.0.0/24]\n  - name: b\n    cloud: gcp\n    project: acme-net\n    network: prod-vpc\n    region: us-central1\n    cidrs: [10.1.0.0/24]\nlinks:\n  - mesh: [a, b]\n";

/// Pieces that YAML and the decoder treat specially, spliced into a valid topology.
fn yaml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(": ".to_string()),
        Just("- ".to_string()),
        Just("? ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: ".to_string()),
        Just("\n".to_string()),
        Just("  ".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\u{1b}[31m".to_string()),
        Just("\u{202e}".to_string()),
        Just("#".to_string()),
        "[a-z0-9./-]{0,12}",
    ]
}

#[test]
fn the_topology_decoder_never_panics_and_every_diagnostic_is_one_located_line() {
    let strategy = (
        prop::collection::vec((0..SEED_TOPOLOGY.len(), 0..4usize, yaml_piece()), 1..12),
        any::<bool>(),
    );
    runner()
        .run(&strategy, |(edits, repeat)| {
            let mut t = SEED_TOPOLOGY.to_string();
            for (at, cut, piece) in edits {
                let at = (0..=at.min(t.len()))
                    .rev()
                    .find(|i| t.is_char_boundary(*i))
                    .unwrap_or(0);
                let end = (at..=(at + cut).min(t.len()))
                    .rev()
                    .find(|i| t.is_char_boundary(*i))
                    .unwrap_or(at);
                let piece = if repeat { piece.repeat(200) } else { piece };
                t.replace_range(at..end, &piece);
            }
            match parse("t.yaml", &t) {
                Ok(_) => {}
                Err(TopologyError::Invalid(d)) => {
                    prop_assert!(!d.is_empty());
                    // Bounded: no input of this size yields more diagnostics than it has bytes.
                    prop_assert!(d.len() <= t.len() + 10, "{} diagnostics", d.len());
                    for x in &d {
                        let s = x.to_string();
                        prop_assert!(
                            !s.contains('\n') && !s.contains('\r') && !s.contains('\u{1b}'),
                            "{s:?}"
                        );
                        prop_assert!(s.starts_with("t.yaml:") && x.line >= 1 && x.col >= 1, "{s}");
                    }
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
            Ok(())
        })
        .unwrap();
}

fn sandbox() -> Sandbox {
    let topology = parse("t.yaml", SEED_TOPOLOGY).expect("seed topology");
    Sandbox::new(SandboxConfig::default(), Some(topology)).expect("sandbox")
}

fn ec2_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Action".to_string()),
        Just("Version".to_string()),
        "(Filter|Tag|TagSpecification|VpcId|ResourceId)\\.[0-9]{1,3}(\\.(Name|Key|Value|ResourceType|Tag)(\\.[0-9]{1,2})?)?",
        "[A-Za-z.0-9]{0,30}",
    ]
}

fn ec2_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("DescribeVpcs".to_string()),
        Just("CreateTags".to_string()),
        Just("CreateVpnGateway".to_string()),
        Just("DescribeVpnConnections".to_string()),
        Just("vpc-00000001".to_string()),
        "[*?\\\\a-z0-9-]{0,20}",
        ".{0,20}",
    ]
}

#[test]
fn the_sandbox_answers_any_request_in_the_clouds_format_and_never_with_a_5xx() {
    let sb = sandbox();
    let ec2 = prop::collection::vec((ec2_key(), ec2_value()), 0..40).prop_map(|pairs| Request {
        method: "POST".into(),
        path: "/".into(),
        body: form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes(),
        ..Request::default()
    });
    let gcp = prop_oneof![
        "[()a-z =!:<>\"'.*0-9]{0,80}",
        "\\({1,300}name = x\\){0,300}",
    ]
    .prop_map(|f| Request {
        method: "GET".into(),
        path: "/compute/v1/projects/acme-net/global/firewalls".into(),
        query: vec![("filter".into(), f)],
        ..Request::default()
    });
    let json = prop_oneof![
        "[\\[\\]{}\":,a-z0-9 ]{0,120}",
        (1..3000usize).prop_map(|n| "[".repeat(n)),
        (1..3000usize).prop_map(|n| "{\"a\":".repeat(n)),
    ];
    let bodies = json.prop_flat_map(|body| {
        prop_oneof![
            Just(Request {
                method: "POST".into(),
                path: "/compute/v1/projects/acme-net/global/firewalls".into(),
                body: body.clone().into_bytes(),
                ..Request::default()
            }),
            Just(Request {
                method: "PUT".into(),
                path: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/x".into(),
                query: vec![("api-version".into(), "2023-09-01".into())],
                body: body.into_bytes(),
                ..Request::default()
            }),
        ]
    });
    let any_request = prop_oneof![ec2, gcp, bodies];
    runner()
        .run(&any_request, |req| {
            let resp = sb.handle(&req);
            prop_assert!(resp.status < 500, "{} for {req:?}", resp.status);
            let body = String::from_utf8_lossy(&resp.body);
            if req.path == "/" {
                prop_assert!(
                    resp.status == 200 || body.contains("<Response><Errors><Error><Code>"),
                    "{body}"
                );
            } else if resp.status >= 400 {
                let v: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {body}")))?;
                prop_assert!(
                    v["error"]["code"].is_number() || v["error"]["code"].is_string(),
                    "{body}"
                );
                prop_assert!(v["error"]["message"].is_string(), "{body}");
            }
            Ok(())
        })
        .unwrap();
    // Still serving.
    let ok = sb.handle(&Request {
        method: "POST".into(),
        path: "/".into(),
        body: b"Action=DescribeVpcs&Version=2016-11-15".to_vec(),
        ..Request::default()
    });
    assert_eq!(ok.status, 200);
}
