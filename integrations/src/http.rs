//! One reading of an HTTP response for every client (ServiceNow, the HTTP CMDB, chat webhooks):
//! the status, the `Retry-After` it sent and the body read to its end ([`read`]), and a failure
//! made from them that carries the status, the wait asked for and an excerpt of the body bounded
//! in length and on one line ([`Answer::failure`], [`excerpt`]), so an HTML error page or a
//! stack trace never floods a log line.
//!
//! What a body *means* stays with each client: ServiceNow's `{"error": {"message", "detail"}}`,
//! Slack's plain-text refusals, Teams' throttling reported inside a 2xx.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::retry::{Failure, parse_retry_after, transport};

/// Longest excerpt of a body kept in a failure (characters, the ellipsis included).
pub const EXCERPT: usize = 200;

/// A response read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The server's `Retry-After` in seconds, when it sent one that parses.
    pub retry_after: Option<Duration>,
    /// The body as text.
    pub body: String,
}

/// Reads `resp` to its end; a body that cannot be read is a transport failure (retryable).
pub async fn read(resp: reqwest::Response) -> Result<Answer, Failure> {
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let body = resp.text().await.map_err(transport)?;
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// `Retry-After` in its delta-seconds form; absent, an HTTP date or garbage is `None` (the
/// caller then backs off on its own schedule).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

impl Answer {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A failure of this answer saying `message`, with its status and `Retry-After` (so
    /// [`Failure::is_retryable`] decides by the status).
    pub fn failure(&self, message: impl Into<String>) -> Failure {
        Failure {
            status: Some(self.status),
            message: message.into(),
            retry_after: self.retry_after,
        }
    }

    /// A failure whose message is the body's [`excerpt`], or "no error text" for an empty body.
    pub fn refusal(&self) -> Failure {
        let text = excerpt(&self.body);
        self.failure(if text.is_empty() {
            "no error text".to_owned()
        } else {
            text
        })
    }
}

/// `body` on one line (whitespace runs folded to one space), cut to at most [`EXCERPT`]
/// characters on a character boundary, ending in `…` when cut.
pub fn excerpt(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= EXCERPT {
        return line;
    }
    let mut out: String = line.chars().take(EXCERPT - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: Option<&[u8]>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        if let Some(v) = retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from_bytes(v).expect("header value"));
        }
        h
    }

    #[test]
    fn retry_after_in_seconds_absent_or_garbage() {
        assert_eq!(retry_after(&headers(Some(b"120"))), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&headers(Some(b" 3 "))), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&headers(Some(b"0"))), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(None)), None);
        for garbage in [
            &b"soon"[..],
            b"-5",
            b"1.5",
            b"",
            b"Wed, 21 Oct 2015 07:28:00 GMT",
            b"\xff\xfe",
        ] {
            assert_eq!(
                retry_after(&headers(Some(garbage))),
                None,
                "{}",
                String::from_utf8_lossy(garbage)
            );
        }
    }

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(excerpt("  invalid_payload\n"), "invalid_payload");
        assert_eq!(excerpt("a\n\tb   c"), "a b c");
        let html = format!("<html>\n<body>{}</body></html>", "é".repeat(10_000));
        let e = excerpt(&html);
        assert_eq!(e.chars().count(), EXCERPT, "{e}");
        assert!(e.starts_with("<html> <body>éé") && e.ends_with('…') && !e.contains('\n'));
        let exact = "x".repeat(EXCERPT);
        assert_eq!(excerpt(&exact), exact, "at the limit nothing is cut");
        assert_eq!(excerpt(&"x".repeat(EXCERPT + 1)).chars().count(), EXCERPT);
    }

    #[test]
    fn failures_carry_the_status_the_wait_and_the_excerpt() {
        let a = Answer {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
            body: "rate_limited\n".into(),
        };
        assert!(!a.is_success());
        let f = a.refusal();
        assert_eq!(
            f,
            Failure {
                status: Some(429),
                message: "rate_limited".into(),
                retry_after: Some(Duration::from_secs(7)),
            }
        );
        assert!(f.is_retryable());
        let empty = Answer {
            status: 400,
            retry_after: None,
            body: " \n".into(),
        };
        assert_eq!(empty.refusal().message, "no error text");
        assert!(!empty.refusal().is_retryable());
        assert!(
            Answer {
                status: 204,
                retry_after: None,
                body: String::new()
            }
            .is_success()
        );
    }
}
