//! The concurrent graph walk: every node starts the moment its dependencies have finished,
//! with no global parallelism cap (limits belong where the clouds impose them, inside the
//! providers). A failed node stops new starts while running nodes finish; so does a
//! cancellation (SIGINT/SIGTERM), so that every result that arrived is recorded.

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::VecDeque;
use tokio::sync::watch;

/// What the walk runs: `start` launches a node, `finish` records its result (on the walk's own
/// task, one at a time, so it may own the state) and says whether the walk may go on.
#[async_trait::async_trait]
pub trait Driver: Send {
    type Out: Send + 'static;
    /// Launches node `i`; all of its dependencies have finished successfully.
    fn start(&mut self, i: usize) -> BoxFuture<'static, Self::Out>;
    /// Records node `i`'s result; `false` stops new starts (a failure).
    async fn finish(&mut self, i: usize, out: Self::Out) -> bool;
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEnd {
    /// Nodes that finished successfully.
    pub done: Vec<bool>,
    /// A node failed.
    pub failed: bool,
    /// Cancelled before every node ran.
    pub cancelled: bool,
}

impl WalkEnd {
    pub fn complete(&self) -> bool {
        self.done.iter().all(|d| *d)
    }
}

/// Walks nodes `0..deps.len()`, `deps[i]` listing the nodes `i` waits for. Tasks run on the
/// runtime's threads (`tokio::spawn`). `cancel` turning true stops new starts. `parallelism`
/// caps the nodes in flight (`None`: no cap, peerctl's default; `Some(10)` walks the way
/// Terraform does by default, for comparison).
pub async fn walk<D: Driver>(
    driver: &mut D,
    deps: &[Vec<usize>],
    mut cancel: watch::Receiver<bool>,
    parallelism: Option<usize>,
) -> WalkEnd {
    let cap = parallelism.unwrap_or(usize::MAX).max(1);
    let n = deps.len();
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &j in d {
            dependents[j].push(i);
        }
    }
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut running = FuturesUnordered::new();
    let mut watching = true;
    let mut end = WalkEnd {
        done: vec![false; n],
        failed: false,
        cancelled: *cancel.borrow(),
    };
    loop {
        if !end.failed && !end.cancelled {
            while running.len() < cap {
                let Some(i) = ready.pop_front() else { break };
                let task = tokio::spawn(driver.start(i));
                running.push(async move { (i, task.await) });
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some((i, joined)) = running.next() => {
                let ok = match joined {
                    Ok(out) => driver.finish(i, out).await,
                    // A panicking task is a failed node, not a dead apply.
                    Err(_) => false,
                };
                if ok {
                    end.done[i] = true;
                    for &k in &dependents[i] {
                        waiting[k] -= 1;
                        if waiting[k] == 0 {
                            ready.push_back(k);
                        }
                    }
                } else {
                    end.failed = true;
                }
            }
            changed = cancel.changed(), if watching && !end.cancelled => {
                match changed {
                    Ok(()) => end.cancelled = *cancel.borrow(),
                    // A dropped sender means no one can cancel any more.
                    Err(_) => watching = false,
                }
            }
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    struct Rec {
        log: Arc<Mutex<Vec<String>>>,
        fail: Option<usize>,
        delay_ms: Vec<u64>,
    }

    #[async_trait::async_trait]
    impl Driver for Rec {
        type Out = usize;
        fn start(&mut self, i: usize) -> BoxFuture<'static, usize> {
            let log = self.log.clone();
            let ms = self.delay_ms[i];
            log.lock().unwrap().push(format!("start {i}"));
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                i
            })
        }
        async fn finish(&mut self, i: usize, _out: usize) -> bool {
            self.log.lock().unwrap().push(format!("end {i}"));
            self.fail != Some(i)
        }
    }

    fn rec(fail: Option<usize>, delay_ms: Vec<u64>) -> (Rec, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (
            Rec {
                log: log.clone(),
                fail,
                delay_ms,
            },
            log,
        )
    }

    #[tokio::test]
    async fn a_node_starts_as_soon_as_its_own_dependencies_finish() {
        // 0 is slow; 1 fast; 2 needs only 1: it must start before 0 ends.
        let (mut d, log) = rec(None, vec![200, 5, 5]);
        let (_tx, rx) = watch::channel(false);
        let end = walk(&mut d, &[vec![], vec![], vec![1]], rx, None).await;
        assert!(end.complete());
        let log = log.lock().unwrap().clone();
        let pos = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(pos("start 2") < pos("end 0"), "{log:?}");
    }

    #[tokio::test]
    async fn a_failure_stops_new_starts_but_lets_running_nodes_finish() {
        let (mut d, log) = rec(Some(1), vec![100, 5, 5]);
        let (_tx, rx) = watch::channel(false);
        let end = walk(&mut d, &[vec![], vec![], vec![1]], rx, None).await;
        assert!(end.failed);
        assert!(end.done[0], "the running node finished and was recorded");
        assert!(!end.done[2]);
        assert!(!log.lock().unwrap().contains(&"start 2".to_string()));
    }

    #[tokio::test]
    async fn a_parallelism_cap_holds_nodes_back() {
        // Two independent nodes, cap 1: the second starts only after the first ended.
        let (mut d, log) = rec(None, vec![50, 5]);
        let (_tx, rx) = watch::channel(false);
        let end = walk(&mut d, &[vec![], vec![]], rx, Some(1)).await;
        assert!(end.complete());
        let log = log.lock().unwrap().clone();
        assert_eq!(log, ["start 0", "end 0", "start 1", "end 1"]);
    }

    #[tokio::test]
    async fn cancellation_stops_new_starts() {
        let (mut d, log) = rec(None, vec![100, 5]);
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.send(true).unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        let end = walk(&mut d, &[vec![], vec![0]], rx, None).await;
        assert!(end.cancelled);
        assert!(end.done[0]);
        assert!(!log.lock().unwrap().contains(&"start 1".to_string()));
    }
}
