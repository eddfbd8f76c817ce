//! The closed loop's one decision: given the newest ticket for a correlation key and an event that
//! wants it open (a failure, an active finding) or fixed (a success, a closed finding), what to do.
//! Pure, so the whole table is tested here; the sinks only carry the [`Step`] out (ADR 012).
//!
//! - Every ticket records the time of the newest event applied to it (`correlation_display`). An
//!   event older than that changes nothing, and one of the same time is a redelivery: nothing
//!   either. So events arriving late, twice or out of order never move a ticket backwards, and no
//!   pair of events can make it flip back and forth.
//! - "Open" is New, In Progress or On Hold. A Resolved ticket is reopened by a failure within the
//!   reopen period of its resolution; after that, or once ServiceNow has closed it (Closed tickets
//!   cannot be reopened), a new ticket names the old one.

use jiff::{SignedDuration, Timestamp};
use patchplane_integrations::servicenow::{Incident, state};

/// What the event asks of the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Something is wrong: a ticket should be open.
    Open,
    /// It is fixed: no ticket should stay open.
    Fixed,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Open a ticket (none exists for the key).
    Create,
    /// Open a new ticket that names the previous one (closed, or resolved too long ago).
    CreateAfter {
        /// The previous ticket's number.
        previous: String,
    },
    /// The open ticket gets a work note (a newer event of the same kind).
    Note,
    /// Resolved recently: back to In Progress with a work note.
    Reopen,
    /// Resolve the open ticket.
    Resolve,
    /// Record a fix that has no ticket yet as a resolved ticket, so a late, older failure cannot
    /// open one (findings only: a closed finding before its active event).
    CreateResolved,
    /// Record a newer fix on an already resolved ticket (its time only), so an older failure
    /// delivered after it cannot reopen it.
    Restamp,
    /// Nothing to do, and why (for the log).
    Nothing(&'static str),
}

/// The event time a ticket records, if it records one the bridge can read. The escalation sweep
/// may append its claim after a `|` (see `escalation`); the time is what precedes it.
pub fn stamp(t: &Incident) -> Option<Timestamp> {
    t.correlation_display.split('|').next().unwrap_or_default().parse().ok()
}

/// The step for an event at `at` wanting `want`, given the newest ticket for its key.
/// `record_fixed`: a fix with no ticket is recorded as a resolved ticket.
pub fn decide(
    latest: Option<&Incident>,
    want: Want,
    at: Timestamp,
    reopen_period: SignedDuration,
    record_fixed: bool,
) -> Step {
    let Some(t) = latest else {
        return match want {
            Want::Open => Step::Create,
            Want::Fixed if record_fixed => Step::CreateResolved,
            Want::Fixed => Step::Nothing("no ticket to resolve"),
        };
    };
    let recorded = stamp(t);
    match recorded {
        Some(r) if at < r => return Step::Nothing("older than what the ticket records"),
        Some(r) if at == r => return Step::Nothing("already applied (a redelivery)"),
        _ => {}
    }
    match (t.state.as_str(), want) {
        (s, Want::Open) if state::is_open(s) => Step::Note,
        (s, Want::Fixed) if state::is_open(s) => Step::Resolve,
        (state::RESOLVED, Want::Open) => {
            // The reopen period counts from the resolution (the event time the ticket records).
            let recent = recorded.is_some_and(|r| at.duration_since(r) <= reopen_period);
            if recent {
                Step::Reopen
            } else {
                Step::CreateAfter {
                    previous: t.number.clone(),
                }
            }
        }
        (state::RESOLVED, Want::Fixed) => Step::Restamp,
        (_, Want::Open) => Step::CreateAfter {
            previous: t.number.clone(),
        },
        (_, Want::Fixed) => Step::Nothing("already closed"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ticket(state: &str, at: Option<&str>) -> Incident {
        Incident {
            sys_id: "s1".into(),
            number: "INC0010001".into(),
            correlation_id: "k".into(),
            state: state.into(),
            correlation_display: at.unwrap_or_default().into(),
            due_date: String::new(),
            escalation: String::new(),
            urgency: String::new(),
            assignment_group_name: String::new(),
        }
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    const DAY30: SignedDuration = SignedDuration::from_hours(24 * 30);

    #[test]
    fn the_table() {
        let at = t("2026-11-10T00:00:00Z");
        let before = Some("2026-11-01T00:00:00Z");
        for (state, recorded, want, step) in [
            ("", None, Want::Open, Step::Create),
            ("1", before, Want::Open, Step::Note),
            ("2", before, Want::Fixed, Step::Resolve),
            ("3", None, Want::Fixed, Step::Resolve),
            ("6", before, Want::Open, Step::Reopen),
            ("6", before, Want::Fixed, Step::Restamp),
            (
                "7",
                before,
                Want::Open,
                Step::CreateAfter {
                    previous: "INC0010001".into(),
                },
            ),
            ("7", before, Want::Fixed, Step::Nothing("already closed")),
            (
                "1",
                Some("2026-11-10T00:00:00Z"),
                Want::Open,
                Step::Nothing("already applied (a redelivery)"),
            ),
            (
                "6",
                Some("2026-11-11T00:00:00Z"),
                Want::Open,
                Step::Nothing("older than what the ticket records"),
            ),
            (
                "1",
                Some("2026-11-11T00:00:00Z"),
                Want::Fixed,
                Step::Nothing("older than what the ticket records"),
            ),
        ] {
            let latest = (!state.is_empty()).then(|| ticket(state, recorded));
            assert_eq!(
                decide(latest.as_ref(), want, at, DAY30, false),
                step,
                "{state} {recorded:?} {want:?}"
            );
        }
        assert_eq!(
            decide(None, Want::Fixed, at, DAY30, false),
            Step::Nothing("no ticket to resolve")
        );
        assert_eq!(decide(None, Want::Fixed, at, DAY30, true), Step::CreateResolved);
    }

    #[test]
    fn a_resolution_older_than_the_reopen_period_is_succeeded_not_reopened() {
        let old = ticket("6", Some("2026-09-01T00:00:00Z"));
        assert_eq!(
            decide(Some(&old), Want::Open, t("2026-11-10T00:00:00Z"), DAY30, false),
            Step::CreateAfter {
                previous: "INC0010001".into()
            }
        );
    }

    /// The state a ticket ends in after applying `events` (time, want) in the given order, and
    /// how many tickets were created.
    fn replay(events: &[(i64, Want)], record_fixed: bool) -> (Option<String>, usize) {
        let mut latest: Option<Incident> = None;
        let mut tickets = 0;
        for (secs, want) in events {
            let at = Timestamp::from_second(1_800_000_000 + secs).expect("time");
            let stamp = at.to_string();
            let state = latest.as_ref().map(|t| t.state.clone()).unwrap_or_default();
            match decide(latest.as_ref(), *want, at, DAY30, record_fixed) {
                Step::Create | Step::CreateAfter { .. } => {
                    tickets += 1;
                    latest = Some(ticket("1", Some(&stamp)));
                }
                Step::CreateResolved => {
                    tickets += 1;
                    latest = Some(ticket("6", Some(&stamp)));
                }
                Step::Note | Step::Reopen => latest = Some(ticket("2", Some(&stamp))),
                Step::Resolve => latest = Some(ticket("6", Some(&stamp))),
                Step::Restamp => latest = Some(ticket(&state, Some(&stamp))),
                Step::Nothing(_) => {}
            }
        }
        (latest.map(|t| t.state), tickets)
    }

    /// Events at distinct times (each a failure or a fix), and a delivery of them: every event
    /// at least once, some several times, in any order.
    /// Events, as (time, want).
    type Events = Vec<(i64, Want)>;

    fn deliveries() -> impl Strategy<Value = (Events, Events)> {
        (
            proptest::collection::btree_set(0i64..1_000, 1..8),
            proptest::collection::vec(any::<bool>(), 8),
            0usize..3,
        )
            .prop_flat_map(|(times, fixed, dups)| {
                let events: Vec<(i64, Want)> = times
                    .iter()
                    .zip(&fixed)
                    .map(|(t, f)| (*t, if *f { Want::Fixed } else { Want::Open }))
                    .collect();
                let mut all = events.clone();
                for _ in 0..dups {
                    all.extend(events.iter().copied());
                }
                (Just(events), Just(all).prop_shuffle())
            })
    }

    proptest! {
        /// Whatever the order and duplication of delivery, a finding's ticket ends as the newest
        /// event says: open after a failure, resolved after a fix. Redeliveries add no ticket.
        #[test]
        fn delivery_order_does_not_change_the_final_state((events, delivered) in deliveries()) {
            let newest = events.last().map(|e| e.1);
            let (state, tickets) = replay(&delivered, true);
            match newest {
                Some(Want::Open) => prop_assert!(matches!(state.as_deref(), Some("1" | "2")), "ends open: {state:?}"),
                Some(Want::Fixed) => prop_assert_eq!(state.as_deref(), Some("6")),
                None => {}
            }
            // At most one ticket per distinct event, never one per delivery.
            prop_assert!(tickets <= events.len(), "{tickets} tickets for {} events", events.len());
        }

        /// In order (no reordering), incidents without recorded fixes end right too.
        #[test]
        fn in_order_delivery_with_redeliveries_ends_right((events, _) in deliveries()) {
            let mut delivered = Vec::new();
            for e in &events {
                delivered.push(*e);
                delivered.push(*e);
            }
            let (state, _) = replay(&delivered, false);
            let opened = events.iter().any(|e| e.1 == Want::Open);
            match events.last().map(|e| e.1) {
                Some(Want::Open) => prop_assert!(matches!(state.as_deref(), Some("1" | "2"))),
                Some(Want::Fixed) if opened => prop_assert_eq!(state.as_deref(), Some("6")),
                _ => prop_assert_eq!(state, None),
            }
        }
    }
}
