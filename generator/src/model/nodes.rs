//! What every managed node of a member account gets so the evidence is complete (issue 28,
//! `nodes:`): the inventory association, the daily scan of every node, and the node-output policy
//! with the roles it is attached to.

use serde::Serialize;

use crate::policy::{DHMC_ROLE, InventorySource, Policy};

/// `nodes:` as the member template renders it.
#[derive(Debug, Clone, Serialize)]
pub struct NodesPlan {
    /// The inventory association's name, when the StackSet creates it.
    pub inventory: Option<String>,
    /// The scan-every-node association's name, when `nodes.scan_untagged`.
    pub scan_all: Option<String>,
    /// The node-output managed policy.
    pub output_policy: OutputPolicyPlan,
    /// The region whose stack creates the (global) IAM policy: one per account.
    pub home_region: String,
    /// The service role on-premises nodes register with (`patchplane hybrid activate`), when
    /// the policy has `hybrid.sites`.
    pub hybrid_role: Option<String>,
}

/// The name of the service role hybrid activations give their nodes: fixed, so `patchplane hybrid
/// activate` names it without reading the stack.
pub fn hybrid_role_name(policy: &str) -> String {
    format!("{policy}-hybrid-nodes")
}

/// The tag naming a node's site (`hybrid.sites`), set by `patchplane hybrid activate`.
pub const SITE_TAG: &str = "patchplane:site";

/// The node-output managed policy: `s3:PutObject` under the account's own output prefix.
#[derive(Debug, Clone, Serialize)]
pub struct OutputPolicyPlan {
    /// Policy name (`<policy>-node-output`), fixed so teams can attach it in their own templates.
    pub name: String,
    /// Roles it is attached to (the DHMC role first, when asked).
    pub roles: Vec<String>,
}

/// The plan of `nodes:`.
pub(super) fn build(p: &Policy, home_region: &str) -> NodesPlan {
    let n = &p.nodes;
    let roles = n
        .output_policy
        .default_host_management
        .then(|| DHMC_ROLE.to_owned())
        .into_iter()
        .chain(n.output_policy.role_names.iter().cloned())
        .collect();
    NodesPlan {
        inventory: (n.inventory == InventorySource::Create).then(|| format!("{}-inventory", p.name)),
        scan_all: n.scan_untagged.then(|| format!("{}-scan-every-node", p.name)),
        output_policy: OutputPolicyPlan {
            name: format!("{}-node-output", p.name),
            roles,
        },
        home_region: home_region.to_owned(),
        hybrid_role: (!p.hybrid.sites.is_empty()).then(|| hybrid_role_name(&p.name)),
    }
}
