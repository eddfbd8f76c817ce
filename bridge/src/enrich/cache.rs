//! The tag cache in front of a [`TagSource`]: tags are kept per node for a TTL, and lookups that
//! miss at the same moment (the ten messages of a receive run concurrently, and so do the
//! workers) are gathered into one call per account and region of up to [`BATCH`] nodes, which
//! the AWS source sends as one `GetResources` (it takes 100 ARNs). Before, every new node cost
//! one call: the largest share of the bridge's CPU per event (BENCHMARKS.md, "Bridge CPU").
//!
//! The gathering itself is [`crate::gather`]; failures are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{EnrichError, TagSource, Tags};
use crate::gather::{Answer, Gather};

/// Most nodes per gathered call (`GetResources` takes at most 100 ARNs).
pub const BATCH: usize = 100;

/// (account, region, node).
type NodeKey = (String, String, String);

struct Entries {
    map: HashMap<NodeKey, (Instant, Arc<Tags>)>,
    swept: Instant,
}

/// A per-node TTL cache whose misses are gathered into batch lookups.
pub struct TagCache<T> {
    /// Where tags come from.
    pub source: T,
    ttl: Duration,
    entries: Mutex<Entries>,
    /// Misses per (account, region), gathered.
    gathering: Gather<(String, String), String, Arc<Tags>, EnrichError>,
}

impl<T: TagSource> TagCache<T> {
    /// Tags read from `source` are kept `ttl`.
    pub fn new(source: T, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                swept: Instant::now(),
            }),
            gathering: Gather::new(BATCH),
        }
    }

    fn cached(&self, key: &NodeKey) -> Option<Arc<Tags>> {
        let entries = self.entries.lock().ok()?;
        let (at, tags) = entries.map.get(key)?;
        (at.elapsed() < self.ttl).then(|| tags.clone())
    }

    fn keep(&self, account: &str, region: &str, found: &HashMap<String, Arc<Tags>>) {
        let Ok(mut e) = self.entries.lock() else { return };
        // Bound the cache: expired entries go once per TTL (sweeping on every insert made a
        // burst of new nodes quadratic).
        if e.swept.elapsed() >= self.ttl {
            let ttl = self.ttl;
            e.map.retain(|_, (at, _)| at.elapsed() < ttl);
            e.swept = Instant::now();
        }
        let now = Instant::now();
        for (node, tags) in found {
            e.map.insert(
                (account.to_owned(), region.to_owned(), node.clone()),
                (now, tags.clone()),
            );
        }
    }

    /// The tags of `node` in `account` and `region`.
    pub async fn get(&self, account: &str, region: &str, node: &str) -> Result<Arc<Tags>, EnrichError> {
        let key = (account.to_owned(), region.to_owned(), node.to_owned());
        if let Some(t) = self.cached(&key) {
            return Ok(t);
        }
        let group = (account.to_owned(), region.to_owned());
        let answer = self
            .gathering
            .ask(group, node.to_owned(), |nodes| async move {
                let found = self.source.tags_of_many(account, region, &nodes).await?;
                let found: HashMap<String, Arc<Tags>> = found.into_iter().map(|(n, t)| (n, Arc::new(t))).collect();
                self.keep(account, region, &found);
                Ok(found)
            })
            .await;
        pick(answer, node)
    }
}

/// One node's tags out of a gathered answer; the error names that node.
fn pick(answer: Answer<String, Arc<Tags>, EnrichError>, node: &str) -> Result<Arc<Tags>, EnrichError> {
    match answer {
        Ok(found) => Ok(found.get(node).cloned().unwrap_or_default()),
        Err(e) => Err(EnrichError {
            node: node.to_owned(),
            ..e
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::FutureExt;

    use super::*;

    /// Counts calls and the nodes each asked for; `fail` makes every call fail.
    #[derive(Default)]
    struct Counting {
        calls: Mutex<Vec<Vec<String>>>,
        singles: AtomicUsize,
        fail: bool,
    }

    impl TagSource for Counting {
        async fn tags(&self, _: &str, _: &str, node: &str) -> Result<Tags, EnrichError> {
            self.singles.fetch_add(1, Ordering::Relaxed);
            Ok([("Name".to_owned(), node.to_owned())].into())
        }

        async fn tags_of_many(&self, _: &str, _: &str, nodes: &[String]) -> Result<HashMap<String, Tags>, EnrichError> {
            if let Ok(mut c) = self.calls.lock() {
                c.push(nodes.to_vec());
            }
            tokio::task::yield_now().await;
            if self.fail {
                return Err(EnrichError {
                    node: nodes.join(","),
                    message: "ThrottlingException".into(),
                    retryable: true,
                });
            }
            Ok(nodes
                .iter()
                .filter(|n| n.as_str() != "i-unknown")
                .map(|n| (n.clone(), [("Name".to_owned(), n.clone())].into()))
                .collect())
        }
    }

    fn calls(c: &TagCache<Counting>) -> Vec<Vec<String>> {
        c.source.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    #[tokio::test]
    async fn concurrent_misses_go_out_as_one_call_per_account_and_region() {
        let c = TagCache::new(Counting::default(), Duration::from_secs(60));
        let asks: Vec<(&str, String)> = (0..10)
            .map(|i| ("111111111111", format!("i-{i:017x}")))
            .chain((0..3).map(|i| ("222222222222", format!("i-{i:017x}"))))
            .chain([
                ("111111111111", "i-unknown".to_owned()),
                ("111111111111", format!("i-{:017x}", 0)),
            ])
            .collect();
        let got = futures_util::future::join_all(asks.iter().map(|(a, n)| c.get(a, "us-east-1", n))).await;
        for ((_, n), g) in asks.iter().zip(&got) {
            let tags = g.as_ref().expect("tags");
            if n == "i-unknown" {
                assert!(tags.is_empty(), "a node the source does not know has no tags");
            } else {
                assert_eq!(tags.get("Name"), Some(n), "each asker gets its own node's tags");
            }
        }
        let mut sizes: Vec<usize> = calls(&c).iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [3, 11], "one call per account; the repeated node asked once");
        // Cached now: no further call.
        c.get("111111111111", "us-east-1", "i-00000000000000003")
            .await
            .expect("cached");
        assert_eq!(calls(&c).len(), 2);
        assert_eq!(c.source.singles.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_full_gathering_starts_another_and_failures_reach_every_joiner_uncached() {
        let c = TagCache::new(Counting::default(), Duration::from_secs(60));
        let nodes: Vec<String> = (0..BATCH + 5).map(|i| format!("i-{i:017x}")).collect();
        let got = futures_util::future::join_all(nodes.iter().map(|n| c.get("1", "r", n))).await;
        assert!(got.iter().all(Result::is_ok));
        let mut sizes: Vec<usize> = calls(&c).iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [5, BATCH]);

        let c = TagCache::new(
            Counting {
                fail: true,
                ..Counting::default()
            },
            Duration::from_secs(60),
        );
        let got = futures_util::future::join_all(["i-1", "i-2"].map(|n| c.get("1", "r", n))).await;
        for (n, g) in ["i-1", "i-2"].iter().zip(got) {
            let e = g.expect_err("throttled");
            assert!(e.retryable && e.node == *n, "{e:?}");
        }
        let _ = c.get("1", "r", "i-1").await;
        assert_eq!(calls(&c).len(), 2, "a failure is asked again, not cached");
    }

    #[tokio::test]
    async fn a_joiner_whose_leader_is_dropped_asks_alone() {
        let c = TagCache::new(Counting::default(), Duration::from_secs(60));
        let mut leader = Box::pin(c.get("1", "r", "i-1"));
        // Poll the leader once (it yields), then drop it before it sends.
        assert!(leader.as_mut().now_or_never().is_none());
        let joiner = c.get("1", "r", "i-2");
        let mut joiner = Box::pin(joiner);
        assert!(joiner.as_mut().now_or_never().is_none());
        drop(leader);
        let tags = joiner.await.expect("tags");
        assert_eq!(tags.get("Name").map(String::as_str), Some("i-2"));
        assert_eq!(
            calls(&c),
            vec![vec!["i-2".to_owned()]],
            "the joiner's own call, the leader's never sent"
        );
    }

    #[tokio::test]
    async fn expired_entries_are_swept_once_per_ttl() {
        let c = TagCache::new(Counting::default(), Duration::from_millis(30));
        for i in 0..50 {
            c.get("1", "r", &format!("i-{i}")).await.expect("tags");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        c.get("1", "r", "i-new").await.expect("tags");
        let left = c.entries.lock().map(|e| e.map.len()).unwrap_or(0);
        assert_eq!(left, 1, "the expired 50 were swept when the next node came");
    }
}
