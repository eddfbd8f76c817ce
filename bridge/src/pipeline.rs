//! The pipeline: [`crate::source`] → decode → enrich → route → sinks → ack, with N workers.
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

use aws_config::SdkConfig;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::decode::{DecodeError, Decoded, decode};
use crate::enrich::{Context, Enricher, TagSource};
pub use crate::metrics::{Counters, LATENCY_BOUNDS_MS, Latency};
use crate::outcome::{Ack, Outcome, ack, backoff_seconds};
use crate::route::{Action, RouteConfig};
use crate::sinks::Sink;
use crate::sinks::notify::{DigestBoard, DigestEvent};
use crate::source::{Received, SqsSource};

/// Pipeline settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Queue URL.
    pub queue_url: String,
    /// Concurrent receive loops.
    pub workers: usize,
    /// Long-poll wait (20 s in production; less in tests).
    pub wait_seconds: i32,
    /// The batching window ([`SqsSource::new`], ADR 021): zero lets every worker poll at once.
    pub batch_window: Duration,
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
        // The message's span (opened by the worker) learns what the message is about.
        let span = tracing::Span::current();
        span.record("event_id", d.envelope.id.as_str());
        span.record("account", d.envelope.account.as_str());
        span.record("region", d.envelope.region.as_str());
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
        p.context.receive_count = receives;
        let routed = self.routes.route_with(&d, &p.context, receives);
        let mut outcomes = Vec::new();
        for (action, rule) in routed {
            let o = self.sink.deliver(&d, &p.context, action).await;
            if !matches!(o, Outcome::Delivered | Outcome::Deferred(_)) {
                tracing::warn!(?action, rule, outcome = ?o, "Delivery did not succeed");
            }
            outcomes.push(o.clone());
            p.actions
                .push((action, rule.to_owned(), crate::sinks::common::summary(&d), o));
        }
        p.ack = ack(&outcomes, receives);
        p
    }
}

/// A message waiting in flight for digests to be sent.
struct Parked {
    message: Received,
    pending: std::collections::BTreeSet<String>,
    span: tracing::Span,
}

/// The pipeline.
pub struct Pipeline<S, T> {
    source: SqsSource,
    stages: Stages<S, T>,
    opts: Options,
    counters: std::sync::Mutex<Counters>,
    ready: AtomicBool,
    digests: Option<Arc<DigestBoard>>,
    parked: std::sync::Mutex<Vec<Parked>>,
}

impl<S: Sink + Send + Sync + 'static, T: TagSource + Send + Sync + 'static> Pipeline<S, T> {
    /// Builds a pipeline on the queue of `opts`, with the region and credentials of `aws`.
    pub fn new(aws: &SdkConfig, stages: Stages<S, T>, opts: Options) -> Arc<Self> {
        let source = SqsSource::new(
            aws,
            opts.queue_url.clone(),
            opts.wait_seconds,
            opts.heartbeat_visibility,
            opts.heartbeat_every,
            opts.batch_window,
        );
        Arc::new(Self {
            source,
            stages,
            opts,
            counters: Default::default(),
            ready: AtomicBool::new(false),
            digests: None,
            parked: Default::default(),
        })
    }

    /// A pipeline whose notification sink collects digests on `board`: messages wait in flight
    /// until their digests are sent ([`crate::sinks::notify`]).
    pub fn with_digests(aws: &SdkConfig, stages: Stages<S, T>, opts: Options, board: Arc<DigestBoard>) -> Arc<Self> {
        let mut p = Self::new(aws, stages, opts);
        if let Some(me) = Arc::get_mut(&mut p) {
            me.digests = Some(board);
        }
        p
    }

    /// Messages waiting for a digest.
    pub fn parked(&self) -> usize {
        self.parked.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Ready: a receive has succeeded and shutdown has not begun (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        c.parked = self.parked() as u64;
        c
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        if let Ok(mut c) = self.counters.lock() {
            f(&mut c);
        }
    }

    /// Runs the workers until `shutdown` turns true.
    pub async fn run(self: &Arc<Self>, shutdown: watch::Receiver<bool>) {
        let parking = self.digests.clone().map(|board| {
            let events = board.subscribe();
            let (me, stop) = (self.clone(), shutdown.clone());
            let flusher = tokio::spawn(board.clone().run(shutdown.clone()));
            tokio::spawn(async move {
                me.parking(board, events, stop).await;
                let _ = flusher.await;
            })
        });
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.opts.workers.max(1) {
            let (me, stop) = (self.clone(), shutdown.clone());
            tasks.spawn(async move { me.worker(stop).await });
        }
        while tasks.join_next().await.is_some() {}
        if let Some(p) = parking {
            let _ = p.await;
        }
        self.ready.store(false, Ordering::Relaxed);
    }

    /// Keeps parked messages in flight, deletes each once all its digests are sent, releases those
    /// whose digest failed; after shutdown, waits for the board's final flush within the drain
    /// budget, then releases what is left (it comes back, and its digest is sent again).
    async fn parking(
        &self,
        board: Arc<DigestBoard>,
        mut events: tokio::sync::broadcast::Receiver<DigestEvent>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut deadline: Option<Instant> = None;
        let mut last_heartbeat = Instant::now();
        loop {
            // Each second: settle messages parked after their digest went out. Each heartbeat
            // interval: extend the visibility of every parked message.
            let tick = tokio::time::sleep(self.source.heartbeat_every().min(Duration::from_secs(1)));
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(DigestEvent::Sent { key, redelivered }) => {
                        self.count(|c| {
                            c.digests_sent += 1;
                            c.digests_redelivered += u64::from(redelivered);
                        });
                        self.settle(|pending| {
                            pending.remove(&key);
                        }).await;
                    }
                    Ok(DigestEvent::Failed { key, reason }) => self.release_digest(&key, &reason).await,
                    // Missed events: ask the board about every parked key.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        self.settle(|pending| pending.retain(|k| !board.is_sent(k))).await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = tick => {
                    if last_heartbeat.elapsed() >= self.source.heartbeat_every() {
                        last_heartbeat = Instant::now();
                        let handles: Vec<String> = self
                            .parked
                            .lock()
                            .map(|p| p.iter().map(|m| m.message.receipt_handle.clone()).collect())
                            .unwrap_or_default();
                        self.source.extend(&handles).await;
                    }
                    // Parked after their digest went out: settle them now.
                    self.settle(|pending| pending.retain(|k| !board.is_sent(k))).await;
                }
                _ = stop.changed(), if deadline.is_none() => {}
            }
            if *stop.borrow() {
                let d = *deadline.get_or_insert_with(|| Instant::now() + self.opts.drain);
                let empty = self.parked() == 0 && board.open_count() == 0;
                if empty || Instant::now() >= d {
                    let left: Vec<Parked> = self
                        .parked
                        .lock()
                        .map(|mut p| p.drain(..).collect())
                        .unwrap_or_default();
                    for m in &left {
                        self.source
                            .set_visibility(&m.message.message_id, &m.message.receipt_handle, 0)
                            .await;
                    }
                    self.count(|c| c.released += left.len() as u64);
                    return;
                }
            }
        }
    }

    /// Applies `f` to every parked message's pending digests and deletes those left with none.
    async fn settle(&self, f: impl Fn(&mut std::collections::BTreeSet<String>)) {
        let done: Vec<Parked> = match self.parked.lock() {
            Ok(mut parked) => {
                for m in parked.iter_mut() {
                    f(&mut m.pending);
                }
                let (done, waiting): (Vec<Parked>, Vec<Parked>) = parked.drain(..).partition(|m| m.pending.is_empty());
                *parked = waiting;
                done
            }
            Err(_) => Vec::new(),
        };
        if done.is_empty() {
            return;
        }
        self.count(|c| c.delivered += done.len() as u64);
        let handles: Vec<String> = done.iter().map(|m| m.message.receipt_handle.clone()).collect();
        self.source.delete(&handles).await;
    }

    /// A digest a notifier refused for good: its messages come back after a backoff.
    async fn release_digest(&self, key: &str, reason: &str) {
        let gone: Vec<Parked> = match self.parked.lock() {
            Ok(mut parked) => {
                let (gone, stay): (Vec<Parked>, Vec<Parked>) = parked.drain(..).partition(|m| m.pending.contains(key));
                *parked = stay;
                gone
            }
            Err(_) => Vec::new(),
        };
        for m in gone {
            let after = backoff_seconds(m.message.receive_count).min(self.opts.retry_cap_seconds);
            self.count(|c| c.retried += 1);
            async {
                tracing::warn!(digest = %key, %reason, after_seconds = after, "Digest refused; the message comes back");
                self.source
                    .set_visibility(&m.message.message_id, &m.message.receipt_handle, after as i32)
                    .await;
            }
            .instrument(m.span.clone())
            .await;
        }
    }

    async fn worker(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                self.ready.store(false, Ordering::Relaxed);
                return;
            }
            let received = tokio::select! {
                r = self.source.receive() => r,
                _ = stop.changed() => {
                    self.ready.store(false, Ordering::Relaxed);
                    return;
                }
            };
            let messages = match received {
                Ok(messages) => {
                    self.count(|c| c.receives += 1);
                    if !*stop.borrow() {
                        self.ready.store(true, Ordering::Relaxed);
                    }
                    messages
                }
                Err(e) => {
                    self.ready.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %e, "Receive failed; retrying");
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
    async fn batch(&self, messages: Vec<Received>, mut stop: watch::Receiver<bool>) {
        let handles: Vec<String> = messages.iter().map(|m| m.receipt_handle.clone()).collect();
        let heartbeat = self.source.heartbeat(&handles);
        tokio::pin!(heartbeat);
        // The messages of a batch run concurrently: a slow ServiceNow call for one does not hold
        // up the other nine. Two messages with one correlation key still deliver one after the
        // other (the sink's per-key lock), so concurrency never opens a second incident.
        let started = Instant::now();
        let work = futures_util::future::join_all(messages.iter().map(|m| {
            // One span per message: every line logged for it carries its message id and, once
            // decoded, its event id, account and region.
            let span = tracing::info_span!(
                "message",
                message_id = %m.message_id,
                receive_count = m.receive_count,
                event_id = tracing::field::Empty,
                account = tracing::field::Empty,
                region = tracing::field::Empty,
            );
            let inner = span.clone();
            async move {
                self.count(|c| c.received += 1);
                let p = self.stages.process(m.body.as_bytes(), m.receive_count).await;
                if p.event.is_none() && p.ack == Ack::Delete {
                    self.count(|c| c.unknown += 1);
                }
                if p.event.is_some() && p.actions.is_empty() && p.ack == Ack::Delete {
                    self.count(|c| c.unrouted += 1);
                }
                // Latency counts from the batch's receive.
                let elapsed = started.elapsed();
                self.count(|c| c.latency.observe(elapsed));
                (m, p.ack, inner)
            }
            .instrument(span)
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
                    self.source.set_visibility(&m.message_id, &m.receipt_handle, 0).await;
                }
                self.count(|c| c.released += messages.len() as u64);
                return;
            }
        };
        self.apply(acks).await;
    }

    async fn apply(&self, acks: Vec<(&Received, Ack, tracing::Span)>) {
        let mut deletes = Vec::new();
        for (m, a, span) in acks {
            match a {
                Ack::Park { digests } => {
                    let parked = Parked {
                        message: m.clone(),
                        pending: digests.into_iter().collect(),
                        span,
                    };
                    match (&self.digests, self.parked.lock()) {
                        (Some(_), Ok(mut p)) => p.push(parked),
                        // No board to wait on (a sink deferred without one): treat as delivered.
                        _ => {
                            self.count(|c| c.delivered += 1);
                            deletes.push(m.receipt_handle.clone());
                        }
                    }
                }
                Ack::Delete => {
                    self.count(|c| c.delivered += 1);
                    deletes.push(m.receipt_handle.clone());
                }
                Ack::RetryLater { after_seconds, reason } => {
                    let after_seconds = after_seconds.min(self.opts.retry_cap_seconds);
                    self.count(|c| c.retried += 1);
                    async {
                        tracing::warn!(after_seconds, %reason, "Retrying later");
                        self.source
                            .set_visibility(&m.message_id, &m.receipt_handle, after_seconds as i32)
                            .await;
                    }
                    .instrument(span)
                    .await;
                }
                Ack::DeadLetter { reason } => {
                    self.count(|c| c.rejected += 1);
                    async {
                        tracing::error!(%reason, "Rejected: the redrive policy moves it to the dead-letter queue");
                        self.source.set_visibility(&m.message_id, &m.receipt_handle, 0).await;
                    }
                    .instrument(span)
                    .await;
                }
            }
        }
        self.source.delete(&deletes).await;
    }
}
