//! `bridge.yaml`: its types and rules live in their own crate, [`patchplane_bridge_config`], the
//! contract the generator renders and the bridge runs (ADR 024). This module re-exports them under
//! the name the bridge has always used.

pub use patchplane_bridge_config::*;
