//! The real `patchplane report` binary when AWS cannot be used: no region, no credentials, an
//! endpoint nothing listens on. Each failure is one line on stderr naming the cause and what to
//! do, never the SDK's `Debug` dump. Nothing leaves the machine: the environment is emptied, the
//! AWS config and credentials files are empty, instance metadata is off, and the endpoint is
//! `127.0.0.1:9`.

use std::process::Command;

struct Run {
    code: Option<i32>,
    stderr: String,
}

/// `patchplane report --bucket b --month 2026-10 …extra` with only `env` set.
fn report(extra: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&config, "").expect("config file");
    std::fs::write(&credentials, "").expect("credentials file");
    let out = dir.path().join("report.csv");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchplane"));
    cmd.env_clear()
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .args(["report", "--bucket", "b", "--month", "2026-10", "--out"])
        .arg(&out)
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs");
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Exit 1 and exactly one line, `patchplane: report: …`, free of `Debug` noise.
fn one_clean_line(run: &Run) -> &str {
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    let line = lines[0];
    assert!(line.starts_with("patchplane: report: "), "{line}");
    for noise in ["{", "DispatchFailure(", "ConnectorError", "smithy-rs"] {
        assert!(!line.contains(noise), "`{noise}` in: {line}");
    }
    line
}

#[test]
fn no_region_says_what_to_set() {
    let run = report(&[], &[]);
    assert_eq!(
        one_clean_line(&run),
        "patchplane: report: no AWS region to read s3://b from; set AWS_REGION (or `region` in the AWS profile)"
    );
}

#[test]
fn no_credentials_say_where_they_are_looked_for() {
    let run = report(
        &["--endpoint-url", "http://127.0.0.1:9"],
        &[("AWS_REGION", "eu-west-1")],
    );
    let line = one_clean_line(&run);
    assert!(
        line.starts_with(
            "patchplane: report: cannot list the versions of s3://b/resource-data-sync/: no AWS credentials"
        ),
        "{line}"
    );
    assert!(
        line.contains("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
            && !line.contains("not enabled"),
        "{line}"
    );
}

#[test]
fn an_unreachable_endpoint_is_named() {
    let run = report(
        &["--endpoint-url", "http://127.0.0.1:9"],
        &[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    );
    let line = one_clean_line(&run);
    assert!(
        line.starts_with(
            "patchplane: report: cannot list the versions of s3://b/resource-data-sync/: cannot reach http://127.0.0.1:9 ("
        ),
        "{line}"
    );
    assert!(
        line.contains("Connection refused") && line.ends_with("; check the network, proxy or --endpoint-url"),
        "{line}"
    );
}
