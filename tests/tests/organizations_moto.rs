//! The member accounts of window notices read from AWS Organizations (`notify.windows.organization`,
//! issue 28) against moto: an organization whose target OU has OUs nested two levels below it,
//! accounts at every level and beside it, read through the bridge's JSON-protocol client one item
//! a page (so every listing pages), then read again once the cache has expired, with an account
//! added meanwhile.
//!
//! What moto skips: it does not enforce who may call Organizations (any credentials read it,
//! where AWS answers only the management account and delegated administrators), it evaluates no
//! IAM policy (the task role's `organizations:List*` statement scoped to the organization's OU and
//! root ARNs is checked by cfn-lint and cfn-guard, not here), it accepts any signature, and it
//! never throttles. The cache's failure path (a failed read keeps the last good list) and the
//! StackSets account filters are unit tests of `window_notices::accounts` with an in-process fake.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use patchplane::bridge_config::WindowNoticesConfig;
use patchplane::bridge_config::owners::{AccountFilter, OrganizationAccountsConfig, OrganizationTargets};
use patchplane_bridge::sinks::window_notices::accounts::{MemberAccounts, OrgTree, target_accounts};
use patchplane_e2e::Moto;
use patchplane_integrations::aws_json::AwsJson;
use patchplane_integrations::organizations::{ORGANIZATIONS, Organizations};
use patchplane_integrations::retry::RetryPolicy;
use serde_json::{Value as Json, json};

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(10),
        cap: Duration::from_secs(1),
    }
}

/// One call of the organization's set-up (the bridge's client only reads).
async fn call(admin: &AwsJson, operation: &str, body: Json) -> Json {
    admin
        .call::<Json>(operation, &body, Duration::from_secs(10))
        .await
        .unwrap_or_else(|f| panic!("{operation}: {f}"))
}

async fn ou(admin: &AwsJson, parent: &str, name: &str) -> String {
    let v = call(
        admin,
        "CreateOrganizationalUnit",
        json!({"ParentId": parent, "Name": name}),
    )
    .await;
    v["OrganizationalUnit"]["Id"].as_str().expect("ou id").to_owned()
}

/// A new account, moved from the root into `parent`.
async fn account(admin: &AwsJson, root: &str, parent: &str, name: &str) -> String {
    let v = call(
        admin,
        "CreateAccount",
        json!({"Email": format!("{name}@example.com"), "AccountName": name}),
    )
    .await;
    let id = v["CreateAccountStatus"]["AccountId"]
        .as_str()
        .expect("account id")
        .to_owned();
    if parent != root {
        call(
            admin,
            "MoveAccount",
            json!({"AccountId": id, "SourceParentId": root, "DestinationParentId": parent}),
        )
        .await;
    }
    id
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_ous_accounts_at_every_depth_then_one_added_once_the_cache_expired() {
    let moto = Moto::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let credentials = sdk.credentials_provider().expect("the test chain has credentials");
    let admin = AwsJson::new(ORGANIZATIONS, &moto.endpoint, "us-east-1", credentials.clone(), retry()).expect("client");

    // root ── workloads (target) ── prod ── payments
    //     │        2 accounts        2         1
    //     └─ sandbox: 1 account;  root itself: the management account and 1 more
    let org = call(&admin, "CreateOrganization", json!({"FeatureSet": "ALL"})).await;
    let management = org["Organization"]["MasterAccountId"]
        .as_str()
        .expect("management")
        .to_owned();
    let roots = call(&admin, "ListRoots", json!({})).await;
    let root = roots["Roots"][0]["Id"].as_str().expect("root").to_owned();
    let workloads = ou(&admin, &root, "workloads").await;
    let prod = ou(&admin, &workloads, "prod").await;
    let payments = ou(&admin, &prod, "payments").await;
    let sandbox = ou(&admin, &root, "sandbox").await;
    let mut want = Vec::new();
    for (parent, name) in [
        (&workloads, "w1"),
        (&workloads, "w2"),
        (&prod, "p1"),
        (&prod, "p2"),
        (&payments, "pay1"),
    ] {
        want.push(account(&admin, &root, parent, name).await);
    }
    let outside = account(&admin, &root, &sandbox, "s1").await;
    let in_root = account(&admin, &root, &root, "r1").await;
    // A closed account stays listed (SUSPENDED) but gets no stack instance and no notice.
    let closed = account(&admin, &root, &prod, "gone").await;
    call(&admin, "CloseAccount", json!({"AccountId": closed})).await;

    let tree: Arc<dyn OrgTree> = Arc::new(
        Organizations::new(Some(&moto.endpoint), "eu-west-1", credentials, retry())
            .expect("client")
            .with_page_size(1),
    );
    let minutes = Arc::new(AtomicI64::new(0));
    let m = minutes.clone();
    let start = Timestamp::now();
    let clock = Arc::new(move || start + SignedDuration::from_mins(m.load(Ordering::SeqCst)));
    let mut cfg: WindowNoticesConfig = serde_yaml::from_str("claims_bucket: claims\n").expect("config");
    cfg.organization = Some(OrganizationAccountsConfig {
        targets: OrganizationTargets {
            organizational_units: vec![workloads.clone()],
            accounts: vec![],
            account_filter: AccountFilter::None,
        },
        cache_minutes: 60,
        role_arn: None,
    });
    let accounts = MemberAccounts::new(&cfg, Some(tree.clone()), clock);

    let first = accounts.get().await.expect("first read");
    assert_eq!(
        first,
        sorted(want.clone()),
        "the target OU and both levels below it, ACTIVE only"
    );
    for not in [&outside, &in_root, &closed, &management] {
        assert!(!first.contains(not), "{not} is not a target");
    }

    // Auto-deployment adds an account to the deepest OU; the cached list does not know it yet.
    let late = account(&admin, &root, &payments, "late").await;
    minutes.store(59, Ordering::SeqCst);
    assert_eq!(accounts.get().await.expect("cached"), first, "within the 60 minutes");
    minutes.store(60, Ordering::SeqCst);
    want.push(late);
    assert_eq!(accounts.get().await.expect("read again"), sorted(want.clone()));

    // The root as target: every ACTIVE account, never the management account (StackSets never
    // deploy there, and every account ARN names it).
    let everything = target_accounts(
        tree.as_ref(),
        &OrganizationTargets {
            organizational_units: vec![root.clone()],
            accounts: vec![],
            account_filter: AccountFilter::None,
        },
    )
    .await
    .expect("root");
    want.extend([outside, in_root]);
    assert_eq!(everything, sorted(want));
}
