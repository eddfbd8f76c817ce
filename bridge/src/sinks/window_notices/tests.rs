//! Window notices with in-process fakes: which notices are due when, and once per owner across
//! two "tasks" sharing one claim store. The end-to-end version (moto's tagging API and S3, two
//! bridge processes, a webhook receiver) is `tests/tests/bridge_window_notices.rs`.

use std::sync::Mutex;

use patchplane_bridge_config::{WindowNoticesConfig, WindowSpec};

use super::*;
use crate::claims::{Claimed, MemoryClaims, MemoryTask};
use crate::enrich::owners::Step;
use crate::sinks::notify::DigestSender;

struct Nodes;
impl Fleet for Nodes {
    fn nodes<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        key: &'a str,
        groups: &'a [String],
    ) -> Fut<'a, Result<Vec<Node>, EnrichError>> {
        let node = |id: &str, owner: &str| Node {
            id: id.into(),
            tags: [
                ("Owner".to_owned(), owner.to_owned()),
                (key.to_owned(), groups[0].clone()),
            ]
            .into(),
        };
        let out = vec![
            node("i-0000000000000000a", "payments"),
            node("i-0000000000000000b", "payments"),
            node("i-0000000000000000c", "search"),
        ];
        Box::pin(async move { Ok(out) })
    }
}

struct LastScans;
impl Scans for LastScans {
    fn missing<'a>(&'a self, _: &'a str, _: &'a str, node: &'a str) -> Fut<'a, Result<Option<Scan>, Failure>> {
        let scan = (node != "i-0000000000000000c").then(|| Scan {
            missing: vec![MissingPatch {
                id: "KB5034441".into(),
                title: "t".into(),
                severity: "Critical".into(),
                state: "Missing".into(),
                classification: "SecurityUpdates".into(),
            }],
            captured: None,
        });
        Box::pin(async move { Ok(scan) })
    }
    fn summary<'a>(&'a self, _: &'a str, _: &'a str, node: &'a str) -> Fut<'a, Result<Option<PatchSummary>, Failure>> {
        let s = PatchSummary {
            baseline_id: "pb-1".into(),
            operation: "Install".into(),
            failed: u64::from(node == "i-0000000000000000b"),
            operation_end: Some("2026-12-08T08:00:00Z".parse().expect("t")),
            ..PatchSummary::default()
        };
        Box::pin(async move { Ok(Some(s)) })
    }
}

#[derive(Default)]
struct Inbox(Mutex<Vec<Digest>>);
impl DigestSender for Inbox {
    fn name(&self) -> String {
        "inbox".into()
    }
    fn send<'a>(&'a self, d: &'a Digest) -> Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>> {
        if let Ok(mut v) = self.0.lock() {
            v.push(d.clone());
        }
        Box::pin(async { Ok(()) })
    }
}

fn schedule() -> ScheduleConfig {
    ScheduleConfig {
        zones: [("us-east-1".to_owned(), "America/New_York".to_owned())].into(),
        windows: vec![WindowSpec {
            name: "acme-AL2023-early-install".into(),
            patch_groups: vec!["AL2023-early".into()],
            // Patch Tuesday 02:00 New York: 2026-12-08T07:00:00Z.
            cron: "cron(0 2 ? * TUE#2 *)".into(),
            offset_days: 0,
            duration_hours: 3,
            zone: None,
        }],
    }
}

fn config() -> WindowNoticesConfig {
    serde_yaml::from_str("accounts: ['111111111111']\nclaims_bucket: claims\n").expect("config")
}

fn task(store: &Arc<MemoryClaims>, id: u64, inbox: &Arc<Inbox>, now: &'static str) -> WindowNotices {
    let board = Arc::new(DigestBoard::new(
        Duration::from_secs(300),
        vec![inbox.clone() as Arc<dyn DigestSender>],
    ));
    let t: Timestamp = now.parse().expect("now");
    WindowNotices::new(
        &schedule(),
        config(),
        "Patch Group",
        "platform".into(),
        Parts {
            accounts: Arc::new(MemberAccounts::new(&config(), None, Arc::new(move || t))),
            fleet: Arc::new(Nodes),
            scans: Some(Arc::new(LastScans)),
            tickets: None,
            owners: Arc::new(OwnerChain::new(
                vec![Step::Tags(vec!["Owner".into()])],
                Duration::from_secs(60),
                Duration::from_secs(60),
            )),
            claims: Arc::new(MemoryTask {
                store: store.clone(),
                id,
            }),
            board,
        },
        Arc::new(move || t),
    )
}

#[test]
fn a_notice_is_due_within_the_lead_time_and_a_summary_after_the_window() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let at = |now: &'static str| task(&store, 1, &inbox, now).due(now.parse().expect("t"));
    assert!(at("2026-12-07T06:59:59Z").is_empty(), "25 h before: nothing");
    let due = at("2026-12-07T07:00:00Z");
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].phase, Phase::Before);
    assert_eq!(due[0].local, "Tue 2026-12-08 02:00 America/New_York");
    assert_eq!(
        due[0].key(),
        format!(
            "before/acme-AL2023-early-install/us-east-1/{}",
            due[0].opening.as_second()
        )
    );
    assert!(
        at("2026-12-08T10:59:59Z").is_empty(),
        "open, then closing: not yet summarized"
    );
    // Closes at 10:00 UTC; the summary waits 60 minutes for the inventory sync.
    let due = at("2026-12-08T11:00:00Z");
    assert_eq!(due.iter().map(|d| d.phase).collect::<Vec<_>>(), vec![Phase::After]);
    assert!(at("2026-12-09T11:00:01Z").is_empty(), "a day later it is no news");
}

#[tokio::test]
async fn two_tasks_send_one_notice_per_owner_with_each_nodes_missing_patches() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let a = task(&store, 1, &inbox, "2026-12-07T12:00:00Z");
    let b = task(&store, 2, &inbox, "2026-12-07T12:00:00Z");
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    assert_eq!(ra.expect("a") + rb.expect("b"), 2, "two owners, two notices");
    // Later ticks of either task send nothing more.
    assert_eq!(a.tick().await.expect("a again"), 0);
    assert_eq!(b.tick().await.expect("b again"), 0);
    // Two ticks of one task at once (two workers) send nothing twice either.
    let c = task(&store, 3, &inbox, "2026-12-08T12:00:00Z");
    let (r1, r2) = tokio::join!(c.tick(), c.tick());
    assert_eq!(r1.expect("c") + r2.expect("c"), 2, "the two summaries, once");
    inbox.0.lock().expect("inbox").retain(|d| d.group.starts_with("before"));
    let got = inbox.0.lock().expect("inbox").clone();
    let owners: Vec<(&str, usize)> = got.iter().map(|d| (d.owner.as_str(), d.items.len())).collect();
    assert_eq!(owners, vec![("payments", 2), ("search", 1)]);
    let payments = &got[0];
    assert!(
        payments
            .key
            .starts_with("patchplane:payments:before:acme-AL2023-early-install:us-east-1:")
    );
    assert_eq!(payments.items[0].status, "1 missing");
    assert!(
        payments.items[0].line.contains("KB5034441 (Critical)"),
        "{:?}",
        payments.items[0]
    );
    assert_eq!(got[1].items[0].status, "no scan");
    let h = payments.heading.as_ref().expect("heading");
    assert!(h.title.contains("Tue 2026-12-08 02:00 America/New_York"), "{}", h.title);
}

#[tokio::test]
async fn the_summary_after_a_window_says_per_node_patched_or_failed() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let t = task(&store, 1, &inbox, "2026-12-08T12:00:00Z");
    assert_eq!(t.tick().await.expect("tick"), 2);
    let got = inbox.0.lock().expect("inbox").clone();
    let statuses: Vec<Vec<&str>> = got
        .iter()
        .map(|d| d.items.iter().map(|i| i.status.as_str()).collect())
        .collect();
    assert_eq!(statuses, vec![vec!["patched", "failed"], vec!["patched"]]);
    let title = &got[0].heading.as_ref().expect("heading").title;
    assert!(title.contains("1 patched, 1 failed, 0 not patched"), "{title}");
}

#[tokio::test]
async fn a_notice_another_task_holds_is_left_to_it() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let a = task(&store, 1, &inbox, "2026-12-07T12:00:00Z");
    let key = a.due("2026-12-07T12:00:00Z".parse().expect("t"))[0].key();
    let other = MemoryTask {
        store: store.clone(),
        id: 9,
    };
    assert_eq!(other.claim(&key).await.expect("claim"), Claimed::Won);
    assert_eq!(a.tick().await.expect("tick"), 0, "held by task 9");
    other.finish(&key).await.expect("finish");
    assert_eq!(a.tick().await.expect("tick"), 0, "done by task 9");
    assert!(inbox.0.lock().expect("inbox").is_empty());
}

/// One node per account; the tagging API refuses for good in 222222222222, and is throttled in
/// 999999999999 when `throttled` is set.
struct PerAccount {
    throttled: bool,
}
impl Fleet for PerAccount {
    fn nodes<'a>(
        &'a self,
        account: &'a str,
        _: &'a str,
        _: &'a str,
        _: &'a [String],
    ) -> Fut<'a, Result<Vec<Node>, EnrichError>> {
        let r = match account {
            "222222222222" => Err(EnrichError {
                node: account.to_owned(),
                message: "GetResources: AccessDeniedException".into(),
                retryable: false,
            }),
            "999999999999" if self.throttled => Err(EnrichError {
                node: account.to_owned(),
                message: "GetResources: ThrottlingException".into(),
                retryable: true,
            }),
            _ => Ok(vec![Node {
                id: format!("i-{}00000", &account[..12]),
                tags: [("Owner".to_owned(), format!("team-{}", &account[..3]))].into(),
            }]),
        };
        Box::pin(async move { r })
    }
}

/// The organization: 222… and 333… in the target OU.
struct Org;
impl accounts::OrgTree for Org {
    fn units<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
    ) -> Fut<'a, Result<patchplane_integrations::organizations::UnitsPage, Failure>> {
        Box::pin(async { Ok(Default::default()) })
    }
    fn accounts<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
    ) -> Fut<'a, Result<patchplane_integrations::organizations::AccountsPage, Failure>> {
        let account = |id: &str| patchplane_integrations::organizations::Account {
            id: id.into(),
            arn: format!("arn:aws:organizations::111111111111:account/o-exampleorgid/{id}"),
            state: Some("ACTIVE".into()),
            status: None,
        };
        let page = patchplane_integrations::organizations::AccountsPage {
            accounts: vec![account("222222222222"), account("333333333333")],
            next: None,
        };
        Box::pin(async move { Ok(page) })
    }
}

#[tokio::test]
async fn the_organizations_accounts_and_the_listed_ones_get_notices_an_unreachable_one_is_skipped() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let board = Arc::new(DigestBoard::new(
        Duration::from_secs(300),
        vec![inbox.clone() as Arc<dyn DigestSender>],
    ));
    let now: Timestamp = "2026-12-07T12:00:00Z".parse().expect("now");
    let cfg: WindowNoticesConfig = serde_yaml::from_str(
        "accounts: ['999999999999']\nclaims_bucket: claims\norganization: {targets: {organizational_units: [ou-ab12-34cd56ef]}}\n",
    )
    .expect("config");
    let notices = |throttled: bool| {
        WindowNotices::new(
            &schedule(),
            cfg.clone(),
            "Patch Group",
            "platform".into(),
            Parts {
                accounts: Arc::new(MemberAccounts::new(&cfg, Some(Arc::new(Org)), Arc::new(move || now))),
                fleet: Arc::new(PerAccount { throttled }),
                scans: None,
                tickets: None,
                owners: Arc::new(OwnerChain::new(
                    vec![Step::Tags(vec!["Owner".into()])],
                    Duration::from_secs(60),
                    Duration::from_secs(60),
                )),
                claims: Arc::new(MemoryTask {
                    store: store.clone(),
                    id: 1,
                }),
                board: board.clone(),
            },
            Arc::new(move || now),
        )
    };
    // Throttled in one account: the notice waits whole for the next tick, nothing goes out.
    let f = notices(true).tick().await.expect_err("throttled");
    assert!(f.is_retryable(), "{f}");
    assert!(inbox.0.lock().expect("inbox").is_empty());
    assert_eq!(notices(false).tick().await.expect("tick"), 2);
    let owners: Vec<String> = inbox.0.lock().expect("inbox").iter().map(|d| d.owner.clone()).collect();
    assert_eq!(
        owners,
        ["team-333", "team-999"],
        "the organization's 333… and the listed 999…; the tagging API refuses 222… for good"
    );
}
