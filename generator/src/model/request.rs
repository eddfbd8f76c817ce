//! The parts of a StackSet's `stackset.json` request that come from the policy.

use crate::policy::{AccountFilter, CallAs, Policy, RegionConcurrency};

/// The parts of CreateStackSet / CreateStackInstances that come from the policy.
#[derive(Debug, Clone, Default)]
pub struct RequestPlan {
    /// `CallAs`.
    pub call_as: &'static str,
    /// OU ids.
    pub organizational_units: Vec<String>,
    /// Accounts.
    pub accounts: Vec<String>,
    /// `AccountFilterType`.
    pub account_filter: &'static str,
    /// Regions.
    pub regions: Vec<String>,
    /// `RegionConcurrencyType`.
    pub region_concurrency: &'static str,
    /// `MaxConcurrentPercentage`.
    pub max_concurrent_percentage: i64,
    /// `FailureTolerancePercentage`.
    pub failure_tolerance_percentage: i64,
    /// `AutoDeployment.Enabled`.
    pub auto_deployment: bool,
    /// `AutoDeployment.RetainStacksOnAccountRemoval`.
    pub retain_stacks: bool,
}

impl RequestPlan {
    /// The member StackSet's targets and preferences, straight from the policy.
    pub(super) fn member(p: &Policy) -> RequestPlan {
        let o = &p.organization;
        RequestPlan {
            call_as: match o.call_as {
                CallAs::SelfAccount => "SELF",
                CallAs::DelegatedAdmin => "DELEGATED_ADMIN",
            },
            organizational_units: o.targets.organizational_units.clone(),
            accounts: o.targets.accounts.clone(),
            account_filter: match o.targets.account_filter {
                AccountFilter::None => "NONE",
                AccountFilter::Intersection => "INTERSECTION",
                AccountFilter::Difference => "DIFFERENCE",
                AccountFilter::Union => "UNION",
            },
            regions: o.regions.keys().cloned().collect(),
            region_concurrency: match o.rollout.region_concurrency {
                RegionConcurrency::Sequential => "SEQUENTIAL",
                RegionConcurrency::Parallel => "PARALLEL",
            },
            max_concurrent_percentage: o.rollout.max_concurrent_percentage,
            failure_tolerance_percentage: o.rollout.failure_tolerance_percentage,
            auto_deployment: o.rollout.auto_deployment,
            retain_stacks: o.rollout.retain_stacks_on_account_removal,
        }
    }
}
