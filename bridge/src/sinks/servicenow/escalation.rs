//! `escalate`: the sweep. On each tick (the central stack's schedule sends one to the queue every
//! `tickets.sweep_minutes`, so one bridge task sweeps per tick), one query finds the open
//! vulnerability tickets whose due date is within `tickets.escalate_before_days` or past, and each
//! is escalated once per stage: `escalation` 2 (High) when near, 3 (Overdue) when past, urgency
//! raised, a work note. The stage is recorded on the ticket itself, so a later tick, a redelivered
//! tick or another task finds it done; before writing, the sink reads the row again under the
//! key's lock and writes only if the stage is still missing (ADR 012).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use patchplane::bridge_config::TicketsConfig;
use patchplane_integrations::retry::Failure;
use patchplane_integrations::servicenow::{Incident, state};
use serde_json::json;

use super::{Desk, failed};
use crate::decode::Decoded;
use crate::enrich::Context;
use crate::outcome::Outcome;
use crate::sinks::{ActionSink, Clock, Delivery};

/// `escalation` when the due date is near.
pub const NEAR: u8 = 2;
/// `escalation` when it is past.
pub const OVERDUE: u8 = 3;

/// The sink.
pub struct EscalationSink {
    desk: Arc<Desk>,
    margin: SignedDuration,
    clock: Clock,
}

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// `due_date` as ServiceNow writes it (`YYYY-MM-DD HH:MM:SS`, UTC through the API).
fn parse_glide(s: &str) -> Option<Timestamp> {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
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
    /// A sweep through `desk` with `tickets:` settings and `clock`.
    pub fn new(desk: Arc<Desk>, tickets: &TicketsConfig, clock: Clock) -> Self {
        Self {
            desk,
            margin: SignedDuration::from_hours(24 * i64::from(tickets.escalate_before_days)),
            clock,
        }
    }

    /// Escalates what is due; returns how many tickets moved a stage.
    pub async fn sweep(&self) -> Result<usize, Failure> {
        let now = (self.clock)();
        let horizon = now.checked_add(self.margin).unwrap_or(now);
        let query = format!(
            "{}^due_dateISNOTEMPTY^due_date<={}^correlation_idLIKE/vulnerability/^ORDERBYdue_date",
            state::OPEN_QUERY,
            horizon.strftime("%Y-%m-%d %H:%M:%S")
        );
        let mut escalated = 0;
        for row in self.desk.client.list(&query, 500).await? {
            // Never trust the filter: check every row against what was asked.
            let Some(due) = parse_glide(&row.due_date) else {
                continue;
            };
            let Some(stage) = stage(due, now, self.margin) else {
                continue;
            };
            if !row.is_open() || !row.correlation_id.contains("/vulnerability/") {
                continue;
            }
            if self.escalate(&row, stage, due).await? {
                escalated += 1;
            }
        }
        Ok(escalated)
    }

    async fn escalate(&self, row: &Incident, stage: u8, due: Timestamp) -> Result<bool, Failure> {
        let lock = self.desk.lock_for(&row.correlation_id);
        let _held = lock.lock().await;
        // The row as it is now, not as the sweep's query saw it.
        let Some(current) = self.desk.client.latest_with_key(&row.correlation_id).await? else {
            return Ok(false);
        };
        let recorded: u8 = current.escalation.parse().unwrap_or(0);
        if current.sys_id != row.sys_id || !current.is_open() || recorded >= stage {
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
        let back = self
            .desk
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
            tracing::warn!(number = %back.number, stage, "Escalation not recorded on the ticket; it will be tried again next sweep");
        }
        Ok(true)
    }
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
}
