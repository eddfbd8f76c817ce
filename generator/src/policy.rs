//! The organization patch policy (`version: 1`, DESIGN §3): the serde types of the input contract.
//!
//! Structure and types are enforced here (unknown keys are errors); everything that needs more
//! than one field to judge (ranges, references, per-OS rules, schedule arithmetic) is checked in
//! [`crate::validate`], which collects every problem instead of stopping at the first. Numbers that
//! have a range are read as `i64` on purpose, so `-1` reaches validation and gets a range message
//! naming the field instead of a serde type error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// Which event sources member accounts forward to the central bus.
    #[serde(default)]
    pub events: Events,
    /// Evidence retention and the remediation SLA the monthly report checks.
    #[serde(default)]
    pub evidence: Evidence,
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

/// `self_service:`: what a team window may be.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SelfService {
    /// Days a team window may open on (local time).
    pub allowed_days: Vec<Day>,
    /// Earliest local opening time, `HH:MM`.
    pub earliest: String,
    /// Latest local closing time, `HH:MM` (earlier than `earliest`: the next day).
    pub latest: String,
    /// Longest window, 1-24 hours.
    pub max_duration_hours: i64,
    /// Windows per team, at most.
    pub max_windows_per_team: usize,
}

/// A team file, `teams/<team>.yaml`: windows of the team's own, inside `self_service`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// The team: lowercase letters and digits, 1-16, the file's name.
    pub team: String,
    /// Its windows.
    pub windows: Vec<TeamWindow>,
    /// The file it came from (set by the loader).
    #[serde(skip)]
    pub file: std::path::PathBuf,
}

/// One team window: its nodes carry the patch group `<group_prefix>-<team>-<name>`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeamWindow {
    /// Lowercase letters and digits, 1-16.
    pub name: String,
    /// The baseline it installs (a baseline's `name`).
    pub baseline: String,
    /// When it opens, in each region's local time.
    pub schedule: Schedule,
    /// Hours it stays open.
    pub duration_hours: i64,
}

/// `evidence:`: how long evidence is kept and how long a node may stay non-compliant.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Days a missing critical or security patch may stay missing before `report` lists its node
    /// as overdue (1-365): one number, or per severity (`critical: 7`) with a `default`.
    #[serde(default)]
    pub sla_days: crate::bridge_config::SlaDays,
    /// Days evidence objects are kept in the bucket before they expire (30-3650; SOC2 audits look
    /// back a year, so the default keeps 400 days).
    #[serde(default = "default_retention_days")]
    pub retention_days: i64,
}

impl Default for Evidence {
    fn default() -> Self {
        Self {
            sla_days: crate::bridge_config::SlaDays::default(),
            retention_days: default_retention_days(),
        }
    }
}

fn default_retention_days() -> i64 {
    400
}

fn default_patch_group_tag() -> String {
    "PatchGroup".to_owned()
}

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

/// `organization.targets`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// OU ids (`ou-xxxx-xxxxxxxx`) or the root id (`r-xxxx`).
    #[serde(default)]
    pub organizational_units: Vec<String>,
    /// 12-digit account ids, combined with the OUs by `account_filter`.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// How `accounts` combines with the OUs: `NONE` (accounts must be empty), `INTERSECTION`,
    /// `DIFFERENCE` or `UNION`.
    #[serde(default)]
    pub account_filter: AccountFilter,
}

/// `DeploymentTargets.AccountFilterType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountFilter {
    /// Every account of the OUs.
    #[default]
    None,
    /// Only the listed accounts that are in the OUs.
    Intersection,
    /// The OUs' accounts except the listed ones.
    Difference,
    /// The OUs' accounts and the listed ones.
    Union,
}

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

/// One custom patch baseline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Baseline name, 3-128 of `a-zA-Z0-9_.-`.
    pub name: String,
    /// Free-text description rendered into the baseline (any characters, at most 1024).
    #[serde(default)]
    pub description: Option<String>,
    /// `AWS::SSM::PatchBaseline` `OperatingSystem`.
    pub operating_system: OperatingSystem,
    /// Patch groups of this baseline are `<group_prefix>-<ring>`; letters and digits only.
    pub group_prefix: String,
    /// Register as the OS's default baseline (at most one per OS).
    #[serde(default)]
    pub default: bool,
    /// Days added to every ring's install schedule for this OS, so OSes do not reboot the same night.
    #[serde(default)]
    pub install_offset_days: i64,
    /// Approval rules, 1-10.
    pub rules: Vec<Rule>,
    /// Patch ids always approved (at most 50).
    #[serde(default)]
    pub approved_patches: Vec<String>,
    /// Compliance level reported for missing approved patches.
    #[serde(default)]
    pub approved_patches_compliance: Option<Compliance>,
    /// Patch ids never installed (at most 50).
    #[serde(default)]
    pub rejected_patches: Vec<String>,
    /// What happens to rejected patches: `BLOCK` or `ALLOW_AS_DEPENDENCY`.
    #[serde(default = "default_rejected_action")]
    pub rejected_patches_action: RejectedPatchesAction,
}

fn default_rejected_action() -> RejectedPatchesAction {
    RejectedPatchesAction::Block
}

/// Operating systems of `AWS::SSM::PatchBaseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum OperatingSystem {
    Windows,
    AmazonLinux,
    #[serde(rename = "AMAZON_LINUX_2")]
    AmazonLinux2,
    #[serde(rename = "AMAZON_LINUX_2022")]
    AmazonLinux2022,
    #[serde(rename = "AMAZON_LINUX_2023")]
    AmazonLinux2023,
    Ubuntu,
    RedhatEnterpriseLinux,
    Suse,
    Centos,
    OracleLinux,
    Debian,
    Macos,
    Raspbian,
    RockyLinux,
    AlmaLinux,
}

impl OperatingSystem {
    /// The value CloudFormation expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Windows => "WINDOWS",
            Self::AmazonLinux => "AMAZON_LINUX",
            Self::AmazonLinux2 => "AMAZON_LINUX_2",
            Self::AmazonLinux2022 => "AMAZON_LINUX_2022",
            Self::AmazonLinux2023 => "AMAZON_LINUX_2023",
            Self::Ubuntu => "UBUNTU",
            Self::RedhatEnterpriseLinux => "REDHAT_ENTERPRISE_LINUX",
            Self::Suse => "SUSE",
            Self::Centos => "CENTOS",
            Self::OracleLinux => "ORACLE_LINUX",
            Self::Debian => "DEBIAN",
            Self::Macos => "MACOS",
            Self::Raspbian => "RASPBIAN",
            Self::RockyLinux => "ROCKY_LINUX",
            Self::AlmaLinux => "ALMA_LINUX",
        }
    }

    /// Patch filter keys this OS accepts in an approval rule (DESIGN §4).
    pub fn rule_filter_keys(self) -> &'static [&'static str] {
        match self {
            Self::Windows => &["PRODUCT", "PRODUCT_FAMILY", "CLASSIFICATION", "MSRC_SEVERITY"],
            Self::Ubuntu | Self::Debian | Self::Raspbian => &["PRODUCT", "PRIORITY"],
            Self::Macos => &["PRODUCT", "CLASSIFICATION"],
            _ => &["PRODUCT", "CLASSIFICATION", "SEVERITY"],
        }
    }

    /// Whether approval rules may delay approval (`ApproveAfterDays`); Debian-family OSes can't,
    /// because their repositories publish no reliable release dates.
    pub fn supports_approve_after_days(self) -> bool {
        !matches!(self, Self::Ubuntu | Self::Debian | Self::Raspbian)
    }
}

/// One approval rule of a baseline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Filter key → values; every key must be valid for the baseline's OS.
    pub filters: BTreeMap<String, Vec<String>>,
    /// Days after release before a patch is approved, 0-360 (not on Ubuntu/Debian).
    #[serde(default)]
    pub approve_after_days: Option<i64>,
    /// Compliance severity reported when a patch this rule approves is missing.
    pub compliance: Compliance,
    /// Also approve non-security updates (Linux only).
    #[serde(default)]
    pub enable_non_security: bool,
}

/// `ComplianceLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum Compliance {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    Unspecified,
}

/// `RejectedPatchesAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectedPatchesAction {
    /// Never install, not even as a dependency.
    Block,
    /// Install when another approved patch depends on it.
    AllowAsDependency,
}

/// A rollout ring.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ring {
    /// Ring name, lowercase letters and digits, 1-16 characters; patch groups end in `-<name>`.
    pub name: String,
    /// When this ring installs, in each region's local time.
    pub schedule: Schedule,
    /// Install only if an earlier ring's last install here failed on few enough nodes.
    #[serde(default)]
    pub gate: Option<Gate>,
}

/// `rings[].gate`: checked inside SSM, in each account and region, before the ring installs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// The earlier ring whose last install is judged.
    pub after: String,
    /// The share of that install's nodes that may have failed, 0-100.
    pub max_failed_percent: f64,
}

/// A schedule: exactly one of `daily`, `weekly`, `monthly`, `patch_tuesday` or `cron`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Every day at a local time.
    #[serde(default)]
    pub daily: Option<Daily>,
    /// Every week on one day.
    #[serde(default)]
    pub weekly: Option<Weekly>,
    /// The nth (or last) weekday of every month, plus an offset in days.
    #[serde(default)]
    pub monthly: Option<Monthly>,
    /// Microsoft's Patch Tuesday (second Tuesday) plus an offset in days.
    #[serde(default)]
    pub patch_tuesday: Option<PatchTuesday>,
    /// Escape hatch: a maintenance-window `cron(...)` expression, still validated.
    #[serde(default)]
    pub cron: Option<String>,
    /// Days after the `cron` date (only with `cron`).
    #[serde(default)]
    pub offset_days: Option<i64>,
}

/// `{daily: {at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Daily {
    /// Local time `HH:MM`.
    pub at: String,
}

/// `{weekly: {day, at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    /// `MON` … `SUN`.
    pub day: Day,
    /// Local time `HH:MM`.
    pub at: String,
}

/// `{monthly: {week, day, offset_days, at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Monthly {
    /// `1`-`5` or `last`.
    pub week: Week,
    /// `MON` … `SUN`.
    pub day: Day,
    /// Days after that weekday.
    #[serde(default)]
    pub offset_days: i64,
    /// Local time `HH:MM`.
    pub at: String,
}

/// `{patch_tuesday: {offset_days, at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatchTuesday {
    /// Days after the second Tuesday (5 = the Sunday after Patch Tuesday).
    #[serde(default)]
    pub offset_days: i64,
    /// Local time `HH:MM`.
    pub at: String,
}

/// Week of the month in a `monthly` schedule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Week {
    /// `1`-`5`.
    Nth(i64),
    /// `last` (any other word is rejected by validation).
    Word(String),
}

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[allow(missing_docs)]
pub enum Day {
    MON,
    TUE,
    WED,
    THU,
    FRI,
    SAT,
    SUN,
}

impl Day {
    /// Days since Monday (MON = 0).
    pub fn index_from_monday(self) -> i64 {
        self as i64
    }

    /// The day `n` days later.
    pub fn plus(self, n: i64) -> Day {
        const ALL: [Day; 7] = [Day::MON, Day::TUE, Day::WED, Day::THU, Day::FRI, Day::SAT, Day::SUN];
        ALL[(self.index_from_monday() + n).rem_euclid(7) as usize]
    }

    /// The three-letter name used in cron.
    pub fn as_str(self) -> &'static str {
        match self {
            Day::MON => "MON",
            Day::TUE => "TUE",
            Day::WED => "WED",
            Day::THU => "THU",
            Day::FRI => "FRI",
            Day::SAT => "SAT",
            Day::SUN => "SUN",
        }
    }
}

/// `scan:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    /// When the scan window opens (usually `daily`).
    pub schedule: Schedule,
    /// Rate control for the scan task; defaults to `install.max_concurrency`.
    #[serde(default)]
    pub max_concurrency: Option<String>,
    /// Error threshold for the scan task; defaults to `install.max_errors`.
    #[serde(default)]
    pub max_errors: Option<String>,
}

/// `windows:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    /// Window length, 1-24 hours.
    pub duration_hours: i64,
    /// Hours before the end when no new task starts, 0-23 and below `duration_hours`.
    pub cutoff_hours: i64,
    /// At the cutoff: `CANCEL_TASK` stops sending the command to more nodes (the default here, so
    /// no node starts patching and rebooting late), `CONTINUE_TASK` lets it go on.
    #[serde(default = "default_cutoff_behavior")]
    pub cutoff_behavior: CutoffBehavior,
}

fn default_cutoff_behavior() -> CutoffBehavior {
    CutoffBehavior::CancelTask
}

/// `MaintenanceWindowTask.CutoffBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum CutoffBehavior {
    CancelTask,
    ContinueTask,
}

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

/// `ami_pipeline:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AmiPipeline {
    /// Accounts that build images.
    pub accounts: Vec<String>,
    /// Regions that build images.
    pub regions: Vec<String>,
    /// Ring whose install window the builds follow.
    pub aligned_to_ring: String,
    /// Images to build.
    pub images: Vec<Image>,
}

/// One golden image.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image name, 3-64 of `a-zA-Z0-9_-`.
    pub name: String,
    /// Baseline whose approved patches the build applies.
    pub baseline: String,
    /// Parent image: an AMI id, an `ssm:` parameter, or an Image Builder ARN.
    pub parent_image: String,
}

/// `events:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Sources forwarded to the central bus: `aws.ssm`, `aws.inspector2`.
    pub forward: Vec<EventSource>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            forward: vec![EventSource::Ssm, EventSource::Inspector2],
        }
    }
}

/// An event source the member rule forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EventSource {
    /// Systems Manager: commands, maintenance windows, compliance, associations.
    #[serde(rename = "aws.ssm")]
    Ssm,
    /// Inspector findings.
    #[serde(rename = "aws.inspector2")]
    Inspector2,
}

impl EventSource {
    /// The EventBridge `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssm => "aws.ssm",
            Self::Inspector2 => "aws.inspector2",
        }
    }

    /// The `detail-type`s of this source that matter to patching.
    pub fn detail_types(self) -> &'static [&'static str] {
        match self {
            Self::Ssm => &[
                "EC2 Command Status-change Notification",
                "EC2 Command Invocation Status-change Notification",
                "Maintenance Window Execution State-change Notification",
                "Maintenance Window Task Execution State-change Notification",
                "Maintenance Window Task Target Invocation State-change Notification",
                "Configuration Compliance State Change",
                "EC2 State Manager Association State Change",
                "EC2 State Manager Instance Association State Change",
            ],
            Self::Inspector2 => &["Inspector2 Finding"],
        }
    }
}
