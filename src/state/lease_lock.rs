//! One writer per cloud on a shared etcd state: a lock key per cloud (`KEY.lock/aws`, …),
//! attached to a lease the holder keeps alive. Compare-and-swap keeps runners of different
//! clouds from losing each other's updates; it cannot keep two runners of the *same* cloud
//! from both creating that cloud's resources (each would record its own copy). So a writer
//! takes the locks of the clouds it writes, all at once in one transaction (no partial hold,
//! no deadlock between a full apply and a per-cloud runner), and every write of the state is
//! fenced by the lock: the write's transaction also requires that each lock key is still
//! attached to the holder's lease, so a holder whose lease expired (a long pause, a partition)
//! cannot overwrite what the next holder did.
//!
//! A holder that dies (SIGKILL, a lost CI machine) stops renewing; etcd deletes its keys when
//! the lease's time-to-live runs out, so a lock is never stale for longer than [`TTL`].

use super::backend::Holder;
use super::StateError;
use crate::cloud::Cloud;
use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
use std::collections::BTreeSet;
use std::time::Duration;

/// The lease's time-to-live: how long a dead holder's lock outlives it.
pub const TTL: Duration = Duration::from_secs(10);

/// The lock key of `cloud` beside the state key `key` (as `NAME.lock` beside a state file).
pub fn key_of(key: &str, cloud: Cloud) -> String {
    format!("{key}.lock/{}", cloud.as_str())
}

/// Locks held: their keys, the lease and its renewal task.
pub struct LeaseLock {
    client: Client,
    lease: i64,
    keys: Vec<String>,
    keeper: tokio::task::JoinHandle<()>,
}

fn err(at: &str, e: etcd_client::Error) -> StateError {
    StateError::Backend {
        at: at.to_string(),
        message: e.to_string(),
    }
}

impl LeaseLock {
    /// Takes the locks of `clouds` on the state `key`, recording `holder`. When another
    /// holder has any of them, tries again until `timeout` has passed, then fails naming the
    /// holder ([`StateError::Locked`]).
    pub async fn acquire(
        client: &Client,
        at: &str,
        key: &str,
        clouds: &BTreeSet<Cloud>,
        holder: &Holder,
        timeout: Duration,
    ) -> Result<LeaseLock, StateError> {
        let mut client = client.clone();
        let keys: Vec<String> = clouds.iter().map(|c| key_of(key, *c)).collect();
        let value = serde_json::to_string(holder).unwrap_or_default();
        let ttl = i64::try_from(TTL.as_secs()).unwrap_or(10);
        let until = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            // A lease per attempt: nothing renews it while this run waits its turn.
            let lease = client
                .lease_grant(ttl, None)
                .await
                .map_err(|e| err(at, e))?
                .id();
            let txn = Txn::new()
                .when(
                    keys.iter()
                        .map(|k| Compare::create_revision(k.as_str(), CompareOp::Equal, 0))
                        .collect::<Vec<_>>(),
                )
                .and_then(
                    keys.iter()
                        .map(|k| {
                            TxnOp::put(
                                k.as_str(),
                                value.as_str(),
                                Some(etcd_client::PutOptions::new().with_lease(lease)),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
                .or_else(
                    keys.iter()
                        .map(|k| TxnOp::get(k.as_str(), None))
                        .collect::<Vec<_>>(),
                );
            let resp = match client.txn(txn).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = client.lease_revoke(lease).await;
                    return Err(err(at, e));
                }
            };
            if resp.succeeded() {
                let keeper = tokio::spawn(renew(client.clone(), lease));
                return Ok(LeaseLock {
                    client,
                    lease,
                    keys,
                    keeper,
                });
            }
            let _ = client.lease_revoke(lease).await;
            if tokio::time::Instant::now() >= until {
                return Err(StateError::Locked {
                    path: at.to_string(),
                    holder: holders(&resp, clouds),
                });
            }
            tokio::time::sleep(pause.min(until - tokio::time::Instant::now())).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Conditions a write of the state must add: every lock key still on this lease.
    pub fn fence(&self) -> Vec<Compare> {
        self.keys
            .iter()
            .map(|k| Compare::lease(k.as_str(), CompareOp::Equal, self.lease))
            .collect()
    }

    /// Reads of the lock keys, for the failure branch of a fenced write.
    pub fn reads(&self) -> Vec<TxnOp> {
        self.keys
            .iter()
            .map(|k| TxnOp::get(k.as_str(), None))
            .collect()
    }

    /// Whether the failure branch of a fenced write shows a lock no longer on this lease.
    pub fn lost_in(&self, responses: &[TxnOpResponse]) -> bool {
        let mut locks = 0;
        for r in responses {
            if let TxnOpResponse::Get(g) = r {
                for kv in g.kvs() {
                    if self.keys.iter().any(|k| k.as_bytes() == kv.key()) {
                        locks += 1;
                        if kv.lease() != self.lease {
                            return true;
                        }
                    }
                }
            }
        }
        locks < self.keys.len()
    }

    /// Releases the locks at once (revoking the lease deletes its keys).
    pub async fn release(mut self) {
        self.keeper.abort();
        let _ = self.client.lease_revoke(self.lease).await;
    }
}

impl Drop for LeaseLock {
    /// Without [`LeaseLock::release`] (a panic, an early return) the renewals stop and etcd
    /// frees the locks within [`TTL`].
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// Keeps `lease` alive, renewing at a third of its time-to-live. A failed renewal (etcd
/// restarting, a moment without network) is retried on a new stream; renewal stops only when
/// etcd says the lease is gone, and from then on the fence refuses this holder's writes.
async fn renew(mut client: Client, lease: i64) {
    loop {
        if let Ok((mut keeper, mut stream)) = client.lease_keep_alive(lease).await {
            loop {
                if keeper.keep_alive().await.is_err() {
                    break;
                }
                match stream.message().await {
                    Ok(Some(r)) if r.ttl() > 0 => {}
                    Ok(Some(_)) => {
                        tracing::warn!("the state lock's lease expired: this run can no longer write the state");
                        return;
                    }
                    _ => break,
                }
                tokio::time::sleep(TTL / 3).await;
            }
        }
        tracing::warn!("renewing the state lock's lease failed; retrying");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Who holds the locks a failed acquisition found, for [`StateError::Locked`].
fn holders(resp: &etcd_client::TxnResponse, wanted: &BTreeSet<Cloud>) -> String {
    let mut seen: Vec<(String, Vec<&str>)> = Vec::new();
    for r in resp.op_responses() {
        let TxnOpResponse::Get(g) = r else { continue };
        for kv in g.kvs() {
            let cloud = String::from_utf8_lossy(kv.key())
                .rsplit('/')
                .next()
                .and_then(Cloud::parse)
                .filter(|c| wanted.contains(c));
            let Some(cloud) = cloud else { continue };
            let who = serde_json::from_slice::<Holder>(kv.value())
                .map(|h| h.to_string())
                .unwrap_or_else(|_| "another runner".into());
            match seen.iter_mut().find(|(w, _)| *w == who) {
                Some((_, cs)) => cs.push(cloud.as_str()),
                None => seen.push((who, vec![cloud.as_str()])),
            }
        }
    }
    if seen.is_empty() {
        return "another runner (its lock was released just now; try again)".into();
    }
    seen.iter()
        .map(|(who, cs)| {
            format!(
                "{who}, which holds the {} lock{}",
                cs.join(", "),
                if cs.len() > 1 { "s" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("; and by ")
}
