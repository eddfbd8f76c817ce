//! `servicenow:`: the instance incidents and tickets go to, and how the bridge signs in.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::settings::{SecretRef, Setting, check_secret, check_setting, error};

/// `servicenow:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowConfig {
    /// Instance URL, `https://<instance>.service-now.com`.
    pub instance_url: Setting,
    /// Table incidents are written to. Default `incident`.
    #[serde(default = "default_table")]
    pub table: String,
    /// Authentication.
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub auth: AuthConfig,
    /// Timeout of one HTTP request. Default 10.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Attempts per call, counting the first (429, 5xx and timeouts are retried with backoff and
    /// jitter, honouring `Retry-After`). Default 4.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Assignment group of incidents whose owner has no entry in `owner_groups`.
    #[serde(default)]
    pub assignment_group: Option<String>,
    /// Owner (tag value) → assignment group.
    #[serde(default)]
    pub owner_groups: BTreeMap<String, String>,
    /// Claims bucket (`{env: PATCHPLANE_CLAIMS_BUCKET}`: the central stack creates it): a ticket
    /// is created only by the bridge task that claims its key first, so tasks racing on one key
    /// never both create (ADR 017). Without it, the later of two racing creates cancels itself as
    /// a `Duplicate` (ADR 007), a row on-call may see.
    #[serde(default)]
    pub claims_bucket: Option<Setting>,
    /// Writes of messages handled together go out as one Batch API request
    /// (`POST /api/now/v1/batch`). Default true; an instance that refuses the Batch API gets its
    /// writes one by one without this being changed.
    #[serde(default = "default_true")]
    pub batch_writes: bool,
}

/// `servicenow.auth:`: exactly one of `basic` or `oauth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum AuthConfig {
    /// HTTP basic.
    Basic {
        /// User name.
        user: String,
        /// Password reference.
        #[serde(with = "serde_yaml::with::singleton_map")]
        password: SecretRef,
    },
    /// OAuth 2.0 client credentials (`/oauth_token.do`).
    Oauth {
        /// Client id.
        client_id: String,
        /// Client secret reference.
        #[serde(with = "serde_yaml::with::singleton_map")]
        client_secret: SecretRef,
    },
}

/// A URL the client may talk to: HTTPS, or plain HTTP to loopback (the emulator).
pub(crate) fn acceptable_url(u: &str) -> bool {
    u.starts_with("https://")
        || ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| {
                u.strip_prefix(p)
                    .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
            })
}

pub(crate) fn default_table() -> String {
    "incident".into()
}

fn default_timeout() -> u64 {
    10
}

fn default_true() -> bool {
    true
}

fn default_attempts() -> u32 {
    4
}

impl ServiceNowConfig {
    /// Its problems, with key paths.
    pub(crate) fn check(&self, out: &mut Vec<Finding>) {
        let s = self;
        check_setting(out, "servicenow.instance_url", &s.instance_url);
        if let Setting::Value(u) = &s.instance_url
            && !acceptable_url(u)
        {
            out.push(error(
                "servicenow.instance_url",
                "must be an https:// URL (plain http only to 127.0.0.1 or localhost, for the emulator)",
            ));
        }
        if s.table.is_empty() || !s.table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push(error("servicenow.table", "must be a table name (letters, digits, `_`)"));
        }
        if !(1..=120).contains(&s.timeout_seconds) {
            out.push(error("servicenow.timeout_seconds", "must be 1–120"));
        }
        if !(1..=10).contains(&s.max_attempts) {
            out.push(error("servicenow.max_attempts", "must be 1–10"));
        }
        match &s.auth {
            AuthConfig::Basic { user, password } => {
                if user.is_empty() {
                    out.push(error("servicenow.auth.basic.user", "must not be empty"));
                }
                check_secret(out, "servicenow.auth.basic.password", password);
            }
            AuthConfig::Oauth {
                client_id,
                client_secret,
            } => {
                if client_id.is_empty() {
                    out.push(error("servicenow.auth.oauth.client_id", "must not be empty"));
                }
                check_secret(out, "servicenow.auth.oauth.client_secret", client_secret);
            }
        }
    }
}
