//! `patchplane-bridge replay`: the same stages as the queue path ([`Stages`]) over event files,
//! printing what each event came to. With `--dry-run` nothing is delivered ([`DryRun`]) and no
//! configuration or AWS credentials are needed (the default rules, no tags).

use std::path::{Path, PathBuf};

use crate::app::{self, CONFIG_ENV, StartError};
use crate::config::{self, BridgeConfig};
use crate::enrich::TagSource;
use crate::outcome::{Ack, Outcome};
use crate::pipeline::{Processed, Stages};
use crate::sinks::{DryRun, Sink};

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// `bridge.yaml`; optional with `dry_run`.
    pub config: Option<PathBuf>,
    /// Print the actions; deliver nothing.
    pub dry_run: bool,
    /// Do not read tags from AWS.
    pub no_tags: bool,
    /// The receive count rules see.
    pub receive_count: u32,
    /// Event files.
    pub files: Vec<PathBuf>,
}

/// Why a replay could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Delivering needs a configuration.
    #[error(
        "replay delivers to ServiceNow only with --config FILE (or {CONFIG_ENV}); add --dry-run to see the actions"
    )]
    NeedsConfig,
    /// The configuration or a client could not be set up.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// The configuration of a dry run without a file: default rules, no tags.
const DRY_RUN_DEFAULTS: &str = "version: 1
queue: {url: unused}
servicenow: {instance_url: 'https://unused.invalid', auth: {basic: {user: unused, password: {env: UNUSED}}}}
enrich: {enabled: false}
";

/// Runs `req`, writing the report to `out`; `Ok(true)` when every event would be deleted.
pub async fn run(req: &Request, out: &mut impl std::io::Write) -> Result<bool, ReplayError> {
    let cfg = app::load_config(req.config.as_deref()).map_err(StartError::from)?;
    app::init_logs(cfg.as_ref());
    let cfg: BridgeConfig = match (cfg, req.dry_run) {
        (Some(cfg), _) => cfg,
        (None, true) => config::load_str(DRY_RUN_DEFAULTS, Path::new("(defaults)")).map_err(StartError::from)?,
        (None, false) => return Err(ReplayError::NeedsConfig),
    };
    // AWS is only touched for tags, or to read a ServiceNow secret.
    let sdk = if cfg.enrich.enabled && !req.no_tags || !req.dry_run {
        Some(app::sdk_config(&cfg).await)
    } else {
        None
    };
    let tags = if req.no_tags { None } else { sdk.as_ref() };
    if req.dry_run {
        return Ok(replay_with(&app::stages(&cfg, tags, DryRun), true, req, out).await);
    }
    let aws = match &sdk {
        Some(aws) => aws.clone(),
        None => app::sdk_config(&cfg).await,
    };
    let sinks = app::sinks(&cfg, &aws).await?;
    Ok(replay_with(&app::stages(&cfg, tags, sinks), false, req, out).await)
}

/// One event's report: what it is, its owner, each action and its outcome, its fate.
pub fn describe(p: &Processed, dry_run: bool) -> String {
    let mut out = String::new();
    match &p.event {
        Some((kind, key)) => out.push_str(&format!("{kind} {key}\n")),
        None if p.ack == Ack::Delete => out.push_str("unhandled event kind (acknowledged, nothing to do)\n"),
        None => out.push_str("undecodable\n"),
    }
    if let Some(owner) = &p.context.owner {
        out.push_str(&format!("  owner {owner}\n"));
    }
    if p.event.is_some() && p.actions.is_empty() && p.ack == Ack::Delete {
        out.push_str("  no rule matches (acknowledged)\n");
    }
    for (action, rule, summary, o) in &p.actions {
        let what = match (o, dry_run) {
            (Outcome::Delivered, true) => "would open or update".to_owned(),
            (Outcome::Delivered, false) => "delivered".to_owned(),
            (Outcome::Retry(r), _) => format!("retry: {r}"),
            (Outcome::Reject(r), _) => format!("rejected: {r}"),
        };
        out.push_str(&format!("  {action:?} [{rule}] {summary} -> {what}\n"));
    }
    match &p.ack {
        Ack::Delete => {}
        Ack::RetryLater { reason, .. } => out.push_str(&format!("  would come back later: {reason}\n")),
        Ack::DeadLetter { reason } => out.push_str(&format!("  dead-letter: {reason}\n")),
    }
    out
}

async fn replay_with<S: Sink, T: TagSource>(
    stages: &Stages<S, T>,
    dry_run: bool,
    req: &Request,
    out: &mut impl std::io::Write,
) -> bool {
    let mut all_deleted = true;
    for f in &req.files {
        let line = match std::fs::read(f) {
            Ok(body) => {
                let p = stages.process(&body, req.receive_count.max(1)).await;
                all_deleted &= p.ack == Ack::Delete;
                format!("{}: {}", f.display(), describe(&p, dry_run))
            }
            Err(e) => {
                all_deleted = false;
                format!("{}: cannot read: {e}\n", f.display())
            }
        };
        // A closed stdout (a pipe to `head`) ends the report, not the replay's verdict.
        let _ = out.write_all(line.as_bytes());
    }
    all_deleted
}
