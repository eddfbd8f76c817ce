//! One validation pass over a parsed policy: every problem is collected with its key path, none
//! stops the pass. Rules that AWS enforces only at deploy time (or never: cfn-lint does not check
//! SSM cron, offsets or zones, DESIGN §8) are enforced here, before anything is rendered.
//!
//! One file per section of the policy, each pushing its findings into the shared `Checker`:
//! `organization.rs`, `central.rs` (with `central.bridge`), `baselines.rs`, `rings.rs` (names,
//! schedules, gates, the window quota), `windows.rs` (`scan:` and `windows:`), `install.rs`,
//! `ami.rs`, `events.rs`, `evidence.rs` (SLAs, retention, and [`sla_feasibility`] over the plan),
//! `exceptions.rs`, `nodes.rs` (the node-output policy's roles), `hybrid.rs` (sites and their
//! zones). The one-line top-level keys (`version`, `name`, `patch_group_tag`) and the
//! hand-off of `self_service:` to [`crate::teams`] are here. The rules about a name or an id are
//! in [`crate::ids`]; the sections only word the messages.

mod ami;
mod baselines;
mod central;
mod events;
mod evidence;
mod exceptions;
mod hybrid;
mod install;
mod nodes;
mod organization;
mod rings;
mod windows;

use std::collections::HashMap;

use crate::diag::{Finding, Severity};
use crate::ids::{NameProblem, NameRule, PATCH_GROUP_TAG_KEYS, is_policy_name};
// These rules were defined here before they moved to `ids`; the old paths keep working.
pub use crate::ids::{KNOWN_REGIONS, is_account_id, is_max_concurrency, is_max_errors, is_org_id, is_ou_or_root_id};
use crate::policy::{Policy, Schedule};
use crate::resolve::resolve_schedule;

pub use evidence::sla_feasibility;
pub use exceptions::EXPIRY_WARNING_DAYS;

/// Validates `p` as of [`today`], returning every finding (errors and warnings).
pub fn validate(p: &Policy) -> Vec<Finding> {
    validate_on(p, today())
}

/// Validates `p` as of `today` (exception expiry), returning every finding.
pub fn validate_on(p: &Policy, today: jiff::civil::Date) -> Vec<Finding> {
    let mut c = Checker::default();
    // Findings come out in this order, which callers print as is: a section checked late (gates,
    // pre-patch, exceptions) stays late so that the output of a policy never reorders.
    version_and_name(&mut c, p);
    organization::check(&mut c, p);
    central::check(&mut c, p);
    patch_group_tag(&mut c, p);
    baselines::check(&mut c, p);
    rings::check(&mut c, p);
    windows::check(&mut c, p);
    install::check(&mut c, p);
    ami::check(&mut c, p);
    events::check(&mut c, p);
    rings::gates(&mut c, p);
    install::pre_patch(&mut c, p);
    evidence::sla_days(&mut c, p);
    exceptions::check(&mut c, p, today);
    evidence::retention(&mut c, p);
    evidence::monthly_report(&mut c, p);
    nodes::check(&mut c, p);
    hybrid::check(&mut c, p);
    self_service(&mut c, p);
    rings::window_quota(&mut c, p);
    c.out
}

/// Today (UTC): `PATCHPLANE_TODAY` (`YYYY-MM-DD`) when set, so expiry checks can be tested and
/// re-run as of a date; else the system clock.
pub fn today() -> jiff::civil::Date {
    std::env::var("PATCHPLANE_TODAY")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// `version` and `name`.
fn version_and_name(c: &mut Checker, p: &Policy) {
    if p.version != 1 {
        c.error(
            "version",
            format!(
                "version {} is not supported; this patchplane reads version 1",
                p.version
            ),
        );
    }
    if !is_policy_name(&p.name) {
        c.error(
            "name",
            format!(
                "`{}` must be 3-32 of a-z, 0-9 and -, starting with a letter and not ending with -",
                shorten(&p.name)
            ),
        );
    }
}

/// `patch_group_tag`.
fn patch_group_tag(c: &mut Checker, p: &Policy) {
    if !PATCH_GROUP_TAG_KEYS.contains(&p.patch_group_tag.as_str()) {
        c.error(
            "patch_group_tag",
            format!(
                "`{}` must be `PatchGroup` or `Patch Group` (the tag keys Patch Manager reads)",
                shorten(&p.patch_group_tag)
            ),
        );
    }
}

/// `self_service:`: its guardrails are checked in [`crate::teams`], beside the team windows they
/// bound.
fn self_service(c: &mut Checker, p: &Policy) {
    if let Some(g) = &p.self_service {
        c.out.extend(crate::teams::check_guardrails(g));
    }
}

/// The findings of one pass, and the checks every section words the same way.
#[derive(Default)]
struct Checker {
    out: Vec<Finding>,
}

impl Checker {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
        });
    }
    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Warning,
            path: path.into(),
            message: message.into(),
        });
    }

    fn range(&mut self, path: &str, v: i64, lo: i64, hi: i64, what: &str) {
        if !(lo..=hi).contains(&v) {
            self.error(path, format!("{v} is outside {lo}-{hi} ({what})"));
        }
    }

    /// `s` keeps `rule`: the length is reported first, then the first character outside its set.
    fn name(&mut self, path: &str, s: &str, rule: &NameRule) {
        match rule.check(s) {
            Ok(()) => {}
            Err(NameProblem::Length(n)) => self.error(
                path,
                format!(
                    "`{}` is {n} characters; it must be {}-{}",
                    shorten(s),
                    rule.min,
                    rule.max
                ),
            ),
            Err(NameProblem::Char(c)) => self.error(
                path,
                format!("`{}` contains {c:?}; only {} are allowed", shorten(s), rule.described),
            ),
        }
    }

    /// A value free of control characters (they would be legal YAML but are always a mistake).
    fn no_controls(&mut self, path: &str, s: &str, max: usize) {
        if s.is_empty() || s.chars().count() > max {
            self.error(path, format!("must be 1-{max} characters"));
        } else if s.chars().any(char::is_control) {
            self.error(path, format!("`{}` contains a control character", shorten(s)));
        }
    }

    /// Values that repeat, ignoring ASCII case; each repeat names the path of the first.
    fn duplicates<'a>(&mut self, items: impl Iterator<Item = (String, &'a str)>, what: &str) {
        let mut seen: HashMap<String, String> = HashMap::new();
        for (path, v) in items {
            let key = v.to_ascii_lowercase();
            if let Some(first) = seen.get(&key) {
                self.error(path, format!("duplicate {what} `{v}` (first at `{first}`)"));
            } else {
                seen.insert(key, path);
            }
        }
    }

    /// `s` resolves with `extra` days of offset; `context` ends the message (which offset).
    fn schedule(&mut self, path: &str, s: &Schedule, extra: i64, context: &str) {
        if let Err(e) = resolve_schedule(s, extra) {
            let p = if e.key.is_empty() {
                path.to_owned()
            } else {
                format!("{path}.{}", e.key)
            };
            self.error(p, format!("{}{context}", e.message));
        }
    }
}

/// Keeps messages short when a value is long.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GROUP_PREFIX, RING_NAME};

    #[test]
    fn a_name_rule_is_worded_length_first() {
        let mut c = Checker::default();
        c.name("rings[0].name", "", &RING_NAME);
        c.name("rings[1].name", "Early", &RING_NAME);
        c.name("baselines[0].group_prefix", "al2023", &GROUP_PREFIX);
        let said: Vec<(&str, &str)> = c.out.iter().map(|f| (f.path.as_str(), f.message.as_str())).collect();
        assert_eq!(
            said,
            [
                ("rings[0].name", "`` is 0 characters; it must be 1-16"),
                (
                    "rings[1].name",
                    "`Early` contains 'E'; only lowercase letters and digits are allowed"
                ),
            ]
        );
    }
}
