//! The Resource Groups Tagging API's `GetResources` by ARN list, through its JSON protocol
//! ([`crate::aws_json`], ADR 020): the bridge's tag lookup for every new node; and
//! `TagResources`, which sets a tag on EC2 instances (the bridge's last-patched date).
//!
//! `POST /` to `https://tagging.<region>.amazonaws.com` (`.com.cn` in China) with
//! `X-Amz-Target: ResourceGroupsTaggingAPI_20170126.GetResources` and
//! `{"ResourceARNList": [...], "PaginationToken": "..."}` (at most 100 ARNs; AWS API reference);
//! the answer is `{"ResourceTagMappingList": [{"ResourceARN", "Tags": [{"Key", "Value"}]}],
//! "PaginationToken"}`, an empty token on the last page.

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use serde::Deserialize;
use serde_json::json;

use crate::aws_json::{Api, AwsJson};
use crate::retry::{Failure, RetryPolicy};

const TAGGING: Api = Api {
    signing_name: "tagging",
    target_prefix: "ResourceGroupsTaggingAPI_20170126",
    content_type: "application/x-amz-json-1.1",
};

/// Longest wait for one page.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One resource's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Mapping {
    /// Its ARN.
    #[serde(rename = "ResourceARN", default)]
    pub arn: String,
    /// Its tags, in the API's order.
    #[serde(rename = "Tags", default)]
    pub tags: Vec<Tag>,
}

/// One tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// One page of `GetResources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Page {
    /// The resources of the page that have tags.
    #[serde(rename = "ResourceTagMappingList", default)]
    pub mappings: Vec<Mapping>,
    /// The next page's token; `None` or empty on the last page.
    #[serde(rename = "PaginationToken", default)]
    pub next: Option<String>,
}

/// The regional endpoint of the Tagging API (China's regions have their own domain).
pub fn endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://tagging.{region}.{domain}")
}

/// A Tagging API client for one account (its credentials) and region.
#[derive(Debug)]
pub struct Tagging(AwsJson);

impl Tagging {
    /// A client of `endpoint_url` (else the region's endpoint), signing for `region` with
    /// credentials from `provider`.
    pub fn new(
        endpoint_url: Option<&str>,
        region: &str,
        provider: SharedCredentialsProvider,
        retry: RetryPolicy,
    ) -> Result<Tagging, Failure> {
        let url = endpoint_url.map(str::to_owned).unwrap_or_else(|| endpoint(region));
        AwsJson::new(TAGGING, &url, region, provider, retry).map(Tagging)
    }

    /// One page of the tags of `arns` (at most 100), from `token` (`None` for the first).
    pub async fn get_resources(&self, arns: &[String], token: Option<&str>) -> Result<Page, Failure> {
        let mut body = json!({ "ResourceARNList": arns });
        if let Some(t) = token {
            body["PaginationToken"] = t.into();
        }
        self.0.call("GetResources", &body, TIMEOUT).await
    }
}

/// `TagResources`' answer: the ARNs it could not tag, each with why
/// (<https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_TagResources.html>:
/// `{"FailedResourcesMap": {"ARN": {"StatusCode", "ErrorCode", "ErrorMessage"}}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Tagged {
    /// ARN → why it was not tagged.
    #[serde(rename = "FailedResourcesMap", default)]
    pub failed: std::collections::BTreeMap<String, FailureInfo>,
}

/// Why one resource was not tagged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailureInfo {
    /// HTTP-like status (`400`, `500`).
    #[serde(default)]
    pub status_code: Option<u16>,
    /// `InvalidParameterException`, `InternalServiceException`, …
    #[serde(default)]
    pub error_code: String,
    /// Why, in words.
    #[serde(default)]
    pub error_message: String,
}

impl Tagging {
    /// Sets `tags` on `arns` (at most 20 per call, the API's limit). The call succeeds as a whole;
    /// resources it could not tag are in the answer.
    pub async fn tag_resources(
        &self,
        arns: &[String],
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Tagged, Failure> {
        self.0
            .call(
                "TagResources",
                &json!({ "ResourceARNList": arns, "Tags": tags }),
                TIMEOUT,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn regional_endpoints() {
        assert_eq!(super::endpoint("eu-west-1"), "https://tagging.eu-west-1.amazonaws.com");
        assert_eq!(
            super::endpoint("cn-north-1"),
            "https://tagging.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            super::endpoint("us-gov-west-1"),
            "https://tagging.us-gov-west-1.amazonaws.com"
        );
    }
}
