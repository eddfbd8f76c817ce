//! AWS SDK errors as one readable line: the operation, the cause in words, and what to do.
//!
//! The SDK's own renderings are made for debugging, not for the operator: `Display` of an
//! [`SdkError`] is a bare "dispatch failure", and [`DisplayErrorContext`] appends the `Debug` of
//! the raw response (`(DispatchFailure(DispatchFailure { source: ConnectorError { … } }))`).
//! [`describe`] sorts an error into the few [`Kind`]s an operator acts on (no region, no or
//! rejected credentials, access denied, unreachable, timed out, throttled) and says what to do;
//! anything else is the code and message AWS sent, or the cause chain when AWS sent nothing,
//! still on one line and without a `Debug` dump.
//!
//! The SDK reports a missing region and missing credentials as dispatch failures of kind "other"
//! whose source is an endpoint-resolution or auth-scheme error the SDK does not export, so those
//! two are recognised by the SDK's words ("Missing Region", "A region must be set", "no identity
//! resolver") or, for credentials, by a [`CredentialsError`] in the chain.
//!
//! Every SDK crate re-exports the same `SdkError` and `HttpResponse` (from
//! `aws-smithy-runtime-api`), so `aws_sdk_s3::error::SdkError<GetObjectError>` is accepted here
//! as it is, though the types are named through `aws_sdk_sns`.
//!
//! [`DisplayErrorContext`]: aws_sdk_sns::error::DisplayErrorContext

use std::error::Error;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::RequestId;

/// What went wrong, in the terms of what the operator does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No region configured: the SDK cannot even choose an endpoint.
    NoRegion,
    /// No credentials found (or the provider failed to load them).
    NoCredentials,
    /// AWS refused the credentials themselves: unknown key, bad signature, expired token.
    CredentialsRejected,
    /// The credentials are valid but the principal lacks the permission (`AccessDenied`, 403).
    AccessDenied,
    /// The endpoint could not be reached: DNS, connection refused, TLS.
    Unreachable,
    /// The request or a connection timed out.
    TimedOut,
    /// AWS throttled the calls (after the SDK's own retries).
    Throttled,
    /// Anything else: the cause chain says what.
    Other,
}

impl Kind {
    /// Worth another try later: the network, timeouts and throttling. Configuration and
    /// permission problems fail the same way until someone changes something.
    pub fn is_retryable(self) -> bool {
        matches!(self, Kind::Unreachable | Kind::TimedOut | Kind::Throttled)
    }
}

/// Error codes of throttling across services (S3 says `SlowDown`, SNS `Throttling`, …).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "KMSThrottling",
];

/// Error codes of a principal without the permission.
const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "Forbidden",
    "AllAccessDisabled",
];

/// Error codes of credentials AWS does not accept at all.
const BAD_CREDENTIALS: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthFailure",
];

/// The [`Kind`] of `e`.
pub fn kind<E>(e: &SdkError<E, HttpResponse>) -> Kind
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match e {
        SdkError::TimeoutError(_) => Kind::TimedOut,
        SdkError::DispatchFailure(d) => match d.as_connector_error() {
            Some(c) if c.is_timeout() => Kind::TimedOut,
            Some(c) if c.is_io() => Kind::Unreachable,
            _ => pre_send_kind(e),
        },
        SdkError::ConstructionFailure(_) => pre_send_kind(e),
        SdkError::ServiceError(s) => {
            let code = e.code().unwrap_or_default();
            let status = s.raw().status().as_u16();
            if THROTTLING.contains(&code) || status == 429 {
                Kind::Throttled
            } else if BAD_CREDENTIALS.contains(&code) {
                Kind::CredentialsRejected
            } else if ACCESS_DENIED.contains(&code) || (status == 403 && code.is_empty()) {
                Kind::AccessDenied
            } else {
                Kind::Other
            }
        }
        SdkError::ResponseError(r) if r.raw().status().as_u16() == 429 => Kind::Throttled,
        _ => Kind::Other,
    }
}

/// A failure before anything was sent: the region and the credentials are resolved then.
fn pre_send_kind(e: &(dyn Error + 'static)) -> Kind {
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<CredentialsError>().is_some() {
            return Kind::NoCredentials;
        }
        let text = c.to_string().to_ascii_lowercase();
        // SNS and most services: "Invalid Configuration: Missing Region"; S3: "A region must be
        // set when sending requests to S3."
        if text.contains("missing region") || text.contains("region must be set") {
            return Kind::NoRegion;
        }
        if text.contains("no identity resolver") {
            return Kind::NoCredentials;
        }
        cur = c.source();
    }
    Kind::Other
}

/// `e` as one line for an operator: `{operation}: {cause}; {advice}`.
///
/// `operation` names the call and its target (``ListObjectVersions on `s3://b/p/` ``);
/// `endpoint` is the endpoint override when one is configured (it is named when unreachable).
/// The line holds no `Debug` rendering of the error or of a raw response.
pub fn describe<E>(operation: &str, endpoint: Option<&str>, e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let id = request_id(e);
    let service = match id {
        Some(id) => format!("{}, request id {id}", service_detail(e)),
        None => service_detail(e),
    };
    let line = match kind(e) {
        Kind::NoRegion => "no AWS region; set AWS_REGION (or `region` in the AWS profile)".to_owned(),
        Kind::NoCredentials => format!(
            "no AWS credentials{}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile \
             of ~/.aws/config (AWS_CONFIG_FILE) with credentials or SSO (`aws sso login`)",
            credentials_detail(e).map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        Kind::CredentialsRejected => format!(
            "AWS rejected the credentials ({service}); check AWS_ACCESS_KEY_ID / AWS_PROFILE, or renew expired \
             session credentials"
        ),
        Kind::AccessDenied => format!(
            "access denied ({service}); the principal lacks the permission for this operation: grant it in IAM \
             (or the resource's policy)"
        ),
        Kind::Unreachable => format!(
            "cannot reach {} ({}); check the network, proxy or --endpoint-url",
            endpoint.unwrap_or("the AWS endpoint"),
            transport_detail(e)
        ),
        Kind::TimedOut => format!(
            "timed out talking to {} ({}); check the network, proxy or --endpoint-url",
            endpoint.unwrap_or("the AWS endpoint"),
            transport_detail(e)
        ),
        Kind::Throttled => {
            format!("throttled by AWS ({service}) after the SDK's own retries; try again later")
        }
        // The code and message AWS sent (`NoSuchBucket: The specified bucket does not exist`).
        Kind::Other if matches!(e, SdkError::ServiceError(_)) => match id {
            Some(id) => format!("{} (request id {id})", service_detail(e)),
            None => service_detail(e),
        },
        Kind::Other => chain(e),
    };
    one_line(&format!("{operation}: {line}"))
}

/// The error and its causes on one line, as the SDK words them but without its `Debug` tail: a
/// service error as `service error: ` and the modelled error's own words
/// (`NotFoundException: …`), or `{code}: {message}` from the metadata AWS sent for one the model
/// does not name (its chain would end in the metadata's `Debug`-like rendering); anything else
/// as its chain with the SDK's connector kinds ("other", "io error") left out.
pub fn chain<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    if let SdkError::ServiceError(svc) = e {
        // A modelled error reads as its type and message (`NotFoundException: …`); one the
        // model does not name is only "unhandled error (Code)" before the metadata's rendering.
        let own = one_line(&svc.err().to_string());
        if own.is_empty() || own.starts_with("unhandled error") || looks_like_debug(&own) {
            return format!("service error: {}", service_detail(e));
        }
        return format!("service error: {own}");
    }
    one_line(&causes(e, false))
}

/// `{code}: {message}` of a service error; the error's own words when it has no code.
fn service_detail<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let s = match (e.code(), e.message()) {
        (Some(code), Some(message)) if !message.is_empty() => format!("{code}: {message}"),
        (Some(code), _) => code.to_owned(),
        _ => match e {
            SdkError::ServiceError(s) => causes(s.err(), true),
            _ => causes(e, true),
        },
    };
    match e {
        SdkError::ServiceError(svc) if s.is_empty() => format!("HTTP {}", svc.raw().status().as_u16()),
        _ => s,
    }
}

/// The request id AWS gave the failed call (what AWS support asks for): from the error's
/// metadata, else from the response's headers.
pub fn request_id<E>(e: &SdkError<E, HttpResponse>) -> Option<&str>
where
    E: ProvideErrorMetadata + Error + 'static,
{
    e.as_service_error()
        .and_then(|s| RequestId::request_id(s.meta()))
        .or_else(|| e.request_id())
}

/// The words of a transport failure below the SDK's own ("tcp connect error: Connection refused").
fn transport_detail(e: &(dyn Error + 'static)) -> String {
    causes(e, true)
}

/// The credential provider's own explanation when a provider failed (an expired SSO token, a
/// bad profile); none when no provider had credentials at all, where the chain only lists every
/// provider it tried as "not enabled" and the advice says the rest.
fn credentials_detail(e: &(dyn Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(c) = cur {
        match c.downcast_ref::<CredentialsError>() {
            Some(CredentialsError::CredentialsNotLoaded(_)) => return None,
            Some(_) => return Some(causes(c, false)).filter(|s| !s.is_empty()),
            None => cur = c.source(),
        }
    }
    None
}

/// Words the SDK uses for its layers, which say nothing on their own.
const LAYERS: &[&str] = &[
    "dispatch failure",
    "io error",
    "other",
    "timeout",
    "user error",
    "service error",
    "response error",
    "request has timed out",
    "failed to construct request",
];

/// `e` and its sources joined by `: `, skipping repeats and `Debug`-like renderings
/// (`Error { code: … }`); with `inner_only`, the SDK's layer words too.
fn causes(e: &(dyn Error + 'static), inner_only: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(c) = cur {
        let text = one_line(&c.to_string());
        // The SDK's top word stays in a whole chain ("dispatch failure: …"); the connector's
        // kinds below it ("other", "io error") never add anything.
        let layer = LAYERS.contains(&text.as_str()) && (inner_only || !parts.is_empty());
        let skip = text.is_empty() || layer || looks_like_debug(&text) || parts.iter().any(|p| p.contains(&text));
        if !skip {
            parts.push(text);
        }
        cur = c.source();
    }
    parts.join(": ")
}

/// `Name { field: … }`: how `Debug` renders a struct, never meant for an operator.
fn looks_like_debug(text: &str) -> bool {
    text.split_once(" { ")
        .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// Whitespace (newlines included) folded to single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sns::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_sns::operation::publish::PublishError;

    type Err = SdkError<PublishError, HttpResponse>;

    const OP: &str = "Publish to `arn:aws:sns:eu-west-1:111111111111:t`";

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().expect("status"), "<Error>raw body</Error>".into())
    }

    fn service(status: u16, code: &str, message: &str) -> Err {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message(message)
            .custom("aws_request_id", "req-123")
            .build();
        SdkError::service_error(PublishError::generic(meta), response(status))
    }

    /// An error like the SDK's own for a step before sending (private types there).
    #[derive(Debug)]
    struct Words(&'static str);

    impl std::fmt::Display for Words {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Words {}

    fn before_send(source: impl Error + Send + Sync + 'static) -> Err {
        SdkError::dispatch_failure(ConnectorError::other(Box::new(source), None))
    }

    /// No `Debug` noise: no braces, no variant names, no raw response.
    fn clean(line: &str) {
        for noise in [
            "{",
            "}",
            "DispatchFailure(",
            "ConnectorError",
            "raw body",
            "headers",
            "\n",
        ] {
            assert!(!line.contains(noise), "`{noise}` in: {line}");
        }
    }

    #[test]
    fn no_region() {
        for words in [
            "Invalid Configuration: Missing Region",
            "A region must be set when sending requests to S3.",
        ] {
            let e = before_send(Words(words));
            assert_eq!(kind(&e), Kind::NoRegion);
            let line = describe(OP, None, &e);
            assert!(
                line.starts_with(OP) && line.contains("no AWS region; set AWS_REGION"),
                "{line}"
            );
            clean(&line);
        }
    }

    #[test]
    fn no_credentials() {
        let e = before_send(CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        ));
        assert_eq!(kind(&e), Kind::NoCredentials);
        let line = describe(OP, None, &e);
        assert!(
            line.starts_with(&format!(
                "{OP}: no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            )),
            "{line}"
        );
        clean(&line);
        // A provider that failed says why.
        let e = before_send(CredentialsError::provider_error(Words(
            "the SSO token for `deploy` has expired",
        )));
        assert_eq!(kind(&e), Kind::NoCredentials);
        let line = describe(OP, None, &e);
        assert!(
            line.starts_with(&format!("{OP}: no AWS credentials (an error occurred while loading credentials: the SSO token for `deploy` has expired); set AWS_ACCESS_KEY_ID")),
            "{line}"
        );
        clean(&line);
        // A client built without any credential provider.
        let e = before_send(Words(
            "failed to select an auth scheme to sign the request with. \"sigv4\" wasn't a valid option because there was no identity resolver for it.",
        ));
        assert_eq!(kind(&e), Kind::NoCredentials);
        let line = describe(OP, None, &e);
        assert!(line.contains("no AWS credentials; set AWS_ACCESS_KEY_ID"), "{line}");
        assert!(!line.contains("sigv4"), "{line}");
    }

    #[test]
    fn access_denied_names_the_code_and_the_message() {
        let e = service(
            403,
            "AuthorizationError",
            "User: arn:aws:iam::1:user/ci is not authorized to perform: SNS:Publish",
        );
        assert_eq!(kind(&e), Kind::AccessDenied);
        let line = describe(OP, None, &e);
        assert_eq!(
            line,
            format!(
                "{OP}: access denied (AuthorizationError: User: arn:aws:iam::1:user/ci is not authorized to perform: SNS:Publish, request id req-123); the principal lacks the permission for this operation: grant it in IAM (or the resource's policy)"
            )
        );
        assert_eq!(kind(&service(403, "AccessDenied", "Access Denied")), Kind::AccessDenied);
        clean(&line);
    }

    #[test]
    fn rejected_credentials_are_not_access_denied() {
        let e = service(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
        assert_eq!(kind(&e), Kind::CredentialsRejected);
        let line = describe(OP, None, &e);
        assert!(
            line.contains("AWS rejected the credentials (InvalidClientTokenId: The security token"),
            "{line}"
        );
        assert!(!Kind::CredentialsRejected.is_retryable());
    }

    #[test]
    fn unreachable_names_the_endpoint() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let e: Err = SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        assert_eq!(kind(&e), Kind::Unreachable);
        assert!(kind(&e).is_retryable());
        let line = describe(OP, Some("http://127.0.0.1:9"), &e);
        assert_eq!(
            line,
            format!(
                "{OP}: cannot reach http://127.0.0.1:9 (Connection refused (os error 111)); check the network, proxy or --endpoint-url"
            )
        );
        let line = describe(OP, None, &e);
        assert!(line.contains("cannot reach the AWS endpoint ("), "{line}");
        clean(&line);
    }

    #[test]
    fn timeouts() {
        let e: Err = SdkError::dispatch_failure(ConnectorError::timeout(Box::new(Words(
            "HTTP connect timeout occurred after 3.1s",
        ))));
        assert_eq!(kind(&e), Kind::TimedOut);
        let line = describe(OP, None, &e);
        assert!(
            line.contains(
                "timed out talking to the AWS endpoint (HTTP connect timeout occurred after 3.1s); check the network"
            ),
            "{line}"
        );
        let e: Err = SdkError::timeout_error(Words(
            "operation timeout (all attempts including retries) occurred after 10s",
        ));
        assert_eq!(kind(&e), Kind::TimedOut);
        clean(&describe(OP, None, &e));
    }

    #[test]
    fn throttling() {
        for (status, code) in [
            (400, "Throttling"),
            (400, "ThrottlingException"),
            (503, "SlowDown"),
            (429, ""),
        ] {
            let e = service(status, code, "Rate exceeded");
            assert_eq!(kind(&e), Kind::Throttled, "{code}");
            let line = describe(OP, None, &e);
            assert!(
                line.contains("throttled by AWS (") && line.ends_with("after the SDK's own retries; try again later"),
                "{line}"
            );
            clean(&line);
        }
        assert!(
            describe(OP, None, &service(400, "ThrottlingException", "Rate exceeded"))
                .contains("(ThrottlingException: Rate exceeded, request id req-123)")
        );
    }

    #[test]
    fn anything_else_is_its_chain_on_one_line() {
        let e = service(404, "NoSuchBucket", "The specified bucket does not exist");
        assert_eq!(kind(&e), Kind::Other);
        assert_eq!(
            describe("ListObjectVersions on `s3://b/`", None, &e),
            "ListObjectVersions on `s3://b/`: NoSuchBucket: The specified bucket does not exist (request id req-123)"
        );
        let e: Err = SdkError::construction_failure(Words("invalid field\nin request"));
        let line = describe(OP, None, &e);
        assert_eq!(
            line,
            format!("{OP}: failed to construct request: invalid field in request")
        );
        let e: Err = SdkError::response_error(Words("invalid XML"), response(500));
        let line = describe(OP, None, &e);
        assert_eq!(line, format!("{OP}: response error: invalid XML"));
        let e = before_send(Words("something new"));
        assert_eq!(describe(OP, None, &e), format!("{OP}: dispatch failure: something new"));
    }

    #[test]
    fn modelled_errors_keep_their_type_in_the_chain_and_their_code_in_the_line() {
        let meta = ErrorMetadata::builder()
            .code("NotFound")
            .message("Topic does not exist")
            .build();
        let modelled = aws_sdk_sns::types::error::NotFoundException::builder()
            .message("Topic does not exist")
            .meta(meta)
            .build();
        let e: Err = SdkError::service_error(PublishError::NotFoundException(modelled), response(404));
        assert_eq!(chain(&e), "service error: NotFoundException: Topic does not exist");
        assert_eq!(describe(OP, None, &e), format!("{OP}: NotFound: Topic does not exist"));
        let e = service(400, "Throttling", "Rate exceeded");
        assert_eq!(chain(&e), "service error: Throttling: Rate exceeded");
    }

    #[test]
    fn a_service_error_without_a_code_keeps_its_words() {
        let e: Err = SdkError::service_error(PublishError::generic(ErrorMetadata::builder().build()), response(500));
        let line = chain(&e);
        assert!(line.starts_with("service error: "), "{line}");
        clean(&line);
    }
}
