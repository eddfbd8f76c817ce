//! `patchplane`: the command line. Parses arguments, calls the library, prints, sets the exit code.
//! Exit codes: 0 success, 1 invalid policy / stale output / failure, 2 usage error (clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use patchplane::diag::{Diagnostic, Severity};
use patchplane::{LoadError, Loaded, load_file, output, render, schedule};

#[derive(Parser)]
#[command(
    name = "patchplane",
    version,
    about = "AWS Systems Manager patch management for a whole AWS Organization, as code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy; every problem is printed with file, line and key path.
    Validate {
        /// The policy file.
        policy: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Render the StackSets (template.yaml + stackset.json per StackSet) into DIR.
    Generate {
        /// The policy file.
        policy: PathBuf,
        /// Output directory, e.g. stacksets/acme.
        #[arg(long)]
        out: PathBuf,
        /// Write nothing; exit 1 and print a diff when DIR differs from what the policy renders.
        #[arg(long)]
        check: bool,
    },
    /// Preview the next openings of every window per region, in local time and UTC.
    Schedule {
        /// The policy file.
        policy: PathBuf,
        /// First day (YYYY-MM-DD, local midnight in each region); default today (UTC).
        #[arg(long)]
        from: Option<jiff::civil::Date>,
        /// Openings per window and region.
        #[arg(long, default_value_t = 3)]
        count: usize,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Compare the generated StackSets in DIR with what is deployed. Exit 0 nothing to do, 2 changes
    /// pending, 1 error.
    #[cfg(feature = "aws")]
    Plan {
        /// Output of `generate` (e.g. stacksets/acme).
        dir: PathBuf,
        /// AWS endpoint (tests, private endpoints); `AWS_ENDPOINT_URL` works too.
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// Create or update the StackSets in DIR and their instances in every target OU and region.
    #[cfg(feature = "aws")]
    Rollout {
        /// Output of `generate`.
        dir: PathBuf,
        /// Apply without asking.
        #[arg(long)]
        yes: bool,
        /// Print the exact requests and change nothing.
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
        /// AWS endpoint; `AWS_ENDPOINT_URL` works too.
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Seconds between two polls of an operation.
        #[arg(long, default_value_t = 5.0)]
        poll_seconds: f64,
        /// Bucket for templates over the 51,200-byte TemplateBody limit (uploaded, then sent as
        /// TemplateURL); required when `generate` reported one.
        #[arg(long)]
        template_bucket: Option<String>,
    },
    /// The stack instances of the StackSets in DIR: account, region, status, drift, last operation.
    #[cfg(feature = "aws")]
    Status {
        /// Output of `generate`.
        dir: PathBuf,
        /// AWS endpoint; `AWS_ENDPOINT_URL` works too.
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// Write the monthly SOC2 patch-compliance report from the evidence bucket's resource data sync.
    #[cfg(feature = "aws")]
    Report {
        /// Evidence bucket.
        #[arg(long)]
        bucket: String,
        /// Prefix of the resource data sync objects.
        #[arg(long, default_value = "resource-data-sync")]
        prefix: String,
        /// Month reported on, YYYY-MM; the SLA is judged at its end (or now, if earlier).
        #[arg(long)]
        month: String,
        /// Node CSV; the summary and the overdue list go beside it (`.summary.csv`, `.overdue.csv`).
        #[arg(long, default_value = "report.csv")]
        out: PathBuf,
        /// Take `evidence.sla_days` from this policy.
        #[arg(long, conflicts_with = "sla_days")]
        policy: Option<PathBuf>,
        /// Days a node may stay non-compliant (default 14).
        #[arg(long)]
        sla_days: Option<i64>,
        /// AWS endpoint (tests, private endpoints); `AWS_ENDPOINT_URL` works too.
        #[arg(long)]
        endpoint_url: Option<String>,
    },
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Loads the policy or prints why not.
fn load(policy: &std::path::Path) -> Result<Loaded, ExitCode> {
    match load_file(policy) {
        Ok(l) => {
            print_diagnostics(&l.warnings);
            Ok(l)
        }
        Err(LoadError::Invalid(diags)) => {
            print_diagnostics(&diags);
            let n = diags.iter().filter(|d| d.severity == Severity::Error).count();
            eprintln!("patchplane: {} is invalid ({n} error(s))", policy.display());
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("patchplane: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn run(cli: Cli) -> Result<(), ExitCode> {
    match cli.command {
        Command::Validate {
            policy,
            format: Format::Json,
        } => {
            let (ok, diags) = match load_file(&policy) {
                Ok(l) => (true, l.warnings),
                Err(LoadError::Invalid(d)) => (false, d),
                Err(e) => {
                    let d = Diagnostic {
                        severity: Severity::Error,
                        file: policy.clone(),
                        line: None,
                        path: String::new(),
                        message: e.to_string(),
                    };
                    (false, vec![d])
                }
            };
            let doc = serde_json::json!({ "file": policy, "valid": ok, "diagnostics": diags });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            if ok { Ok(()) } else { Err(ExitCode::FAILURE) }
        }
        Command::Validate {
            policy,
            format: Format::Human,
        } => {
            let l = load(&policy)?;
            println!(
                "{}: valid: {} baselines, {} rings, {} regions, {} maintenance windows per region",
                policy.display(),
                l.policy.baselines.len(),
                l.policy.rings.len(),
                l.policy.organization.regions.len(),
                l.plan.windows.len()
            );
            Ok(())
        }
        Command::Generate { policy, out, check } => {
            let l = load(&policy)?;
            let rendered = render::render(&l.plan).map_err(|e| {
                eprintln!("patchplane: {e}");
                ExitCode::FAILURE
            })?;
            for note in &rendered.notes {
                eprintln!("warning: {note}");
            }
            if check {
                let drifts = output::check(&out, &rendered);
                if drifts.is_empty() {
                    println!("{} is up to date with {}", out.display(), policy.display());
                    return Ok(());
                }
                for d in &drifts {
                    println!("{d}");
                }
                eprintln!(
                    "patchplane: {} is stale: run `patchplane generate {} --out {}`",
                    out.display(),
                    policy.display(),
                    out.display()
                );
                return Err(ExitCode::FAILURE);
            }
            let written = output::write(&out, &rendered).map_err(|e| {
                eprintln!("patchplane: cannot write to {}: {e}", out.display());
                ExitCode::FAILURE
            })?;
            for f in &rendered.files {
                let path = out.join(&f.path);
                let state = if written.contains(&path) { "wrote" } else { "unchanged" };
                println!("{state} {} ({} bytes)", path.display(), f.contents.len());
            }
            Ok(())
        }
        Command::Schedule {
            policy,
            from,
            count,
            format,
        } => {
            let l = load(&policy)?;
            let from = from.unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date());
            let rows = schedule::preview(&l.plan, from, count);
            match format {
                Format::Human => print!("{}", schedule::table(&rows)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
            }
            Ok(())
        }
        #[cfg(feature = "aws")]
        Command::Plan { dir, endpoint_url } => stacksets::plan(&dir, endpoint_url),
        #[cfg(feature = "aws")]
        Command::Rollout {
            dir,
            yes,
            dry_run,
            endpoint_url,
            poll_seconds,
            template_bucket,
        } => stacksets::rollout(&dir, yes, dry_run, endpoint_url, poll_seconds, template_bucket),
        #[cfg(feature = "aws")]
        Command::Status { dir, endpoint_url } => stacksets::status(&dir, endpoint_url),
        #[cfg(feature = "aws")]
        Command::Report {
            bucket,
            prefix,
            month,
            out,
            policy,
            sla_days,
            endpoint_url,
        } => {
            let sla_days = match policy {
                Some(p) => load(&p)?.policy.evidence.sla_days,
                None => sla_days.unwrap_or(14),
            };
            report(&bucket, &prefix, &month, &out, sla_days, endpoint_url).map_err(|e| {
                eprintln!("patchplane: report: {e}");
                ExitCode::FAILURE
            })
        }
    }
}

#[cfg(feature = "aws")]
mod stacksets {
    //! `plan`, `rollout`, `status`: argument handling and output around `patchplane::rollout`.

    use std::io::IsTerminal;
    use std::path::Path;
    use std::process::ExitCode;

    use patchplane::rollout::{self, Api, Change, Desired, Progress, RolloutError, Timing, aws::CloudFormation};

    fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
        tokio::runtime::Runtime::new().map_err(|e| {
            eprintln!("patchplane: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
    }

    async fn config(endpoint_url: Option<String>) -> aws_config::SdkConfig {
        let mut loader = aws_config::from_env();
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }

    async fn client(endpoint_url: Option<String>) -> CloudFormation {
        CloudFormation::new(aws_sdk_cloudformation::Client::new(&config(endpoint_url).await))
    }

    fn read(dir: &Path) -> Result<Vec<Desired>, ExitCode> {
        Desired::read_dir(dir).map_err(|e| {
            eprintln!("patchplane: {e}");
            ExitCode::FAILURE
        })
    }

    async fn plans(api: &CloudFormation, desired: &[Desired]) -> Result<Vec<Vec<Change>>, ExitCode> {
        let mut out = Vec::new();
        for d in desired {
            let deployed = api.describe(d).await.map_err(|e| {
                eprintln!("patchplane: {}: DescribeStackSet failed: {e}", d.name);
                ExitCode::FAILURE
            })?;
            out.push(rollout::plan(d, deployed.as_ref()));
        }
        Ok(out)
    }

    fn print_plan(desired: &[Desired], plans: &[Vec<Change>]) -> usize {
        let mut pending = 0;
        for (d, changes) in desired.iter().zip(plans) {
            if changes.is_empty() {
                println!("{}: up to date", d.name);
            }
            for c in changes {
                println!("{}: {c}", d.name);
                pending += 1;
            }
        }
        pending
    }

    pub fn plan(dir: &Path, endpoint_url: Option<String>) -> Result<(), ExitCode> {
        let desired = read(dir)?;
        runtime()?.block_on(async {
            let api = client(endpoint_url).await;
            let plans = plans(&api, &desired).await?;
            if print_plan(&desired, &plans) > 0 {
                Err(ExitCode::from(2))
            } else {
                Ok(())
            }
        })
    }

    /// Spinner per step on a terminal; plain lines otherwise (CI logs).
    struct Bars {
        bar: indicatif::ProgressBar,
        tty: bool,
    }

    impl Progress for Bars {
        fn start(&self, stack_set: &str, what: &str) {
            self.bar.reset();
            self.bar.set_message(format!("{stack_set}: {what}"));
            if !self.tty {
                eprintln!("{stack_set}: {what}");
            }
        }
        fn status(&self, stack_set: &str, status: &str) {
            self.bar.set_message(format!("{stack_set}: {status}"));
            self.bar.tick();
        }
        fn finish(&self, stack_set: &str, outcome: &str) {
            self.bar.set_message(String::new());
            eprintln!("{stack_set}: {outcome}");
        }
    }

    async fn status_rows(
        api: &CloudFormation,
        desired: &[Desired],
    ) -> Result<Vec<(String, rollout::Instance)>, ExitCode> {
        let mut rows = Vec::new();
        for d in desired {
            match api.describe(d).await {
                Ok(Some(dep)) => rows.extend(dep.instances.into_iter().map(|i| (d.name.clone(), i))),
                Ok(None) => eprintln!("{}: not deployed", d.name),
                Err(e) => {
                    eprintln!("patchplane: {}: {e}", d.name);
                    return Err(ExitCode::FAILURE);
                }
            }
        }
        rows.sort_by(|a, b| (&a.0, &a.1.account, &a.1.region).cmp(&(&b.0, &b.1.account, &b.1.region)));
        Ok(rows)
    }

    pub fn status(dir: &Path, endpoint_url: Option<String>) -> Result<(), ExitCode> {
        let desired = read(dir)?;
        runtime()?.block_on(async {
            let api = client(endpoint_url).await;
            print!("{}", rollout::instance_table(&status_rows(&api, &desired).await?));
            Ok(())
        })
    }

    pub fn rollout(
        dir: &Path,
        yes: bool,
        dry_run: bool,
        endpoint_url: Option<String>,
        poll: f64,
        template_bucket: Option<String>,
    ) -> Result<(), ExitCode> {
        let mut desired = read(dir)?;
        runtime()?.block_on(async {
            let conf = config(endpoint_url).await;
            let api = CloudFormation::new(aws_sdk_cloudformation::Client::new(&conf));
            let oversize: Vec<String> = desired
                .iter()
                .filter(|d| d.upload.is_some())
                .map(|d| d.name.clone())
                .collect();
            if !oversize.is_empty() && !dry_run {
                let Some(bucket) = &template_bucket else {
                    eprintln!(
                        "patchplane: {} over the 51,200-byte TemplateBody limit: pass --template-bucket to upload",
                        oversize.join(", ")
                    );
                    return Err(ExitCode::FAILURE);
                };
                let s3 = aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build(),
                );
                let region = conf
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "us-east-1".into());
                rollout::upload_templates(&rollout::S3Store::new(s3, bucket.clone(), region), &mut desired)
                    .await
                    .map_err(|e| {
                        eprintln!("patchplane: {e}");
                        ExitCode::FAILURE
                    })?;
            }
            let plans = plans(&api, &desired).await?;
            let pending = print_plan(&desired, &plans);
            if dry_run {
                for (d, changes) in desired.iter().zip(&plans) {
                    for r in rollout::requests(d, changes) {
                        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                    }
                }
                println!("dry run: {pending} change(s), nothing sent");
                return Ok(());
            }
            if pending == 0 {
                println!("nothing to do");
                return Ok(());
            }
            if !yes {
                if !std::io::stdin().is_terminal() {
                    eprintln!("patchplane: {pending} change(s) pending; pass --yes to apply them without a terminal");
                    return Err(ExitCode::FAILURE);
                }
                eprint!("Apply {pending} change(s)? Type yes: ");
                let mut answer = String::new();
                let _ = std::io::stdin().read_line(&mut answer);
                if answer.trim() != "yes" {
                    eprintln!("patchplane: nothing applied");
                    return Err(ExitCode::FAILURE);
                }
            }
            let tty = std::io::stderr().is_terminal();
            let bar = if tty {
                indicatif::ProgressBar::new_spinner()
            } else {
                indicatif::ProgressBar::hidden()
            };
            let bars = Bars { bar, tty };
            let timing = Timing {
                poll: std::time::Duration::from_secs_f64(poll.max(0.01)),
                ..Timing::default()
            };
            let mut failures: Vec<RolloutError> = Vec::new();
            for (d, changes) in desired.iter().zip(&plans) {
                if let Err(e) = rollout::apply(&api, d, changes, &timing, &bars).await {
                    failures.push(e);
                }
            }
            bars.bar.finish_and_clear();
            print!("{}", rollout::instance_table(&status_rows(&api, &desired).await?));
            if failures.is_empty() {
                return Ok(());
            }
            eprint!("{}", rollout::failure_report(&failures));
            Err(ExitCode::from(rollout::exit_code(&failures)))
        })
    }
}

#[cfg(feature = "aws")]
fn report(
    bucket: &str,
    prefix: &str,
    month: &str,
    out: &std::path::Path,
    sla_days: i64,
    endpoint_url: Option<String>,
) -> Result<(), String> {
    use patchplane::report;
    let cutoff = report::cutoff(month, jiff::Timestamp::now())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let collected = runtime.block_on(async {
        let mut loader = aws_config::from_env();
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let conf = loader.load().await;
        // Path-style addressing works with every endpoint, moto and private ones included.
        let s3_conf = aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build();
        report::s3::collect(&aws_sdk_s3::Client::from_conf(s3_conf), bucket, prefix).await
    })?;
    let r = report::build(collected, month, sla_days, cutoff);
    for p in &r.problems {
        eprintln!("warning: skipped s3://{bucket}/{}: {}", p.key, p.reason);
    }
    let sibling = |suffix: &str| out.with_extension(suffix);
    for (path, body) in [
        (out.to_path_buf(), r.nodes_csv()),
        (sibling("summary.csv"), r.summary_csv()),
        (sibling("overdue.csv"), r.overdue_csv()),
    ] {
        std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
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
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
