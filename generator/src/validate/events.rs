//! `events:`: the sources members forward to the central bus.

use super::Checker;
use crate::policy::Policy;

/// Checks `events.forward`: each source once.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    let mut seen = Vec::new();
    for (i, s) in p.events.forward.iter().enumerate() {
        if seen.contains(s) {
            c.error(
                format!("events.forward[{i}]"),
                format!("`{}` is listed twice", s.as_str()),
            );
        }
        seen.push(*s);
    }
}
