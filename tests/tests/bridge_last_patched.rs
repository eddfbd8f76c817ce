//! The last-patched tag (issue 29 item 5) through the `patchplane-bridge` binary against moto:
//! instances in a member account (222222222222, reached through the member role, as in
//! production), command status-change events on the queue, and each instance's tags read back
//! from moto's EC2 with `DescribeTags`.
//!
//! What moto skips, and this test does not claim: it emits no SSM events (the test puts the
//! documented sample, `tests/fixtures/events/ssm-ec2-command-status-change.json`, with a patch
//! run's document, parameters and resources, on the queue); its STS lets any role be assumed, so
//! the member role's permission is proven by `iam_paths.rs`, not here; and it refuses tags on
//! on-premises `mi-` nodes (`AddTagsToResource` → InvalidResourceId), so that path is covered by
//! the sink's unit tests only.

use std::process::Command;
use std::time::Duration;

use patchplane_e2e::bridge::{BridgeProcess, config, drained, free_port, queue_with_dlq, tagged_instance};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::{Moto, root, venv_tool};
use serde_json::Value;

const MEMBER: &str = "222222222222";
const REGION: &str = "us-east-1";

/// The documented command status-change sample as a patch run's command on `node`.
fn command(n: usize, node: &str, operation: &str, status: &str, time: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/events/ssm-ec2-command-status-change.json"))
        .expect("fixture");
    let mut e: Value = serde_json::from_str(&text).expect("json");
    e["id"] = format!("evt-{n}").into();
    e["account"] = MEMBER.into();
    e["region"] = REGION.into();
    e["time"] = time.into();
    e["resources"] = serde_json::json!([format!("arn:aws:ec2:{REGION}:{MEMBER}:instance/{node}")]);
    e["detail"]["command-id"] = format!("cmd-{n}").into();
    e["detail"]["document-name"] = "AWS-RunPatchBaselineWithHooks".into();
    e["detail"]["status"] = status.into();
    e["detail"]["parameters"] = serde_json::json!({"Operation": [operation], "RebootOption": ["RebootIfNeeded"]});
    e
}

fn tags(moto: &Moto, node: &str) -> Value {
    let out = Command::new(venv_tool("python"))
        .arg(root().join("tests/scripts/moto_tags.py"))
        .args([&moto.endpoint, MEMBER, REGION, node])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_succeeded_install_dates_its_node_and_nothing_else_does() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", "s3cret", "id", "secret");
    let sdk = moto.sdk_config(REGION).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "last-patched", 3).await;
    let installed = tagged_instance(&moto, MEMBER, REGION, &[("PatchGroup", "AL2023-main")]);
    let scanned = tagged_instance(&moto, MEMBER, REGION, &[("PatchGroup", "AL2023-main")]);
    let failed = tagged_instance(&moto, MEMBER, REGION, &[("PatchGroup", "AL2023-main")]);

    let port = free_port();
    let yaml = format!("{}last_patched: {{}}\n", config(&moto, &snow.url, port, 2));
    let mut bridge = BridgeProcess::spawn(
        &yaml,
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", "s3cret"),
        ],
    );
    assert!(
        bridge.wait_ready(Duration::from_secs(30)),
        "never ready:\n{}",
        bridge.logs()
    );
    let events = [
        // 23:10 in New York on 9 Dec is 10 Dec in UTC.
        command(1, &installed, "Install", "Success", "2026-12-10T04:10:00Z"),
        command(2, &scanned, "Scan", "Success", "2026-12-10T04:10:00Z"),
        command(3, &failed, "Install", "Failed", "2026-12-10T04:10:00Z"),
    ];
    for e in &events {
        sqs.send_message()
            .queue_url(&queues.queue)
            .message_body(e.to_string())
            .send()
            .await
            .expect("send");
    }
    assert!(
        drained(&sqs, &queues.queue, Duration::from_secs(30)).await,
        "{}",
        bridge.logs()
    );
    assert_eq!(
        tags(&moto, &installed)["patchplane:last-patched"],
        "2026-12-10",
        "{}",
        bridge.logs()
    );
    assert_eq!(
        tags(&moto, &installed)["PatchGroup"],
        "AL2023-main",
        "other tags untouched"
    );
    assert!(
        tags(&moto, &scanned).get("patchplane:last-patched").is_none(),
        "a scan patches nothing"
    );
    assert!(
        tags(&moto, &failed).get("patchplane:last-patched").is_none(),
        "a failed install is no date"
    );

    // A late redelivery of an older install leaves the newer date alone.
    sqs.send_message()
        .queue_url(&queues.queue)
        .message_body(command(4, &installed, "Install", "Success", "2026-11-11T04:10:00Z").to_string())
        .send()
        .await
        .expect("send");
    assert!(drained(&sqs, &queues.queue, Duration::from_secs(30)).await);
    assert_eq!(tags(&moto, &installed)["patchplane:last-patched"], "2026-12-10");
    assert_eq!(
        patchplane_e2e::bridge::depth(&sqs, &queues.dlq).await,
        0,
        "{}",
        bridge.logs()
    );
    bridge.terminate(Duration::from_secs(10));
}
