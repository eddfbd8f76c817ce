//! Reading the evidence bucket: `ListObjectVersions` over the sync prefix, then the versions the
//! walks want, in concurrent rounds; every request counted. Also lists the command output below
//! `run-command/<account>/<region>/` ([`super::output`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::Client;
use jiff::Timestamp;
use tokio::sync::Semaphore;

use super::history::Entry;
use super::{PATCH_SUMMARY, PatchSummary, Problem, Snapshot, SyncKey, TrendPoint, Walk, parse_key};

/// Objects fetched at once.
const CONCURRENCY: usize = 32;
/// Versions a walk reads per round.
const PER_ROUND: usize = 4;

/// Requests made, by kind.
#[derive(Debug, Default)]
pub struct Requests {
    /// `ListObjectVersions` pages.
    pub list: AtomicU64,
    /// `GetObject` calls.
    pub get: AtomicU64,
}

/// The bucket's sync objects and their versions.
pub struct Bucket {
    client: Client,
    bucket: String,
    prefix: String,
    /// The endpoint override, named when it cannot be reached.
    endpoint: Option<String>,
    /// Requests so far.
    pub requests: Arc<Requests>,
    /// Bodies of patch summary versions already read (the trend reads the same versions for
    /// several months).
    cache: std::sync::Mutex<std::collections::HashMap<(String, String), String>>,
}

/// One readable line naming `what` failed, why, and what to do
/// ([`patchplane_integrations::aws_error::describe`]): an error S3's model does not name, such as
/// `NoSuchBucket` from `ListObjectVersions`, by the code and message S3 sent, never by its raw
/// response.
fn error_line<E>(what: &str, endpoint: Option<&str>, e: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    patchplane_integrations::aws_error::describe(what, endpoint, e)
}

fn ts(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<Timestamp> {
    t.and_then(|d| Timestamp::from_second(d.secs()).ok())
}

impl Bucket {
    /// The sync under `prefix` in `bucket`.
    pub fn new(client: Client, bucket: &str, prefix: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_end_matches('/').to_owned(),
            endpoint: None,
            requests: Arc::default(),
            cache: Default::default(),
        }
    }

    /// Names `endpoint` (the `--endpoint-url` the client was given) in errors that cannot reach it.
    pub fn with_endpoint(mut self, endpoint: Option<&str>) -> Self {
        self.endpoint = endpoint.map(str::to_owned);
        self
    }

    /// Every version and delete marker below the prefix, by key. A listing failure is an error
    /// (the report would be incomplete).
    pub async fn list(&self) -> Result<BTreeMap<String, Vec<Entry>>, String> {
        let list_prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        self.list_under(&list_prefix).await
    }

    /// The command output written under `prefix` (`run-command/<account>/<region>/`), as key and
    /// time written, one entry per version (ListObjectVersions: the same permission as the sync's
    /// listing, and output overwritten or deleted later still counts). A listing failure is an
    /// error.
    pub async fn output_objects(&self, prefix: &str) -> Result<Vec<(String, Timestamp)>, String> {
        Ok(self
            .list_under(prefix)
            .await?
            .into_iter()
            .flat_map(|(k, entries)| {
                entries
                    .into_iter()
                    .filter(|e| !e.deleted)
                    .map(move |e| (k.clone(), e.last_modified))
            })
            .collect())
    }

    /// Every version and delete marker below `list_prefix`, by key.
    async fn list_under(&self, list_prefix: &str) -> Result<BTreeMap<String, Vec<Entry>>, String> {
        let mut out: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            self.requests.list.fetch_add(1, Ordering::Relaxed);
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(list_prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| {
                    error_line(
                        &format!("cannot list the versions of s3://{}/{list_prefix}", self.bucket),
                        self.endpoint.as_deref(),
                        &e,
                    )
                })?;
            for v in page.versions() {
                if let (Some(k), Some(at)) = (v.key(), ts(v.last_modified())) {
                    out.entry(k.to_owned()).or_default().push(Entry {
                        version_id: v.version_id().unwrap_or("null").to_owned(),
                        last_modified: at,
                        deleted: false,
                    });
                }
            }
            for m in page.delete_markers() {
                if let (Some(k), Some(at)) = (m.key(), ts(m.last_modified())) {
                    out.entry(k.to_owned()).or_default().push(Entry {
                        version_id: m.version_id().unwrap_or("null").to_owned(),
                        last_modified: at,
                        deleted: true,
                    });
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn read(&self, key: &str, version: &str) -> Result<String, String> {
        let id = (key.to_owned(), version.to_owned());
        if let Some(b) = self.cache.lock().ok().and_then(|c| c.get(&id).cloned()) {
            return Ok(b);
        }
        let body = self.fetch(key, version).await?;
        if key.contains(PATCH_SUMMARY)
            && let Ok(mut c) = self.cache.lock()
        {
            c.insert(id, body.clone());
        }
        Ok(body)
    }

    async fn fetch(&self, key: &str, version: &str) -> Result<String, String> {
        self.requests.get.fetch_add(1, Ordering::Relaxed);
        let mut req = self.client.get_object().bucket(&self.bucket).key(key);
        if version != "null" {
            req = req.version_id(version);
        }
        let out = req
            .send()
            .await
            .map_err(|e| error_line("cannot read", self.endpoint.as_deref(), &e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| format!("cannot read the body: {e}"))?
            .into_bytes();
        String::from_utf8(bytes.to_vec()).map_err(|_| "the object is not UTF-8".to_owned())
    }

    /// Runs every walk to its end, fetching in rounds; an object that cannot be read is a
    /// problem on its key.
    pub async fn run(self: &Arc<Self>, mut walks: Vec<(String, SyncKey, Walk)>) -> Snapshot {
        let permits = Arc::new(Semaphore::new(CONCURRENCY));
        let mut problems = Vec::new();
        loop {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, (key, _, walk)) in walks.iter().enumerate() {
                let wanted = walk.wants(PER_ROUND);
                if wanted.is_empty() {
                    continue;
                }
                let (me, key, permits) = (self.clone(), key.clone(), permits.clone());
                tasks.spawn(async move {
                    let mut bodies = Vec::new();
                    for (idx, e) in wanted {
                        let _p = permits.acquire().await;
                        bodies.push((idx, me.read(&key, &e.version_id).await));
                    }
                    (i, bodies)
                });
            }
            if tasks.is_empty() {
                break;
            }
            while let Some(done) = tasks.join_next().await {
                let Ok((i, bodies)) = done else { continue };
                let Some((key, _, walk)) = walks.get_mut(i) else {
                    continue;
                };
                for (idx, b) in bodies {
                    if walk.is_done() {
                        break;
                    }
                    if let Err(reason) = &b {
                        problems.push(Problem {
                            key: key.clone(),
                            reason: reason.clone(),
                        });
                    }
                    walk.feed(idx, b);
                }
            }
        }
        let mut s = Snapshot::from_walks(walks);
        s.problems.extend(problems);
        s
    }

    /// Compliance at the end of each of `months`, each as a point in time of the patch summaries
    /// (versions already read are not read again).
    pub async fn trend(self: &Arc<Self>, listing: &BTreeMap<String, Vec<Entry>>, months: &[String]) -> Vec<TrendPoint> {
        let summaries: BTreeMap<String, Vec<Entry>> = listing
            .iter()
            .filter(|(k, _)| parse_key(&self.prefix, k).is_some_and(|s| s.type_name == PATCH_SUMMARY))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = Vec::new();
        for m in months {
            let Ok(end) = super::month_end(m) else { continue };
            let (walks, _) = super::walks(&self.prefix, summaries.clone(), end, &[]);
            let snapshot = self.run(walks).await;
            let got: Vec<Option<PatchSummary>> = snapshot.nodes.into_values().map(|n| n.summary).collect();
            out.push(super::trend_point(m, &got));
        }
        out
    }
}
