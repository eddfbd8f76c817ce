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
//!
//! # Layout
//! - `mod.rs`: the [`Client`], its [`Config`] and [`Auth`] (basic, or an OAuth token kept until
//!   a minute before it expires), the Table API path pinned to v2.
//! - [`state`]: incident states by name ([`IncidentState`]) and "open".
//! - `incident.rs`: the row as the bridge reads it ([`Incident`]), what to open ([`NewIncident`]),
//!   what an upsert did ([`Upserted`]).
//! - `query.rs`: encoded queries (escaping, `IN` lists, the fields asked for), as pure functions.
//! - `read.rs`, `write.rs`: the client's reads and writes of incidents.
//! - `batch.rs`: writes gathered into Batch API requests.
//! - `response.rs`: `{"result": …}` and ServiceNow's error bodies.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::gather::Gather;
use crate::retry::{Failure, RetryPolicy, transport};

mod batch;
mod incident;
mod query;
mod read;
mod response;
pub mod state;
mod write;

pub use incident::{Incident, NewIncident, Upserted};
pub use query::query_value;
pub use state::IncidentState;

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

/// The ServiceNow client.
pub struct Client {
    http: reqwest::Client,
    cfg: Config,
    token: Mutex<Option<(String, Instant)>>,
    /// Writes waiting to go out together as one Batch API request.
    writes: Gather<(), batch::Write, batch::Reply, Failure>,
    /// Whether writes are batched: [`Config::batch_writes`], until the instance refuses the API.
    batching: AtomicBool,
    /// Ids of batch items.
    next_item: AtomicU64,
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
            writes: Gather::new(batch::BATCH_WRITES).with_window(batch::BATCH_WINDOW),
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
        let t: Token = response::parse(resp).await?;
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
}

/// The Table API path of `table` from the instance's root. Pinned to v2: an empty list is 200
/// `[]` there, where v1 answers 404 (KB0551763).
fn table_path(table: &str) -> String {
    format!("/api/now/v2/table/{table}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base_url: &str) -> Client {
        Client::new(Config {
            base_url: base_url.to_owned(),
            table: "incident".into(),
            auth: Auth::Basic {
                user: "bridge".into(),
                password: "s3cret".into(),
            },
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            batch_writes: true,
        })
        .expect("client")
    }

    #[test]
    fn urls_are_pinned_to_table_api_v2() {
        let c = client("https://acme.service-now.com/");
        assert_eq!(c.table_url(), "https://acme.service-now.com/api/now/v2/table/incident");
        assert_eq!(
            c.url_of("cmdb_ci_vm_instance"),
            "https://acme.service-now.com/api/now/v2/table/cmdb_ci_vm_instance"
        );
        assert!(c.batching());
    }

    #[test]
    fn debug_prints_no_secret() {
        let basic = Auth::Basic {
            user: "bridge".into(),
            password: "s3cret".into(),
        };
        let oauth = Auth::OAuth {
            client_id: "id".into(),
            client_secret: "sh-secret".into(),
        };
        let text = format!("{basic:?} {oauth:?} {:?}", client("https://x").cfg);
        assert!(!text.contains("s3cret") && !text.contains("sh-secret"), "{text}");
        assert!(text.contains("bridge") && text.contains("<redacted>"), "{text}");
    }
}
