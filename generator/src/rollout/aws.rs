//! The real client: [`Api`] through aws-sdk-cloudformation.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    AutoDeployment, CallAs, Capability, DeploymentTargets, ManagedExecution, StackSetOperationPreferences, Tag,
};

use super::api::{Api, ApiError, Deployed, ErrorKind, Instance, InstanceResult, Operation, Targets};
use super::request::Desired;

/// CloudFormation through aws-sdk-cloudformation.
#[derive(Clone)]
pub struct CloudFormation {
    client: Client,
}

impl CloudFormation {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// The API error of a failed `operation`: its kind from CloudFormation's code, its message one
/// readable line ([`patchplane_integrations::aws_error::describe`]: the cause and what to do,
/// never the raw response).
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    e: aws_sdk_cloudformation::error::SdkError<E>,
) -> ApiError {
    let kind = match e.code() {
        Some("OperationInProgressException") => ErrorKind::InProgress,
        Some("StaleRequestException") => ErrorKind::Stale,
        _ => ErrorKind::Other,
    };
    ApiError {
        kind,
        message: patchplane_integrations::aws_error::describe(operation, None, &e),
    }
}

fn call_as(d: &Desired) -> CallAs {
    CallAs::from(d.call_as.as_str())
}

fn targets(d: &Desired, t: &Targets) -> DeploymentTargets {
    let mut b = DeploymentTargets::builder()
        .set_organizational_unit_ids(Some(t.ous.clone()))
        .account_filter_type(d.account_filter.as_str().into());
    if !d.accounts.is_empty() {
        b = b.set_accounts(Some(d.accounts.clone()));
    }
    b.build()
}

fn prefs(d: &Desired) -> StackSetOperationPreferences {
    StackSetOperationPreferences::builder()
        .region_concurrency_type(d.preferences.0.as_str().into())
        .max_concurrent_percentage(d.preferences.1)
        .failure_tolerance_percentage(d.preferences.2)
        .build()
}

fn auto_deployment(d: &Desired) -> AutoDeployment {
    AutoDeployment::builder()
        .enabled(d.auto_deployment.0)
        .retain_stacks_on_account_removal(d.auto_deployment.1)
        .build()
}

fn tags(d: &Desired) -> Vec<Tag> {
    d.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn capabilities(d: &Desired) -> Vec<Capability> {
    d.capabilities.iter().map(|c| Capability::from(c.as_str())).collect()
}

impl Api for CloudFormation {
    async fn describe(&self, d: &Desired) -> Result<Option<Deployed>, ApiError> {
        let set = match self
            .client
            .describe_stack_set()
            .stack_set_name(&d.name)
            .call_as(call_as(d))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.code() == Some("StackSetNotFoundException") => return Ok(None),
            Err(e) => return Err(classify("DescribeStackSet", e)),
        };
        let Some(set) = set.stack_set() else { return Ok(None) };
        let mut instances = Vec::new();
        let mut pages = self
            .client
            .list_stack_instances()
            .stack_set_name(&d.name)
            .call_as(call_as(d))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for s in page.map_err(|e| classify("ListStackInstances", e))?.summaries() {
                instances.push(Instance {
                    account: s.account().unwrap_or_default().to_owned(),
                    region: s.region().unwrap_or_default().to_owned(),
                    ou: s.organizational_unit_id().map(str::to_owned),
                    status: s.status().map(|x| x.as_str().to_owned()).unwrap_or_default(),
                    reason: s
                        .status_reason()
                        .map(str::to_owned)
                        .or_else(|| {
                            s.stack_instance_status()
                                .and_then(|x| x.detailed_status())
                                .map(|x| x.as_str().to_owned())
                        })
                        .unwrap_or_default(),
                    drift: s.drift_status().map(|x| x.as_str().to_owned()).unwrap_or_default(),
                    last_operation: s.last_operation_id().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(Some(Deployed {
            template_body: set.template_body().unwrap_or_default().to_owned(),
            description: set.description().unwrap_or_default().to_owned(),
            tags: set
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            auto_deployment: set.auto_deployment().map(|a| {
                (
                    a.enabled().unwrap_or(false),
                    a.retain_stacks_on_account_removal().unwrap_or(false),
                )
            }),
            instances,
        }))
    }

    async fn create_stack_set(&self, d: &Desired) -> Result<(), ApiError> {
        self.client
            .create_stack_set()
            .stack_set_name(&d.name)
            .description(&d.description)
            .set_template_body(d.template_url.is_none().then(|| d.template_body.clone()))
            .set_template_url(d.template_url.clone())
            .set_capabilities(Some(capabilities(d)))
            .permission_model("SERVICE_MANAGED".into())
            .auto_deployment(auto_deployment(d))
            .call_as(call_as(d))
            .managed_execution(ManagedExecution::builder().active(d.managed_execution).build())
            .set_tags(Some(tags(d)))
            // Idempotent: a retried create with the same token is not a second create.
            .client_request_token(format!("patchplane-create-{}", d.name))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("CreateStackSet", e))
    }

    async fn update_stack_set(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        let out = self
            .client
            .update_stack_set()
            .stack_set_name(&d.name)
            .description(&d.description)
            .set_template_body(d.template_url.is_none().then(|| d.template_body.clone()))
            .set_template_url(d.template_url.clone())
            .set_capabilities(Some(capabilities(d)))
            .deployment_targets(targets(d, t))
            .set_regions(Some(t.regions.clone()))
            .operation_preferences(prefs(d))
            .set_tags(Some(tags(d)))
            .auto_deployment(auto_deployment(d))
            .operation_id(op)
            .call_as(call_as(d))
            .send()
            .await
            .map_err(|e| classify("UpdateStackSet", e))?;
        Ok(out.operation_id().unwrap_or(op).to_owned())
    }

    async fn create_instances(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        let out = self
            .client
            .create_stack_instances()
            .stack_set_name(&d.name)
            .deployment_targets(targets(d, t))
            .set_regions(Some(t.regions.clone()))
            .operation_preferences(prefs(d))
            .operation_id(op)
            .call_as(call_as(d))
            .send()
            .await
            .map_err(|e| classify("CreateStackInstances", e))?;
        Ok(out.operation_id().unwrap_or(op).to_owned())
    }

    async fn delete_instances(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        let out = self
            .client
            .delete_stack_instances()
            .stack_set_name(&d.name)
            .deployment_targets(targets(d, t))
            .set_regions(Some(t.regions.clone()))
            .operation_preferences(prefs(d))
            .retain_stacks(false)
            .operation_id(op)
            .call_as(call_as(d))
            .send()
            .await
            .map_err(|e| classify("DeleteStackInstances", e))?;
        Ok(out.operation_id().unwrap_or(op).to_owned())
    }

    async fn operation(&self, d: &Desired, op: &str) -> Result<Operation, ApiError> {
        let out = self
            .client
            .describe_stack_set_operation()
            .stack_set_name(&d.name)
            .operation_id(op)
            .call_as(call_as(d))
            .send()
            .await
            .map_err(|e| classify("DescribeStackSetOperation", e))?;
        let o = out.stack_set_operation();
        Ok(Operation {
            status: o
                .and_then(|o| o.status())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            reason: o.and_then(|o| o.status_reason()).unwrap_or_default().to_owned(),
        })
    }

    async fn results(&self, d: &Desired, op: &str) -> Result<Vec<InstanceResult>, ApiError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_stack_set_operation_results()
            .stack_set_name(&d.name)
            .operation_id(op)
            .call_as(call_as(d))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for s in page
                .map_err(|e| classify("ListStackSetOperationResults", e))?
                .summaries()
            {
                out.push(InstanceResult {
                    account: s.account().unwrap_or_default().to_owned(),
                    region: s.region().unwrap_or_default().to_owned(),
                    status: s.status().map(|x| x.as_str().to_owned()).unwrap_or_default(),
                    reason: s.status_reason().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(out)
    }
}
