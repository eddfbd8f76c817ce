//! Loading a policy file: read, deserialize through `serde_path_to_error`, validate, locate every
//! finding in the file. Nothing here panics on input; every failure is a [`Diagnostic`].

use std::path::{Path, PathBuf};

pub use crate::diag::parse_yaml;
use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::Plan;
use crate::policy::Policy;
use crate::validate::validate;

/// A policy that parsed and passed validation, with its warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The policy.
    pub policy: Policy,
    /// The resolved plan.
    pub plan: Plan,
    /// Warnings (errors would have failed the load).
    pub warnings: Vec<Diagnostic>,
}

/// Why a policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: cannot read the policy: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Structural or semantic problems, every one of them (warnings included).
    #[error("{} problem(s) in {}", .0.iter().filter(|d| d.severity == Severity::Error).count(), .0.first().map(|d| d.file.display().to_string()).unwrap_or_default())]
    Invalid(Vec<Diagnostic>),
}

/// Reads and loads `file`; with `self_service:`, also the team files in `teams/` beside it.
pub fn load_file(file: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|source| LoadError::Io {
        file: file.to_path_buf(),
        source,
    })?;
    load_inner(&text, file, Teams::Beside)
}

/// Loads policy text; `file` names it in diagnostics. No team files.
pub fn load_str(text: &str, file: &Path) -> Result<Loaded, LoadError> {
    load_inner(text, file, Teams::Given(&[]))
}

/// Loads policy text and team files (`(file, text)`); each problem names its own file.
pub fn load_with_teams(text: &str, file: &Path, teams: &[(PathBuf, String)]) -> Result<Loaded, LoadError> {
    load_inner(text, file, Teams::Given(teams))
}

/// Where team files come from.
enum Teams<'a> {
    /// `teams/*.yaml` beside the policy file, read when the policy has `self_service:`.
    Beside,
    /// These.
    Given(&'a [(PathBuf, String)]),
}

fn load_inner(text: &str, file: &Path, teams: Teams) -> Result<Loaded, LoadError> {
    let mut policy: Policy = parse_yaml(text, file).map_err(|mut d| {
        // `central.bridge.config` holds the bridge's secrets references: never echo a literal.
        crate::bridge_config::hide_secret(&mut d);
        LoadError::Invalid(vec![d])
    })?;
    let read;
    let teams = match teams {
        Teams::Given(t) => t,
        Teams::Beside if policy.self_service.is_some() => {
            read = crate::teams::read_dir(file).map_err(|d| LoadError::Invalid(vec![d]))?;
            &read[..]
        }
        Teams::Beside => &[][..],
    };
    let (team_list, team_findings) = crate::teams::load(&policy, teams);
    policy.teams = team_list;
    // Indexing every key's line is a second YAML parse: done only when there is a finding to place.
    let index = std::cell::OnceCell::new();
    let index = || index.get_or_init(|| LineIndex::new(text));
    let mut findings: Vec<Diagnostic> = validate(&policy).into_iter().map(|f| f.locate(file, index())).collect();
    findings.extend(team_findings);
    if findings.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError::Invalid(findings));
    }
    match Plan::build(&policy) {
        Ok(plan) => {
            let mut warnings = findings;
            warnings.extend(
                crate::validate::sla_feasibility(&policy, &plan)
                    .into_iter()
                    .map(|f| f.locate(file, index())),
            );
            Ok(Loaded { policy, plan, warnings })
        }
        // Validation resolves every schedule first, so this is a bug, reported rather than panicked.
        Err(e) => Err(LoadError::Invalid(vec![Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: None,
            path: e.key,
            message: e.message,
        }])),
    }
}
