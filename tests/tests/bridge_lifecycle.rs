//! The closed loop (issue #11) through the `patchplane-bridge` binary, against moto (SQS, EC2 tags
//! through the Resource Groups Tagging API, STS) and the ServiceNow emulator's documented incident
//! lifecycle (states, Resolved still active, auto-close, Closed never reopened, `reopen_count`).
//! Every expectation is read from the emulator's rows, journal and request log, never from the
//! bridge's own account of what it did.
//!
//! What moto skips: it emits no Inspector or SSM events and runs no schedules, so the test puts
//! EventBridge-shaped events (from the AWS samples in `tests/fixtures/`, times and ids varied) on
//! the queue itself and sends the escalation sweep's tick the way the central stack's scheduled
//! rule would.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use patchplane_e2e::bridge::{
    BridgeProcess, Queues, config, depth, drained, free_port, queue_with_dlq, tagged_instance,
};
use patchplane_e2e::servicenow::{Emulator, Row};
use patchplane_e2e::{Moto, root};
use serde_json::{Value, json};

const PASSWORD: &str = "lifecycle-only-in-env";
const ACCOUNT: &str = "123456789012";

/// `bridge.yaml` of these tests: tickets in the incident table, CRITICAL due in 7 days, the
/// example's schedule for AL2023's early ring in us-east-1.
fn bridge_yaml(moto: &Moto, snow: &Emulator, port: u16) -> String {
    format!(
        "{}tickets:
  sla_days: {{default: 14, CRITICAL: 7}}
  close_code: Solution provided
schedule:
  zones: {{us-east-1: America/New_York}}
  windows:
    - {{name: acme-AL2023-early-install, patch_groups: [AL2023-early], cron: 'cron(0 2 ? * TUE *)'}}
",
        config(moto, &snow.url, port, 2)
    )
}

fn spawn(moto: &Moto, snow: &Emulator, queues: &Queues) -> BridgeProcess {
    spawn_with(moto, snow, queues, "", "")
}

/// A bridge with `extra` configuration and `SLACK_WEBHOOK_URL` set to `hook`.
fn spawn_with(moto: &Moto, snow: &Emulator, queues: &Queues, extra: &str, hook: &str) -> BridgeProcess {
    let port = free_port();
    let b = BridgeProcess::spawn(
        &format!("{}{extra}", bridge_yaml(moto, snow, port)),
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
            ("SLACK_WEBHOOK_URL", hook),
        ],
    );
    assert!(b.wait_ready(Duration::from_secs(30)), "never ready:\n{}", b.logs());
    b
}

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

/// Inspector's event time format.
fn inspector(t: Timestamp) -> String {
    t.strftime("%a %b %d %H:%M:%S%.3f UTC %Y").to_string()
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("time")
}

/// A package-vulnerability finding on `node` at `time` (its `updatedAt`).
fn finding(node: &str, cve: &str, status: &str, time: Timestamp, first_observed: Timestamp) -> Value {
    let mut e = fixture("tests/fixtures/lifecycle/finding-active.json");
    e["id"] = format!("finding-{cve}-{status}-{}", time.as_second()).into();
    e["account"] = ACCOUNT.into();
    e["time"] = time.to_string().into();
    e["resources"] = json!([node]);
    let d = &mut e["detail"];
    d["status"] = status.into();
    d["updatedAt"] = inspector(time).into();
    d["firstObservedAt"] = inspector(first_observed).into();
    d["resources"][0]["id"] = node.into();
    d["packageVulnerabilityDetails"]["vulnerabilityId"] = cve.into();
    e
}

/// A Patch compliance change of `node`.
fn compliance(node: &str, status: &str, time: Timestamp) -> Value {
    let mut e = fixture("tests/fixtures/events/ssm-compliance-patch-non-compliant.json");
    e["id"] = format!("compliance-{status}-{}", time.as_second()).into();
    e["region"] = "us-east-1".into();
    e["time"] = time.to_string().into();
    e["detail"]["resource-id"] = node.into();
    e["detail"]["compliance-status"] = status.into();
    e
}

/// A maintenance window execution's state change.
fn window(execution: &str, status: &str, time: Timestamp) -> Value {
    let mut e = fixture("tests/fixtures/events/ssm-mw-execution-state-change.json");
    e["id"] = format!("window-{execution}-{status}").into();
    e["region"] = "us-east-1".into();
    e["time"] = time.to_string().into();
    e["detail"]["window-execution-id"] = execution.into();
    e["detail"]["status"] = status.into();
    e
}

/// The tick the central stack's scheduled rule sends.
fn tick(id: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": Timestamp::now().to_string(), "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/acme-escalation-sweep")], "detail": {}
    })
}

/// Sends `events` in this order and waits until the queue is empty.
async fn deliver(sqs: &aws_sdk_sqs::Client, queues: &Queues, events: &[Value]) {
    for e in events {
        sqs.send_message()
            .queue_url(&queues.queue)
            .message_body(e.to_string())
            .send()
            .await
            .expect("send");
    }
    assert!(
        drained(sqs, &queues.queue, Duration::from_secs(60)).await,
        "the queue drained"
    );
}

fn with_key<'a>(rows: &'a [Row], key: &str) -> Vec<&'a Row> {
    rows.iter().filter(|r| r.fields["correlation_id"] == key).collect()
}

fn state(r: &Row) -> &str {
    r.fields["state"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_opens_one_ticket_that_resolves_reopens_and_is_succeeded_once_closed() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "lifecycle", 3).await;
    let node = tagged_instance(
        &moto,
        ACCOUNT,
        "us-east-1",
        &[("PatchGroup", "AL2023-early"), ("Owner", "team-payments")],
    );
    let _bridge = spawn(&moto, &snow, &queues);
    let key = format!("{ACCOUNT}/us-east-1/{node}/vulnerability/CVE-2024-6387");
    let first = at("2024-07-01T10:00:00Z");
    // The finding's events: its status at a time.
    let cve = |status: &str, time: &str| finding(&node, "CVE-2024-6387", status, at(time), first);

    // ACTIVE → one ticket with every field; the same event five more times → nothing more.
    let active = finding(&node, "CVE-2024-6387", "ACTIVE", at("2024-07-01T10:00:00Z"), first);
    deliver(&sqs, &queues, std::slice::from_ref(&active)).await;
    let writes_after_first = snow.requests().iter().filter(|r| !r.starts_with("GET")).count();
    deliver(&sqs, &queues, &vec![active.clone(); 5]).await;
    let rows = snow.incidents();
    let tickets = with_key(&rows, &key);
    assert_eq!(tickets.len(), 1, "{rows:#?}");
    let t = tickets[0];
    let d = &t.fields["description"];
    for want in [
        "Vulnerability CVE-2024-6387 (CRITICAL)",
        "Inspector score: 9.8",
        "CVSS vector: CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "Exploit available: YES",
        "EPSS: 0.3863",
        "- openssh-server 8.7p1-8.amzn2023.0.10 -> fixed in 0:8.7p1-8.amzn2023.0.11; remediation: dnf update",
        "- openssh-clients 8.7p1-8.amzn2023.0.10 -> fixed in 0:8.7p1-8.amzn2023.0.11",
        "Finding: arn:aws:inspector2:us-east-1:123456789012:finding/",
        "Console: https://us-east-1.console.aws.amazon.com/inspector/v2/home?region=us-east-1",
        "Due: 2024-07-08T10:00:00Z (7 days for CRITICAL)",
        "Next install window: acme-AL2023-early-install at Tue ",
        "America/New_York",
        "The next window is after the SLA: patch out of band or record an exception.",
        "Patch it now: patchplane patch-now POLICY.yaml --account 123456789012 --region us-east-1 --node i-",
        "--reason \"CVE-2024-6387\" [--dry-run]",
        "Patch group: AL2023-early",
        "Ring: early",
        "Baseline: plat-al2023-baseline",
        "Owner: team-payments",
    ] {
        assert!(d.contains(want), "missing {want:?} in\n{d}");
    }
    assert_eq!(t.fields["due_date"], "2024-07-08 10:00:00");
    assert_eq!(state(t), "1");
    assert_eq!(t.fields["urgency"], "1", "critical");
    assert_eq!(t.fields["assignment_group"], "Payments Operations");
    let writes = snow.requests().iter().filter(|r| !r.starts_with("GET")).count();
    assert_eq!(writes, writes_after_first, "five redeliveries wrote nothing");

    // CLOSED → resolved, with the documented close fields.
    deliver(&sqs, &queues, &[cve("CLOSED", "2024-07-09T08:00:00Z")]).await;
    let t = snow
        .incidents()
        .into_iter()
        .find(|r| r.fields["correlation_id"] == key)
        .expect("ticket");
    assert_eq!(
        (state(&t), t.fields["active"].as_str()),
        ("6", "true"),
        "resolved, still active"
    );
    assert_eq!(t.fields["close_code"], "Solution provided");
    assert!(t.fields["close_notes"].contains("Inspector closed the finding at 2024-07-09T08:00:00Z"));
    assert!(t.lint.is_empty(), "{:?}", t.lint);

    // ACTIVE again within 30 days → the same ticket reopened; ServiceNow counts the reopen.
    deliver(&sqs, &queues, &[cve("ACTIVE", "2024-07-20T08:00:00Z")]).await;
    let rows = snow.incidents();
    let tickets = with_key(&rows, &key);
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        (state(tickets[0]), tickets[0].fields["reopen_count"].as_str()),
        ("2", "1")
    );
    let number = tickets[0].fields["number"].clone();

    // Closed by ServiceNow after resolution → ACTIVE opens a new ticket naming the old one.
    snow.set_auto_close(Duration::from_millis(10));
    deliver(&sqs, &queues, &[cve("CLOSED", "2024-07-22T08:00:00Z")]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        state(
            &snow
                .incidents()
                .into_iter()
                .find(|r| r.fields["number"] == number)
                .expect("old")
        ),
        "7"
    );
    deliver(&sqs, &queues, &[cve("ACTIVE", "2024-08-01T08:00:00Z")]).await;
    let rows = snow.incidents();
    let tickets = with_key(&rows, &key);
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    let new = tickets
        .iter()
        .find(|r| r.fields["number"] != number)
        .expect("a new ticket");
    assert_eq!(state(new), "1");
    assert!(
        new.fields["description"].starts_with(&format!("Follows {number}")),
        "{}",
        new.fields["description"]
    );
    assert_eq!(depth(&sqs, &queues.dlq).await, 0, "nothing dead-lettered");
    assert!(
        snow.incidents().iter().all(|r| r.lint.is_empty()),
        "the client sent nothing a careful client would not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_resolve_when_the_fix_lands_and_late_events_never_move_them_back() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "resolve", 3).await;
    let node = tagged_instance(&moto, ACCOUNT, "us-east-1", &[("PatchGroup", "AL2023-early")]);
    let bridge = spawn(&moto, &snow, &queues);
    let compliance_key = format!("{ACCOUNT}/us-east-1/{node}/compliance/patch");
    // The node's Patch compliance at a time.
    let patch_state = |status: &str, time: &str| compliance(&node, status, at(time));

    // non_compliant → incident; compliant → resolved.
    deliver(&sqs, &queues, &[patch_state("non_compliant", "2026-11-01T01:00:00Z")]).await;
    deliver(&sqs, &queues, &[patch_state("compliant", "2026-11-02T01:00:00Z")]).await;
    let rows = snow.incidents();
    let c = with_key(&rows, &compliance_key);
    assert_eq!((c.len(), state(c[0])), (1, "6"), "{rows:#?}");
    assert!(c[0].fields["close_notes"].contains("compliant for Patch"));

    // Out of order: a newer non_compliant reopens; the compliant after it resolves; an older
    // non_compliant delivered last changes nothing.
    deliver(&sqs, &queues, &[patch_state("non_compliant", "2026-11-05T01:00:00Z")]).await;
    deliver(&sqs, &queues, &[patch_state("compliant", "2026-11-07T01:00:00Z")]).await;
    deliver(&sqs, &queues, &[patch_state("non_compliant", "2026-11-06T01:00:00Z")]).await;
    let rows = snow.incidents();
    let c = with_key(&rows, &compliance_key);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (state(c[0]), c[0].fields["reopen_count"].as_str()),
        ("6", "1"),
        "resolved, reopened once"
    );

    // A failed window execution → incident; the same window's later success → resolved, naming it.
    let w = "mw-0ed7251d3fcf6e0c2";
    deliver(
        &sqs,
        &queues,
        &[window("exec-failed", "FAILED", at("2026-11-03T07:30:00Z"))],
    )
    .await;
    deliver(
        &sqs,
        &queues,
        &[window("exec-ok", "SUCCESS", at("2026-11-10T07:30:00Z"))],
    )
    .await;
    let rows = snow.incidents();
    let failed = with_key(&rows, &format!("{ACCOUNT}/us-east-1/{w}/exec-failed"));
    assert_eq!((failed.len(), state(failed[0])), (1, "6"), "{rows:#?}");
    assert!(failed[0].fields["close_notes"].contains("successful execution exec-ok"));
    assert!(
        with_key(&rows, &format!("{ACCOUNT}/us-east-1/{w}/exec-ok")).is_empty(),
        "a success opens nothing"
    );

    // CLOSED before ACTIVE: the late ACTIVE does not open a ticket for a fixed vulnerability.
    let first = at("2026-10-01T00:00:00Z");
    deliver(
        &sqs,
        &queues,
        &[finding(
            &node,
            "CVE-2026-0001",
            "CLOSED",
            at("2026-11-09T00:00:00Z"),
            first,
        )],
    )
    .await;
    deliver(
        &sqs,
        &queues,
        &[finding(
            &node,
            "CVE-2026-0001",
            "ACTIVE",
            at("2026-11-08T00:00:00Z"),
            first,
        )],
    )
    .await;
    let rows = snow.incidents();
    let v = with_key(
        &rows,
        &format!("{ACCOUNT}/us-east-1/{node}/vulnerability/CVE-2026-0001"),
    );
    assert_eq!(
        (v.len(), state(v[0])),
        (1, "6"),
        "recorded as fixed, not reopened: {v:#?}"
    );

    // A MEDIUM finding opens nothing; a finding on a container image is acknowledged, not ticketed.
    let mut medium = finding(&node, "CVE-2026-0002", "ACTIVE", at("2026-11-09T00:00:00Z"), first);
    medium["detail"]["severity"] = "MEDIUM".into();
    let mut image = finding(&node, "CVE-2026-0003", "ACTIVE", at("2026-11-09T00:00:00Z"), first);
    image["detail"]["resources"][0]["type"] = "AWS_ECR_CONTAINER_IMAGE".into();
    image["detail"]["resources"][0]["id"] = "arn:aws:ecr:us-east-1:123456789012:repository/app/sha256:ab".into();
    let before = snow.incidents().len();
    let unrouted = bridge.metric("patchplane_bridge_messages_unrouted_total").unwrap_or(0);
    deliver(&sqs, &queues, &[medium, image]).await;
    assert_eq!(snow.incidents().len(), before);
    assert_eq!(
        bridge.metric("patchplane_bridge_messages_unrouted_total"),
        Some(unrouted + 1),
        "the image finding is acknowledged and counted (the MEDIUM one is routed, below the threshold)"
    );
    assert_eq!(depth(&sqs, &queues.dlq).await, 0, "nothing dead-lettered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bridges_sweeping_at_once_escalate_each_ticket_once_per_stage() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "sweep", 3).await;
    let node = tagged_instance(&moto, ACCOUNT, "us-east-1", &[("PatchGroup", "AL2023-early")]);
    let now = Timestamp::now();
    let days = |n: i64| SignedDuration::from_hours(24 * n);
    // CRITICAL: 7 days. Overdue: first seen 10 days ago. Near: 5 days ago (due in 2, within 3).
    // Not yet: seen today (due in 7).
    let overdue = finding(&node, "CVE-2026-1000", "ACTIVE", now, now - days(10));
    let near = finding(&node, "CVE-2026-1001", "ACTIVE", now, now - days(5));
    let later = finding(&node, "CVE-2026-1002", "ACTIVE", now, now);
    // Both bridges tell owners on Slack (the receiver): one notice per escalated ticket.
    let hook = patchplane_e2e::webhook::Receiver::start();
    let url = hook.url("/services/T1/B1/escalations");
    let notify = "notify:\n  digest_minutes: 60\n  slack: {url: {env: SLACK_WEBHOOK_URL}}\n";
    let (mut a, mut b) = (
        spawn_with(&moto, &snow, &queues, notify, &url),
        spawn_with(&moto, &snow, &queues, notify, &url),
    );
    deliver(&sqs, &queues, &[overdue, near, later]).await;
    assert_eq!(snow.incidents().len(), 3);

    // Two ticks at once: one per bridge, sweeping concurrently; then a third tick later.
    deliver(&sqs, &queues, &[tick("t1"), tick("t2")]).await;
    deliver(&sqs, &queues, &[tick("t3")]).await;
    // SIGTERM sends the open digests.
    a.terminate(Duration::from_secs(30)).expect("stops");
    b.terminate(Duration::from_secs(30)).expect("stops");
    let bodies: Vec<String> = hook.received().iter().map(|r| r.body.clone()).collect();
    let rows = snow.incidents();
    let escalations = |cve: &str| -> (String, usize) {
        let r = rows
            .iter()
            .find(|r| r.fields["correlation_id"].ends_with(cve))
            .expect("ticket");
        let notes = r
            .work_notes
            .iter()
            .filter(|n| n.contains("Escalated by patchplane"))
            .count();
        (r.fields["escalation"].clone(), notes)
    };
    assert_eq!(
        escalations("CVE-2026-1000"),
        ("3".to_owned(), 1),
        "overdue, escalated once"
    );
    assert_eq!(
        escalations("CVE-2026-1001"),
        ("2".to_owned(), 1),
        "near, escalated once"
    );
    assert_eq!(escalations("CVE-2026-1002"), ("0".to_owned(), 0), "not due yet");
    let overdue_row = rows
        .iter()
        .find(|r| r.fields["correlation_id"].ends_with("CVE-2026-1000"))
        .expect("row");
    assert_eq!(overdue_row.fields["urgency"], "1");
    // The owner (the default group: no owner_groups entry) heard of each escalation once: exactly
    // one message names each escalated ticket, none names the one not due.
    for (cve, told) in [("CVE-2026-1000", 1), ("CVE-2026-1001", 1), ("CVE-2026-1002", 0)] {
        let number = rows
            .iter()
            .find(|r| r.fields["correlation_id"].ends_with(cve))
            .map(|r| r.fields["number"].clone())
            .expect("number");
        let messages = bodies.iter().filter(|b| b.contains(&number)).count();
        assert_eq!(messages, told, "{cve} ({number}):\n{bodies:#?}");
    }
}
