//! ARM wire conventions shared by every Azure resource: request paths and operation names,
//! `api-version` checks, error bodies, async-operation URLs and the `{id,name,type,…}` envelope.

use crate::sandbox::http::{Request, Response};
use crate::sandbox::world::Ids;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The oldest api-version served: the shapes of azure_mgmt_network's `package-2024-03`.
/// Later dates carry the same shapes for everything served here, so they are accepted.
pub const MIN_API_VERSION: &str = "2024-03-01";

/// The top-level resource types served, with their path segment and operationId prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    VirtualNetworks,
    PublicIpAddresses,
    VirtualNetworkGateways,
    LocalNetworkGateways,
    Connections,
    NetworkSecurityGroups,
    RouteTables,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::VirtualNetworks,
        Kind::PublicIpAddresses,
        Kind::VirtualNetworkGateways,
        Kind::LocalNetworkGateways,
        Kind::Connections,
        Kind::NetworkSecurityGroups,
        Kind::RouteTables,
    ];

    /// The path segment as the REST spec spells it.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::VirtualNetworks => "virtualNetworks",
            Kind::PublicIpAddresses => "publicIPAddresses",
            Kind::VirtualNetworkGateways => "virtualNetworkGateways",
            Kind::LocalNetworkGateways => "localNetworkGateways",
            Kind::Connections => "connections",
            Kind::NetworkSecurityGroups => "networkSecurityGroups",
            Kind::RouteTables => "routeTables",
        }
    }

    fn op_prefix(self) -> &'static str {
        match self {
            Kind::VirtualNetworks => "VirtualNetworks",
            Kind::PublicIpAddresses => "PublicIPAddresses",
            Kind::VirtualNetworkGateways => "VirtualNetworkGateways",
            Kind::LocalNetworkGateways => "LocalNetworkGateways",
            Kind::Connections => "VirtualNetworkGatewayConnections",
            Kind::NetworkSecurityGroups => "NetworkSecurityGroups",
            Kind::RouteTables => "RouteTables",
        }
    }

    /// The resource `type` field.
    pub fn arm_type(self) -> String {
        format!("Microsoft.Network/{}", self.segment())
    }
}

/// A parsed ARM request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmPath {
    /// `/subscriptions/{s}/providers/Microsoft.Network/locations/{l}/operations/{id}`
    AsyncOperation { id: String },
    /// `/subscriptions/{s}/providers/Microsoft.Network/locations/{l}/operationResults/{id}`
    OperationResult { id: String },
    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}[/{name}[/…]]`
    Resource(ResPath),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResPath {
    pub sub: String,
    pub rg: String,
    pub kind: Kind,
    pub name: Option<String>,
    /// Segments after the name: a child collection and name, or an action.
    pub rest: Vec<String>,
}

impl ResPath {
    /// The canonical ARM id of the top-level resource (the name as sent).
    pub fn id(&self) -> String {
        resource_id(
            &self.sub,
            &self.rg,
            self.kind,
            self.name.as_deref().unwrap_or(""),
        )
    }
}

pub fn resource_id(sub: &str, rg: &str, kind: Kind, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{}/{name}",
        kind.segment()
    )
}

/// ARM ids compare case-insensitively; maps are keyed by this form.
pub fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

pub fn parse_path(path: &str) -> Option<ArmPath> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let lc: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lc.iter().map(String::as_str).collect();
    match l.as_slice() {
        ["subscriptions", _, "providers", "microsoft.network", "locations", _, "operations", _] => {
            Some(ArmPath::AsyncOperation {
                id: segs[7].to_string(),
            })
        }
        ["subscriptions", _, "providers", "microsoft.network", "locations", _, "operationresults", _] => {
            Some(ArmPath::OperationResult {
                id: segs[7].to_string(),
            })
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.network", kind, rest @ ..] =>
        {
            let kind = Kind::ALL
                .into_iter()
                .find(|k| k.segment().eq_ignore_ascii_case(kind))?;
            if rest.iter().any(|s| s.is_empty()) {
                return None;
            }
            Some(ArmPath::Resource(ResPath {
                sub: segs[1].to_string(),
                rg: segs[3].to_string(),
                kind,
                name: segs.get(7).map(|s| s.to_string()),
                rest: segs.iter().skip(8).map(|s| s.to_string()).collect(),
            }))
        }
        _ => None,
    }
}

/// The spec's operationId for a request, and whether it changes anything. `None` for a path
/// or method this front end does not serve.
pub fn operation(method: &str, path: &ArmPath) -> Option<(String, bool)> {
    let p = match path {
        ArmPath::AsyncOperation { .. } if method == "GET" => {
            return Some(("AzureAsyncOperation_Get".into(), false))
        }
        ArmPath::OperationResult { .. } if method == "GET" => {
            return Some(("OperationResults_Get".into(), false))
        }
        ArmPath::Resource(p) => p,
        _ => return None,
    };
    let pre = p.kind.op_prefix();
    let crud = |prefix: &str, item: bool| -> Option<(String, bool)> {
        let (verb, mutating) = match (method, item) {
            ("GET", false) => ("List", false),
            ("GET", true) => ("Get", false),
            ("PUT", true) => ("CreateOrUpdate", true),
            ("DELETE", true) => ("Delete", true),
            _ => return None,
        };
        Some((format!("{prefix}_{verb}"), mutating))
    };
    let rest: Vec<String> = p.rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match (p.kind, p.name.is_some(), rest.as_slice()) {
        (_, false, []) => crud(pre, false),
        (_, true, []) => crud(pre, true),
        (Kind::VirtualNetworks, true, ["subnets"]) => crud("Subnets", false),
        (Kind::VirtualNetworks, true, ["subnets", _]) => crud("Subnets", true),
        (Kind::NetworkSecurityGroups, true, ["securityrules"]) => crud("SecurityRules", false),
        (Kind::NetworkSecurityGroups, true, ["securityrules", _]) => crud("SecurityRules", true),
        (Kind::NetworkSecurityGroups, true, ["defaultsecurityrules", rest @ ..])
            if method == "GET" && rest.len() <= 1 =>
        {
            crud("DefaultSecurityRules", rest.len() == 1)
        }
        (Kind::RouteTables, true, ["routes"]) => crud("Routes", false),
        (Kind::RouteTables, true, ["routes", _]) => crud("Routes", true),
        (Kind::VirtualNetworkGateways, true, [action]) if method == "POST" => {
            let op = match *action {
                "getbgppeerstatus" => "GetBgpPeerStatus",
                "getlearnedroutes" => "GetLearnedRoutes",
                "getadvertisedroutes" => "GetAdvertisedRoutes",
                _ => return None,
            };
            Some((format!("{pre}_{op}"), false))
        }
        (Kind::Connections, true, ["sharedkey"]) => match method {
            "GET" => Some((format!("{pre}_GetSharedKey"), false)),
            "PUT" => Some((format!("{pre}_SetSharedKey"), true)),
            _ => None,
        },
        _ => None,
    }
}

/// An ARM error: `{"error":{"code","message"}}` plus the `x-ms-error-code` header that the
/// SDKs read the code from.
pub fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    Response::json(
        status,
        &json!({"error": {"code": code, "message": message.into()}}),
    )
    .with_header("x-ms-error-code", code)
}

pub fn bad_request(code: &str, message: impl Into<String>) -> Response {
    error(400, code, message)
}

/// 404 for a missing top-level resource, in ARM's words.
pub fn not_found(kind: Kind, rg: &str, name: &str) -> Response {
    error(
        404,
        "ResourceNotFound",
        format!(
            "The Resource '{}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            kind.arm_type()
        ),
    )
}

/// 404 for a missing child resource (subnet, security rule, route): the resource provider
/// answers these itself, with the code `NotFound`.
pub fn child_not_found(id: &str) -> Response {
    error(404, "NotFound", format!("Resource {id} not found."))
}

/// Whether `y-m-d` is a day of the Gregorian calendar.
fn is_calendar_date(y: u32, m: u32, d: u32) -> bool {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Checks `api-version`: present, `YYYY-MM-DD` (optionally `-preview`) naming a real calendar
/// day, not older than [`MIN_API_VERSION`]. ARM publishes versions only under real dates, so
/// `2099-99-99` is as unknown to it as `latest`.
pub fn check_api_version(req: &Request) -> Result<String, Response> {
    let Some(v) = req.query_param("api-version") else {
        return Err(bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let well_formed = date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    let field = |r: std::ops::Range<usize>| date.get(r).and_then(|s| s.parse::<u32>().ok());
    let real = well_formed
        && matches!(
            (field(0..4), field(5..7), field(8..10)),
            (Some(y), Some(m), Some(d)) if is_calendar_date(y, m, d)
        );
    if !real || date < MIN_API_VERSION {
        return Err(bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{MIN_API_VERSION}' and later."
            ),
        ));
    }
    Ok(v.to_string())
}

/// A deterministic GUID-shaped string (etags, resourceGuid, operation ids).
pub fn guid(ids: &mut Ids) -> String {
    let n = ids.next("azure-guid");
    let d = Sha256::digest(format!("peerctl-sandbox-azure-{n}").as_bytes());
    let h = hex::encode(&d[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The `Azure-AsyncOperation` URL of an operation.
pub fn async_op_url(base: &str, sub: &str, location: &str, op: &str, api: &str) -> String {
    format!(
        "{base}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/operations/{op}?api-version={api}"
    )
}

/// The `Location` URL of an operation (deletes).
pub fn op_result_url(base: &str, sub: &str, location: &str, op: &str, api: &str) -> String {
    format!(
        "{base}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/operationResults/{op}?api-version={api}"
    )
}

/// Seconds a poller should wait: what is left of the operation, at most 10 s (ARM's usual
/// hint), 0 when done — so that a time-scaled sandbox is polled about as often as needed.
pub fn retry_after(now_ms: u64, done_ms: u64) -> String {
    let left = done_ms.saturating_sub(now_ms);
    left.div_ceil(1000).min(10).to_string()
}

pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

/// The parsed JSON body of a write, or ARM's answer to a malformed one.
pub fn body(req: &Request) -> Result<Value, Response> {
    let v: Value = serde_json::from_slice(&req.body).map_err(|e| {
        bad_request(
            "InvalidRequestFormat",
            format!("Cannot parse the request: {e}"),
        )
    })?;
    if !v.is_object() {
        return Err(bad_request(
            "InvalidRequestFormat",
            "Cannot parse the request: the body must be a JSON object.",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Option<&str>) -> Request {
        Request {
            query: v
                .map(|v| vec![("api-version".into(), v.into())])
                .unwrap_or_default(),
            ..Request::default()
        }
    }

    #[test]
    fn api_versions_from_2024_03_01_on_are_accepted() {
        for v in [
            "2024-03-01",
            "2026-03-01",
            "2025-01-01-preview",
            "2028-02-29",
            "2024-12-31",
        ] {
            assert_eq!(check_api_version(&req(Some(v))).ok().as_deref(), Some(v));
        }
    }

    #[test]
    fn missing_old_and_impossible_api_versions_get_arm_codes() {
        let code = |r: Response| {
            r.headers
                .iter()
                .find(|(k, _)| k == "x-ms-error-code")
                .map(|(_, v)| v.clone())
        };
        let e = check_api_version(&req(None)).unwrap_err();
        assert_eq!(code(e).as_deref(), Some("MissingApiVersionParameter"));
        for v in [
            "2023-11-01",
            "latest",
            "2024-3-1",
            "2099-99-99",
            "2025-02-29",
            "2025-04-31",
            "2025-00-10",
            "2025-13-01",
            "2025-01-00",
            "2025-01-01-beta",
            "2025-01-01-preview-preview",
        ] {
            let e = check_api_version(&req(Some(v))).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(
                code(e).as_deref(),
                Some("InvalidApiVersionParameter"),
                "{v}"
            );
        }
    }

    #[test]
    fn paths_parse_case_insensitively_into_operation_ids() {
        let p = parse_path("/subscriptions/s/resourcegroups/RG/providers/microsoft.network/VIRTUALNETWORKGATEWAYS/gw/getBgpPeerStatus").unwrap();
        assert_eq!(
            operation("POST", &p),
            Some(("VirtualNetworkGateways_GetBgpPeerStatus".into(), false))
        );
        let p = parse_path(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/GatewaySubnet",
        )
        .unwrap();
        assert_eq!(
            operation("PUT", &p),
            Some(("Subnets_CreateOrUpdate".into(), true))
        );
        let p = parse_path(
            "/subscriptions/s/providers/Microsoft.Network/locations/eastus/operations/abc",
        )
        .unwrap();
        assert_eq!(p, ArmPath::AsyncOperation { id: "abc".into() });
        assert_eq!(
            operation("GET", &p),
            Some(("AzureAsyncOperation_Get".into(), false))
        );
        assert!(parse_path(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x"
        )
        .is_none());
    }
}
