//! `bridge.yaml`: its types and rules live in one home, [`patchplane::bridge_config`], shared with
//! the generator (which embeds the same file as the policy's `central.bridge.config`). This module
//! re-exports them under the name the bridge has always used.

pub use patchplane::bridge_config::*;
