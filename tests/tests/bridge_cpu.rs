//! CPU per event, the bridge against a plain Python/boto3 consumer doing the same job (issue 15,
//! BENCHMARKS.md): a measurement, not a test, run by `cargo xtask bench` with the release binary.
//!
//! `PATCHPLANE_CPU_BRIDGE_ONLY=1` stops after the bridge's figures (to try a change quickly);
//! `PATCHPLANE_CPU_BATCH_WINDOW_MS=N` runs the bridge with that batching window (ADR 021).
//!
//! The load: `PATCHPLANE_CPU_EVENTS` (default 4,000) patch compliance events on as many nodes
//! divided by two, each phase sent with delays so that it becomes visible at once (a window's
//! events arrive as a burst, and both consumers then see full receives): first every node
//! non-compliant (each opens an incident: the newest row with the key, a POST, the race check),
//! then every node compliant (each resolves it: the newest row, a PATCH). Each consumer gets the
//! same events under its own account id, so the emulator tells their results apart; both must end
//! with exactly one Resolved incident per node, and the emulator counts the ServiceNow calls each
//! made (HTTP requests: a Batch API request is one). CPU is read from /proc the same way for both
//! ([`patchplane_e2e::cpu_seconds`]), from the consumer being ready (startup and imports left
//! out) to the last message deleted. Then the bridge idles on the empty queue for 30 s with its
//! default settings (8 workers, 20 s long polls, a 100 ms batching window), and its CPU over that
//! is the idle cost.
//!
//! moto runs behind waitress ([`Moto::start_keepalive`]), so both consumers keep their
//! connections as they would with AWS; the emulator keeps them too, as ServiceNow does. SQS long
//! polling is real (moto waits for a message or the timeout). Neither consumer talks to anything
//! but moto (SQS, the tagging API) and the emulator.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patchplane_e2e::bridge::{BridgeProcess, depth, free_port, queue_with_dlq, send_bodies};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::{Moto, cpu_seconds, root, venv_tool};

const PASSWORD: &str = "s3cret-only-in-env";

/// How long after a phase starts its events become visible (longer than sending them takes).
const VISIBLE_AFTER: Duration = Duration::from_secs(20);

/// `n` compliance events of `status` in `account`, one per node, at `time`.
fn events(account: &str, nodes: usize, status: &str, time: &str) -> Vec<String> {
    (0..nodes)
        .map(|i| {
            serde_json::json!({
                "version": "0",
                "id": format!("{account}-{status}-{i}"),
                "detail-type": "Configuration Compliance State Change",
                "source": "aws.ssm",
                "account": account,
                "time": time,
                "region": "us-east-1",
                "resources": [format!("arn:aws:ssm:us-east-1:{account}:managed-instance/i-{i:017x}")],
                "detail": {
                    "resource-type": "managed-instance",
                    "resource-id": format!("i-{i:017x}"),
                    "compliance-status": status,
                    "compliance-type": "Patch",
                    "patch-baseline-id": "pb-0123456789abcdef0",
                    "severity": "critical"
                }
            })
            .to_string()
        })
        .collect()
}

/// Sends `bodies`, each delayed to become visible about `VISIBLE_AFTER` after the first was
/// sent: the phase arrives as a burst, as a window's events do, whichever consumer is waiting.
async fn send(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String]) {
    send_bodies(sqs, queue, bodies, Some(Instant::now() + VISIBLE_AFTER)).await;
}

async fn wait_empty(sqs: &aws_sdk_sqs::Client, queue: &str) {
    let started = Instant::now();
    while depth(sqs, queue).await > 0 {
        assert!(started.elapsed() < Duration::from_secs(1800), "the queue did not drain");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every node of `account` has exactly one incident, Resolved.
fn assert_resolved(snow: &Emulator, account: &str, nodes: usize) {
    let rows: Vec<_> = snow
        .incidents()
        .into_iter()
        .filter(|r| {
            r.fields
                .get("correlation_id")
                .is_some_and(|k| k.starts_with(&format!("{account}/")))
        })
        .collect();
    assert_eq!(rows.len(), nodes, "one incident per node for {account}");
    assert!(
        rows.iter()
            .all(|r| r.fields.get("state").map(String::as_str) == Some("6")),
        "every incident of {account} resolved"
    );
}

struct Run {
    cpu: f64,
    wall: f64,
    calls: u64,
    per_receive: f64,
}

impl Run {
    fn line(&self, who: &str, events: usize) -> String {
        format!(
            "{who}: {:.3} ms CPU per event ({:.2} s CPU for {events} events in {:.1} s; {:.2} ServiceNow calls per event; {:.1} messages per receive)",
            1000.0 * self.cpu / events as f64,
            self.cpu,
            self.wall,
            self.calls as f64 / events as f64,
            self.per_receive
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; `cargo xtask bench` runs it"]
async fn measure_cpu_per_event_against_a_python_consumer() {
    let total: usize = std::env::var("PATCHPLANE_CPU_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let nodes = total / 2;
    let moto = Moto::start_keepalive();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "central", 5).await;

    // The bridge with its default settings: only what it cannot default is set.
    let port = free_port();
    // `PATCHPLANE_CPU_BATCH_WINDOW_MS` sets the one setting the bench compares (ADR 021).
    let window_ms = std::env::var("PATCHPLANE_CPU_BATCH_WINDOW_MS").ok();
    let window = window_ms
        .as_ref()
        .map(|ms| format!("  batch_window_ms: {ms}\n"))
        .unwrap_or_default();
    let label = match &window_ms {
        Some(ms) => format!("bridge (release, default settings but a {ms} ms batching window)"),
        None => "bridge (release, default settings)".to_owned(),
    };
    let config = format!(
        "version: 1
queue:
  url: {{env: PATCHPLANE_QUEUE_URL}}
{window}servicenow:
  instance_url: {}
  auth: {{basic: {{user: bridge, password: {{env: SERVICENOW_PASSWORD}}}}}}
operations:
  listen: 127.0.0.1:{port}
aws:
  region: us-east-1
  endpoint_url: {}
",
        snow.url, moto.endpoint
    );
    let mut bridge = BridgeProcess::spawn(
        &config,
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
        ],
    );
    assert!(bridge.wait_ready(Duration::from_secs(30)), "{}", bridge.logs());
    let calls = snow.calls();
    let cpu = cpu_seconds(bridge.pid()).expect("/proc");
    let started = Instant::now();
    for (status, time) in [
        ("non_compliant", "2026-11-10T03:00:00Z"),
        ("compliant", "2026-11-10T05:00:00Z"),
    ] {
        let phase = Instant::now();
        send(&sqs, &queues.queue, &events("111111111111", nodes, status, time)).await;
        let sent = phase.elapsed().as_secs_f64();
        wait_empty(&sqs, &queues.queue).await;
        println!(
            "bridge, {status} phase: sent in {sent:.1} s, drained {:.1} s after the first was sent",
            phase.elapsed().as_secs_f64()
        );
    }
    let rust = Run {
        cpu: cpu_seconds(bridge.pid()).expect("/proc") - cpu,
        wall: started.elapsed().as_secs_f64(),
        calls: snow.calls() - calls,
        per_receive: bridge.metric("patchplane_bridge_messages_received_total").unwrap_or(0) as f64
            / bridge.metric("patchplane_bridge_receives_total").unwrap_or(1).max(1) as f64,
    };
    assert_resolved(&snow, "111111111111", nodes);
    let idle_from = cpu_seconds(bridge.pid()).expect("/proc");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let idle = cpu_seconds(bridge.pid()).expect("/proc") - idle_from;
    // At least once: moto's SQS now and then hands one message to two concurrent receives.
    let delivered = bridge.metric("patchplane_bridge_messages_delivered_total").unwrap_or(0);
    assert!(
        delivered >= total as u64,
        "{delivered} of {total} delivered: {}",
        bridge.logs()
    );
    assert!(bridge.terminate(Duration::from_secs(30)).is_some_and(|s| s.success()));
    // A bridge change is tried against the bridge's own figure first; the ratio needs both.
    if std::env::var_os("PATCHPLANE_CPU_BRIDGE_ONLY").is_some() {
        println!("{}", rust.line(&label, total));
        println!("idle on an empty queue: {idle:.3} s CPU in 30 s");
        return;
    }

    let mut python = Command::new(venv_tool("python"))
        .arg(root().join("tests/scripts/plain_consumer.py"))
        .args([&moto.endpoint, &queues.queue, &snow.url, &total.to_string()])
        .env("SERVICENOW_PASSWORD", PASSWORD)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut out = BufReader::new(python.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("ready");
    assert_eq!(line.trim(), "ready");
    let calls = snow.calls();
    let cpu = cpu_seconds(python.id()).expect("/proc");
    let started = Instant::now();
    let sender = tokio::spawn({
        let (sqs, queue) = (sqs.clone(), queues.queue.clone());
        async move {
            for (status, time) in [
                ("non_compliant", "2026-11-10T03:00:00Z"),
                ("compliant", "2026-11-10T05:00:00Z"),
            ] {
                send(&sqs, &queue, &events("222222222222", nodes, status, time)).await;
                wait_empty(&sqs, &queue).await;
            }
        }
    });
    line.clear();
    let out = tokio::task::spawn_blocking(move || {
        out.read_line(&mut line).expect("done");
        line
    })
    .await
    .expect("reader");
    let reported: serde_json::Value = out
        .strip_prefix("done ")
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("{out}"));
    let py = Run {
        cpu: cpu_seconds(python.id()).expect("/proc") - cpu,
        wall: started.elapsed().as_secs_f64(),
        calls: snow.calls() - calls,
        per_receive: reported["messages"].as_f64().unwrap_or(0.0) / reported["receives"].as_f64().unwrap_or(1.0),
    };
    sender.await.expect("sender");
    drop(python.stdin.take());
    let _ = python.wait();
    assert_resolved(&snow, "222222222222", nodes);

    println!("{}", rust.line(&label, total));
    println!("{}", py.line("Python/boto3 consumer", total));
    println!(
        "ratio: the bridge spends {:.1}x less CPU per event; idle on an empty queue: {:.3} s CPU in 30 s ({:.2}% of a core)",
        py.cpu / rust.cpu,
        idle,
        100.0 * idle / 30.0
    );
}

/// What one AWS SDK call costs the calling process, beside the same request sent as plain HTTP
/// (BENCHMARKS.md, "what is left"): 1,000 empty `ReceiveMessage`s (no wait) against moto, through
/// `aws-sdk-sqs` with the bridge's settings, then as the SQS JSON protocol's request through
/// `reqwest` (moto does not check signatures, so the plain request is unsigned: signing costs a
/// few HMACs more). Process CPU from `/proc/self/stat` (10 ms resolution, so 10 µs a call here).
/// `cargo test -p patchplane-e2e --release --test bridge_cpu -- --ignored --nocapture sdk`.
#[tokio::test(flavor = "current_thread")]
#[ignore = "a measurement: run by hand or by cargo xtask bench"]
async fn measure_sdk_call_against_plain_http() {
    const CALLS: u32 = 1000;
    let moto = Moto::start_keepalive();
    let sdk = moto
        .sdk_config("us-east-1")
        .await
        .into_builder()
        .stalled_stream_protection(aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled())
        .build();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name("sdk-cost")
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let me = std::process::id();
    let http = reqwest::Client::new();
    let body = serde_json::json!({ "QueueUrl": queue, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0 }).to_string();
    // Warm both (connections, credentials, endpoint), then measure each in turn, twice.
    for round in 0..3 {
        let before = cpu_seconds(me).expect("cpu");
        for _ in 0..CALLS {
            let out = sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            assert!(out.messages.unwrap_or_default().is_empty());
        }
        let sdk_cpu = cpu_seconds(me).expect("cpu") - before;
        let before = cpu_seconds(me).expect("cpu");
        for _ in 0..CALLS {
            let resp = http
                .post(&moto.endpoint)
                .header("X-Amz-Target", "AmazonSQS.ReceiveMessage")
                .header("Content-Type", "application/x-amz-json-1.0")
                .header(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20261130/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
                )
                .body(body.clone())
                .send()
                .await
                .expect("receive");
            assert!(resp.status().is_success(), "{}", resp.status());
            resp.bytes().await.expect("body");
        }
        let plain_cpu = cpu_seconds(me).expect("cpu") - before;
        if round > 0 {
            println!(
                "round {round}: aws-sdk-sqs ReceiveMessage {:.0} us CPU per call; the same request through reqwest {:.0} us",
                sdk_cpu * 1e6 / f64::from(CALLS),
                plain_cpu * 1e6 / f64::from(CALLS)
            );
        }
    }
}
