//! `cargo xtask demo`, part two: the bridge end to end on this machine. It starts moto and the
//! ServiceNow emulator, builds the central event bus → queue (with its dead-letter queue), runs a
//! tagged EC2 instance, sends the AWS sample events through EventBridge, runs
//! `patchplane-bridge` until the queue is drained, stops it with SIGTERM and prints the incidents
//! the emulator now holds.

use std::time::Duration;

use patchplane_e2e::Moto;
use patchplane_e2e::bridge::{
    BridgeProcess, central_bus, config, drained, fixtures, free_port, put_events, queue_with_dlq, tagged_instance,
};
use patchplane_e2e::servicenow::Emulator;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", "demo-only-password", "bridge", "demo-only-password");
    println!("moto on {}, ServiceNow emulator on {}", moto.endpoint, snow.url);
    let sdk = moto.sdk_config("us-east-1").await;
    let (sqs, eb) = (aws_sdk_sqs::Client::new(&sdk), aws_sdk_eventbridge::Client::new(&sdk));
    let queues = queue_with_dlq(&sqs, "patchplane-events", 5).await;
    central_bus(&eb, "patchplane-central", &queues).await;

    let node = tagged_instance(
        &moto,
        "123456789012",
        "us-east-1",
        &[
            ("PatchGroup", "AL2023-early"),
            ("Owner", "team-payments"),
            ("Name", "web-1"),
        ],
    );
    println!("EC2 instance {node} tagged PatchGroup=AL2023-early, Owner=team-payments");
    let mut events: Vec<serde_json::Value> = Vec::new();
    for (name, mut e) in fixtures() {
        // The non-compliant patch state is about the tagged instance, so enrichment finds its owner.
        if name == "ssm-compliance-patch-non-compliant.json" {
            e["detail"]["resource-id"] = node.clone().into();
            e["resources"] = serde_json::json!([format!("arn:aws:ec2:us-east-1:123456789012:instance/{node}")]);
        }
        events.push(e);
    }
    put_events(&eb, "patchplane-central", &events).await;
    println!("{} sample events put on the central bus", events.len());

    let port = free_port();
    let mut bridge = BridgeProcess::spawn(
        &config(&moto, &snow.url, port, 8),
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", "demo-only-password"),
        ],
    );
    if !bridge.wait_ready(Duration::from_secs(30)) {
        eprintln!("the bridge did not become ready; its log:\n{}", bridge.logs());
        std::process::exit(1);
    }
    let emptied = drained(&sqs, &queues.queue, Duration::from_secs(60)).await;
    let counter = |n: &str| {
        bridge
            .metric(&format!("patchplane_bridge_messages_{n}_total"))
            .unwrap_or(0)
    };
    println!(
        "queue {}: received {}, delivered {}, retried {}, rejected {}, unknown {}",
        if emptied { "drained" } else { "NOT drained" },
        counter("received"),
        counter("delivered"),
        counter("retried"),
        counter("rejected"),
        counter("unknown"),
    );
    let status = bridge.terminate(Duration::from_secs(15));
    println!("SIGTERM: the bridge exited with {status:?}");

    println!("\nIncidents in the emulator:");
    for row in snow.incidents() {
        let f = &row.fields;
        let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
        println!(
            "{}  [{}]  {}",
            get("number"),
            get("assignment_group"),
            get("short_description")
        );
        println!("           correlation_id {}", get("correlation_id"));
    }
    if !emptied {
        eprintln!("the queue did not drain; the bridge's log:\n{}", bridge.logs());
        std::process::exit(1);
    }
}
