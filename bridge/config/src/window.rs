//! A window's schedule as SSM runs it (a cron in the region's zone plus a `ScheduleOffset` of 0-6
//! days) and its next openings: the schedule arithmetic the generator previews (`patchplane
//! schedule`) and the bridge uses to name a node's next window, so the two never disagree.
//!
//! The offset is added to the local date at the same wall-clock time, as SSM does. A wall-clock
//! time that does not exist (spring-forward gap) moves forward by the gap, and one that occurs
//! twice (fall-back) takes the first, which is jiff's "compatible" rule and RFC 5545's.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

use crate::cron::Cron;

/// A window's schedule as SSM receives it: a cron in the region's zone and an offset of 0-6 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSchedule {
    /// The cron expression.
    pub cron: Cron,
    /// `ScheduleOffset`; 0 means none.
    pub offset_days: u8,
}

/// How far ahead a schedule is searched (ten years covers every cron a policy can express that
/// fires at all; one that never fires yields fewer openings than asked, never a hang).
const HORIZON_DAYS: i32 = 3660;

/// Next `count` openings of `ws` in `tz` at or after `from`.
pub fn openings(ws: &WindowSchedule, tz: &TimeZone, from: Timestamp, count: usize) -> Vec<Zoned> {
    let mut out = Vec::new();
    if count == 0 {
        return out;
    }
    let local_from = from.to_zoned(tz.clone()).date();
    // The cron date of an opening is `offset` days before it; start the search early enough.
    let Ok(mut d) = local_from.checked_sub((i64::from(ws.offset_days) + 1).days()) else {
        return out;
    };
    let times = ws.cron.times();
    for _ in 0..HORIZON_DAYS {
        if ws.cron.matches_date(d)
            && let Ok(day) = d.checked_add(i64::from(ws.offset_days).days())
        {
            for &(h, m) in &times {
                let Ok(z) = day.at(h, m, 0, 0).to_zoned(tz.clone()) else {
                    continue;
                };
                if z.timestamp() >= from {
                    out.push(z);
                    if out.len() == count {
                        return out;
                    }
                }
            }
        }
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}
