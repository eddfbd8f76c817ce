//! What every sink uses, below all of them so no two sinks import each other: the clock, when an
//! event happened, its one-line summary, and a client failure as an outcome.

use std::sync::Arc;

use jiff::Timestamp;
use patchplane_integrations::retry::Failure;

use crate::decode::{Decoded, Event, inspector_time};
use crate::enrich::EnrichError;
use crate::outcome::Outcome;

/// The time now; tests set it.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// A client failure as an outcome.
pub fn failed(f: Failure) -> Outcome {
    if f.is_retryable() {
        Outcome::Retry(f.to_string())
    } else {
        Outcome::Reject(f.to_string())
    }
}

/// When the event happened, as tickets record it: Inspector's `updatedAt` for findings (a
/// finding's status changes are updates of one finding), else the envelope's `time`.
pub fn event_time(d: &Decoded) -> Result<Timestamp, String> {
    if let Event::Finding(f) = &d.event
        && let Some(t) = f.updated_at.as_deref().and_then(inspector_time)
    {
        return Ok(t);
    }
    d.envelope
        .time
        .parse()
        .map_err(|_| format!("event time `{}` is not RFC 3339", d.envelope.time.escape_debug()))
}

/// One line for the incident, saying what and where.
pub fn summary(d: &Decoded) -> String {
    let e = &d.envelope;
    let what = match &d.event {
        Event::Command(c) => format!("Command {} ({}) {}", c.command_id, c.document_name, c.status),
        Event::CommandInvocation(c) => format!("{} on {} {}", c.document_name, c.instance_id, c.status),
        Event::WindowExecution(w) => format!("Maintenance window {} {}", w.window_id, w.status),
        Event::WindowTaskExecution(w) => format!("Maintenance window {} task {}", w.window_id, w.status),
        Event::WindowTargetInvocation(w) => format!("Maintenance window {} target {}", w.window_id, w.status),
        Event::Compliance(c) => format!("{} is {} for {}", c.resource_id, c.compliance_status, c.compliance_type),
        Event::Association(a) | Event::InstanceAssociation(a) => {
            format!("Association {} {}", a.association_id, a.status)
        }
        Event::Finding(f) => match (&f.vulnerability_id, f.node(), f.packages.first()) {
            (Some(v), Some(node), Some(p)) => format!("{} {v} on {node}: {}", f.severity, p.name),
            _ => format!("{} {}: {}", f.severity, f.kind, f.title),
        },
        Event::Gate(g) => match g.decision.as_str() {
            "HELD" => format!("Ring {} held for {}: {}", g.ring, g.patch_group, g.reason),
            other => format!("Ring {} gate {other} for {}: {}", g.ring, g.patch_group, g.reason),
        },
        Event::Task(t) => match t.outcome() {
            "FAILED" => format!("Scheduled task {} failed: {}", t.group, t.why()),
            other => format!("Scheduled task {} {other}", t.group),
        },
        Event::Sweep { .. } => "Escalation sweep".to_owned(),
    };
    format!("[patchplane] {what} ({} {})", e.account, e.region)
}

/// An enrichment failure (a node or owner lookup) as a client failure: retryable stays
/// retryable, anything else reads as a refusal.
pub fn enrich_failure(e: EnrichError) -> Failure {
    Failure {
        status: if e.retryable { None } else { Some(403) },
        message: format!("{}: {}", e.node, e.message),
        retry_after: None,
    }
}

/// What a sink driven by the sweep's tick (window notices, exception notices) answers for `d`:
/// any other event is not its business; a tick that failed retryably comes back (what went out
/// is done: claimed and finished), a refusal does not get better by retrying this tick, so the
/// message is acknowledged, the next tick tries again, and the log says why (`what` names it).
pub async fn on_sweep<T>(d: &Decoded, what: &'static str, tick: impl Future<Output = Result<T, Failure>>) -> Outcome {
    if !matches!(d.event, Event::Sweep { .. }) {
        return Outcome::Delivered;
    }
    match tick.await {
        Ok(_) => Outcome::Delivered,
        Err(f) if f.is_retryable() => Outcome::Retry(f.to_string()),
        Err(f) => {
            tracing::error!(error = %f, sink = what, "Notices failed");
            Outcome::Delivered
        }
    }
}
