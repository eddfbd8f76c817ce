//! Owner notifications grouped into digests (issue #12), through the pipeline against moto's SQS:
//! one ring failing on 300 nodes of 4 owners reaches each owner once, each message stays in flight
//! until the digest holding it is sent, and a receiver that fails for a while delays the digests
//! without losing a message.
//!
//! Counted at an independent receiver (a recording notifier) and from the queue, not from the
//! bridge's counters. Tags come from an in-process source (moto's tagging API is exercised by
//! `bridge_process`); moto skips nothing this test relies on.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchplane_bridge::config::{Action, Match, Rule};
use patchplane_bridge::enrich::{EnrichError, Enricher, TagSource, Tags};
use patchplane_bridge::pipeline::{Options, Pipeline, Stages};
use patchplane_bridge::route::RouteConfig;
use patchplane_bridge::sinks::Sinks;
use patchplane_bridge::sinks::notify::{Digest, DigestBoard, DigestSender, NotifySink};
use patchplane_e2e::Moto;
use patchplane_e2e::bridge::{depth, queue_with_dlq, send_bodies};
use patchplane_integrations::retry::Failure;
use serde_json::json;

/// Node `i-…N` belongs to owner `team-(N % 4)`.
struct OwnerTags;

impl TagSource for OwnerTags {
    async fn tags(&self, _: &str, _: &str, node: &str) -> Result<Tags, EnrichError> {
        let n: u64 = node.trim_start_matches("i-").parse().unwrap_or(0);
        Ok([
            ("Owner".to_owned(), format!("team-{}", n % 4)),
            ("PatchGroup".to_owned(), "AL2023-early".to_owned()),
        ]
        .into())
    }
}

/// A receiver: records every digest; fails the first `fail` sends with a retryable error.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Digest>>,
    fail: Mutex<usize>,
}

impl DigestSender for Receiver {
    fn name(&self) -> String {
        "recorder".into()
    }
    fn send<'a>(&'a self, d: &'a Digest) -> Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>> {
        Box::pin(async move {
            if let Ok(mut f) = self.fail.lock()
                && *f > 0
            {
                *f -= 1;
                return Err(Failure {
                    status: Some(503),
                    message: "receiver down".into(),
                    retry_after: None,
                });
            }
            if let Ok(mut g) = self.got.lock() {
                g.push(d.clone());
            }
            Ok(())
        })
    }
}

/// A failed patch command on node `i-…n`, as one window run sends them (same command, same time).
fn failed_on(n: u64) -> String {
    json!({
        "version": "0", "id": format!("evt-{n}"), "detail-type": "EC2 Command Invocation Status-change Notification",
        "source": "aws.ssm", "account": "123456789012", "time": "2026-11-10T07:30:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1:123456789012:instance/i-{n:08}")],
        "detail": {"command-id": "cmd-ring-early", "document-name": "AWS-RunPatchBaseline",
                   "instance-id": format!("i-{n:08}"), "requested-date-time": "2026-11-10T07:00:00Z", "status": "Failed"}
    })
    .to_string()
}

fn pipeline(sdk: &aws_config::SdkConfig, queue: &str, board: Arc<DigestBoard>) -> Arc<Pipeline<Sinks, OwnerTags>> {
    let rules = vec![Rule {
        name: "failed-patch-command".into(),
        when: Match {
            kind: vec!["command-invocation".into()],
            status: vec!["Failed".into()],
            ..Match::default()
        },
        actions: vec![Action::NotifyOwner],
    }];
    let sinks = Sinks::new().with(
        Action::NotifyOwner,
        Arc::new(NotifySink::new(
            board.clone(),
            "Cloud Platform".into(),
            Duration::from_secs(300),
        )),
    );
    let stages = Stages {
        routes: RouteConfig { rules },
        enricher: Enricher::new(OwnerTags, Duration::from_secs(60), "PatchGroup", &["Owner"]),
        sink: sinks,
    };
    let opts = Options {
        queue_url: queue.to_owned(),
        workers: 4,
        wait_seconds: 1,
        batch_window: Duration::ZERO,
        heartbeat_visibility: 30,
        heartbeat_every: Duration::from_secs(2),
        retry_cap_seconds: 2,
        drain: Duration::from_secs(10),
    };
    Pipeline::with_digests(sdk, stages, opts, board)
}

async fn send_all(sqs: &aws_sdk_sqs::Client, queue: &str, n: u64) {
    let bodies: Vec<String> = (0..n).map(failed_on).collect();
    send_bodies(sqs, queue, &bodies, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_failures_of_four_owners_send_four_digests_and_hold_every_message_until_then() {
    let moto = Moto::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "digest", 5).await;
    send_all(&sqs, &queues.queue, 300).await;

    let receiver = Arc::new(Receiver::default());
    // A long period: nothing is sent while the bridge runs; the shutdown flush sends.
    let board = Arc::new(DigestBoard::new(Duration::from_secs(3600), vec![receiver.clone()]));
    let p = pipeline(&sdk, &queues.queue, board.clone());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn({
        let p = p.clone();
        async move { p.run(rx).await }
    });
    // Every message received and parked: all 300 in flight, none deleted, nothing sent.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while p.parked() < 300 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // At least once: moto may hand a message out twice under load; both deliveries wait.
    assert!(p.parked() >= 300, "every message waits for its digest: {}", p.parked());
    assert_eq!(
        depth(&sqs, &queues.queue).await,
        300,
        "none deleted before its digest is sent"
    );
    assert!(receiver.got.lock().expect("lock").is_empty());

    // Shutdown flushes the open digests; the messages are deleted once they are sent.
    stop.send(true).expect("stop");
    run.await.expect("stops");
    let got = receiver.got.lock().expect("lock").clone();
    assert_eq!(
        got.len(),
        4,
        "{:#?}",
        got.iter().map(|d| (&d.owner, d.items.len())).collect::<Vec<_>>()
    );
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for d in &got {
        per_owner.insert(d.owner.clone(), d.items.len());
        assert!(d.items.iter().all(|i| i.node.is_some()), "each item names its node");
    }
    assert_eq!(
        per_owner,
        (0..4).map(|o| (format!("team-{o}"), 75)).collect::<BTreeMap<_, _>>(),
        "each owner's digest lists its 75 nodes"
    );
    let keys: std::collections::BTreeSet<&str> = got.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys.len(), 4, "an idempotency key per digest");
    assert_eq!(
        depth(&sqs, &queues.queue).await,
        0,
        "every message deleted after its digest"
    );
    assert_eq!(depth(&sqs, &queues.dlq).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_delays_the_digest_and_loses_nothing() {
    let moto = Moto::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "digest-retry", 5).await;
    send_all(&sqs, &queues.queue, 20).await;

    let receiver = Arc::new(Receiver::default());
    *receiver.fail.lock().expect("lock") = 2;
    // A 2-second period: the digests go out while the bridge runs, after two failed sends.
    let board = Arc::new(DigestBoard::new(Duration::from_secs(2), vec![receiver.clone()]));
    let p = pipeline(&sdk, &queues.queue, board);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn({
        let p = p.clone();
        async move { p.run(rx).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while depth(&sqs, &queues.queue).await > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.send(true).expect("stop");
    run.await.expect("stops");
    let got = receiver.got.lock().expect("lock").clone();
    let items: usize = got.iter().map(|d| d.items.len()).sum();
    assert_eq!(items, 20, "every event reached the receiver once: {got:#?}");
    assert_eq!(got.len(), 4, "one digest per owner, sent after the receiver came back");
    assert_eq!(depth(&sqs, &queues.queue).await, 0);
    assert_eq!(depth(&sqs, &queues.dlq).await, 0, "nothing dead-lettered");
}
