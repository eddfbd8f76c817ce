//! `patchplane report`: the monthly SOC2 patch-compliance report ([`crate::report`]) from the
//! evidence bucket's resource data sync as of a month's end: six CSV files and a dashboard.

use std::path::PathBuf;

use super::{CommandError, Exit, load, load_env, s3_client, sdk_config};
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
    /// Month reported on, YYYY-MM, or `previous` (the month before today, UTC; what the scheduled
    /// run uses); the SLA is judged at its end (or now, if earlier).
    #[arg(long)]
    pub month: String,
    /// Node CSV; the summary and the overdue list go beside it (`.summary.csv`, `.overdue.csv`).
    #[arg(long, default_value = "report.csv")]
    pub out: PathBuf,
    /// Take `evidence.sla_days`, the exceptions and the targeted patch groups from this policy.
    #[arg(long, conflicts_with = "sla_days")]
    pub policy: Option<PathBuf>,
    /// The same, from the policy text in this environment variable (the scheduled task's way).
    #[arg(long, conflicts_with_all = ["sla_days", "policy"])]
    pub policy_env: Option<String>,
    /// Tries before giving up (each after a longer wait): the scheduled run retries a failed run
    /// itself, and its task stops with a failure only after the last.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub attempts: u32,
    /// Days a critical or security patch may stay missing (default 14), without `--policy`.
    #[arg(long)]
    pub sla_days: Option<i64>,
    /// Prefix of Run Command output in the evidence bucket (followed by account and region).
    #[arg(long, default_value = "run-command")]
    pub output_prefix: String,
    /// Months before `--month` the dashboard's trend shows.
    #[arg(long, default_value_t = 12)]
    pub trend_months: usize,
    /// AWS endpoint (tests, private endpoints); `AWS_ENDPOINT_URL` works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Also write the three files to the evidence bucket under `reports/YYYY-MM/`.
    #[arg(long)]
    pub publish: bool,
    /// Tell an SNS topic where the published report is.
    #[arg(long, requires = "publish")]
    pub notify_topic: Option<String>,
    /// The same, with the topic's ARN in this environment variable (the scheduled task's way).
    #[arg(long, requires = "publish", conflicts_with = "notify_topic")]
    pub notify_topic_env: Option<String>,
    /// Tell a Slack or Teams webhook where the published report is; the URL is read from this
    /// environment variable (a webhook URL is a credential: never on a command line).
    #[arg(long, requires = "publish")]
    pub notify_webhook_env: Option<String>,
    /// What the webhook is.
    #[arg(long, value_enum, default_value = "slack")]
    pub notify_webhook_kind: WebhookKind,
}

/// A webhook's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WebhookKind {
    /// A Slack incoming webhook.
    Slack,
    /// A Microsoft Teams Workflows webhook.
    Teams,
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
    /// No region in the environment or the AWS profile: S3 cannot be addressed (the SDK would
    /// only say so as a "dispatch failure" of the first request).
    #[error("no AWS region to read s3://{bucket} from; set AWS_REGION (or `region` in the AWS profile)")]
    NoRegion {
        /// The evidence bucket.
        bucket: String,
    },
    /// The bucket could not be listed or read.
    #[error("{message}")]
    Collect {
        /// What failed.
        message: String,
    },
    /// The report could not be published or announced.
    #[error("{message}")]
    Publish {
        /// What failed, with its cause.
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

/// The month `--month` names: itself, or for `previous` the month before `today`.
pub fn month_of(arg: &str, today: jiff::civil::Date) -> String {
    if arg == "previous" {
        let first = today.first_of_month();
        let last = first.yesterday().unwrap_or(first);
        format!("{:04}-{:02}", last.year(), last.month())
    } else {
        arg.to_owned()
    }
}

/// Today, UTC (`PATCHPLANE_TODAY=YYYY-MM-DD` sets it, as for `validate`).
fn today() -> jiff::civil::Date {
    std::env::var("PATCHPLANE_TODAY")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Worth another try: reading or publishing failed (the network, throttling, an outage), not the
/// command line or the policy.
fn retryable(e: &CommandError) -> bool {
    matches!(
        e,
        CommandError::Report(ReportError::Collect { .. } | ReportError::Publish { .. })
    )
}

impl Args {
    /// One run of the report, up to `--attempts` times, 30 s, then 2, 8 and 30 minutes apart.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let month = month_of(&self.month, today());
        let waits = [30, 120, 480, 1800];
        let mut attempt = 1;
        loop {
            match self.run_once(&month) {
                Err(e) if attempt < self.attempts && retryable(&e) => {
                    let wait = waits[(attempt as usize - 1).min(waits.len() - 1)];
                    eprintln!(
                        "report {month}: attempt {attempt} of {} failed: {e}; again in {wait} s",
                        self.attempts
                    );
                    std::thread::sleep(std::time::Duration::from_secs(wait));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Reconstructs the month from the bucket's versions, writes the CSV files and the dashboard,
    /// prints a summary line; objects that cannot be used are skipped with a warning each.
    fn run_once(&self, month: &str) -> Result<Exit, CommandError> {
        let policy = match (&self.policy, &self.policy_env) {
            (Some(p), _) => Some(load(p)?),
            (None, Some(var)) => Some(load_env(var)?),
            (None, None) => None,
        };
        let sla = match (&policy, self.sla_days) {
            (Some(l), _) => l.policy.evidence.sla_days.clone(),
            (None, d) => crate::bridge_config::SlaDays::All(u32::try_from(d.unwrap_or(14)).unwrap_or(14)),
        };
        let month = &month.to_owned();
        let cutoff = report::cutoff(month, jiff::Timestamp::now()).map_err(|message| ReportError::Month { message })?;
        let month_start = report::month_start(month).map_err(|message| ReportError::Month { message })?;
        let options = report::Options {
            month: month.clone(),
            cutoff,
            sla,
            exceptions: policy.as_ref().map(|l| l.policy.exceptions.clone()).unwrap_or_default(),
            targeted: policy.as_ref().map(|l| {
                l.plan
                    .windows
                    .iter()
                    .filter(|w| w.kind == crate::model::WindowKind::Install)
                    .flat_map(|w| w.targets.iter().flat_map(|t| t.values.iter().cloned()))
                    .collect()
            }),
        };
        let everywhere = policy
            .as_ref()
            .map(|l| crate::exception::everywhere(&l.policy.exceptions))
            .unwrap_or_default();
        let runtime = tokio::runtime::Runtime::new().map_err(|source| ReportError::Runtime { source })?;
        let conf = runtime.block_on(sdk_config(self.endpoint_url.clone()));
        // Checked here, before any request, so the operator reads what to set rather than the
        // SDK's endpoint-resolution failure.
        if conf.region().is_none() {
            return Err(ReportError::NoRegion {
                bucket: self.bucket.clone(),
            }
            .into());
        }
        let (r, requests) = runtime
            .block_on(async {
                let bucket = report::s3::Bucket::new(s3_client(&conf), &self.bucket, &self.prefix)
                    .with_endpoint(conf.endpoint_url());
                let bucket = std::sync::Arc::new(bucket);
                let listing = bucket.list().await?;
                let (walks, stray) = report::walks(&self.prefix, listing.clone(), cutoff, &everywhere);
                let mut snapshot = bucket.run(walks).await;
                snapshot.problems.extend(stray);
                let mut r = report::build(snapshot, options);
                r.trend = bucket
                    .trend(&listing, &report::months_before(month, self.trend_months))
                    .await;
                // Installs of the month that left no command output: one listing per account and
                // region with such installs, not one per node.
                let installs = report::output::installs(&r.nodes, month_start, cutoff);
                let mut places: std::collections::BTreeMap<(&str, &str), Vec<&report::output::Install>> =
                    Default::default();
                for i in &installs {
                    places.entry((&i.account, &i.region)).or_default().push(i);
                }
                for ((account, region), installs) in places {
                    let objects = bucket
                        .output_objects(&report::output::output_prefix(&self.output_prefix, account, region))
                        .await?;
                    r.missing_output.extend(report::output::missing(installs, &objects));
                }
                let req = &bucket.requests;
                let counts = (
                    req.list.load(std::sync::atomic::Ordering::Relaxed),
                    req.get.load(std::sync::atomic::Ordering::Relaxed),
                );
                Ok::<_, String>((r, counts))
            })
            .map_err(|message| ReportError::Collect { message })?;
        for p in &r.problems {
            eprintln!("warning: skipped s3://{}/{}: {}", self.bucket, p.key, p.reason);
        }
        let sibling = |suffix: &str| self.out.with_extension(suffix);
        let files = [
            (self.out.clone(), "report.csv", r.nodes_csv()),
            (sibling("summary.csv"), "summary.csv", r.summary_csv()),
            (sibling("overdue.csv"), "overdue.csv", r.overdue_csv()),
            (sibling("uncovered.csv"), "uncovered.csv", r.uncovered_csv()),
            (sibling("exceptions.csv"), "exceptions.csv", r.exceptions_csv()),
            (
                sibling("missing-output.csv"),
                "missing-output.csv",
                r.missing_output_csv(),
            ),
            (
                self.out.with_file_name(format!("{month}.html")),
                "dashboard.html",
                report::html::render(&r),
            ),
        ];
        for (path, _, body) in &files {
            std::fs::write(path, body).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            println!("wrote {}", path.display());
        }
        if self.publish {
            let published = runtime.block_on(self.publish(month, &files, &r))?;
            for uri in &published {
                println!("published {uri}");
            }
        }
        for e in &r.exceptions {
            println!(
                "exception {} in force until {}: {} ({}, approved by {})",
                e.id, e.expires, e.reason, e.ticket, e.approver
            );
        }
        let compliant = r.nodes.iter().filter(|n| n.compliant()).count();
        println!(
            "{month} as of {cutoff}: {} nodes, {compliant} compliant, {} overdue, {} excepted, {} not covered, {} without command output, {} object(s) skipped; {} list and {} get request(s)",
            r.nodes.len(),
            r.overdue().len(),
            r.nodes.iter().filter(|n| n.exception.is_some()).count(),
            r.uncovered().len(),
            r.missing_output.len(),
            r.problems.len(),
            requests.0,
            requests.1,
        );
        Ok(Exit::Success)
    }

    /// Puts the files under `reports/YYYY-MM/` and announces them; returns their `s3://` URIs.
    async fn publish(
        &self,
        month: &str,
        files: &[(PathBuf, &str, String)],
        r: &report::Report,
    ) -> Result<Vec<String>, ReportError> {
        use patchplane_integrations::notify::{
            Digest, Item, Link, Notifier, SlackNotifier, SnsNotifier, TeamsNotifier, Topics, WebhookConfig, WebhookUrl,
            aws_sdk_sns,
        };
        let fail = |message: String| ReportError::Publish { message };
        let conf = sdk_config(self.endpoint_url.clone()).await;
        let s3 = s3_client(&conf);
        let mut uris = Vec::new();
        let mut overwritten = 0;
        for (_, name, body) in files {
            let key = format!("reports/{month}/{name}");
            // A re-run of a month replaces its objects; the versioned bucket keeps the earlier ones.
            if s3.head_object().bucket(&self.bucket).key(&key).send().await.is_ok() {
                overwritten += 1;
            }
            let kind = if name.ends_with(".html") {
                "text/html; charset=utf-8"
            } else {
                "text/csv"
            };
            s3.put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type(kind)
                .body(body.clone().into_bytes().into())
                .send()
                .await
                .map_err(|e| {
                    fail(patchplane_integrations::aws_error::describe(
                        &format!("cannot put s3://{}/{key}", self.bucket),
                        conf.endpoint_url(),
                        &e,
                    ))
                })?;
            uris.push(format!("s3://{}/{key}", self.bucket));
        }
        if overwritten > 0 {
            println!(
                "{month} was published before: overwrote {overwritten} object(s) under s3://{}/reports/{month}/ (the bucket keeps their earlier versions)",
                self.bucket
            );
        }
        // A link to the page that works without console access, for a week at most (SigV4's
        // limit), and never longer than the credentials that signed it (a task role's: hours).
        let page = format!("reports/{month}/dashboard.html");
        let week = std::time::Duration::from_secs(7 * 24 * 3600);
        let presigned = aws_sdk_s3::presigning::PresigningConfig::expires_in(week)
            .map_err(|e| fail(format!("cannot presign s3://{}/{page}: {e}", self.bucket)))?;
        let link = s3
            .get_object()
            .bucket(&self.bucket)
            .key(&page)
            .presigned(presigned)
            .await
            .map_err(|e| fail(format!("cannot presign s3://{}/{page}: {e}", self.bucket)))?;
        let until = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(7 * 24 * 3600))
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let compliant = r.nodes.iter().filter(|n| n.compliant()).count();
        let region = conf
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let digest = Digest {
            owner: "operations".into(),
            title: format!("Patch compliance report {month}"),
            summary: format!(
                "{} nodes, {compliant} compliant, {} past the SLA. Files in s3://{}/reports/{month}/",
                r.nodes.len(),
                r.overdue().len(),
                self.bucket,
            ),
            items: uris
                .iter()
                .map(|u| Item {
                    name: u.rsplit('/').next().unwrap_or_default().to_owned(),
                    status: "published".into(),
                    detail: u.clone(),
                    url: None,
                })
                .collect(),
            links: vec![
                Link {
                    label: format!("Open the report (link expires {until} at the latest)"),
                    url: link.uri().to_owned(),
                },
                Link {
                    label: "Open in the S3 console".into(),
                    url: format!(
                        "https://{region}.console.aws.amazon.com/s3/buckets/{}?prefix=reports/{month}/",
                        self.bucket
                    ),
                },
            ],
            idempotency_key: format!("patchplane:report:{}:{month}", self.bucket),
        };
        let topic = match (&self.notify_topic, &self.notify_topic_env) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(var)) => Some(
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| fail(format!("--notify-topic-env: environment variable {var} is not set")))?,
            ),
            (None, None) => None,
        };
        if let Some(topic) = &topic {
            let sns = SnsNotifier::new(
                aws_sdk_sns::Client::new(&conf),
                Topics::new(topic.clone(), Default::default()),
            );
            sns.send(&digest)
                .await
                .map_err(|e| fail(format!("cannot notify {topic}: {e}")))?;
            println!("notified {topic}");
        }
        if let Some(var) = &self.notify_webhook_env {
            let url = std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| fail(format!("--notify-webhook-env: environment variable {var} is not set")))?;
            let hook = WebhookConfig::new("report", WebhookUrl::new(url));
            let n: Box<dyn Notifier> = match self.notify_webhook_kind {
                WebhookKind::Slack => Box::new(SlackNotifier::new(hook).map_err(|e| fail(e.to_string()))?),
                WebhookKind::Teams => Box::new(TeamsNotifier::new(hook).map_err(|e| fail(e.to_string()))?),
            };
            n.send(&digest)
                .await
                .map_err(|e| fail(format!("cannot notify the webhook: {e}")))?;
            println!("notified the {:?} webhook in ${var}", self.notify_webhook_kind);
        }
        Ok(uris)
    }
}
