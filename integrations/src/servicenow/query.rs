//! Encoded queries (`sysparm_query`) and the fields asked for, as pure functions. Names and values
//! are case-sensitive; `^` separates terms, so a `^` inside a value is doubled ([`query_value`]);
//! a comma cannot be escaped inside an `IN` list, so the readers ask a key with one alone.

use super::state::{self, IncidentState};

/// The fields [`super::Incident`] reads, as a literal (for `FIELDS` and `WRITE_FIELDS`).
macro_rules! fields {
    () => {
        "sys_id,number,correlation_id,state,correlation_display,due_date,escalation,urgency,assignment_group.name"
    };
}

/// The fields every read asks for.
pub(super) const FIELDS: &str = fields!();

/// The query of every write: the answer carries only the fields [`super::Incident`] reads (the Table
/// API takes `sysparm_fields` on `POST` and `PATCH` too), not the whole row.
pub(super) const WRITE_FIELDS: &str = concat!("?sysparm_fields=", fields!(), "&sysparm_exclude_reference_link=true");

/// Escapes a value for an encoded query: `^` separates terms, `^^` is a literal caret.
pub fn query_value(v: &str) -> String {
    v.replace('^', "^^")
}

/// How many rows per key [`super::Client::latest_with_keys`] asks for (one key's single lookup asks 5).
pub(super) const LATEST_PER_KEY: usize = 5;

/// The values of an `IN` term: escaped, comma-separated (the caller keeps commas out of them).
pub(super) fn in_list(keys: &[&String]) -> String {
    keys.iter().map(|k| query_value(k)).collect::<Vec<_>>().join(",")
}

/// The open incidents of `key`, oldest first.
pub(super) fn open_with_key(key: &str) -> String {
    format!(
        "correlation_id={}^{}^ORDERBYsys_created_on^ORDERBYnumber",
        query_value(key),
        state::OPEN_QUERY
    )
}

/// The rows of `key` but canceled duplicates, newest first.
pub(super) fn latest_with_key(key: &str) -> String {
    format!(
        "correlation_id={}^state!={}^ORDERBYDESCsys_created_on^ORDERBYDESCnumber",
        query_value(key),
        IncidentState::Canceled.as_str()
    )
}

/// [`latest_with_key`] for several keys (none with a comma).
pub(super) fn latest_with_keys(keys: &[&String]) -> String {
    format!(
        "correlation_idIN{}^state!={}^ORDERBYDESCsys_created_on^ORDERBYDESCnumber",
        in_list(keys),
        IncidentState::Canceled.as_str()
    )
}

/// [`open_with_key`] for several keys (none with a comma).
pub(super) fn open_with_keys(keys: &[&String]) -> String {
    format!(
        "correlation_idIN{}^{}^ORDERBYsys_created_on^ORDERBYnumber",
        in_list(keys),
        state::OPEN_QUERY
    )
}

/// Open rows whose key starts with `prefix` and ends with `suffix` (no end term when empty),
/// oldest first.
pub(super) fn open_with_prefix(prefix: &str, suffix: &str) -> String {
    let mut query = format!("correlation_idSTARTSWITH{}^{}", query_value(prefix), state::OPEN_QUERY);
    if !suffix.is_empty() {
        query.push_str(&format!("^correlation_idENDSWITH{}", query_value(suffix)));
    }
    query.push_str("^ORDERBYsys_created_on");
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_are_escaped_so_a_key_cannot_add_a_term() {
        assert_eq!(query_value("a^b"), "a^^b");
        assert_eq!(query_value("plain/key:1"), "plain/key:1");
        assert_eq!(
            open_with_key("acct/eu-west-1/i-1^active=false"),
            "correlation_id=acct/eu-west-1/i-1^^active=false^stateIN1,2,3^ORDERBYsys_created_on^ORDERBYnumber"
        );
    }

    #[test]
    fn the_latest_row_skips_canceled_duplicates_newest_first() {
        assert_eq!(
            latest_with_key("k"),
            "correlation_id=k^state!=8^ORDERBYDESCsys_created_on^ORDERBYDESCnumber"
        );
        let (a, b) = ("a^1".to_owned(), "b".to_owned());
        assert_eq!(
            latest_with_keys(&[&a, &b]),
            "correlation_idINa^^1,b^state!=8^ORDERBYDESCsys_created_on^ORDERBYDESCnumber"
        );
        assert_eq!(
            open_with_keys(&[&a, &b]),
            "correlation_idINa^^1,b^stateIN1,2,3^ORDERBYsys_created_on^ORDERBYnumber"
        );
    }

    #[test]
    fn prefixes_with_and_without_a_suffix() {
        assert_eq!(
            open_with_prefix("111/eu-west-1/mw-1/", ""),
            "correlation_idSTARTSWITH111/eu-west-1/mw-1/^stateIN1,2,3^ORDERBYsys_created_on"
        );
        assert_eq!(
            open_with_prefix("p^", "/s^"),
            "correlation_idSTARTSWITHp^^^stateIN1,2,3^correlation_idENDSWITH/s^^^ORDERBYsys_created_on"
        );
    }

    #[test]
    fn reads_and_writes_ask_for_the_fields_incident_reads() {
        for f in [
            "sys_id",
            "number",
            "correlation_id",
            "state",
            "correlation_display",
            "assignment_group.name",
        ] {
            assert!(FIELDS.split(',').any(|x| x == f), "{f}");
        }
        assert_eq!(
            WRITE_FIELDS,
            format!("?sysparm_fields={FIELDS}&sysparm_exclude_reference_link=true")
        );
    }
}
