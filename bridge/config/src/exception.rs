//! `exceptions:` of the policy: nodes or patches left unpatched on purpose, each approved, with a
//! ticket, an optional start and an expiry. The report marks excepted nodes, the bridge opens
//! nothing for them and reminds the approver and the owners before they expire, the baselines
//! reject excepted patches; `validate` checks them.
//!
//! Every question "does it hold on this day?" goes through [`Exception::holds_on`], so the report,
//! the bridge's suppression and `patchplane schedule` agree on the start and the expiry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One approved exception. It covers nodes (by id, or every node carrying all of `tags`), or
/// patches (by id; on the selected nodes only, or everywhere when no node is selected).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// A unique id (`EXC-2026-014`).
    pub id: String,
    /// Node ids it covers.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Nodes carrying every one of these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Patch ids it covers (`KB5034441`, `kernel-6.1.*`); empty: every patch of the nodes.
    #[serde(default)]
    pub patches: Vec<String>,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approver: String,
    /// The change or risk ticket (`CHG0031234`).
    pub ticket: String,
    /// The first day it holds, `YYYY-MM-DD`; without it, it holds from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<String>,
    /// The last day it holds, `YYYY-MM-DD`.
    pub expires: String,
}

/// Days before an exception's expiry that `validate` warns and the bridge sends the approver and
/// the owners their first notice.
pub const EXPIRY_NOTICE_DAYS: i16 = 14;

impl Exception {
    /// The expiry date, when it parses (validation refuses one that does not).
    pub fn expiry(&self) -> Option<jiff::civil::Date> {
        self.expires.parse().ok()
    }

    /// The start date, when there is one and it parses (validation refuses one that does not).
    pub fn start(&self) -> Option<jiff::civil::Date> {
        self.starts.as_deref().and_then(|s| s.parse().ok())
    }

    /// Whether it holds on `day`: from `starts` (inclusive; from the start without one) through
    /// `expires` (inclusive). A date that does not parse holds on no day.
    pub fn holds_on(&self, day: jiff::civil::Date) -> bool {
        let started = self.starts.is_none() || self.start().is_some_and(|s| s <= day);
        started && self.expiry().is_some_and(|e| day <= e)
    }

    /// Whether it selects nodes (else it covers patches everywhere).
    pub fn selects_nodes(&self) -> bool {
        !self.nodes.is_empty() || !self.tags.is_empty()
    }

    /// Whether it covers `node` with `tags`.
    pub fn covers_node(&self, node: &str, tags: &BTreeMap<String, String>) -> bool {
        self.nodes.iter().any(|n| n == node)
            || (!self.tags.is_empty() && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v)))
    }
}

/// The patches every baseline rejects because of exceptions that cover patches everywhere.
pub fn everywhere(exceptions: &[Exception]) -> Vec<String> {
    let mut out: Vec<String> = exceptions
        .iter()
        .filter(|e| !e.selects_nodes())
        .flat_map(|e| e.patches.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Checks the dates of `exceptions` in `bridge.yaml` (the policy's `validate` checks the rest):
/// each parses, and none starts after it expires.
pub fn check_dates(exceptions: &[Exception], out: &mut Vec<crate::diag::Finding>) {
    for (i, e) in exceptions.iter().enumerate() {
        for (field, message) in date_problems(e) {
            out.push(crate::settings::error(&format!("exceptions[{i}].{field}"), message));
        }
    }
}

/// What is wrong with the dates of `e`, as (field, message): a date that does not parse, a start
/// after the expiry. Both programs report these the same way.
pub fn date_problems(e: &Exception) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let start = e.start();
    if let (None, Some(s)) = (start, &e.starts) {
        out.push(("starts", format!("`{}` is not a date YYYY-MM-DD", excerpt(s))));
    }
    match (e.expiry(), start) {
        (None, _) => out.push(("expires", format!("`{}` is not a date YYYY-MM-DD", excerpt(&e.expires)))),
        (Some(end), Some(start)) if start > end => out.push((
            "starts",
            format!("{} starts on {start}, after it expires on {end}", e.id),
        )),
        _ => {}
    }
    out
}

/// At most 40 characters of a value, for a message.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exception(starts: Option<&str>, expires: &str) -> Exception {
        Exception {
            id: "EXC-2026-014".into(),
            nodes: vec!["i-0123456789abcdef0".into()],
            tags: BTreeMap::new(),
            patches: Vec::new(),
            reason: "audit freeze".into(),
            approver: "ciso@acme.example".into(),
            ticket: "CHG0031234".into(),
            starts: starts.map(str::to_owned),
            expires: expires.into(),
        }
    }

    fn day(s: &str) -> jiff::civil::Date {
        s.parse().expect("date")
    }

    #[test]
    fn it_holds_from_its_start_through_its_expiry_both_inclusive() {
        let e = exception(Some("2026-12-01"), "2026-12-21");
        assert!(!e.holds_on(day("2026-11-30")));
        assert!(e.holds_on(day("2026-12-01")));
        assert!(e.holds_on(day("2026-12-21")));
        assert!(!e.holds_on(day("2026-12-22")));
        let open = exception(None, "2026-12-21");
        assert!(open.holds_on(day("2020-01-01")), "no start: from the start");
        assert!(!exception(Some("1 December"), "2026-12-21").holds_on(day("2026-12-10")));
    }

    #[test]
    fn dates_that_do_not_parse_or_start_after_the_expiry_are_problems() {
        assert!(date_problems(&exception(Some("2026-12-21"), "2026-12-21")).is_empty());
        assert_eq!(
            date_problems(&exception(Some("2026-12-22"), "2026-12-21")),
            vec![(
                "starts",
                "EXC-2026-014 starts on 2026-12-22, after it expires on 2026-12-21".to_owned()
            )]
        );
        assert_eq!(
            date_problems(&exception(Some("soon"), "never")),
            vec![
                ("starts", "`soon` is not a date YYYY-MM-DD".to_owned()),
                ("expires", "`never` is not a date YYYY-MM-DD".to_owned())
            ]
        );
    }

    #[test]
    fn a_start_is_written_only_when_there_is_one() {
        let text = serde_json::to_string(&exception(None, "2026-12-21")).expect("json");
        assert!(!text.contains("starts"), "{text}");
        let back: Exception =
            serde_json::from_str(&serde_json::to_string(&exception(Some("2026-12-01"), "2026-12-21")).expect("json"))
                .expect("parses");
        assert_eq!(back.starts.as_deref(), Some("2026-12-01"));
    }
}
