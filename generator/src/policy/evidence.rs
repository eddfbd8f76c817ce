//! `evidence:`: how long evidence is kept and the remediation SLA the monthly report checks.

use serde::{Deserialize, Serialize};

/// `evidence:`: how long evidence is kept and how long a node may stay non-compliant.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Days a missing critical or security patch may stay missing before `report` lists its node
    /// as overdue (1-365): one number, or per severity (`critical: 7`) with a `default`.
    #[serde(default)]
    pub sla_days: crate::bridge_config::SlaDays,
    /// Days evidence objects are kept in the bucket before they expire (30-3650; SOC2 audits look
    /// back a year, so the default keeps 400 days).
    #[serde(default = "default_retention_days")]
    pub retention_days: i64,
}

impl Default for Evidence {
    fn default() -> Self {
        Self {
            sla_days: crate::bridge_config::SlaDays::default(),
            retention_days: default_retention_days(),
        }
    }
}

fn default_retention_days() -> i64 {
    400
}
