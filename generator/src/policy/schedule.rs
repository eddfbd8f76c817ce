//! A schedule in local time (`daily`, `weekly`, `monthly`, `patch_tuesday` or `cron`), shared by
//! rings, the scan and team windows; [`crate::resolve`] turns it into what SSM runs.

use serde::{Deserialize, Serialize};

/// A schedule: exactly one of `daily`, `weekly`, `monthly`, `patch_tuesday` or `cron`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Every day at a local time.
    #[serde(default)]
    pub daily: Option<Daily>,
    /// Every week on one day.
    #[serde(default)]
    pub weekly: Option<Weekly>,
    /// The nth (or last) weekday of every month, plus an offset in days.
    #[serde(default)]
    pub monthly: Option<Monthly>,
    /// Microsoft's Patch Tuesday (second Tuesday) plus an offset in days.
    #[serde(default)]
    pub patch_tuesday: Option<PatchTuesday>,
    /// Escape hatch: a maintenance-window `cron(...)` expression, still validated.
    #[serde(default)]
    pub cron: Option<String>,
    /// Days after the `cron` date (only with `cron`).
    #[serde(default)]
    pub offset_days: Option<i64>,
}

/// `{daily: {at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Daily {
    /// Local time `HH:MM`.
    pub at: String,
}

/// `{weekly: {day, at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    /// `MON` … `SUN`.
    pub day: Day,
    /// Local time `HH:MM`.
    pub at: String,
}

/// `{monthly: {week, day, offset_days, at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Monthly {
    /// `1`-`5` or `last`.
    pub week: Week,
    /// `MON` … `SUN`.
    pub day: Day,
    /// Days after that weekday.
    #[serde(default)]
    pub offset_days: i64,
    /// Local time `HH:MM`.
    pub at: String,
}

/// `{patch_tuesday: {offset_days, at}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatchTuesday {
    /// Days after the second Tuesday (5 = the Sunday after Patch Tuesday).
    #[serde(default)]
    pub offset_days: i64,
    /// Local time `HH:MM`.
    pub at: String,
}

/// Week of the month in a `monthly` schedule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Week {
    /// `1`-`5`.
    Nth(i64),
    /// `last` (any other word is rejected by validation).
    Word(String),
}

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[allow(missing_docs)]
pub enum Day {
    MON,
    TUE,
    WED,
    THU,
    FRI,
    SAT,
    SUN,
}

impl Day {
    /// Days since Monday (MON = 0).
    pub fn index_from_monday(self) -> i64 {
        self as i64
    }

    /// The day `n` days later.
    pub fn plus(self, n: i64) -> Day {
        const ALL: [Day; 7] = [Day::MON, Day::TUE, Day::WED, Day::THU, Day::FRI, Day::SAT, Day::SUN];
        ALL[(self.index_from_monday() + n).rem_euclid(7) as usize]
    }

    /// The three-letter name used in cron.
    pub fn as_str(self) -> &'static str {
        match self {
            Day::MON => "MON",
            Day::TUE => "TUE",
            Day::WED => "WED",
            Day::THU => "THU",
            Day::FRI => "FRI",
            Day::SAT => "SAT",
            Day::SUN => "SUN",
        }
    }
}
