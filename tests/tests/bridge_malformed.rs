//! A malformed corpus through SQS (issue #15, item 2), into the real `patchplane-bridge` against
//! moto's SQS and the ServiceNow emulator: truncated JSON, wrong types, a huge string, a body at
//! SQS's 256 KiB limit, a lone surrogate (SQS refuses invalid UTF-8 itself), unknown kinds, a
//! missing id, a broken JSON-in-string field, an unexpected time format, interleaved with good
//! events. Counted from the queues, the emulator and the process: no crash, every good event's
//! incident, every poison message in the dead-letter queue with its reason in the log, unknown
//! kinds acknowledged, nothing left behind. What moto skips: SQS's check of the body's character
//! set (real SQS refuses invalid UTF-8 and characters such as U+FFFF; the SDK's body is a Rust
//! `String`, so the nearest a producer can send is the escaped lone surrogate used here). The
//! redrive policy is moto's.

use std::collections::BTreeSet;
use std::time::Duration;

use patchplane_e2e::bridge::{BridgeProcess, config, depth, free_port, queue_with_dlq};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::{Moto, root};
use serde_json::{Value, json};

const PASSWORD: &str = "malformed-only-in-env";
/// SQS's largest message body.
const SQS_MAX: usize = 262_144;

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/events").join(name)).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

/// A non-compliant node: a good event, one incident each.
fn good(n: u32) -> String {
    let mut e = fixture("ssm-compliance-patch-non-compliant.json");
    e["id"] = format!("good-{n}").into();
    e["detail"]["resource-id"] = format!("i-0000000000000000{n}").into();
    e.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_never_crash_block_or_vanish() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "", "");
    let conf = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queues = queue_with_dlq(&sqs, "malformed", 2).await;

    let compliance = fixture("ssm-compliance-patch-non-compliant.json");
    let mut wrong_type = compliance.clone();
    wrong_type["id"] = "wrong-type".into();
    wrong_type["detail"]["compliance-status"] = json!(42);
    let mut missing_id = compliance.clone();
    missing_id.as_object_mut().expect("object").remove("id");
    let mut bad_time = compliance.clone();
    bad_time["id"] = "bad-time".into();
    bad_time["time"] = "last Tuesday".into();
    bad_time["detail"]["resource-id"] = "i-0000000000000000f".into();
    let mut broken_inner = fixture("ssm-state-manager-association-state-change.json");
    broken_inner["id"] = "broken-inner".into();
    broken_inner["detail"]["targets"] = "[{\"key\": \"tag:Patch".into();
    let mut huge = compliance.clone();
    huge["id"] = "huge".into();
    huge["detail-type"] = "Some Future Event".into();
    huge["detail"]["note"] = "x".repeat(200_000).into();
    let mut at_limit = json!({"version": "0", "id": "at-limit", "detail-type": "Another Future Event",
        "source": "aws.ssm", "account": "123456789012", "time": "2026-11-30T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"pad": ""}});
    let pad = SQS_MAX - at_limit.to_string().len();
    at_limit["detail"]["pad"] = "y".repeat(pad).into();
    let at_limit = at_limit.to_string();
    assert_eq!(at_limit.len(), SQS_MAX);
    let mut unknown = compliance.clone();
    unknown["id"] = "unknown".into();
    unknown["detail-type"] = "EC2 Instance State-change Notification".into();
    let lone_surrogate = compliance.to_string().replace("non_compliant", "non_compliant\\udc80");

    // (body, what must become of it)
    let poison: Vec<(String, &str)> = vec![
        (
            "{\"version\": \"0\", \"id\": \"trunc".to_owned(),
            "not an EventBridge event",
        ),
        (wrong_type.to_string(), "`detail.compliance-status`: invalid type"),
        (missing_id.to_string(), "not an EventBridge event"),
        (broken_inner.to_string(), "targets"),
        (bad_time.to_string(), "last Tuesday"),
        (lone_surrogate, "not an EventBridge event"),
    ];
    let unknown_kinds = [huge.to_string(), at_limit, unknown.to_string()];
    let mut bodies: Vec<String> = Vec::new();
    for (i, (p, _)) in poison.iter().enumerate() {
        bodies.push(good(i as u32));
        bodies.push(p.clone());
    }
    bodies.extend(unknown_kinds.iter().cloned());
    bodies.push(good(9));
    for b in &bodies {
        sqs.send_message()
            .queue_url(&queues.queue)
            .message_body(b)
            .send()
            .await
            .expect("send");
    }

    let port = free_port();
    let mut b = BridgeProcess::spawn(
        &config(&moto, &snow.url, port, 4),
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
        ],
    );
    assert!(b.wait_ready(Duration::from_secs(30)), "{}", b.logs());
    // Poison is released at once and dead-lettered on its second receive.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while std::time::Instant::now() < deadline
        && (depth(&sqs, &queues.queue).await > 0 || depth(&sqs, &queues.dlq).await < poison.len() as u64)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(b.get("/healthz").map(|(s, _)| s), Some(200), "alive after the corpus");
    b.terminate(Duration::from_secs(15));
    assert_eq!(depth(&sqs, &queues.queue).await, 0, "nothing left behind");

    let mut dead = Vec::new();
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(&queues.dlq)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("dlq");
        dead.extend(got.messages().iter().filter_map(|m| m.body().map(str::to_owned)));
        if dead.len() >= poison.len() {
            break;
        }
    }
    let dead: BTreeSet<String> = dead.into_iter().collect();
    let want: BTreeSet<String> = poison.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(dead, want, "exactly the poison messages are dead-lettered");
    let logs = b.logs();
    for (_, reason) in &poison {
        assert!(logs.contains(reason), "the log names why ({reason})");
    }
    assert!(
        logs.contains("Unhandled event kind, acknowledged"),
        "unknown kinds are acknowledged"
    );
    // Every good event opened its incident; none blocked behind the poison.
    let mut keys: Vec<String> = snow
        .incidents()
        .iter()
        .map(|r| r.fields["correlation_id"].clone())
        .collect();
    keys.sort();
    let want: Vec<String> = (0..poison.len() as u32)
        .chain([9])
        .map(|n| format!("123456789012/us-east-2/i-0000000000000000{n}/compliance/patch"))
        .collect();
    assert_eq!(keys, want);
}
