//! `tickets:`: the tickets of the closed loop, what opens, resolves, reopens and escalates them,
//! and the SLAs that give vulnerability tickets and non-compliance incidents their due dates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::servicenow::default_table;
use crate::settings::error;

/// A finding's severity, in Inspector's words, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingSeverity {
    /// `INFORMATIONAL`.
    Informational,
    /// `LOW`.
    Low,
    /// `MEDIUM`.
    Medium,
    /// `HIGH`.
    High,
    /// `CRITICAL`.
    Critical,
}

impl FindingSeverity {
    /// Inspector's word (`CRITICAL`, …), case-insensitive; `UNTRIAGED` and unknown words are
    /// `None` (below every threshold).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "HIGH" => Self::High,
            "MEDIUM" => Self::Medium,
            "LOW" => Self::Low,
            "INFORMATIONAL" => Self::Informational,
            _ => return None,
        })
    }
}

/// `tickets.sla_days`: one number for every severity, or a map with a `default`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SlaDays {
    /// The same for every severity.
    All(u32),
    /// Per severity (`CRITICAL: 7`), with `default` for the rest.
    PerSeverity(BTreeMap<String, u32>),
}

impl Default for SlaDays {
    fn default() -> Self {
        SlaDays::All(14)
    }
}

/// Severities a compliance SLA may name: Patch Manager's compliance levels and the vendors' patch
/// severities (MSRC: Critical, Important, Moderate, Low; Linux: Medium, …), lower case. The
/// policy's `evidence.sla_days` names these, and the generator copies it into
/// `tickets.compliance_sla_days`, so both check against this one list.
pub const SLA_SEVERITIES: [&str; 9] = [
    "default",
    "critical",
    "important",
    "high",
    "moderate",
    "medium",
    "low",
    "informational",
    "unspecified",
];

impl SlaDays {
    /// Days allowed for a finding of `severity`.
    pub fn days(&self, severity: &str) -> u32 {
        match self {
            SlaDays::All(d) => *d,
            SlaDays::PerSeverity(m) => m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(severity))
                .or_else(|| m.get_key_value("default"))
                .map(|(_, d)| *d)
                .unwrap_or(14),
        }
    }
}

/// `tickets:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TicketsConfig {
    /// Table of vulnerability tickets. Default `incident`; Vulnerability Response users name
    /// their table. Incidents (failed patching) always go to `servicenow.table`.
    #[serde(default = "default_table")]
    pub table: String,
    /// The lowest severity that opens a ticket. Default `HIGH`.
    #[serde(default = "default_min_severity")]
    pub min_severity: FindingSeverity,
    /// Only findings with a fix available (`fixAvailable` YES or PARTIAL). Default false.
    #[serde(default)]
    pub only_fixable: bool,
    /// Days from `firstObservedAt` to the ticket's due date, per severity. Default 14.
    #[serde(default)]
    pub sla_days: SlaDays,
    /// Days from a node's first Patch non-compliance to its incident's due date, per severity of
    /// the missing patches (the event's `severity`; `default` when it names none). The generator
    /// fills it from the policy's `evidence.sla_days`, so the report's overdue column and the
    /// incidents count the same days. Unset: 14.
    #[serde(default)]
    pub compliance_sla_days: Option<SlaDays>,
    /// A resolved ticket whose finding (or node, or window) fails again within this many days of
    /// the resolution is reopened; if ServiceNow has closed it meanwhile, a new ticket names it.
    /// Default 30.
    #[serde(default = "default_reopen_days")]
    pub reopen_days: u32,
    /// `close_code` the bridge resolves with. Default `Solution provided` (the newer vocabulary;
    /// older instances use `Solved (Permanently)`).
    #[serde(default = "default_close_code")]
    pub close_code: String,
    /// A ticket whose due date is this many days away or less is escalated once as near, and
    /// once more when it is past. Default 3.
    #[serde(default = "default_escalate_before")]
    pub escalate_before_days: u32,
    /// Minutes between escalation sweeps: the central stack's schedule sends the queue one tick
    /// each time, so one bridge task sweeps per tick. 5–1440, or 0 for no sweep. Default 60.
    #[serde(default = "default_sweep_minutes")]
    pub sweep_minutes: u32,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        Self {
            table: default_table(),
            min_severity: default_min_severity(),
            only_fixable: false,
            sla_days: SlaDays::default(),
            compliance_sla_days: None,
            reopen_days: default_reopen_days(),
            close_code: default_close_code(),
            escalate_before_days: default_escalate_before(),
            sweep_minutes: default_sweep_minutes(),
        }
    }
}

fn default_min_severity() -> FindingSeverity {
    FindingSeverity::High
}
fn default_reopen_days() -> u32 {
    30
}
fn default_close_code() -> String {
    "Solution provided".into()
}
fn default_escalate_before() -> u32 {
    3
}
fn default_sweep_minutes() -> u32 {
    60
}

impl TicketsConfig {
    /// The SLA of non-compliance incidents: `compliance_sla_days`, else 14 days.
    pub fn compliance_sla(&self) -> SlaDays {
        self.compliance_sla_days.clone().unwrap_or_default()
    }

    /// Its problems, appended to `out`.
    pub(super) fn check(&self, out: &mut Vec<Finding>) {
        if self.table.is_empty() || !self.table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push(error("tickets.table", "must be a table name (letters, digits, `_`)"));
        }
        check_sla(
            "tickets.sla_days",
            &self.sla_days,
            |k| k == "default" || FindingSeverity::parse(k).is_some(),
            "CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or default",
            out,
        );
        if let Some(sla) = &self.compliance_sla_days {
            check_sla(
                "tickets.compliance_sla_days",
                sla,
                |k| SLA_SEVERITIES.contains(&k.to_ascii_lowercase().as_str()),
                &SLA_SEVERITIES.join(", "),
                out,
            );
        }
        if !(1..=365).contains(&self.reopen_days) {
            out.push(error("tickets.reopen_days", "must be 1–365 days"));
        }
        if self.close_code.trim().is_empty() || self.close_code.len() > 40 {
            out.push(error(
                "tickets.close_code",
                "must be a close code of your instance (sys_choice incident.close_code), 1–40 characters",
            ));
        }
        if self.sweep_minutes != 0 && !(5..=1440).contains(&self.sweep_minutes) {
            out.push(error(
                "tickets.sweep_minutes",
                "must be 5–1440 minutes, or 0 for no sweep",
            ));
        }
        if self.escalate_before_days > 90 {
            out.push(error("tickets.escalate_before_days", "must be 0–90 days"));
        }
    }
}

/// The problems of the SLA at `path`: days out of 1–365, severities `known` does not accept.
fn check_sla(path: &str, sla: &SlaDays, known: impl Fn(&str) -> bool, names: &str, out: &mut Vec<Finding>) {
    match sla {
        SlaDays::All(d) if !(1..=365).contains(d) => out.push(error(path, "must be 1–365 days")),
        SlaDays::All(_) => {}
        SlaDays::PerSeverity(m) => {
            for (k, d) in m {
                if !known(k) {
                    out.push(error(&format!("{path}.{k}"), format!("is not a severity ({names})")));
                } else if !(1..=365).contains(d) {
                    out.push(error(&format!("{path}.{k}"), "must be 1–365 days"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(t: &TicketsConfig) -> Vec<String> {
        let mut out = Vec::new();
        t.check(&mut out);
        out.iter().map(|f| format!("{}: {}", f.path, f.message)).collect()
    }

    #[test]
    fn the_compliance_sla_takes_the_policys_severities_and_defaults_to_14_days() {
        let unset = TicketsConfig::default();
        assert_eq!(unset.compliance_sla(), SlaDays::All(14));
        assert!(problems(&unset).is_empty());
        // What `evidence.sla_days` may say, copied as the generator copies it.
        let policy: BTreeMap<String, u32> = [("default", 30), ("critical", 14), ("Important", 10)]
            .into_iter()
            .map(|(k, d)| (k.to_owned(), d))
            .collect();
        let set = TicketsConfig {
            compliance_sla_days: Some(SlaDays::PerSeverity(policy)),
            ..TicketsConfig::default()
        };
        assert!(problems(&set).is_empty(), "{:?}", problems(&set));
        assert_eq!(set.compliance_sla().days("CRITICAL"), 14);
        assert_eq!(set.compliance_sla().days("UNSPECIFIED"), 30);
        let bad = TicketsConfig {
            compliance_sla_days: Some(SlaDays::PerSeverity(
                [("urgent".to_owned(), 3), ("low".to_owned(), 0)].into_iter().collect(),
            )),
            ..TicketsConfig::default()
        };
        let p = problems(&bad);
        assert!(
            p.iter()
                .any(|m| m.starts_with("tickets.compliance_sla_days.urgent: is not a severity (default, critical")),
            "{p:?}"
        );
        assert!(
            p.contains(&"tickets.compliance_sla_days.low: must be 1–365 days".to_owned()),
            "{p:?}"
        );
        let zero = TicketsConfig {
            compliance_sla_days: Some(SlaDays::All(0)),
            ..TicketsConfig::default()
        };
        assert_eq!(problems(&zero), ["tickets.compliance_sla_days: must be 1–365 days"]);
    }
}
