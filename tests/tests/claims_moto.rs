//! Creation claims (ADR 017) against moto's S3, two bridge tasks' claim stores on one bucket, with
//! a lease of 3 s instead of 60 s: a claim held through long work stays the holder's, a lease its
//! holder let run out goes to another task, and the old holder then sees the work done instead of
//! taking its own memory for a live lease. What decides is read back from the bucket.
//!
//! What moto skips: nothing this uses (conditional `PutObject` with `If-None-Match: *` answers 412
//! as S3 does); S3's 409 for concurrent conditional writes to one key is not emulated, and
//! `LastModified` has one-second precision, hence the margins.

use std::time::Duration;

use patchplane_bridge::claims::{Claimed, Claims, S3Claims, hold};
use patchplane_e2e::Moto;

const BUCKET: &str = "acme-claims";
const LEASE: Duration = Duration::from_secs(3);

/// The generations written for `key`, in order.
async fn generations(s3: &aws_sdk_s3::Client, key: &str) -> Vec<String> {
    let listed = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(format!("tickets/{key}/"))
        .send()
        .await
        .expect("list");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .map(|k| k.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

/// Moto with the claims bucket, and two tasks' claim stores on it.
async fn two_tasks() -> (Moto, aws_sdk_s3::Client, S3Claims, S3Claims) {
    let moto = Moto::start();
    let conf = moto.sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).send().await.expect("bucket");
    let task = || S3Claims::new(s3.clone(), BUCKET.into(), "tickets/", LEASE);
    let (a, b) = (task(), task());
    (moto, s3, a, b)
}

#[tokio::test]
async fn a_held_claim_outlives_its_lease_and_a_lapsed_one_is_never_taken_back() {
    let (_moto, s3, a, b) = two_tasks().await;
    let key = "123456789012/us-east-1/i-0abc/CVE-2026-0001/first";

    assert_eq!(a.claim(key).await.expect("claim"), Claimed::Won);
    assert_eq!(b.claim(key).await.expect("claim"), Claimed::Held);

    // A works for twice the lease, holding the claim beside the work: B never gets it.
    let work = async {
        for _ in 0..4 {
            tokio::time::sleep(LEASE / 2).await;
            assert_eq!(b.claim(key).await.expect("claim"), Claimed::Held, "A is still creating");
        }
    };
    tokio::select! {
        () = work => {}
        () = hold(&a, key) => panic!("A's lease was taken over while A renewed it"),
    }
    assert!(
        generations(&s3, key).await.len() >= 3,
        "A renewed by writing the next generations"
    );

    // A stops (its create failed and the message waits out a backoff): its lease runs out, B
    // claims and creates.
    tokio::time::sleep(LEASE + Duration::from_millis(1500)).await;
    assert_eq!(
        b.claim(key).await.expect("claim"),
        Claimed::Won,
        "a lapsed lease is free"
    );
    b.finish(key).await.expect("finish");

    // A's retry: the ticket was made by B, so A must not create another.
    assert_eq!(a.claim(key).await.expect("claim"), Claimed::Done);
    assert!(!a.renew(key).await.expect("renew"), "nor hold it");
    assert!(generations(&s3, key).await.contains(&"done".to_owned()));
}

#[tokio::test]
async fn a_holder_that_let_its_lease_lapse_takes_it_again_only_if_nobody_else_did() {
    let (_moto, s3, a, b) = two_tasks().await;
    let key = "k/first";
    assert_eq!(a.claim(key).await.expect("claim"), Claimed::Won);
    // A retries within half a lease: still its own, without asking the bucket.
    assert_eq!(a.claim(key).await.expect("claim"), Claimed::Won);
    tokio::time::sleep(LEASE + Duration::from_millis(1500)).await;
    // Lapsed, nobody took it: A takes it again with a new generation, and B sees it held.
    assert_eq!(a.claim(key).await.expect("claim"), Claimed::Won);
    assert_eq!(generations(&s3, key).await, ["g0000", "g0001"]);
    assert_eq!(b.claim(key).await.expect("claim"), Claimed::Held);
}
