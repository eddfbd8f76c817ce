//! `patch_now:`: an ad hoc install in member accounts from the central account (`patchplane
//! patch-now`, ADR 028), through SSM Automation's multi-account, multi-Region execution.

use serde::{Deserialize, Serialize};

/// `patch_now:`; present, the StackSets carry what `patchplane patch-now` needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatchNow {
    /// Whether the central stack creates `AWS-SystemsManager-AutomationAdministrationRole`
    /// (true), or the central account has one already that may assume `<policy>-patch-now` in
    /// member accounts (false).
    #[serde(default = "yes")]
    pub create_admin_role: bool,
}

fn yes() -> bool {
    true
}
