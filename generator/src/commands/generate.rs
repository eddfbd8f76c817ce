//! `patchplane generate`: render the StackSets into a folder, or `--check` that it is up to date.

use std::path::PathBuf;

use super::{CommandError, Exit, load_strict};
use crate::{output, render};

/// Arguments of `patchplane generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The policy file.
    pub policy: PathBuf,
    /// Output directory, e.g. stacksets/acme.
    #[arg(long)]
    pub out: PathBuf,
    /// Write nothing; exit 1 and print a diff when DIR differs from what the policy renders.
    #[arg(long)]
    pub check: bool,
    /// Fail (exit 1), writing nothing, when the policy has warnings (an expired exception, one
    /// about to expire), as `validate --strict` does.
    #[arg(long)]
    pub strict: bool,
}

impl Args {
    /// Renders, then writes the files that changed or, with `--check`, prints every difference.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let l = load_strict(&self.policy, self.strict)?;
        let rendered = render::render(&l.plan)?;
        for note in &rendered.notes {
            eprintln!("warning: {note}");
        }
        if self.check {
            let drifts = output::check(&self.out, &rendered);
            if drifts.is_empty() {
                println!("{} is up to date with {}", self.out.display(), self.policy.display());
                return Ok(Exit::Success);
            }
            for d in &drifts {
                println!("{d}");
            }
            return Err(CommandError::Stale {
                out: self.out.clone(),
                policy: self.policy.clone(),
            });
        }
        let written = output::write(&self.out, &rendered).map_err(|source| CommandError::Write {
            dir: self.out.clone(),
            source,
        })?;
        for f in &rendered.files {
            let path = self.out.join(&f.path);
            let state = if written.contains(&path) { "wrote" } else { "unchanged" };
            println!("{state} {} ({} bytes)", path.display(), f.contents.len());
        }
        Ok(Exit::Success)
    }
}
