//! `patchplane schedule`: the next openings of every window per region ([`crate::schedule`]).

use std::path::PathBuf;

use super::{CommandError, Exit, Format, load};
use crate::schedule;

/// Arguments of `patchplane schedule`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The policy file.
    pub policy: PathBuf,
    /// First day (YYYY-MM-DD, local midnight in each region); default today (UTC).
    #[arg(long)]
    pub from: Option<jiff::civil::Date>,
    /// Openings per window and region.
    #[arg(long, default_value_t = 3)]
    pub count: usize,
    // Output format; no doc comment, which clap would print as the option's help.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

impl Args {
    /// Prints the preview as a table or as JSON.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let l = load(&self.policy)?;
        let from = self
            .from
            .unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date());
        let rows = schedule::preview(&l.plan, from, self.count);
        match self.format {
            Format::Human => print!("{}", schedule::table(&rows)),
            Format::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
        }
        Ok(Exit::Success)
    }
}
