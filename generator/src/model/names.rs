//! Names and logical ids patchplane chooses (AWS's own rules for names live in [`crate::ids`]).

use serde::Serialize;

/// `Abc` from `abc`; ids are built from names validated to letters and digits.
pub(super) fn pascal(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// `al2023-golden` → `Al2023Golden`.
pub(super) fn pascal_words(s: &str) -> String {
    s.split(['-', '_']).map(pascal).collect()
}

/// The patch group of a team window: `<group_prefix>-<team>-<window>`.
pub fn team_patch_group(group_prefix: &str, team: &str, window: &str) -> String {
    format!("{group_prefix}-{team}-{window}")
}

/// The patch group of a baseline in a ring: `<group_prefix>-<ring>`.
pub(super) fn patch_group(group_prefix: &str, ring: &str) -> String {
    format!("{group_prefix}-{ring}")
}

/// Name of the central event bus that member rules forward to.
pub fn central_bus_name(policy_name: &str) -> String {
    format!("{policy_name}-patch-events")
}

/// The serde name of a unit enum value (`CRITICAL`).
pub(super) fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The patch group of a site's nodes in a ring: `<group_prefix>-<site>-<ring>`, so the ring stays
/// the last `-` part, as for every patch group.
pub fn site_patch_group(prefix: &str, site: &str, ring: &str) -> String {
    format!("{prefix}-{site}-{ring}")
}
