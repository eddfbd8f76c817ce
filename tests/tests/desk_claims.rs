//! A creation claim (ADR 017) lives exactly as long as the create it guards: against a slow
//! ServiceNow instance (the emulator answering every request after 1 s), the desk renews its claim
//! all through the create (the POST and ADR 007's check), marks it done once, and stops renewing
//! when the ticket exists. Without the renewal a create slower than the
//! lease would hand the key to another bridge task, which would create a second ticket.
//!
//! The claim store is an in-process counter (what S3 does with a renewal is `claims_moto`'s
//! test); the ticket count is read back from the emulator. No AWS API is involved.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchplane_bridge::claims::{ClaimFuture, Claimed, Claims};
use patchplane_bridge::config::TicketsConfig;
use patchplane_bridge::decode::decode;
use patchplane_bridge::enrich::Context;
use patchplane_bridge::outcome::Outcome;
use patchplane_bridge::sinks::ActionSink;
use patchplane_bridge::sinks::servicenow::{Assignment, Desk, IncidentSink, Lifecycle};
use patchplane_e2e::root;
use patchplane_e2e::servicenow::Emulator;
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::servicenow::{Auth, Client, Config};

/// How often the store asks to be renewed: a tenth of the emulator's delay.
const RENEW_EVERY: Duration = Duration::from_millis(100);

/// A claim store that grants every claim and records what the desk does with it.
#[derive(Default)]
struct Recording {
    claimed: Mutex<Vec<String>>,
    renewed: Mutex<Vec<String>>,
    finished: Mutex<Vec<String>>,
}

fn record(list: &Mutex<Vec<String>>, key: &str) {
    if let Ok(mut l) = list.lock() {
        l.push(key.to_owned());
    }
}

fn read(list: &Mutex<Vec<String>>) -> Vec<String> {
    list.lock().map(|l| l.clone()).unwrap_or_default()
}

impl Claims for Recording {
    fn claim<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, Claimed> {
        record(&self.claimed, key);
        Box::pin(async { Ok(Claimed::Won) })
    }
    fn finish<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, ()> {
        record(&self.finished, key);
        Box::pin(async { Ok(()) })
    }
    fn renew<'a>(&'a self, key: &'a str) -> ClaimFuture<'a, bool> {
        record(&self.renewed, key);
        Box::pin(async { Ok(true) })
    }
    fn renew_every(&self) -> Duration {
        RENEW_EVERY
    }
}

#[tokio::test]
async fn a_slow_create_keeps_its_claim_renewed_until_the_ticket_exists() {
    let snow = Emulator::start("bridge", "s3cret", "id", "unused");
    let client = Client::new(Config {
        base_url: snow.url.clone(),
        table: "incident".into(),
        auth: Auth::Basic {
            user: "bridge".into(),
            password: "s3cret".into(),
        },
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_secs(1),
        },
        batch_writes: true,
    })
    .expect("client");
    let claims = Arc::new(Recording::default());
    let desk = Desk::new(client, Assignment::default(), Lifecycle::default()).with_create_claims(claims.clone());
    let sink = IncidentSink::new(Arc::new(desk), &TicketsConfig::default());
    let body =
        std::fs::read(root().join("tests/fixtures/events/ssm-compliance-patch-non-compliant.json")).expect("fixture");
    let event = decode(&body).expect("the fixture decodes");

    // Every request from here on takes a second: the create outlasts ten renewal periods.
    snow.slow(Duration::from_secs(1));
    let outcome = ActionSink::deliver(&sink, &event, &Context::default()).await;
    assert_eq!(outcome, Outcome::Delivered);

    let claimed = read(&claims.claimed);
    assert_eq!(claimed.len(), 1, "one creation, one claim: {claimed:?}");
    assert!(claimed[0].ends_with("/first"), "the key's first ticket: {claimed:?}");
    let renewed = read(&claims.renewed);
    // The POST and the check take at least 2 s after the claim: 20 periods, counted with margin
    // for a loaded machine.
    assert!(
        renewed.len() >= 10,
        "the claim is renewed through the create, {} times: {renewed:?}",
        renewed.len()
    );
    assert!(
        renewed.iter().all(|k| *k == claimed[0]),
        "only the claimed key: {renewed:?}"
    );
    assert_eq!(
        read(&claims.finished),
        claimed,
        "marked done once, when the ticket exists"
    );

    // Nothing renews a claim whose work is done.
    let after = renewed.len();
    tokio::time::sleep(RENEW_EVERY * 5).await;
    assert_eq!(read(&claims.renewed).len(), after, "renewals stop with the create");

    // The emulator holds the one ticket.
    let rows = snow.incidents();
    assert_eq!(rows.len(), 1, "one incident: {rows:?}");
}
