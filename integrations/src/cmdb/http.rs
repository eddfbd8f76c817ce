//! [`HttpCmdb`]: owners from an HTTP JSON CMDB at a URL template; the contract is on the type.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Lookup, Node, Owner, OwnerSource, non_empty};
use crate::http;
use crate::retry::{Failure, RetryPolicy, transport};

/// Configuration of an [`HttpCmdb`]. `Debug` prints no token.
#[derive(Clone)]
pub struct HttpCmdbConfig {
    /// URL template with `{account}`, `{region}` and `{node}`, e.g.
    /// `https://cmdb.example.com/owners/{account}/{region}/{node}`.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Retries of one lookup.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for HttpCmdbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCmdbConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// A CMDB behind an HTTP JSON API. The contract:
///
/// - `GET <template>` with `{account}`, `{region}` and `{node}` replaced by the node's account
///   id, region and id, each percent-encoded (everything but `A–Z a–z 0–9 - . _ ~`);
///   `Accept: application/json`; `Authorization: Bearer <token>` when a token is configured.
/// - **200** `{"owner": "...", "email": "...", "group": "..."}`: every member optional (a string
///   or `null`; empty strings count as absent; other members are ignored). `owner` names the
///   owner; without it, `group` does; with neither, the node is known but unowned.
/// - **404**: the CMDB does not know the node ([`Lookup::Unknown`]).
/// - **429**, **5xx**, timeouts and refused connections: retryable (`Retry-After` in seconds is
///   honoured); any other status, or a 200 whose body is not that JSON, is permanent.
#[derive(Clone)]
pub struct HttpCmdb {
    http: reqwest::Client,
    template: Arc<[Part]>,
    token: Option<Arc<str>>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for HttpCmdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCmdb").field("template", &self.template).finish()
    }
}

/// A piece of a parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Account,
    Region,
    Node,
}

/// Parses a URL template strictly: `http(s)://`, placeholders `{account}`, `{region}`, `{node}`
/// only, none in the scheme or host, and no stray brace.
fn parse_template(template: &str) -> Result<Vec<Part>, ConfigError> {
    let problem = |p: &str| ConfigError::Template {
        template: template.to_owned(),
        problem: p.to_owned(),
    };
    let Some(rest) = template
        .strip_prefix("https://")
        .or_else(|| template.strip_prefix("http://"))
    else {
        return Err(problem("must start with https:// (or http://)"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(['{', '}']) {
        return Err(problem(
            "needs a literal host: placeholders belong in the path or query",
        ));
    }
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let part = match name.as_str() {
                    "account" => Part::Account,
                    "region" => Part::Region,
                    "node" => Part::Node,
                    other => {
                        return Err(problem(&format!(
                            "unknown placeholder `{{{other}}}`: use {{account}}, {{region}} or {{node}}"
                        )));
                    }
                };
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(part);
            }
            '}' => return Err(problem("a `}` without its `{`")),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    if !parts.contains(&Part::Node) {
        return Err(problem("must contain {node}, or every node would get the same owner"));
    }
    Ok(parts)
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn expand(template: &[Part], node: &Node<'_>) -> String {
    template
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Account => encode(node.account),
            Part::Region => encode(node.region),
            Part::Node => encode(node.id),
        })
        .collect()
}

/// The JSON CMDB's answer.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

fn parse_answer(body: &str) -> Result<Lookup, String> {
    let a: Answer = serde_json::from_str(body).map_err(|e| format!("unexpected response body: {e}"))?;
    let (owner, email, group) = (
        a.owner.and_then(non_empty),
        a.email.and_then(non_empty),
        a.group.and_then(non_empty),
    );
    let Some(name) = owner.or_else(|| group.clone()) else {
        return Ok(Lookup::Unowned(None));
    };
    Ok(Lookup::Found(Owner {
        email,
        group,
        ..Owner::named(name, OwnerSource::Http)
    }))
}

impl HttpCmdb {
    /// Checks the template and builds the client.
    pub fn new(cfg: HttpCmdbConfig) -> Result<HttpCmdb, ConfigError> {
        let template = parse_template(&cfg.url)?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(HttpCmdb {
            http,
            template: template.into(),
            token: cfg.token.map(Into::into),
            retry: cfg.retry,
        })
    }

    /// The URL asked for `node`.
    pub fn url(&self, node: &Node<'_>) -> String {
        expand(&self.template, node)
    }

    /// The owner of `node`.
    pub async fn lookup(&self, node: &Node<'_>) -> Result<Lookup, Failure> {
        // `.` and `..` would be dot segments, which URL parsers remove; no real id is one.
        if [node.account, node.region, node.id]
            .iter()
            .any(|v| matches!(*v, "" | "." | ".."))
        {
            return Ok(Lookup::Unknown);
        }
        let url = self.url(node);
        self.retry
            .run(|| async {
                let mut req = self.http.get(&url).header("accept", "application/json");
                if let Some(t) = &self.token {
                    req = req.bearer_auth(t);
                }
                let answer = http::read(req.send().await.map_err(transport)?).await?;
                match answer.status {
                    200..=299 => parse_answer(&answer.body).map_err(|m| answer.failure(m)),
                    404 => Ok(Lookup::Unknown),
                    _ => Err(answer.refusal()),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node<'a>(account: &'a str, region: &'a str, id: &'a str) -> Node<'a> {
        Node { account, region, id }
    }

    #[test]
    fn templates_expand_with_every_value_encoded() {
        let t = parse_template("https://cmdb.example.com/owners/{account}/{region}/{node}?v=1").expect("parses");
        assert_eq!(
            expand(&t, &node("111111111111", "us-east-1", "i-0abc")),
            "https://cmdb.example.com/owners/111111111111/us-east-1/i-0abc?v=1"
        );
        assert_eq!(
            expand(&t, &node("1/2", "eu west", "a?b&c=d#é")),
            "https://cmdb.example.com/owners/1%2F2/eu%20west/a%3Fb%26c%3Dd%23%C3%A9?v=1"
        );
        let q = parse_template("http://127.0.0.1:8080/lookup?node={node}").expect("parses");
        assert_eq!(
            expand(&q, &node("", "", "mi-0123")),
            "http://127.0.0.1:8080/lookup?node=mi-0123"
        );
    }

    #[test]
    fn templates_are_strict() {
        let bad = |t: &str| match parse_template(t) {
            Err(ConfigError::Template { problem, .. }) => problem,
            other => panic!("{t}: {other:?}"),
        };
        assert!(bad("cmdb.example.com/{node}").contains("https://"));
        assert!(bad("https://{account}.example.com/{node}").contains("literal host"));
        assert!(bad("https://cmdb.example.com/{instance}").contains("unknown placeholder `{instance}`"));
        assert!(bad("https://cmdb.example.com/{node}}").contains("without its"));
        assert!(bad("https://cmdb.example.com/owners/{account}").contains("{node}"));
    }

    #[test]
    fn answers() {
        let found = |l: Lookup| l.owner().cloned().expect("found");
        let o = found(
            parse_answer(r#"{"owner":"Payments","email":"pay@example.com","group":"Pay Ops","x":1}"#).expect("parses"),
        );
        assert_eq!(
            (o.name.as_str(), o.email.as_deref(), o.group.as_deref(), o.source),
            ("Payments", Some("pay@example.com"), Some("Pay Ops"), OwnerSource::Http)
        );
        let g = found(parse_answer(r#"{"owner":"  ","email":null,"group":"Pay Ops"}"#).expect("parses"));
        assert_eq!(
            (g.name.as_str(), g.email, g.group.as_deref()),
            ("Pay Ops", None, Some("Pay Ops"))
        );
        assert_eq!(parse_answer("{}"), Ok(Lookup::Unowned(None)));
        assert!(
            parse_answer("<html>")
                .expect_err("not JSON")
                .contains("unexpected response body")
        );
        assert!(parse_answer(r#"{"owner": 7}"#).is_err());
    }
}
