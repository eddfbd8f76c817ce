//! `scan:` and `windows:`: the nightly scan, and the duration and cutoff every maintenance
//! window shares.

use serde::{Deserialize, Serialize};

use super::Schedule;

/// `scan:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    /// When the scan window opens (usually `daily`).
    pub schedule: Schedule,
    /// Rate control for the scan task; defaults to `install.max_concurrency`.
    #[serde(default)]
    pub max_concurrency: Option<String>,
    /// Error threshold for the scan task; defaults to `install.max_errors`.
    #[serde(default)]
    pub max_errors: Option<String>,
}

/// `windows:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    /// Window length, 1-24 hours.
    pub duration_hours: i64,
    /// Hours before the end when no new task starts, 0-23 and below `duration_hours`.
    pub cutoff_hours: i64,
    /// At the cutoff: `CANCEL_TASK` stops sending the command to more nodes (the default here, so
    /// no node starts patching and rebooting late), `CONTINUE_TASK` lets it go on.
    #[serde(default = "default_cutoff_behavior")]
    pub cutoff_behavior: CutoffBehavior,
}

fn default_cutoff_behavior() -> CutoffBehavior {
    CutoffBehavior::CancelTask
}

/// `MaintenanceWindowTask.CutoffBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum CutoffBehavior {
    CancelTask,
    ContinueTask,
}
