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
    /// The scheduled monthly report, when the policy has `evidence.monthly_report`.
    pub report: Option<ReportPlan>,
    /// `patchplane patch-now`'s central runbook and administration role, with `patch_now:`.
    pub patch_now: Option<super::install::PatchNowPlan>,
}

/// The month that runs itself (`evidence.monthly_report`): an EventBridge Scheduler schedule runs
/// a task of the bridge's image, `patchplane report --month previous --publish`, on a day of each
/// month; a failed task (after its own retries) reaches the bridge as an ECS task state change.
#[derive(Debug, Clone, Serialize)]
pub struct ReportPlan {
    /// Task definition family, schedule and container name: `<bridge name>-monthly-report`.
    pub family: String,
    /// `cron(M H D * ? *)`.
    pub schedule: String,
    /// `ScheduleExpressionTimezone`.
    pub zone: String,
    /// The policy and its team files, as JSON `{"policy": …, "teams": {team: …}}` (the task's
    /// `PATCHPLANE_POLICY`: the image has no policy file).
    pub policy_json: String,
    /// The Slack webhook secret (a `central.bridge.secrets` name and ARN), when told too.
    pub webhook: Option<super::bridge::NamedSecret>,
    /// The `report` command line after the binary.
    pub command: Vec<String>,
    /// The tasks' `group` in ECS events: `family:<family>`.
    pub group: String,
}

/// The environment variable the scheduled report reads its policy from.
pub const REPORT_POLICY_ENV: &str = "PATCHPLANE_POLICY";

fn report(p: &Policy, evidence: &EvidencePlan, bridge: &BridgePlan) -> Option<ReportPlan> {
    let m = p.evidence.monthly_report.as_ref()?;
    let (hour, minute) = crate::resolve::parse_at(&m.at)?;
    let webhook = m
        .slack_webhook_secret
        .as_ref()
        .and_then(|name| bridge.secrets.iter().find(|s| &s.name == name).cloned());
    let mut command: Vec<String> = [
        "report",
        "--bucket",
        &evidence.bucket,
        "--prefix",
        evidence.sync_prefix,
        "--output-prefix",
        evidence.run_command_prefix,
        "--month",
        "previous",
        "--policy-env",
        REPORT_POLICY_ENV,
        "--out",
        "/tmp/report.csv",
        "--attempts",
        "3",
        "--publish",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if bridge.notify_topic.is_some() {
        // The topic's ARN comes from the environment at run time (the template's Ref).
        command.extend([
            "--notify-topic-env".to_owned(),
            "PATCHPLANE_NOTIFY_TOPIC_ARN".to_owned(),
        ]);
    }
    if let Some(w) = &webhook {
        command.extend(["--notify-webhook-env".to_owned(), w.name.clone()]);
    }
    Some(ReportPlan {
        family: format!("{}-monthly-report", bridge.name),
        group: format!("family:{}-monthly-report", bridge.name),
        schedule: format!("cron({minute} {hour} {} * ? *)", m.day),
        zone: m.zone.clone(),
        policy_json: serde_json::to_string(&serde_json::json!({
            "policy": p,
            "teams": p.teams.iter().map(|t| (t.team.clone(), t)).collect::<std::collections::BTreeMap<_, _>>(),
        }))
        .unwrap_or_default(),
        webhook,
        command,
    })
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
        report: None,
        patch_now: super::install::patch_now(p),
    }
    .with_report(p)
}

impl CentralPlan {
    fn with_report(mut self, p: &Policy) -> CentralPlan {
        self.report = self.bridge.as_ref().and_then(|b| report(p, &self.evidence, b));
        self
    }
}
