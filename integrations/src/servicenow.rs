//! ServiceNow Table API incidents, written against the documented API (DESIGN §6):
//! `POST /api/now/table/incident` (201, `{"result": {…}}`), `GET` with
//! `sysparm_query=correlation_id=K^stateIN1,2,3` (open means New, In Progress or On Hold: a
//! Resolved incident is still `active=true`), `PATCH /api/now/table/incident/{sys_id}` for work
//! notes, basic auth or OAuth client credentials (`/oauth_token.do`), errors as
//! `{"error": {"message", "detail"}, "status": "failure"}`.
//!
//! Idempotency: [`Client::upsert`] looks for an open incident with the correlation key before it
//! creates one, and checks that the row it gets back really carries that key: ServiceNow ignores
//! a query term it does not understand and would then return some other incident. A `^` inside
//! the key is escaped (`^^`) so it cannot split the encoded query.
//!
//! Writes (`POST`, `PATCH`) asked at about the same moment go out together as one Batch API
//! request (`POST /api/now/v1/batch`, [`Config::batch_writes`]): each write is an item with its
//! own id and Base64 body, and each item's own status and body are read exactly as the single
//! request's would be, so retries, 4xx refusals and the returned row are the same either way. An
//! item the instance did not service (`unserviced_requests`, a size or time limit) is a retryable
//! failure of that write alone; a failed batch request is a failure of each of its writes. An
//! instance that refuses the Batch API itself (400, 403, 404, 405) turns batching off for the
//! client's life and the writes go out one by one.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::gather::Gather;
use crate::retry::{Failure, RetryPolicy, parse_retry_after, transport};

/// How the client authenticates. Secrets come from the bridge's configuration by reference
/// (environment or Secrets Manager), never from code or logs; `Debug` prints no secret.
#[derive(Clone)]
pub enum Auth {
    /// HTTP basic.
    Basic {
        /// User.
        user: String,
        /// Password.
        password: String,
    },
    /// OAuth 2.0 client credentials against `/oauth_token.do`.
    OAuth {
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, password: <redacted> }}"),
            Auth::OAuth { client_id, .. } => {
                write!(f, "OAuth {{ client_id: {client_id:?}, client_secret: <redacted> }}")
            }
        }
    }
}

/// Client configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Instance URL, e.g. `https://acme.service-now.com`.
    pub base_url: String,
    /// Table, normally `incident`.
    pub table: String,
    /// Authentication.
    pub auth: Auth,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Retries of one call.
    pub retry: RetryPolicy,
    /// Writes asked at about the same moment go out as one Batch API request (see the module
    /// documentation); `false` sends each alone.
    pub batch_writes: bool,
}

/// An incident as the bridge needs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Incident {
    /// Row id.
    pub sys_id: String,
    /// `INC…`.
    pub number: String,
    /// The correlation key.
    #[serde(default)]
    pub correlation_id: String,
    /// `state`: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled.
    #[serde(default)]
    pub state: String,
    /// `correlation_display`: patchplane keeps there the time of the newest event applied to
    /// the row (RFC 3339), so an older event never moves it backwards.
    #[serde(default)]
    pub correlation_display: String,
    /// `due_date` (`YYYY-MM-DD HH:MM:SS`, UTC), for vulnerability tickets.
    #[serde(default)]
    pub due_date: String,
    /// `escalation` (task field: 0 Normal, 1 Moderate, 2 High, 3 Overdue): the escalation stage
    /// the sweep recorded.
    #[serde(default)]
    pub escalation: String,
    /// `urgency`, 1 (high) – 3 (low).
    #[serde(default)]
    pub urgency: String,
    /// The assignment group's name (`assignment_group.name`, dot-walked), to tell its owner.
    #[serde(default, rename = "assignment_group.name")]
    pub assignment_group_name: String,
}

/// Incident states (DESIGN §6). A Resolved incident is still `active=true`: "open" is New, In
/// Progress or On Hold, never `active=true`.
pub mod state {
    /// New.
    pub const NEW: &str = "1";
    /// In Progress (what a reopen moves a Resolved incident back to).
    pub const IN_PROGRESS: &str = "2";
    /// On Hold.
    pub const ON_HOLD: &str = "3";
    /// Resolved: still active until it auto-closes.
    pub const RESOLVED: &str = "6";
    /// Closed: inactive, never reopened.
    pub const CLOSED: &str = "7";
    /// Canceled: inactive.
    pub const CANCELED: &str = "8";
    /// The encoded-query term for "open".
    pub const OPEN_QUERY: &str = "stateIN1,2,3";

    /// Whether `s` is an open state.
    pub fn is_open(s: &str) -> bool {
        matches!(s, NEW | IN_PROGRESS | ON_HOLD)
    }
}

impl Incident {
    /// New, In Progress or On Hold.
    pub fn is_open(&self) -> bool {
        state::is_open(&self.state)
    }
}

/// What to open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIncident {
    /// One line.
    pub short_description: String,
    /// Details.
    pub description: String,
    /// 1 (high) – 3 (low).
    pub urgency: u8,
    /// 1 (high) – 3 (low).
    pub impact: u8,
    /// Assignment group, when known.
    pub assignment_group: Option<String>,
}

/// What [`Client::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    /// A new incident.
    Created(Incident),
    /// An open incident with the key got a work note.
    Updated(Incident),
}

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

/// The ServiceNow client.
pub struct Client {
    http: reqwest::Client,
    cfg: Config,
    token: Mutex<Option<(String, Instant)>>,
    /// Writes waiting to go out together as one Batch API request.
    writes: Gather<(), Write, Reply, Failure>,
    /// Whether writes are batched: [`Config::batch_writes`], until the instance refuses the API.
    batching: AtomicBool,
    /// Ids of batch items.
    next_item: AtomicU64,
}

/// Most writes in one Batch API request: the instance runs a batch's items one after the other,
/// so a batch stays short (about a receive's worth of writes).
const BATCH_WRITES: usize = 10;

/// How long the first write of a batch waits for others: the messages of a receive reach their
/// writes a few hundred microseconds apart, after their gathered lookup.
const BATCH_WINDOW: Duration = Duration::from_millis(2);

/// Longest wait for a batch's answer: past ServiceNow's own 30 s batch limit, after which it
/// answers with the rest unserviced.
const BATCH_TIMEOUT_CAP: Duration = Duration::from_secs(40);

/// One write of a batch (equal by id).
#[derive(Clone)]
struct Write {
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
type Reply = Result<(u16, String), Failure>;

/// The fields [`Incident`] reads, as a literal (for [`FIELDS`] and [`WRITE_FIELDS`]).
macro_rules! fields {
    () => {
        "sys_id,number,correlation_id,state,correlation_display,due_date,escalation,urgency,assignment_group.name"
    };
}

/// The fields every read asks for.
const FIELDS: &str = fields!();

/// The query of every write: the answer carries only the fields [`Incident`] reads (the Table
/// API takes `sysparm_fields` on `POST` and `PATCH` too), not the whole row.
const WRITE_FIELDS: &str = concat!("?sysparm_fields=", fields!(), "&sysparm_exclude_reference_link=true");

/// Escapes a value for an encoded query: `^` separates terms, `^^` is a literal caret.
pub fn query_value(v: &str) -> String {
    v.replace('^', "^^")
}

/// How many rows per key [`Client::latest_with_keys`] asks for (one key's single lookup asks 5).
const LATEST_PER_KEY: usize = 5;

/// The values of an `IN` term: escaped, comma-separated (the caller keeps commas out of them).
fn in_list(keys: &[&String]) -> String {
    keys.iter().map(|k| query_value(k)).collect::<Vec<_>>().join(",")
}

impl Client {
    /// Builds a client.
    pub fn new(cfg: Config) -> Result<Client, Failure> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| Failure {
                status: None,
                message: format!("cannot build the HTTP client: {e}"),
                retry_after: None,
            })?;
        Ok(Client {
            http,
            batching: AtomicBool::new(cfg.batch_writes),
            cfg,
            token: Mutex::new(None),
            writes: Gather::new(BATCH_WRITES).with_window(BATCH_WINDOW),
            next_item: AtomicU64::new(1),
        })
    }

    fn table_url(&self) -> String {
        self.url_of(&self.cfg.table)
    }

    fn url_of(&self, table: &str) -> String {
        format!("{}{}", self.cfg.base_url.trim_end_matches('/'), table_path(table))
    }

    /// Whether writes still go out in batches ([`Config::batch_writes`], and the instance has
    /// not refused the Batch API).
    pub fn batching(&self) -> bool {
        self.batching.load(Ordering::Relaxed)
    }

    async fn bearer(&self, client_id: &str, client_secret: &str) -> Result<String, Failure> {
        if let Ok(guard) = self.token.lock()
            && let Some((t, until)) = guard.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let url = format!("{}/oauth_token.do", self.cfg.base_url.trim_end_matches('/'));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ];
        let resp = self.http.post(url).form(&form).send().await.map_err(transport)?;
        let t: Token = parse(resp).await?;
        // Refresh a minute early, so a token does not expire between check and use.
        let ttl = Duration::from_secs(t.expires_in.unwrap_or(1800).saturating_sub(60).max(1));
        if let Ok(mut guard) = self.token.lock() {
            *guard = Some((t.access_token.clone(), Instant::now() + ttl));
        }
        Ok(t.access_token)
    }

    async fn authed(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, Failure> {
        Ok(match &self.cfg.auth {
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::OAuth {
                client_id,
                client_secret,
            } => req.bearer_auth(self.bearer(client_id, client_secret).await?),
        })
    }

    /// The open incident carrying `key`, if any (checked: the row must carry exactly that key).
    pub async fn find_open(&self, key: &str) -> Result<Option<Incident>, Failure> {
        Ok(self.open_with_key(key, 1).await?.into_iter().next())
    }

    /// Open incidents carrying `key`, oldest first (at most `limit`; rows not carrying exactly
    /// `key`, or not open, are dropped).
    pub async fn open_with_key(&self, key: &str, limit: usize) -> Result<Vec<Incident>, Failure> {
        // "Open" is a state, not `active=true`: a Resolved incident stays active for a day.
        let query = format!(
            "correlation_id={}^{}^ORDERBYsys_created_on^ORDERBYnumber",
            query_value(key),
            state::OPEN_QUERY
        );
        let rows = self.list(&query, limit).await?;
        // ServiceNow silently drops a query term it cannot apply; never trust the filter.
        Ok(rows
            .into_iter()
            .filter(|i| i.correlation_id == key && i.is_open())
            .collect())
    }

    /// Rows matching an encoded `query` (at most `limit`), with the fields [`Incident`] reads.
    /// The caller checks every row against what it asked for.
    pub async fn list(&self, query: &str, limit: usize) -> Result<Vec<Incident>, Failure> {
        let limit = limit.to_string();
        self.cfg
            .retry
            .run(|| async {
                let req = self.http.get(self.table_url()).query(&[
                    ("sysparm_query", query),
                    ("sysparm_limit", limit.as_str()),
                    ("sysparm_fields", FIELDS),
                    ("sysparm_exclude_reference_link", "true"),
                ]);
                let resp = self.authed(req).await?.send().await.map_err(transport)?;
                #[derive(Deserialize)]
                struct Rows {
                    result: Vec<Incident>,
                }
                Ok(parse::<Rows>(resp).await?.result)
            })
            .await
    }

    /// Rows of any `table` (not only the configured one), with auth and retries: a `GET
    /// /api/now/v2/table/{table}` with the caller's `sysparm_*` parameters, each row as the JSON
    /// object ServiceNow sent (shape set by `sysparm_display_value` and
    /// `sysparm_exclude_reference_link`). For readers of other tables, such as
    /// [`crate::cmdb`]; the caller checks every row against what it asked for.
    pub async fn rows(
        &self,
        table: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<serde_json::Map<String, Json>>, Failure> {
        let url = self.url_of(table);
        self.cfg
            .retry
            .run(|| async {
                let req = self.http.get(&url).query(params);
                let resp = self.authed(req).await?.send().await.map_err(transport)?;
                #[derive(Deserialize)]
                struct Rows {
                    result: Vec<serde_json::Map<String, Json>>,
                }
                Ok(parse::<Rows>(resp).await?.result)
            })
            .await
    }

    /// The newest row carrying `key` that is not a canceled duplicate, in any other state:
    /// what a resolution, a reopen or a repeat decides on.
    pub async fn latest_with_key(&self, key: &str) -> Result<Option<Incident>, Failure> {
        let query = format!(
            "correlation_id={}^state!={}^ORDERBYDESCsys_created_on^ORDERBYDESCnumber",
            query_value(key),
            state::CANCELED
        );
        let rows = self.list(&query, 5).await?;
        Ok(rows
            .into_iter()
            .find(|i| i.correlation_id == key && i.state != state::CANCELED))
    }

    /// [`Client::latest_with_key`] for several keys in one query
    /// (`correlation_idINk1,k2,…`, newest first): every key gets an entry. The answer is read as
    /// complete only when fewer rows came back than asked for; otherwise each key with no row in
    /// it is asked alone (the rows that did come are the newest of all, so a key that has one has
    /// its newest). A key with a comma cannot be listed, and is asked alone too.
    pub async fn latest_with_keys(&self, keys: &[String]) -> Result<HashMap<String, Option<Incident>>, Failure> {
        let (listed, alone): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| !k.contains(','));
        let mut out: HashMap<String, Option<Incident>> = HashMap::new();
        let mut ask_alone: Vec<&String> = alone;
        if listed.len() > 1 {
            let query = format!(
                "correlation_idIN{}^state!={}^ORDERBYDESCsys_created_on^ORDERBYDESCnumber",
                in_list(&listed),
                state::CANCELED
            );
            let limit = LATEST_PER_KEY * listed.len();
            let rows = self.list(&query, limit).await?;
            let complete = rows.len() < limit;
            for row in rows {
                if row.state != state::CANCELED
                    && listed.contains(&&row.correlation_id)
                    && !out.contains_key(&row.correlation_id)
                {
                    out.insert(row.correlation_id.clone(), Some(row));
                }
            }
            for key in listed {
                if !out.contains_key(key) {
                    if complete {
                        out.insert(key.clone(), None);
                    } else {
                        ask_alone.push(key);
                    }
                }
            }
        } else {
            ask_alone.extend(listed);
        }
        for key in ask_alone {
            out.insert(key.clone(), self.latest_with_key(key).await?);
        }
        Ok(out)
    }

    /// [`Client::open_with_key`] for several keys in one query (`correlation_idINk1,k2,…`,
    /// oldest first), at most `limit` rows per key. If as many rows came back as asked for, the
    /// keys are asked one by one instead; a key with a comma is always asked alone.
    pub async fn open_with_keys(
        &self,
        keys: &[String],
        limit: usize,
    ) -> Result<HashMap<String, Vec<Incident>>, Failure> {
        let (listed, mut ask_alone): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| !k.contains(','));
        let mut out: HashMap<String, Vec<Incident>> = HashMap::new();
        if listed.len() > 1 {
            let query = format!(
                "correlation_idIN{}^{}^ORDERBYsys_created_on^ORDERBYnumber",
                in_list(&listed),
                state::OPEN_QUERY
            );
            let asked = limit * listed.len();
            let rows = self.list(&query, asked).await?;
            if rows.len() < asked {
                for key in &listed {
                    out.insert((*key).clone(), Vec::new());
                }
                for row in rows {
                    if row.is_open()
                        && let Some(rows) = out.get_mut(&row.correlation_id)
                        && rows.len() < limit
                    {
                        rows.push(row);
                    }
                }
            } else {
                ask_alone.extend(listed);
            }
        } else {
            ask_alone.extend(listed);
        }
        for key in ask_alone {
            out.insert(key.clone(), self.open_with_key(key, limit).await?);
        }
        Ok(out)
    }

    /// Open rows whose key starts with `prefix` and ends with `suffix` (at most 100): the failed
    /// executions of one window, the failed commands on one node.
    pub async fn open_with_prefix(&self, prefix: &str, suffix: &str) -> Result<Vec<Incident>, Failure> {
        let mut query = format!("correlation_idSTARTSWITH{}^{}", query_value(prefix), state::OPEN_QUERY);
        if !suffix.is_empty() {
            query.push_str(&format!("^correlation_idENDSWITH{}", query_value(suffix)));
        }
        query.push_str("^ORDERBYsys_created_on");
        let rows = self.list(&query, 100).await?;
        Ok(rows
            .into_iter()
            .filter(|i| i.correlation_id.starts_with(prefix) && i.correlation_id.ends_with(suffix) && i.is_open())
            .collect())
    }

    /// Creates an incident carrying `key`.
    pub async fn create(&self, key: &str, new: &NewIncident) -> Result<Incident, Failure> {
        self.create_with(key, new, serde_json::Map::new()).await
    }

    /// Creates an incident carrying `key`, with `extra` fields (`due_date`, `correlation_display`,
    /// a `state` with its close fields, …) beside those of `new`.
    pub async fn create_with(
        &self,
        key: &str,
        new: &NewIncident,
        extra: serde_json::Map<String, Json>,
    ) -> Result<Incident, Failure> {
        self.create_once(key, new, extra, None).await
    }

    /// [`Client::create_with`], made once even when an attempt goes unanswered. A `POST` whose
    /// answer was lost (a timeout, a dropped connection, a 5xx from a proxy) may have created the
    /// row, and sending it again would make a second. So when `extra` carries the create's
    /// `correlation_display` (the event's time), each retry first reads the key's newest row: a
    /// row other than `known` (the newest before this create) carrying that same value is the
    /// one an earlier attempt made, and is returned instead of creating another.
    pub async fn create_once(
        &self,
        key: &str,
        new: &NewIncident,
        extra: serde_json::Map<String, Json>,
        known: Option<&str>,
    ) -> Result<Incident, Failure> {
        let mut body = json!({
            "short_description": new.short_description,
            "description": new.description,
            "correlation_id": key,
            "urgency": new.urgency.to_string(),
            "impact": new.impact.to_string(),
        });
        if let Some(g) = &new.assignment_group {
            body["assignment_group"] = Json::String(g.clone());
        }
        let marker = match extra.get("correlation_display") {
            Some(Json::String(m)) if !m.is_empty() => Some(m.clone()),
            _ => None,
        };
        if let Some(fields) = body.as_object_mut() {
            fields.extend(extra);
        }
        let body = Arc::new(body);
        let path = format!("{}{WRITE_FIELDS}", table_path(&self.cfg.table));
        let mut sent = false;
        self.cfg
            .retry
            .run(|| {
                let again = std::mem::replace(&mut sent, true);
                let (path, body, marker) = (&path, &body, &marker);
                async move {
                    if again
                        && let Some(marker) = marker
                        && let Some(row) = self.latest_with_key(key).await?
                        && Some(row.sys_id.as_str()) != known
                        && row.correlation_display == *marker
                    {
                        tracing::debug!(%key, number = %row.number, "An unanswered create had made the row");
                        return Ok(row);
                    }
                    self.write_attempt(&Method::POST, path, body).await
                }
            })
            .await
    }

    /// Sends a write (`POST` or `PATCH` of `path` with its query, from the instance's root) with auth and
    /// retries, in a batch with others when batching, and returns the row ServiceNow answers with.
    async fn write(&self, method: Method, path: String, body: Json) -> Result<Incident, Failure> {
        let body = Arc::new(body);
        self.cfg.retry.run(|| self.write_attempt(&method, &path, &body)).await
    }

    /// One attempt of [`Client::write`].
    async fn write_attempt(&self, method: &Method, path: &str, body: &Arc<Json>) -> Result<Incident, Failure> {
        if self.batching()
            && let Some(reply) = self.write_in_batch(method, path, body).await
        {
            let (status, text) = reply?;
            return Ok(read::<Result1<Incident>>(status, None, &text)?.result);
        }
        let url = format!("{}{path}", self.cfg.base_url.trim_end_matches('/'));
        let req = self.http.request(method.clone(), &url).json(&**body);
        let resp = self.authed(req).await?.send().await.map_err(transport)?;
        Ok(parse::<Result1<Incident>>(resp).await?.result)
    }

    /// One write as an item of the batch it is gathered into: its item's reply, or `None` when
    /// the instance refused the Batch API (batching is then off, and the caller sends it alone).
    async fn write_in_batch(&self, method: &Method, path: &str, body: &Arc<Json>) -> Option<Reply> {
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
            .json(&json!({ "batch_request_id": first.to_string(), "rest_requests": items }));
        let resp = self.authed(req).await?.send().await.map_err(transport)?;
        #[derive(Deserialize)]
        struct Served {
            id: String,
            status_code: u16,
            #[serde(default)]
            body: Option<String>,
            #[serde(default)]
            error_message: Option<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            serviced_requests: Vec<Served>,
        }
        let answer: Answer = parse(resp).await?;
        let mut served: HashMap<String, Served> = answer
            .serviced_requests
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        Ok(writes
            .into_iter()
            .map(|w| {
                let reply = match served.remove(&w.id.to_string()) {
                    Some(s) => item_reply(s.status_code, s.body.as_deref(), s.error_message),
                    // In `unserviced_requests`, or missing: not carried out, so sent again.
                    None => Err(unserviced()),
                };
                (w, reply)
            })
            .collect())
    }

    /// PATCHes fields of one incident (with retries) and returns the updated row.
    pub async fn patch(&self, sys_id: &str, body: Json) -> Result<Incident, Failure> {
        self.write(
            Method::PATCH,
            format!("{}/{sys_id}{WRITE_FIELDS}", table_path(&self.cfg.table)),
            body,
        )
        .await
    }

    /// Adds a work note to an incident.
    pub async fn add_work_note(&self, sys_id: &str, note: &str) -> Result<Incident, Failure> {
        self.patch(sys_id, json!({ "work_notes": note })).await
    }

    /// Resolves an incident: state Resolved with both close fields (many instances make them
    /// mandatory by a UI policy, which REST bypasses; send them anyway). The integration account
    /// only resolves; ServiceNow closes it after `glide.ui.autoclose.time`.
    /// `stamp` is the time of the event that fixed it (kept in `correlation_display`).
    pub async fn resolve(
        &self,
        sys_id: &str,
        close_code: &str,
        close_notes: &str,
        stamp: &str,
    ) -> Result<Incident, Failure> {
        self.patch(
            sys_id,
            json!({
                "state": state::RESOLVED,
                "close_code": close_code,
                "close_notes": close_notes,
                "correlation_display": stamp,
            }),
        )
        .await
    }

    /// Adds a work note and records `stamp`, the time of the event it reports.
    pub async fn note(&self, sys_id: &str, note: &str, stamp: &str) -> Result<Incident, Failure> {
        self.patch(sys_id, json!({ "work_notes": note, "correlation_display": stamp }))
            .await
    }

    /// Reopens a Resolved incident (back to In Progress) with a work note; ServiceNow itself
    /// counts `reopen_count`. A Closed incident cannot be reopened: open a new one instead.
    pub async fn reopen(&self, sys_id: &str, note: &str, stamp: &str) -> Result<Incident, Failure> {
        self.patch(
            sys_id,
            json!({ "state": state::IN_PROGRESS, "work_notes": note, "correlation_display": stamp }),
        )
        .await
    }

    /// Closes `dup` as a duplicate of `of`.
    pub async fn close_duplicate(&self, dup: &Incident, of: &Incident) -> Result<Incident, Failure> {
        let note = format!(
            "Duplicate of {}: opened concurrently for the same correlation key",
            of.number
        );
        self.patch(
            &dup.sys_id,
            json!({ "state": state::CANCELED, "close_code": "Duplicate", "work_notes": note }),
        )
        .await
    }

    /// Opens an incident for `key`, or adds `note` to the open one.
    ///
    /// The Table API has no create-if-absent, so two bridges can both find nothing and both
    /// create. After creating, the client lists the open incidents with the key, oldest first: if
    /// another one is older, it closes its own as a duplicate and adds the note to the oldest.
    /// Every bridge agrees on the oldest, so exactly one incident per key stays open. (Within one
    /// process the sink also serializes deliveries per key, so this only settles races between
    /// processes, and retries of a create whose first attempt did reach ServiceNow.)
    pub async fn upsert(&self, key: &str, new: &NewIncident, note: &str) -> Result<Upserted, Failure> {
        if let Some(open) = self.find_open(key).await? {
            self.add_work_note(&open.sys_id, note).await?;
            return Ok(Upserted::Updated(open));
        }
        let created = self.create(key, new).await?;
        let open = self.open_with_key(key, 10).await?;
        match open.first() {
            Some(oldest) if oldest.sys_id != created.sys_id => {
                self.close_duplicate(&created, oldest).await?;
                self.add_work_note(&oldest.sys_id, note).await?;
                Ok(Upserted::Updated(oldest.clone()))
            }
            _ => Ok(Upserted::Created(created)),
        }
    }
}

#[derive(Deserialize)]
struct Result1<T> {
    result: T,
}

/// The Table API path of `table` from the instance's root. Pinned to v2: an empty list is 200
/// `[]` there, where v1 answers 404 (KB0551763).
fn table_path(table: &str) -> String {
    format!("/api/now/v2/table/{table}")
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

/// Reads a response: the typed body on 2xx, else a classified failure with ServiceNow's message.
async fn parse<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, Failure> {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let text = resp.text().await.map_err(transport)?;
    read(status, retry_after, &text)
}

/// [`parse`] of a status and body already read (a whole response, or a batch item's).
fn read<T: serde::de::DeserializeOwned>(status: u16, retry_after: Option<Duration>, text: &str) -> Result<T, Failure> {
    if (200..300).contains(&status) {
        return serde_json::from_str(text).map_err(|e| Failure {
            status: Some(status),
            message: format!("unexpected response body: {e}"),
            retry_after: None,
        });
    }
    let message = match serde_json::from_str::<ErrorBody>(text) {
        Ok(b) => match b.error.detail {
            Some(d) if !d.is_empty() => format!("{}: {d}", b.error.message),
            _ => b.error.message,
        },
        Err(_) => text.chars().take(200).collect(),
    };
    Err(Failure {
        status: Some(status),
        message,
        retry_after,
    })
}
