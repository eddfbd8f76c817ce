//! Golden images in every account (issue 29 item 2): the example policy's image is distributed to
//! the accounts and regions the policy names, recorded in its SSM parameter there, made the
//! default of the named launch template, and its Auto Scaling groups are refreshed ring by ring
//! behind each ring's gate. Checked against the policy's own text (examples/org-policy.yaml,
//! `ami_pipeline`), and the refresh step run against AWS's documented Auto Scaling examples
//! (`tests/scripts/test_ami_refresh.py`).
//!
//! What moto skips, and this test does not claim: moto has no Image Builder (no distribution, no
//! SSM parameter or launch template version written by it) and no `StartInstanceRefresh`, and it
//! runs no Automation; the templates are checked by cfn-lint (which knows
//! `SsmParameterConfigurations` and `LaunchTemplateConfigurations`) and cfn-guard, and the
//! refresh role by the IAM evaluator (`iam_paths.rs`).

use patchplane_e2e::{patchplane_bin, python_tests, rendered, root};
use serde_yaml::Value;

fn template(stack: &str) -> Value {
    serde_yaml::from_str(&rendered("examples/org-policy.yaml", &format!("{stack}/template.yaml"))).expect("yaml")
}

#[test]
fn each_image_goes_where_the_policy_says_and_is_recorded_there() {
    let t = template("ami-pipeline");
    let d = &t["Resources"]["ImageAl2023GoldenDistribution"]["Properties"]["Distributions"];
    let d = d.as_sequence().expect("distributions");
    // `distribute: { accounts: ["333333333333", "444444444444"], regions: [eu-west-1] }`: the
    // building region (this stack's) and eu-west-1.
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["Region"]["Ref"], "AWS::Region");
    assert_eq!(d[1]["Region"], "eu-west-1");
    for region in d {
        assert_eq!(
            region["AmiDistributionConfiguration"]["TargetAccountIds"],
            serde_yaml::to_value(["333333333333", "444444444444"]).expect("value")
        );
        let params = region["SsmParameterConfigurations"].as_sequence().expect("parameters");
        let accounts: Vec<Option<&str>> = params.iter().map(|p| p["AmiAccountId"].as_str()).collect();
        assert_eq!(
            accounts,
            [None, Some("333333333333"), Some("444444444444")],
            "the builder's own and each receiver's"
        );
        for p in params {
            assert_eq!(p["ParameterName"], "/patchplane/acme/ami/al2023-golden");
            assert_eq!(p["DataType"], "aws:ec2:image");
        }
    }
    // `launch_templates: [{ id: lt-0a1b2c3d4e5f67890, account: "333333333333", region: eu-west-1 }]`
    assert!(d[0]["LaunchTemplateConfigurations"].is_null());
    let lt = &d[1]["LaunchTemplateConfigurations"][0];
    assert_eq!(
        (
            lt["LaunchTemplateId"].as_str(),
            lt["AccountId"].as_str(),
            lt["SetDefaultVersion"].as_bool()
        ),
        (Some("lt-0a1b2c3d4e5f67890"), Some("333333333333"), Some(true))
    );
}

#[test]
fn its_groups_are_refreshed_ring_by_ring_behind_each_gate() {
    let t = template("patching");
    let r = &t["Resources"];
    let script = r["AmiRefreshDocument"]["Properties"]["Content"]["mainSteps"][0]["inputs"]["Script"]
        .as_str()
        .expect("the refresh step");
    let log = python_tests("test_ami_refresh.py", script);
    assert!(log.contains("Ran 4 tests"), "{log}");
    // The image's baseline is plat-al2023-baseline: its three ring windows, no other baseline's,
    // no team window.
    let tasks: Vec<&str> = r
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, v)| v["Properties"]["TaskArn"]["Ref"] == "AmiRefreshDocument")
        .filter_map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        tasks,
        [
            "InstallAL2023EarlyRefreshAl2023GoldenTask",
            "InstallAL2023MainRefreshAl2023GoldenTask",
            "InstallAL2023LateRefreshAl2023GoldenTask"
        ]
    );
    let params = |id: &str| {
        r[id]["Properties"]["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]["Parameters"].clone()
    };
    let main = params("InstallAL2023MainRefreshAl2023GoldenTask");
    assert_eq!(main["Ring"][0], "main");
    assert_eq!(main["Image"][0], "al2023-golden");
    assert_eq!(main["MinHealthyPercentage"][0], "90");
    assert_eq!(
        main["GateDecisionParameter"][0],
        params("InstallAL2023MainGateTask")["DecisionParameter"][0],
        "behind the ring's own gate"
    );
    assert!(params("InstallAL2023EarlyRefreshAl2023GoldenTask")["GateDecisionParameter"].is_null());
    assert!(
        r["InstallAL2023MainRefreshAl2023GoldenTask"]["Properties"]["Priority"].as_i64()
            > r["InstallAL2023MainTask"]["Properties"]["Priority"].as_i64(),
        "after the ring's install"
    );
    let stmt = r["AmiRefreshRolePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == "RefreshOnlyOptedInGroups")
        .expect("statement")
        .clone();
    assert_eq!(
        stmt["Condition"]["StringEquals"]["autoscaling:ResourceTag/patchplane:image"],
        serde_yaml::to_value(["al2023-golden"]).expect("value")
    );
}

#[test]
fn schedule_shows_distribution_and_refresh() {
    let out = std::process::Command::new(patchplane_bin())
        .current_dir(root())
        .args([
            "schedule",
            "examples/org-policy.yaml",
            "--from",
            "2026-12-07",
            "--count",
            "1",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "  al2023-golden: built in us-east-1 (AL2023-early, window acme-al2023-golden-ami-build); recorded in /patchplane/acme/ami/al2023-golden",
        "    distributed to the building account and 333333333333, 444444444444 in the building region, eu-west-1",
        "    launch template lt-0a1b2c3d4e5f67890 (333333333333 eu-west-1) gets it as its default version",
        "    refreshed in window acme-AL2023-early-install (ring early) after its install: Auto Scaling groups tagged patchplane:image=al2023-golden, patchplane:ring=early, at least 90% healthy",
        "    refreshed in window acme-AL2023-main-install (ring main) once its gate opens:",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}
