//! The sandbox's own API under `/_sandbox/`: counters, reset, fault injection, the clock, and
//! the physics' view of the network.
//!
//! - `GET  /_sandbox/stats`  — call counters and `created_resources`
//! - `POST /_sandbox/reset`  — back to the seeded world, counters zeroed
//! - `GET|POST /_sandbox/faults` — read / set `{fault_rate, throttle_rate, scripted: [...]}`
//! - `POST /_sandbox/clock`  — `{"advance_ms": N}` moves sandbox time forward
//! - `GET|POST /_sandbox/auth` — read / set `{"reject": bool}`: refuse every cloud call with
//!   the cloud's own authentication error
//! - `GET  /_sandbox/latency` — the time scale and every operation's real and scaled duration
//! - `GET  /_sandbox/net`    — every tunnel end's decided state
//! - `GET  /_sandbox/reach?from=A&to=B&proto=tcp&port=443` — can hosts of A reach B (names
//!   or keys; or `src=IP&dst=IP`), and if not, which hop stops it

use crate::sandbox::core::Inner;
use crate::sandbox::faults::ScriptedFault;
use crate::sandbox::http::{Request, Response};
use crate::sandbox::latency::{Latency, Op};
use crate::sandbox::net::{self, Flow, Proto};
use crate::sandbox::world::Ctx;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultUpdate {
    fault_rate: Option<f64>,
    throttle_rate: Option<f64>,
    /// Replaces the pending scripted faults when present.
    scripted: Option<Vec<ScriptedFault>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthUpdate {
    reject: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockUpdate {
    advance_ms: u64,
}

/// One step of `POST /_sandbox/clock`: a year, far beyond any provisioning time.
const MAX_ADVANCE_MS: u64 = 365 * 24 * 3600 * 1000;

fn bad_request(msg: impl std::fmt::Display) -> Response {
    Response::json(400, &json!({"error": msg.to_string()}))
}

pub(crate) fn handle(inner: &mut Inner, req: &Request) -> Response {
    let sub = req.path.trim_start_matches("/_sandbox/");
    match (req.method.as_str(), sub) {
        ("GET", "stats") => {
            Response::json(200, &inner.stats.to_json(inner.world.created_resources()))
        }
        ("POST", "reset") => {
            inner.reseed();
            inner.clock_offset_ms = 0;
            if let Err(e) = inner.persist() {
                return Response::json(500, &json!({"error": e.to_string()}));
            }
            Response::json(200, &json!({"reset": true}))
        }
        ("GET", "faults") => Response::json(
            200,
            &json!({
                "fault_rate": inner.faults.fault_rate,
                "throttle_rate": inner.faults.throttle_rate,
                "scripted": inner.faults.scripted,
            }),
        ),
        ("POST", "faults") => match serde_json::from_slice::<FaultUpdate>(&req.body) {
            Ok(u) => {
                for (name, rate) in [
                    ("fault_rate", u.fault_rate),
                    ("throttle_rate", u.throttle_rate),
                ] {
                    if let Some(r) = rate {
                        if !(0.0..=1.0).contains(&r) {
                            return bad_request(format!("{name} must be between 0 and 1, got {r}"));
                        }
                    }
                }
                if let Some(r) = u.fault_rate {
                    inner.faults.fault_rate = r;
                }
                if let Some(r) = u.throttle_rate {
                    inner.faults.throttle_rate = r;
                }
                if let Some(s) = u.scripted {
                    if let Some(f) = s.iter().find(|f| f.count == 0) {
                        return bad_request(format!(
                            "a scripted fault needs a count of at least 1 (got 0 for {})",
                            f.operation.as_deref().unwrap_or("any operation")
                        ));
                    }
                    inner.faults.scripted = s;
                }
                Response::json(200, &json!({"ok": true}))
            }
            Err(e) => bad_request(e),
        },
        ("POST", "clock") => match serde_json::from_slice::<ClockUpdate>(&req.body) {
            Ok(u) => {
                if u.advance_ms > MAX_ADVANCE_MS {
                    return bad_request(format!(
                        "advance_ms may move the clock by at most {MAX_ADVANCE_MS} ms (a year) per call, got {}",
                        u.advance_ms
                    ));
                }
                inner.clock_offset_ms = inner.clock_offset_ms.saturating_add(u.advance_ms);
                if let Err(e) = inner.persist() {
                    return Response::json(500, &json!({"error": e.to_string()}));
                }
                Response::json(200, &json!({"now_ms": inner.now_ms()}))
            }
            Err(e) => bad_request(e),
        },
        ("GET", "auth") => Response::json(200, &json!({"reject": inner.reject_credentials})),
        ("POST", "auth") => match serde_json::from_slice::<AuthUpdate>(&req.body) {
            Ok(u) => {
                inner.reject_credentials = u.reject;
                Response::json(200, &json!({"reject": u.reject}))
            }
            Err(e) => bad_request(e),
        },
        ("GET", "latency") => Response::json(200, &latency_json(&inner.config.latency)),
        ("GET", "net") => {
            let now = inner.now_ms();
            let ctx = Ctx::new(now, &inner.config.latency, &req.base_url);
            let net = ctx.net(&inner.world);
            Response::json(200, &serde_json::to_value(net).unwrap_or_default())
        }
        ("GET", "reach") => reach(inner, req),
        _ => Response::json(
            404,
            &json!({"error": format!("no sandbox admin endpoint {} {}", req.method, req.path)}),
        ),
    }
}

/// `GET /_sandbox/latency`: what a client needs to scale its own poll intervals and
/// timeouts to this sandbox's clock.
pub(crate) fn latency_json(latency: &Latency) -> serde_json::Value {
    let table = |f: &dyn Fn(Op) -> u64| {
        Op::ALL
            .iter()
            .map(|&op| (op.name().to_string(), json!(f(op))))
            .collect::<serde_json::Map<_, _>>()
    };
    json!({
        "scale": latency.scale,
        "real_ms": table(&Latency::real_ms),
        "scaled_ms": table(&|op| latency.ms(op)),
    })
}

fn parse_flow(req: &Request) -> Result<Flow, String> {
    let proto_s = req.query_param("proto").unwrap_or("tcp");
    let proto = Proto::parse(proto_s)
        .ok_or_else(|| format!("proto must be tcp, udp or icmp, got {proto_s:?}"))?;
    let port = match req.query_param("port") {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("port must be a number 0-65535, got {p:?}"))?,
        ),
    };
    match (proto, port) {
        (Proto::Icmp, Some(_)) => Err("icmp takes no port".into()),
        (Proto::Tcp | Proto::Udp, None) => Err(format!("{proto_s} needs a port")),
        _ => Ok(Flow { proto, port }),
    }
}

/// `GET /_sandbox/reach`: the physics' ground truth for one flow. Always 200 when the
/// question is well formed, `reachable` saying the answer (an unknown network is an answer:
/// nothing reaches it).
fn reach(inner: &Inner, req: &Request) -> Response {
    let flow = match parse_flow(req) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let now = inner.now_ms();
    let ctx = Ctx::new(now, &inner.config.latency, &req.base_url);
    let state = ctx.net(&inner.world);
    let (from, to, result) = match (req.query_param("src"), req.query_param("dst")) {
        (Some(s), Some(d)) => {
            let (Ok(src), Ok(dst)) = (s.parse(), d.parse()) else {
                return bad_request(format!(
                    "src and dst must be IPv4 addresses, got {s:?}, {d:?}"
                ));
            };
            (s, d, net::reach_addr(&inner.world, state, src, dst, flow))
        }
        _ => {
            let (Some(from), Some(to)) = (req.query_param("from"), req.query_param("to")) else {
                return bad_request("give from and to (network names or keys), or src and dst");
            };
            (
                from,
                to,
                net::reach(
                    &inner.world,
                    state,
                    &from.to_string(),
                    &to.to_string(),
                    flow,
                ),
            )
        }
    };
    let models = inner.world.models();
    let describe = |k: &str| match net::find_network(&models, k) {
        Some(n) => json!({"key": n.key, "name": n.name, "cloud": n.cloud}),
        None => json!({"key": k}),
    };
    let flow_json = json!({"proto": flow.proto, "port": flow.port});
    match result {
        Ok(path) => Response::json(
            200,
            &json!({
                "reachable": true,
                "from": describe(&path.from),
                "to": describe(&path.to),
                "flow": flow_json,
                "path": path,
            }),
        ),
        Err(b) => Response::json(
            200,
            &json!({
                "reachable": false,
                "from": describe(from),
                "to": describe(to),
                "flow": flow_json,
                "blocked": b.message,
                "blocked_at": {"direction": b.direction, "at": b.at, "network": b.network},
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::sandbox::http::Request;
    use crate::sandbox::latency::{Latency, Op};
    use crate::sandbox::{Sandbox, SandboxConfig};

    fn get(sb: &Sandbox, path: &str) -> (u16, serde_json::Value) {
        let r = sb.handle(&Request {
            method: "GET".into(),
            path: path.into(),
            ..Request::default()
        });
        (r.status, serde_json::from_slice(&r.body).expect("json"))
    }

    #[test]
    fn latency_lists_every_operation_real_and_scaled() {
        let sb = Sandbox::new(
            SandboxConfig {
                latency: Latency { scale: 0.5 },
                ..SandboxConfig::default()
            },
            None,
        )
        .unwrap();
        let (status, v) = get(&sb, "/_sandbox/latency");
        assert_eq!(status, 200);
        assert_eq!(v["scale"], 0.5);
        for op in Op::ALL {
            let real = Latency::real_ms(op);
            assert_eq!(v["real_ms"][op.name()], real, "{}", op.name());
            assert_eq!(
                v["scaled_ms"][op.name()],
                (real as f64 * 0.5).round() as u64
            );
        }
        assert_eq!(v["real_ms"].as_object().unwrap().len(), Op::ALL.len());
    }
}
