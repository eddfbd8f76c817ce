//! Team windows (self-service as code): `teams/*.yaml` beside the policy, inside `self_service:`.
//! The example's team window becomes a patch group, a window and a baseline's patch group; a team
//! file that leaves the guardrails fails on its own file and line. (The schedule agreement of
//! team windows with the rendered template is in `schedule.rs`.)

use std::path::{Path, PathBuf};

use patchplane::{LoadError, load_file, load_with_teams};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_example_team_window_is_a_window_and_a_patch_group() {
    let l = load_file(&root().join("examples/org-policy.yaml")).expect("loads");
    assert_eq!(l.policy.teams.len(), 1, "examples/teams/payments.yaml");
    let w = l
        .plan
        .windows
        .iter()
        .find(|w| w.name == "acme-AL2023-payments-satnight-install")
        .expect("the team window");
    assert_eq!(w.targets[0].values, vec!["AL2023-payments-satnight".to_owned()]);
    assert_eq!((w.cron.as_str(), w.duration), ("cron(0 22 ? * SAT *)", 3));
    assert!(w.cutoff < w.duration, "a cutoff below its own duration");
    let al2023 = l
        .plan
        .baselines
        .iter()
        .find(|b| b.patch_groups.iter().any(|g| g == "AL2023-early"))
        .expect("AL2023");
    assert!(
        al2023.patch_groups.contains(&"AL2023-payments-satnight".to_owned()),
        "the baseline serves it"
    );
    let scan = &l.plan.windows[0];
    assert!(
        scan.targets
            .iter()
            .any(|t| t.values.contains(&"AL2023-payments-satnight".to_owned())),
        "the nightly scan covers it"
    );
    let rows = patchplane::schedule::preview(&l.plan, jiff::civil::date(2026, 12, 1), 1);
    assert!(
        rows.iter()
            .any(|r| r.window == w.name && r.ring.as_deref() == Some("payments-satnight"))
    );
}

fn policy() -> String {
    std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("policy")
}

fn errors(team_file: &str, text: &str) -> String {
    let teams = vec![(PathBuf::from(format!("teams/{team_file}")), text.to_owned())];
    match load_with_teams(&policy(), Path::new("org-policy.yaml"), &teams) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(LoadError::Invalid(d)) => d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_team_file_outside_the_guardrails_fails_on_its_own_line() {
    let bad = "team: search\nwindows:\n  - name: tuesday\n    baseline: plat-al2023-baseline\n    schedule: { weekly: { day: TUE, at: \"22:00\" } }\n    duration_hours: 3\n  - name: long\n    baseline: plat-al2023-baseline\n    schedule: { weekly: { day: SAT, at: \"23:00\" } }\n    duration_hours: 8\n  - name: noon\n    baseline: nope\n    schedule: { weekly: { day: SAT, at: \"12:00\" } }\n    duration_hours: 2\n";
    let e = errors("search.yaml", bad);
    for want in [
        "teams/search.yaml:2: error: `windows`: 3 windows; self_service.max_windows_per_team allows 2",
        "teams/search.yaml:5: error: `windows[0].schedule`: opens on TUE",
        "teams/search.yaml:10: error: `windows[1].duration_hours`: 8 is outside 1-4 (self_service.max_duration_hours)",
        "teams/search.yaml:12: error: `windows[2].baseline`: `nope` is not a baseline of the policy",
        "teams/search.yaml:13: error: `windows[2].schedule`: opens at 12:00 for 2 h; self_service allows 20:00–06:00",
    ] {
        assert!(e.contains(want), "missing {want:?} in\n{e}");
    }
    let misnamed = errors(
        "other.yaml",
        "team: search\nwindows:\n  - {name: a, baseline: plat-al2023-baseline, schedule: {weekly: {day: SAT, at: \"22:00\"}}, duration_hours: 2}\n",
    );
    assert!(
        misnamed.contains("teams/other.yaml:1: error: `team`: `search` must match the file name `other.yaml`"),
        "{misnamed}"
    );
    let unknown = errors("x.yaml", "team: x\nwindows: []\nowner: me\n");
    assert!(
        unknown.contains("teams/x.yaml:3") && unknown.contains("owner"),
        "{unknown}"
    );
}

#[test]
fn team_windows_count_toward_the_window_quota_and_need_self_service() {
    let windows: String = (0..2)
        .map(|i| format!("  - {{name: w{i}, baseline: plat-al2023-baseline, schedule: {{weekly: {{day: SAT, at: \"22:00\"}}}}, duration_hours: 2}}\n"))
        .collect();
    let teams: Vec<(PathBuf, String)> = (0..21)
        .map(|i| {
            (
                PathBuf::from(format!("teams/t{i}.yaml")),
                format!("team: t{i}\nwindows:\n{windows}"),
            )
        })
        .collect();
    let l = load_with_teams(&policy(), Path::new("org-policy.yaml"), &teams).expect("valid, with a warning");
    let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
    assert!(
        w.iter()
            .any(|d| d.contains("52 maintenance windows per account and region (team windows included: 42)")),
        "{w:?}"
    );
    let without = policy().replace("self_service:", "no_self_service:");
    let cut = without.find("no_self_service:").expect("section");
    let end = without[cut..].find("\n# Approved").map(|e| cut + e).expect("end");
    let without = format!("{}{}", &without[..cut], &without[end + 1..]);
    let e = match load_with_teams(&without, Path::new("p.yaml"), &teams[..1]) {
        Err(LoadError::Invalid(d)) => d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        other => panic!("{other:?}"),
    };
    assert!(
        e.contains("teams/t0.yaml:1: error: `team`: the policy sets no `self_service`"),
        "{e}"
    );
}
