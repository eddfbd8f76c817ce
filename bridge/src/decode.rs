//! Decode: an EventBridge envelope (an SQS message body) into a typed patching event.
//!
//! The envelope is parsed with borrowed strings and a raw `detail`; the `detail-type` (not the
//! `source`, which one of AWS's own compliance samples sets to `aws.<account>`) picks the typed
//! detail it is read into. SSM details are kebab-case, Inspector's camelCase. State Manager events
//! carry JSON inside strings (`targets`, `association-status-aggregated-count`), which is parsed
//! too: a broken inner document is a decode error naming the field, not a panic.
//!
//! Nothing here panics on input. A body that is not an EventBridge event is
//! [`DecodeError::Malformed`]; a `detail-type` patchplane does not handle is
//! [`DecodeError::Unknown`] (recorded, not fatal); a known event whose detail lacks a field or has
//! one of the wrong type is [`DecodeError::BadDetail`] with the field's path.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// The EventBridge envelope, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Event id (unique per event, stable across SQS redeliveries).
    pub id: String,
    /// `detail-type`.
    pub detail_type: String,
    /// `source`.
    pub source: String,
    /// Account the event happened in.
    pub account: String,
    /// Region the event happened in.
    pub region: String,
    /// Event time (RFC 3339).
    pub time: String,
    /// Resource ARNs.
    pub resources: Vec<String>,
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    account: Cow<'a, str>,
    #[serde(borrow)]
    region: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(borrow)]
    detail: &'a RawValue,
}

/// `EC2 Command Status-change Notification`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommandStatus {
    /// Command id.
    pub command_id: String,
    /// Document, e.g. `AWS-RunPatchBaseline`.
    pub document_name: String,
    /// `Pending`, `InProgress`, `Success`, `Failed`, `TimedOut`, `Cancelled`, …
    pub status: String,
    /// When it was sent.
    pub requested_date_time: String,
    /// Parameters as sent.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

/// `EC2 Command Invocation Status-change Notification`: one node's result of a command.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommandInvocation {
    /// Command id.
    pub command_id: String,
    /// Document.
    pub document_name: String,
    /// Node (`i-` or `mi-`).
    pub instance_id: String,
    /// Status.
    pub status: String,
    /// When it was sent.
    pub requested_date_time: String,
}

/// A maintenance-window execution, task execution or task-target invocation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct WindowEvent {
    /// Window id.
    pub window_id: String,
    /// Execution id.
    pub window_execution_id: String,
    /// Task execution id (task and target events).
    #[serde(default)]
    pub task_execution_id: Option<String>,
    /// Window target id (target invocation events).
    #[serde(default)]
    pub window_target_id: Option<String>,
    /// Owner information of the target (target invocation events).
    #[serde(default)]
    pub owner_information: Option<String>,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESS`, `FAILED`, `TIMED_OUT`, `CANCELLED`, …
    pub status: String,
    /// Start.
    #[serde(default)]
    pub start_time: Option<String>,
    /// End.
    #[serde(default)]
    pub end_time: Option<String>,
}

/// What a ring gate decided (the gated-install Automation's first step sends it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct GateEvent {
    /// `HELD` or `OPENED_ON_PURPOSE`.
    pub decision: String,
    /// Why, with the counts (`3 of 10 nodes (30.0%) failed in ring early…`).
    pub reason: String,
    /// The ring held.
    #[serde(default)]
    pub ring: String,
    /// The window's patch group.
    pub patch_group: String,
    /// The earlier ring it judged (the same baseline's), by name.
    #[serde(default)]
    pub previous_ring: String,
    /// That ring's window in the member account (`mw-…`), whose last run it read.
    #[serde(default)]
    pub previous_window: String,
    /// The Automation execution that decided.
    #[serde(default)]
    pub automation_execution_id: String,
}

/// `Configuration Compliance State Change` (Patch or Association).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Compliance {
    /// `managed-instance`.
    pub resource_type: String,
    /// Node id.
    pub resource_id: String,
    /// `compliant` / `non_compliant`.
    pub compliance_status: String,
    /// `Patch` or `Association`.
    pub compliance_type: String,
    /// Baseline (Patch).
    #[serde(default)]
    pub patch_baseline_id: Option<String>,
    /// Severity (Patch).
    #[serde(default)]
    pub severity: Option<String>,
    /// Last run (Association).
    #[serde(default)]
    pub last_runtime: Option<String>,
}

impl Compliance {
    /// Whether the node is out of compliance.
    pub fn non_compliant(&self) -> bool {
        self.compliance_status.eq_ignore_ascii_case("non_compliant")
            || self.compliance_status.eq_ignore_ascii_case("non-compliant")
    }
}

/// A target of an association (`targets` is a JSON document inside a string).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Target {
    /// `InstanceIds`, `tag:PatchGroup`, …
    pub key: String,
    /// Values.
    pub values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawAssociation {
    association_id: String,
    document_name: String,
    status: String,
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    detailed_status: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    targets: Option<String>,
    #[serde(default)]
    association_status_aggregated_count: Option<String>,
    #[serde(default)]
    last_execution_date: Option<String>,
}

/// `EC2 State Manager Association State Change` / `… Instance Association State Change`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// Association id.
    pub association_id: String,
    /// Document.
    pub document_name: String,
    /// Status.
    pub status: String,
    /// Node (instance association events).
    pub instance_id: Option<String>,
    /// Detailed status (instance association events).
    pub detailed_status: Option<String>,
    /// Error code (instance association events), empty when none.
    pub error_code: Option<String>,
    /// Targets, parsed from their JSON string.
    pub targets: Vec<Target>,
    /// Status → count, parsed from its JSON string (association events).
    pub aggregated_count: BTreeMap<String, u64>,
    /// Last execution.
    pub last_execution_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFinding {
    finding_arn: String,
    severity: String,
    status: String,
    #[serde(rename = "type")]
    kind: String,
    title: String,
    #[serde(default)]
    resources: Vec<FindingResource>,
    #[serde(default)]
    fix_available: Option<String>,
    #[serde(default)]
    exploit_available: Option<String>,
    #[serde(default)]
    inspector_score: Option<f64>,
    #[serde(default)]
    package_vulnerability_details: Option<RawPackageVulnerability>,
    #[serde(default)]
    inspector_score_details: Option<RawScoreDetails>,
    #[serde(default)]
    epss: Option<RawEpss>,
    #[serde(default)]
    first_observed_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPackageVulnerability {
    #[serde(default)]
    vulnerability_id: Option<String>,
    #[serde(default)]
    cvss: Vec<RawCvss>,
    #[serde(default)]
    vulnerable_packages: Vec<VulnerablePackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCvss {
    #[serde(default)]
    scoring_vector: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawScoreDetails {
    #[serde(default)]
    adjusted_cvss: Option<RawCvss>,
}

#[derive(Deserialize)]
struct RawEpss {
    #[serde(default)]
    score: Option<f64>,
}

/// A package a finding names: what is installed, what fixes it, and how.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerablePackage {
    /// Package name.
    pub name: String,
    /// Installed version.
    #[serde(default)]
    pub version: Option<String>,
    /// The version that fixes it; absent when no fix exists yet.
    #[serde(default)]
    pub fixed_in_version: Option<String>,
    /// The command Inspector suggests (`apt-get update && apt-get upgrade`, …).
    #[serde(default)]
    pub remediation: Option<String>,
    /// `OS`, `PIP`, `NPM`, …
    #[serde(default)]
    pub package_manager: Option<String>,
}

/// Inspector's time format in EventBridge events, `Wed Sep 04 16:59:44.356 UTC 2024` (not RFC
/// 3339, unlike the Inspector API). `None` for anything else.
pub fn inspector_time(s: &str) -> Option<jiff::Timestamp> {
    // Drop the weekday (a redundant name the parser would have to agree with).
    let (_, rest) = s.trim().split_once(' ')?;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [month, day, time, zone, year] = parts.as_slice() else {
        return None;
    };
    if *zone != "UTC" {
        return None;
    }
    let text = format!("{month} {day} {year} {time}");
    let civil = jiff::civil::DateTime::strptime("%b %d %Y %H:%M:%S%.f", &text)
        .or_else(|_| jiff::civil::DateTime::strptime("%b %d %Y %H:%M:%S", &text))
        .ok()?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// A resource of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FindingResource {
    /// Resource id (`i-…` for EC2).
    pub id: String,
    /// `AWS_EC2_INSTANCE`, `AWS_ECR_CONTAINER_IMAGE`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
}

/// `Inspector2 Finding`.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Finding ARN (stable across updates of the finding).
    pub finding_arn: String,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `INFORMATIONAL`, `UNTRIAGED`.
    pub severity: String,
    /// `ACTIVE`, `SUPPRESSED`, `CLOSED`.
    pub status: String,
    /// `PACKAGE_VULNERABILITY`, `NETWORK_REACHABILITY`, `CODE_VULNERABILITY`.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Resources.
    pub resources: Vec<FindingResource>,
    /// `YES`, `NO`, `PARTIAL`.
    pub fix_available: Option<String>,
    /// `YES`, `NO`.
    pub exploit_available: Option<String>,
    /// Inspector score.
    pub inspector_score: Option<f64>,
    /// CVE or other id (package vulnerabilities).
    pub vulnerability_id: Option<String>,
    /// The CVSS vector Inspector scored with (its adjusted CVSS, else the first one listed).
    pub cvss_vector: Option<String>,
    /// EPSS score, when Inspector has one.
    pub epss: Option<f64>,
    /// Vulnerable packages (package vulnerabilities; empty otherwise).
    pub packages: Vec<VulnerablePackage>,
    /// When Inspector first saw it, as Inspector writes it (see [`inspector_time`]).
    pub first_observed_at: Option<String>,
    /// When Inspector last changed it (status changes included).
    pub updated_at: Option<String>,
}

impl Finding {
    /// The managed node the finding is about: an EC2 instance, or an `mi-` managed node.
    /// Findings on container images or functions are about no node.
    pub fn node(&self) -> Option<&str> {
        self.resources
            .iter()
            .find(|r| r.kind == "AWS_EC2_INSTANCE" || r.id.starts_with("mi-"))
            .map(|r| r.id.as_str())
    }
}

/// `ECS Task State Change`: the fields of AWS's documented example
/// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html) the bridge
/// reads; a stopped task also carries `stopCode` and `stoppedReason`, and its containers
/// `exitCode` and `reason`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskState {
    /// `family:<task definition family>` for a task run by RunTask.
    pub group: String,
    /// `PROVISIONING` … `RUNNING` … `STOPPED`.
    pub last_status: String,
    /// The task.
    pub task_arn: String,
    /// Why it stopped (`Essential container in task exited`).
    #[serde(default)]
    pub stopped_reason: Option<String>,
    /// `EssentialContainerExited`, `TaskFailedToStart`, …
    #[serde(default)]
    pub stop_code: Option<String>,
    /// Its containers.
    #[serde(default)]
    pub containers: Vec<TaskContainer>,
}

/// One container of a task state change.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskContainer {
    /// Its name.
    pub name: String,
    /// Its exit code, once it exited.
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// Why it stopped, when it did not exit by itself.
    #[serde(default)]
    pub reason: Option<String>,
}

impl TaskState {
    /// `FAILED` (stopped, and a container exited non-zero or never exited), `SUCCEEDED` (stopped,
    /// every container exited 0), else the task's `lastStatus`.
    pub fn outcome(&self) -> &str {
        if self.last_status != "STOPPED" {
            return &self.last_status;
        }
        let ok = !self.containers.is_empty() && self.containers.iter().all(|c| c.exit_code == Some(0));
        if ok { "SUCCEEDED" } else { "FAILED" }
    }

    /// Why it failed, in words: the containers' exit codes and reasons, and the task's.
    pub fn why(&self) -> String {
        let mut parts: Vec<String> = self
            .containers
            .iter()
            .map(|c| match (c.exit_code, &c.reason) {
                (Some(code), _) => format!("{} exited {code}", c.name),
                (None, Some(r)) => format!("{}: {r}", c.name),
                (None, None) => format!("{} never exited", c.name),
            })
            .collect();
        if let Some(r) = self.stopped_reason.as_deref().or(self.stop_code.as_deref()) {
            parts.push(r.to_owned());
        }
        parts.join("; ")
    }
}

/// A decoded patching event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `EC2 Command Status-change Notification`.
    Command(CommandStatus),
    /// `EC2 Command Invocation Status-change Notification`.
    CommandInvocation(CommandInvocation),
    /// `Maintenance Window Execution State-change Notification`.
    WindowExecution(WindowEvent),
    /// `Maintenance Window Task Execution State-change Notification`.
    WindowTaskExecution(WindowEvent),
    /// `Maintenance Window Task Target Invocation State-change Notification`.
    WindowTargetInvocation(WindowEvent),
    /// `Configuration Compliance State Change`.
    Compliance(Compliance),
    /// `EC2 State Manager Association State Change`.
    Association(Association),
    /// `EC2 State Manager Instance Association State Change`.
    InstanceAssociation(Association),
    /// `Inspector2 Finding`.
    Finding(Finding),
    /// `patchplane Ring Gate` (source `patchplane.gate`): a ring gate held a ring (or was opened
    /// on purpose) in a member account and region.
    Gate(GateEvent),
    /// `ECS Task State Change` (source `aws.ecs`) of the central stack's scheduled tasks (the
    /// monthly report): the central rule forwards only their stops.
    Task(TaskState),
    /// `Scheduled Event` from the central stack's escalation-sweep schedule: a tick, not an
    /// event about a node; the escalation sweep runs on it.
    Sweep {
        /// The schedule rule's ARN (the event's first resource).
        rule: String,
    },
}

impl Event {
    /// A short name of the kind, as routing rules name it (`window-execution`, `compliance`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Command(_) => "command",
            Event::CommandInvocation(_) => "command-invocation",
            Event::WindowExecution(_) => "window-execution",
            Event::WindowTaskExecution(_) => "window-task-execution",
            Event::WindowTargetInvocation(_) => "window-target-invocation",
            Event::Compliance(_) => "compliance",
            Event::Association(_) => "association",
            Event::InstanceAssociation(_) => "instance-association",
            Event::Finding(_) => "inspector-finding",
            Event::Gate(_) => "ring-gate",
            Event::Task(_) => "task",
            Event::Sweep { .. } => "sweep",
        }
    }

    /// The status routing matches on (compliance status for compliance events).
    pub fn status(&self) -> &str {
        match self {
            Event::Command(c) => &c.status,
            Event::CommandInvocation(c) => &c.status,
            Event::WindowExecution(w) | Event::WindowTaskExecution(w) | Event::WindowTargetInvocation(w) => &w.status,
            Event::Compliance(c) => &c.compliance_status,
            Event::Association(a) | Event::InstanceAssociation(a) => &a.status,
            Event::Finding(f) => &f.status,
            Event::Gate(g) => &g.decision,
            Event::Task(t) => t.outcome(),
            Event::Sweep { .. } => "tick",
        }
    }

    /// Severity, where the event has one.
    pub fn severity(&self) -> Option<&str> {
        match self {
            Event::Compliance(c) => c.severity.as_deref(),
            Event::Finding(f) => Some(&f.severity),
            _ => None,
        }
    }
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Envelope.
    pub envelope: Envelope,
    /// Event.
    pub event: Event,
}

impl Decoded {
    /// The stable key of what this event is about: the same incident for every redelivery and
    /// every later status of the same execution, node or finding.
    pub fn correlation_key(&self) -> String {
        let e = &self.envelope;
        let scope = format!("{}/{}", e.account, e.region);
        match &self.event {
            Event::Command(c) => format!("{scope}/command/{}", c.command_id),
            Event::CommandInvocation(c) => format!("{scope}/command/{}/{}", c.command_id, c.instance_id),
            Event::WindowExecution(w) => format!("{scope}/{}/{}", w.window_id, w.window_execution_id),
            Event::WindowTaskExecution(w) => format!(
                "{scope}/{}/{}/{}",
                w.window_id,
                w.window_execution_id,
                w.task_execution_id.as_deref().unwrap_or("-")
            ),
            Event::WindowTargetInvocation(w) => format!(
                "{scope}/{}/{}/{}/{}",
                w.window_id,
                w.window_execution_id,
                w.task_execution_id.as_deref().unwrap_or("-"),
                w.window_target_id.as_deref().unwrap_or("-")
            ),
            Event::Compliance(c) => format!(
                "{scope}/{}/compliance/{}",
                c.resource_id,
                c.compliance_type.to_lowercase()
            ),
            Event::Association(a) => format!("{scope}/association/{}", a.association_id),
            // One incident per scheduled task family at a time: the next run that succeeds
            // resolves it (the monthly report's failure stays open until a month publishes).
            Event::Task(t) => format!("{scope}/task/{}", t.group),
            Event::InstanceAssociation(a) => {
                format!(
                    "{scope}/association/{}/{}",
                    a.association_id,
                    a.instance_id.as_deref().unwrap_or("-")
                )
            }
            // One ticket per (account, node, vulnerability): Inspector may replace a finding
            // (a new ARN) for the same vulnerability on the same node.
            Event::Finding(f) => match (f.node(), &f.vulnerability_id) {
                (Some(node), Some(v)) => format!("{scope}/{node}/vulnerability/{v}"),
                _ => f.finding_arn.clone(),
            },
            // One incident per held ring per run of the gate.
            Event::Gate(g) => format!("{scope}/gate/{}/{}", g.patch_group, g.automation_execution_id),
            Event::Sweep { .. } => format!("{scope}/sweep"),
        }
    }
}

/// Why a message did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not an EventBridge event.
    #[error("not an EventBridge event: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// A detail-type patchplane does not handle.
    #[error("unhandled event {source_name} / {detail_type}")]
    Unknown {
        /// `source`.
        source_name: String,
        /// `detail-type`.
        detail_type: String,
    },
    /// A known event with a detail patchplane cannot read.
    #[error("{detail_type}: `detail.{path}`: {reason}")]
    BadDetail {
        /// `detail-type`.
        detail_type: String,
        /// Field path inside `detail`.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

fn detail<T: DeserializeOwned>(raw: &RawValue, detail_type: &str) -> Result<T, DecodeError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        let (path, reason) = naming_field::<T>(raw.get(), &e);
        DecodeError::BadDetail {
            detail_type: detail_type.to_owned(),
            path,
            reason,
        }
    })
}

/// The field a failed deserialization of `text` is about, and why. Only on failure, so the
/// common path pays nothing: it deserializes again, tracking the path (a mistyped
/// `detail.compliance-status`); serde's own message names a missing field at the top.
fn naming_field<T: DeserializeOwned>(text: &str, e: &serde_json::Error) -> (String, String) {
    let msg = e.to_string();
    let mut de = serde_json::Deserializer::from_str(text);
    let tracked = serde_path_to_error::deserialize::<_, T>(&mut de)
        .err()
        .map(|e| e.path().to_string())
        .filter(|p| !p.is_empty() && p != ".");
    let path = tracked.unwrap_or_else(|| {
        msg.split('`')
            .nth(1)
            .filter(|_| msg.starts_with("missing field") || msg.starts_with("unknown field"))
            .unwrap_or("")
            .to_owned()
    });
    (path, msg)
}

fn inner_json<T: DeserializeOwned>(
    value: Option<String>,
    field: &str,
    detail_type: &str,
) -> Result<Option<T>, DecodeError> {
    match value {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| DecodeError::BadDetail {
            detail_type: detail_type.to_owned(),
            path: field.to_owned(),
            reason: format!("the JSON inside this string does not parse: {e}"),
        }),
    }
}

fn association(raw: &RawValue, detail_type: &str) -> Result<Association, DecodeError> {
    let a: RawAssociation = detail(raw, detail_type)?;
    Ok(Association {
        association_id: a.association_id,
        document_name: a.document_name,
        status: a.status,
        instance_id: a.instance_id,
        detailed_status: a.detailed_status,
        error_code: a.error_code,
        targets: inner_json(a.targets, "targets", detail_type)?.unwrap_or_default(),
        aggregated_count: inner_json(
            a.association_status_aggregated_count,
            "association-status-aggregated-count",
            detail_type,
        )?
        .unwrap_or_default(),
        last_execution_date: a.last_execution_date,
    })
}

/// Decodes one message body.
pub fn decode(body: &[u8]) -> Result<Decoded, DecodeError> {
    let raw: RawEnvelope<'_> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Malformed { reason: e.to_string() })?;
    let dt = raw.detail_type.as_ref();
    let event = match dt {
        "EC2 Command Status-change Notification" => Event::Command(detail(raw.detail, dt)?),
        "EC2 Command Invocation Status-change Notification" => Event::CommandInvocation(detail(raw.detail, dt)?),
        "Maintenance Window Execution State-change Notification" => Event::WindowExecution(detail(raw.detail, dt)?),
        "Maintenance Window Task Execution State-change Notification" => {
            Event::WindowTaskExecution(detail(raw.detail, dt)?)
        }
        "Maintenance Window Task Target Invocation State-change Notification" => {
            Event::WindowTargetInvocation(detail(raw.detail, dt)?)
        }
        "Configuration Compliance State Change" => Event::Compliance(detail(raw.detail, dt)?),
        "EC2 State Manager Association State Change" => Event::Association(association(raw.detail, dt)?),
        "EC2 State Manager Instance Association State Change" => {
            Event::InstanceAssociation(association(raw.detail, dt)?)
        }
        "patchplane Ring Gate" if raw.source == "patchplane.gate" => Event::Gate(detail(raw.detail, dt)?),
        "ECS Task State Change" if raw.source == "aws.ecs" => Event::Task(detail(raw.detail, dt)?),
        "Scheduled Event" if raw.source == "aws.events" => Event::Sweep {
            rule: raw.resources.first().cloned().unwrap_or_default(),
        },
        "Inspector2 Finding" => {
            let f: RawFinding = detail(raw.detail, dt)?;
            Event::Finding(Finding {
                finding_arn: f.finding_arn,
                severity: f.severity,
                status: f.status,
                kind: f.kind,
                title: f.title,
                resources: f.resources,
                fix_available: f.fix_available,
                exploit_available: f.exploit_available,
                inspector_score: f.inspector_score,
                cvss_vector: f
                    .inspector_score_details
                    .and_then(|d| d.adjusted_cvss)
                    .and_then(|c| c.scoring_vector)
                    .or_else(|| {
                        f.package_vulnerability_details
                            .as_ref()
                            .and_then(|p| p.cvss.iter().find_map(|c| c.scoring_vector.clone()))
                    }),
                epss: f.epss.and_then(|e| e.score),
                packages: f
                    .package_vulnerability_details
                    .as_ref()
                    .map(|p| p.vulnerable_packages.clone())
                    .unwrap_or_default(),
                vulnerability_id: f.package_vulnerability_details.and_then(|p| p.vulnerability_id),
                first_observed_at: f.first_observed_at,
                updated_at: f.updated_at,
            })
        }
        _ => {
            return Err(DecodeError::Unknown {
                source_name: raw.source.into_owned(),
                detail_type: dt.to_owned(),
            });
        }
    };
    Ok(Decoded {
        envelope: Envelope {
            id: raw.id.into_owned(),
            detail_type: raw.detail_type.into_owned(),
            source: raw.source.into_owned(),
            account: raw.account.into_owned(),
            region: raw.region.into_owned(),
            time: raw.time.into_owned(),
            resources: raw.resources,
        },
        event,
    })
}
