//! `nodes:`: what every managed node of a member account gets so the evidence is complete
//! (issue 28): the inventory the report reads, a scan of every node whether tagged or not, and
//! the permission to write its command output to the evidence bucket.

use serde::{Deserialize, Serialize};

/// `nodes:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Nodes {
    /// Who gathers inventory (`AWS:InstanceInformation`, `AWS:Tag`, `AWS:Application`, which the
    /// report's coverage and tag-selected exceptions read): `create` (default) makes the member
    /// StackSet create an `AWS-GatherSoftwareInventory` association on every managed node, daily;
    /// `existing` says an association of the account's own already does (an account may have one
    /// inventory association per node).
    #[serde(default)]
    pub inventory: InventorySource,
    /// Scan every managed node daily, tagged or not (an `AWS-RunPatchBaseline` `Scan` association
    /// on all nodes, as Quick Setup does), so a node nobody tagged is reported as not targeted with
    /// its compliance instead of being invisible. Default true.
    #[serde(default = "yes")]
    pub scan_untagged: bool,
    /// Where the node-output policy (the node's writes of Run Command output to the evidence
    /// bucket, which `AmazonSSMManagedInstanceCore` does not grant) is attached. The member StackSet
    /// always ships the policy; attaching it is opt-in.
    #[serde(default)]
    pub output_policy: OutputPolicy,
}

impl Default for Nodes {
    fn default() -> Self {
        Self {
            inventory: InventorySource::default(),
            scan_untagged: true,
            output_policy: OutputPolicy::default(),
        }
    }
}

fn yes() -> bool {
    true
}

/// `nodes.inventory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InventorySource {
    /// The member StackSet creates the inventory association.
    #[default]
    Create,
    /// An association of the account's own gathers inventory.
    Existing,
}

/// `nodes.output_policy`: the roles the node-output managed policy is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputPolicy {
    /// Attach it to the Default Host Management Configuration role
    /// (`AWSSystemsManagerDefaultEC2InstanceManagementRole`), the role nodes use when DHMC manages
    /// them without an instance profile.
    #[serde(default)]
    pub default_host_management: bool,
    /// Attach it to these instance roles too (by name, in every member account).
    #[serde(default)]
    pub role_names: Vec<String>,
}

/// The role name Default Host Management Configuration uses unless an account chose another.
pub const DHMC_ROLE: &str = "AWSSystemsManagerDefaultEC2InstanceManagementRole";
