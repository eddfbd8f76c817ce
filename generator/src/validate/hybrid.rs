//! `hybrid:`: site names and their time zones.

use super::{Checker, shorten};
use crate::policy::Policy;

/// Checks `hybrid.sites`: a site's name goes into patch groups and logical ids, its zone into
/// `ScheduleTimezone`; no site may be named like a team (their patch groups would collide).
pub(super) fn check(c: &mut Checker, p: &Policy) {
    for (site, spec) in &p.hybrid.sites {
        let zone = spec.zone();
        let path = format!("hybrid.sites.{site}");
        let ok = !site.is_empty()
            && site.len() <= 16
            && site.starts_with(|ch: char| ch.is_ascii_lowercase())
            && !site.ends_with('-')
            && site
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
        if !ok {
            c.error(
                &path,
                format!(
                    "`{}` is not a site name (1-16 lowercase letters, digits and `-`, starting with a letter)",
                    shorten(site)
                ),
            );
        }
        if jiff::tz::TimeZone::get(zone).is_err() {
            c.error(
                &path,
                format!(
                    "`{}` is not an IANA time zone (for example Europe/Berlin)",
                    shorten(zone)
                ),
            );
        }
        if let crate::policy::Site::Detailed { baselines, .. } = spec {
            for (i, b) in baselines.iter().enumerate() {
                if !p.baselines.iter().any(|pb| &pb.name == b) {
                    c.error(
                        format!("{path}.baselines[{i}]"),
                        format!("`{}` is not a baseline of this policy", shorten(b)),
                    );
                }
            }
        }
        if p.teams.iter().any(|t| &t.team == site) {
            c.error(&path, "a team has the same name: their patch groups would collide");
        }
    }
}
