//! What every managed node of a member account gets so the evidence is complete (issue 28,
//! `nodes:`), as rendered for the example policy and variants of it: the inventory association
//! (`AWS-GatherSoftwareInventory` on every node, daily) unless an existing one covers it, the daily
//! scan of every node (never an install), and the node-output policy (only `s3:PutObject` under the
//! account's own output prefix, created once per account, attached to the roles the policy names).
//! moto's CloudFormation skips `AWS::SSM::*` resources, so this reads the rendered template; the
//! policy's effect is proven with an IAM evaluator in `iam_paths.rs`.

use serde_yaml::Value;

fn patching(extra: Option<(&str, &str)>) -> Value {
    let mut text = std::fs::read_to_string(patchplane_e2e::root().join("examples/org-policy.yaml")).expect("example");
    if let Some((from, to)) = extra {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let loaded = patchplane::load_str(&text, std::path::Path::new("org-policy.yaml")).expect("loads");
    let rendered = patchplane::render::render(&loaded.plan).expect("renders");
    let file = rendered
        .files
        .iter()
        .find(|f| f.path.ends_with("patching/template.yaml"))
        .expect("patching");
    serde_yaml::from_str(&file.contents).expect("yaml")
}

#[test]
fn inventory_and_a_scan_of_every_node_by_default() {
    let t = patching(None);
    let r = &t["Resources"];
    let inv = &r["GatherInventory"];
    assert_eq!(inv["Type"], "AWS::SSM::Association");
    assert_eq!(inv["Properties"]["Name"], "AWS-GatherSoftwareInventory");
    assert_eq!(inv["Properties"]["ScheduleExpression"], "rate(1 day)");
    assert_eq!(inv["Properties"]["Targets"][0]["Key"], "InstanceIds");
    assert_eq!(inv["Properties"]["Targets"][0]["Values"][0], "*", "every managed node");
    let scan = &r["ScanEveryNode"]["Properties"];
    assert_eq!(scan["Name"], "AWS-RunPatchBaseline");
    assert_eq!(scan["Targets"][0]["Values"][0], "*");
    assert_eq!(scan["Parameters"]["Operation"][0], "Scan", "it never installs");
    assert_eq!(
        scan["OutputLocation"]["S3Location"]["OutputS3BucketName"],
        "acme-patch-evidence"
    );
}

#[test]
fn an_existing_inventory_association_and_no_untagged_scan_are_honoured() {
    let t = patching(Some((
        "events: { forward:",
        "nodes: { inventory: existing, scan_untagged: false }\nevents: { forward:",
    )));
    let r = &t["Resources"];
    assert!(
        r["GatherInventory"].is_null(),
        "the account's own association gathers it"
    );
    assert!(r["ScanEveryNode"].is_null());
    assert!(!r["NodeOutputPolicy"].is_null(), "the policy ships regardless");
}

#[test]
fn the_node_output_policy_writes_only_its_accounts_prefix_once_per_account() {
    let t = patching(None);
    let p = &t["Resources"]["NodeOutputPolicy"];
    assert_eq!(p["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(
        p["Condition"], "CreatesNodeOutputPolicy",
        "IAM is global: one region creates it"
    );
    assert_eq!(t["Conditions"]["CreatesNodeOutputPolicy"]["Fn::Equals"][1], "us-east-1");
    assert_eq!(p["Properties"]["ManagedPolicyName"], "acme-node-output");
    assert!(p["Properties"]["Roles"].is_null(), "attaching is opt-in");
    let st = &p["Properties"]["PolicyDocument"]["Statement"];
    assert_eq!(st.as_sequence().map(Vec::len), Some(1));
    assert_eq!(st[0]["Action"], "s3:PutObject");
    assert_eq!(
        st[0]["Resource"]["Fn::Sub"][0],
        "arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/${AWS::AccountId}/*"
    );
    assert_eq!(st[0]["Resource"]["Fn::Sub"][1]["Prefix"], "run-command");
    let t = patching(Some((
        "events: { forward:",
        "nodes: { output_policy: { default_host_management: true, role_names: [acme-app-instance] } }\nevents: { forward:",
    )));
    let roles = &t["Resources"]["NodeOutputPolicy"]["Properties"]["Roles"];
    assert_eq!(roles[0], "AWSSystemsManagerDefaultEC2InstanceManagementRole");
    assert_eq!(roles[1], "acme-app-instance");
}

#[test]
fn a_bad_role_name_is_refused_with_its_key() {
    let text = std::fs::read_to_string(patchplane_e2e::root().join("examples/org-policy.yaml"))
        .expect("example")
        .replacen(
            "events: { forward:",
            "nodes: { output_policy: { role_names: [\"bad role!\"] } }\nevents: { forward:",
            1,
        );
    match patchplane::load_str(&text, std::path::Path::new("org-policy.yaml")) {
        Err(patchplane::LoadError::Invalid(d)) => {
            let text = d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            assert!(
                text.contains("`nodes.output_policy.role_names[0]`: must be an IAM role name"),
                "{text}"
            );
        }
        other => panic!("a bad role name must be refused: {:?}", other.map(|_| ())),
    }
}
