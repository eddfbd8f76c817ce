//! Values that may be references: [`Setting`] (a value, or `{env: NAME}`) and [`SecretRef`] (only
//! ever `{env: NAME}` or `{secret_arn: ARN}`), the checks on them, and [`References`], every
//! reference of a file with its key path, so the bridge resolves them all in one pass at start-up
//! and reports every missing one together (`patchplane-bridge check --resolve`).
//!
//! Secrets are never values in the file; a value that fails to parse on a secret field is never
//! echoed ([`hide_secret`]).
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Finding, Severity};
use crate::ids::{is_env_name, is_secret_arn};

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

/// An error finding at `path`.
pub fn error(path: &str, message: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Error,
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Checks a [`Setting`]: not empty, a valid variable name.
pub fn check_setting(out: &mut Vec<Finding>, path: &str, s: &Setting) {
    match s {
        Setting::Value(v) if v.trim().is_empty() => out.push(error(path, "must not be empty")),
        Setting::Env { env } if !is_env_name(env) => out.push(error(
            &format!("{path}.env"),
            format!("`{env}` is not an environment variable name (letters, digits, `_`)"),
        )),
        _ => {}
    }
}

/// Checks a [`SecretRef`]: a valid variable name or Secrets Manager ARN.
pub fn check_secret(out: &mut Vec<Finding>, path: &str, s: &SecretRef) {
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

/// A reference in the file, to be resolved at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ref<'a> {
    /// A [`Setting`]: a value, or `{env: NAME}`.
    Setting(&'a Setting),
    /// A [`SecretRef`]: `{env: NAME}` or `{secret_arn: ARN}`.
    Secret(&'a SecretRef),
}

/// Every reference of a file with its key path, in file order: what the bridge resolves in one
/// pass at start-up ([`crate::BridgeConfig::references`]).
pub type References<'a> = Vec<(&'static str, Ref<'a>)>;
