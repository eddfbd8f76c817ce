//! The `patchplane` commands (feature `cli`): each subcommand's arguments and what it does, printed
//! to stdout (results) and stderr (diagnostics, progress). `main.rs` only parses the command line
//! and turns the result into an exit code, so everything here is within reach of tests.
//!
//! - `validate.rs`, `generate.rs`, `schedule.rs`: the commands that read a policy.
//! - `stacksets.rs` (feature `aws`): `plan`, `rollout` and `status`, around
//!   `rollout::StackSets`: the client, the terminal confirmation, progress bars.
//! - `report.rs` (feature `aws`): the monthly report from the evidence bucket.
//! - `patch_now.rs` (feature `aws`): `patch-now`, an ad hoc install through the multi-account
//!   Automation, and the per-node results it reads back.
//! - `hybrid.rs` (feature `aws`): `hybrid activate`, a site's hybrid activation and the agent's
//!   install commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::diag::{Diagnostic, Severity};
use crate::{LoadError, Loaded, load_file};

pub mod bridge_config;
pub mod generate;
#[cfg(feature = "aws")]
pub mod hybrid;
#[cfg(feature = "aws")]
pub mod patch_now;
#[cfg(feature = "aws")]
pub mod report;
pub mod schedule;
#[cfg(feature = "aws")]
pub mod stacksets;
pub mod validate;

/// How a command that ran to its end exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0.
    Success,
    /// 1, with the reason already printed (an invalid policy as JSON, a rollout that failed).
    Failure,
    /// 2: `plan` found changes pending.
    Pending,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::FAILURE,
            Exit::Pending => ExitCode::from(2),
        }
    }
}

/// Why a command failed; `main` prints it after `patchplane: ` and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The policy could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The policy has errors (printed before this).
    #[error("{} is invalid ({errors} error(s))", file.display())]
    Invalid {
        /// The policy file.
        file: PathBuf,
        /// How many problems are errors (the rest are warnings).
        errors: usize,
    },
    /// `--strict`, and the policy has warnings (printed before this).
    #[error("{} has {warnings} warning(s), and --strict fails on warnings", file.display())]
    Strict {
        /// The policy file.
        file: PathBuf,
        /// How many.
        warnings: usize,
    },
    /// A template failed to render: a bug in patchplane, never the policy's fault.
    #[error(transparent)]
    Render(#[from] crate::render::RenderFailure),
    /// `generate --check` found differences (printed before this).
    #[error("{} is stale: run `patchplane generate {} --out {}`", out.display(), policy.display(), out.display())]
    Stale {
        /// The output directory.
        out: PathBuf,
        /// The policy it was generated from.
        policy: PathBuf,
    },
    /// `generate` could not write its output.
    #[error("cannot write to {}: {source}", dir.display())]
    Write {
        /// The output directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime of the AWS commands did not start.
    #[cfg(feature = "aws")]
    #[error("cannot start the runtime: {source}")]
    Runtime {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `stackset.json` could not be read.
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Request(#[from] crate::rollout::RequestError),
    /// `plan`, `rollout` or `status` stopped.
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Rollout(#[from] crate::rollout::Error),
    /// `rollout` without `--yes` and without a terminal to ask on.
    #[cfg(feature = "aws")]
    #[error("{pending} change(s) pending; pass --yes to apply them without a terminal")]
    NoTerminal {
        /// Changes pending.
        pending: usize,
    },
    /// The operator did not type `yes`.
    #[cfg(feature = "aws")]
    #[error("nothing applied")]
    Declined,
    /// `bridge-config` has no configuration to start from, or its `--base` is invalid.
    #[error("bridge-config: {0}")]
    BridgeConfig(String),
    /// `report` failed.
    #[cfg(feature = "aws")]
    #[error("report: {0}")]
    Report(#[from] report::ReportError),
    /// `hybrid activate` failed.
    #[cfg(feature = "aws")]
    #[error("hybrid activate: {0}")]
    Hybrid(#[from] hybrid::HybridError),
    /// `patch-now` failed.
    #[cfg(feature = "aws")]
    #[error("patch-now: {0}")]
    PatchNow(#[from] patch_now::PatchNowError),
}

/// `--format`. (The values have no doc comments: clap would print them in `--help`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// The AWS commands' SDK configuration: the environment's, with `endpoint_url` when given.
#[cfg(feature = "aws")]
async fn sdk_config(endpoint_url: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::from_env();
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// S3 with path-style addressing, which every endpoint accepts (moto and private ones included).
#[cfg(feature = "aws")]
fn s3_client(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(conf).force_path_style(true).build())
}

/// [`load`], and with `strict` a policy with warnings fails too (`--strict`: a pipeline that
/// wants an expired exception, or one about to expire, to stop the release).
pub fn load_strict(policy: &Path, strict: bool) -> Result<Loaded, CommandError> {
    let l = load(policy)?;
    if strict && !l.warnings.is_empty() {
        return Err(CommandError::Strict {
            file: policy.to_path_buf(),
            warnings: l.warnings.len(),
        });
    }
    Ok(l)
}

/// Loads the policy, printing its warnings, or every problem when it is invalid.
pub fn load(policy: &Path) -> Result<Loaded, CommandError> {
    loaded(policy, load_file(policy))
}

/// [`load`] of policy text held in the environment variable `var` (the scheduled report's task
/// gets its policy that way: the image has no policy file); errors name `$VAR`.
pub fn load_env(var: &str) -> Result<Loaded, CommandError> {
    let name = PathBuf::from(format!("${var}"));
    let text = std::env::var(var).map_err(|_| {
        CommandError::Load(LoadError::Io {
            file: name.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "environment variable not set"),
        })
    })?;
    loaded(&name, load_packed(&text, &name))
}

/// Policy text, or the scheduled report's packing of a policy and its team files
/// (`{"policy": …, "teams": {team: …}}`, [`crate::model::ReportPlan::policy_json`]).
pub fn load_packed(text: &str, name: &Path) -> Result<Loaded, LoadError> {
    #[derive(serde::Deserialize)]
    struct Packed {
        policy: serde_json::Value,
        #[serde(default)]
        teams: std::collections::BTreeMap<String, serde_json::Value>,
    }
    match serde_json::from_str::<Packed>(text) {
        Ok(p) => {
            let teams: Vec<(PathBuf, String)> = p
                .teams
                .iter()
                .map(|(team, t)| (PathBuf::from(format!("teams/{team}.yaml")), t.to_string()))
                .collect();
            crate::load_with_teams(&p.policy.to_string(), name, &teams)
        }
        Err(_) => crate::load_str(text, name),
    }
}

fn loaded(policy: &Path, result: Result<Loaded, LoadError>) -> Result<Loaded, CommandError> {
    match result {
        Ok(l) => {
            print_diagnostics(&l.warnings);
            Ok(l)
        }
        Err(LoadError::Invalid(diags)) => {
            print_diagnostics(&diags);
            Err(CommandError::Invalid {
                file: policy.to_path_buf(),
                errors: diags.iter().filter(|d| d.severity == Severity::Error).count(),
            })
        }
        Err(e) => Err(e.into()),
    }
}
