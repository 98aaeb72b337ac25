//! The AWS provider on aws-sdk-ec2: one EC2 client per region (lazily built, cached), every
//! call retried with our backoff (the SDK's own retries are off), EC2 error codes mapped to
//! [`ProviderError`], and dispatch of each `aws.*` kind to its module.
//!
//! `gateway` holds the VGW, its VPC attachment and customer gateways; `vpn` the VPN
//! connections (tunnel options, re-keying) and their static routes; `vpc` route propagation
//! and security group rules; `preflight` the read-only checks before an apply.
//!
//! Ids (the `id` output): EC2's own for a VGW (`vgw-…`), customer gateway (`cgw-…`) and VPN
//! connection (`vpn-…`); `vgw-…/vpc-…` for an attachment; `vpn-…/CIDR` for a static route;
//! the VGW's `vgw-…` for a route propagation; the sorted, comma-separated `sg-…` ids of the
//! groups holding a security group rule's entries.

mod gateway;
mod observe;
mod preflight;
mod vpc;
mod vpn;

use crate::cloud::Cloud;
use crate::plan::resource::Kind;
use crate::providers::retry::retry;
use crate::providers::{
    Desired, Outputs, Problem, Provider, ProviderConfig, ProviderError, TAG_ADDRESS, TAG_TOPOLOGY,
};
use crate::topology::Network;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// Poll interval (real time) for VGWs, attachments, customer gateways and routes: seconds.
const GATEWAY_POLL: Duration = Duration::from_secs(2);
/// Poll interval (real time) for VPN connections, which take minutes.
const VPN_POLL: Duration = Duration::from_secs(15);
/// How long (real time) a just-created resource may still be `…NotFound` (EC2's eventual
/// consistency; Terraform's AWS provider allows two minutes).
const CONSISTENCY_WINDOW: Duration = Duration::from_secs(120);
/// Floor of the consistency window and its retry interval. The window is wall time on AWS
/// and in the sandbox (`--aws-consistency-ms` is not time-scaled), so scaling it down with a
/// fast sandbox would give up before the resource becomes visible.
const CONSISTENCY_FLOOR: Duration = Duration::from_secs(10);
const CONSISTENCY_RETRY_FLOOR: Duration = Duration::from_millis(50);
/// Connecting to EC2 takes milliseconds; a peer that does not answer in this long is absent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt of one call (Describe calls of a large account can take seconds).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The AWS provider. Holds one EC2 client per region and a bound on requests in flight.
pub struct AwsProvider {
    cfg: ProviderConfig,
    clients: Mutex<HashMap<String, Client>>,
    in_flight: Semaphore,
}

impl AwsProvider {
    /// A provider for `cfg`. Builds no client yet: clients are made per region on first use,
    /// so that a topology's regions alone decide which are needed.
    pub async fn new(cfg: ProviderConfig) -> Result<AwsProvider, ProviderError> {
        if let Some(ep) = &cfg.endpoint {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                return Err(ProviderError::Connect {
                    endpoint: ep.clone(),
                    message: "the endpoint must be an http:// or https:// URL".into(),
                });
            }
        }
        let permits = cfg.max_concurrent_requests.max(1);
        Ok(AwsProvider {
            cfg,
            clients: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(permits),
        })
    }

    /// The URL requests for `region` go to (named in connection errors).
    fn endpoint(&self, region: &str) -> String {
        match &self.cfg.endpoint {
            Some(ep) => ep.clone(),
            None => format!("https://ec2.{region}.amazonaws.com"),
        }
    }

    async fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(region) {
            return c.clone();
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build();
        let client = match &self.cfg.endpoint {
            // A sandbox: fixed placeholder credentials, so no credential chain (environment,
            // profile, IMDS) is consulted and nothing real can leak towards it.
            Some(ep) => Client::from_conf(
                aws_sdk_ec2::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .endpoint_url(ep)
                    .region(Region::new(region.to_string()))
                    .credentials_provider(Credentials::new(
                        "peerctl-sandbox",
                        "peerctl-sandbox",
                        None,
                        None,
                        "peerctl",
                    ))
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(timeouts)
                    .build(),
            ),
            None => {
                let sdk = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(region.to_string()))
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(timeouts)
                    .load()
                    .await;
                Client::new(&sdk)
            }
        };
        clients.insert(region.to_string(), client.clone());
        client
    }

    /// One EC2 call in `region`, retried on throttling, 5xx and connection failures. `what`
    /// is the EC2 action (for logs); `f` builds and sends the request (once per attempt).
    async fn call<T, E, F, Fut>(&self, region: &str, what: &str, f: F) -> Result<T, ProviderError>
    where
        F: Fn(&Client) -> Fut + Send + Sync,
        Fut: Future<Output = Result<T, SdkError<E>>> + Send,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        T: Send,
    {
        self.call_with_secrets(region, what, &[], f).await
    }

    /// [`call`](Self::call) for a request carrying `secrets` (pre-shared keys): they are
    /// removed from any error before it is logged or returned.
    async fn call_with_secrets<T, E, F, Fut>(
        &self,
        region: &str,
        what: &str,
        secrets: &[&str],
        f: F,
    ) -> Result<T, ProviderError>
    where
        F: Fn(&Client) -> Fut + Send + Sync,
        Fut: Future<Output = Result<T, SdkError<E>>> + Send,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        T: Send,
    {
        let client = self.client(region).await;
        let endpoint = self.endpoint(region);
        retry(&self.cfg, what, || async {
            let _permit = self
                .in_flight
                .acquire()
                .await
                .map_err(|_| ProviderError::Connect {
                    endpoint: endpoint.clone(),
                    message: "the provider is shutting down".into(),
                })?;
            f(&client)
                .await
                .map_err(|e| scrub(sdk_error(&endpoint, e), secrets))
        })
        .await
    }

    /// Runs `op` again while it fails with one of `codes`, for up to `window`, sleeping
    /// `every` between attempts (EC2's eventual consistency, or a state that must pass).
    async fn tolerate<T, F, Fut>(
        &self,
        what: &str,
        codes: &[&str],
        window: Duration,
        every: Duration,
        mut op: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let start = Instant::now();
        loop {
            match op().await {
                Err(e)
                    if e.code().is_some_and(|c| codes.contains(&c)) && start.elapsed() < window =>
                {
                    tracing::debug!(call = what, error = %e, "not yet; retrying");
                    tokio::time::sleep(every).await;
                }
                r => return r,
            }
        }
    }

    /// [`tolerate`](Self::tolerate) for `…NotFound` right after a create.
    async fn consistent<T, F, Fut>(
        &self,
        what: &str,
        codes: &[&str],
        op: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let (window, every) = self.consistency();
        self.tolerate(what, codes, window, every, op).await
    }

    /// The eventual-consistency window and its retry interval.
    fn consistency(&self) -> (Duration, Duration) {
        (
            self.cfg.scaled(CONSISTENCY_WINDOW).max(CONSISTENCY_FLOOR),
            self.cfg
                .scaled(Duration::from_secs(1))
                .max(CONSISTENCY_RETRY_FLOOR),
        )
    }

    /// Polls `probe` every `interval` (real, scaled) until it gives a value, for at most
    /// `timeout` (real, scaled). `probe` returns `Err(state)` while not there yet
    /// ([`super::poll::until`]: a late answer to a probe begun in time gets another look).
    async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        interval: Duration,
        timeout: Duration,
        probe: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Result<T, String>, ProviderError>>,
    {
        super::poll::until(&self.cfg, what, interval, timeout, probe).await
    }
}

/// Whether `e` is one of EC2's "no such thing" answers.
fn is_code(e: &ProviderError, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

/// Maps an SDK failure. Service errors keep EC2's code and message (EC2 never echoes a
/// pre-shared key in them); dispatch failures name the endpoint.
fn sdk_error<E>(endpoint: &str, err: SdkError<E>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let e = ctx.err();
            classify(Some(status), e.code(), e.message())
        }
        SdkError::DispatchFailure(d) => {
            let text = DisplayErrorContext(&err).to_string();
            // A missing or unusable credential chain surfaces as a dispatch failure that is
            // neither I/O nor a timeout.
            if !d.is_io() && !d.is_timeout() && text.to_ascii_lowercase().contains("credential") {
                ProviderError::Auth(text)
            } else {
                ProviderError::Connect {
                    endpoint: endpoint.to_string(),
                    message: text,
                }
            }
        }
        SdkError::TimeoutError(_) => ProviderError::Connect {
            endpoint: endpoint.to_string(),
            message: format!("no answer in time: {}", DisplayErrorContext(&err)),
        },
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            ProviderError::Cloud {
                status: Some(status),
                code: "InvalidResponse".into(),
                message: DisplayErrorContext(&err).to_string(),
                retryable: status >= 500,
                retry_after: None,
            }
        }
        _ => ProviderError::Cloud {
            status: None,
            code: "RequestNotBuilt".into(),
            message: DisplayErrorContext(&err).to_string(),
            retryable: false,
            retry_after: None,
        },
    }
}

/// EC2's error code → retryable, credentials, or a plain cloud error.
fn classify(status: Option<u16>, code: Option<&str>, message: Option<&str>) -> ProviderError {
    let code = code.unwrap_or("Unknown").to_string();
    let message = message.unwrap_or("").to_string();
    match code.as_str() {
        "AuthFailure"
        | "UnauthorizedOperation"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch" => return ProviderError::Auth(format!("{code}: {message}")),
        _ => {}
    }
    let retryable = matches!(
        code.as_str(),
        "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "EC2ThrottledException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "RequestTimeout"
    ) || status.is_some_and(|s| s >= 500);
    ProviderError::Cloud {
        status,
        code,
        message,
        retryable,
        retry_after: None,
    }
}

/// Removes every occurrence of the given secrets from an error's text (belt and braces for
/// calls that carry pre-shared keys).
fn scrub(e: ProviderError, secrets: &[&str]) -> ProviderError {
    e.redacted(secrets)
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

/// The filters that find a resource by its identity tags.
fn identity_filters(d: &Desired) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{TAG_ADDRESS}"), &[&d.address]),
        filter(&format!("tag:{TAG_TOPOLOGY}"), &[&d.topology]),
    ]
}

fn identity_tags(d: &Desired) -> Vec<Tag> {
    [
        ("Name", d.name.as_str()),
        (TAG_TOPOLOGY, d.topology.as_str()),
        (TAG_ADDRESS, d.address.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect()
}

fn tag_spec(rt: ResourceType, d: &Desired) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(identity_tags(d)))
        .build()
}

fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(Tag::value)
}

/// States in which a VGW / CGW / VPN connection is on its way out or gone.
fn is_gone(state: &str) -> bool {
    matches!(state, "deleting" | "deleted")
}

fn id_output(id: &str) -> Outputs {
    Outputs::from([("id".to_string(), id.to_string())])
}

/// A string attribute that must be known (a reference to a created resource's output).
fn known<'a>(d: &'a Desired, key: &str) -> Option<&'a str> {
    d.attrs.opt_str(key)
}

#[async_trait::async_trait]
impl Provider for AwsProvider {
    fn cloud(&self) -> Cloud {
        Cloud::Aws
    }

    async fn preflight(&self, networks: &[Network]) -> Vec<Problem> {
        Box::pin(self.preflight_networks(networks)).await
    }

    async fn read(&self, d: &Desired, id: Option<&str>) -> Result<Option<Outputs>, ProviderError> {
        match d.kind {
            Kind::AwsVpnGateway => Box::pin(self.read_vgw(d, id)).await,
            Kind::AwsVpnGatewayAttachment => Box::pin(self.read_attachment(d, id)).await,
            Kind::AwsCustomerGateway => Box::pin(self.read_cgw(d, id)).await,
            Kind::AwsVpnConnection => Box::pin(self.read_vpn(d, id)).await,
            Kind::AwsVpnConnectionRoute => Box::pin(self.read_route(d, id)).await,
            Kind::AwsRoutePropagation => Box::pin(self.read_propagation(d, id)).await,
            Kind::AwsSecurityGroupRule => Box::pin(self.read_sg_rule(d, id)).await,
            other => Err(not_aws(other)),
        }
    }

    async fn create(&self, d: &Desired) -> Result<Outputs, ProviderError> {
        match d.kind {
            Kind::AwsVpnGateway => Box::pin(self.create_vgw(d)).await,
            Kind::AwsVpnGatewayAttachment => Box::pin(self.create_attachment(d)).await,
            Kind::AwsCustomerGateway => Box::pin(self.create_cgw(d)).await,
            Kind::AwsVpnConnection => Box::pin(self.create_vpn(d)).await,
            Kind::AwsVpnConnectionRoute => Box::pin(self.create_route(d)).await,
            Kind::AwsRoutePropagation => Box::pin(self.create_propagation(d)).await,
            Kind::AwsSecurityGroupRule => Box::pin(self.create_sg_rule(d)).await,
            other => Err(not_aws(other)),
        }
    }

    async fn update(
        &self,
        d: &Desired,
        id: &str,
        changed: &[String],
    ) -> Result<Outputs, ProviderError> {
        match d.kind {
            Kind::AwsVpnConnection => Box::pin(self.update_vpn(d, id, changed)).await,
            Kind::AwsRoutePropagation => Box::pin(self.update_propagation(d, id)).await,
            Kind::AwsSecurityGroupRule => Box::pin(self.update_sg_rule(d, id)).await,
            k if k.cloud() == Cloud::Aws => Err(ProviderError::Attribute(format!(
                "{k} has no in-place update (changed: {})",
                changed.join(", ")
            ))),
            other => Err(not_aws(other)),
        }
    }

    async fn delete(&self, d: &Desired, id: &str) -> Result<(), ProviderError> {
        match d.kind {
            Kind::AwsVpnGateway => Box::pin(self.delete_vgw(d, id)).await,
            Kind::AwsVpnGatewayAttachment => Box::pin(self.delete_attachment(d, id)).await,
            Kind::AwsCustomerGateway => Box::pin(self.delete_cgw(d, id)).await,
            Kind::AwsVpnConnection => Box::pin(self.delete_vpn(d, id)).await,
            Kind::AwsVpnConnectionRoute => Box::pin(self.delete_route(d, id)).await,
            Kind::AwsRoutePropagation => Box::pin(self.delete_propagation(d, id)).await,
            Kind::AwsSecurityGroupRule => Box::pin(self.delete_sg_rule(d, id)).await,
            other => Err(not_aws(other)),
        }
    }

    async fn observe(
        &self,
        request: &crate::providers::ObserveRequest,
    ) -> Result<crate::verify::snapshot::CloudSnapshot, ProviderError> {
        Box::pin(self.observe_all(request)).await
    }
}

fn not_aws(k: Kind) -> ProviderError {
    ProviderError::Attribute(format!("{k} is not an AWS resource kind"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_retry_auth_or_cloud() {
        assert!(classify(Some(503), Some("RequestLimitExceeded"), None).is_retryable());
        assert!(classify(Some(400), Some("Throttling"), None).is_retryable());
        assert!(classify(Some(500), Some("Whatever"), None).is_retryable());
        assert!(matches!(
            classify(Some(401), Some("AuthFailure"), Some("no")),
            ProviderError::Auth(_)
        ));
        let e = classify(Some(400), Some("InvalidVpcID.NotFound"), Some("gone"));
        assert!(!e.is_retryable());
        assert_eq!(e.code(), Some("InvalidVpcID.NotFound"));
        assert!(e.to_string().contains("gone"));
    }

    #[test]
    fn scrub_removes_keys_from_messages() {
        let e = scrub(
            ProviderError::cloud("InvalidParameterValue", "key Secret123abc is bad"),
            &["Secret123abc"],
        );
        assert!(!e.to_string().contains("Secret123abc"));
    }
}
