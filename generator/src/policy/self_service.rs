//! `self_service:` and the team files it admits (`teams/<team>.yaml`): team windows inside
//! guardrails. Reading and checking them is [`crate::teams`]'s.

use serde::{Deserialize, Serialize};

use super::{Day, Schedule};

/// `self_service:`: what a team window may be.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SelfService {
    /// Days a team window may open on (local time).
    pub allowed_days: Vec<Day>,
    /// Earliest local opening time, `HH:MM`.
    pub earliest: String,
    /// Latest local closing time, `HH:MM` (earlier than `earliest`: the next day).
    pub latest: String,
    /// Longest window, 1-24 hours.
    pub max_duration_hours: i64,
    /// Windows per team, at most.
    pub max_windows_per_team: usize,
}

/// A team file, `teams/<team>.yaml`: windows of the team's own, inside `self_service`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// The team: lowercase letters and digits, 1-16, the file's name.
    pub team: String,
    /// Its windows.
    pub windows: Vec<TeamWindow>,
    /// The file it came from (set by the loader).
    #[serde(skip)]
    pub file: std::path::PathBuf,
}

/// One team window: its nodes carry the patch group `<group_prefix>-<team>-<name>`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeamWindow {
    /// Lowercase letters and digits, 1-16.
    pub name: String,
    /// The baseline it installs (a baseline's `name`).
    pub baseline: String,
    /// When it opens, in each region's local time.
    pub schedule: Schedule,
    /// Hours it stays open.
    pub duration_hours: i64,
}
