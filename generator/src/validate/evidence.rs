//! `evidence:`: the remediation SLA (one number or per severity) and the retention of evidence;
//! and [`sla_feasibility`], which holds the SLA against the resolved plan's install windows.

use std::collections::BTreeMap;

use super::{Checker, shorten};
use crate::bridge_config::SlaDays;
// Severities `evidence.sla_days` may name: the contract's list, since the generator copies the SLA
// into the bridge's `tickets.compliance_sla_days`, which the bridge checks against the same list.
use crate::bridge_config::tickets::SLA_SEVERITIES;
use crate::diag::Finding;
use crate::policy::Policy;

/// Checks `evidence.sla_days`.
pub(super) fn sla_days(c: &mut Checker, p: &Policy) {
    match &p.evidence.sla_days {
        SlaDays::All(d) => c.range("evidence.sla_days", i64::from(*d), 1, 365, "days"),
        SlaDays::PerSeverity(m) => {
            if !m.contains_key("default") {
                c.error("evidence.sla_days", "a map of severities needs a `default`");
            }
            for (k, d) in m {
                if SLA_SEVERITIES.contains(&k.to_ascii_lowercase().as_str()) {
                    c.range(&format!("evidence.sla_days.{k}"), i64::from(*d), 1, 365, "days");
                } else {
                    c.error(
                        format!("evidence.sla_days.{k}"),
                        format!("`{}` is not a severity ({})", shorten(k), SLA_SEVERITIES.join(", ")),
                    );
                }
            }
        }
    }
}

/// Checks `evidence.retention_days`.
pub(super) fn retention(c: &mut Checker, p: &Policy) {
    c.range("evidence.retention_days", p.evidence.retention_days, 30, 3650, "days");
}

/// Checks `evidence.monthly_report`: a day every month has, a time, a zone, the bridge whose image
/// and network it runs with, and a webhook secret the bridge has.
pub(super) fn monthly_report(c: &mut Checker, p: &Policy) {
    let Some(m) = &p.evidence.monthly_report else {
        return;
    };
    c.range(
        "evidence.monthly_report.day",
        i64::from(m.day),
        1,
        28,
        "day of the month",
    );
    if crate::resolve::parse_at(&m.at).is_none() {
        c.error(
            "evidence.monthly_report.at",
            format!("`{}` is not a time HH:MM", super::shorten(&m.at)),
        );
    }
    if jiff::tz::TimeZone::get(&m.zone).is_err() {
        c.error(
            "evidence.monthly_report.zone",
            format!("`{}` is not an IANA time zone", super::shorten(&m.zone)),
        );
    }
    match &p.central.bridge {
        None => c.error(
            "evidence.monthly_report",
            "needs `central.bridge`: the report runs as a task of the bridge's image, in its subnets",
        ),
        Some(b) => {
            if let Some(secret) = &m.slack_webhook_secret
                && !b.secrets.contains_key(secret)
            {
                c.error(
                    "evidence.monthly_report.slack_webhook_secret",
                    format!("`{}` is not one of central.bridge.secrets", super::shorten(secret)),
                );
            }
        }
    }
}

/// An approval rule's longest time to install: (days, ring, delay, sla, severity).
type Worst = (i64, String, i64, i64, String);

/// Warnings for approval rules whose delay plus the longest wait for the next install of a ring
/// cannot meet the SLA of the rule's severity: a patch released just after an install waits
/// `approve_after_days`, then until the ring's next install after that.
pub fn sla_feasibility(p: &Policy, plan: &crate::model::Plan) -> Vec<Finding> {
    let mut c = Checker::default();
    let Some(zone) = plan.regions.first().and_then(|r| jiff::tz::TimeZone::get(&r.zone).ok()) else {
        return c.out;
    };
    let from = jiff::Timestamp::now();
    // (baseline, rule) → the worst case over its rings.
    let mut worst: BTreeMap<(usize, usize), Worst> = BTreeMap::new();
    for w in plan
        .windows
        .iter()
        .filter(|w| w.kind == crate::model::WindowKind::Install)
    {
        let (Some(ring), Some(baseline)) = (&w.ring, &w.baseline) else {
            continue;
        };
        let Some((bi, b)) = p.baselines.iter().enumerate().find(|(_, b)| &b.name == baseline) else {
            continue;
        };
        let opens = crate::schedule::openings(&w.schedule, &zone, from, 14);
        let gap = opens
            .windows(2)
            .map(|pair| pair[0].timestamp().duration_until(pair[1].timestamp()).as_secs())
            .max()
            .unwrap_or(0);
        let gap_days = (gap + 86_399) / 86_400;
        for (ri, rule) in b.rules.iter().enumerate() {
            let delay = rule.approve_after_days.unwrap_or(0);
            let severity = format!("{:?}", rule.compliance).to_ascii_lowercase();
            let sla = i64::from(p.evidence.sla_days.days(&severity));
            let days = delay + gap_days;
            if days > sla && worst.get(&(bi, ri)).is_none_or(|w| days > w.0) {
                worst.insert((bi, ri), (days, ring.clone(), delay, sla, severity));
            }
        }
    }
    for ((bi, ri), (days, ring, delay, sla, severity)) in worst {
        c.warn(
            format!("baselines[{bi}].rules[{ri}].approve_after_days"),
            format!(
                "{delay} day(s) to approve plus up to {} day(s) until ring `{ring}` installs again ({days} days) cannot meet the {sla}-day SLA for {severity} patches (evidence.sla_days)",
                days - delay
            ),
        );
    }
    c.out
}
