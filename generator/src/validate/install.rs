//! `install:`: the install task's rate controls, its lifecycle hooks, and `install.pre_patch`.

use super::{Checker, shorten};
use crate::ids::{DOCUMENT_NAME, is_document_ref, is_max_concurrency, is_max_errors};
use crate::policy::Policy;

/// Checks `install`'s rate controls and hooks.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    if !is_max_concurrency(&p.install.max_concurrency) {
        c.error(
            "install.max_concurrency",
            format!(
                "`{}` is not a positive count (\"50\") or a percentage 1%-100% (\"10%\")",
                shorten(&p.install.max_concurrency)
            ),
        );
    }
    if !is_max_errors(&p.install.max_errors) {
        c.error(
            "install.max_errors",
            format!(
                "`{}` is not a count (\"0\", \"5\") or a percentage 0%-100% (\"5%\")",
                shorten(&p.install.max_errors)
            ),
        );
    }
    let h = &p.install.hooks;
    for (field, doc) in [
        ("pre_install", &h.pre_install),
        ("post_install", &h.post_install),
        ("on_exit", &h.on_exit),
    ] {
        if let Some(d) = doc {
            c.name(&format!("install.hooks.{field}"), d, &DOCUMENT_NAME);
        }
    }
}

/// Checks `install.pre_patch`: retention, the built-in check's limits, the health check.
pub(super) fn pre_patch(c: &mut Checker, p: &Policy) {
    if let Some(pp) = &p.install.pre_patch {
        c.range(
            "install.pre_patch.snapshot_retention_days",
            pp.snapshot_retention_days,
            1,
            365,
            "days",
        );
        c.range("install.pre_patch.min_free_mb", pp.min_free_mb, 1, 1_000_000, "MB");
        let version_ok = {
            let parts: Vec<&str> = pp.min_agent_version.split('.').collect();
            (2..=4).contains(&parts.len())
                && parts
                    .iter()
                    .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        };
        if !version_ok {
            c.error(
                "install.pre_patch.min_agent_version",
                format!("`{}` is not a version like 3.2.0.0", shorten(&pp.min_agent_version)),
            );
        }
        if let Some(h) = &pp.health_check {
            if h != "builtin" && !is_document_ref(h) {
                c.error(
                    "install.pre_patch.health_check",
                    format!("`{}` is neither `builtin` nor an SSM document name", shorten(h)),
                );
            }
            if p.install.hooks.pre_install.is_some() {
                c.error(
                    "install.pre_patch.health_check",
                    "the health check is the pre-install hook; `install.hooks.pre_install` is set too: keep one",
                );
            }
        }
    }
}
