//! The AWS [`TagSource`]: Resource Groups Tagging API `GetResources` with the nodes' ARNs, up to
//! 100 per call (the API's limit; [`super::cache`] gathers them).
//!
//! `GetResources` reads every resource type (DESIGN §8), so EC2 instances
//! (`arn:aws:ec2:R:A:instance/i-…`) and hybrid managed nodes
//! (`arn:aws:ssm:R:A:managed-instance/mi-…`) take the same path, and the crate compiles in seconds
//! where `aws-sdk-ec2` takes minutes. Events come from member accounts: with `member_role_name`
//! set, the source assumes `arn:aws:iam::ACCOUNT:role/NAME` (created by the member StackSet, allowed
//! `tag:GetResources` only) in the event's account and keeps one client per account and region.
//! The lookups of events go through [`patchplane_integrations::tagging`] (the JSON protocol,
//! ADR 020), which caches the role's credentials until five minutes before they expire; the
//! window notices' fleet query (tag filters) uses the SDK client.
//!
//! A node without tags, or unknown to the API, has no tags (an empty map): the incident still
//! opens, without an owner. Throttling, timeouts and 5xx are retryable; an access error is not.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_resourcegroupstagging::Client;
use aws_sdk_resourcegroupstagging::error::{ProvideErrorMetadata, SdkError};

use patchplane_bridge_config::ids::partition;
use patchplane_integrations::retry::{Failure, RetryPolicy};
use patchplane_integrations::tagging::Tagging;

use super::{EnrichError, NoTags, TagSource, Tags};

/// The ARN the tagging API knows a node by, or `None` for an id that is not a node.
pub fn node_arn(account: &str, region: &str, node: &str) -> Option<String> {
    let p = partition(region);
    let ok = |rest: &str| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(rest) = node.strip_prefix("mi-")
        && ok(rest)
    {
        Some(format!("arn:{p}:ssm:{region}:{account}:managed-instance/{node}"))
    } else if let Some(rest) = node.strip_prefix("i-")
        && ok(rest)
    {
        Some(format!("arn:{p}:ec2:{region}:{account}:instance/{node}"))
    } else {
        None
    }
}

/// Error codes that mean "try again later".
fn retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "InternalServiceException"
                | "ServiceUnavailable"
                | "RequestLimitExceeded"
        )
    )
}

/// Tags through the Resource Groups Tagging API.
pub struct AwsTags {
    base: SdkConfig,
    member_role_name: Option<String>,
    /// SDK clients, for the fleet queries of window notices (tag filters, hourly at most).
    clients: Mutex<HashMap<(String, String), Client>>,
    /// Plain JSON-protocol clients for the tag lookups of events (ADR 020), per account and region.
    lookups: Mutex<HashMap<(String, String), Arc<Tagging>>>,
}

impl AwsTags {
    /// `base` carries the endpoint, retry and the bridge's own credentials.
    pub fn new(base: SdkConfig, member_role_name: Option<String>) -> Self {
        Self {
            base,
            member_role_name,
            clients: Mutex::new(HashMap::new()),
            lookups: Mutex::new(HashMap::new()),
        }
    }

    /// The credentials for `account`: the member role assumed there, or the bridge's own.
    pub(crate) async fn credentials(&self, account: &str, region: &str) -> Option<SharedCredentialsProvider> {
        match &self.member_role_name {
            Some(role) => {
                let arn = format!("arn:{}:iam::{account}:role/{role}", partition(region));
                let provider = aws_config::sts::AssumeRoleProvider::builder(arn)
                    .session_name("patchplane-bridge")
                    .configure(&self.base)
                    .build()
                    .await;
                Some(SharedCredentialsProvider::new(provider))
            }
            None => self.base.credentials_provider(),
        }
    }

    /// The endpoint every client of this source calls (moto in tests), if not AWS's own.
    pub(crate) fn endpoint_url(&self) -> Option<&str> {
        self.base.endpoint_url()
    }

    /// The lookup client for `account` and `region`, made once.
    pub(crate) async fn lookup_client(&self, account: &str, region: &str) -> Result<Arc<Tagging>, Failure> {
        let key = (account.to_owned(), region.to_owned());
        if let Ok(m) = self.lookups.lock()
            && let Some(c) = m.get(&key)
        {
            return Ok(c.clone());
        }
        let Some(provider) = self.credentials(account, region).await else {
            return Err(Failure {
                status: Some(401),
                message: "no AWS credentials provider is configured".into(),
                retry_after: None,
            });
        };
        // The SDK's own retries: 3 attempts, backoff with jitter.
        let retry = RetryPolicy {
            attempts: 3,
            base: std::time::Duration::from_millis(100),
            cap: std::time::Duration::from_secs(20),
        };
        let c = Arc::new(Tagging::new(self.base.endpoint_url(), region, provider, retry)?);
        if let Ok(mut m) = self.lookups.lock() {
            m.insert(key, c.clone());
        }
        Ok(c)
    }

    pub(crate) async fn client(&self, account: &str, region: &str) -> Client {
        let key = (account.to_owned(), region.to_owned());
        if let Ok(m) = self.clients.lock()
            && let Some(c) = m.get(&key)
        {
            return c.clone();
        }
        let mut b = aws_sdk_resourcegroupstagging::config::Builder::from(&self.base)
            .region(aws_config::Region::new(region.to_owned()));
        if self.member_role_name.is_some()
            && let Some(provider) = self.credentials(account, region).await
        {
            b = b.credentials_provider(provider);
        }
        let c = Client::from_conf(b.build());
        if let Ok(mut m) = self.clients.lock() {
            m.insert(key, c.clone());
        }
        c
    }
}

impl TagSource for AwsTags {
    async fn tags(&self, account: &str, region: &str, node: &str) -> Result<Tags, EnrichError> {
        let mut found = self.tags_of_many(account, region, &[node.to_owned()]).await?;
        Ok(found.remove(node).unwrap_or_default())
    }

    async fn tags_of_many(
        &self,
        account: &str,
        region: &str,
        nodes: &[String],
    ) -> Result<HashMap<String, Tags>, EnrichError> {
        // ARN → node, for the nodes that have one.
        let arns: BTreeMap<String, &String> = nodes
            .iter()
            .filter_map(|n| Some((node_arn(account, region, n)?, n)))
            .collect();
        let mut out = HashMap::new();
        if arns.is_empty() {
            return Ok(out);
        }
        let subject = |chunk: &[String]| {
            let nodes: Vec<&str> = chunk.iter().filter_map(|a| arns.get(a)).map(|n| n.as_str()).collect();
            nodes.join(", ")
        };
        let list: Vec<String> = arns.keys().cloned().collect();
        let client = match self.lookup_client(account, region).await {
            Ok(c) => c,
            Err(f) => return Err(lookup_error(&subject(&list), &f)),
        };
        for chunk in list.chunks(100) {
            let mut token: Option<String> = None;
            loop {
                let page = match client.get_resources(chunk, token.as_deref()).await {
                    Ok(page) => page,
                    Err(f) => return Err(lookup_error(&subject(chunk), &f)),
                };
                for m in page.mappings {
                    if let Some(node) = arns.get(&m.arn) {
                        let tags: &mut Tags = out.entry((*node).clone()).or_default();
                        tags.extend(m.tags.into_iter().map(|t| (t.key, t.value)));
                    }
                }
                match page.next {
                    Some(t) if !t.is_empty() => token = Some(t),
                    _ => break,
                }
            }
        }
        Ok(out)
    }
}

/// A tagging API error about `subject` (a node, or a patch group lookup), classified.
/// A failed lookup as an enrichment error naming its nodes.
fn lookup_error(subject: &str, f: &Failure) -> EnrichError {
    EnrichError {
        node: subject.to_owned(),
        message: format!("GetResources failed: {f}"),
        retryable: f.is_retryable(),
    }
}

pub(crate) fn tag_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    subject: &str,
    e: &SdkError<E, aws_sdk_resourcegroupstagging::config::http::HttpResponse>,
) -> EnrichError {
    let retryable = match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ResponseError(r) => r.raw().status().is_server_error(),
        SdkError::ServiceError(s) => s.raw().status().is_server_error() || retryable_code(e.code()),
        _ => false,
    };
    EnrichError {
        node: subject.to_owned(),
        message: patchplane_integrations::aws_error::chain(e),
        retryable,
    }
}

/// The tag source `bridge.yaml` asks for.
pub enum Source {
    /// The Resource Groups Tagging API.
    Aws(Box<AwsTags>),
    /// None (`enrich.enabled: false`, or a replay without AWS).
    None(NoTags),
    /// The same tags for every node (`replay --tag KEY=VALUE`: a dry run without AWS).
    Given(Tags),
}

impl TagSource for Source {
    async fn tags(&self, account: &str, region: &str, node: &str) -> Result<Tags, EnrichError> {
        match self {
            Source::Aws(a) => a.tags(account, region, node).await,
            Source::None(n) => n.tags(account, region, node).await,
            Source::Given(t) => Ok(t.clone()),
        }
    }

    async fn tags_of_many(
        &self,
        account: &str,
        region: &str,
        nodes: &[String],
    ) -> Result<HashMap<String, Tags>, EnrichError> {
        match self {
            Source::Aws(a) => a.tags_of_many(account, region, nodes).await,
            Source::None(_) => Ok(HashMap::new()),
            Source::Given(t) => Ok(nodes.iter().map(|n| (n.clone(), t.clone())).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_for_ec2_and_managed_nodes_in_every_partition() {
        assert_eq!(
            node_arn("111111111111", "eu-west-1", "i-0abc123").as_deref(),
            Some("arn:aws:ec2:eu-west-1:111111111111:instance/i-0abc123")
        );
        assert_eq!(
            node_arn("111111111111", "cn-north-1", "mi-0123456789abcdef0").as_deref(),
            Some("arn:aws-cn:ssm:cn-north-1:111111111111:managed-instance/mi-0123456789abcdef0")
        );
        assert_eq!(
            node_arn("1", "us-gov-west-1", "i-1").as_deref(),
            Some("arn:aws-us-gov:ec2:us-gov-west-1:1:instance/i-1")
        );
        for not_a_node in ["", "i-", "mi-", "i-xyz", "i-1/../x", "arn:aws:ec2:…", "db-1"] {
            assert_eq!(node_arn("1", "us-east-1", not_a_node), None, "{not_a_node}");
        }
    }
}
