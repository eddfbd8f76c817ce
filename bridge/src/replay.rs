//! `patchplane-bridge replay`: the same stages as the queue path ([`Stages`]) over event files,
//! printing what each event came to. With `--dry-run` nothing is delivered ([`DryRun`]) and no
//! configuration or AWS credentials are needed (the default rules, no tags).

use std::path::{Path, PathBuf};

use crate::app::{self, CONFIG_ENV, StartError};
use crate::config::{self, BridgeConfig};
use crate::decode::{Decoded, Event};
use crate::enrich::{Context, TagSource};
use crate::outcome::{Ack, Outcome};
use crate::pipeline::{Processed, Stages};
use crate::route::Action;
use crate::sinks::servicenow::{compliance, vulnerability};
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
    /// A policy file: refused with the command that replaces it (`patchplane bridge-config`).
    pub policy: Option<PathBuf>,
    /// Tags every node has, instead of reading them (a dry run without AWS), `KEY=VALUE`.
    pub tags: Vec<(String, String)>,
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
    /// `--policy`, which the generator now serves.
    #[error("{0}")]
    Policy(String),
}

/// `KEY=VALUE` of `--tag`.
pub fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
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
    let mut cfg: BridgeConfig = match (cfg, req.dry_run) {
        (Some(cfg), _) => cfg,
        (None, true) => config::load_str(DRY_RUN_DEFAULTS, Path::new("(defaults)")).map_err(StartError::from)?,
        (None, false) => return Err(ReplayError::NeedsConfig),
    };
    if let Some(policy) = &req.policy {
        // The bridge does not link the generator (ADR 024): the generator fills the schedule.
        return Err(ReplayError::Policy(format!(
            "--policy moved to the generator: `patchplane bridge-config {} > bridge.yaml`, then \
             `replay --config bridge.yaml`",
            policy.display()
        )));
    }
    // AWS is only touched for tags, or to read a ServiceNow secret.
    let sdk = if cfg.enrich.enabled && !req.no_tags && req.tags.is_empty() || !req.dry_run {
        Some(app::sdk_config(&cfg).await)
    } else {
        None
    };
    let tags = if req.no_tags { None } else { sdk.as_ref() };
    if !req.tags.is_empty() {
        let given = crate::enrich::tags::Source::Given(req.tags.iter().cloned().collect());
        cfg.enrich.enabled = true;
        if req.dry_run {
            return Ok(replay_with(&app::stages_from(&cfg, given, DryRun), Some(&cfg), req, out).await);
        }
    }
    if req.dry_run {
        return Ok(replay_with(&app::stages(&cfg, tags, DryRun), Some(&cfg), req, out).await);
    }
    let aws = match &sdk {
        Some(aws) => aws.clone(),
        None => app::sdk_config(&cfg).await,
    };
    let resolved = app::resolve(&cfg, &aws).await?;
    let (sinks, _) = app::sinks(&cfg, &resolved, &aws)?;
    let mut stages = app::stages(&cfg, tags, sinks);
    stages.enricher = stages
        .enricher
        .with_owners(crate::enrich::owners::chain(&cfg, &resolved, Some(&aws))?);
    Ok(replay_with(&stages, None, req, out).await)
}

/// What a dry run of `action` would do for `d` about the node `ctx` describes, in words, with the
/// ticket's facts (vulnerability, packages, due date, next window) where there is a ticket.
pub fn would(action: Action, d: &Decoded, ctx: &Context, cfg: &BridgeConfig) -> String {
    match (action, &d.event) {
        (Action::InspectorTicket, Event::Finding(f)) => {
            let t = &cfg.tickets;
            let windows = app::windows(cfg);
            let facts = vulnerability::facts(
                f,
                &d.envelope.region,
                ctx,
                t.min_severity,
                t.only_fixable,
                &t.sla_days,
                windows.as_deref(),
                jiff::Timestamp::now(),
            );
            match f.status.as_str() {
                "ACTIVE" if !facts.qualifies => format!(
                    "no ticket: {} is below tickets.min_severity {:?}{}",
                    f.severity,
                    t.min_severity,
                    if t.only_fixable { " or has no fix" } else { "" }
                ),
                "ACTIVE" => {
                    let mut out = format!(
                        "would open or update the ticket {}: {} {}",
                        d.correlation_key(),
                        f.vulnerability_id.as_deref().unwrap_or("(no id)"),
                        f.severity
                    );
                    for p in &f.packages {
                        out.push_str(&format!(
                            "\n      package {} {} -> fixed in {}",
                            p.name,
                            p.version.as_deref().unwrap_or("?"),
                            p.fixed_in_version.as_deref().unwrap_or("(no fix yet)")
                        ));
                    }
                    match facts.due {
                        Some(due) => out.push_str(&format!("\n      due {due} ({} days)", facts.sla_days)),
                        None => out.push_str("\n      due: unknown (no firstObservedAt)"),
                    }
                    match &facts.next_window {
                        Some(w) => {
                            out.push_str(&format!(
                                "\n      next window {} at {} ({} UTC)",
                                w.window, w.local, w.utc
                            ));
                            if facts.due.is_some_and(|due| due < w.utc) {
                                out.push_str(" - after the due date: patch out of band or record an exception");
                            }
                        }
                        None => out.push_str(
                            "\n      next window: unknown (pass a --config with `schedule:`, from `patchplane bridge-config POLICY`, or the node's patch group is not known)",
                        ),
                    }
                    out
                }
                "CLOSED" | "SUPPRESSED" => format!(
                    "would resolve the ticket {} ({} by Inspector), if one is open",
                    d.correlation_key(),
                    f.status
                ),
                s => format!("nothing for status {s}"),
            }
        }
        (Action::Incident, Event::Compliance(_)) => {
            let due = crate::sinks::common::event_time(d)
                .ok()
                .and_then(|at| compliance::due(d, at, &cfg.tickets.compliance_sla()));
            match due {
                Some(due) => format!(
                    "would open or update the incident {}\n      due {} ({} days for {})",
                    d.correlation_key(),
                    due.at,
                    due.days,
                    due.severity
                ),
                None => format!("would open or update the incident {}", d.correlation_key()),
            }
        }
        (Action::Resolve, Event::Compliance(_)) => {
            format!("would resolve the open incident {}, if any", d.correlation_key())
        }
        (Action::Resolve, Event::WindowExecution(w)) => format!(
            "would resolve the open incidents of window {}'s failed executions in {} {}",
            w.window_id, d.envelope.account, d.envelope.region
        ),
        (Action::Resolve, Event::CommandInvocation(c)) => format!(
            "would resolve the open failed-command incidents of {} in {} {}",
            c.instance_id, d.envelope.account, d.envelope.region
        ),
        (Action::Escalate, _) => format!(
            "would escalate open tickets due within {} days or past due",
            cfg.tickets.escalate_before_days
        ),
        _ => "would open or update".to_owned(),
    }
}

/// One event's report: what it is, its owner, each action and its outcome, its fate. A dry run
/// (`dry`: the decoded event and the configuration) says what each action would do.
pub fn describe(p: &Processed, dry: Option<(&Decoded, &BridgeConfig)>) -> String {
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
        let what = match (o, dry) {
            (Outcome::Delivered, Some((d, cfg))) => would(*action, d, &p.context, cfg),
            (Outcome::Delivered, None) => "delivered".to_owned(),
            (Outcome::Deferred(k), Some(_)) => format!("would be in digest {k}"),
            (Outcome::Deferred(k), None) => format!("in digest {k}"),
            (Outcome::Retry(r), _) => format!("retry: {r}"),
            (Outcome::Reject(r), _) => format!("rejected: {r}"),
        };
        out.push_str(&format!("  {action:?} [{rule}] {summary} -> {what}\n"));
    }
    match &p.ack {
        Ack::Delete => {}
        Ack::RetryLater { reason, .. } => out.push_str(&format!("  would come back later: {reason}\n")),
        Ack::DeadLetter { reason } => out.push_str(&format!("  dead-letter: {reason}\n")),
        Ack::Park { .. } => {}
    }
    out
}

async fn replay_with<S: Sink, T: TagSource>(
    stages: &Stages<S, T>,
    dry_run: Option<&BridgeConfig>,
    req: &Request,
    out: &mut impl std::io::Write,
) -> bool {
    let mut all_deleted = true;
    for f in &req.files {
        let line = match std::fs::read(f) {
            Ok(body) => {
                let p = stages.process(&body, req.receive_count.max(1)).await;
                all_deleted &= matches!(p.ack, Ack::Delete | Ack::Park { .. });
                let decoded = crate::decode::decode(&body).ok();
                let dry = dry_run.zip(decoded.as_ref()).map(|(cfg, d)| (d, cfg));
                format!("{}: {}", f.display(), describe(&p, dry))
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
