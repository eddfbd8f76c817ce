//! The month that runs itself, when it does not (issue 29 item 4): the monthly report's task
//! stopping, as ECS tells EventBridge, through the real `patchplane-bridge` against moto's SQS and
//! the ServiceNow emulator. A failed run (after the task's own retries) opens one incident saying
//! why, however often the event arrives; the next run that succeeds resolves it.
//!
//! The events are AWS's documented example (`tests/fixtures/events/ecs-task-state-change.json`,
//! source in its `.md`), a RUNNING task, with only the fields of a stop changed: `lastStatus`
//! STOPPED, `stopCode`, `stoppedReason` and the container's `exitCode` (field names from the same
//! page). What moto skips: it runs no ECS task and emits no ECS event; the central template's rule
//! that forwards these stops is checked by cfn-lint and cfn-guard.

use std::time::Duration;

use patchplane_e2e::bridge::{BridgeProcess, config, drained, free_port, queue_with_dlq};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::{Moto, root};
use serde_json::Value;

const PASSWORD: &str = "task-only-in-env";
const GROUP: &str = "family:acme-bridge-monthly-report";

fn stopped(id: &str, exit: i64, time: &str) -> String {
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/events/ecs-task-state-change.json")).expect("fixture");
    let mut e: Value = serde_json::from_str(&text).expect("json");
    e["id"] = id.into();
    e["account"] = "123456789012".into();
    e["region"] = "us-east-1".into();
    e["time"] = time.into();
    let d = &mut e["detail"];
    d["group"] = GROUP.into();
    d["lastStatus"] = "STOPPED".into();
    d["desiredStatus"] = "STOPPED".into();
    d["stopCode"] = "EssentialContainerExited".into();
    d["stoppedReason"] = "Essential container in task exited".into();
    d["containers"][0]["name"] = "report".into();
    d["containers"][0]["lastStatus"] = "STOPPED".into();
    d["containers"][0]["exitCode"] = exit.into();
    e.to_string()
}

async fn deliver(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String], b: &BridgeProcess) {
    for body in bodies {
        sqs.send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
    assert!(drained(sqs, queue, Duration::from_secs(60)).await, "{}", b.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_monthly_report_opens_one_incident_and_the_next_good_run_resolves_it() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "", "");
    let conf = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queues = queue_with_dlq(&sqs, "tasks", 5).await;
    let port = free_port();
    let mut b = BridgeProcess::spawn(
        &config(&moto, &snow.url, port, 2),
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
        ],
    );
    assert!(b.wait_ready(Duration::from_secs(30)), "{}", b.logs());
    // The documented RUNNING event is no news; the failed stop twice (a redelivery).
    let running = {
        let text =
            std::fs::read_to_string(root().join("tests/fixtures/events/ecs-task-state-change.json")).expect("fixture");
        let mut e: Value = serde_json::from_str(&text).expect("json");
        e["detail"]["group"] = GROUP.into();
        e.to_string()
    };
    deliver(
        &sqs,
        &queues.queue,
        &[
            running,
            stopped("a", 1, "2026-12-02T05:12:00Z"),
            stopped("b", 1, "2026-12-02T05:12:00Z"),
        ],
        &b,
    )
    .await;
    let incidents = snow.incidents();
    assert_eq!(incidents.len(), 1, "one incident for one failed run");
    let f = &incidents[0].fields;
    assert_eq!(
        f.get("short_description").map(String::as_str),
        Some(
            "[patchplane] Scheduled task family:acme-bridge-monthly-report failed: report exited 1; Essential container in task exited (123456789012 us-east-1)"
        )
    );
    assert_eq!(
        f.get("correlation_id").map(String::as_str),
        Some("123456789012/us-east-1/task/family:acme-bridge-monthly-report")
    );
    // The next month's run succeeds: the incident resolves (ServiceNow state 6, Resolved).
    deliver(&sqs, &queues.queue, &[stopped("c", 0, "2027-01-02T05:09:00Z")], &b).await;
    let incidents = snow.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        incidents[0].fields.get("state").map(String::as_str),
        Some("6"),
        "{:?}",
        incidents[0].fields
    );
    assert_eq!(
        patchplane_e2e::bridge::depth(&sqs, &queues.dlq).await,
        0,
        "{}",
        b.logs()
    );
    b.terminate(Duration::from_secs(15));
}
