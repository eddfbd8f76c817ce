//! From a checked [`BridgeConfig`] to a running bridge: loading the file (or the environment
//! variable ECS fills), AWS configuration, secrets, the ServiceNow client, the sinks, the stages,
//! the SQS pipeline, and [`run`], which wires them to the operations port, the EMF ticker and the
//! shutdown signal. `main.rs` only parses arguments and calls in here.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use patchplane_integrations::retry::{Failure, RetryPolicy};
use patchplane_integrations::servicenow::{Auth, Client, Config};
use tokio::sync::watch;

use crate::config::{
    self, AuthConfig, BridgeConfig, ConfigError, NotifyConfig, OwnerStep, SecretRef, SettingError, resolve_setting,
};
use crate::enrich::owners::{CmdbStep, OwnerChain, Step};
use crate::enrich::tags::{AwsTags, Source};
use crate::enrich::{Enricher, NoTags};
use crate::metrics::{self, Counters};
use crate::pipeline::{Options, Pipeline, Stages};
use crate::route::{Action, RouteConfig};
use crate::server;
use crate::sinks::notify::{DigestBoard, DigestSender, NotifySink, Notifying};
use crate::sinks::servicenow::escalation::{self, EscalationSink};
use crate::sinks::servicenow::vulnerability::VulnerabilitySink;
use crate::sinks::servicenow::{Assignment, Desk, IncidentSink, Lifecycle, ResolveSink};
use crate::sinks::{Clock, Sink, Sinks};
use crate::windows::{NextWindow, ScheduleWindows};

/// The environment variable that may hold the whole `bridge.yaml` (ECS passes it this way).
pub const CONFIG_ENV: &str = "PATCHPLANE_BRIDGE_CONFIG";

/// Why the bridge cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No configuration at all.
    #[error("no configuration: pass --config FILE or set {CONFIG_ENV}")]
    NoConfig,
    /// A `{env: NAME}` setting whose variable is missing.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// A secret that cannot be read.
    #[error("`{path}`: {reference}: {reason}")]
    Secret {
        /// The key holding the reference.
        path: String,
        /// The reference (never the value).
        reference: String,
        /// Why, with the SDK's cause chain.
        reason: String,
    },
    /// The ServiceNow client cannot be built.
    #[error("servicenow: {0}")]
    ServiceNow(#[source] Failure),
    /// A CMDB client cannot be built.
    #[error("owners: {0}")]
    Cmdb(String),
    /// A notifier cannot be built.
    #[error("notify: {0}")]
    Notifier(#[source] Failure),
    /// The operations port cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// `operations.listen`.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The routes name an action no sink of this bridge delivers.
    #[error("`routes`: {action:?} has no sink in this bridge")]
    NoSink {
        /// The action.
        action: Action,
    },
}

/// How a start error reads: located configuration diagnostics as they are, anything else as
/// `error: …`.
pub fn report(e: &StartError) -> String {
    match e {
        StartError::Config(_) => e.to_string(),
        _ => format!("error: {e}"),
    }
}

/// The exit code of a start error: 2 for configuration (usage) problems, 1 for the rest.
pub fn exit_code(e: &StartError) -> u8 {
    match e {
        StartError::Config(_) | StartError::NoConfig => 2,
        _ => 1,
    }
}

/// `bridge.yaml` from `file`, else from `$PATCHPLANE_BRIDGE_CONFIG`, else `None`.
pub fn load_config(file: Option<&Path>) -> Result<Option<BridgeConfig>, ConfigError> {
    match file {
        Some(f) => config::load_file(f).map(Some),
        None => match std::env::var(CONFIG_ENV) {
            Ok(text) => config::load_str(&text, Path::new(&format!("${CONFIG_ENV}"))).map(Some),
            Err(_) => Ok(None),
        },
    }
}

/// Like [`load_config`], but a configuration is required.
pub fn require_config(file: Option<&Path>) -> Result<BridgeConfig, StartError> {
    load_config(file)?.ok_or(StartError::NoConfig)
}

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

/// The AWS configuration of every client: region and endpoint from `aws:`, credentials and the
/// rest from the default chain (the ECS task role in production).
pub async fn sdk_config(cfg: &BridgeConfig) -> SdkConfig {
    // No stalled-stream protection: a long poll is meant to stall up to 20 s, and the
    // protection's throughput check woke every waiting receive about ten times a second (most of
    // the bridge's CPU on an empty queue; BENCHMARKS.md). Every body the bridge reads is small.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .stalled_stream_protection(aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled());
    if let Some(r) = &cfg.aws.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(u) = &cfg.aws.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// Reads a secret reference. The value is never logged; errors name the reference, not the value.
pub async fn secret(sdk: &SdkConfig, path: &str, r: &SecretRef) -> Result<String, StartError> {
    let fail = |reason: String| StartError::Secret {
        path: path.to_owned(),
        reference: format!("{r:?}"),
        reason,
    };
    match r {
        SecretRef::Env(name) => std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| fail(format!("environment variable {name} is not set"))),
        SecretRef::SecretArn(arn) => {
            let out = aws_sdk_secretsmanager::Client::new(sdk)
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| fail(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string()))?;
            match out.secret_string() {
                Some(s) if !s.is_empty() => Ok(s.to_owned()),
                _ => Err(fail("the secret has no SecretString".into())),
            }
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The ServiceNow client `servicenow:` describes, secrets resolved, for `table`.
pub async fn servicenow_for(cfg: &BridgeConfig, sdk: &SdkConfig, table: &str) -> Result<Client, StartError> {
    let s = &cfg.servicenow;
    let base_url = resolve_setting("servicenow.instance_url", &s.instance_url, &env)?;
    let auth = match &s.auth {
        AuthConfig::Basic { user, password } => Auth::Basic {
            user: user.clone(),
            password: secret(sdk, "servicenow.auth.basic.password", password).await?,
        },
        AuthConfig::Oauth {
            client_id,
            client_secret,
        } => Auth::OAuth {
            client_id: client_id.clone(),
            client_secret: secret(sdk, "servicenow.auth.oauth.client_secret", client_secret).await?,
        },
    };
    Client::new(Config {
        base_url: base_url.trim_end_matches('/').to_owned(),
        table: table.to_owned(),
        auth,
        timeout: Duration::from_secs(s.timeout_seconds),
        retry: RetryPolicy {
            attempts: s.max_attempts,
            ..RetryPolicy::default()
        },
        batch_writes: s.batch_writes,
    })
    .map_err(StartError::ServiceNow)
}

/// The owner chain `owners:` describes: tags, CMDBs (clients built, secrets read) and the static
/// map, with their caches.
pub async fn owner_chain(cfg: &BridgeConfig, sdk: Option<&SdkConfig>) -> Result<OwnerChain, StartError> {
    use patchplane_integrations::cmdb::{Cmdb, HttpCmdb, HttpCmdbConfig, OwnerField, ServiceNowCmdb};
    let o = &cfg.owners;
    let mut steps = Vec::new();
    for step in &o.order {
        steps.push(match step {
            OwnerStep::Tags => Step::Tags(cfg.enrich.owner_tags.clone()),
            OwnerStep::Static => Step::Static(o.static_owners.clone()),
            OwnerStep::ServicenowCmdb => {
                let Some(sdk) = sdk else { continue };
                let fields: Vec<OwnerField> = o.servicenow_cmdb.fields.iter().filter_map(|f| f.parse().ok()).collect();
                let client = Arc::new(servicenow(cfg, sdk).await?);
                let cmdb = ServiceNowCmdb::new(client, &fields).map_err(|e| StartError::Cmdb(e.to_string()))?;
                Step::Cmdb(Arc::new(CmdbStep::new("servicenow cmdb", Cmdb::ServiceNow(cmdb))))
            }
            OwnerStep::HttpCmdb => {
                let (Some(sdk), Some(h)) = (sdk, &o.http_cmdb) else {
                    continue;
                };
                let token = match &h.token {
                    Some(t) => Some(secret(sdk, "owners.http_cmdb.token", t).await?),
                    None => None,
                };
                let cmdb = HttpCmdb::new(HttpCmdbConfig {
                    url: h.url.clone(),
                    token,
                    timeout: Duration::from_secs(h.timeout_seconds),
                    retry: RetryPolicy::default(),
                })
                .map_err(|e| StartError::Cmdb(e.to_string()))?;
                Step::Cmdb(Arc::new(CmdbStep::new("http cmdb", Cmdb::Http(cmdb))))
            }
        });
    }
    Ok(OwnerChain::new(
        steps,
        Duration::from_secs(o.ttl_seconds),
        Duration::from_secs(o.negative_ttl_seconds),
    ))
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
        .with_exceptions(cfg.exceptions.clone(), escalation::system_clock()),
        sink,
    }
}

/// The ServiceNow client for incidents (`servicenow.table`).
pub async fn servicenow(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<Client, StartError> {
    servicenow_for(cfg, sdk, &cfg.servicenow.table).await
}

/// Every sink `bridge.yaml` configures, one per action; fails when a routed action has none.
/// `windows` computes next install windows for tickets; `clock` is the time (tests set it).
pub async fn sinks_with(
    cfg: &BridgeConfig,
    sdk: &SdkConfig,
    windows: Option<Arc<dyn NextWindow>>,
    clock: Clock,
) -> Result<(Sinks, Option<Arc<DigestBoard>>), StartError> {
    let assignment = Assignment {
        default_group: cfg.servicenow.assignment_group.clone(),
        owner_groups: cfg.servicenow.owner_groups.clone(),
    };
    let t = &cfg.tickets;
    let lifecycle = Lifecycle {
        close_code: t.close_code.clone(),
        reopen_period: jiff::SignedDuration::from_hours(24 * i64::from(t.reopen_days)),
    };
    // Creation claims (ADR 017), shared by both tables' desks: the claim names the key, and the
    // tables' keys never collide (a finding's key is not a failure's).
    let claims: Option<Arc<dyn crate::claims::Claims>> = match &cfg.servicenow.claims_bucket {
        Some(b) => {
            let bucket = resolve_setting("servicenow.claims_bucket", b, &env)?;
            Some(Arc::new(crate::claims::S3Claims::new(
                s3_client(sdk),
                bucket,
                "tickets/",
                CREATE_LEASE,
            )))
        }
        None => None,
    };
    let desk = |client, assignment, lifecycle| {
        let d = Desk::new(client, assignment, lifecycle);
        match &claims {
            Some(c) => d.with_create_claims(c.clone()),
            None => d,
        }
    };
    let incidents = Arc::new(desk(servicenow(cfg, sdk).await?, assignment.clone(), lifecycle.clone()));
    let tickets = if t.table == cfg.servicenow.table {
        incidents.clone()
    } else {
        Arc::new(desk(servicenow_for(cfg, sdk, &t.table).await?, assignment, lifecycle))
    };
    let default_owner = default_owner_for(cfg);
    let board = match &cfg.notify {
        Some(n) => {
            let period = Duration::from_secs(60 * n.digest_minutes);
            Some((Arc::new(DigestBoard::new(period, notifiers(n, sdk).await?)), period))
        }
        None => None,
    };
    let mut escalation = EscalationSink::new(tickets.clone(), t, clock.clone());
    if let Some((b, _)) = &board {
        escalation = escalation.with_notify(b.clone(), default_owner.clone());
    }
    let mut sinks = Sinks::new()
        .with(Action::Incident, Arc::new(IncidentSink(incidents.clone())))
        .with(Action::Resolve, Arc::new(ResolveSink(incidents)))
        .with(
            Action::InspectorTicket,
            Arc::new(VulnerabilitySink::new(tickets, t, windows, clock.clone())),
        )
        .with(Action::Escalate, Arc::new(escalation));
    if let Some((b, period)) = &board {
        sinks = sinks.with(
            Action::NotifyOwner,
            Arc::new(NotifySink::new(b.clone(), default_owner, *period)),
        );
    }
    if let (Some(n), Some((b, _))) = (&cfg.notify, &board)
        && let Some(w) = &n.windows
    {
        let notices = window_notices(cfg, w, sdk, b.clone(), default_owner_for(cfg), clock).await?;
        sinks = sinks.with(Action::WindowNotices, Arc::new(notices));
    }
    let have = sinks.actions();
    for rule in cfg.rules() {
        if let Some(action) = rule.actions.iter().find(|a| !have.contains(a)) {
            return Err(StartError::NoSink { action: *action });
        }
    }
    let board = board.map(|(b, _)| b);
    Ok((sinks, board))
}

/// The owner of what no step of the owner chain knows: the default assignment group.
fn default_owner_for(cfg: &BridgeConfig) -> String {
    cfg.servicenow
        .assignment_group
        .clone()
        .unwrap_or_else(|| "unassigned".into())
}

/// An S3 client; path-style addressing when an endpoint is configured (moto, a VPC endpoint by
/// URL), which virtual-hosted names do not reach.
fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let b = aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(b.build())
}

/// How long a task holds a window notice before another may take it over: far longer than
/// looking up the nodes of one window and sending its digests.
const NOTICE_LEASE: Duration = Duration::from_secs(600);

/// How long a task that claimed a ticket creation and died blocks it: longer than a create
/// takes with ServiceNow's retries (ADR 017).
const CREATE_LEASE: Duration = Duration::from_secs(60);

/// `window-notices`: nodes from the tagging API (the member role), scans from the evidence
/// bucket, tickets from the ServiceNow tables, claims in the claims bucket.
async fn window_notices(
    cfg: &BridgeConfig,
    w: &patchplane_bridge_config::WindowNoticesConfig,
    sdk: &SdkConfig,
    board: Arc<DigestBoard>,
    default_owner: String,
    clock: Clock,
) -> Result<crate::sinks::window_notices::WindowNotices, StartError> {
    use crate::claims::S3Claims;
    use crate::sinks::window_notices::sources::{S3Scans, ServiceNowTickets};
    let s3 = s3_client(sdk);
    let claims_bucket = resolve_setting("notify.windows.claims_bucket", &w.claims_bucket, &env)?;
    let scans = match &w.evidence_bucket {
        Some(b) => {
            let bucket = resolve_setting("notify.windows.evidence_bucket", b, &env)?;
            Some(Arc::new(S3Scans::new(s3.clone(), bucket, w.evidence_prefix.clone())) as Arc<dyn crate::sinks::window_notices::Scans>)
        }
        None => None,
    };
    let mut tables = vec![(servicenow(cfg, sdk).await?, cfg.servicenow.table.clone())];
    if cfg.tickets.table != cfg.servicenow.table {
        tables.push((
            servicenow_for(cfg, sdk, &cfg.tickets.table).await?,
            cfg.tickets.table.clone(),
        ));
    }
    let parts = crate::sinks::window_notices::Parts {
        fleet: Arc::new(AwsTags::new(sdk.clone(), cfg.enrich.member_role_name.clone())),
        scans,
        tickets: Some(Arc::new(ServiceNowTickets::new(tables))),
        owners: Arc::new(owner_chain(cfg, Some(sdk)).await?),
        claims: Arc::new(S3Claims::new(s3, claims_bucket, "window-notices/", NOTICE_LEASE)),
        board,
    };
    Ok(crate::sinks::window_notices::WindowNotices::new(
        &cfg.schedule,
        w.clone(),
        &cfg.enrich.patch_group_tag,
        default_owner,
        parts,
        clock,
    ))
}

/// The notifiers `notify:` names, webhook URLs read from their secret references.
async fn notifiers(n: &NotifyConfig, sdk: &SdkConfig) -> Result<Vec<Arc<dyn DigestSender>>, StartError> {
    use patchplane_integrations::notify::{
        SlackNotifier, SnsNotifier, TeamsNotifier, Topics, WebhookConfig as Hook, WebhookUrl, aws_sdk_sns,
    };
    let mut out: Vec<Arc<dyn DigestSender>> = Vec::new();
    if let Some(s) = &n.sns {
        let topic = resolve_setting("notify.sns.topic_arn", &s.topic_arn, &env)?;
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            Topics::new(topic, s.owner_topics.clone()),
        );
        out.push(Arc::new(Notifying(Box::new(notifier))));
    }
    if let Some(w) = &n.slack {
        let url = WebhookUrl::new(secret(sdk, "notify.slack.url", &w.url).await?);
        let notifier = SlackNotifier::new(Hook::new("slack", url)).map_err(StartError::Notifier)?;
        out.push(Arc::new(Notifying(Box::new(notifier))));
    }
    if let Some(w) = &n.teams {
        let url = WebhookUrl::new(secret(sdk, "notify.teams.url", &w.url).await?);
        let notifier = TeamsNotifier::new(Hook::new("teams", url)).map_err(StartError::Notifier)?;
        out.push(Arc::new(Notifying(Box::new(notifier))));
    }
    Ok(out)
}

/// The next-window calculator `schedule:` describes, when it describes any window.
pub fn windows(cfg: &BridgeConfig) -> Option<Arc<dyn NextWindow>> {
    let w = ScheduleWindows::new(&cfg.schedule);
    (!w.is_empty()).then(|| Arc::new(w) as Arc<dyn NextWindow>)
}

/// [`sinks_with`] with the schedule `schedule:` describes and the system clock.
pub async fn sinks(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<(Sinks, Option<Arc<DigestBoard>>), StartError> {
    sinks_with(cfg, sdk, windows(cfg), escalation::system_clock()).await
}

/// The SQS pipeline `bridge.yaml` describes.
pub async fn pipeline(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<Arc<Pipeline<Sinks, Source>>, StartError> {
    let queue_url = resolve_setting("queue.url", &cfg.queue.url, &env)?;
    let q = &cfg.queue;
    let (sinks, board) = sinks(cfg, sdk).await?;
    let mut stages = stages(cfg, Some(sdk), sinks);
    stages.enricher = stages.enricher.with_owners(owner_chain(cfg, Some(sdk)).await?);
    if let Some(o) = &cfg.enrich.command_output {
        let bucket = resolve_setting("enrich.command_output.bucket", &o.bucket, &env)?;
        stages.enricher = stages
            .enricher
            .with_command_output(Arc::new(crate::enrich::output::S3Output::new(
                s3_client(sdk),
                bucket,
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
                format!(
                    ", window notices {} h before and {} min after windows in {} account(s)",
                    w.lead_hours,
                    w.summary_after_minutes,
                    w.accounts.len()
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
