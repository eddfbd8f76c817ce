//! Enrich: the node an event is about, its tags, and what they imply (patch group, ring, owner).
//!
//! Tags come from a [`TagSource`] (EC2 instances and `mi-` managed nodes have different tagging
//! APIs; the source hides which). Results are cached per node for a TTL, so a burst of events
//! about one node costs one lookup, and misses at the same moment go out as one call
//! ([`cache`]); failures are not cached, and a retryable failure makes the message come back
//! rather than opening an incident without its owner.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::decode::{Decoded, Event};

pub mod cache;
pub mod output;
pub mod owners;
pub mod tags;

/// Tags of one node.
pub type Tags = BTreeMap<String, String>;

/// Why tags could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the tags of {node}: {message}")]
pub struct EnrichError {
    /// Node id.
    pub node: String,
    /// What failed.
    pub message: String,
    /// Throttling, timeouts, 5xx: try again later.
    pub retryable: bool,
}

/// Where tags come from.
pub trait TagSource: Sync {
    /// Tags of `node` (`i-…` or `mi-…`) in `account` and `region`.
    fn tags(&self, account: &str, region: &str, node: &str) -> impl Future<Output = Result<Tags, EnrichError>> + Send;

    /// Tags of several nodes of one account and region, in as few calls as the source allows; a
    /// node missing from the answer has no tags. By default, one [`TagSource::tags`] per node.
    fn tags_of_many(
        &self,
        account: &str,
        region: &str,
        nodes: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Tags>, EnrichError>> + Send {
        async move {
            let mut out = HashMap::new();
            for n in nodes {
                out.insert(n.clone(), self.tags(account, region, n).await?);
            }
            Ok(out)
        }
    }
}

/// No tags at all (`enrich.enabled: false`, replays without AWS access).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTags;

impl TagSource for NoTags {
    async fn tags(&self, _: &str, _: &str, _: &str) -> Result<Tags, EnrichError> {
        Ok(Tags::new())
    }
}

/// What enrichment adds to an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The node the event is about, when it is about one.
    pub node: Option<String>,
    /// Its patch group (`<group_prefix>-<ring>`).
    pub patch_group: Option<String>,
    /// The ring: the patch group's part after its last `-`.
    pub ring: Option<String>,
    /// The patch baseline the group implies: the baseline whose `group_prefix` is the part
    /// before the last `-` (from `enrich.baselines`).
    pub baseline: Option<String>,
    /// The owner: the first step of the owner chain that knows (tags by default).
    pub owner: Option<String>,
    /// The group a CMDB names for the owner (e.g. the CI's support group), if any.
    pub owner_group: Option<String>,
    /// All its tags.
    pub tags: Tags,
    /// The CMDB configuration item of the node (its `sys_id`), when a CMDB named it: the
    /// incident's `cmdb_ci`.
    pub ci: Option<String>,
    /// The exception in force that covers the node (its id): no incident, ticket or notice.
    pub exception: Option<String>,
    /// Why it failed, when the command output says (the pre-patch health check's reason).
    pub reason: Option<String>,
    /// How many times SQS has delivered the message (set by the pipeline, not by enrichment):
    /// a digest holding a redelivered event may be a re-send after a crash.
    pub receive_count: u32,
}

/// The node an event is about, if one.
pub fn node_of(d: &Decoded) -> Option<&str> {
    match &d.event {
        Event::CommandInvocation(c) => Some(&c.instance_id),
        Event::Compliance(c) => Some(&c.resource_id),
        Event::InstanceAssociation(a) => a.instance_id.as_deref(),
        Event::Finding(f) => f.node(),
        _ => None,
    }
}

/// Enrichment with a per-node TTL cache.
pub struct Enricher<T> {
    cache: cache::TagCache<T>,
    patch_group_tag: String,
    owner_tags: Vec<String>,
    baselines: BTreeMap<String, String>,
    owners: Option<owners::OwnerChain>,
    exceptions: Vec<patchplane_bridge_config::exception::Exception>,
    clock: Option<std::sync::Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>>,
    output: Option<Arc<dyn output::CommandOutput>>,
}

impl<T: TagSource> Enricher<T> {
    /// `patch_group_tag` as in the policy; `owner_tags` tried in order.
    pub fn new(source: T, ttl: Duration, patch_group_tag: &str, owner_tags: &[impl AsRef<str>]) -> Self {
        Self {
            cache: cache::TagCache::new(source, ttl),
            patch_group_tag: patch_group_tag.to_owned(),
            owner_tags: owner_tags.iter().map(|s| s.as_ref().to_owned()).collect(),
            baselines: BTreeMap::new(),
            owners: None,
            exceptions: Vec::new(),
            clock: None,
            output: None,
        }
    }

    /// Failed patch commands look for the pre-patch health check's reason in `output`.
    pub fn with_command_output(mut self, output: Arc<dyn output::CommandOutput>) -> Self {
        self.output = Some(output);
        self
    }

    /// The health check's reason for a failed `AWS-RunPatchBaselineWithHooks` on a node.
    async fn reason(&self, d: &Decoded) -> Result<Option<String>, EnrichError> {
        let (Some(out), crate::decode::Event::CommandInvocation(c)) = (&self.output, &d.event) else {
            return Ok(None);
        };
        if c.document_name != "AWS-RunPatchBaselineWithHooks" || !matches!(c.status.as_str(), "Failed" | "TimedOut") {
            return Ok(None);
        }
        let r = out
            .reason(&d.envelope.account, &d.envelope.region, &c.command_id, &c.instance_id)
            .await?;
        Ok(r.map(|r| format!("Pre-patch health check failed on {}: {r}", c.instance_id)))
    }

    /// Node exceptions (`exceptions:`), judged on `clock`'s day (UTC): one in force that covers a
    /// node marks its context.
    pub fn with_exceptions(
        mut self,
        exceptions: Vec<patchplane_bridge_config::exception::Exception>,
        clock: std::sync::Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>,
    ) -> Self {
        self.exceptions = exceptions
            .into_iter()
            .filter(|e| e.selects_nodes() && e.patches.is_empty())
            .collect();
        self.clock = Some(clock);
        self
    }

    fn exception(&self, node: &str, tags: &Tags) -> Option<String> {
        let clock = self.clock.as_ref()?;
        let today = clock().to_zoned(jiff::tz::TimeZone::UTC).date();
        self.exceptions
            .iter()
            .find(|e| e.holds_on(today) && e.covers_node(node, tags))
            .map(|e| e.id.clone())
    }

    /// Owners through `chain` instead of the owner tags alone.
    pub fn with_owners(mut self, chain: owners::OwnerChain) -> Self {
        self.owners = Some(chain);
        self
    }

    /// The owner chain, when one is configured.
    pub fn owner_chain(&self) -> Option<&owners::OwnerChain> {
        self.owners.as_ref()
    }

    /// Group prefix → baseline name, so a patch group names its baseline.
    pub fn with_baselines(mut self, baselines: BTreeMap<String, String>) -> Self {
        self.baselines = baselines;
        self
    }

    /// The context of `d`; events about no single node get an empty one.
    pub async fn enrich(&self, d: &Decoded) -> Result<Context, EnrichError> {
        let Some(node) = node_of(d) else {
            return Ok(Context::default());
        };
        let tags = self.cache.get(&d.envelope.account, &d.envelope.region, node).await?;
        let patch_group = tags.get(&self.patch_group_tag).cloned();
        let split = patch_group.as_deref().and_then(|g| g.rsplit_once('-'));
        let (owner, owner_group, ci) = match &self.owners {
            Some(chain) => match chain
                .resolve(&d.envelope.account, &d.envelope.region, node, &tags)
                .await?
            {
                Some(f) => (Some(f.owner), f.group, f.ci),
                None => (None, None, None),
            },
            None => (self.owner_tags.iter().find_map(|t| tags.get(t).cloned()), None, None),
        };
        Ok(Context {
            node: Some(node.to_owned()),
            ring: split.map(|(_, r)| r.to_owned()),
            baseline: split.and_then(|(prefix, _)| self.baselines.get(prefix).cloned()),
            patch_group,
            owner,
            owner_group,
            ci,
            exception: self.exception(node, &tags),
            reason: self.reason(d).await?,
            tags: (*tags).clone(),
            ..Context::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::decode::decode;

    struct Fake {
        calls: AtomicUsize,
        fail: Option<bool>,
    }

    impl TagSource for Fake {
        async fn tags(&self, _: &str, _: &str, node: &str) -> Result<Tags, EnrichError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if let Some(retryable) = self.fail {
                return Err(EnrichError {
                    node: node.into(),
                    message: "ThrottlingException".into(),
                    retryable,
                });
            }
            Ok([
                ("PatchGroup", "AL2023-early"),
                ("Owner", "team-payments"),
                ("Name", "web-1"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
        }
    }

    /// An enricher over a fake source that fails (`Some(retryable)`) or answers.
    fn enricher(fail: Option<bool>, ttl: Duration, owner_tags: &[&str]) -> Enricher<Fake> {
        let source = Fake {
            calls: AtomicUsize::new(0),
            fail,
        };
        Enricher::new(source, ttl, "PatchGroup", owner_tags)
    }

    fn compliance() -> Decoded {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/events/ssm-compliance-patch-non-compliant.json"
        ))
        .expect("fixture");
        decode(text.as_bytes()).expect("decodes")
    }

    #[tokio::test]
    async fn tags_imply_group_ring_and_owner_and_are_cached() {
        let e = enricher(None, Duration::from_secs(60), &["patchplane:owner", "Owner"])
            .with_baselines([("AL2023".to_owned(), "plat-al2023-baseline".to_owned())].into());
        let d = compliance();
        let c = e.enrich(&d).await.expect("enriched");
        assert_eq!(c.patch_group.as_deref(), Some("AL2023-early"));
        assert_eq!(c.ring.as_deref(), Some("early"));
        assert_eq!(c.baseline.as_deref(), Some("plat-al2023-baseline"));
        assert_eq!(c.owner.as_deref(), Some("team-payments"), "the first owner tag present");
        for _ in 0..10 {
            assert_eq!(e.enrich(&d).await.expect("cached"), c);
        }
        assert_eq!(
            e.cache.source.calls.load(Ordering::Relaxed),
            1,
            "one lookup for eleven events"
        );
    }

    #[tokio::test]
    async fn expired_entries_are_read_again_and_failures_are_not_cached() {
        let e = enricher(None, Duration::ZERO, &["Owner"]);
        let d = compliance();
        e.enrich(&d).await.expect("a");
        e.enrich(&d).await.expect("b");
        assert_eq!(e.cache.source.calls.load(Ordering::Relaxed), 2);

        let e = enricher(Some(true), Duration::from_secs(60), &["Owner"]);
        let err = e.enrich(&d).await.expect_err("throttled");
        assert!(
            err.retryable && err.to_string().contains("i-01234567890abcdef"),
            "{err}"
        );
        let _ = e.enrich(&d).await;
        assert_eq!(
            e.cache.source.calls.load(Ordering::Relaxed),
            2,
            "a failure is asked again, not cached"
        );
    }

    #[tokio::test]
    async fn events_about_no_single_node_get_an_empty_context() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/events/ssm-mw-execution-state-change.json"
        ))
        .expect("fixture");
        let d = decode(text.as_bytes()).expect("decodes");
        let e = enricher(None, Duration::from_secs(60), &["Owner"]);
        assert_eq!(e.enrich(&d).await.expect("empty"), Context::default());
        assert_eq!(e.cache.source.calls.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn an_exception_marks_its_nodes_until_it_expires() {
        let exception: patchplane_bridge_config::exception::Exception = serde_yaml::from_str(
            "{id: EXC-1, tags: {Name: web-1}, reason: r, approver: a, ticket: CHG1, expires: '2026-12-31'}",
        )
        .expect("exception");
        let d = compliance();
        for (now, excepted) in [("2026-12-31T23:00:00Z", true), ("2027-01-01T00:00:00Z", false)] {
            let t: jiff::Timestamp = now.parse().expect("t");
            let e = enricher(None, Duration::from_secs(60), &["Owner"])
                .with_exceptions(vec![exception.clone()], std::sync::Arc::new(move || t));
            let c = e.enrich(&d).await.expect("enriched");
            assert_eq!(c.exception.as_deref(), excepted.then_some("EXC-1"), "{now}");
        }
    }
}
