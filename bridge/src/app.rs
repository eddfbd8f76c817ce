//! From a checked [`BridgeConfig`] to a running bridge: its references resolved ([`crate::start`]),
//! the sinks ([`crate::sinks::build`]), the stages, the SQS pipeline, and [`run`], which wires them
//! to the operations port, the EMF ticker and the shutdown signal; `check` and `check --resolve`.
//! `main.rs` only parses arguments and calls in here.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use tokio::sync::watch;

use crate::config::{BridgeConfig, OwnerStep};
use crate::enrich::owners;
use crate::enrich::tags::{AwsTags, Source};
use crate::enrich::{Enricher, NoTags};
use crate::metrics::{self, Counters};
use crate::pipeline::{Options, Pipeline, Stages};
use crate::route::RouteConfig;
use crate::server;
use crate::sinks::common::system_clock;
use crate::sinks::notify::DigestBoard;
use crate::sinks::{Sink, Sinks};
pub use crate::start::{
    CONFIG_ENV, Resolved, StartError, exit_code, load_config, report, require_config, s3_client, sdk_config,
};
use crate::windows::{NextWindow, ScheduleWindows};

/// Installs the log subscriber `operations:` describes (stderr; stdout carries EMF lines or the
/// replay report).
pub fn init_logs(cfg: Option<&BridgeConfig>) {
    use crate::config::{LogFormat, LogLevel};
    let ops = cfg.map(|c| c.operations.clone()).unwrap_or_default();
    let level = match ops.log_level {
        LogLevel::Error => tracing::Level::ERROR,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Debug => tracing::Level::DEBUG,
    };
    let b = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    // A second call (tests) keeps the first subscriber.
    let _ = match ops.log_format {
        LogFormat::Json => b.json().flatten_event(true).try_init(),
        LogFormat::Text => b.with_ansi(false).try_init(),
    };
}

/// The stages with `sink`; tags from AWS when `enrich.enabled` and `aws` is given, else none.
pub fn stages<S: Sink>(cfg: &BridgeConfig, aws: Option<&SdkConfig>, sink: S) -> Stages<S, Source> {
    let e = &cfg.enrich;
    let source = match aws {
        Some(sdk) if e.enabled => Source::Aws(Box::new(AwsTags::new(sdk.clone(), e.member_role_name.clone()))),
        _ => Source::None(NoTags),
    };
    stages_from(cfg, source, sink)
}

/// The stages with `sink` and tags from `source`.
pub fn stages_from<S: Sink>(cfg: &BridgeConfig, source: Source, sink: S) -> Stages<S, Source> {
    let e = &cfg.enrich;
    Stages {
        routes: RouteConfig::from_config(cfg),
        enricher: Enricher::new(
            source,
            Duration::from_secs(e.ttl_seconds),
            &e.patch_group_tag,
            &e.owner_tags,
        )
        .with_baselines(e.baselines.clone())
        .with_exceptions(cfg.exceptions.clone(), system_clock()),
        sink,
    }
}

/// Every reference of `cfg` resolved ([`Resolved`]), every problem reported together.
pub async fn resolve(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<Resolved, StartError> {
    Ok(Resolved::from_environment(cfg, Some(sdk)).await?)
}

/// Every sink `bridge.yaml` configures ([`crate::sinks::build`]), with the schedule
/// `schedule:` describes and the system clock.
pub fn sinks(
    cfg: &BridgeConfig,
    resolved: &Resolved,
    sdk: &SdkConfig,
) -> Result<(Sinks, Option<Arc<DigestBoard>>), StartError> {
    crate::sinks::build(cfg, resolved, sdk, windows(cfg), system_clock())
}

/// The next-window calculator `schedule:` describes, when it describes any window.
pub fn windows(cfg: &BridgeConfig) -> Option<Arc<dyn NextWindow>> {
    let w = ScheduleWindows::new(&cfg.schedule);
    (!w.is_empty()).then(|| Arc::new(w) as Arc<dyn NextWindow>)
}

/// The SQS pipeline `bridge.yaml` describes.
pub async fn pipeline(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<Arc<Pipeline<Sinks, Source>>, StartError> {
    let resolved = resolve(cfg, sdk).await?;
    let queue_url = resolved.get("queue.url")?.to_owned();
    let q = &cfg.queue;
    let (sinks, board) = sinks(cfg, &resolved, sdk)?;
    let mut stages = stages(cfg, Some(sdk), sinks);
    stages.enricher = stages.enricher.with_owners(owners::chain(cfg, &resolved, Some(sdk))?);
    if let Some(o) = &cfg.enrich.command_output {
        stages.enricher = stages
            .enricher
            .with_command_output(Arc::new(crate::enrich::output::S3Output::new(
                s3_client(sdk),
                resolved.get("enrich.command_output.bucket")?.to_owned(),
                o.prefix.clone(),
            )));
    }
    let opts = Options {
        queue_url,
        workers: q.workers,
        wait_seconds: q.wait_seconds,
        batch_window: Duration::from_millis(q.batch_window_ms),
        heartbeat_visibility: q.visibility_seconds,
        heartbeat_every: Duration::from_secs((q.visibility_seconds / 3).max(1) as u64),
        retry_cap_seconds: q.retry_cap_seconds,
        drain: cfg.drain(),
    };
    Ok(match board {
        Some(b) => Pipeline::with_digests(sdk, stages, opts, b),
        None => Pipeline::new(sdk, stages, opts),
    })
}

/// What `/healthz`, `/readyz` and `/metrics` see.
struct Health(Arc<Pipeline<Sinks, Source>>);

impl server::Status for Health {
    fn ready(&self) -> bool {
        self.0.is_ready()
    }
    fn metrics(&self) -> String {
        metrics::prometheus(&self.0.counters(), self.0.is_ready())
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Runs the bridge until `shutdown` resolves, then drains; returns the final counters.
pub async fn run(
    cfg: &BridgeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Counters, StartError> {
    let sdk = sdk_config(cfg).await;
    let pipeline = pipeline(cfg, &sdk).await?;
    let listener = tokio::net::TcpListener::bind(&cfg.operations.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: cfg.operations.listen.clone(),
            source,
        })?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(server::serve(
        listener,
        Arc::new(Health(pipeline.clone())),
        stopped.clone(),
    ));
    let ns = &cfg.operations.metrics_namespace;
    if cfg.operations.emf_interval_seconds > 0 {
        let every = Duration::from_secs(cfg.operations.emf_interval_seconds);
        let p = pipeline.clone();
        tokio::spawn(metrics::emf_ticker(
            move || p.counters(),
            ns.clone(),
            every,
            stopped.clone(),
        ));
    }
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("Shutdown asked: no more receives; draining in-flight messages");
        let _ = stop.send(true);
    });
    tracing::info!(workers = cfg.queue.workers, listen = %cfg.operations.listen, "Bridge started");
    pipeline.run(stopped).await;
    let c = pipeline.counters();
    if cfg.operations.emf_interval_seconds > 0 {
        println!("{}", metrics::emf(&c, ns, now_ms()));
    }
    tracing::info!(
        received = c.received,
        delivered = c.delivered,
        retried = c.retried,
        rejected = c.rejected,
        released = c.released,
        "Bridge stopped"
    );
    Ok(c)
}

/// Resolves on SIGTERM (ECS stopping the task) or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `check --resolve`: every reference resolved (environment variables, Secrets Manager) and the
/// sinks built, without receiving anything; every unresolved reference is reported at once.
pub async fn check_resolve(cfg: &BridgeConfig) -> Result<String, StartError> {
    let sdk = sdk_config(cfg).await;
    let resolved = resolve(cfg, &sdk).await?;
    let (sinks, _) = sinks(cfg, &resolved, &sdk)?;
    let actions: Vec<String> = sinks.actions().iter().map(ToString::to_string).collect();
    Ok(format!(
        "resolved: {} reference(s) ({:?}); sinks for {}",
        resolved.len(),
        resolved,
        actions.join(", ")
    ))
}

/// What `check` prints for a valid configuration.
pub fn check_summary(cfg: &BridgeConfig) -> String {
    let routes = RouteConfig::from_config(cfg);
    let owners: Vec<String> = cfg
        .owners
        .order
        .iter()
        .map(|s| match s {
            OwnerStep::Tags => "tags",
            OwnerStep::ServicenowCmdb => "servicenow_cmdb",
            OwnerStep::HttpCmdb => "http_cmdb",
            OwnerStep::Static => "static",
        })
        .map(String::from)
        .collect();
    let notify = cfg.notify.as_ref().map_or_else(
        || "no owner notifications".to_owned(),
        |n| {
            let to: Vec<&str> = [
                ("sns", n.sns.is_some()),
                ("slack", n.slack.is_some()),
                ("teams", n.teams.is_some()),
            ]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect();
            let windows = n.windows.as_ref().map_or_else(String::new, |w| {
                let accounts = match &w.organization {
                    Some(o) => format!(
                        "the accounts of {} target(s) read from Organizations{}, and {} listed",
                        o.targets.organizational_units.len() + o.targets.accounts.len(),
                        if o.role_arn.is_some() { " through a role" } else { "" },
                        w.accounts.len()
                    ),
                    None => format!("{} account(s)", w.accounts.len()),
                };
                format!(
                    ", window notices {} h before and {} min after windows in {accounts}",
                    w.lead_hours, w.summary_after_minutes
                )
            });
            format!("digests every {} min to {}{windows}", n.digest_minutes, to.join(", "))
        },
    );
    format!(
        "ok: {} workers, {} rules ({}), owners from {}, {}, drain {} s, operations on {}",
        cfg.queue.workers,
        routes.rules.len(),
        if cfg.routes.is_some() {
            "from the file"
        } else {
            "the defaults"
        },
        owners.join(" → "),
        notify,
        cfg.operations.drain_seconds,
        cfg.operations.listen
    )
}
