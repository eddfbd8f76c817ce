//! Pre-patch backup and health check (issue #14), as rendered for the sunday example
//! (`install.pre_patch: {snapshot: true, health_check: builtin}`): the Command and Automation
//! documents parsed and checked; the Linux health check run with bash against fake `df`,
//! `dnf`, `fuser` and `amazon-ssm-agent` (pass, and each failure with its reason); the snapshot
//! step run with the project's Python against a fake EC2 client. The PowerShell step is checked
//! for structure only (no PowerShell here). moto runs neither document.

use std::path::Path;
use std::process::Command;

use patchplane_e2e::{python_tests, rendered};
use serde_yaml::Value;

fn template() -> Value {
    serde_yaml::from_str(&rendered(
        "examples/sunday-after-patch-tuesday.yaml",
        "patching/template.yaml",
    ))
    .expect("yaml")
}

#[test]
fn the_documents_and_tasks_as_rendered() {
    let t = template();
    let r = &t["Resources"];
    let health = &r["PrePatchHealthCheckDocument"]["Properties"];
    assert_eq!(
        (health["DocumentType"].as_str(), health["Name"].as_str()),
        (Some("Command"), Some("sunday-pre-patch-health-check"))
    );
    let c = &health["Content"];
    assert_eq!(c["schemaVersion"], "2.2");
    assert_eq!(c["parameters"]["MinFreeMb"]["default"], "1024");
    assert_eq!(c["parameters"]["MinAgentVersion"]["default"], "3.2.0.0");
    let steps = c["mainSteps"].as_sequence().expect("steps");
    let shape: Vec<(&str, &str, &str)> = steps
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default(),
                s["action"].as_str().unwrap_or_default(),
                s["precondition"]["StringEquals"][1].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("CheckLinux", "aws:runShellScript", "Linux"),
            ("CheckWindows", "aws:runPowerShellScript", "Windows")
        ]
    );
    let ps = steps[1]["inputs"]["runCommand"][0].as_str().expect("ps");
    assert!(
        ps.contains("PATCHPLANE_HEALTH_CHECK_FAILED") && ps.contains("{{ MinFreeMb }}") && ps.contains("_MSIExecute")
    );
    // Every node's install runs the check as its pre-install hook: the per-node install document
    // (ADR 026) that every install task runs.
    let install = &r["InstallNodeDocument"]["Properties"]["Content"]["mainSteps"][2]["inputs"];
    assert_eq!(install["DocumentName"], "AWS-RunPatchBaselineWithHooks");
    assert_eq!(
        install["Parameters"]["PreInstallHookDocName"][0],
        "sunday-pre-patch-health-check"
    );
    let mut installs = 0;
    let mut snapshots = 0;
    for (k, v) in r.as_mapping().expect("resources") {
        let k = k.as_str().unwrap_or_default();
        let p = &v["Properties"];
        if k.starts_with("Install") && k.ends_with("Task") && p["TaskArn"]["Ref"] == "InstallNodeDocument" {
            installs += 1;
        }
        if k.ends_with("SnapshotTask") {
            snapshots += 1;
            assert_eq!(
                (p["Priority"].as_u64(), p["TaskType"].as_str()),
                (Some(0), Some("AUTOMATION")),
                "before the install"
            );
            let params = &p["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]["Parameters"];
            assert_eq!(params["InstanceId"][0], "{{RESOURCE_ID}}");
            assert_eq!(params["RetentionDays"][0], "7");
            assert!(p["Targets"][0]["Values"].as_sequence().is_some_and(|v| !v.is_empty()));
        }
    }
    // 3 baselines x 1 ring, and the Frankfurt site's Windows window (hybrid.sites).
    assert_eq!((installs, snapshots), (4, 4));
    let snap = &r["PrePatchSnapshotDocument"]["Properties"]["Content"];
    assert_eq!(snap["schemaVersion"], "0.3");
    assert_eq!(snap["mainSteps"][0]["action"], "aws:executeScript");
    let statements = r["PrePatchSnapshotRolePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("s")
        .clone();
    let delete = statements
        .iter()
        .find(|s| s["Action"] == "ec2:DeleteSnapshot")
        .expect("delete");
    assert_eq!(
        delete["Condition"]["Null"]["aws:ResourceTag/patchplane:delete-after"],
        "false"
    );

    // The snapshot step against a fake EC2.
    let script = snap["mainSteps"][0]["inputs"]["Script"].as_str().expect("script");
    let log = python_tests("test_pre_patch_snapshot.py", script);
    assert!(log.contains("Ran 3 tests"), "{log}");
}

/// Writes an executable fake command.
fn fake(dir: &Path, name: &str, body: &str) {
    let f = dir.join(name);
    std::fs::write(&f, format!("#!/bin/sh\n{body}\n")).expect("write");
    let mut perm = std::fs::metadata(&f).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&f, perm).expect("chmod");
}

#[test]
fn the_linux_health_check_passes_a_healthy_node_and_names_each_failure() {
    let t = template();
    let script =
        t["Resources"]["PrePatchHealthCheckDocument"]["Properties"]["Content"]["mainSteps"][0]["inputs"]["runCommand"]
            [0]
        .as_str()
        .expect("script")
        // What SSM substitutes before the agent runs it.
        .replace("{{ MinFreeMb }}", "1024")
        .replace("{{ MinAgentVersion }}", "3.2.0.0");
    let run = |free_mb: u32, dnf_ok: bool, agent: &str, lock_held: bool| {
        let tmp = tempfile::tempdir().expect("tmp");
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        fake(
            &bin,
            "df",
            &format!(
                "echo 'Filesystem 1048576-blocks Used Available Capacity Mounted'; echo \"/dev/x 20000 1 {free_mb} 1% $3\""
            ),
        );
        fake(&bin, "dnf", if dnf_ok { "exit 0" } else { "exit 1" });
        fake(&bin, "timeout", "shift; exec \"$@\"");
        fake(&bin, "fuser", if lock_held { "exit 0" } else { "exit 1" });
        fake(&bin, "amazon-ssm-agent", &format!("echo 'SSM Agent version: {agent}'"));
        let file = tmp.path().join("check.sh");
        std::fs::write(&file, &script).expect("write");
        let out = Command::new("bash")
            .arg(&file)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .expect("bash runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
    };
    let (code, out) = run(5000, true, "3.3.40.0", false);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("PATCHPLANE_HEALTH_CHECK_OK") && out.contains("3.3.40.0"),
        "{out}"
    );
    for (case, want) in [
        (
            run(100, true, "3.3.40.0", false),
            "PATCHPLANE_HEALTH_CHECK_FAILED: only 100 MB free on / (need 1024)",
        ),
        (
            run(5000, false, "3.3.40.0", false),
            "PATCHPLANE_HEALTH_CHECK_FAILED: dnf cannot reach its repositories",
        ),
        (
            run(5000, true, "3.1.1080.0", false),
            "PATCHPLANE_HEALTH_CHECK_FAILED: SSM agent 3.1.1080.0 is older than 3.2.0.0",
        ),
        (
            run(5000, true, "3.3.40.0", true),
            "PATCHPLANE_HEALTH_CHECK_FAILED: the package manager is busy",
        ),
    ] {
        assert_eq!(case.0, Some(1), "{}", case.1);
        assert!(case.1.starts_with(want), "{} does not start with {want}", case.1);
    }
}
