//! `escalate`: the sweep. On each tick (the central stack's schedule sends one to the queue every
//! `tickets.sweep_minutes`, so normally one bridge task sweeps per tick), one query per kind of
//! ticket finds the open ones whose due date is within `tickets.escalate_before_days` or past:
//! vulnerability tickets in `tickets.table`, and non-compliance incidents in `servicenow.table`
//! (which may be another table, or the same one). Each is escalated once per stage: `escalation` 2
//! (High) when near, 3 (Overdue) when past, urgency raised, a work note. The stage is recorded on
//! the ticket itself, so a later tick finds it done. "Open" is New, In Progress or On Hold
//! (`stateIN1,2,3`): a Resolved incident is still `active=true`, and is never escalated.
//!
//! Two sweeps at once (a redelivered tick, two ticks close together) must not escalate twice, and
//! the Table API has no conditional update. So a sweep claims before it writes, as ADR 007 checks
//! the rows it gets back: it appends `|esc:<stage>:<token>` to the ticket's `correlation_display`
//! (after the event time the lifecycle keeps there), waits a settle delay, reads the row again,
//! and escalates only the tickets that still carry its own token and still miss the stage. Of two
//! sweeps that claimed the same ticket, the last write stays and only its sweep goes on; one that
//! claims after another already escalated sees the stage and stops (ADR 012).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use patchplane_bridge_config::TicketsConfig;
use patchplane_integrations::retry::Failure;
use patchplane_integrations::servicenow::{Incident, state};
use serde_json::json;

use super::{Desk, parse_glide};
use crate::decode::Decoded;
use crate::enrich::Context;
use crate::outcome::Outcome;
use crate::sinks::common::failed;
pub use crate::sinks::common::system_clock;
use crate::sinks::notify::{DigestBoard, Item};
use crate::sinks::{ActionSink, Clock, Delivery};

/// `escalation` when the due date is near.
pub const NEAR: u8 = 2;
/// `escalation` when it is past.
pub const OVERDUE: u8 = 3;

/// The part of a vulnerability ticket's correlation key that names it
/// (`account/region/node/vulnerability/ID`).
pub const VULNERABILITY_MARKER: &str = "/vulnerability/";

/// One kind of ticket the sweep escalates: the desk of its table, and the part of its correlation
/// key that names the kind (checked on every row, since ServiceNow may ignore a query term).
struct Swept {
    desk: Arc<Desk>,
    marker: &'static str,
}

/// The sink.
pub struct EscalationSink {
    swept: Vec<Swept>,
    margin: SignedDuration,
    clock: Clock,
    settle: std::time::Duration,
    token: String,
    sweeps: std::sync::atomic::AtomicU64,
    /// Owner notices: the board, and the owner of tickets without an assignment group.
    notify: Option<(Arc<DigestBoard>, String)>,
}

/// A token no other bridge task shares: ECS tasks may all be process 1, so the process's random
/// hash seed makes it unique.
fn process_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// The stage a ticket due at `due` has reached at `now`, if any.
pub fn stage(due: Timestamp, now: Timestamp, margin: SignedDuration) -> Option<u8> {
    if due <= now {
        Some(OVERDUE)
    } else if due.duration_since(now) <= margin {
        Some(NEAR)
    } else {
        None
    }
}

impl EscalationSink {
    /// A sweep of the vulnerability tickets of `desk` with `tickets:` settings and `clock`.
    pub fn new(desk: Arc<Desk>, tickets: &TicketsConfig, clock: Clock) -> Self {
        Self {
            swept: vec![Swept {
                desk,
                marker: VULNERABILITY_MARKER,
            }],
            margin: SignedDuration::from_hours(24 * i64::from(tickets.escalate_before_days)),
            clock,
            settle: std::time::Duration::from_secs(2),
            token: process_token(),
            sweeps: Default::default(),
            notify: None,
        }
    }

    /// Sweeps the non-compliance incidents of `desk` (`servicenow.table`) too.
    pub fn with_compliance(mut self, desk: Arc<Desk>) -> Self {
        self.swept.push(Swept {
            desk,
            marker: super::compliance::KEY_MARKER,
        });
        self
    }

    /// Tells each escalated ticket's owner (its assignment group, else `default_owner`) through
    /// `board`, one digest per owner per sweep.
    pub fn with_notify(mut self, board: Arc<DigestBoard>, default_owner: String) -> Self {
        self.notify = Some((board, default_owner));
        self
    }

    /// How long a sweep waits between its claims and their confirmation (2 s by default: far
    /// longer than the gap between another sweep's read and its claim).
    pub fn with_settle(mut self, settle: std::time::Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Escalates what is due; returns how many tickets moved a stage.
    pub async fn sweep(&self) -> Result<usize, Failure> {
        let now = (self.clock)();
        let horizon = now.checked_add(self.margin).unwrap_or(now);
        let n = self.sweeps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = format!("{}.{n}", self.token);
        // Claim every ticket of every kind that is due and misses its stage.
        let mut claimed = Vec::new();
        for swept in &self.swept {
            let query = due_query(swept.marker, horizon);
            for row in swept.desk.client.list(&query, 500).await? {
                // Never trust the filter: check every row against what was asked.
                let Some(due) = parse_glide(&row.due_date) else {
                    continue;
                };
                let Some(stage) = stage(due, now, self.margin) else {
                    continue;
                };
                if !row.is_open() || !row.correlation_id.contains(swept.marker) {
                    continue;
                }
                if self.claim(&swept.desk, &row, stage, &token).await? {
                    claimed.push((&swept.desk, row, stage, due));
                }
            }
        }
        if claimed.is_empty() {
            return Ok(0);
        }
        tokio::time::sleep(self.settle).await;
        let mut escalated = 0;
        for (desk, row, stage, due) in claimed {
            if self.escalate(desk, &row, stage, due, &token).await? {
                escalated += 1;
            }
        }
        Ok(escalated)
    }

    /// The row as it is now, if it is still the open ticket of its key and misses `stage`.
    async fn missing(&self, desk: &Desk, row: &Incident, stage: u8) -> Result<Option<Incident>, Failure> {
        let Some(current) = desk.client.latest_with_key(&row.correlation_id).await? else {
            return Ok(None);
        };
        let recorded: u8 = current.escalation.parse().unwrap_or(0);
        Ok((current.sys_id == row.sys_id && current.is_open() && recorded < stage).then_some(current))
    }

    async fn claim(&self, desk: &Desk, row: &Incident, stage: u8, token: &str) -> Result<bool, Failure> {
        let lock = desk.lock_for(&row.correlation_id);
        let _held = lock.lock().await;
        let Some(current) = self.missing(desk, row, stage).await? else {
            return Ok(false);
        };
        let time = current.correlation_display.split('|').next().unwrap_or_default();
        desk.client
            .patch(
                &current.sys_id,
                json!({ "correlation_display": format!("{time}|esc:{stage}:{token}") }),
            )
            .await?;
        Ok(true)
    }

    async fn escalate(
        &self,
        desk: &Desk,
        row: &Incident,
        stage: u8,
        due: Timestamp,
        token: &str,
    ) -> Result<bool, Failure> {
        let lock = desk.lock_for(&row.correlation_id);
        let _held = lock.lock().await;
        // Still ours, still missing the stage? Another sweep's later claim, or an event that
        // rewrote the ticket's time, means this sweep leaves it.
        let Some(current) = self.missing(desk, row, stage).await? else {
            return Ok(false);
        };
        if !current.correlation_display.ends_with(&format!("|esc:{stage}:{token}")) {
            return Ok(false);
        }
        let urgency: u8 = current.urgency.parse().unwrap_or(3);
        let (raised, note) = if stage == OVERDUE {
            (
                1,
                format!("Overdue: the due date {due} has passed. Escalated by patchplane."),
            )
        } else {
            (
                urgency.saturating_sub(1).max(1),
                format!("Due soon: the due date is {due}. Escalated by patchplane."),
            )
        };
        let back = desk
            .client
            .patch(
                &current.sys_id,
                json!({
                    "escalation": stage.to_string(),
                    "urgency": raised.min(urgency).to_string(),
                    "work_notes": note,
                }),
            )
            .await?;
        if back.escalation != stage.to_string() {
            tracing::warn!(number = %back.number, stage, "Escalation not recorded on the ticket; the next sweep tries again");
        }
        if let Some((board, default_owner)) = &self.notify {
            let owner = if current.assignment_group_name.is_empty() {
                default_owner.clone()
            } else {
                current.assignment_group_name.clone()
            };
            // `account/region/node/vulnerability/ID` and `account/region/node/compliance/patch`:
            // the node is the third part.
            let node = current.correlation_id.split('/').nth(2).map(str::to_owned);
            let status = if stage == OVERDUE { "Overdue" } else { "Due soon" };
            let item = Item {
                node,
                status: status.to_owned(),
                line: format!("{} {}", current.number, note),
            };
            board.add(&owner, &format!("escalation:{token}"), item, false);
        }
        Ok(true)
    }
}

/// The query of open tickets of the kind `marker` names that are due by `horizon`, soonest first.
fn due_query(marker: &str, horizon: Timestamp) -> String {
    format!(
        "{}^due_dateISNOTEMPTY^due_date<={}^correlation_idLIKE{marker}^ORDERBYdue_date",
        state::OPEN_QUERY,
        horizon.strftime("%Y-%m-%d %H:%M:%S")
    )
}

impl ActionSink for EscalationSink {
    fn deliver<'a>(&'a self, _: &'a Decoded, _: &'a Context) -> Delivery<'a> {
        Box::pin(async move {
            match self.sweep().await {
                Ok(n) => {
                    tracing::info!(escalated = n, "Escalation sweep done");
                    Outcome::Delivered
                }
                Err(e) => failed(e),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages() {
        let now: Timestamp = "2026-11-30T12:00:00Z".parse().expect("t");
        let m = SignedDuration::from_hours(72);
        let at = |s: &str| -> Timestamp { s.parse().expect("t") };
        assert_eq!(stage(at("2026-12-10T00:00:00Z"), now, m), None);
        assert_eq!(stage(at("2026-12-03T12:00:00Z"), now, m), Some(NEAR));
        assert_eq!(stage(at("2026-11-30T12:00:00Z"), now, m), Some(OVERDUE));
        assert_eq!(parse_glide("2026-12-03 12:00:00"), Some(at("2026-12-03T12:00:00Z")));
        assert_eq!(parse_glide("soon"), None);
    }

    #[test]
    fn each_kind_is_asked_for_by_its_own_key_among_open_tickets_only() {
        let horizon: Timestamp = "2017-08-03T00:00:00Z".parse().expect("t");
        assert_eq!(
            due_query(super::super::compliance::KEY_MARKER, horizon),
            "stateIN1,2,3^due_dateISNOTEMPTY^due_date<=2017-08-03 00:00:00^correlation_idLIKE/compliance/patch^ORDERBYdue_date"
        );
        assert!(due_query(VULNERABILITY_MARKER, horizon).contains("^correlation_idLIKE/vulnerability/^"));
    }
}
