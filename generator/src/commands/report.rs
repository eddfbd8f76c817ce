//! `patchplane report`: the monthly SOC2 patch-compliance report ([`crate::report`]) from the
//! evidence bucket's resource data sync, as three CSV files.

use std::path::PathBuf;

use super::{CommandError, Exit, load, s3_client, sdk_config};
use crate::report;

/// Arguments of `patchplane report`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Evidence bucket.
    #[arg(long)]
    pub bucket: String,
    /// Prefix of the resource data sync objects.
    #[arg(long, default_value = "resource-data-sync")]
    pub prefix: String,
    /// Month reported on, YYYY-MM; the SLA is judged at its end (or now, if earlier).
    #[arg(long)]
    pub month: String,
    /// Node CSV; the summary and the overdue list go beside it (`.summary.csv`, `.overdue.csv`).
    #[arg(long, default_value = "report.csv")]
    pub out: PathBuf,
    /// Take `evidence.sla_days` from this policy.
    #[arg(long, conflicts_with = "sla_days")]
    pub policy: Option<PathBuf>,
    /// Days a node may stay non-compliant (default 14).
    #[arg(long)]
    pub sla_days: Option<i64>,
    /// AWS endpoint (tests, private endpoints); `AWS_ENDPOINT_URL` works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `--month` is not a month.
    #[error("{message}")]
    Month {
        /// What is wrong.
        message: String,
    },
    /// The async runtime did not start.
    #[error("cannot start the runtime: {source}")]
    Runtime {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bucket could not be listed or read.
    #[error("{message}")]
    Collect {
        /// What failed.
        message: String,
    },
    /// A CSV file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Args {
    /// Reads the bucket, writes the node, summary and overdue CSV files, prints a summary line;
    /// objects that cannot be used are skipped with a warning each.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let sla_days = match &self.policy {
            Some(p) => load(p)?.policy.evidence.sla_days,
            None => self.sla_days.unwrap_or(14),
        };
        let month = &self.month;
        let cutoff = report::cutoff(month, jiff::Timestamp::now()).map_err(|message| ReportError::Month { message })?;
        let runtime = tokio::runtime::Runtime::new().map_err(|source| ReportError::Runtime { source })?;
        let collected = runtime
            .block_on(async {
                let conf = sdk_config(self.endpoint_url.clone()).await;
                report::s3::collect(&s3_client(&conf), &self.bucket, &self.prefix).await
            })
            .map_err(|message| ReportError::Collect { message })?;
        let r = report::build(collected, month, sla_days, cutoff);
        for p in &r.problems {
            eprintln!("warning: skipped s3://{}/{}: {}", self.bucket, p.key, p.reason);
        }
        let sibling = |suffix: &str| self.out.with_extension(suffix);
        for (path, body) in [
            (self.out.clone(), r.nodes_csv()),
            (sibling("summary.csv"), r.summary_csv()),
            (sibling("overdue.csv"), r.overdue_csv()),
        ] {
            std::fs::write(&path, body).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            println!("wrote {}", path.display());
        }
        let compliant = r.nodes.iter().filter(|n| n.compliant()).count();
        println!(
            "{month}: {} nodes, {compliant} compliant, {} non-compliant past the {}-day SLA, {} object(s) skipped",
            r.nodes.len(),
            r.overdue().len(),
            sla_days,
            r.problems.len()
        );
        Ok(Exit::Success)
    }
}
