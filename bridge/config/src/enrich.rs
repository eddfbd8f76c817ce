//! `enrich:`: what the bridge reads about a node (tags, patch group, baseline, owner tags) and
//! where it finds a failed command's output.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::ids::is_role_name;
use crate::settings::{Setting, check_setting, error};

/// `enrich:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// Read tags at all. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The tag holding a node's patch group, as in the policy. Default `PatchGroup`.
    #[serde(default = "default_patch_group_tag")]
    pub patch_group_tag: String,
    /// Tags naming the owner, first present wins. Default `patchplane:owner`, `Owner`.
    #[serde(default = "default_owner_tags")]
    pub owner_tags: Vec<String>,
    /// How long a node's tags are cached. Default 300.
    #[serde(default = "default_ttl")]
    pub ttl_seconds: u64,
    /// Group prefix → patch baseline name (the policy's `baselines[].group_prefix` and `name`),
    /// so an incident names the node's baseline. The generator fills it in from the policy.
    #[serde(default)]
    pub baselines: BTreeMap<String, String>,
    /// Role assumed in the event's account to read tags (the member StackSet creates it);
    /// without it the bridge's own credentials are used, which only see its own account.
    #[serde(default)]
    pub member_role_name: Option<String>,
    /// Where windows write Run Command output (the evidence bucket), so a failed install's
    /// incident says why when the pre-patch health check stopped it.
    #[serde(default)]
    pub command_output: Option<CommandOutputConfig>,
}

/// `enrich.command_output`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandOutputConfig {
    /// The bucket: `{env: PATCHPLANE_EVIDENCE_BUCKET}` for the central stack's evidence bucket.
    pub bucket: Setting,
    /// The windows' `OutputS3KeyPrefix` root. Default `run-command`.
    #[serde(default = "default_run_command_prefix")]
    pub prefix: String,
}

fn default_run_command_prefix() -> String {
    "run-command".into()
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            patch_group_tag: default_patch_group_tag(),
            owner_tags: default_owner_tags(),
            ttl_seconds: default_ttl(),
            baselines: BTreeMap::new(),
            member_role_name: None,
            command_output: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_patch_group_tag() -> String {
    "PatchGroup".into()
}

fn default_owner_tags() -> Vec<String> {
    vec!["patchplane:owner".into(), "Owner".into()]
}

fn default_ttl() -> u64 {
    300
}

impl EnrichConfig {
    /// Its problems, with key paths.
    pub(crate) fn check(&self, out: &mut Vec<Finding>) {
        let e = self;
        if e.enabled && e.owner_tags.is_empty() {
            out.push(error(
                "enrich.owner_tags",
                "name at least one tag, or set `enabled: false`",
            ));
        }
        if e.patch_group_tag.is_empty() {
            out.push(error("enrich.patch_group_tag", "must not be empty"));
        }
        if let Some(r) = &e.member_role_name
            && !is_role_name(r)
        {
            out.push(error(
                "enrich.member_role_name",
                "must be an IAM role name (1-64 of letters, digits and +=,.@_-)",
            ));
        }
        if let Some(o) = &e.command_output {
            check_setting(out, "enrich.command_output.bucket", &o.bucket);
            if o.prefix.is_empty() || o.prefix.starts_with('/') || o.prefix.ends_with('/') || o.prefix.contains("..") {
                out.push(error(
                    "enrich.command_output.prefix",
                    "must be a key prefix without leading or trailing `/`",
                ));
            }
        }
    }
}
