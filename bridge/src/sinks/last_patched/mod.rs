//! `tag-last-patched`: after a node's successful install, its last-patched tag (`last_patched.tag`,
//! default `patchplane:last-patched`) is set to the day, UTC `YYYY-MM-DD`, so anyone can see when a
//! node was last patched without opening the report.
//!
//! The trigger is the command status-change event (`EC2 Command Status-change Notification`):
//! it carries the command's `parameters`, so only `Operation: Install` tags (a nightly scan runs
//! the same document), its `Success` means every node of the command succeeded, and its
//! `resources` name those nodes (one for the per-node install of ADR 026). The per-node
//! invocation event carries no parameters, so it cannot tell an install from a scan.
//!
//! The tag is written in the node's own account through the member role (`enrich.member_role_name`),
//! whose tag permission the member StackSet limits to this one key: `TagResources` of the Resource
//! Groups Tagging API for EC2, Systems Manager's `AddTagsToResource` for on-premises `mi-` nodes.
//! A date never goes backwards: a late redelivery of an older install leaves a newer date alone.

pub mod config;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use patchplane_integrations::retry::Failure;

use crate::decode::{Decoded, Event};
use crate::enrich::Context;
use crate::outcome::Outcome;
use crate::sinks::common::{event_time, failed};
use crate::sinks::{ActionSink, Delivery};

/// Documents whose `Install` runs patch a node.
const PATCH_DOCUMENTS: [&str; 2] = ["AWS-RunPatchBaseline", "AWS-RunPatchBaselineWithHooks"];

/// Reads and writes one tag of a node in its account and region.
pub trait NodeTags: Send + Sync {
    /// The tag's value now, if the node has it.
    fn get<'a>(&'a self, account: &'a str, region: &'a str, node: &'a str, key: &'a str) -> Fetch<'a>;
    /// Sets it.
    fn set<'a>(&'a self, account: &'a str, region: &'a str, node: &'a str, tag: (&'a str, &'a str)) -> Write<'a>;
}

/// A tag read.
pub type Fetch<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Option<String>, Failure>> + Send + 'a>>;
/// A tag write.
pub type Write<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// The sink.
pub struct LastPatched {
    key: String,
    tags: Arc<dyn NodeTags>,
}

impl LastPatched {
    /// Sets `key` through `tags`.
    pub fn new(key: String, tags: Arc<dyn NodeTags>) -> Self {
        Self { key, tags }
    }
}

/// The nodes a command event names in `resources` (`…:instance/i-…`, `…:managed-instance/mi-…`).
pub fn nodes(resources: &[String]) -> Vec<String> {
    resources
        .iter()
        .filter_map(|arn| arn.rsplit('/').next())
        .filter(|id| id.starts_with("i-") || id.starts_with("mi-"))
        .map(str::to_owned)
        .collect()
}

/// Whether a command's `parameters` ask for an install (`{"Operation": ["Install"], …}`).
pub fn is_install(parameters: &serde_json::Value) -> bool {
    parameters["Operation"]
        .as_array()
        .and_then(|v| v.first())
        .and_then(|v| v.as_str())
        .is_some_and(|op| op.eq_ignore_ascii_case("Install"))
}

impl ActionSink for LastPatched {
    fn deliver<'a>(&'a self, d: &'a Decoded, _: &'a Context) -> Delivery<'a> {
        Box::pin(async move {
            let Event::Command(c) = &d.event else {
                return Outcome::Delivered;
            };
            if !c.status.eq_ignore_ascii_case("Success")
                || !PATCH_DOCUMENTS.contains(&c.document_name.as_str())
                || !is_install(&c.parameters)
            {
                return Outcome::Delivered;
            }
            let day = match event_time(d) {
                Ok(t) => t.strftime("%Y-%m-%d").to_string(),
                Err(e) => return Outcome::Reject(e),
            };
            let (account, region) = (&d.envelope.account, &d.envelope.region);
            for node in nodes(&d.envelope.resources) {
                match self.tags.get(account, region, &node, &self.key).await {
                    // ISO dates compare as strings; a newer one stays.
                    Ok(Some(current)) if current.as_str() >= day.as_str() => continue,
                    Ok(_) => {}
                    Err(f) => return failed(f),
                }
                if let Err(f) = self.tags.set(account, region, &node, (&self.key, &day)).await {
                    return failed(Failure {
                        message: format!("{node}: {}", f.message),
                        ..f
                    });
                }
                tracing::info!(account = %account, region = %region, node = %node, tag = %self.key, day = %day, "Last-patched tag set");
            }
            Outcome::Delivered
        })
    }
}

/// The tag as the APIs take it.
pub(crate) fn one_tag(key: &str, value: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(key.to_owned(), value.to_owned())])
}
