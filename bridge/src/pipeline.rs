//! The SQS pipeline: receive → decode → route → sinks → ack, with N workers.
//!
//! At least once, never duplicated, never lost:
//! - a message is deleted only when every routed action delivered ([`crate::outcome::ack`]);
//! - while its actions run, its visibility is extended (a heartbeat), so a slow ServiceNow does
//!   not hand the message to another worker mid-delivery;
//! - a retry is left invisible for a backoff, a rejection is released (visibility 0) so the
//!   queue's redrive policy moves it to the dead-letter queue after `maxReceiveCount`;
//! - deletes go in batches; an entry the batch fails to delete is logged and simply comes back,
//!   which the idempotent sinks absorb;
//! - on shutdown, workers stop receiving and finish the messages they hold within the drain
//!   budget; whatever is unfinished then is released at once rather than waiting out its timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, MessageSystemAttributeName,
};
use tokio::sync::watch;

use crate::decode::{DecodeError, Decoded, decode};
use crate::enrich::{Context, Enricher, TagSource};
use crate::outcome::{Ack, Outcome, ack, backoff_seconds};
use crate::route::{Action, RouteConfig};
use crate::sink::Sink;

/// Pipeline settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Queue URL.
    pub queue_url: String,
    /// Concurrent receive loops.
    pub workers: usize,
    /// Long-poll wait (20 s in production; less in tests).
    pub wait_seconds: i32,
    /// Visibility set by each heartbeat.
    pub heartbeat_visibility: i32,
    /// Interval between heartbeats (well below `heartbeat_visibility`).
    pub heartbeat_every: Duration,
    /// Longest retry backoff (900 s in production, where the backoff is 30 s doubling; tests
    /// shorten it). Keep `maxReceiveCount` × backoff longer than the outages to ride out.
    pub retry_cap_seconds: u32,
    /// How long workers may finish the batch they hold after shutdown is asked; what is still
    /// unfinished then is released (visibility 0) for another bridge.
    pub drain: Duration,
}

/// What happened to messages, for metrics and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Messages received.
    pub received: u64,
    /// Deleted after every action delivered (or nothing to do).
    pub delivered: u64,
    /// Left for a retry.
    pub retried: u64,
    /// Released towards the dead-letter queue.
    pub rejected: u64,
    /// Decoded to an event patchplane does not handle (deleted).
    pub unknown: u64,
    /// Released unfinished at shutdown.
    pub released: u64,
    /// Time from receive to the message's fate (delete, retry, reject).
    pub latency: Latency,
}

/// Upper bounds (ms) of the latency buckets; a last bucket holds the rest.
pub const LATENCY_BOUNDS_MS: [u64; 9] = [10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/// A latency histogram.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Latency {
    /// Observations.
    pub count: u64,
    /// Their sum, in milliseconds.
    pub sum_ms: u64,
    /// Observations per bucket (not cumulative): `[i]` ≤ `LATENCY_BOUNDS_MS[i]`, the last above all.
    pub buckets: [u64; 10],
}

impl Latency {
    /// Records one observation.
    pub fn observe(&mut self, d: Duration) {
        let ms = d.as_millis().min(u64::MAX as u128) as u64;
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
        let i = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        self.buckets[i] += 1;
    }
}

/// What one message came to: its fate and each action taken, for logs and `replay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// Delete, retry or reject.
    pub ack: Ack,
    /// The event's kind and correlation key, when it decoded to one patchplane handles.
    pub event: Option<(String, String)>,
    /// Actions taken: action, the rule that asked, the one-line summary, the outcome.
    pub actions: Vec<(Action, String, String, Outcome)>,
    /// What enrichment found.
    pub context: Context,
}

/// decode → enrich → route → sinks → ack, for one message body: shared by the SQS pipeline and
/// `replay`.
pub struct Stages<S, T> {
    /// Routing rules.
    pub routes: RouteConfig,
    /// Tags and what they imply.
    pub enricher: Enricher<T>,
    /// Where actions go.
    pub sink: S,
}

impl<S: Sink, T: TagSource> Stages<S, T> {
    /// The fate of one message body received `receives` times.
    pub async fn process(&self, body: &[u8], receives: u32) -> Processed {
        let mut p = Processed {
            ack: Ack::Delete,
            event: None,
            actions: Vec::new(),
            context: Context::default(),
        };
        let d: Decoded = match decode(body) {
            Ok(d) => d,
            Err(DecodeError::Unknown {
                source_name,
                detail_type,
            }) => {
                tracing::info!(%source_name, %detail_type, "Unhandled event kind, acknowledged");
                return p;
            }
            Err(e) => {
                p.ack = Ack::DeadLetter { reason: e.to_string() };
                return p;
            }
        };
        p.event = Some((d.event.kind().to_owned(), d.correlation_key()));
        // Only events some rule could match cost a tag lookup; routing itself runs after
        // enrichment, so a rule may name the node's ring or owner.
        if !self.routes.may_route(&d, receives) {
            return p;
        }
        p.context = match self.enricher.enrich(&d).await {
            Ok(c) => c,
            Err(e) if e.retryable => {
                tracing::warn!(error = %e, "Enrichment failed; retrying later");
                p.ack = Ack::RetryLater {
                    after_seconds: backoff_seconds(receives),
                    reason: e.to_string(),
                };
                return p;
            }
            Err(e) => {
                // An incident without its owner beats no incident: go on, and say why.
                tracing::warn!(error = %e, "Tags unavailable; delivering without them");
                Context {
                    node: crate::enrich::node_of(&d).map(str::to_owned),
                    ..Context::default()
                }
            }
        };
        let routed = self.routes.route_with(&d, &p.context, receives);
        let mut outcomes = Vec::new();
        for (action, rule) in routed {
            let o = self.sink.deliver(&d, &p.context, action).await;
            if o != Outcome::Delivered {
                tracing::warn!(event_id = %d.envelope.id, account = %d.envelope.account, region = %d.envelope.region, ?action, rule, outcome = ?o, "Delivery did not succeed");
            }
            outcomes.push(o.clone());
            p.actions.push((action, rule.to_owned(), crate::sink::summary(&d), o));
        }
        p.ack = ack(&outcomes, receives);
        p
    }
}

/// The pipeline.
pub struct Pipeline<S, T> {
    sqs: Client,
    stages: Stages<S, T>,
    opts: Options,
    counters: std::sync::Mutex<Counters>,
    ready: AtomicBool,
}

impl<S: Sink + Send + Sync + 'static, T: TagSource + Send + Sync + 'static> Pipeline<S, T> {
    /// Builds a pipeline.
    pub fn new(sqs: Client, stages: Stages<S, T>, opts: Options) -> Arc<Self> {
        Arc::new(Self {
            sqs,
            stages,
            opts,
            counters: Default::default(),
            ready: AtomicBool::new(false),
        })
    }

    /// Ready: a receive has succeeded and shutdown has not begun (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.counters.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        if let Ok(mut c) = self.counters.lock() {
            f(&mut c);
        }
    }

    /// Runs the workers until `shutdown` turns true.
    pub async fn run(self: &Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.opts.workers.max(1) {
            let (me, stop) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { me.worker(stop).await });
        }
        while tasks.join_next().await.is_some() {}
        self.ready.store(false, Ordering::Relaxed);
    }

    async fn worker(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                self.ready.store(false, Ordering::Relaxed);
                return;
            }
            let received = tokio::select! {
                r = self
                    .sqs
                    .receive_message()
                    .queue_url(&self.opts.queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(self.opts.wait_seconds)
                    .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                    .send() => r,
                _ = stop.changed() => {
                    self.ready.store(false, Ordering::Relaxed);
                    return;
                }
            };
            let messages = match received {
                Ok(out) => {
                    if !*stop.borrow() {
                        self.ready.store(true, Ordering::Relaxed);
                    }
                    out.messages.unwrap_or_default()
                }
                Err(e) => {
                    self.ready.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "Receive failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if !messages.is_empty() {
                self.batch(messages, stop.clone()).await;
            }
        }
    }

    /// Processes one received batch; every message ends deleted, delayed or released. If shutdown
    /// is asked while it runs, it gets `drain` to finish; then its messages are released.
    async fn batch(&self, messages: Vec<aws_sdk_sqs::types::Message>, mut stop: watch::Receiver<bool>) {
        let handles: Vec<String> = messages.iter().filter_map(|m| m.receipt_handle.clone()).collect();
        let heartbeat = self.heartbeat(handles);
        tokio::pin!(heartbeat);
        // The messages of a batch run concurrently: a slow ServiceNow call for one does not hold
        // up the other nine. Two messages with one correlation key still deliver one after the
        // other (the sink's per-key lock), so concurrency never opens a second incident.
        let started = Instant::now();
        let work = futures_util::future::join_all(messages.iter().map(|m| async move {
            let receives: u32 = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            self.count(|c| c.received += 1);
            let p = self
                .stages
                .process(m.body().unwrap_or_default().as_bytes(), receives)
                .await;
            if p.event.is_none() && p.ack == Ack::Delete {
                self.count(|c| c.unknown += 1);
            }
            // Latency counts from the batch's receive.
            let elapsed = started.elapsed();
            self.count(|c| c.latency.observe(elapsed));
            (
                m.receipt_handle.clone().unwrap_or_default(),
                m.message_id.clone().unwrap_or_default(),
                p.ack,
            )
        }));
        tokio::pin!(work);
        let drain = self.opts.drain;
        let deadline = async move {
            // Resolves `drain` after shutdown is asked (or never, if the sender is gone).
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(drain).await;
        };
        let acks = tokio::select! {
            a = &mut work => a,
            _ = &mut heartbeat => Vec::new(),
            _ = deadline => {
                // Out of time: hand every message of the batch to another bridge at once. Those
                // already delivered come back as a work note, not a duplicate (idempotent sinks).
                tracing::warn!(messages = messages.len(), "Drain budget spent; releasing the batch");
                for m in &messages {
                    if let Some(h) = m.receipt_handle() {
                        self.visibility(h, 0).await;
                    }
                }
                self.count(|c| c.released += messages.len() as u64);
                return;
            }
        };
        self.apply(acks).await;
    }

    /// Keeps the batch invisible while it is worked on. Never completes by itself.
    async fn heartbeat(&self, handles: Vec<String>) {
        loop {
            tokio::time::sleep(self.opts.heartbeat_every).await;
            let entries: Vec<_> = handles
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .visibility_timeout(self.opts.heartbeat_visibility)
                        .build()
                        .ok()
                })
                .collect();
            let _ = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&self.opts.queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
        }
    }

    async fn apply(&self, acks: Vec<(String, String, Ack)>) {
        let mut deletes = Vec::new();
        for (i, (handle, id, a)) in acks.into_iter().enumerate() {
            match a {
                Ack::Delete => {
                    self.count(|c| c.delivered += 1);
                    if let Ok(e) = DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                    {
                        deletes.push(e);
                    }
                }
                Ack::RetryLater { after_seconds, reason } => {
                    let after_seconds = after_seconds.min(self.opts.retry_cap_seconds);
                    self.count(|c| c.retried += 1);
                    tracing::warn!(message_id = %id, after_seconds, %reason, "Retrying later");
                    self.visibility(&handle, after_seconds as i32).await;
                }
                Ack::DeadLetter { reason } => {
                    self.count(|c| c.rejected += 1);
                    tracing::error!(message_id = %id, %reason, "Rejected: the redrive policy moves it to the dead-letter queue");
                    self.visibility(&handle, 0).await;
                }
            }
        }
        if deletes.is_empty() {
            return;
        }
        match self
            .sqs
            .delete_message_batch()
            .queue_url(&self.opts.queue_url)
            .set_entries(Some(deletes))
            .send()
            .await
        {
            Ok(out) => {
                for f in out.failed() {
                    // It comes back; the sinks are idempotent, so it costs a lookup, not a duplicate.
                    tracing::warn!(entry = %f.id(), code = %f.code(), "Delete failed; the message will be redelivered");
                }
            }
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "Delete batch failed; messages will be redelivered")
            }
        }
    }

    async fn visibility(&self, handle: &str, seconds: i32) {
        let _ = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.opts.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(seconds)
            .send()
            .await;
    }
}
