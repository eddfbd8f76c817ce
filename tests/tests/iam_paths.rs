//! Every cross-account path of the example's stacks, proven with an IAM policy evaluator (issue 28):
//! each path is allowed for its principal and denied for a principal outside the organization and
//! for a neighbouring prefix or resource.
//!
//! A little over 800 lines on purpose: 70 cases, each a request written out in full (principal,
//! action, resource, context) next to the decision it must get, so a reader checks each one
//! against the template without following helpers; one test function per path keeps them apart.
//!
//! The policies are read from the committed templates (`stacksets/acme/{central,patching}`, and
//! `stacksets/sunday/patching` for stopped instances) and resolved for a central account
//! (111111111111, the example's), member accounts 222222222222 and 333333333333, an account of
//! another organization (444444444444), region us-east-1 and the example's organization id
//! (`tests/src/iam/template.rs`; an intrinsic it does not know fails the test). Names that
//! CloudFormation generates (roles without `RoleName`, the claims bucket) are chosen here.
//!
//! The evaluator is `@cloud-copilot/iam-simulate` (the version `tests/iam/package-lock.json` pins,
//! installed by `cargo xtask setup`), not AWS. It applies AWS's documented evaluation logic to
//! identity, resource (bucket and trust) policies and SCPs, same- and cross-account; it does not
//! fill in request context (the tests state `aws:PrincipalOrgID`, `aws:SecureTransport`, tags,
//! …), model AWS-owned resources shared with every account (an AWS document such as
//! `AWS-RunPatchBaseline` is evaluated as if it belonged to the caller's account), service-linked
//! roles, session policies (none is used here), or what a service does on its own behalf (SSM's
//! resource data sync writes as `ssm.amazonaws.com`, which is not proven here). The example's
//! buckets use SSE-S3, so no KMS key policy is on any path.

use patchplane_e2e::iam::template::Stack;
use patchplane_e2e::iam::{self, Decision, Principal, Request};
use patchplane_e2e::root;
use serde_json::{Value, json};

const CENTRAL: &str = "111111111111";
const MEMBER: &str = "222222222222";
/// Another member account of the organization: its neighbour.
const NEIGHBOUR: &str = "333333333333";
/// An account of another organization.
const OUTSIDER: &str = "444444444444";
const OUTSIDE_ORG: &str = "o-zz9999zz99";
const REGION: &str = "us-east-1";

use Decision::{Allowed, ExplicitlyDenied, ImplicitlyDenied};

/// The example policy's organization id.
fn org() -> String {
    let text = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("example");
    let policy: Value = serde_yaml::from_str(&text).expect("yaml");
    policy
        .pointer("/organization/id")
        .and_then(Value::as_str)
        .expect("organization.id")
        .to_owned()
}

fn central() -> Stack {
    Stack::load(&root().join("stacksets/acme/central/template.yaml"), CENTRAL, REGION)
        .expect("central template")
        .named("ClaimsBucket", "acme-patch-central-claimsbucket-0a1b2c3d4e5f")
}

/// The member StackSet as deployed in `account` and `region`.
fn member(account: &str, region: &str) -> Stack {
    Stack::load(&root().join("stacksets/acme/patching/template.yaml"), account, region)
        .expect("member template")
        .named("InstallRole", "StackSet-acme-patching-InstallRole-1A2B3C4D5E6F")
}

/// `AmazonSSMManagedInstanceCore` (v2, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html):
/// what a node's instance profile typically has. It grants no `s3:` action at all.
fn ssm_managed_instance_core() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": [
                "ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument",
                "ssm:DescribeDocument", "ssm:GetManifest", "ssm:GetParameter", "ssm:GetParameters",
                "ssm:ListAssociations", "ssm:ListInstanceAssociations", "ssm:PutInventory",
                "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult", "ssm:UpdateAssociationStatus",
                "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateInstanceInformation"], "Resource": "*"},
            {"Effect": "Allow", "Action": [
                "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], "Resource": "*"},
            {"Effect": "Allow", "Action": [
                "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
                "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"], "Resource": "*"}
        ]
    })
}

/// An identity allowed everything: whatever denies it is the resource's policy.
fn administrator() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

/// Evaluates every case in one run of the evaluator; fails listing every case that decided
/// otherwise. Prints the counts.
fn prove(path: &str, cases: Vec<(&str, Request, Decision)>) {
    let requests: Vec<Request> = cases.iter().map(|(_, r, _)| r.clone()).collect();
    let decisions = iam::evaluate(&requests).unwrap_or_else(|e| panic!("{path}: {e}"));
    let wrong: Vec<String> = cases
        .iter()
        .zip(&decisions)
        .filter(|((_, _, expected), got)| expected != *got)
        .map(|((name, _, expected), got)| format!("  {name}: expected {expected:?}, the evaluator says {got:?}"))
        .collect();
    let allowed = cases.iter().filter(|(_, _, d)| *d == Allowed).count();
    println!(
        "{path}: {allowed} allowed, {} denied cases (@cloud-copilot/iam-simulate {})",
        cases.len() - allowed,
        iam::version().unwrap_or_else(|| "?".to_owned())
    );
    assert!(wrong.is_empty(), "{path}:\n{}", wrong.join("\n"));
}

#[test]
fn the_evaluator_is_the_pinned_version() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/iam/package.json")).expect("tests/iam/package.json"),
    )
    .expect("json");
    let pinned = manifest
        .pointer("/dependencies/@cloud-copilot~1iam-simulate")
        .and_then(Value::as_str)
        .expect("pinned");
    assert_eq!(
        iam::version().as_deref(),
        Some(pinned),
        "{} does not hold the pinned evaluator: run `cargo xtask setup`",
        iam::installed().display()
    );
}

/// Resources read: member `NodeOutputPolicy` (identity of a node's role) and `ScanEveryNode`
/// (its output prefix); central `EvidenceBucket` (name) and `EvidenceBucketPolicy` (resource
/// policy). Run Command writes a node's output with the node's own credentials, across accounts:
/// both the node's identity policy and the bucket policy must allow it.
#[test]
fn nodes_write_their_own_output_into_the_evidence_bucket() {
    let org = org();
    let central = central();
    let bucket = central
        .property("EvidenceBucket", &["BucketName"])
        .expect("bucket name");
    let bucket = bucket.as_str().expect("a name");
    let bucket_policy = central
        .property("EvidenceBucketPolicy", &["PolicyDocument"])
        .expect("bucket policy");
    let node_output = |stack: &Stack| {
        stack
            .property("NodeOutputPolicy", &["PolicyDocument"])
            .expect("node policy")
    };
    // Where the template tells SSM to write a node's output: `run-command/<account>/<region>`.
    let prefix = |stack: &Stack| {
        let prefix = stack
            .property("ScanEveryNode", &["OutputLocation", "S3Location", "OutputS3KeyPrefix"])
            .expect("output prefix");
        prefix.as_str().expect("a prefix").to_owned()
    };
    // Run Command's key under the prefix: <command id>/<instance id>/<plugin>/<step>/stdout.
    let key = |prefix: &str| {
        format!("{prefix}/4b8b7d4e-1a2b-4c3d-9e8f-0a1b2c3d4e5f/i-0123456789abcdef0/awsrunShellScript/PatchLinux/stdout")
    };
    let object = |key: &str| format!("arn:aws:s3:::{bucket}/{key}");
    let write = |principal: &Principal, key: &str, identity: &[(&str, &Value)]| {
        let mut request = Request::new(principal, "s3:PutObject", &object(key), CENTRAL)
            .resource_policy(&bucket_policy)
            .context("aws:PrincipalOrgID", &org)
            .context("aws:SecureTransport", "true");
        for (name, policy) in identity {
            request = request.identity(name, policy);
        }
        request
    };

    let member_here = member(MEMBER, REGION);
    let member_eu = member(MEMBER, "eu-west-1");
    // The managed policy is IAM, global: created once per account (in us-east-1), not per region.
    assert!(member_eu.resource("NodeOutputPolicy").is_err());
    let node_policy = node_output(&member_here);
    let core = ssm_managed_instance_core();
    let node = Principal::role_session(MEMBER, "acme-app-instance", "i-0123456789abcdef0");
    let own = key(&prefix(&member_here));
    assert!(own.starts_with(&format!("run-command/{MEMBER}/{REGION}/")), "{own}");
    let identity: &[(&str, &Value)] = &[
        ("AmazonSSMManagedInstanceCore", &core),
        ("acme-node-output", &node_policy),
    ];
    // A team's own, broader grant: the template's statement for every account's prefix.
    let broader = serde_json::from_str::<Value>(&node_policy.to_string().replace(MEMBER, "*")).expect("json");
    let outsider_stack = member(OUTSIDER, REGION);
    let outsider_policy = node_output(&outsider_stack);
    let outsider = Principal::role_session(OUTSIDER, "acme-app-instance", "i-0fedcba9876543210");

    prove(
        "node → evidence bucket",
        vec![
            (
                "a member's node writes its own output",
                write(&node, &own, identity),
                Allowed,
            ),
            (
                "a node of the same account in another region writes its own output",
                write(&node, &key(&prefix(&member_eu)), identity),
                Allowed,
            ),
            (
                "a node writes under another member's prefix",
                write(&node, &key(&format!("run-command/{NEIGHBOUR}/{REGION}")), identity),
                ImplicitlyDenied,
            ),
            (
                "a node granted every account's prefix by its own policy is still kept to its own by the bucket",
                write(
                    &node,
                    &key(&format!("run-command/{NEIGHBOUR}/{REGION}")),
                    &[("broader", &broader)],
                ),
                ImplicitlyDenied,
            ),
            (
                "a node writes outside run-command/ (the report's prefix)",
                write(&node, "reports/2026-10/evidence.csv", identity),
                ImplicitlyDenied,
            ),
            (
                "a node writes into the resource data sync's prefix",
                write(
                    &node,
                    &format!(
                        "resource-data-sync/AWS:ComplianceItem/accountid={MEMBER}/region={REGION}/resourcetype=ManagedInstanceInventory/i-0123456789abcdef0.json"
                    ),
                    identity,
                ),
                ImplicitlyDenied,
            ),
            (
                "a node of another organization, with the same StackSet's policy, writes its own output",
                write(
                    &outsider,
                    &key(&prefix(&outsider_stack)),
                    &[
                        ("AmazonSSMManagedInstanceCore", &core),
                        ("acme-node-output", &outsider_policy),
                    ],
                )
                .context("aws:PrincipalOrgID", OUTSIDE_ORG),
                ImplicitlyDenied,
            ),
            (
                "a node writes its own output over plain HTTP",
                write(&node, &own, identity).context("aws:SecureTransport", "false"),
                ExplicitlyDenied,
            ),
            (
                "a node with only AmazonSSMManagedInstanceCore (the gap of issue 28)",
                write(&node, &own, &[("AmazonSSMManagedInstanceCore", &core)]),
                ImplicitlyDenied,
            ),
        ],
    );
}

/// Resources read: central `BridgeTaskRole` (its name and inline policy `patchplane-bridge-run`,
/// identity of the bridge's task); member `BridgeTagsRole` (its ARN, trust policy and inline
/// policy `patchplane-read-tags`). Assuming a role across accounts needs both the caller's
/// identity policy and the role's trust policy.
#[test]
fn the_bridge_task_role_assumes_each_members_tag_role() {
    let org = org();
    let central = central();
    let task_policy = central
        .inline_policy("BridgeTaskRole", "patchplane-bridge-run")
        .expect("task policy");
    let task_role = central.property("BridgeTaskRole", &["RoleName"]).expect("role name");
    let task = Principal::role_session(CENTRAL, task_role.as_str().expect("a name"), "8f3e2a1b9c7d4e6f");
    let assume = |principal: &Principal, identity: &Value, target: &Stack, resource_org: &str| {
        Request::new(
            principal,
            "sts:AssumeRole",
            &target.arn("BridgeTagsRole").expect("role ARN"),
            target.account(),
        )
        .identity("identity", identity)
        .resource_policy(
            &target
                .property("BridgeTagsRole", &["AssumeRolePolicyDocument"])
                .expect("trust"),
        )
        .context("aws:PrincipalOrgID", &org)
        .context("aws:ResourceOrgID", resource_org)
    };
    let member_here = member(MEMBER, REGION);
    let neighbour = member(NEIGHBOUR, REGION);
    let outsider_account = member(OUTSIDER, REGION);
    let operator = Principal::role_session(CENTRAL, "acme-operator", "alice");
    let impostor = Principal::role_session(NEIGHBOUR, task_role.as_str().expect("a name"), "impostor");
    let outsider = Principal::role_session(OUTSIDER, "admin", "mallory");
    // The role AWS Organizations creates in a member account, trusting the management account.
    let org_access_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{CENTRAL}:root")}, "Action": "sts:AssumeRole"}]});
    let tags_role = member_here.property("BridgeTagsRole", &["RoleName"]).expect("name");
    let tags = Principal::role_session(MEMBER, tags_role.as_str().expect("a name"), "patchplane-bridge");
    let tags_policy = member_here
        .inline_policy("BridgeTagsRole", "patchplane-read-tags")
        .expect("tags policy");

    prove(
        "bridge task role → member tag roles",
        vec![
            (
                "the task role assumes a member's tag role",
                assume(&task, &task_policy, &member_here, &org),
                Allowed,
            ),
            (
                "the task role assumes another member's tag role",
                assume(&task, &task_policy, &neighbour, &org),
                Allowed,
            ),
            (
                "another role of the central account, allowed everything",
                assume(&operator, &administrator(), &member_here, &org),
                ImplicitlyDenied,
            ),
            (
                "a role of the same name in another member account",
                assume(&impostor, &task_policy, &member_here, &org),
                ImplicitlyDenied,
            ),
            (
                "a principal of another organization, allowed everything",
                assume(&outsider, &administrator(), &member_here, &org).context("aws:PrincipalOrgID", OUTSIDE_ORG),
                ImplicitlyDenied,
            ),
            (
                "the task role assumes a tag role in an account outside the organization",
                assume(&task, &task_policy, &outsider_account, OUTSIDE_ORG),
                ImplicitlyDenied,
            ),
            (
                "the task role assumes the member's OrganizationAccountAccessRole",
                Request::new(
                    &task,
                    "sts:AssumeRole",
                    &format!("arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"),
                    MEMBER,
                )
                .identity("identity", &task_policy)
                .resource_policy(&org_access_trust)
                .context("aws:PrincipalOrgID", &org)
                .context("aws:ResourceOrgID", &org),
                ImplicitlyDenied,
            ),
            (
                "the tag role reads tags",
                Request::new(&tags, "tag:GetResources", "*", MEMBER).identity("identity", &tags_policy),
                Allowed,
            ),
            (
                "the tag role describes instances",
                Request::new(&tags, "ec2:DescribeInstances", "*", MEMBER).identity("identity", &tags_policy),
                ImplicitlyDenied,
            ),
        ],
    );

    // The last-patched tag (issue 29): the role may set that one key on nodes, nothing else.
    let write_policy = member_here
        .inline_policy("BridgeTagsRole", "patchplane-tag-last-patched")
        .expect("tag-writing policy");
    let writes = |action: &str, resource: &str, keys: &[&str]| {
        Request::new(&tags, action, resource, MEMBER)
            .identity("read", &tags_policy)
            .identity("write", &write_policy)
            .context_list("aws:TagKeys", keys)
    };
    let instance = format!("arn:aws:ec2:{REGION}:{MEMBER}:instance/i-0abc12345def67890");
    let onprem = format!("arn:aws:ssm:eu-central-1:{MEMBER}:managed-instance/mi-0123456789abcdef0");
    let last = "patchplane:last-patched";
    prove(
        "bridge tag role → the last-patched tag",
        vec![
            (
                "tags through the Tagging API",
                writes("tag:TagResources", "*", &[last]),
                Allowed,
            ),
            (
                "sets the last-patched tag on an instance",
                writes("ec2:CreateTags", &instance, &[last]),
                Allowed,
            ),
            (
                "… on an on-premises node in another region",
                writes("ssm:AddTagsToResource", &onprem, &[last]),
                Allowed,
            ),
            (
                "rewrites the owner tag",
                writes("ec2:CreateTags", &instance, &["Owner"]),
                ImplicitlyDenied,
            ),
            (
                "moves a node to another patch group along with the date",
                writes("ec2:CreateTags", &instance, &[last, "PatchGroup"]),
                ImplicitlyDenied,
            ),
            (
                "… on an on-premises node",
                writes("ssm:AddTagsToResource", &onprem, &["PatchGroup"]),
                ImplicitlyDenied,
            ),
            (
                "deletes the tag",
                writes("ec2:DeleteTags", &instance, &[last]),
                ImplicitlyDenied,
            ),
            (
                "tags a volume",
                writes(
                    "ec2:CreateTags",
                    &format!("arn:aws:ec2:{REGION}:{MEMBER}:volume/vol-0123456789abcdef0"),
                    &[last],
                ),
                ImplicitlyDenied,
            ),
            (
                "tags an instance of another account",
                Request::new(&tags, "ec2:CreateTags", &instance.replace(MEMBER, NEIGHBOUR), NEIGHBOUR)
                    .identity("write", &write_policy)
                    .context_list("aws:TagKeys", &[last]),
                ImplicitlyDenied,
            ),
        ],
    );
}

/// `GateParameter` of the first maintenance-window task whose Automation document is `document`.
fn gate_parameter(stack: &Stack, template: &str, document: &str) -> String {
    let text = std::fs::read_to_string(root().join(template)).expect("template");
    let parsed: Value = serde_yaml::from_str(&text).expect("yaml");
    let resources = parsed.get("Resources").and_then(Value::as_object).expect("resources");
    let task = resources
        .iter()
        .find(|(_, r)| r.pointer("/Properties/TaskArn/Ref").and_then(Value::as_str) == Some(document))
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| panic!("no task runs {document}"));
    let value = stack
        .property(
            &task,
            &[
                "TaskInvocationParameters",
                "MaintenanceWindowAutomationParameters",
                "Parameters",
                "GateParameter",
            ],
        )
        .expect("gate parameter");
    value[0].as_str().expect("a name").to_owned()
}

/// Requests a same-account service role makes (no resource policies): `identity` decides.
fn calls(principal: &Principal, identity: &Value) -> impl Fn(&str, &str) -> Request {
    let principal = principal.clone();
    let identity = identity.clone();
    move |action, resource| Request::new(&principal, action, resource, MEMBER).identity("identity", &identity)
}

/// Resources read: member `InstallRolePolicy` (identity of the per-node install and ring-gate
/// Automations), `InstallRole` (its ARN, for `iam:PassRole`), `InstallNodeDocument` and
/// `RingGateDocument` (their names), `ExceptionsParameter` (its name) and the gate parameter of
/// the gate tasks.
#[test]
fn the_install_role_calls_only_what_installs_and_gates_need() {
    let stack = member(MEMBER, REGION);
    let policy = stack
        .property("InstallRolePolicy", &["PolicyDocument"])
        .expect("policy");
    let roles = stack.property("InstallRolePolicy", &["Roles"]).expect("roles");
    let role = roles[0].as_str().expect("the install role").to_owned();
    let role_arn = stack.arn("InstallRole").expect("arn");
    assert_eq!(role_arn, format!("arn:aws:iam::{MEMBER}:role/{role}"));
    let name = |id: &str| {
        let v = stack.property(id, &["Name"]).expect("name");
        v.as_str().expect("a name").to_owned()
    };
    let (install, document, exceptions) = (
        name("InstallNodeDocument"),
        name("RingGateDocument"),
        name("ExceptionsParameter"),
    );
    let parameter = gate_parameter(&stack, "stacksets/acme/patching/template.yaml", "RingGateDocument");
    assert!(parameter.starts_with("/patchplane/acme/gates/"), "{parameter}");
    let gate = Principal::role_session(MEMBER, &role, "0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e");
    let call = calls(&gate, &policy);
    let window = format!("arn:aws:ssm:{REGION}:{MEMBER}:maintenancewindow/mw-0c50858d01EXAMPLE");
    let outsider = Principal::role_session(OUTSIDER, &role, "mallory");
    let outsider_policy = member(OUTSIDER, REGION)
        .property("InstallRolePolicy", &["PolicyDocument"])
        .expect("policy");
    let ssm_parameter = |name: &str| format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter{name}");
    let decision = ssm_parameter("/patchplane/acme/gate-decisions/AL2023-main");

    prove(
        "install role → SSM, EC2, EventBridge",
        vec![
            (
                "starts a node's install",
                call(
                    "ssm:StartAutomationExecution",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:automation-definition/{install}:$DEFAULT"),
                ),
                Allowed,
            ),
            (
                "reads the published exceptions",
                call("ssm:GetParameter", &ssm_parameter(&exceptions)),
                Allowed,
            ),
            (
                "records the gate's decision",
                call("ssm:PutParameter", &decision),
                Allowed,
            ),
            ("reads it back per node", call("ssm:GetParameter", &decision), Allowed),
            (
                "reads an on-premises node's tags",
                call(
                    "ssm:ListTagsForResource",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:managed-instance/mi-0123456789abcdef0"),
                ),
                Allowed,
            ),
            ("reads an EC2 node's tags", call("ec2:DescribeTags", "*"), Allowed),
            (
                "changes the exceptions that spare nodes",
                call("ssm:PutParameter", &ssm_parameter(&exceptions)),
                ImplicitlyDenied,
            ),
            (
                "opens a gate on purpose (an operator's act, not the gate's)",
                call("ssm:PutParameter", &ssm_parameter(&parameter)),
                ImplicitlyDenied,
            ),
            (
                "tags a node (it only reads them)",
                call(
                    "ssm:AddTagsToResource",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:managed-instance/mi-0123456789abcdef0"),
                ),
                ImplicitlyDenied,
            ),
            (
                "reads another policy's exceptions",
                call("ssm:GetParameter", &ssm_parameter("/patchplane/sunday/exceptions")),
                ImplicitlyDenied,
            ),
            (
                "reads the earlier ring's window",
                call("ssm:GetMaintenanceWindow", &window),
                Allowed,
            ),
            (
                "lists its runs",
                call("ssm:DescribeMaintenanceWindowExecutions", &window),
                Allowed,
            ),
            // These two have no resource-level permissions: only `*` names them.
            (
                "lists a run's tasks",
                call("ssm:DescribeMaintenanceWindowExecutionTasks", "*"),
                Allowed,
            ),
            (
                "lists a task's invocations",
                call("ssm:DescribeMaintenanceWindowExecutionTaskInvocations", "*"),
                Allowed,
            ),
            (
                "reads an earlier ring's Automation",
                call(
                    "ssm:GetAutomationExecution",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:automation-execution/4105a4fc-f944-11e6-9d32-0123456789ab"),
                ),
                Allowed,
            ),
            (
                "lists a command's invocations",
                call("ssm:ListCommandInvocations", "*"),
                Allowed,
            ),
            (
                "sends AWS-RunPatchBaseline",
                call(
                    "ssm:SendCommand",
                    &format!("arn:aws:ssm:{REGION}::document/AWS-RunPatchBaseline"),
                )
                .aws_owned(),
                Allowed,
            ),
            (
                "… to an instance",
                call(
                    "ssm:SendCommand",
                    &format!("arn:aws:ec2:{REGION}:{MEMBER}:instance/i-0123456789abcdef0"),
                ),
                Allowed,
            ),
            (
                "… to an on-premises node",
                call(
                    "ssm:SendCommand",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:managed-instance/mi-0123456789abcdef0"),
                ),
                Allowed,
            ),
            (
                "tells the bridge on the default bus",
                call(
                    "events:PutEvents",
                    &format!("arn:aws:events:{REGION}:{MEMBER}:event-bus/default"),
                ),
                Allowed,
            ),
            (
                "reads its gate parameter",
                call(
                    "ssm:GetParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter{parameter}"),
                ),
                Allowed,
            ),
            (
                "starts the ring gate",
                call(
                    "ssm:StartAutomationExecution",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:automation-definition/{document}:$DEFAULT"),
                ),
                Allowed,
            ),
            (
                "passes itself to SSM",
                call("iam:PassRole", &role_arn).context("iam:PassedToService", "ssm.amazonaws.com"),
                Allowed,
            ),
            (
                "reads a window in another region",
                call("ssm:GetMaintenanceWindow", &window.replace(REGION, "eu-west-1")),
                ImplicitlyDenied,
            ),
            (
                "reads a window of another account",
                Request::new(
                    &gate,
                    "ssm:GetMaintenanceWindow",
                    &window.replace(MEMBER, NEIGHBOUR),
                    NEIGHBOUR,
                )
                .identity("identity", &policy),
                ImplicitlyDenied,
            ),
            (
                "sends AWS-RunShellScript",
                call(
                    "ssm:SendCommand",
                    &format!("arn:aws:ssm:{REGION}::document/AWS-RunShellScript"),
                )
                .aws_owned(),
                ImplicitlyDenied,
            ),
            (
                "reads a parameter beside the gates",
                call(
                    "ssm:GetParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter/patchplane/acme/gates-admin/main"),
                ),
                ImplicitlyDenied,
            ),
            (
                "reads another policy's gate parameter",
                call(
                    "ssm:GetParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter/patchplane/sunday/gates/main"),
                ),
                ImplicitlyDenied,
            ),
            (
                "puts events on another bus of the account",
                call(
                    "events:PutEvents",
                    &format!("arn:aws:events:{REGION}:{MEMBER}:event-bus/acme-patch-events"),
                ),
                ImplicitlyDenied,
            ),
            (
                "puts events on the central bus",
                Request::new(
                    &gate,
                    "events:PutEvents",
                    &format!("arn:aws:events:{REGION}:{CENTRAL}:event-bus/acme-patch-events"),
                    CENTRAL,
                )
                .identity("identity", &policy),
                ImplicitlyDenied,
            ),
            (
                "starts another Automation",
                call(
                    "ssm:StartAutomationExecution",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:automation-definition/AWS-RestartEC2Instance:$DEFAULT"),
                ),
                ImplicitlyDenied,
            ),
            (
                "passes itself to EC2",
                call("iam:PassRole", &role_arn).context("iam:PassedToService", "ec2.amazonaws.com"),
                ImplicitlyDenied,
            ),
            (
                "a role of another organization, with the same policy, reads the member's gate parameter",
                Request::new(
                    &outsider,
                    "ssm:GetParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter{parameter}"),
                    MEMBER,
                )
                .identity("identity", &outsider_policy),
                ImplicitlyDenied,
            ),
        ],
    );
}

/// Resources read: central `PatchNowAdministrationRole` (its inline policy) and member
/// `PatchNowExecutionRole` (trust and inline policy), issue 29 item 1 / ADR 028: the central
/// account's multi-account Automation reaches a member only as the execution role, which may
/// start the member's own per-node install (exceptions and gate first) and nothing that patches
/// a node directly.
#[test]
fn patch_now_reaches_members_only_through_their_own_install() {
    let central = central();
    let admin_policy = central
        .inline_policy("PatchNowAdministrationRole", "patchplane-patch-now-admin")
        .expect("admin policy");
    let stack = member(MEMBER, REGION);
    let trust = stack
        .property("PatchNowExecutionRole", &["AssumeRolePolicyDocument"])
        .expect("trust");
    let grants = stack
        .inline_policy("PatchNowExecutionRole", "patchplane-patch-now")
        .expect("policy");
    let exec_arn = format!("arn:aws:iam::{MEMBER}:role/acme-patch-now");
    let admin = Principal::role_session(CENTRAL, "AWS-SystemsManager-AutomationAdministrationRole", "ssm");
    let operator = Principal::role_session(CENTRAL, "acme-operator", "alice");
    let assume = |who: &Principal, identity: &Value, role: &str| {
        Request::new(who, "sts:AssumeRole", role, MEMBER)
            .identity("identity", identity)
            .resource_policy(&trust)
    };
    let child = Principal::role_session(MEMBER, "acme-patch-now", "automation");
    let call = calls(&child, &grants);
    let install_role = format!("arn:aws:iam::{MEMBER}:role/acme-install-{REGION}");
    prove(
        "patch-now: central administration role → member execution role → member install",
        vec![
            (
                "the administration role assumes a member's execution role",
                assume(&admin, &admin_policy, &exec_arn),
                Allowed,
            ),
            (
                "another role of the central account, allowed everything, assumes it",
                assume(&operator, &administrator(), &exec_arn),
                ImplicitlyDenied,
            ),
            (
                "the administration role assumes the member's install role directly",
                Request::new(&admin, "sts:AssumeRole", &install_role, MEMBER).identity("identity", &admin_policy),
                ImplicitlyDenied,
            ),
            (
                "a child starts the member's per-node install",
                call(
                    "ssm:StartAutomationExecution",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:automation-definition/acme-install-node:$DEFAULT"),
                ),
                Allowed,
            ),
            (
                "… hands it the install role",
                call("iam:PassRole", &install_role).context("iam:PassedToService", "ssm.amazonaws.com"),
                Allowed,
            ),
            (
                "a child starts another runbook",
                call(
                    "ssm:StartAutomationExecution",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:automation-definition/AWS-RestartEC2Instance:$DEFAULT"),
                ),
                ImplicitlyDenied,
            ),
            (
                "a child sends the patch command itself (around the exceptions)",
                call(
                    "ssm:SendCommand",
                    &format!("arn:aws:ssm:{REGION}::document/AWS-RunPatchBaseline"),
                )
                .aws_owned(),
                ImplicitlyDenied,
            ),
            (
                "a child changes the published exceptions",
                call(
                    "ssm:PutParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter/patchplane/acme/exceptions"),
                ),
                ImplicitlyDenied,
            ),
        ],
    );
}

/// Resources read: member `ImageDistributionRole` (its trust and inline policy; the AWS managed
/// policy it also has copies images only and is not evaluated here). The building account
/// (`ami_pipeline.accounts`, 222222222222 in the example) distributes into a member account, and
/// may record the image and bump the named launch template only.
#[test]
fn image_distribution_reaches_members_from_the_building_account_only() {
    const BUILDER: &str = "222222222222";
    let stack = member(MEMBER, REGION);
    let role_arn = format!("arn:aws:iam::{MEMBER}:role/EC2ImageBuilderDistributionCrossAccountRole");
    let trust = stack
        .property("ImageDistributionRole", &["AssumeRolePolicyDocument"])
        .expect("trust");
    let grants = stack
        .inline_policy("ImageDistributionRole", "patchplane-image-distribution")
        .expect("policy");
    let assume = |principal: &Principal| {
        Request::new(principal, "sts:AssumeRole", &role_arn, MEMBER)
            .identity("identity", &administrator())
            .resource_policy(&trust)
    };
    let image_builder = Principal::role_session(BUILDER, "AWSServiceRoleForImageBuilder", "ImageBuilder");
    let stranger = Principal::role_session(NEIGHBOUR, "AWSServiceRoleForImageBuilder", "ImageBuilder");
    let distributor = Principal::role_session(MEMBER, "EC2ImageBuilderDistributionCrossAccountRole", "ImageBuilder");
    let call = calls(&distributor, &grants);
    prove(
        "building account → member distribution role",
        vec![
            ("the building account assumes it", assume(&image_builder), Allowed),
            ("another account assumes it", assume(&stranger), ImplicitlyDenied),
            (
                "records the newest image",
                call(
                    "ssm:PutParameter",
                    &format!("arn:aws:ssm:eu-west-1:{MEMBER}:parameter/patchplane/acme/ami/al2023-golden"),
                ),
                Allowed,
            ),
            (
                "overwrites the published exceptions",
                call(
                    "ssm:PutParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter/patchplane/acme/exceptions"),
                ),
                ImplicitlyDenied,
            ),
            (
                "gives the named launch template a new version",
                call(
                    "ec2:CreateLaunchTemplateVersion",
                    &format!("arn:aws:ec2:eu-west-1:{MEMBER}:launch-template/lt-0a1b2c3d4e5f67890"),
                ),
                Allowed,
            ),
            (
                "… another launch template",
                call(
                    "ec2:CreateLaunchTemplateVersion",
                    &format!("arn:aws:ec2:eu-west-1:{MEMBER}:launch-template/lt-0fffffffffffffff0"),
                ),
                ImplicitlyDenied,
            ),
        ],
    );
}

/// Resources read: member `AmiRefreshRolePolicy` (identity of the golden-image refresh
/// Automation) and `AmiRefreshRole` (issue 29 item 2): it refreshes only the Auto Scaling groups
/// that opted in by the image tag, in its own account and region.
#[test]
fn the_refresh_role_refreshes_only_opted_in_groups() {
    let stack = member(MEMBER, REGION).named("AmiRefreshRole", "StackSet-acme-patching-AmiRefreshRole-7F8E9D0C1B2A");
    let policy = stack
        .property("AmiRefreshRolePolicy", &["PolicyDocument"])
        .expect("policy");
    let role_arn = stack.arn("AmiRefreshRole").expect("arn");
    let role = role_arn.rsplit('/').next().expect("name").to_owned();
    let runner = Principal::role_session(MEMBER, &role, "0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e");
    let call = calls(&runner, &policy);
    let group = format!(
        "arn:aws:autoscaling:{REGION}:{MEMBER}:autoScalingGroup:930d940e-891e-4781-a11a-7b0acd480f03:autoScalingGroupName/web-main"
    );
    let tagged = |resource: &str, image: &str| {
        call("autoscaling:StartInstanceRefresh", resource).context("autoscaling:ResourceTag/patchplane:image", image)
    };
    prove(
        "refresh role → Auto Scaling",
        vec![
            (
                "finds the groups",
                call("autoscaling:DescribeAutoScalingGroups", "*"),
                Allowed,
            ),
            ("refreshes an opted-in group", tagged(&group, "al2023-golden"), Allowed),
            (
                "refreshes a group of another image",
                tagged(&group, "other-image"),
                ImplicitlyDenied,
            ),
            (
                "refreshes a group that did not opt in",
                call("autoscaling:StartInstanceRefresh", &group),
                ImplicitlyDenied,
            ),
            (
                "refreshes an opted-in group in another region",
                tagged(&group.replace(REGION, "eu-west-1"), "al2023-golden"),
                ImplicitlyDenied,
            ),
            (
                "resizes an opted-in group",
                call("autoscaling:UpdateAutoScalingGroup", &group)
                    .context("autoscaling:ResourceTag/patchplane:image", "al2023-golden"),
                ImplicitlyDenied,
            ),
            (
                "reads its ring's gate decision",
                call(
                    "ssm:GetParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter/patchplane/acme/gate-decisions/AL2023-main"),
                ),
                Allowed,
            ),
            (
                "writes a gate decision",
                call(
                    "ssm:PutParameter",
                    &format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter/patchplane/acme/gate-decisions/AL2023-main"),
                ),
                ImplicitlyDenied,
            ),
        ],
    );
}

/// Resources read (`stacksets/sunday/patching`, whose policy patches stopped instances):
/// `StartPatchStopRolePolicy` (identity of the start-patch-stop Automation), `StartPatchStopRole`
/// and the parameters it reads (the published exceptions, its window's gate decision).
#[test]
fn the_stopped_instance_role_starts_and_stops_only_patch_group_instances() {
    let template = "stacksets/sunday/patching/template.yaml";
    let sunday = |account: &str| {
        Stack::load(&root().join(template), account, REGION)
            .expect("sunday template")
            .named(
                "StartPatchStopRole",
                "StackSet-sunday-patching-StartPatchStopRole-6A7B8C9D0E1F",
            )
    };
    let stack = sunday(MEMBER);
    let policy = stack
        .property("StartPatchStopRolePolicy", &["PolicyDocument"])
        .expect("policy");
    let role_arn = stack.arn("StartPatchStopRole").expect("arn");
    let role = role_arn.rsplit('/').next().expect("name").to_owned();
    let parameter = |name: &str| format!("arn:aws:ssm:{REGION}:{MEMBER}:parameter{name}");
    let runner = Principal::role_session(MEMBER, &role, "0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e");
    let call = calls(&runner, &policy);
    let instance = format!("arn:aws:ec2:{REGION}:{MEMBER}:instance/i-0123456789abcdef0");
    let tagged =
        |action: &str, resource: &str| call(action, resource).context("aws:ResourceTag/PatchGroup", "AL2023-all");
    let outsider = Principal::role_session(OUTSIDER, &role, "mallory");

    prove(
        "stopped-instance role → EC2, SSM, EventBridge",
        vec![
            (
                "starts a patch-group instance",
                tagged("ec2:StartInstances", &instance),
                Allowed,
            ),
            ("stops it again", tagged("ec2:StopInstances", &instance), Allowed),
            ("finds stopped instances", call("ec2:DescribeInstances", "*"), Allowed),
            (
                "waits until SSM sees them",
                call("ssm:DescribeInstanceInformation", "*"),
                Allowed,
            ),
            (
                "sends AWS-RunPatchBaselineWithHooks",
                call(
                    "ssm:SendCommand",
                    &format!("arn:aws:ssm:{REGION}::document/AWS-RunPatchBaselineWithHooks"),
                )
                .aws_owned(),
                Allowed,
            ),
            ("… to the instance", call("ssm:SendCommand", &instance), Allowed),
            (
                "lists the command's invocations",
                call("ssm:ListCommandInvocations", "*"),
                Allowed,
            ),
            (
                "reads the published exceptions",
                call("ssm:GetParameter", &parameter("/patchplane/sunday/exceptions")),
                Allowed,
            ),
            (
                "reads its window's gate decision",
                call(
                    "ssm:GetParameter",
                    &parameter("/patchplane/sunday/gate-decisions/AL2023-all"),
                ),
                Allowed,
            ),
            (
                "passes itself to SSM",
                call("iam:PassRole", &role_arn).context("iam:PassedToService", "ssm.amazonaws.com"),
                Allowed,
            ),
            (
                "changes the exceptions that spare nodes",
                call("ssm:PutParameter", &parameter("/patchplane/sunday/exceptions")),
                ImplicitlyDenied,
            ),
            (
                "writes a gate decision (only the gate does)",
                call(
                    "ssm:PutParameter",
                    &parameter("/patchplane/sunday/gate-decisions/AL2023-all"),
                ),
                ImplicitlyDenied,
            ),
            (
                "puts events on the default bus (it judges no gate)",
                call(
                    "events:PutEvents",
                    &format!("arn:aws:events:{REGION}:{MEMBER}:event-bus/default"),
                ),
                ImplicitlyDenied,
            ),
            (
                "starts an instance outside every patch group",
                call("ec2:StartInstances", &instance),
                ImplicitlyDenied,
            ),
            (
                "stops an instance outside every patch group",
                call("ec2:StopInstances", &instance),
                ImplicitlyDenied,
            ),
            (
                "terminates a patch-group instance",
                tagged("ec2:TerminateInstances", &instance),
                ImplicitlyDenied,
            ),
            (
                "starts a patch-group instance in another region",
                tagged("ec2:StartInstances", &instance.replace(REGION, "eu-west-1")),
                ImplicitlyDenied,
            ),
            (
                "sends AWS-RunShellScript",
                call(
                    "ssm:SendCommand",
                    &format!("arn:aws:ssm:{REGION}::document/AWS-RunShellScript"),
                )
                .aws_owned(),
                ImplicitlyDenied,
            ),
            (
                "reads another policy's exceptions",
                call("ssm:GetParameter", &parameter("/patchplane/acme/exceptions")),
                ImplicitlyDenied,
            ),
            (
                "puts events on another bus",
                call(
                    "events:PutEvents",
                    &format!("arn:aws:events:{REGION}:{MEMBER}:event-bus/custom"),
                ),
                ImplicitlyDenied,
            ),
            (
                "a role of another organization, with the same policy, starts the member's instance",
                Request::new(&outsider, "ec2:StartInstances", &instance, MEMBER)
                    .identity(
                        "identity",
                        &sunday(OUTSIDER)
                            .property("StartPatchStopRolePolicy", &["PolicyDocument"])
                            .expect("policy"),
                    )
                    .context("aws:ResourceTag/PatchGroup", "AL2023-all"),
                ImplicitlyDenied,
            ),
        ],
    );
}

/// Resources read: central `EvidenceBucket` and `EvidenceBucketPolicy`, and `BridgeTaskRole`'s
/// inline policy. `patchplane report` reads object versions with the operator's own credentials
/// (README: `s3:ListBucketVersions`, `s3:GetObjectVersion` on the sync prefix, `s3:PutObject` on
/// `reports/*`); no template grants them, so the operator's identity policy below is the README's
/// list, and what is proven is the bucket policy's part: it lets a reader of the central account
/// through and nobody else.
#[test]
fn report_reads_object_versions_in_the_central_account_only() {
    let org = org();
    let central = central();
    let bucket_arn = central.arn("EvidenceBucket").expect("arn");
    let bucket_policy = central
        .property("EvidenceBucketPolicy", &["PolicyDocument"])
        .expect("bucket policy");
    let task_policy = central
        .inline_policy("BridgeTaskRole", "patchplane-bridge-run")
        .expect("task policy");
    let readme_reader = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucketVersions", "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": ["resource-data-sync/*", "run-command/*"]}}},
        {"Effect": "Allow", "Action": "s3:GetObjectVersion", "Resource": format!("{bucket_arn}/resource-data-sync/*")},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": format!("{bucket_arn}/reports/*")}
    ]});
    let summary = format!(
        "{bucket_arn}/resource-data-sync/AWS:PatchSummary/accountid={MEMBER}/region={REGION}/resourcetype=ManagedInstanceInventory/i-0123456789abcdef0.json"
    );
    let on_bucket = |principal: &Principal, identity: &Value, action: &str, resource: &str| {
        Request::new(principal, action, resource, CENTRAL)
            .identity("identity", identity)
            .resource_policy(&bucket_policy)
            .context("aws:PrincipalOrgID", &org)
            .context("aws:SecureTransport", "true")
    };
    let operator = Principal::role_session(CENTRAL, "acme-auditor", "alice");
    let member_admin = Principal::role_session(MEMBER, "admin", "bob");
    let outsider = Principal::role_session(OUTSIDER, "admin", "mallory");
    let task_role = central.property("BridgeTaskRole", &["RoleName"]).expect("role name");
    let task = Principal::role_session(CENTRAL, task_role.as_str().expect("a name"), "8f3e2a1b9c7d4e6f");
    let output = format!(
        "{bucket_arn}/run-command/{MEMBER}/{REGION}/4b8b7d4e-1a2b-4c3d-9e8f-0a1b2c3d4e5f/i-0123456789abcdef0/awsrunShellScript/PatchLinux/stdout"
    );

    prove(
        "report → object versions",
        vec![
            (
                "an operator of the central account lists the sync prefix's versions",
                on_bucket(&operator, &readme_reader, "s3:ListBucketVersions", &bucket_arn)
                    .context("s3:prefix", "resource-data-sync/AWS:PatchSummary/"),
                Allowed,
            ),
            (
                "… and the command output's, to list nodes whose output never arrived",
                on_bucket(&operator, &readme_reader, "s3:ListBucketVersions", &bucket_arn)
                    .context("s3:prefix", &format!("run-command/{MEMBER}/{REGION}/")),
                Allowed,
            ),
            (
                "… reads a past version",
                on_bucket(&operator, &readme_reader, "s3:GetObjectVersion", &summary),
                Allowed,
            ),
            (
                "… publishes the month's files",
                on_bucket(
                    &operator,
                    &readme_reader,
                    "s3:PutObject",
                    &format!("{bucket_arn}/reports/2026-10/evidence.csv"),
                ),
                Allowed,
            ),
            (
                "… reads a past version over plain HTTP",
                on_bucket(&operator, &readme_reader, "s3:GetObjectVersion", &summary)
                    .context("aws:SecureTransport", "false"),
                ExplicitlyDenied,
            ),
            (
                "a member account's administrator reads a past version",
                on_bucket(&member_admin, &administrator(), "s3:GetObjectVersion", &summary),
                ImplicitlyDenied,
            ),
            (
                "a member account's administrator lists versions",
                on_bucket(&member_admin, &administrator(), "s3:ListBucketVersions", &bucket_arn)
                    .context("s3:prefix", "resource-data-sync/"),
                ImplicitlyDenied,
            ),
            (
                "a principal of another organization reads a past version",
                on_bucket(&outsider, &administrator(), "s3:GetObjectVersion", &summary)
                    .context("aws:PrincipalOrgID", OUTSIDE_ORG),
                ImplicitlyDenied,
            ),
            (
                "the bridge reads a node's command output",
                on_bucket(&task, &task_policy, "s3:GetObject", &output),
                Allowed,
            ),
            (
                "the bridge reads past versions",
                on_bucket(&task, &task_policy, "s3:GetObjectVersion", &summary),
                ImplicitlyDenied,
            ),
            (
                "the bridge reads the published reports",
                on_bucket(
                    &task,
                    &task_policy,
                    "s3:GetObject",
                    &format!("{bucket_arn}/reports/2026-10/evidence.csv"),
                ),
                ImplicitlyDenied,
            ),
        ],
    );

    // The scheduled monthly report's task (issue 29 item 4): the README's reads and writes, as
    // its own rendered role, and nothing that could alter the evidence it reports on.
    let report_policy = central
        .inline_policy("MonthlyReportTaskRole", "patchplane-monthly-report")
        .expect("monthly report policy");
    let reporter = Principal::role_session(CENTRAL, "acme-patch-central-MonthlyReportTaskRole-1A2B3C", "a1b2c3d4");
    let page = format!("{bucket_arn}/reports/2026-11/dashboard.html");
    prove(
        "monthly report task → evidence bucket",
        vec![
            (
                "lists the sync prefix's versions",
                on_bucket(&reporter, &report_policy, "s3:ListBucketVersions", &bucket_arn)
                    .context("s3:prefix", "resource-data-sync/AWS:PatchSummary/"),
                Allowed,
            ),
            (
                "reads a past version",
                on_bucket(&reporter, &report_policy, "s3:GetObjectVersion", &summary),
                Allowed,
            ),
            (
                "publishes the page",
                on_bucket(&reporter, &report_policy, "s3:PutObject", &page),
                Allowed,
            ),
            (
                "reads it back (an overwrite's check, the presigned link)",
                on_bucket(&reporter, &report_policy, "s3:GetObject", &page),
                Allowed,
            ),
            (
                "overwrites a node's sync object (forging evidence)",
                on_bucket(&reporter, &report_policy, "s3:PutObject", &summary),
                ImplicitlyDenied,
            ),
            (
                "deletes a past version",
                on_bucket(&reporter, &report_policy, "s3:DeleteObjectVersion", &summary),
                ImplicitlyDenied,
            ),
            (
                "reads a node's command output",
                on_bucket(&reporter, &report_policy, "s3:GetObject", &output),
                ImplicitlyDenied,
            ),
        ],
    );
}
