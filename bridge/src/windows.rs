//! The next install window of a node: which maintenance window will patch it, and when, in local
//! time and UTC. The bridge computes it with the generator's schedule model from the same policy
//! (the generator writes the windows into the bridge's configuration, `enrich.windows`; `replay`
//! can read a policy file), never with the renderer.

use jiff::Timestamp;

/// One opening of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The maintenance window's name (`acme-AL2023-early-install`).
    pub window: String,
    /// Local time with its zone (`2026-12-08 02:00 America/New_York`).
    pub local: String,
    /// The same instant in UTC.
    pub utc: Timestamp,
}

/// Where the next opening comes from.
pub trait NextWindow: Send + Sync {
    /// The next install window of `patch_group` in `region` opening after `after`.
    fn next(&self, region: &str, patch_group: &str, after: Timestamp) -> Option<Opening>;
}

/// Next windows from `schedule:` of `bridge.yaml` (the generator's [`patchplane::schedule`]
/// arithmetic over the crons and offsets the templates carry, so a ticket and
/// `patchplane schedule` cannot disagree).
pub struct ScheduleWindows {
    zones: std::collections::BTreeMap<String, jiff::tz::TimeZone>,
    /// Name, patch groups, schedule, and the zone of a site's window (else the region's).
    windows: Vec<(
        String,
        Vec<String>,
        patchplane_bridge_config::window::WindowSchedule,
        Option<jiff::tz::TimeZone>,
    )>,
}

impl ScheduleWindows {
    /// From the configuration; windows whose cron does not parse (refused by `check`) and zones
    /// that do not exist are left out.
    pub fn new(cfg: &patchplane_bridge_config::ScheduleConfig) -> Self {
        Self {
            zones: cfg
                .zones
                .iter()
                .filter_map(|(r, z)| jiff::tz::TimeZone::get(z).ok().map(|tz| (r.clone(), tz)))
                .collect(),
            windows: cfg
                .windows
                .iter()
                .filter_map(|w| {
                    let cron = patchplane_bridge_config::cron::Cron::parse(&w.cron).ok()?;
                    let ws = patchplane_bridge_config::window::WindowSchedule {
                        cron,
                        offset_days: w.offset_days,
                    };
                    let zone = match &w.zone {
                        Some(z) => Some(jiff::tz::TimeZone::get(z).ok()?),
                        None => None,
                    };
                    Some((w.name.clone(), w.patch_groups.clone(), ws, zone))
                })
                .collect(),
        }
    }

    /// Whether it knows any window at all.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() || self.zones.is_empty()
    }
}

impl NextWindow for ScheduleWindows {
    fn next(&self, region: &str, patch_group: &str, after: Timestamp) -> Option<Opening> {
        let region_tz = self.zones.get(region);
        self.windows
            .iter()
            .filter(|(_, groups, _, _)| groups.iter().any(|g| g == patch_group))
            .filter_map(|(name, _, ws, site_tz)| {
                let tz = site_tz.as_ref().or(region_tz)?;
                let z = patchplane_bridge_config::window::openings(ws, tz, after, 1)
                    .into_iter()
                    .next()?;
                Some(Opening {
                    window: name.clone(),
                    local: format!(
                        "{} {}",
                        z.strftime("%a %Y-%m-%d %H:%M"),
                        tz.iana_name().unwrap_or("local")
                    ),
                    utc: z.timestamp(),
                })
            })
            .min_by_key(|o| o.utc)
    }
}

#[cfg(test)]
mod tests {
    use patchplane_bridge_config::{ScheduleConfig, WindowSpec};

    use super::*;

    #[test]
    fn the_next_window_of_a_patch_group_in_local_time_and_utc() {
        let cfg = ScheduleConfig {
            zones: [("us-east-1".to_owned(), "America/New_York".to_owned())].into(),
            windows: vec![
                WindowSpec {
                    name: "acme-AL2023-early-install".into(),
                    patch_groups: vec!["AL2023-early".into()],
                    // Patch Tuesday (second Tuesday) at 02:00.
                    cron: "cron(0 2 ? * TUE#2 *)".into(),
                    offset_days: 0,
                    duration_hours: 4,
                    zone: None,
                },
                WindowSpec {
                    name: "acme-AL2023-main-install".into(),
                    patch_groups: vec!["AL2023-main".into()],
                    cron: "cron(0 2 ? * TUE#2 *)".into(),
                    offset_days: 1,
                    duration_hours: 4,
                    zone: None,
                },
            ],
        };
        let w = ScheduleWindows::new(&cfg);
        let after: Timestamp = "2026-11-30T12:00:00Z".parse().expect("t");
        let o = w.next("us-east-1", "AL2023-early", after).expect("a window");
        assert_eq!(o.window, "acme-AL2023-early-install");
        // 8 December 2026 is the second Tuesday; 02:00 EST is 07:00 UTC.
        assert_eq!(o.utc.to_string(), "2026-12-08T07:00:00Z");
        assert_eq!(o.local, "Tue 2026-12-08 02:00 America/New_York");
        let main = w.next("us-east-1", "AL2023-main", after).expect("main");
        assert_eq!(main.utc.to_string(), "2026-12-09T07:00:00Z", "a day later");
        assert_eq!(
            w.next("eu-west-1", "AL2023-early", after),
            None,
            "a region it does not know"
        );
        assert_eq!(
            w.next("us-east-1", "Win2022-early", after),
            None,
            "a group no window installs"
        );
    }

    /// A site's window (`hybrid.sites`) opens in the site's zone whatever region its node
    /// registered in: 02:00 in Frankfurt is 01:00 UTC, not 07:00 as in us-east-1.
    #[test]
    fn a_sites_window_opens_in_the_sites_zone() {
        let cfg = ScheduleConfig {
            zones: [("us-east-1".to_owned(), "America/New_York".to_owned())].into(),
            windows: vec![WindowSpec {
                name: "acme-AL2023-dc-fra-early-install".into(),
                patch_groups: vec!["AL2023-dc-fra-early".into()],
                cron: "cron(0 2 ? * TUE#2 *)".into(),
                offset_days: 0,
                duration_hours: 4,
                zone: Some("Europe/Berlin".into()),
            }],
        };
        let w = ScheduleWindows::new(&cfg);
        let after: Timestamp = "2026-11-30T12:00:00Z".parse().expect("t");
        let o = w.next("us-east-1", "AL2023-dc-fra-early", after).expect("a window");
        assert_eq!(o.utc.to_string(), "2026-12-08T01:00:00Z");
        assert_eq!(o.local, "Tue 2026-12-08 02:00 Europe/Berlin");
    }
}
