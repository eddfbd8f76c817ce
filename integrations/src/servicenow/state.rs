//! Incident states (DESIGN §6): `state` is a choice field that the Table API reads and writes as
//! its number in a string (`"6"`). A Resolved incident is still `active=true`: "open" is New, In
//! Progress or On Hold ([`OPEN_QUERY`]), never `active=true`. Only Closed and Canceled are
//! inactive, and a Closed incident cannot be reopened.
//!
//! The string constants ([`NEW`] … [`CANCELED`]) are the same values by their old names, for
//! `match` patterns over a row's `state` string.

use std::fmt;

/// An incident's `state`, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentState {
    /// 1: New.
    New = 1,
    /// 2: In Progress (what a reopen moves a Resolved incident back to).
    InProgress = 2,
    /// 3: On Hold.
    OnHold = 3,
    /// 6: Resolved: still active until it auto-closes (`glide.ui.autoclose.time`).
    Resolved = 6,
    /// 7: Closed: inactive, never reopened.
    Closed = 7,
    /// 8: Canceled: inactive (how a duplicate is closed).
    Canceled = 8,
}

impl IncidentState {
    /// Every state, in ServiceNow's order.
    pub const ALL: [IncidentState; 6] = [
        IncidentState::New,
        IncidentState::InProgress,
        IncidentState::OnHold,
        IncidentState::Resolved,
        IncidentState::Closed,
        IncidentState::Canceled,
    ];

    /// The value the Table API reads and writes (`"6"` for Resolved).
    pub const fn as_str(self) -> &'static str {
        match self {
            IncidentState::New => "1",
            IncidentState::InProgress => "2",
            IncidentState::OnHold => "3",
            IncidentState::Resolved => "6",
            IncidentState::Closed => "7",
            IncidentState::Canceled => "8",
        }
    }

    /// The state a row's `state` value names; `None` for an empty value or a state this
    /// instance added (a custom choice).
    pub fn parse(value: &str) -> Option<IncidentState> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// New, In Progress or On Hold: what "open" means (not `active=true`).
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            IncidentState::New | IncidentState::InProgress | IncidentState::OnHold
        )
    }

    /// ServiceNow's `active`: every state but Closed and Canceled (Resolved is active).
    pub const fn is_active(self) -> bool {
        !matches!(self, IncidentState::Closed | IncidentState::Canceled)
    }

    /// The name ServiceNow shows.
    pub const fn label(self) -> &'static str {
        match self {
            IncidentState::New => "New",
            IncidentState::InProgress => "In Progress",
            IncidentState::OnHold => "On Hold",
            IncidentState::Resolved => "Resolved",
            IncidentState::Closed => "Closed",
            IncidentState::Canceled => "Canceled",
        }
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label(), self.as_str())
    }
}

/// New.
pub const NEW: &str = IncidentState::New.as_str();
/// In Progress (what a reopen moves a Resolved incident back to).
pub const IN_PROGRESS: &str = IncidentState::InProgress.as_str();
/// On Hold.
pub const ON_HOLD: &str = IncidentState::OnHold.as_str();
/// Resolved: still active until it auto-closes.
pub const RESOLVED: &str = IncidentState::Resolved.as_str();
/// Closed: inactive, never reopened.
pub const CLOSED: &str = IncidentState::Closed.as_str();
/// Canceled: inactive.
pub const CANCELED: &str = IncidentState::Canceled.as_str();
/// The encoded-query term for "open" (New, In Progress, On Hold).
pub const OPEN_QUERY: &str = "stateIN1,2,3";

/// Whether the `state` value `s` is an open state.
pub fn is_open(s: &str) -> bool {
    IncidentState::parse(s).is_some_and(IncidentState::is_open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_servicenows_numbers() {
        let numbers: Vec<(IncidentState, u8)> = IncidentState::ALL.iter().map(|&s| (s, s as u8)).collect();
        for (s, n) in numbers {
            assert_eq!(s.as_str(), n.to_string(), "{s:?}");
            assert_eq!(IncidentState::parse(&n.to_string()), Some(s));
        }
        assert_eq!(
            (RESOLVED, CLOSED, CANCELED, NEW, IN_PROGRESS, ON_HOLD),
            ("6", "7", "8", "1", "2", "3")
        );
        assert_eq!(IncidentState::Resolved.to_string(), "Resolved (6)");
    }

    #[test]
    fn unknown_values_are_no_state() {
        for v in ["", "0", "4", "5", "9", "Resolved", "6.0", "-6"] {
            assert_eq!(IncidentState::parse(v), None, "{v}");
            assert!(!is_open(v), "{v}");
        }
        // Values are exact, as ServiceNow sends them.
        assert_eq!(IncidentState::parse(" 2 "), None);
    }

    #[test]
    fn open_is_new_in_progress_or_on_hold_and_resolved_stays_active() {
        let open: Vec<&str> = IncidentState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(IncidentState::as_str)
            .collect();
        assert_eq!(format!("stateIN{}", open.join(",")), OPEN_QUERY);
        assert!(is_open("1") && is_open("2") && is_open("3"));
        assert!(!is_open(RESOLVED) && !is_open(CLOSED) && !is_open(CANCELED));
        assert!(IncidentState::Resolved.is_active() && !IncidentState::Resolved.is_open());
        assert!(!IncidentState::Closed.is_active() && !IncidentState::Canceled.is_active());
    }
}
