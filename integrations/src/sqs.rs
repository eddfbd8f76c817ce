//! SQS through its JSON protocol, signed with SigV4: the four calls the bridge makes for every
//! receive (`ReceiveMessage`, `DeleteMessageBatch`, `ChangeMessageVisibilityBatch`,
//! `ChangeMessageVisibility`) without the AWS SDK's per-call machinery (ADR 020).
//!
//! The protocol (AWS SQS API reference, "Making query API requests" → JSON): `POST /` to the
//! service endpoint with `X-Amz-Target: AmazonSQS.<Operation>` and
//! `Content-Type: application/x-amz-json-1.0`, the request's members as a JSON object
//! (`QueueUrl`, `MaxNumberOfMessages`, …), the answer's likewise (`Messages`, `Successful`,
//! `Failed`). Errors are `{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "…"}` with a
//! 4xx or 5xx status. Requests are signed with the `aws-sigv4` crate the SDK itself uses, with
//! credentials from the SDK's provider chain (the ECS task role in production), cached until
//! five minutes before they expire.
//!
//! The endpoint is the queue URL's origin (`https://sqs.us-east-1.amazonaws.com`), which is the
//! SQS endpoint of the queue's region, or the configured `aws.endpoint_url`. Retries follow
//! [`crate::retry`]: transport errors, 5xx, and SQS's throttling codes.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use crate::retry::{Failure, RetryPolicy, transport};

/// Longest wait for an answer besides a long poll's own wait.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

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
pub struct Sqs {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    region: String,
    provider: SharedCredentialsProvider,
    credentials: Mutex<Option<Credentials>>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Sqs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sqs {{ endpoint: {:?}, region: {:?} }}", self.endpoint, self.region)
    }
}

/// The `scheme://host[:port]` of `url`, and the `host[:port]` the request's `Host` header carries.
fn origin(url: &str) -> Result<(String, String), Failure> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Failure {
        status: None,
        message: format!("`{url}` is not a URL: {e}"),
        retry_after: None,
    })?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => {
            return Err(Failure {
                status: None,
                message: format!("`{url}` has no host"),
                retry_after: None,
            });
        }
    };
    Ok((format!("{}://{host}", parsed.scheme()), host))
}

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
        let (endpoint, host) = origin(endpoint_url.unwrap_or(queue_url))?;
        let http = reqwest::Client::builder().build().map_err(|e| Failure {
            status: None,
            message: format!("cannot build the HTTP client: {e}"),
            retry_after: None,
        })?;
        Ok(Sqs {
            http,
            endpoint: format!("{endpoint}/"),
            host,
            region: region.to_owned(),
            provider,
            credentials: Mutex::new(None),
            retry,
        })
    }

    async fn credentials(&self) -> Result<Credentials, Failure> {
        if let Ok(c) = self.credentials.lock()
            && let Some(c) = c.as_ref()
            && c.expiry().is_none_or(|e| SystemTime::now() + REFRESH_BEFORE < e)
        {
            return Ok(c.clone());
        }
        let fresh = self.provider.provide_credentials().await.map_err(|e| Failure {
            status: None,
            message: format!("no AWS credentials: {}", crate::retry::chain(&e)),
            retry_after: None,
        })?;
        if let Ok(mut c) = self.credentials.lock() {
            *c = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// One signed request for `operation`, with retries; the answer's JSON as `T`.
    async fn call<T: DeserializeOwned>(&self, operation: &str, body: &Json, timeout: Duration) -> Result<T, Failure> {
        let body = body.to_string();
        let target = format!("AmazonSQS.{operation}");
        self.retry
            .run(|| async {
                let credentials = self.credentials().await?;
                let identity = credentials.into();
                let settings = SigningSettings::default();
                let params = v4::SigningParams::builder()
                    .identity(&identity)
                    .region(&self.region)
                    .name("sqs")
                    .time(SystemTime::now())
                    .settings(settings)
                    .build()
                    .map_err(|e| unsigned(&e))?
                    .into();
                let headers = [
                    ("host", self.host.as_str()),
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", target.as_str()),
                ];
                let signable = SignableRequest::new(
                    "POST",
                    self.endpoint.as_str(),
                    headers.iter().copied(),
                    SignableBody::Bytes(body.as_bytes()),
                )
                .map_err(|e| unsigned(&e))?;
                let (instructions, _) = sign(signable, &params).map_err(|e| unsigned(&e))?.into_parts();
                let mut req = self
                    .http
                    .post(&self.endpoint)
                    .timeout(timeout)
                    .header("content-type", "application/x-amz-json-1.0")
                    .header("x-amz-target", &target);
                for (name, value) in instructions.headers() {
                    req = req.header(name, value);
                }
                let resp = req.body(body.clone()).send().await.map_err(transport)?;
                let status = resp.status().as_u16();
                let text = resp.text().await.map_err(transport)?;
                if (200..300).contains(&status) {
                    return serde_json::from_str(if text.is_empty() { "{}" } else { &text }).map_err(|e| Failure {
                        status: Some(status),
                        message: format!("{operation}: unexpected answer: {e}"),
                        retry_after: None,
                    });
                }
                Err(error(operation, status, &text))
            })
            .await
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
        self.call::<Json>("ChangeMessageVisibility", &body, TIMEOUT).await.map(|_| ())
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

/// A signing failure (bad credentials or a URL the signer cannot read): permanent.
fn unsigned(e: &dyn std::error::Error) -> Failure {
    Failure {
        status: Some(400),
        message: format!("cannot sign the request: {}", crate::retry::chain(e)),
        retry_after: None,
    }
}

/// SQS's error answer as one line: `ReceiveMessage: QueueDoesNotExist: The specified queue does
/// not exist.`. Throttling codes count as 429, so they are retried like one.
fn error(operation: &str, status: u16, text: &str) -> Failure {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default, rename = "__type")]
        kind: String,
        #[serde(default, alias = "Message")]
        message: String,
    }
    let (code, message) = match serde_json::from_str::<Answer>(text) {
        Ok(a) => (
            a.kind.rsplit('#').next().unwrap_or_default().to_owned(),
            a.message,
        ),
        Err(_) => (String::new(), text.chars().take(200).collect()),
    };
    let throttled = matches!(
        code.as_str(),
        "ThrottlingException" | "RequestThrottled" | "Throttling" | "KmsThrottled"
    );
    let what = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code,
        _ => message,
    };
    Failure {
        status: Some(if throttled { 429 } else { status }),
        message: format!("{operation}: {what}"),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_line_and_throttling_is_retryable() {
        let e = error(
            "ReceiveMessage",
            400,
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
        );
        assert_eq!(e.to_string(), "HTTP 400: ReceiveMessage: QueueDoesNotExist: The specified queue does not exist.");
        assert!(!e.is_retryable());
        let t = error("DeleteMessageBatch", 400, r#"{"__type":"com.amazonaws.sqs#RequestThrottled"}"#);
        assert!(t.is_retryable(), "{t}");
        let raw = error("ReceiveMessage", 503, "<html>busy</html>");
        assert!(raw.is_retryable());
        assert_eq!(raw.message, "ReceiveMessage: <html>busy</html>");
    }

    #[test]
    fn the_endpoint_is_the_queue_urls_origin_unless_one_is_configured() {
        assert_eq!(
            origin("https://sqs.eu-west-1.amazonaws.com/111111111111/q").expect("url"),
            (
                "https://sqs.eu-west-1.amazonaws.com".to_owned(),
                "sqs.eu-west-1.amazonaws.com".to_owned()
            )
        );
        assert_eq!(
            origin("http://127.0.0.1:4566/000000000000/q").expect("url").1,
            "127.0.0.1:4566"
        );
        assert!(origin("not a url").is_err());
    }
}
