//! Writes asked at about the same moment sent as one Batch API request (`POST
//! /api/now/v1/batch`): each write an item with its own id and Base64 body, each item's own status
//! and body read exactly as a single request's would be (see the module documentation of
//! [`super`]).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::Client;
use super::response::parse;
use crate::retry::{Failure, transport};

/// Most writes in one Batch API request: the instance runs a batch's items one after the other,
/// so a batch stays short (about a receive's worth of writes).
pub(super) const BATCH_WRITES: usize = 10;

/// How long the first write of a batch waits for others: the messages of a receive reach their
/// writes a few hundred microseconds apart, after their gathered lookup.
pub(super) const BATCH_WINDOW: Duration = Duration::from_millis(2);

/// Longest wait for a batch's answer: past ServiceNow's own 30 s batch limit, after which it
/// answers with the rest unserviced.
const BATCH_TIMEOUT_CAP: Duration = Duration::from_secs(40);

/// One write of a batch (equal by id).
#[derive(Clone)]
pub(super) struct Write {
    id: u64,
    method: Method,
    /// The path from the instance's root (`/api/now/v2/table/incident/…`).
    path: String,
    body: Arc<Json>,
}

impl PartialEq for Write {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Write {}

impl Hash for Write {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// What one item of a batch answered: its status and body text, or why there is none.
pub(super) type Reply = Result<(u16, String), Failure>;

impl Client {
    /// One write as an item of the batch it is gathered into: its item's reply, or `None` when
    /// the instance refused the Batch API (batching is then off, and the caller sends it alone).
    pub(super) async fn write_in_batch(&self, method: &Method, path: &str, body: &Arc<Json>) -> Option<Reply> {
        let write = Write {
            id: self.next_item.fetch_add(1, Ordering::Relaxed),
            method: method.clone(),
            path: path.to_owned(),
            body: body.clone(),
        };
        match self
            .writes
            .ask((), write.clone(), |writes| self.send_batch(writes))
            .await
        {
            Ok(replies) => Some(replies.get(&write).cloned().unwrap_or_else(|| Err(unserviced()))),
            Err(f) if matches!(f.status, Some(400 | 403 | 404 | 405)) => {
                if self.batching.swap(false, Ordering::Relaxed) {
                    tracing::warn!(error = %f, "ServiceNow refused the Batch API; writes go out one by one");
                }
                None
            }
            Err(f) => Some(Err(f)),
        }
    }

    /// One `POST /api/now/v1/batch` carrying `writes`; every write gets a reply.
    async fn send_batch(&self, writes: Vec<Write>) -> Result<HashMap<Write, Reply>, Failure> {
        let url = format!("{}/api/now/v1/batch", self.cfg.base_url.trim_end_matches('/'));
        // The instance runs the items one after the other: each gets the time of one request
        // (ServiceNow itself ends a batch after 30 s and returns the rest unserviced).
        let timeout = self
            .cfg
            .timeout
            .saturating_mul(writes.len().max(1) as u32)
            .min(BATCH_TIMEOUT_CAP);
        let req = self
            .http
            .post(url)
            .timeout(timeout.max(self.cfg.timeout))
            .json(&batch_request(&writes));
        let resp = self.authed(req).await?.send().await.map_err(transport)?;
        Ok(replies(writes, parse(resp).await?))
    }
}

/// The body of a Batch API request: each write an item with its id, method, path from the
/// instance's root, JSON headers and Base64 body; the first item's id names the batch.
fn batch_request(writes: &[Write]) -> Json {
    const HEADERS: [(&str, &str); 2] = [("Content-Type", "application/json"), ("Accept", "application/json")];
    let items: Vec<Json> = writes
        .iter()
        .map(|w| {
            json!({
                "id": w.id.to_string(),
                "method": w.method.as_str(),
                "url": w.path,
                "headers": HEADERS.map(|(name, value)| json!({ "name": name, "value": value })),
                "body": BASE64.encode(w.body.to_string()),
                "exclude_response_headers": true,
            })
        })
        .collect();
    let first = writes.first().map(|w| w.id).unwrap_or_default();
    json!({ "batch_request_id": first.to_string(), "rest_requests": items })
}

/// One item ServiceNow carried out.
#[derive(Deserialize)]
struct Served {
    id: String,
    status_code: u16,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

/// A Batch API answer (items in `unserviced_requests` are simply not in `serviced_requests`).
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    serviced_requests: Vec<Served>,
}

/// Every write's reply from the batch's answer: its serviced item's, or [`unserviced`].
fn replies(writes: Vec<Write>, answer: Answer) -> HashMap<Write, Reply> {
    let mut served: HashMap<String, Served> = answer
        .serviced_requests
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    writes
        .into_iter()
        .map(|w| {
            let reply = match served.remove(&w.id.to_string()) {
                Some(s) => item_reply(s.status_code, s.body.as_deref(), s.error_message),
                // In `unserviced_requests`, or missing: not carried out, so sent again.
                None => Err(unserviced()),
            };
            (w, reply)
        })
        .collect()
}

/// A write the batch did not carry out (`unserviced_requests`): retryable, as nothing happened.
fn unserviced() -> Failure {
    Failure {
        status: None,
        message: "ServiceNow did not service this write in its batch (a size or time limit)".to_owned(),
        retry_after: None,
    }
}

/// One serviced item: its status and its Base64 body decoded (an error item may carry only
/// `error_message`).
fn item_reply(status: u16, body: Option<&str>, error_message: Option<String>) -> Reply {
    let body: String = body
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let text = BASE64
        .decode(body.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Failure {
            status: Some(status),
            message: "a batch item's body is not Base64 of UTF-8 text".to_owned(),
            retry_after: None,
        })?;
    match error_message {
        Some(m) if text.is_empty() && !m.is_empty() => Ok((status, m)),
        _ => Ok((status, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(id: u64, method: Method, path: &str, body: Json) -> Write {
        Write {
            id,
            method,
            path: path.to_owned(),
            body: Arc::new(body),
        }
    }

    #[test]
    fn requests_carry_each_write_as_a_base64_item() {
        let writes = [
            write(
                7,
                Method::POST,
                "/api/now/v2/table/incident?sysparm_fields=sys_id",
                json!({"short_description": "é"}),
            ),
            write(
                8,
                Method::PATCH,
                "/api/now/v2/table/incident/abc",
                json!({"work_notes": "n"}),
            ),
        ];
        let req = batch_request(&writes);
        assert_eq!(req["batch_request_id"], "7");
        let items = req["rest_requests"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        assert_eq!(
            (
                items[1]["id"].as_str(),
                items[1]["method"].as_str(),
                items[1]["url"].as_str()
            ),
            (Some("8"), Some("PATCH"), Some("/api/now/v2/table/incident/abc"))
        );
        let body = BASE64.decode(items[0]["body"].as_str().expect("body")).expect("base64");
        assert_eq!(
            serde_json::from_slice::<Json>(&body).expect("json"),
            json!({"short_description": "é"})
        );
        assert_eq!(
            items[0]["headers"][0],
            json!({"name": "Content-Type", "value": "application/json"})
        );
        assert_eq!(items[0]["exclude_response_headers"], true);
        assert_eq!(batch_request(&[])["batch_request_id"], "0");
    }

    #[test]
    fn every_write_gets_its_items_reply_or_is_unserviced() {
        let writes = vec![
            write(1, Method::POST, "/a", json!({})),
            write(2, Method::PATCH, "/b", json!({})),
            write(3, Method::PATCH, "/c", json!({})),
        ];
        let answer: Answer = serde_json::from_value(json!({
            "batch_request_id": "1",
            "serviced_requests": [
                {"id": "1", "status_code": 201, "body": BASE64.encode(r#"{"result":{"sys_id":"s1"}}"#)},
                {"id": "2", "status_code": 403, "body": "", "error_message": "ACL Exception"}
            ],
            "unserviced_requests": ["3"]
        }))
        .expect("answer");
        let got = replies(writes.clone(), answer);
        assert_eq!(got.len(), 3);
        assert_eq!(got[&writes[0]], Ok((201, r#"{"result":{"sys_id":"s1"}}"#.to_owned())));
        assert_eq!(got[&writes[1]], Ok((403, "ACL Exception".to_owned())));
        let unserviced = got[&writes[2]].clone().expect_err("not carried out");
        assert!(
            unserviced.is_retryable() && unserviced.status.is_none(),
            "{unserviced:?}"
        );
    }

    #[test]
    fn item_bodies_are_base64_of_utf8() {
        // ServiceNow wraps long Base64 lines; whitespace inside is ignored.
        let wrapped = format!(
            "{}\n{}",
            &BASE64.encode("{\"result\":1}")[..8],
            &BASE64.encode("{\"result\":1}")[8..]
        );
        assert_eq!(
            item_reply(200, Some(&wrapped), None),
            Ok((200, "{\"result\":1}".to_owned()))
        );
        let f = item_reply(200, Some("not base64!"), None).expect_err("bad");
        assert_eq!(f.status, Some(200));
        assert!(f.message.contains("Base64"));
        assert_eq!(
            item_reply(404, None, Some("Not found".into())),
            Ok((404, "Not found".to_owned()))
        );
        assert_eq!(item_reply(204, None, None), Ok((204, String::new())));
    }
}
