//! `patchplane plan | rollout | status`: the generated StackSets in front of every account.
//!
//! The logic (what differs, which calls to make, how to wait and retry) is written against the
//! [`Api`] trait, one method per CloudFormation call, so it is tested twice. The real client
//! ([`aws::CloudFormation`]) runs against moto server. An in-process fake covers what moto does
//! not implement: moto ignores the `OperationId` of CreateStackInstances, stores no
//! `AutoDeployment` or `ManagedExecution`, cannot delete by OU, lists instances without their OU,
//! and finishes every operation at once, so it has no failed or in-progress operations.
//!
//! Idempotency: the plan compares `stackset.json` with DescribeStackSet and ListStackInstances,
//! and an unchanged StackSet gets no mutating call at all. Every mutating call carries an
//! `OperationId` chosen before the first attempt and reused by every retry, so a retried request
//! that already reached CloudFormation is not executed twice.
//! `OperationInProgressException` waits and retries with capped exponential backoff and jitter;
//! `StaleRequestException` and failed operations end the rollout with the per-instance reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

/// A StackSet as `stackset.json` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Folder of the StackSet below the output directory.
    pub dir: PathBuf,
    /// `StackSetName`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// The template text (from `TemplateBody`, or the file a `TemplateURL` placeholder names).
    pub template_body: String,
    /// For a template over 51,200 bytes: the file to upload (from the placeholder).
    pub upload: Option<PathBuf>,
    /// The uploaded template's URL, once uploaded; sent as `TemplateURL` instead of the body.
    pub template_url: Option<String>,
    /// `Capabilities`.
    pub capabilities: Vec<String>,
    /// `AutoDeployment.Enabled`, `.RetainStacksOnAccountRemoval`.
    pub auto_deployment: (bool, bool),
    /// `CallAs`.
    pub call_as: String,
    /// `ManagedExecution.Active`.
    pub managed_execution: bool,
    /// `Tags`.
    pub tags: Vec<(String, String)>,
    /// `DeploymentTargets.OrganizationalUnitIds`.
    pub ous: Vec<String>,
    /// `DeploymentTargets.Accounts`.
    pub accounts: Vec<String>,
    /// `DeploymentTargets.AccountFilterType`.
    pub account_filter: String,
    /// `Regions`.
    pub regions: Vec<String>,
    /// `RegionConcurrencyType`, `MaxConcurrentPercentage`, `FailureTolerancePercentage`.
    pub preferences: (String, i32, i32),
}

/// Why a request file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct RequestError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

fn field<'a>(v: &'a Json, path: &str) -> Result<&'a Json, String> {
    let mut cur = v;
    for key in path.split('.') {
        cur = cur.get(key).ok_or_else(|| format!("`{path}` is missing"))?;
    }
    Ok(cur)
}

fn string(v: &Json, path: &str) -> Result<String, String> {
    field(v, path)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{path}` is not a string"))
}

fn strings(v: &Json, path: &str) -> Result<Vec<String>, String> {
    match field(v, path) {
        Err(_) => Ok(Vec::new()),
        Ok(Json::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{path}` holds a non-string"))
            })
            .collect(),
        Ok(_) => Err(format!("`{path}` is not a list")),
    }
}

impl Desired {
    /// Parses one `stackset.json`.
    pub fn parse(path: &Path, text: &str) -> Result<Desired, RequestError> {
        let err = |message: String| RequestError {
            path: path.to_path_buf(),
            message,
        };
        let v: Json = serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
        let parse = || -> Result<Desired, String> {
            let c = field(&v, "CreateStackSet")?;
            let i = field(&v, "CreateStackInstances")?;
            // A template over the TemplateBody limit is named by a placeholder (ADR 003): read it
            // from the output directory, to be uploaded by `rollout --template-bucket`.
            let (template_body, upload) = match c.get("TemplateURL").and_then(Json::as_str) {
                Some(url) => {
                    let rel = url
                        .strip_prefix(crate::render::UPLOAD_PLACEHOLDER)
                        .ok_or_else(|| format!("`TemplateURL` `{url}` is not a patchplane upload placeholder"))?;
                    let out_dir = path.parent().and_then(Path::parent).unwrap_or(Path::new("."));
                    let file = out_dir.join(rel);
                    let body = std::fs::read_to_string(&file)
                        .map_err(|e| format!("cannot read {} named by `TemplateURL`: {e}", file.display()))?;
                    (body, Some(file))
                }
                None => (string(c, "TemplateBody")?, None),
            };
            let int = |p: &str| -> Result<i32, String> {
                field(i, p)?
                    .as_i64()
                    .map(|n| n as i32)
                    .ok_or_else(|| format!("`{p}` is not a number"))
            };
            Ok(Desired {
                dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                name: string(c, "StackSetName")?,
                description: string(c, "Description").unwrap_or_default(),
                template_body,
                upload,
                template_url: None,
                capabilities: strings(c, "Capabilities")?,
                auto_deployment: (
                    field(c, "AutoDeployment.Enabled")?.as_bool().unwrap_or(false),
                    field(c, "AutoDeployment.RetainStacksOnAccountRemoval")?
                        .as_bool()
                        .unwrap_or(false),
                ),
                call_as: string(c, "CallAs")?,
                managed_execution: c
                    .pointer("/ManagedExecution/Active")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
                tags: match c.get("Tags") {
                    Some(Json::Array(t)) => t
                        .iter()
                        .map(|t| Ok((string(t, "Key")?, string(t, "Value")?)))
                        .collect::<Result<_, String>>()?,
                    _ => Vec::new(),
                },
                ous: strings(i, "DeploymentTargets.OrganizationalUnitIds")?,
                accounts: strings(i, "DeploymentTargets.Accounts")?,
                account_filter: string(i, "DeploymentTargets.AccountFilterType").unwrap_or_else(|_| "NONE".into()),
                regions: strings(i, "Regions")?,
                preferences: (
                    string(i, "OperationPreferences.RegionConcurrencyType")?,
                    int("OperationPreferences.MaxConcurrentPercentage")?,
                    int("OperationPreferences.FailureTolerancePercentage")?,
                ),
            })
        };
        parse().map_err(err)
    }

    /// Every `*/stackset.json` below `dir`, sorted by folder.
    pub fn read_dir(dir: &Path) -> Result<Vec<Desired>, RequestError> {
        let entries = std::fs::read_dir(dir).map_err(|e| RequestError {
            path: dir.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("stackset.json"))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(RequestError {
                path: dir.to_path_buf(),
                message: "no */stackset.json here: run `patchplane generate` first".into(),
            });
        }
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).map_err(|e| RequestError {
                    path: f.clone(),
                    message: format!("cannot read: {e}"),
                })?;
                Desired::parse(f, &text)
            })
            .collect()
    }
}

/// One stack instance as CloudFormation lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// OU the instance was deployed through, when CloudFormation says.
    pub ou: Option<String>,
    /// `CURRENT`, `OUTDATED`, `INOPERABLE`.
    pub status: String,
    /// Detailed status or reason.
    pub reason: String,
    /// Drift status, when known.
    pub drift: String,
    /// Last operation id.
    pub last_operation: String,
}

/// A StackSet as CloudFormation has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// `TemplateBody`.
    pub template_body: String,
    /// `Description`.
    pub description: String,
    /// `Tags`.
    pub tags: Vec<(String, String)>,
    /// `AutoDeployment` (enabled, retain stacks), when CloudFormation reports it (moto does not).
    pub auto_deployment: Option<(bool, bool)>,
    /// Instances.
    pub instances: Vec<Instance>,
}

/// What an API error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `OperationInProgressException`: wait and retry the same request.
    InProgress,
    /// `StaleRequestException`: the operation is too old to run; a person must look.
    Stale,
    /// Anything else.
    Other,
}

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Kind.
    pub kind: ErrorKind,
    /// Message.
    pub message: String,
}

/// Terminal or running state of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `QUEUED`, `STOPPING`, `STOPPED`.
    pub status: String,
    /// Reason, when CloudFormation gives one.
    pub reason: String,
}

impl Operation {
    fn finished(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }
}

/// The result of an operation in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceResult {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// `SUCCEEDED`, `FAILED`, `CANCELLED`, …
    pub status: String,
    /// Reason.
    pub reason: String,
}

/// Which instances a call concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// OUs.
    pub ous: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
}

/// The CloudFormation calls rollout makes, one method per API call (pages of a list count as calls).
pub trait Api {
    /// DescribeStackSet + ListStackInstances; `None` when the StackSet does not exist.
    fn describe(&self, d: &Desired) -> impl Future<Output = Result<Option<Deployed>, ApiError>>;
    /// CreateStackSet (mutating).
    fn create_stack_set(&self, d: &Desired) -> impl Future<Output = Result<(), ApiError>>;
    /// UpdateStackSet for `targets` (mutating); returns the operation id.
    fn update_stack_set(&self, d: &Desired, t: &Targets, op: &str) -> impl Future<Output = Result<String, ApiError>>;
    /// CreateStackInstances (mutating).
    fn create_instances(&self, d: &Desired, t: &Targets, op: &str) -> impl Future<Output = Result<String, ApiError>>;
    /// DeleteStackInstances (mutating).
    fn delete_instances(&self, d: &Desired, t: &Targets, op: &str) -> impl Future<Output = Result<String, ApiError>>;
    /// DescribeStackSetOperation.
    fn operation(&self, d: &Desired, op: &str) -> impl Future<Output = Result<Operation, ApiError>>;
    /// ListStackSetOperationResults.
    fn results(&self, d: &Desired, op: &str) -> impl Future<Output = Result<Vec<InstanceResult>, ApiError>>;
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The StackSet does not exist.
    CreateStackSet,
    /// Template, description or tags differ; `diff` is readable.
    Update {
        /// Unified diff of the template, or a line per other difference.
        diff: String,
        /// Instances updated.
        targets: Targets,
    },
    /// Stack instances to create.
    AddInstances(Targets),
    /// Stack instances to delete.
    RemoveInstances(Targets),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |t: &Targets| format!("OUs {} × regions {}", t.ous.join(", "), t.regions.join(", "));
        match self {
            Change::CreateStackSet => write!(f, "create the StackSet"),
            Change::Update { diff, targets } => {
                write!(f, "update the StackSet and its instances in {}:\n{diff}", t(targets))
            }
            Change::AddInstances(x) => write!(f, "add stack instances: {}", t(x)),
            Change::RemoveInstances(x) => write!(f, "remove stack instances: {}", t(x)),
        }
    }
}

/// Compares the request with what is deployed.
///
/// Instances are compared per (OU, region). An instance listed without its OU (moto does that)
/// counts for every desired OU in its region, so a StackSet deployed by a client that does not
/// report OUs is not redeployed on every run.
pub fn plan(d: &Desired, deployed: Option<&Deployed>) -> Vec<Change> {
    let Some(dep) = deployed else {
        return vec![
            Change::CreateStackSet,
            Change::AddInstances(Targets {
                ous: d.ous.clone(),
                regions: d.regions.clone(),
            }),
        ];
    };
    let mut changes = Vec::new();
    let mut diff = String::new();
    if dep.template_body != d.template_body {
        diff.push_str(
            &similar::TextDiff::from_lines(&dep.template_body, &d.template_body)
                .unified_diff()
                .context_radius(2)
                .header("deployed template", "generated template")
                .to_string(),
        );
    }
    if dep.description != d.description {
        diff.push_str(&format!("description: {:?} → {:?}\n", dep.description, d.description));
    }
    let (mut a, mut b) = (dep.tags.clone(), d.tags.clone());
    a.sort();
    b.sort();
    if a != b {
        diff.push_str(&format!("tags: {a:?} → {b:?}\n"));
    }
    if let Some(auto) = dep.auto_deployment
        && auto != d.auto_deployment
    {
        diff.push_str(&format!(
            "auto-deployment (enabled, retain stacks): {auto:?} → {:?}\n",
            d.auto_deployment
        ));
    }
    let deployed_regions: BTreeSet<&str> = dep.instances.iter().map(|i| i.region.as_str()).collect();
    if !diff.is_empty() {
        // Update the instances that stay; new ones are created from the new template anyway.
        let regions: Vec<String> = d
            .regions
            .iter()
            .filter(|r| deployed_regions.contains(r.as_str()))
            .cloned()
            .collect();
        changes.push(Change::Update {
            diff,
            targets: Targets {
                ous: d.ous.clone(),
                regions,
            },
        });
    }

    let mut have: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut unknown_ou: BTreeSet<&str> = BTreeSet::new();
    for i in &dep.instances {
        match &i.ou {
            Some(ou) => {
                have.entry(i.region.as_str()).or_default().insert(ou.as_str());
            }
            None => {
                unknown_ou.insert(i.region.as_str());
            }
        }
    }
    // Add, grouped by the set of OUs missing in a region: calls grow with regions, never accounts.
    let mut add: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for r in &d.regions {
        if unknown_ou.contains(r.as_str()) {
            continue;
        }
        let present = have.get(r.as_str());
        let missing: Vec<String> = d
            .ous
            .iter()
            .filter(|o| present.is_none_or(|p| !p.contains(o.as_str())))
            .cloned()
            .collect();
        if !missing.is_empty() {
            add.entry(missing).or_default().push(r.clone());
        }
    }
    for (ous, regions) in add {
        changes.push(Change::AddInstances(Targets { ous, regions }));
    }
    // Remove: OUs no longer targeted, and regions no longer listed.
    let mut remove: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (region, ous) in &have {
        let gone: Vec<String> = if d.regions.iter().any(|r| r == region) {
            ous.iter()
                .filter(|o| !d.ous.iter().any(|x| x == *o))
                .map(|o| (*o).to_owned())
                .collect()
        } else {
            ous.iter().map(|o| (*o).to_owned()).collect()
        };
        if !gone.is_empty() {
            remove.entry(gone).or_default().push((*region).to_owned());
        }
    }
    for region in unknown_ou.iter().filter(|r| !d.regions.iter().any(|x| x == *r)) {
        remove.entry(d.ous.clone()).or_default().push((*region).to_owned());
    }
    for (ous, regions) in remove {
        changes.push(Change::RemoveInstances(Targets { ous, regions }));
    }
    changes
}

/// How rollout waits and retries.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Between two DescribeStackSetOperation calls.
    pub poll: Duration,
    /// First backoff after `OperationInProgressException`; doubles, capped at 64×.
    pub backoff: Duration,
    /// Attempts of one call before giving up.
    pub attempts: u32,
    /// Longest wait for one operation.
    pub timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(5),
            backoff: Duration::from_secs(5),
            attempts: 12,
            timeout: Duration::from_secs(3 * 3600),
        }
    }
}

/// Why a rollout did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    /// A call failed.
    #[error("{stack_set}: {call} failed: {error}")]
    Call {
        /// StackSet.
        stack_set: String,
        /// The API call.
        call: &'static str,
        /// The error.
        error: ApiError,
    },
    /// An operation ended FAILED or STOPPED.
    #[error("{stack_set}: operation {operation} ended {status}{}", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    Failed {
        /// StackSet.
        stack_set: String,
        /// Operation id.
        operation: String,
        /// Final status.
        status: String,
        /// Reason.
        reason: String,
        /// Per-instance results that did not succeed.
        instances: Vec<InstanceResult>,
    },
    /// An operation did not finish in time.
    #[error("{stack_set}: operation {operation} still {status} after {waited:?}")]
    Timeout {
        /// StackSet.
        stack_set: String,
        /// Operation id.
        operation: String,
        /// Last status.
        status: String,
        /// How long it waited.
        waited: Duration,
    },
}

/// A fresh operation id: unique enough across runs and retries of different calls, reused by the
/// retries of one call.
pub fn new_operation_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "patchplane-{nanos:x}-{:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Jitter in [0.5, 1.5) of `d`, from the clock (no RNG dependency for one multiplication).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|x| x.subsec_nanos())
        .unwrap_or(0);
    d.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0)
}

/// Progress reporting, so the CLI can draw bars and tests can stay quiet.
pub trait Progress {
    /// A call or operation started.
    fn start(&self, stack_set: &str, what: &str);
    /// The current operation's status.
    fn status(&self, stack_set: &str, status: &str);
    /// Done with the current step.
    fn finish(&self, stack_set: &str, outcome: &str);
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: &str) {}
    fn status(&self, _: &str, _: &str) {}
    fn finish(&self, _: &str, _: &str) {}
}

/// Submits a mutating call with retries that reuse `op`, then waits for its operation.
async fn run_operation<A, F, Fut>(
    api: &A,
    d: &Desired,
    call: &'static str,
    timing: &Timing,
    progress: &dyn Progress,
    submit: F,
) -> Result<(), RolloutError>
where
    A: Api,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<String, ApiError>>,
{
    let op = new_operation_id();
    progress.start(&d.name, call);
    let mut delay = timing.backoff;
    let mut attempt = 0;
    // CloudFormation may answer with an id of its own (moto does); follow whichever it returns.
    let id = loop {
        attempt += 1;
        match submit(op.clone()).await {
            Ok(id) => break id,
            Err(e) if e.kind == ErrorKind::InProgress && attempt < timing.attempts => {
                progress.status(
                    &d.name,
                    &format!("another operation is in progress, retrying {op} in {delay:?}"),
                );
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(timing.backoff * 64);
            }
            Err(error) => {
                return Err(RolloutError::Call {
                    stack_set: d.name.clone(),
                    call,
                    error,
                });
            }
        }
    };
    let started = std::time::Instant::now();
    loop {
        let o = api.operation(d, &id).await.map_err(|error| RolloutError::Call {
            stack_set: d.name.clone(),
            call: "DescribeStackSetOperation",
            error,
        })?;
        progress.status(&d.name, &o.status);
        if o.finished() {
            if o.status == "SUCCEEDED" {
                progress.finish(&d.name, "SUCCEEDED");
                return Ok(());
            }
            let instances = api
                .results(d, &id)
                .await
                .map_err(|error| RolloutError::Call {
                    stack_set: d.name.clone(),
                    call: "ListStackSetOperationResults",
                    error,
                })?
                .into_iter()
                .filter(|r| r.status != "SUCCEEDED")
                .collect();
            progress.finish(&d.name, &o.status);
            return Err(RolloutError::Failed {
                stack_set: d.name.clone(),
                operation: id,
                status: o.status,
                reason: o.reason,
                instances,
            });
        }
        if started.elapsed() > timing.timeout {
            return Err(RolloutError::Timeout {
                stack_set: d.name.clone(),
                operation: id,
                status: o.status,
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(timing.poll).await;
    }
}

/// Applies `changes` in order: create, update, add, remove.
pub async fn apply<A: Api>(
    api: &A,
    d: &Desired,
    changes: &[Change],
    timing: &Timing,
    progress: &dyn Progress,
) -> Result<(), RolloutError> {
    for c in changes {
        match c {
            Change::CreateStackSet => {
                progress.start(&d.name, "CreateStackSet");
                api.create_stack_set(d).await.map_err(|error| RolloutError::Call {
                    stack_set: d.name.clone(),
                    call: "CreateStackSet",
                    error,
                })?;
                progress.finish(&d.name, "created");
            }
            Change::Update { targets, .. } => {
                run_operation(api, d, "UpdateStackSet", timing, progress, |op| async move {
                    api.update_stack_set(d, targets, &op).await
                })
                .await?
            }
            Change::AddInstances(t) => {
                run_operation(api, d, "CreateStackInstances", timing, progress, |op| async move {
                    api.create_instances(d, t, &op).await
                })
                .await?
            }
            Change::RemoveInstances(t) => {
                run_operation(api, d, "DeleteStackInstances", timing, progress, |op| async move {
                    api.delete_instances(d, t, &op).await
                })
                .await?
            }
        }
    }
    Ok(())
}

/// Uploads every template that needs it to `bucket` under a key derived from its content (a
/// changed template gets a new URL; the same one is not uploaded twice), and sets `template_url`.
pub async fn upload_templates(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    desired: &mut [Desired],
) -> Result<(), String> {
    for d in desired.iter_mut().filter(|d| d.upload.is_some()) {
        let hash = {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in d.template_body.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h
        };
        let key = format!("patchplane/{}/{hash:016x}/template.yaml", d.name);
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(d.template_body.clone().into_bytes().into())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot upload s3://{bucket}/{key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        d.template_url = Some(format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"));
    }
    Ok(())
}

/// The exact requests `apply` would send, as JSON (for `--dry-run`).
pub fn requests(d: &Desired, changes: &[Change]) -> Vec<Json> {
    let targets = |t: &Targets| {
        let mut v = serde_json::json!({ "OrganizationalUnitIds": t.ous, "AccountFilterType": d.account_filter });
        if !d.accounts.is_empty() {
            v["Accounts"] = serde_json::json!(d.accounts);
        }
        v
    };
    let body = |d: &Desired| d.template_url.is_none().then(|| d.template_body.clone());
    let prefs = serde_json::json!({
        "RegionConcurrencyType": d.preferences.0,
        "MaxConcurrentPercentage": d.preferences.1,
        "FailureTolerancePercentage": d.preferences.2,
    });
    changes
        .iter()
        .map(|c| match c {
            Change::CreateStackSet => serde_json::json!({ "CreateStackSet": {
                "StackSetName": d.name, "Description": d.description, "TemplateBody": body(d), "TemplateURL": d.template_url,
                "Capabilities": d.capabilities, "PermissionModel": "SERVICE_MANAGED",
                "AutoDeployment": { "Enabled": d.auto_deployment.0, "RetainStacksOnAccountRemoval": d.auto_deployment.1 },
                "CallAs": d.call_as, "ManagedExecution": { "Active": d.managed_execution },
                "Tags": d.tags.iter().map(|(k, v)| serde_json::json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            }}),
            Change::Update { targets: t, .. } => serde_json::json!({ "UpdateStackSet": {
                "StackSetName": d.name, "Description": d.description, "TemplateBody": body(d), "TemplateURL": d.template_url,
                "Capabilities": d.capabilities, "DeploymentTargets": targets(t), "Regions": t.regions,
                "OperationPreferences": prefs, "CallAs": d.call_as,
            }}),
            Change::AddInstances(t) => serde_json::json!({ "CreateStackInstances": {
                "StackSetName": d.name, "DeploymentTargets": targets(t), "Regions": t.regions,
                "OperationPreferences": prefs, "CallAs": d.call_as,
            }}),
            Change::RemoveInstances(t) => serde_json::json!({ "DeleteStackInstances": {
                "StackSetName": d.name, "DeploymentTargets": targets(t), "Regions": t.regions,
                "RetainStacks": false, "OperationPreferences": prefs, "CallAs": d.call_as,
            }}),
        })
        .collect()
}

/// What a failed rollout prints after its table: each error, then each instance that did not
/// succeed with its reason.
pub fn failure_report(errors: &[RolloutError]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!("patchplane: {e}\n"));
        if let RolloutError::Failed { instances, .. } = e {
            for i in instances {
                out.push_str(&format!("  {}  {}  {}  {}\n", i.account, i.region, i.status, i.reason));
            }
        }
    }
    out
}

/// Exit code of a rollout: 0 when every StackSet converged, 1 otherwise.
pub fn exit_code(errors: &[RolloutError]) -> u8 {
    u8::from(!errors.is_empty())
}

/// The per-instance table (`status`, and the end of `rollout`).
pub fn instance_table(rows: &[(String, Instance)]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(s, i)| {
            vec![
                s.clone(),
                i.account.clone(),
                i.region.clone(),
                i.status.clone(),
                i.drift.clone(),
                i.last_operation.clone(),
                i.reason.clone(),
            ]
        })
        .collect();
    crate::table::render(
        &[
            "STACKSET",
            "ACCOUNT",
            "REGION",
            "STATUS",
            "DRIFT",
            "LAST OPERATION",
            "REASON",
        ],
        &cells,
    )
}

/// The real client.
pub mod aws {
    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};
    use aws_sdk_cloudformation::types::{
        AutoDeployment, CallAs, Capability, DeploymentTargets, ManagedExecution, StackSetOperationPreferences, Tag,
    };

    use super::{Api, ApiError, Deployed, Desired, ErrorKind, Instance, InstanceResult, Operation, Targets};

    /// CloudFormation through aws-sdk-cloudformation.
    #[derive(Clone)]
    pub struct CloudFormation {
        client: Client,
    }

    impl CloudFormation {
        /// Wraps a client.
        pub fn new(client: Client) -> Self {
            Self { client }
        }
    }

    fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        e: aws_sdk_cloudformation::error::SdkError<E, R>,
    ) -> ApiError {
        let code = e.code().unwrap_or_default().to_owned();
        let kind = match code.as_str() {
            "OperationInProgressException" => ErrorKind::InProgress,
            "StaleRequestException" => ErrorKind::Stale,
            _ => ErrorKind::Other,
        };
        ApiError {
            kind,
            message: DisplayErrorContext(e).to_string(),
        }
    }

    fn call_as(d: &Desired) -> CallAs {
        CallAs::from(d.call_as.as_str())
    }

    fn targets(d: &Desired, t: &Targets) -> DeploymentTargets {
        let mut b = DeploymentTargets::builder()
            .set_organizational_unit_ids(Some(t.ous.clone()))
            .account_filter_type(d.account_filter.as_str().into());
        if !d.accounts.is_empty() {
            b = b.set_accounts(Some(d.accounts.clone()));
        }
        b.build()
    }

    fn prefs(d: &Desired) -> StackSetOperationPreferences {
        StackSetOperationPreferences::builder()
            .region_concurrency_type(d.preferences.0.as_str().into())
            .max_concurrent_percentage(d.preferences.1)
            .failure_tolerance_percentage(d.preferences.2)
            .build()
    }

    fn auto_deployment(d: &Desired) -> AutoDeployment {
        AutoDeployment::builder()
            .enabled(d.auto_deployment.0)
            .retain_stacks_on_account_removal(d.auto_deployment.1)
            .build()
    }

    fn tags(d: &Desired) -> Vec<Tag> {
        d.tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }

    fn capabilities(d: &Desired) -> Vec<Capability> {
        d.capabilities.iter().map(|c| Capability::from(c.as_str())).collect()
    }

    impl Api for CloudFormation {
        async fn describe(&self, d: &Desired) -> Result<Option<Deployed>, ApiError> {
            let set = match self
                .client
                .describe_stack_set()
                .stack_set_name(&d.name)
                .call_as(call_as(d))
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) if e.code() == Some("StackSetNotFoundException") => return Ok(None),
                Err(e) => return Err(classify(e)),
            };
            let Some(set) = set.stack_set() else { return Ok(None) };
            let mut instances = Vec::new();
            let mut pages = self
                .client
                .list_stack_instances()
                .stack_set_name(&d.name)
                .call_as(call_as(d))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for s in page.map_err(classify)?.summaries() {
                    instances.push(Instance {
                        account: s.account().unwrap_or_default().to_owned(),
                        region: s.region().unwrap_or_default().to_owned(),
                        ou: s.organizational_unit_id().map(str::to_owned),
                        status: s.status().map(|x| x.as_str().to_owned()).unwrap_or_default(),
                        reason: s
                            .status_reason()
                            .map(str::to_owned)
                            .or_else(|| {
                                s.stack_instance_status()
                                    .and_then(|x| x.detailed_status())
                                    .map(|x| x.as_str().to_owned())
                            })
                            .unwrap_or_default(),
                        drift: s.drift_status().map(|x| x.as_str().to_owned()).unwrap_or_default(),
                        last_operation: s.last_operation_id().unwrap_or_default().to_owned(),
                    });
                }
            }
            Ok(Some(Deployed {
                template_body: set.template_body().unwrap_or_default().to_owned(),
                description: set.description().unwrap_or_default().to_owned(),
                tags: set
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_owned(),
                            t.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
                auto_deployment: set.auto_deployment().map(|a| {
                    (
                        a.enabled().unwrap_or(false),
                        a.retain_stacks_on_account_removal().unwrap_or(false),
                    )
                }),
                instances,
            }))
        }

        async fn create_stack_set(&self, d: &Desired) -> Result<(), ApiError> {
            self.client
                .create_stack_set()
                .stack_set_name(&d.name)
                .description(&d.description)
                .set_template_body(d.template_url.is_none().then(|| d.template_body.clone()))
                .set_template_url(d.template_url.clone())
                .set_capabilities(Some(capabilities(d)))
                .permission_model("SERVICE_MANAGED".into())
                .auto_deployment(auto_deployment(d))
                .call_as(call_as(d))
                .managed_execution(ManagedExecution::builder().active(d.managed_execution).build())
                .set_tags(Some(tags(d)))
                // Idempotent: a retried create with the same token is not a second create.
                .client_request_token(format!("patchplane-create-{}", d.name))
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        }

        async fn update_stack_set(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
            let out = self
                .client
                .update_stack_set()
                .stack_set_name(&d.name)
                .description(&d.description)
                .set_template_body(d.template_url.is_none().then(|| d.template_body.clone()))
                .set_template_url(d.template_url.clone())
                .set_capabilities(Some(capabilities(d)))
                .deployment_targets(targets(d, t))
                .set_regions(Some(t.regions.clone()))
                .operation_preferences(prefs(d))
                .set_tags(Some(tags(d)))
                .auto_deployment(auto_deployment(d))
                .operation_id(op)
                .call_as(call_as(d))
                .send()
                .await
                .map_err(classify)?;
            Ok(out.operation_id().unwrap_or(op).to_owned())
        }

        async fn create_instances(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
            let out = self
                .client
                .create_stack_instances()
                .stack_set_name(&d.name)
                .deployment_targets(targets(d, t))
                .set_regions(Some(t.regions.clone()))
                .operation_preferences(prefs(d))
                .operation_id(op)
                .call_as(call_as(d))
                .send()
                .await
                .map_err(classify)?;
            Ok(out.operation_id().unwrap_or(op).to_owned())
        }

        async fn delete_instances(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
            let out = self
                .client
                .delete_stack_instances()
                .stack_set_name(&d.name)
                .deployment_targets(targets(d, t))
                .set_regions(Some(t.regions.clone()))
                .operation_preferences(prefs(d))
                .retain_stacks(false)
                .operation_id(op)
                .call_as(call_as(d))
                .send()
                .await
                .map_err(classify)?;
            Ok(out.operation_id().unwrap_or(op).to_owned())
        }

        async fn operation(&self, d: &Desired, op: &str) -> Result<Operation, ApiError> {
            let out = self
                .client
                .describe_stack_set_operation()
                .stack_set_name(&d.name)
                .operation_id(op)
                .call_as(call_as(d))
                .send()
                .await
                .map_err(classify)?;
            let o = out.stack_set_operation();
            Ok(Operation {
                status: o
                    .and_then(|o| o.status())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: o.and_then(|o| o.status_reason()).unwrap_or_default().to_owned(),
            })
        }

        async fn results(&self, d: &Desired, op: &str) -> Result<Vec<InstanceResult>, ApiError> {
            let mut out = Vec::new();
            let mut pages = self
                .client
                .list_stack_set_operation_results()
                .stack_set_name(&d.name)
                .operation_id(op)
                .call_as(call_as(d))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for s in page.map_err(classify)?.summaries() {
                    out.push(InstanceResult {
                        account: s.account().unwrap_or_default().to_owned(),
                        region: s.region().unwrap_or_default().to_owned(),
                        status: s.status().map(|x| x.as_str().to_owned()).unwrap_or_default(),
                        reason: s.status_reason().unwrap_or_default().to_owned(),
                    });
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn desired() -> Desired {
        Desired {
            dir: PathBuf::from("out/patching"),
            name: "acme-patching".into(),
            description: "d".into(),
            template_body: "a: 1\n".into(),
            upload: None,
            template_url: None,
            capabilities: vec!["CAPABILITY_IAM".into()],
            auto_deployment: (true, false),
            call_as: "SELF".into(),
            managed_execution: true,
            tags: vec![("k".into(), "v".into())],
            ous: vec!["ou-a".into(), "ou-b".into()],
            accounts: vec![],
            account_filter: "NONE".into(),
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            preferences: ("PARALLEL".into(), 25, 10),
        }
    }

    fn inst(ou: Option<&str>, region: &str, account: &str) -> Instance {
        Instance {
            account: account.into(),
            region: region.into(),
            ou: ou.map(str::to_owned),
            status: "CURRENT".into(),
            reason: String::new(),
            drift: String::new(),
            last_operation: String::new(),
        }
    }

    fn deployed(instances: Vec<Instance>) -> Deployed {
        Deployed {
            template_body: "a: 1\n".into(),
            description: "d".into(),
            tags: vec![("k".into(), "v".into())],
            auto_deployment: None,
            instances,
        }
    }

    #[test]
    fn auto_deployment_is_compared_when_reported() {
        let d = desired();
        let mut dep = deployed(vec![inst(None, "eu-west-1", "1"), inst(None, "us-east-1", "1")]);
        dep.auto_deployment = Some((true, false));
        assert_eq!(plan(&d, Some(&dep)), vec![]);
        dep.auto_deployment = Some((false, false));
        let changes = plan(&d, Some(&dep));
        let [Change::Update { diff, .. }] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert!(
            diff.contains("auto-deployment (enabled, retain stacks): (false, false) → (true, false)"),
            "{diff}"
        );
    }

    #[test]
    fn nothing_to_do_when_everything_matches() {
        let d = desired();
        let mut all = Vec::new();
        for ou in ["ou-a", "ou-b"] {
            for r in ["eu-west-1", "us-east-1"] {
                for acct in ["111111111111", "222222222222"] {
                    all.push(inst(Some(ou), r, acct));
                }
            }
        }
        assert_eq!(plan(&d, Some(&deployed(all))), vec![]);
        // Instances listed without their OU (moto) count for every desired OU of their region.
        let anon = vec![inst(None, "eu-west-1", "1"), inst(None, "us-east-1", "1")];
        assert_eq!(plan(&d, Some(&deployed(anon))), vec![]);
    }

    #[test]
    fn missing_stack_set_region_ou_and_template_changes() {
        let d = desired();
        assert_eq!(plan(&d, None)[0], Change::CreateStackSet);
        let mut dep = deployed(vec![
            inst(Some("ou-a"), "eu-west-1", "1"),
            inst(Some("ou-old"), "eu-west-1", "2"),
            inst(Some("ou-a"), "ap-south-1", "1"),
        ]);
        dep.template_body = "a: 0\n".into();
        let changes = plan(&d, Some(&dep));
        let Change::Update { diff, targets } = &changes[0] else {
            panic!("{changes:?}")
        };
        assert!(diff.contains("-a: 0") && diff.contains("+a: 1"), "{diff}");
        assert_eq!(targets.regions, vec!["eu-west-1"]);
        assert!(changes.contains(&Change::AddInstances(Targets {
            ous: vec!["ou-b".into()],
            regions: vec!["eu-west-1".into()]
        })));
        assert!(changes.contains(&Change::AddInstances(Targets {
            ous: vec!["ou-a".into(), "ou-b".into()],
            regions: vec!["us-east-1".into()]
        })));
        assert!(changes.contains(&Change::RemoveInstances(Targets {
            ous: vec!["ou-old".into()],
            regions: vec!["eu-west-1".into()]
        })));
        assert!(changes.contains(&Change::RemoveInstances(Targets {
            ous: vec!["ou-a".into()],
            regions: vec!["ap-south-1".into()]
        })));
    }

    #[test]
    fn request_files_parse_and_oversize_ones_are_refused() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../stacksets/acme/patching/stackset.json"
        ))
        .expect("committed");
        let d = Desired::parse(Path::new("stacksets/acme/patching/stackset.json"), &text).expect("parses");
        assert_eq!(
            (d.name.as_str(), d.call_as.as_str(), d.regions.len()),
            ("acme-patching", "DELEGATED_ADMIN", 4)
        );
        assert_eq!(d.preferences, ("PARALLEL".into(), 25, 10));
        let big = text.replacen(
            "\"TemplateBody\"",
            "\"TemplateURL\": \"patchplane:upload:patching/template.yaml\", \"Unused\"",
            1,
        );
        let e = Desired::parse(Path::new("x/stackset.json"), &big).expect_err("oversize");
        assert!(e.to_string().contains("TemplateURL"), "{e}");
        assert!(
            Desired::parse(Path::new("x/stackset.json"), "{}")
                .expect_err("empty")
                .to_string()
                .contains("`CreateStackSet` is missing")
        );
    }
}
