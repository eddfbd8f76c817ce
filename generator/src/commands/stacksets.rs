//! `patchplane plan | rollout | status`: the CloudFormation client from the environment, the
//! terminal's confirmation and progress bars around [`StackSets`], and what each command prints.

use std::cell::Cell;
use std::io::IsTerminal;
use std::path::PathBuf;

use super::{CommandError, Exit, s3_client, sdk_config};
use crate::rollout::aws::CloudFormation;
use crate::rollout::{
    Desired, Options, Outcome, Pending, Progress, S3Store, StackSets, Status, Timing, exit_code, failure_report,
};

/// Arguments of `patchplane plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Output of `generate` (e.g. stacksets/acme).
    pub dir: PathBuf,
    /// AWS endpoint (tests, private endpoints); `AWS_ENDPOINT_URL` works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// Arguments of `patchplane rollout`.
#[derive(Debug, Clone, clap::Args)]
pub struct RolloutArgs {
    /// Output of `generate`.
    pub dir: PathBuf,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Print the exact requests and change nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// AWS endpoint; `AWS_ENDPOINT_URL` works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Seconds between two polls of an operation.
    #[arg(long, default_value_t = 5.0)]
    pub poll_seconds: f64,
    /// Bucket for templates over the 51,200-byte TemplateBody limit (uploaded, then sent as
    /// TemplateURL); required when `generate` reported one.
    #[arg(long)]
    pub template_bucket: Option<String>,
}

/// Arguments of `patchplane status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Output of `generate`.
    pub dir: PathBuf,
    /// AWS endpoint; `AWS_ENDPOINT_URL` works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Runtime::new().map_err(|source| CommandError::Runtime { source })
}

fn print_status(status: &Status) {
    for name in &status.not_deployed {
        eprintln!("{name}: not deployed");
    }
    print!("{}", status.table());
}

impl PlanArgs {
    /// Prints the changes; [`Exit::Pending`] when there are any.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let desired = Desired::read_dir(&self.dir)?;
        runtime()?.block_on(async {
            let conf = sdk_config(self.endpoint_url.clone()).await;
            let sets = StackSets::new(CloudFormation::new(aws_sdk_cloudformation::Client::new(&conf)), desired);
            let pending = sets.plan().await?;
            print!("{pending}");
            Ok(if pending.count() > 0 {
                Exit::Pending
            } else {
                Exit::Success
            })
        })
    }
}

impl StatusArgs {
    /// Prints the instance table.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let desired = Desired::read_dir(&self.dir)?;
        runtime()?.block_on(async {
            let conf = sdk_config(self.endpoint_url.clone()).await;
            let sets = StackSets::new(CloudFormation::new(aws_sdk_cloudformation::Client::new(&conf)), desired);
            print_status(&sets.status().await?);
            Ok(Exit::Success)
        })
    }
}

/// Spinner per step on a terminal; plain lines otherwise (CI logs).
struct Bars {
    bar: indicatif::ProgressBar,
    tty: bool,
    /// Whether a step started: only then is there a bar to clear.
    used: Cell<bool>,
}

impl Bars {
    fn new() -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = if tty {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        Self {
            bar,
            tty,
            used: Cell::new(false),
        }
    }

    fn clear(&self) {
        if self.used.get() {
            self.bar.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn start(&self, stack_set: &str, what: &str) {
        self.used.set(true);
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

/// Shows the plan, then asks on the terminal unless `--yes`; the reason for a no is kept in
/// `refusal`.
fn confirm(yes: bool, pending: &Pending, refusal: &Cell<Option<CommandError>>) -> bool {
    print!("{pending}");
    if yes {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        refusal.set(Some(CommandError::NoTerminal {
            pending: pending.count(),
        }));
        return false;
    }
    eprint!("Apply {} change(s)? Type yes: ", pending.count());
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    answer.trim() == "yes"
}

impl RolloutArgs {
    /// Uploads oversize templates, shows the plan, asks, applies, prints the instances and every
    /// failure with its instances; exit 1 when a StackSet did not converge.
    pub fn run(&self) -> Result<Exit, CommandError> {
        let desired = Desired::read_dir(&self.dir)?;
        runtime()?.block_on(async {
            let conf = sdk_config(self.endpoint_url.clone()).await;
            let mut sets = StackSets::new(CloudFormation::new(aws_sdk_cloudformation::Client::new(&conf)), desired);
            let region = conf
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into());
            let store = (self.template_bucket.as_ref()).map(|b| S3Store::new(s3_client(&conf), b.clone(), region));
            let options = Options {
                dry_run: self.dry_run,
                timing: Timing {
                    poll: std::time::Duration::from_secs_f64(self.poll_seconds.max(0.01)),
                    ..Timing::default()
                },
            };
            let bars = Bars::new();
            let refusal = Cell::new(None);
            let outcome = sets
                .rollout(store.as_ref(), &options, |p| confirm(self.yes, p, &refusal), &bars)
                .await;
            bars.clear();
            match outcome? {
                Outcome::DryRun(pending) => {
                    print!("{pending}");
                    for r in pending.requests() {
                        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                    }
                    println!("dry run: {} change(s), nothing sent", pending.count());
                    Ok(Exit::Success)
                }
                Outcome::UpToDate(pending) => {
                    print!("{pending}");
                    println!("nothing to do");
                    Ok(Exit::Success)
                }
                Outcome::Declined(_) => Err(refusal.take().unwrap_or(CommandError::Declined)),
                Outcome::Applied { failures, status, .. } => {
                    print_status(&status);
                    if failures.is_empty() {
                        return Ok(Exit::Success);
                    }
                    eprint!("{}", failure_report(&failures));
                    Ok(if exit_code(&failures) == 0 {
                        Exit::Success
                    } else {
                        Exit::Failure
                    })
                }
            }
        })
    }
}
