//! The central account's stack (`central/`): the event bus member rules forward to, the queue the
//! bridge consumes with its two dead-letter queues, the evidence bucket, and the bridge service.

use super::window::WindowPlan;
use serde::Serialize;

use super::bridge::{self, BridgePlan};
use super::names::central_bus_name;
use super::patching::EvidencePlan;
use crate::policy::{EventSource, Policy};

/// The central stack: bus, queue, dead-letter queues, evidence bucket.
#[derive(Debug, Clone, Serialize)]
pub struct CentralPlan {
    /// Folder below the output directory.
    pub dir: String,
    /// Stack name.
    pub stack_name: String,
    /// Template description.
    pub description: String,
    /// Organization id admitted by the bus and bucket policies.
    pub org_id: String,
    /// Central bus name.
    pub bus_name: String,
    /// Event sources the central rule sends to the queue.
    pub sources: Vec<&'static str>,
    /// Queue the bridge consumes.
    pub queue_name: String,
    /// Dead-letter queue of the bridge's queue (poison messages after `max_receive_count`).
    pub dlq_name: String,
    /// Dead-letter queue of the rule target (events EventBridge could not deliver).
    pub undeliverable_name: String,
    /// Receives before a message goes to the dead-letter queue.
    pub max_receive_count: u32,
    /// Evidence bucket and prefixes.
    pub evidence: EvidencePlan,
    /// Days before evidence expires.
    pub retention_days: i64,
    /// Account and region it is deployed to.
    pub account: String,
    /// Region.
    pub region: String,
    /// The bridge service, when the policy has `central.bridge`.
    pub bridge: Option<BridgePlan>,
}

/// The central stack of a policy; `evidence` is the member StackSet's, so both name one bucket.
pub(super) fn build(p: &Policy, evidence: &EvidencePlan, windows: &[WindowPlan]) -> CentralPlan {
    let bus_name = central_bus_name(&p.name);
    CentralPlan {
        dir: "central".to_owned(),
        stack_name: format!("{}-patch-central", p.name),
        description: format!(
            "patchplane central account for policy {}: event bus, queue for the bridge, evidence bucket",
            p.name
        ),
        org_id: p.organization.id.clone(),
        queue_name: bus_name.clone(),
        dlq_name: format!("{bus_name}-dlq"),
        undeliverable_name: format!("{bus_name}-undeliverable"),
        bus_name,
        // The central rule matches whatever member rules forward, whatever the policy says
        // today, so a source switched off later still drains.
        sources: vec![
            EventSource::Ssm.as_str(),
            EventSource::Inspector2.as_str(),
            super::install::GATE_EVENT_SOURCE,
        ],
        max_receive_count: 5,
        evidence: evidence.clone(),
        retention_days: p.evidence.retention_days,
        account: p.central.account.clone(),
        region: p.central.region.clone(),
        bridge: p.central.bridge.as_ref().map(|b| bridge::build(p, b, windows)),
    }
}
