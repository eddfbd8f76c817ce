//! `central:`: the account that receives events and stores evidence, and the bridge service it
//! may run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `central:`: the account that owns the event bus, the queue and the evidence bucket.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Central {
    /// 12-digit account id (quote it in YAML so leading zeros survive).
    pub account: String,
    /// Region of the central bus.
    pub region: String,
    /// S3 bucket for compliance evidence.
    pub evidence_bucket: String,
    /// The bridge service, when patchplane runs it (ECS on Fargate in this account).
    #[serde(default)]
    pub bridge: Option<BridgeService>,
}

/// `central.bridge:`: `patchplane-bridge` as an ECS service on Fargate in the central account,
/// plus the role it assumes in every member account to read node tags.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeService {
    /// Container image with a tag or digest (an ECR repository gets pull permissions).
    pub image: String,
    /// Subnets of the tasks (private, with routes to SQS, STS, the tagging API and ServiceNow).
    pub subnets: Vec<String>,
    /// Security groups of the tasks (egress on 443 is all they need).
    pub security_groups: Vec<String>,
    /// Tasks. Default 2 (two bridges on one queue are safe: ADR 007).
    #[serde(default = "default_desired_count")]
    pub desired_count: u32,
    /// Fargate CPU units: 256, 512 or 1024. Default 256.
    #[serde(default = "default_bridge_cpu")]
    pub cpu: u32,
    /// Fargate memory in MiB, valid for `cpu`. Default 512.
    #[serde(default = "default_bridge_memory")]
    pub memory: u32,
    /// Role created in every member account that the bridge assumes to read tags
    /// (`enrich.member_role_name` in its configuration). Default `patchplane-bridge-tags`.
    #[serde(default = "default_member_role_name")]
    pub member_role_name: String,
    /// Environment variable → Secrets Manager ARN, injected by ECS (e.g. `SERVICENOW_PASSWORD`).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The bridge's `bridge.yaml`, inline; passed to the task as `PATCHPLANE_BRIDGE_CONFIG`, with
    /// the queue URL in `PATCHPLANE_QUEUE_URL`. The bridge validates it at start-up; check it in
    /// the release pipeline with `patchplane-bridge check`. The same types and rules as
    /// `bridge.yaml` ([`crate::bridge_config`]).
    pub config: crate::bridge_config::BridgeConfig,
}

fn default_desired_count() -> u32 {
    2
}

fn default_bridge_cpu() -> u32 {
    256
}

fn default_bridge_memory() -> u32 {
    512
}

fn default_member_role_name() -> String {
    "patchplane-bridge-tags".to_owned()
}
