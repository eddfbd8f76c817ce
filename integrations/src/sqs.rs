//! SQS through its JSON protocol ([`crate::aws_json`], ADR 020): the four calls the bridge makes
//! around every receive (`ReceiveMessage`, `DeleteMessageBatch`, `ChangeMessageVisibilityBatch`,
//! `ChangeMessageVisibility`; AWS SQS API reference).
//!
//! The endpoint is the queue URL's origin (`https://sqs.us-east-1.amazonaws.com`), which is the
//! SQS endpoint of the queue's region, or the configured `aws.endpoint_url`.

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::aws_json::{Api, AwsJson};
use crate::retry::{Failure, RetryPolicy};

/// Longest wait for an answer besides a long poll's own wait.
const TIMEOUT: Duration = Duration::from_secs(30);

/// SQS's JSON protocol.
const SQS: Api = Api {
    signing_name: "sqs",
    target_prefix: "AmazonSQS",
    content_type: "application/x-amz-json-1.0",
};

/// One received message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    /// Stable across redeliveries.
    #[serde(default)]
    pub message_id: String,
    /// Of this delivery; absent only in a malformed answer.
    #[serde(default)]
    pub receipt_handle: Option<String>,
    /// The body.
    #[serde(default)]
    pub body: String,
    /// System attributes asked for (`ApproximateReceiveCount`).
    #[serde(default)]
    pub attributes: std::collections::HashMap<String, String>,
}

/// One entry a batch call did not carry out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Refused {
    /// The entry's id, as sent.
    pub id: String,
    /// SQS's error code (`ReceiptHandleIsInvalid`, …).
    #[serde(default)]
    pub code: String,
    /// Its message.
    #[serde(default)]
    pub message: Option<String>,
}

/// An SQS client for one region.
#[derive(Debug)]
pub struct Sqs(AwsJson);

impl Sqs {
    /// A client for the queue at `queue_url` (or at `endpoint_url` when set), signing for
    /// `region` with credentials from `provider`.
    pub fn new(
        queue_url: &str,
        endpoint_url: Option<&str>,
        region: &str,
        provider: SharedCredentialsProvider,
        retry: RetryPolicy,
    ) -> Result<Sqs, Failure> {
        AwsJson::new(SQS, endpoint_url.unwrap_or(queue_url), region, provider, retry).map(Sqs)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        body: &Json,
        timeout: Duration,
    ) -> Result<T, Failure> {
        self.0.call(operation, body, timeout).await
    }

    /// One receive of up to `max` messages, waiting up to `wait_seconds` for the first, with
    /// their `ApproximateReceiveCount`.
    pub async fn receive(&self, queue_url: &str, max: u32, wait_seconds: u32) -> Result<Vec<Message>, Failure> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[serde(default)]
            messages: Vec<Message>,
        }
        let body = json!({
            "QueueUrl": queue_url,
            "MaxNumberOfMessages": max,
            "WaitTimeSeconds": wait_seconds,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        });
        let timeout = TIMEOUT + Duration::from_secs(u64::from(wait_seconds));
        Ok(self.call::<Answer>("ReceiveMessage", &body, timeout).await?.messages)
    }

    /// Deletes the messages of `handles` (at most 10); the entries SQS refused.
    pub async fn delete_batch(&self, queue_url: &str, handles: &[String]) -> Result<Vec<Refused>, Failure> {
        let entries: Vec<Json> = handles
            .iter()
            .enumerate()
            .map(|(i, h)| json!({ "Id": i.to_string(), "ReceiptHandle": h }))
            .collect();
        self.batch("DeleteMessageBatch", queue_url, entries).await
    }

    /// Sets the visibility of the messages of `handles` (at most 10) to `seconds`; the entries
    /// SQS refused.
    pub async fn change_visibility_batch(
        &self,
        queue_url: &str,
        handles: &[String],
        seconds: u32,
    ) -> Result<Vec<Refused>, Failure> {
        let entries: Vec<Json> = handles
            .iter()
            .enumerate()
            .map(|(i, h)| json!({ "Id": i.to_string(), "ReceiptHandle": h, "VisibilityTimeout": seconds }))
            .collect();
        self.batch("ChangeMessageVisibilityBatch", queue_url, entries).await
    }

    /// Sets one message's visibility to `seconds`.
    pub async fn change_visibility(&self, queue_url: &str, handle: &str, seconds: u32) -> Result<(), Failure> {
        let body = json!({ "QueueUrl": queue_url, "ReceiptHandle": handle, "VisibilityTimeout": seconds });
        self.call::<Json>("ChangeMessageVisibility", &body, TIMEOUT)
            .await
            .map(|_| ())
    }

    async fn batch(&self, operation: &str, queue_url: &str, entries: Vec<Json>) -> Result<Vec<Refused>, Failure> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[serde(default)]
            failed: Vec<Refused>,
        }
        let body = json!({ "QueueUrl": queue_url, "Entries": entries });
        Ok(self.call::<Answer>(operation, &body, TIMEOUT).await?.failed)
    }
}
