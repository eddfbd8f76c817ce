//! `patchplane bridge-config`: the `bridge.yaml` a policy's bridge runs with, as the central stack
//! gives it to the ECS task: the policy's `central.bridge.config` (or `--base FILE`) with its
//! `schedule`, `enrich.baselines` and `exceptions` filled in from the policy
//! ([`crate::model::fill_bridge_config`]). The bridge does not link the generator (ADR 024), so
//! this is how `patchplane-bridge replay --config` names a node's next window from a policy.

use std::path::PathBuf;

use super::{CommandError, Exit, load};
use crate::model::fill_bridge_config;

/// Arguments of `patchplane bridge-config`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The policy file.
    pub policy: PathBuf,
    /// A bridge.yaml to fill instead of the policy's `central.bridge.config`.
    #[arg(long)]
    pub base: Option<PathBuf>,
}

impl Args {
    /// Prints the filled configuration on stdout (JSON, which is YAML).
    pub fn run(&self) -> Result<Exit, CommandError> {
        let l = load(&self.policy)?;
        let base = match (&self.base, &l.policy.central.bridge) {
            (Some(file), _) => {
                patchplane_bridge_config::load_file(file).map_err(|e| CommandError::BridgeConfig(e.to_string()))?
            }
            (None, Some(b)) => b.config.clone(),
            (None, None) => {
                return Err(CommandError::BridgeConfig(format!(
                    "{} has no `central.bridge`; pass --base bridge.yaml to fill a configuration of your own",
                    self.policy.display()
                )));
            }
        };
        let filled = fill_bridge_config(&l.policy, base, &l.plan.windows);
        // JSON is YAML, and it is the form the central stack hands the task (`config_json`).
        let text = serde_json::to_string_pretty(&filled).map_err(|e| CommandError::BridgeConfig(e.to_string()))?;
        println!("{text}");
        Ok(Exit::Success)
    }
}
