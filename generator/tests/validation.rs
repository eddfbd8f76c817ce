//! Every validation rule, fed a bad input derived from the example policy: the test asserts the
//! message, the key path and the line. Lines are found independently of the library, by searching
//! the mutated text for a marker.

use std::path::Path;

use patchplane::diag::{Diagnostic, Severity};
use patchplane::{LoadError, load_str};

const BASE: &str = include_str!("../../examples/org-policy.yaml");

/// Replaces the single occurrence of `from` (it must occur exactly once).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur exactly once");
    text.replacen(from, to, 1)
}

/// 1-based line of the first line containing `marker` (exactly one line may contain it).
fn line_of(text: &str, marker: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(marker))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "marker `{marker}` must be on exactly one line, found {hits:?}"
    );
    hits[0]
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match load_str(text, Path::new("policy.yaml")) {
        Ok(_) => panic!("the policy should be invalid"),
        Err(LoadError::Invalid(d)) => d.into_iter().filter(|d| d.severity == Severity::Error).collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Asserts one error at `path` whose message contains `needle`, on the line holding `marker`.
#[track_caller]
fn expect(text: &str, path: &str, needle: &str, marker: &str) {
    let errs = errors(text);
    let line = line_of(text, marker);
    let found = errs.iter().find(|d| d.path == path);
    let Some(d) = found else {
        panic!("no error at `{path}`; got:\n{}", render(&errs))
    };
    assert!(
        d.message.contains(needle),
        "message of `{path}` lacks `{needle}`: {}",
        d.message
    );
    assert_eq!(d.line, Some(line), "line of `{path}`: {d}");
    assert_eq!(d.file, Path::new("policy.yaml"));
    // The rendered diagnostic names file, line and path, in that order.
    let shown = d.to_string();
    assert!(
        shown.starts_with(&format!("policy.yaml:{line}: error: `{path}`: ")),
        "{shown}"
    );
}

fn render(errs: &[Diagnostic]) -> String {
    errs.iter().map(|d| format!("  {d}\n")).collect()
}

#[test]
fn the_examples_are_valid() {
    for (name, text) in [
        ("org-policy", BASE),
        ("sunday", include_str!("../../examples/sunday-after-patch-tuesday.yaml")),
    ] {
        let l = load_str(text, Path::new(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        // The monthly example shows the SLA warning on purpose: a 7-day delay and a monthly
        // window cannot meet 14 days.
        let unexpected: Vec<_> = l
            .warnings
            .iter()
            .filter(|w| !w.message.contains("cannot meet the"))
            .collect();
        assert!(unexpected.is_empty(), "{name}: {unexpected:?}");
        assert_eq!(
            l.warnings.len(),
            if name == "sunday" { 3 } else { 0 },
            "{name}: {:?}",
            l.warnings
        );
    }
}

#[test]
fn unknown_key() {
    let t = edit(
        BASE,
        "windows: { duration_hours: 4, cutoff_hours: 1 }",
        "windows: { duration_hours: 4, cutoff_hours: 1, colour: blue }",
    );
    expect(&t, "windows.colour", "unknown field `colour`", "colour: blue");
    let t = edit(
        BASE,
        "    rejected_patches: []\n",
        "    rejected_patches: []\n    rejected_patch: [KB1]\n",
    );
    expect(
        &t,
        "baselines[0].rejected_patch",
        "unknown field `rejected_patch`",
        "rejected_patch: [KB1]",
    );
}

#[test]
fn bad_iana_zone() {
    let t = edit(BASE, "Europe/Dublin", "Europe/Dublln");
    expect(
        &t,
        "organization.regions.eu-west-1",
        "`Europe/Dublln` is not an IANA time zone",
        "Europe/Dublln",
    );
}

#[test]
fn bad_region() {
    let t = edit(BASE, "eu-west-1: Europe/Dublin", "eu-wset-1: Europe/Dublin");
    expect(
        &t,
        "organization.regions.eu-wset-1",
        "`eu-wset-1` is not an AWS region",
        "eu-wset-1",
    );
    let t = edit(BASE, "  region: us-east-1", "  region: us-east-9");
    expect(&t, "central.region", "`us-east-9` is not an AWS region", "us-east-9");
}

#[test]
fn bad_cron() {
    let t = edit(
        BASE,
        "{ weekly: { day: THU, at: \"02:00\" } }",
        "{ cron: \"cron(0 2 * * THU *)\" }",
    );
    expect(&t, "rings[2].schedule.cron", "must be `?`", "cron(0 2 * * THU *)");
    let t = edit(
        BASE,
        "{ weekly: { day: THU, at: \"02:00\" } }",
        "{ cron: \"cron(0 2 ? * THU#2,FRI#2 *)\" }",
    );
    expect(&t, "rings[2].schedule.cron", "one `X#n`", "THU#2,FRI#2");
    let t = edit(
        BASE,
        "{ weekly: { day: THU, at: \"02:00\" } }",
        "{ cron: \"rate(7 days)\" }",
    );
    expect(&t, "rings[2].schedule.cron", "rate()", "rate(7 days)");
}

#[test]
fn bad_day() {
    let t = edit(BASE, "day: THU", "day: THURSDAY");
    expect(
        &t,
        "rings[2].schedule.weekly.day",
        "unknown variant `THURSDAY`",
        "THURSDAY",
    );
}

#[test]
fn bad_time() {
    let t = edit(BASE, "{ daily: { at: \"01:00\" } }", "{ daily: { at: \"25:00\" } }");
    expect(
        &t,
        "scan.schedule.daily.at",
        "`25:00` is not a 24-hour local time",
        "25:00",
    );
    let t = edit(BASE, "day: WED, at: \"02:00\"", "day: WED, at: \"2am\"");
    expect(&t, "rings[1].schedule.weekly.at", "`2am`", "2am");
}

#[test]
fn schedule_needs_exactly_one_form() {
    let t = edit(
        BASE,
        "{ daily: { at: \"01:00\" } }",
        "{ daily: { at: \"01:00\" }, weekly: { day: MON, at: \"01:00\" } }",
    );
    expect(
        &t,
        "scan.schedule",
        "daily and weekly",
        "daily: { at: \"01:00\" }, weekly",
    );
    let t = edit(
        BASE,
        "{ daily: { at: \"01:00\" } }",
        "{ daily: { at: \"01:00\" }, offset_days: 2 }",
    );
    expect(&t, "scan.schedule.offset_days", "goes with `cron`", "offset_days: 2 }");
}

#[test]
fn offset_and_week_combinations() {
    // Patch Tuesday + 20 days folds into TUE#4 + 6: fine alone, but the Ubuntu baseline adds one
    // more day and that would need TUE#5.
    let t = edit(
        BASE,
        "{ weekly: { day: THU, at: \"02:00\" } }",
        "{ patch_tuesday: { offset_days: 20, at: \"02:00\" } }",
    );
    expect(
        &t,
        "rings[2].schedule.patch_tuesday.offset_days",
        "TUE#5",
        "offset_days: 20",
    );
    let errs = errors(&t);
    let d = errs
        .iter()
        .find(|d| d.path == "rings[2].schedule.patch_tuesday.offset_days")
        .expect("error");
    assert!(d.message.contains("baselines[1].install_offset_days"), "{}", d.message);
    // `last` + 7 days cannot be expressed.
    let t = edit(
        BASE,
        "{ weekly: { day: THU, at: \"02:00\" } }",
        "{ monthly: { week: last, day: FRI, offset_days: 7, at: \"02:00\" } }",
    );
    expect(
        &t,
        "rings[2].schedule.monthly.offset_days",
        "no week after the last",
        "week: last",
    );
    let t = edit(
        BASE,
        "{ weekly: { day: THU, at: \"02:00\" } }",
        "{ monthly: { week: 6, day: FRI, at: \"02:00\" } }",
    );
    expect(&t, "rings[2].schedule.monthly.week", "week 6", "week: 6");
    let t = edit(
        BASE,
        "{ weekly: { day: THU, at: \"02:00\" } }",
        "{ cron: \"cron(0 2 ? * THU *)\", offset_days: 8 }",
    );
    expect(&t, "rings[2].schedule.offset_days", "`X#n`", "offset_days: 8");
    let t = edit(BASE, "    install_offset_days: 2 ", "    install_offset_days: 40 ");
    expect(
        &t,
        "baselines[2].install_offset_days",
        "40 is outside 0-27",
        "install_offset_days: 40",
    );
}

#[test]
fn cutoff_must_be_below_duration() {
    let t = edit(
        BASE,
        "windows: { duration_hours: 4, cutoff_hours: 1 }",
        "windows: { duration_hours: 4, cutoff_hours: 4 }",
    );
    expect(
        &t,
        "windows.cutoff_hours",
        "less than the 4h duration",
        "cutoff_hours: 4",
    );
}

#[test]
fn duration_range() {
    let t = edit(
        BASE,
        "windows: { duration_hours: 4, cutoff_hours: 1 }",
        "windows: { duration_hours: 25, cutoff_hours: 1 }",
    );
    expect(&t, "windows.duration_hours", "25 is outside 1-24", "duration_hours: 25");
    let t = edit(
        BASE,
        "windows: { duration_hours: 4, cutoff_hours: 1 }",
        "windows: { duration_hours: 0, cutoff_hours: 0 }",
    );
    expect(&t, "windows.duration_hours", "0 is outside 1-24", "duration_hours: 0");
}

#[test]
fn filter_keys_must_fit_the_os() {
    let t = edit(
        BASE,
        "{ PRODUCT: [Ubuntu22.04], PRIORITY: [Standard] }",
        "{ PRODUCT: [Ubuntu22.04], CLASSIFICATION: [Security] }",
    );
    expect(
        &t,
        "baselines[1].rules[1].filters.CLASSIFICATION",
        "not a filter key for UBUNTU; use one of PRODUCT, PRIORITY",
        "CLASSIFICATION: [Security] }",
    );
    let t = edit(BASE, "MSRC_SEVERITY: [Critical] }", "SEVERITY: [Critical] }");
    expect(
        &t,
        "baselines[2].rules[0].filters.SEVERITY",
        "not a filter key for WINDOWS",
        "SecurityUpdates], SEVERITY: [Critical]",
    );
}

#[test]
fn approve_after_days_on_ubuntu() {
    let t = edit(
        BASE,
        "      - filters: { PRODUCT: [Ubuntu22.04], PRIORITY: [Standard] }\n",
        "      - filters: { PRODUCT: [Ubuntu22.04], PRIORITY: [Standard] }\n        approve_after_days: 3\n",
    );
    expect(
        &t,
        "baselines[1].rules[1].approve_after_days",
        "UBUNTU does not support approval delays",
        "approve_after_days: 3",
    );
    let t = edit(
        BASE,
        "approve_after_days: 14\n        compliance: HIGH\n    approved",
        "approve_after_days: 400\n        compliance: HIGH\n    approved",
    );
    expect(
        &t,
        "baselines[0].rules[1].approve_after_days",
        "400 is outside 0-360",
        "approve_after_days: 400",
    );
}

#[test]
fn at_most_ten_rules() {
    let rule = "      - filters: { CLASSIFICATION: [Security], SEVERITY: [Critical] }\n        approve_after_days: 7\n        compliance: CRITICAL\n";
    let t = edit(
        BASE,
        "    approved_patches: []\n",
        &format!("{}    approved_patches: []\n", rule.repeat(9)),
    );
    let errs = errors(&t);
    let d = errs
        .iter()
        .find(|d| d.path == "baselines[0].rules")
        .expect("rules error");
    assert!(
        d.message.contains("11 rules; a patch baseline holds at most 10"),
        "{}",
        d.message
    );
    // Reported on the first baseline's `rules:` key.
    let first_rules = t.lines().position(|l| l == "    rules:").expect("rules key") + 1;
    assert_eq!(d.line, Some(first_rules));
}

#[test]
fn at_most_fifty_patches() {
    let patches: Vec<String> = (0..51).map(|i| format!("KB{:07}", 5000000 + i)).collect();
    let t = edit(
        BASE,
        "    approved_patches: []\n",
        &format!("    approved_patches: [{}]\n", patches.join(", ")),
    );
    expect(
        &t,
        "baselines[0].approved_patches",
        "51 patches; a baseline holds at most 50",
        "approved_patches: [KB",
    );
    let t = edit(
        BASE,
        "    rejected_patches: []\n",
        &format!("    rejected_patches: [{}]\n", patches.join(", ")),
    );
    expect(
        &t,
        "baselines[0].rejected_patches",
        "51 patches",
        "rejected_patches: [KB",
    );
}

#[test]
fn name_patterns_and_lengths() {
    let t = edit(BASE, "name: acme", "name: Acme Corp");
    expect(&t, "name", "3-32 of a-z", "name: Acme Corp");
    let t = edit(BASE, "name: plat-al2023-baseline", "name: plat al2023");
    expect(&t, "baselines[0].name", "contains ' '", "plat al2023");
    let t = edit(BASE, "name: plat-al2023-baseline", "name: ab");
    expect(&t, "baselines[0].name", "2 characters; it must be 3-128", "name: ab");
    let t = edit(BASE, "{ name: late,", "{ name: late-production-critical,");
    expect(&t, "rings[2].name", "it must be 1-16", "late-production-critical");
    let t = edit(BASE, "group_prefix: Win2022", "group_prefix: Win-2022");
    expect(&t, "baselines[2].group_prefix", "contains '-'", "Win-2022");
    let t = edit(BASE, "pre_install: null", "pre_install: \"stop db; rm -rf\"");
    expect(&t, "install.hooks.pre_install", "an SSM document name", "stop db");
    let t = edit(BASE, "patch_group_tag: PatchGroup", "patch_group_tag: Patch-Group");
    expect(&t, "patch_group_tag", "`PatchGroup` or `Patch Group`", "Patch-Group");
    let t = edit(
        BASE,
        "evidence_bucket: acme-patch-evidence",
        "evidence_bucket: Acme_Evidence",
    );
    expect(
        &t,
        "central.evidence_bucket",
        "not a valid S3 bucket name",
        "Acme_Evidence",
    );
}

#[test]
fn duplicate_names() {
    let t = edit(BASE, "{ name: late,", "{ name: early,");
    expect(
        &t,
        "rings[2].name",
        "duplicate ring name `early` (first at `rings[0].name`)",
        "day: THU",
    );
    let t = edit(BASE, "name: plat-win2022-baseline", "name: plat-ubuntu22-baseline");
    let line_marker = "operating_system: WINDOWS";
    // The duplicate is reported on the second baseline's name, the line before its OS.
    let errs = errors(&t);
    let d = errs
        .iter()
        .find(|d| d.path == "baselines[2].name")
        .expect("duplicate baseline");
    assert!(d.message.contains("duplicate baseline name"), "{}", d.message);
    assert_eq!(d.line, Some(line_of(&t, line_marker) - 1));
    let t = edit(BASE, "group_prefix: Win2022", "group_prefix: al2023");
    expect(
        &t,
        "baselines[2].group_prefix",
        "duplicate group prefix `al2023`",
        "group_prefix: al2023",
    );
    // Two defaults for one OS.
    let t = edit(BASE, "operating_system: WINDOWS", "operating_system: UBUNTU");
    let errs = errors(&t);
    assert!(
        errs.iter().any(|d| d.path == "baselines[2].default"
            && d.message
                .contains("UBUNTU already has a default baseline at `baselines[1]`")),
        "{}",
        render(&errs)
    );
}

#[test]
fn references_must_be_defined() {
    let ami = "ami_pipeline:\n  accounts: [\"222222222222\"]\n  regions: [us-east-1, us-west-2]\n  aligned_to_ring: canary\n  images:\n    - { name: al2023-golden, baseline: plat-al2023, parent_image: \"ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64\" }\n";
    let without = &BASE[..BASE.find("ami_pipeline:").expect("the example has an AMI pipeline")];
    let t = format!("{without}{ami}");
    expect(
        &t,
        "ami_pipeline.aligned_to_ring",
        "ring `canary` is not defined",
        "aligned_to_ring: canary",
    );
    expect(
        &t,
        "ami_pipeline.images[0].baseline",
        "baseline `plat-al2023` is not defined",
        "al2023-golden",
    );
    expect(
        &t,
        "ami_pipeline.regions[1]",
        "`us-west-2` is not in `organization.regions`",
        "regions: [us-east-1, us-west-2]",
    );
}

#[test]
fn rate_control_patterns() {
    let t = edit(BASE, "max_concurrency: \"10%\"", "max_concurrency: \"10 percent\"");
    expect(&t, "install.max_concurrency", "not a positive count", "10 percent");
    let t = edit(BASE, "max_errors: \"5%\"", "max_errors: \"101%\"");
    expect(&t, "install.max_errors", "`101%` is not a count", "101%");
    let t = edit(BASE, "max_concurrency: \"10%\"", "max_concurrency: \"0\"");
    expect(&t, "install.max_concurrency", "`0`", "max_concurrency: \"0\"");
}

#[test]
fn account_and_ou_ids() {
    let t = edit(BASE, "account: \"111111111111\"", "account: \"11111111111\"");
    expect(
        &t,
        "central.account",
        "not a 12-digit account id",
        "account: \"11111111111\"",
    );
    let t = edit(
        BASE,
        "organizational_units: [ou-ab12-34cd56ef]",
        "organizational_units: [ou-xyz]",
    );
    expect(
        &t,
        "organization.targets.organizational_units[0]",
        "`ou-xyz` is not an OU id",
        "ou-xyz",
    );
    let t = edit(
        BASE,
        "accounts: []\n    account_filter: NONE",
        "accounts: [\"222222222222\"]\n    account_filter: NONE",
    );
    expect(
        &t,
        "organization.targets.account_filter",
        "`account_filter` is NONE",
        "account_filter: NONE",
    );
    let t = edit(
        BASE,
        "organizational_units: [ou-ab12-34cd56ef]",
        "organizational_units: []",
    );
    expect(
        &t,
        "organization.targets.organizational_units",
        "at least one OU",
        "organizational_units: []",
    );
}

#[test]
fn rollout_percentages() {
    let t = edit(BASE, "max_concurrent_percentage: 25", "max_concurrent_percentage: 0");
    expect(
        &t,
        "organization.rollout.max_concurrent_percentage",
        "0 is outside 1-100",
        "max_concurrent_percentage: 0",
    );
    let t = edit(
        BASE,
        "failure_tolerance_percentage: 10",
        "failure_tolerance_percentage: -1",
    );
    expect(
        &t,
        "organization.rollout.failure_tolerance_percentage",
        "-1 is outside 0-100",
        "failure_tolerance_percentage: -1",
    );
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let t = edit(BASE, "Europe/Dublin", "Europe/Dublln");
    let t = edit(&t, "max_errors: \"5%\"", "max_errors: \"lots\"");
    let t = edit(
        &t,
        "windows: { duration_hours: 4, cutoff_hours: 1 }",
        "windows: { duration_hours: 4, cutoff_hours: 9 }",
    );
    let t = edit(&t, "{ name: late,", "{ name: main,");
    let paths: Vec<String> = errors(&t).into_iter().map(|d| d.path).collect();
    for p in [
        "organization.regions.eu-west-1",
        "install.max_errors",
        "windows.cutoff_hours",
        "rings[2].name",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} missing from {paths:?}");
    }
}

#[test]
fn version_and_structure() {
    let t = edit(BASE, "version: 1\nname:", "version: 2\nname:");
    expect(&t, "version", "version 2 is not supported", "version: 2");
    let t = edit(BASE, "  call_as: DELEGATED_ADMIN", "  call_as: ROOT");
    expect(&t, "organization.call_as", "unknown variant `ROOT`", "call_as: ROOT");
    // Broken YAML: the line of the syntax error.
    let t = edit(
        BASE,
        "scan: { schedule: { daily: { at: \"01:00\" } } }",
        "scan: { schedule: { daily: { at: \"01:00\" } }",
    );
    let errs = errors(&t);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].line.is_some_and(|l| l >= line_of(&t, "scan: {")), "{}", errs[0]);
}

#[test]
fn too_many_windows_is_a_warning_not_an_error() {
    // Ring 0 keeps the name `early`, which the example's AMI pipeline is aligned to.
    let rings: String = (0..17)
        .map(|i| {
            let name = if i == 0 { "early".to_owned() } else { format!("r{i}") };
            format!("  - {{ name: {name}, schedule: {{ weekly: {{ day: MON, at: \"02:00\" }} }} }}\n")
        })
        .collect();
    let start = BASE.find("rings:\n").expect("rings");
    let end = BASE.find("scan:").expect("scan");
    let t = format!("{}rings:\n{rings}{}", &BASE[..start], &BASE[end..]);
    let l = load_str(&t, Path::new("policy.yaml")).expect("valid with a warning");
    assert_eq!(l.warnings.len(), 1);
    assert!(
        l.warnings[0].message.contains("52 maintenance windows"),
        "{}",
        l.warnings[0]
    );
}

#[test]
fn bridge_service_fields_are_checked() {
    let t = edit(
        BASE,
        "image: 111111111111.dkr.ecr.us-east-1.amazonaws.com/patchplane-bridge:0.1.0",
        "image: 111111111111.dkr.ecr.us-east-1.amazonaws.com/patchplane-bridge",
    );
    expect(
        &t,
        "central.bridge.image",
        "has no tag or digest",
        "amazonaws.com/patchplane-bridge",
    );
    let t = edit(BASE, "subnet-0a1b2c3d4e5f60719]", "subnet-XYZ]");
    expect(
        &t,
        "central.bridge.subnets[1]",
        "`subnet-XYZ` is not a subnet id",
        "subnet-XYZ",
    );
    let t = edit(BASE, "security_groups: [sg-0a1b2c3d4e5f60718]", "security_groups: []");
    expect(
        &t,
        "central.bridge.security_groups",
        "name 1-5 security groups",
        "security_groups: []",
    );
    let t = edit(BASE, "    memory: 512\n", "    memory: 4096\n");
    expect(
        &t,
        "central.bridge.memory",
        "4096 MiB is not a Fargate size for 256 CPU units",
        "memory: 4096",
    );
    let t = edit(
        BASE,
        "SERVICENOW_PASSWORD: \"arn:aws:secretsmanager",
        "SERVICENOW_PASSWORD: \"arn:aws:ssm",
    );
    expect(
        &t,
        "central.bridge.secrets.SERVICENOW_PASSWORD",
        "is not a Secrets Manager ARN",
        "SERVICENOW_PASSWORD: \"arn:aws:ssm",
    );
    let t = edit(BASE, "      version: 1\n      queue:", "      version: 2\n      queue:");
    expect(
        &t,
        "central.bridge.config.version",
        "the bridge reads `version: 1`",
        "version: 2",
    );
    let t = edit(
        BASE,
        "    desired_count: 2\n",
        "    desired_count: 2\n    replicas: 3\n",
    );
    expect(&t, "central.bridge.replicas", "unknown field `replicas`", "replicas: 3");
    let t = edit(
        BASE,
        "password: {env: SERVICENOW_PASSWORD}",
        "password: hunter2-literal",
    );
    expect(
        &t,
        "central.bridge.config.servicenow.auth.basic.password",
        "a secret must be a reference",
        "hunter2-literal",
    );
    assert!(
        !errors(&t).iter().any(|d| d.to_string().contains("hunter2")),
        "the value is never echoed"
    );
}

#[test]
fn a_gate_must_follow_an_earlier_ring_and_a_sane_threshold() {
    let t = edit(
        BASE,
        "gate: { after: early, max_failed_percent: 5 }",
        "gate: { after: late, max_failed_percent: 5 }",
    );
    expect(
        &t,
        "rings[1].gate.after",
        "`late` is not an earlier ring (earlier: early)",
        "after: late",
    );
    let t = edit(
        BASE,
        "gate: { after: main, max_failed_percent: 5 }",
        "gate: { after: main, max_failed_percent: 150 }",
    );
    expect(
        &t,
        "rings[2].gate.max_failed_percent",
        "150 is outside 0-100",
        "max_failed_percent: 150",
    );
}

#[test]
fn pre_patch_settings_are_checked() {
    let t = edit(
        BASE,
        "  max_concurrency: \"10%\"\n",
        "  max_concurrency: \"10%\"\n  pre_patch: { snapshot: true, snapshot_retention_days: 0, health_check: \"bad name!\", min_agent_version: three }\n",
    );
    expect(
        &t,
        "install.pre_patch.snapshot_retention_days",
        "0 is outside 1-365",
        "pre_patch:",
    );
    let errs = render(&errors(&t));
    assert!(
        errs.contains("`install.pre_patch.health_check`: `bad name!` is neither `builtin` nor an SSM document name"),
        "{errs}"
    );
    assert!(
        errs.contains("`install.pre_patch.min_agent_version`: `three` is not a version"),
        "{errs}"
    );
}

#[test]
fn golden_image_distribution() {
    let t = edit(
        BASE,
        "lt-0a1b2c3d4e5f67890, account: \"333333333333\", region: eu-west-1",
        "lt-BAD, account: \"999999999999\", region: us-west-2",
    );
    expect(
        &t,
        "ami_pipeline.images[0].launch_templates[0].id",
        "`lt-BAD` is not a launch template id",
        "lt-BAD",
    );
    expect(
        &t,
        "ami_pipeline.images[0].launch_templates[0].account",
        "`999999999999` neither builds nor receives the image",
        "lt-BAD",
    );
    expect(
        &t,
        "ami_pipeline.images[0].launch_templates[0].region",
        "`us-west-2` neither builds nor receives the image",
        "lt-BAD",
    );
    let t = edit(BASE, "regions: [eu-west-1] }", "regions: [us-east-1] }");
    expect(
        &t,
        "ami_pipeline.distribute.regions[0]",
        "`us-east-1` builds the images already",
        "regions: [us-east-1] }",
    );
    let t = edit(BASE, "min_healthy_percentage: 90", "min_healthy_percentage: 101");
    expect(
        &t,
        "ami_pipeline.images[0].refresh.min_healthy_percentage",
        "101",
        "min_healthy_percentage: 101",
    );
}
