//! `schedule:`: the zones and install windows the generator writes into `bridge.yaml` from the
//! policy (the same schedule model the templates come from), so the bridge can name a finding's
//! next window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::settings::error;

/// `schedule:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Region → IANA zone, as `organization.regions` in the policy.
    #[serde(default)]
    pub zones: BTreeMap<String, String>,
    /// Install windows (the same in every region, at local time).
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
}

/// One install window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// The maintenance window's name.
    pub name: String,
    /// The patch groups it installs.
    pub patch_groups: Vec<String>,
    /// Its `Schedule`, `cron(…)`.
    pub cron: String,
    /// Its `ScheduleOffset` (days; 0 for none).
    #[serde(default)]
    pub offset_days: u8,
    /// Its `Duration` (hours; 0 when unknown: summaries after it are then not sent).
    #[serde(default)]
    pub duration_hours: u8,
    /// The IANA zone it opens in when it is not the region's: an on-premises site's window
    /// (`hybrid.sites` of the policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl ScheduleConfig {
    /// Its problems, appended to `out`.
    pub(super) fn check(&self, out: &mut Vec<Finding>) {
        for (region, zone) in &self.zones {
            if jiff::tz::TimeZone::get(zone).is_err() {
                out.push(error(
                    &format!("schedule.zones.{region}"),
                    format!("`{}` is not an IANA time zone", zone.escape_debug()),
                ));
            }
        }
        for (i, w) in self.windows.iter().enumerate() {
            if let Err(e) = crate::cron::Cron::parse(&w.cron) {
                out.push(error(&format!("schedule.windows[{i}].cron"), e.0));
            }
            if w.offset_days > 6 {
                out.push(error(
                    &format!("schedule.windows[{i}].offset_days"),
                    "must be 0–6 (SSM's ScheduleOffset)",
                ));
            }
        }
    }
}
