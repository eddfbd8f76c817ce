//! `patchplane-bridge`: `run` consumes the central queue; `replay` runs the same stages over event
//! files; `check` validates `bridge.yaml`.
//!
//! Exit codes: 0 done; 1 a replayed event would not be deleted (retry or reject), or `run` could
//! not start; 2 a usage or configuration error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use patchplane_bridge::config::{self, BridgeConfig, LogFormat, LogLevel};
use patchplane_bridge::enrich::TagSource;
use patchplane_bridge::outcome::{Ack, Outcome};
use patchplane_bridge::pipeline::{Pipeline, Processed, Stages};
use patchplane_bridge::sink::{DryRun, ServiceNowSink, Sink};
use patchplane_bridge::tags::Source;
use patchplane_bridge::{app, metrics, server};
use tokio::sync::watch;

/// The environment variable that may hold the whole `bridge.yaml` (ECS passes it this way).
const CONFIG_ENV: &str = "PATCHPLANE_BRIDGE_CONFIG";

#[derive(Parser)]
#[command(
    name = "patchplane-bridge",
    version,
    about = "Patching events from the central queue to ServiceNow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Consume the queue until SIGTERM or SIGINT, then drain.
    Run {
        /// bridge.yaml; without it, the YAML text in $PATCHPLANE_BRIDGE_CONFIG.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate bridge.yaml and print what it resolves to.
    Check {
        /// bridge.yaml; without it, $PATCHPLANE_BRIDGE_CONFIG.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Exit 0 when the bridge on this host answers /healthz (the ECS container health check; the
    /// image has no shell or curl).
    Health {
        /// Operations address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Run decode → enrich → route → sinks over event files (EventBridge JSON) instead of SQS.
    Replay {
        /// bridge.yaml; optional with --dry-run (the default rules, no tags).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the actions; deliver nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not read tags from AWS.
        #[arg(long)]
        no_tags: bool,
        /// The receive count rules see (`min_receive_count`).
        #[arg(long, default_value_t = 1)]
        receive_count: u32,
        /// Event files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn load(config: Option<&Path>) -> Result<Option<BridgeConfig>, String> {
    match config {
        Some(f) => config::load_file(f).map(Some).map_err(|e| e.to_string()),
        None => match std::env::var(CONFIG_ENV) {
            Ok(text) => config::load_str(&text, Path::new(&format!("${CONFIG_ENV}")))
                .map(Some)
                .map_err(|e| e.to_string()),
            Err(_) => Ok(None),
        },
    }
}

fn init_logs(cfg: Option<&BridgeConfig>) {
    let ops = cfg.map(|c| c.operations.clone()).unwrap_or_default();
    let level = match ops.log_level {
        LogLevel::Error => tracing::Level::ERROR,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Debug => tracing::Level::DEBUG,
    };
    // Logs go to stderr; stdout carries EMF lines (run) or the replay report.
    let b = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    let _ = match ops.log_format {
        LogFormat::Json => b.json().flatten_event(true).try_init(),
        LogFormat::Text => b.with_ansi(false).try_init(),
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async {
        match cli.command {
            Command::Run { config } => run(config.as_deref()).await,
            Command::Check { config } => check(config.as_deref()),
            Command::Health { addr } => health(&addr).await,
            Command::Replay {
                config,
                dry_run,
                no_tags,
                receive_count,
                files,
            } => replay(config.as_deref(), dry_run, no_tags, receive_count, &files).await,
        }
    })
}

fn required(config: Option<&Path>) -> Result<BridgeConfig, ExitCode> {
    match load(config) {
        Ok(Some(c)) => Ok(c),
        Ok(None) => {
            eprintln!("error: no configuration: pass --config FILE or set {CONFIG_ENV}");
            Err(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("{e}");
            Err(ExitCode::from(2))
        }
    }
}

async fn health(addr: &str) -> ExitCode {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        Some(out.starts_with(b"HTTP/1.1 200 "))
    };
    match tokio::time::timeout(Duration::from_secs(4), probe).await {
        Ok(Some(true)) => ExitCode::SUCCESS,
        _ => {
            eprintln!("unhealthy: no 200 from http://{addr}/healthz");
            ExitCode::from(1)
        }
    }
}

fn check(config: Option<&Path>) -> ExitCode {
    let cfg = match required(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let routes = patchplane_bridge::route::RouteConfig::from_config(&cfg);
    println!(
        "ok: {} workers, {} rules ({}), drain {} s, operations on {}",
        cfg.queue.workers,
        routes.rules.len(),
        if cfg.routes.is_some() {
            "from the file"
        } else {
            "the defaults"
        },
        cfg.operations.drain_seconds,
        cfg.operations.listen
    );
    ExitCode::SUCCESS
}

/// What `/healthz`, `/readyz` and `/metrics` see.
struct Health(Arc<Pipeline<ServiceNowSink, Source>>);

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

async fn run(config: Option<&Path>) -> ExitCode {
    let cfg = match required(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_logs(Some(&cfg));
    let sdk = app::sdk_config(&cfg).await;
    let pipeline = match app::pipeline(&cfg, &sdk).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Cannot start");
            return ExitCode::from(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&cfg.operations.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(listen = %cfg.operations.listen, error = %e, "Cannot listen");
            return ExitCode::from(1);
        }
    };
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(server::serve(
        listener,
        Arc::new(Health(pipeline.clone())),
        stopped.clone(),
    ));
    if cfg.operations.emf_interval_seconds > 0 {
        let (p, ns, every) = (
            pipeline.clone(),
            cfg.operations.metrics_namespace.clone(),
            Duration::from_secs(cfg.operations.emf_interval_seconds),
        );
        let mut done = stopped.clone();
        tokio::spawn(async move {
            let mut before = p.counters();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = done.changed() => return,
                }
                let now = p.counters();
                println!("{}", metrics::emf(&metrics::delta(&now, &before), &ns, now_ms()));
                before = now;
            }
        });
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("Shutdown asked: no more receives; draining in-flight messages");
        let _ = stop.send(true);
    });
    tracing::info!(workers = cfg.queue.workers, listen = %cfg.operations.listen, "Bridge started");
    pipeline.run(stopped).await;
    let c = pipeline.counters();
    if cfg.operations.emf_interval_seconds > 0 {
        println!("{}", metrics::emf(&c, &cfg.operations.metrics_namespace, now_ms()));
    }
    tracing::info!(
        received = c.received,
        delivered = c.delivered,
        retried = c.retried,
        rejected = c.rejected,
        released = c.released,
        "Bridge stopped"
    );
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
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

async fn replay(config: Option<&Path>, dry_run: bool, no_tags: bool, receives: u32, files: &[PathBuf]) -> ExitCode {
    let cfg = match load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_logs(cfg.as_ref());
    let cfg = match (cfg, dry_run) {
        (Some(cfg), _) => cfg,
        (None, true) => match config::load_str(DRY_RUN_DEFAULTS, Path::new("(defaults)")) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: the built-in defaults do not load: {e}");
                return ExitCode::from(1);
            }
        },
        (None, false) => {
            eprintln!(
                "error: replay delivers to ServiceNow only with --config FILE (or {CONFIG_ENV}); add --dry-run to see the actions"
            );
            return ExitCode::from(2);
        }
    };
    // AWS is only touched for tags, or to read a ServiceNow secret.
    let sdk = if cfg.enrich.enabled && !no_tags || !dry_run {
        Some(app::sdk_config(&cfg).await)
    } else {
        None
    };
    let tags = if no_tags { None } else { sdk.as_ref() };
    if dry_run {
        return replay_with(&app::stages(&cfg, tags, DryRun), true, receives, files).await;
    }
    let Some(aws) = sdk.as_ref() else {
        return ExitCode::from(1);
    };
    match app::servicenow_sink(&cfg, aws).await {
        Ok(sink) => replay_with(&app::stages(&cfg, tags, sink), false, receives, files).await,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The configuration of a dry run without a file: default rules, no tags.
const DRY_RUN_DEFAULTS: &str = "version: 1
queue: {url: unused}
servicenow: {instance_url: 'https://unused.invalid', auth: {basic: {user: unused, password: {env: UNUSED}}}}
enrich: {enabled: false}
";

fn describe(p: &Processed, dry_run: bool) -> String {
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
    receives: u32,
    files: &[PathBuf],
) -> ExitCode {
    let mut failed = false;
    for f in files {
        let body = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                println!("{}: cannot read: {e}", f.display());
                failed = true;
                continue;
            }
        };
        let p = stages.process(&body, receives.max(1)).await;
        failed |= p.ack != Ack::Delete;
        print!("{}: {}", f.display(), describe(&p, dry_run));
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
