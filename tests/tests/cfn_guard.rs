//! The cfn-guard rules in `tests/guard/` over every generated template, and negative controls
//! proving each kind of rule can fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use patchplane_e2e::{cargo_tool, generate, root};

const POLICIES: &[&str] = &[
    "examples/org-policy.yaml",
    "examples/sunday-after-patch-tuesday.yaml",
    "tests/fixtures/policies/every-option.yaml",
];

fn guard(data: &Path) -> (Option<i32>, String) {
    let out = Command::new(cargo_tool("cfn-guard"))
        .args(["validate", "--show-summary", "fail", "--rules"])
        .arg(root().join("tests/guard"))
        .arg("--data")
        .arg(data)
        .output()
        .expect("cfn-guard runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn render_all(dir: &Path) -> Vec<PathBuf> {
    let mut templates = Vec::new();
    for (i, p) in POLICIES.iter().enumerate() {
        let (files, _) = generate(p, &dir.join(i.to_string()));
        templates.extend(files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "yaml")));
    }
    templates
}

#[test]
fn every_generated_template_passes_the_guard_rules() {
    let tmp = tempfile::tempdir().expect("tmp");
    let templates = render_all(tmp.path());
    assert!(templates.len() >= 6, "{templates:?}");
    let (code, out) = guard(tmp.path());
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = guard(&root().join("stacksets"));
    assert_eq!(code, Some(0), "committed output: {out}");
}

/// Each edit breaks one rule; cfn-guard must name it.
#[test]
fn each_rule_can_fail() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "central",
            "SSEAlgorithm: AES256\n",
            "SSEAlgorithm: NONE\n",
            "buckets_encrypted_at_rest",
        ),
        (
            "central",
            "QueueName: acme-patch-events\n      SqsManagedSseEnabled: true",
            "QueueName: acme-patch-events\n      SqsManagedSseEnabled: false",
            "queues_encrypted_at_rest",
        ),
        (
            "central",
            "      KmsMasterKeyId: alias/aws/sns\n",
            "",
            "topics_encrypted_at_rest",
        ),
        (
            "central",
            "aws:PrincipalOrgID: o-a1b2c3d4e5\n        - Sid: OnlyTheBridgePublishes",
            "aws:SourceAccount: \"111111111111\"\n        - Sid: OnlyTheBridgePublishes",
            "open_principals_are_narrowed_to_the_organization",
        ),
        (
            "central",
            "RestrictPublicBuckets: true\n",
            "RestrictPublicBuckets: false\n",
            "buckets_block_public_access",
        ),
        (
            "central",
            "VersioningConfiguration:\n        Status: Enabled\n",
            "VersioningConfiguration:\n        Status: Suspended\n",
            "buckets_versioned",
        ),
        (
            "central",
            "aws:SecureTransport: \"false\"",
            "aws:SecureTransport: \"true\"",
            "bucket_policies_deny_plain_http",
        ),
        (
            "central",
            "aws:PrincipalOrgID: o-a1b2c3d4e5\n  BridgeLogGroup:",
            "aws:SourceAccount: \"111111111111\"\n  BridgeLogGroup:",
            "open_principals_are_narrowed_to_the_organization",
        ),
        (
            "central",
            "      - Id: bridge-queue\n        Arn:\n          Fn::GetAtt:\n          - EventQueue\n          - Arn\n        DeadLetterConfig:\n          Arn:\n            Fn::GetAtt:\n            - UndeliverableEventQueue\n            - Arn\n",
            "      - Id: bridge-queue\n        Arn:\n          Fn::GetAtt:\n          - EventQueue\n          - Arn\n",
            "rule_targets_have_a_dead_letter_queue",
        ),
        (
            "patching",
            "Action: events:PutEvents\n",
            "Action: events:*\n",
            "role_policies_grant_no_wildcard_action",
        ),
        (
            "patching",
            "Resource: arn:aws:events:us-east-1:111111111111:event-bus/acme-patch-events\n",
            "Resource: \"*\"\n",
            "role_policies_justify_wildcard_resources",
        ),
        (
            "patching",
            "Fn::Sub: \"arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*\"\n",
            "\"*\"\n",
            "role_policies_justify_wildcard_resources",
        ),
        (
            "central",
            "            - sqs:ReceiveMessage\n",
            "            - sqs:*\n",
            "role_policies_grant_no_wildcard_action",
        ),
        (
            "central",
            "Sid: RegistryLoginNoResourceLevelPermissions",
            "Sid: RegistryLogin",
            "role_policies_justify_wildcard_resources",
        ),
        (
            "patching",
            "            Operation:\n            - Scan\n            RebootOption:",
            "            Operation:\n            - Install\n            RebootOption:",
            "windows_install_only_through_the_node_check",
        ),
        (
            "patching",
            "              ForAllValues:StringEquals:\n                aws:TagKeys:\n                - patchplane:last-patched\n",
            "",
            "node_tag_writes_are_limited_to_named_keys",
        ),
        (
            "patching",
            "          Condition:\n            StringEquals:\n              autoscaling:ResourceTag/patchplane:image:",
            "          Condition:\n            StringLike:\n              autoscaling:ResourceTag/patchplane:image:",
            "instance_refresh_needs_the_image_tag",
        ),
        (
            "central",
            "            Condition:\n              ArnEquals:\n                ecs:cluster:",
            "            Condition:\n              ArnLike:\n                ecs:cluster:",
            "scheduled_tasks_run_on_their_cluster_only",
        ),
        (
            "patching",
            "Sid: ReadTagsNoResourceLevelPermissions",
            "Sid: ReadTags",
            "role_policies_justify_wildcard_resources",
        ),
    ];
    let sunday: &[(&str, &str, &str, &str)] = &[
        (
            "patching",
            "          Condition:\n            \"Null\":\n              aws:ResourceTag/PatchGroup:",
            "          Condition:\n            StringLike:\n              aws:ResourceTag/PatchGroup:",
            "instance_start_stop_needs_the_patch_group_tag",
        ),
        (
            "patching",
            "          Condition:\n            \"Null\":\n              aws:ResourceTag/patchplane:delete-after:",
            "          Condition:\n            StringLike:\n              aws:ResourceTag/patchplane:delete-after:",
            "snapshot_deletion_needs_the_expiry_tag",
        ),
        (
            "patching",
            "      Parameters:\n        Operation:\n        - Scan\n      OutputLocation:",
            "      Parameters:\n        Operation:\n        - Install\n      OutputLocation:",
            "associations_on_every_node_never_install",
        ),
        (
            "central",
            "${Bucket}/${Prefix}/${!aws:PrincipalAccount}/*",
            "${Bucket}/${Prefix}/*",
            "command_output_only_under_the_writers_account",
        ),
    ];
    let cases = cases
        .iter()
        .map(|c| ("examples/org-policy.yaml", c))
        .chain(sunday.iter().map(|c| ("examples/sunday-after-patch-tuesday.yaml", c)));
    for (policy, (stack, from, to, rule)) in cases {
        let tmp = tempfile::tempdir().expect("tmp");
        let (files, _) = generate(policy, tmp.path());
        let template = files
            .iter()
            .find(|f| f.ends_with(format!("{stack}/template.yaml")))
            .expect("template");
        let text = std::fs::read_to_string(template).expect("read");
        // With several resources alike the edit breaks the last; one broken resource must fail.
        let at = text
            .rfind(from)
            .unwrap_or_else(|| panic!("{rule}: `{from}` must occur in {stack}"));
        let edited = format!("{}{to}{}", &text[..at], &text[at + from.len()..]);
        std::fs::write(template, edited).expect("write");
        let (code, out) = guard(tmp.path());
        assert_ne!(code, Some(0), "{rule} did not fail:\n{out}");
        assert!(out.contains(rule), "{rule} not named:\n{out}");
    }
}
