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
    /// The month's report, run by the central stack on a day of the next month (needs
    /// `central.bridge`: its image, subnets and security groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_report: Option<MonthlyReport>,
}

/// `evidence.monthly_report`: when the central stack runs `patchplane report --publish` for the
/// previous month.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyReport {
    /// Day of the month (1-28, so every month has it).
    pub day: u8,
    /// Local time, `HH:MM`.
    pub at: String,
    /// IANA zone of `at`; default UTC.
    #[serde(default = "utc")]
    pub zone: String,
    /// A secret of `central.bridge.secrets` holding a Slack incoming-webhook URL to tell as well
    /// as the central notify topic (when the bridge has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_webhook_secret: Option<String>,
}

fn utc() -> String {
    "UTC".to_owned()
}

impl Default for Evidence {
    fn default() -> Self {
        Self {
            sla_days: crate::bridge_config::SlaDays::default(),
            retention_days: default_retention_days(),
            monthly_report: None,
        }
    }
}

fn default_retention_days() -> i64 {
    400
}
