//! `install:`: how the install task runs (reboot, rate control, lifecycle hooks, stopped
//! instances) and the optional pre-patch snapshot and health check.

use serde::{Deserialize, Serialize};

/// `install:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// `RebootIfNeeded` or `NoReboot`.
    pub reboot: Reboot,
    /// Rate control: a count (`50`) or a percentage (`10%`).
    pub max_concurrency: String,
    /// Error threshold: a count (`0`, `5`) or a percentage (`5%`).
    pub max_errors: String,
    /// Lifecycle hooks (SSM document names); any hook switches to `AWS-RunPatchBaselineWithHooks`.
    #[serde(default)]
    pub hooks: Hooks,
    /// Stopped EC2 instances of a window's patch group: `skip` (default) or `start_patch_stop`.
    #[serde(default)]
    pub stopped_instances: StoppedInstances,
    /// A snapshot and a health check before each node's install.
    #[serde(default)]
    pub pre_patch: Option<PrePatch>,
}

/// `install.pre_patch`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrePatch {
    /// Snapshot each EC2 node's EBS volumes before the install.
    #[serde(default)]
    pub snapshot: bool,
    /// Days a pre-patch snapshot is kept (1-365). Default 7.
    #[serde(default = "default_snapshot_days")]
    pub snapshot_retention_days: i64,
    /// `builtin` (the shipped check), an SSM Command document's name, or none.
    #[serde(default)]
    pub health_check: Option<String>,
    /// The built-in check: MB that must be free on `/`, `/var`, `/tmp` or the system drive. Default 1024.
    #[serde(default = "default_min_free_mb")]
    pub min_free_mb: i64,
    /// The built-in check: the oldest SSM agent accepted. Default 3.2.0.0.
    #[serde(default = "default_min_agent")]
    pub min_agent_version: String,
}

fn default_snapshot_days() -> i64 {
    7
}
fn default_min_free_mb() -> i64 {
    1024
}
fn default_min_agent() -> String {
    "3.2.0.0".into()
}

impl Install {
    /// The pre-install hook in force: the policy's, else the health check's document.
    pub fn pre_install_hook(&self, policy_name: &str) -> Option<String> {
        self.hooks.pre_install.clone().or_else(|| {
            self.pre_patch
                .as_ref()
                .and_then(|p| p.health_check.as_deref())
                .map(|h| {
                    if h == "builtin" {
                        health_check_document(policy_name)
                    } else {
                        h.to_owned()
                    }
                })
        })
    }

    /// Whether the install runs `AWS-RunPatchBaselineWithHooks`.
    pub fn uses_hooks(&self) -> bool {
        self.hooks.any() || self.pre_patch.as_ref().is_some_and(|p| p.health_check.is_some())
    }
}

/// The built-in health check's document name.
pub fn health_check_document(policy_name: &str) -> String {
    format!("{policy_name}-pre-patch-health-check")
}

/// `install.stopped_instances`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoppedInstances {
    /// Left stopped (and unpatched).
    #[default]
    Skip,
    /// Started, patched with the window's baseline, stopped again (only those it started).
    StartPatchStop,
}

/// `RebootOption` of `AWS-RunPatchBaseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[allow(missing_docs)]
pub enum Reboot {
    RebootIfNeeded,
    NoReboot,
}

/// `install.hooks`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Document run before installing.
    #[serde(default)]
    pub pre_install: Option<String>,
    /// Document run after installing, before a reboot.
    #[serde(default)]
    pub post_install: Option<String>,
    /// Document run after the reboot, at the end.
    #[serde(default)]
    pub on_exit: Option<String>,
}

impl Hooks {
    /// Whether any hook is set.
    pub fn any(&self) -> bool {
        self.pre_install.is_some() || self.post_install.is_some() || self.on_exit.is_some()
    }
}
