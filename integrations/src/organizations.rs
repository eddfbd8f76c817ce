//! AWS Organizations' two read calls the bridge needs to know the member accounts of window
//! notices, `ListOrganizationalUnitsForParent` and `ListAccountsForParent`, through the JSON
//! protocol ([`crate::aws_json`], ADR 020) rather than another SDK crate.
//!
//! Organizations is an `awsJson1_1` API (target prefix `AWSOrganizationsV20161128`, signing name
//! `organizations`) with one endpoint per partition: `organizations.us-east-1.amazonaws.com`,
//! `organizations.cn-northwest-1.amazonaws.com.cn` and `organizations.us-gov-west-1.amazonaws.com`,
//! signed for that region whatever region the caller runs in. Both calls take
//! `{"ParentId", "MaxResults" (1-20), "NextToken"}`; the API reference says a page may come back
//! empty while more follow, so only a missing or null `NextToken` ends a listing. Both may be
//! called only from the management account or from a member account that is a delegated
//! administrator (API reference, `ListAccountsForParent`). An account's `State` (`ACTIVE`,
//! `SUSPENDED`, `PENDING_CLOSURE`, `CLOSED`, …) replaces `Status`, which AWS retires on
//! 2026-09-09; both are read, `State` first. Organizations' throttling code is
//! `TooManyRequestsException` (retried as a 429 by [`crate::aws_json`]).

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use serde::Deserialize;
use serde_json::json;

use crate::aws_json::{Api, AwsJson};
use crate::retry::{Failure, RetryPolicy};

/// Organizations' JSON protocol.
pub const ORGANIZATIONS: Api = Api {
    signing_name: "organizations",
    target_prefix: "AWSOrganizationsV20161128",
    content_type: "application/x-amz-json-1.1",
};

/// Longest wait for one page.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest page both calls allow.
pub const MAX_PAGE: u8 = 20;

/// An account, as `ListAccountsForParent` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    /// 12 digits.
    #[serde(default)]
    pub id: String,
    /// `arn:PARTITION:organizations::MANAGEMENT:account/o-…/ID`.
    #[serde(default)]
    pub arn: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, `CLOSED`, `PENDING_ACTIVATION`.
    #[serde(default)]
    pub state: Option<String>,
    /// The older field (`ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`), retired on 2026-09-09.
    #[serde(default)]
    pub status: Option<String>,
}

impl Account {
    /// Whether the account is active: its `State`, else its `Status`, is `ACTIVE`.
    pub fn is_active(&self) -> bool {
        self.state.as_deref().or(self.status.as_deref()) == Some("ACTIVE")
    }

    /// The organization's management account, which every account ARN names
    /// (`arn:aws:organizations::<management>:account/o-…/<id>`, Organizations' ARN formats).
    pub fn management_account(&self) -> Option<&str> {
        let mut parts = self.arn.splitn(6, ':');
        let (arn, _, service, region, account) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        (arn == "arn" && service == "organizations" && region.is_empty() && account.len() == 12).then_some(account)
    }
}

/// An organizational unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationalUnit {
    /// `ou-…`.
    #[serde(default)]
    pub id: String,
}

/// One page of `ListAccountsForParent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AccountsPage {
    /// The accounts directly in the parent (not in its child OUs).
    #[serde(rename = "Accounts", default)]
    pub accounts: Vec<Account>,
    /// The next page's token; `None` on the last page.
    #[serde(rename = "NextToken", default)]
    pub next: Option<String>,
}

/// One page of `ListOrganizationalUnitsForParent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UnitsPage {
    /// The OUs directly in the parent.
    #[serde(rename = "OrganizationalUnits", default)]
    pub units: Vec<OrganizationalUnit>,
    /// The next page's token; `None` on the last page.
    #[serde(rename = "NextToken", default)]
    pub next: Option<String>,
}

/// Organizations' endpoint and signing region for the partition of `region`.
pub fn endpoint(region: &str) -> (&'static str, &'static str) {
    if region.starts_with("cn-") {
        (
            "https://organizations.cn-northwest-1.amazonaws.com.cn",
            "cn-northwest-1",
        )
    } else if region.starts_with("us-gov-") {
        ("https://organizations.us-gov-west-1.amazonaws.com", "us-gov-west-1")
    } else {
        ("https://organizations.us-east-1.amazonaws.com", "us-east-1")
    }
}

/// An Organizations client with one account's credentials.
#[derive(Debug)]
pub struct Organizations {
    json: AwsJson,
    page: u8,
}

impl Organizations {
    /// A client of `endpoint_url` (else the endpoint of `region`'s partition) with credentials
    /// from `provider`.
    pub fn new(
        endpoint_url: Option<&str>,
        region: &str,
        provider: SharedCredentialsProvider,
        retry: RetryPolicy,
    ) -> Result<Organizations, Failure> {
        let (url, signing_region) = endpoint(region);
        let json = AwsJson::new(
            ORGANIZATIONS,
            endpoint_url.unwrap_or(url),
            signing_region,
            provider,
            retry,
        )?;
        Ok(Organizations { json, page: MAX_PAGE })
    }

    /// The same with pages of `n` (1-20) items: tests page through small organizations.
    pub fn with_page_size(mut self, n: u8) -> Organizations {
        self.page = n.clamp(1, MAX_PAGE);
        self
    }

    /// One page of the accounts directly in `parent` (an OU or root id).
    pub async fn list_accounts_for_parent(&self, parent: &str, token: Option<&str>) -> Result<AccountsPage, Failure> {
        self.json
            .call("ListAccountsForParent", &self.body(parent, token), TIMEOUT)
            .await
    }

    /// One page of the OUs directly in `parent` (an OU or root id).
    pub async fn list_organizational_units_for_parent(
        &self,
        parent: &str,
        token: Option<&str>,
    ) -> Result<UnitsPage, Failure> {
        self.json
            .call("ListOrganizationalUnitsForParent", &self.body(parent, token), TIMEOUT)
            .await
    }

    fn body(&self, parent: &str, token: Option<&str>) -> serde_json::Value {
        let mut body = json!({ "ParentId": parent, "MaxResults": self.page });
        if let Some(t) = token {
            body["NextToken"] = t.into();
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_endpoint_per_partition() {
        assert_eq!(
            endpoint("eu-west-1"),
            ("https://organizations.us-east-1.amazonaws.com", "us-east-1")
        );
        assert_eq!(endpoint("cn-north-1").1, "cn-northwest-1");
        assert_eq!(endpoint("us-gov-east-1").1, "us-gov-west-1");
    }

    /// The shapes of the API reference's `ListAccountsForParent` example, with `State` beside
    /// the retiring `Status`.
    #[test]
    fn accounts_read_their_state_and_name_the_management_account() {
        let page: AccountsPage = serde_json::from_str(
            r#"{"Accounts":[
                {"Arn":"arn:aws:organizations::111111111111:account/o-exampleorgid/333333333333","Email":"juan@example.com","Id":"333333333333","JoinedMethod":"INVITED","JoinedTimestamp":1481835795.536,"Name":"Development Account","Status":"ACTIVE","State":"ACTIVE"},
                {"Arn":"arn:aws:organizations::111111111111:account/o-exampleorgid/444444444444","Id":"444444444444","Status":"ACTIVE","State":"SUSPENDED"},
                {"Arn":"arn:aws:organizations::111111111111:account/o-exampleorgid/555555555555","Id":"555555555555","Status":"ACTIVE"}
            ],"NextToken":null}"#,
        )
        .expect("page");
        let active: Vec<&str> = page
            .accounts
            .iter()
            .filter(|a| a.is_active())
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(active, ["333333333333", "555555555555"], "State wins over Status");
        assert_eq!(page.accounts[0].management_account(), Some("111111111111"));
        assert_eq!(page.next, None);
        let units: UnitsPage =
            serde_json::from_str(r#"{"OrganizationalUnits":[{"Id":"ou-examplerootid111-exampleouid111","Arn":"arn:aws:organizations::111111111111:ou/o-exampleorgid/ou-examplerootid111-exampleouid111","Name":"Production"}],"NextToken":"AAAA"}"#)
                .expect("units");
        assert_eq!(units.units[0].id, "ou-examplerootid111-exampleouid111");
        assert_eq!(units.next.as_deref(), Some("AAAA"));
        assert_eq!(Account::default().management_account(), None);
    }
}
