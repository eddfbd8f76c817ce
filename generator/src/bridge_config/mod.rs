//! `bridge.yaml`: the bridge's configuration, strict and validated before anything starts.
//!
//! Unknown keys are errors, every field has a documented default, and every problem is reported
//! as `file:line: error: \`key.path\`: message` (the generator's diagnostics). Secrets are never
//! values in the file: a password or client secret is `{env: NAME}` or `{secret_arn: ARN}`
//! (Secrets Manager, read once at start-up). Settings that differ per deployment (the queue URL,
//! the instance URL) may also be `{env: NAME}`, so one file serves every environment and the ECS
//! task definition fills them in. See `examples/bridge.yaml` for every field.
//!
//! This is the one home of the file's types and rules: `patchplane-bridge check` and
//! `patchplane validate` (for the policy's `central.bridge.config`, where the same types are
//! embedded) both run [`BridgeConfig::validate`], and the generator fills the settings it derives
//! from the policy through these types. It lives in the generator's library, below the renderer,
//! because the bridge already links that library for the schedule model (ADR 011).
//!
//! The file is a little over 800 lines because its tests (about 170) load whole files; the
//! sections that grew (tickets, schedule, owners and notifications, rules) have files of their
//! own.
//!
//! - [`rules`]: the routing rules (`routes:`) and their defaults; matching them against events is
//!   the bridge's `route` stage.
//! - `tickets.rs`: `tickets:`, the vulnerability tickets of the closed loop ([`TicketsConfig`]).
//! - `schedule.rs`: `schedule:`, the install windows the generator derives from the policy
//!   ([`ScheduleConfig`]).
//! - [`owners`]: `owners:` (the owner chain) and `notify:` (SNS, Slack, Teams digests).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Finding, LineIndex, Severity};
use crate::ids::{is_env_name, is_role_name, is_secret_arn};

pub mod owners;
pub mod rules;
mod schedule;
mod tickets;

pub use owners::{
    CLAIMS_BUCKET_ENV, EVIDENCE_BUCKET_ENV, HttpCmdbConfig, NOTIFY_TOPIC_ENV, NotifyConfig, OwnerStep, OwnersConfig,
    SnsConfig, WebhookConfig, WindowNoticesConfig,
};
pub use rules::{Action, Match, Rule, default_rules};
pub use schedule::{ScheduleConfig, WindowSpec};
pub use tickets::{FindingSeverity, SlaDays, TicketsConfig};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Format version; `1`.
    pub version: u32,
    /// The central queue and how it is consumed.
    pub queue: QueueConfig,
    /// The ServiceNow instance incidents go to.
    pub servicenow: ServiceNowConfig,
    /// Tags of the nodes events are about.
    #[serde(default)]
    pub enrich: EnrichConfig,
    /// Routing rules; without them, the defaults (failed or timed-out patch runs and
    /// non-compliant patch state → incident; active critical/high findings → Inspector ticket).
    #[serde(default)]
    pub routes: Option<Vec<Rule>>,
    /// Shutdown, health, metrics and logs.
    #[serde(default)]
    pub operations: Operations,
    /// AWS client settings.
    #[serde(default)]
    pub aws: AwsConfig,
    /// Vulnerability tickets and the closed loop: what opens, resolves, reopens and escalates.
    #[serde(default)]
    pub tickets: TicketsConfig,
    /// The install windows, so a ticket names its node's next one. In ECS the generator fills it
    /// from the policy (the same schedule model the templates come from).
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Approved exceptions: while one holds, its nodes get no incident, ticket or owner notice.
    /// In ECS the generator fills it from the policy's `exceptions:`.
    #[serde(default)]
    pub exceptions: Vec<crate::exception::Exception>,
    /// Who owns a node: tags, CMDBs, a static map, the default group.
    #[serde(default)]
    pub owners: OwnersConfig,
    /// Where owners hear about their nodes; required by a `notify-owner` rule.
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
}

/// A setting given in the file or read from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Setting {
    /// The value itself.
    Value(String),
    /// `{env: NAME}`: the value of an environment variable at start-up.
    Env {
        /// Variable name.
        env: String,
    },
}

/// A secret: only ever a reference.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretRef {
    /// `{env: NAME}`: an environment variable (ECS injects Secrets Manager values this way).
    Env(String),
    /// `{secret_arn: ARN}`: a Secrets Manager secret's `SecretString`, read at start-up.
    SecretArn(String),
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::SecretArn(a) => write!(f, "secret_arn:{a}"),
        }
    }
}

/// `queue:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue URL (the central stack's `QueueUrl` output).
    pub url: Setting,
    /// Concurrent receive loops, each holding up to 10 messages. Default 8.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Long-poll wait, 0–20 s. Default 20.
    #[serde(default = "default_wait")]
    pub wait_seconds: i32,
    /// Batching window, 0–1000 ms. Default 100. Workers receive in turn; after a receive that
    /// came back with fewer than 10 messages, the next waits this long, so a trickle of
    /// events is taken in tens (each ten costs one receive, one delete and one ServiceNow request
    /// or two) at this much latency, while a backlog (full receives) is taken at once (ADR 021).
    #[serde(default = "default_batch_window")]
    pub batch_window_ms: u64,
    /// Visibility a heartbeat sets on messages in flight, renewed every third of it. Default 120.
    #[serde(default = "default_visibility")]
    pub visibility_seconds: i32,
    /// Longest retry backoff (30 s doubling per receive). Default 900.
    #[serde(default = "default_retry_cap")]
    pub retry_cap_seconds: u32,
}

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

/// `enrich:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// Read tags at all. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The tag holding a node's patch group, as in the policy. Default `PatchGroup`.
    #[serde(default = "default_patch_group_tag")]
    pub patch_group_tag: String,
    /// Tags naming the owner, first present wins. Default `patchplane:owner`, `Owner`.
    #[serde(default = "default_owner_tags")]
    pub owner_tags: Vec<String>,
    /// How long a node's tags are cached. Default 300.
    #[serde(default = "default_ttl")]
    pub ttl_seconds: u64,
    /// Group prefix → patch baseline name (the policy's `baselines[].group_prefix` and `name`),
    /// so an incident names the node's baseline. The generator fills it in from the policy.
    #[serde(default)]
    pub baselines: BTreeMap<String, String>,
    /// Role assumed in the event's account to read tags (the member StackSet creates it);
    /// without it the bridge's own credentials are used, which only see its own account.
    #[serde(default)]
    pub member_role_name: Option<String>,
    /// Where windows write Run Command output (the evidence bucket), so a failed install's
    /// incident says why when the pre-patch health check stopped it.
    #[serde(default)]
    pub command_output: Option<CommandOutputConfig>,
}

/// `enrich.command_output`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandOutputConfig {
    /// The bucket: `{env: PATCHPLANE_EVIDENCE_BUCKET}` for the central stack's evidence bucket.
    pub bucket: Setting,
    /// The windows' `OutputS3KeyPrefix` root. Default `run-command`.
    #[serde(default = "default_run_command_prefix")]
    pub prefix: String,
}

fn default_run_command_prefix() -> String {
    "run-command".into()
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            patch_group_tag: default_patch_group_tag(),
            owner_tags: default_owner_tags(),
            ttl_seconds: default_ttl(),
            baselines: BTreeMap::new(),
            member_role_name: None,
            command_output: None,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (CloudWatch Logs Insights reads the fields).
    Json,
    /// Human-readable.
    Text,
}

/// Log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// The default.
    Info,
    /// Everything the bridge says.
    Debug,
}

/// `operations:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// After SIGTERM, how long in-flight messages may finish before they are released
    /// (visibility 0). Keep it below the ECS container `stopTimeout` (30 s by default). Default 25.
    #[serde(default = "default_drain")]
    pub drain_seconds: u64,
    /// Address of `/healthz`, `/readyz` and `/metrics` (Prometheus text). Default `0.0.0.0:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Interval of the CloudWatch embedded-metric-format line on stdout; 0 turns it off.
    /// Default 60.
    #[serde(default = "default_emf")]
    pub emf_interval_seconds: u64,
    /// EMF namespace. Default `patchplane/bridge`.
    #[serde(default = "default_namespace")]
    pub metrics_namespace: String,
    /// `json` (default) or `text`.
    #[serde(default = "default_log_format")]
    pub log_format: LogFormat,
    /// `error`, `warn`, `info` (default) or `debug`.
    #[serde(default = "default_log_level")]
    pub log_level: LogLevel,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            drain_seconds: default_drain(),
            listen: default_listen(),
            emf_interval_seconds: default_emf(),
            metrics_namespace: default_namespace(),
            log_format: default_log_format(),
            log_level: default_log_level(),
        }
    }
}

/// `aws:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Region; default from the environment (ECS sets `AWS_REGION`).
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint override for every AWS client (moto, LocalStack); never set in production.
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

fn default_workers() -> usize {
    8
}
fn default_wait() -> i32 {
    20
}
fn default_batch_window() -> u64 {
    100
}
fn default_visibility() -> i32 {
    120
}
fn default_retry_cap() -> u32 {
    900
}
fn default_table() -> String {
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
fn yes() -> bool {
    true
}
fn default_patch_group_tag() -> String {
    "PatchGroup".into()
}
fn default_owner_tags() -> Vec<String> {
    vec!["patchplane:owner".into(), "Owner".into()]
}
fn default_ttl() -> u64 {
    300
}
fn default_drain() -> u64 {
    25
}
fn default_listen() -> String {
    "0.0.0.0:8080".into()
}
fn default_emf() -> u64 {
    60
}
fn default_namespace() -> String {
    "patchplane/bridge".into()
}
fn default_log_format() -> LogFormat {
    LogFormat::Json
}
fn default_log_level() -> LogLevel {
    LogLevel::Info
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Every problem found, located.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// Reads and validates `file`.
pub fn load_file(file: &Path) -> Result<BridgeConfig, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
        file: file.to_path_buf(),
        source,
    })?;
    load_str(&text, file)
}

/// Parses and validates configuration text; `file` names it in errors.
pub fn load_str(text: &str, file: &Path) -> Result<BridgeConfig, ConfigError> {
    let cfg: BridgeConfig = crate::diag::parse_yaml(text, file).map_err(|mut d| {
        hide_secret(&mut d);
        ConfigError::Invalid(vec![d])
    })?;
    let index = LineIndex::new(text);
    let problems: Vec<Diagnostic> = cfg.validate().into_iter().map(|f| f.locate(file, &index)).collect();
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// serde quotes the value it could not read, and a literal password where a reference belongs is
/// exactly the mistake that fails there: replace the message of a parse error on a secret field,
/// so the value is never echoed. The policy loader calls it too (`central.bridge.config`).
pub fn hide_secret(d: &mut Diagnostic) {
    let secret_field = ["password", "client_secret", "token"]
        .iter()
        .any(|f| d.path.ends_with(f) || d.path.contains(&format!("{f}.")))
        // Webhook URLs carry their credential in the path.
        || (d.path.contains("notify.") && (d.path.ends_with(".url") || d.path.contains(".url.")));
    if secret_field {
        d.message =
            "a secret must be a reference, `{env: NAME}` or `{secret_arn: ARN}` (the value is not shown)".into();
    }
}

pub(crate) fn error(path: &str, message: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Error,
        path: path.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn check_setting(out: &mut Vec<Finding>, path: &str, s: &Setting) {
    match s {
        Setting::Value(v) if v.trim().is_empty() => out.push(error(path, "must not be empty")),
        Setting::Env { env } if !is_env_name(env) => out.push(error(
            &format!("{path}.env"),
            format!("`{env}` is not an environment variable name (letters, digits, `_`)"),
        )),
        _ => {}
    }
}

pub(crate) fn check_secret(out: &mut Vec<Finding>, path: &str, s: &SecretRef) {
    match s {
        SecretRef::Env(n) if !is_env_name(n) => out.push(error(
            &format!("{path}.env"),
            format!("`{n}` is not an environment variable name (letters, digits, `_`)"),
        )),
        SecretRef::SecretArn(a) if !is_secret_arn(a) => out.push(error(
            &format!("{path}.secret_arn"),
            "must be a Secrets Manager ARN (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`)",
        )),
        _ => {}
    }
}

/// A URL the client may talk to: HTTPS, or plain HTTP to loopback (the emulator).
fn acceptable_url(u: &str) -> bool {
    u.starts_with("https://")
        || ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| {
                u.strip_prefix(p)
                    .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
            })
}

impl BridgeConfig {
    /// Every problem, with its key path.
    pub fn validate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.version != 1 {
            out.push(error(
                "version",
                format!("unsupported version {}; the bridge reads `version: 1`", self.version),
            ));
        }
        let q = &self.queue;
        check_setting(&mut out, "queue.url", &q.url);
        if !(1..=64).contains(&q.workers) {
            out.push(error("queue.workers", "must be 1–64"));
        }
        if !(0..=20).contains(&q.wait_seconds) {
            out.push(error("queue.wait_seconds", "SQS long polling waits 0–20 s"));
        }
        if q.batch_window_ms > 1000 {
            out.push(error(
                "queue.batch_window_ms",
                "must be 0–1000: it delays every event of a trickle by up to this much",
            ));
        }
        if !(30..=43_200).contains(&q.visibility_seconds) {
            out.push(error(
                "queue.visibility_seconds",
                "must be 30–43200 (SQS's maximum is 12 h)",
            ));
        }
        if !(1..=43_200).contains(&q.retry_cap_seconds) {
            out.push(error(
                "queue.retry_cap_seconds",
                "must be 1–43200 (SQS's maximum visibility)",
            ));
        }
        let s = &self.servicenow;
        check_setting(&mut out, "servicenow.instance_url", &s.instance_url);
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
                check_secret(&mut out, "servicenow.auth.basic.password", password);
            }
            AuthConfig::Oauth {
                client_id,
                client_secret,
            } => {
                if client_id.is_empty() {
                    out.push(error("servicenow.auth.oauth.client_id", "must not be empty"));
                }
                check_secret(&mut out, "servicenow.auth.oauth.client_secret", client_secret);
            }
        }
        let e = &self.enrich;
        if e.enabled && e.owner_tags.is_empty() {
            out.push(error(
                "enrich.owner_tags",
                "name at least one tag, or set `enabled: false`",
            ));
        }
        if e.patch_group_tag.is_empty() {
            out.push(error("enrich.patch_group_tag", "must not be empty"));
        }
        if let Some(r) = &e.member_role_name
            && !is_role_name(r)
        {
            out.push(error(
                "enrich.member_role_name",
                "must be an IAM role name (1-64 of letters, digits and +=,.@_-)",
            ));
        }
        let o = &self.operations;
        if !(1..=110).contains(&o.drain_seconds) {
            out.push(error(
                "operations.drain_seconds",
                "must be 1–110: below the ECS container stopTimeout (at most 120 s)",
            ));
        }
        if o.drain_seconds >= q.visibility_seconds.max(0) as u64 {
            out.push(error(
                "operations.drain_seconds",
                "must be shorter than `queue.visibility_seconds`, or messages reappear while they drain",
            ));
        }
        if o.listen.parse::<SocketAddr>().is_err() {
            out.push(error(
                "operations.listen",
                format!("`{}` is not an address like 0.0.0.0:8080", o.listen),
            ));
        }
        if o.metrics_namespace.is_empty() || o.metrics_namespace.len() > 255 {
            out.push(error("operations.metrics_namespace", "must be 1–255 characters"));
        }
        if let Some(u) = &self.aws.endpoint_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            out.push(error("aws.endpoint_url", "must be an http(s) URL"));
        }
        self.schedule.check(&mut out);
        if let Some(o) = &self.enrich.command_output {
            check_setting(&mut out, "enrich.command_output.bucket", &o.bucket);
            if o.prefix.is_empty() || o.prefix.starts_with('/') || o.prefix.ends_with('/') || o.prefix.contains("..") {
                out.push(error(
                    "enrich.command_output.prefix",
                    "must be a key prefix without leading or trailing `/`",
                ));
            }
        }
        self.tickets.check(&mut out);
        self.owners.check(&mut out);
        if let Some(n) = &self.notify {
            n.check(&mut out);
        }
        if let Some(rules) = &self.routes
            && self.notify.as_ref().is_some_and(|n| n.windows.is_some())
            && !rules.iter().any(|r| r.actions.contains(&Action::WindowNotices))
        {
            out.push(error(
                "notify.windows",
                "no rule of `routes` calls `window-notices` (add it to the sweep rule's actions)",
            ));
        }
        if let Some(rules) = &self.routes {
            let mut names = std::collections::BTreeSet::new();
            for (i, r) in rules.iter().enumerate() {
                if r.name.is_empty() {
                    out.push(error(&format!("routes[{i}].name"), "must not be empty"));
                } else if !names.insert(r.name.as_str()) {
                    out.push(error(
                        &format!("routes[{i}].name"),
                        format!("`{}` is used twice", r.name),
                    ));
                }
                if r.actions.is_empty() {
                    out.push(error(&format!("routes[{i}].actions"), "name at least one action"));
                }
                for (j, a) in r.actions.iter().enumerate() {
                    if *a == Action::NotifyOwner && self.notify.is_none() {
                        out.push(error(
                            &format!("routes[{i}].actions[{j}]"),
                            "`notify-owner` needs a `notify:` section (sns, slack or teams)",
                        ));
                    }
                    if *a == Action::WindowNotices && self.notify.as_ref().and_then(|n| n.windows.as_ref()).is_none() {
                        out.push(error(
                            &format!("routes[{i}].actions[{j}]"),
                            "`window-notices` needs a `notify.windows:` section",
                        ));
                    }
                }
            }
        }
        out
    }

    /// The routing rules in force: the file's, or [`default_rules`]; with a `notify:` section the
    /// default failure rules also notify the owner, and with `notify.windows` the sweep's tick
    /// also sends window notices.
    pub fn rules(&self) -> Vec<Rule> {
        let windows = self.notify.as_ref().is_some_and(|n| n.windows.is_some());
        match &self.routes {
            Some(rules) => rules.clone(),
            None if self.notify.is_some() => default_rules()
                .into_iter()
                .map(|mut r| {
                    if r.actions.contains(&Action::Incident) {
                        r.actions.push(Action::NotifyOwner);
                    }
                    if windows && r.actions.contains(&Action::Escalate) {
                        r.actions.push(Action::WindowNotices);
                    }
                    r
                })
                .collect(),
            None => default_rules(),
        }
    }

    /// Drain budget.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.operations.drain_seconds)
    }
}

/// A `{env: NAME}` setting whose variable is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: environment variable {name} is not set")]
pub struct SettingError {
    /// The key holding the setting.
    pub path: String,
    /// The variable.
    pub name: String,
}

/// Reads a [`Setting`] (`lookup` is the environment in production).
pub fn resolve_setting(
    path: &str,
    s: &Setting,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, SettingError> {
    match s {
        Setting::Value(v) => Ok(v.clone()),
        Setting::Env { env } => lookup(env).filter(|v| !v.is_empty()).ok_or_else(|| SettingError {
            path: path.to_owned(),
            name: env.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "version: 1
queue:
  url: {env: PATCHPLANE_QUEUE_URL}
servicenow:
  instance_url: https://acme.service-now.com
  auth:
    basic:
      user: patchplane
      password: {env: SERVICENOW_PASSWORD}
";

    fn errors(text: &str) -> String {
        match load_str(text, Path::new("bridge.yaml")) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let c = load_str(MINIMAL, Path::new("bridge.yaml")).expect("valid");
        assert_eq!(c.queue.workers, 8);
        assert_eq!(c.queue.wait_seconds, 20);
        assert_eq!(c.queue.batch_window_ms, 100);
        assert_eq!(c.operations.drain_seconds, 25);
        assert_eq!(c.operations.log_format, LogFormat::Json);
        assert_eq!(c.enrich.patch_group_tag, "PatchGroup");
        assert_eq!(c.routes, None);
        assert_eq!(c.rules(), default_rules());
        assert_eq!(
            c.queue.url,
            Setting::Env {
                env: "PATCHPLANE_QUEUE_URL".into()
            }
        );
    }

    #[test]
    fn a_literal_secret_is_refused_with_its_line() {
        let text = MINIMAL.replace("password: {env: SERVICENOW_PASSWORD}", "password: hunter2");
        let e = errors(&text);
        assert!(
            e.starts_with("bridge.yaml:9: error: `servicenow.auth.basic.password`"),
            "{e}"
        );
        assert!(e.contains("a secret must be a reference"), "{e}");
        assert!(!e.contains("hunter2"), "the literal secret is never echoed: {e}");
        let nested = MINIMAL.replace("password: {env: SERVICENOW_PASSWORD}", "password: {value: hunter2}");
        let e = errors(&nested);
        assert!(!e.contains("hunter2") && e.contains("bridge.yaml:9"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = errors(&MINIMAL.replace("  url:", "  wokers: 3\n  url:"));
        assert!(
            e.contains("bridge.yaml:3") && e.contains("unknown field `wokers`"),
            "{e}"
        );
    }

    #[test]
    fn every_semantic_problem_is_reported_with_path_and_line() {
        let text = format!(
            "{MINIMAL}operations:\n  drain_seconds: 200\n  listen: nowhere\nroutes:\n  - name: a\n    actions: [notify-owner]\n  - name: a\n    actions: []\n"
        )
        .replace("https://acme.service-now.com", "http://acme.service-now.com")
        .replace("{env: PATCHPLANE_QUEUE_URL}", "{env: 1BAD}");
        let e = errors(&text);
        for want in [
            "bridge.yaml:3: error: `queue.url.env`",
            "bridge.yaml:5: error: `servicenow.instance_url`: must be an https:// URL",
            "bridge.yaml:11: error: `operations.drain_seconds`: must be 1–110",
            "`operations.drain_seconds`: must be shorter than `queue.visibility_seconds`",
            "bridge.yaml:12: error: `operations.listen`",
            "bridge.yaml:15: error: `routes[0].actions[0]`: `notify-owner` needs a `notify:` section",
            "bridge.yaml:16: error: `routes[1].name`: `a` is used twice",
            "bridge.yaml:17: error: `routes[1].actions`: name at least one action",
        ] {
            assert!(e.contains(want), "missing {want:?} in\n{e}");
        }
    }

    #[test]
    fn a_batch_window_past_a_second_is_refused() {
        let e = errors(&MINIMAL.replace("  url:", "  batch_window_ms: 5000\n  url:"));
        assert!(
            e.contains("bridge.yaml:3: error: `queue.batch_window_ms`: must be 0–1000"),
            "{e}"
        );
    }

    #[test]
    fn secret_arns_must_be_secrets_manager_arns() {
        let text = MINIMAL.replace(
            "password: {env: SERVICENOW_PASSWORD}",
            "password: {secret_arn: arn:aws:ssm:us-east-1:111111111111:parameter/x}",
        );
        assert!(errors(&text).contains("`servicenow.auth.basic.password.secret_arn`: must be a Secrets Manager ARN"));
        let ok = MINIMAL.replace(
            "password: {env: SERVICENOW_PASSWORD}",
            "password: {secret_arn: \"arn:aws:secretsmanager:us-east-1:111111111111:secret:snow-AbCdEf\"}",
        );
        load_str(&ok, Path::new("bridge.yaml")).expect("a Secrets Manager ARN is accepted");
    }

    #[test]
    fn loopback_http_is_allowed_for_the_emulator_only() {
        for (url, ok) in [
            ("http://127.0.0.1:8081", true),
            ("http://localhost", true),
            ("http://127.0.0.1.evil.example", false),
            ("http://localhost.evil.example/x", false),
            ("https://acme.service-now.com", true),
        ] {
            assert_eq!(acceptable_url(url), ok, "{url}");
        }
    }

    #[test]
    fn settings_resolve_from_the_environment_or_say_which_is_missing() {
        let s = Setting::Env { env: "Q".into() };
        assert_eq!(
            resolve_setting("queue.url", &s, &|n| (n == "Q").then(|| "u".to_owned())),
            Ok("u".to_owned())
        );
        assert_eq!(
            resolve_setting("queue.url", &s, &|_| None).map_err(|e| e.to_string()),
            Err("`queue.url`: environment variable Q is not set".to_owned())
        );
    }

    #[test]
    fn what_the_generator_writes_the_bridge_reads_back_unchanged() {
        // The central template carries the typed configuration as JSON (`model::bridge_config`).
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bridge.yaml");
        let c = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&c).expect("serializes");
        assert!(json.contains(r#""password":{"env":"SERVICENOW_PASSWORD"}"#), "{json}");
        let back = load_str(&json, Path::new("$PATCHPLANE_BRIDGE_CONFIG")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
    }

    #[test]
    fn a_literal_webhook_url_is_refused_and_never_echoed() {
        let text =
            format!("{MINIMAL}notify:\n  slack:\n    url: https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX\n");
        let e = errors(&text);
        assert!(
            e.contains("`notify.slack.url`") && e.contains("a secret must be a reference"),
            "{e}"
        );
        assert!(
            !e.contains("XXXXsecretXXXX") && !e.contains("hooks.slack.com"),
            "never echoed: {e}"
        );
        let ok = format!("{MINIMAL}notify:\n  slack:\n    url: {{env: SLACK_WEBHOOK_URL}}\n");
        load_str(&ok, Path::new("bridge.yaml")).expect("a reference is accepted");
        let bad = format!(
            "{MINIMAL}owners:\n  order: [tags, http_cmdb]\n  servicenow_cmdb: {{fields: [assignment_group]}}\nnotify: {{digest_minutes: 0}}\n"
        );
        let e = errors(&bad);
        for want in [
            "`owners.order[1]`: `http_cmdb` needs `owners.http_cmdb`",
            "`owners.servicenow_cmdb.fields[0]`: `assignment_group` on a CI is its change group",
            "`notify.digest_minutes`: must be 1–1440",
            "`notify`: name at least one of `sns`, `slack`, `teams`",
        ] {
            assert!(e.contains(want), "missing {want:?} in\n{e}");
        }
    }

    #[test]
    fn window_notices_are_checked_with_file_line_and_key() {
        let base = format!("{MINIMAL}notify:\n  slack: {{url: {{env: SLACK_WEBHOOK_URL}}}}\n  windows:\n");
        let bad = format!(
            "{base}    lead_hours: 400\n    accounts: ['12345']\n    claims_bucket: {{env: 'no way'}}\n    evidence_prefix: /rds/\n"
        );
        let e = errors(&bad);
        let line = |needle: &str| {
            bad.lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
                .expect(needle)
        };
        for want in [
            format!(
                "bridge.yaml:{}: error: `notify.windows.lead_hours`: must be 0–336",
                line("lead_hours")
            ),
            format!(
                "bridge.yaml:{}: error: `notify.windows.accounts[0]`: `12345` is not a 12-digit account id",
                line("accounts")
            ),
            "`notify.windows.claims_bucket.env`: `no way` is not an environment variable name".to_owned(),
            "`notify.windows.evidence_prefix`: must be a key prefix".to_owned(),
        ] {
            assert!(e.contains(&want), "missing {want:?} in\n{e}");
        }
        let ok =
            format!("{base}    accounts: ['222222222222']\n    claims_bucket: {{env: PATCHPLANE_CLAIMS_BUCKET}}\n");
        let c = load_str(&ok, Path::new("bridge.yaml")).expect("valid");
        let w = c.notify.as_ref().and_then(|n| n.windows.clone()).expect("windows");
        assert_eq!(
            (w.lead_hours, w.summary_after_minutes, w.summary),
            (24, 60, true),
            "defaults"
        );
        assert!(
            c.rules().iter().any(|r| r.actions.contains(&Action::WindowNotices)),
            "the default sweep rule sends the notices"
        );
        let routed = format!("{ok}routes:\n  - name: sweep\n    when: {{kind: [sweep]}}\n    actions: [escalate]\n");
        assert!(
            errors(&routed).contains("no rule of `routes` calls `window-notices`"),
            "notices nobody sends are an error"
        );
    }

    #[test]
    fn command_output_settings_are_checked() {
        let bad = MINIMAL.replace(
            "enrich:\n",
            "enrich:\n  command_output: {bucket: {env: 'no way'}, prefix: /run-command/}\n",
        );
        let bad = if bad.contains("command_output") {
            bad
        } else {
            format!("{MINIMAL}enrich:\n  command_output: {{bucket: {{env: 'no way'}}, prefix: /run-command/}}\n")
        };
        let e = errors(&bad);
        assert!(
            e.contains("`enrich.command_output.bucket.env`: `no way` is not an environment variable name"),
            "{e}"
        );
        assert!(
            e.contains("`enrich.command_output.prefix`: must be a key prefix"),
            "{e}"
        );
    }

    #[test]
    fn the_example_file_is_valid() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bridge.yaml");
        let c = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.routes.is_some(), "the example spells out its rules");
    }
}
