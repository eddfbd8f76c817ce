//! `patchplane`: the command line. Parses arguments, runs the command from
//! [`patchplane::commands`] (which prints), and turns the result into the exit code: 0 success,
//! 1 invalid policy / stale output / failure, 2 usage error (clap) or, for `plan`, changes pending.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use patchplane::commands;

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

#[derive(Subcommand)]
enum Command {
    /// Check a policy; every problem is printed with file, line and key path.
    Validate(commands::validate::Args),
    /// Render the StackSets (template.yaml + stackset.json per StackSet) into DIR.
    Generate(commands::generate::Args),
    /// Print the bridge.yaml the policy's bridge runs with (its schedule, baselines and exceptions
    /// filled in from the policy), e.g. for `patchplane-bridge replay --config`.
    BridgeConfig(commands::bridge_config::Args),
    /// Preview the next openings of every window per region, in local time and UTC.
    Schedule(commands::schedule::Args),
    /// Compare the generated StackSets in DIR with what is deployed. Exit 0 nothing to do, 2 changes
    /// pending, 1 error.
    #[cfg(feature = "aws")]
    Plan(commands::stacksets::PlanArgs),
    /// Create or update the StackSets in DIR and their instances in every target OU and region.
    #[cfg(feature = "aws")]
    Rollout(commands::stacksets::RolloutArgs),
    /// The stack instances of the StackSets in DIR: account, region, status, drift, last operation.
    #[cfg(feature = "aws")]
    Status(commands::stacksets::StatusArgs),
    /// Write the monthly SOC2 patch-compliance report from the evidence bucket's resource data sync.
    #[cfg(feature = "aws")]
    Report(commands::report::Args),
    /// On-premises nodes: `hybrid activate` creates a site's hybrid activation (its nodes' patch
    /// group and site tags, the StackSet's service role) and prints the agent's install commands.
    #[cfg(feature = "aws")]
    Hybrid(commands::hybrid::Args),
    /// An ad hoc install in member accounts and regions now, through each member's install (so
    /// exceptions and ring gates hold); `--dry-run` lists what it would touch.
    #[cfg(feature = "aws")]
    PatchNow(commands::patch_now::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Validate(args) => args.run(),
        Command::Generate(args) => args.run(),
        Command::Schedule(args) => args.run(),
        Command::BridgeConfig(args) => args.run(),
        #[cfg(feature = "aws")]
        Command::Plan(args) => args.run(),
        #[cfg(feature = "aws")]
        Command::Rollout(args) => args.run(),
        #[cfg(feature = "aws")]
        Command::Status(args) => args.run(),
        #[cfg(feature = "aws")]
        Command::Report(args) => args.run(),
        #[cfg(feature = "aws")]
        Command::Hybrid(args) => args.run(),
        #[cfg(feature = "aws")]
        Command::PatchNow(args) => args.run(),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("patchplane: {e}");
            ExitCode::FAILURE
        }
    }
}
