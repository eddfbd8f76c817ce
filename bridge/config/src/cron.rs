//! Maintenance-window cron expressions: parse, validate, print and evaluate.
//!
//! The model never builds a cron as a free string: it writes the text and parses it back with
//! [`Cron::parse`], and `patchplane schedule` evaluates the parsed value. The same parser reads the
//! `cron:` escape hatch of the policy and, in tests, the `Schedule` of rendered templates, so the
//! preview, the template and the policy are one thing seen three ways.
//!
//! Syntax (AWS Systems Manager, DESIGN §4): `cron(min hour dom month dow year)`, with an optional
//! leading seconds field that must be `0`. Exactly one of day-of-month and day-of-week is `?`.
//! Day-of-week is `1-7` (SUN = 1) or `SUN`-`SAT`, with `X#n` (nth weekday, one term only) and
//! `XL` (last weekday). Day-of-month may be `L`. `W` is refused: patchplane could not preview it.

use std::fmt;

use jiff::civil::{Date, Weekday};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    months: u16,
    day: DaySpec,
    years: Vec<(u16, u16, u16)>,
}

/// Which days of a month match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaySpec {
    /// Day-of-month set (bit n = day n); `last` adds the month's last day.
    MonthDays {
        /// Bits 1-31.
        mask: u32,
        /// `L`.
        last: bool,
    },
    /// Day-of-week set (bit 0 = Sunday … bit 6 = Saturday).
    Weekdays(u8),
    /// `X#n`: the nth weekday X of the month.
    Nth {
        /// The weekday.
        weekday: Weekday,
        /// 1-5.
        n: u8,
    },
    /// `XL`: the last weekday X of the month.
    Last(Weekday),
}

/// Why a cron expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, CronError> {
    Err(CronError(msg.into()))
}

const DOW_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Parses one numeric or named value of a field.
fn value(tok: &str, min: u32, max: u32, names: &[&str], field: &str) -> Result<u32, CronError> {
    if let Some(pos) = names.iter().position(|n| n.eq_ignore_ascii_case(tok)) {
        return Ok(min + pos as u32);
    }
    match tok.parse::<u32>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        Ok(v) => err(format!("{field} value {v} is outside {min}-{max}")),
        Err(_) => err(format!(
            "{field} value `{tok}` is not a number{}",
            if names.is_empty() { "" } else { " or a name" }
        )),
    }
}

/// Parses a list field (`*`, `a`, `a-b`, `*/s`, `a/s`, `a-b/s`, comma-separated) into the set of
/// matching values.
fn list(text: &str, min: u32, max: u32, names: &[&str], field: &str) -> Result<Vec<u32>, CronError> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step = s.parse::<u32>().ok().filter(|s| *s > 0);
                match step {
                    Some(step) => (r, step),
                    None => return err(format!("{field} step `{s}` must be a positive number")),
                }
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a, min, max, names, field)?, value(b, min, max, names, field)?);
            if a > b {
                return err(format!("{field} range `{range}` runs backwards"));
            }
            (a, b)
        } else {
            let a = value(range, min, max, names, field)?;
            // `a/s` means from a to the end of the field.
            (a, if item.contains('/') { max } else { a })
        };
        out.extend((lo..=hi).step_by(step as usize));
    }
    if out.is_empty() {
        return err(format!("{field} matches nothing"));
    }
    Ok(out)
}

fn weekday_from_cron(v: u32) -> Weekday {
    // cron: 1 = SUN … 7 = SAT.
    match v {
        1 => Weekday::Sunday,
        2 => Weekday::Monday,
        3 => Weekday::Tuesday,
        4 => Weekday::Wednesday,
        5 => Weekday::Thursday,
        6 => Weekday::Friday,
        _ => Weekday::Saturday,
    }
}

/// Three-letter cron name of a weekday.
pub fn weekday_name(w: Weekday) -> &'static str {
    DOW_NAMES[w.to_sunday_zero_offset() as usize]
}

impl Cron {
    /// Parses `cron(...)`.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let inner = match text.trim().strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
            Some(i) => i,
            None if text.trim().starts_with("rate(") => {
                return err("rate() expressions cannot be anchored to a local time; use cron(...)");
            }
            None => {
                return err(format!(
                    "`{text}` is not of the form cron(min hour day-of-month month day-of-week year)"
                ));
            }
        };
        let mut fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() == 7 {
            if fields[0] != "0" {
                return err("the seconds field must be 0: maintenance windows open on whole minutes");
            }
            fields.remove(0);
        }
        if fields.len() != 6 {
            return err(format!(
                "a cron expression has 6 fields (min hour day-of-month month day-of-week year), this one has {}",
                fields.len()
            ));
        }
        let (min_f, hour_f, dom_f, month_f, dow_f, year_f) =
            (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);

        let mut minutes = 0u64;
        for m in list(min_f, 0, 59, &[], "minute")? {
            minutes |= 1 << m;
        }
        let mut hours = 0u32;
        for h in list(hour_f, 0, 23, &[], "hour")? {
            hours |= 1 << h;
        }
        let mut months = 0u16;
        for m in list(month_f, 1, 12, &MONTH_NAMES, "month")? {
            months |= 1 << m;
        }
        let day = match (dom_f == "?", dow_f == "?") {
            (true, true) => return err("day-of-month and day-of-week cannot both be `?`"),
            (false, false) => {
                return err("one of day-of-month and day-of-week must be `?` (SSM does not combine them)");
            }
            (false, true) => parse_dom(dom_f)?,
            (true, false) => parse_dow(dow_f)?,
        };
        let years = if year_f == "*" {
            Vec::new()
        } else {
            let mut ys = Vec::new();
            for item in year_f.split(',') {
                let set = list(item, 1970, 2199, &[], "year")?;
                let (lo, hi) = (set[0], *set.last().unwrap_or(&set[0]));
                let step = if set.len() > 1 { set[1] - set[0] } else { 1 };
                ys.push((lo as u16, hi as u16, step as u16));
            }
            ys
        };
        Ok(Cron {
            text: format!("cron({})", fields.join(" ")),
            minutes,
            hours,
            months,
            day,
            years,
        })
    }

    /// The expression as SSM receives it (seconds field dropped).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The day rule.
    pub fn day(&self) -> &DaySpec {
        &self.day
    }

    /// Whether any time of `date` matches.
    pub fn matches_date(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 || !self.year_matches(date.year()) {
            return false;
        }
        let dom = date.day() as u32;
        let last_day = date.days_in_month() as u32;
        match &self.day {
            DaySpec::MonthDays { mask, last } => mask & (1 << dom) != 0 || (*last && dom == last_day),
            DaySpec::Weekdays(mask) => mask & (1 << date.weekday().to_sunday_zero_offset()) != 0,
            DaySpec::Nth { weekday, n } => date.weekday() == *weekday && (dom - 1) / 7 + 1 == u32::from(*n),
            DaySpec::Last(weekday) => date.weekday() == *weekday && dom + 7 > last_day,
        }
    }

    fn year_matches(&self, year: i16) -> bool {
        if self.years.is_empty() {
            return true;
        }
        let y = year as u16;
        self.years
            .iter()
            .any(|&(lo, hi, step)| y >= lo && y <= hi && (y - lo).is_multiple_of(step))
    }

    /// Times of day (hour, minute) that match, in order.
    pub fn times(&self) -> Vec<(i8, i8)> {
        let mut out = Vec::new();
        for h in 0..24 {
            if self.hours & (1 << h) != 0 {
                for m in 0..60 {
                    if self.minutes & (1 << m) != 0 {
                        out.push((h as i8, m as i8));
                    }
                }
            }
        }
        out
    }

    /// The matching dates from `start` on, at most `limit` of them, searching at most `horizon_days`.
    pub fn dates_from(&self, start: Date, limit: usize, horizon_days: i32) -> Vec<Date> {
        let mut out = Vec::new();
        let mut d = start;
        for _ in 0..horizon_days {
            if out.len() >= limit {
                break;
            }
            if self.matches_date(d) {
                out.push(d);
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        out
    }
}

fn parse_dom(f: &str) -> Result<DaySpec, CronError> {
    if f.contains('W') {
        return err("`W` (nearest weekday) is not supported: patchplane could not preview it");
    }
    if f.contains('#') {
        return err("`#` belongs in day-of-week, not day-of-month");
    }
    let mut mask = 0u32;
    let mut last = false;
    for item in f.split(',') {
        if item == "L" {
            last = true;
        } else {
            for d in list(item, 1, 31, &[], "day-of-month")? {
                mask |= 1 << d;
            }
        }
    }
    Ok(DaySpec::MonthDays { mask, last })
}

fn parse_dow(f: &str) -> Result<DaySpec, CronError> {
    if f.matches('#').count() > 1 || (f.contains('#') && f.contains(',')) {
        return err("day-of-week allows one `X#n` term at most, alone");
    }
    if let Some((d, n)) = f.split_once('#') {
        let w = weekday_from_cron(value(d, 1, 7, &DOW_NAMES, "day-of-week")?);
        return match n.parse::<u8>() {
            Ok(n @ 1..=5) => Ok(DaySpec::Nth { weekday: w, n }),
            _ => err(format!("`#{n}` must be #1 to #5")),
        };
    }
    if let Some(d) = f.strip_suffix('L')
        && !d.is_empty()
        && !f.contains(',')
    {
        let w = weekday_from_cron(value(d, 1, 7, &DOW_NAMES, "day-of-week")?);
        return Ok(DaySpec::Last(w));
    }
    if f.contains('L') {
        return err("`L` in day-of-week must follow one day, as in `5L` or `THUL`");
    }
    let mut mask = 0u8;
    for v in list(f, 1, 7, &DOW_NAMES, "day-of-week")? {
        mask |= 1 << (v - 1);
    }
    Ok(DaySpec::Weekdays(mask))
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn second_tuesday() {
        let c = Cron::parse("cron(30 23 ? * TUE#2 *)").expect("valid");
        let ds = c.dates_from(date(2026, 1, 1), 3, 400);
        assert_eq!(ds, vec![date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10)]);
        assert_eq!(c.times(), vec![(23, 30)]);
    }

    #[test]
    fn seconds_field_is_dropped_and_the_seed_cron_is_third_tuesday() {
        // The design seed wrote this for "Sunday after Patch Tuesday": it is the third Tuesday.
        let c = Cron::parse("cron(0 30 23 ? * TUE#3 *)").expect("valid");
        assert_eq!(c.as_str(), "cron(30 23 ? * TUE#3 *)");
        assert_eq!(c.dates_from(date(2026, 12, 1), 1, 40), vec![date(2026, 12, 15)]);
    }

    #[test]
    fn last_weekday_numeric_weekdays_and_month_days() {
        let c = Cron::parse("cron(0 2 ? * 5L *)").expect("valid");
        assert_eq!(c.dates_from(date(2026, 11, 1), 1, 40), vec![date(2026, 11, 26)]);
        let c = Cron::parse("cron(0 2 ? * 2-6 *)").expect("valid");
        assert_eq!(
            c.dates_from(date(2026, 11, 21), 2, 10),
            vec![date(2026, 11, 23), date(2026, 11, 24)]
        );
        let c = Cron::parse("cron(0 2 L * ? *)").expect("valid");
        assert_eq!(c.dates_from(date(2026, 2, 1), 1, 40), vec![date(2026, 2, 28)]);
        let c = Cron::parse("cron(0/30 1-2 1,15 JAN-MAR ? 2027)").expect("valid");
        assert_eq!(c.times(), vec![(1, 0), (1, 30), (2, 0), (2, 30)]);
        assert_eq!(
            c.dates_from(date(2026, 1, 1), 2, 800),
            vec![date(2027, 1, 1), date(2027, 1, 15)]
        );
    }

    #[test]
    fn refuses_what_ssm_or_the_preview_cannot_do() {
        for (bad, needle) in [
            ("cron(0 2 * * TUE *)", "must be `?`"),
            ("cron(0 2 ? * ? *)", "both be `?`"),
            ("cron(0 2 ? * TUE#2,WED#2 *)", "one `X#n`"),
            ("cron(0 2 ? * TUE#6 *)", "#1 to #5"),
            ("cron(0 24 ? * TUE *)", "hour value 24"),
            ("cron(60 2 ? * TUE *)", "minute value 60"),
            ("cron(0 2 15W * ? *)", "`W`"),
            ("cron(0 2 ? * TUE)", "6 fields"),
            ("cron(5 0 2 ? * TUE *)", "seconds"),
            ("rate(1 day)", "rate()"),
            ("0 2 ? * TUE *", "not of the form"),
            ("cron(0 2 ? * FUNDAY *)", "not a number or a name"),
            ("cron(0 5-2 ? * TUE *)", "backwards"),
            ("cron(0 2/0 ? * TUE *)", "step"),
        ] {
            let e = Cron::parse(bad).expect_err(bad);
            assert!(e.0.contains(needle), "{bad}: {e}");
        }
    }
}
