//! `rings:`: ring names and schedules (with every baseline's install offset), the gates between
//! rings, and the number of maintenance windows they make against SSM's quota.

use super::{Checker, shorten};
use crate::ids::RING_NAME;
use crate::policy::Policy;
use crate::resolve::resolve_schedule;

/// SSM's default quota of maintenance windows per account and region.
const WINDOW_QUOTA: usize = 50;

/// Checks each ring's name and schedule.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    if p.rings.is_empty() {
        c.error("rings", "define at least one ring");
    }
    for (i, ring) in p.rings.iter().enumerate() {
        let rp = format!("rings[{i}]");
        c.name(&format!("{rp}.name"), &ring.name, &RING_NAME);
        c.schedule(&format!("{rp}.schedule"), &ring.schedule, 0, "");
        // The baseline offsets are part of every install window of this ring.
        if resolve_schedule(&ring.schedule, 0).is_ok() {
            for (j, b) in p.baselines.iter().enumerate() {
                if b.install_offset_days > 0 {
                    c.schedule(
                        &format!("{rp}.schedule"),
                        &ring.schedule,
                        b.install_offset_days,
                        &format!(" (with `baselines[{j}].install_offset_days` {})", b.install_offset_days),
                    );
                }
            }
        }
    }
    c.duplicates(
        p.rings
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("rings[{i}].name"), r.name.as_str())),
        "ring name",
    );
}

/// Checks `rings[].gate`: a gate names an earlier ring and a percentage.
pub(super) fn gates(c: &mut Checker, p: &Policy) {
    for (i, r) in p.rings.iter().enumerate() {
        if let Some(g) = &r.gate {
            if !p.rings[..i].iter().any(|e| e.name == g.after) {
                let earlier: Vec<&str> = p.rings[..i].iter().map(|e| e.name.as_str()).collect();
                c.error(
                    format!("rings[{i}].gate.after"),
                    format!(
                        "`{}` is not an earlier ring (earlier: {})",
                        shorten(&g.after),
                        if earlier.is_empty() {
                            "none".to_owned()
                        } else {
                            earlier.join(", ")
                        }
                    ),
                );
            }
            if !(0.0..=100.0).contains(&g.max_failed_percent) {
                c.error(
                    format!("rings[{i}].gate.max_failed_percent"),
                    format!("{} is outside 0-100", g.max_failed_percent),
                );
            }
        }
    }
}

/// Warns when the windows of one account and region exceed SSM's default quota: the scan, one
/// install window per ring and baseline, and every team window.
pub(super) fn window_quota(c: &mut Checker, p: &Policy) {
    let team_windows: usize = p.teams.iter().map(|t| t.windows.len()).sum();
    let windows = 1 + p.rings.len() * p.baselines.len() + team_windows;
    if windows > WINDOW_QUOTA {
        c.warn("rings", format!("{windows} maintenance windows per account and region (team windows included: {team_windows}) exceed SSM's default quota of {WINDOW_QUOTA}: raise the quota before rollout"));
    }
}
