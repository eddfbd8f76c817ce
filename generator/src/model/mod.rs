//! The resolved plan: what the templates render, with every decision already taken.
//!
//! Templates hold no logic beyond `each`/`if`; this module decides names, logical ids, patch
//! groups, crons and offsets, task parameters and the StackSet request. Schedules resolve through
//! [`resolve_schedule`], the one place where a policy schedule becomes `cron + ScheduleOffset`;
//! validation calls it too, so a schedule the generator could not encode is a validation error.

use serde::Serialize;

use crate::cron::{Cron, DaySpec, weekday_name};
use crate::policy::{
    AccountFilter, CallAs, CutoffBehavior, Day, EventSource, Policy, Reboot, RegionConcurrency, Schedule, Week,
};

/// A window's schedule as SSM receives it: a cron in the region's zone and an offset of 0-6 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSchedule {
    /// The cron expression.
    pub cron: Cron,
    /// `ScheduleOffset`; 0 means none.
    pub offset_days: u8,
}

/// A schedule that cannot be encoded, with the sub-path of the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    /// Path below `schedule`, e.g. `patch_tuesday.offset_days`.
    pub key: String,
    /// Message.
    pub message: String,
}

fn serr<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, ScheduleError> {
    Err(ScheduleError {
        key: key.into(),
        message: message.into(),
    })
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_at(at: &str) -> Option<(u8, u8)> {
    let (h, m) = at.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn at_or_err(at: &str, key: &str) -> Result<(u8, u8), ScheduleError> {
    parse_at(at).ok_or_else(|| ScheduleError {
        key: format!("{key}.at"),
        message: format!("`{at}` is not a 24-hour local time HH:MM (for example \"02:00\")"),
    })
}

/// Cron day-of-week number of a policy day (SUN = 1).
fn cron_dow_number(day: Day) -> u8 {
    ((day.index_from_monday() + 1) % 7 + 1) as u8
}

/// `X#n` + `offset` days, with offsets of 7+ folded into the week number: the nth weekday + 7 days
/// is always the (n+1)th weekday of the same month as long as n+1 ≤ 4 (every month has four of
/// each weekday, not always five), so the fold is exact only up to `#4`.
fn nth_with_offset(dow: &str, n: i64, offset: i64, key: &str, h: u8, m: u8) -> Result<WindowSchedule, ScheduleError> {
    let weeks = offset / 7;
    let folded = n + weeks;
    if weeks > 0 && folded > 4 {
        return serr(
            key,
            format!(
                "week {n} + {offset} days folds into {dow}#{folded}, which not every month has; \
                 SSM's ScheduleOffset is 1-6 days, so keep week + offset/7 at 4 or below"
            ),
        );
    }
    let cron = build(&format!("cron({m} {h} ? * {dow}#{folded} *)"), key)?;
    Ok(WindowSchedule {
        cron,
        offset_days: (offset % 7) as u8,
    })
}

fn build(text: &str, key: &str) -> Result<Cron, ScheduleError> {
    Cron::parse(text).map_err(|e| ScheduleError {
        key: key.to_owned(),
        message: e.0,
    })
}

/// Resolves a policy schedule plus `extra_offset` days (a baseline's `install_offset_days`) into
/// the cron and offset SSM runs.
pub fn resolve_schedule(s: &Schedule, extra_offset: i64) -> Result<WindowSchedule, ScheduleError> {
    let forms = [
        ("daily", s.daily.is_some()),
        ("weekly", s.weekly.is_some()),
        ("monthly", s.monthly.is_some()),
        ("patch_tuesday", s.patch_tuesday.is_some()),
        ("cron", s.cron.is_some()),
    ];
    let set: Vec<&str> = forms.iter().filter(|f| f.1).map(|f| f.0).collect();
    if set.len() != 1 {
        let msg = if set.is_empty() {
            "a schedule needs exactly one of daily, weekly, monthly, patch_tuesday or cron".to_owned()
        } else {
            format!("a schedule takes exactly one form, this one has {}", set.join(" and "))
        };
        return serr("", msg);
    }
    if s.offset_days.is_some() && s.cron.is_none() {
        return serr(
            "offset_days",
            "`offset_days` at this level goes with `cron`; the other forms carry their own",
        );
    }
    if let Some(d) = &s.daily {
        let (h, m) = at_or_err(&d.at, "daily")?;
        return Ok(WindowSchedule {
            cron: build(&format!("cron({m} {h} * * ? *)"), "daily")?,
            offset_days: 0,
        });
    }
    if let Some(w) = &s.weekly {
        let (h, m) = at_or_err(&w.at, "weekly")?;
        let day = w.day.plus(extra_offset);
        let cron = build(&format!("cron({m} {h} ? * {} *)", day.as_str()), "weekly")?;
        return Ok(WindowSchedule { cron, offset_days: 0 });
    }
    if let Some(p) = &s.patch_tuesday {
        let (h, m) = at_or_err(&p.at, "patch_tuesday")?;
        check_offset(p.offset_days, "patch_tuesday.offset_days")?;
        return nth_with_offset(
            "TUE",
            2,
            p.offset_days + extra_offset,
            "patch_tuesday.offset_days",
            h,
            m,
        );
    }
    if let Some(mo) = &s.monthly {
        let (h, m) = at_or_err(&mo.at, "monthly")?;
        check_offset(mo.offset_days, "monthly.offset_days")?;
        let total = mo.offset_days + extra_offset;
        return match &mo.week {
            Week::Nth(n @ 1..=5) => nth_with_offset(mo.day.as_str(), *n, total, "monthly.offset_days", h, m),
            Week::Nth(n) => serr("monthly.week", format!("week {n} is not 1-5 or `last`")),
            Week::Word(w) if w == "last" => {
                if total >= 7 {
                    return serr(
                        "monthly.offset_days",
                        format!(
                            "`last` + {total} days cannot be encoded: SSM's ScheduleOffset is 1-6 days and there is no week after the last"
                        ),
                    );
                }
                let cron = build(&format!("cron({m} {h} ? * {}L *)", cron_dow_number(mo.day)), "monthly")?;
                Ok(WindowSchedule {
                    cron,
                    offset_days: total as u8,
                })
            }
            Week::Word(w) => serr("monthly.week", format!("week `{w}` is not 1-5 or `last`")),
        };
    }
    let text = s.cron.as_deref().unwrap_or_default();
    let cron = build(text, "cron")?;
    let own = s.offset_days.unwrap_or(0);
    check_offset(own, "offset_days")?;
    let total = own + extra_offset;
    if total < 7 {
        return Ok(WindowSchedule {
            cron,
            offset_days: total as u8,
        });
    }
    match cron.day().clone() {
        DaySpec::Nth { weekday, n } => {
            // Rebuild the expression with the folded week; minute and hour fields are kept verbatim.
            let fields: Vec<&str> = cron.as_str()["cron(".len()..cron.as_str().len() - 1]
                .split(' ')
                .collect();
            let (min_f, hour_f) = (fields[0], fields[1]);
            let weeks = total / 7;
            let folded = i64::from(n) + weeks;
            if folded > 4 {
                return serr(
                    "offset_days",
                    format!("#{n} + {total} days folds into #{folded}, which not every month has"),
                );
            }
            let text = format!(
                "cron({min_f} {hour_f} ? {} {}#{folded} {})",
                fields[3],
                weekday_name(weekday),
                fields[5]
            );
            Ok(WindowSchedule {
                cron: build(&text, "cron")?,
                offset_days: (total % 7) as u8,
            })
        }
        _ => serr(
            "offset_days",
            format!(
                "an offset of {total} days needs a cron whose day-of-week is one `X#n` term to fold into; SSM's ScheduleOffset is 1-6"
            ),
        ),
    }
}

fn check_offset(v: i64, key: &str) -> Result<(), ScheduleError> {
    if (0..=27).contains(&v) {
        Ok(())
    } else {
        serr(key, format!("{v} is outside 0-27 days"))
    }
}

/// `Abc` from `abc`; ids are built from names validated to letters and digits.
fn pascal(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

pub use crate::ids::partition;

/// Name of the central event bus that member rules forward to.
pub fn central_bus_name(policy_name: &str) -> String {
    format!("{policy_name}-patch-events")
}

/// The whole plan of the member StackSet.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Policy name.
    pub policy_name: String,
    /// StackSet name.
    pub stack_set_name: String,
    /// Folder below the output directory.
    pub dir: String,
    /// Template description.
    pub description: String,
    /// Region → zone, sorted by region.
    pub regions: Vec<RegionZone>,
    /// `tag:<patch_group_tag>`.
    pub target_key: String,
    /// Baselines in policy order.
    pub baselines: Vec<BaselinePlan>,
    /// Scan window first, then install windows ring by ring.
    pub windows: Vec<WindowPlan>,
    /// Documents the window role may send.
    pub documents: Vec<String>,
    /// Event forwarding, when any source is forwarded.
    pub events: Option<EventsPlan>,
    /// Where member accounts write evidence.
    pub evidence: EvidencePlan,
    /// The central account's stack.
    pub central: CentralPlan,
    /// The role the bridge assumes in member accounts, when the policy has `central.bridge`.
    pub bridge_tags_role: Option<BridgeTagsRolePlan>,
    /// The AMI pipeline StackSet, when the policy has `ami_pipeline`.
    pub ami: Option<AmiPlan>,
    /// StackSet request written to `stackset.json`.
    #[serde(skip)]
    pub request: RequestPlan,
}

/// One region and its zone.
#[derive(Debug, Clone, Serialize)]
pub struct RegionZone {
    /// AWS region.
    pub region: String,
    /// IANA zone.
    pub zone: String,
}

/// A baseline to render.
#[derive(Debug, Clone, Serialize)]
pub struct BaselinePlan {
    /// Logical id.
    pub logical_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `OperatingSystem`.
    pub operating_system: &'static str,
    /// `DefaultBaseline`.
    pub default: bool,
    /// `<group_prefix>-<ring>` for every ring.
    pub patch_groups: Vec<String>,
    /// Approval rules.
    pub rules: Vec<RulePlan>,
    /// Approved patches.
    pub approved_patches: Vec<String>,
    /// `ApprovedPatchesComplianceLevel`.
    pub approved_patches_compliance: Option<String>,
    /// Rejected patches.
    pub rejected_patches: Vec<String>,
    /// `RejectedPatchesAction`.
    pub rejected_patches_action: &'static str,
}

/// A rule to render.
#[derive(Debug, Clone, Serialize)]
pub struct RulePlan {
    /// `ApproveAfterDays`, absent on Debian-family OSes.
    pub approve_after_days: Option<i64>,
    /// `ComplianceLevel`.
    pub compliance: String,
    /// `EnableNonSecurity`, only rendered when true.
    pub enable_non_security: bool,
    /// Filters sorted by key.
    pub filters: Vec<FilterPlan>,
}

/// A patch filter.
#[derive(Debug, Clone, Serialize)]
pub struct FilterPlan {
    /// Key.
    pub key: String,
    /// Values.
    pub values: Vec<String>,
}

/// What a window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Nightly scan of every patch group.
    Scan,
    /// A ring's install for one baseline.
    Install,
    /// A golden-image build aligned to a ring's install window.
    Ami,
}

/// A maintenance window with its targets and task.
#[derive(Debug, Clone, Serialize)]
pub struct WindowPlan {
    /// Scan or install.
    pub kind: WindowKind,
    /// Window name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Ring (install windows).
    pub ring: Option<String>,
    /// Baseline name (install windows).
    pub baseline: Option<String>,
    /// Operating system of the baseline (install windows).
    pub operating_system: Option<&'static str>,
    /// Logical id of the window.
    pub window_id: String,
    /// Logical id of the task.
    pub task_id: String,
    /// Targets (at most 50 patch groups each).
    pub targets: Vec<TargetPlan>,
    /// `Schedule`.
    pub cron: String,
    /// `ScheduleOffset` when not zero.
    pub offset_days: Option<u8>,
    /// The parsed schedule, for previews.
    #[serde(skip)]
    pub schedule: WindowSchedule,
    /// `Duration`.
    pub duration: i64,
    /// `Cutoff`.
    pub cutoff: i64,
    /// `CutoffBehavior`.
    pub cutoff_behavior: &'static str,
    /// `TaskArn`.
    pub document: &'static str,
    /// Task parameters, each a one-element list.
    pub parameters: Vec<Param>,
    /// `MaxConcurrency`.
    pub max_concurrency: String,
    /// `MaxErrors`.
    pub max_errors: String,
}

/// A window target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetPlan {
    /// Logical id.
    pub logical_id: String,
    /// Patch groups.
    pub values: Vec<String>,
}

/// A task parameter.
#[derive(Debug, Clone, Serialize)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// Value.
    pub value: String,
}

/// Event forwarding to the central bus.
#[derive(Debug, Clone, Serialize)]
pub struct EventsPlan {
    /// Sources.
    pub sources: Vec<&'static str>,
    /// Detail types.
    pub detail_types: Vec<&'static str>,
    /// ARN of the central bus.
    pub bus_arn: String,
}

/// Where evidence goes: the central bucket, under fixed prefixes.
#[derive(Debug, Clone, Serialize)]
pub struct EvidencePlan {
    /// Bucket name.
    pub bucket: String,
    /// Region of the bucket (the central region).
    pub region: String,
    /// Resource data sync name in every member account and region.
    pub sync_name: String,
    /// Prefix of resource data sync objects.
    pub sync_prefix: &'static str,
    /// Prefix of run-command output (followed by account and region).
    pub run_command_prefix: &'static str,
}

/// The central stack: bus, queue, dead-letter queues, evidence bucket.
#[derive(Debug, Clone, Serialize)]
pub struct CentralPlan {
    /// Folder below the output directory.
    pub dir: String,
    /// Stack name.
    pub stack_name: String,
    /// Template description.
    pub description: String,
    /// Organization id admitted by the bus and bucket policies.
    pub org_id: String,
    /// Central bus name.
    pub bus_name: String,
    /// Event sources the central rule sends to the queue.
    pub sources: Vec<&'static str>,
    /// Queue the bridge consumes.
    pub queue_name: String,
    /// Dead-letter queue of the bridge's queue (poison messages after `max_receive_count`).
    pub dlq_name: String,
    /// Dead-letter queue of the rule target (events EventBridge could not deliver).
    pub undeliverable_name: String,
    /// Receives before a message goes to the dead-letter queue.
    pub max_receive_count: u32,
    /// Evidence bucket and prefixes.
    pub evidence: EvidencePlan,
    /// Days before evidence expires.
    pub retention_days: i64,
    /// Account and region it is deployed to.
    pub account: String,
    /// Region.
    pub region: String,
    /// The bridge service, when the policy has `central.bridge`.
    pub bridge: Option<BridgePlan>,
}

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

/// The bridge's configuration as the policy gives it, plus `enrich.baselines` (group prefix →
/// baseline name) from the policy's own baselines when the configuration does not set it: one
/// source of truth for what a patch group means.
pub fn bridge_config(p: &Policy, b: &crate::policy::BridgeService) -> crate::bridge_config::BridgeConfig {
    let mut config = b.config.clone();
    if config.enrich.baselines.is_empty() {
        config.enrich.baselines = p
            .baselines
            .iter()
            .map(|bl| (bl.group_prefix.clone(), bl.name.clone()))
            .collect();
    }
    config
}

fn build_bridge(p: &Policy, b: &crate::policy::BridgeService) -> BridgePlan {
    let name = format!("{}-bridge", p.name);
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
        config_json: serde_json::to_string(&bridge_config(p, b)).unwrap_or_else(|_| "{}".to_owned()),
        stop_timeout: 30,
        name,
    }
}

/// The AMI pipeline StackSet: per image a recipe, infrastructure, distribution and pipeline with
/// no schedule of its own, started by a maintenance window with the aligned ring's schedule.
#[derive(Debug, Clone, Serialize)]
pub struct AmiPlan {
    /// Folder below the output directory.
    pub dir: String,
    /// StackSet name.
    pub stack_set_name: String,
    /// Template description.
    pub description: String,
    /// Policy name.
    pub policy_name: String,
    /// Tag key carrying the patch group.
    pub patch_group_tag: String,
    /// Region → zone, for the regions that build.
    pub regions: Vec<RegionZone>,
    /// Images.
    pub images: Vec<ImagePlan>,
    /// Automation document name (starts a pipeline).
    pub start_document: String,
    /// StackSet request.
    #[serde(skip)]
    pub request: RequestPlan,
}

/// One golden image.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// Logical ids of its resources.
    pub ids: ImageIds,
    /// Image Builder component name.
    pub component_name: String,
    /// Component description.
    pub component_description: String,
    /// Image name.
    pub name: String,
    /// Baseline whose patches the build applies.
    pub baseline: String,
    /// Patch group the build instance joins (`<group_prefix>-<ring>`).
    pub patch_group: String,
    /// `Linux` or `Windows`.
    pub platform: &'static str,
    /// Parent image.
    pub parent_image: String,
    /// Component document (YAML text).
    pub component_data: String,
    /// Component and recipe version, derived from their content (Image Builder versions are
    /// immutable, so a change must get a new one).
    pub version: String,
    /// AMI name pattern; `{{ imagebuilder:buildDate }}` is Image Builder's own variable.
    pub ami_name: String,
    /// The window that starts the build.
    pub window: WindowPlan,
}

/// Logical ids of one image's resources (templates never build ids by concatenation: every
/// value is a quoted scalar).
#[derive(Debug, Clone, Serialize)]
pub struct ImageIds {
    /// `AWS::ImageBuilder::Component`.
    pub component: String,
    /// `AWS::ImageBuilder::ImageRecipe`.
    pub recipe: String,
    /// `AWS::ImageBuilder::InfrastructureConfiguration`.
    pub infrastructure: String,
    /// `AWS::ImageBuilder::DistributionConfiguration`.
    pub distribution: String,
    /// `AWS::ImageBuilder::ImagePipeline`.
    pub pipeline: String,
}

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
    fn member(p: &Policy) -> RequestPlan {
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

/// SSM's limit on values in one maintenance-window target.
const MAX_TARGET_VALUES: usize = 50;

impl Plan {
    /// Builds the plan of a policy that passed validation. Errors here are schedule problems that
    /// validation reports too; they are returned, never panicked on.
    pub fn build(p: &Policy) -> Result<Plan, ScheduleError> {
        let group = |prefix: &str, ring: &str| format!("{prefix}-{ring}");
        let baselines: Vec<BaselinePlan> = p
            .baselines
            .iter()
            .map(|b| BaselinePlan {
                logical_id: format!("Baseline{}", pascal(&b.group_prefix)),
                name: b.name.clone(),
                description: b.description.clone().unwrap_or_else(|| {
                    format!(
                        "{} patch baseline of policy {} (managed by patchplane)",
                        b.operating_system.as_str(),
                        p.name
                    )
                }),
                operating_system: b.operating_system.as_str(),
                default: b.default,
                patch_groups: p.rings.iter().map(|r| group(&b.group_prefix, &r.name)).collect(),
                rules: b
                    .rules
                    .iter()
                    .map(|r| RulePlan {
                        approve_after_days: r.approve_after_days,
                        compliance: enum_str(&r.compliance),
                        enable_non_security: r.enable_non_security,
                        filters: r
                            .filters
                            .iter()
                            .map(|(k, v)| FilterPlan {
                                key: k.clone(),
                                values: v.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                approved_patches: b.approved_patches.clone(),
                approved_patches_compliance: b.approved_patches_compliance.as_ref().map(enum_str),
                rejected_patches: b.rejected_patches.clone(),
                rejected_patches_action: match b.rejected_patches_action {
                    crate::policy::RejectedPatchesAction::Block => "BLOCK",
                    crate::policy::RejectedPatchesAction::AllowAsDependency => "ALLOW_AS_DEPENDENCY",
                },
            })
            .collect();

        let hooks = &p.install.hooks;
        let document = if hooks.any() {
            "AWS-RunPatchBaselineWithHooks"
        } else {
            "AWS-RunPatchBaseline"
        };
        let cutoff_behavior = match p.windows.cutoff_behavior {
            CutoffBehavior::CancelTask => "CANCEL_TASK",
            CutoffBehavior::ContinueTask => "CONTINUE_TASK",
        };
        let mut windows = Vec::new();

        let all_groups: Vec<String> = baselines.iter().flat_map(|b| b.patch_groups.clone()).collect();
        let scan_targets = all_groups
            .chunks(MAX_TARGET_VALUES)
            .enumerate()
            .map(|(i, c)| TargetPlan {
                logical_id: format!("ScanTarget{}", i + 1),
                values: c.to_vec(),
            })
            .collect();
        let scan = resolve_schedule(&p.scan.schedule, 0)?;
        windows.push(WindowPlan {
            kind: WindowKind::Scan,
            name: format!("{}-scan", p.name),
            description: format!("Nightly patch scan of every patch group of policy {}", p.name),
            ring: None,
            baseline: None,
            operating_system: None,
            window_id: "ScanWindow".to_owned(),
            task_id: "ScanTask".to_owned(),
            targets: scan_targets,
            cron: scan.cron.to_string(),
            offset_days: (scan.offset_days > 0).then_some(scan.offset_days),
            schedule: scan,
            duration: p.windows.duration_hours,
            cutoff: p.windows.cutoff_hours,
            cutoff_behavior,
            // Scans never reboot and need no hooks, whatever the install task uses.
            document: "AWS-RunPatchBaseline",
            parameters: vec![
                Param {
                    name: "Operation",
                    value: "Scan".to_owned(),
                },
                Param {
                    name: "RebootOption",
                    value: "NoReboot".to_owned(),
                },
            ],
            max_concurrency: p
                .scan
                .max_concurrency
                .clone()
                .unwrap_or_else(|| p.install.max_concurrency.clone()),
            max_errors: p
                .scan
                .max_errors
                .clone()
                .unwrap_or_else(|| p.install.max_errors.clone()),
        });

        let mut install_params = vec![
            Param {
                name: "Operation",
                value: "Install".to_owned(),
            },
            Param {
                name: "RebootOption",
                value: match p.install.reboot {
                    Reboot::RebootIfNeeded => "RebootIfNeeded",
                    Reboot::NoReboot => "NoReboot",
                }
                .to_owned(),
            },
        ];
        for (name, doc) in [
            ("PreInstallHookDocName", &hooks.pre_install),
            ("PostInstallHookDocName", &hooks.post_install),
            ("OnExitHookDocName", &hooks.on_exit),
        ] {
            if let Some(d) = doc {
                install_params.push(Param { name, value: d.clone() });
            }
        }
        for ring in &p.rings {
            for b in &p.baselines {
                let ws = resolve_schedule(&ring.schedule, b.install_offset_days)?;
                let g = group(&b.group_prefix, &ring.name);
                let id = format!("Install{}{}", pascal(&b.group_prefix), pascal(&ring.name));
                windows.push(WindowPlan {
                    kind: WindowKind::Install,
                    name: format!("{}-{g}-install", p.name),
                    description: format!(
                        "Ring {} install of baseline {} ({})",
                        ring.name,
                        b.name,
                        b.operating_system.as_str()
                    ),
                    ring: Some(ring.name.clone()),
                    baseline: Some(b.name.clone()),
                    operating_system: Some(b.operating_system.as_str()),
                    window_id: format!("{id}Window"),
                    task_id: format!("{id}Task"),
                    targets: vec![TargetPlan {
                        logical_id: format!("{id}Target"),
                        values: vec![g],
                    }],
                    cron: ws.cron.to_string(),
                    offset_days: (ws.offset_days > 0).then_some(ws.offset_days),
                    schedule: ws,
                    duration: p.windows.duration_hours,
                    cutoff: p.windows.cutoff_hours,
                    cutoff_behavior,
                    document,
                    parameters: install_params.clone(),
                    max_concurrency: p.install.max_concurrency.clone(),
                    max_errors: p.install.max_errors.clone(),
                });
            }
        }

        let mut documents = vec!["AWS-RunPatchBaseline".to_owned()];
        if hooks.any() {
            documents.push("AWS-RunPatchBaselineWithHooks".to_owned());
        }
        let events = (!p.events.forward.is_empty()).then(|| EventsPlan {
            sources: p.events.forward.iter().map(|s| s.as_str()).collect(),
            detail_types: p
                .events
                .forward
                .iter()
                .flat_map(|s: &EventSource| s.detail_types().iter().copied())
                .collect(),
            bus_arn: format!(
                "arn:{}:events:{}:{}:event-bus/{}",
                partition(&p.central.region),
                p.central.region,
                p.central.account,
                central_bus_name(&p.name)
            ),
        });

        let evidence = EvidencePlan {
            bucket: p.central.evidence_bucket.clone(),
            region: p.central.region.clone(),
            sync_name: format!("{}-evidence", p.name),
            sync_prefix: "resource-data-sync",
            run_command_prefix: "run-command",
        };
        let bus_name = central_bus_name(&p.name);
        let central = CentralPlan {
            dir: "central".to_owned(),
            stack_name: format!("{}-patch-central", p.name),
            description: format!(
                "patchplane central account for policy {}: event bus, queue for the bridge, evidence bucket",
                p.name
            ),
            org_id: p.organization.id.clone(),
            queue_name: bus_name.clone(),
            dlq_name: format!("{bus_name}-dlq"),
            undeliverable_name: format!("{bus_name}-undeliverable"),
            bus_name,
            // The central rule matches whatever member rules forward, whatever the policy says
            // today, so a source switched off later still drains.
            sources: vec![EventSource::Ssm.as_str(), EventSource::Inspector2.as_str()],
            max_receive_count: 5,
            evidence: evidence.clone(),
            retention_days: p.evidence.retention_days,
            account: p.central.account.clone(),
            region: p.central.region.clone(),
            bridge: p.central.bridge.as_ref().map(|b| build_bridge(p, b)),
        };
        let bridge_tags_role = central.bridge.as_ref().map(|b| BridgeTagsRolePlan {
            role_name: b.member_role_name.clone(),
            home_region: if p.organization.regions.contains_key(&p.central.region) {
                p.central.region.clone()
            } else {
                p.organization.regions.keys().next().cloned().unwrap_or_default()
            },
            central_account: p.central.account.clone(),
            task_role_name: b.task_role_name.clone(),
        });

        let ami = match &p.ami_pipeline {
            Some(a) => Some(build_ami(p, a, cutoff_behavior)?),
            None => None,
        };

        let request = RequestPlan::member(p);

        Ok(Plan {
            policy_name: p.name.clone(),
            stack_set_name: format!("{}-patching", p.name),
            dir: "patching".to_owned(),
            description: format!(
                "patchplane member patching for policy {}: baselines, patch groups, maintenance windows and event forwarding",
                p.name
            ),
            regions: p
                .organization
                .regions
                .iter()
                .map(|(r, z)| RegionZone {
                    region: r.clone(),
                    zone: z.clone(),
                })
                .collect(),
            target_key: format!("tag:{}", p.patch_group_tag),
            baselines,
            windows,
            documents,
            events,
            evidence,
            central,
            bridge_tags_role,
            ami,
            request,
        })
    }
}

const LINUX_COMPONENT: &str = include_str!("../../templates/components/apply-patch-baseline-linux.yaml");
const WINDOWS_COMPONENT: &str = include_str!("../../templates/components/apply-patch-baseline-windows.yaml");

/// FNV-1a: a stable content hash (std's hasher is not stable across releases).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `al2023-golden` → `Al2023Golden`.
fn pascal_words(s: &str) -> String {
    s.split(['-', '_']).map(pascal).collect()
}

fn build_ami(
    p: &Policy,
    a: &crate::policy::AmiPipeline,
    cutoff_behavior: &'static str,
) -> Result<AmiPlan, ScheduleError> {
    let ring = p
        .rings
        .iter()
        .find(|r| r.name == a.aligned_to_ring)
        .ok_or_else(|| ScheduleError {
            key: "ami_pipeline.aligned_to_ring".into(),
            message: format!("ring `{}` is not defined", a.aligned_to_ring),
        })?;
    let mut images = Vec::new();
    for img in &a.images {
        let b = p
            .baselines
            .iter()
            .find(|b| b.name == img.baseline)
            .ok_or_else(|| ScheduleError {
                key: "ami_pipeline.images".into(),
                message: format!("baseline `{}` is not defined", img.baseline),
            })?;
        // Exactly the install window of this baseline in the aligned ring: same cron, offset, zone.
        let ws = resolve_schedule(&ring.schedule, b.install_offset_days)?;
        let windows_os = b.operating_system == crate::policy::OperatingSystem::Windows;
        let component_data = if windows_os { WINDOWS_COMPONENT } else { LINUX_COMPONENT }.to_owned();
        let patch_group = format!("{}-{}", b.group_prefix, ring.name);
        let version = format!(
            "1.0.{}",
            fnv1a(&[&component_data, &img.parent_image, &patch_group]) % 1_000_000
        );
        let id = format!("Image{}", pascal_words(&img.name));
        images.push(ImagePlan {
            window: WindowPlan {
                kind: WindowKind::Ami,
                name: format!("{}-{}-ami-build", p.name, img.name),
                description: format!(
                    "Builds image {} in ring {}'s window for baseline {}",
                    img.name, ring.name, b.name
                ),
                ring: Some(ring.name.clone()),
                baseline: Some(b.name.clone()),
                operating_system: Some(b.operating_system.as_str()),
                window_id: format!("{id}Window"),
                task_id: format!("{id}Task"),
                targets: Vec::new(),
                cron: ws.cron.to_string(),
                offset_days: (ws.offset_days > 0).then_some(ws.offset_days),
                schedule: ws,
                duration: p.windows.duration_hours,
                cutoff: p.windows.cutoff_hours,
                cutoff_behavior,
                document: "",
                parameters: Vec::new(),
                max_concurrency: String::new(),
                max_errors: String::new(),
            },
            ids: ImageIds {
                component: format!("{id}Component"),
                recipe: format!("{id}Recipe"),
                infrastructure: format!("{id}Infrastructure"),
                distribution: format!("{id}Distribution"),
                pipeline: format!("{id}Pipeline"),
            },
            component_name: format!("{}-apply-patch-baseline-{}", p.name, img.name),
            component_description: format!("Applies the patch baseline of patch group {patch_group}, then reboots"),
            name: img.name.clone(),
            baseline: b.name.clone(),
            patch_group,
            platform: if windows_os { "Windows" } else { "Linux" },
            parent_image: img.parent_image.clone(),
            component_data,
            version,
            ami_name: format!("{}-{{{{ imagebuilder:buildDate }}}}", img.name),
        });
    }
    // Service-managed StackSets target OUs; the build accounts are picked out of them.
    let request = RequestPlan {
        accounts: a.accounts.clone(),
        account_filter: "INTERSECTION",
        regions: a.regions.clone(),
        ..RequestPlan::member(p)
    };
    Ok(AmiPlan {
        dir: "ami-pipeline".to_owned(),
        stack_set_name: format!("{}-ami-pipeline", p.name),
        description: format!(
            "patchplane golden images for policy {}: Image Builder pipelines started in ring {}'s local window",
            p.name, ring.name
        ),
        policy_name: p.name.clone(),
        patch_group_tag: p.patch_group_tag.clone(),
        regions: a
            .regions
            .iter()
            .filter_map(|r| {
                p.organization.regions.get(r).map(|z| RegionZone {
                    region: r.clone(),
                    zone: z.clone(),
                })
            })
            .collect(),
        images,
        start_document: format!("{}-start-image-pipeline", p.name),
        request,
    })
}

/// The serde name of a unit enum value (`CRITICAL`).
fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Monthly, PatchTuesday, Weekly};

    fn pt(offset: i64, at: &str) -> Schedule {
        Schedule {
            patch_tuesday: Some(PatchTuesday {
                offset_days: offset,
                at: at.into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sunday_after_patch_tuesday_is_tue2_plus_5() {
        let ws = resolve_schedule(&pt(5, "23:30"), 0).expect("ok");
        assert_eq!(ws.cron.as_str(), "cron(30 23 ? * TUE#2 *)");
        assert_eq!(ws.offset_days, 5);
    }

    #[test]
    fn offsets_of_seven_or_more_fold_into_the_week() {
        let ws = resolve_schedule(&pt(8, "02:00"), 0).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(0 2 ? * TUE#3 *)", 1));
        let ws = resolve_schedule(&pt(12, "02:00"), 2).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(0 2 ? * TUE#4 *)", 0));
        let e = resolve_schedule(&pt(20, "02:00"), 1).expect_err("folds to #5");
        assert!(e.message.contains("TUE#5"), "{}", e.message);
    }

    #[test]
    fn weekly_offsets_shift_the_day_and_last_refuses_long_offsets() {
        let s = Schedule {
            weekly: Some(Weekly {
                day: Day::SAT,
                at: "02:00".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            resolve_schedule(&s, 2).expect("ok").cron.as_str(),
            "cron(0 2 ? * MON *)"
        );
        let m = |week: Week, off| Schedule {
            monthly: Some(Monthly {
                week,
                day: Day::THU,
                offset_days: off,
                at: "01:15".into(),
            }),
            ..Default::default()
        };
        let ws = resolve_schedule(&m(Week::Word("last".into()), 3), 0).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(15 1 ? * 5L *)", 3));
        assert!(resolve_schedule(&m(Week::Word("last".into()), 7), 0).is_err());
        assert!(resolve_schedule(&m(Week::Word("first".into()), 0), 0).is_err());
        assert!(resolve_schedule(&m(Week::Nth(6), 0), 0).is_err());
    }

    #[test]
    fn escape_hatch_cron_folds_nth_and_refuses_other_long_offsets() {
        let s = Schedule {
            cron: Some("cron(0 3 ? * WED#1 *)".into()),
            offset_days: Some(9),
            ..Default::default()
        };
        let ws = resolve_schedule(&s, 0).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(0 3 ? * WED#2 *)", 2));
        let s = Schedule {
            cron: Some("cron(0 3 ? * WED *)".into()),
            offset_days: Some(7),
            ..Default::default()
        };
        assert!(resolve_schedule(&s, 0).is_err());
    }
}
