//! Source: the central SQS queue. Long-poll receives of up to 10 messages, visibility heartbeats
//! while a batch is worked on, and the three ways a message leaves a worker: deleted (batch),
//! delayed (visibility = backoff) or released (visibility 0, towards the redrive policy).
//!
//! Every failure here is survivable, and none is silent: a message whose delete or visibility
//! change fails simply comes back later (the sinks are idempotent), and each such failure is
//! logged at WARN with the receipt it concerned.

use std::time::Duration;

use aws_config::SdkConfig;
use patchplane_integrations::retry::{Failure, RetryPolicy};
use patchplane_integrations::sqs::{Refused, Sqs};

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// SQS message id (stable across redeliveries).
    pub message_id: String,
    /// Receipt handle of this delivery.
    pub receipt_handle: String,
    /// The body (an EventBridge envelope).
    pub body: String,
    /// `ApproximateReceiveCount` (1 on the first delivery).
    pub receive_count: u32,
}

/// A receive that failed: the worker waits and tries again, and `/readyz` says not ready.
#[derive(Debug, thiserror::Error)]
#[error("receive from {queue_url} failed: {message}")]
pub struct ReceiveError {
    /// The queue.
    pub queue_url: String,
    /// What failed, with its cause chain.
    pub message: String,
}

/// The queue, as the workers see it.
#[derive(Debug, Clone)]
pub struct SqsSource {
    /// The queue's client, or why there is none (a queue URL that is not a URL): every call then
    /// fails with that reason, as a call to a wrong endpoint would.
    sqs: Result<std::sync::Arc<Sqs>, String>,
    queue_url: String,
    wait_seconds: i32,
    heartbeat_visibility: i32,
    heartbeat_every: Duration,
    /// The batching window (ADR 021): zero, or the wait after a short receive.
    batch_window: Duration,
    /// With a batching window: the line workers wait in for their turn to receive.
    line: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// With a batching window: what the last receive said about the queue.
    pace: std::sync::Arc<std::sync::Mutex<Pace>>,
}

/// What the last receive said about the queue (ADR 021).
#[derive(Debug, Default, Clone, Copy)]
struct Pace {
    /// It came back full: a backlog, so receives run side by side, as without a window.
    backlog: bool,
    /// It came back short: the next receive starts no sooner than this.
    next: Option<tokio::time::Instant>,
}

/// The most messages one receive returns (SQS's limit).
const MAX_MESSAGES: usize = 10;

/// Seconds for SQS, which takes none below 0.
fn seconds(s: i32) -> u32 {
    u32::try_from(s).unwrap_or(0)
}

impl SqsSource {
    /// `heartbeat_visibility` is set on a batch every `heartbeat_every` while it is in flight.
    /// With a `batch_window` (ADR 021), workers receive in turn: after a receive that came back
    /// with 1–9 messages the next starts `batch_window` later, and while the queue trickles or
    /// is empty one receive is in flight at a time; after a full one (a backlog) they receive
    /// side by side at once. With none, every worker polls on its own. Calls go through [`Sqs`]
    /// (ADR 020) to the queue URL's endpoint, signed for the region of `aws` with its credentials
    /// provider.
    pub fn new(
        aws: &SdkConfig,
        queue_url: String,
        wait_seconds: i32,
        heartbeat_visibility: i32,
        heartbeat_every: Duration,
        batch_window: Duration,
    ) -> Self {
        let region = aws.region().map(|r| r.to_string()).unwrap_or_default();
        let sqs = match aws.credentials_provider() {
            // The SDK's own retries for SQS: 3 attempts, backoff with jitter.
            Some(provider) => Sqs::new(
                &queue_url,
                None,
                &region,
                provider,
                RetryPolicy {
                    attempts: 3,
                    base: Duration::from_millis(100),
                    cap: Duration::from_secs(20),
                },
            )
            .map(std::sync::Arc::new)
            .map_err(|f| f.to_string()),
            None => Err("no AWS credentials provider is configured".to_owned()),
        };
        Self {
            sqs,
            queue_url,
            wait_seconds,
            heartbeat_visibility,
            heartbeat_every,
            batch_window,
            line: Default::default(),
            pace: Default::default(),
        }
    }

    fn sqs(&self) -> Result<&Sqs, String> {
        self.sqs.as_deref().map_err(Clone::clone)
    }

    /// One long poll: up to 10 messages, maybe none. With a batching window, it waits its turn
    /// (cancel-safe: a worker told to stop while it waits simply drops out of the line).
    pub async fn receive(&self) -> Result<Vec<Received>, ReceiveError> {
        if self.batch_window.is_zero() {
            return self.receive_now().await;
        }
        let turn = self.line.lock().await;
        let pace = self.pace.lock().map(|p| *p).unwrap_or_default();
        if let Some(at) = pace.next {
            tokio::time::sleep_until(at).await;
        }
        // In a backlog the next worker need not wait for this receive to come back.
        let turn = (!pace.backlog).then_some(turn);
        let received = self.receive_now().await;
        let got = received.as_ref().map_or(0, Vec::len);
        if let Ok(mut p) = self.pace.lock() {
            *p = Pace {
                backlog: got >= MAX_MESSAGES,
                // A short receive means the queue trickles: let the next ten gather. An empty
                // one (the long poll's timeout) means nothing is waiting: go on polling.
                next: (1..MAX_MESSAGES)
                    .contains(&got)
                    .then(|| tokio::time::Instant::now() + self.batch_window),
            };
        }
        drop(turn);
        received
    }

    async fn receive_now(&self) -> Result<Vec<Received>, ReceiveError> {
        let fail = |message: String| ReceiveError {
            queue_url: self.queue_url.clone(),
            message,
        };
        let messages = self
            .sqs()
            .map_err(fail)?
            .receive(&self.queue_url, MAX_MESSAGES as u32, seconds(self.wait_seconds))
            .await
            .map_err(|f| fail(f.to_string()))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Some(Received {
                    message_id: m.message_id,
                    // A message without a receipt handle cannot be deleted or released; SQS
                    // always sends one, and skipping it only means it comes back.
                    receipt_handle: m.receipt_handle?,
                    body: m.body,
                    receive_count,
                })
            })
            .collect())
    }

    /// Keeps `handles` invisible while they are worked on. Never completes by itself: the caller
    /// drops it when the batch is done.
    pub async fn heartbeat(&self, handles: &[String]) {
        loop {
            tokio::time::sleep(self.heartbeat_every).await;
            self.extend(handles).await;
        }
    }

    /// The interval of heartbeats.
    pub fn heartbeat_every(&self) -> Duration {
        self.heartbeat_every
    }

    /// One heartbeat for `handles` (any number; SQS takes 10 per call).
    pub async fn extend(&self, handles: &[String]) {
        for chunk in handles.chunks(10) {
            let sent = match self.sqs() {
                Ok(sqs) => sqs
                    .change_visibility_batch(&self.queue_url, chunk, seconds(self.heartbeat_visibility))
                    .await
                    .map_err(|f| f.to_string()),
                Err(e) => Err(e),
            };
            // A message whose heartbeat failed may reappear while it is worked on; the per-key
            // lock and the lookup before create keep that from becoming a duplicate.
            warn_failed(
                chunk.len(),
                sent,
                "Heartbeat failed; the message may be redelivered while in flight",
            );
        }
    }

    /// Sets one message's visibility: the backoff of a retry, or 0 to release it now.
    pub async fn set_visibility(&self, message_id: &str, handle: &str, seconds_: i32) {
        let sent: Result<(), String> = match self.sqs() {
            Ok(sqs) => sqs
                .change_visibility(&self.queue_url, handle, seconds(seconds_))
                .await
                .map_err(|f: Failure| f.to_string()),
            Err(e) => Err(e),
        };
        if let Err(error) = sent {
            // It comes back when its current visibility runs out instead: later, never lost.
            tracing::warn!(%message_id, seconds = seconds_, %error, "Visibility change failed; the message returns when its visibility expires");
        }
    }

    /// Deletes messages (any number; SQS takes 10 per call); entries that fail come back and are
    /// logged.
    pub async fn delete(&self, handles: &[String]) {
        for chunk in handles.chunks(10) {
            let sent = match self.sqs() {
                Ok(sqs) => sqs
                    .delete_batch(&self.queue_url, chunk)
                    .await
                    .map_err(|f| f.to_string()),
                Err(e) => Err(e),
            };
            // It comes back; the sinks are idempotent, so it costs a lookup, not a duplicate.
            warn_failed(chunk.len(), sent, "Delete failed; the message will be redelivered");
        }
    }
}

/// Logs, at WARN, a batch call that failed as a whole or for some of its entries: the messages
/// come back later, which is survivable but worth seeing.
fn warn_failed(messages: usize, sent: Result<Vec<Refused>, String>, what: &str) {
    match sent {
        Ok(failed) => {
            for f in failed {
                tracing::warn!(entry = %f.id, code = %f.code, "{what}");
            }
        }
        Err(error) => tracing::warn!(messages, %error, "{what} (the whole batch)"),
    }
}
