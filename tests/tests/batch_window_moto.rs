//! The batching window (ADR 021) against moto's SQS: eight workers share one [`SqsSource`] while a
//! sender trickles messages in, one every 30 ms. Without a window each message is taken by one of
//! the eight waiting long polls as soon as it is visible, so receives come back with about one
//! message each; with a 250 ms window the workers take turns and each receive finds the messages
//! that gathered meanwhile. Both runs must receive every message sent; what is compared is the
//! number of messages per non-empty receive, counted from what the receives returned.
//!
//! What moto skips: SQS answers a long poll from a sample of its servers and may split a burst
//! over several receives; moto answers from the whole queue at once. Neither matters here: the
//! queue holds a few messages at a time, and a waiting poll returns as soon as any is visible in
//! both.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchplane_bridge::source::SqsSource;
use patchplane_e2e::Moto;
use patchplane_e2e::bridge::queue_with_dlq;

const MESSAGES: usize = 120;
const EVERY: Duration = Duration::from_millis(30);
const WORKERS: usize = 8;

/// What the workers received: every message id, and the size of each non-empty receive.
#[derive(Default)]
struct Tally {
    ids: BTreeSet<String>,
    sizes: Vec<usize>,
}

impl Tally {
    fn per_receive(&self) -> f64 {
        self.sizes.iter().sum::<usize>() as f64 / self.sizes.len().max(1) as f64
    }
}

/// Trickles `MESSAGES` into a new queue while `WORKERS` receive (and delete) through one source
/// with `window`, until every message sent has been received.
async fn trickle(moto: &Moto, name: &str, window: Duration) -> Tally {
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // The bridge's queue shape (a redrive policy); nothing here is received often enough to move.
    let queue = queue_with_dlq(&sqs, name, 5).await.queue;
    let source = SqsSource::new(&sdk, queue.clone(), 1, 30, Duration::from_secs(10), window);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (source, tally) = (source.clone(), tally.clone());
            tokio::spawn(async move {
                loop {
                    if tally.lock().map(|t| t.ids.len() >= MESSAGES).unwrap_or(true) {
                        return;
                    }
                    let got = source.receive().await.expect("receive");
                    if got.is_empty() {
                        continue;
                    }
                    let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
                    if let Ok(mut t) = tally.lock() {
                        t.sizes.push(got.len());
                        t.ids.extend(got.into_iter().map(|m| m.body));
                    }
                    source.delete(&handles).await;
                }
            })
        })
        .collect();
    for i in 0..MESSAGES {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(format!("message {i}"))
            .send()
            .await
            .expect("send");
        tokio::time::sleep(EVERY).await;
    }
    for w in workers {
        tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("every message is received within a minute")
            .expect("worker");
    }
    Arc::try_unwrap(tally)
        .ok()
        .and_then(|t| t.into_inner().ok())
        .expect("the workers are done")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_window_gathers_a_trickle_into_fuller_receives() {
    let moto = Moto::start();
    let without = trickle(&moto, "no-window", Duration::ZERO).await;
    let with = trickle(&moto, "window", Duration::from_millis(250)).await;
    println!(
        "messages per non-empty receive: {:.1} without a window, {:.1} with 250 ms",
        without.per_receive(),
        with.per_receive()
    );
    for t in [&without, &with] {
        assert_eq!(t.ids.len(), MESSAGES, "every message sent is received");
        assert!(t.sizes.iter().all(|&n| n <= 10), "SQS's limit: {:?}", t.sizes);
    }
    // Eight waiting polls share a trickle: about one message each.
    assert!(
        without.per_receive() < 2.0,
        "without a window, {:.1} messages per receive: {:?}",
        without.per_receive(),
        without.sizes
    );
    // A 250 ms window over a message every 30 ms gathers about eight (six measured); three
    // leaves room for a loaded machine sending more slowly.
    assert!(
        with.per_receive() >= 3.0,
        "with a 250 ms window, {:.1} messages per receive: {:?}",
        with.per_receive(),
        with.sizes
    );
}
