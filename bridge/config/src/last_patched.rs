//! `last_patched:`: after a node's successful install, the bridge sets a tag on it to the day
//! (UTC, `YYYY-MM-DD`), through the member role, whose tag permission the StackSet limits to this
//! one key. Without the section, nothing is tagged.

use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::settings::error;

/// The tag key unless the file names another.
pub const DEFAULT_TAG: &str = "patchplane:last-patched";

/// `last_patched:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LastPatchedConfig {
    /// The tag key. Default `patchplane:last-patched`.
    #[serde(default = "default_tag")]
    pub tag: String,
}

impl Default for LastPatchedConfig {
    fn default() -> Self {
        Self { tag: default_tag() }
    }
}

fn default_tag() -> String {
    DEFAULT_TAG.to_owned()
}

impl LastPatchedConfig {
    /// The key is one EC2 and SSM accept on a node: 1 to 128 characters of letters, digits,
    /// spaces and `_ . : / = + - @`, not starting with `aws:` (reserved).
    pub fn check(&self, out: &mut Vec<Finding>) {
        let ok = !self.tag.is_empty()
            && self.tag.chars().count() <= 128
            && self
                .tag
                .chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c));
        if !ok {
            out.push(error(
                "last_patched.tag",
                "a tag key of 1 to 128 letters, digits, spaces and `_ . : / = + - @`",
            ));
        } else if self.tag.to_ascii_lowercase().starts_with("aws:") {
            out.push(error(
                "last_patched.tag",
                "keys starting with `aws:` are reserved by AWS",
            ));
        }
    }
}
