//! Calls to AWS JSON-protocol APIs (`awsJson1_0`, `awsJson1_1`), signed with SigV4: the
//! bridge's hot-path calls (SQS receives and deletes, tag lookups) without the AWS SDK's per-call
//! machinery, which costs the bridge about three times the request itself (ADR 020).
//!
//! The protocol (AWS API references; Smithy's `awsJson1_0`/`awsJson1_1`): `POST /` to the
//! service endpoint with `X-Amz-Target: <target prefix>.<Operation>` and
//! `Content-Type: application/x-amz-json-1.0` (or `1.1`), the request's members as a JSON object,
//! the answer's likewise. Errors are `{"__type": "<namespace>#<Code>", "message": "…"}` with a
//! 4xx or 5xx status. Requests are signed with the `aws-sigv4` crate the SDK itself uses, with
//! credentials from an SDK credentials provider (the default chain, or an assumed role), cached
//! until five minutes before they expire. Retries follow [`crate::retry`]: transport errors, 5xx,
//! and the services' throttling codes (as 429).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::retry::{Failure, RetryPolicy, transport};

/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// Which API: how its requests are addressed and signed.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// The signing name (`sqs`, `tagging`).
    pub signing_name: &'static str,
    /// The `X-Amz-Target` prefix (`AmazonSQS`, `ResourceGroupsTaggingAPI_20170126`).
    pub target_prefix: &'static str,
    /// `application/x-amz-json-1.0` or `-1.1`.
    pub content_type: &'static str,
}

/// A signed JSON-protocol client for one API, endpoint and region.
pub struct AwsJson {
    api: Api,
    http: reqwest::Client,
    endpoint: String,
    host: String,
    region: String,
    provider: SharedCredentialsProvider,
    credentials: Mutex<Option<Credentials>>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for AwsJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AwsJson {{ api: {}, endpoint: {:?}, region: {:?} }}",
            self.api.signing_name, self.endpoint, self.region
        )
    }
}

/// The `scheme://host[:port]` of `url`, and the `host[:port]` the request's `Host` header carries.
pub fn origin(url: &str) -> Result<(String, String), Failure> {
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

impl AwsJson {
    /// A client of `api` at the origin of `endpoint`, signing for `region` with credentials from
    /// `provider`.
    pub fn new(
        api: Api,
        endpoint: &str,
        region: &str,
        provider: SharedCredentialsProvider,
        retry: RetryPolicy,
    ) -> Result<AwsJson, Failure> {
        let (endpoint, host) = origin(endpoint)?;
        let http = reqwest::Client::builder().build().map_err(|e| Failure {
            status: None,
            message: format!("cannot build the HTTP client: {e}"),
            retry_after: None,
        })?;
        Ok(AwsJson {
            api,
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

    /// One signed request for `operation` with `body`, with retries; the answer's JSON as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        operation: &str,
        body: &Json,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let body = body.to_string();
        let target = format!("{}.{operation}", self.api.target_prefix);
        self.retry
            .run(|| async {
                let credentials = self.credentials().await?;
                let identity = credentials.into();
                let params = v4::SigningParams::builder()
                    .identity(&identity)
                    .region(&self.region)
                    .name(self.api.signing_name)
                    .time(SystemTime::now())
                    .settings(SigningSettings::default())
                    .build()
                    .map_err(|e| unsigned(&e))?
                    .into();
                let headers = [
                    ("host", self.host.as_str()),
                    ("content-type", self.api.content_type),
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
                    .header("content-type", self.api.content_type)
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
        Ok(a) => (a.kind.rsplit('#').next().unwrap_or_default().to_owned(), a.message),
        Err(_) => (String::new(), text.chars().take(200).collect()),
    };
    let throttled = matches!(
        code.as_str(),
        "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "Throttling"
            | "KmsThrottled"
            // Organizations' throttling code.
            | "TooManyRequestsException"
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
        assert_eq!(
            e.to_string(),
            "HTTP 400: ReceiveMessage: QueueDoesNotExist: The specified queue does not exist."
        );
        assert!(!e.is_retryable());
        let t = error(
            "DeleteMessageBatch",
            400,
            r#"{"__type":"com.amazonaws.sqs#RequestThrottled"}"#,
        );
        assert!(t.is_retryable(), "{t}");
        let orgs = error(
            "ListAccountsForParent",
            400,
            r#"{"__type":"TooManyRequestsException","Message":"You have sent too many requests in too short a period of time."}"#,
        );
        assert!(orgs.is_retryable(), "{orgs}");
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
