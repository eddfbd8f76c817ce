//! Team windows, self-service as code: `teams/<team>.yaml` beside the policy, one file per team
//! (so CODEOWNERS can give each team its file), each declaring windows of its own inside the
//! guardrails the platform sets in the policy's `self_service:`.
//!
//! A team window installs one baseline on the nodes tagged with the patch group
//! `<group_prefix>-<team>-<window>`, in a maintenance window of its own
//! (`<policy>-<group_prefix>-<team>-<window>-install`), at the team's local time in every region.
//! Its problems are reported on the team's file and line. Team files are read only when the
//! policy sets `self_service:`.

use std::path::{Path, PathBuf};

use jiff::civil::Time;

use crate::diag::{Diagnostic, Finding, LineIndex, Severity, parse_yaml};
use crate::policy::{Day, Policy, SelfService, Team, TeamWindow};

/// The patch group of a team window.
pub use crate::model::team_patch_group as patch_group;

/// `teams/*.yaml` beside `policy_file`, sorted by name, with their text; none when there is no
/// such folder.
pub fn read_dir(policy_file: &Path) -> Result<Vec<(PathBuf, String)>, Diagnostic> {
    let dir = policy_file.parent().unwrap_or(Path::new(".")).join("teams");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| match std::fs::read_to_string(&f) {
            Ok(t) => Ok((f, t)),
            Err(e) => Err(Diagnostic {
                severity: Severity::Error,
                file: f,
                line: None,
                path: String::new(),
                message: format!("cannot read the team file: {e}"),
            }),
        })
        .collect()
}

/// Parses and checks team files against `p`; returns the teams and every finding, located in
/// its team's file.
pub fn load(p: &Policy, files: &[(PathBuf, String)]) -> (Vec<Team>, Vec<Diagnostic>) {
    let mut teams = Vec::new();
    let mut out = Vec::new();
    for (file, text) in files {
        let mut team: Team = match parse_yaml(text, file) {
            Ok(t) => t,
            Err(d) => {
                out.push(d);
                continue;
            }
        };
        team.file = file.clone();
        let index = LineIndex::new(text);
        out.extend(check(p, &team).into_iter().map(|f| f.locate(file, &index)));
        teams.push(team);
    }
    (teams, out)
}

fn err(path: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Error,
        path: path.into(),
        message: message.into(),
    }
}

fn name_ok(s: &str) -> bool {
    (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn hhmm(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// Whether a window opening at `start` (local) for `hours` stays inside `earliest`–`latest`
/// (a `latest` at or before `earliest` is on the next day).
pub fn inside(start: Time, hours: i64, earliest: Time, latest: Time) -> bool {
    let mins = |t: Time| i64::from(t.hour()) * 60 + i64::from(t.minute());
    let (s, e, l, d) = (mins(start), mins(earliest), mins(latest), hours * 60);
    if l > e {
        s >= e && s + d <= l
    } else if s >= e {
        s + d <= 1440 + l
    } else {
        s + d <= l
    }
}

/// The problems of one team file (paths inside it).
pub fn check(p: &Policy, team: &Team) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(g) = &p.self_service else {
        out.push(err(
            "team",
            "the policy sets no `self_service`, so team windows are not allowed: ask the platform team",
        ));
        return out;
    };
    let stem = team.file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if !name_ok(&team.team) {
        out.push(err(
            "team",
            format!(
                "`{}` must be 1-16 lowercase letters and digits",
                team.team.escape_debug()
            ),
        ));
    } else if !stem.is_empty() && stem != team.team {
        out.push(err(
            "team",
            format!("`{}` must match the file name `{stem}.yaml`", team.team),
        ));
    }
    if team.windows.is_empty() {
        out.push(err("windows", "declare at least one window"));
    }
    if team.windows.len() > g.max_windows_per_team {
        out.push(err(
            "windows",
            format!(
                "{} windows; self_service.max_windows_per_team allows {}",
                team.windows.len(),
                g.max_windows_per_team
            ),
        ));
    }
    for (i, w) in team.windows.iter().enumerate() {
        out.extend(check_window(p, g, team, i, w));
    }
    out
}

fn check_window(p: &Policy, g: &SelfService, team: &Team, i: usize, w: &TeamWindow) -> Vec<Finding> {
    let mut out = Vec::new();
    let at = |f: &str| format!("windows[{i}].{f}");
    if !name_ok(&w.name) {
        out.push(err(
            at("name"),
            format!("`{}` must be 1-16 lowercase letters and digits", w.name.escape_debug()),
        ));
    }
    if team.windows[..i].iter().any(|o| o.name == w.name) {
        out.push(err(at("name"), format!("`{}` is used twice", w.name)));
    }
    if !p.baselines.iter().any(|b| b.name == w.baseline) {
        let names: Vec<&str> = p.baselines.iter().map(|b| b.name.as_str()).collect();
        out.push(err(
            at("baseline"),
            format!(
                "`{}` is not a baseline of the policy ({})",
                w.baseline.escape_debug(),
                names.join(", ")
            ),
        ));
    }
    if !(1..=g.max_duration_hours.min(24)).contains(&w.duration_hours) {
        out.push(err(
            at("duration_hours"),
            format!(
                "{} is outside 1-{} (self_service.max_duration_hours)",
                w.duration_hours, g.max_duration_hours
            ),
        ));
    }
    let ws = match crate::resolve::resolve_schedule(&w.schedule, 0) {
        Ok(ws) => ws,
        Err(e) => {
            out.push(err(format!("windows[{i}].{}", e.key), e.message));
            return out;
        }
    };
    let (Some(earliest), Some(latest)) = (hhmm(&g.earliest), hhmm(&g.latest)) else {
        return out;
    };
    // Local time is the same in every region; check a year of openings in the first zone, from a
    // fixed day so the verdict does not depend on when it runs.
    let Some(tz) = p
        .organization
        .regions
        .values()
        .next()
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
    else {
        return out;
    };
    let from = jiff::civil::date(2026, 1, 1)
        .to_zoned(tz.clone())
        .map(|z| z.timestamp());
    let Ok(from) = from else { return out };
    for z in crate::schedule::openings(&ws, &tz, from, 60) {
        let day = Day::MON.plus(i64::from(z.weekday().to_monday_zero_offset()));
        if !g.allowed_days.contains(&day) {
            out.push(err(
                at("schedule"),
                format!(
                    "opens on {} ({}); self_service.allowed_days allows {}",
                    day.as_str(),
                    z.strftime("%Y-%m-%d %H:%M"),
                    g.allowed_days.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
            break;
        }
        if !inside(z.time(), w.duration_hours, earliest, latest) {
            out.push(err(
                at("schedule"),
                format!(
                    "opens at {} for {} h; self_service allows {}–{}",
                    z.strftime("%H:%M"),
                    w.duration_hours,
                    g.earliest,
                    g.latest
                ),
            ));
            break;
        }
    }
    out
}

/// Problems of `self_service:` itself (policy paths).
pub fn check_guardrails(g: &SelfService) -> Vec<Finding> {
    let mut out = Vec::new();
    if g.allowed_days.is_empty() {
        out.push(err("self_service.allowed_days", "allow at least one day"));
    }
    for (f, v) in [("earliest", &g.earliest), ("latest", &g.latest)] {
        if hhmm(v).is_none() {
            out.push(err(
                format!("self_service.{f}"),
                format!("`{}` is not a time HH:MM", v.escape_debug()),
            ));
        }
    }
    if !(1..=24).contains(&g.max_duration_hours) {
        out.push(err("self_service.max_duration_hours", "must be 1-24"));
    }
    if !(1..=10).contains(&g.max_windows_per_team) {
        out.push(err("self_service.max_windows_per_team", "must be 1-10"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Time {
        hhmm(s).expect("time")
    }

    #[test]
    fn windows_inside_the_guardrails_including_across_midnight() {
        assert!(inside(t("20:00"), 4, t("20:00"), t("06:00")));
        assert!(inside(t("23:00"), 7, t("20:00"), t("06:00")));
        assert!(!inside(t("23:00"), 8, t("20:00"), t("06:00")));
        assert!(inside(t("01:00"), 5, t("20:00"), t("06:00")));
        assert!(!inside(t("12:00"), 1, t("20:00"), t("06:00")));
        assert!(inside(t("09:00"), 3, t("08:00"), t("12:00")));
        assert!(!inside(t("10:00"), 3, t("08:00"), t("12:00")));
        assert!(!inside(t("07:00"), 1, t("08:00"), t("12:00")));
    }
}
