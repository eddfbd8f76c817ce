//! `owners:` and `notify:`: who owns a node (tags, then a CMDB, then a static map, then the
//! default group), and where owners hear about their nodes (SNS, Slack, Teams), in digests; with
//! `notify.windows`, before and after their windows in every member account the organization's
//! target OUs hold (`notify.windows.organization`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diag::Finding;
use crate::settings::{SecretRef, Setting, check_secret, check_setting, error};

/// One place an owner may come from, tried in `owners.order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerStep {
    /// The node's tags (`enrich.owner_tags`, first present wins).
    Tags,
    /// The ServiceNow CMDB: the node's CI (`cmdb_ci_vm_instance` by `object_id`, the SSM agent CI
    /// for `mi-` nodes) and its owner fields (`owners.servicenow_cmdb.fields`).
    ServicenowCmdb,
    /// An HTTP JSON CMDB (`owners.http_cmdb`).
    HttpCmdb,
    /// `owners.static`: node id → owner.
    Static,
}

/// `owners:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnersConfig {
    /// The chain, in order; the first that knows wins, else the default group
    /// (`servicenow.assignment_group`). Default `[tags, static]`.
    #[serde(default = "default_order")]
    pub order: Vec<OwnerStep>,
    /// The ServiceNow CMDB step.
    #[serde(default)]
    pub servicenow_cmdb: ServiceNowCmdbConfig,
    /// The HTTP JSON CMDB step.
    #[serde(default)]
    pub http_cmdb: Option<HttpCmdbConfig>,
    /// Node id → owner.
    #[serde(default, rename = "static")]
    pub static_owners: BTreeMap<String, String>,
    /// How long a CMDB's answer is cached. Default 3600.
    #[serde(default = "default_owner_ttl")]
    pub ttl_seconds: u64,
    /// How long "the CMDB does not know this node" is cached (and warned about once). Default 900.
    #[serde(default = "default_negative_ttl")]
    pub negative_ttl_seconds: u64,
}

impl Default for OwnersConfig {
    fn default() -> Self {
        Self {
            order: default_order(),
            servicenow_cmdb: ServiceNowCmdbConfig::default(),
            http_cmdb: None,
            static_owners: BTreeMap::new(),
            ttl_seconds: default_owner_ttl(),
            negative_ttl_seconds: default_negative_ttl(),
        }
    }
}

/// `owners.servicenow_cmdb:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowCmdbConfig {
    /// Owner fields of the CI, in order. Default `[owned_by, managed_by, support_group,
    /// managed_by_group]`. `assignment_group` on a CI is its change group, not its owner.
    #[serde(default = "default_owner_fields")]
    pub fields: Vec<String>,
}

impl Default for ServiceNowCmdbConfig {
    fn default() -> Self {
        Self {
            fields: default_owner_fields(),
        }
    }
}

/// `owners.http_cmdb:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCmdbConfig {
    /// URL template with `{account}`, `{region}` and `{node}`; it answers
    /// `{"owner": …, "email": …, "group": …}`, or 404 for a node it does not know.
    pub url: String,
    /// Bearer token, a reference.
    #[serde(default, with = "serde_yaml::with::singleton_map")]
    pub token: Option<SecretRef>,
    /// Timeout of one request. Default 5.
    #[serde(default = "default_http_timeout")]
    pub timeout_seconds: u64,
}

/// `notify:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Events without a window execution are grouped per owner per this many minutes. Default 5.
    #[serde(default = "default_digest_minutes")]
    pub digest_minutes: u64,
    /// SNS: one topic with an `owner` message attribute, and topics per owner.
    #[serde(default)]
    pub sns: Option<SnsConfig>,
    /// A Slack incoming webhook; its URL is a secret reference.
    #[serde(default)]
    pub slack: Option<WebhookConfig>,
    /// A Microsoft Teams Workflows webhook; its URL is a secret reference.
    #[serde(default)]
    pub teams: Option<WebhookConfig>,
    /// Notices before each install window and summaries after it, per owner.
    #[serde(default)]
    pub windows: Option<WindowNoticesConfig>,
}

/// `notify.windows:`: before each install window (of `schedule:`), each owner with nodes in the
/// window's patch groups hears once what will be installed and when; after it, once what
/// happened. The escalation sweep's tick drives both, so `tickets.sweep_minutes` must not be 0.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowNoticesConfig {
    /// How long before a window opens its notice goes out. Default 24; 0 sends none.
    #[serde(default = "default_lead_hours")]
    pub lead_hours: u32,
    /// How long after a window closes its summary goes out (the inventory sync must have the
    /// results by then). Default 60; `summary: false` sends none.
    #[serde(default = "default_summary_after")]
    pub summary_after_minutes: u32,
    /// Whether summaries after windows are sent. Default true.
    #[serde(default = "yes")]
    pub summary: bool,
    /// Member accounts whose nodes are looked up (through `enrich.member_role_name`) besides
    /// those `organization` reads; without `organization`, the only ones.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// The member accounts read from AWS Organizations: the member StackSet's targets. The
    /// generator sets it (targets from the policy) for a policy's bridge.
    #[serde(default)]
    pub organization: Option<OrganizationAccountsConfig>,
    /// The bucket where bridge tasks record their claims, so two tasks never send one notice
    /// twice (ADR 014): `{env: PATCHPLANE_CLAIMS_BUCKET}` for the one the central stack creates.
    pub claims_bucket: Setting,
    /// The evidence bucket whose inventory sync holds each node's last scan (missing patches
    /// before, install results after): `{env: PATCHPLANE_EVIDENCE_BUCKET}` for the central
    /// stack's. Without it, notices list nodes only.
    #[serde(default)]
    pub evidence_bucket: Option<Setting>,
    /// The sync's prefix in that bucket. Default `resource-data-sync`.
    #[serde(default = "default_sync_prefix")]
    pub evidence_prefix: String,
    /// How long a patch group's node list is cached. Default 30.
    #[serde(default = "default_nodes_cache")]
    pub nodes_cache_minutes: u64,
}

/// `notify.windows.organization:`: the member accounts of window notices read from AWS
/// Organizations: every `ACTIVE` account the member StackSet's deployment targets reach (the
/// target OUs at every depth, `accounts` combined by `account_filter`, never the management
/// account), so accounts that auto-deployment adds get notices too. Organizations answers only the
/// management account and delegated administrators: the bridge calls it with its own task role,
/// or through `role_arn`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationAccountsConfig {
    /// The member StackSet's deployment targets: the policy's `organization.targets`, which the
    /// generator fills in when they are empty.
    #[serde(default)]
    pub targets: OrganizationTargets,
    /// How long the account list is kept before Organizations is read again. Default 60; 0 reads
    /// it for every notice. A read that fails keeps the last good list.
    #[serde(default = "default_org_cache")]
    pub cache_minutes: u64,
    /// A role to assume for the reads (`arn:aws:iam::MANAGEMENT:role/NAME`, allowed
    /// `organizations:ListAccountsForParent` and `organizations:ListOrganizationalUnitsForParent`
    /// and trusting the bridge's task role), when the central account is neither the management
    /// account nor a delegated administrator. Without it the task role calls Organizations itself.
    #[serde(default)]
    pub role_arn: Option<String>,
}

impl Default for OrganizationAccountsConfig {
    fn default() -> Self {
        Self {
            targets: OrganizationTargets::default(),
            cache_minutes: default_org_cache(),
            role_arn: None,
        }
    }
}

/// The member StackSet's `DeploymentTargets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationTargets {
    /// OU ids (`ou-…`) or the root id (`r-…`); their child OUs are read at every depth.
    #[serde(default)]
    pub organizational_units: Vec<String>,
    /// 12-digit account ids, combined with the OUs' accounts by `account_filter`.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// `NONE` (every account of the OUs; `accounts` empty), `INTERSECTION` (only the listed ones
    /// among them), `DIFFERENCE` (all but the listed ones) or `UNION` (the listed ones as well).
    #[serde(default)]
    pub account_filter: AccountFilter,
}

impl OrganizationTargets {
    /// Whether nothing is targeted (the generator fills such targets from the policy).
    pub fn is_empty(&self) -> bool {
        self.organizational_units.is_empty() && self.accounts.is_empty()
    }
}

/// `DeploymentTargets.AccountFilterType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountFilter {
    /// Every account of the OUs.
    #[default]
    None,
    /// Only the listed accounts that are in the OUs.
    Intersection,
    /// The OUs' accounts except the listed ones.
    Difference,
    /// The OUs' accounts and the listed ones.
    Union,
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
fn is_role_arn(s: &str) -> bool {
    let p: Vec<&str> = s.splitn(6, ':').collect();
    p.len() == 6
        && p[0] == "arn"
        && matches!(p[1], "aws" | "aws-cn" | "aws-us-gov")
        && p[2] == "iam"
        && p[3].is_empty()
        && crate::ids::is_account_id(p[4])
        && p[5]
            .strip_prefix("role/")
            .and_then(|r| r.rsplit('/').next())
            .is_some_and(crate::ids::is_role_name)
}

impl OrganizationAccountsConfig {
    /// Every problem, with its key path.
    pub fn check(&self, out: &mut Vec<Finding>) {
        const AT: &str = "notify.windows.organization";
        let t = &self.targets;
        if t.is_empty() {
            out.push(error(
                &format!("{AT}.targets"),
                "name the member StackSet's OUs (the generator fills them from the policy's `organization.targets`)",
            ));
        }
        for (i, ou) in t.organizational_units.iter().enumerate() {
            if !crate::ids::is_ou_or_root_id(ou) {
                out.push(error(
                    &format!("{AT}.targets.organizational_units[{i}]"),
                    format!("`{}` is not an OU id (ou-…) or root id (r-…)", ou.escape_debug()),
                ));
            }
        }
        for (i, a) in t.accounts.iter().enumerate() {
            if !crate::ids::is_account_id(a) {
                out.push(error(
                    &format!("{AT}.targets.accounts[{i}]"),
                    format!("`{}` is not a 12-digit account id", a.escape_debug()),
                ));
            }
        }
        match (t.account_filter, t.accounts.is_empty()) {
            (AccountFilter::None, false) => out.push(error(
                &format!("{AT}.targets.account_filter"),
                "accounts are listed but `account_filter` is NONE: say INTERSECTION, DIFFERENCE or UNION",
            )),
            (AccountFilter::Intersection | AccountFilter::Difference | AccountFilter::Union, true) => out.push(error(
                &format!("{AT}.targets.accounts"),
                "`account_filter` needs at least one account",
            )),
            _ => {}
        }
        if self.cache_minutes > 1440 {
            out.push(error(&format!("{AT}.cache_minutes"), "must be 0–1440"));
        }
        if let Some(r) = &self.role_arn
            && !is_role_arn(r)
        {
            out.push(error(
                &format!("{AT}.role_arn"),
                format!(
                    "`{}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                    r.escape_debug()
                ),
            ));
        }
    }
}

/// The variable the central stack sets to its claims bucket's name.
pub const CLAIMS_BUCKET_ENV: &str = "PATCHPLANE_CLAIMS_BUCKET";
/// The variable the central stack sets to its evidence bucket's name.
pub const EVIDENCE_BUCKET_ENV: &str = "PATCHPLANE_EVIDENCE_BUCKET";

/// The environment variable the central stack sets to its notification topic's ARN: a
/// `notify.sns.topic_arn` of `{env: PATCHPLANE_NOTIFY_TOPIC_ARN}` makes the generator create the
/// topic (encrypted, organization-scoped) and let the task publish to it.
pub const NOTIFY_TOPIC_ENV: &str = "PATCHPLANE_NOTIFY_TOPIC_ARN";

/// `notify.sns:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SnsConfig {
    /// The topic every digest goes to (subscribers filter on the `owner` attribute): an ARN, or
    /// `{env: PATCHPLANE_NOTIFY_TOPIC_ARN}` for the topic the central stack creates.
    pub topic_arn: Setting,
    /// Owner → a topic of its own instead.
    #[serde(default)]
    pub owner_topics: BTreeMap<String, String>,
}

/// A webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL, a reference: webhook URLs are credentials.
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub url: SecretRef,
}

fn default_order() -> Vec<OwnerStep> {
    vec![OwnerStep::Tags, OwnerStep::Static]
}
fn default_owner_fields() -> Vec<String> {
    ["owned_by", "managed_by", "support_group", "managed_by_group"]
        .map(String::from)
        .to_vec()
}
fn default_owner_ttl() -> u64 {
    3600
}
fn default_negative_ttl() -> u64 {
    900
}
fn default_http_timeout() -> u64 {
    5
}
fn default_digest_minutes() -> u64 {
    5
}
fn default_lead_hours() -> u32 {
    24
}
fn default_summary_after() -> u32 {
    60
}
fn yes() -> bool {
    true
}
fn default_sync_prefix() -> String {
    "resource-data-sync".into()
}
fn default_nodes_cache() -> u64 {
    30
}
fn default_org_cache() -> u64 {
    60
}

/// `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
fn is_topic_arn(s: &str) -> bool {
    let p: Vec<&str> = s.splitn(6, ':').collect();
    p.len() == 6
        && p[0] == "arn"
        && matches!(p[1], "aws" | "aws-cn" | "aws-us-gov")
        && p[2] == "sns"
        && crate::ids::KNOWN_REGIONS.contains(&p[3])
        && crate::ids::is_account_id(p[4])
        && !p[5].is_empty()
}

/// The CI fields that may name an owner.
const OWNER_FIELDS: [&str; 6] = [
    "owned_by",
    "managed_by",
    "assigned_to",
    "supported_by",
    "support_group",
    "managed_by_group",
];

impl OwnersConfig {
    /// Every problem, with its key path.
    pub fn check(&self, out: &mut Vec<Finding>) {
        if self.order.is_empty() {
            out.push(error(
                "owners.order",
                "name at least one step (tags, servicenow_cmdb, http_cmdb, static)",
            ));
        }
        for (i, step) in self.order.iter().enumerate() {
            if self.order[..i].contains(step) {
                out.push(error(&format!("owners.order[{i}]"), "is named twice"));
            }
            if *step == OwnerStep::HttpCmdb && self.http_cmdb.is_none() {
                out.push(error(
                    &format!("owners.order[{i}]"),
                    "`http_cmdb` needs `owners.http_cmdb`",
                ));
            }
        }
        for (i, f) in self.servicenow_cmdb.fields.iter().enumerate() {
            if f == "assignment_group" {
                out.push(error(
                    &format!("owners.servicenow_cmdb.fields[{i}]"),
                    "`assignment_group` on a CI is its change group, not its owner",
                ));
            } else if !OWNER_FIELDS.contains(&f.as_str()) {
                out.push(error(
                    &format!("owners.servicenow_cmdb.fields[{i}]"),
                    format!(
                        "`{}` is not an owner field of cmdb_ci ({})",
                        f.escape_debug(),
                        OWNER_FIELDS.join(", ")
                    ),
                ));
            }
        }
        if let Some(h) = &self.http_cmdb {
            if !(h.url.starts_with("https://")
                || h.url.starts_with("http://127.0.0.1")
                || h.url.starts_with("http://localhost"))
            {
                out.push(error(
                    "owners.http_cmdb.url",
                    "must be an https:// URL (plain http only to loopback)",
                ));
            }
            if !h.url.contains("{node}") {
                out.push(error("owners.http_cmdb.url", "must contain `{node}`"));
            }
            if let Some(t) = &h.token {
                check_secret(out, "owners.http_cmdb.token", t);
            }
            if !(1..=60).contains(&h.timeout_seconds) {
                out.push(error("owners.http_cmdb.timeout_seconds", "must be 1–60"));
            }
        }
        if self.ttl_seconds == 0 || self.negative_ttl_seconds == 0 {
            out.push(error(
                "owners",
                "`ttl_seconds` and `negative_ttl_seconds` must be at least 1",
            ));
        }
    }
}

impl NotifyConfig {
    /// Whether the central stack creates the topic (`topic_arn: {env: PATCHPLANE_NOTIFY_TOPIC_ARN}`).
    pub fn wants_central_topic(&self) -> bool {
        self.sns
            .as_ref()
            .is_some_and(|s| matches!(&s.topic_arn, Setting::Env { env } if env == NOTIFY_TOPIC_ENV))
    }

    /// Topic ARNs given literally (the task role may publish to them).
    pub fn literal_topics(&self) -> Vec<String> {
        let Some(s) = &self.sns else { return Vec::new() };
        let mut out: Vec<String> = s.owner_topics.values().cloned().collect();
        if let Setting::Value(v) = &s.topic_arn {
            out.push(v.clone());
        }
        out.sort();
        out.dedup();
        out
    }

    /// Every problem, with its key path.
    pub fn check(&self, out: &mut Vec<Finding>) {
        if !(1..=1440).contains(&self.digest_minutes) {
            out.push(error("notify.digest_minutes", "must be 1–1440"));
        }
        if self.sns.is_none() && self.slack.is_none() && self.teams.is_none() {
            out.push(error("notify", "name at least one of `sns`, `slack`, `teams`"));
        }
        if let Some(s) = &self.sns {
            check_setting(out, "notify.sns.topic_arn", &s.topic_arn);
            if let Setting::Value(v) = &s.topic_arn
                && !is_topic_arn(v)
            {
                out.push(error(
                    "notify.sns.topic_arn",
                    "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                ));
            }
            for (owner, arn) in &s.owner_topics {
                if !is_topic_arn(arn) {
                    out.push(error(
                        &format!("notify.sns.owner_topics.{owner}"),
                        "must be an SNS topic ARN",
                    ));
                }
            }
        }
        for (name, w) in [("slack", &self.slack), ("teams", &self.teams)] {
            if let Some(w) = w {
                check_secret(out, &format!("notify.{name}.url"), &w.url);
            }
        }
        if let Some(w) = &self.windows {
            w.check(out);
        }
    }

    /// Whether the central stack creates the claims bucket (`{env: PATCHPLANE_CLAIMS_BUCKET}`).
    pub fn wants_claims_bucket(&self) -> bool {
        self.windows
            .as_ref()
            .is_some_and(|w| matches!(&w.claims_bucket, Setting::Env { env } if env == CLAIMS_BUCKET_ENV))
    }
}

impl WindowNoticesConfig {
    /// Every problem, with its key path.
    pub fn check(&self, out: &mut Vec<Finding>) {
        if self.lead_hours > 336 {
            out.push(error("notify.windows.lead_hours", "must be 0–336 (two weeks)"));
        }
        if !(1..=1440).contains(&self.summary_after_minutes) {
            out.push(error("notify.windows.summary_after_minutes", "must be 1–1440"));
        }
        if !(1..=1440).contains(&self.nodes_cache_minutes) {
            out.push(error("notify.windows.nodes_cache_minutes", "must be 1–1440"));
        }
        if self.accounts.is_empty() && self.organization.is_none() {
            out.push(error(
                "notify.windows",
                "name member accounts: `organization` (the member StackSet's targets, read from Organizations) or `accounts`",
            ));
        }
        if let Some(o) = &self.organization {
            o.check(out);
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if !crate::ids::is_account_id(a) {
                out.push(error(
                    &format!("notify.windows.accounts[{i}]"),
                    format!("`{}` is not a 12-digit account id", a.escape_debug()),
                ));
            }
        }
        check_setting(out, "notify.windows.claims_bucket", &self.claims_bucket);
        if let Some(b) = &self.evidence_bucket {
            check_setting(out, "notify.windows.evidence_bucket", b);
        }
        let p = &self.evidence_prefix;
        if p.is_empty() || p.starts_with('/') || p.ends_with('/') || p.contains("..") {
            out.push(error(
                "notify.windows.evidence_prefix",
                "must be a key prefix without leading or trailing `/`",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let w: WindowNoticesConfig = serde_yaml::from_str(yaml).expect("yaml");
        let mut out = Vec::new();
        w.check(&mut out);
        out.iter().map(|f| format!("{}: {}", f.path, f.message)).collect()
    }

    #[test]
    fn window_notices_name_their_accounts_from_the_organization_or_by_hand() {
        let none = problems("claims_bucket: c\n");
        assert!(
            none.iter()
                .any(|p| p.starts_with("notify.windows: name member accounts")),
            "{none:?}"
        );
        assert!(problems("claims_bucket: c\naccounts: ['222222222222']\n").is_empty());
        let ok = "claims_bucket: c\norganization: {targets: {organizational_units: [ou-ab12-34cd56ef, r-ab12]}}\n";
        assert!(problems(ok).is_empty(), "{:?}", problems(ok));
        let w: WindowNoticesConfig = serde_yaml::from_str(ok).expect("yaml");
        let o = w.organization.expect("organization");
        assert_eq!(
            (o.cache_minutes, o.role_arn, o.targets.account_filter),
            (60, None, AccountFilter::None)
        );

        let bad = problems(
            "claims_bucket: c\norganization:\n  targets: {organizational_units: [ou-x], accounts: ['12'], account_filter: NONE}\n  cache_minutes: 2000\n  role_arn: 'arn:aws:iam::111111111111:user/me'\n",
        );
        for want in [
            "notify.windows.organization.targets.organizational_units[0]: `ou-x` is not an OU id",
            "notify.windows.organization.targets.accounts[0]: `12` is not a 12-digit account id",
            "notify.windows.organization.targets.account_filter: accounts are listed but `account_filter` is NONE",
            "notify.windows.organization.cache_minutes: must be 0–1440",
            "notify.windows.organization.role_arn: `arn:aws:iam::111111111111:user/me` is not an IAM role ARN",
        ] {
            assert!(bad.iter().any(|p| p.starts_with(want)), "missing {want:?} in {bad:?}");
        }
        let empty = problems("claims_bucket: c\norganization: {}\n");
        assert!(
            empty
                .iter()
                .any(|p| p.starts_with("notify.windows.organization.targets: name the member StackSet's OUs")),
            "{empty:?}"
        );
        assert!(is_role_arn(
            "arn:aws-us-gov:iam::111111111111:role/ops/patchplane-organization-read"
        ));
        assert!(!is_role_arn("arn:aws:iam::111111111111:role/"));
    }
}
