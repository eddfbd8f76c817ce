//! The bridge's own AWS JSON-protocol clients (`integrations::sqs`, `integrations::tagging`;
//! ADR 020) against moto, each result read back through the AWS SDK: what one wrote, the other
//! sees.
//!
//! What moto skips: it accepts any signature and any credentials, so these tests prove the
//! request shapes and the answers' reading, not the signature (that comes from `aws-sigv4`, the
//! SDK's own signer); it has no throttling, so the retry of throttling codes is a unit test of
//! `aws_json`.

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use patchplane_e2e::Moto;
use patchplane_e2e::bridge::{depth, queue_with_dlq, send_bodies, tagged_instance};
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::sqs::Sqs;
use patchplane_integrations::tagging::Tagging;

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(10),
        cap: Duration::from_secs(1),
    }
}

fn credentials(sdk: &aws_config::SdkConfig) -> SharedCredentialsProvider {
    sdk.credentials_provider().expect("the test chain has credentials")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_extend_release_and_delete_as_sqs_counts_them() {
    let moto = Moto::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let sdk_sqs = aws_sdk_sqs::Client::new(&sdk);
    let q = queue_with_dlq(&sdk_sqs, "aws-json", 5).await;
    let bodies: Vec<String> = (0..12).map(|i| format!("{{\"n\":{i}}}")).collect();
    send_bodies(&sdk_sqs, &q.queue, &bodies, None).await;
    let sqs = Sqs::new(&q.queue, None, "us-east-1", credentials(&sdk), retry()).expect("client");

    let first = sqs.receive(&q.queue, 10, 1).await.expect("receive");
    assert_eq!(first.len(), 10, "ten of twelve");
    assert!(
        first
            .iter()
            .all(|m| m.attributes.get("ApproximateReceiveCount").map(String::as_str) == Some("1"))
    );
    let mut seen: Vec<String> = first.iter().map(|m| m.body.clone()).collect();
    let handles: Vec<String> = first.iter().filter_map(|m| m.receipt_handle.clone()).collect();
    assert_eq!(handles.len(), 10);

    // A heartbeat keeps them; releasing one (visibility 0) hands it out again, counted twice.
    assert!(
        sqs.change_visibility_batch(&q.queue, &handles, 60)
            .await
            .expect("extend")
            .is_empty()
    );
    sqs.change_visibility(&q.queue, &handles[0], 0).await.expect("release");
    let second = sqs.receive(&q.queue, 10, 1).await.expect("receive");
    assert_eq!(second.len(), 3, "the two left and the released one");
    let again = second
        .iter()
        .find(|m| m.body == first[0].body)
        .expect("the released message is back");
    assert_eq!(
        again.attributes.get("ApproximateReceiveCount").map(String::as_str),
        Some("2")
    );
    seen.extend(
        second
            .iter()
            .filter(|m| m.body != first[0].body)
            .map(|m| m.body.clone()),
    );
    seen.sort();
    let mut want = bodies.clone();
    want.sort();
    assert_eq!(seen, want, "every message, once");

    // Deletes: the batch's entries, and one stale handle reported as refused, not as a failure.
    let mut rest: Vec<String> = handles[1..].to_vec();
    rest.extend(second.iter().filter_map(|m| m.receipt_handle.clone()));
    for chunk in rest.chunks(10) {
        assert!(sqs.delete_batch(&q.queue, chunk).await.expect("delete").is_empty());
    }
    let refused = sqs
        .delete_batch(&q.queue, &["not-a-receipt-handle".to_owned()])
        .await
        .expect("the call itself succeeds");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].id, "0");
    assert!(!refused[0].code.is_empty());
    assert_eq!(depth(&sdk_sqs, &q.queue).await, 0, "SQS holds nothing: all deleted");

    // A queue that does not exist: one readable line naming the operation and SQS's code.
    let missing = q.queue.replace("aws-json", "no-such-queue");
    let err = sqs.receive(&missing, 10, 0).await.expect_err("no such queue");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().starts_with("HTTP 400: ReceiveMessage: "), "{err}");
    assert!(
        err.to_string().contains("NonExistentQueue") || err.to_string().contains("QueueDoesNotExist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_resources_reads_the_tags_of_listed_nodes_only() {
    let moto = Moto::start();
    let account = "123456789012";
    let sdk = moto.sdk_config("us-east-1").await;
    let a = tagged_instance(
        &moto,
        account,
        "us-east-1",
        &[("PatchGroup", "AL2023-early"), ("Owner", "team-a")],
    );
    let b = tagged_instance(&moto, account, "us-east-1", &[("PatchGroup", "Win2022-late")]);
    let arn = |i: &str| format!("arn:aws:ec2:us-east-1:{account}:instance/{i}");
    let tagging = Tagging::new(Some(&moto.endpoint), "us-east-1", credentials(&sdk), retry()).expect("client");
    let page = tagging
        .get_resources(&[arn(&a), arn("i-0000000000000dead")], None)
        .await
        .expect("tags");
    assert_eq!(page.mappings.len(), 1, "{page:?}");
    assert_eq!(page.mappings[0].arn, arn(&a));
    let mut tags: Vec<(String, String)> = page.mappings[0]
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            ("Owner".into(), "team-a".into()),
            ("PatchGroup".into(), "AL2023-early".into())
        ]
    );
    assert!(page.next.as_deref().is_none_or(str::is_empty), "one page");
    assert!(!page.mappings.iter().any(|m| m.arn == arn(&b)), "only the listed ARNs");
}
