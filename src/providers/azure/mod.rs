//! The Azure provider: Microsoft.Network resources through Azure Resource Manager, with
//! peerctl's own transport, error mapping, long-running-operation waiting and per-gateway write
//! serialisation; one submodule per group of resource kinds.
//!
//! Decision: azure_mgmt_network 0.21 is the last release of the legacy ARM crates (frozen on
//! azure_core 0.21 and reqwest 0.12). It is used only for what it does well, building the ARM
//! requests and (de)serialising the `package_2024_03` models: every call is sent with
//! `.send()` (reads with `into_future`, lists page by page with `into_stream`), its LRO poller
//! is never used, and retries, errors, waiting and locking are ours.
//! No SDK type leaves this directory, so replacing the crate with plain ARM calls on the
//! maintained azure_core (or reqwest + serde) means rewriting the call sites in `gateway.rs`,
//! `link.rs`, `preflight.rs` and `observe/` and the transport below, and nothing outside
//! `src/providers/azure/`.

mod gateway;
mod link;
mod observe;
mod preflight;

use crate::cloud::Cloud;
use crate::plan::resource::Kind;
use crate::providers::retry::retry;
use crate::providers::{
    Desired, Outputs, Problem, Provider, ProviderConfig, ProviderError, TAG_ADDRESS, TAG_TOPOLOGY,
};
use crate::topology::Network;
use azure_core::auth::{AccessToken, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::headers::{self, Headers};
use azure_core::{HttpClient, RetryOptions, TransportOptions};
use azure_mgmt_network::package_2024_03::models::ProvisioningState;
use azure_mgmt_network::package_2024_03::Client;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Azure Resource Manager, when no endpoint is configured.
const ARM_ENDPOINT: &str = "https://management.azure.com";

/// Suffix of a GatewaySubnet's id when peerctl created it (see [`gateway`]): `delete` gets only
/// the id, and a subnet has no tags to carry the fact.
const CREATED_MARK: &str = "#created-by-peerctl";

/// Poll interval of a VPN gateway operation (they take 30-45 minutes).
const GATEWAY_POLL: Duration = Duration::from_secs(30);
/// Poll interval of every other operation.
const OTHER_POLL: Duration = Duration::from_secs(5);

/// The credential used against an endpoint override (a sandbox): a constant token, so that no
/// credential chain is consulted and no real identity can leak to a local endpoint.
#[derive(Debug)]
struct PlaceholderCredential;

#[async_trait::async_trait]
impl TokenCredential for PlaceholderCredential {
    async fn get_token(&self, _scopes: &[&str]) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            "peerctl-placeholder-token",
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

/// What the transport saw when a call did not get a 2xx answer. Carried inside the
/// `azure_core::Error` so that the mapping keeps `Retry-After`, which azure_core drops.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Unreachable(String),
    #[error("HTTP {status} {code}: {message}")]
    Http {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
}

/// reqwest with peerctl's limits: a connect timeout, a bounded number of requests in flight,
/// and every non-2xx answer turned into a [`Failure`] with the ARM code, message and
/// `Retry-After`.
#[derive(Debug)]
struct Transport {
    http: reqwest::Client,
    permits: Arc<Semaphore>,
}

fn retry_after(h: &Headers) -> Option<Duration> {
    let ms = |name| {
        h.get_optional_str(&name)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    ms(headers::RETRY_AFTER_MS)
        .or_else(|| ms(headers::X_MS_RETRY_AFTER_MS))
        .or_else(|| {
            h.get_optional_str(&headers::RETRY_AFTER)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        })
}

/// `{"error":{"code","message"}}` (also `Code`/`Message`, and the top-level form some ARM
/// resource providers use).
fn error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let e = v.get("error").unwrap_or(&v);
    let field = |a: &str, b: &str| {
        e.get(a)
            .or_else(|| e.get(b))
            .and_then(|s| s.as_str())
            .map(str::to_string)
    };
    (field("code", "Code"), field("message", "Message"))
}

#[async_trait::async_trait]
impl HttpClient for Transport {
    async fn execute_request(
        &self,
        request: &azure_core::Request,
    ) -> azure_core::Result<azure_core::Response> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            azure_core::Error::message(ErrorKind::Other, "the provider is shutting down")
        })?;
        let rsp = match HttpClient::execute_request(&self.http, request).await {
            Ok(r) => r,
            Err(e) if *e.kind() == ErrorKind::Io => {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = format!("{msg}: {s}");
                    src = s.source();
                }
                return Err(azure_core::Error::new(
                    ErrorKind::Io,
                    Failure::Unreachable(msg),
                ));
            }
            Err(e) => return Err(e),
        };
        if rsp.status().is_success() {
            return Ok(rsp);
        }
        let (status, headers, body) = rsp.deconstruct();
        let body = body.collect().await.unwrap_or_default();
        let (body_code, message) = error_body(&body);
        let code = headers
            .get_optional_string(&headers::ERROR_CODE)
            .or(body_code);
        let failure = Failure::Http {
            status: status as u16,
            code: code
                .clone()
                .unwrap_or_else(|| format!("HTTP{}", status as u16)),
            message: message.unwrap_or_else(|| status.canonical_reason().to_string()),
            retry_after: retry_after(&headers),
        };
        Err(azure_core::Error::new(
            ErrorKind::http_response(status, code),
            failure,
        ))
    }
}

/// Codes ARM gives a write that collided with another one on the same gateway.
const COLLISIONS: [&str; 2] = [
    "AnotherOperationInProgress",
    "RetryableErrorDueToAnotherOperation",
];

fn classify(status: u16, code: String, message: String, ra: Option<Duration>) -> ProviderError {
    if status == 401 || code == "InvalidAuthenticationToken" || code == "AuthorizationFailed" {
        return ProviderError::Auth(format!("{code}: {message}"));
    }
    let retryable =
        status == 408 || status == 429 || status >= 500 || COLLISIONS.contains(&code.as_str());
    ProviderError::Cloud {
        status: Some(status),
        code,
        message,
        retryable,
        retry_after: if retryable { ra } else { None },
    }
}

/// An azure_core error as a [`ProviderError`].
fn map_err(e: azure_core::Error, endpoint: &str) -> ProviderError {
    if let Some(f) = e.downcast_ref::<Failure>() {
        return match f {
            Failure::Unreachable(m) => ProviderError::Connect {
                endpoint: endpoint.to_string(),
                message: m.clone(),
            },
            Failure::Http {
                status,
                code,
                message,
                retry_after,
            } => classify(*status, code.clone(), message.clone(), *retry_after),
        };
    }
    match e.kind() {
        ErrorKind::HttpResponse { status, error_code } => classify(
            *status as u16,
            error_code
                .clone()
                .unwrap_or_else(|| format!("HTTP{}", *status as u16)),
            e.to_string(),
            None,
        ),
        ErrorKind::Credential => ProviderError::Auth(e.to_string()),
        ErrorKind::Io => ProviderError::Connect {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        },
        ErrorKind::DataConversion => ProviderError::cloud("InvalidResponse", e.to_string()),
        _ => ProviderError::cloud("ClientError", e.to_string()),
    }
}

/// True for a 404 (the resource, or its parent, does not exist).
fn is_not_found(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Cloud {
            status: Some(404),
            ..
        }
    )
}

/// `Ok(None)` for a 404.
fn found<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An ARM enum (or any model value) from its wire spelling; the models keep unknown spellings
/// as `UnknownValue`, so ARM, not peerctl, judges them.
fn wire<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, ProviderError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| ProviderError::Attribute(format!("{what} {s:?}: {e}")))
}

/// A resource id under `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network`.
fn arm_id(sub: &str, rg: &str, path: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{path}")
}

/// The parts of a Microsoft.Network resource id that the calls need.
#[derive(Debug, Clone, PartialEq)]
struct ArmId {
    sub: String,
    rg: String,
    /// The top-level resource type (`virtualNetworks`).
    kind: String,
    /// `virtualNetworks/prod-vnet` → ("virtualNetworks", "prod-vnet").
    name: String,
    /// The child's name (`subnets/GatewaySubnet`, `securityRules/r`), if any.
    child: Option<String>,
}

impl ArmId {
    /// Parses an id (a peerctl suffix such as [`CREATED_MARK`] is ignored); `None` when it is
    /// not a Microsoft.Network id.
    fn parse(id: &str) -> Option<ArmId> {
        let id = id.split('#').next().unwrap_or(id);
        let p: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
        let ok = p.len() >= 8
            && p[0].eq_ignore_ascii_case("subscriptions")
            && p[2].eq_ignore_ascii_case("resourceGroups")
            && p[4].eq_ignore_ascii_case("providers")
            && p[5].eq_ignore_ascii_case("Microsoft.Network");
        if !ok {
            return None;
        }
        Some(ArmId {
            sub: p[1].to_string(),
            rg: p[3].to_string(),
            kind: p[6].to_string(),
            name: p[7].to_string(),
            child: p.get(9).map(|s| s.to_string()),
        })
    }
}

/// Where a resource lives: from the recorded id when there is one, else from the planned
/// subscription, resource group and name.
struct Place {
    sub: String,
    rg: String,
    name: String,
}

fn place(d: &Desired, id: Option<&str>) -> Result<Place, ProviderError> {
    if let Some(a) = id.and_then(ArmId::parse) {
        let name = a.child.unwrap_or(a.name);
        return Ok(Place {
            sub: a.sub,
            rg: a.rg,
            name,
        });
    }
    Ok(Place {
        sub: d.attrs.str("subscription")?.to_string(),
        rg: d.attrs.str("resource_group")?.to_string(),
        name: d.name.clone(),
    })
}

/// peerctl's identity tags.
fn tags(d: &Desired) -> serde_json::Value {
    serde_json::json!({ TAG_TOPOLOGY: d.topology, TAG_ADDRESS: d.address })
}

/// Refuses to adopt a resource that another topology (or another plan address) tagged.
fn check_owner(
    d: &Desired,
    what: &str,
    t: Option<&serde_json::Value>,
) -> Result<(), ProviderError> {
    let tag = |k: &str| t.and_then(|t| t.get(k)).and_then(|v| v.as_str());
    match (tag(TAG_TOPOLOGY), tag(TAG_ADDRESS)) {
        (Some(topo), _) if topo != d.topology => Err(ProviderError::cloud(
            "PeerctlNameTaken",
            format!("{what} {} exists and belongs to topology {topo}", d.name),
        )),
        (_, Some(addr)) if addr != d.address => Err(ProviderError::cloud(
            "PeerctlNameTaken",
            format!("{what} {} exists and belongs to {addr}", d.name),
        )),
        _ => Ok(()),
    }
}

fn outputs(pairs: &[(&str, String)]) -> Outputs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A poll result: absent, or present with its provisioning state and whatever the caller wants
/// to keep of it.
type Polled<T> = Option<(Option<ProvisioningState>, T)>;

fn is_canceled(s: &ProvisioningState) -> bool {
    matches!(s, ProvisioningState::UnknownValue(v) if v.eq_ignore_ascii_case("Canceled"))
}

pub struct AzureProvider {
    client: Client,
    cfg: ProviderConfig,
    endpoint: String,
    transport: Arc<Transport>,
    credential: Arc<dyn TokenCredential>,
    scope: String,
    /// One lock per VPN gateway (lower-cased ARM id), held for the whole of a write that
    /// touches it, polling included.
    gateway_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl AzureProvider {
    pub async fn new(cfg: ProviderConfig) -> Result<AzureProvider, ProviderError> {
        let endpoint = cfg
            .endpoint
            .clone()
            .unwrap_or_else(|| ARM_ENDPOINT.to_string())
            .trim_end_matches('/')
            .to_string();
        let url = azure_core::Url::parse(&endpoint).map_err(|e| ProviderError::Connect {
            endpoint: endpoint.clone(),
            message: format!("not a URL: {e}"),
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ProviderError::Connect {
                endpoint: endpoint.clone(),
                message: format!("HTTP client: {e}"),
            })?;
        let transport = Arc::new(Transport {
            http,
            permits: Arc::new(Semaphore::new(cfg.max_concurrent_requests.max(1))),
        });
        let credential: Arc<dyn TokenCredential> = if cfg.endpoint.is_some() {
            Arc::new(PlaceholderCredential)
        } else {
            let options = azure_identity::TokenCredentialOptions::from(
                transport.clone() as Arc<dyn HttpClient>
            );
            Arc::new(
                azure_identity::DefaultAzureCredential::create(options)
                    .map_err(|e| ProviderError::Auth(e.to_string()))?,
            )
        };
        let scope = format!("{endpoint}/.default");
        let client = Client::builder(credential.clone())
            .endpoint(url)
            .scopes(&[scope.as_str()])
            .retry(RetryOptions::none())
            .transport(TransportOptions::new(
                transport.clone() as Arc<dyn HttpClient>
            ))
            .build()
            .map_err(|e| map_err(e, &endpoint))?;
        Ok(AzureProvider {
            client,
            cfg,
            endpoint,
            transport,
            credential,
            scope,
            gateway_locks: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// One ARM call with peerctl's retries; `call` builds and sends the request each attempt.
    async fn call<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = azure_core::Result<T>>,
    {
        retry(&self.cfg, what, || {
            let f = call();
            async move { f.await.map_err(|e| map_err(e, &self.endpoint)) }
        })
        .await
    }

    /// The lock of the gateway `id` (held by the caller for the whole write).
    fn gateway_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let key = id.split('#').next().unwrap_or(id).to_ascii_lowercase();
        let mut m = self
            .gateway_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        m.entry(key).or_default().clone()
    }

    /// Poll interval and timeout (both scaled) for an operation on a gateway or on anything
    /// else.
    fn pacing(&self, gateway: bool) -> (Duration, Duration) {
        if gateway {
            (
                GATEWAY_POLL,
                self.cfg.scaled(self.cfg.timeouts.azure_gateway),
            )
        } else {
            (OTHER_POLL, self.cfg.scaled(self.cfg.timeouts.azure_other))
        }
    }

    /// Waits for a write to finish and returns what `get` keeps of the resource. With the
    /// write's `Azure-AsyncOperation` URL (`op_url`), that operation is polled: it is ARM's
    /// authority on the write (a resource GET just after an update may still show the previous
    /// `Succeeded`) and the only place that says why it failed. Without one, the resource's
    /// provisioning state is polled until Succeeded (or absent from the model).
    async fn wait_ready<T, F, Fut>(
        &self,
        what: &str,
        gateway: bool,
        op_url: Option<&str>,
        mut get: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Polled<T>, ProviderError>>,
    {
        let (interval, timeout) = self.pacing(gateway);
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = || ProviderError::Timeout {
            what: what.to_string(),
            after: timeout,
        };
        if let Some(url) = op_url.and_then(|u| self.own_url(u)) {
            loop {
                // Only a look begun after the deadline ends the wait (crate::providers::poll).
                let asked = tokio::time::Instant::now();
                match self.operation(&url).await? {
                    // Gone (expired, or never kept): the resource's state decides below.
                    None => break,
                    Some(Operation::Done) => {
                        return match get().await? {
                            Some((_, v)) => Ok(v),
                            None => Err(ProviderError::Failed {
                                what: what.to_string(),
                                message: "the resource disappeared once its operation succeeded"
                                    .into(),
                            }),
                        }
                    }
                    Some(Operation::Failed(message)) => {
                        return Err(ProviderError::Failed {
                            what: what.to_string(),
                            message,
                        })
                    }
                    Some(Operation::Running) => {}
                }
                if asked >= deadline {
                    return Err(timed_out());
                }
                self.cfg.poll_sleep(interval).await;
            }
        }
        loop {
            let asked = tokio::time::Instant::now();
            match get().await? {
                None => {
                    return Err(ProviderError::Failed {
                        what: what.to_string(),
                        message: "the resource disappeared while it was being provisioned".into(),
                    })
                }
                Some((None | Some(ProvisioningState::Succeeded), v)) => return Ok(v),
                Some((Some(s), _)) if matches!(s, ProvisioningState::Failed) || is_canceled(&s) => {
                    return Err(ProviderError::Failed {
                        what: what.to_string(),
                        message: format!("provisioning state {s:?}"),
                    });
                }
                Some(_) => {}
            }
            if asked >= deadline {
                return Err(timed_out());
            }
            self.cfg.poll_sleep(interval).await;
        }
    }

    /// Polls `get` until the resource is gone (404).
    async fn wait_gone<T, F, Fut>(
        &self,
        what: &str,
        gateway: bool,
        mut get: F,
    ) -> Result<(), ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Polled<T>, ProviderError>>,
    {
        let (interval, timeout) = self.pacing(gateway);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let asked = tokio::time::Instant::now();
            match get().await? {
                None => return Ok(()),
                Some((Some(ProvisioningState::Failed), _)) => {
                    return Err(ProviderError::Failed {
                        what: format!("deleting {what}"),
                        message: "provisioning state Failed".into(),
                    })
                }
                Some(_) => {}
            }
            if asked >= deadline {
                return Err(ProviderError::Timeout {
                    what: format!("deleting {what}"),
                    after: timeout,
                });
            }
            self.cfg.poll_sleep(interval).await;
        }
    }

    /// `url` when it is on the configured endpoint's host: the bearer token goes nowhere else.
    fn own_url(&self, url: &str) -> Option<azure_core::Url> {
        let u = azure_core::Url::parse(url).ok()?;
        let ours = azure_core::Url::parse(&self.endpoint).ok()?;
        (u.scheme() == ours.scheme()
            && u.host_str() == ours.host_str()
            && u.port_or_known_default() == ours.port_or_known_default())
        .then_some(u)
    }

    /// One read of an async operation (`{"status","error":{"code","message"}}`); `None` when
    /// ARM no longer knows it (404).
    async fn operation(&self, url: &azure_core::Url) -> Result<Option<Operation>, ProviderError> {
        let body = found(
            self.call("get async operation", || async {
                let token = self.credential.get_token(&[self.scope.as_str()]).await?;
                let mut req = azure_core::Request::new(url.clone(), azure_core::Method::Get);
                req.insert_header(
                    headers::AUTHORIZATION,
                    format!("Bearer {}", token.token.secret()),
                );
                let rsp = self.transport.execute_request(&req).await?;
                rsp.into_body().collect().await.map(|b| b.to_vec())
            })
            .await,
        )?;
        let Some(body) = body else {
            return Ok(None);
        };
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::cloud("InvalidResponse", format!("async operation status: {e}"))
        })?;
        let status = v.get("status").and_then(|s| s.as_str()).unwrap_or("");
        Ok(Some(match status {
            s if s.eq_ignore_ascii_case("Succeeded") => Operation::Done,
            s if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled") => {
                let (code, message) = error_body(&body);
                Operation::Failed(format!(
                    "{}: {}",
                    code.unwrap_or_else(|| s.to_string()),
                    message.unwrap_or_else(|| "no detail given".into())
                ))
            }
            _ => Operation::Running,
        }))
    }
}

/// Where an async operation stands.
enum Operation {
    Running,
    Done,
    /// Failed or Canceled, with ARM's code and message.
    Failed(String),
}

/// The `Azure-AsyncOperation` URL of a PUT/DELETE answer.
fn async_operation(raw: &azure_core::Response) -> Option<String> {
    raw.headers()
        .get_optional_string(&headers::AZURE_ASYNCOPERATION)
}

#[async_trait::async_trait]
impl Provider for AzureProvider {
    fn cloud(&self) -> Cloud {
        Cloud::Azure
    }

    async fn preflight(&self, networks: &[Network]) -> Vec<Problem> {
        preflight::run(self, networks).await
    }

    async fn read(&self, d: &Desired, id: Option<&str>) -> Result<Option<Outputs>, ProviderError> {
        match d.kind {
            Kind::AzureSubnet => self.read_subnet(d, id).await,
            Kind::AzurePublicIp => self.read_public_ip(d, id).await,
            Kind::AzureVpnGateway => self.read_gateway(d, id).await,
            Kind::AzureLocalNetworkGateway => self.read_lng(d, id).await,
            Kind::AzureConnection => self.read_connection(d, id).await,
            Kind::AzureNsgRule => self.read_nsg_rule(d, id).await,
            k => Err(not_azure(k)),
        }
    }

    async fn create(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        match d.kind {
            Kind::AzureSubnet => self.create_subnet(d).await,
            Kind::AzurePublicIp => self.create_public_ip(d).await,
            Kind::AzureVpnGateway => self.create_gateway(d).await,
            Kind::AzureLocalNetworkGateway => self.create_lng(d).await,
            Kind::AzureConnection => self.create_connection(d).await,
            Kind::AzureNsgRule => self.create_nsg_rule(d).await,
            k => Err(not_azure(k)),
        }
    }

    async fn update(
        &self,
        d: &Desired,
        id: &str,
        changed: &[String],
    ) -> Result<Outputs, ProviderError> {
        match d.kind {
            Kind::AzureVpnGateway => self.put_gateway(d, Some(id)).await,
            Kind::AzureLocalNetworkGateway => self.put_lng(d, Some(id)).await,
            Kind::AzureConnection => self.update_connection(d, id, changed).await,
            Kind::AzureNsgRule => self.put_nsg_rule(d, Some(id)).await,
            // Nothing of these is updatable in place (Kind::updatable): a change replaces
            // them, so an update only refreshes the outputs.
            Kind::AzureSubnet | Kind::AzurePublicIp => self
                .read(d, Some(id))
                .await?
                .ok_or_else(|| ProviderError::cloud("ResourceNotFound", format!("{id} is gone"))),
            k => Err(not_azure(k)),
        }
    }

    async fn delete(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        match d.kind {
            Kind::AzureSubnet => self.delete_subnet(d, id).await,
            Kind::AzurePublicIp => self.delete_public_ip(d, id).await,
            Kind::AzureVpnGateway => self.delete_gateway(d, id).await,
            Kind::AzureLocalNetworkGateway => self.delete_lng(d, id).await,
            Kind::AzureConnection => self.delete_connection(d, id).await,
            Kind::AzureNsgRule => self.delete_nsg_rule(d, id).await,
            k => Err(not_azure(k)),
        }
    }

    async fn observe(
        &self,
        request: &crate::providers::ObserveRequest,
    ) -> Result<crate::verify::snapshot::CloudSnapshot, ProviderError> {
        self.observe_all(request).await
    }
}

fn not_azure(k: Kind) -> ProviderError {
    ProviderError::Attribute(format!("kind {k} is not an Azure resource"))
}
