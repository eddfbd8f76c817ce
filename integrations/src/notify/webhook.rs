//! Chat webhooks: Slack incoming webhooks and Microsoft Teams Workflows webhooks (Office 365
//! connectors are retired). One JSON POST per digest, with an `Idempotency-Key` header, retried
//! per [`RetryPolicy`], and paced: Slack allows about one message per second per webhook.
//!
//! How each service answers (DESIGN §6):
//! - Slack: 200 `ok`; refusals as plain-text bodies with a 4xx (`invalid_payload` 400,
//!   `action_prohibited` 403, `channel_not_found` and `no_service` 404, `channel_is_archived`
//!   410), permanent; 429 with `Retry-After` and 5xx (`rollup_error`), retryable.
//! - Teams Workflows: 202 (or 200) on success; throttling may come as 429 or inside a 2xx body
//!   ("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error
//!   429 …"), so a 2xx body that reports a failure is a failure, classified by the status it
//!   names.
//!
//! The URL is the credential (anyone holding it can post), so it lives in a [`WebhookUrl`] whose
//! `Debug` is redacted; errors name the webhook (``slack webhook `team-data` ``) and are scrubbed
//! of the URL and of its path and query tokens, whatever the transport put in them.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::payload::{slack_payload, teams_payload};
use super::{Digest, Notifier, SendFuture};
use crate::http::{self, Answer, excerpt};
use crate::retry::{Failure, RetryPolicy, chain, transport};

/// A webhook URL: a secret. `Debug` never shows it and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Wraps a URL read from the configuration's secret store.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, for the request only: never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Replaces the URL and every path or query token of it found in `text` by `<redacted>`.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.0, "<redacted>");
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, r)| r);
        if let Some((_, path)) = rest.split_once('/') {
            // Tokens first, longest first, so a short one cannot split a longer one.
            let mut tokens: Vec<&str> = path.split(['/', '?', '&', '=', '#']).filter(|t| t.len() >= 8).collect();
            tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
            if path.len() >= 8 {
                out = out.replace(path, "<redacted>");
            }
            for t in tokens {
                out = out.replace(t, "<redacted>");
            }
        }
        out
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

/// One webhook.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// A name for logs and errors (e.g. the owner or channel: `team-data`); never the URL.
    pub name: String,
    /// The webhook URL (a secret).
    pub url: WebhookUrl,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Retries of one send.
    pub retry: RetryPolicy,
    /// Least time between two requests to this webhook (Slack: about one message per second).
    pub min_interval: Duration,
}

impl WebhookConfig {
    /// `name` at `url` with a 10 s timeout, the default retries and one request per second.
    pub fn new(name: impl Into<String>, url: WebhookUrl) -> Self {
        Self {
            name: name.into(),
            url,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            min_interval: Duration::from_secs(1),
        }
    }
}

/// What differs between two webhook services; the rest (pacing, retries, the idempotency
/// header, redaction) is [`WebhookNotifier`]'s.
pub trait WebhookService: Send + Sync + 'static {
    /// The kind in names and errors (``slack webhook `team-data` ``).
    const KIND: &'static str;
    /// The notifier's name in `Debug` output.
    const NOTIFIER: &'static str;
    /// The JSON body of one digest.
    fn payload(digest: &Digest) -> Json;
    /// What one attempt's answer means: `Ok` when delivered, else a classified failure.
    fn outcome(answer: &Answer) -> Result<(), Failure>;
}

/// Slack incoming webhooks: refusals as plain-text bodies with a 4xx.
#[derive(Debug, Clone, Copy)]
pub struct Slack;

impl WebhookService for Slack {
    const KIND: &'static str = "slack";
    const NOTIFIER: &'static str = "SlackNotifier";

    fn payload(digest: &Digest) -> Json {
        slack_payload(digest)
    }

    fn outcome(answer: &Answer) -> Result<(), Failure> {
        slack_outcome(answer)
    }
}

/// Microsoft Teams Workflows webhooks ("post to a channel when a webhook request is received"):
/// failures, throttling included, may come inside a 2xx body.
#[derive(Debug, Clone, Copy)]
pub struct Teams;

impl WebhookService for Teams {
    const KIND: &'static str = "teams";
    const NOTIFIER: &'static str = "TeamsNotifier";

    fn payload(digest: &Digest) -> Json {
        teams_payload(digest)
    }

    fn outcome(answer: &Answer) -> Result<(), Failure> {
        teams_outcome(answer)
    }
}

/// Posts digests to a Slack incoming webhook.
pub type SlackNotifier = WebhookNotifier<Slack>;

/// Posts digests to a Microsoft Teams Workflows webhook.
pub type TeamsNotifier = WebhookNotifier<Teams>;

/// Posts digests to one webhook of service `S`, paced and retried.
pub struct WebhookNotifier<S: WebhookService> {
    http: reqwest::Client,
    cfg: WebhookConfig,
    /// ``slack webhook `team-data` ``.
    label: String,
    /// When the last request started (pacing).
    last: Mutex<Option<Instant>>,
    service: PhantomData<S>,
}

impl<S: WebhookService> WebhookNotifier<S> {
    /// A notifier for one webhook.
    pub fn new(cfg: WebhookConfig) -> Result<Self, Failure> {
        let label = format!("{} webhook `{}`", S::KIND, cfg.name);
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            // A redirect would carry the request (and its token) elsewhere; webhooks never need one.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Failure {
                status: None,
                message: format!("{label}: cannot build the HTTP client: {}", chain(&e.without_url())),
                retry_after: None,
            })?;
        Ok(Self {
            http,
            cfg,
            label,
            last: Mutex::new(None),
            service: PhantomData,
        })
    }

    /// Waits until `min_interval` has passed since the previous request. The lock is held while
    /// waiting, so concurrent sends through one webhook queue up instead of bursting.
    async fn pace(&self) {
        let mut last = self.last.lock().await;
        if let Some(t) = *last {
            tokio::time::sleep_until(t + self.cfg.min_interval).await;
        }
        *last = Some(Instant::now());
    }

    async fn post(&self, body: &Json, key: &str) -> Result<(), Failure> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let key = header_value(key);
        self.cfg
            .retry
            .run(|| async {
                self.pace().await;
                let mut req = self
                    .http
                    .post(self.cfg.url.expose_secret())
                    // Without a charset, Teams has been seen to count the body as UTF-16.
                    .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(bytes.clone());
                if !key.is_empty() {
                    req = req.header("Idempotency-Key", key.as_str());
                }
                let resp = req.send().await.map_err(transport)?;
                S::outcome(&http::read(resp).await?)
            })
            .await
            .map_err(|f| Failure {
                message: self.cfg.url.scrub(&format!("{}: {}", self.label, f.message)),
                ..f
            })
    }
}

impl<S: WebhookService> fmt::Debug for WebhookNotifier<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(S::NOTIFIER).field("webhook", &self.cfg).finish()
    }
}

impl<S: WebhookService> Notifier for WebhookNotifier<S> {
    fn name(&self) -> &str {
        &self.label
    }

    fn send<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(async move { self.post(&S::payload(digest), &digest.idempotency_key).await })
    }
}

/// The key as a header value: visible ASCII kept, anything else percent-encoded.
fn header_value(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'%' => "%25".to_owned(),
            0x21..=0x7e => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Slack: 2xx is delivered; otherwise the plain-text body names the refusal, and the status
/// decides (429 and 5xx retryable, other 4xx permanent).
fn slack_outcome(answer: &Answer) -> Result<(), Failure> {
    if answer.is_success() {
        return Ok(());
    }
    Err(answer.refusal())
}

/// The status a Teams body reports ("… returned HTTP error 429 …"), if any.
fn reported_status(body: &str) -> Option<u16> {
    let at = body.find("HTTP error ")? + "HTTP error ".len();
    body.get(at..at + 3)?.parse().ok().filter(|s| (100..600).contains(s))
}

/// Teams Workflows: 2xx is delivered unless the body reports a failure; a reported status
/// classifies it (429 and 5xx retryable), throttling words mean 429, any other reported failure
/// is retried as a transport problem would be.
fn teams_outcome(answer: &Answer) -> Result<(), Failure> {
    if !answer.is_success() {
        return Err(answer.refusal());
    }
    let lower = answer.body.to_ascii_lowercase();
    let throttled = ["throttl", "toomanyrequests", "too many requests", "rate limit"]
        .iter()
        .any(|w| lower.contains(w));
    let failed = ["fail", "error", "exception"].iter().any(|w| lower.contains(w));
    if !throttled && !failed {
        return Ok(());
    }
    Err(Failure {
        status: reported_status(&answer.body).or(throttled.then_some(429)),
        message: format!(
            "answered {} but reported a failure: {}",
            answer.status,
            excerpt(&answer.body)
        ),
        retry_after: answer.retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<Duration>, body: &str) -> Answer {
        Answer {
            status,
            retry_after,
            body: body.to_owned(),
        }
    }

    fn slack(status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        slack_outcome(&answer(status, retry_after, body))
    }

    fn teams(status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        teams_outcome(&answer(status, retry_after, body))
    }

    const URL: &str = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx";

    #[test]
    fn slack_classification() {
        assert!(slack(200, None, "ok").is_ok());
        let f = slack(400, None, "invalid_payload").expect_err("refused");
        assert!(!f.is_retryable() && f.message == "invalid_payload");
        for (status, body) in [
            (404, "channel_not_found"),
            (404, "no_service"),
            (410, "channel_is_archived"),
            (403, "action_prohibited"),
        ] {
            assert!(!slack(status, None, body).expect_err(body).is_retryable());
        }
        let f = slack(429, Some(Duration::from_secs(3)), "rate_limited").expect_err("429");
        assert!(f.is_retryable() && f.retry_after == Some(Duration::from_secs(3)));
        assert!(slack(500, None, "rollup_error").expect_err("500").is_retryable());
    }

    #[test]
    fn teams_classification() {
        assert!(teams(202, None, "").is_ok());
        assert!(teams(200, None, "1").is_ok());
        let f = teams(
            200,
            None,
            "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0",
        )
        .expect_err("throttled in the body");
        assert_eq!(f.status, Some(429));
        assert!(f.is_retryable() && f.message.starts_with("answered 200 but reported a failure: Webhook"));
        let f = teams(200, None, "… returned HTTP error 413 with ContextId x").expect_err("too large");
        assert!(!f.is_retryable());
        assert_eq!(
            teams(200, None, "Request was throttled").expect_err("throttled").status,
            Some(429)
        );
        assert!(
            teams(200, None, "System.Net.Http.HttpRequestException: Error while copying")
                .expect_err("x")
                .is_retryable()
        );
        assert!(
            teams(429, Some(Duration::from_secs(1)), "")
                .expect_err("429")
                .is_retryable()
        );
        assert!(
            !teams(400, None, "{\"error\":{\"code\":\"InvalidRequestContent\"}}")
                .expect_err("400")
                .is_retryable()
        );
    }

    #[test]
    fn urls_are_redacted() {
        let url = WebhookUrl::new(URL);
        assert_eq!(format!("{url:?}"), "WebhookUrl(<redacted>)");
        let cfg = WebhookConfig::new("team-data", url.clone());
        assert!(!format!("{cfg:?}").contains("abcdefghijkl"));
        let scrubbed = url.scrub(&format!("failed for {URL} and B0456EFGH and /services/T0123ABCD/x"));
        assert!(!scrubbed.contains("abcdefghij") && !scrubbed.contains("B0456EFGH") && !scrubbed.contains("T0123ABCD"));
        let teams = WebhookUrl::new(
            "https://prod.westeurope.logic.azure.com:443/workflows/0123456789abcdef/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SiGnAtUrE0123456789",
        );
        let s = teams.scrub("echo sig=SiGnAtUrE0123456789 and 0123456789abcdef");
        assert!(!s.contains("SiGnAtUrE") && !s.contains("0123456789abcdef"), "{s}");
    }

    #[test]
    fn idempotency_header_values_are_visible_ascii() {
        assert_eq!(
            header_value("111111111111/eu-west-1/mw-0123"),
            "111111111111/eu-west-1/mw-0123"
        );
        assert_eq!(header_value("a b\né%"), "a%20b%0A%C3%A9%25");
    }
}
