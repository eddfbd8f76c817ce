//! `baselines:`: names and group prefixes, the one default per OS, approval rules and their
//! filters as each OS allows them, approved and rejected patches.

use std::collections::BTreeMap;

use super::{Checker, shorten};
use crate::ids::{BASELINE_NAME, GROUP_PREFIX, starts_with_digit};
use crate::policy::Policy;

/// Checks `baselines`.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    if p.baselines.is_empty() {
        c.error("baselines", "define at least one baseline");
    }
    let mut defaults: BTreeMap<&str, String> = BTreeMap::new();
    for (i, b) in p.baselines.iter().enumerate() {
        let bp = format!("baselines[{i}]");
        c.name(&format!("{bp}.name"), &b.name, &BASELINE_NAME);
        if let Some(d) = &b.description
            && (d.is_empty() || d.chars().count() > 1024)
        {
            c.error(format!("{bp}.description"), "must be 1-1024 characters");
        }
        c.name(&format!("{bp}.group_prefix"), &b.group_prefix, &GROUP_PREFIX);
        if starts_with_digit(&b.group_prefix) {
            c.error(format!("{bp}.group_prefix"), "must start with a letter");
        }
        c.range(
            &format!("{bp}.install_offset_days"),
            b.install_offset_days,
            0,
            27,
            "days after the ring's schedule",
        );
        if b.default {
            let os = b.operating_system.as_str();
            if let Some(first) = defaults.get(os) {
                c.error(
                    format!("{bp}.default"),
                    format!("{os} already has a default baseline at `{first}`"),
                );
            } else {
                defaults.insert(os, bp.clone());
            }
        }
        if b.rules.is_empty() {
            c.error(
                format!("{bp}.rules"),
                "a custom baseline needs at least one approval rule",
            );
        }
        if b.rules.len() > 10 {
            c.error(
                format!("{bp}.rules"),
                format!("{} rules; a patch baseline holds at most 10", b.rules.len()),
            );
        }
        let keys = b.operating_system.rule_filter_keys();
        for (j, rule) in b.rules.iter().enumerate() {
            let rp = format!("{bp}.rules[{j}]");
            if rule.filters.is_empty() {
                c.error(format!("{rp}.filters"), "a rule needs at least one filter");
            }
            if rule.filters.len() > 4 {
                c.error(format!("{rp}.filters"), "a rule holds at most 4 filters");
            }
            for (k, vals) in &rule.filters {
                let fp = format!("{rp}.filters.{k}");
                if !keys.contains(&k.as_str()) {
                    c.error(
                        &fp,
                        format!(
                            "`{}` is not a filter key for {}; use one of {}",
                            shorten(k),
                            b.operating_system.as_str(),
                            keys.join(", ")
                        ),
                    );
                }
                if vals.is_empty() || vals.len() > 20 {
                    c.error(&fp, format!("{} values; a filter takes 1-20", vals.len()));
                }
                for (v, val) in vals.iter().enumerate() {
                    c.no_controls(&format!("{fp}[{v}]"), val, 64);
                }
            }
            match (rule.approve_after_days, b.operating_system.supports_approve_after_days()) {
                (Some(_), false) => c.error(format!("{rp}.approve_after_days"), format!("{} does not support approval delays (its repositories publish no reliable release dates): remove `approve_after_days`", b.operating_system.as_str())),
                (Some(d), true) => c.range(&format!("{rp}.approve_after_days"), d, 0, 360, "days after release"),
                (None, true) => c.error(format!("{rp}.approve_after_days"), "required on this OS: days after release before a patch is approved, 0-360"),
                (None, false) => {}
            }
        }
        for (field, list) in [
            ("approved_patches", &b.approved_patches),
            ("rejected_patches", &b.rejected_patches),
        ] {
            if list.len() > 50 {
                c.error(
                    format!("{bp}.{field}"),
                    format!("{} patches; a baseline holds at most 50", list.len()),
                );
            }
            for (k, patch) in list.iter().enumerate() {
                c.no_controls(&format!("{bp}.{field}[{k}]"), patch, 100);
            }
            c.duplicates(
                list.iter()
                    .enumerate()
                    .map(|(k, v)| (format!("{bp}.{field}[{k}]"), v.as_str())),
                "patch",
            );
        }
    }
    c.duplicates(
        p.baselines
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("baselines[{i}].name"), b.name.as_str())),
        "baseline name",
    );
    c.duplicates(
        p.baselines
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("baselines[{i}].group_prefix"), b.group_prefix.as_str())),
        "group prefix",
    );
}
