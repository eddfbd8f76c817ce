//! The ServiceNow incident client against the Table API emulator: idempotent upserts, the check
//! of returned rows, auth, and the split of retryable from permanent failures.

use std::time::{Duration, Instant};

use patchplane_e2e::servicenow::Emulator;
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::servicenow::{Auth, Client, Config, NewIncident, Upserted};

fn emulator() -> Emulator {
    Emulator::start("bridge", "s3cret", "bridge-client", "client-s3cret")
}

fn client(e: &Emulator, auth: Auth) -> Client {
    client_batching(e, auth, false)
}

/// A client whose writes go out through the Batch API when `batch_writes`.
fn client_batching(e: &Emulator, auth: Auth, batch_writes: bool) -> Client {
    Client::new(Config {
        base_url: e.url.clone(),
        table: "incident".into(),
        auth,
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_secs(2),
        },
        batch_writes,
    })
    .expect("client")
}

fn basic() -> Auth {
    Auth::Basic {
        user: "bridge".into(),
        password: "s3cret".into(),
    }
}

fn incident(text: &str) -> NewIncident {
    NewIncident {
        short_description: text.into(),
        description: "details".into(),
        urgency: 2,
        impact: 2,
        assignment_group: None,
    }
}

#[tokio::test]
async fn upsert_creates_once_then_adds_work_notes() {
    let e = emulator();
    let c = client(&e, basic());
    let key = "111111111111/us-east-1/mw-0123/exec-1";
    let first = c
        .upsert(key, &incident("Patch window timed out"), "first")
        .await
        .expect("create");
    let Upserted::Created(created) = &first else {
        panic!("{first:?}")
    };
    assert!(created.number.starts_with("INC") && created.sys_id.len() == 32);
    for n in 0..4 {
        let again = c
            .upsert(key, &incident("Patch window timed out"), &format!("repeat {n}"))
            .await
            .expect("update");
        assert_eq!(again, Upserted::Updated(created.clone()));
    }
    let rows = e.incidents();
    assert_eq!(rows.len(), 1, "five deliveries, one incident");
    assert_eq!(rows[0].fields["correlation_id"], key);
    assert_eq!(rows[0].work_notes, vec!["repeat 0", "repeat 1", "repeat 2", "repeat 3"]);
    // The emulator keeps the row as ServiceNow would: new, active, priority from 2 × 2.
    let f = &rows[0].fields;
    assert_eq!((f["state"].as_str(), f["active"].as_str()), ("1", "true"));
    assert_eq!(f["priority"], "3");
    assert_eq!(f["work_notes"], "", "journal fields read back empty");
    assert_eq!(e.journal(&created.sys_id).len(), 4);
}

#[tokio::test]
async fn rows_from_an_ignored_query_term_are_not_taken_for_a_match() {
    let e = emulator();
    let c = client(&e, basic());
    c.upsert("key-a", &incident("a"), "n").await.expect("a");
    // Now ServiceNow ignores the correlation_id term (as it does for a field the caller cannot
    // read): the query returns key-a's row for key-b. The client must not update it.
    e.hide_field("correlation_id");
    let b = c.upsert("key-b", &incident("b"), "n").await.expect("b");
    assert!(matches!(b, Upserted::Created(_)), "{b:?}");
    let rows = e.incidents();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].work_notes.is_empty(), "key-a's incident was not touched");
}

#[tokio::test]
async fn carets_in_keys_cannot_split_the_query() {
    let e = emulator();
    let c = client(&e, basic());
    let key = "acct/region/odd^active=false";
    c.upsert(key, &incident("x"), "n").await.expect("create");
    assert!(matches!(
        c.upsert(key, &incident("x"), "n").await.expect("update"),
        Upserted::Updated(_)
    ));
    assert_eq!(e.incidents().len(), 1);
}

#[tokio::test]
async fn bad_credentials_are_permanent() {
    let e = emulator();
    let c = client(
        &e,
        Auth::Basic {
            user: "bridge".into(),
            password: "wrong".into(),
        },
    );
    let err = c.find_open("k").await.expect_err("401");
    assert_eq!(err.status, Some(401));
    assert!(!err.is_retryable());
    assert!(err.message.contains("User Not Authenticated"), "{err}");
    assert_eq!(e.requests().len(), 1, "a permanent failure is not retried");
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after_then_succeed() {
    let e = emulator();
    let c = client(&e, basic());
    e.script(429, Some(1), 2);
    let started = Instant::now();
    let created = c.create("k", &incident("x")).await.expect("third attempt succeeds");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "waited {:?}, Retry-After said 1 s twice",
        started.elapsed()
    );
    assert_eq!(created.correlation_id, "k");
    assert_eq!(e.incidents().len(), 1);
}

#[tokio::test]
async fn outages_end_retryable_after_the_bounded_attempts() {
    let e = emulator();
    let c = client(&e, basic());
    e.script(503, None, 10);
    let err = c.create("k", &incident("x")).await.expect_err("still down");
    assert_eq!(err.status, Some(503));
    assert!(err.is_retryable(), "the message must come back later");
    assert_eq!(e.requests().iter().filter(|r| r.starts_with("POST")).count(), 3);
    assert!(e.incidents().is_empty());
}

#[tokio::test]
async fn oauth_client_credentials() {
    let e = emulator();
    let c = client(
        &e,
        Auth::OAuth {
            client_id: "bridge-client".into(),
            client_secret: "client-s3cret".into(),
        },
    );
    c.upsert("k", &incident("x"), "n").await.expect("create");
    c.upsert("k", &incident("x"), "n").await.expect("update");
    let tokens = e
        .requests()
        .iter()
        .filter(|r| r.as_str() == "POST /oauth_token.do")
        .count();
    assert_eq!(tokens, 1, "the token is reused until it expires");
    let bad = client(
        &e,
        Auth::OAuth {
            client_id: "bridge-client".into(),
            client_secret: "nope".into(),
        },
    );
    let err = bad.find_open("k").await.expect_err("denied");
    assert_eq!(err.status, Some(401));
    assert!(!err.is_retryable());
    // Secrets never appear in Debug output.
    let shown = format!(
        "{:?}",
        Auth::OAuth {
            client_id: "id".into(),
            client_secret: "hunter2".into()
        }
    );
    assert!(!shown.contains("hunter2") && shown.contains("<redacted>"), "{shown}");
}

/// Two bridges (two clients, no shared lock) upserting one key at once: exactly one incident stays
/// open; a row created in the race is closed as a duplicate of the oldest, which gets the notes.
#[tokio::test]
async fn concurrent_bridges_leave_one_open_incident_per_key() {
    let e = emulator();
    // Each answer takes 150 ms (the emulator sleeps outside its lock), so both lookups of a round
    // are answered before either create arrives: the race happens, whatever the scheduling.
    e.slow(std::time::Duration::from_millis(150));
    let (a, b) = (client(&e, basic()), client(&e, basic()));
    let key = "111111111111/us-east-1/mw-1/exec-9";
    let new = incident("x");
    for round in 0..3 {
        let (na, nb) = (format!("a{round}"), format!("b{round}"));
        let (x, y) = tokio::join!(a.upsert(key, &new, &na), b.upsert(key, &new, &nb));
        x.expect("a");
        y.expect("b");
    }
    let rows = e.incidents();
    // The first round always races (both lookups are answered before either create), so the
    // duplicate-closing path really ran.
    assert!(rows.len() >= 2, "no race happened: {rows:?}");
    let open: Vec<_> = rows.iter().filter(|r| r.fields["active"] == "true").collect();
    assert_eq!(open.len(), 1, "{rows:?}");
    for r in rows.iter().filter(|r| r.fields["active"] != "true") {
        assert_eq!(r.fields["state"], "8", "canceled: {r:?}");
        assert_eq!(r.fields.get("close_code").map(String::as_str), Some("Duplicate"));
        assert!(
            r.work_notes
                .iter()
                .any(|n| n.starts_with(&format!("Duplicate of {}", open[0].fields["number"]))),
            "{r:?}"
        );
    }
    // Each of the six upserts but the one that created the survivor left its note there.
    assert_eq!(open[0].work_notes.len(), 5, "{:?}", open[0].work_notes);
}

/// The lookups the bridge gathers for the keys of a receive (one `correlation_idIN…` query)
/// answer what one lookup per key answers: the newest row not canceled, open rows oldest first,
/// nothing for a key without rows; a key with a caret is escaped, one with a comma is asked
/// alone; and when the query returns as many rows as it asked for, the keys it found nothing for
/// are asked alone rather than taken for keys without a ticket.
#[tokio::test]
async fn gathered_lookups_answer_as_one_lookup_per_key_does() {
    let e = emulator();
    let c = client(&e, basic());
    let row = async |key: &str, state: &str| {
        let extra = serde_json::json!({ "state": state });
        let extra = extra.as_object().cloned().unwrap_or_default();
        c.create_with(key, &incident(key), extra).await.expect("created");
    };
    row("k-two", "6").await;
    row("k-two", "1").await;
    row("k-two", "2").await;
    row("k-canceled", "8").await;
    row("k^caret", "1").await;
    row("k,comma", "3").await;
    row("k-resolved", "6").await;
    let keys: Vec<String> = ["k-two", "k-canceled", "k-none", "k^caret", "k,comma", "k-resolved"]
        .map(String::from)
        .to_vec();
    let before = e.requests().len();
    let latest = c.latest_with_keys(&keys).await.expect("latest");
    let open = c.open_with_keys(&keys, 10).await.expect("open");
    let gets = e.requests().len() - before;
    assert_eq!(
        gets, 4,
        "for each lookup: one query for the five listable keys, one for the comma's"
    );
    same_as_one_by_one(&c, &keys, &latest).await;
    for key in &keys {
        assert_eq!(
            open.get(key),
            Some(&c.open_with_key(key, 10).await.expect("one")),
            "{key}"
        );
    }
    assert_eq!(
        latest["k-two"].as_ref().map(|i| i.state.as_str()),
        Some("2"),
        "the newest"
    );
    assert_eq!(open["k-two"].len(), 2, "both open rows, oldest first");
    assert_eq!(latest["k-canceled"], None);
    assert_eq!(latest["k-resolved"].as_ref().map(|i| i.state.as_str()), Some("6"));

    // 30 newer rows of one key fill the 5-per-key query of 5 keys: the older keys' rows are cut
    // off, so those keys are asked alone rather than taken for keys without a ticket.
    for _ in 0..30 {
        row("k-busy", "6").await;
    }
    let keys: Vec<String> = ["k-busy", "k-two", "k-none", "k-resolved", "k^caret"]
        .map(String::from)
        .to_vec();
    let before = e.requests().len();
    let latest = c.latest_with_keys(&keys).await.expect("latest");
    assert_eq!(
        e.requests().len() - before,
        5,
        "the cut-short query, then the four keys it missed"
    );
    same_as_one_by_one(&c, &keys, &latest).await;
    assert_eq!(
        latest["k-two"].as_ref().map(|i| i.state.as_str()),
        Some("2"),
        "not taken for absent"
    );

    // And when ServiceNow ignores the IN term, rows of other keys are not taken for a match.
    e.hide_field("correlation_id");
    let keys: Vec<String> = ["k-none", "k-other"].map(String::from).to_vec();
    let latest = c.latest_with_keys(&keys).await.expect("latest");
    assert_eq!((latest["k-none"].as_ref(), latest["k-other"].as_ref()), (None, None));
}

/// Each key's gathered answer is what asking for that key alone answers.
async fn same_as_one_by_one(
    c: &Client,
    keys: &[String],
    latest: &std::collections::HashMap<String, Option<patchplane_integrations::servicenow::Incident>>,
) {
    for key in keys {
        assert_eq!(
            latest.get(key),
            Some(&c.latest_with_key(key).await.expect("one")),
            "{key}"
        );
    }
}

/// The emulator's operations that are writes to incidents (`POST` or `PATCH` of the table).
fn writes(e: &Emulator) -> Vec<String> {
    e.requests()
        .into_iter()
        .filter(|r| {
            r.starts_with("POST /api/now/v2/table/incident") || r.starts_with("PATCH /api/now/v2/table/incident")
        })
        .collect()
}

/// Creates a ticket for each key, all asked at the same moment.
async fn create_all(
    c: &Client,
    keys: &[String],
) -> Vec<Result<patchplane_integrations::servicenow::Incident, patchplane_integrations::retry::Failure>> {
    futures_util::future::join_all(keys.iter().map(|k| async move { c.create(k, &incident(k)).await })).await
}

#[tokio::test]
async fn writes_asked_together_go_out_as_one_batch_and_answer_as_single_writes_do() {
    let e = emulator();
    let c = client_batching(&e, basic(), true);
    let keys: Vec<String> = (0..8)
        .map(|i| format!("111111111111/us-east-1/i-{i:04}/patch"))
        .collect();
    let calls = e.calls();
    let created = create_all(&c, &keys).await;
    assert_eq!(
        e.calls() - calls,
        1,
        "eight creates asked together are one HTTP request"
    );
    assert_eq!(writes(&e).len(), 8, "and eight creates on the instance");
    let rows = e.incidents();
    for (key, got) in keys.iter().zip(&created) {
        let got = got.as_ref().expect("created");
        let row = rows
            .iter()
            .find(|r| r.fields["sys_id"] == got.sys_id)
            .expect("the row it answered with");
        assert_eq!(
            (&row.fields["correlation_id"], &row.fields["number"]),
            (key, &got.number)
        );
        assert_eq!(row.fields["short_description"], *key);
    }

    // A batch whose items fail differently: each write gets its own item's answer. A Closed row
    // refuses the update (403, permanent), as it would alone; the others are resolved.
    let closed = c
        .create_with(
            "111111111111/us-east-1/i-closed/patch",
            &incident("closed"),
            serde_json::Map::from_iter([("state".to_owned(), "7".into())]),
        )
        .await
        .expect("closed row");
    let calls = e.calls();
    let mut patches: Vec<_> = created
        .iter()
        .map(|i| i.as_ref().expect("created").sys_id.clone())
        .take(4)
        .collect();
    patches.push(closed.sys_id.clone());
    let resolved = futures_util::future::join_all(
        patches
            .iter()
            .map(|id| c.resolve(id, "Solved (Permanently)", "fixed", "2026-11-30T12:00:00Z")),
    )
    .await;
    assert_eq!(e.calls() - calls, 1, "no retry: a 403 is permanent");
    for r in &resolved[..4] {
        assert_eq!(r.as_ref().expect("resolved").state, "6");
    }
    let refused = resolved[4].as_ref().expect_err("a Closed row is never reopened");
    assert_eq!(refused.status, Some(403));
    assert!(!refused.is_retryable());
    assert!(
        refused.message.contains("ACL Exception Update Failed"),
        "{}",
        refused.message
    );
    let states: Vec<String> = e
        .incidents()
        .iter()
        .filter(|r| patches.contains(&r.fields["sys_id"]))
        .map(|r| r.fields["state"].clone())
        .collect();
    assert_eq!(states, ["6", "6", "6", "6", "7"]);
}

#[tokio::test]
async fn unserviced_and_failed_batches_are_sent_again_and_nothing_is_written_twice() {
    let e = emulator();
    let c = client_batching(&e, basic(), true);
    // The instance stops after two items of every batch: the rest come back unserviced.
    e.batch_limit(Some(2));
    let keys: Vec<String> = (0..5).map(|i| format!("acct/r/i-{i}/unserviced")).collect();
    let created = create_all(&c, &keys).await;
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    e.batch_limit(None);
    // A batch that fails as a whole (503) fails each of its writes, which are sent again.
    e.script(503, None, 1);
    let more: Vec<String> = (0..3).map(|i| format!("acct/r/i-{i}/failed-batch")).collect();
    let again = create_all(&c, &more).await;
    assert!(again.iter().all(Result::is_ok), "{again:?}");
    let mut seen: Vec<String> = e
        .incidents()
        .iter()
        .map(|r| r.fields["correlation_id"].clone())
        .collect();
    seen.sort();
    let mut want: Vec<String> = keys.iter().chain(&more).cloned().collect();
    want.sort();
    assert_eq!(seen, want, "each write carried out exactly once");
    assert_eq!(writes(&e).len(), 8);
}

#[tokio::test]
async fn an_instance_without_the_batch_api_gets_single_writes() {
    let e = emulator();
    e.refuse_batch();
    let c = client_batching(&e, basic(), true);
    let keys: Vec<String> = (0..3).map(|i| format!("acct/r/i-{i}/no-batch")).collect();
    let created = create_all(&c, &keys).await;
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    assert!(!c.batching(), "batching is off after the refusal");
    assert_eq!(e.incidents().len(), 3);
    let calls = e.calls();
    c.note(
        &created[0].as_ref().expect("row").sys_id,
        "later",
        "2026-11-30T12:00:00Z",
    )
    .await
    .expect("note");
    assert_eq!(e.calls() - calls, 1, "a single PATCH, no batch tried again");
    assert_eq!(writes(&e).len(), 4);
}

/// A create whose answer was lost (the instance committed it, a proxy answered 504) is not made
/// again: the retry finds the row by its key and event time. Alone and as a batch item; a row
/// the key had before (`known`), with another time, is never taken for it.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_made_twice() {
    for batching in [false, true] {
        let e = emulator();
        let c = client_batching(&e, basic(), batching);
        let key = format!("acct/r/i-0/lost-{batching}");
        let stamp = |t: &str| {
            let mut extra = serde_json::Map::new();
            extra.insert("correlation_display".into(), t.into());
            extra
        };
        let before = c
            .create_with(&key, &incident("earlier"), stamp("2026-11-01T00:00:00Z"))
            .await
            .expect("earlier row");
        e.lose_answers(1);
        let made = c
            .create_once(
                &key,
                &incident("lost answer"),
                stamp("2026-11-30T10:00:00Z"),
                Some(&before.sys_id),
            )
            .await
            .expect("created once");
        let rows: Vec<(String, String)> = e
            .incidents()
            .iter()
            .filter(|r| r.fields["correlation_id"] == key)
            .map(|r| (r.fields["sys_id"].clone(), r.fields["correlation_display"].clone()))
            .collect();
        assert_eq!(
            rows.len(),
            2,
            "batching {batching}: the earlier row and one new row: {rows:?}"
        );
        assert_eq!(
            rows[1],
            (made.sys_id.clone(), "2026-11-30T10:00:00Z".into()),
            "batching {batching}"
        );
        assert_ne!(made.sys_id, before.sys_id);
        // The retry read the key, and did not post again.
        let posts = writes(&e).iter().filter(|w| w.starts_with("POST")).count();
        assert_eq!(posts, 2, "batching {batching}: {:?}", e.requests());
    }
}
