//! Retries of one cloud call: exponential backoff with jitter (backon's schedule), the cloud's
//! `Retry-After` honoured, throttling and transient errors retried up to [`MAX_RETRIES`] times,
//! connection errors only [`MAX_CONNECT_RETRIES`] times (nothing listening is not cured by
//! waiting), anything else returned at once.
//!
//! Against a time-scaled sandbox every delay is scaled, and a `Retry-After` (whole seconds on
//! the wire) is an upper bound rather than a floor: a sandbox running at 1/1000 of real time
//! that asks for 1 s means about a millisecond of real work left.

use super::{ProviderConfig, ProviderError};
use backon::BackoffBuilder;
use std::future::Future;
use std::time::Duration;

/// Retries of a throttled or transiently failing call.
pub const MAX_RETRIES: usize = 12;
/// Retries of a call that reached nothing.
pub const MAX_CONNECT_RETRIES: usize = 3;

/// The delay before the next attempt: the backoff's, bounded by the cloud's `Retry-After`.
fn next_delay(cfg: &ProviderConfig, backoff: Duration, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        None => backoff,
        Some(ra) if cfg.time_scale < 1.0 => backoff.min(ra.max(Duration::from_millis(1))),
        Some(ra) => backoff.max(ra),
    }
}

/// Runs `call` until it succeeds, fails with an error no retry cures, or the retries run out.
/// `what` names the call in logs.
pub async fn retry<T, F, Fut>(
    cfg: &ProviderConfig,
    what: &str,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut schedule = backon::ExponentialBuilder::default()
        .with_min_delay(cfg.scaled(Duration::from_millis(500)))
        .with_max_delay(cfg.scaled(Duration::from_secs(30)))
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(MAX_RETRIES)
        .build();
    let mut connect_failures = 0usize;
    loop {
        let err = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.is_retryable() {
            return Err(err);
        }
        if matches!(err, ProviderError::Connect { .. }) {
            connect_failures += 1;
            if connect_failures > MAX_CONNECT_RETRIES {
                return Err(err);
            }
        }
        let Some(backoff) = schedule.next() else {
            return Err(err);
        };
        let retry_after = match &err {
            ProviderError::Cloud { retry_after, .. } => *retry_after,
            _ => None,
        };
        let delay = next_delay(cfg, backoff, retry_after);
        tracing::debug!(call = what, error = %err, delay_ms = delay.as_millis() as u64, "retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast() -> ProviderConfig {
        ProviderConfig {
            time_scale: 0.001,
            ..ProviderConfig::default()
        }
    }

    fn throttled() -> ProviderError {
        ProviderError::Cloud {
            status: Some(503),
            code: "RequestLimitExceeded".into(),
            message: "slow down".into(),
            retryable: true,
            retry_after: Some(Duration::from_secs(1)),
        }
    }

    #[tokio::test]
    async fn throttling_is_retried_until_success() {
        let n = AtomicUsize::new(0);
        let r = retry(&fast(), "t", || async {
            if n.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(throttled())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_permanent_error_is_returned_at_once() {
        let n = AtomicUsize::new(0);
        let r: Result<(), _> = retry(&fast(), "t", || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::cloud("InvalidParameterValue", "no"))
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Some("InvalidParameterValue"));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn connection_errors_get_few_retries() {
        let n = AtomicUsize::new(0);
        let r: Result<(), _> = retry(&fast(), "t", || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::Connect {
                endpoint: "http://127.0.0.1:9".into(),
                message: "refused".into(),
            })
        })
        .await;
        assert!(r.unwrap_err().to_string().contains("http://127.0.0.1:9"));
        assert_eq!(n.load(Ordering::SeqCst), MAX_CONNECT_RETRIES + 1);
    }

    #[test]
    fn retry_after_bounds_a_scaled_delay_and_floors_a_real_one() {
        let ra = Some(Duration::from_secs(1));
        let scaled = fast();
        assert_eq!(
            next_delay(&scaled, Duration::from_secs(5), ra),
            Duration::from_secs(1)
        );
        let real = ProviderConfig::default();
        assert_eq!(
            next_delay(&real, Duration::from_millis(300), ra),
            Duration::from_secs(1)
        );
    }
}
