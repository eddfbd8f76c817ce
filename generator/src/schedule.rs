//! `patchplane schedule`: the next openings of every window, per region, in local time and UTC.
//!
//! Openings are computed from the [`crate::resolve::WindowSchedule`] the template renders (the parsed cron plus
//! `ScheduleOffset`) in the region's zone, so the preview cannot disagree with the template.
//! The offset is added to the local date at the same wall-clock time, as SSM does. A wall-clock
//! time that does not exist (spring-forward gap) moves forward by the gap, and one that occurs
//! twice (fall-back) takes the first, which is jiff's "compatible" rule and RFC 5545's.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use jiff::Zoned;

use crate::model::{Plan, WindowKind, WindowPlan};

pub use patchplane_bridge_config::window::openings;

/// One opening of one window in one region.
#[derive(Debug, Clone, Serialize)]
pub struct Opening {
    /// Region.
    pub region: String,
    /// IANA zone.
    pub zone: String,
    /// Window name.
    pub window: String,
    /// Scan or install.
    pub kind: WindowKind,
    /// Ring (install windows).
    pub ring: Option<String>,
    /// Baseline (install windows).
    pub baseline: Option<String>,
    /// Operating system (install windows).
    pub operating_system: Option<String>,
    /// Local opening time, RFC 3339 with offset.
    pub local: String,
    /// UTC opening time, RFC 3339.
    pub utc: String,
    /// Local weekday and zone abbreviation, for people.
    #[serde(skip)]
    pub local_display: String,
    /// Patch groups it installs (install windows).
    pub patch_groups: Vec<String>,
    /// Hours it stays open.
    pub duration_hours: i64,
}

/// Every window's next `count` openings in every region of the plan, from local midnight of
/// `from` in each region; a site's windows (`hybrid.sites`) once each, in the site's zone, as
/// region `site:<name>`.
pub fn preview(plan: &Plan, from: Date, count: usize) -> Vec<Opening> {
    let mut out = Vec::new();
    for rz in &plan.regions {
        let Ok(tz) = TimeZone::get(&rz.zone) else { continue };
        let Ok(start) = from.to_zoned(tz.clone()) else { continue };
        // AMI builds run only in the regions that build images.
        let ami_here = plan
            .ami
            .iter()
            .filter(|a| a.regions.iter().any(|r| r.region == rz.region))
            .flat_map(|a| a.images.iter().map(|i| &i.window));
        for w in plan.windows.iter().filter(|w| w.site.is_none()).chain(ami_here) {
            for z in openings(&w.schedule, &tz, start.timestamp(), count) {
                out.push(opening(w, &rz.region, &rz.zone, &z));
            }
        }
    }
    // A site's windows open in the site's zone whatever the region: once each, as `site:<name>`.
    for w in plan.windows.iter().filter(|w| w.site.is_some()) {
        let (Some(site), Some(zone)) = (&w.site, &w.zone) else {
            continue;
        };
        let Ok(tz) = TimeZone::get(zone) else { continue };
        let Ok(start) = from.to_zoned(tz.clone()) else { continue };
        for z in openings(&w.schedule, &tz, start.timestamp(), count) {
            out.push(opening(w, &format!("site:{site}"), zone, &z));
        }
    }
    out
}

/// One opening `z` of window `w`, shown under `region` (a region, or `site:<name>`) in `zone`.
fn opening(w: &WindowPlan, region: &str, zone: &str, z: &Zoned) -> Opening {
    Opening {
        region: region.to_owned(),
        zone: zone.to_owned(),
        window: w.name.clone(),
        kind: w.kind,
        ring: w.ring.clone(),
        baseline: w.baseline.clone(),
        operating_system: w.operating_system.map(str::to_owned),
        local: z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        utc: z.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        local_display: z.strftime("%Y-%m-%d %a %H:%M %Z").to_string(),
        patch_groups: w.targets.iter().flat_map(|t| t.values.iter().cloned()).collect(),
        duration_hours: w.duration,
    }
}

/// Escapes an iCalendar TEXT value (RFC 5545 §3.3.11).
fn ics_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets (RFC 5545 §3.1), CRLF-terminated.
fn ics_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// `20261208T070000Z` from an RFC 3339 UTC time.
fn ics_time(utc: &str) -> String {
    utc.replace(['-', ':'], "")
}

/// The preview as an RFC 5545 iCalendar feed: one event per opening, in UTC, with region, ring,
/// operating system and patch groups in it. `stamp` is the feed's `DTSTAMP` (the preview's first
/// day), so the same policy and day give the same file.
pub fn ics(name: &str, rows: &[Opening], stamp: Date) -> String {
    let mut out = String::new();
    let stamp = format!("{}T000000Z", stamp.strftime("%Y%m%d"));
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//patchplane//schedule//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        ics_line(&mut out, l);
    }
    ics_line(
        &mut out,
        &format!("X-WR-CALNAME:{}", ics_text(&format!("{name} patch windows"))),
    );
    for o in rows {
        let start = ics_time(&o.utc);
        let end = o
            .utc
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| t.checked_add(jiff::SignedDuration::from_hours(o.duration_hours)).ok())
            .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
            .unwrap_or_else(|| start.clone());
        let summary = match (&o.ring, &o.operating_system) {
            (Some(r), Some(os)) => format!("Patching {os}, ring {r}, in {}", o.region),
            _ => format!("{} ({:?}) in {}", o.window, o.kind, o.region),
        };
        let description = format!(
            "Window: {}\nRegion: {} ({})\nRing: {}\nOperating system: {}\nPatch groups: {}\nLocal start: {}",
            o.window,
            o.region,
            o.zone,
            o.ring.as_deref().unwrap_or("-"),
            o.operating_system.as_deref().unwrap_or("all"),
            if o.patch_groups.is_empty() {
                "-".to_owned()
            } else {
                o.patch_groups.join(", ")
            },
            o.local
        );
        ics_line(&mut out, "BEGIN:VEVENT");
        ics_line(&mut out, &format!("UID:{}-{}-{start}@patchplane", o.window, o.region));
        ics_line(&mut out, &format!("DTSTAMP:{stamp}"));
        ics_line(&mut out, &format!("DTSTART:{start}"));
        ics_line(&mut out, &format!("DTEND:{end}"));
        ics_line(&mut out, &format!("SUMMARY:{}", ics_text(&summary)));
        ics_line(&mut out, &format!("LOCATION:{}", ics_text(&o.region)));
        ics_line(&mut out, &format!("DESCRIPTION:{}", ics_text(&description)));
        let mut cats = vec!["patchplane".to_owned()];
        cats.extend(o.ring.iter().cloned());
        cats.extend(o.patch_groups.iter().cloned());
        ics_line(
            &mut out,
            &format!(
                "CATEGORIES:{}",
                cats.iter().map(|c| ics_text(c)).collect::<Vec<_>>().join(",")
            ),
        );
        ics_line(&mut out, "TRANSP:OPAQUE");
        ics_line(&mut out, "END:VEVENT");
    }
    ics_line(&mut out, "END:VCALENDAR");
    out
}

/// The preview as an aligned text table.
pub fn table(rows: &[Opening]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|o| {
            vec![
                o.region.clone(),
                o.window.clone(),
                o.ring.clone().unwrap_or_else(|| "-".into()),
                o.operating_system.clone().unwrap_or_else(|| "all".into()),
                o.local_display.clone(),
                o.utc.replace('T', " "),
            ]
        })
        .collect();
    crate::table::render(&["REGION", "WINDOW", "RING", "OS", "LOCAL", "UTC"], &cells)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::cron::Cron;
    use crate::resolve::WindowSchedule;
    use jiff::civil::date;

    #[test]
    fn offset_crosses_month_and_dst() {
        // Sunday after Patch Tuesday, 23:30 New York: 2026-03-15 is after the DST change of 03-08.
        let ws = WindowSchedule {
            cron: Cron::parse("cron(30 23 ? * TUE#2 *)").expect("cron"),
            offset_days: 5,
        };
        let tz = TimeZone::get("America/New_York").expect("tz");
        let from = date(2026, 2, 1).to_zoned(tz.clone()).expect("z").timestamp();
        let got: Vec<String> = openings(&ws, &tz, from, 2)
            .iter()
            .map(|z| z.timestamp().to_string())
            .collect();
        assert_eq!(got, vec!["2026-02-16T04:30:00Z", "2026-03-16T03:30:00Z"]);
    }

    #[test]
    fn gap_times_move_forward() {
        // 02:30 does not exist in New York on 2026-03-08; it opens at 03:30 EDT (07:30Z).
        let ws = WindowSchedule {
            cron: Cron::parse("cron(30 2 ? * SUN#2 *)").expect("cron"),
            offset_days: 0,
        };
        let tz = TimeZone::get("America/New_York").expect("tz");
        let from = date(2026, 3, 1).to_zoned(tz.clone()).expect("z").timestamp();
        let got = openings(&ws, &tz, from, 1);
        assert_eq!(got[0].timestamp().to_string(), "2026-03-08T07:30:00Z");
    }

    #[test]
    fn a_cron_that_never_fires_ends() {
        let ws = WindowSchedule {
            cron: Cron::parse("cron(0 2 30 2 ? *)").expect("cron"),
            offset_days: 0,
        };
        assert!(openings(&ws, &TimeZone::UTC, Timestamp::UNIX_EPOCH, 3).is_empty());
    }
}
