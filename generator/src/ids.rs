//! Names and identifiers AWS defines, and the policy's own naming rules: they live once, in the
//! contract crate's [`patchplane_bridge_config::ids`], because `bridge.yaml`'s checks need them as
//! much as the policy's (ADR 024). Re-exported here under the generator's old path.

pub use patchplane_bridge_config::ids::*;
