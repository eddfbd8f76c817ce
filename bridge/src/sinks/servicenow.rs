//! The ServiceNow sink: incidents and Inspector-linked tickets.
//!
//! Both go to ServiceNow, keyed by the event's correlation
//! key (an Inspector ticket by its finding ARN), so a redelivered or repeated event updates the
//! open incident with a work note instead of opening another. A failure the client classifies as
//! retryable (429, 5xx, timeouts) is [`Outcome::Retry`]; any other is [`Outcome::Reject`].

use patchplane_integrations::retry::Failure;
use patchplane_integrations::servicenow::{Client, NewIncident, Upserted};

use std::collections::BTreeMap;

use super::{ActionSink, Delivery};
use crate::decode::{Decoded, Event};
use crate::enrich::Context;
use crate::outcome::Outcome;

/// Who incidents are assigned to.
#[derive(Debug, Clone, Default)]
pub struct Assignment {
    /// When the owner has no entry in `owner_groups` (or there is no owner).
    pub default_group: Option<String>,
    /// Owner tag value → assignment group.
    pub owner_groups: BTreeMap<String, String>,
}

impl Assignment {
    /// The group for `ctx`.
    pub fn group(&self, ctx: &Context) -> Option<String> {
        ctx.owner
            .as_ref()
            .and_then(|o| self.owner_groups.get(o))
            .or(self.default_group.as_ref())
            .cloned()
    }
}

/// ServiceNow incidents for `incident` and `inspector-ticket` actions.
pub struct ServiceNowSink {
    client: Client,
    assignment: Assignment,
    /// One lock per correlation key in flight: workers of this process deliver one key at a time,
    /// so they never race each other into two creates.
    keys: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl ServiceNowSink {
    /// Wraps a client.
    pub fn new(client: Client, assignment: Assignment) -> Self {
        Self {
            client,
            assignment,
            keys: Default::default(),
        }
    }

    fn lock_for(&self, key: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        match self.keys.lock() {
            Ok(mut m) => {
                // Forget locks nobody holds, so the map stays as small as the work in flight.
                m.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
                m.entry(key.to_owned()).or_default().clone()
            }
            Err(_) => std::sync::Arc::default(),
        }
    }
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
        Event::Finding(f) => format!("{} {}: {}", f.severity, f.kind, f.title),
    };
    format!("[patchplane] {what} ({} {})", e.account, e.region)
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

fn outcome(r: Result<Upserted, Failure>) -> Outcome {
    match r {
        Ok(_) => Outcome::Delivered,
        Err(f) if f.is_retryable() => Outcome::Retry(f.to_string()),
        Err(f) => Outcome::Reject(f.to_string()),
    }
}

impl ServiceNowSink {
    async fn upsert(&self, d: &Decoded, ctx: &Context) -> Outcome {
        let (urgency, impact) = match d.event.severity() {
            Some(s) if s.eq_ignore_ascii_case("critical") => (1, 1),
            _ => (2, 2),
        };
        let new = NewIncident {
            short_description: summary(d),
            description: description(d, ctx),
            urgency,
            impact,
            assignment_group: self.assignment.group(ctx),
        };
        let note = format!("{} (event {} at {})", summary(d), d.envelope.id, d.envelope.time);
        let key = d.correlation_key();
        let lock = self.lock_for(&key);
        let _held = lock.lock().await;
        outcome(self.client.upsert(&key, &new, &note).await)
    }
}

/// Registered for `incident` and `inspector-ticket`: both are incidents keyed by correlation key.
impl ActionSink for ServiceNowSink {
    fn deliver<'a>(&'a self, d: &'a Decoded, ctx: &'a Context) -> Delivery<'a> {
        Box::pin(self.upsert(d, ctx))
    }
}
