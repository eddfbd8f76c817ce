//! `servicenow:` and `tickets:` → the desks (one per table, sharing creation claims, ADR 017)
//! and the four ServiceNow sinks: `incident`, `resolve`, `inspector-ticket`, `escalate`.
//! [`register_desks`] is the one place they are registered, for the running bridge and for
//! [`super::ServiceNowSink`] alike.

use std::sync::Arc;
use std::time::Duration;

use patchplane_bridge_config::TicketsConfig;

use super::escalation::EscalationSink;
use super::vulnerability::VulnerabilitySink;
use super::{Assignment, Desk, IncidentSink, Lifecycle, ResolveSink};
use crate::config::Action;
use crate::sinks::notify::DigestBoard;
use crate::sinks::{Builder, Clock, Sinks};
use crate::start::{self, StartError, s3_client};
use crate::windows::NextWindow;

/// How long a task that claimed a ticket creation and died blocks it: longer than a create
/// takes with ServiceNow's retries (ADR 017).
const CREATE_LEASE: Duration = Duration::from_secs(60);

/// Builds the desks and registers the ServiceNow sinks (every bridge has `servicenow:`).
pub fn register(b: &mut Builder<'_>) -> Result<(), StartError> {
    let cfg = b.cfg;
    let assignment = Assignment {
        default_group: cfg.servicenow.assignment_group.clone(),
        owner_groups: cfg.servicenow.owner_groups.clone(),
    };
    let t = &cfg.tickets;
    let lifecycle = Lifecycle {
        close_code: t.close_code.clone(),
        reopen_period: jiff::SignedDuration::from_hours(24 * i64::from(t.reopen_days)),
    };
    // Creation claims (ADR 017), shared by both tables' desks: the claim names the key, and the
    // tables' keys never collide (a finding's key is not a failure's).
    let claims: Option<Arc<dyn crate::claims::Claims>> = match &cfg.servicenow.claims_bucket {
        Some(_) => Some(Arc::new(crate::claims::S3Claims::new(
            s3_client(b.sdk),
            b.resolved.get("servicenow.claims_bucket")?.to_owned(),
            "tickets/",
            CREATE_LEASE,
        ))),
        None => None,
    };
    let desk = |client, assignment, lifecycle| {
        let d = Desk::new(client, assignment, lifecycle);
        match &claims {
            Some(c) => d.with_create_claims(c.clone()),
            None => d,
        }
    };
    let incidents = Arc::new(desk(
        start::servicenow(cfg, b.resolved)?,
        assignment.clone(),
        lifecycle.clone(),
    ));
    let tickets = if t.table == cfg.servicenow.table {
        incidents.clone()
    } else {
        Arc::new(desk(
            start::servicenow_for(cfg, b.resolved, &t.table)?,
            assignment,
            lifecycle,
        ))
    };
    let notify = b.board.as_ref().map(|(board, _)| (board.clone(), b.default_owner()));
    b.sinks = register_desks(
        std::mem::take(&mut b.sinks),
        incidents,
        tickets,
        t,
        b.windows.clone(),
        b.clock.clone(),
        notify,
    );
    Ok(())
}

/// Registers `incident` and `resolve` over `incidents`, `inspector-ticket` over `tickets` (the
/// same desk when both live in one table), and `escalate` over both: vulnerability tickets in
/// `tickets`, non-compliance incidents in `incidents`. Escalations post notices to `notify`'s
/// board, addressed to the ticket's group or the default owner.
pub fn register_desks(
    sinks: Sinks,
    incidents: Arc<Desk>,
    tickets: Arc<Desk>,
    t: &TicketsConfig,
    windows: Option<Arc<dyn NextWindow>>,
    clock: Clock,
    notify: Option<(Arc<DigestBoard>, String)>,
) -> Sinks {
    let mut escalation = EscalationSink::new(tickets.clone(), t, clock.clone()).with_compliance(incidents.clone());
    if let Some((board, default_owner)) = notify {
        escalation = escalation.with_notify(board, default_owner);
    }
    sinks
        .with(Action::Incident, Arc::new(IncidentSink::new(incidents.clone(), t)))
        .with(Action::Resolve, Arc::new(ResolveSink(incidents)))
        .with(
            Action::InspectorTicket,
            Arc::new(VulnerabilitySink::new(tickets, t, windows, clock)),
        )
        .with(Action::Escalate, Arc::new(escalation))
}
