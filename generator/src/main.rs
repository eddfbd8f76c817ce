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
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
