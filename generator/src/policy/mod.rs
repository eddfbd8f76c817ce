//! The organization patch policy (`version: 1`, DESIGN §3): the serde types of the input contract.
//!
//! Structure and types are enforced here (unknown keys are errors); everything that needs more
//! than one field to judge (ranges, references, per-OS rules, schedule arithmetic) is checked in
//! [`crate::validate`], which collects every problem instead of stopping at the first. Numbers that
//! have a range are read as `i64` on purpose, so `-1` reaches validation and gets a range message
//! naming the field instead of a serde type error.
//!
//! [`Policy`] is here; each section's types are in a file named for the section, as in
//! `validate/`: `organization.rs`, `central.rs`, `baselines.rs`, `rings.rs`, `windows.rs` (`scan:`
//! and `windows:`), `install.rs`, `ami.rs`, `events.rs`, `evidence.rs`, `nodes.rs`, `hybrid.rs`,
//! `patch_now.rs`, `self_service.rs` (with the team files), and `schedule.rs`, the schedule that
//! rings, the scan and team windows share. All are re-exported here, so a type's path is `crate::policy::Name`.

mod ami;
mod baselines;
mod central;
mod events;
mod evidence;
mod hybrid;
mod install;
mod nodes;
mod organization;
mod patch_now;
mod rings;
mod schedule;
mod self_service;
mod windows;

use serde::{Deserialize, Serialize};

pub use ami::{AmiPipeline, Distribute, Image, LaunchTemplateRef, Refresh};
pub use baselines::{Baseline, Compliance, OperatingSystem, RejectedPatchesAction, Rule};
pub use central::{BridgeService, Central};
pub use events::{EventSource, Events};
pub use evidence::Evidence;
pub use hybrid::{Hybrid, Site};
pub use install::{Hooks, Install, PrePatch, Reboot, StoppedInstances, health_check_document};
pub use nodes::{DHMC_ROLE, InventorySource, Nodes, OutputPolicy};
pub use organization::{AccountFilter, CallAs, Organization, RegionConcurrency, Rollout, Targets};
pub use patch_now::PatchNow;
pub use rings::{Gate, Ring};
pub use schedule::{Daily, Day, Monthly, PatchTuesday, Schedule, Week, Weekly};
pub use self_service::{SelfService, Team, TeamWindow};
pub use windows::{CutoffBehavior, Scan, Windows};

pub use crate::exception::Exception;

/// The whole policy file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Schema version; only `1` exists.
    pub version: i64,
    /// Prefix of every generated name (StackSets, windows, buses). Lowercase, 3-32 characters.
    pub name: String,
    /// Where the StackSets go: OUs, accounts, regions and their time zones, rollout preferences.
    pub organization: Organization,
    /// The central account that receives events and stores evidence.
    pub central: Central,
    /// Tag key that carries a node's patch group: `PatchGroup` or `Patch Group`.
    #[serde(default = "default_patch_group_tag")]
    pub patch_group_tag: String,
    /// One custom patch baseline per operating system (at most one `default` per OS).
    pub baselines: Vec<Baseline>,
    /// Rollout waves in order; each ring gets its own install window per baseline.
    pub rings: Vec<Ring>,
    /// The nightly scan that keeps compliance data fresh on every node.
    pub scan: Scan,
    /// Duration, cutoff and cutoff behaviour shared by every maintenance window.
    pub windows: Windows,
    /// How the install task runs: reboot option, rate control, lifecycle hooks.
    pub install: Install,
    /// Optional golden-AMI pipeline aligned to a ring's window (rendered by a later StackSet).
    #[serde(default)]
    pub ami_pipeline: Option<AmiPipeline>,
    /// Ad hoc installs from the central account (`patchplane patch-now`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_now: Option<PatchNow>,
    /// Which event sources member accounts forward to the central bus.
    #[serde(default)]
    pub events: Events,
    /// Evidence retention and the remediation SLA the monthly report checks.
    #[serde(default)]
    pub evidence: Evidence,
    /// What every managed node gets so the evidence is complete: inventory, a scan of untagged
    /// nodes, the permission to write command output.
    #[serde(default)]
    pub nodes: Nodes,
    /// On-premises sites whose nodes patch in the site's time zone.
    #[serde(default)]
    pub hybrid: Hybrid,
    /// Approved exceptions: nodes or patches left unpatched on purpose, each with an approver, a
    /// ticket and an expiry date.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    /// Guardrails for team windows (`teams/*.yaml` beside the policy, read only when this is
    /// set).
    #[serde(default)]
    pub self_service: Option<SelfService>,
    /// Team files, read by the loader from `teams/*.yaml` beside the policy (not a policy key).
    #[serde(skip)]
    pub teams: Vec<Team>,
}

fn default_patch_group_tag() -> String {
    "PatchGroup".to_owned()
}
