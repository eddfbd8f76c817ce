//! `patchplane schedule`: the next openings of every window per region ([`crate::schedule`]).

use std::path::PathBuf;

use super::{CommandError, Exit, load};
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
    pub format: ScheduleFormat,
}

/// `--format` of `schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleFormat {
    /// A table, then the exceptions in force.
    Human,
    /// JSON rows.
    Json,
    /// An RFC 5545 iCalendar feed, one event per opening.
    Ics,
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
            ScheduleFormat::Human => {
                print!("{}", schedule::table(&rows));
                let today = crate::validate::today();
                let held: Vec<_> = l.policy.exceptions.iter().filter(|e| e.holds_on(today)).collect();
                if !held.is_empty() {
                    println!("\nExceptions in force on {today}:");
                    for e in held {
                        let mut what: Vec<String> = e.nodes.clone();
                        what.extend(e.tags.iter().map(|(k, v)| format!("tag {k}={v}")));
                        what.extend(e.patches.iter().map(|p| format!("patch {p}")));
                        // `holds_on` honours the start, so a start shown here is today or earlier.
                        let from = e.starts.as_ref().map(|s| format!(" from {s}")).unwrap_or_default();
                        println!(
                            "  {}{from} until {}: {} ({}; {}, approved by {})",
                            e.id,
                            e.expires,
                            what.join(", "),
                            e.reason,
                            e.ticket,
                            e.approver
                        );
                    }
                }
            }
            ScheduleFormat::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
            ScheduleFormat::Ics => print!("{}", schedule::ics(&l.policy.name, &rows, from)),
        }
        Ok(Exit::Success)
    }
}
