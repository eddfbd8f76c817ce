//! One validation pass over a parsed policy: every problem is collected with its key path, none
//! stops the pass. Rules that AWS enforces only at deploy time (or never: cfn-lint does not check
//! SSM cron, offsets or zones, DESIGN §8) are enforced here, before anything is rendered.

use std::collections::{BTreeMap, HashMap};

use crate::diag::{Finding, Severity};
pub use crate::ids::{KNOWN_REGIONS, is_account_id};
use crate::ids::{is_aws_id, is_env_name, is_role_name, is_secret_arn};
use crate::policy::{AccountFilter, Policy, Schedule};
use crate::resolve::resolve_schedule;

/// SSM's default quota of maintenance windows per account and region.
const WINDOW_QUOTA: usize = 50;

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

    /// `s` is 1..=max characters of `allowed`.
    fn name(&mut self, path: &str, s: &str, min: usize, max: usize, allowed: fn(char) -> bool, desc: &str) {
        let n = s.chars().count();
        if n < min || n > max {
            self.error(
                path,
                format!("`{}` is {n} characters; it must be {min}-{max}", shorten(s)),
            );
        } else if let Some(c) = s.chars().find(|c| !allowed(*c)) {
            self.error(
                path,
                format!("`{}` contains {c:?}; only {desc} are allowed", shorten(s)),
            );
        }
    }

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

fn alnum_dash_dot_underscore(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// An OU id (`ou-` root part `-` 8-32 chars) or a root id (`r-` 4-32 chars).
pub fn is_ou_or_root_id(s: &str) -> bool {
    let lower_alnum = |t: &str| t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix("ou-") {
        return match rest.split_once('-') {
            Some((a, b)) => {
                (4..=32).contains(&a.len()) && (8..=32).contains(&b.len()) && lower_alnum(a) && lower_alnum(b)
            }
            None => false,
        };
    }
    match s.strip_prefix("r-") {
        Some(r) => (4..=32).contains(&r.len()) && lower_alnum(r),
        None => false,
    }
}

/// An organization id: `o-` and 10-32 lowercase letters or digits.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// `MaxConcurrency`: a positive count or 1%-100%.
pub fn is_max_concurrency(s: &str) -> bool {
    rate(s, 1)
}

/// `MaxErrors`: a count (0 allowed) or 0%-100%.
pub fn is_max_errors(s: &str) -> bool {
    rate(s, 0)
}

fn rate(s: &str, min: u64) -> bool {
    let (num, pct) = match s.strip_suffix('%') {
        Some(n) => (n, true),
        None => (s, false),
    };
    if num.is_empty()
        || num.len() > 7
        || !num.bytes().all(|b| b.is_ascii_digit())
        || (num.len() > 1 && num.starts_with('0'))
    {
        return false;
    }
    match num.parse::<u64>() {
        Ok(v) => v >= min && (!pct || v <= 100),
        Err(_) => false,
    }
}

/// An S3 bucket name.
fn is_bucket_name(s: &str) -> bool {
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let edges = s.starts_with(|c: char| c.is_ascii_alphanumeric()) && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    let ip_like = s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok());
    (3..=63).contains(&s.len()) && ok_chars && edges && !s.contains("..") && !ip_like
}

/// A value free of control characters (they would be legal YAML but are always a mistake).
fn no_controls(c: &mut Checker, path: &str, s: &str, max: usize) {
    if s.is_empty() || s.chars().count() > max {
        c.error(path, format!("must be 1-{max} characters"));
    } else if s.chars().any(char::is_control) {
        c.error(path, format!("`{}` contains a control character", shorten(s)));
    }
}

/// Validates `p` as of [`today`], returning every finding (errors and warnings).
pub fn validate(p: &Policy) -> Vec<Finding> {
    validate_on(p, today())
}

/// Validates `p` as of `today` (exception expiry), returning every finding.
pub fn validate_on(p: &Policy, today: jiff::civil::Date) -> Vec<Finding> {
    let mut c = Checker { out: Vec::new() };

    if p.version != 1 {
        c.error(
            "version",
            format!(
                "version {} is not supported; this patchplane reads version 1",
                p.version
            ),
        );
    }
    let name_ok = p.name.len() >= 3
        && p.name.len() <= 32
        && p.name.starts_with(|ch: char| ch.is_ascii_lowercase())
        && !p.name.ends_with('-')
        && p.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        c.error(
            "name",
            format!(
                "`{}` must be 3-32 of a-z, 0-9 and -, starting with a letter and not ending with -",
                shorten(&p.name)
            ),
        );
    }

    // organization
    let org = &p.organization;
    if !is_org_id(&org.id) {
        c.error(
            "organization.id",
            format!(
                "`{}` is not an organization id (o- and 10-32 of a-z, 0-9)",
                shorten(&org.id)
            ),
        );
    }
    let t = &org.targets;
    if t.organizational_units.is_empty() {
        c.error(
            "organization.targets.organizational_units",
            "service-managed StackSets deploy to OUs: list at least one OU or the root id",
        );
    }
    for (i, ou) in t.organizational_units.iter().enumerate() {
        if !is_ou_or_root_id(ou) {
            c.error(
                format!("organization.targets.organizational_units[{i}]"),
                format!(
                    "`{}` is not an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)",
                    shorten(ou)
                ),
            );
        }
    }
    c.duplicates(
        t.organizational_units
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("organization.targets.organizational_units[{i}]"), v.as_str())),
        "OU",
    );
    for (i, a) in t.accounts.iter().enumerate() {
        if !is_account_id(a) {
            c.error(
                format!("organization.targets.accounts[{i}]"),
                format!(
                    "`{}` is not a 12-digit account id (quote it so leading zeros survive)",
                    shorten(a)
                ),
            );
        }
    }
    c.duplicates(
        t.accounts
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("organization.targets.accounts[{i}]"), v.as_str())),
        "account",
    );
    match (t.account_filter, t.accounts.is_empty()) {
        (AccountFilter::None, false) => c.error(
            "organization.targets.account_filter",
            "accounts are listed but `account_filter` is NONE: say INTERSECTION, DIFFERENCE or UNION",
        ),
        (f, true) if f != AccountFilter::None => c.error(
            "organization.targets.accounts",
            "`account_filter` needs at least one account",
        ),
        _ => {}
    }
    if org.regions.is_empty() {
        c.error(
            "organization.regions",
            "list at least one region with its IANA time zone",
        );
    }
    for (region, zone) in &org.regions {
        let path = format!("organization.regions.{region}");
        if !KNOWN_REGIONS.contains(&region.as_str()) {
            c.error(
                &path,
                format!(
                    "`{}` is not an AWS region patchplane knows (for example us-east-1, eu-west-1)",
                    shorten(region)
                ),
            );
        }
        if jiff::tz::TimeZone::get(zone).is_err() || zone.is_empty() {
            c.error(
                &path,
                format!(
                    "`{}` is not an IANA time zone (for example America/New_York, Europe/Dublin)",
                    shorten(zone)
                ),
            );
        }
    }
    let r = &org.rollout;
    c.range(
        "organization.rollout.max_concurrent_percentage",
        r.max_concurrent_percentage,
        1,
        100,
        "percent of accounts at once",
    );
    c.range(
        "organization.rollout.failure_tolerance_percentage",
        r.failure_tolerance_percentage,
        0,
        100,
        "percent of accounts that may fail",
    );
    if r.retain_stacks_on_account_removal && !r.auto_deployment {
        c.error(
            "organization.rollout.retain_stacks_on_account_removal",
            "only applies with `auto_deployment: true`",
        );
    }

    // central
    if !is_account_id(&p.central.account) {
        c.error(
            "central.account",
            format!(
                "`{}` is not a 12-digit account id (quote it so leading zeros survive)",
                shorten(&p.central.account)
            ),
        );
    }
    if !KNOWN_REGIONS.contains(&p.central.region.as_str()) {
        c.error(
            "central.region",
            format!("`{}` is not an AWS region patchplane knows", shorten(&p.central.region)),
        );
    }
    if !is_bucket_name(&p.central.evidence_bucket) {
        c.error(
            "central.evidence_bucket",
            format!(
                "`{}` is not a valid S3 bucket name (3-63 of a-z, 0-9, . and -)",
                shorten(&p.central.evidence_bucket)
            ),
        );
    }

    if let Some(b) = &p.central.bridge {
        check_bridge(&mut c, b);
    }

    if !matches!(p.patch_group_tag.as_str(), "PatchGroup" | "Patch Group") {
        c.error(
            "patch_group_tag",
            format!(
                "`{}` must be `PatchGroup` or `Patch Group` (the tag keys Patch Manager reads)",
                shorten(&p.patch_group_tag)
            ),
        );
    }

    // baselines
    if p.baselines.is_empty() {
        c.error("baselines", "define at least one baseline");
    }
    let mut defaults: BTreeMap<&str, String> = BTreeMap::new();
    for (i, b) in p.baselines.iter().enumerate() {
        let bp = format!("baselines[{i}]");
        c.name(
            &format!("{bp}.name"),
            &b.name,
            3,
            128,
            alnum_dash_dot_underscore,
            "letters, digits, `-`, `_` and `.`",
        );
        if let Some(d) = &b.description
            && (d.is_empty() || d.chars().count() > 1024)
        {
            c.error(format!("{bp}.description"), "must be 1-1024 characters");
        }
        c.name(
            &format!("{bp}.group_prefix"),
            &b.group_prefix,
            1,
            32,
            |ch| ch.is_ascii_alphanumeric(),
            "letters and digits",
        );
        if b.group_prefix.starts_with(|ch: char| ch.is_ascii_digit()) {
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
                    no_controls(&mut c, &format!("{fp}[{v}]"), val, 64);
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
                no_controls(&mut c, &format!("{bp}.{field}[{k}]"), patch, 100);
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

    // rings
    if p.rings.is_empty() {
        c.error("rings", "define at least one ring");
    }
    for (i, ring) in p.rings.iter().enumerate() {
        let rp = format!("rings[{i}]");
        c.name(
            &format!("{rp}.name"),
            &ring.name,
            1,
            16,
            |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit(),
            "lowercase letters and digits",
        );
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

    // scan, windows, install
    c.schedule("scan.schedule", &p.scan.schedule, 0, "");
    for (field, v, ok) in [
        (
            "scan.max_concurrency",
            &p.scan.max_concurrency,
            is_max_concurrency as fn(&str) -> bool,
        ),
        ("scan.max_errors", &p.scan.max_errors, is_max_errors),
    ] {
        if let Some(v) = v
            && !ok(v)
        {
            c.error(
                field,
                format!("`{}` is not a count or a percentage such as \"10%\"", shorten(v)),
            );
        }
    }
    c.range("windows.duration_hours", p.windows.duration_hours, 1, 24, "hours");
    c.range("windows.cutoff_hours", p.windows.cutoff_hours, 0, 23, "hours");
    if p.windows.cutoff_hours >= p.windows.duration_hours && (1..=24).contains(&p.windows.duration_hours) {
        c.error(
            "windows.cutoff_hours",
            format!(
                "cutoff {}h must be less than the {}h duration, or no task could ever start",
                p.windows.cutoff_hours, p.windows.duration_hours
            ),
        );
    }
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
            c.name(
                &format!("install.hooks.{field}"),
                d,
                3,
                128,
                alnum_dash_dot_underscore,
                "letters, digits, `-`, `_` and `.` (an SSM document name)",
            );
        }
    }

    // ami_pipeline
    if let Some(ami) = &p.ami_pipeline {
        if !p.rings.iter().any(|r| r.name == ami.aligned_to_ring) {
            c.error(
                "ami_pipeline.aligned_to_ring",
                format!("ring `{}` is not defined in `rings`", shorten(&ami.aligned_to_ring)),
            );
        }
        for (i, a) in ami.accounts.iter().enumerate() {
            if !is_account_id(a) {
                c.error(
                    format!("ami_pipeline.accounts[{i}]"),
                    format!("`{}` is not a 12-digit account id", shorten(a)),
                );
            }
        }
        for (i, r) in ami.regions.iter().enumerate() {
            if !org.regions.contains_key(r) {
                c.error(
                    format!("ami_pipeline.regions[{i}]"),
                    format!(
                        "`{}` is not in `organization.regions`, so it has no time zone",
                        shorten(r)
                    ),
                );
            }
        }
        for (i, img) in ami.images.iter().enumerate() {
            c.name(
                &format!("ami_pipeline.images[{i}].name"),
                &img.name,
                3,
                64,
                |ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_',
                "letters, digits, `-` and `_`",
            );
            if !p.baselines.iter().any(|b| b.name == img.baseline) {
                c.error(
                    format!("ami_pipeline.images[{i}].baseline"),
                    format!("baseline `{}` is not defined in `baselines`", shorten(&img.baseline)),
                );
            }
            no_controls(
                &mut c,
                &format!("ami_pipeline.images[{i}].parent_image"),
                &img.parent_image,
                1024,
            );
        }
        c.duplicates(
            ami.images
                .iter()
                .enumerate()
                .map(|(i, im)| (format!("ami_pipeline.images[{i}].name"), im.name.as_str())),
            "image name",
        );
    }
    let mut seen = Vec::new();
    for (i, s) in p.events.forward.iter().enumerate() {
        if seen.contains(s) {
            c.error(
                format!("events.forward[{i}]"),
                format!("`{}` is listed twice", s.as_str()),
            );
        }
        seen.push(*s);
    }

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
            let doc_ok =
                (3..=128).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b));
            if h != "builtin" && !doc_ok {
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
    check_sla_days(&mut c, &p.evidence.sla_days);
    check_exceptions(&mut c, p, today);
    c.range("evidence.retention_days", p.evidence.retention_days, 30, 3650, "days");

    if let Some(g) = &p.self_service {
        c.out.extend(crate::teams::check_guardrails(g));
    }
    let team_windows: usize = p.teams.iter().map(|t| t.windows.len()).sum();
    let windows = 1 + p.rings.len() * p.baselines.len() + team_windows;
    if windows > WINDOW_QUOTA {
        c.warn("rings", format!("{windows} maintenance windows per account and region (team windows included: {team_windows}) exceed SSM's default quota of {WINDOW_QUOTA}: raise the quota before rollout"));
    }
    c.out
}

/// Severities `evidence.sla_days` may name: Patch Manager's compliance levels and the vendors'
/// patch severities (MSRC: Critical, Important, Moderate, Low; Linux: Medium, …).
const SLA_SEVERITIES: [&str; 9] = [
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

fn check_sla_days(c: &mut Checker, sla: &crate::bridge_config::SlaDays) {
    use crate::bridge_config::SlaDays;
    match sla {
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

/// Today (UTC): `PATCHPLANE_TODAY` (`YYYY-MM-DD`) when set, so expiry checks can be tested and
/// re-run as of a date; else the system clock.
pub fn today() -> jiff::civil::Date {
    std::env::var("PATCHPLANE_TODAY")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Days before an exception's expiry that `validate` starts warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

fn check_exceptions(c: &mut Checker, p: &Policy, today: jiff::civil::Date) {
    let mut ids = std::collections::BTreeSet::new();
    for (i, e) in p.exceptions.iter().enumerate() {
        let at = |f: &str| format!("exceptions[{i}].{f}");
        c.name(
            &at("id"),
            &e.id,
            1,
            64,
            |ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch),
            "A-Z, a-z, 0-9, -, _, .",
        );
        if !ids.insert(e.id.as_str()) {
            c.error(at("id"), format!("`{}` is used twice", shorten(&e.id)));
        }
        if !e.selects_nodes() && e.patches.is_empty() {
            c.error(
                format!("exceptions[{i}]"),
                "name `nodes`, `tags` or `patches`: what it covers",
            );
        }
        for (j, n) in e.nodes.iter().enumerate() {
            if !crate::ids::is_node_id(n) {
                c.error(
                    format!("exceptions[{i}].nodes[{j}]"),
                    format!("`{}` is not a node id (i-… or mi-…)", shorten(n)),
                );
            }
        }
        for (j, patch) in e.patches.iter().enumerate() {
            no_controls(c, &format!("exceptions[{i}].patches[{j}]"), patch, 100);
        }
        for (f, v) in [("reason", &e.reason), ("approver", &e.approver), ("ticket", &e.ticket)] {
            no_controls(c, &at(f), v, 512);
        }
        match e.expiry() {
            None => c.error(
                at("expires"),
                format!("`{}` is not a date YYYY-MM-DD", shorten(&e.expires)),
            ),
            Some(end) if end < today => c.error(
                at("expires"),
                format!(
                    "exception {} expired on {end}: remove it, or renew it with a new approval",
                    e.id
                ),
            ),
            Some(end) => {
                let left = today.until(end).map(|s| s.get_days()).unwrap_or(i32::MAX);
                if i64::from(left) <= EXPIRY_WARNING_DAYS {
                    c.warn(
                        at("expires"),
                        format!(
                            "exception {} expires on {end}, in {left} day(s): renew or remove it",
                            e.id
                        ),
                    );
                }
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
    let mut c = Checker { out: Vec::new() };
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

fn check_bridge(c: &mut Checker, b: &crate::policy::BridgeService) {
    let image = &b.image;
    let name_part = image.rsplit('/').next().unwrap_or_default();
    if image.is_empty() || image.len() > 255 || image.contains(|ch: char| ch.is_whitespace() || ch.is_control()) {
        c.error(
            "central.bridge.image",
            "must be an image reference (1-255 characters, no spaces)",
        );
    } else if !(name_part.contains(':') || image.contains('@')) {
        c.error(
            "central.bridge.image",
            format!(
                "`{}` has no tag or digest; pin one, so a deployment is reproducible",
                shorten(image)
            ),
        );
    } else if name_part.ends_with(":latest") {
        c.warn(
            "central.bridge.image",
            "`:latest` moves under you; pin a version or a digest",
        );
    }
    if !(1..=16).contains(&b.subnets.len()) {
        c.error("central.bridge.subnets", "name 1-16 subnets");
    }
    for (i, s) in b.subnets.iter().enumerate() {
        if !is_aws_id(s, "subnet-") {
            c.error(
                format!("central.bridge.subnets[{i}]"),
                format!("`{}` is not a subnet id", shorten(s)),
            );
        }
    }
    if !(1..=5).contains(&b.security_groups.len()) {
        c.error("central.bridge.security_groups", "name 1-5 security groups");
    }
    for (i, s) in b.security_groups.iter().enumerate() {
        if !is_aws_id(s, "sg-") {
            c.error(
                format!("central.bridge.security_groups[{i}]"),
                format!("`{}` is not a security group id", shorten(s)),
            );
        }
    }
    if b.desired_count > 10 {
        c.error("central.bridge.desired_count", "must be 0-10");
    }
    let memory_ok = match b.cpu {
        256 => matches!(b.memory, 512 | 1024 | 2048),
        512 => (1024..=4096).contains(&b.memory) && b.memory.is_multiple_of(1024),
        1024 => (2048..=8192).contains(&b.memory) && b.memory.is_multiple_of(1024),
        _ => {
            c.error("central.bridge.cpu", "must be 256, 512 or 1024 (Fargate CPU units)");
            true
        }
    };
    if !memory_ok {
        c.error(
            "central.bridge.memory",
            format!("{} MiB is not a Fargate size for {} CPU units", b.memory, b.cpu),
        );
    }
    if !is_role_name(&b.member_role_name) {
        c.error(
            "central.bridge.member_role_name",
            "must be an IAM role name (1-64 of letters, digits and +=,.@_-)",
        );
    }
    for (name, arn) in &b.secrets {
        if !is_env_name(name) {
            c.error(
                format!("central.bridge.secrets.{name}"),
                "the key must be an environment variable name (letters, digits, `_`)",
            );
        }
        if !is_secret_arn(arn) {
            c.error(
                format!("central.bridge.secrets.{name}"),
                format!(
                    "`{}` is not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)",
                    shorten(arn)
                ),
            );
        }
    }
    // The bridge's own rules, once: the same checks `patchplane-bridge check` runs, under this key.
    for f in b.config.validate() {
        let path = if f.path.is_empty() {
            "central.bridge.config".to_owned()
        } else {
            format!("central.bridge.config.{}", f.path)
        };
        c.out.push(Finding { path, ..f });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_patterns() {
        for ok in ["1", "10", "10%", "100%", "1%"] {
            assert!(is_max_concurrency(ok), "{ok}");
        }
        for bad in ["0", "0%", "101%", "", "%", "10 %", "01", "-1", "1.5", "10%%"] {
            assert!(!is_max_concurrency(bad), "{bad}");
        }
        assert!(is_max_errors("0") && is_max_errors("0%") && is_max_errors("5%"));
        assert!(!is_max_errors("101%") && !is_max_errors("x"));
    }

    #[test]
    fn ids() {
        assert!(is_ou_or_root_id("ou-ab12-34cd56ef") && is_ou_or_root_id("r-ab12"));
        assert!(!is_ou_or_root_id("ou-ab12") && !is_ou_or_root_id("OU-AB12-34CD56EF") && !is_ou_or_root_id("r-a"));
        assert!(is_account_id("012345678901") && !is_account_id("12345678901") && !is_account_id("12345678901a"));
        assert!(
            is_bucket_name("acme-patch-evidence")
                && !is_bucket_name("Acme")
                && !is_bucket_name("a..b")
                && !is_bucket_name("10.0.0.1")
        );
    }
}
