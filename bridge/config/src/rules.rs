//! `routes:`: rules over an event's kind, status and severity (and, after enrichment, its ring
//! and owner) naming the actions it calls for. Only the types and the defaults live here; the
//! bridge's `route` stage matches them. Matching is case-insensitive and an empty list matches
//! anything.

use serde::{Deserialize, Serialize};

/// What a sink does for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Open (or update) a ServiceNow incident for the correlation key.
    Incident,
    /// Keep the vulnerability ticket of an Inspector finding in step with it: open it (one per
    /// account, node and vulnerability), resolve it when the finding closes, reopen it.
    InspectorTicket,
    /// Resolve what a success fixes: the node's non-compliance incident, the failed executions
    /// of a window, the failed patch commands on a node.
    Resolve,
    /// Escalate open tickets whose due date is near or past (the sweep).
    Escalate,
    /// Notify the owner of the resource.
    NotifyOwner,
    /// On the sweep's tick: notices before install windows and summaries after them, per owner
    /// (`notify.windows`).
    WindowNotices,
    /// On the sweep's tick: notices to an exception's approver and its nodes' owners 14 days
    /// before it expires and on the day it does (`notify`).
    ExceptionNotices,
    /// After a successful install command: set the node's last-patched tag to the day
    /// (`last_patched`).
    TagLastPatched,
}

/// A section of `bridge.yaml` an action cannot run without (`servicenow:`, which every
/// action may use, is required by the file itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// Its key path (`notify`, `notify.windows`).
    pub key: &'static str,
    /// What to put there, for the message.
    pub hint: &'static str,
}

impl Action {
    /// Every action, in the order `check` lists them.
    pub const ALL: [Action; 8] = [
        Action::Incident,
        Action::InspectorTicket,
        Action::Resolve,
        Action::Escalate,
        Action::NotifyOwner,
        Action::WindowNotices,
        Action::ExceptionNotices,
        Action::TagLastPatched,
    ];

    /// Its name in `routes:` (`notify-owner`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Incident => "incident",
            Action::InspectorTicket => "inspector-ticket",
            Action::Resolve => "resolve",
            Action::Escalate => "escalate",
            Action::NotifyOwner => "notify-owner",
            Action::WindowNotices => "window-notices",
            Action::ExceptionNotices => "exception-notices",
            Action::TagLastPatched => "tag-last-patched",
        }
    }

    /// The one rule of which section each action needs: [`crate::BridgeConfig::validate`]
    /// refuses a route whose action lacks it, and the bridge registers a sink for an action
    /// exactly when its section is there.
    pub fn needs(self) -> Option<Section> {
        match self {
            Action::Incident | Action::InspectorTicket | Action::Resolve | Action::Escalate => None,
            Action::NotifyOwner | Action::ExceptionNotices => Some(Section {
                key: "notify",
                hint: " (sns, slack or teams)",
            }),
            Action::WindowNotices => Some(Section {
                key: "notify.windows",
                hint: "",
            }),
            Action::TagLastPatched => Some(Section {
                key: "last_patched",
                hint: " (and `enrich.member_role_name`, the role allowed to set that one tag)",
            }),
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
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
    /// Rings of the node (from its patch group tag, after enrichment); events about no known
    /// ring never match a non-empty list.
    #[serde(default)]
    pub ring: Vec<String>,
    /// Owners of the node (after enrichment); events about no known owner never match a
    /// non-empty list.
    #[serde(default)]
    pub owner: Vec<String>,
    /// Finding types (`PACKAGE_VULNERABILITY`, `NETWORK_REACHABILITY`, …); other events never
    /// match a non-empty list.
    #[serde(default)]
    pub finding_type: Vec<String>,
    /// `true`: only events about a managed node (an EC2 instance or an `mi-` node; a finding on
    /// an image or a function is about none); `false`: only events about none.
    #[serde(default)]
    pub about_node: Option<bool>,
}

/// Statuses of a patch run that failed, in the vocabularies of commands and windows.
const FAILED: [&str; 6] = ["Failed", "TimedOut", "FAILED", "TIMED_OUT", "Cancelled", "CANCELLED"];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The default rules, the closed loop: failed or timed-out patch runs and non-compliant patch
/// state open an incident, and the success that fixes each resolves it; package-vulnerability
/// findings on nodes keep their ticket in step; the sweep escalates tickets near their due date.
/// The rule a `last_patched:` section adds to the defaults: a patch command that succeeded tags
/// its nodes (the sink acts only on `Operation: Install`, which the command event carries and
/// the per-node invocation event does not).
pub fn last_patched_rule() -> Rule {
    Rule {
        name: "install-succeeded".into(),
        when: Match {
            kind: strings(&["command"]),
            status: strings(&["Success"]),
            document: strings(&["AWS-RunPatchBaseline", "AWS-RunPatchBaselineWithHooks"]),
            ..Match::default()
        },
        actions: vec![Action::TagLastPatched],
    }
}

pub fn default_rules() -> Vec<Rule> {
    let patch_docs = strings(&["AWS-RunPatchBaseline", "AWS-RunPatchBaselineWithHooks"]);
    vec![
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
                document: patch_docs.clone(),
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
            name: "package-vulnerability".into(),
            when: Match {
                kind: strings(&["inspector-finding"]),
                finding_type: strings(&["PACKAGE_VULNERABILITY"]),
                about_node: Some(true),
                ..Match::default()
            },
            // Every status: the sink opens at `tickets.min_severity`, resolves on CLOSED and
            // SUPPRESSED, reopens on ACTIVE again.
            actions: vec![Action::InspectorTicket],
        },
        Rule {
            name: "patch-compliant".into(),
            when: Match {
                kind: strings(&["compliance"]),
                status: strings(&["compliant"]),
                compliance_type: strings(&["Patch"]),
                ..Match::default()
            },
            actions: vec![Action::Resolve],
        },
        Rule {
            name: "patch-window-succeeded".into(),
            when: Match {
                kind: strings(&["window-execution"]),
                status: strings(&["SUCCESS"]),
                ..Match::default()
            },
            actions: vec![Action::Resolve],
        },
        Rule {
            name: "patch-command-succeeded".into(),
            when: Match {
                kind: strings(&["command-invocation"]),
                status: strings(&["Success"]),
                document: patch_docs,
                ..Match::default()
            },
            actions: vec![Action::Resolve],
        },
        // The central stack's scheduled task (the monthly report) failed after its own retries:
        // one incident, resolved by the next run that succeeds.
        Rule {
            name: "scheduled-task-failed".into(),
            when: Match {
                kind: strings(&["task"]),
                status: strings(&["FAILED"]),
                ..Match::default()
            },
            actions: vec![Action::Incident],
        },
        Rule {
            name: "scheduled-task-succeeded".into(),
            when: Match {
                kind: strings(&["task"]),
                status: strings(&["SUCCEEDED"]),
                ..Match::default()
            },
            actions: vec![Action::Resolve],
        },
        // A ring gate held a ring: one incident per held run, with the reason.
        Rule {
            name: "ring-gate-held".into(),
            when: Match {
                kind: strings(&["ring-gate"]),
                status: strings(&["HELD"]),
                ..Match::default()
            },
            actions: vec![Action::Incident],
        },
        Rule {
            name: "escalation-sweep".into(),
            when: Match {
                kind: strings(&["sweep"]),
                ..Match::default()
            },
            actions: vec![Action::Escalate],
        },
    ]
}
