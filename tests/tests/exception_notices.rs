//! Notices before an exception expires (issue 28, item 1): the approver and the owners of its
//! nodes hear once 14 days before the expiry and once on it, through the bridge's own routing
//! (the default rules with `notify:` add `exception-notices` to the sweep's tick) and dispatcher,
//! with two bridges sharing one claim store, a clock the test sets, and an in-memory notifier in
//! place of SNS, Slack or Teams (the notifiers' own wire formats are tested in `notify.rs`).
//!
//! Every tick of December 2026 and January 2027 is sent, four times a day, to both bridges; the
//! expected dates are written out below, counted by hand: EXC-2026-014 expires 2026-12-21, so its
//! first notice comes on the tick of 2026-12-07 (not 2026-12-06) and its second on 2026-12-21.
//! EXC-2026-020 runs from 2027-01-15 through 2027-01-25: 14 days before its expiry (2027-01-11) it
//! has not started, so nothing is sent about it until its start day, which brings its first
//! notice; its second comes on 2027-01-25.

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use patchplane_bridge::claims::{MemoryClaims, MemoryTask};
use patchplane_bridge::config::{Action, load_str};
use patchplane_bridge::decode::{Decoded, decode};
use patchplane_bridge::enrich::Context;
use patchplane_bridge::enrich::owners::{OwnerChain, Step};
use patchplane_bridge::outcome::Outcome;
use patchplane_bridge::route::RouteConfig;
use patchplane_bridge::sinks::exception_notices::{ExceptionNotices, Parts};
use patchplane_bridge::sinks::notify::{Digest, DigestBoard, DigestSender};
use patchplane_bridge::sinks::{Clock, Sink, Sinks};
use patchplane_integrations::retry::Failure;

const BRIDGE_YAML: &str = "version: 1
queue: {url: https://sqs.us-east-1.amazonaws.com/123456789012/q}
servicenow:
  instance_url: https://acme.service-now.com
  assignment_group: platform
  auth: {basic: {user: bridge, password: {env: SERVICENOW_PASSWORD}}}
enrich: {owner_tags: [Owner]}
owners:
  static: {i-0aaaaaaaaaaaaaaa1: team-payments}
notify:
  slack: {url: {env: SLACK_WEBHOOK_URL}}
exceptions:
  - {id: EXC-2026-014, nodes: [i-0aaaaaaaaaaaaaaa1, i-0bbbbbbbbbbbbbbb2], reason: audit freeze, approver: ciso@acme.example, ticket: CHG0031234, expires: '2026-12-21'}
  - {id: EXC-2026-020, tags: {Application: erp, Owner: team-erp}, reason: vendor certification, approver: cab@acme.example, ticket: CHG0031300, starts: '2027-01-15', expires: '2027-01-25'}
";

/// What SNS, Slack or Teams would have received.
#[derive(Default)]
struct Inbox(Mutex<Vec<(Timestamp, Digest)>>, Mutex<Timestamp>);
impl DigestSender for Inbox {
    fn name(&self) -> String {
        "inbox".into()
    }
    fn send<'a>(&'a self, d: &'a Digest) -> Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>> {
        let now = self.1.lock().map(|t| *t).unwrap_or_default();
        if let Ok(mut v) = self.0.lock() {
            v.push((now, d.clone()));
        }
        Box::pin(async { Ok(()) })
    }
}

/// One bridge: the routed actions' sinks as the registry builds them from `bridge.yaml`, but with
/// the claims in memory and the notifier an inbox.
fn bridge(store: &Arc<MemoryClaims>, id: u64, inbox: &Arc<Inbox>) -> (RouteConfig, Sinks) {
    let cfg = load_str(BRIDGE_YAML, Path::new("bridge.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let board = Arc::new(DigestBoard::new(
        Duration::from_secs(300),
        vec![inbox.clone() as Arc<dyn DigestSender>],
    ));
    let now = inbox.clone();
    let clock: Clock = Arc::new(move || now.1.lock().map(|t| *t).unwrap_or_default());
    let sink = ExceptionNotices::new(
        cfg.exceptions.clone(),
        cfg.enrich.owner_tags.clone(),
        cfg.servicenow.assignment_group.clone().expect("group"),
        Parts {
            owners: Arc::new(OwnerChain::new(
                vec![
                    Step::Tags(cfg.enrich.owner_tags.clone()),
                    Step::Static(cfg.owners.static_owners.clone()),
                ],
                Duration::from_secs(60),
                Duration::from_secs(60),
            )),
            claims: Arc::new(MemoryTask {
                store: store.clone(),
                id,
            }),
            board,
        },
        clock,
    );
    (
        RouteConfig::from_config(&cfg),
        Sinks::new().with(Action::ExceptionNotices, Arc::new(sink)),
    )
}

/// The tick the central stack's schedule sends.
fn tick(n: usize) -> Decoded {
    let e = serde_json::json!({
        "version": "0", "id": format!("tick-{n}"), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/acme-escalation-sweep"], "detail": {}
    });
    decode(e.to_string().as_bytes()).expect("decodes")
}

#[tokio::test]
async fn the_approver_and_each_owner_hear_once_fourteen_days_before_and_once_on_the_last_day() {
    let store = Arc::new(MemoryClaims::default());
    let inbox = Arc::new(Inbox::default());
    let a = bridge(&store, 1, &inbox);
    let b = bridge(&store, 2, &inbox);
    let start: Timestamp = "2026-12-01T00:05:00Z".parse().expect("t");
    let mut n = 0;
    // Every six hours through December and January: both bridges get each tick (a redelivery, a second
    // task), at once.
    for step in 0..(62 * 4) {
        *inbox.1.lock().expect("clock") = start + jiff::SignedDuration::from_hours(6 * step);
        n += 1;
        let d = tick(n);
        let actions: Vec<Action> = a.0.route(&d, 1).into_iter().map(|(x, _)| x).collect();
        assert!(
            actions.contains(&Action::ExceptionNotices),
            "the sweep's tick sends exception notices: {actions:?}"
        );
        let ctx = Context::default();
        let (ra, rb) = tokio::join!(
            a.1.deliver(&d, &ctx, Action::ExceptionNotices),
            b.1.deliver(&d, &ctx, Action::ExceptionNotices)
        );
        assert_eq!((ra, rb), (Outcome::Delivered, Outcome::Delivered));
    }
    let got = inbox.0.lock().expect("inbox").clone();
    // (day received, group, recipient), in the order sent.
    let mut seen: Vec<(String, String, String)> = got
        .iter()
        .map(|(t, d)| {
            (
                t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string(),
                d.group.clone(),
                d.owner.clone(),
            )
        })
        .collect();
    seen.sort();
    let row = |day: &str, group: &str, owner: &str| (day.to_owned(), group.to_owned(), owner.to_owned());
    assert_eq!(
        seen,
        vec![
            row(
                "2026-12-07",
                "exception:before:EXC-2026-014:2026-12-21",
                "ciso@acme.example"
            ),
            row("2026-12-07", "exception:before:EXC-2026-014:2026-12-21", "platform"),
            row(
                "2026-12-07",
                "exception:before:EXC-2026-014:2026-12-21",
                "team-payments"
            ),
            row(
                "2026-12-21",
                "exception:expiry:EXC-2026-014:2026-12-21",
                "ciso@acme.example"
            ),
            row("2026-12-21", "exception:expiry:EXC-2026-014:2026-12-21", "platform"),
            row(
                "2026-12-21",
                "exception:expiry:EXC-2026-014:2026-12-21",
                "team-payments"
            ),
            row(
                "2027-01-15",
                "exception:before:EXC-2026-020:2027-01-25",
                "cab@acme.example"
            ),
            row("2027-01-15", "exception:before:EXC-2026-020:2027-01-25", "team-erp"),
            row(
                "2027-01-25",
                "exception:expiry:EXC-2026-020:2027-01-25",
                "cab@acme.example"
            ),
            row("2027-01-25", "exception:expiry:EXC-2026-020:2027-01-25", "team-erp"),
        ],
        "one notice per stage per recipient, on the days counted by hand; nothing about \
         EXC-2026-020 before it starts"
    );
    // The first tick of 2026-12-07 sent it: 00:05 UTC.
    let first = got.iter().map(|(t, _)| *t).min().expect("sent");
    assert_eq!(first, "2026-12-07T00:05:00Z".parse::<Timestamp>().expect("t"));
    let by_owner: BTreeMap<&str, &Digest> = got
        .iter()
        .filter(|(_, d)| d.group.starts_with("exception:before:EXC-2026-014"))
        .map(|(_, d)| (d.owner.as_str(), d))
        .collect();
    assert_eq!(
        by_owner["team-payments"].items[0].node.as_deref(),
        Some("i-0aaaaaaaaaaaaaaa1"),
        "the owner hears about their node"
    );
    assert_eq!(
        by_owner["platform"].items[0].node.as_deref(),
        Some("i-0bbbbbbbbbbbbbbb2"),
        "a node nobody owns goes to the default owner"
    );
    assert_eq!(
        by_owner["ciso@acme.example"].heading.as_ref().expect("heading").title,
        "Exception EXC-2026-014 expires on 2026-12-21, in 14 day(s)"
    );
    let erp = got
        .iter()
        .find(|(_, d)| d.owner == "team-erp" && d.group.starts_with("exception:before:"))
        .map(|(_, d)| d)
        .expect("team-erp heard");
    assert_eq!(
        erp.heading.as_ref().expect("heading").title,
        "Exception EXC-2026-020 expires on 2027-01-25, in 10 day(s)",
        "sent on its start day"
    );
    assert_eq!(
        erp.items[0].line,
        "nodes tagged Application=erp, Owner=team-erp: every patch held back"
    );
}
