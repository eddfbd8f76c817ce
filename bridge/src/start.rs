//! What start-up makes of a checked [`BridgeConfig`] before anything runs: the file (or the
//! environment variable ECS fills), the AWS configuration, every `{env: …}` and `{secret_arn: …}`
//! reference resolved in one pass ([`Resolved`], all problems reported together with their key
//! paths), the clients sinks and enrichment share, and the typed [`StartError`].
//!
//! It sits below [`crate::sinks`], [`crate::enrich`] and [`crate::app`]: each sink's `config.rs`
//! builds from a [`Resolved`] and never reads the environment itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use aws_config::SdkConfig;
use patchplane_integrations::retry::{Failure, RetryPolicy};
use patchplane_integrations::servicenow::{Auth, Client, Config};

use crate::config::{self, Action, AuthConfig, BridgeConfig, ConfigError, Ref, SecretRef, Setting};

/// The environment variable that may hold the whole `bridge.yaml` (ECS passes it this way).
pub const CONFIG_ENV: &str = "PATCHPLANE_BRIDGE_CONFIG";

/// Why the bridge cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No configuration at all.
    #[error("no configuration: pass --config FILE or set {CONFIG_ENV}")]
    NoConfig,
    /// References that cannot be resolved: every one of them, with its key path.
    #[error(transparent)]
    Unresolved(#[from] Unresolved),
    /// The ServiceNow client cannot be built.
    #[error("servicenow: {0}")]
    ServiceNow(#[source] Failure),
    /// A CMDB client cannot be built.
    #[error("owners: {0}")]
    Cmdb(String),
    /// A notifier cannot be built.
    #[error("notify: {0}")]
    Notifier(#[source] Failure),
    /// The operations port cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// `operations.listen`.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The routes name an action no registered sink delivers: a sink folder that does not
    /// register what its section enables (a bug; `check` of the file refuses a missing section).
    #[error("`routes`: `{action}` has no sink in this bridge")]
    NoSink {
        /// The action.
        action: Action,
    },
}

/// How a start error reads: located configuration diagnostics and the list of unresolved
/// references as they are, anything else as `error: …`.
pub fn report(e: &StartError) -> String {
    match e {
        StartError::Config(_) | StartError::Unresolved(_) => e.to_string(),
        _ => format!("error: {e}"),
    }
}

/// The exit code of a start error: 2 for configuration (usage) problems, 1 for the rest.
pub fn exit_code(e: &StartError) -> u8 {
    match e {
        StartError::Config(_) | StartError::NoConfig => 2,
        _ => 1,
    }
}

/// `bridge.yaml` from `file`, else from `$PATCHPLANE_BRIDGE_CONFIG`, else `None`.
pub fn load_config(file: Option<&Path>) -> Result<Option<BridgeConfig>, ConfigError> {
    match file {
        Some(f) => config::load_file(f).map(Some),
        None => match std::env::var(CONFIG_ENV) {
            Ok(text) => config::load_str(&text, Path::new(&format!("${CONFIG_ENV}"))).map(Some),
            Err(_) => Ok(None),
        },
    }
}

/// Like [`load_config`], but a configuration is required.
pub fn require_config(file: Option<&Path>) -> Result<BridgeConfig, StartError> {
    load_config(file)?.ok_or(StartError::NoConfig)
}

/// The AWS configuration of every client: region and endpoint from `aws:`, credentials and the
/// rest from the default chain (the ECS task role in production).
pub async fn sdk_config(cfg: &BridgeConfig) -> SdkConfig {
    // No stalled-stream protection: a long poll is meant to stall up to 20 s, and the
    // protection's throughput check woke every waiting receive about ten times a second (most of
    // the bridge's CPU on an empty queue; BENCHMARKS.md). Every body the bridge reads is small.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .stalled_stream_protection(aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled());
    if let Some(r) = &cfg.aws.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(u) = &cfg.aws.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// An S3 client; path-style addressing when an endpoint is configured (moto, a VPC endpoint by
/// URL), which virtual-hosted names do not reach.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let b = aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(b.build())
}

/// A boxed future, for [`SecretSource`].
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where `{secret_arn: ARN}` references are read: Secrets Manager in production, a map in tests.
pub trait SecretSource: Send + Sync {
    /// The secret's `SecretString`, or why it cannot be read (one line, never the value).
    fn secret<'a>(&'a self, arn: &'a str) -> Fut<'a, Result<String, String>>;
}

impl SecretSource for aws_sdk_secretsmanager::Client {
    fn secret<'a>(&'a self, arn: &'a str) -> Fut<'a, Result<String, String>> {
        Box::pin(async move {
            let out = self
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| patchplane_integrations::aws_error::describe("GetSecretValue", None, &e))?;
            match out.secret_string() {
                Some(s) if !s.is_empty() => Ok(s.to_owned()),
                _ => Err("the secret has no SecretString".into()),
            }
        })
    }
}

/// One reference that cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Its key path (`servicenow.auth.basic.password`).
    pub path: String,
    /// The reference, never a value (`env:SERVICENOW_PASSWORD`, `secret_arn:arn:…`).
    pub reference: String,
    /// Why.
    pub reason: String,
}

/// Every reference that cannot be resolved, found in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Unresolved(pub Vec<Missing>);

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} setting{} cannot be resolved:", if n == 1 { "" } else { "s" })?;
        for m in &self.0 {
            write!(f, "\n  `{}`: {}: {}", m.path, m.reference, m.reason)?;
        }
        Ok(())
    }
}

/// Every reference of a configuration, resolved: key path → value. Its `Debug` shows the paths
/// only, so a resolved secret can never reach a log line.
#[derive(Clone, Default)]
pub struct Resolved {
    values: BTreeMap<&'static str, String>,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Resolved {
    /// Resolves every reference of `cfg` ([`BridgeConfig::references`]): `{env: NAME}` through
    /// `env` (the process environment in production), `{secret_arn: ARN}` through `secrets`, all
    /// of them asked at once; every failure is collected. Without `secrets`, a secret ARN counts
    /// as unresolved ("no AWS configuration to read it").
    pub async fn resolve(
        cfg: &BridgeConfig,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
        secrets: Option<&dyn SecretSource>,
    ) -> Result<Resolved, Unresolved> {
        let refs = cfg.references();
        let lookups = refs.iter().map(|&(path, r)| async move {
            let reference = match r {
                Ref::Setting(Setting::Value(_)) => String::new(),
                Ref::Setting(Setting::Env { env }) | Ref::Secret(SecretRef::Env(env)) => format!("env:{env}"),
                Ref::Secret(SecretRef::SecretArn(arn)) => format!("secret_arn:{arn}"),
            };
            let value = match r {
                Ref::Setting(Setting::Value(v)) => Ok(v.clone()),
                Ref::Setting(Setting::Env { env: name }) | Ref::Secret(SecretRef::Env(name)) => env(name)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("environment variable {name} is not set")),
                Ref::Secret(SecretRef::SecretArn(arn)) => match secrets {
                    Some(s) => s.secret(arn).await,
                    None => Err("no AWS configuration to read it".into()),
                },
            };
            (path, reference, value)
        });
        let mut out = Resolved::default();
        let mut missing = Vec::new();
        for (path, reference, value) in futures_util::future::join_all(lookups).await {
            match value {
                Ok(v) => {
                    out.values.insert(path, v);
                }
                Err(reason) => missing.push(Missing {
                    path: path.to_owned(),
                    reference,
                    reason,
                }),
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(Unresolved(missing))
        }
    }

    /// [`Resolved::resolve`] against the process environment and Secrets Manager.
    pub async fn from_environment(cfg: &BridgeConfig, sdk: Option<&SdkConfig>) -> Result<Resolved, Unresolved> {
        let sm = sdk.map(aws_sdk_secretsmanager::Client::new);
        let env = |name: &str| std::env::var(name).ok();
        Resolved::resolve(cfg, &env, sm.as_ref().map(|c| c as &dyn SecretSource)).await
    }

    /// The value at `path`. A path [`BridgeConfig::references`] does not list is a bug in the
    /// caller, reported as unresolved rather than a panic.
    pub fn get(&self, path: &'static str) -> Result<&str, StartError> {
        self.values.get(path).map(String::as_str).ok_or_else(|| {
            StartError::Unresolved(Unresolved(vec![Missing {
                path: path.to_owned(),
                reference: String::new(),
                reason: "not among the references the bridge resolves at start-up".into(),
            }]))
        })
    }

    /// How many references were resolved.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there were none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The ServiceNow client `servicenow:` describes, for `table`, with its resolved references.
pub fn servicenow_for(cfg: &BridgeConfig, resolved: &Resolved, table: &str) -> Result<Client, StartError> {
    let s = &cfg.servicenow;
    let base_url = resolved.get("servicenow.instance_url")?;
    let auth = match &s.auth {
        AuthConfig::Basic { user, .. } => Auth::Basic {
            user: user.clone(),
            password: resolved.get("servicenow.auth.basic.password")?.to_owned(),
        },
        AuthConfig::Oauth { client_id, .. } => Auth::OAuth {
            client_id: client_id.clone(),
            client_secret: resolved.get("servicenow.auth.oauth.client_secret")?.to_owned(),
        },
    };
    Client::new(Config {
        base_url: base_url.trim_end_matches('/').to_owned(),
        table: table.to_owned(),
        auth,
        timeout: Duration::from_secs(s.timeout_seconds),
        retry: RetryPolicy {
            attempts: s.max_attempts,
            ..RetryPolicy::default()
        },
        batch_writes: s.batch_writes,
    })
    .map_err(StartError::ServiceNow)
}

/// The ServiceNow client for incidents (`servicenow.table`).
pub fn servicenow(cfg: &BridgeConfig, resolved: &Resolved) -> Result<Client, StartError> {
    servicenow_for(cfg, resolved, &cfg.servicenow.table)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets Manager as a map; an ARN it does not hold is "not found".
    struct Secrets(BTreeMap<String, String>);

    impl SecretSource for Secrets {
        fn secret<'a>(&'a self, arn: &'a str) -> Fut<'a, Result<String, String>> {
            Box::pin(async move {
                self.0
                    .get(arn)
                    .cloned()
                    .ok_or_else(|| "ResourceNotFoundException: Secrets Manager can't find the secret".into())
            })
        }
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:111111111111:secret:snow-AbCdEf";

    fn config(extra: &str) -> BridgeConfig {
        let text = format!(
            "version: 1
queue: {{url: {{env: PP_QUEUE_URL}}}}
servicenow:
  instance_url: {{env: PP_SNOW_URL}}
  claims_bucket: {{env: PP_CLAIMS}}
  auth: {{basic: {{user: patchplane, password: {{secret_arn: '{ARN}'}}}}}}
{extra}"
        );
        config::load_str(&text, Path::new("bridge.yaml")).expect("valid")
    }

    #[tokio::test]
    async fn every_missing_reference_is_reported_at_once_with_its_key_path() {
        let cfg = config(
            "notify:
  slack: {url: {env: PP_SLACK}}
  windows: {claims_bucket: {env: PP_CLAIMS}, accounts: ['111111111111']}
",
        );
        let env = |name: &str| (name == "PP_SNOW_URL").then(|| "https://acme.service-now.com".to_owned());
        let e = Resolved::resolve(&cfg, &env, Some(&Secrets(BTreeMap::new())))
            .await
            .expect_err("four references are missing");
        let paths: Vec<&str> = e.0.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "queue.url",
                "servicenow.auth.basic.password",
                "servicenow.claims_bucket",
                "notify.slack.url",
                "notify.windows.claims_bucket"
            ]
        );
        let text = e.to_string();
        assert!(text.starts_with("5 settings cannot be resolved:"), "{text}");
        assert!(
            text.contains("`queue.url`: env:PP_QUEUE_URL: environment variable PP_QUEUE_URL is not set"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "`servicenow.auth.basic.password`: secret_arn:{ARN}: ResourceNotFoundException"
            )),
            "{text}"
        );
    }

    #[tokio::test]
    async fn resolved_values_are_served_by_path_and_never_shown() {
        let cfg = config("");
        let env = |name: &str| match name {
            "PP_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/q".to_owned()),
            "PP_SNOW_URL" => Some("https://acme.service-now.com/".to_owned()),
            "PP_CLAIMS" => Some("claims".to_owned()),
            _ => None,
        };
        let secrets = Secrets([(ARN.to_owned(), "hunter2".to_owned())].into());
        let r = Resolved::resolve(&cfg, &env, Some(&secrets)).await.expect("resolves");
        assert_eq!(r.len(), 4);
        assert_eq!(r.get("servicenow.auth.basic.password").expect("there"), "hunter2");
        assert!(!format!("{r:?}").contains("hunter2"), "{r:?}");
        assert!(servicenow(&cfg, &r).is_ok());
        // A path nobody resolved is an error naming it, not a panic.
        let e = r.get("notify.sns.topic_arn").expect_err("not resolved");
        assert!(e.to_string().contains("`notify.sns.topic_arn`"), "{e}");
    }

    #[tokio::test]
    async fn an_empty_variable_is_missing_and_without_aws_a_secret_arn_is_too() {
        let cfg = config("");
        let env = |_: &str| Some(String::new());
        let e = Resolved::resolve(&cfg, &env, None).await.expect_err("all missing");
        assert_eq!(e.0.len(), 4);
        assert!(e.0.iter().any(|m| m.reason == "no AWS configuration to read it"), "{e}");
    }
}
