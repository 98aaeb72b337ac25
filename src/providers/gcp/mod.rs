//! The GCP provider on google-cloud-compute-v1: clients built once (SDK retries off, peerctl's
//! [`retry`] around every call), Google errors as [`ProviderError`], Operation waiting, and
//! dispatch by kind. Ids are selfLinks; router entries add `/interfaces/N` or `/bgpPeers/N`.

mod firewall;
mod observe;
mod router;
mod vpn;

use crate::cloud::Cloud;
use crate::plan::resource::Kind;
use crate::providers::retry::retry;
use crate::providers::{
    Desired, Outputs, Problem, Provider, ProviderConfig, ProviderError, TAG_TOPOLOGY,
};
use crate::topology::Network;
use google_cloud_compute_v1::client::{
    Addresses, ExternalVpnGateways, Firewalls, ForwardingRules, GlobalOperations, Networks,
    RegionOperations, Routers, Routes, Subnetworks, TargetVpnGateways, VpnGateways, VpnTunnels,
};
use google_cloud_compute_v1::model::{operation, Operation};
use google_cloud_gax::error::rpc::{Code, StatusDetails};
use google_cloud_gax::retry_policy::NeverRetry;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type GError = google_cloud_compute_v1::Error;

/// Where the cloud lives when no endpoint is configured (named in connection errors).
const DEFAULT_ENDPOINT: &str = "https://compute.googleapis.com";

/// Poll interval of most operations (real time; scaled against a sandbox).
const POLL: Duration = Duration::from_secs(2);
/// Poll interval of tunnels and gateways, which take longer.
const POLL_SLOW: Duration = Duration::from_secs(5);

/// Longer than the ~2 minutes a `wait` call may block on the real API.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(150);

/// The Compute clients, one per collection.
struct Clients {
    vpn_gateways: VpnGateways,
    vpn_tunnels: VpnTunnels,
    routers: Routers,
    external_vpn_gateways: ExternalVpnGateways,
    target_vpn_gateways: TargetVpnGateways,
    forwarding_rules: ForwardingRules,
    addresses: Addresses,
    firewalls: Firewalls,
    routes: Routes,
    networks: Networks,
    subnetworks: Subnetworks,
    region_operations: RegionOperations,
    global_operations: GlobalOperations,
}

pub struct GcpProvider {
    cfg: ProviderConfig,
    c: Clients,
    /// The endpoint as named in connection errors.
    endpoint: String,
    /// Requests in flight at once (`max_concurrent_requests`); waits are exempt, as they are
    /// parked long polls rather than load.
    limit: tokio::sync::Semaphore,
    /// One lock per router (canonical `projects/…/routers/NAME`): every write of a router's
    /// interfaces, peers or BGP settings is read-modify-PATCH of whole arrays, so two at once
    /// would lose one another's entries.
    router_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Which operations collection an Operation belongs to.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    Region { project: String, region: String },
    Global { project: String },
}

macro_rules! client {
    ($t:ty, $endpoint:expr, $creds:expr) => {{
        let mut b = <$t>::builder()
            .with_credentials($creds.clone())
            .with_retry_policy(NeverRetry)
            .with_attempt_timeout(ATTEMPT_TIMEOUT);
        if let Some(url) = $endpoint {
            b = b.with_endpoint(url.clone());
        }
        b.build().await.map_err(|e| {
            if e.is_default_credentials() {
                ProviderError::Auth(e.to_string())
            } else {
                ProviderError::Connect {
                    endpoint: $endpoint
                        .cloned()
                        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
                    message: e.to_string(),
                }
            }
        })?
    }};
}

impl GcpProvider {
    /// Builds every client once. With `cfg.endpoint` (a sandbox or a private endpoint) the
    /// clients send no credentials and no credential chain is consulted; without it,
    /// Application Default Credentials are used.
    pub async fn new(cfg: ProviderConfig) -> Result<GcpProvider, ProviderError> {
        let creds = match &cfg.endpoint {
            Some(_) => google_cloud_auth::credentials::anonymous::Builder::new().build(),
            None => google_cloud_auth::credentials::Builder::default()
                .build()
                .map_err(|e| ProviderError::Auth(e.to_string()))?,
        };
        let ep = cfg.endpoint.as_ref();
        let c = Clients {
            vpn_gateways: client!(VpnGateways, ep, creds),
            vpn_tunnels: client!(VpnTunnels, ep, creds),
            routers: client!(Routers, ep, creds),
            external_vpn_gateways: client!(ExternalVpnGateways, ep, creds),
            target_vpn_gateways: client!(TargetVpnGateways, ep, creds),
            forwarding_rules: client!(ForwardingRules, ep, creds),
            addresses: client!(Addresses, ep, creds),
            firewalls: client!(Firewalls, ep, creds),
            routes: client!(Routes, ep, creds),
            networks: client!(Networks, ep, creds),
            subnetworks: client!(Subnetworks, ep, creds),
            region_operations: client!(RegionOperations, ep, creds),
            global_operations: client!(GlobalOperations, ep, creds),
        };
        Ok(GcpProvider {
            endpoint: cfg
                .endpoint
                .clone()
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            limit: tokio::sync::Semaphore::new(cfg.max_concurrent_requests.max(1)),
            router_locks: Mutex::new(HashMap::new()),
            cfg,
            c,
        })
    }

    /// The lock serialising writes to one router.
    fn router_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .router_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(key.to_string()).or_default().clone()
    }

    fn error(&self, e: GError) -> ProviderError {
        map_error(&self.endpoint, e)
    }

    /// One Compute call with peerctl's retries; `f` builds and sends the request each time.
    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = google_cloud_compute_v1::Result<T>>,
    {
        self.call_hiding(what, "", f).await
    }

    /// [`Self::call`] for a request carrying `secret`: every error, also the ones only logged
    /// between retries, has it removed.
    async fn call_hiding<T, F, Fut>(
        &self,
        what: &str,
        secret: &str,
        f: F,
    ) -> Result<T, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = google_cloud_compute_v1::Result<T>>,
    {
        let f = &f;
        retry(&self.cfg, what, move || async move {
            let _permit = self
                .limit
                .acquire()
                .await
                .map_err(|e| ProviderError::Attribute(format!("request limiter: {e}")))?;
            f().await.map_err(|e| redact(self.error(e), secret))
        })
        .await
    }

    /// A get: `None` when the resource does not exist.
    async fn find<T, F, Fut>(&self, what: &str, f: F) -> Result<Option<T>, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = google_cloud_compute_v1::Result<T>>,
    {
        match self.call(what, f).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Get-or-insert: adopts the resource when `get` finds it, else inserts it (a 409 on the
    /// insert, e.g. a retried insert that had succeeded, is adoption too), waits for the
    /// Operation and reads the resource back.
    async fn ensure<T, G, GF, I, IF>(
        &self,
        what: &str,
        scope: Scope,
        interval: Duration,
        get: G,
        insert: I,
    ) -> Result<T, ProviderError>
    where
        G: Fn() -> GF,
        GF: Future<Output = google_cloud_compute_v1::Result<T>>,
        I: Fn() -> IF,
        IF: Future<Output = google_cloud_compute_v1::Result<Operation>>,
    {
        if let Some(found) = self.find(what, &get).await? {
            tracing::debug!(resource = what, "adopting the existing resource");
            return Ok(found);
        }
        match self.call(what, &insert).await {
            Ok(op) => match self.wait(op, &scope, what, interval).await {
                // Another insert of the same name won inside the Operation: adopt it too.
                Err(ProviderError::Failed { message, .. })
                    if message.starts_with("RESOURCE_ALREADY_EXISTS") => {}
                other => other?,
            },
            Err(e) if is_conflict(&e) => {}
            Err(e) => return Err(e),
        }
        self.find(what, &get).await?.ok_or_else(|| {
            ProviderError::cloud("NOT_FOUND", format!("{what} is absent after its insert"))
        })
    }

    /// Deletes and waits; a resource already absent is success.
    async fn remove<F, Fut>(
        &self,
        what: &str,
        scope: Scope,
        interval: Duration,
        delete: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = google_cloud_compute_v1::Result<Operation>>,
    {
        let op = match self.call(what, delete).await {
            Ok(op) => op,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        match self.wait(op, &scope, what, interval).await {
            Err(ProviderError::Failed { message, .. })
                if message.starts_with("RESOURCE_NOT_FOUND") =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// Waits for an Operation with `wait` of its scope (which on GCP blocks up to about two
    /// minutes and may still answer RUNNING), sleeping `interval` (scaled) between calls, up
    /// to the GCP operation timeout (ended only by a call begun after it that still answers
    /// RUNNING); an Operation that ends with an error is `Failed`.
    async fn wait(
        &self,
        op: Operation,
        scope: &Scope,
        what: &str,
        interval: Duration,
    ) -> Result<(), ProviderError> {
        let after = self.cfg.scaled(self.cfg.timeouts.gcp_operation);
        // Only a wait call begun after the deadline ends the wait (crate::providers::poll);
        // each call is bounded by the client's attempt timeout.
        let deadline = tokio::time::Instant::now() + after;
        let mut asked: Option<tokio::time::Instant> = None;
        let mut op = op;
        loop {
            if op.status == Some(operation::Status::Done) {
                return match operation_error(&op) {
                    Some(message) => Err(ProviderError::Failed {
                        what: what.to_string(),
                        message,
                    }),
                    None => Ok(()),
                };
            }
            if asked.is_some_and(|a| a >= deadline) {
                return Err(ProviderError::Timeout {
                    what: what.to_string(),
                    after,
                });
            }
            let name = op.name.clone().ok_or_else(|| {
                ProviderError::cloud("INVALID_OPERATION", "an Operation without a name")
            })?;
            if asked.is_some() {
                self.cfg.poll_sleep(interval).await;
            }
            asked = Some(tokio::time::Instant::now());
            let waited = match scope {
                Scope::Region { project, region } => {
                    let o = &self.c.region_operations;
                    retry(&self.cfg, what, || async {
                        o.wait()
                            .set_project(project)
                            .set_region(region)
                            .set_operation(&name)
                            .send()
                            .await
                            .map_err(|e| self.error(e))
                    })
                    .await
                }
                Scope::Global { project } => {
                    let o = &self.c.global_operations;
                    retry(&self.cfg, what, || async {
                        o.wait()
                            .set_project(project)
                            .set_operation(&name)
                            .send()
                            .await
                            .map_err(|e| self.error(e))
                    })
                    .await
                }
            };
            op = waited?;
        }
    }
}

/// Turns an SDK error into a [`ProviderError`]: throttling (429, RESOURCE_EXHAUSTED,
/// `rateLimitExceeded`, which GCP also sends as a 403) and transient errors (5xx,
/// UNAVAILABLE, `resourceNotReady`) are retryable; 401/403 otherwise are `Auth`; nothing
/// answering is `Connect`; anything else `Cloud` with Google's status, reason and message.
fn map_error(endpoint: &str, e: GError) -> ProviderError {
    let http = e.http_status_code();
    let status = e.status();
    let code = status.map(|s| s.code).unwrap_or(Code::Unknown);
    let reason = status.and_then(|s| {
        s.details.iter().find_map(|d| match d {
            StatusDetails::ErrorInfo(i) if !i.reason.is_empty() => Some(i.reason.clone()),
            _ => None,
        })
    });
    let message = match status {
        Some(s) if !s.message.is_empty() => s.message.clone(),
        _ => e.to_string(),
    };
    let reason_is = |r: &[&str]| reason.as_deref().is_some_and(|x| r.contains(&x));
    let throttled = http == Some(429)
        || code == Code::ResourceExhausted
        || reason_is(&["rateLimitExceeded", "userRateLimitExceeded"]);
    // A dependency still being provisioned (`resourceNotReady`) is cured by waiting too.
    let transient = matches!(http, Some(500..=599))
        || code == Code::Unavailable
        || reason_is(&["resourceNotReady", "backendError"]);
    if !throttled {
        if e.is_authentication() || http == Some(401) || code == Code::Unauthenticated {
            return ProviderError::Auth(message);
        }
        if http == Some(403) || code == Code::PermissionDenied {
            return ProviderError::Auth(message);
        }
    }
    if http.is_none() && status.is_none() && (e.is_connect() || e.is_io() || e.is_timeout()) {
        return ProviderError::Connect {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        };
    }
    let retry_after = e
        .http_headers()
        .and_then(|h| h.get("retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let code_text = if code != Code::Unknown {
        code.name().to_string()
    } else if let Some(r) = &reason {
        r.clone()
    } else if let Some(h) = http {
        format!("HTTP {h}")
    } else {
        code.name().to_string()
    };
    ProviderError::Cloud {
        status: http,
        code: code_text,
        message: match &reason {
            Some(r) => format!("{message} (reason {r})"),
            None => message,
        },
        retryable: throttled || transient,
        retry_after,
    }
}

/// The text of an Operation's error: `CODE: message` of each entry, else its HTTP error.
fn operation_error(op: &Operation) -> Option<String> {
    let entries: Vec<String> = op
        .error
        .iter()
        .flat_map(|e| e.errors.iter())
        .map(|e| {
            format!(
                "{}: {}",
                e.code.as_deref().unwrap_or("UNKNOWN"),
                e.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !entries.is_empty() {
        return Some(entries.join("; "));
    }
    match (op.http_error_status_code, &op.http_error_message) {
        (Some(c), m) if c >= 400 => Some(format!("HTTP {c}: {}", m.as_deref().unwrap_or(""))),
        _ => None,
    }
}

fn is_not_found(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Cloud {
            status: Some(404),
            ..
        }
    ) || e.code() == Some(Code::NotFound.name())
}

fn is_conflict(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Cloud {
            status: Some(409),
            ..
        }
    ) || e.code() == Some(Code::AlreadyExists.name())
}

/// Removes every occurrence of `secret` from an error's text (no Google error is known to
/// echo a request field, but a tunnel's key must never reach a log).
fn redact(e: ProviderError, secret: &str) -> ProviderError {
    e.redacted(&[secret])
}

/// A resource's place in Compute, parsed from a URL or path of any form
/// (`https://…/compute/v1/projects/P/regions/R/C/N`, `projects/P/global/C/N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    pub project: String,
    /// `None` for global resources.
    pub region: Option<String>,
    pub collection: String,
    pub name: String,
}

impl Loc {
    pub fn parse(url: &str) -> Option<Loc> {
        let at = url.find("projects/")?;
        let parts: Vec<&str> = url[at..].split('/').collect();
        match parts.as_slice() {
            ["projects", p, "regions", r, c, n, ..] => Some(Loc {
                project: p.to_string(),
                region: Some(r.to_string()),
                collection: c.to_string(),
                name: n.to_string(),
            }),
            ["projects", p, "global", c, n, ..] => Some(Loc {
                project: p.to_string(),
                region: None,
                collection: c.to_string(),
                name: n.to_string(),
            }),
            _ => None,
        }
    }

    /// `projects/P/regions/R/C/N` or `projects/P/global/C/N`.
    pub fn path(&self) -> String {
        match &self.region {
            Some(r) => format!(
                "projects/{}/regions/{r}/{}/{}",
                self.project, self.collection, self.name
            ),
            None => format!(
                "projects/{}/global/{}/{}",
                self.project, self.collection, self.name
            ),
        }
    }
}

/// The canonical `projects/…` path of a reference, for comparing references given in
/// different forms; a bare name stays as it is.
pub(crate) fn canonical(url: &str) -> String {
    Loc::parse(url)
        .map(|l| l.path())
        .unwrap_or_else(|| url.to_string())
}

/// The resource's project (an attribute of every GCP resource).
fn project(d: &Desired) -> Result<String, ProviderError> {
    d.attrs.str("project").map(str::to_string)
}

fn network_path(project: &str, network: &str) -> String {
    if network.contains("/networks/") {
        network.to_string()
    } else {
        format!("projects/{project}/global/networks/{network}")
    }
}

/// `peerctl-topology` = the topology name, in the form GCP label values take (lowercase
/// letters, digits, `-` and `_`, at most 63 characters).
fn labels(d: &Desired) -> [(String, String); 1] {
    let v: String = d
        .topology
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    [(TAG_TOPOLOGY.to_string(), v)]
}

/// Outputs holding only `id` = the selfLink.
fn id_only(self_link: Option<&String>, what: &str) -> Result<Outputs, ProviderError> {
    let id = self_link
        .cloned()
        .ok_or_else(|| ProviderError::cloud("NO_SELF_LINK", format!("{what} has no selfLink")))?;
    Ok(Outputs::from([("id".to_string(), id)]))
}

/// Warns when an adopted resource does not carry this resource's description (someone
/// else's resource with the planned name, or one made by hand).
fn check_adopted(d: &Desired, description: Option<&String>) {
    if description.map(String::as_str) != Some(d.description().as_str()) {
        tracing::warn!(
            address = %d.address,
            name = %d.name,
            "adopted a resource whose description is not peerctl's"
        );
    }
}

fn int<T: TryFrom<i64>>(d: &Desired, key: &str) -> Result<T, ProviderError> {
    let v = d.attrs.int(key)?;
    T::try_from(v).map_err(|_| ProviderError::Attribute(format!("{key} is out of range: {v}")))
}

#[async_trait::async_trait]
impl Provider for GcpProvider {
    fn cloud(&self) -> Cloud {
        Cloud::Gcp
    }

    async fn preflight(&self, networks: &[Network]) -> Vec<Problem> {
        firewall::preflight(self, networks).await
    }

    async fn read(&self, d: &Desired, id: Option<&str>) -> Result<Option<Outputs>, ProviderError> {
        use Kind::*;
        match d.kind {
            GcpVpnGateway
            | GcpExternalVpnGateway
            | GcpVpnTunnel
            | GcpAddress
            | GcpTargetVpnGateway
            | GcpForwardingRule => vpn::read(self, d, id).await,
            GcpRouter | GcpRouterInterface | GcpRouterPeer => router::read(self, d, id).await,
            GcpRoute | GcpFirewall => firewall::read(self, d, id).await,
            other => Err(not_gcp(other)),
        }
    }

    async fn create(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        use Kind::*;
        match d.kind {
            GcpVpnGateway
            | GcpExternalVpnGateway
            | GcpVpnTunnel
            | GcpAddress
            | GcpTargetVpnGateway
            | GcpForwardingRule => vpn::create(self, d).await,
            GcpRouter | GcpRouterInterface | GcpRouterPeer => router::create(self, d).await,
            GcpRoute | GcpFirewall => firewall::create(self, d).await,
            other => Err(not_gcp(other)),
        }
    }

    async fn update(
        &self,
        d: &Desired,
        id: &str,
        changed: &[String],
    ) -> Result<Outputs, ProviderError> {
        use Kind::*;
        if let Some(a) = changed.iter().find(|a| !d.kind.updatable(a)) {
            return Err(ProviderError::Attribute(format!(
                "{a} of {} cannot be changed in place (the resource is replaced)",
                d.kind
            )));
        }
        match d.kind {
            GcpRouter | GcpRouterPeer => router::update(self, d, id).await,
            GcpFirewall => firewall::update(self, d, id).await,
            other if other.cloud() == Cloud::Gcp => Err(ProviderError::Attribute(format!(
                "{other} is never updated in place (the resource is replaced)"
            ))),
            other => Err(not_gcp(other)),
        }
    }

    async fn delete(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        use Kind::*;
        match d.kind {
            GcpVpnGateway
            | GcpExternalVpnGateway
            | GcpVpnTunnel
            | GcpAddress
            | GcpTargetVpnGateway
            | GcpForwardingRule => vpn::delete(self, d, id).await,
            GcpRouter | GcpRouterInterface | GcpRouterPeer => router::delete(self, d, id).await,
            GcpRoute | GcpFirewall => firewall::delete(self, d, id).await,
            other => Err(not_gcp(other)),
        }
    }

    async fn observe(
        &self,
        request: &crate::providers::ObserveRequest,
    ) -> Result<crate::verify::snapshot::CloudSnapshot, ProviderError> {
        Box::pin(self.observe_all(request)).await
    }
}

fn not_gcp(k: Kind) -> ProviderError {
    ProviderError::Attribute(format!("{k} is not a GCP kind"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_from_every_url_form() {
        let want = Loc {
            project: "p".into(),
            region: Some("us-central1".into()),
            collection: "routers".into(),
            name: "r".into(),
        };
        for url in [
            "https://www.googleapis.com/compute/v1/projects/p/regions/us-central1/routers/r",
            "http://127.0.0.1:9/compute/v1/projects/p/regions/us-central1/routers/r",
            "projects/p/regions/us-central1/routers/r",
        ] {
            assert_eq!(Loc::parse(url).as_ref(), Some(&want), "{url}");
        }
        let peer = "http://h/compute/v1/projects/p/regions/us-central1/routers/r/bgpPeers/x";
        assert_eq!(Loc::parse(peer), Some(want));
        let g = Loc::parse("projects/p/global/firewalls/f").unwrap();
        assert_eq!(g.region, None);
        assert_eq!(g.path(), "projects/p/global/firewalls/f");
        assert_eq!(canonical("bare"), "bare");
    }

    #[test]
    fn failed_operations_name_code_and_message() {
        let mut op = Operation::new();
        assert_eq!(operation_error(&op), None);
        op.http_error_status_code = Some(400);
        op.http_error_message = Some("BAD REQUEST".into());
        assert_eq!(
            operation_error(&op).as_deref(),
            Some("HTTP 400: BAD REQUEST")
        );
        op.error = Some(
            operation::Error::new().set_errors([operation::error::Errors::new()
                .set_code("RESOURCE_IN_USE_BY_ANOTHER_RESOURCE")
                .set_message("in use")]),
        );
        assert_eq!(
            operation_error(&op).as_deref(),
            Some("RESOURCE_IN_USE_BY_ANOTHER_RESOURCE: in use")
        );
    }

    /// A service error as the SDK builds it from Google's body.
    fn service(http: u16, code: i32, reason: Option<&str>) -> GError {
        let mut j = serde_json::json!({"code": code, "message": "the message"});
        if let Some(r) = reason {
            j["details"] = serde_json::json!([
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": r}
            ]);
        }
        let status: google_cloud_gax::error::rpc::Status =
            serde_json::from_value(j).expect("status");
        GError::service_with_http_metadata(status, Some(http), None)
    }

    #[test]
    fn google_errors_map_to_retryable_auth_connect_or_cloud() {
        let ep = "http://127.0.0.1:9";
        let retryable = |e: GError| map_error(ep, e).is_retryable();
        assert!(retryable(service(429, 8, Some("rateLimitExceeded"))));
        assert!(retryable(service(403, 7, Some("rateLimitExceeded"))));
        assert!(retryable(service(503, 14, Some("backendError"))));
        assert!(retryable(service(500, 13, None)));
        assert!(retryable(service(400, 9, Some("resourceNotReady"))));
        for e in [service(403, 7, Some("forbidden")), service(401, 16, None)] {
            assert!(matches!(map_error(ep, e), ProviderError::Auth(_)));
        }
        match map_error(ep, service(404, 5, Some("notFound"))) {
            ProviderError::Cloud {
                status,
                code,
                message,
                retryable,
                ..
            } => {
                assert_eq!(
                    (status, code.as_str(), retryable),
                    (Some(404), "NOT_FOUND", false)
                );
                assert_eq!(message, "the message (reason notFound)");
            }
            other => panic!("{other:?}"),
        }
        let io = GError::io("connection refused");
        assert!(
            matches!(map_error(ep, io), ProviderError::Connect { endpoint, .. } if endpoint == ep)
        );
    }

    #[test]
    fn redaction_removes_the_secret() {
        let e = ProviderError::cloud("INVALID_ARGUMENT", "bad key Sekret123 given");
        assert!(!redact(e, "Sekret123").to_string().contains("Sekret123"));
    }
}
