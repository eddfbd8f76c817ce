//! The resolved plan: what the templates render, with every decision already taken.
//!
//! Templates hold no logic beyond `each`/`if`; this module decides names, logical ids, patch
//! groups, crons and offsets, task parameters and the StackSet request. Schedules resolve through
//! [`resolve_schedule`] ([`crate::resolve`]), the one place where a policy schedule becomes
//! `cron + ScheduleOffset`; validation calls it too, so a schedule the generator could not encode
//! is a validation error.
//!
//! One file per stack, each with its types and its builder, which [`Plan::build`] calls in turn:
//! - `patching.rs`: the member StackSet (baselines, scan and install windows, event forwarding,
//!   evidence); [`Plan`] itself is its plan.
//! - `install.rs`: how windows install (ADR 026): the per-node install and ring-gate Automations,
//!   start-patch-stop, the published exceptions, the gate's parameters.
//! - `central.rs`: the central account's stack (bus, queue, dead-letter queues, evidence bucket).
//! - `bridge.rs`: the bridge service in the central stack and its tags role in member accounts.
//! - `ami.rs`: the AMI pipeline StackSet.
//! - `nodes.rs`: what every managed node of a member gets for the evidence (inventory, a scan of
//!   every node, the node-output policy).
//! - `window.rs`: maintenance windows, shared by the member and AMI StackSets.
//! - `request.rs`: the StackSet request (`stackset.json`) a policy decides.
//! - `names.rs`: names and logical ids patchplane chooses.
//!
//! Every public item is re-exported here: `patchplane::model::X` is the one path for all of them.

use serde::Serialize;

use crate::policy::Policy;

mod ami;
mod bridge;
mod central;
mod install;
mod names;
mod nodes;
mod patching;
mod request;
mod window;

pub use crate::ids::partition;
pub use crate::resolve::{ScheduleError, WindowSchedule, parse_at, resolve_schedule};
pub use ami::{
    AmiPlan, DistributionPlan, DistributionRolePlan, ImageIds, ImagePlan, distribution_role, image_parameter,
};
pub use bridge::{
    BridgePlan, BridgeTagsRolePlan, EcrRepository, NamedSecret, OrganizationsRead, bridge_config, ecr_repository,
    fill_bridge_config, fill_organization, schedule_config,
};
pub use central::{CentralPlan, REPORT_POLICY_ENV, ReportPlan};
pub use install::{
    AUTOMATION_ADMIN_ROLE, ExceptionsParameterPlan, GATE_EVENT_DETAIL_TYPE, GATE_EVENT_SOURCE, GateDocumentPlan,
    InstallDocumentPlan, PATCH_NOW_RESULTS, PUBLISHED_EXCEPTIONS_LIMIT, PatchNowPlan, RefreshDocumentPlan,
    StoppedDocumentPlan, decision_parameter, exceptions_parameter, gate_parameter, patch_now, published_exceptions,
};
pub use names::{central_bus_name, site_patch_group, team_patch_group};
pub use nodes::{NodesPlan, OutputPolicyPlan, SITE_TAG, hybrid_role_name};
pub use patching::{
    BaselinePlan, EventsPlan, EvidencePlan, FilterPlan, HealthCheckPlan, PrePatchPlan, RulePlan, SnapshotPlan,
};
pub use request::RequestPlan;
pub use window::{GatePlan, Param, RefreshTaskPlan, StoppedTaskPlan, TargetPlan, WindowKind, WindowPlan};

/// The whole plan of the member StackSet.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Policy name.
    pub policy_name: String,
    /// StackSet name.
    pub stack_set_name: String,
    /// Folder below the output directory.
    pub dir: String,
    /// Template description.
    pub description: String,
    /// Region → zone, sorted by region.
    pub regions: Vec<RegionZone>,
    /// `tag:<patch_group_tag>`.
    pub target_key: String,
    /// The patch group tag key.
    pub patch_group_tag: String,
    /// `aws:ResourceTag/<patch_group_tag>`, the condition key on tagged instances.
    pub resource_tag_key: String,
    /// Baselines in policy order.
    pub baselines: Vec<BaselinePlan>,
    /// The per-node install Automation every install window runs (ADR 026).
    pub install_document: InstallDocumentPlan,
    /// The node-selecting exceptions, published for the install to read.
    pub exceptions: ExceptionsParameterPlan,
    /// The ring gate's Automation document, when a ring has a gate.
    pub gate_document: Option<GateDocumentPlan>,
    /// The start-patch-stop Automation document, with `install.stopped_instances`.
    pub stopped_document: Option<StoppedDocumentPlan>,
    /// The golden-image refresh Automation, when an image asks for `refresh`.
    pub refresh_document: Option<RefreshDocumentPlan>,
    /// `patchplane patch-now`'s runbook and roles, with `patch_now:`.
    pub patch_now: Option<PatchNowPlan>,
    /// The pre-patch health check and snapshot documents, with `install.pre_patch`.
    pub pre_patch: Option<PrePatchPlan>,
    /// Scan window first, then install windows ring by ring.
    pub windows: Vec<WindowPlan>,
    /// Documents the window role may send.
    pub documents: Vec<String>,
    /// Event forwarding, when any source is forwarded.
    pub events: Option<EventsPlan>,
    /// Where member accounts write evidence.
    pub evidence: EvidencePlan,
    /// What every managed node gets for the evidence (`nodes:`).
    pub nodes: NodesPlan,
    /// The central account's stack.
    pub central: CentralPlan,
    /// The role the bridge assumes in member accounts, when the policy has `central.bridge`.
    pub bridge_tags_role: Option<BridgeTagsRolePlan>,
    /// Image Builder's cross-account distribution role, when images go to other accounts.
    pub distribution_role: Option<DistributionRolePlan>,
    /// The AMI pipeline StackSet, when the policy has `ami_pipeline`.
    pub ami: Option<AmiPlan>,
    /// StackSet request written to `stackset.json`.
    #[serde(skip)]
    pub request: RequestPlan,
}

/// One region and its zone.
#[derive(Debug, Clone, Serialize)]
pub struct RegionZone {
    /// AWS region.
    pub region: String,
    /// IANA zone.
    pub zone: String,
}

impl Plan {
    /// Builds the plan of a policy that passed validation. Errors here are schedule problems that
    /// validation reports too; they are returned, never panicked on.
    pub fn build(p: &Policy) -> Result<Plan, ScheduleError> {
        let baselines = patching::baselines(p);
        let windows = patching::windows(p, &baselines)?;
        let evidence = patching::evidence(p);
        let central = central::build(p, &evidence, &windows);
        let bridge_tags_role = central.bridge.as_ref().map(|b| bridge::tags_role(p, b));
        let nodes = nodes::build(p, &bridge::home_region(p));
        let ami = p.ami_pipeline.as_ref().map(|a| ami::build(p, a)).transpose()?;
        Ok(Plan {
            policy_name: p.name.clone(),
            stack_set_name: format!("{}-patching", p.name),
            dir: "patching".to_owned(),
            description: format!(
                "patchplane member patching for policy {}: baselines, patch groups, maintenance windows and event forwarding",
                p.name
            ),
            regions: p
                .organization
                .regions
                .iter()
                .map(|(r, z)| RegionZone {
                    region: r.clone(),
                    zone: z.clone(),
                })
                .collect(),
            target_key: format!("tag:{}", p.patch_group_tag),
            patch_group_tag: p.patch_group_tag.clone(),
            resource_tag_key: format!("aws:ResourceTag/{}", p.patch_group_tag),
            baselines,
            windows,
            documents: install::documents(p),
            install_document: install::install_node_document(p),
            exceptions: install::exceptions(p),
            gate_document: install::gate_document(p),
            stopped_document: install::stopped_document(p),
            refresh_document: install::refresh_document(p),
            patch_now: install::patch_now(p),
            pre_patch: patching::pre_patch(p),
            events: patching::events(p),
            evidence,
            nodes,
            central,
            bridge_tags_role,
            distribution_role: ami::distribution_role(p),
            ami,
            request: RequestPlan::member(p),
        })
    }
}
