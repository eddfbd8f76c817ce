//! The owner of a node, through a configured chain (`owners.order`): the node's tags, a CMDB (the
//! ServiceNow CMDB's CI, or an HTTP JSON CMDB), a static map, and otherwise the default group.
//!
//! CMDB answers are cached per node: a found owner for `owners.ttl_seconds`, "unknown" for
//! `owners.negative_ttl_seconds`, with one warning per node per negative TTL. A CMDB that fails
//! (timeouts, 429, 5xx) is an [`EnrichError`] marked retryable: the message comes back later, so a
//! CMDB outage delays incidents rather than opening them without their owner. Failures are not
//! cached.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{EnrichError, Tags};

/// An owner a CMDB knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The owner (a user, a team or a group name).
    pub owner: String,
    /// The group to assign tickets to, when the CMDB names one (e.g. the CI's support group).
    pub group: Option<String>,
    /// The node's configuration item (`sys_id`), for the incident's `cmdb_ci`.
    pub ci: Option<String>,
}

/// A CMDB: `Ok(None)` means it answered and does not know the node.
pub trait OwnerSource: Send + Sync {
    /// A name for logs and metrics.
    fn name(&self) -> &str;
    /// The owner of `node` in `account` and `region`.
    fn owner<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Found>, EnrichError>> + Send + 'a>>;
}

/// One step of the chain.
pub enum Step {
    /// The first of these tags present on the node.
    Tags(Vec<String>),
    /// A CMDB.
    Cmdb(Arc<dyn OwnerSource>),
    /// Node id → owner.
    Static(BTreeMap<String, String>),
}

/// (source, account, region, node).
type Key = (String, String, String, String);

/// The chain with its caches.
pub struct OwnerChain {
    steps: Vec<Step>,
    ttl: Duration,
    negative_ttl: Duration,
    cache: Mutex<HashMap<Key, (Instant, Option<Found>)>>,
    /// When expired answers were last swept out of `cache`.
    swept: Mutex<Instant>,
    /// One lookup per key at a time: concurrent events about one node wait for the first answer
    /// (one CMDB call, one warning) instead of all asking.
    inflight: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    lookups: std::sync::atomic::AtomicU64,
}

impl OwnerChain {
    /// `steps` in order, caching CMDB answers for `ttl` (found) and `negative_ttl` (unknown).
    pub fn new(steps: Vec<Step>, ttl: Duration, negative_ttl: Duration) -> Self {
        Self {
            steps,
            ttl,
            negative_ttl,
            cache: Mutex::default(),
            swept: Mutex::new(Instant::now()),
            inflight: Mutex::default(),
            lookups: Default::default(),
        }
    }

    /// CMDB calls made so far (cache misses).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn cached(&self, key: &Key) -> Option<Option<Found>> {
        let cache = self.cache.lock().ok()?;
        let (at, found) = cache.get(key)?;
        let ttl = if found.is_some() { self.ttl } else { self.negative_ttl };
        (at.elapsed() < ttl).then(|| found.clone())
    }

    async fn cmdb(
        &self,
        s: &dyn OwnerSource,
        account: &str,
        region: &str,
        node: &str,
    ) -> Result<Option<Found>, EnrichError> {
        let key = (
            s.name().to_owned(),
            account.to_owned(),
            region.to_owned(),
            node.to_owned(),
        );
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        let lock = match self.inflight.lock() {
            Ok(mut m) => {
                m.retain(|_, l| Arc::strong_count(l) > 1);
                m.entry(key.clone()).or_default().clone()
            }
            Err(_) => Arc::default(),
        };
        let _one_at_a_time = lock.lock().await;
        // Another event about this node may have asked while this one waited.
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        self.lookups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let found = s.owner(account, region, node).await?;
        if found.is_none() {
            // Once per node per negative TTL: the entry below keeps it quiet until it expires.
            tracing::warn!(cmdb = s.name(), %node, %account, %region, "The CMDB does not know this node; its tickets go to the default group");
        }
        if let Ok(mut cache) = self.cache.lock() {
            // Bound the cache: expired answers go once per the shorter TTL, not on every insert
            // (which made a burst of new nodes quadratic, as it did in the tag cache).
            let (ttl, negative) = (self.ttl, self.negative_ttl);
            if let Ok(mut swept) = self.swept.lock()
                && swept.elapsed() >= ttl.min(negative)
            {
                cache.retain(|_, (at, f)| at.elapsed() < if f.is_some() { ttl } else { negative });
                *swept = Instant::now();
            }
            cache.insert(key, (Instant::now(), found.clone()));
        }
        Ok(found)
    }

    /// The owner of `node` with `tags`: the first step that knows, else `None` (the default
    /// group). A CMDB failure is returned, retryable, rather than skipped.
    pub async fn resolve(
        &self,
        account: &str,
        region: &str,
        node: &str,
        tags: &Tags,
    ) -> Result<Option<Found>, EnrichError> {
        for step in &self.steps {
            let found = match step {
                Step::Tags(keys) => keys.iter().find_map(|k| tags.get(k)).map(|o| Found {
                    owner: o.clone(),
                    group: None,
                    ci: None,
                }),
                Step::Cmdb(s) => self.cmdb(s.as_ref(), account, region, node).await?,
                Step::Static(map) => map.get(node).map(|o| Found {
                    owner: o.clone(),
                    group: None,
                    ci: None,
                }),
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

/// A CMDB of `patchplane_integrations::cmdb` (the ServiceNow CMDB or an HTTP JSON CMDB) as a
/// step of the chain. A CI the CMDB knows without an owner still names the CI (`cmdb_ci`), and
/// the chain goes on to its next step for the owner.
pub struct CmdbStep {
    name: String,
    cmdb: patchplane_integrations::cmdb::Cmdb,
}

impl CmdbStep {
    /// `cmdb`, named `name` in logs.
    pub fn new(name: &str, cmdb: patchplane_integrations::cmdb::Cmdb) -> Self {
        Self {
            name: name.to_owned(),
            cmdb,
        }
    }
}

impl OwnerSource for CmdbStep {
    fn name(&self) -> &str {
        &self.name
    }

    fn owner<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Found>, EnrichError>> + Send + 'a>> {
        use patchplane_integrations::cmdb::{Lookup, Node};
        Box::pin(async move {
            let n = Node {
                account,
                region,
                id: node,
            };
            match self.cmdb.lookup(&n).await {
                Ok(Lookup::Found(o)) => Ok(Some(Found {
                    owner: o.name,
                    group: o.group,
                    ci: o.ci.map(|c| c.sys_id),
                })),
                Ok(Lookup::Unowned(_) | Lookup::Unknown) => Ok(None),
                Err(f) => Err(EnrichError {
                    node: node.to_owned(),
                    message: format!("{}: {f}", self.name),
                    retryable: f.is_retryable(),
                }),
            }
        })
    }
}

/// The owner chain `owners:` describes: tags, CMDBs (clients built from the resolved references)
/// and the static map, with their caches. Without AWS (`sdk` is `None`: a replay without
/// credentials), the CMDB steps are left out.
pub fn chain(
    cfg: &crate::config::BridgeConfig,
    resolved: &crate::start::Resolved,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<OwnerChain, crate::start::StartError> {
    use patchplane_integrations::cmdb::{Cmdb, HttpCmdb, HttpCmdbConfig, OwnerField, ServiceNowCmdb};
    use patchplane_integrations::retry::RetryPolicy;

    use crate::config::OwnerStep;
    use crate::start::StartError;
    let o = &cfg.owners;
    let mut steps = Vec::new();
    for step in &o.order {
        steps.push(match step {
            OwnerStep::Tags => Step::Tags(cfg.enrich.owner_tags.clone()),
            OwnerStep::Static => Step::Static(o.static_owners.clone()),
            OwnerStep::ServicenowCmdb => {
                if sdk.is_none() {
                    continue;
                }
                let fields: Vec<OwnerField> = o.servicenow_cmdb.fields.iter().filter_map(|f| f.parse().ok()).collect();
                let client = Arc::new(crate::start::servicenow(cfg, resolved)?);
                let cmdb = ServiceNowCmdb::new(client, &fields).map_err(|e| StartError::Cmdb(e.to_string()))?;
                Step::Cmdb(Arc::new(CmdbStep::new("servicenow cmdb", Cmdb::ServiceNow(cmdb))))
            }
            OwnerStep::HttpCmdb => {
                let (Some(_), Some(h)) = (sdk, &o.http_cmdb) else {
                    continue;
                };
                let token = match &h.token {
                    Some(_) => Some(resolved.get("owners.http_cmdb.token")?.to_owned()),
                    None => None,
                };
                let cmdb = HttpCmdb::new(HttpCmdbConfig {
                    url: h.url.clone(),
                    token,
                    timeout: Duration::from_secs(h.timeout_seconds),
                    retry: RetryPolicy::default(),
                })
                .map_err(|e| StartError::Cmdb(e.to_string()))?;
                Step::Cmdb(Arc::new(CmdbStep::new("http cmdb", Cmdb::Http(cmdb))))
            }
        });
    }
    Ok(OwnerChain::new(
        steps,
        Duration::from_secs(o.ttl_seconds),
        Duration::from_secs(o.negative_ttl_seconds),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Cmdb {
        calls: AtomicUsize,
        knows: Option<&'static str>,
        down: bool,
    }

    impl OwnerSource for Cmdb {
        fn name(&self) -> &str {
            "fake"
        }
        fn owner<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            node: &'a str,
        ) -> Pin<Box<dyn Future<Output = Result<Option<Found>, EnrichError>> + Send + 'a>> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                // A CMDB takes a while to answer: long enough for concurrent askers to overlap.
                tokio::time::sleep(Duration::from_millis(20)).await;
                if self.down {
                    return Err(EnrichError {
                        node: node.into(),
                        message: "CMDB 503".into(),
                        retryable: true,
                    });
                }
                Ok(self.knows.map(|o| Found {
                    owner: o.into(),
                    group: Some(format!("{o} group")),
                    ci: Some("ci-1".into()),
                }))
            })
        }
    }

    fn chain(cmdb: Arc<Cmdb>, negative: Duration) -> OwnerChain {
        OwnerChain::new(
            vec![
                Step::Tags(vec!["Owner".into()]),
                Step::Cmdb(cmdb),
                Step::Static([("i-static".to_owned(), "team-static".to_owned())].into()),
            ],
            Duration::from_secs(60),
            negative,
        )
    }

    fn tags(owner: Option<&str>) -> Tags {
        owner
            .map(|o| [("Owner".to_owned(), o.to_owned())].into())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn tags_win_then_the_cmdb_then_the_static_map_and_answers_are_cached() {
        let cmdb = Arc::new(Cmdb {
            calls: AtomicUsize::new(0),
            knows: Some("team-cmdb"),
            down: false,
        });
        let c = chain(cmdb.clone(), Duration::from_secs(60));
        let from_tags = c.resolve("a", "r", "i-1", &tags(Some("team-tag"))).await.expect("ok");
        assert_eq!(from_tags.map(|f| f.owner).as_deref(), Some("team-tag"));
        assert_eq!(cmdb.calls.load(Ordering::Relaxed), 0, "no CMDB call when a tag says it");
        for _ in 0..5 {
            let f = c
                .resolve("a", "r", "i-1", &tags(None))
                .await
                .expect("ok")
                .expect("found");
            assert_eq!((f.owner.as_str(), f.ci.as_deref()), ("team-cmdb", Some("ci-1")));
        }
        assert_eq!(cmdb.calls.load(Ordering::Relaxed), 1, "cached");
    }

    #[tokio::test]
    async fn expired_answers_are_swept_once_per_ttl_so_the_cache_stays_bounded() {
        let cmdb = Arc::new(Cmdb {
            calls: AtomicUsize::new(0),
            knows: Some("team-cmdb"),
            down: false,
        });
        let c = OwnerChain::new(
            vec![Step::Cmdb(cmdb)],
            Duration::from_millis(300),
            Duration::from_millis(300),
        );
        let size = |c: &OwnerChain| c.cache.lock().map(|m| m.len()).unwrap_or(0);
        for i in 0..20 {
            c.resolve("a", "r", &format!("i-{i}"), &tags(None)).await.expect("ok");
        }
        assert_eq!(size(&c), 20, "a burst of new nodes is kept (no sweep within the TTL)");
        tokio::time::sleep(Duration::from_millis(350)).await;
        c.resolve("a", "r", "i-late", &tags(None)).await.expect("ok");
        assert_eq!(size(&c), 1, "once the TTL has passed, the expired answers are gone");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_events_about_one_node_ask_the_cmdb_once() {
        let cmdb = Arc::new(Cmdb {
            calls: AtomicUsize::new(0),
            knows: None,
            down: false,
        });
        let c = Arc::new(chain(cmdb.clone(), Duration::from_secs(60)));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.resolve("a", "r", "i-x", &tags(None)).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("joins").expect("ok"), None);
        }
        assert_eq!(cmdb.calls.load(Ordering::Relaxed), 1, "one lookup, one warning");
    }

    #[tokio::test]
    async fn unknown_nodes_fall_through_and_are_cached_negatively_and_outages_are_retryable() {
        let cmdb = Arc::new(Cmdb {
            calls: AtomicUsize::new(0),
            knows: None,
            down: false,
        });
        let c = chain(cmdb.clone(), Duration::from_secs(60));
        assert_eq!(
            c.resolve("a", "r", "i-x", &tags(None)).await.expect("ok"),
            None,
            "default group"
        );
        assert_eq!(
            c.resolve("a", "r", "i-static", &tags(None))
                .await
                .expect("ok")
                .map(|f| f.owner)
                .as_deref(),
            Some("team-static")
        );
        c.resolve("a", "r", "i-x", &tags(None)).await.expect("ok");
        assert_eq!(cmdb.calls.load(Ordering::Relaxed), 2, "i-x asked once, i-static once");
        let short = chain(cmdb.clone(), Duration::ZERO);
        short.resolve("a", "r", "i-x", &tags(None)).await.expect("ok");
        short.resolve("a", "r", "i-x", &tags(None)).await.expect("ok");
        assert_eq!(
            cmdb.calls.load(Ordering::Relaxed),
            4,
            "an expired negative answer is asked again"
        );

        let down = Arc::new(Cmdb {
            calls: AtomicUsize::new(0),
            knows: Some("x"),
            down: true,
        });
        let c = chain(down.clone(), Duration::from_secs(60));
        let e = c.resolve("a", "r", "i-1", &tags(None)).await.expect_err("down");
        assert!(e.message.contains("CMDB 503"), "{e}");
        assert!(
            e.retryable,
            "an outage retries the message, never an ownerless incident"
        );
        let _ = c.resolve("a", "r", "i-1", &tags(None)).await;
        assert_eq!(down.calls.load(Ordering::Relaxed), 2, "failures are not cached");
    }
}
