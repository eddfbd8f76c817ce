//! `patchplane validate`: every problem of a policy with file, line and key path, or a summary.

use std::path::PathBuf;

use super::{CommandError, Exit, Format, load_strict};
use crate::diag::{Diagnostic, Severity};
use crate::{LoadError, load_file};

/// Arguments of `patchplane validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The policy file.
    pub policy: PathBuf,
    // Output format; no doc comment, which clap would print as the option's help.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Fail (exit 1) on warnings too: an expired exception, one about to expire.
    #[arg(long)]
    pub strict: bool,
}

impl Args {
    /// Validates; as JSON, an invalid policy is a document with `"valid": false` and exit 1 (with
    /// `--strict`, so is a policy with warnings: the same document, its warnings listed).
    pub fn run(&self) -> Result<Exit, CommandError> {
        match self.format {
            Format::Human => {
                let l = load_strict(&self.policy, self.strict)?;
                println!(
                    "{}: valid: {} baselines, {} rings, {} regions, {} maintenance windows per region",
                    self.policy.display(),
                    l.policy.baselines.len(),
                    l.policy.rings.len(),
                    l.policy.organization.regions.len(),
                    l.plan.windows.len()
                );
                Ok(Exit::Success)
            }
            Format::Json => {
                let (ok, diags) = match load_file(&self.policy) {
                    Ok(l) => (!self.strict || l.warnings.is_empty(), l.warnings),
                    Err(LoadError::Invalid(d)) => (false, d),
                    Err(e) => {
                        let d = Diagnostic {
                            severity: Severity::Error,
                            file: self.policy.clone(),
                            line: None,
                            path: String::new(),
                            message: e.to_string(),
                        };
                        (false, vec![d])
                    }
                };
                let doc = serde_json::json!({ "file": self.policy, "valid": ok, "diagnostics": diags });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                Ok(if ok { Exit::Success } else { Exit::Failure })
            }
        }
    }
}
