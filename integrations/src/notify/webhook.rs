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
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::payload::{slack_payload, teams_payload};
use super::{Digest, Notifier, SendFuture};
use crate::retry::{Failure, RetryPolicy, chain, parse_retry_after, transport};

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

/// What one attempt's response means.
type Classify = fn(u16, Option<Duration>, &str) -> Result<(), Failure>;

/// The HTTP side both webhook kinds share.
struct Poster {
    http: reqwest::Client,
    cfg: WebhookConfig,
    /// ``slack webhook `team-data` ``.
    label: String,
    /// When the last request started (pacing).
    last: Mutex<Option<Instant>>,
}

impl Poster {
    fn new(kind: &str, cfg: WebhookConfig) -> Result<Self, Failure> {
        let label = format!("{kind} webhook `{}`", cfg.name);
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

    async fn post(&self, body: &Json, key: &str, classify: Classify) -> Result<(), Failure> {
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
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let text = resp.text().await.map_err(transport)?;
                classify(status, retry_after, &text)
            })
            .await
            .map_err(|f| Failure {
                message: self.cfg.url.scrub(&format!("{}: {}", self.label, f.message)),
                ..f
            })
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

/// The first 200 characters of a body, on one line.
fn snippet(body: &str) -> String {
    let s: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    super::payload::truncate_chars(&s, 200)
}

/// Slack: 2xx is delivered; otherwise the plain-text body names the refusal, and the status
/// decides (429 and 5xx retryable, other 4xx permanent).
fn slack_outcome(status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let text = snippet(body);
    Err(Failure {
        status: Some(status),
        message: if text.is_empty() {
            "no error text".to_owned()
        } else {
            text
        },
        retry_after,
    })
}

/// The status a Teams body reports ("… returned HTTP error 429 …"), if any.
fn reported_status(body: &str) -> Option<u16> {
    let at = body.find("HTTP error ")? + "HTTP error ".len();
    body.get(at..at + 3)?.parse().ok().filter(|s| (100..600).contains(s))
}

/// Teams Workflows: 2xx is delivered unless the body reports a failure; a reported status
/// classifies it (429 and 5xx retryable), throttling words mean 429, any other reported failure
/// is retried as a transport problem would be.
fn teams_outcome(status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
    let text = snippet(body);
    if (200..300).contains(&status) {
        let lower = body.to_ascii_lowercase();
        let throttled = ["throttl", "toomanyrequests", "too many requests", "rate limit"]
            .iter()
            .any(|w| lower.contains(w));
        let failed = ["fail", "error", "exception"].iter().any(|w| lower.contains(w));
        if !throttled && !failed {
            return Ok(());
        }
        let reported = reported_status(body).or(throttled.then_some(429));
        return Err(Failure {
            status: reported,
            message: format!("answered {status} but reported a failure: {text}"),
            retry_after,
        });
    }
    Err(Failure {
        status: Some(status),
        message: if text.is_empty() {
            "no error text".to_owned()
        } else {
            text
        },
        retry_after,
    })
}

/// Posts digests to a Slack incoming webhook.
pub struct SlackNotifier {
    poster: Poster,
}

impl SlackNotifier {
    /// A notifier for one Slack incoming webhook.
    pub fn new(cfg: WebhookConfig) -> Result<Self, Failure> {
        Ok(Self {
            poster: Poster::new("slack", cfg)?,
        })
    }
}

impl fmt::Debug for SlackNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackNotifier")
            .field("webhook", &self.poster.cfg)
            .finish()
    }
}

impl Notifier for SlackNotifier {
    fn name(&self) -> &str {
        &self.poster.label
    }

    fn send<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(async move {
            self.poster
                .post(&slack_payload(digest), &digest.idempotency_key, slack_outcome)
                .await
        })
    }
}

/// Posts digests to a Microsoft Teams Workflows webhook ("post to a channel when a webhook
/// request is received").
pub struct TeamsNotifier {
    poster: Poster,
}

impl TeamsNotifier {
    /// A notifier for one Teams Workflows webhook.
    pub fn new(cfg: WebhookConfig) -> Result<Self, Failure> {
        Ok(Self {
            poster: Poster::new("teams", cfg)?,
        })
    }
}

impl fmt::Debug for TeamsNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsNotifier")
            .field("webhook", &self.poster.cfg)
            .finish()
    }
}

impl Notifier for TeamsNotifier {
    fn name(&self) -> &str {
        &self.poster.label
    }

    fn send<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a> {
        Box::pin(async move {
            self.poster
                .post(&teams_payload(digest), &digest.idempotency_key, teams_outcome)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx";

    #[test]
    fn slack_classification() {
        assert!(slack_outcome(200, None, "ok").is_ok());
        let f = slack_outcome(400, None, "invalid_payload").expect_err("refused");
        assert!(!f.is_retryable() && f.message == "invalid_payload");
        for (status, body) in [
            (404, "channel_not_found"),
            (404, "no_service"),
            (410, "channel_is_archived"),
            (403, "action_prohibited"),
        ] {
            assert!(!slack_outcome(status, None, body).expect_err(body).is_retryable());
        }
        let f = slack_outcome(429, Some(Duration::from_secs(3)), "rate_limited").expect_err("429");
        assert!(f.is_retryable() && f.retry_after == Some(Duration::from_secs(3)));
        assert!(
            slack_outcome(500, None, "rollup_error")
                .expect_err("500")
                .is_retryable()
        );
    }

    #[test]
    fn teams_classification() {
        assert!(teams_outcome(202, None, "").is_ok());
        assert!(teams_outcome(200, None, "1").is_ok());
        let f = teams_outcome(
            200,
            None,
            "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0",
        )
        .expect_err("throttled in the body");
        assert_eq!(f.status, Some(429));
        assert!(f.is_retryable() && f.message.starts_with("answered 200 but reported a failure: Webhook"));
        let f = teams_outcome(200, None, "… returned HTTP error 413 with ContextId x").expect_err("too large");
        assert!(!f.is_retryable());
        assert_eq!(
            teams_outcome(200, None, "Request was throttled")
                .expect_err("throttled")
                .status,
            Some(429)
        );
        assert!(
            teams_outcome(200, None, "System.Net.Http.HttpRequestException: Error while copying")
                .expect_err("x")
                .is_retryable()
        );
        assert!(
            teams_outcome(429, Some(Duration::from_secs(1)), "")
                .expect_err("429")
                .is_retryable()
        );
        assert!(
            !teams_outcome(400, None, "{\"error\":{\"code\":\"InvalidRequestContent\"}}")
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
