//! `tag-last-patched` from `last_patched:` and `enrich.member_role_name` (validation requires
//! both): the tag is read and written with the member role in the event's account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use patchplane_integrations::retry::{Failure, RetryPolicy};
use patchplane_integrations::ssm::Ssm;

use super::{Fetch, LastPatched, NodeTags, Write, one_tag};
use crate::config::Action;
use crate::enrich::tags::{AwsTags, node_arn};
use crate::sinks::Builder;
use crate::start::StartError;

/// Registers `tag-last-patched`, when the file has `last_patched:`.
pub fn register(b: &mut Builder<'_>) -> Result<(), StartError> {
    let Some(cfg) = b.cfg.last_patched.as_ref().filter(|_| b.wants(Action::TagLastPatched)) else {
        return Ok(());
    };
    let tags = AwsNodeTags {
        tags: AwsTags::new(b.sdk.clone(), b.cfg.enrich.member_role_name.clone()),
        ssm: Mutex::new(HashMap::new()),
    };
    let sink = LastPatched::new(cfg.tag.clone(), Arc::new(tags));
    b.sinks = std::mem::take(&mut b.sinks).with(Action::TagLastPatched, Arc::new(sink));
    Ok(())
}

/// Tags in member accounts: read with `GetResources`, written with `TagResources` (EC2) or
/// `AddTagsToResource` (on-premises), as the member role.
struct AwsNodeTags {
    tags: AwsTags,
    ssm: Mutex<HashMap<(String, String), Arc<Ssm>>>,
}

impl AwsNodeTags {
    async fn ssm(&self, account: &str, region: &str) -> Result<Arc<Ssm>, Failure> {
        let key = (account.to_owned(), region.to_owned());
        if let Ok(m) = self.ssm.lock()
            && let Some(c) = m.get(&key)
        {
            return Ok(c.clone());
        }
        let Some(provider) = self.tags.credentials(account, region).await else {
            return Err(no_credentials());
        };
        let retry = RetryPolicy {
            attempts: 3,
            base: std::time::Duration::from_millis(100),
            cap: std::time::Duration::from_secs(20),
        };
        let c = Arc::new(Ssm::new(self.tags.endpoint_url(), region, provider, retry)?);
        if let Ok(mut m) = self.ssm.lock() {
            m.insert(key, c.clone());
        }
        Ok(c)
    }
}

fn no_credentials() -> Failure {
    Failure {
        status: Some(401),
        message: "no AWS credentials provider is configured".into(),
        retry_after: None,
    }
}

fn not_a_node(node: &str) -> Failure {
    Failure {
        status: Some(400),
        message: format!("`{}` is not a node id", node.escape_debug()),
        retry_after: None,
    }
}

impl NodeTags for AwsNodeTags {
    fn get<'a>(&'a self, account: &'a str, region: &'a str, node: &'a str, key: &'a str) -> Fetch<'a> {
        Box::pin(async move {
            let arn = node_arn(account, region, node).ok_or_else(|| not_a_node(node))?;
            let client = self.tags.lookup_client(account, region).await?;
            let page = client.get_resources(&[arn], None).await?;
            Ok(page
                .mappings
                .iter()
                .flat_map(|m| &m.tags)
                .find(|t| t.key == key)
                .map(|t| t.value.clone()))
        })
    }

    fn set<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
        (key, value): (&'a str, &'a str),
    ) -> Write<'a> {
        Box::pin(async move {
            let tags = one_tag(key, value);
            if node.starts_with("mi-") {
                return self.ssm(account, region).await?.tag_managed_instance(node, &tags).await;
            }
            let arn = node_arn(account, region, node).ok_or_else(|| not_a_node(node))?;
            let answer = self
                .tags
                .lookup_client(account, region)
                .await?
                .tag_resources(std::slice::from_ref(&arn), &tags)
                .await?;
            match answer.failed.get(&arn) {
                None => Ok(()),
                Some(why) => Err(Failure {
                    status: why.status_code.or(Some(500)),
                    message: format!("TagResources: {}: {}", why.error_code, why.error_message),
                    retry_after: None,
                }),
            }
        })
    }
}
