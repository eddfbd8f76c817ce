//! SNS: one `Publish` per digest, to one topic shared by every owner (subscribers filter on the
//! `owner` message attribute) or to a topic per owner with a default.
//!
//! Retries are the SDK's own (its standard retry mode already retries throttling, 5xx and
//! transport errors, DESIGN §8); what is left when it gives up is classified once more for the
//! bridge, which retries the whole message later or rejects it.

use std::collections::BTreeMap;
use std::fmt;

pub use aws_sdk_sns;
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;

use super::payload::sns_message;
use super::{Digest, Notifier, SendFuture};
use crate::retry::Failure;

/// Where digests are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topics {
    /// One topic for every owner; subscriptions filter on the `owner` attribute.
    Shared(String),
    /// A topic per owner (owner → topic ARN), and `default` for owners not in the map.
    PerOwner {
        /// Owner → topic ARN.
        owners: BTreeMap<String, String>,
        /// The topic of every other owner.
        default: String,
    },
}

impl Topics {
    /// `default` for every owner but those of `owners` (owner → topic ARN): what `notify.sns`
    /// in bridge.yaml gives (`topic_arn`, `owner_topics`). Shared when the map is empty.
    pub fn new(default: String, owners: BTreeMap<String, String>) -> Self {
        if owners.is_empty() {
            Topics::Shared(default)
        } else {
            Topics::PerOwner { owners, default }
        }
    }

    /// The topic ARN a digest for `owner` goes to.
    pub fn topic(&self, owner: &str) -> &str {
        match self {
            Topics::Shared(arn) => arn,
            Topics::PerOwner { owners, default } => owners.get(owner).unwrap_or(default),
        }
    }
}

/// Publishes digests to SNS.
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topics: Topics,
    name: String,
}

impl fmt::Debug for SnsNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnsNotifier")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl SnsNotifier {
    /// A notifier publishing through `client` to `topics`.
    pub fn new(client: aws_sdk_sns::Client, topics: Topics) -> Self {
        let name = match &topics {
            Topics::Shared(arn) => format!("sns topic `{arn}`"),
            Topics::PerOwner { default, .. } => format!("sns topics per owner (default `{default}`)"),
        };
        Self { client, topics, name }
    }

    async fn publish(&self, d: &Digest) -> Result<(), Failure> {
        let topic = self.topics.topic(&d.owner);
        let m = sns_message(d);
        let mut req = self
            .client
            .publish()
            .topic_arn(topic)
            .subject(m.subject)
            .message(m.message);
        for (name, value) in m.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Failure {
                    status: None,
                    message: format!("sns topic `{topic}`: cannot build attribute `{name}`: {e}"),
                    retry_after: None,
                })?;
            req = req.message_attributes(name, value);
        }
        req.send().await.map(|_| ()).map_err(|e| failure(topic, &e))
    }
}

impl Notifier for SnsNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(self.publish(digest))
    }
}

/// Error codes worth another try later: throttling (SNS answers it with HTTP 400) and the
/// service's own failures.
fn retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "KMSThrottling"
                | "InternalError"
                | "InternalFailure"
                | "ServiceUnavailable"
        )
    )
}

/// A classified failure naming the topic, with the SDK's whole error chain on one line.
fn failure(topic: &str, e: &SdkError<PublishError, HttpResponse>) -> Failure {
    let status = match e {
        SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
        SdkError::ResponseError(r) => Some(r.raw().status().as_u16()),
        _ => None,
    };
    // The chain without the SDK's `Debug` tail (raw response, headers, body); the request id
    // stands in for the dump.
    let mut context = crate::aws_error::chain(e);
    if let Some(id) = crate::aws_error::request_id(e) {
        context.push_str(&format!(" (request id {id})"));
    }
    match status {
        // Throttling comes as a 400 with a code: `Failure` retries what has no status, so the
        // status moves into the message rather than making a throttled publish permanent.
        Some(s) if retryable_code(e.code()) && !(s == 429 || s >= 500) => Failure {
            status: None,
            message: format!("sns topic `{topic}` (HTTP {s}, retryable): {context}"),
            retry_after: None,
        },
        _ => Failure {
            status,
            message: format!("sns topic `{topic}`: {context}"),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_per_owner_fall_back_to_the_default() {
        let shared = Topics::Shared("arn:aws:sns:eu-west-1:111111111111:owners".into());
        assert_eq!(shared.topic("anyone"), "arn:aws:sns:eu-west-1:111111111111:owners");
        let per = Topics::PerOwner {
            owners: [("team-a".to_owned(), "arn:a".to_owned())].into(),
            default: "arn:default".into(),
        };
        assert_eq!(per.topic("team-a"), "arn:a");
        assert_eq!(per.topic("team-b"), "arn:default");
        assert_eq!(per.topic(""), "arn:default");
        assert_eq!(
            Topics::new("arn:d".into(), BTreeMap::new()),
            Topics::Shared("arn:d".into())
        );
        assert!(matches!(
            Topics::new("arn:d".into(), [("o".to_owned(), "arn:o".to_owned())].into()),
            Topics::PerOwner { .. }
        ));
    }

    fn publish_error(status: u16, code: &str) -> SdkError<PublishError, HttpResponse> {
        let meta = aws_sdk_sns::error::ErrorMetadata::builder()
            .code(code)
            .message("Rate exceeded")
            .build();
        let status = status.try_into().expect("status");
        SdkError::service_error(PublishError::generic(meta), HttpResponse::new(status, "".into()))
    }

    #[test]
    fn throttling_is_retryable_whatever_the_status() {
        let f = failure("arn:t", &publish_error(400, "Throttling"));
        assert!(f.is_retryable() && f.status.is_none(), "{f:?}");
        assert!(
            f.message
                .starts_with("sns topic `arn:t` (HTTP 400, retryable): service error: "),
            "{f}"
        );
        assert!(
            f.message.contains("Rate exceeded") && !f.message.contains("headers"),
            "{f}"
        );
        let f = failure("arn:t", &publish_error(500, "InternalError"));
        assert!(f.is_retryable() && f.status == Some(500));
        let f = failure("arn:t", &publish_error(403, "AuthorizationError"));
        assert!(!f.is_retryable() && f.status == Some(403));
        let f = failure("arn:t", &publish_error(400, "InvalidParameter"));
        assert!(!f.is_retryable());
    }

    #[test]
    fn codes() {
        assert!(retryable_code(Some("Throttling")) && retryable_code(Some("KMSThrottling")));
        assert!(
            !retryable_code(Some("NotFound")) && !retryable_code(Some("AuthorizationError")) && !retryable_code(None)
        );
    }
}
