//! `queue:`: the central queue and how the bridge consumes it.
use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::settings::{Setting, check_setting, error};

/// `queue:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue URL (the central stack's `QueueUrl` output).
    pub url: Setting,
    /// Concurrent receive loops, each holding up to 10 messages. Default 8.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Long-poll wait, 0–20 s. Default 20.
    #[serde(default = "default_wait")]
    pub wait_seconds: i32,
    /// Batching window, 0–1000 ms. Default 100. Workers receive in turn; after a receive that
    /// came back with fewer than 10 messages, the next waits this long, so a trickle of
    /// events is taken in tens (each ten costs one receive, one delete and one ServiceNow request
    /// or two) at this much latency, while a backlog (full receives) is taken at once (ADR 021).
    #[serde(default = "default_batch_window")]
    pub batch_window_ms: u64,
    /// Visibility a heartbeat sets on messages in flight, renewed every third of it. Default 120.
    #[serde(default = "default_visibility")]
    pub visibility_seconds: i32,
    /// Longest retry backoff (30 s doubling per receive). Default 900.
    #[serde(default = "default_retry_cap")]
    pub retry_cap_seconds: u32,
}

fn default_workers() -> usize {
    8
}

fn default_wait() -> i32 {
    20
}

fn default_batch_window() -> u64 {
    100
}

fn default_visibility() -> i32 {
    120
}

fn default_retry_cap() -> u32 {
    900
}

impl QueueConfig {
    /// Its problems, with key paths.
    pub(crate) fn check(&self, out: &mut Vec<Finding>) {
        let q = self;
        check_setting(out, "queue.url", &q.url);
        if !(1..=64).contains(&q.workers) {
            out.push(error("queue.workers", "must be 1–64"));
        }
        if !(0..=20).contains(&q.wait_seconds) {
            out.push(error("queue.wait_seconds", "SQS long polling waits 0–20 s"));
        }
        if q.batch_window_ms > 1000 {
            out.push(error(
                "queue.batch_window_ms",
                "must be 0–1000: it delays every event of a trickle by up to this much",
            ));
        }
        if !(30..=43_200).contains(&q.visibility_seconds) {
            out.push(error(
                "queue.visibility_seconds",
                "must be 30–43200 (SQS's maximum is 12 h)",
            ));
        }
        if !(1..=43_200).contains(&q.retry_cap_seconds) {
            out.push(error(
                "queue.retry_cap_seconds",
                "must be 1–43200 (SQS's maximum visibility)",
            ));
        }
    }
}
