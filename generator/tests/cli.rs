//! The `patchplane` binary: exit codes, output formats, and `generate --check` against the
//! committed `stacksets/` and against a tampered copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn patchplane(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchplane"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn committed_output_is_up_to_date() {
    for (policy, dir) in [
        ("examples/org-policy.yaml", "stacksets/acme"),
        ("examples/sunday-after-patch-tuesday.yaml", "stacksets/sunday"),
    ] {
        let out = patchplane(&["generate", policy, "--out", dir, "--check"]);
        assert!(
            out.status.success(),
            "{dir} is stale: run `cargo xtask generate`\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn check_reports_a_diff_a_missing_file_and_an_extra_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("acme");
    let dir_s = dir.to_str().expect("utf-8");
    let gen_ = patchplane(&["generate", "examples/org-policy.yaml", "--out", dir_s]);
    assert!(gen_.status.success(), "{}", text(&gen_.stderr));
    assert!(
        patchplane(&["generate", "examples/org-policy.yaml", "--out", dir_s, "--check"])
            .status
            .success()
    );

    let template = dir.join("patching/template.yaml");
    let original = std::fs::read_to_string(&template).expect("template");
    std::fs::write(
        &template,
        original.replace("cron(0 2 ? * TUE *)", "cron(0 3 ? * TUE *)"),
    )
    .expect("tamper");
    let out = patchplane(&["generate", "examples/org-policy.yaml", "--out", dir_s, "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("stale: ")
            && stdout.contains("-      Schedule: \"cron(0 3 ? * TUE *)\"")
            && stdout.contains("+      Schedule: \"cron(0 2 ? * TUE *)\""),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("is stale: run `patchplane generate"));

    std::fs::remove_file(dir.join("patching/stackset.json")).expect("rm");
    std::fs::write(dir.join("patching/old.yaml"), "x").expect("extra");
    let out = patchplane(&["generate", "examples/org-policy.yaml", "--out", dir_s, "--check"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("missing: ") && stdout.contains("stackset.json"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not rendered by this policy: ") && stdout.contains("old.yaml"),
        "{stdout}"
    );

    // Generating again repairs the template and the request (the extra file is left for a person).
    assert!(
        patchplane(&["generate", "examples/org-policy.yaml", "--out", dir_s])
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&template).expect("template"), original);
}

#[test]
fn validate_exit_codes_and_formats() {
    let ok = patchplane(&["validate", "examples/org-policy.yaml"]);
    assert!(ok.status.success());
    assert!(text(&ok.stdout).contains("valid: 3 baselines, 3 rings, 4 regions, 14 maintenance windows per region"));

    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("bad.yaml");
    let base = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("example");
    std::fs::write(
        &bad,
        base.replace("Europe/Dublin", "Europe/Atlantis")
            .replace("cutoff_hours: 1", "cutoff_hours: 6"),
    )
    .expect("write");
    let bad_s = bad.to_str().expect("utf-8");
    let out = patchplane(&["validate", bad_s]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{bad_s}:15: error: `organization.regions.eu-west-1`: `Europe/Atlantis` is not an IANA time zone"
        )),
        "{err}"
    );
    assert!(
        err.contains("`windows.cutoff_hours`") && err.contains("(2 error(s))"),
        "{err}"
    );

    let out = patchplane(&["validate", bad_s, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["diagnostics"][0]["line"], 15);
    assert_eq!(doc["diagnostics"][0]["path"], "organization.regions.eu-west-1");

    let missing = patchplane(&["validate", "no/such/policy.yaml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no/such/policy.yaml: cannot read the policy"));
    // Usage errors are clap's exit code 2.
    assert_eq!(patchplane(&["validate"]).status.code(), Some(2));
    // An invalid policy renders nothing.
    let out_dir = tmp.path().join("out");
    let gen_ = patchplane(&["generate", bad_s, "--out", out_dir.to_str().expect("utf-8")]);
    assert_eq!(gen_.status.code(), Some(1));
    assert!(!out_dir.exists());
}

#[test]
fn schedule_prints_local_and_utc_and_json() {
    let out = patchplane(&[
        "schedule",
        "examples/sunday-after-patch-tuesday.yaml",
        "--from",
        "2026-11-24",
        "--count",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("REGION"), "{table}");
    assert!(
        table.contains(
            "sunday-AL2023-all-install          all   AMAZON_LINUX_2023  2026-12-13 Sun 23:30 EST   2026-12-14 04:30:00Z"
        ),
        "{table}"
    );
    // The Frankfurt site's Windows window, in Frankfurt time (hybrid.sites).
    assert!(
        table.contains(
            "site:dc-fra     sunday-Win2022-dc-fra-all-install  all   WINDOWS            2026-12-13 Sun 23:30 CET   2026-12-13 22:30:00Z"
        ),
        "{table}"
    );
    let out = patchplane(&[
        "schedule",
        "examples/org-policy.yaml",
        "--from",
        "2026-11-24",
        "--count",
        "2",
        "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // 11 windows (one a team window) × 4 regions × 2 openings, the AMI build (us-east-1 only) × 2,
    // and the Frankfurt site's 3 Windows ring windows once each (in Berlin's zone) × 2.
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 96);
    let ami: Vec<&serde_json::Value> = rows.iter().filter(|r| r["kind"] == "ami").collect();
    assert_eq!(ami.len(), 2);
    assert!(
        ami.iter()
            .all(|r| r["region"] == "us-east-1" && r["window"] == "acme-al2023-golden-ami-build")
    );
    let first = &rows[0];
    assert_eq!(first["kind"], "scan");
    assert_eq!(first["region"], "ap-southeast-1");
    assert_eq!(first["local"], "2026-11-24T01:00:00+08:00");
    assert_eq!(first["utc"], "2026-11-23T17:00:00Z");
    assert_eq!(
        patchplane(&["schedule", "examples/org-policy.yaml", "--from", "24/11/2026"])
            .status
            .code(),
        Some(2)
    );
}

/// Every install reads the node-selecting exceptions from one SSM parameter (ADR 026), which
/// holds at most 8 KB: more is a validation error naming `exceptions`, not a failed rollout.
#[test]
fn node_exceptions_beyond_one_ssm_parameter_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let example = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("policy");
    let (head, rest) = example.split_once("\nexceptions:\n").expect("exceptions");
    let tail = &rest[rest.find("\nami_pipeline:").expect("ami_pipeline follows")..];
    let with = |n: usize| {
        let list: String = (0..n)
            .map(|i| {
                format!(
                    "  - {{id: EXC-{i:03}, nodes: [i-{i:017x}, mi-{i:017x}], reason: freeze, approver: ciso@acme.example, ticket: CHG{i:07}, expires: '2027-06-30'}}\n"
                )
            })
            .collect();
        let path = tmp.path().join(format!("p{n}.yaml"));
        std::fs::write(&path, format!("{head}{tail}exceptions:\n{list}")).expect("write");
        path
    };
    // Each entry publishes about 120 bytes: 60 fit, 80 do not.
    let fits = validate_on(&with(60), "2027-01-10");
    assert!(fits.status.success(), "{}", text_of(&fits));
    let over = validate_on(&with(80), "2027-01-10");
    assert_eq!(over.status.code(), Some(1), "{}", text_of(&over));
    assert!(
        text(&over.stderr).contains("`exceptions`: the exceptions that select nodes take")
            && text(&over.stderr).contains("SSM holds at most 8192"),
        "{}",
        text(&over.stderr)
    );
}

/// `patchplane validate` as of a day (`PATCHPLANE_TODAY`, the clock tests set).
fn validate_on(policy: &Path, today: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchplane"))
        .current_dir(root())
        .env("PATCHPLANE_TODAY", today)
        .args(["validate", policy.to_str().expect("utf-8")])
        .output()
        .expect("runs")
}

#[test]
fn exceptions_warn_before_and_after_they_expire_fail_only_strictly_and_join_the_rejected_patches() {
    let tmp = tempfile::tempdir().expect("tmp");
    let policy = tmp.path().join("policy.yaml");
    let example = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("policy");
    // The example's own exceptions give way to the ones this test dates.
    let (head, rest) = example
        .split_once("\nexceptions:\n")
        .expect("the example has exceptions");
    let tail = &rest[rest.find("\nami_pipeline:").expect("ami_pipeline follows")..];
    let base = format!("{head}{tail}");
    let yaml = format!(
        "{base}exceptions:\n  - {{id: EXC-1, tags: {{Application: legacy-erp}}, reason: vendor certifies 5.10 only, approver: ciso@acme.example, ticket: CHG0031234, expires: '2027-03-31'}}\n  - {{id: EXC-2, patches: [KB5034441], reason: breaks the ERP client, approver: ciso@acme.example, ticket: CHG0031299, expires: '2027-06-30'}}\n  - {{id: EXC-3, nodes: [i-0123456789abcdef0], reason: audit freeze, approver: ciso@acme.example, ticket: CHG0031300, starts: '2027-02-01', expires: '2027-06-30'}}\n"
    );
    std::fs::write(&policy, &yaml).expect("write");
    let line = yaml.lines().position(|l| l.contains("'2027-03-31'")).expect("line") + 1;

    let early = validate_on(&policy, "2027-01-10");
    assert!(early.status.success(), "{}", text_of(&early));
    assert!(
        !text(&early.stderr).contains("expires"),
        "nothing to say yet: {}",
        text(&early.stderr)
    );

    let near = validate_on(&policy, "2027-03-20");
    assert!(near.status.success(), "a warning only: {}", text_of(&near));
    assert!(
        text(&near.stderr).contains(&format!(
            "policy.yaml:{line}: warning: `exceptions[0].expires`: exception EXC-1 expires on 2027-03-31, in 11 day(s)"
        )),
        "{}",
        text(&near.stderr)
    );

    // Expired: a warning, so an unrelated release goes on; `--strict` fails it.
    let late = validate_on(&policy, "2027-04-01");
    assert!(
        late.status.success(),
        "an expired exception only warns: {}",
        text_of(&late)
    );
    assert!(
        text(&late.stderr).contains(&format!(
            "policy.yaml:{line}: warning: `exceptions[0].expires`: EXC-1 expired on 2027-03-31; it no longer applies; remove it or renew it"
        )),
        "{}",
        text(&late.stderr)
    );
    let strict = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_patchplane"))
            .current_dir(root())
            .env("PATCHPLANE_TODAY", "2027-04-01")
            .args(args)
            .output()
            .expect("runs")
    };
    let p = policy.to_str().expect("utf-8");
    let out = tmp.path().join("strict-out");
    for args in [
        vec!["validate", p, "--strict"],
        vec!["generate", p, "--out", out.to_str().expect("utf-8"), "--strict"],
    ] {
        let o = strict(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text_of(&o));
        assert!(
            text(&o.stderr).contains("EXC-1 expired on 2027-03-31")
                && text(&o.stderr).contains("has 1 warning(s), and --strict fails on warnings"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    assert!(!out.exists(), "a strict generate writes nothing");
    let json = strict(&["validate", p, "--strict", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1), "{}", text_of(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["diagnostics"][0]["severity"], "warning", "{doc}");
    let lenient = strict(&["validate", p, "--format", "json"]);
    assert!(lenient.status.success(), "{}", text_of(&lenient));
    let doc: serde_json::Value = serde_json::from_slice(&lenient.stdout).expect("json");
    assert_eq!(doc["valid"], true, "{doc}");

    // A start after the expiry is an error.
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        yaml.replace("expires: '2027-03-31'", "starts: '2027-04-01', expires: '2027-03-31'"),
    )
    .expect("write");
    let o = validate_on(&bad, "2027-01-10");
    assert!(!o.status.success());
    assert!(
        text(&o.stderr)
            .contains("error: `exceptions[0].starts`: EXC-1 starts on 2027-04-01, after it expires on 2027-03-31"),
        "{}",
        text(&o.stderr)
    );

    // A patch exception is rejected by every baseline while it holds.
    let out = tmp.path().join("out");
    let gen_ = Command::new(env!("CARGO_BIN_EXE_patchplane"))
        .current_dir(root())
        .env("PATCHPLANE_TODAY", "2027-01-10")
        .args([
            "generate",
            policy.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    assert!(gen_.status.success(), "{}", text_of(&gen_));
    let template = std::fs::read_to_string(out.join("patching/template.yaml")).expect("template");
    assert_eq!(
        template.matches("- KB5034441").count(),
        3,
        "in each of the 3 baselines' RejectedPatches"
    );

    // The bridge gets every exception, a patch exception and a start date too: it reminds their
    // approvers before they expire.
    let cfg = Command::new(env!("CARGO_BIN_EXE_patchplane"))
        .current_dir(root())
        .args(["bridge-config", policy.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    let c = text(&cfg.stdout);
    assert!(cfg.status.success(), "{}", text_of(&cfg));
    for want in [
        "\"id\": \"EXC-1\"",
        "\"id\": \"EXC-2\"",
        "\"id\": \"EXC-3\"",
        "\"starts\": \"2027-02-01\"",
    ] {
        assert!(c.contains(want), "{want} in:\n{c}");
    }

    // `schedule` lists the exceptions in force.
    let sched = Command::new(env!("CARGO_BIN_EXE_patchplane"))
        .current_dir(root())
        .env("PATCHPLANE_TODAY", "2027-01-10")
        .args(["schedule", policy.to_str().expect("utf-8"), "--count", "1"])
        .output()
        .expect("runs");
    let s = text(&sched.stdout);
    assert!(s.contains("Exceptions in force on 2027-01-10:"), "{s}");
    assert!(
        s.contains("EXC-1 until 2027-03-31: tag Application=legacy-erp (vendor certifies 5.10 only; CHG0031234"),
        "{s}"
    );
    assert!(s.contains("EXC-2 until 2027-06-30: patch KB5034441"), "{s}");
    assert!(!s.contains("EXC-3"), "not started yet: {s}");
    let started = Command::new(env!("CARGO_BIN_EXE_patchplane"))
        .current_dir(root())
        .env("PATCHPLANE_TODAY", "2027-02-01")
        .args(["schedule", policy.to_str().expect("utf-8"), "--count", "1"])
        .output()
        .expect("runs");
    let s = text(&started.stdout);
    assert!(
        s.contains("EXC-3 from 2027-02-01 until 2027-06-30: i-0123456789abcdef0 (audit freeze"),
        "on its start day: {s}"
    );
}

#[test]
fn a_schedule_that_cannot_meet_the_sla_is_a_warning() {
    let out = patchplane(&["validate", "examples/sunday-after-patch-tuesday.yaml"]);
    assert!(out.status.success());
    let e = text(&out.stderr);
    assert!(
        e.contains("7 day(s) to approve plus up to 36 day(s) until ring `all` installs again (43 days) cannot meet the 14-day SLA for critical patches"),
        "{e}"
    );
    let weekly = patchplane(&["validate", "examples/org-policy.yaml"]);
    assert!(
        !text(&weekly.stderr).contains("cannot meet"),
        "{}",
        text(&weekly.stderr)
    );
}

fn text_of(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

#[test]
fn the_evidence_bucket_keeps_superseded_versions_for_the_retention_period() {
    let t = std::fs::read_to_string(root().join("stacksets/acme/central/template.yaml")).expect("template");
    assert!(
        t.contains("ExpirationInDays: 400") && t.contains("NoncurrentDays: 400"),
        "past months are rebuilt from noncurrent versions"
    );
}
