//! Source: the central SQS queue. Long-poll receives of up to 10 messages, visibility heartbeats
//! while a batch is worked on, and the three ways a message leaves a worker: deleted (batch),
//! delayed (visibility = backoff) or released (visibility 0, towards the redrive policy).
//!
//! Every failure here is survivable, and none is silent: a message whose delete or visibility
//! change fails simply comes back later (the sinks are idempotent), and each such failure is
//! logged at WARN with the receipt it concerned.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName,
};

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
    /// The SDK's error with its cause chain.
    pub message: String,
}

/// The queue, as the workers see it.
#[derive(Debug, Clone)]
pub struct SqsSource {
    client: Client,
    queue_url: String,
    wait_seconds: i32,
    heartbeat_visibility: i32,
    heartbeat_every: Duration,
}

impl SqsSource {
    /// `heartbeat_visibility` is set on a batch every `heartbeat_every` while it is in flight.
    pub fn new(
        client: Client,
        queue_url: String,
        wait_seconds: i32,
        heartbeat_visibility: i32,
        heartbeat_every: Duration,
    ) -> Self {
        Self {
            client,
            queue_url,
            wait_seconds,
            heartbeat_visibility,
            heartbeat_every,
        }
    }

    /// One long poll: up to 10 messages, maybe none.
    pub async fn receive(&self) -> Result<Vec<Received>, ReceiveError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| ReceiveError {
                queue_url: self.queue_url.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Some(Received {
                    message_id: m.message_id.unwrap_or_default(),
                    // A message without a receipt handle cannot be deleted or released; SQS
                    // always sends one, and skipping it only means it comes back.
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
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
            self.extend_batch(chunk).await;
        }
    }

    async fn extend_batch(&self, handles: &[String]) {
        {
            let entries: Vec<_> = handles
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .visibility_timeout(self.heartbeat_visibility)
                        .build()
                        .ok()
                })
                .collect();
            let sent = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map(|out| out.failed)
                .map_err(|e| DisplayErrorContext(e).to_string());
            // A message whose heartbeat failed may reappear while it is worked on; the per-key
            // lock and the lookup before create keep that from becoming a duplicate.
            warn_failed(
                handles.len(),
                sent,
                "Heartbeat failed; the message may be redelivered while in flight",
            );
        }
    }

    /// Sets one message's visibility: the backoff of a retry, or 0 to release it now.
    pub async fn set_visibility(&self, message_id: &str, handle: &str, seconds: i32) {
        if let Err(e) = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(seconds)
            .send()
            .await
        {
            // It comes back when its current visibility runs out instead: later, never lost.
            tracing::warn!(%message_id, seconds, error = %DisplayErrorContext(&e), "Visibility change failed; the message returns when its visibility expires");
        }
    }

    /// Deletes messages (any number; SQS takes 10 per call); entries that fail come back and are
    /// logged.
    pub async fn delete(&self, handles: &[String]) {
        for chunk in handles.chunks(10) {
            self.delete_batch(chunk).await;
        }
    }

    async fn delete_batch(&self, handles: &[String]) {
        if handles.is_empty() {
            return;
        }
        let entries: Vec<_> = handles
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .ok()
            })
            .collect();
        let sent = self
            .client
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map(|out| out.failed)
            .map_err(|e| DisplayErrorContext(e).to_string());
        // It comes back; the sinks are idempotent, so it costs a lookup, not a duplicate.
        warn_failed(handles.len(), sent, "Delete failed; the message will be redelivered");
    }
}

/// Logs, at WARN, a batch call that failed as a whole or for some of its entries: the messages
/// come back later, which is survivable but worth seeing.
fn warn_failed(messages: usize, sent: Result<Vec<BatchResultErrorEntry>, String>, what: &str) {
    match sent {
        Ok(failed) => {
            for f in failed {
                tracing::warn!(entry = %f.id(), code = %f.code(), "{what}");
            }
        }
        Err(error) => tracing::warn!(messages, %error, "{what} (the whole batch)"),
    }
}
