//! `notify-owner`: owner notifications, grouped into digests.
//!
//! One ring failing on 300 nodes of 4 owners must reach each owner once. Each event routed here
//! becomes an item of its owner's digest: per window execution for window events, else per
//! `notify.digest_minutes` period of the event's time. A digest is sent once its period has passed
//! since its first item (or at shutdown), to every configured notifier (SNS, Slack, Teams).
//!
//! At least once, never lost: the sink answers [`Outcome::Deferred`] with the digest's key, and
//! the pipeline keeps the message in flight (heartbeats) until the board reports the digest sent;
//! only then is the message deleted. A crash before the send lets SQS redeliver the messages, which
//! form the digest again and send it again with the same idempotency key, so a receiver can
//! dedupe; the board counts a digest holding a redelivered message as a possible re-send.

pub mod config;

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchplane_integrations::retry::Failure;
use tokio::sync::{broadcast, watch};

use crate::decode::{Decoded, Event};
use crate::enrich::Context;
use crate::outcome::Outcome;
use crate::sinks::common::{event_time, summary};
use crate::sinks::{ActionSink, Delivery};

/// One line of a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The node, when the event is about one.
    pub node: Option<String>,
    /// The event's status (`Failed`, `TIMED_OUT`, `non_compliant`, …).
    pub status: String,
    /// What happened.
    pub line: String,
}

/// What one owner hears at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Idempotency key: owner, group and the digest's number within the group.
    pub key: String,
    /// The owner (an owner tag value, a CMDB owner, or the default group).
    pub owner: String,
    /// The window execution or period the items belong to.
    pub group: String,
    /// Items, in arrival order.
    pub items: Vec<Item>,
    /// Whether a message of it was delivered before (a crash may have sent it already).
    pub redelivered: bool,
    /// Its own title and summary (window notices); else they are made from the group.
    pub heading: Option<Heading>,
}

/// A digest's title and summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// Title (SNS subject: at most 100 characters, cut by the notifier).
    pub title: String,
    /// One line under it.
    pub summary: String,
}

/// What happened to a digest; the pipeline listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestEvent {
    /// Sent to every notifier.
    Sent {
        /// Key.
        key: String,
        /// It held a redelivered message: possibly a re-send after a crash.
        redelivered: bool,
    },
    /// A notifier refused it for good; its messages are released to come back.
    Failed {
        /// Key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// A destination for digests (SNS, a Slack or Teams webhook).
pub trait DigestSender: Send + Sync {
    /// A name for logs (never a URL).
    fn name(&self) -> String;
    /// Sends `d`.
    fn send<'a>(&'a self, d: &'a Digest) -> Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;
}

struct Open {
    digest: Digest,
    opened: Instant,
    /// Senders that already took it (a retry goes only to the others).
    done: BTreeSet<usize>,
    /// Next attempt after a retryable failure.
    not_before: Option<Instant>,
}

/// The digests being collected and sent.
pub struct DigestBoard {
    open: Mutex<BTreeMap<String, Open>>,
    /// Digests sent per (owner, group), to number the next one.
    numbers: Mutex<BTreeMap<(String, String), u32>>,
    events: broadcast::Sender<DigestEvent>,
    /// Keys sent lately (a set to look up, a queue to forget the oldest), for messages parked
    /// after their digest went out.
    sent: Mutex<(std::collections::HashSet<String>, std::collections::VecDeque<String>)>,
    period: Duration,
    senders: Vec<Arc<dyn DigestSender>>,
}

impl DigestBoard {
    /// A board sending to `senders` once a digest is `period` old.
    pub fn new(period: Duration, senders: Vec<Arc<dyn DigestSender>>) -> Self {
        let (events, _) = broadcast::channel(4096);
        Self {
            open: Mutex::default(),
            numbers: Mutex::default(),
            events,
            sent: Mutex::default(),
            period,
            senders,
        }
    }

    /// Whether `key` was sent (among the last 100,000 digests).
    pub fn is_sent(&self, key: &str) -> bool {
        self.sent.lock().map(|s| s.0.contains(key)).unwrap_or(false)
    }

    /// What the pipeline listens to.
    pub fn subscribe(&self) -> broadcast::Receiver<DigestEvent> {
        self.events.subscribe()
    }

    /// Adds `item` to the open digest of `owner` and `group`; returns its key.
    pub fn add(&self, owner: &str, group: &str, item: Item, redelivered: bool) -> String {
        let n = self
            .numbers
            .lock()
            .map(|m| m.get(&(owner.to_owned(), group.to_owned())).copied().unwrap_or(0))
            .unwrap_or(0);
        let key = format!("patchplane:{owner}:{group}:{n}");
        if let Ok(mut open) = self.open.lock() {
            let o = open.entry(key.clone()).or_insert_with(|| Open {
                digest: Digest {
                    key: key.clone(),
                    owner: owner.to_owned(),
                    group: group.to_owned(),
                    items: Vec::new(),
                    redelivered: false,
                    heading: None,
                },
                opened: Instant::now(),
                done: BTreeSet::new(),
                not_before: None,
            });
            if !o.digest.items.contains(&item) {
                o.digest.items.push(item);
            }
            o.digest.redelivered |= redelivered;
        }
        key
    }

    /// Sends `d` at once to every notifier not in `done` (which it fills), outside the board's
    /// grouping: window notices, whose claim already makes them once per owner and window.
    pub async fn send_now(&self, d: &Digest, done: &mut BTreeSet<usize>) -> Result<(), Failure> {
        let mut failure = None;
        for (i, s) in self.senders.iter().enumerate() {
            if done.contains(&i) {
                continue;
            }
            match s.send(d).await {
                Ok(()) => {
                    done.insert(i);
                }
                Err(f) => {
                    tracing::warn!(digest = %d.key, notifier = %s.name(), error = %f, "Notice not sent");
                    failure = Some(f);
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Digests open now (tests and `/metrics`).
    pub fn open_count(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }

    /// Sends the digests that are due (all of them with `all`); returns how many were sent.
    pub async fn flush(&self, all: bool) -> usize {
        let now = Instant::now();
        let due: Vec<Open> = match self.open.lock() {
            Ok(mut open) => {
                let keys: Vec<String> = open
                    .iter()
                    .filter(|(_, o)| {
                        (all || now.duration_since(o.opened) >= self.period) && o.not_before.is_none_or(|t| now >= t)
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                // Taken out before sending: later items of the group open the next digest.
                keys.iter().filter_map(|k| open.remove(k)).collect()
            }
            Err(_) => Vec::new(),
        };
        if !due.is_empty()
            && let Ok(mut numbers) = self.numbers.lock()
        {
            for o in &due {
                *numbers
                    .entry((o.digest.owner.clone(), o.digest.group.clone()))
                    .or_default() += 1;
            }
        }
        let mut sent = 0;
        for mut o in due {
            let mut failure = None;
            for (i, s) in self.senders.iter().enumerate() {
                if o.done.contains(&i) {
                    continue;
                }
                match s.send(&o.digest).await {
                    Ok(()) => {
                        o.done.insert(i);
                    }
                    Err(f) => {
                        tracing::warn!(digest = %o.digest.key, notifier = %s.name(), error = %f, "Digest not sent");
                        failure = Some(f);
                    }
                }
            }
            match failure {
                None => {
                    sent += 1;
                    if let Ok(mut s) = self.sent.lock() {
                        let (set, order) = &mut *s;
                        if order.len() >= 100_000
                            && let Some(oldest) = order.pop_front()
                        {
                            set.remove(&oldest);
                        }
                        set.insert(o.digest.key.clone());
                        order.push_back(o.digest.key.clone());
                    }
                    let _ = self.events.send(DigestEvent::Sent {
                        key: o.digest.key.clone(),
                        redelivered: o.digest.redelivered,
                    });
                }
                Some(f) if f.is_retryable() => {
                    // Back on the board under its key; its messages stay parked meanwhile.
                    o.not_before = Some(Instant::now() + Duration::from_secs(5));
                    if let Ok(mut open) = self.open.lock() {
                        open.insert(o.digest.key.clone(), o);
                    }
                }
                Some(f) => {
                    let _ = self.events.send(DigestEvent::Failed {
                        key: o.digest.key.clone(),
                        reason: f.to_string(),
                    });
                }
            }
        }
        sent
    }

    /// Flushes due digests every second until `stop`; then sends what is open, so a clean
    /// shutdown leaves nothing to re-send.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {
                    self.flush(true).await;
                    return;
                }
            }
            if *stop.borrow() {
                self.flush(true).await;
                return;
            }
            self.flush(false).await;
        }
    }
}

/// The sink.
pub struct NotifySink {
    board: Arc<DigestBoard>,
    default_owner: String,
    period_seconds: i64,
}

impl NotifySink {
    /// Items go to `board`; events without an owner to `default_owner`.
    pub fn new(board: Arc<DigestBoard>, default_owner: String, period: Duration) -> Self {
        Self {
            board,
            default_owner,
            period_seconds: period.as_secs().max(1) as i64,
        }
    }

    fn deliver(&self, d: &Decoded, ctx: &Context) -> Outcome {
        let owner = ctx.owner.clone().unwrap_or_else(|| self.default_owner.clone());
        let group = match &d.event {
            Event::WindowExecution(w) | Event::WindowTaskExecution(w) | Event::WindowTargetInvocation(w) => {
                format!("window-execution:{}", w.window_execution_id)
            }
            // Other events: the period of the event's own time, so a redelivery after a crash
            // lands in the same group (and the same idempotency key) as the first delivery.
            _ => match event_time(d) {
                Ok(t) => {
                    let start = t.as_second() - t.as_second().rem_euclid(self.period_seconds);
                    format!("period:{start}")
                }
                Err(e) => return Outcome::Reject(e),
            },
        };
        let item = Item {
            node: ctx.node.clone(),
            status: d.event.status().to_owned(),
            line: summary(d),
        };
        Outcome::Deferred(self.board.add(&owner, &group, item, ctx.receive_count > 1))
    }
}

impl ActionSink for NotifySink {
    fn deliver<'a>(&'a self, d: &'a Decoded, ctx: &'a Context) -> Delivery<'a> {
        let o = NotifySink::deliver(self, d, ctx);
        Box::pin(async move { o })
    }
}

/// A notifier of `patchplane_integrations::notify` (SNS, Slack, Teams) as a digest destination.
pub struct Notifying(pub Box<dyn patchplane_integrations::notify::Notifier>);

/// The message a digest becomes.
pub fn message(d: &Digest) -> patchplane_integrations::notify::Digest {
    use patchplane_integrations::notify as n;
    let what = match d.group.split_once(':') {
        Some(("window-execution", id)) => format!("window execution {id}"),
        _ => "the last few minutes".to_owned(),
    };
    let nodes = d
        .items
        .iter()
        .filter_map(|i| i.node.as_deref())
        .collect::<BTreeSet<_>>()
        .len();
    let (title, summary) = match &d.heading {
        Some(h) => (h.title.clone(), h.summary.clone()),
        None => (
            format!("Patching: {} event(s) on {nodes} node(s) of {}", d.items.len(), d.owner),
            format!("What patchplane saw in {what}; tickets are in ServiceNow."),
        ),
    };
    n::Digest {
        owner: d.owner.clone(),
        title,
        summary,
        items: d
            .items
            .iter()
            .map(|i| n::Item {
                name: i.node.clone().unwrap_or_else(|| "-".into()),
                status: i.status.clone(),
                detail: i.line.clone(),
                url: None,
            })
            .collect(),
        links: Vec::new(),
        idempotency_key: d.key.clone(),
    }
}

impl DigestSender for Notifying {
    fn name(&self) -> String {
        self.0.name().to_owned()
    }
    fn send<'a>(&'a self, d: &'a Digest) -> Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>> {
        Box::pin(async move {
            let m = message(d);
            self.0.send(&m).await
        })
    }
}
