//! Exception notices with in-process fakes: which stage is due on which day (written out as
//! dates), the recipients, and once per stage across two "tasks" sharing one claim store. The
//! version through the routed sweep and the dispatcher is `tests/tests/exception_notices.rs`.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::claims::{MemoryClaims, MemoryTask};
use crate::enrich::owners::Step;
use crate::sinks::notify::DigestSender;

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

/// Fails its first `n` sends, retryably.
struct Flaky(Mutex<usize>, Arc<Inbox>);
impl DigestSender for Flaky {
    fn name(&self) -> String {
        "flaky".into()
    }
    fn send<'a>(&'a self, d: &'a Digest) -> Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>> {
        let fail = self
            .0
            .lock()
            .map(|mut n| {
                let f = *n > 0;
                *n = n.saturating_sub(1);
                f
            })
            .unwrap_or(false);
        Box::pin(async move {
            if fail {
                return Err(Failure {
                    status: Some(503),
                    message: "unavailable".into(),
                    retry_after: None,
                });
            }
            self.1.send(d).await
        })
    }
}

fn exception(id: &str, starts: Option<&str>, expires: &str) -> Exception {
    Exception {
        id: id.into(),
        nodes: vec!["i-0000000000000000a".into(), "i-0000000000000000b".into()],
        tags: BTreeMap::new(),
        patches: Vec::new(),
        reason: "audit freeze".into(),
        approver: "ciso@acme.example".into(),
        ticket: "CHG0031234".into(),
        starts: starts.map(str::to_owned),
        expires: expires.into(),
    }
}

fn task(
    store: &Arc<MemoryClaims>,
    id: u64,
    sender: Arc<dyn DigestSender>,
    exceptions: Vec<Exception>,
    now: &Arc<Mutex<Timestamp>>,
) -> ExceptionNotices {
    let board = Arc::new(DigestBoard::new(Duration::from_secs(300), vec![sender]));
    let now = now.clone();
    ExceptionNotices::new(
        exceptions,
        vec!["Owner".into()],
        "platform".into(),
        Parts {
            owners: Arc::new(OwnerChain::new(
                vec![Step::Static(
                    [("i-0000000000000000a".to_owned(), "payments".to_owned())].into(),
                )],
                Duration::from_secs(60),
                Duration::from_secs(60),
            )),
            claims: Arc::new(MemoryTask {
                store: store.clone(),
                id,
            }),
            board,
        },
        Arc::new(move || now.lock().map(|t| *t).unwrap_or_default()),
    )
}

fn at(s: &str) -> Arc<Mutex<Timestamp>> {
    Arc::new(Mutex::new(s.parse().expect("time")))
}

fn stages(t: &ExceptionNotices, day: &str) -> Vec<(Stage, String)> {
    t.due(day.parse().expect("day"))
        .into_iter()
        .map(|d| (d.stage, d.exception.id))
        .collect()
}

#[test]
fn the_first_notice_is_due_fourteen_days_before_the_expiry_and_the_second_on_it() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let t = task(
        &store,
        1,
        inbox,
        vec![exception("EXC-1", None, "2026-12-21")],
        &at("2026-12-07T00:00:00Z"),
    );
    let one = |s| vec![(s, "EXC-1".to_owned())];
    assert!(stages(&t, "2026-12-06").is_empty(), "15 days before: nothing");
    assert_eq!(stages(&t, "2026-12-07"), one(Stage::Before));
    // A bridge down on the day catches up for three days, never longer (claims live 7 days).
    assert_eq!(stages(&t, "2026-12-09"), one(Stage::Before));
    assert!(stages(&t, "2026-12-10").is_empty());
    assert!(stages(&t, "2026-12-20").is_empty());
    assert_eq!(stages(&t, "2026-12-21"), one(Stage::Expiry));
    assert_eq!(stages(&t, "2026-12-23"), one(Stage::Expiry));
    assert!(stages(&t, "2026-12-24").is_empty(), "long expired: no news");
    assert_eq!(
        t.due("2026-12-07".parse().expect("day"))[0].key(),
        "before/EXC-1/2026-12-21"
    );
}

#[test]
fn a_stage_never_comes_before_the_start() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let t = task(
        &store,
        1,
        inbox,
        vec![
            // Starts in the future, long before its expiry: nothing until the usual days.
            exception("EXC-LATER", Some("2027-01-01"), "2027-03-31"),
            // Starts inside the 14 days: the first notice on its start day.
            exception("EXC-SHORT", Some("2026-12-15"), "2026-12-21"),
            // Starts on its last day: only the expiry's.
            exception("EXC-DAY", Some("2026-12-21"), "2026-12-21"),
        ],
        &at("2026-12-07T00:00:00Z"),
    );
    assert!(stages(&t, "2026-12-07").is_empty(), "none of them holds yet");
    assert!(stages(&t, "2026-12-14").is_empty());
    assert_eq!(stages(&t, "2026-12-15"), vec![(Stage::Before, "EXC-SHORT".to_owned())]);
    assert_eq!(
        stages(&t, "2026-12-21"),
        vec![
            (Stage::Expiry, "EXC-SHORT".to_owned()),
            (Stage::Expiry, "EXC-DAY".to_owned())
        ]
    );
    assert!(stages(&t, "2027-01-01").is_empty(), "started, not yet near its end");
    assert_eq!(stages(&t, "2027-03-17"), vec![(Stage::Before, "EXC-LATER".to_owned())]);
}

#[tokio::test]
async fn the_approver_and_each_owner_hear_once_per_stage_across_two_tasks() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let now = at("2026-12-07T09:00:00Z");
    let mut tagged = exception("EXC-2", None, "2026-12-21");
    tagged.nodes.clear();
    tagged.tags = [
        ("Application".to_owned(), "erp".to_owned()),
        ("Owner".to_owned(), "erp-team".to_owned()),
    ]
    .into();
    tagged.patches = vec!["KB5034441".into()];
    let mut patch_only = exception("EXC-3", None, "2026-12-21");
    patch_only.nodes.clear();
    patch_only.approver = "cab@acme.example".into();
    patch_only.patches = vec!["KB5034442".into()];
    let all = vec![exception("EXC-1", None, "2026-12-21"), tagged, patch_only];
    let a = task(&store, 1, inbox.clone(), all.clone(), &now);
    let b = task(&store, 2, inbox.clone(), all, &now);
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    // EXC-1: the approver, payments (static map), platform (nobody knows i-…b); EXC-2: the
    // approver, erp-team (its Owner tag); EXC-3: its approver only.
    assert_eq!(ra.expect("a") + rb.expect("b"), 6);
    assert_eq!(a.tick().await.expect("again"), 0);
    assert_eq!(b.tick().await.expect("again"), 0);
    let got = inbox.0.lock().expect("inbox").clone();
    let mut who: Vec<(String, String)> = got.iter().map(|d| (d.group.clone(), d.owner.clone())).collect();
    who.sort();
    let want = |g: &str, o: &str| (g.to_owned(), o.to_owned());
    assert_eq!(
        who,
        vec![
            want("exception:before:EXC-1:2026-12-21", "ciso@acme.example"),
            want("exception:before:EXC-1:2026-12-21", "payments"),
            want("exception:before:EXC-1:2026-12-21", "platform"),
            want("exception:before:EXC-2:2026-12-21", "ciso@acme.example"),
            want("exception:before:EXC-2:2026-12-21", "erp-team"),
            want("exception:before:EXC-3:2026-12-21", "cab@acme.example"),
        ]
    );
    let payments = got.iter().find(|d| d.owner == "payments").expect("payments");
    assert_eq!(payments.key, "patchplane:payments:exception:before:EXC-1:2026-12-21:0");
    assert_eq!(payments.items.len(), 1);
    assert_eq!(payments.items[0].node.as_deref(), Some("i-0000000000000000a"));
    let h = payments.heading.as_ref().expect("heading");
    assert_eq!(h.title, "Exception EXC-1 expires on 2026-12-21, in 14 day(s)");
    assert!(
        h.summary
            .contains("audit freeze (CHG0031234, approved by ciso@acme.example)"),
        "{}",
        h.summary
    );
    let erp = got.iter().find(|d| d.owner == "erp-team").expect("erp");
    assert_eq!(
        erp.items[0].line,
        "nodes tagged Application=erp, Owner=erp-team: patches KB5034441 held back"
    );
    let cab = got.iter().find(|d| d.owner == "cab@acme.example").expect("cab");
    assert_eq!(
        cab.items[0].line,
        "You approved it (CHG0031234): patches KB5034442 on every node"
    );

    // On the expiry: the second notice, once again.
    *now.lock().expect("clock") = "2026-12-21T00:30:00Z".parse().expect("t");
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    assert_eq!(ra.expect("a") + rb.expect("b"), 6);
    let last = inbox.0.lock().expect("inbox").last().cloned().expect("a digest");
    assert!(last.group.starts_with("exception:expiry:"), "{}", last.group);
    assert!(
        last.heading
            .expect("heading")
            .title
            .ends_with("2026-12-21 is its last day"),
        "the title names the last day"
    );
}

#[tokio::test]
async fn a_failed_send_keeps_the_claim_and_a_later_tick_of_its_task_sends_it() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let flaky = Arc::new(Flaky(Mutex::new(1), inbox.clone()));
    let now = at("2026-12-07T09:00:00Z");
    let t = task(&store, 1, flaky, vec![exception("EXC-1", None, "2026-12-21")], &now);
    let other = task(
        &store,
        2,
        inbox.clone(),
        vec![exception("EXC-1", None, "2026-12-21")],
        &now,
    );
    let e = t.tick().await.expect_err("the notifier failed");
    assert!(e.is_retryable());
    // The lease is this task's: another task does not send meanwhile.
    assert_eq!(other.tick().await.expect("held"), 0);
    assert_eq!(t.tick().await.expect("retry"), 3);
    assert_eq!(inbox.0.lock().expect("inbox").len(), 3, "each recipient once");
    assert_eq!(other.tick().await.expect("done"), 0);
}
