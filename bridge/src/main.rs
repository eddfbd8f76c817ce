//! `patchplane-bridge`: `run` consumes the central queue; `replay` runs the same stages over event
//! files; `check` validates `bridge.yaml`; `health` is the container health check. Arguments only:
//! everything else is in the library ([`patchplane_bridge::app`], [`patchplane_bridge::replay`]).
//!
//! Exit codes: 0 done; 1 a replayed event would not be deleted (retry or reject), or `run` could
//! not start; 2 a usage or configuration error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use patchplane_bridge::app::{self, StartError};
use patchplane_bridge::replay::{self, ReplayError};
use patchplane_bridge::server;

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
        /// Also resolve every `{env: …}` and `{secret_arn: …}` reference (Secrets Manager needs AWS
        /// credentials) and build the sinks, reporting every unresolved reference at once.
        #[arg(long)]
        resolve: bool,
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
        /// Moved: `patchplane bridge-config POLICY > bridge.yaml`, then `--config bridge.yaml`.
        #[arg(long, hide = true)]
        policy: Option<PathBuf>,
        /// A tag every node has, instead of reading tags from AWS (`PatchGroup=AL2023-early`).
        #[arg(long = "tag", value_parser = replay::parse_tag)]
        tags: Vec<(String, String)>,
        /// Event files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn failed(e: &StartError) -> ExitCode {
    eprintln!("{}", app::report(e));
    ExitCode::from(app::exit_code(e))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the bridge waits on the network, and a multi-thread scheduler spent more CPU
    // waking and stealing between its workers than the work itself (BENCHMARKS.md, "Bridge
    // CPU"). Concurrency is unchanged: workers and the messages of a batch are tasks.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async {
        match cli.command {
            Command::Run { config } => {
                let cfg = match app::require_config(config.as_deref()) {
                    Ok(c) => c,
                    Err(e) => return failed(&e),
                };
                app::init_logs(Some(&cfg));
                match app::run(&cfg, app::shutdown_signal()).await {
                    Ok(_) => ExitCode::SUCCESS,
                    Err(e) => {
                        tracing::error!(error = %e, "Cannot start");
                        ExitCode::from(1)
                    }
                }
            }
            Command::Check { config, resolve } => match app::require_config(config.as_deref()) {
                Ok(cfg) => {
                    println!("{}", app::check_summary(&cfg));
                    if !resolve {
                        return ExitCode::SUCCESS;
                    }
                    match app::check_resolve(&cfg).await {
                        Ok(line) => {
                            println!("{line}");
                            ExitCode::SUCCESS
                        }
                        Err(e) => failed(&e),
                    }
                }
                Err(e) => failed(&e),
            },
            Command::Health { addr } if server::probe(&addr).await => ExitCode::SUCCESS,
            Command::Health { addr } => {
                eprintln!("unhealthy: no 200 from http://{addr}/healthz");
                ExitCode::from(1)
            }
            Command::Replay {
                config,
                dry_run,
                no_tags,
                receive_count,
                policy,
                tags,
                files,
            } => {
                let req = replay::Request {
                    config,
                    dry_run,
                    no_tags,
                    receive_count,
                    files,
                    policy,
                    tags,
                };
                match replay::run(&req, &mut std::io::stdout()).await {
                    Ok(true) => ExitCode::SUCCESS,
                    Ok(false) => ExitCode::from(1),
                    Err(ReplayError::Start(e)) => failed(&e),
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::from(2)
                    }
                }
            }
        }
    })
}
