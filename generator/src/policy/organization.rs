//! `organization:`: the organization, the member StackSet's deployment targets, regions with
//! their time zones, and the StackSet operation preferences.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `organization:`: deployment targets of the member StackSet.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Organization id (`o-` and 10-32 characters): the central bus and the evidence bucket admit
    /// principals of this organization only (`aws:PrincipalOrgID`, `aws:SourceOrgID`).
    pub id: String,
    /// `SELF` from the management account, `DELEGATED_ADMIN` from a delegated administrator.
    pub call_as: CallAs,
    /// OUs and accounts that receive stack instances.
    pub targets: Targets,
    /// Region → IANA time zone. `"02:00"` in a schedule means 02:00 in that zone.
    pub regions: BTreeMap<String, String>,
    /// StackSet operation preferences and auto-deployment.
    #[serde(default)]
    pub rollout: Rollout,
}

/// Who calls the StackSets API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallAs {
    /// The organization's management account.
    #[serde(rename = "SELF")]
    SelfAccount,
    /// A delegated administrator for CloudFormation StackSets.
    DelegatedAdmin,
}

/// `organization.targets`: the member StackSet's `DeploymentTargets` (OUs, accounts and how they
/// combine). One type with the bridge's `notify.windows.organization.targets`, which the
/// generator fills from it, so the two cannot drift.
pub use crate::bridge_config::owners::{AccountFilter, OrganizationTargets as Targets};

/// `organization.rollout`: the StackSet operation preferences.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// `SEQUENTIAL` or `PARALLEL` regions.
    #[serde(default = "default_region_concurrency")]
    pub region_concurrency: RegionConcurrency,
    /// Percentage of accounts per region deployed at once, 1-100.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_percentage: i64,
    /// Percentage of accounts per region that may fail before the operation stops, 0-100.
    #[serde(default = "default_failure_tolerance")]
    pub failure_tolerance_percentage: i64,
    /// Deploy to accounts that join a target OU later.
    #[serde(default = "default_true")]
    pub auto_deployment: bool,
    /// Keep the stacks when an account leaves the OU (only with `auto_deployment`).
    #[serde(default)]
    pub retain_stacks_on_account_removal: bool,
}

impl Default for Rollout {
    fn default() -> Self {
        Self {
            region_concurrency: default_region_concurrency(),
            max_concurrent_percentage: default_max_concurrent(),
            failure_tolerance_percentage: default_failure_tolerance(),
            auto_deployment: true,
            retain_stacks_on_account_removal: false,
        }
    }
}

fn default_region_concurrency() -> RegionConcurrency {
    RegionConcurrency::Parallel
}
fn default_max_concurrent() -> i64 {
    25
}
fn default_failure_tolerance() -> i64 {
    10
}
fn default_true() -> bool {
    true
}

/// `OperationPreferences.RegionConcurrencyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegionConcurrency {
    /// One region after the other.
    Sequential,
    /// All regions at once.
    Parallel,
}
