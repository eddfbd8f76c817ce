//! The month that runs itself (issue 29 item 4), generator side: the policy's
//! `evidence.monthly_report` becomes a schedule and a task whose command line is `patchplane
//! report` of the previous month, reading the policy from its environment; that policy text loads
//! back into the same policy (the task has no policy file), and `--month previous` is the month
//! before the day it runs. The template itself is checked by cfn-lint and cfn-guard with the
//! others; the task's permissions by `tests/tests/iam_paths.rs`.

use std::path::Path;

use patchplane::commands::report::month_of;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn the_schedule_runs_the_previous_months_report_with_the_policy_it_was_generated_from() {
    let loaded = patchplane::load_file(&root().join("examples/org-policy.yaml")).expect("example");
    let report = loaded
        .plan
        .central
        .report
        .as_ref()
        .expect("the example schedules its report");
    // examples/org-policy.yaml: `monthly_report: { day: 2, at: "06:00", zone: Europe/Berlin, … }`.
    assert_eq!(report.schedule, "cron(0 6 2 * ? *)");
    assert_eq!(report.zone, "Europe/Berlin");
    let args = report.command.join(" ");
    assert!(
        args.starts_with("report --bucket acme-patch-evidence ")
            && args.contains(" --month previous ")
            && args.contains(" --policy-env PATCHPLANE_POLICY ")
            && args.contains(" --publish")
            && args.contains(" --notify-topic-env PATCHPLANE_NOTIFY_TOPIC_ARN")
            && args.contains(" --notify-webhook-env SLACK_WEBHOOK_URL"),
        "{args}"
    );
    let back =
        patchplane::commands::load_packed(&report.policy_json, Path::new("$PATCHPLANE_POLICY")).expect("loads back");
    let mut want = loaded.policy.clone();
    for t in &mut want.teams {
        t.file = Path::new("teams").join(format!("{}.yaml", t.team));
    }
    assert_eq!(
        back.policy, want,
        "the task reports with the very policy, team windows included"
    );
    assert!(!back.policy.teams.is_empty(), "the example's team file went along");
}

#[test]
fn previous_is_the_month_before_the_day_it_runs() {
    let d = |s: &str| s.parse::<jiff::civil::Date>().expect("date");
    assert_eq!(month_of("previous", d("2026-12-02")), "2026-11");
    assert_eq!(month_of("previous", d("2027-01-02")), "2026-12");
    assert_eq!(month_of("previous", d("2027-03-01")), "2027-02");
    assert_eq!(month_of("2026-10", d("2027-03-01")), "2026-10");
}

#[test]
fn a_monthly_report_needs_the_bridge_and_a_day_every_month_has() {
    let text = std::fs::read_to_string(root().join("examples/sunday-after-patch-tuesday.yaml")).expect("sunday");
    let with = format!("{text}\n");
    let at = |extra: &str| {
        let t = with.replacen("\nrings:", &format!("\n{extra}\nrings:"), 1);
        match patchplane::load_str(&t, Path::new("policy.yaml")) {
            Ok(_) => String::new(),
            Err(e) => match e {
                patchplane::LoadError::Invalid(d) => d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
                other => other.to_string(),
            },
        }
    };
    let out = at("evidence: { monthly_report: { day: 31, at: \"25:00\", zone: Mars/Olympus } }");
    assert!(out.contains("`evidence.monthly_report.day`"), "{out}");
    assert!(
        out.contains("`evidence.monthly_report.at`: `25:00` is not a time HH:MM"),
        "{out}"
    );
    assert!(
        out.contains("`evidence.monthly_report.zone`: `Mars/Olympus` is not an IANA time zone"),
        "{out}"
    );
    assert!(
        out.contains("`evidence.monthly_report`: needs `central.bridge`"),
        "the sunday example has no bridge: {out}"
    );
}
