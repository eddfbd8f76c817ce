//! The member accounts whose nodes window notices look up: the accounts of the member StackSet's
//! deployment targets, read from AWS Organizations (`notify.windows.organization`), plus the
//! accounts listed by hand (`notify.windows.accounts`), so an account that auto-deployment adds
//! to a target OU hears about its windows without anyone editing the file.
//!
//! What StackSets deploy to (CloudFormation API reference, `DeploymentTargets`): every account in
//! the target OUs and, at every depth, their child OUs; `Accounts` combined by
//! `AccountFilterType` (`INTERSECTION` only those, `DIFFERENCE` all but those, `UNION` those as
//! well); never the management account, even inside a target OU. So the tree is walked from each
//! target OU (`ListOrganizationalUnitsForParent`, `ListAccountsForParent`, every page), only
//! `ACTIVE` accounts count, and the management account (named in every account ARN) is dropped.
//!
//! The list is kept `cache_minutes` by the sink's clock. A read that fails keeps the last good
//! list (a warning says so) and is tried again at the next notice; with no list yet, the notice
//! waits (a retryable failure keeps its claim) rather than going to part of the fleet.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use jiff::{SignedDuration, Timestamp};
use patchplane_bridge_config::WindowNoticesConfig;
use patchplane_bridge_config::owners::{AccountFilter, OrganizationTargets};
use patchplane_integrations::organizations::{Account, AccountsPage, Organizations, UnitsPage};
use patchplane_integrations::retry::{Failure, RetryPolicy};

use super::Fut;
use crate::sinks::Clock;

/// The most pages read for one parent: 20 items a page, far beyond any OU's size; a source that
/// keeps answering with a token is broken.
const MAX_PAGES: usize = 10_000;

/// Organizations' tree, one page at a time.
pub trait OrgTree: Send + Sync {
    /// One page of the OUs directly in `parent`.
    fn units<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<UnitsPage, Failure>>;
    /// One page of the accounts directly in `parent`.
    fn accounts<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<AccountsPage, Failure>>;
}

impl OrgTree for Organizations {
    fn units<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<UnitsPage, Failure>> {
        Box::pin(self.list_organizational_units_for_parent(parent, token))
    }
    fn accounts<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<AccountsPage, Failure>> {
        Box::pin(self.list_accounts_for_parent(parent, token))
    }
}

/// Organizations with the bridge's AWS configuration: its own credentials (the task role), or
/// `role_arn` assumed; the client is made at the first read.
pub struct AwsOrgTree {
    sdk: SdkConfig,
    role_arn: Option<String>,
    client: tokio::sync::OnceCell<Organizations>,
}

impl AwsOrgTree {
    /// Reads with `sdk`'s endpoint and credentials, or as `role_arn`.
    pub fn new(sdk: SdkConfig, role_arn: Option<String>) -> Self {
        Self {
            sdk,
            role_arn,
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&Organizations, Failure> {
        self.client
            .get_or_try_init(|| async {
                let provider = match &self.role_arn {
                    Some(arn) => SharedCredentialsProvider::new(
                        aws_config::sts::AssumeRoleProvider::builder(arn)
                            .session_name("patchplane-bridge-organizations")
                            .configure(&self.sdk)
                            .build()
                            .await,
                    ),
                    None => self.sdk.credentials_provider().ok_or_else(|| Failure {
                        status: Some(401),
                        message: "no AWS credentials provider is configured".into(),
                        retry_after: None,
                    })?,
                };
                let region = self.sdk.region().map_or("us-east-1", |r| r.as_ref());
                Organizations::new(self.sdk.endpoint_url(), region, provider, RETRY)
            })
            .await
    }
}

/// The SDK's own retries: 3 attempts, backoff with jitter.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    base: std::time::Duration::from_millis(100),
    cap: std::time::Duration::from_secs(20),
};

impl OrgTree for AwsOrgTree {
    fn units<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<UnitsPage, Failure>> {
        Box::pin(async move {
            self.client()
                .await?
                .list_organizational_units_for_parent(parent, token)
                .await
        })
    }
    fn accounts<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<AccountsPage, Failure>> {
        Box::pin(async move { self.client().await?.list_accounts_for_parent(parent, token).await })
    }
}

/// Every account directly in `parent`, page after page: only a missing or empty token ends
/// the listing (a page may be empty while more follow).
async fn all_accounts(tree: &dyn OrgTree, parent: &str) -> Result<Vec<Account>, Failure> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = tree.accounts(parent, token.as_deref()).await?;
        out.extend(page.accounts);
        match page.next.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
    Err(endless(parent))
}

/// Every OU directly in `parent`, page after page.
async fn all_units(tree: &dyn OrgTree, parent: &str) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = tree.units(parent, token.as_deref()).await?;
        out.extend(page.units.into_iter().map(|u| u.id));
        match page.next.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
    Err(endless(parent))
}

fn endless(parent: &str) -> Failure {
    Failure {
        status: Some(502),
        message: format!("{parent}: still more pages after {MAX_PAGES}"),
        retry_after: None,
    }
}

/// The accounts the member StackSet deploys to under `targets`: the `ACTIVE` accounts of the
/// target OUs at every depth, without the management account, combined with `targets.accounts`
/// by the filter. Sorted.
pub async fn target_accounts(tree: &dyn OrgTree, targets: &OrganizationTargets) -> Result<Vec<String>, Failure> {
    let mut found = BTreeSet::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut parents: Vec<String> = targets.organizational_units.clone();
    while let Some(parent) = parents.pop() {
        if !seen.insert(parent.clone()) {
            continue;
        }
        for a in all_accounts(tree, &parent).await? {
            // Every account ARN names the management account, where StackSets never deploy.
            if a.is_active() && a.management_account() != Some(a.id.as_str()) {
                found.insert(a.id);
            }
        }
        parents.extend(all_units(tree, &parent).await?);
    }
    let listed: BTreeSet<String> = targets.accounts.iter().cloned().collect();
    let accounts = match targets.account_filter {
        AccountFilter::None => found,
        AccountFilter::Intersection => found.intersection(&listed).cloned().collect(),
        AccountFilter::Difference => found.difference(&listed).cloned().collect(),
        AccountFilter::Union => found.union(&listed).cloned().collect(),
    };
    Ok(accounts.into_iter().collect())
}

/// The organization half: where and how often.
struct FromOrganization {
    tree: Arc<dyn OrgTree>,
    targets: OrganizationTargets,
    ttl: SignedDuration,
    /// The last good list and when it was read.
    last: tokio::sync::Mutex<Option<(Timestamp, Vec<String>)>>,
}

/// The accounts of window notices: the organization's (cached) and the listed ones.
pub struct MemberAccounts {
    listed: Vec<String>,
    organization: Option<FromOrganization>,
    clock: Clock,
}

impl MemberAccounts {
    /// As `cfg` says: `tree` reads the organization when `cfg.organization` is set.
    pub fn new(cfg: &WindowNoticesConfig, tree: Option<Arc<dyn OrgTree>>, clock: Clock) -> Self {
        let organization = cfg.organization.as_ref().zip(tree).map(|(o, tree)| FromOrganization {
            tree,
            targets: o.targets.clone(),
            ttl: SignedDuration::from_mins(i64::try_from(o.cache_minutes).unwrap_or(i64::MAX / 60)),
            last: tokio::sync::Mutex::new(None),
        });
        Self {
            listed: cfg.accounts.clone(),
            organization,
            clock,
        }
    }

    /// The accounts, sorted: the organization's (read again once `cache_minutes` have passed)
    /// and the listed ones.
    pub async fn get(&self) -> Result<Vec<String>, Failure> {
        let mut out: BTreeSet<String> = self.listed.iter().cloned().collect();
        if let Some(o) = &self.organization {
            out.extend(o.get(&self.clock).await?);
        }
        Ok(out.into_iter().collect())
    }
}

impl FromOrganization {
    async fn get(&self, clock: &Clock) -> Result<Vec<String>, Failure> {
        // One reader at a time: concurrent notices wait for the same read.
        let mut last = self.last.lock().await;
        let now = clock();
        if let Some((at, accounts)) = last.as_ref()
            && now.duration_since(*at) < self.ttl
        {
            return Ok(accounts.clone());
        }
        match target_accounts(self.tree.as_ref(), &self.targets).await {
            Ok(accounts) => {
                let before = last.as_ref().map(|(_, a)| a.clone()).unwrap_or_default();
                if before != accounts {
                    let added = accounts.iter().filter(|a| !before.contains(a)).count();
                    let removed = before.iter().filter(|a| !accounts.contains(a)).count();
                    tracing::info!(
                        accounts = accounts.len(),
                        added,
                        removed,
                        "Member accounts read from the organization"
                    );
                }
                *last = Some((now, accounts.clone()));
                Ok(accounts)
            }
            Err(f) => {
                let f = with_hint(f);
                match last.as_ref() {
                    // The time of the last good read stays, so the next notice reads again.
                    Some((at, accounts)) => {
                        tracing::warn!(
                            error = %f,
                            read_at = %at,
                            accounts = accounts.len(),
                            "Organizations could not be read; the last account list is kept"
                        );
                        Ok(accounts.clone())
                    }
                    None => Err(f),
                }
            }
        }
    }
}

/// An access error says what grants the reads.
fn with_hint(mut f: Failure) -> Failure {
    if f.message.contains("AccessDenied") || f.status == Some(403) {
        f.message.push_str(
            " (the central account must be the management account or a delegated administrator, or \
             `notify.windows.organization.role_arn` must name a role that may list the target OUs)",
        );
    }
    f
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    use patchplane_bridge_config::owners::OrganizationAccountsConfig;
    use patchplane_integrations::organizations::OrganizationalUnit;

    use super::*;

    const MANAGEMENT: &str = "111111111111";

    /// An organization in memory, served one item per page so every listing pages.
    #[derive(Default)]
    struct Tree {
        units: Mutex<BTreeMap<String, Vec<String>>>,
        accounts: Mutex<BTreeMap<String, Vec<Account>>>,
        down: AtomicBool,
        calls: Mutex<Vec<String>>,
    }

    impl Tree {
        fn ou(&self, parent: &str, id: &str) {
            if let Ok(mut u) = self.units.lock() {
                u.entry(parent.into()).or_default().push(id.into());
            }
        }
        fn account(&self, parent: &str, id: &str, state: &str) {
            if let Ok(mut a) = self.accounts.lock() {
                a.entry(parent.into()).or_default().push(Account {
                    id: id.into(),
                    arn: format!("arn:aws:organizations::{MANAGEMENT}:account/o-exampleorgid/{id}"),
                    state: Some(state.into()),
                    status: None,
                });
            }
        }
        fn page<T: Clone>(&self, items: Vec<T>, token: Option<&str>) -> Result<(Vec<T>, Option<String>), Failure> {
            if self.down.load(Ordering::SeqCst) {
                return Err(Failure {
                    status: Some(503),
                    message: "ListAccountsForParent: ServiceException".into(),
                    retry_after: None,
                });
            }
            let i: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
            let next = (i + 1 < items.len()).then(|| (i + 1).to_string());
            Ok((items.get(i).cloned().into_iter().collect(), next))
        }
    }

    impl OrgTree for Tree {
        fn units<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<UnitsPage, Failure>> {
            let items = self
                .units
                .lock()
                .map(|u| u.get(parent).cloned().unwrap_or_default())
                .unwrap_or_default();
            if let Ok(mut c) = self.calls.lock() {
                c.push(format!("units {parent}"));
            }
            let r = self.page(items, token).map(|(units, next)| UnitsPage {
                units: units.into_iter().map(|id| OrganizationalUnit { id }).collect(),
                next,
            });
            Box::pin(async move { r })
        }
        fn accounts<'a>(&'a self, parent: &'a str, token: Option<&'a str>) -> Fut<'a, Result<AccountsPage, Failure>> {
            let items = self
                .accounts
                .lock()
                .map(|a| a.get(parent).cloned().unwrap_or_default())
                .unwrap_or_default();
            let r = self
                .page(items, token)
                .map(|(accounts, next)| AccountsPage { accounts, next });
            Box::pin(async move { r })
        }
    }

    /// ou-a (222…, the management account) → ou-b (333…, a suspended 444…) → ou-c (555…, 666…);
    /// ou-x beside them (777…).
    fn tree() -> Arc<Tree> {
        let t = Tree::default();
        t.ou("r-root", "ou-a");
        t.ou("r-root", "ou-x");
        t.ou("ou-a", "ou-b");
        t.ou("ou-b", "ou-c");
        t.account("ou-a", "222222222222", "ACTIVE");
        t.account("ou-a", MANAGEMENT, "ACTIVE");
        t.account("ou-b", "333333333333", "ACTIVE");
        t.account("ou-b", "444444444444", "SUSPENDED");
        t.account("ou-c", "555555555555", "ACTIVE");
        t.account("ou-c", "666666666666", "ACTIVE");
        t.account("ou-x", "777777777777", "ACTIVE");
        Arc::new(t)
    }

    fn targets(ous: &[&str], accounts: &[&str], filter: AccountFilter) -> OrganizationTargets {
        OrganizationTargets {
            organizational_units: ous.iter().map(|s| (*s).to_owned()).collect(),
            accounts: accounts.iter().map(|s| (*s).to_owned()).collect(),
            account_filter: filter,
        }
    }

    async fn read(t: &Arc<Tree>, targets: &OrganizationTargets) -> Vec<String> {
        target_accounts(t.as_ref(), targets).await.expect("read")
    }

    #[tokio::test]
    async fn every_depth_active_only_never_the_management_account() {
        let t = tree();
        assert_eq!(
            read(&t, &targets(&["ou-a"], &[], AccountFilter::None)).await,
            ["222222222222", "333333333333", "555555555555", "666666666666"]
        );
        // The root reaches ou-x too; naming a child OU beside its parent reads it once.
        assert_eq!(read(&t, &targets(&["r-root"], &[], AccountFilter::None)).await.len(), 5);
        let calls_before = t.calls.lock().map(|c| c.len()).unwrap_or(0);
        assert_eq!(
            read(&t, &targets(&["ou-a", "ou-b"], &[], AccountFilter::None))
                .await
                .len(),
            4
        );
        let calls = t.calls.lock().map(|c| c[calls_before..].to_vec()).unwrap_or_default();
        assert_eq!(calls.iter().filter(|c| *c == "units ou-b").count(), 1, "{calls:?}");
    }

    #[tokio::test]
    async fn the_filter_combines_listed_accounts_as_stacksets_do() {
        let t = tree();
        let listed = ["333333333333", "777777777777"];
        assert_eq!(
            read(&t, &targets(&["ou-a"], &listed, AccountFilter::Intersection)).await,
            ["333333333333"]
        );
        assert_eq!(
            read(&t, &targets(&["ou-a"], &listed, AccountFilter::Difference)).await,
            ["222222222222", "555555555555", "666666666666"]
        );
        assert_eq!(
            read(&t, &targets(&["ou-a"], &listed, AccountFilter::Union)).await,
            [
                "222222222222",
                "333333333333",
                "555555555555",
                "666666666666",
                "777777777777"
            ]
        );
    }

    fn config(cache_minutes: u64, listed: &[&str]) -> WindowNoticesConfig {
        let mut c: WindowNoticesConfig = serde_yaml::from_str("claims_bucket: claims\n").expect("config");
        c.accounts = listed.iter().map(|s| (*s).to_owned()).collect();
        c.organization = Some(OrganizationAccountsConfig {
            targets: targets(&["ou-b"], &[], AccountFilter::None),
            cache_minutes,
            role_arn: None,
        });
        c
    }

    #[tokio::test]
    async fn the_list_is_kept_for_its_ttl_and_a_failed_read_keeps_the_last_good_one() {
        let t = tree();
        let minutes = Arc::new(AtomicI64::new(0));
        let m = minutes.clone();
        let clock: Clock =
            Arc::new(move || Timestamp::UNIX_EPOCH + SignedDuration::from_mins(m.load(Ordering::SeqCst)));
        let accounts = MemberAccounts::new(&config(60, &["999999999999"]), Some(t.clone()), clock);
        assert_eq!(
            accounts.get().await.expect("first read"),
            ["333333333333", "555555555555", "666666666666", "999999999999"],
            "the organization's and the listed ones"
        );
        t.account("ou-c", "888888888888", "ACTIVE");
        minutes.store(59, Ordering::SeqCst);
        assert_eq!(accounts.get().await.expect("cached").len(), 4, "within the TTL");
        minutes.store(60, Ordering::SeqCst);
        assert!(
            accounts
                .get()
                .await
                .expect("read again")
                .contains(&"888888888888".to_owned())
        );
        // Organizations down: the last good list, and a read again at the next call.
        t.account("ou-c", "101010101010", "ACTIVE");
        t.down.store(true, Ordering::SeqCst);
        minutes.store(200, Ordering::SeqCst);
        assert_eq!(accounts.get().await.expect("kept").len(), 5);
        t.down.store(false, Ordering::SeqCst);
        assert_eq!(
            accounts.get().await.expect("back").len(),
            6,
            "no TTL wait after a failure"
        );
    }

    #[tokio::test]
    async fn with_no_good_list_yet_a_failure_is_the_notices_failure() {
        let t = tree();
        t.down.store(true, Ordering::SeqCst);
        let accounts = MemberAccounts::new(&config(0, &[]), Some(t.clone()), Arc::new(Timestamp::now));
        let f = accounts.get().await.expect_err("nothing to fall back on");
        assert!(f.is_retryable(), "the notice waits for the next tick: {f}");
        let denied = with_hint(Failure {
            status: Some(400),
            message: "ListAccountsForParent: AccessDeniedException: You don't have permissions".into(),
            retry_after: None,
        });
        assert!(denied.message.contains("delegated administrator"), "{denied}");
        // Without `organization`, the listed accounts only.
        let mut c = config(0, &["999999999999"]);
        c.organization = None;
        let listed = MemberAccounts::new(&c, Some(t), Arc::new(Timestamp::now));
        assert_eq!(listed.get().await.expect("listed"), ["999999999999"]);
    }
}
