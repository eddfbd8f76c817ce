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
