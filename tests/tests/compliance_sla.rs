//! Compliance incidents keep the SLA (issue 28, item 7), against the ServiceNow emulator: a node
//! Patch Manager reports `non_compliant` gets an incident whose `due_date` counts
//! `tickets.compliance_sla_days` from the first non-compliance, and the escalation sweep escalates
//! it as it escalates vulnerability tickets (near, then overdue; once per stage, even with two
//! sweeps at once), although the incidents live in `servicenow.table` and the vulnerability
//! tickets in another `tickets.table`.
//!
//! The sinks are built as the running bridge builds them ([`register_desks`]), with a clock the
//! test sets, so the sweeps run at fixed dates of 2017, the year of AWS's sample event
//! (`ssm-compliance-patch-non-compliant.json`: 2017-07-17T19:02:31Z, severity critical). Every
//! expected date is written out below, counted by hand from that time; every expectation is read
//! from the emulator's rows and journal.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use patchplane_bridge::config::{Action, load_str};
use patchplane_bridge::decode::{Decoded, decode};
use patchplane_bridge::enrich::Context;
use patchplane_bridge::outcome::Outcome;
use patchplane_bridge::sinks::servicenow::config::register_desks;
use patchplane_bridge::sinks::servicenow::{Assignment, Desk, Lifecycle};
use patchplane_bridge::sinks::{Clock, Sink, Sinks};
use patchplane_e2e::root;
use patchplane_e2e::servicenow::{Emulator, Row};
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::servicenow::{Auth, Client, Config};
use serde_json::Value;

const PASSWORD: &str = "compliance-sla";
/// Where the vulnerability tickets live: not the incidents' table.
const TICKETS: &str = "sn_vul_vulnerable_item";

/// The `tickets:` of these tests: the example policy's `evidence.sla_days` as the generator
/// copies it (critical 14 days, else 30), vulnerability tickets 14 days, escalation 3 days before.
fn tickets_yaml(url: &str) -> String {
    format!(
        "version: 1
queue: {{url: https://sqs.us-east-1.amazonaws.com/123456789012/q}}
servicenow:
  instance_url: {url}
  table: incident
  auth: {{basic: {{user: bridge, password: {{env: SERVICENOW_PASSWORD}}}}}}
tickets:
  table: {TICKETS}
  sla_days: 14
  compliance_sla_days: {{default: 30, critical: 14}}
  escalate_before_days: 3
"
    )
}

fn client(url: &str, table: &str) -> Client {
    Client::new(Config {
        base_url: url.to_owned(),
        table: table.into(),
        auth: Auth::Basic {
            user: "bridge".into(),
            password: PASSWORD.into(),
        },
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_secs(1),
        },
        batch_writes: true,
    })
    .expect("client")
}

/// One bridge's ServiceNow sinks over the emulator, reading the time from `now`.
fn bridge(snow: &Emulator, now: &Arc<Mutex<Timestamp>>) -> Sinks {
    let cfg = load_str(&tickets_yaml(&snow.url), Path::new("bridge.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let desk = |table: &str| {
        Arc::new(Desk::new(
            client(&snow.url, table),
            Assignment::default(),
            Lifecycle::default(),
        ))
    };
    let now = now.clone();
    let clock: Clock = Arc::new(move || *now.lock().expect("clock"));
    register_desks(
        Sinks::new(),
        desk("incident"),
        desk(TICKETS),
        &cfg.tickets,
        None,
        clock,
        None,
    )
}

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

/// AWS's sample Patch non-compliance, unchanged but for `detail` fields and the time.
fn compliance(node: &str, status: &str, severity: &str, time: &str) -> Decoded {
    let mut e = fixture("tests/fixtures/events/ssm-compliance-patch-non-compliant.json");
    e["id"] = format!("{node}-{status}-{time}").into();
    e["time"] = time.into();
    e["detail"]["resource-id"] = node.into();
    e["detail"]["compliance-status"] = status.into();
    e["detail"]["severity"] = severity.into();
    decode(e.to_string().as_bytes()).expect("decodes")
}

/// A CRITICAL package vulnerability on `node`, first observed (and updated) at `first`.
fn finding(node: &str, first: &str) -> Decoded {
    let mut e = fixture("tests/fixtures/lifecycle/finding-active.json");
    e["account"] = "123456789012".into();
    e["region"] = "us-east-2".into();
    e["time"] = "2017-07-20T00:00:05Z".into();
    e["resources"] = serde_json::json!([node]);
    let d = &mut e["detail"];
    d["firstObservedAt"] = first.into();
    d["updatedAt"] = first.into();
    d["resources"][0]["id"] = node.into();
    decode(e.to_string().as_bytes()).expect("decodes")
}

/// The tick the central stack's schedule sends.
fn tick() -> Decoded {
    let e = serde_json::json!({
        "version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2017-07-17T00:00:00Z", "region": "us-east-2",
        "resources": ["arn:aws:events:us-east-2:123456789012:rule/acme-escalation-sweep"], "detail": {}
    });
    decode(e.to_string().as_bytes()).expect("decodes")
}

async fn deliver(sinks: &Sinks, action: Action, d: &Decoded) {
    assert_eq!(
        sinks.deliver(d, &Context::default(), action).await,
        Outcome::Delivered,
        "{action:?} {}",
        d.correlation_key()
    );
}

/// Two bridges sweep at once at `at`.
async fn sweep_twice_at(a: &Sinks, b: &Sinks, now: &Arc<Mutex<Timestamp>>, at: &str) {
    *now.lock().expect("clock") = at.parse().expect("time");
    let t = tick();
    tokio::join!(deliver(a, Action::Escalate, &t), deliver(b, Action::Escalate, &t));
}

fn row(rows: &[Row], key: &str) -> Row {
    let found: Vec<&Row> = rows.iter().filter(|r| r.fields["correlation_id"] == key).collect();
    assert_eq!(found.len(), 1, "one row for {key}: {rows:#?}");
    found[0].clone()
}

/// (`escalation`, escalation notes, `urgency`, `due_date`) of the row with `key`.
fn escalation(rows: &[Row], key: &str) -> (String, usize, String, String) {
    let r = row(rows, key);
    let notes = r
        .work_notes
        .iter()
        .filter(|n| n.contains("Escalated by patchplane"))
        .count();
    (
        r.fields["escalation"].clone(),
        notes,
        r.fields["urgency"].clone(),
        r.fields["due_date"].clone(),
    )
}

fn key(node: &str) -> String {
    format!("123456789012/us-east-2/{node}/compliance/patch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_incidents_fall_due_by_the_sla_and_escalate_once_per_stage() {
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let now = Arc::new(Mutex::new("2017-07-17T00:00:00Z".parse::<Timestamp>().expect("time")));
    let (a, b) = (bridge(&snow, &now), bridge(&snow, &now));
    let sample = "2017-07-17T19:02:31Z";
    // A: the sample as AWS documents it (critical): due 14 days later, 2017-07-31 19:02:31.
    let node_a = "i-01234567890abcdef";
    deliver(
        &a,
        Action::Incident,
        &compliance(node_a, "non_compliant", "critical", sample),
    )
    .await;
    // B: the same moment, medium: the default 30 days, 2017-08-16 19:02:31; urgency 2.
    let node_b = "i-0b0000000000000bb";
    deliver(
        &a,
        Action::Incident,
        &compliance(node_b, "non_compliant", "medium", sample),
    )
    .await;
    // C: resolved the next day, non-compliant again on 2017-07-25 (critical): reopened, a new
    // spell due 2017-08-08 00:00:00, where the first spell's date would be 2017-07-31 19:02:31.
    let node_c = "i-0c0000000000000cc";
    deliver(
        &a,
        Action::Incident,
        &compliance(node_c, "non_compliant", "critical", sample),
    )
    .await;
    deliver(
        &a,
        Action::Resolve,
        &compliance(node_c, "compliant", "critical", "2017-07-18T00:00:00Z"),
    )
    .await;
    // D: resolved and left so: Resolved is still active, never open, never escalated.
    let node_d = "i-0d0000000000000dd";
    deliver(
        &a,
        Action::Incident,
        &compliance(node_d, "non_compliant", "critical", sample),
    )
    .await;
    deliver(
        &a,
        Action::Resolve,
        &compliance(node_d, "compliant", "critical", "2017-07-18T00:00:00Z"),
    )
    .await;
    // A vulnerability ticket in the other table: CRITICAL, first seen 2017-07-20, due 2017-08-03.
    let node_v = "i-0e0000000000000ee";
    deliver(
        &a,
        Action::InspectorTicket,
        &finding(node_v, "Thu Jul 20 00:00:00.000 UTC 2017"),
    )
    .await;

    let rows = snow.incidents();
    assert_eq!(row(&rows, &key(node_a)).fields["due_date"], "2017-07-31 19:02:31");
    assert_eq!(row(&rows, &key(node_a)).table, "incident");
    assert_eq!(row(&rows, &key(node_b)).fields["due_date"], "2017-08-16 19:02:31");
    assert_eq!(row(&rows, &key(node_b)).fields["urgency"], "2");
    let d = row(&rows, &key(node_d));
    assert_eq!((d.fields["state"].as_str(), d.fields["active"].as_str()), ("6", "true"));
    let vuln_key = format!("123456789012/us-east-2/{node_v}/vulnerability/CVE-2024-6387");
    let v = row(&rows, &vuln_key);
    assert_eq!(
        (v.table.as_str(), v.fields["due_date"].as_str()),
        (TICKETS, "2017-08-03 00:00:00")
    );

    // Later events on A never give it more time: a medium one three days later (which alone
    // would be due 2017-08-19) only notes the incident; so does a critical one (2017-08-03).
    deliver(
        &a,
        Action::Incident,
        &compliance(node_a, "non_compliant", "medium", "2017-07-20T19:02:31Z"),
    )
    .await;
    deliver(
        &b,
        Action::Incident,
        &compliance(node_a, "non_compliant", "critical", "2017-07-20T19:02:32Z"),
    )
    .await;
    // C's new spell.
    deliver(
        &a,
        Action::Incident,
        &compliance(node_c, "non_compliant", "critical", "2017-07-25T00:00:00Z"),
    )
    .await;
    let rows = snow.incidents();
    let r = row(&rows, &key(node_a));
    assert_eq!(r.fields["due_date"], "2017-07-31 19:02:31", "kept");
    assert_eq!(r.work_notes.len(), 2, "both later events noted: {:?}", r.work_notes);
    let c = row(&rows, &key(node_c));
    assert_eq!(
        (
            c.fields["state"].as_str(),
            c.fields["reopen_count"].as_str(),
            c.fields["due_date"].as_str()
        ),
        ("2", "1", "2017-08-08 00:00:00")
    );

    // 2017-07-27: A is 4 days 19 hours away, more than 3: nothing escalates.
    sweep_twice_at(&a, &b, &now, "2017-07-27T00:00:00Z").await;
    let rows = snow.incidents();
    for k in [key(node_a), key(node_b), key(node_c), vuln_key.clone()] {
        assert_eq!(escalation(&rows, &k).1, 0, "{k} not yet");
    }

    // 2017-07-29: A is due within 3 days: High.
    sweep_twice_at(&a, &b, &now, "2017-07-29T00:00:00Z").await;
    let rows = snow.incidents();
    assert_eq!(
        escalation(&rows, &key(node_a)),
        ("2".into(), 1, "1".into(), "2017-07-31 19:02:31".into())
    );
    assert_eq!(escalation(&rows, &key(node_b)).1, 0);

    // 2017-08-01: A is overdue; the vulnerability ticket is due within 3 days; C's new spell is
    // 7 days away (its first spell would be overdue by now).
    sweep_twice_at(&a, &b, &now, "2017-08-01T00:00:00Z").await;
    let rows = snow.incidents();
    assert_eq!(escalation(&rows, &key(node_a)).0, "3");
    assert_eq!(escalation(&rows, &key(node_a)).1, 2, "one note per stage");
    assert_eq!(escalation(&rows, &vuln_key).0, "2", "the other table is swept too");
    assert_eq!(
        escalation(&rows, &key(node_c)).1,
        0,
        "the reopened spell is not due yet"
    );

    // 2017-08-14: B is due within 3 days (urgency raised from 2 to 1); C and the vulnerability
    // ticket are overdue; A stays where it is; D, resolved, is never touched.
    sweep_twice_at(&a, &b, &now, "2017-08-14T00:00:00Z").await;
    let rows = snow.incidents();
    assert_eq!(
        escalation(&rows, &key(node_a)),
        ("3".into(), 2, "1".into(), "2017-07-31 19:02:31".into())
    );
    assert_eq!(
        escalation(&rows, &key(node_b)),
        ("2".into(), 1, "1".into(), "2017-08-16 19:02:31".into())
    );
    assert_eq!(
        escalation(&rows, &key(node_c)),
        ("3".into(), 1, "1".into(), "2017-08-08 00:00:00".into())
    );
    assert_eq!(escalation(&rows, &vuln_key).0, "3");
    assert_eq!(escalation(&rows, &vuln_key).1, 2);
    let d = row(&rows, &key(node_d));
    assert_eq!(
        (d.fields["state"].as_str(), d.fields["escalation"].as_str()),
        ("6", "0"),
        "resolved, still active, not escalated"
    );
    assert!(
        d.work_notes.iter().all(|n| !n.contains("Escalated")),
        "{:?}",
        d.work_notes
    );
    assert!(
        snow.incidents().iter().all(|r| r.lint.is_empty()),
        "the client sent nothing a careful client would not"
    );
}
