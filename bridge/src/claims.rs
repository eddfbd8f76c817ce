//! Claims every bridge task sees: "I am doing this; do not", for work that must happen once
//! across tasks (a notice before a window, a summary after it). ADR 014.
//!
//! The store is an S3 bucket and the primitive S3's conditional write: `PutObject` with
//! `If-None-Match: *` creates a key only if it does not exist, strongly consistent, so of two
//! tasks writing one key exactly one succeeds. A claim is a lease, so a task that dies holding one
//! does not block the work for ever:
//! - `<prefix><key>/g0000` is the first lease, `g0001` the next, …; `<prefix><key>/done` marks the
//!   work finished.
//! - To claim, a task lists `<prefix><key>/`: `done` means finished; a lease younger than the
//!   lease time means another task holds it; else the task writes the next generation with
//!   `If-None-Match: *`, and wins only if that write succeeds.
//! - A task doing long work under a claim renews it ([`hold`]): it writes the next generation
//!   itself every third of the lease, so the lease only runs out when the task stops (dies, or
//!   has finished and failed). A task that was overtaken anyway (its renewals failed) may still
//!   finish its send: a receiver sees the same idempotency key twice, as after a crash.
//! - A task trusts its own memory of a lease for half the lease time only; after that it lists
//!   again, so a lease it let run out (a retry after a long backoff) is never taken for its own
//!   once another task has claimed, or finished, the work.
//!
//! The bucket's lifecycle removes claims after a few days; the keys carry the window's time, so
//! an old key is never looked at again.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use patchplane_integrations::retry::Failure;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This task holds the lease: do the work, then call [`Claims::finish`].
    Won,
    /// Another task holds a live lease: try again on a later tick.
    Held,
    /// The work is done.
    Done,
}

/// A boxed future of a claim operation.
pub type ClaimFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Failure>> + Send + 'a>>;

/// A claim store.
pub trait Claims: Send + Sync {
    /// Claims `key`.
    fn claim<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, Claimed>;
    /// Marks the work of `key` done.
    fn finish<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, ()>;
    /// Extends this task's lease on `key`: `true` while it is still this task's, `false` once
    /// another task has taken the work over.
    fn renew<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, bool>;
    /// How often a lease held through long work is renewed (a third of the lease).
    fn renew_every(&self) -> Duration;
}

/// What [`once`] did with a piece of work.
#[derive(Debug)]
pub enum Once {
    /// This task did it: `send` answered this many.
    Sent(usize),
    /// Done already (here or by another task), or another task holds it now.
    Skipped,
    /// This task claimed it and `send` failed: the lease is kept, so this task retries on a later
    /// tick (another once the lease has run out).
    Failed(Failure),
}

/// Does the work of `key` once across tasks: skips what `done` (this task's memory) or the store
/// says is finished or held, runs `send` when this task wins the claim, and marks it finished
/// when `send` succeeds. The sweep-driven notices (window and exception notices) share it.
/// Errors of the claim store itself are returned; a failed `send` is [`Once::Failed`].
pub async fn once(
    claims: &dyn Claims,
    done: &Mutex<BTreeSet<String>>,
    key: String,
    send: impl Future<Output = Result<usize, Failure>>,
) -> Result<Once, Failure> {
    if done.lock().map(|d| d.contains(&key)).unwrap_or(false) {
        return Ok(Once::Skipped);
    }
    let sent = match claims.claim(&key).await? {
        Claimed::Held => {
            tracing::debug!(claim = %key, "Another task holds this work");
            return Ok(Once::Skipped);
        }
        Claimed::Done => Once::Skipped,
        Claimed::Won => match send.await {
            Ok(n) => {
                claims.finish(&key).await?;
                Once::Sent(n)
            }
            Err(f) => return Ok(Once::Failed(f)),
        },
    };
    if let Ok(mut d) = done.lock() {
        d.insert(key);
    }
    Ok(sent)
}

/// Keeps this task's lease on `key` alive for as long as it is polled: renews it every
/// [`Claims::renew_every`], and a failed renewal again a quarter of that later (it has a lease's
/// worth of tries). Returns only when another task has taken the work over. Run it beside the
/// work (`select!`), so the claim lives exactly as long as the work does.
pub async fn hold(claims: &dyn Claims, key: &str) {
    let mut wait = claims.renew_every();
    loop {
        tokio::time::sleep(wait).await;
        match claims.renew(key).await {
            Ok(true) => wait = claims.renew_every(),
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(%key, error = %e, "Claim not renewed; trying again");
                wait = claims.renew_every() / 4;
            }
        }
    }
}

/// Claims in an S3 bucket.
pub struct S3Claims {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    lease: Duration,
    /// Keys whose lease this task holds now, with the generation it wrote last and when (a retry
    /// by the holder is not "held by another").
    mine: Mutex<BTreeMap<String, (u32, Instant)>>,
}

impl S3Claims {
    /// Claims under `prefix` (ending in `/`) in `bucket`, leases of `lease`.
    pub fn new(client: aws_sdk_s3::Client, bucket: String, prefix: &str, lease: Duration) -> Self {
        Self {
            client,
            bucket,
            prefix: prefix.to_owned(),
            lease,
            mine: Mutex::default(),
        }
    }

    fn failure<E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + Send + Sync + 'static>(
        e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Failure {
        use aws_sdk_s3::error::SdkError;
        let status = match e {
            SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
            SdkError::ResponseError(r) => Some(r.raw().status().as_u16()),
            _ => None,
        };
        Failure {
            status,
            message: patchplane_integrations::aws_error::chain(e),
            retry_after: None,
        }
    }

    /// The generation this task holds for `key`, if it wrote one; `fresh` only if written less
    /// than half a lease ago (so it is still this task's whatever the clocks say).
    fn mine(&self, key: &str) -> Option<(u32, bool)> {
        let m = self.mine.lock().ok()?;
        m.get(key).map(|(g, at)| (*g, at.elapsed() < self.lease / 2))
    }

    fn remember(&self, key: &str, generation: Option<u32>) {
        if let Ok(mut m) = self.mine.lock() {
            match generation {
                Some(g) => m.insert(key.to_owned(), (g, Instant::now())),
                None => m.remove(key),
            };
        }
    }

    /// Writes generation `g` of `key` if nobody has: `true` if this task wrote it.
    async fn write_generation(&self, key: &str, g: u32) -> Result<bool, Failure> {
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}/g{g:04}", self.prefix))
            .if_none_match("*")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"claimed"))
            .send()
            .await;
        match put {
            Ok(_) => {
                self.remember(key, Some(g));
                Ok(true)
            }
            Err(e) => {
                let f = Self::failure(&e);
                // 412: another task wrote that generation first; 409: a concurrent conditional
                // write to the same key is in progress (S3 asks to retry; the other one wins).
                match f.status {
                    Some(412 | 409) => Ok(false),
                    _ => Err(f),
                }
            }
        }
    }

    async fn claim_s3(&self, key: &str) -> Result<Claimed, Failure> {
        let mine = self.mine(key);
        if let Some((_, true)) = mine {
            return Ok(Claimed::Won);
        }
        // Not written lately (or never): what this task remembers may be stale, so list.
        self.remember(key, None);
        let dir = format!("{}{key}/", self.prefix);
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&dir)
            .send()
            .await
            .map_err(|e| Self::failure(&e))?;
        let mut latest: Option<(u32, Option<aws_sdk_s3::primitives::DateTime>)> = None;
        for o in listed.contents() {
            let name = o.key().unwrap_or_default().strip_prefix(&dir).unwrap_or_default();
            if name == "done" {
                return Ok(Claimed::Done);
            }
            if let Some(g) = name.strip_prefix('g').and_then(|n| n.parse::<u32>().ok())
                && latest.as_ref().is_none_or(|(l, _)| g > *l)
            {
                latest = Some((g, o.last_modified().copied()));
            }
        }
        let next = match latest {
            None => 0,
            // This task's own generation, still the latest: renew it.
            Some((g, _)) if mine.is_some_and(|(m, _)| m == g) => g + 1,
            Some((g, modified)) => {
                let age = modified
                    .and_then(|m| std::time::SystemTime::try_from(m).ok())
                    .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
                    .unwrap_or_default();
                if age < self.lease {
                    return Ok(Claimed::Held);
                }
                g + 1
            }
        };
        Ok(if self.write_generation(key, next).await? {
            Claimed::Won
        } else {
            Claimed::Held
        })
    }

    async fn renew_s3(&self, key: &str) -> Result<bool, Failure> {
        match self.mine(key) {
            Some((g, _)) => {
                let won = self.write_generation(key, g + 1).await?;
                if !won {
                    self.remember(key, None);
                }
                Ok(won)
            }
            None => Ok(false),
        }
    }

    async fn finish_s3(&self, key: &str) -> Result<(), Failure> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}/done", self.prefix))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"done"))
            .send()
            .await
            .map_err(|e| Self::failure(&e))?;
        self.remember(key, None);
        Ok(())
    }
}

impl Claims for S3Claims {
    fn claim<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, Claimed> {
        Box::pin(self.claim_s3(key))
    }
    fn finish<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, ()> {
        Box::pin(self.finish_s3(key))
    }
    fn renew<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, bool> {
        Box::pin(self.renew_s3(key))
    }
    fn renew_every(&self) -> Duration {
        self.lease / 3
    }
}

/// Claims in memory, shared by the "tasks" of one test (unit tests of what uses claims).
#[derive(Default)]
pub struct MemoryClaims {
    /// key → Some(holder) while held, None once done.
    state: Mutex<std::collections::BTreeMap<String, Option<u64>>>,
}

/// One task's view of [`MemoryClaims`].
pub struct MemoryTask {
    /// The shared store.
    pub store: std::sync::Arc<MemoryClaims>,
    /// This task's id.
    pub id: u64,
}

impl Claims for MemoryTask {
    fn claim<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, Claimed> {
        Box::pin(async move {
            let mut s = self.store.state.lock().map_err(|_| Failure {
                status: None,
                message: "poisoned".into(),
                retry_after: None,
            })?;
            Ok(match s.get(key) {
                None => {
                    s.insert(key.to_owned(), Some(self.id));
                    Claimed::Won
                }
                Some(None) => Claimed::Done,
                Some(Some(h)) if *h == self.id => Claimed::Won,
                Some(Some(_)) => Claimed::Held,
            })
        })
    }
    fn finish<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, ()> {
        Box::pin(async move {
            if let Ok(mut s) = self.store.state.lock() {
                s.insert(key.to_owned(), None);
            }
            Ok(())
        })
    }
    fn renew<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, bool> {
        Box::pin(async move {
            let s = self.store.state.lock().map_err(|_| Failure {
                status: None,
                message: "poisoned".into(),
                retry_after: None,
            })?;
            Ok(s.get(key) == Some(&Some(self.id)))
        })
    }
    fn renew_every(&self) -> Duration {
        // A memory lease never runs out.
        Duration::from_secs(3600)
    }
}
