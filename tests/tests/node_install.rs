//! Exceptions change what is installed (issue 28 item 1, ADR 026): every install window runs the
//! per-node install Automation, whose first step leaves a node alone while an exception covers it
//! or its ring gate held.
//!
//! - The step as rendered for the example, run with the project's Python against fake SSM and EC2
//!   clients answering with copies of documented examples (`tests/scripts/test_install_node.py`),
//!   night by night against the example's exceptions as a person reads them.
//! - The exceptions the example's template publishes, against the policy's text.
//! - moto: the member stack deployed as a real stack (moto's CloudFormation creates the
//!   `AWS::SSM::Parameter` and the `AWS::SSM::Document`), EC2 instances launched with tags, and the
//!   script read back out of the stored document and run against moto's SSM and EC2.
//!   What moto skips, and this test does not claim: moto runs no Automation (no `aws:branch`, no
//!   `aws:runCommand`; the document's steps are checked in `ring_gate.rs`), has no maintenance
//!   windows executing targets, and refuses tags on on-prem `mi-` nodes
//!   (`AddTagsToResource` → InvalidResourceId, moto 5.2.5), so on-prem tags are covered by the
//!   fake above only.

use patchplane_e2e::{Moto, generate, moto_python, python_tests, rendered, root};
use serde_yaml::Value;

#[path = "support/stacks.rs"]
mod stacks;

fn template() -> Value {
    serde_yaml::from_str(&rendered("examples/org-policy.yaml", "patching/template.yaml")).expect("yaml")
}

#[test]
fn the_install_step_leaves_excepted_and_held_nodes_alone() {
    let t = template();
    let r = &t["Resources"];
    let script = r["InstallNodeDocument"]["Properties"]["Content"]["mainSteps"][0]["inputs"]["Script"]
        .as_str()
        .expect("the CheckNode step's script, as rendered");
    let published = r["ExceptionsParameter"]["Properties"]["Value"]
        .as_str()
        .expect("published exceptions");
    let module = format!(
        "{script}\nPUBLISHED = {}\n",
        serde_json::to_string(published).expect("a Python string literal")
    );
    let log = python_tests("test_install_node.py", &module);
    assert!(log.contains("Ran 7 tests"), "{log}");
}

#[test]
fn the_template_publishes_the_node_exceptions_with_their_dates() {
    let t = template();
    let p = &t["Resources"]["ExceptionsParameter"]["Properties"];
    assert_eq!(p["Type"], "String");
    assert_eq!(p["Tier"], "Intelligent-Tiering", "over 4 KB it needs the advanced tier");
    let value: serde_json::Value =
        serde_json::from_str(p["Value"].as_str().expect("value")).expect("the value is JSON");
    // examples/org-policy.yaml, `exceptions:`, as written there.
    assert_eq!(
        value,
        serde_json::json!([
            {"id": "EXC-2026-014", "ticket": "CHG0031234", "tags": {"Application": "legacy-erp"},
             "starts": "2027-01-04", "expires": "2027-03-31"},
            {"id": "EXC-2026-021", "ticket": "CHG0031301", "nodes": ["i-0abc12345def67890"],
             "patches": ["KB5034441"], "expires": "2027-02-15"}
        ])
    );
}

/// `tests/scripts/moto_install_node.py MODE ARGS…` against `moto`; its stdout as JSON.
fn moto_script(moto: &Moto, args: &[&str]) -> serde_json::Value {
    moto_python(moto, "moto_install_node.py", args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_moto_the_stored_install_step_reads_the_published_exceptions_and_real_tags() {
    let moto = Moto::start();
    let ids = moto_script(
        &moto,
        &[
            "launch",
            r#"{"erp": {"Application": "legacy-erp", "Patch Group": "RHEL9-canary"},
                "kb": {"Application": "payments", "Patch Group": "RHEL9-canary"},
                "plain": {"Application": "payments", "Patch Group": "RHEL9-canary"}}"#,
        ],
    );
    let kb = ids["kb"].as_str().expect("kb id");
    // The moto policy with two exceptions naming what was launched.
    let text = std::fs::read_to_string(root().join("tests/fixtures/policies/moto.yaml")).expect("policy");
    let text = format!(
        "{text}\nexceptions:\n  - {{ id: EXC-2027-001, tags: {{ Application: legacy-erp }}, reason: vendor freeze,\n      approver: ciso@motoorg.example, ticket: CHG0040001, starts: \"2027-01-04\", expires: \"2027-03-31\" }}\n  - {{ id: EXC-2027-002, nodes: [{kb}], patches: [kernel-5.14.0-503.*], reason: driver,\n      approver: ciso@motoorg.example, ticket: CHG0040002, expires: \"2027-02-15\" }}\n"
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

    let days = r#"["2026-12-07", "2027-01-04", "2027-02-16", "2027-04-01"]"#;
    let got = moto_script(&moto, &["decide", "motoorg-install-node", &ids.to_string(), days]);
    // The policy text above, read day by day.
    let expected = serde_json::json!({
        "2026-12-07": {"erp": "INSTALL", "kb": "SKIP", "plain": "INSTALL"},
        "2027-01-04": {"erp": "SKIP", "kb": "SKIP", "plain": "INSTALL"},
        "2027-02-16": {"erp": "SKIP", "kb": "INSTALL", "plain": "INSTALL"},
        "2027-04-01": {"erp": "INSTALL", "kb": "INSTALL", "plain": "INSTALL"}
    });
    assert_eq!(got, expected);
}
