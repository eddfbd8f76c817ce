//! Operator controls reach on-call (issue #14). A held ring gate: the gate's `patchplane Ring Gate` event (the shape
//! `templates/components/ring-gate.py` puts on the member's default bus, forwarded to the central
//! queue) through the real `patchplane-bridge` against moto's SQS and the ServiceNow emulator:
//! one incident, with the reason, however often the event arrives; a gate opened on purpose opens
//! none. A failed pre-patch health check: the failed patch command's incident says the check's
//! reason, read from the window's Run Command output in the (moto) evidence bucket. What moto
//! skips: it runs no Automation and no Run Command (the test writes the event and the output the
//! way SSM would; `ring_gate.rs` and `pre_patch.rs` test the scripts that produce them).

use std::time::Duration;

use patchplane_e2e::bridge::{BridgeProcess, config, drained, free_port, queue_with_dlq};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::{Moto, root};
use serde_json::Value;

const PASSWORD: &str = "gate-only-in-env";

fn event(decision: &str, id: &str) -> String {
    let text = std::fs::read_to_string(root().join("tests/fixtures/patchplane/ring-gate-held.json")).expect("fixture");
    let mut e: Value = serde_json::from_str(&text).expect("json");
    e["id"] = id.into();
    e["detail"]["decision"] = decision.into();
    e.to_string()
}

/// Sends `bodies`, waits until the bridge has handled them all, stops it.
async fn deliver(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String], b: &mut BridgeProcess) {
    for body in bodies {
        sqs.send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
    assert!(drained(sqs, queue, Duration::from_secs(60)).await, "{}", b.logs());
    b.terminate(Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_gate_opens_one_incident_with_its_reason() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "", "");
    let conf = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queues = queue_with_dlq(&sqs, "gates", 5).await;
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
    // The held gate's event twice (an EventBridge redelivery), and an opening on purpose.
    let bodies = [event("HELD", "a"), event("HELD", "b"), event("OPENED_ON_PURPOSE", "c")];
    deliver(&sqs, &queues.queue, &bodies, &mut b).await;
    let incidents = snow.incidents();
    assert_eq!(incidents.len(), 1, "one incident for one held gate");
    let f = &incidents[0].fields;
    let short = f.get("short_description").cloned().unwrap_or_default();
    assert!(
        short.contains("Ring main held for AL2023-main: 3 of 10 nodes (30.0%) failed in ring early"),
        "{short}"
    );
    assert_eq!(
        f.get("correlation_id").map(String::as_str),
        Some("123456789012/us-east-1/gate/AL2023-main/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_health_check_is_the_incidents_own_reason() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "", "");
    let conf = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket().bucket("acme-evidence").send().await.expect("bucket");
    let queues = queue_with_dlq(&sqs, "health", 5).await;
    let node = "i-0123456789abcdef0";
    // What the window's Run Command wrote: the hook's output, and the patch plugin's.
    for (plugin, text) in [
        (
            "PatchLinux/stdout",
            "Running the pre-install hook\nPATCHPLANE_HEALTH_CHECK_FAILED: only 100 MB free on / (need 1024)\n",
        ),
        ("PatchLinux/stderr", "failed to run commands: exit status 1\n"),
    ] {
        s3.put_object()
            .bucket("acme-evidence")
            .key(format!(
                "run-command/123456789012/us-east-1/cmd-ring-main/{node}/{plugin}"
            ))
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .expect("put");
    }
    let port = free_port();
    let yaml = config(&moto, &snow.url, port, 2).replace(
        "enrich:\n",
        "enrich:\n  command_output: {bucket: {env: EVIDENCE_BUCKET}}\n",
    );
    assert!(yaml.contains("command_output"), "{yaml}");
    let mut b = BridgeProcess::spawn(
        &yaml,
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
            ("EVIDENCE_BUCKET", "acme-evidence"),
        ],
    );
    assert!(b.wait_ready(Duration::from_secs(30)), "{}", b.logs());
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/events/ssm-ec2-command-invocation-status-change.json"))
            .expect("fixture");
    let mut e: Value = serde_json::from_str(&text).expect("json");
    e["region"] = "us-east-1".into();
    e["account"] = "123456789012".into();
    e["detail"]["instance-id"] = node.into();
    e["detail"]["command-id"] = "cmd-ring-main".into();
    e["detail"]["document-name"] = "AWS-RunPatchBaselineWithHooks".into();
    e["detail"]["status"] = "Failed".into();
    deliver(&sqs, &queues.queue, &[e.to_string()], &mut b).await;
    let incidents = snow.incidents();
    assert_eq!(incidents.len(), 1);
    let short = incidents[0]
        .fields
        .get("short_description")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        short,
        format!(
            "[patchplane] Pre-patch health check failed on {node}: only 100 MB free on / (need 1024) (123456789012 us-east-1)"
        )
    );
}
