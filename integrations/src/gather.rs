//! Gathering: lookups of single keys asked at the same moment go out as one batch call.
//!
//! The ten messages of a receive run concurrently, and so do the workers; each asks for its own
//! node's tags or its own key's ticket. The first asker of a group leads: it yields once, so the
//! askers polled beside it can join, then sends one call for every key gathered (at most the
//! limit; a full gathering makes the next asker lead another) and hands every joiner the answer.
//! A joiner whose leader was dropped (its message's work canceled at the drain deadline) asks
//! alone. Failures reach every joiner; nothing is kept here (callers cache what they want to).
//!
//! Used by the bridge's `enrich::cache` (tags, one `GetResources` of up to 100 ARNs) and
//! `sinks::servicenow` (tickets, one Table API query for the keys of a receive).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// What a gathered call answered, shared by its askers.
pub type Answer<K, V, E> = Result<Arc<HashMap<K, V>>, E>;

/// Keys waiting to go out together.
struct Gathering<K, V, E> {
    keys: Mutex<Vec<K>>,
    done: watch::Sender<Option<Answer<K, V, E>>>,
}

/// The gatherings not yet sent, per group.
type Open<G, K, V, E> = Mutex<HashMap<G, Arc<Gathering<K, V, E>>>>;

/// Open gatherings per group (calls never mix groups: an account and region, a table).
pub struct Gather<G, K, V, E> {
    open: Open<G, K, V, E>,
    limit: usize,
    window: Duration,
}

/// Removes a leader's gathering from the open ones when it sends, or when it is dropped first.
struct Close<'a, G: Eq + Hash, K, V, E> {
    open: &'a Open<G, K, V, E>,
    group: &'a G,
    mine: &'a Arc<Gathering<K, V, E>>,
}

impl<G: Eq + Hash, K, V, E> Drop for Close<'_, G, K, V, E> {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && open.get(self.group).is_some_and(|g| Arc::ptr_eq(g, self.mine))
        {
            open.remove(self.group);
        }
    }
}

impl<G: Eq + Hash + Clone, K: Eq + Hash + Clone, V, E: Clone> Gather<G, K, V, E> {
    /// Gatherings of at most `limit` keys.
    pub fn new(limit: usize) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            limit: limit.max(1),
            window: Duration::ZERO,
        }
    }

    /// The leader waits `window` for joiners instead of one yield: for asks that do not come at
    /// the same moment but close together (checks after creates, which the server answers one
    /// after the other). A ticket waits that much longer; no call is added.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The answer of the call `key` went out in. `call` sends a call for the keys it is given;
    /// only one asker's `call` runs per gathering (the leader's, or a joiner's alone).
    pub async fn ask<F, Fut>(&self, group: G, key: K, call: F) -> Answer<K, V, E>
    where
        F: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = Result<HashMap<K, V>, E>>,
    {
        let joined = match self.open.lock() {
            Ok(mut open) => Some({
                let joinable = open.get(&group).and_then(|g| {
                    let mut keys = g.keys.lock().ok()?;
                    if !keys.contains(&key) {
                        if keys.len() >= self.limit {
                            return None;
                        }
                        keys.push(key.clone());
                    }
                    Some(g.done.subscribe())
                });
                match joinable {
                    Some(rx) => Ok(rx),
                    None => {
                        // None open, or the open one is full: start one (a full one's leader
                        // still holds it).
                        let mine = Arc::new(Gathering {
                            keys: Mutex::new(vec![key.clone()]),
                            done: watch::channel(None).0,
                        });
                        open.insert(group.clone(), mine.clone());
                        Err(mine)
                    }
                }
            }),
            Err(_) => None,
        };
        let Some(joined) = joined else {
            return call(vec![key]).await.map(Arc::new);
        };
        match joined {
            Err(mine) => {
                let close = Close {
                    open: &self.open,
                    group: &group,
                    mine: &mine,
                };
                if self.window.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(self.window).await;
                }
                drop(close);
                let keys = mine
                    .keys
                    .lock()
                    .map(|mut k| std::mem::take(&mut *k))
                    .unwrap_or_else(|_| vec![key]);
                let answer = call(keys).await.map(Arc::new);
                let _ = mine.done.send(Some(answer.clone()));
                answer
            }
            Ok(mut rx) => {
                let answer = rx.wait_for(Option::is_some).await.map(|a| a.clone());
                match answer {
                    Ok(Some(answer)) => answer,
                    // The leader was dropped before it sent.
                    _ => call(vec![key]).await.map(Arc::new),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Echoes each key, counting calls.
    async fn echo(calls: &AtomicUsize, keys: Vec<u32>) -> Result<HashMap<u32, u32>, String> {
        calls.fetch_add(1, Ordering::Relaxed);
        Ok(keys.into_iter().map(|k| (k, k * 10)).collect())
    }

    #[tokio::test]
    async fn asks_within_the_window_go_out_as_one_call_and_each_gets_its_answer() {
        let calls = AtomicUsize::new(0);
        let g: Gather<(), u32, u32, String> = Gather::new(50).with_window(Duration::from_millis(200));
        let ask = |k: u32, after: u64| {
            let (g, calls) = (&g, &calls);
            async move {
                tokio::time::sleep(Duration::from_millis(after)).await;
                let answer = g.ask((), k, |keys| echo(calls, keys)).await.expect("answer");
                answer.get(&k).copied()
            }
        };
        // Five asks 10 ms apart: a yield would send five calls, the window sends one.
        let got = futures_util::future::join_all((0..5).map(|i| ask(i, u64::from(i) * 10))).await;
        assert_eq!(got, [Some(0), Some(10), Some(20), Some(30), Some(40)]);
        assert_eq!(calls.load(Ordering::Relaxed), 1);

        // Without a window, only asks polled together join.
        let calls = AtomicUsize::new(0);
        let g: Gather<(), u32, u32, String> = Gather::new(50);
        let ask = |k: u32, after: u64| {
            let (g, calls) = (&g, &calls);
            async move {
                tokio::time::sleep(Duration::from_millis(after)).await;
                g.ask((), k, |keys| echo(calls, keys))
                    .await
                    .expect("answer")
                    .get(&k)
                    .copied()
            }
        };
        futures_util::future::join_all((0..3).map(|i| ask(i, u64::from(i) * 20))).await;
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }
}
