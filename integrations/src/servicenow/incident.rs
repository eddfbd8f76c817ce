//! The incident as the bridge reads it, what it opens, and what an upsert did.
//!
//! Every value of a Table API row is a string (`"state": "6"`). The client asks with
//! `sysparm_exclude_reference_link=true`, so a reference field is its sys_id as a string; a row
//! read without it (`{"link": …, "value": "<sys_id>"}`, or `""` when empty), a `null` or a bare
//! number reads the same way here rather than failing the whole answer.

use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

use super::state::{self, IncidentState};

/// An incident as the bridge needs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Incident {
    /// Row id.
    #[serde(deserialize_with = "text")]
    pub sys_id: String,
    /// `INC…`.
    #[serde(deserialize_with = "text")]
    pub number: String,
    /// The correlation key.
    #[serde(default, deserialize_with = "text")]
    pub correlation_id: String,
    /// `state`: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled
    /// ([`IncidentState::parse`] names it; [`Incident::state`]).
    #[serde(default, deserialize_with = "text")]
    pub state: String,
    /// `correlation_display`: patchplane keeps there the time of the newest event applied to
    /// the row (RFC 3339), so an older event never moves it backwards.
    #[serde(default, deserialize_with = "text")]
    pub correlation_display: String,
    /// `due_date` (`YYYY-MM-DD HH:MM:SS`, UTC), for vulnerability tickets.
    #[serde(default, deserialize_with = "text")]
    pub due_date: String,
    /// `escalation` (task field: 0 Normal, 1 Moderate, 2 High, 3 Overdue): the escalation stage
    /// the sweep recorded.
    #[serde(default, deserialize_with = "text")]
    pub escalation: String,
    /// `urgency`, 1 (high) – 3 (low).
    #[serde(default, deserialize_with = "text")]
    pub urgency: String,
    /// The assignment group's name (`assignment_group.name`, dot-walked), to tell its owner.
    #[serde(default, rename = "assignment_group.name", deserialize_with = "text")]
    pub assignment_group_name: String,
}

impl Incident {
    /// New, In Progress or On Hold.
    pub fn is_open(&self) -> bool {
        state::is_open(&self.state)
    }

    /// The row's state by name; `None` for a value that names no known state.
    pub fn state(&self) -> Option<IncidentState> {
        IncidentState::parse(&self.state)
    }
}

/// A field's value as text: a string as it is, a reference `{"link", "value"}` (or a
/// `{"display_value", "value"}` pair) as its `value`, `null` as empty, a number or boolean as
/// written.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::String(s) => s,
        Json::Null => String::new(),
        Json::Object(mut o) => match o.remove("value") {
            Some(Json::String(s)) => s,
            Some(Json::Null) | None => String::new(),
            Some(other) => other.to_string(),
        },
        other => other.to_string(),
    })
}

/// What to open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIncident {
    /// One line.
    pub short_description: String,
    /// Details.
    pub description: String,
    /// 1 (high) – 3 (low).
    pub urgency: u8,
    /// 1 (high) – 3 (low).
    pub impact: u8,
    /// Assignment group, when known.
    pub assignment_group: Option<String>,
}

/// What [`super::Client::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    /// A new incident.
    Created(Incident),
    /// An open incident with the key got a work note.
    Updated(Incident),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_read_as_the_table_api_sends_them() {
        let row: Incident = serde_json::from_value(json!({
            "sys_id": "a1b2", "number": "INC0010001", "correlation_id": "k",
            "state": "6", "correlation_display": "2026-10-01T00:00:00Z", "due_date": "",
            "escalation": "0", "urgency": "2", "assignment_group.name": "Payments",
            "unasked": "ignored"
        }))
        .expect("a row");
        assert_eq!(
            (
                row.number.as_str(),
                row.state(),
                row.is_open(),
                row.assignment_group_name.as_str()
            ),
            ("INC0010001", Some(IncidentState::Resolved), false, "Payments")
        );
        let sparse: Incident = serde_json::from_value(json!({"sys_id": "s", "number": "INC1"})).expect("defaults");
        assert_eq!((sparse.state.as_str(), sparse.state()), ("", None));
        assert!(
            serde_json::from_value::<Incident>(json!({"number": "INC1"})).is_err(),
            "sys_id is required"
        );
    }

    #[test]
    fn reference_fields_read_as_their_value() {
        let row: Incident = serde_json::from_value(json!({
            "sys_id": "s", "number": "INC1",
            "correlation_id": {"link": "https://x.service-now.com/api/now/table/x/abc", "value": "abc"},
            "due_date": "", "escalation": null, "urgency": 2,
            "state": {"display_value": "In Progress", "value": "2"},
            "assignment_group.name": {"link": "https://x"}
        }))
        .expect("lenient");
        assert_eq!(row.correlation_id, "abc");
        assert_eq!(
            (row.due_date.as_str(), row.escalation.as_str(), row.urgency.as_str()),
            ("", "", "2")
        );
        assert_eq!(row.state(), Some(IncidentState::InProgress));
        assert!(row.is_open());
        assert_eq!(row.assignment_group_name, "");
    }
}
