//! Notices before install windows and summaries after them (issue #12, item 4), through two
//! `patchplane-bridge` processes sharing one queue, against moto (SQS; EC2 tags read through the
//! Resource Groups Tagging API by patch group in the member account, through STS; S3 for the
//! claims, with conditional writes, and for the evidence bucket's inventory sync), the ServiceNow
//! emulator and a local webhook receiver (Slack's shape). Counted at the receiver.
//!
//! What moto skips: it has no scheduled rules that fire (the test puts the sweep's ticks on the
//! queue itself) and no resource data sync (the test writes the sync's objects where the sync
//! would); SSM's own patch state APIs are not used.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use patchplane_e2e::bridge::{BridgeProcess, Queues, config, depth, free_port, queue_with_dlq, tagged_instance};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::webhook::Receiver;
use patchplane_e2e::{Moto, root};
use serde_json::{Value, json};

const PASSWORD: &str = "notices-only-in-env";
const SLACK_TOKEN: &str = "T0000/B0000/nOtIcEsWeBhOoK";
const ACCOUNT: &str = "123456789012";
const CLAIMS: &str = "acme-claims";
const EVIDENCE: &str = "acme-evidence";

/// `cron(…)` of a one-off opening at `t` (UTC).
fn cron_at(t: Timestamp) -> String {
    let z = t.to_zoned(jiff::tz::TimeZone::UTC);
    format!(
        "cron({} {} {} {} ? {})",
        z.minute(),
        z.hour(),
        z.day(),
        z.month(),
        z.year()
    )
}

/// Two windows of one patch group: one opening in two hours (its notice is due: lead 24 h), one
/// that opened three hours ago for one hour (its summary is due: 60 minutes after closing).
fn bridge_yaml(moto: &Moto, snow: &Emulator, port: u16, now: Timestamp) -> String {
    let next = (now + SignedDuration::from_hours(2))
        .round(jiff::Unit::Minute)
        .expect("round");
    let last = (now - SignedDuration::from_hours(3))
        .round(jiff::Unit::Minute)
        .expect("round");
    format!(
        "{}notify:
  digest_minutes: 60
  slack: {{url: {{env: SLACK_WEBHOOK_URL}}}}
  windows:
    lead_hours: 24
    summary_after_minutes: 60
    accounts: ['{ACCOUNT}']
    claims_bucket: {CLAIMS}
    evidence_bucket: {{env: EVIDENCE_BUCKET}}
schedule:
  zones: {{us-east-1: UTC}}
  windows:
    - {{name: acme-AL2023-early-install, patch_groups: [AL2023-early], cron: '{}', duration_hours: 1}}
    - {{name: acme-AL2023-early-last, patch_groups: [AL2023-early], cron: '{}', duration_hours: 1}}
",
        config(moto, &snow.url, port, 2),
        cron_at(next),
        cron_at(last),
    )
}

fn spawn(moto: &Moto, snow: &Emulator, queues: &Queues, hook: &Receiver, now: Timestamp) -> BridgeProcess {
    let port = free_port();
    let url = hook.url(&format!("/services/{SLACK_TOKEN}"));
    let b = BridgeProcess::spawn(
        &bridge_yaml(moto, snow, port, now),
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
            ("SLACK_WEBHOOK_URL", url.as_str()),
            ("EVIDENCE_BUCKET", EVIDENCE),
        ],
    );
    assert!(b.wait_ready(Duration::from_secs(30)), "never ready:\n{}", b.logs());
    b
}

/// The tick the central stack's scheduled rule sends.
fn tick(n: usize) -> Value {
    json!({
        "version": "0", "id": format!("tick-{n}"), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": Timestamp::now().to_string(), "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/acme-escalation-sweep")], "detail": {}
    })
}

/// A critical patch missing on `node`: the incident the summary lists as opened.
fn non_compliant(node: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/events/ssm-compliance-patch-non-compliant.json"))
        .expect("fixture");
    let mut e: Value = serde_json::from_str(&text).expect("json");
    e["id"] = format!("nc-{node}").into();
    e["region"] = "us-east-1".into();
    e["time"] = Timestamp::now().to_string().into();
    e["resources"] = json!([format!("arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{node}")]);
    e["detail"]["resource-id"] = node.into();
    e
}

async fn send(sqs: &aws_sdk_sqs::Client, queues: &Queues, events: &[Value]) {
    for e in events {
        sqs.send_message()
            .queue_url(&queues.queue)
            .message_body(e.to_string())
            .send()
            .await
            .expect("send");
    }
}

/// Where the resource data sync writes a node's `type_name` object.
fn sync_key(type_name: &str, node: &str) -> String {
    format!(
        "resource-data-sync/{type_name}/accountid={ACCOUNT}/region=us-east-1/resourcetype=ManagedInstanceInventory/{node}.json"
    )
}

/// Polls `f` every 250 ms until it holds or `limit` passes.
async fn wait(limit: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    f()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bridges_send_one_notice_per_owner_before_a_window_and_one_summary_after() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "", "");
    let hook = Receiver::start();
    let conf = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let queues = queue_with_dlq(&sqs, "notices", 5).await;
    for b in [CLAIMS, EVIDENCE] {
        s3.create_bucket().bucket(b).send().await.expect("bucket");
    }
    let node = |owner: &str, group: &str| {
        tagged_instance(&moto, ACCOUNT, "us-east-1", &[("Owner", owner), ("PatchGroup", group)])
    };
    let (pay1, pay2, search) = (
        node("team-payments", "AL2023-early"),
        node("team-payments", "AL2023-early"),
        node("team-search", "AL2023-early"),
    );
    let other = node("team-other", "AL2023-main");
    // The last scan: pay1 misses a critical kernel patch; pay2 was never scanned; search is
    // up to date. After the last window: pay1 installed, search failed; pay2 has no result.
    let now = Timestamp::now();
    let put = |key: String, body: String| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket(EVIDENCE)
                .key(key)
                .body(body.into_bytes().into())
                .send()
                .await
                .expect("put")
        }
    };
    put(
        sync_key("AWS:ComplianceItem", &pay1),
        json!({"ComplianceType": "Patch", "Id": "ALAS2023-2026-1234", "Title": "kernel", "Status": "NON_COMPLIANT",
               "Severity": "CRITICAL", "PatchSeverity": "Critical", "PatchState": "Missing", "resourceId": pay1,
               "captureTime": "2026-11-29T03:00:00Z"})
        .to_string(),
    )
    .await;
    put(
        sync_key("AWS:ComplianceItem", &search),
        json!({"ComplianceType": "Patch", "Id": "ALAS-ok", "Status": "COMPLIANT", "PatchState": "Installed"})
            .to_string(),
    )
    .await;
    let end = (now - SignedDuration::from_mins(100)).to_string();
    for (n, failed) in [(&pay1, "0"), (&search, "2")] {
        put(
            sync_key("AWS:PatchSummary", n),
            json!({"PatchGroup": "AL2023-early", "BaselineId": "pb-0123456789abcdef0", "OperationType": "Install",
                   "OperationEndTime": end, "FailedCount": failed, "MissingCount": failed})
            .to_string(),
        )
        .await;
    }
    let mut a = spawn(&moto, &snow, &queues, &hook, now);
    let mut b = spawn(&moto, &snow, &queues, &hook, now);
    // A ticket opened on `search` since the window opened (its owner digest stays parked: the
    // digest period is an hour, and it is not what this test counts).
    send(&sqs, &queues, &[non_compliant(&search)]).await;
    assert!(
        wait(Duration::from_secs(60), || !snow.incidents().is_empty()).await,
        "the incident opened:\n{}",
        a.logs()
    );
    // Six ticks: both bridges take some; redelivered and overlapping ticks are the point.
    send(&sqs, &queues, &(0..6).map(tick).collect::<Vec<_>>()).await;
    let notices = || {
        hook.received()
            .into_iter()
            .map(|r| (r.header("idempotency-key").unwrap_or_default().to_owned(), r.body))
            .filter(|(k, _)| k.contains(":before:") || k.contains(":after:"))
            .collect::<Vec<_>>()
    };
    assert!(
        wait(Duration::from_secs(60), || notices().len() >= 4).await,
        "four notices:\n{}\n{}",
        a.logs(),
        b.logs()
    );
    // Every tick handled (only the parked compliance message is left), so a duplicate notice
    // would have arrived by now.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while depth(&sqs, &queues.queue).await > 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(depth(&sqs, &queues.queue).await, 1, "the ticks were all handled");
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.terminate(Duration::from_secs(15));
    b.terminate(Duration::from_secs(15));
    let got = notices();
    let logs = format!("{}\n{}", a.logs(), b.logs());
    assert_eq!(
        logs.matches("Window notice sent").count(),
        4,
        "the log says what was sent"
    );
    assert!(!logs.contains(SLACK_TOKEN), "no bridge logs the webhook URL");
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, body) in &got {
        by_key.entry(k.as_str()).or_default().push(body.as_str());
    }
    let keys: Vec<&str> = by_key.keys().copied().collect();
    assert_eq!(
        got.len(),
        4,
        "one notice and one summary per owner, each once: {keys:#?}"
    );
    let key = |phase: &str, owner: &str| {
        keys.iter()
            .copied()
            .find(|k| k.starts_with(&format!("patchplane:{owner}:{phase}:")))
            .unwrap_or_else(|| panic!("no {phase} for {owner}: {keys:#?}"))
    };
    let before_pay = by_key[key("before", "team-payments")][0];
    assert!(before_pay.contains(&pay1) && before_pay.contains(&pay2), "{before_pay}");
    assert!(before_pay.contains("ALAS2023-2026-1234 (Critical)"), "{before_pay}");
    assert!(
        before_pay.contains("no scan on record"),
        "pay2 never scanned: {before_pay}"
    );
    assert!(
        !before_pay.contains(&search) && !before_pay.contains(&other),
        "{before_pay}"
    );
    let before_search = by_key[key("before", "team-search")][0];
    assert!(
        before_search.contains(&search) && before_search.contains("nothing missing"),
        "{before_search}"
    );
    let after_pay = by_key[key("after", "team-payments")][0];
    assert!(after_pay.contains("1 patched, 0 failed, 1 not patched"), "{after_pay}");
    let after_search = by_key[key("after", "team-search")][0];
    assert!(after_search.contains("0 patched, 1 failed"), "{after_search}");
    let incident = snow.incidents().into_iter().next().expect("the incident on search");
    let number = incident.fields.get("number").cloned().unwrap_or_default();
    assert!(
        after_search.contains(&format!("{number} opened")),
        "the summary names the ticket {number}: {after_search}"
    );
    assert!(!after_pay.contains(&number));
}
