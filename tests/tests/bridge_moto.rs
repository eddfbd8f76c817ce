//! The bridge end to end: moto SQS (with a redrive policy) → decode → route → ServiceNow emulator
//! → ack. Every fixture flows; the same event delivered six times yields one incident; a
//! malformed message reaches the dead-letter queue after `maxReceiveCount` without blocking others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use patchplane_bridge::pipeline::{Options, Pipeline};
use patchplane_bridge::route::RouteConfig;
use patchplane_bridge::sink::ServiceNowSink;
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::{Moto, root};
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::servicenow::{Auth, Client, Config};

async fn queue_with_dlq(sqs: &aws_sdk_sqs::Client) -> (String, String) {
    let dlq = sqs.create_queue().queue_name("bridge-dlq").send().await.expect("dlq");
    let dlq_url = dlq.queue_url().expect("url").to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("arn")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("arn");
    let q = sqs
        .create_queue()
        .queue_name("bridge")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!("{{\"deadLetterTargetArn\":\"{arn}\",\"maxReceiveCount\":\"2\"}}"),
        )
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .expect("queue");
    (q.queue_url().expect("url").to_owned(), dlq_url)
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let a = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes");
    let attrs: HashMap<QueueAttributeName, String> = a.attributes().cloned().unwrap_or_default();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|k| attrs.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
    .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_flow_once_each_and_poison_goes_to_the_dlq() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", "s3cret", "id", "secret");
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config("us-east-1").await);
    let (queue, dlq) = queue_with_dlq(&sqs).await;

    let dir = root().join("tests/fixtures/events");
    let mut sent = 0;
    let mut bodies: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        bodies.push((
            path.file_name().expect("name").to_string_lossy().into_owned(),
            std::fs::read_to_string(&path).expect("read"),
        ));
    }
    let window = bodies
        .iter()
        .find(|(n, _)| n == "ssm-mw-execution-state-change.json")
        .expect("window")
        .1
        .clone();
    for (_, body) in &bodies {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
        sent += 1;
    }
    // SQS may deliver an event several times; EventBridge may too. Five more copies.
    for _ in 0..5 {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(&window)
            .send()
            .await
            .expect("send");
        sent += 1;
    }
    sqs.send_message()
        .queue_url(&queue)
        .message_body("not json at all")
        .send()
        .await
        .expect("send");

    let client = Client::new(Config {
        base_url: snow.url.clone(),
        table: "incident".into(),
        auth: Auth::Basic {
            user: "bridge".into(),
            password: "s3cret".into(),
        },
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(20),
            cap: Duration::from_secs(1),
        },
    })
    .expect("client");
    let pipeline = Pipeline::new(
        sqs.clone(),
        RouteConfig::defaults(),
        ServiceNowSink::new(client),
        Options {
            queue_url: queue.clone(),
            workers: 2,
            wait_seconds: 1,
            heartbeat_visibility: 30,
            heartbeat_every: Duration::from_secs(10),
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = {
        let p = Arc::clone(&pipeline);
        tokio::spawn(async move { p.run(stop_rx).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && (depth(&sqs, &queue).await > 0 || depth(&sqs, &dlq).await == 0) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = stop_tx.send(true);
    runner.await.expect("workers stop");

    assert_eq!(depth(&sqs, &queue).await, 0, "the queue drained");
    let dead = sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("dlq");
    let dead: Vec<&str> = dead.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(
        dead,
        vec!["not json at all"],
        "only the poison message is dead-lettered"
    );

    // Default routes: 3 timed-out window events and 1 non-compliant patch state → 4 incidents.
    let incidents = snow.incidents();
    let mut keys: Vec<&str> = incidents.iter().map(|r| r.fields["correlation_id"].as_str()).collect();
    keys.sort();
    assert_eq!(keys.len(), 4, "{keys:?}");
    let window_key = "123456789012/us-east-2/mw-0ed7251d3fcf6e0c2/b60fb56e-776c-4e5c-84ee-123456789012";
    let window_incident = incidents
        .iter()
        .find(|r| r.fields["correlation_id"] == window_key)
        .expect("window incident");
    assert_eq!(
        window_incident.work_notes.len(),
        5,
        "six deliveries: one incident, five work notes"
    );
    let c = pipeline.counters();
    assert_eq!(c.delivered, sent, "{c:?}");
    assert!(
        c.rejected >= 2,
        "the poison message was rejected on each of its receives: {c:?}"
    );
    assert_eq!(c.retried, 0);
}
