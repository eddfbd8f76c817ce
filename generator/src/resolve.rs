//! Schedule resolution: the one place a policy schedule becomes what SSM runs, a cron in the
//! region's zone plus a `ScheduleOffset` of 0-6 days ([`WindowSchedule`]).
//!
//! It sits below both [`crate::validate`] and [`crate::model`]: validation resolves every schedule
//! so that one the generator could not encode is a validation error with its key, and the model
//! resolves them again to build the windows. It knows the policy's schedule types and the cron
//! parser, nothing else.

use crate::cron::{Cron, DaySpec, weekday_name};
use crate::policy::{Day, Schedule, Week};

pub use patchplane_bridge_config::window::WindowSchedule;

/// A schedule that cannot be encoded, with the sub-path of the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    /// Path below `schedule`, e.g. `patch_tuesday.offset_days`.
    pub key: String,
    /// Message.
    pub message: String,
}

fn serr<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, ScheduleError> {
    Err(ScheduleError {
        key: key.into(),
        message: message.into(),
    })
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_at(at: &str) -> Option<(u8, u8)> {
    let (h, m) = at.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn at_or_err(at: &str, key: &str) -> Result<(u8, u8), ScheduleError> {
    parse_at(at).ok_or_else(|| ScheduleError {
        key: format!("{key}.at"),
        message: format!("`{at}` is not a 24-hour local time HH:MM (for example \"02:00\")"),
    })
}

/// Cron day-of-week number of a policy day (SUN = 1).
fn cron_dow_number(day: Day) -> u8 {
    ((day.index_from_monday() + 1) % 7 + 1) as u8
}

/// `X#n` + `offset` days, with offsets of 7+ folded into the week number: the nth weekday + 7 days
/// is always the (n+1)th weekday of the same month as long as n+1 ≤ 4 (every month has four of
/// each weekday, not always five), so the fold is exact only up to `#4`.
fn nth_with_offset(dow: &str, n: i64, offset: i64, key: &str, h: u8, m: u8) -> Result<WindowSchedule, ScheduleError> {
    let weeks = offset / 7;
    let folded = n + weeks;
    if weeks > 0 && folded > 4 {
        return serr(
            key,
            format!(
                "week {n} + {offset} days folds into {dow}#{folded}, which not every month has; \
                 SSM's ScheduleOffset is 1-6 days, so keep week + offset/7 at 4 or below"
            ),
        );
    }
    let cron = build(&format!("cron({m} {h} ? * {dow}#{folded} *)"), key)?;
    Ok(WindowSchedule {
        cron,
        offset_days: (offset % 7) as u8,
    })
}

fn build(text: &str, key: &str) -> Result<Cron, ScheduleError> {
    Cron::parse(text).map_err(|e| ScheduleError {
        key: key.to_owned(),
        message: e.0,
    })
}

/// Resolves a policy schedule plus `extra_offset` days (a baseline's `install_offset_days`) into
/// the cron and offset SSM runs.
pub fn resolve_schedule(s: &Schedule, extra_offset: i64) -> Result<WindowSchedule, ScheduleError> {
    let forms = [
        ("daily", s.daily.is_some()),
        ("weekly", s.weekly.is_some()),
        ("monthly", s.monthly.is_some()),
        ("patch_tuesday", s.patch_tuesday.is_some()),
        ("cron", s.cron.is_some()),
    ];
    let set: Vec<&str> = forms.iter().filter(|f| f.1).map(|f| f.0).collect();
    if set.len() != 1 {
        let msg = if set.is_empty() {
            "a schedule needs exactly one of daily, weekly, monthly, patch_tuesday or cron".to_owned()
        } else {
            format!("a schedule takes exactly one form, this one has {}", set.join(" and "))
        };
        return serr("", msg);
    }
    if s.offset_days.is_some() && s.cron.is_none() {
        return serr(
            "offset_days",
            "`offset_days` at this level goes with `cron`; the other forms carry their own",
        );
    }
    if let Some(d) = &s.daily {
        let (h, m) = at_or_err(&d.at, "daily")?;
        return Ok(WindowSchedule {
            cron: build(&format!("cron({m} {h} * * ? *)"), "daily")?,
            offset_days: 0,
        });
    }
    if let Some(w) = &s.weekly {
        let (h, m) = at_or_err(&w.at, "weekly")?;
        let day = w.day.plus(extra_offset);
        let cron = build(&format!("cron({m} {h} ? * {} *)", day.as_str()), "weekly")?;
        return Ok(WindowSchedule { cron, offset_days: 0 });
    }
    if let Some(p) = &s.patch_tuesday {
        let (h, m) = at_or_err(&p.at, "patch_tuesday")?;
        check_offset(p.offset_days, "patch_tuesday.offset_days")?;
        return nth_with_offset(
            "TUE",
            2,
            p.offset_days + extra_offset,
            "patch_tuesday.offset_days",
            h,
            m,
        );
    }
    if let Some(mo) = &s.monthly {
        let (h, m) = at_or_err(&mo.at, "monthly")?;
        check_offset(mo.offset_days, "monthly.offset_days")?;
        let total = mo.offset_days + extra_offset;
        return match &mo.week {
            Week::Nth(n @ 1..=5) => nth_with_offset(mo.day.as_str(), *n, total, "monthly.offset_days", h, m),
            Week::Nth(n) => serr("monthly.week", format!("week {n} is not 1-5 or `last`")),
            Week::Word(w) if w == "last" => {
                if total >= 7 {
                    return serr(
                        "monthly.offset_days",
                        format!(
                            "`last` + {total} days cannot be encoded: SSM's ScheduleOffset is 1-6 days and there is no week after the last"
                        ),
                    );
                }
                let cron = build(&format!("cron({m} {h} ? * {}L *)", cron_dow_number(mo.day)), "monthly")?;
                Ok(WindowSchedule {
                    cron,
                    offset_days: total as u8,
                })
            }
            Week::Word(w) => serr("monthly.week", format!("week `{w}` is not 1-5 or `last`")),
        };
    }
    let text = s.cron.as_deref().unwrap_or_default();
    let cron = build(text, "cron")?;
    let own = s.offset_days.unwrap_or(0);
    check_offset(own, "offset_days")?;
    let total = own + extra_offset;
    if total < 7 {
        return Ok(WindowSchedule {
            cron,
            offset_days: total as u8,
        });
    }
    match cron.day().clone() {
        DaySpec::Nth { weekday, n } => {
            // Rebuild the expression with the folded week; minute and hour fields are kept verbatim.
            let fields: Vec<&str> = cron.as_str()["cron(".len()..cron.as_str().len() - 1]
                .split(' ')
                .collect();
            let (min_f, hour_f) = (fields[0], fields[1]);
            let weeks = total / 7;
            let folded = i64::from(n) + weeks;
            if folded > 4 {
                return serr(
                    "offset_days",
                    format!("#{n} + {total} days folds into #{folded}, which not every month has"),
                );
            }
            let text = format!(
                "cron({min_f} {hour_f} ? {} {}#{folded} {})",
                fields[3],
                weekday_name(weekday),
                fields[5]
            );
            Ok(WindowSchedule {
                cron: build(&text, "cron")?,
                offset_days: (total % 7) as u8,
            })
        }
        _ => serr(
            "offset_days",
            format!(
                "an offset of {total} days needs a cron whose day-of-week is one `X#n` term to fold into; SSM's ScheduleOffset is 1-6"
            ),
        ),
    }
}

fn check_offset(v: i64, key: &str) -> Result<(), ScheduleError> {
    if (0..=27).contains(&v) {
        Ok(())
    } else {
        serr(key, format!("{v} is outside 0-27 days"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Monthly, PatchTuesday, Weekly};

    fn pt(offset: i64, at: &str) -> Schedule {
        Schedule {
            patch_tuesday: Some(PatchTuesday {
                offset_days: offset,
                at: at.into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sunday_after_patch_tuesday_is_tue2_plus_5() {
        let ws = resolve_schedule(&pt(5, "23:30"), 0).expect("ok");
        assert_eq!(ws.cron.as_str(), "cron(30 23 ? * TUE#2 *)");
        assert_eq!(ws.offset_days, 5);
    }

    #[test]
    fn offsets_of_seven_or_more_fold_into_the_week() {
        let ws = resolve_schedule(&pt(8, "02:00"), 0).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(0 2 ? * TUE#3 *)", 1));
        let ws = resolve_schedule(&pt(12, "02:00"), 2).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(0 2 ? * TUE#4 *)", 0));
        let e = resolve_schedule(&pt(20, "02:00"), 1).expect_err("folds to #5");
        assert!(e.message.contains("TUE#5"), "{}", e.message);
    }

    #[test]
    fn weekly_offsets_shift_the_day_and_last_refuses_long_offsets() {
        let s = Schedule {
            weekly: Some(Weekly {
                day: Day::SAT,
                at: "02:00".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            resolve_schedule(&s, 2).expect("ok").cron.as_str(),
            "cron(0 2 ? * MON *)"
        );
        let m = |week: Week, off| Schedule {
            monthly: Some(Monthly {
                week,
                day: Day::THU,
                offset_days: off,
                at: "01:15".into(),
            }),
            ..Default::default()
        };
        let ws = resolve_schedule(&m(Week::Word("last".into()), 3), 0).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(15 1 ? * 5L *)", 3));
        assert!(resolve_schedule(&m(Week::Word("last".into()), 7), 0).is_err());
        assert!(resolve_schedule(&m(Week::Word("first".into()), 0), 0).is_err());
        assert!(resolve_schedule(&m(Week::Nth(6), 0), 0).is_err());
    }

    #[test]
    fn escape_hatch_cron_folds_nth_and_refuses_other_long_offsets() {
        let s = Schedule {
            cron: Some("cron(0 3 ? * WED#1 *)".into()),
            offset_days: Some(9),
            ..Default::default()
        };
        let ws = resolve_schedule(&s, 0).expect("ok");
        assert_eq!((ws.cron.as_str(), ws.offset_days), ("cron(0 3 ? * WED#2 *)", 2));
        let s = Schedule {
            cron: Some("cron(0 3 ? * WED *)".into()),
            offset_days: Some(7),
            ..Default::default()
        };
        assert!(resolve_schedule(&s, 0).is_err());
    }
}
