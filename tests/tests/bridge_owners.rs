//! Owners and notifications (issue #12) through the `patchplane-bridge` binary, against moto (SQS,
//! SNS, EC2 tags through the Resource Groups Tagging API, STS), the ServiceNow emulator (incidents
//! and CMDB tables with their real class and field names) and a local webhook receiver (Slack's
//! incoming-webhook shape). Every count is read from the emulator, the receiver or the queues.
//!
//! What moto skips: it emits no SSM events (the test puts EventBridge-shaped ones on the queue)
//! and has no SNS delivery retries; the SNS subscription is an SQS queue with a filter policy on
//! the `owner` attribute, which moto applies.

use std::time::{Duration, Instant};

use patchplane_e2e::bridge::{
    BridgeProcess, Queues, config, depth, drained, free_port, queue_with_dlq, tagged_instance,
};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::webhook::Receiver;
use patchplane_e2e::{Moto, root};
use serde_json::Value;

const PASSWORD: &str = "owners-only-in-env";
const SLACK_TOKEN: &str = "T0000/B0000/sEcReTwEbHoOkToKeN";
const ACCOUNT: &str = "123456789012";

/// `bridge.yaml`: owners from tags, then the ServiceNow CMDB; failures notify owners on Slack
/// (the receiver) in digests.
fn bridge_yaml(moto: &Moto, snow: &Emulator, port: u16, extra: &str) -> String {
    format!(
        "{}owners:
  order: [tags, servicenow_cmdb]
  negative_ttl_seconds: 600
notify:
  digest_minutes: 60
  slack: {{url: {{env: SLACK_WEBHOOK_URL}}}}
{extra}",
        config(moto, &snow.url, port, 2)
    )
}

fn spawn(moto: &Moto, snow: &Emulator, queues: &Queues, hook: &Receiver, extra: &str) -> BridgeProcess {
    let port = free_port();
    let url = hook.url(&format!("/services/{SLACK_TOKEN}"));
    let b = BridgeProcess::spawn(
        &bridge_yaml(moto, snow, port, extra),
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
            ("SLACK_WEBHOOK_URL", url.as_str()),
        ],
    );
    assert!(b.wait_ready(Duration::from_secs(30)), "never ready:\n{}", b.logs());
    b
}

/// A failed patch command on `node`, as one window run sends them.
fn failed_on(node: &str, n: usize) -> Value {
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/events/ssm-ec2-command-invocation-status-change.json"))
            .expect("fixture");
    let mut e: Value = serde_json::from_str(&text).expect("json");
    e["id"] = format!("evt-{n}").into();
    e["account"] = ACCOUNT.into();
    e["region"] = "us-east-1".into();
    e["time"] = "2026-11-10T07:30:00Z".into();
    e["detail"]["instance-id"] = node.into();
    e["detail"]["document-name"] = "AWS-RunPatchBaseline".into();
    e["detail"]["command-id"] = "cmd-ring-early".into();
    e["detail"]["status"] = "Failed".into();
    e
}

async fn send(sqs: &aws_sdk_sqs::Client, queues: &Queues, events: &[Value]) {
    for chunk in events.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(e.to_string())
                    .build()
                    .expect("entry")
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(&queues.queue)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("send");
    }
}

async fn wait_parked(b: &BridgeProcess, n: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if b.metric("patchplane_bridge_messages_parked").unwrap_or(0) >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// Digests at the receiver: (owner, idempotency key, distinct nodes named in the message).
fn digests(hook: &Receiver) -> Vec<(String, String, usize)> {
    hook.received()
        .iter()
        .filter_map(|r| {
            let key = r.header("idempotency-key")?.to_owned();
            // `patchplane:<owner>:<group>:<n>`
            let owner = key.split(':').nth(1)?.to_owned();
            let nodes: std::collections::BTreeSet<&str> = r
                .body
                .match_indices("i-")
                .filter_map(|(i, _)| r.body.get(i..i + 19))
                .filter(|id| id[2..].chars().all(|c| c.is_ascii_hexdigit()))
                .collect();
            Some((owner, key, nodes.len()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_come_from_tags_or_the_cmdb_and_unknown_nodes_go_to_the_default_group_once_warned() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let hook = Receiver::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "owners", 5).await;
    let tagged = tagged_instance(
        &moto,
        ACCOUNT,
        "us-east-1",
        &[("PatchGroup", "AL2023-early"), ("Owner", "team-payments")],
    );
    let in_cmdb = tagged_instance(&moto, ACCOUNT, "us-east-1", &[("PatchGroup", "AL2023-early")]);
    let unknown = tagged_instance(&moto, ACCOUNT, "us-east-1", &[("PatchGroup", "AL2023-early")]);
    // The CMDB: the VM instance CI of `in_cmdb`, owned by a user, supported by a group, with a
    // change group (assignment_group) that must not be taken for the owner.
    let owner = snow.add_user("Dana Data", "dana@example.com");
    let support = snow.add_group("Data Platform");
    let change = snow.add_group("Change Advisory Board");
    let ci = snow.add_ci(
        "cmdb_ci_vm_instance",
        &[
            ("object_id", &in_cmdb),
            ("name", "data-1"),
            ("owned_by", &owner),
            ("support_group", &support),
            ("assignment_group", &change),
        ],
    );

    let bridge = spawn(&moto, &snow, &queues, &hook, "");
    let events: Vec<Value> = [&tagged, &in_cmdb, &unknown, &unknown, &unknown]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut e = failed_on(n, i);
            e["detail"]["command-id"] = format!("cmd-{i}").into();
            e
        })
        .collect();
    send(&sqs, &queues, &events).await;
    assert!(
        wait_parked(&bridge, 5, Duration::from_secs(60)).await,
        "{}",
        bridge.logs()
    );

    let incidents = snow.incidents();
    let by_node = |node: &str| {
        incidents
            .iter()
            .filter(|r| r.fields["correlation_id"].ends_with(&format!("/{node}")))
            .collect::<Vec<_>>()
    };
    let t = by_node(&tagged);
    assert_eq!(
        t[0].fields["assignment_group"], "Payments Operations",
        "owner from the tag"
    );
    let c = by_node(&in_cmdb);
    assert_eq!(
        c[0].fields["assignment_group"], "Data Platform",
        "the CMDB's support group, not its change group"
    );
    assert_eq!(
        c[0].refs.get("cmdb_ci").map(String::as_str),
        Some(ci.as_str()),
        "the incident names the CI"
    );
    let u = by_node(&unknown);
    assert_eq!(u.len(), 3);
    assert!(
        u.iter().all(|r| r.fields["assignment_group"] == "Cloud Platform"),
        "the default group"
    );
    let warnings = bridge.logs().matches("The CMDB does not know this node").count();
    assert_eq!(warnings, 1, "one warning per node per negative TTL:\n{}", bridge.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_failures_of_four_owners_reach_each_owner_once_and_a_cmdb_outage_loses_nothing() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let hook = Receiver::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // Retries back off 2 s at most here (`retry_cap_seconds`): enough receives to ride out 60 s.
    let queues = queue_with_dlq(&sqs, "digests", 100).await;
    // 300 nodes of 4 owners, known to the CMDB only (no owner tag): a CMDB outage must delay
    // them, never send them ownerless.
    let owners = ["team-a", "team-b", "team-c", "team-d"];
    let groups: Vec<String> = owners.iter().map(|o| snow.add_group(o)).collect();
    let mut events = Vec::new();
    for i in 0..300 {
        let node = format!("i-{:017x}", 0xabc000 + i);
        snow.add_ci(
            "cmdb_ci_vm_instance",
            &[("object_id", &node), ("name", &node), ("support_group", &groups[i % 4])],
        );
        events.push(failed_on(&node, i));
    }
    // The CMDB (the whole emulator) is down for the first 60 s.
    snow.outage(Duration::from_secs(60));
    let mut bridge = spawn(&moto, &snow, &queues, &hook, "");
    send(&sqs, &queues, &events).await;
    assert!(
        wait_parked(&bridge, 300, Duration::from_secs(180)).await,
        "every event waits for its digest once the CMDB is back: parked {:?}\n{}",
        bridge.metric("patchplane_bridge_messages_parked"),
        bridge.logs()
    );
    assert!(digests(&hook).is_empty(), "nothing sent before the digests are due");
    let incidents = snow.incidents();
    assert_eq!(incidents.len(), 300, "one incident per node");
    assert!(
        incidents
            .iter()
            .all(|r| owners.contains(&r.fields["assignment_group"].as_str())),
        "none ownerless after the outage"
    );
    // SIGTERM flushes the digests; each message is deleted once its digest is sent.
    bridge.terminate(Duration::from_secs(30)).expect("stops");
    let got = digests(&hook);
    assert_eq!(got.len(), 4, "exactly one notification per owner: {got:?}");
    for (owner, _, items) in &got {
        assert!(owners.contains(&owner.as_str()), "{owner}");
        assert_eq!(*items, 75, "each lists its 75 nodes");
    }
    assert_eq!(
        depth(&sqs, &queues.queue).await,
        0,
        "every message deleted after its digest"
    );
    assert_eq!(depth(&sqs, &queues.dlq).await, 0, "nothing dead-lettered");
    let logs = bridge.logs();
    assert!(
        !logs.contains(SLACK_TOKEN) && !logs.contains("/services/"),
        "the webhook URL never appears in a log line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_killed_before_the_digest_was_sent_sends_it_after_restart() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let hook = Receiver::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "crash", 5).await;
    let nodes: Vec<String> = (0..20)
        .map(|i| {
            tagged_instance(
                &moto,
                ACCOUNT,
                "us-east-1",
                &[
                    ("PatchGroup", "AL2023-early"),
                    ("Owner", if i % 2 == 0 { "team-even" } else { "team-odd" }),
                ],
            )
        })
        .collect();
    let events: Vec<Value> = nodes.iter().enumerate().map(|(i, n)| failed_on(n, i)).collect();
    send(&sqs, &queues, &events).await;

    let first = spawn(&moto, &snow, &queues, &hook, "");
    assert!(
        wait_parked(&first, 20, Duration::from_secs(60)).await,
        "{}",
        first.logs()
    );
    drop(first); // SIGKILL: no flush, no release
    assert!(digests(&hook).is_empty());
    assert_eq!(
        depth(&sqs, &queues.queue).await,
        20,
        "nothing lost: all 20 still in the queue"
    );

    // The messages come back after their visibility (30 s); a new bridge digests them again.
    let mut second = spawn(&moto, &snow, &queues, &hook, "");
    assert!(
        wait_parked(&second, 20, Duration::from_secs(90)).await,
        "{}",
        second.logs()
    );
    second.terminate(Duration::from_secs(30)).expect("stops");
    let got = digests(&hook);
    assert_eq!(got.len(), 2, "one digest per owner, sent after the restart: {got:?}");
    assert_eq!(got.iter().map(|d| d.2).sum::<usize>(), 20, "every node in a digest");
    assert!(drained(&sqs, &queues.queue, Duration::from_secs(5)).await);
    assert!(
        second.emf().contains("\"DigestsRedelivered\":2"),
        "both re-sent digests are counted: {}",
        second.emf()
    );
}
