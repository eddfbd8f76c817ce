//! Retries: bounded, with exponential backoff and jitter, honouring `Retry-After`.
//!
//! Whether an error is worth retrying is decided where it arises ([`Failure::is_retryable`]):
//! timeouts, connection failures, 429 and 5xx are; 400, 401, 403, 404 and other 4xx are not,
//! because the same request would fail the same way.

use std::time::Duration;

/// How a client retries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// First backoff; doubles each attempt.
    pub base: Duration,
    /// Longest backoff, and the longest `Retry-After` honoured within one call.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

/// A failed request, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
pub struct Failure {
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// What the server or the transport said.
    pub message: String,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// Timeouts, connection errors (no status), 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s == 429 || (500..600).contains(&s),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n + 1` (n ≥ 1): `Retry-After` when given, else
    /// `base × 2^(n-1)` with ±50 % jitter, both capped.
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.cap);
        }
        let exp = self.base.saturating_mul(1u32 << (n.saturating_sub(1)).min(16));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        exp.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0).min(self.cap)
    }

    /// Runs `op` until it succeeds, fails permanently, or the attempts are spent.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut n = 0;
        loop {
            n += 1;
            match op().await {
                Ok(v) => return Ok(v),
                Err(f) if f.is_retryable() && n < self.attempts => {
                    tokio::time::sleep(self.delay(n, f.retry_after)).await
                }
                Err(f) => return Err(f),
            }
        }
    }
}

/// Parses `Retry-After` in its delta-seconds form (the form ServiceNow sends).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An error and its causes on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// A transport failure (timeout, connection, body): retryable, and without the URL that
/// reqwest would otherwise print.
pub fn transport(e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    Failure {
        status: None,
        message: format!("{kind}: {}", chain(&e.without_url())),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let f = |s: Option<u16>| Failure {
            status: s,
            message: String::new(),
            retry_after: None,
        };
        assert!(f(None).is_retryable() && f(Some(429)).is_retryable() && f(Some(503)).is_retryable());
        assert!(!f(Some(400)).is_retryable() && !f(Some(401)).is_retryable() && !f(Some(403)).is_retryable());
    }

    #[test]
    fn delays_honour_retry_after_and_caps() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        assert_eq!(p.delay(1, Some(Duration::from_secs(1))), Duration::from_secs(1));
        assert_eq!(p.delay(1, Some(Duration::from_secs(60))), Duration::from_secs(2));
        let d = p.delay(3, None);
        assert!(
            d >= Duration::from_millis(200) && d < Duration::from_millis(600),
            "{d:?}"
        );
        assert!(p.delay(30, None) <= Duration::from_secs(2));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
