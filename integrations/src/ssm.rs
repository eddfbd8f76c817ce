//! Systems Manager through its JSON protocol ([`crate::aws_json`], ADR 020): `AddTagsToResource`
//! (the bridge tags an on-premises node, `mi-`, which the Resource Groups Tagging API does not
//! list among the resources `TagResources` supports) and `CreateActivation` (`patchplane hybrid
//! activate`).
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

/// What `CreateActivation` asks for
/// (<https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateActivation.html>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivation {
    /// `Description`.
    pub description: String,
    /// `DefaultInstanceName`: the name its nodes get.
    pub default_instance_name: String,
    /// `IamRole`: the service role its nodes get (a name).
    pub iam_role: String,
    /// `RegistrationLimit`: how many nodes may register.
    pub registration_limit: u32,
    /// `ExpirationDate`, seconds since the epoch.
    pub expires_epoch: i64,
    /// `Tags`, in this order.
    pub tags: Vec<(String, String)>,
}

/// An activation: its id, and its code, a secret that never appears in `Debug`.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Activation {
    /// `ActivationId`.
    #[serde(rename = "ActivationId")]
    pub id: String,
    /// `ActivationCode`: a credential until the activation expires.
    #[serde(rename = "ActivationCode")]
    pub code: String,
}

impl std::fmt::Debug for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activation")
            .field("id", &self.id)
            .field("code", &"<secret>")
            .finish()
    }
}

impl Ssm {
    /// Creates an activation; its answer holds the code nodes register with.
    pub async fn create_activation(&self, a: &NewActivation) -> Result<Activation, Failure> {
        let tags: Vec<serde_json::Value> = a.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        let body = json!({
            "Description": a.description,
            "DefaultInstanceName": a.default_instance_name,
            "IamRole": a.iam_role,
            "RegistrationLimit": a.registration_limit,
            "ExpirationDate": a.expires_epoch,
            "Tags": tags,
        });
        self.0.call("CreateActivation", &body, TIMEOUT).await
    }
}

impl Ssm {
    /// Shares document `name` with `accounts` (`ModifyDocumentPermission`, `PermissionType:
    /// Share`), at most 20 accounts per call as the API takes them.
    pub async fn share_document(&self, name: &str, accounts: &[String]) -> Result<(), Failure> {
        for chunk in accounts.chunks(20) {
            let body = json!({"Name": name, "PermissionType": "Share", "AccountIdsToAdd": chunk});
            let _: serde_json::Value = self.0.call("ModifyDocumentPermission", &body, TIMEOUT).await?;
        }
        Ok(())
    }

    /// `StartAutomationExecution` with `request` as its body; the execution's id.
    pub async fn start_automation(&self, request: &serde_json::Value) -> Result<String, Failure> {
        #[derive(serde::Deserialize)]
        struct Started {
            #[serde(rename = "AutomationExecutionId")]
            id: String,
        }
        let s: Started = self.0.call("StartAutomationExecution", request, TIMEOUT).await?;
        Ok(s.id)
    }

    /// `GetAutomationExecution`: the execution as AWS returns it.
    pub async fn get_automation(&self, id: &str) -> Result<serde_json::Value, Failure> {
        let out: serde_json::Value = self
            .0
            .call("GetAutomationExecution", &json!({"AutomationExecutionId": id}), TIMEOUT)
            .await?;
        Ok(out["AutomationExecution"].clone())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn regional_endpoints() {
        assert_eq!(super::endpoint("eu-west-1"), "https://ssm.eu-west-1.amazonaws.com");
        assert_eq!(super::endpoint("cn-north-1"), "https://ssm.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn an_activation_never_shows_its_code() {
        let a = super::Activation {
            id: "e488f2f6-e686-4afb-8a04-ef6dfEXAMPLE".into(),
            code: "ACTIVATION-CODE-SECRET".into(),
        };
        let shown = format!("{a:?}");
        assert!(
            shown.contains("e488f2f6") && !shown.contains("ACTIVATION-CODE-SECRET"),
            "{shown}"
        );
    }
}
