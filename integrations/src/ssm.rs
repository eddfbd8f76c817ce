//! Systems Manager's `AddTagsToResource` through its JSON protocol ([`crate::aws_json`], ADR 020):
//! the bridge tags an on-premises node (`mi-`), which the Resource Groups Tagging API does not
//! list among the resources `TagResources` supports.
//!
//! `POST /` to `https://ssm.<region>.amazonaws.com` with `X-Amz-Target:
//! AmazonSSM.AddTagsToResource` and `{"ResourceType": "ManagedInstance", "ResourceId": "mi-…",
//! "Tags": [{"Key", "Value"}]}`; the answer is `{}`
//! (<https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AddTagsToResource.html>).

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use serde_json::json;

use crate::aws_json::{Api, AwsJson};
use crate::retry::{Failure, RetryPolicy};

const SSM: Api = Api {
    signing_name: "ssm",
    target_prefix: "AmazonSSM",
    content_type: "application/x-amz-json-1.1",
};

/// Longest wait for one call.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The regional endpoint of Systems Manager (China's regions have their own domain).
pub fn endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://ssm.{region}.{domain}")
}

/// A Systems Manager client for one account (its credentials) and region.
#[derive(Debug)]
pub struct Ssm(AwsJson);

impl Ssm {
    /// A client of `endpoint_url` (else the region's endpoint), signing for `region` with
    /// credentials from `provider`.
    pub fn new(
        endpoint_url: Option<&str>,
        region: &str,
        provider: SharedCredentialsProvider,
        retry: RetryPolicy,
    ) -> Result<Ssm, Failure> {
        let url = endpoint_url.map(str::to_owned).unwrap_or_else(|| endpoint(region));
        AwsJson::new(SSM, &url, region, provider, retry).map(Ssm)
    }

    /// Adds (or overwrites) `tags` on the on-premises node `node` (`mi-…`).
    pub async fn tag_managed_instance(
        &self,
        node: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), Failure> {
        let tags: Vec<serde_json::Value> = tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        let body = json!({"ResourceType": "ManagedInstance", "ResourceId": node, "Tags": tags});
        let _: serde_json::Value = self.0.call("AddTagsToResource", &body, TIMEOUT).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn regional_endpoints() {
        assert_eq!(super::endpoint("eu-west-1"), "https://ssm.eu-west-1.amazonaws.com");
        assert_eq!(super::endpoint("cn-north-1"), "https://ssm.cn-north-1.amazonaws.com.cn");
    }
}
