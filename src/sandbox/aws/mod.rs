//! The Aws front end of the sandbox (stub: replaced by the full emulator).

use crate::sandbox::http::{Request, Response};
use crate::sandbox::net::{
    CloudModel, Flow, FwDecision, NetInfo, NetState, RouteDecision, TunnelEnd,
};
use crate::sandbox::world::{Ctx, World};
use crate::sandbox::{FaultKind, OpInfo};
use crate::topology::Network;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Every Aws resource in the sandbox.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct AwsCloud {}

/// Names the operation a request asks for; `None` when it is not a Aws request this front end knows.
pub fn identify(_req: &Request) -> Option<OpInfo> {
    None
}

/// Handles one request.
pub fn handle(_world: &mut World, _ctx: &Ctx, _req: &Request) -> Response {
    Response::new(501, "text/plain", "not implemented")
}

/// The error response for an injected fault, in this cloud's format.
pub fn fault_response(_kind: FaultKind, _req: &Request) -> Response {
    Response::new(500, "text/plain", "fault")
}

/// Seeds one topology network (and its default route tables, firewalls, subnets).
pub fn seed(_world: &mut World, _net: &Network) {}

impl CloudModel for AwsCloud {
    fn tunnel_ends(&self, _now_ms: u64) -> Vec<TunnelEnd> {
        Vec::new()
    }
    fn networks(&self) -> Vec<NetInfo> {
        Vec::new()
    }
    fn route(&self, _network: &str, _dst: Ipv4Addr, _net: &NetState) -> RouteDecision {
        RouteDecision::NoRoute {
            table: String::new(),
        }
    }
    fn ingress(&self, _network: &str, _src: Ipv4Addr, _flow: Flow) -> FwDecision {
        FwDecision::Deny {
            rule: String::new(),
        }
    }
    fn egress(&self, _network: &str, _dst: Ipv4Addr, _flow: Flow) -> FwDecision {
        FwDecision::Deny {
            rule: String::new(),
        }
    }
    fn created_resources(&self) -> usize {
        0
    }
}
