//! Route: which actions an event calls for, by rules over its kind, status and severity.
//!
//! Rules come from `bridge.yaml` (`routes:`, typed in [`patchplane_bridge_config::rules`]) or
//! [`RouteConfig::defaults`]: failed and timed-out patch runs and non-compliant patch state open
//! an incident; active critical and high Inspector findings open an Inspector-linked ticket.
//! Matching is case-insensitive and an empty list matches anything. Every rule that matches adds
//! its actions; an action is taken once per event however many rules name it.
//!
//! Routing runs after enrichment (DESIGN §6), so a rule may match on the node's ring or owner.
//! Enrichment costs a tag lookup, so [`RouteConfig::may_route`] first asks whether any rule could
//! match on the event alone; only then is the node looked up and [`RouteConfig::route`] decides.

pub use patchplane_bridge_config::rules::{Action, Match, Rule};

use crate::config::BridgeConfig;
use crate::decode::{Decoded, Event};
use crate::enrich::Context;

/// The rules in force (`routes:` is this list).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Rules, all evaluated.
    pub rules: Vec<Rule>,
}

fn any_of(list: &[String], value: Option<&str>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
}

/// The event-only conditions of `m`.
fn matches_event(m: &Match, d: &Decoded, receive_count: u32) -> bool {
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
    let finding_type = match e {
        Event::Finding(f) => Some(f.kind.as_str()),
        _ => None,
    };
    any_of(&m.kind, Some(e.kind()))
        && any_of(&m.finding_type, finding_type)
        && m.about_node
            .is_none_or(|want| crate::enrich::node_of(d).is_some() == want)
        && any_of(&m.status, Some(e.status()))
        && any_of(&m.severity, e.severity())
        && any_of(&m.compliance_type, compliance_type)
        && any_of(&m.document, document)
        && m.min_receive_count.is_none_or(|n| receive_count >= n)
}

/// The conditions on what enrichment found.
fn matches_context(m: &Match, ctx: &Context) -> bool {
    any_of(&m.ring, ctx.ring.as_deref()) && any_of(&m.owner, ctx.owner.as_deref())
}

impl RouteConfig {
    /// The default rules ([`patchplane_bridge_config::default_rules`]).
    pub fn defaults() -> RouteConfig {
        RouteConfig {
            rules: patchplane_bridge_config::default_rules(),
        }
    }

    /// The rules `cfg` puts in force.
    pub fn from_config(cfg: &BridgeConfig) -> RouteConfig {
        RouteConfig { rules: cfg.rules() }
    }

    /// Whether some rule could match `d` once its node is known: the enrichment is worth its cost.
    pub fn may_route(&self, d: &Decoded, receive_count: u32) -> bool {
        self.rules.iter().any(|r| matches_event(&r.when, d, receive_count))
    }

    /// The actions `d` calls for, before enrichment: rules on ring or owner never match.
    pub fn route(&self, d: &Decoded, receive_count: u32) -> Vec<(Action, &str)> {
        self.route_with(d, &Context::default(), receive_count)
    }

    /// The actions `d` about a node `ctx` describes calls for, each once, in a stable order, with
    /// the first rule that asked.
    pub fn route_with(&self, d: &Decoded, ctx: &Context, receive_count: u32) -> Vec<(Action, &str)> {
        let mut out: Vec<(Action, &str)> = Vec::new();
        let matching = self
            .rules
            .iter()
            .filter(|r| matches_event(&r.when, d, receive_count) && matches_context(&r.when, ctx));
        for rule in matching {
            for a in &rule.actions {
                if !out.iter().any(|(x, _)| x == a) {
                    out.push((*a, rule.name.as_str()));
                }
            }
        }
        // An excepted node gets no new ticket and no owner notice; a success still resolves.
        if ctx.exception.is_some() {
            out.retain(|(a, _)| matches!(a, Action::Resolve | Action::Escalate | Action::WindowNotices));
        }
        out.sort_by_key(|(a, _)| *a);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excepted_node_gets_no_ticket_and_no_notice_but_is_still_resolved() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/events/ssm-compliance-patch-non-compliant.json"
        ))
        .expect("fixture");
        let d = crate::decode::decode(text.as_bytes()).expect("decodes");
        let mut cfg: BridgeConfig = serde_yaml::from_str(
            "version: 1\nqueue: {url: q}\nservicenow: {instance_url: 'https://x.service-now.com', auth: {basic: {user: u, password: {env: P}}}}\nnotify: {slack: {url: {env: S}}}\n",
        )
        .expect("config");
        cfg.routes = None;
        let routes = RouteConfig::from_config(&cfg);
        let actions = |ctx: &Context| {
            routes
                .route_with(&d, ctx, 1)
                .into_iter()
                .map(|(a, _)| a)
                .collect::<Vec<_>>()
        };
        let plain = Context {
            node: Some("i-01234567890abcdef".into()),
            ..Context::default()
        };
        assert_eq!(actions(&plain), vec![Action::Incident, Action::NotifyOwner]);
        let excepted = Context {
            exception: Some("EXC-1".into()),
            ..plain
        };
        assert!(actions(&excepted).is_empty(), "{:?}", actions(&excepted));
        let fixed = text.replace("non_compliant", "compliant");
        let d = crate::decode::decode(fixed.as_bytes()).expect("decodes");
        assert_eq!(
            routes
                .route_with(&d, &excepted, 1)
                .into_iter()
                .map(|(a, _)| a)
                .collect::<Vec<_>>(),
            vec![Action::Resolve],
            "a fix still resolves"
        );
    }
}
