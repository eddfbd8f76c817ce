//! Reading the Table API's answers: `{"result": …}` on 2xx, else a failure with ServiceNow's own
//! words from `{"error": {"message", "detail"}, "status": "failure"}` (or an excerpt of a body
//! that is not that, such as a proxy's HTML page).

use std::time::Duration;

use serde::Deserialize;

use crate::http;
use crate::retry::Failure;

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<String>,
}

/// The envelope of every Table API answer.
#[derive(Deserialize)]
pub(super) struct Result1<T> {
    pub(super) result: T,
}

/// Reads a response: the typed body on 2xx, else a classified failure with ServiceNow's message.
pub(super) async fn parse<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, Failure> {
    let answer = http::read(resp).await?;
    read(answer.status, answer.retry_after, &answer.body)
}

/// [`parse`] of a status and body already read (a whole response, or a batch item's).
pub(super) fn read<T: serde::de::DeserializeOwned>(
    status: u16,
    retry_after: Option<Duration>,
    text: &str,
) -> Result<T, Failure> {
    let answer = http::Answer {
        status,
        retry_after,
        body: text.to_owned(),
    };
    if answer.is_success() {
        return serde_json::from_str(text).map_err(|e| Failure {
            retry_after: None,
            ..answer.failure(format!("unexpected response body: {e}"))
        });
    }
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(b) => Err(answer.failure(match b.error.detail {
            Some(d) if !d.is_empty() => format!("{}: {d}", b.error.message),
            _ => b.error.message,
        })),
        // Not ServiceNow's error body (a proxy's page, an empty 503): an excerpt of it.
        Err(_) => Err(answer.refusal()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servicenow::Incident;

    fn rows(status: u16, body: &str) -> Result<Vec<Incident>, Failure> {
        read::<Result1<Vec<Incident>>>(status, None, body).map(|r| r.result)
    }

    #[test]
    fn results_are_read_from_their_envelope() {
        let got = rows(
            200,
            r#"{"result":[{"sys_id":"a","number":"INC1","state":"2"},{"sys_id":"b","number":"INC2"}]}"#,
        )
        .expect("rows");
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].sys_id.as_str(), got[0].state.as_str()), ("a", "2"));
        assert_eq!(rows(200, r#"{"result":[]}"#), Ok(Vec::new()));
        let one = read::<Result1<Incident>>(201, None, r#"{"result":{"sys_id":"c","number":"INC3"}}"#)
            .expect("one row")
            .result;
        assert_eq!(one.number, "INC3");
    }

    #[test]
    fn a_2xx_that_is_not_the_envelope_is_a_permanent_failure() {
        for body in [
            "",
            "<html>login</html>",
            r#"{"records":[]}"#,
            r#"{"result":{"sys_id":"x"}}"#,
        ] {
            let f = rows(200, body).expect_err(body);
            assert_eq!(f.status, Some(200), "{body}");
            assert!(f.message.starts_with("unexpected response body: "), "{f}");
            assert!(!f.is_retryable(), "{body}");
        }
    }

    #[test]
    fn errors_carry_servicenows_message_and_detail() {
        let f = rows(
            403,
            r#"{"error":{"message":"Operation Failed","detail":"ACL Exception Update Failed due to security constraints"},"status":"failure"}"#,
        )
        .expect_err("refused");
        assert_eq!(
            f,
            Failure {
                status: Some(403),
                message: "Operation Failed: ACL Exception Update Failed due to security constraints".into(),
                retry_after: None,
            }
        );
        let f = rows(
            401,
            r#"{"error":{"message":"User Not Authenticated","detail":""},"status":"failure"}"#,
        )
        .expect_err("401");
        assert_eq!(f.message, "User Not Authenticated");
        let f = rows(
            404,
            r#"{"error":{"message":"No Record found","detail":null},"status":"failure"}"#,
        )
        .expect_err("404");
        assert_eq!((f.status, f.message.as_str()), (Some(404), "No Record found"));
    }

    #[test]
    fn throttling_keeps_its_wait_and_other_bodies_are_bounded_excerpts() {
        let wait = Some(Duration::from_secs(30));
        let f = read::<Result1<Vec<Incident>>>(
            429,
            wait,
            r#"{"error":{"message":"Too many requests","detail":"Rate limit exceeded"},"status":"failure"}"#,
        )
        .map(|r| r.result)
        .expect_err("429");
        assert!(f.is_retryable() && f.retry_after == wait, "{f:?}");
        let page = format!("<html>\n<body>{}</body>\n</html>", "Service Unavailable ".repeat(100));
        let f = rows(503, &page).expect_err("503");
        assert!(f.is_retryable());
        assert!(f.message.starts_with("<html> <body>Service Unavailable"), "{f}");
        assert!(
            f.message.chars().count() <= http::EXCERPT && !f.message.contains('\n'),
            "{f}"
        );
        assert_eq!(rows(502, "").expect_err("502").message, "no error text");
    }
}
