//! `patchplane patch-now`: an ad hoc install in member accounts and regions from the central
//! account (ADR 028), through SSM Automation's multi-account, multi-Region execution: the
//! central runbook `<policy>-patch-now` (shared with the target accounts first) starts, per node,
//! each member's own `<policy>-install-node`, which asks the exceptions and the ring gate before
//! it touches the node, and records what it did (or, with `--dry-run`, would do) in the evidence
//! bucket under `patch-now/<account>/<region>/<run>/`. This command then lists those records
//! per account and region.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::ssm::Ssm;
use serde_json::{Value, json};

use super::{CommandError, Exit, load, s3_client, sdk_config};
use crate::model::PatchNowPlan;
use crate::policy::Policy;

/// Arguments of `patchplane patch-now`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The policy (with `patch_now:`).
    pub policy: PathBuf,
    /// Why (recorded with every node's result).
    #[arg(long)]
    pub reason: String,
    /// The change or vulnerability ticket this runs for (recorded, and tagged on the execution).
    #[arg(long)]
    pub ticket: String,
    /// Target accounts (default: the policy's organization targets).
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// Target OUs (default: the policy's organization targets).
    #[arg(long = "ou")]
    pub ous: Vec<String>,
    /// Target regions (default: the policy's regions).
    #[arg(long = "region")]
    pub regions: Vec<String>,
    /// Patch groups to install (the nodes carrying them), or…
    #[arg(long = "patch-group", conflicts_with = "nodes", required_unless_present = "nodes")]
    pub patch_groups: Vec<String>,
    /// …these nodes (`i-…`, `mi-…`): the nodes of a vulnerability ticket.
    #[arg(long = "node")]
    pub nodes: Vec<String>,
    /// Nodes at once in each account and region (default: the policy's install rate).
    #[arg(long)]
    pub max_concurrency: Option<String>,
    /// Errors before it stops (default: the policy's install rate).
    #[arg(long)]
    pub max_errors: Option<String>,
    /// Accounts and regions at once.
    #[arg(long, default_value = "10%")]
    pub location_concurrency: String,
    /// Install even where a ring gate held its ring's last run; needs `--skip-gate-reason`.
    #[arg(long, requires = "skip_gate_reason")]
    pub skip_gate: bool,
    /// Why the gate is skipped (recorded in the reason).
    #[arg(long)]
    pub skip_gate_reason: Option<String>,
    /// Run the checks only and list per account and region the nodes it would install and why
    /// the others would be left alone; installs nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 15)]
    pub poll_seconds: u64,
    /// Give up waiting (the run goes on in AWS) after this many minutes.
    #[arg(long, default_value_t = 240)]
    pub wait_minutes: u64,
    /// AWS endpoint (tests, private endpoints).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Run id (tests; default: a new random one).
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
}

/// Why patch-now could not run.
#[derive(Debug, thiserror::Error)]
pub enum PatchNowError {
    /// A choice the command line got wrong, or a policy without `patch_now:`.
    #[error("{0}")]
    Usage(String),
    /// AWS refused or failed.
    #[error("{0}")]
    Aws(String),
}

/// The `StartAutomationExecution` request of a run (its shape: AWS's multi-account example in
/// `tests/fixtures/aws/ssm/StartAutomationExecution.json`).
pub fn start_request(p: &Policy, plan: &PatchNowPlan, args: &Args, run_id: &str) -> Result<Value, PatchNowError> {
    if args.reason.trim().is_empty() || args.ticket.trim().is_empty() {
        return Err(PatchNowError::Usage("--reason and --ticket must say something".into()));
    }
    for n in &args.nodes {
        if !crate::ids::is_node_id(n) {
            return Err(PatchNowError::Usage(format!("--node {n}: not a node id (i-… or mi-…)")));
        }
    }
    let known: Vec<String> = crate::model::Plan::build(p)
        .map(|plan| {
            plan.windows
                .iter()
                .filter(|w| w.kind == crate::model::WindowKind::Install)
                .flat_map(|w| w.targets.iter().flat_map(|t| t.values.clone()))
                .collect()
        })
        .unwrap_or_default();
    for g in &args.patch_groups {
        if !known.contains(g) {
            return Err(PatchNowError::Usage(format!(
                "--patch-group {g}: no install window of the policy targets it"
            )));
        }
    }
    let accounts_and_ous: Vec<String> = if args.accounts.is_empty() && args.ous.is_empty() {
        let t = &p.organization.targets;
        t.organizational_units.iter().chain(&t.accounts).cloned().collect()
    } else {
        args.accounts.iter().chain(&args.ous).cloned().collect()
    };
    let regions: Vec<String> = if args.regions.is_empty() {
        p.organization.regions.keys().cloned().collect()
    } else {
        args.regions.clone()
    };
    for r in &regions {
        if !p.organization.regions.contains_key(r) {
            return Err(PatchNowError::Usage(format!(
                "--region {r}: not one of the policy's regions"
            )));
        }
    }
    let targets = if args.nodes.is_empty() {
        json!([{"Key": format!("tag:{}", p.patch_group_tag), "Values": args.patch_groups}])
    } else {
        json!([{"Key": "ParameterValues", "Values": args.nodes}])
    };
    let reason = match &args.skip_gate_reason {
        Some(why) if args.skip_gate => format!("{} (ring gate skipped: {why})", args.reason),
        _ => args.reason.clone(),
    };
    let admin = format!(
        "arn:{}:iam::{}:role/{}",
        crate::ids::partition(&p.central.region),
        plan.central_account,
        plan.admin_role
    );
    Ok(json!({
        "DocumentName": plan.document,
        "Parameters": {
            "AutomationAssumeRole": [admin],
            "RunId": [run_id],
            "Ticket": [args.ticket],
            "Reason": [reason],
            "SkipGate": [args.skip_gate.to_string()],
            "DryRun": [args.dry_run.to_string()],
        },
        "TargetParameterName": "InstanceId",
        "Targets": targets,
        "MaxConcurrency": args.max_concurrency.clone().unwrap_or_else(|| p.install.max_concurrency.clone()),
        "MaxErrors": args.max_errors.clone().unwrap_or_else(|| p.install.max_errors.clone()),
        "TargetLocations": [{
            "Accounts": accounts_and_ous,
            "Regions": regions,
            "ExecutionRoleName": plan.execution_role,
            "TargetLocationMaxConcurrency": args.location_concurrency,
            "TargetLocationMaxErrors": "100%",
        }],
        "Tags": [{"Key": "patchplane:ticket", "Value": args.ticket.chars().take(256).collect::<String>()}],
    }))
}

/// One node's record, as the member's install step writes it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NodeResult {
    /// The node.
    pub node: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// INSTALL, WOULD_INSTALL or SKIP.
    pub action: String,
    /// Why.
    pub reason: String,
}

/// The records of a run, per (account, region), as a table.
pub fn results_table(results: &[NodeResult]) -> String {
    let mut by_place: BTreeMap<(&str, &str), Vec<&NodeResult>> = BTreeMap::new();
    for r in results {
        by_place.entry((&r.account, &r.region)).or_default().push(r);
    }
    let mut out = String::new();
    for ((account, region), rows) in by_place {
        let installs = rows.iter().filter(|r| r.action != "SKIP").count();
        out.push_str(&format!(
            "{account} {region}: {installs} to install, {} left alone\n",
            rows.len() - installs
        ));
        for r in rows {
            out.push_str(&format!("  {:<20} {:<13} {}\n", r.node, r.action, r.reason));
        }
    }
    if out.is_empty() {
        out.push_str("no node recorded a result (no node carries the selection, or none was reached)\n");
    }
    out
}

impl Args {
    /// Shares the runbook, starts the run, follows it, lists what each node did.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let loaded = load(&self.policy)?;
        let p = &loaded.policy;
        let plan = crate::model::patch_now(p).ok_or_else(|| {
            PatchNowError::Usage(format!(
                "{} has no `patch_now:`: its StackSets carry no patch-now runbook or roles",
                self.policy.display()
            ))
        })?;
        let run_id = self.run_id.clone().unwrap_or_else(new_run_id);
        let request = start_request(p, &plan, self, &run_id)?;
        let runtime = tokio::runtime::Runtime::new().map_err(|e| PatchNowError::Aws(format!("tokio: {e}")))?;
        runtime
            .block_on(self.go(p, &plan, request, &run_id))
            .map_err(CommandError::from)
    }

    async fn go(&self, p: &Policy, plan: &PatchNowPlan, request: Value, run_id: &str) -> Result<Exit, PatchNowError> {
        let conf = sdk_config(self.endpoint_url.clone()).await;
        let region = conf
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| p.central.region.clone());
        let provider = conf
            .credentials_provider()
            .ok_or_else(|| PatchNowError::Aws("no AWS credentials in the environment".into()))?;
        let retry = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        };
        let ssm =
            Ssm::new(conf.endpoint_url(), &region, provider, retry).map_err(|f| PatchNowError::Aws(f.to_string()))?;
        let aws = |what: &str, f: patchplane_integrations::retry::Failure| PatchNowError::Aws(format!("{what}: {f}"));
        // A custom runbook runs in the target accounts only once shared with them (AWS: "the
        // runbook must be shared with all of the target accounts"): the accounts named, and the
        // accounts directly in the OUs named (Automation does not recurse into child OUs).
        let named: Vec<String> = request["TargetLocations"][0]["Accounts"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let mut accounts: Vec<String> = named.iter().filter(|s| crate::ids::is_account_id(s)).cloned().collect();
        let units: Vec<&String> = named.iter().filter(|s| !crate::ids::is_account_id(s)).collect();
        if !units.is_empty() {
            let provider = conf
                .credentials_provider()
                .ok_or_else(|| PatchNowError::Aws("no AWS credentials in the environment".into()))?;
            let org = patchplane_integrations::organizations::Organizations::new(
                conf.endpoint_url(),
                &region,
                provider,
                RetryPolicy {
                    attempts: 3,
                    base: Duration::from_millis(200),
                    cap: Duration::from_secs(5),
                },
            )
            .map_err(|f| PatchNowError::Aws(f.to_string()))?;
            for unit in units {
                let mut token: Option<String> = None;
                loop {
                    let page = org
                        .list_accounts_for_parent(unit, token.as_deref())
                        .await
                        .map_err(|f| aws(&format!("list the accounts of {unit}"), f))?;
                    accounts.extend(page.accounts.iter().filter(|a| a.is_active()).map(|a| a.id.clone()));
                    match page.next.filter(|t| !t.is_empty()) {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
            }
            accounts.sort();
            accounts.dedup();
        }
        if !accounts.is_empty() {
            ssm.share_document(&plan.document, &accounts)
                .await
                .map_err(|f| aws("share the runbook", f))?;
        }
        let id = ssm
            .start_automation(&request)
            .await
            .map_err(|f| aws("StartAutomationExecution", f))?;
        println!(
            "patch-now {run_id}: automation {id} ({}) started in {} in {}",
            if self.dry_run {
                "dry run: checks only, nothing installed"
            } else {
                "installing"
            },
            request["TargetLocations"][0]["Accounts"],
            request["TargetLocations"][0]["Regions"]
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(self.wait_minutes * 60);
        let status = loop {
            let e = ssm
                .get_automation(&id)
                .await
                .map_err(|f| aws("GetAutomationExecution", f))?;
            let status = e["AutomationExecutionStatus"].as_str().unwrap_or("?").to_owned();
            let c = &e["ProgressCounters"];
            println!(
                "  {status}: {} step(s) done of {} ({} failed, {} timed out, {} cancelled)",
                c["SuccessSteps"].as_i64().unwrap_or(0),
                c["TotalSteps"].as_i64().unwrap_or(0),
                c["FailedSteps"].as_i64().unwrap_or(0),
                c["TimedOutSteps"].as_i64().unwrap_or(0),
                c["CancelledSteps"].as_i64().unwrap_or(0)
            );
            let done = !matches!(
                status.as_str(),
                "Pending" | "InProgress" | "Waiting" | "Cancelling" | "RunbookInProgress"
            );
            if done || std::time::Instant::now() >= deadline {
                break status;
            }
            tokio::time::sleep(Duration::from_secs(self.poll_seconds)).await;
        };
        let results = read_results(&conf, plan, &accounts_and_regions(&request), run_id).await?;
        print!("{}", results_table(&results));
        Ok(if status == "Success" {
            Exit::Success
        } else {
            Exit::Failure
        })
    }
}

fn accounts_and_regions(request: &Value) -> (Vec<String>, Vec<String>) {
    let list = |k: &str| -> Vec<String> {
        request["TargetLocations"][0][k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    (list("Accounts"), list("Regions"))
}

/// The run's records in the evidence bucket: `patch-now/<account>/<region>/<run>/<node>.json`.
/// With OU targets the accounts are not known here, so the whole `patch-now/` prefix is listed.
async fn read_results(
    conf: &aws_config::SdkConfig,
    plan: &PatchNowPlan,
    (accounts, regions): &(Vec<String>, Vec<String>),
    run_id: &str,
) -> Result<Vec<NodeResult>, PatchNowError> {
    let s3 = s3_client(conf);
    let prefixes: Vec<String> = if accounts.iter().all(|a| crate::ids::is_account_id(a)) {
        accounts
            .iter()
            .flat_map(|a| {
                regions
                    .iter()
                    .map(move |r| format!("{}/{a}/{r}/{run_id}/", plan.result_prefix))
            })
            .collect()
    } else {
        vec![format!("{}/", plan.result_prefix)]
    };
    let mut out = Vec::new();
    for prefix in prefixes {
        let mut pages = s3
            .list_objects_v2()
            .bucket(&plan.result_bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                PatchNowError::Aws(patchplane_integrations::aws_error::describe(
                    &format!("cannot list s3://{}/{prefix}", plan.result_bucket),
                    conf.endpoint_url(),
                    &e,
                ))
            })?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                if !key.contains(&format!("/{run_id}/")) {
                    continue;
                }
                let obj = s3
                    .get_object()
                    .bucket(&plan.result_bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| PatchNowError::Aws(format!("cannot read s3://{}/{key}: {e}", plan.result_bucket)))?;
                let body =
                    obj.body.collect().await.map_err(|e| {
                        PatchNowError::Aws(format!("cannot read s3://{}/{key}: {e}", plan.result_bucket))
                    })?;
                match serde_json::from_slice::<NodeResult>(&body.into_bytes()) {
                    Ok(r) => out.push(r),
                    Err(e) => eprintln!("warning: skipped s3://{}/{key}: {e}", plan.result_bucket),
                }
            }
        }
    }
    Ok(out)
}

/// A random run id (UUID v4 text, from the OS's randomness).
fn new_run_id() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read as _;
        let _ = f.read_exact(&mut b);
    } else {
        let t = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
        b.copy_from_slice(&t[..16]);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
