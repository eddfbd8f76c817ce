//! `rings:`: rollout waves in order, each with its schedule and an optional gate on an earlier
//! ring.

use serde::{Deserialize, Serialize};

use super::Schedule;

/// A rollout ring.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ring {
    /// Ring name, lowercase letters and digits, 1-16 characters; patch groups end in `-<name>`.
    pub name: String,
    /// When this ring installs, in each region's local time.
    pub schedule: Schedule,
    /// Install only if an earlier ring's last install here failed on few enough nodes.
    #[serde(default)]
    pub gate: Option<Gate>,
}

/// `rings[].gate`: checked inside SSM, in each account and region, before the ring installs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// The earlier ring whose last install is judged.
    pub after: String,
    /// The share of that install's nodes that may have failed, 0-100.
    pub max_failed_percent: f64,
}
