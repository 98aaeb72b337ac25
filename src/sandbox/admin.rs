//! The sandbox's own API under `/_sandbox/`: counters, reset, fault injection, the clock, and
//! the physics' view of the network.
//!
//! - `GET  /_sandbox/stats`  — call counters and `created_resources`
//! - `POST /_sandbox/reset`  — back to the seeded world, counters zeroed
//! - `GET|POST /_sandbox/faults` — read / set `{fault_rate, throttle_rate, scripted: [...]}`
//! - `POST /_sandbox/clock`  — `{"advance_ms": N}` moves sandbox time forward
//! - `GET  /_sandbox/net`    — every tunnel end's decided state

use crate::sandbox::core::Inner;
use crate::sandbox::faults::ScriptedFault;
use crate::sandbox::http::{Request, Response};
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
struct ClockUpdate {
    advance_ms: u64,
}

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
                    inner.faults.scripted = s;
                }
                Response::json(200, &json!({"ok": true}))
            }
            Err(e) => bad_request(e),
        },
        ("POST", "clock") => match serde_json::from_slice::<ClockUpdate>(&req.body) {
            Ok(u) => {
                inner.clock_offset_ms += u.advance_ms;
                Response::json(200, &json!({"now_ms": inner.now_ms()}))
            }
            Err(e) => bad_request(e),
        },
        ("GET", "net") => {
            let now = inner.now_ms();
            let ctx = Ctx::new(now, &inner.config.latency, &req.base_url);
            let net = ctx.net(&inner.world);
            Response::json(200, &serde_json::to_value(net).unwrap_or_default())
        }
        _ => Response::json(
            404,
            &json!({"error": format!("no sandbox admin endpoint {} {}", req.method, req.path)}),
        ),
    }
}
