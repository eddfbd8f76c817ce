//! From a checked [`BridgeConfig`] to running parts: AWS configuration, secrets, the ServiceNow
//! client, the stages and the SQS pipeline. `main.rs` wires these to signals, the operations port
//! and the EMF ticker; `replay` uses the stages alone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_config::SdkConfig;
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::servicenow::{Auth, Client, Config};

use crate::config::{AuthConfig, BridgeConfig, SecretRef, resolve_setting};
use crate::enrich::{Enricher, NoTags};
use crate::pipeline::{Options, Pipeline, Stages};
use crate::sink::{Assignment, ServiceNowSink, Sink};
use crate::tags::{AwsTags, Source};

/// The AWS configuration of every client: region and endpoint from `aws:`, credentials and the
/// rest from the default chain (the ECS task role in production).
pub async fn sdk_config(cfg: &BridgeConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = &cfg.aws.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(u) = &cfg.aws.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// Reads a secret reference. The value is never logged; errors name the reference, not the value.
pub async fn secret(sdk: &SdkConfig, path: &str, r: &SecretRef) -> Result<String> {
    match r {
        SecretRef::Env(name) => std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .with_context(|| format!("`{path}`: environment variable {name} is not set")),
        SecretRef::SecretArn(arn) => {
            let out = aws_sdk_secretsmanager::Client::new(sdk)
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))
                .with_context(|| format!("`{path}`: cannot read secret {arn}"))?;
            match out.secret_string() {
                Some(s) if !s.is_empty() => Ok(s.to_owned()),
                _ => bail!("`{path}`: secret {arn} has no SecretString"),
            }
        }
    }
}

/// The ServiceNow client `servicenow:` describes, secrets resolved.
pub async fn servicenow(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<Client> {
    let s = &cfg.servicenow;
    let env = |n: &str| std::env::var(n).ok();
    let base_url = resolve_setting("servicenow.instance_url", &s.instance_url, &env).map_err(anyhow::Error::msg)?;
    let auth = match &s.auth {
        AuthConfig::Basic { user, password } => Auth::Basic {
            user: user.clone(),
            password: secret(sdk, "servicenow.auth.basic.password", password).await?,
        },
        AuthConfig::Oauth {
            client_id,
            client_secret,
        } => Auth::OAuth {
            client_id: client_id.clone(),
            client_secret: secret(sdk, "servicenow.auth.oauth.client_secret", client_secret).await?,
        },
    };
    Client::new(Config {
        base_url: base_url.trim_end_matches('/').to_owned(),
        table: s.table.clone(),
        auth,
        timeout: Duration::from_secs(s.timeout_seconds),
        retry: RetryPolicy {
            attempts: s.max_attempts,
            ..RetryPolicy::default()
        },
    })
    .map_err(|e| anyhow::anyhow!("servicenow: {e}"))
}

/// The stages with `sink`; tags from AWS when `enrich.enabled` and `aws` is given, else none.
pub fn stages<S: Sink>(cfg: &BridgeConfig, aws: Option<&SdkConfig>, sink: S) -> Stages<S, Source> {
    let e = &cfg.enrich;
    let source = match aws {
        Some(sdk) if e.enabled => Source::Aws(Box::new(AwsTags::new(sdk.clone(), e.member_role_name.clone()))),
        _ => Source::None(NoTags),
    };
    Stages {
        routes: crate::route::RouteConfig::from_config(cfg),
        enricher: Enricher::new(
            source,
            Duration::from_secs(e.ttl_seconds),
            &e.patch_group_tag,
            &e.owner_tags,
        )
        .with_baselines(e.baselines.clone()),
        sink,
    }
}

/// The ServiceNow sink `servicenow:` describes.
pub async fn servicenow_sink(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<ServiceNowSink> {
    Ok(ServiceNowSink::new(
        servicenow(cfg, sdk).await?,
        Assignment {
            default_group: cfg.servicenow.assignment_group.clone(),
            owner_groups: cfg.servicenow.owner_groups.clone(),
        },
    ))
}

/// The SQS pipeline `bridge.yaml` describes.
pub async fn pipeline(cfg: &BridgeConfig, sdk: &SdkConfig) -> Result<Arc<Pipeline<ServiceNowSink, Source>>> {
    let env = |n: &str| std::env::var(n).ok();
    let queue_url = resolve_setting("queue.url", &cfg.queue.url, &env).map_err(anyhow::Error::msg)?;
    let q = &cfg.queue;
    let sink = servicenow_sink(cfg, sdk).await?;
    Ok(Pipeline::new(
        aws_sdk_sqs::Client::new(sdk),
        stages(cfg, Some(sdk), sink),
        Options {
            queue_url,
            workers: q.workers,
            wait_seconds: q.wait_seconds,
            heartbeat_visibility: q.visibility_seconds,
            heartbeat_every: Duration::from_secs((q.visibility_seconds / 3).max(1) as u64),
            retry_cap_seconds: q.retry_cap_seconds,
            drain: cfg.drain(),
        },
    ))
}
