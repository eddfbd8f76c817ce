//! `exceptions:`: ids, what each covers, who approved it, and its expiry as of a day.

use std::collections::BTreeSet;

use super::{Checker, shorten};
use crate::ids::{EXCEPTION_ID, is_node_id};
use crate::policy::Policy;

/// Days before an exception's expiry that `validate` starts warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Checks `exceptions` as of `today`: expired ones are errors, those expiring within
/// [`EXPIRY_WARNING_DAYS`] warnings.
pub(super) fn check(c: &mut Checker, p: &Policy, today: jiff::civil::Date) {
    let mut ids = BTreeSet::new();
    for (i, e) in p.exceptions.iter().enumerate() {
        let at = |f: &str| format!("exceptions[{i}].{f}");
        c.name(&at("id"), &e.id, &EXCEPTION_ID);
        if !ids.insert(e.id.as_str()) {
            c.error(at("id"), format!("`{}` is used twice", shorten(&e.id)));
        }
        if !e.selects_nodes() && e.patches.is_empty() {
            c.error(
                format!("exceptions[{i}]"),
                "name `nodes`, `tags` or `patches`: what it covers",
            );
        }
        for (j, n) in e.nodes.iter().enumerate() {
            if !is_node_id(n) {
                c.error(
                    format!("exceptions[{i}].nodes[{j}]"),
                    format!("`{}` is not a node id (i-… or mi-…)", shorten(n)),
                );
            }
        }
        for (j, patch) in e.patches.iter().enumerate() {
            c.no_controls(&format!("exceptions[{i}].patches[{j}]"), patch, 100);
        }
        for (f, v) in [("reason", &e.reason), ("approver", &e.approver), ("ticket", &e.ticket)] {
            c.no_controls(&at(f), v, 512);
        }
        match e.expiry() {
            None => c.error(
                at("expires"),
                format!("`{}` is not a date YYYY-MM-DD", shorten(&e.expires)),
            ),
            Some(end) if end < today => c.error(
                at("expires"),
                format!(
                    "exception {} expired on {end}: remove it, or renew it with a new approval",
                    e.id
                ),
            ),
            Some(end) => {
                let left = today.until(end).map(|s| s.get_days()).unwrap_or(i32::MAX);
                if i64::from(left) <= EXPIRY_WARNING_DAYS {
                    c.warn(
                        at("expires"),
                        format!(
                            "exception {} expires on {end}, in {left} day(s): renew or remove it",
                            e.id
                        ),
                    );
                }
            }
        }
    }
}
