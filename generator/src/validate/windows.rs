//! `scan:` and `windows:`: the scan's schedule and rate controls, and the duration and cutoff
//! every maintenance window shares.

use super::{Checker, shorten};
use crate::ids::{is_max_concurrency, is_max_errors};
use crate::policy::Policy;

/// Checks `scan` and `windows`.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    c.schedule("scan.schedule", &p.scan.schedule, 0, "");
    for (field, v, ok) in [
        (
            "scan.max_concurrency",
            &p.scan.max_concurrency,
            is_max_concurrency as fn(&str) -> bool,
        ),
        ("scan.max_errors", &p.scan.max_errors, is_max_errors),
    ] {
        if let Some(v) = v
            && !ok(v)
        {
            c.error(
                field,
                format!("`{}` is not a count or a percentage such as \"10%\"", shorten(v)),
            );
        }
    }
    c.range("windows.duration_hours", p.windows.duration_hours, 1, 24, "hours");
    c.range("windows.cutoff_hours", p.windows.cutoff_hours, 0, 23, "hours");
    if p.windows.cutoff_hours >= p.windows.duration_hours && (1..=24).contains(&p.windows.duration_hours) {
        c.error(
            "windows.cutoff_hours",
            format!(
                "cutoff {}h must be less than the {}h duration, or no task could ever start",
                p.windows.cutoff_hours, p.windows.duration_hours
            ),
        );
    }
}
