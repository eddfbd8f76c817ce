//! ServiceNow sinks: incidents for failed patching, their resolution when the fix lands,
//! vulnerability tickets that follow their Inspector finding, and the escalation sweep.
//!
//! Every sink works through a [`Desk`]: one Table API client, who tickets are assigned to, and a
//! lock per correlation key, so the workers of one process never race each other on a key (ADR
//! 007 settles races between processes). What a sink does to a ticket is decided by
//! [`lifecycle::decide`] from the newest ticket for the key and the event's time (ADR 012).
//! A failure the client classifies as retryable (429, 5xx, timeouts) is [`Outcome::Retry`]; any
//! other is [`Outcome::Reject`].
//!
//! - [`IncidentSink`] (`incident`), [`ResolveSink`] (`resolve`): here; a node's Patch
//!   non-compliance incident falls due by [`compliance`]'s SLA.
//! - [`vulnerability::VulnerabilitySink`] (`inspector-ticket`): tickets per (account, node,
//!   vulnerability) with packages, due date and next window.
//! - [`escalation::EscalationSink`] (`escalate`): the sweep over vulnerability tickets and
//!   non-compliance incidents near or past due.
//! - [`ServiceNowSink`]: all of them over one client, for tests and single-table setups.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use patchplane_bridge_config::{SlaDays, TicketsConfig};
use patchplane_integrations::retry::Failure;
use patchplane_integrations::servicenow::{Client, Incident, NewIncident, state};
use serde_json::{Map, Value as Json, json};

use self::lifecycle::{Step, Want, decide};
use super::common::{event_time, failed, summary};
use super::{ActionSink, Delivery, Sink, Sinks};
use crate::decode::{Decoded, Event};
use crate::enrich::Context;
use crate::gather::Gather;
use crate::outcome::Outcome;
use crate::route::Action;

pub mod compliance;
pub mod config;
pub mod escalation;
pub mod lifecycle;
pub mod vulnerability;

/// Who incidents are assigned to.
#[derive(Debug, Clone, Default)]
pub struct Assignment {
    /// When the owner has no entry in `owner_groups` (or there is no owner).
    pub default_group: Option<String>,
    /// Owner tag value → assignment group.
    pub owner_groups: BTreeMap<String, String>,
}

impl Assignment {
    /// The group for `ctx`: the owner's entry in `owner_groups`, else the group a CMDB named
    /// for the owner, else the default group.
    pub fn group(&self, ctx: &Context) -> Option<String> {
        ctx.owner
            .as_ref()
            .and_then(|o| self.owner_groups.get(o))
            .or(ctx.owner_group.as_ref())
            .or(self.default_group.as_ref())
            .cloned()
    }
}

/// How the bridge resolves and reopens (`tickets:` of `bridge.yaml`).
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// `close_code` of resolutions.
    pub close_code: String,
    /// A resolved ticket failing again within this period is reopened.
    pub reopen_period: SignedDuration,
}

impl Default for Lifecycle {
    fn default() -> Self {
        let t = patchplane_bridge_config::TicketsConfig::default();
        Self {
            close_code: t.close_code,
            reopen_period: SignedDuration::from_hours(24 * i64::from(t.reopen_days)),
        }
    }
}

/// One table, as the sinks use it.
pub struct Desk {
    client: Client,
    assignment: Assignment,
    lifecycle: Lifecycle,
    /// One lock per correlation key in flight: workers of this process deliver one key at a time,
    /// so they never race each other into two creates.
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Claims every task sees, taken before a create (ADR 017): of two tasks about to create a
    /// ticket for one key, one creates and the other comes back later and finds it.
    creates: Option<Arc<dyn crate::claims::Claims>>,
    /// The newest row per key, looked up together for the keys of messages delivered together.
    latest: Gather<(), String, Option<Incident>, Failure>,
    /// Open rows per key (ADR 007's check after a create), looked up together likewise.
    open: Gather<(), String, Vec<Incident>, Failure>,
}

/// Most keys in one gathered lookup (the query's `IN` list).
const GATHER_KEYS: usize = 50;

/// Open rows ADR 007's check reads per key.
const OPEN_ROWS: usize = 10;

/// How long ADR 007's check after a create waits for the checks of other creates to go out
/// with it: the creates of a receive end one after the other, a few milliseconds apart.
const CHECK_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

impl Desk {
    /// A desk over `client`.
    pub fn new(client: Client, assignment: Assignment, lifecycle: Lifecycle) -> Self {
        Self {
            client,
            assignment,
            lifecycle,
            keys: Default::default(),
            creates: None,
            latest: Gather::new(GATHER_KEYS),
            open: Gather::new(GATHER_KEYS).with_window(CHECK_WINDOW),
        }
    }

    /// The newest row carrying `key` ([`Client::latest_with_key`]), asked in one query with the
    /// keys other messages ask for at the same moment ([`crate::gather`]).
    async fn latest_with_key(&self, key: &str) -> Result<Option<Incident>, Failure> {
        let answer = self
            .latest
            .ask((), key.to_owned(), |keys| async move {
                self.client.latest_with_keys(&keys).await
            })
            .await?;
        match answer.get(key) {
            Some(found) => Ok(found.clone()),
            None => self.client.latest_with_key(key).await,
        }
    }

    /// Open rows carrying `key`, oldest first ([`Client::open_with_key`]), gathered likewise.
    async fn open_with_key(&self, key: &str) -> Result<Vec<Incident>, Failure> {
        let answer = self
            .open
            .ask((), key.to_owned(), |keys| async move {
                self.client.open_with_keys(&keys, OPEN_ROWS).await
            })
            .await?;
        match answer.get(key) {
            Some(rows) => Ok(rows.clone()),
            None => self.client.open_with_key(key, OPEN_ROWS).await,
        }
    }

    /// Creates only after claiming the key's creation in `claims` (ADR 017).
    pub fn with_create_claims(mut self, claims: Arc<dyn crate::claims::Claims>) -> Self {
        self.creates = Some(claims);
        self
    }

    /// Claims the creation `step` makes for `key`: `Ok(None)` with no claim store, `Ok(Some)` with
    /// the claim to finish once created, or a retryable failure while another task creates.
    async fn claim_create(&self, key: &str, step: &Step) -> Result<Option<String>, Failure> {
        let Some(claims) = &self.creates else { return Ok(None) };
        // One claim per creation: the first ticket of a key, or the one after a closed ticket.
        let claim = match step {
            Step::CreateAfter { previous } => format!("{key}/after-{previous}"),
            _ => format!("{key}/first"),
        };
        match claims.claim(&claim).await? {
            crate::claims::Claimed::Won => Ok(Some(claim)),
            crate::claims::Claimed::Held | crate::claims::Claimed::Done => Err(Failure {
                status: None,
                message: format!("another bridge task is creating the ticket of {key}; it is read again later"),
                retry_after: None,
            }),
        }
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.keys.lock() {
            Ok(mut m) => {
                // Forget locks nobody holds, so the map stays as small as the work in flight.
                m.retain(|_, l| Arc::strong_count(l) > 1);
                m.entry(key.to_owned()).or_default().clone()
            }
            Err(_) => Arc::default(),
        }
    }

    /// Carries out what [`decide`] says for `key`, holding the key's lock. `new` and `extra`
    /// describe a ticket to open; `note` reports the event; `fixed` is the resolution's note.
    /// `due`: the due date the event asks for, kept as [`compliance`] says (set when the ticket
    /// opens or reopens, moved only earlier by a newer event); `None` leaves `due_date` alone.
    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        key: &str,
        want: Want,
        at: Timestamp,
        record_fixed: bool,
        due: Option<Timestamp>,
        new: impl FnOnce() -> (NewIncident, Map<String, Json>),
        note: &str,
        fixed: &str,
    ) -> Result<(), Failure> {
        let lock = self.lock_for(key);
        let _held = lock.lock().await;
        let latest = self.latest_with_key(key).await?;
        let stamp = at.to_string();
        let step = decide(latest.as_ref(), want, at, self.lifecycle.reopen_period, record_fixed);
        let sys_id = latest.as_ref().map(|t| t.sys_id.as_str()).unwrap_or_default();
        match step {
            Step::Create | Step::CreateAfter { .. } | Step::CreateResolved => {
                let (mut new, mut extra) = new();
                extra.insert("correlation_display".into(), stamp.clone().into());
                if let Some(due) = due {
                    extra.insert("due_date".into(), glide(due).into());
                }
                if let Step::CreateAfter { previous } = &step {
                    new.description = format!(
                        "Follows {previous}, which is closed or was resolved long ago.\n\n{}",
                        new.description
                    );
                }
                if step == Step::CreateResolved {
                    extra.insert("state".into(), state::RESOLVED.into());
                    extra.insert("close_code".into(), self.lifecycle.close_code.clone().into());
                    extra.insert("close_notes".into(), fixed.into());
                }
                let claim = self.claim_create(key, &step).await?;
                let known = latest.as_ref().map(|t| t.sys_id.as_str());
                let create = self.create(key, &new, extra, known, note, &stamp);
                match (&self.creates, &claim) {
                    (Some(claims), Some(claim)) => {
                        // The claim lives as long as the create does (retries and a slow
                        // instance included), so no other task creates meanwhile (ADR 017).
                        tokio::pin!(create);
                        tokio::select! {
                            created = &mut create => created?,
                            () = crate::claims::hold(claims.as_ref(), claim) => {
                                tracing::warn!(%key, "Creation claim taken over while creating; ADR 007's check settles a race");
                                create.await?
                            }
                        };
                    }
                    _ => {
                        create.await?;
                    }
                }
                if let (Some(claims), Some(claim)) = (&self.creates, claim)
                    && let Err(e) = claims.finish(&claim).await
                {
                    // The ticket exists, so every later event finds it; the lease only expires.
                    tracing::warn!(%key, error = %e, "Creation claim not marked done");
                }
            }
            Step::Note => match due
                .zip(latest.as_ref())
                .and_then(|(due, t)| compliance::earlier(t, due))
            {
                // One write: the note, the event's time and the earlier due date together.
                Some(due) => {
                    self.client
                        .patch(
                            sys_id,
                            json!({ "work_notes": note, "correlation_display": stamp, "due_date": glide(due) }),
                        )
                        .await?;
                }
                None => {
                    self.client.note(sys_id, note, &stamp).await?;
                }
            },
            Step::Reopen => match due {
                // A new spell: a fresh due date and no escalation yet, in the reopen's own write,
                // so a retry never finds the reopen done and the date missing.
                Some(due) => {
                    self.client
                        .patch(
                            sys_id,
                            json!({
                                "state": state::IN_PROGRESS,
                                "work_notes": format!("Reopened: {note}"),
                                "correlation_display": stamp,
                                "due_date": glide(due),
                                "escalation": "0",
                            }),
                        )
                        .await?;
                }
                None => {
                    self.client.reopen(sys_id, &format!("Reopened: {note}"), &stamp).await?;
                }
            },
            Step::Resolve => {
                self.client
                    .resolve(sys_id, &self.lifecycle.close_code, fixed, &stamp)
                    .await?;
            }
            Step::Restamp => {
                self.client
                    .patch(sys_id, json!({ "correlation_display": stamp }))
                    .await?;
            }
            Step::Nothing(why) => tracing::debug!(%key, why, "Ticket unchanged"),
        }
        Ok(())
    }

    /// Creates a ticket for `key` (once, even if an attempt goes unanswered: `known` is the
    /// key's newest row before it), then settles a race with another bridge as ADR 007 does: if an
    /// older open ticket with the key exists, this one is canceled as its duplicate and the older
    /// one gets the note. A ticket created resolved is not checked (the check lists open rows):
    /// without a claims bucket, one created beside an open one is left (ADR 017's amendment).
    async fn create(
        &self,
        key: &str,
        new: &NewIncident,
        extra: Map<String, Json>,
        known: Option<&str>,
        note: &str,
        stamp: &str,
    ) -> Result<Incident, Failure> {
        let created = self.client.create_once(key, new, extra, known).await?;
        let open = self.open_with_key(key).await?;
        match open.first() {
            Some(oldest) if oldest.sys_id != created.sys_id && open.iter().any(|i| i.sys_id == created.sys_id) => {
                self.client.close_duplicate(&created, oldest).await?;
                self.client.note(&oldest.sys_id, note, stamp).await?;
                Ok(oldest.clone())
            }
            _ => Ok(created),
        }
    }

    /// Resolves every open ticket with `prefix`…`suffix` whose recorded time is not after `at`.
    async fn resolve_matching(&self, prefix: &str, suffix: &str, at: Timestamp, note: &str) -> Result<usize, Failure> {
        let stamp = at.to_string();
        let mut n = 0;
        for t in self.client.open_with_prefix(prefix, suffix).await? {
            let lock = self.lock_for(&t.correlation_id);
            let _held = lock.lock().await;
            if self::lifecycle::stamp(&t).is_some_and(|r| r > at) {
                continue;
            }
            self.client
                .resolve(&t.sys_id, &self.lifecycle.close_code, note, &stamp)
                .await?;
            n += 1;
        }
        Ok(n)
    }
}

/// `due_date` as ServiceNow writes it (`YYYY-MM-DD HH:MM:SS`, UTC through the API).
pub fn parse_glide(s: &str) -> Option<Timestamp> {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// ServiceNow's date-time format for `due_date` (UTC through the API).
pub(crate) fn glide(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// The incident's body: the event, and what enrichment knows of the node.
pub fn description(d: &Decoded, ctx: &Context) -> String {
    let e = &d.envelope;
    let mut out = format!(
        "Event {} ({}) from account {} in {} at {}.\nResources: {}",
        e.id,
        e.detail_type,
        e.account,
        e.region,
        e.time,
        e.resources.join(", ")
    );
    out.push_str(&node_lines(ctx));
    out
}

/// What enrichment knows of the node, one line each.
pub fn node_lines(ctx: &Context) -> String {
    let mut out = String::new();
    let known = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    if let Some(node) = &ctx.node {
        out.push_str(&format!(
            "\nNode: {node}\nPatch group: {}\nRing: {}\nBaseline: {}\nOwner: {}",
            known(&ctx.patch_group),
            known(&ctx.ring),
            known(&ctx.baseline),
            known(&ctx.owner)
        ));
        if let Some(name) = ctx.tags.get("Name") {
            out.push_str(&format!("\nName: {name}"));
        }
    }
    out
}

/// `cmdb_ci` when a CMDB named the node's CI.
pub fn ci_field(ctx: &Context) -> Map<String, Json> {
    let mut m = Map::new();
    if let Some(ci) = &ctx.ci {
        m.insert("cmdb_ci".into(), ci.clone().into());
    }
    m
}

fn urgency(d: &Decoded) -> u8 {
    match d.event.severity() {
        Some(s) if s.eq_ignore_ascii_case("critical") => 1,
        _ => 2,
    }
}

/// `incident`: a failure opens (or notes, or reopens) the incident of its correlation key; a
/// node's Patch non-compliance falls due by `tickets.compliance_sla_days` ([`compliance`]).
pub struct IncidentSink {
    desk: Arc<Desk>,
    compliance_sla: SlaDays,
}

impl IncidentSink {
    /// A sink writing through `desk` with `tickets:` settings.
    pub fn new(desk: Arc<Desk>, tickets: &TicketsConfig) -> Self {
        Self {
            desk,
            compliance_sla: tickets.compliance_sla(),
        }
    }

    async fn deliver(&self, d: &Decoded, ctx: &Context) -> Outcome {
        let at = match event_time(d) {
            Ok(t) => t,
            Err(e) => return Outcome::Reject(e),
        };
        let desk = &self.desk;
        let due = compliance::due(d, at, &self.compliance_sla);
        let u = urgency(d);
        // Its own reason, when enrichment found one (the pre-patch health check's).
        let short = match &ctx.reason {
            Some(r) => format!("[patchplane] {r} ({} {})", d.envelope.account, d.envelope.region),
            None => summary(d),
        };
        let new = || {
            let mut body = description(d, ctx);
            if let Some(due) = &due {
                body.push_str(&format!(
                    "\nDue: {} ({} days for {} from the first non-compliance, {at})",
                    due.at, due.days, due.severity
                ));
            }
            (
                NewIncident {
                    short_description: short.clone(),
                    description: body,
                    urgency: u,
                    impact: u,
                    assignment_group: desk.assignment.group(ctx),
                },
                ci_field(ctx),
            )
        };
        let note = format!("{short} (event {} at {})", d.envelope.id, d.envelope.time);
        match desk
            .apply(
                &d.correlation_key(),
                Want::Open,
                at,
                false,
                due.as_ref().map(|d| d.at),
                new,
                &note,
                "",
            )
            .await
        {
            Ok(()) => Outcome::Delivered,
            Err(f) => failed(f),
        }
    }
}

impl ActionSink for IncidentSink {
    fn deliver<'a>(&'a self, d: &'a Decoded, ctx: &'a Context) -> Delivery<'a> {
        Box::pin(IncidentSink::deliver(self, d, ctx))
    }
}

/// `resolve`: a success resolves what it fixes. A `compliant` Patch state resolves the node's
/// non-compliance incident; a successful window execution resolves the open incidents of that
/// window's failed executions (and their tasks and targets) in the same account and region; a
/// successful patch command on a node resolves that node's failed-command incidents.
pub struct ResolveSink(pub Arc<Desk>);

impl ResolveSink {
    async fn deliver(&self, d: &Decoded, ctx: &Context) -> Outcome {
        let at = match event_time(d) {
            Ok(t) => t,
            Err(e) => return Outcome::Reject(e),
        };
        let e = &d.envelope;
        let scope = format!("{}/{}", e.account, e.region);
        let desk = &self.0;
        let result = match &d.event {
            Event::Compliance(c) => {
                let note = format!(
                    "{} reported {} for {} at {} (event {}).",
                    c.resource_id, c.compliance_status, c.compliance_type, e.time, e.id
                );
                let new = || (NewIncident::default(), Map::new());
                desk.apply(&d.correlation_key(), Want::Fixed, at, false, None, new, &note, &note)
                    .await
                    .map(|()| 0)
            }
            Event::WindowExecution(w) => {
                let note = format!(
                    "Resolved by the successful execution {} of window {} at {}.",
                    w.window_execution_id, w.window_id, e.time
                );
                desk.resolve_matching(&format!("{scope}/{}/", w.window_id), "", at, &note)
                    .await
            }
            Event::CommandInvocation(c) => {
                let note = format!(
                    "Resolved by the successful {} command {} on {} at {}.",
                    c.document_name, c.command_id, c.instance_id, e.time
                );
                desk.resolve_matching(&format!("{scope}/command/"), &format!("/{}", c.instance_id), at, &note)
                    .await
            }
            Event::Task(t) => {
                let note = format!(
                    "Resolved by task {} of {}, which succeeded at {}.",
                    t.task_arn, t.group, e.time
                );
                let new = || (NewIncident::default(), Map::new());
                desk.apply(&d.correlation_key(), Want::Fixed, at, false, None, new, &note, &note)
                    .await
                    .map(|()| 0)
            }
            // A rule routed something else to `resolve`: there is nothing it could fix.
            _ => Ok(0),
        };
        let _ = ctx;
        match result {
            Ok(_) => Outcome::Delivered,
            Err(f) => failed(f),
        }
    }
}

impl ActionSink for ResolveSink {
    fn deliver<'a>(&'a self, d: &'a Decoded, ctx: &'a Context) -> Delivery<'a> {
        Box::pin(ResolveSink::deliver(self, d, ctx))
    }
}

/// Every ServiceNow sink over one client and default ticket settings: incidents, resolutions,
/// vulnerability tickets and escalations in the client's table.
pub struct ServiceNowSink(Sinks);

impl ServiceNowSink {
    /// The sinks over `client`, registered as the running bridge registers them
    /// ([`config::register_desks`]).
    pub fn new(client: Client, assignment: Assignment) -> Self {
        let desk = Arc::new(Desk::new(client, assignment, Lifecycle::default()));
        let tickets = patchplane_bridge_config::TicketsConfig::default();
        Self(config::register_desks(
            Sinks::new(),
            desk.clone(),
            desk,
            &tickets,
            None,
            super::common::system_clock(),
            None,
        ))
    }
}

impl Sink for ServiceNowSink {
    fn deliver(&self, d: &Decoded, ctx: &Context, action: Action) -> impl Future<Output = Outcome> + Send {
        self.0.deliver(d, ctx, action)
    }
}

#[cfg(test)]
mod claim_tests {
    use std::sync::Mutex;

    use patchplane_integrations::servicenow::{Auth, Config};

    use super::*;
    use crate::claims::{ClaimFuture, Claimed, Claims};

    /// Answers every claim with `answer` and records what was claimed.
    struct Fixed {
        answer: Claimed,
        asked: Mutex<Vec<String>>,
    }

    impl Claims for Fixed {
        fn claim<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, Claimed> {
            if let Ok(mut a) = self.asked.lock() {
                a.push(key.to_owned());
            }
            let answer = self.answer.clone();
            Box::pin(async move { Ok(answer) })
        }
        fn finish<'a>(&'a self, _: &'a str) -> ClaimFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn renew<'a>(&'a self, _: &'a str) -> ClaimFuture<'a, bool> {
            Box::pin(async { Ok(true) })
        }
        fn renew_every(&self) -> std::time::Duration {
            std::time::Duration::from_secs(3600)
        }
    }

    fn desk(answer: Claimed) -> (Desk, Arc<Fixed>) {
        let client = Client::new(Config {
            base_url: "http://127.0.0.1:9".into(),
            table: "incident".into(),
            auth: Auth::Basic {
                user: "u".into(),
                password: "p".into(),
            },
            timeout: std::time::Duration::from_secs(1),
            retry: Default::default(),
            batch_writes: true,
        })
        .expect("client");
        let claims = Arc::new(Fixed {
            answer,
            asked: Mutex::default(),
        });
        let assignment = Assignment {
            default_group: None,
            owner_groups: Default::default(),
        };
        (
            Desk::new(client, assignment, Lifecycle::default()).with_create_claims(claims.clone()),
            claims,
        )
    }

    #[tokio::test]
    async fn a_creation_is_claimed_per_key_and_predecessor_and_waits_while_another_task_holds_it() {
        let (d, claims) = desk(Claimed::Won);
        assert_eq!(
            d.claim_create("k", &Step::Create).await.expect("won"),
            Some("k/first".into())
        );
        let after = Step::CreateAfter {
            previous: "INC0010001".into(),
        };
        assert_eq!(
            d.claim_create("k", &after).await.expect("won"),
            Some("k/after-INC0010001".into()),
            "a new ticket after a closed one is a creation of its own"
        );
        assert_eq!(claims.asked.lock().map(|a| a.len()).unwrap_or(0), 2);
        for answer in [Claimed::Held, Claimed::Done] {
            let (d, _) = desk(answer);
            let f = d.claim_create("k", &Step::CreateResolved).await.expect_err("not ours");
            assert!(f.is_retryable(), "the message comes back and finds the ticket: {f}");
        }
        let mut plain = d;
        plain.creates = None;
        assert_eq!(plain.claim_create("k", &Step::Create).await.expect("no store"), None);
    }
}
