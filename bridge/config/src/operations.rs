//! `operations:` (shutdown, health, metrics, logs) and `aws:` (client settings).
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::settings::error;

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

impl Operations {
    /// Its problems, with key paths.
    pub(crate) fn check(&self, out: &mut Vec<Finding>) {
        let o = self;
        if !(1..=110).contains(&o.drain_seconds) {
            out.push(error(
                "operations.drain_seconds",
                "must be 1–110: below the ECS container stopTimeout (at most 120 s)",
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
    }
}

impl AwsConfig {
    /// Its problems, with key paths.
    pub(crate) fn check(&self, out: &mut Vec<Finding>) {
        if let Some(u) = &self.endpoint_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            out.push(error("aws.endpoint_url", "must be an http(s) URL"));
        }
    }
}
