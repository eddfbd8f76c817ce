//! The SLA of non-compliance incidents: a node Patch Manager reports `non_compliant` gets an
//! incident (`incident`) with a due date, which the escalation sweep treats as it treats a
//! vulnerability ticket's (issue 28).
//!
//! - **Anchor**: the time of the node's first non-compliance, i.e. the event that opens the
//!   incident (its envelope `time`: when SSM recorded the change). It is the only time every
//!   bridge task agrees on, whichever delivers first; the incident's creation in ServiceNow is
//!   later by the queue's delay, and retries would move it.
//! - **Days**: `tickets.compliance_sla_days` (the generator copies the policy's
//!   `evidence.sla_days`, so `report`'s overdue column and the incident count the same days) for
//!   the event's `severity`, which is the highest severity among the node's missing patches, or
//!   `default` when the event names none (`UNSPECIFIED`, or no `severity` at all).
//! - **Kept**: while the incident is open, a later event about the node never moves the date
//!   later: it only notes the incident. One that asks for an earlier date (a more severe patch
//!   now missing) moves it earlier ([`earlier`]). An older event delivered late changes nothing,
//!   as it changes nothing else (ADR 012): it may belong to a spell already resolved. A reopened
//!   incident (the node was compliant in between) is a new spell of non-compliance: its due date
//!   is set afresh from the event that reopens it, and its escalation cleared, so the sweep
//!   escalates it again.
//! - Association compliance has no SLA (it is not a missing patch) and gets no due date.

use jiff::{SignedDuration, Timestamp};
use patchplane_bridge_config::SlaDays;
use patchplane_integrations::servicenow::Incident;

use super::parse_glide;
use crate::decode::{Decoded, Event};

/// The part of a correlation key that names a node's Patch non-compliance
/// (`account/region/node/compliance/patch`): what the escalation sweep looks for.
pub const KEY_MARKER: &str = "/compliance/patch";

/// A non-compliance incident's due date and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The due date.
    pub at: Timestamp,
    /// Days of the SLA applied.
    pub days: u32,
    /// The severity they are for, as the event said it, or `default`.
    pub severity: String,
}

/// The due date of a Patch non-compliance reported at `at`, under `sla`; `None` for any other
/// event (compliant, Association compliance, not a compliance event).
pub fn due(d: &Decoded, at: Timestamp, sla: &SlaDays) -> Option<Due> {
    let Event::Compliance(c) = &d.event else {
        return None;
    };
    if !c.non_compliant() || !c.compliance_type.eq_ignore_ascii_case("Patch") {
        return None;
    }
    let severity = c
        .severity
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("UNSPECIFIED"))
        .unwrap_or("default")
        .to_owned();
    let days = sla.days(&severity);
    let at = at.checked_add(SignedDuration::from_hours(24 * i64::from(days))).ok()?;
    Some(Due { at, days, severity })
}

/// The due date to write on the open incident `t` for an event asking for `due`: only when it is
/// earlier than the one `t` carries, or `t` carries none (an incident opened before due dates
/// were kept). Never later: a later event must not give the node more time.
pub fn earlier(t: &Incident, due: Timestamp) -> Option<Timestamp> {
    match parse_glide(&t.due_date) {
        Some(recorded) if recorded <= due => None,
        _ => Some(due),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// AWS's sample `Configuration Compliance State Change` (Patch, non_compliant, critical,
    /// 2017-07-17T19:02:31Z), with `detail` fields replaced.
    fn event(changes: &[(&str, Option<&str>)]) -> Decoded {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/events/ssm-compliance-patch-non-compliant.json"
        ))
        .expect("fixture");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        for (k, val) in changes {
            match val {
                Some(val) => v["detail"][*k] = (*val).into(),
                None => {
                    if let Some(d) = v["detail"].as_object_mut() {
                        d.remove(*k);
                    }
                }
            }
        }
        crate::decode::decode(v.to_string().as_bytes()).expect("decodes")
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    /// `{default: 30, critical: 14}`, the example policy's `evidence.sla_days`.
    fn sla() -> SlaDays {
        SlaDays::PerSeverity(BTreeMap::from([
            ("default".to_owned(), 30),
            ("critical".to_owned(), 14),
        ]))
    }

    fn row(due_date: &str) -> Incident {
        Incident {
            sys_id: "s".into(),
            number: "INC0010001".into(),
            correlation_id: "k".into(),
            state: "2".into(),
            correlation_display: String::new(),
            due_date: due_date.into(),
            escalation: String::new(),
            urgency: String::new(),
            assignment_group_name: String::new(),
        }
    }

    #[test]
    fn the_due_date_counts_the_sla_of_the_highest_missing_severity_from_the_event() {
        let at = t("2017-07-17T19:02:31Z");
        let d = due(&event(&[]), at, &sla()).expect("a Patch non-compliance has a due date");
        assert_eq!(
            (d.at, d.days, d.severity.as_str()),
            (t("2017-07-31T19:02:31Z"), 14, "critical")
        );
        for (severity, want) in [
            (Some("MEDIUM"), "2017-08-16T19:02:31Z"),
            (Some("UNSPECIFIED"), "2017-08-16T19:02:31Z"),
            (Some(""), "2017-08-16T19:02:31Z"),
            (None, "2017-08-16T19:02:31Z"),
        ] {
            let d = due(&event(&[("severity", severity)]), at, &sla()).expect("due");
            assert_eq!((d.at, d.days), (t(want), 30), "{severity:?}");
        }
        assert_eq!(
            due(&event(&[]), at, &SlaDays::default()).map(|d| d.at),
            Some(t("2017-07-31T19:02:31Z")),
            "unset: 14 days"
        );
    }

    #[test]
    fn only_a_patch_non_compliance_falls_due() {
        let at = t("2017-07-17T19:02:31Z");
        assert_eq!(
            due(&event(&[("compliance-status", Some("compliant"))]), at, &sla()),
            None
        );
        assert_eq!(
            due(&event(&[("compliance-type", Some("Association"))]), at, &sla()),
            None
        );
        assert!(due(&event(&[("compliance-status", Some("NON_COMPLIANT"))]), at, &sla()).is_some());
    }

    #[test]
    fn a_later_event_never_moves_the_due_date_later_but_an_earlier_one_moves_it_in() {
        let recorded = row("2017-07-31 19:02:31");
        assert_eq!(earlier(&recorded, t("2017-08-16T19:02:31Z")), None, "later: kept");
        assert_eq!(
            earlier(&recorded, t("2017-07-31T19:02:31Z")),
            None,
            "the same: no write"
        );
        assert_eq!(
            earlier(&recorded, t("2017-07-24T00:00:00Z")),
            Some(t("2017-07-24T00:00:00Z")),
            "earlier: moved in"
        );
        assert_eq!(
            earlier(&row(""), t("2017-08-16T19:02:31Z")),
            Some(t("2017-08-16T19:02:31Z")),
            "none yet: set"
        );
    }
}
