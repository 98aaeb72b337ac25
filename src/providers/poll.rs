//! Waiting for a cloud to finish something by polling its state, with the rule every
//! provider's waits follow: **only an observation begun after the deadline proves the wait ran
//! out.** A probe started before the deadline whose answer arrives after it (the call was
//! retried through throttling, the machine was loaded, the response was slow) says nothing
//! about the present: the resource may well be ready by then, so the wait looks once more
//! instead of failing. Against a sandbox running at 1/1000 of real time a 10-minute wait is
//! 600 ms, and one slow answer used to time out an attachment that was done (the fault
//! campaign's mesh12 seed 1037, docs/reliability.md).

use super::{ProviderConfig, ProviderError};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Polls `probe` every `interval` until it gives a value, for at most `timeout` (both real
/// durations, scaled by `cfg`); `probe` returns `Err(state)` while the thing is not there yet
/// (`state` is named in the timeout: `… (still attaching)`).
pub async fn until<T, F, Fut>(
    cfg: &ProviderConfig,
    what: &str,
    interval: Duration,
    timeout: Duration,
    mut probe: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, ProviderError>>,
{
    let limit = cfg.scaled(timeout);
    let deadline = Instant::now() + limit;
    loop {
        let asked = Instant::now();
        match probe().await? {
            Ok(v) => return Ok(v),
            Err(state) => {
                if asked >= deadline {
                    return Err(ProviderError::Timeout {
                        what: format!("{what} (still {state})"),
                        after: limit,
                    });
                }
                tracing::debug!(%what, %state, "waiting");
                cfg.poll_sleep(interval).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cfg() -> ProviderConfig {
        ProviderConfig {
            time_scale: 0.001,
            ..ProviderConfig::default()
        }
    }

    #[tokio::test]
    async fn a_slow_answer_to_a_probe_begun_in_time_gets_another_look() {
        // Ten minutes at 1/1000: 600 ms. The first probe is answered "attaching" only after
        // the deadline; the thing is done by then, and the next look sees it.
        let n = AtomicUsize::new(0);
        let r = until(
            &cfg(),
            "VGW attached",
            Duration::from_secs(5),
            Duration::from_secs(600),
            || async {
                if n.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    Ok(Err("attaching".to_string()))
                } else {
                    Ok(Ok(7))
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_state_that_never_changes_times_out_naming_it() {
        let n = AtomicUsize::new(0);
        let r: Result<(), _> = until(
            &cfg(),
            "VGW attached",
            Duration::from_secs(5),
            Duration::from_secs(60),
            || async {
                n.fetch_add(1, Ordering::SeqCst);
                Ok(Err("attaching".to_string()))
            },
        )
        .await;
        let e = r.unwrap_err();
        assert!(matches!(e, ProviderError::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("still attaching"), "{e}");
        assert!(n.load(Ordering::SeqCst) > 2, "it polled until the deadline");
    }
}
