//! `exceptions:`: ids, what each covers, who approved it, and its dates as of a day. An expired
//! exception is a warning, not an error: it no longer applies by itself, and failing the policy
//! would fail every unrelated release until someone removed it (`validate --strict` fails on
//! warnings for a pipeline that wants that).

use std::collections::BTreeSet;

use super::{Checker, shorten};
use crate::ids::{EXCEPTION_ID, is_node_id};
use crate::policy::Policy;

/// Days before an exception's expiry that `validate` starts warning (the day the bridge sends
/// the approver and the owners their first notice).
pub const EXPIRY_WARNING_DAYS: i64 = crate::exception::EXPIRY_NOTICE_DAYS as i64;

/// Checks `exceptions` as of `today`: dates that do not parse or a start after the expiry are
/// errors; expired ones, and those expiring within [`EXPIRY_WARNING_DAYS`], warnings.
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
        let problems = crate::exception::date_problems(e);
        for (field, message) in &problems {
            c.error(at(field), message.clone());
        }
        match e.expiry() {
            Some(end) if problems.is_empty() && end < today => c.warn(
                at("expires"),
                format!("{} expired on {end}; it no longer applies; remove it or renew it", e.id),
            ),
            Some(end) if problems.is_empty() => {
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
            _ => {}
        }
    }
    // Every install reads the node-selecting exceptions from one SSM parameter (ADR 026).
    let published = crate::model::published_exceptions(&p.exceptions).len();
    if published > crate::model::PUBLISHED_EXCEPTIONS_LIMIT {
        c.error(
            "exceptions".to_owned(),
            format!(
                "the exceptions that select nodes take {published} bytes as the SSM parameter every install reads; \
                 SSM holds at most {} (select nodes by tags rather than listing ids, or drop expired ones)",
                crate::model::PUBLISHED_EXCEPTIONS_LIMIT
            ),
        );
    }
}
