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
    assert!(text(&ok.stdout).contains("valid: 3 baselines, 3 rings, 4 regions, 10 maintenance windows per region"));

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
            "sunday-AL2023-all-install    all   AMAZON_LINUX_2023  2026-12-13 Sun 23:30 EST   2026-12-14 04:30:00Z"
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
    // 10 windows × 4 regions × 2 openings, plus the AMI build (us-east-1 only) × 2.
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 82);
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
