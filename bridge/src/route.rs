//! Route: which actions an event calls for, by rules over its kind, status and severity.
//!
//! Rules come from `bridge.yaml` (`routes:`) or [`RouteConfig::defaults`]: failed and timed-out
//! patch runs and non-compliant patch state open an incident; active critical and high Inspector
//! findings open an Inspector-linked ticket. Matching is case-insensitive and
//! an empty list matches anything. Every rule that matches adds its actions; an action is taken
//! once per event however many rules name it.

use serde::Deserialize;

use crate::decode::{Decoded, Event};

/// What a sink does for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Open (or update) a ServiceNow incident for the correlation key.
    Incident,
    /// Open (or update) a ticket linked to the Inspector finding.
    InspectorTicket,
    /// Notify the owner of the resource.
    NotifyOwner,
}

/// `routes:` of `bridge.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Rules, all evaluated.
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Name, shown in logs and metrics.
    pub name: String,
    /// Conditions, all of which must hold.
    #[serde(default)]
    pub when: Match,
    /// Actions taken when it matches.
    pub actions: Vec<Action>,
}

/// Conditions of a rule; an empty list matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Event kinds (`window-execution`, `command-invocation`, `compliance`, `inspector-finding`, …).
    #[serde(default)]
    pub kind: Vec<String>,
    /// Statuses (`FAILED`, `TimedOut`, `non_compliant`, `ACTIVE`, …).
    #[serde(default)]
    pub status: Vec<String>,
    /// Severities (compliance and findings; events without one never match a non-empty list).
    #[serde(default)]
    pub severity: Vec<String>,
    /// Compliance types (`Patch`, `Association`); other events never match a non-empty list.
    #[serde(default)]
    pub compliance_type: Vec<String>,
    /// Documents (`AWS-RunPatchBaseline`, …) of command events; other events never match a
    /// non-empty list.
    #[serde(default)]
    pub document: Vec<String>,
    /// Only from this many receives on (SQS `ApproximateReceiveCount`), e.g. to escalate.
    #[serde(default)]
    pub min_receive_count: Option<u32>,
}

fn any_of(list: &[String], value: Option<&str>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
}

impl Match {
    fn matches(&self, d: &Decoded, receive_count: u32) -> bool {
        let e = &d.event;
        let compliance_type = match e {
            Event::Compliance(c) => Some(c.compliance_type.as_str()),
            _ => None,
        };
        let document = match e {
            Event::Command(c) => Some(c.document_name.as_str()),
            Event::CommandInvocation(c) => Some(c.document_name.as_str()),
            _ => None,
        };
        any_of(&self.kind, Some(e.kind()))
            && any_of(&self.status, Some(e.status()))
            && any_of(&self.severity, e.severity())
            && any_of(&self.compliance_type, compliance_type)
            && any_of(&self.document, document)
            && self.min_receive_count.is_none_or(|n| receive_count >= n)
    }
}

/// Statuses of a patch run that failed, in the vocabularies of commands and windows.
const FAILED: [&str; 6] = ["Failed", "TimedOut", "FAILED", "TIMED_OUT", "Cancelled", "CANCELLED"];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

impl RouteConfig {
    /// The default rules (issue #5): failed or timed-out patch runs and non-compliant patch state
    /// open an incident; active critical and high findings open a ticket.
    pub fn defaults() -> RouteConfig {
        let patch_docs = strings(&["AWS-RunPatchBaseline", "AWS-RunPatchBaselineWithHooks"]);
        RouteConfig {
            rules: vec![
                Rule {
                    name: "failed-patch-window".into(),
                    when: Match {
                        kind: strings(&["window-execution", "window-task-execution", "window-target-invocation"]),
                        status: strings(&FAILED),
                        ..Match::default()
                    },
                    actions: vec![Action::Incident],
                },
                Rule {
                    name: "failed-patch-command".into(),
                    when: Match {
                        kind: strings(&["command", "command-invocation"]),
                        status: strings(&FAILED),
                        document: patch_docs,
                        ..Match::default()
                    },
                    actions: vec![Action::Incident],
                },
                Rule {
                    name: "non-compliant-patch-state".into(),
                    when: Match {
                        kind: strings(&["compliance"]),
                        status: strings(&["non_compliant"]),
                        compliance_type: strings(&["Patch"]),
                        ..Match::default()
                    },
                    actions: vec![Action::Incident],
                },
                Rule {
                    name: "critical-finding".into(),
                    when: Match {
                        kind: strings(&["inspector-finding"]),
                        status: strings(&["ACTIVE"]),
                        severity: strings(&["CRITICAL", "HIGH"]),
                        ..Match::default()
                    },
                    // Owner notification joins this rule when its sink exists.
                    actions: vec![Action::InspectorTicket],
                },
            ],
        }
    }

    /// The actions `d` calls for, each once, in a stable order, with the first rule that asked.
    pub fn route(&self, d: &Decoded, receive_count: u32) -> Vec<(Action, &str)> {
        let mut out: Vec<(Action, &str)> = Vec::new();
        for rule in self.rules.iter().filter(|r| r.when.matches(d, receive_count)) {
            for a in &rule.actions {
                if !out.iter().any(|(x, _)| x == a) {
                    out.push((*a, rule.name.as_str()));
                }
            }
        }
        out.sort_by_key(|(a, _)| *a);
        out
    }
}
