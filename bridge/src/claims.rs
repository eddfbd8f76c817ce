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
//! - A task that held the lease past its time and was overtaken may still finish its send: a
//!   receiver sees the same idempotency key twice, as after a crash.
//!
//! The bucket's lifecycle removes claims after a few days; the keys carry the window's time, so
//! an old key is never looked at again.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

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
}

/// Claims in an S3 bucket.
pub struct S3Claims {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    lease: Duration,
    /// Keys whose lease this task holds now (a retry by the holder is not "held by another").
    mine: Mutex<BTreeSet<String>>,
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

    fn failure<E: std::error::Error + Send + Sync + 'static>(
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
            message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            retry_after: None,
        }
    }

    async fn claim_s3(&self, key: &str) -> Result<Claimed, Failure> {
        if self.mine.lock().map(|m| m.contains(key)).unwrap_or(false) {
            return Ok(Claimed::Won);
        }
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
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{dir}g{next:04}"))
            .if_none_match("*")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"claimed"))
            .send()
            .await;
        match put {
            Ok(_) => {
                if let Ok(mut m) = self.mine.lock() {
                    m.insert(key.to_owned());
                }
                Ok(Claimed::Won)
            }
            Err(e) => {
                let f = Self::failure(&e);
                // 412: another task wrote that generation first; 409: a concurrent conditional
                // write to the same key is in progress (S3 asks to retry; the other one wins).
                match f.status {
                    Some(412 | 409) => Ok(Claimed::Held),
                    _ => Err(f),
                }
            }
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
        if let Ok(mut m) = self.mine.lock() {
            m.remove(key);
        }
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
}
