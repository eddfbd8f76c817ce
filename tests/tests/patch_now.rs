//! `patchplane patch-now` (issue 29 item 1, ADR 028) through the binary.
//!
//! moto implements no Automation (no `StartAutomationExecution`, no child runs), so the run is
//! played in two halves around it. The children: the member stack deployed in moto (its
//! `<policy>-install-node` document and published exceptions), EC2 instances with tags, and the
//! document's check step run in patch-now's dry-run mode for each node against moto, recording
//! each node's result in the evidence bucket, as each child does in its account. The central
//! side: the CLI against a local endpoint (`tests/scripts/fake_automation.py`) that answers SSM's
//! Automation calls with AWS's documented examples (`tests/fixtures/aws/ssm/`) and passes
//! everything else (S3) to moto: it shares the runbook, starts the run, follows it to `Success`,
//! and prints what every node would have done, read from the bucket. The request it sent is
//! checked against AWS's documented multi-account request. Not covered: AWS actually running the
//! children (their shape is the documented one; the member step is tested in `node_install.rs`).

use std::process::{Child, Command};
use std::time::Duration;

use patchplane_e2e::bridge::free_port;
use patchplane_e2e::{Moto, generate, moto_python, patchplane_bin, root, venv_tool};
use serde_json::Value;

#[path = "support/stacks.rs"]
mod stacks;

const RUN: &str = "0b7f3c2e-9a41-4d6b-8e25-6f1c0d9a7b31";

fn python(moto: &Moto, args: &[&str]) -> Value {
    moto_python(moto, "moto_install_node.py", args)
}

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_lists_per_account_and_region_what_each_node_would_do() {
    let moto = Moto::start();
    let ids = python(
        &moto,
        &[
            "launch",
            r#"{"erp": {"Application": "legacy-erp", "Patch Group": "RHEL9-bulk"},
                "kb": {"Application": "payments", "Patch Group": "RHEL9-bulk"},
                "plain": {"Application": "payments", "Patch Group": "RHEL9-bulk"}}"#,
        ],
    );
    let id = |n: &str| ids[n].as_str().expect("id").to_owned();
    let text = std::fs::read_to_string(root().join("tests/fixtures/policies/moto.yaml")).expect("policy");
    let text = format!(
        "{text}\npatch_now: {{}}\nexceptions:\n  - {{ id: EXC-2027-001, tags: {{ Application: legacy-erp }}, reason: vendor freeze,\n      approver: ciso@motoorg.example, ticket: CHG0040001, starts: \"2027-01-04\", expires: \"2027-03-31\" }}\n  - {{ id: EXC-2027-002, nodes: [{}], patches: [kernel-5.14.0-503.*], reason: driver,\n      approver: ciso@motoorg.example, ticket: CHG0040002, expires: \"2027-02-15\" }}\n",
        id("kb")
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let policy = tmp.path().join("moto.yaml");
    std::fs::write(&policy, text).expect("write");
    let (files, _) = generate(policy.to_str().expect("utf-8"), &tmp.path().join("out"));
    let body = files
        .iter()
        .find(|f| f.ends_with("patching/template.yaml"))
        .map(|f| std::fs::read_to_string(f).expect("read"))
        .expect("patching template");
    let conf = moto.sdk_config("us-east-1").await;
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    stacks::create_stack(&cfn, "motoorg-patching", &body).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket()
        .bucket("motoorg-evidence")
        .send()
        .await
        .expect("bucket");

    // The children, in the member account (moto's 123456789012, us-east-1), on 2027-01-10.
    let decided = python(
        &moto,
        &[
            "patch-now",
            "motoorg-install-node",
            &ids.to_string(),
            RUN,
            "motoorg-evidence",
            "2027-01-10",
        ],
    );
    assert_eq!(
        decided,
        serde_json::json!({"erp": "SKIP", "kb": "SKIP", "plain": "WOULD_INSTALL"})
    );

    // The central side, through the documented Automation answers.
    let port = free_port();
    let log = tmp.path().join("ssm.log");
    let proxy = Proxy(
        Command::new(venv_tool("python"))
            .arg(root().join("tests/scripts/fake_automation.py"))
            .args([&port.to_string(), moto.endpoint.as_str(), log.to_str().expect("utf-8")])
            .spawn()
            .expect("proxy"),
    );
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(patchplane_bin())
        .arg("patch-now")
        .arg(&policy)
        .args([
            "--reason",
            "CVE-2026-1234 before the next window",
            "--ticket",
            "INC0012345",
        ])
        .args([
            "--account",
            "123456789012",
            "--region",
            "us-east-1",
            "--patch-group",
            "RHEL9-bulk",
        ])
        .args(["--dry-run", "--poll-seconds", "0", "--run-id", RUN])
        .args(["--endpoint-url", &format!("http://127.0.0.1:{port}")])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("runs");
    drop(proxy);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("dry run: checks only, nothing installed"), "{stdout}");
    assert!(stdout.contains("Success: 2 step(s) done of 2"), "{stdout}");
    assert!(
        stdout.contains("123456789012 us-east-1: 1 to install, 2 left alone"),
        "{stdout}"
    );
    let line = |node: &str| stdout.lines().find(|l| l.contains(node)).unwrap_or_default().to_owned();
    assert!(line(&id("plain")).contains("WOULD_INSTALL"), "{stdout}");
    assert!(
        line(&id("erp")).contains("SKIP") && line(&id("erp")).contains("exception EXC-2027-001"),
        "{stdout}"
    );
    assert!(
        line(&id("kb")).contains("exception EXC-2027-002 (CHG0040002) keeps kernel-5.14.0-503.*"),
        "{stdout}"
    );

    // What it asked SSM, against AWS's documented multi-account request.
    let calls: Vec<Value> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let targets: Vec<&str> = calls.iter().filter_map(|c| c["target"].as_str()).collect();
    assert_eq!(
        targets[..2],
        [
            "AmazonSSM.ModifyDocumentPermission",
            "AmazonSSM.StartAutomationExecution"
        ],
        "shared before it starts"
    );
    assert_eq!(
        calls[0]["body"],
        serde_json::json!({"Name": "motoorg-patch-now", "PermissionType": "Share", "AccountIdsToAdd": ["123456789012"]})
    );
    let start = &calls[1]["body"];
    let documented: Value = serde_json::from_str::<Value>(
        &std::fs::read_to_string(root().join("tests/fixtures/aws/ssm/StartAutomationExecution.json")).expect("fixture"),
    )
    .expect("json")["more_examples"][0]["request"]
        .clone();
    for key in documented.as_object().expect("object").keys() {
        assert!(start.get(key).is_some(), "the documented request has {key}: {start}");
    }
    assert_eq!(start["DocumentName"], "motoorg-patch-now");
    assert_eq!(
        start["Parameters"]["AutomationAssumeRole"][0],
        "arn:aws:iam::123456789012:role/AWS-SystemsManager-AutomationAdministrationRole"
    );
    assert_eq!(start["TargetParameterName"], "InstanceId");
    assert_eq!(
        start["Targets"],
        serde_json::json!([{"Key": "tag:Patch Group", "Values": ["RHEL9-bulk"]}])
    );
    let loc = &start["TargetLocations"][0];
    assert_eq!(loc["Accounts"], serde_json::json!(["123456789012"]));
    assert_eq!(loc["Regions"], serde_json::json!(["us-east-1"]));
    assert_eq!(loc["ExecutionRoleName"], "motoorg-patch-now");
    assert_eq!(start["Parameters"]["DryRun"][0], "true");
    assert_eq!(start["Parameters"]["RunId"][0], RUN);
    assert_eq!(start["Parameters"]["Ticket"][0], "INC0012345");
    assert_eq!(
        start["Tags"][0],
        serde_json::json!({"Key": "patchplane:ticket", "Value": "INC0012345"})
    );
}

#[test]
fn skipping_the_gate_needs_a_reason_and_a_policy_needs_patch_now() {
    let run = |args: &[&str]| {
        Command::new(patchplane_bin())
            .current_dir(root())
            .arg("patch-now")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = run(&[
        "examples/org-policy.yaml",
        "--reason",
        "r",
        "--ticket",
        "t",
        "--patch-group",
        "AL2023-main",
        "--skip-gate",
    ]);
    assert_eq!(out.status.code(), Some(2), "clap refuses it");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip-gate-reason"));
    let out = run(&[
        "examples/sunday-after-patch-tuesday.yaml",
        "--reason",
        "r",
        "--ticket",
        "t",
        "--patch-group",
        "AL2023-all",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no `patch_now:`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "examples/org-policy.yaml",
        "--reason",
        "r",
        "--ticket",
        "t",
        "--patch-group",
        "AL2023-nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--patch-group AL2023-nope: no install window of the policy targets it")
    );
}
