//! The bridge: `patchplane-bridge` on ECS Fargate in the central stack, its configuration, and the
//! role it assumes in every member account to read instance tags (a resource of the member
//! StackSet).

use serde::Serialize;

use super::window::{WindowKind, WindowPlan};
use crate::bridge_config::owners::OrganizationAccountsConfig;
use crate::bridge_config::{BridgeConfig, EVIDENCE_BUCKET_ENV, ScheduleConfig, Setting, WindowSpec};
use crate::policy::{BridgeService, Policy};

/// `patchplane-bridge` on ECS Fargate in the central account.
#[derive(Debug, Clone, Serialize)]
pub struct BridgePlan {
    /// Cluster, service, task family and log group name.
    pub name: String,
    /// Task role name, fixed so member accounts can trust exactly it.
    pub task_role_name: String,
    /// Image.
    pub image: String,
    /// ECR repository to pull from, when the image is in ECR.
    pub ecr: Option<EcrRepository>,
    /// Subnets.
    pub subnets: Vec<String>,
    /// Security groups.
    pub security_groups: Vec<String>,
    /// Tasks.
    pub desired_count: u32,
    /// CPU units, as the string ECS wants.
    pub cpu: String,
    /// Memory MiB, as a string.
    pub memory: String,
    /// Role assumed in member accounts.
    pub member_role_name: String,
    /// ECS-injected secrets.
    pub secrets: Vec<NamedSecret>,
    /// `bridge.yaml` as one line of JSON (JSON is YAML).
    pub config_json: String,
    /// ECS stop timeout (s); the bridge's drain budget must stay below it.
    pub stop_timeout: u32,
    /// `ScheduleExpression` of the escalation-sweep tick (`rate(60 minutes)`); none without a sweep.
    pub sweep_schedule: Option<String>,
    /// The owner-notification topic the stack creates (`notify.sns.topic_arn:
    /// {env: PATCHPLANE_NOTIFY_TOPIC_ARN}`), by name.
    pub notify_topic: Option<String>,
    /// Topics given by ARN that the task may publish to.
    pub publish_topics: Vec<String>,
    /// Whether the stack creates the claims bucket (`notify.windows.claims_bucket` or
    /// `servicenow.claims_bucket` is `{env: PATCHPLANE_CLAIMS_BUCKET}`).
    pub claims_bucket: bool,
    /// Whether the task claims ticket creations there (`servicenow.claims_bucket`, ADR 017).
    pub ticket_claims: bool,
    /// The evidence bucket's sync prefix the task reads last scans from
    /// (`notify.windows.evidence_bucket: {env: PATCHPLANE_EVIDENCE_BUCKET}`).
    pub evidence_prefix: Option<String>,
    /// The Run Command output prefix the task reads failure reasons from
    /// (`enrich.command_output.bucket: {env: PATCHPLANE_EVIDENCE_BUCKET}`).
    pub command_output_prefix: Option<String>,
    /// Whether the task is told the evidence bucket's name.
    pub evidence_env: bool,
    /// How the task reads the target OUs' accounts for window notices, when it does.
    pub organizations_read: Option<OrganizationsRead>,
}

/// How the task reads the organization (`notify.windows.organization`).
#[derive(Debug, Clone, Serialize)]
pub struct OrganizationsRead {
    /// The role it assumes for the reads; without one its own role lists the target OUs (the
    /// central account is then the management account or a delegated administrator).
    pub role_arn: Option<String>,
    /// Whether a target is the root, whose ARN joins the OUs' in the permission.
    pub root: bool,
}

/// An ECR repository, from an image reference.
#[derive(Debug, Clone, Serialize)]
pub struct EcrRepository {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Repository name.
    pub name: String,
}

/// One environment variable from Secrets Manager.
#[derive(Debug, Clone, Serialize)]
pub struct NamedSecret {
    /// Variable.
    pub name: String,
    /// Secret ARN.
    pub arn: String,
}

/// The role the bridge assumes in a member account to read tags. IAM is global while the StackSet
/// deploys per region, so only the stack in `home_region` creates it.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeTagsRolePlan {
    /// Role name.
    pub role_name: String,
    /// Region whose stack instance creates the role.
    pub home_region: String,
    /// Central account.
    pub central_account: String,
    /// The bridge's task role there.
    pub task_role_name: String,
    /// The one tag key the role may set on nodes (`last_patched.tag` of the bridge's
    /// configuration), when the bridge tags nodes after their install.
    pub last_patched_tag: Option<String>,
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME[:TAG|@DIGEST]` → its repository.
pub fn ecr_repository(image: &str) -> Option<EcrRepository> {
    let (host, path) = image.split_once('/')?;
    let mut h = host.split('.');
    let (account, dkr, ecr, region) = (h.next()?, h.next()?, h.next()?, h.next()?);
    if dkr != "dkr" || ecr != "ecr" || !crate::ids::is_account_id(account) {
        return None;
    }
    let name = path.split('@').next()?;
    let name = match name.rsplit_once(':') {
        Some((n, _)) => n,
        None => name,
    };
    Some(EcrRepository {
        account: account.to_owned(),
        region: region.to_owned(),
        name: name.to_owned(),
    })
}

/// The bridge's configuration as the policy gives it, plus what the policy knows and the
/// configuration does not set: `enrich.baselines` (group prefix → baseline name) from the
/// policy's baselines, `schedule` (zones and install windows) from the plan's windows, so a
/// ticket names the same next window `patchplane schedule` shows, the exceptions, and
/// `tickets.compliance_sla_days` from `evidence.sla_days`, so a non-compliance incident falls due
/// when `report` counts the node's patches overdue. One source of truth.
pub fn bridge_config(p: &Policy, b: &BridgeService, windows: &[WindowPlan]) -> BridgeConfig {
    fill_bridge_config(p, b.config.clone(), windows)
}

/// `config` with what the policy knows and it does not set (see [`bridge_config`]); `patchplane
/// bridge-config --base FILE` fills a file given apart from the policy.
pub fn fill_bridge_config(p: &Policy, mut config: BridgeConfig, windows: &[WindowPlan]) -> BridgeConfig {
    if config.enrich.baselines.is_empty() {
        config.enrich.baselines = p
            .baselines
            .iter()
            .map(|bl| (bl.group_prefix.clone(), bl.name.clone()))
            .collect();
    }
    if config.schedule == ScheduleConfig::default() {
        config.schedule = schedule_config(p, windows);
    }
    if config.exceptions.is_empty() {
        // All of them: the bridge suppresses tickets for node exceptions only, but reminds the
        // approver of every exception (a patch exception too) before it expires.
        config.exceptions = p.exceptions.clone();
    }
    if config.tickets.compliance_sla_days.is_none() {
        config.tickets.compliance_sla_days = Some(p.evidence.sla_days.clone());
    }
    fill_organization(p, config)
}

/// `config` whose window notices read their accounts from the organization: the member
/// StackSet's targets (`organization.targets`), unless the configuration names targets itself,
/// so no list of accounts is kept by hand (issue 28).
pub fn fill_organization(p: &Policy, mut config: BridgeConfig) -> BridgeConfig {
    if let Some(w) = config.notify.as_mut().and_then(|n| n.windows.as_mut()) {
        let org = w.organization.get_or_insert_with(OrganizationAccountsConfig::default);
        if org.targets.is_empty() {
            // One type on both sides (`policy::Targets` is the contract's).
            org.targets = p.organization.targets.clone();
        }
    }
    config
}

/// The install windows and region zones of a plan, as the bridge reads them.
pub fn schedule_config(p: &Policy, windows: &[WindowPlan]) -> ScheduleConfig {
    ScheduleConfig {
        zones: p.organization.regions.clone().into_iter().collect(),
        windows: windows
            .iter()
            .filter(|w| w.kind == WindowKind::Install)
            .map(|w| WindowSpec {
                name: w.name.clone(),
                patch_groups: w.targets.iter().flat_map(|t| t.values.iter().cloned()).collect(),
                cron: w.cron.clone(),
                offset_days: w.offset_days.unwrap_or(0),
                duration_hours: u8::try_from(w.duration).unwrap_or(24),
                zone: w.zone.clone(),
            })
            .collect(),
    }
}

/// The bridge service of the central stack.
pub(super) fn build(p: &Policy, b: &BridgeService, windows: &[WindowPlan]) -> BridgePlan {
    let mut plan = build_plan(p, b, windows);
    plan.evidence_env = plan.evidence_prefix.is_some() || plan.command_output_prefix.is_some();
    plan.organizations_read = fill_organization(p, b.config.clone())
        .notify
        .and_then(|n| n.windows)
        .and_then(|w| w.organization)
        .map(|o| OrganizationsRead {
            root: o.targets.organizational_units.iter().any(|ou| ou.starts_with("r-")),
            role_arn: o.role_arn,
        });
    plan
}

fn build_plan(p: &Policy, b: &BridgeService, windows: &[WindowPlan]) -> BridgePlan {
    let name = format!("{}-bridge", p.name);
    let ticket_claims = matches!(
        &b.config.servicenow.claims_bucket,
        Some(Setting::Env { env }) if env == crate::bridge_config::CLAIMS_BUCKET_ENV
    );
    BridgePlan {
        task_role_name: format!("{name}-task"),
        image: b.image.clone(),
        ecr: ecr_repository(&b.image),
        subnets: b.subnets.clone(),
        security_groups: b.security_groups.clone(),
        desired_count: b.desired_count,
        cpu: b.cpu.to_string(),
        memory: b.memory.to_string(),
        member_role_name: b.member_role_name.clone(),
        secrets: b
            .secrets
            .iter()
            .map(|(name, arn)| NamedSecret {
                name: name.clone(),
                arn: arn.clone(),
            })
            .collect(),
        // Typed configuration to JSON cannot fail (string keys only); the fallback is an empty
        // object the bridge refuses at start-up with a clear error.
        config_json: serde_json::to_string(&bridge_config(p, b, windows)).unwrap_or_else(|_| "{}".to_owned()),
        stop_timeout: 30,
        notify_topic: b
            .config
            .notify
            .as_ref()
            .filter(|n| n.wants_central_topic())
            .map(|_| format!("{}-owner-notifications", p.name)),
        publish_topics: b.config.notify.as_ref().map(|n| n.literal_topics()).unwrap_or_default(),
        claims_bucket: b.config.notify.as_ref().is_some_and(|n| n.wants_claims_bucket()) || ticket_claims,
        ticket_claims,
        evidence_prefix: b
            .config
            .notify
            .as_ref()
            .and_then(|n| n.windows.as_ref())
            .filter(|w| matches!(&w.evidence_bucket, Some(Setting::Env { env }) if env == EVIDENCE_BUCKET_ENV))
            .map(|w| w.evidence_prefix.clone()),
        command_output_prefix: b
            .config
            .enrich
            .command_output
            .as_ref()
            .filter(|o| matches!(&o.bucket, Setting::Env { env } if env == EVIDENCE_BUCKET_ENV))
            .map(|o| o.prefix.clone()),
        evidence_env: false,
        organizations_read: None,
        sweep_schedule: match b.config.tickets.sweep_minutes {
            0 => None,
            m => Some(format!("rate({m} minutes)")),
        },
        name,
    }
}

/// The region whose member stack creates an account's global (IAM) resources: the central region
/// when members deploy there, else the first target region.
pub(super) fn home_region(p: &Policy) -> String {
    if p.organization.regions.contains_key(&p.central.region) {
        p.central.region.clone()
    } else {
        p.organization.regions.keys().next().cloned().unwrap_or_default()
    }
}

/// The role of the bridge in member accounts. IAM is global, so one region's stack instance creates
/// it ([`home_region`]).
pub(super) fn tags_role(p: &Policy, b: &BridgePlan) -> BridgeTagsRolePlan {
    BridgeTagsRolePlan {
        role_name: b.member_role_name.clone(),
        home_region: home_region(p),
        central_account: p.central.account.clone(),
        task_role_name: b.task_role_name.clone(),
        last_patched_tag: p
            .central
            .bridge
            .as_ref()
            .and_then(|bridge| bridge.config.last_patched.as_ref())
            .map(|l| l.tag.clone()),
    }
}
