//! Compute v1 on the wire: request paths, resource references in every form clients send,
//! Google's error bodies, timestamps, and absolute `selfLink`-style URLs in responses.

use crate::sandbox::http::{Request, Response};
use serde_json::{json, Value};

/// Where a request points: `/compute/v1/projects/{p}/(regions/{r}|global)/{coll}[/{name}[/{method}]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub project: String,
    /// `None` = global.
    pub region: Option<String>,
    pub collection: String,
    pub name: Option<String>,
    pub method: Option<String>,
}

impl Target {
    /// `projects/p/regions/r` or `projects/p/global`.
    pub fn scope(&self) -> String {
        scope(&self.project, self.region.as_deref())
    }

    /// Canonical path of the collection, e.g. `projects/p/regions/r/vpnTunnels`.
    pub fn collection_path(&self) -> String {
        format!("{}/{}", self.scope(), self.collection)
    }

    /// Canonical path of the named resource.
    pub fn resource_path(&self) -> Option<String> {
        self.name
            .as_ref()
            .map(|n| format!("{}/{}", self.collection_path(), n))
    }
}

pub fn scope(project: &str, region: Option<&str>) -> String {
    match region {
        Some(r) => format!("projects/{project}/regions/{r}"),
        None => format!("projects/{project}/global"),
    }
}

pub fn parse_path(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/compute/v1/projects/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    let project = (*segs.first()?).to_string();
    let (region, tail) = match segs.get(1).copied()? {
        "regions" => (Some((*segs.get(2)?).to_string()), &segs[3..]),
        "global" => (None, &segs[2..]),
        _ => return None,
    };
    if tail.is_empty() || tail.len() > 3 || tail.iter().any(|s| s.is_empty()) || project.is_empty()
    {
        return None;
    }
    Some(Target {
        project,
        region,
        collection: tail[0].to_string(),
        name: tail.get(1).map(|s| s.to_string()),
        method: tail.get(2).map(|s| s.to_string()),
    })
}

/// The operation name counted in the stats (`vpnTunnels.insert`, `regionOperations.wait`)
/// and whether it changes anything; `None` for what this front end does not serve.
pub fn operation_name(req: &Request) -> Option<(String, bool)> {
    let t = parse_path(&req.path)?;
    let regional = t.region.is_some();
    let coll = match (t.collection.as_str(), regional) {
        ("operations", true) => "regionOperations",
        ("operations", false) => "globalOperations",
        (
            c @ ("vpnGateways" | "vpnTunnels" | "routers" | "targetVpnGateways" | "forwardingRules"
            | "addresses" | "subnetworks"),
            true,
        ) => c,
        (c @ ("externalVpnGateways" | "firewalls" | "routes" | "networks"), false) => c,
        _ => return None,
    };
    let (method, mutating) = match (req.method.as_str(), t.name.is_some(), t.method.as_deref()) {
        ("GET", false, None) => ("list", false),
        ("POST", false, None) => ("insert", true),
        ("GET", true, None) => ("get", false),
        ("DELETE", true, None) => ("delete", true),
        ("PATCH", true, None) => ("patch", true),
        ("PUT", true, None) => ("update", true),
        ("POST", true, Some("wait")) if t.collection == "operations" => ("wait", false),
        ("GET", true, Some("getRouterStatus")) if coll == "routers" => ("getRouterStatus", false),
        ("GET", true, Some("getStatus")) if coll == "vpnGateways" => ("getStatus", false),
        _ => return None,
    };
    let known = match method {
        "insert" | "delete" => !matches!(coll, "networks" | "subnetworks"),
        "patch" | "update" => matches!(coll, "routers" | "firewalls"),
        "get" | "list" => true,
        _ => true,
    };
    if !known || (coll.ends_with("Operations") && matches!(method, "insert" | "patch" | "update")) {
        return None;
    }
    Some((format!("{coll}.{method}"), mutating))
}

/// Turns any form of reference a client sends (a full URL on any host, `/compute/v1/…`,
/// `projects/…`, `regions/…` or `global/…`, or a bare name) into the canonical
/// `projects/…` path, checking that it names a resource of `collection`. `region` is the
/// request's region, used for bare names and for scope-relative forms of regional
/// collections.
pub fn resolve_ref(
    input: &str,
    project: &str,
    region: Option<&str>,
    collection: &str,
) -> Result<String, String> {
    let s = input.trim();
    let path = if let Some(i) = s.find("projects/") {
        s[i..].to_string()
    } else if s.starts_with("regions/") || s.starts_with("global/") {
        format!("projects/{project}/{s}")
    } else if !s.is_empty() && !s.contains('/') {
        format!("{}/{collection}/{s}", scope(project, region))
    } else {
        return Err(format!(
            "'{input}' is not a reference to a {collection} resource"
        ));
    };
    let path = path.trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').collect();
    let ok = match segs.as_slice() {
        ["projects", p, "regions", r, c, n] => {
            !p.is_empty() && !r.is_empty() && !n.is_empty() && *c == collection
        }
        ["projects", p, "global", c, n] => !p.is_empty() && !n.is_empty() && *c == collection,
        _ => false,
    };
    if ok {
        Ok(path)
    } else {
        Err(format!(
            "'{input}' is not a reference to a {collection} resource"
        ))
    }
}

/// The last segment of a canonical path.
pub fn last(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The region name of a `projects/p/regions/r/...` path.
pub fn region_of(path: &str) -> Option<&str> {
    let mut it = path.split('/');
    while let Some(s) = it.next() {
        if s == "regions" {
            return it.next();
        }
    }
    None
}

/// A Google API error body.
pub fn error(code: u16, status: &str, reason: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    Response::json(
        code,
        &json!({"error": {
            "code": code,
            "message": message,
            "status": status,
            "errors": [{"reason": reason, "message": message, "domain": "global"}],
        }}),
    )
}

pub fn not_found(path: &str) -> Response {
    error(
        404,
        "NOT_FOUND",
        "notFound",
        format!("The resource '{path}' was not found"),
    )
}

pub fn already_exists(path: &str) -> Response {
    error(
        409,
        "ALREADY_EXISTS",
        "alreadyExists",
        format!("The resource '{path}' already exists"),
    )
}

pub fn invalid(message: impl Into<String>) -> Response {
    error(400, "INVALID_ARGUMENT", "invalid", message)
}

/// Absolute URL of a canonical path on the sandbox.
pub fn url(base: &str, path: &str) -> String {
    format!("{base}/compute/v1/{path}")
}

/// The fields whose values are resource references (strings or arrays of strings).
const REF_FIELDS: &[&str] = &[
    "selfLink",
    "network",
    "region",
    "subnetworks",
    "vpnGateway",
    "peerExternalGateway",
    "peerGcpGateway",
    "router",
    "targetVpnGateway",
    "nextHopVpnTunnel",
    "linkedVpnTunnel",
    "target",
    "targetLink",
    "forwardingRules",
    "tunnels",
    "users",
];

/// Makes every canonical `projects/…` reference in a response body absolute on `base`.
pub fn absolutize(v: &mut Value, base: &str) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if REF_FIELDS.contains(&k.as_str()) {
                    match val {
                        Value::String(s) if s.starts_with("projects/") => *s = url(base, s),
                        Value::Array(items) => {
                            for item in items.iter_mut() {
                                if let Value::String(s) = item {
                                    if s.starts_with("projects/") {
                                        *s = url(base, s);
                                    }
                                }
                            }
                        }
                        other => absolutize(other, base),
                    }
                } else {
                    absolutize(val, base);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| absolutize(i, base)),
        _ => {}
    }
}

/// RFC 3339 with milliseconds, as Compute writes `creationTimestamp` (in UTC here).
pub fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_from_every_form_clients_send() {
        let want = "projects/p1/regions/us-central1/vpnGateways/gw1";
        for input in [
            "gw1",
            "regions/us-central1/vpnGateways/gw1",
            "projects/p1/regions/us-central1/vpnGateways/gw1",
            "https://www.googleapis.com/compute/v1/projects/p1/regions/us-central1/vpnGateways/gw1",
            "https://compute.googleapis.com/compute/v1/projects/p1/regions/us-central1/vpnGateways/gw1",
            "http://127.0.0.1:4000/compute/v1/projects/p1/regions/us-central1/vpnGateways/gw1",
        ] {
            assert_eq!(
                resolve_ref(input, "p1", Some("us-central1"), "vpnGateways").as_deref(),
                Ok(want),
                "{input}"
            );
        }
        assert!(resolve_ref(
            "projects/p1/regions/us-central1/routers/gw1",
            "p1",
            Some("us-central1"),
            "vpnGateways"
        )
        .is_err());
        assert_eq!(
            resolve_ref("global/networks/n1", "p1", Some("us-central1"), "networks").as_deref(),
            Ok("projects/p1/global/networks/n1")
        );
    }

    #[test]
    fn operation_names_follow_collection_and_method() {
        let req = |m: &str, p: &str| Request {
            method: m.into(),
            path: p.into(),
            ..Request::default()
        };
        let base = "/compute/v1/projects/p/regions/r";
        assert_eq!(
            operation_name(&req("POST", &format!("{base}/vpnTunnels"))),
            Some(("vpnTunnels.insert".into(), true))
        );
        assert_eq!(
            operation_name(&req("GET", &format!("{base}/routers/r1/getRouterStatus"))),
            Some(("routers.getRouterStatus".into(), false))
        );
        assert_eq!(
            operation_name(&req("POST", &format!("{base}/operations/op-1/wait"))),
            Some(("regionOperations.wait".into(), false))
        );
        assert_eq!(
            operation_name(&req("GET", "/compute/v1/projects/p/global/operations/op-1")),
            Some(("globalOperations.get".into(), false))
        );
        assert_eq!(
            operation_name(&req("PUT", "/compute/v1/projects/p/global/firewalls/f")),
            Some(("firewalls.update".into(), true))
        );
        assert_eq!(
            operation_name(&req("PATCH", &format!("{base}/vpnTunnels/t"))),
            None
        );
        assert_eq!(
            operation_name(&req("GET", &format!("{base}/instances"))),
            None
        );
    }

    #[test]
    fn timestamps_are_rfc3339_dates() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(
            timestamp(1_795_771_000_123),
            "2026-11-27T09:16:40.123+00:00"
        );
    }

    #[test]
    fn references_in_responses_become_absolute() {
        let mut v = json!({"selfLink": "projects/p/global/networks/n", "name": "projects/x",
            "subnetworks": ["projects/p/regions/r/subnetworks/s"],
            "interfaces": [{"linkedVpnTunnel": "projects/p/regions/r/vpnTunnels/t"}]});
        absolutize(&mut v, "http://h:1");
        assert_eq!(
            v["selfLink"],
            "http://h:1/compute/v1/projects/p/global/networks/n"
        );
        assert_eq!(v["name"], "projects/x");
        assert_eq!(
            v["subnetworks"][0],
            "http://h:1/compute/v1/projects/p/regions/r/subnetworks/s"
        );
        assert_eq!(
            v["interfaces"][0]["linkedVpnTunnel"],
            "http://h:1/compute/v1/projects/p/regions/r/vpnTunnels/t"
        );
    }
}
