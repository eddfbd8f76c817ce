//! The central and member templates as real stacks in moto server, and an event's trip from a
//! member account's default bus through the central bus to the bridge's queue.
//!
//! What moto does not cover, and this test does not claim: moto's CloudFormation silently skips
//! most `AWS::SSM::*` resources (baselines, windows, tasks, the resource data sync; it creates
//! documents and parameters, which `node_install.rs` reads back), and of the
//! bucket it applies only the encryption (not versioning, public access block, lifecycle,
//! ownership controls, nor bucket or queue policies; probed with moto 5.2.5). Those are covered
//! by cfn-lint and the cfn-guard rules (`tests/guard/`), not here. Member and central live in
//! moto's one default account, so the bus policy's `aws:PrincipalOrgID` condition is not
//! exercised either.

use patchplane_e2e::{Moto, generate};

#[path = "support/stacks.rs"]
mod stacks;
use stacks::create_stack;

const POLICY: &str = "tests/fixtures/policies/moto.yaml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacks_deploy_and_events_reach_the_central_queue() {
    let moto = Moto::start();
    let conf = moto.sdk_config("us-east-1").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let (files, _) = generate(POLICY, tmp.path());
    let read = |suffix: &str| {
        let f = files
            .iter()
            .find(|f| f.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} rendered"));
        std::fs::read_to_string(f).expect("read")
    };
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let outputs = create_stack(&cfn, "motoorg-patch-central", &read("central/template.yaml")).await;
    let output = |k: &str| {
        outputs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("output {k}"))
    };
    create_stack(&cfn, "motoorg-patching", &read("patching/template.yaml")).await;

    // The bridge service and its task role; the member stack in the home region (us-east-1)
    // created the tag-reading role the task role may assume.
    assert!(output("BridgeTaskRoleArn").ends_with(":role/motoorg-bridge-task"));
    assert!(output("BridgeServiceArn").contains("motoorg-bridge"), "{outputs:?}");
    let member = cfn
        .list_stack_resources()
        .stack_name("motoorg-patching")
        .send()
        .await
        .expect("resources");
    let role = member
        .stack_resource_summaries()
        .iter()
        .find(|r| r.logical_resource_id() == Some("BridgeTagsRole"))
        .unwrap_or_else(|| panic!("no BridgeTagsRole in {member:?}"));
    assert_eq!(role.physical_resource_id(), Some("patchplane-bridge-tags"));
    // The install role exists (its documents and the published exceptions: node_install.rs).
    assert!(
        member
            .stack_resource_summaries()
            .iter()
            .any(|r| r.logical_resource_id() == Some("InstallRole")),
        "the install role: {member:?}"
    );

    // The window-notice claims bucket exists, encrypted, and the task is told its name and the
    // evidence bucket's (ADR 014).
    let central = cfn
        .list_stack_resources()
        .stack_name("motoorg-patch-central")
        .send()
        .await
        .expect("resources");
    let claims = central
        .stack_resource_summaries()
        .iter()
        .find(|r| r.logical_resource_id() == Some("ClaimsBucket"))
        .and_then(|r| r.physical_resource_id())
        .unwrap_or_else(|| panic!("no ClaimsBucket in {central:?}"))
        .to_owned();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let enc = s3
        .get_bucket_encryption()
        .bucket(&claims)
        .send()
        .await
        .expect("claims encryption");
    assert!(enc.server_side_encryption_configuration().is_some());
    let text = read("central/template.yaml");
    for env in ["PATCHPLANE_CLAIMS_BUCKET", "PATCHPLANE_EVIDENCE_BUCKET"] {
        assert!(text.contains(&format!("- Name: {env}\n")), "{env} is set for the task");
    }

    // The evidence bucket exists, encrypted (the one bucket property moto applies).
    let bucket = output("EvidenceBucketName");
    assert_eq!(bucket, "motoorg-evidence");
    let enc = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .expect("encryption");
    let rule = &enc.server_side_encryption_configuration().expect("sse").rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("AES256")
    );

    // The central rule's target keeps undeliverable events in a dead-letter queue.
    let events = aws_sdk_eventbridge::Client::new(&conf);
    let rules = events
        .list_rules()
        .event_bus_name("motoorg-patch-events")
        .send()
        .await
        .expect("rules");
    assert_eq!(rules.rules().len(), 1);
    let targets = events
        .list_targets_by_rule()
        .rule(rules.rules()[0].name().unwrap_or_default())
        .event_bus_name("motoorg-patch-events")
        .send()
        .await
        .expect("targets");
    let target = &targets.targets()[0];
    assert!(target.arn().ends_with(":motoorg-patch-events"));
    assert!(
        target
            .dead_letter_config()
            .and_then(|d| d.arn())
            .is_some_and(|a| a.ends_with(":motoorg-patch-events-undeliverable"))
    );
    assert_eq!(
        target.retry_policy().and_then(|r| r.maximum_event_age_in_seconds()),
        Some(86400)
    );

    // The queue has its redrive policy to the dead-letter queue.
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue = output("EventQueueUrl");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("attributes");
    let redrive = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy))
        .cloned()
        .unwrap_or_default();
    assert!(
        redrive.contains(":motoorg-patch-events-dlq\"") && redrive.contains("\"maxReceiveCount\": 5"),
        "{redrive}"
    );
    let sse = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled))
        .cloned();
    assert_eq!(sse.as_deref(), Some("true"));

    // An SSM event on the member account's default bus: member rule → central bus → queue.
    let detail = std::fs::read_to_string(
        patchplane_e2e::root().join("tests/fixtures/events/ssm-mw-execution-state-change.json"),
    )
    .expect("fixture");
    let detail: serde_json::Value = serde_json::from_str(&detail).expect("json");
    let put = |source: &str, detail_type: &str| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(source)
            .detail_type(detail_type)
            .detail(detail["detail"].to_string())
            .build()
    };
    let sent = events
        .put_events()
        .entries(put("aws.ssm", "Maintenance Window Execution State-change Notification"))
        // Not a patching event: the member rule must not forward it.
        .entries(put("aws.ec2", "EC2 Instance State-change Notification"))
        .send()
        .await
        .expect("put events");
    assert_eq!(sent.failed_entry_count(), 0);

    let mut bodies = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let got = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        bodies.extend(got.messages().iter().filter_map(|m| m.body().map(str::to_owned)));
        if !bodies.is_empty() {
            // Give a wrongly forwarded event the same chance to arrive before judging.
            let more = sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .wait_time_seconds(2)
                .send()
                .await
                .expect("receive");
            bodies.extend(more.messages().iter().filter_map(|m| m.body().map(str::to_owned)));
            break;
        }
    }
    assert_eq!(bodies.len(), 1, "exactly the SSM event arrives: {bodies:?}");
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).expect("event json");
    assert_eq!(event["source"], "aws.ssm");
    assert_eq!(
        event["detail-type"],
        "Maintenance Window Execution State-change Notification"
    );
    assert_eq!(
        event["detail"]["window-execution-id"],
        detail["detail"]["window-execution-id"]
    );
}
