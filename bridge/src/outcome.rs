//! Outcome and ack: what happens to an SQS message once its actions have run.
//!
//! Each sink returns [`Outcome::Delivered`], [`Outcome::Retry`] (429, 5xx, timeouts: the message
//! comes back) or [`Outcome::Reject`] (400, 401, 403, a poison message: retrying cannot help).
//! The message is deleted only when every action delivered; a retry leaves it invisible for a
//! backoff that grows with its receive count; a rejection releases it at once so the queue's
//! redrive policy moves it to the dead-letter queue after `maxReceiveCount`. Sinks are idempotent
//! (correlation keys), so redelivering a message whose other actions already delivered is safe.

/// What one action's sink reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing more to do for this action.
    Delivered,
    /// Failed in a way that may pass later.
    Retry(String),
    /// Failed for good.
    Reject(String),
    /// Taken into a digest (its key) that is not sent yet: the message stays in flight until it
    /// is, so a crash before the send redelivers it (issue #12).
    Deferred(String),
}

/// What to do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// DeleteMessage: every action delivered (or there was nothing to do).
    Delete,
    /// ChangeMessageVisibility to `after_seconds`: try again later.
    RetryLater {
        /// Visibility timeout.
        after_seconds: u32,
        /// Why.
        reason: String,
    },
    /// ChangeMessageVisibility to 0: received again at once, until the redrive policy moves it
    /// to the dead-letter queue. Logged at ERROR: an operator must look at it.
    DeadLetter {
        /// Why.
        reason: String,
    },
    /// Every other action delivered; the message waits, in flight, for these digests to be sent,
    /// and is deleted then.
    Park {
        /// Digest keys.
        digests: Vec<String>,
    },
}

/// SQS's longest visibility timeout (12 hours).
pub const MAX_VISIBILITY_SECONDS: u32 = 43_200;

/// Backoff for the `receive_count`th receive: 30 s doubling, at most 15 minutes.
pub fn backoff_seconds(receive_count: u32) -> u32 {
    let exp = receive_count.saturating_sub(1).min(10);
    (30u32 << exp).min(900)
}

/// Combines the outcomes of one message's actions.
pub fn ack(outcomes: &[Outcome], receive_count: u32) -> Ack {
    if let Some(reason) = outcomes.iter().find_map(|o| match o {
        Outcome::Reject(r) => Some(r.clone()),
        _ => None,
    }) {
        return Ack::DeadLetter { reason };
    }
    if let Some(reason) = outcomes.iter().find_map(|o| match o {
        Outcome::Retry(r) => Some(r.clone()),
        _ => None,
    }) {
        return Ack::RetryLater {
            after_seconds: backoff_seconds(receive_count),
            reason,
        };
    }
    let digests: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Deferred(k) => Some(k.clone()),
            _ => None,
        })
        .collect();
    if !digests.is_empty() {
        return Ack::Park { digests };
    }
    Ack::Delete
}
