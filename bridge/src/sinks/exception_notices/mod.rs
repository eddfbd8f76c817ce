//! `exception-notices`: before an approved exception ends, the people it concerns hear so in time
//! to renew it or to plan the patching it held back. For each exception of `exceptions:` (the
//! generator copies the policy's), two notices, each once:
//! - **before**: [`EXPIRY_NOTICE_DAYS`] (14) days before `expires`, the day `validate` starts
//!   warning;
//! - **expiry**: on `expires`, its last day.
//!
//! Each goes to the approver (`approver`, as an owner key of the digest board) and to the owner
//! of each node it covers: a node selected by id through the owner chain by its id (the exception
//! names no account, region or tags, so the static map and the ServiceNow CMDB answer; tags and
//! the HTTP CMDB do not), nodes selected by tags the value of the first owner tag
//! (`enrich.owner_tags`) among them; else the default owner. A recipient hears once per stage,
//! all their lines in one digest. A patch exception that selects no node reaches the approver only.
//!
//! It runs on the escalation sweep's tick, by the tick's UTC day (the days of the report and of
//! the ticket suppression). A stage is due from its day for [`CATCH_UP_DAYS`] days, so a bridge
//! that was down on the day still sends it, but never past the claims' lifetime (the claims
//! bucket removes claims after 7 days): a due period longer than that could send twice.
//!
//! **Not yet started** (a `starts` in the future): nothing, since it does not hold. A stage's day
//! is never before the start: one that starts within 14 days of its expiry sends its first notice
//! on its start day, and one that starts on its last day sends only the expiry notice.
//!
//! **Once** across bridge tasks, overlapping ticks and redeliveries: each (stage, exception,
//! expiry) is claimed ([`crate::claims`], ADR 014) before anything is sent and marked done after,
//! and the digests' idempotency keys are fixed by owner, stage, exception and expiry, so a re-send
//! after a crash carries the same key. A renewed exception (a new `expires`) is a new key: its
//! notices come again.

pub mod config;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use jiff::civil::Date;
use patchplane_bridge_config::exception::{EXPIRY_NOTICE_DAYS, Exception};
use patchplane_integrations::retry::Failure;

use crate::claims::{Claims, Once, once};
use crate::decode::Decoded;
use crate::enrich::owners::OwnerChain;
use crate::enrich::{Context, Tags};
use crate::sinks::common::{enrich_failure, on_sweep};
use crate::sinks::notify::{Digest, DigestBoard, Heading, Item};
use crate::sinks::{ActionSink, Clock, Delivery};

/// Days a stage stays due after its day (a bridge down on the day catches up); shorter than the
/// 7 days the claims bucket keeps a claim.
pub const CATCH_UP_DAYS: i16 = 3;

/// Which of the two notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// [`EXPIRY_NOTICE_DAYS`] before the expiry.
    Before,
    /// On the expiry, the exception's last day.
    Expiry,
}

impl Stage {
    /// Its name in claim keys and digest groups.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Before => "before",
            Stage::Expiry => "expiry",
        }
    }
}

/// A notice that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Which.
    pub stage: Stage,
    /// The exception.
    pub exception: Exception,
    /// Its last day.
    pub expires: Date,
}

impl Due {
    /// The claim key (and digest group): fixed by stage, exception and expiry.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.stage.name(), self.exception.id, self.expires)
    }
}

/// Where the parts come from.
pub struct Parts {
    /// The owner chain, for nodes selected by id.
    pub owners: Arc<OwnerChain>,
    /// Claims every task sees.
    pub claims: Arc<dyn Claims>,
    /// Where digests go.
    pub board: Arc<DigestBoard>,
}

/// The sink.
pub struct ExceptionNotices {
    exceptions: Vec<Exception>,
    owner_tags: Vec<String>,
    default_owner: String,
    parts: Parts,
    clock: Clock,
    /// Keys this process knows are done (saves a claim lookup per tick).
    done: Mutex<BTreeSet<String>>,
    /// Digests sent per notifier (a retry after a partial failure sends only the rest).
    sent: Mutex<BTreeMap<String, BTreeSet<usize>>>,
    /// One tick at a time in this process: a claim this task holds is re-entrant (a retry by its
    /// holder), so two of its own ticks must not run it at once.
    ticking: tokio::sync::Mutex<()>,
}

impl ExceptionNotices {
    /// Notices for `exceptions`; `owner_tags` name a tag selector's owner, `default_owner` hears
    /// about nodes nobody else owns.
    pub fn new(
        exceptions: Vec<Exception>,
        owner_tags: Vec<String>,
        default_owner: String,
        parts: Parts,
        clock: Clock,
    ) -> Self {
        Self {
            exceptions,
            owner_tags,
            default_owner,
            parts,
            clock,
            done: Mutex::default(),
            sent: Mutex::default(),
            ticking: tokio::sync::Mutex::new(()),
        }
    }

    /// The notices due on `day` (UTC).
    pub fn due(&self, day: Date) -> Vec<Due> {
        let mut out = Vec::new();
        for e in &self.exceptions {
            // Dates that do not parse were refused by `check`; such an exception holds on no day.
            let Some(end) = e.expiry() else { continue };
            let start = match (&e.starts, e.start()) {
                (Some(_), None) => continue,
                (_, s) => s,
            };
            let from_start = |d: Date| start.map_or(d, |s| d.max(s));
            let first = end.saturating_sub(jiff::Span::new().days(EXPIRY_NOTICE_DAYS));
            for (stage, on) in [(Stage::Before, from_start(first)), (Stage::Expiry, from_start(end))] {
                let until = on.saturating_add(jiff::Span::new().days(CATCH_UP_DAYS));
                // The notice before never comes on or after the last day: the expiry's says more.
                let late = stage == Stage::Before && day >= end;
                if on <= end && on <= day && day < until && !late {
                    out.push(Due {
                        stage,
                        exception: e.clone(),
                        expires: end,
                    });
                }
            }
        }
        out
    }

    /// Sends what is due on the clock's day; returns how many digests it sent.
    pub async fn tick(&self) -> Result<usize, Failure> {
        let _one = self.ticking.lock().await;
        let day = (self.clock)().to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut sent = 0;
        let mut retry = None;
        for due in self.due(day) {
            let key = due.key();
            match once(
                self.parts.claims.as_ref(),
                &self.done,
                key.clone(),
                self.send(&due, day),
            )
            .await?
            {
                Once::Sent(n) => sent += n,
                Once::Skipped => {}
                Once::Failed(f) => {
                    tracing::warn!(notice = %key, error = %f, "Exception notice not sent");
                    retry = Some(f);
                }
            }
        }
        retry.map_or(Ok(sent), Err)
    }

    /// Each recipient with their lines: the approver first, then the owners of its nodes.
    async fn recipients(&self, e: &Exception) -> Result<BTreeMap<String, Vec<Item>>, Failure> {
        let mut out: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        let mut what: Vec<String> = e.nodes.clone();
        what.extend(e.tags.iter().map(|(k, v)| format!("nodes tagged {k}={v}")));
        let patches = if e.patches.is_empty() {
            "every patch".to_owned()
        } else {
            format!("patches {}", e.patches.join(", "))
        };
        let scope = if what.is_empty() {
            format!("{patches} on every node")
        } else {
            format!("{patches} on {}", what.join(", "))
        };
        out.entry(e.approver.clone()).or_default().push(Item {
            node: None,
            status: "approved".into(),
            line: format!("You approved it ({}): {scope}", e.ticket),
        });
        for node in &e.nodes {
            // The exception names no account or region: the steps that need them do not answer.
            let owner = self
                .parts
                .owners
                .resolve("", "", node, &Tags::new())
                .await
                .map_err(enrich_failure)?
                .map_or_else(|| self.default_owner.clone(), |f| f.owner);
            out.entry(owner).or_default().push(Item {
                node: Some(node.clone()),
                status: "excepted".into(),
                line: format!("{node}: {patches} held back"),
            });
        }
        if !e.tags.is_empty() {
            let owner = self
                .owner_tags
                .iter()
                .find_map(|k| e.tags.get(k))
                .cloned()
                .unwrap_or_else(|| self.default_owner.clone());
            let tags: Vec<String> = e.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.entry(owner).or_default().push(Item {
                node: None,
                status: "excepted".into(),
                line: format!("nodes tagged {}: {patches} held back", tags.join(", ")),
            });
        }
        Ok(out)
    }

    /// Builds and sends the recipients' digests of `due`; returns how many were sent.
    async fn send(&self, due: &Due, day: Date) -> Result<usize, Failure> {
        let e = &due.exception;
        let group = format!("exception:{}:{}:{}", due.stage.name(), e.id, due.expires);
        let heading = match due.stage {
            Stage::Before => {
                let left = day.until(due.expires).map(|s| s.get_days()).unwrap_or_default();
                Heading {
                    title: format!("Exception {} expires on {}, in {left} day(s)", e.id, due.expires),
                    summary: format!(
                        "{} ({}, approved by {}). After {} it no longer applies: renew it with a new approval, or plan the patching it held back.",
                        e.reason, e.ticket, e.approver, due.expires
                    ),
                }
            }
            Stage::Expiry => Heading {
                title: format!("Exception {} ends: {} is its last day", e.id, due.expires),
                summary: format!(
                    "{} ({}, approved by {}). From the day after, it no longer applies: its nodes get tickets again and its patches install.",
                    e.reason, e.ticket, e.approver
                ),
            },
        };
        let mut sent = 0;
        for (owner, items) in self.recipients(e).await? {
            let d = Digest {
                key: format!("patchplane:{owner}:{group}:0"),
                owner,
                group: group.clone(),
                items,
                redelivered: false,
                heading: Some(heading.clone()),
            };
            let mut done = self
                .sent
                .lock()
                .map(|s| s.get(&d.key).cloned().unwrap_or_default())
                .unwrap_or_default();
            let r = self.parts.board.send_now(&d, &mut done).await;
            if let Ok(mut s) = self.sent.lock() {
                s.insert(d.key.clone(), done);
            }
            r?;
            sent += 1;
            tracing::info!(digest = %d.key, exception = %e.id, "Exception notice sent");
        }
        Ok(sent)
    }
}

impl ActionSink for ExceptionNotices {
    fn deliver<'a>(&'a self, d: &'a Decoded, _ctx: &'a Context) -> Delivery<'a> {
        Box::pin(on_sweep(d, "exception-notices", self.tick()))
    }
}

#[cfg(test)]
mod tests;
