//! `exceptions:` of the policy: nodes or patches left unpatched on purpose, each approved, with a
//! ticket and an expiry. The report marks excepted nodes, the bridge opens nothing for them, the
//! baselines reject excepted patches; `validate` checks them.

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
    /// The last day it holds, `YYYY-MM-DD`.
    pub expires: String,
}

impl Exception {
    /// The expiry date, when it parses (validation refuses one that does not).
    pub fn expiry(&self) -> Option<jiff::civil::Date> {
        self.expires.parse().ok()
    }

    /// Whether it holds on `day`.
    pub fn holds_on(&self, day: jiff::civil::Date) -> bool {
        self.expiry().is_some_and(|e| day <= e)
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
