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
                print!("{}", golden_images(&l.plan));
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

/// What happens to each golden image after its build (`ami_pipeline`): where it is distributed,
/// the parameter recording it, the launch templates it becomes the default of, and the ring
/// windows that refresh its Auto Scaling groups. Empty without images.
pub fn golden_images(plan: &crate::model::Plan) -> String {
    let Some(ami) = &plan.ami else {
        return String::new();
    };
    let mut out = String::from("\nGolden images:\n");
    for img in &ami.images {
        let build_regions: Vec<&str> = ami.regions.iter().map(|r| r.region.as_str()).collect();
        out.push_str(&format!(
            "  {}: built in {} ({}, window {}); recorded in {}\n",
            img.name,
            build_regions.join(", "),
            img.patch_group,
            img.window.name,
            img.parameter
        ));
        let mut regions: Vec<String> = vec!["the building region".to_owned()];
        regions.extend(img.distributions.iter().filter_map(|d| d.region.clone()));
        let accounts = img
            .distributions
            .first()
            .map(|d| d.target_accounts.join(", "))
            .unwrap_or_default();
        out.push_str(&format!(
            "    distributed to {} in {}\n",
            if accounts.is_empty() {
                "the building account only".to_owned()
            } else {
                format!("the building account and {accounts}")
            },
            regions.join(", ")
        ));
        for d in &img.distributions {
            for lt in &d.launch_templates {
                out.push_str(&format!(
                    "    launch template {} ({} {}) gets it as its default version\n",
                    lt.id, lt.account, lt.region
                ));
            }
        }
        for w in &plan.windows {
            for r in w.refresh.iter().filter(|r| r.image == img.name) {
                out.push_str(&format!(
                    "    refreshed in window {} (ring {}) {}: Auto Scaling groups tagged patchplane:image={}, patchplane:ring={}, at least {}% healthy\n",
                    w.name,
                    w.ring.as_deref().unwrap_or("?"),
                    if w.gate.is_some() { "once its gate opens" } else { "after its install" },
                    img.name,
                    w.ring.as_deref().unwrap_or("?"),
                    r.min_healthy_percentage
                ));
            }
        }
    }
    out
}
