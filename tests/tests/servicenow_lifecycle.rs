//! The ServiceNow emulator's incident lifecycle, driven with plain HTTP (no client in between):
//! resolved is still active but not open, auto-close, reopen counting, closed rows refusing
//! updates, references, journal fields, versioned list answers, and the query operators.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use patchplane_e2e::servicenow::Emulator;
use serde_json::{Value as Json, json};

/// `bridge:s3cret`.
const AUTH: &str = "Basic YnJpZGdlOnMzY3JldA==";
const CLOSED_BODY: &str = r#"{"error":{"message":"Operation Failed","detail":"ACL Exception Update Failed due to security constraints"},"status":"failure"}"#;

fn emulator() -> Emulator {
    Emulator::start("bridge", "s3cret", "bridge-client", "client-s3cret")
}

/// Percent-encodes a query value.
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.1 request; returns the status and the JSON body.
fn call(e: &Emulator, method: &str, target: &str, body: Option<&Json>) -> (u16, Json) {
    let addr = e.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let body = body.map(Json::to_string).unwrap_or_default();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {AUTH}\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, text) = raw.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, serde_json::from_str(text).expect("a JSON body"))
}

fn post(e: &Emulator, table: &str, body: Json) -> Json {
    let (status, b) = call(e, "POST", &format!("/api/now/v2/table/{table}"), Some(&body));
    assert_eq!(status, 201, "{b}");
    b["result"].clone()
}

fn patch(e: &Emulator, sys_id: &str, body: Json) -> (u16, Json) {
    call(e, "PATCH", &format!("/api/now/v2/table/incident/{sys_id}"), Some(&body))
}

fn get(e: &Emulator, sys_id: &str) -> Json {
    let (status, b) = call(e, "GET", &format!("/api/now/v2/table/incident/{sys_id}"), None);
    assert_eq!(status, 200, "{b}");
    b["result"].clone()
}

/// `GET /api/now/v2/table/incident?sysparm_query=…` plus `extra` parameters: the rows.
fn list(e: &Emulator, query: &str, extra: &str) -> Vec<Json> {
    let (status, b) = call(
        e,
        "GET",
        &format!("/api/now/v2/table/incident?sysparm_query={}{extra}", enc(query)),
        None,
    );
    assert_eq!(status, 200, "{b}");
    b["result"].as_array().expect("a list").clone()
}

fn numbers(rows: &[Json]) -> Vec<String> {
    rows.iter()
        .map(|r| r["number"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn new_incident(key: &str) -> Json {
    json!({
        "short_description": "Patch window timed out",
        "description": "details",
        "correlation_id": key,
        "urgency": "1",
        "impact": "2",
        "assignment_group": "Payments Operations",
        "cmdb_ci": "pay-1",
    })
}

fn resolve() -> Json {
    json!({ "state": "6", "close_code": "Solution provided", "close_notes": "Patched" })
}

#[test]
fn a_new_row_has_every_field_as_servicenow_returns_it() {
    let e = emulator();
    let before = jiff::Timestamp::now();
    let row = post(&e, "incident", new_incident("k"));
    let sys_id = row["sys_id"].as_str().expect("sys_id");
    assert_eq!(sys_id.len(), 32, "{row}");
    assert_eq!(row["number"], "INC0010001");
    for (field, want) in [
        ("state", "1"),
        ("incident_state", "1"),
        ("active", "true"),
        ("reopen_count", "0"),
        ("priority", "2"),
        ("urgency", "1"),
        ("impact", "2"),
        ("correlation_id", "k"),
        ("correlation_display", ""),
        ("close_code", ""),
        ("close_notes", ""),
        ("resolved_at", ""),
        ("closed_at", ""),
        ("reopened_time", ""),
        ("work_notes", ""),
        ("comments", ""),
    ] {
        assert_eq!(row[field], want, "{field}: {row}");
    }
    // sys_created_on is "YYYY-MM-DD HH:MM:SS" in UTC, now.
    let created = row["sys_created_on"].as_str().expect("created");
    let parsed: jiff::civil::DateTime = created.parse().expect("YYYY-MM-DD HH:MM:SS");
    let at = parsed.to_zoned(jiff::tz::TimeZone::UTC).expect("utc").timestamp();
    assert!(
        created.len() == 19 && at >= before - jiff::SignedDuration::from_secs(1),
        "{created}"
    );
    assert!(at <= jiff::Timestamp::now(), "{created}");
    assert_eq!(row["sys_updated_on"], created);
    // References: {link, value}, by a stable made-up sys_id for a name.
    let group = Emulator::reference_sys_id("sys_user_group", "Payments Operations");
    assert_eq!(
        row["assignment_group"],
        json!({ "link": format!("{}/api/now/table/sys_user_group/{group}", e.url), "value": group })
    );
    let ci = Emulator::reference_sys_id("cmdb_ci", "pay-1");
    assert_eq!(row["cmdb_ci"]["link"], format!("{}/api/now/table/cmdb_ci/{ci}", e.url));
    let plain = list(&e, "correlation_id=k", "&sysparm_exclude_reference_link=true");
    assert_eq!(plain[0]["assignment_group"], group.as_str());
    assert_eq!(plain[0]["cmdb_ci"], ci.as_str());
    // Empty references are "" either way.
    let bare = post(&e, "incident", json!({ "short_description": "no group" }));
    assert_eq!(bare["assignment_group"], "");
    assert_eq!(
        (bare["urgency"].as_str(), bare["priority"].as_str()),
        (Some("3"), Some("5"))
    );
    // Writing the sys_id (instead of the name) points at the same group; `.name` dot-walks.
    let by_id = post(
        &e,
        "incident",
        json!({ "correlation_id": "by-id", "assignment_group": group }),
    );
    assert_eq!(by_id["assignment_group"]["value"], group.as_str());
    let by_name = list(
        &e,
        "assignment_group.name=Payments Operations",
        "&sysparm_fields=number,assignment_group.name",
    );
    assert_eq!(numbers(&by_name), ["INC0010001", "INC0010003"]);
    assert_eq!(
        by_name[1],
        json!({ "number": "INC0010003", "assignment_group.name": "Payments Operations" })
    );
    // The harness sees names, and the sys_ids beside them.
    let rows = e.incidents();
    assert_eq!(rows[0].fields["assignment_group"], "Payments Operations");
    assert_eq!(rows[0].refs["assignment_group"], group);
    assert_eq!(rows[0].fields["cmdb_ci"], "pay-1");
    assert!(rows[0].lint.is_empty(), "{:?}", rows[0].lint);
    // Fields that are not on the table are dropped; computed ones are ignored (and noted).
    let odd = post(
        &e,
        "incident",
        json!({ "u_nonsense": "x", "priority": "1", "active": "false" }),
    );
    assert!(odd.get("u_nonsense").is_none(), "{odd}");
    assert_eq!(
        (odd["priority"].as_str(), odd["active"].as_str()),
        (Some("5"), Some("true"))
    );
    assert_eq!(e.incidents()[3].lint.len(), 2, "{:?}", e.incidents()[3].lint);
}

#[test]
fn priority_follows_the_base_systems_lookup() {
    let e = emulator();
    for (u, i, p) in [
        (1, 1, 1),
        (1, 2, 2),
        (2, 1, 2),
        (1, 3, 3),
        (2, 2, 3),
        (3, 1, 3),
        (2, 3, 4),
        (3, 2, 4),
        (3, 3, 5),
    ] {
        let row = post(
            &e,
            "incident",
            json!({ "urgency": u.to_string(), "impact": i.to_string() }),
        );
        assert_eq!(row["priority"], p.to_string(), "{u}/{i}");
    }
    // A change of urgency recomputes it.
    let sys_id = e.incidents()[0].fields["sys_id"].clone();
    let (_, b) = patch(&e, &sys_id, json!({ "urgency": "3" }));
    assert_eq!(b["result"]["priority"], "3", "3/1");
}

#[test]
fn a_resolved_incident_is_active_but_not_open() {
    let e = emulator();
    let sys_id = post(&e, "incident", new_incident("k"))["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, b) = patch(&e, &sys_id, resolve());
    assert_eq!(status, 200, "{b}");
    let row = &b["result"];
    assert_eq!(
        (row["state"].as_str(), row["incident_state"].as_str()),
        (Some("6"), Some("6"))
    );
    assert_eq!(row["active"], "true", "Resolved is still active");
    assert_eq!(row["resolved_at"].as_str().map(str::len), Some(19), "{row}");
    assert_eq!(row["closed_at"], "");
    assert_eq!(numbers(&list(&e, "correlation_id=k^active=true", "")), ["INC0010001"]);
    assert!(
        list(&e, "correlation_id=k^stateIN1,2,3", "").is_empty(),
        "state 6 is not in 1,2,3"
    );
    assert_eq!(numbers(&list(&e, "correlation_id=k^stateIN6", "")), ["INC0010001"]);
    // The client sent both close fields: nothing to note.
    assert!(e.incidents()[0].lint.is_empty(), "{:?}", e.incidents()[0].lint);
}

#[test]
fn resolving_without_close_fields_is_accepted_and_noted() {
    let e = emulator();
    let sys_id = post(&e, "incident", new_incident("k"))["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, b) = patch(&e, &sys_id, json!({ "state": "6", "close_code": "Solution provided" }));
    assert_eq!(status, 200, "REST bypasses UI policies: {b}");
    assert_eq!(b["result"]["state"], "6");
    let row = &e.incidents()[0];
    assert_eq!(row.lint, ["moved to state 6 without close_notes"]);
}

#[test]
fn a_resolved_incident_auto_closes_after_the_delay() {
    let e = emulator();
    e.set_auto_close(Duration::from_millis(400));
    let sys_id = post(&e, "incident", new_incident("k"))["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let other = post(&e, "incident", new_incident("still-open"));
    patch(&e, &sys_id, resolve());
    assert_eq!(get(&e, &sys_id)["state"], "6", "not yet");
    std::thread::sleep(Duration::from_millis(900));
    // The harness accessors see it closed without any request in between.
    let rows = e.incidents();
    assert_eq!(rows[0].fields["state"], "7");
    assert_eq!(rows[0].fields["incident_state"], "7");
    assert_eq!(rows[0].fields["active"], "false");
    assert!(
        rows[0].fields["closed_at"] >= rows[0].fields["resolved_at"],
        "{:?}",
        rows[0]
    );
    assert_eq!(rows[0].fields["closed_at"].len(), 19);
    assert_eq!(rows[1].fields["state"], "1", "only resolved rows close");
    assert_eq!(
        e.journal(&sys_id),
        [(
            "comments".to_owned(),
            "Incident automatically closed after 400 milliseconds in the Resolved state.".to_owned()
        )]
    );
    // Over HTTP too.
    assert_eq!(numbers(&list(&e, "active=false", "")), ["INC0010001"]);
    assert_eq!(
        numbers(&list(&e, "active=true", "")),
        [other["number"].as_str().expect("n")]
    );
    // A closed incident cannot be reopened or updated: 403, the documented body, nothing changed.
    let before = e.incidents()[0].clone();
    for body in [
        json!({ "state": "2" }),
        json!({ "work_notes": "still broken", "state": "2" }),
        json!({ "work_notes": "still broken" }),
    ] {
        let (status, b) = patch(&e, &sys_id, body);
        assert_eq!(status, 403);
        assert_eq!(b, serde_json::from_str::<Json>(CLOSED_BODY).expect("json"));
    }
    let after = e.incidents()[0].clone();
    assert_eq!(after.fields, before.fields);
    assert_eq!(after.journal, before.journal);
}

#[test]
fn reopening_a_resolved_incident_counts_by_itself() {
    let e = emulator();
    let sys_id = post(&e, "incident", new_incident("k"))["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Moves between open states are not reopens.
    patch(&e, &sys_id, json!({ "state": "2" }));
    patch(&e, &sys_id, json!({ "state": "3" }));
    assert_eq!(get(&e, &sys_id)["reopen_count"], "0");
    patch(&e, &sys_id, resolve());
    // The client sends neither reopen_count nor reopened_time; made-up values are ignored.
    let (status, b) = patch(
        &e,
        &sys_id,
        json!({ "state": "2", "reopen_count": "7", "reopened_time": "2000-01-01 00:00:00" }),
    );
    assert_eq!(status, 200, "{b}");
    let row = &b["result"];
    assert_eq!(
        (row["state"].as_str(), row["active"].as_str()),
        (Some("2"), Some("true"))
    );
    assert_eq!(row["reopen_count"], "1");
    let reopened = row["reopened_time"].as_str().expect("time");
    assert!(reopened > "2020" && reopened.len() == 19, "{reopened}");
    assert_eq!(numbers(&list(&e, "stateIN1,2,3", "")), ["INC0010001"], "open again");
    patch(&e, &sys_id, resolve());
    let (_, b) = patch(&e, &sys_id, json!({ "incident_state": "1" }));
    assert_eq!(
        b["result"]["reopen_count"], "2",
        "incident_state alone drives state too"
    );
    assert_eq!(b["result"]["state"], "1");
    let lint = &e.incidents()[0].lint;
    assert_eq!(lint.len(), 2, "the ignored writes are noted: {lint:?}");
}

#[test]
fn a_canceled_incident_refuses_updates() {
    let e = emulator();
    let sys_id = post(&e, "incident", new_incident("k"))["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, b) = patch(
        &e,
        &sys_id,
        json!({ "state": "8", "close_code": "Duplicate", "close_notes": "dup" }),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["result"]["active"], "false");
    let (status, b) = patch(&e, &sys_id, json!({ "work_notes": "late note" }));
    assert_eq!(status, 403);
    assert_eq!(b, serde_json::from_str::<Json>(CLOSED_BODY).expect("json"));
    assert!(e.journal(&sys_id).is_empty());
    // Unknown rows are 404, unknown states are ignored.
    let (status, _) = patch(&e, &"0".repeat(32), json!({ "state": "2" }));
    assert_eq!(status, 404);
    let open = post(&e, "incident", new_incident("k2"))["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, b) = patch(&e, &open, json!({ "state": "4" }));
    assert_eq!(b["result"]["state"], "1");
    // Closing directly sets closed_at.
    let (_, b) = patch(
        &e,
        &open,
        json!({ "state": "7", "close_code": "Duplicate", "close_notes": "x" }),
    );
    assert_eq!(b["result"]["active"], "false");
    assert_eq!(b["result"]["closed_at"].as_str().map(str::len), Some(19));
}

#[test]
fn journal_fields_append_and_read_back_empty() {
    let e = emulator();
    let mut body = new_incident("k");
    body["work_notes"] = json!("first");
    body["comments"] = json!("hello caller");
    let row = post(&e, "incident", body);
    let sys_id = row["sys_id"].as_str().expect("id").to_owned();
    assert_eq!(
        (row["work_notes"].as_str(), row["comments"].as_str()),
        (Some(""), Some(""))
    );
    let (_, b) = patch(&e, &sys_id, json!({ "work_notes": "second", "comments": "" }));
    assert_eq!(b["result"]["work_notes"], "");
    let read = get(&e, &sys_id);
    assert_eq!(
        (read["work_notes"].as_str(), read["comments"].as_str()),
        (Some(""), Some(""))
    );
    let pair = |f: &str, t: &str| (f.to_owned(), t.to_owned());
    assert_eq!(
        e.journal(&sys_id),
        [
            pair("work_notes", "first"),
            pair("comments", "hello caller"),
            pair("work_notes", "second")
        ],
        "an empty entry is not journalled"
    );
    assert_eq!(e.incidents()[0].work_notes, ["first", "second"]);
    assert!(e.journal("no-such-row").is_empty());
}

#[test]
fn an_empty_list_is_404_on_v1_and_200_on_v2() {
    let e = emulator();
    post(&e, "incident", new_incident("k"));
    let q = format!("sysparm_query={}", enc("correlation_id=nobody"));
    let (status, b) = call(&e, "GET", &format!("/api/now/v1/table/incident?{q}"), None);
    assert_eq!(status, 404);
    assert_eq!(
        b,
        json!({
            "error": {
                "message": "No Record found",
                "detail": "Records matching query not found. Check query parameter or offset parameter"
            },
            "status": "failure"
        })
    );
    for path in ["/api/now/v2/table/incident", "/api/now/table/incident"] {
        let (status, b) = call(&e, "GET", &format!("{path}?{q}"), None);
        assert_eq!((status, b), (200, json!({ "result": [] })), "{path}");
    }
    // A table nobody wrote to is empty, not an error.
    let (status, b) = call(&e, "GET", "/api/now/v2/table/sn_vul_vulnerable_item", None);
    assert_eq!((status, b), (200, json!({ "result": [] })));
    // v1 with a match, and every version for writes.
    let (status, b) = call(
        &e,
        "GET",
        "/api/now/v1/table/incident?sysparm_query=correlation_id%3Dk",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(b["result"].as_array().map(Vec::len), Some(1));
    let (status, _) = call(&e, "POST", "/api/now/v1/table/incident", Some(&new_incident("v1")));
    assert_eq!(status, 201);
    let (status, _) = call(&e, "POST", "/api/now/table/incident", Some(&new_incident("plain")));
    assert_eq!(status, 201);
    let (status, b) = call(&e, "GET", "/api/now/v2/table/Incident", None);
    assert_eq!(status, 400, "table names are case-sensitive: {b}");
}

#[test]
fn other_tables_follow_the_same_lifecycle() {
    let e = emulator();
    let table = "sn_vul_vulnerable_item";
    let row = post(&e, table, new_incident("vit"));
    assert_eq!(row["number"], "VIT0010001");
    let sys_id = row["sys_id"].as_str().expect("id").to_owned();
    let inc = post(&e, "incident", new_incident("inc"));
    assert_eq!(inc["number"], "INC0010001", "numbers count per table");
    let (status, b) = call(
        &e,
        "PATCH",
        &format!("/api/now/table/{table}/{sys_id}"),
        Some(&json!({ "state": "8", "close_code": "x", "close_notes": "y" })),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["result"]["active"], "false");
    let (status, _) = call(
        &e,
        "PATCH",
        &format!("/api/now/table/{table}/{sys_id}"),
        Some(&json!({ "state": "2" })),
    );
    assert_eq!(status, 403);
    // Rows are per table: the incident's path does not find it.
    let (status, _) = call(&e, "GET", &format!("/api/now/table/incident/{sys_id}"), None);
    assert_eq!(status, 404);
    assert_eq!(e.rows(table).len(), 1);
    assert_eq!(e.rows("incident").len(), 1);
    assert_eq!(e.incidents().len(), 2, "every table");
    assert_eq!(e.incidents()[0].table, table);
}

#[test]
fn query_operators() {
    let e = emulator();
    // Correlation ids 9 and 10 tell numeric from lexicographic comparison apart.
    for (key, u, i) in [("9", "1", "1"), ("10", "2", "2"), ("alpha", "3", "3")] {
        post(
            &e,
            "incident",
            json!({ "correlation_id": key, "urgency": u, "impact": i, "short_description": format!("about {key}") }),
        );
    }
    let sys_ids: Vec<String> = e.incidents().iter().map(|r| r.fields["sys_id"].clone()).collect();
    patch(&e, &sys_ids[1], json!({ "state": "2", "close_code": "Duplicate" }));
    let q = |query: &str| numbers(&list(&e, query, ""));
    let (a, b, c) = ("INC0010001", "INC0010002", "INC0010003");
    assert_eq!(q("correlation_id=9"), [a]);
    assert_eq!(q("correlation_id!=9"), [b, c]);
    assert_eq!(q("stateIN1,3"), [a, c]);
    assert_eq!(q("stateNOT IN1,3"), [b]);
    assert_eq!(q("correlation_id=9^ORcorrelation_id=alpha"), [a, c]);
    assert_eq!(
        q("state=1^correlation_id=9^ORcorrelation_id=10"),
        [a],
        "^OR binds tighter than ^"
    );
    assert_eq!(q("correlation_id=9^NQcorrelation_id=10"), [a, b]);
    assert_eq!(q("close_codeISEMPTY"), [a, c]);
    assert_eq!(q("close_codeISNOTEMPTY"), [b]);
    // As in ServiceNow, "is not" never matches an empty value.
    assert_eq!(q("close_code!=Solution provided"), [b]);
    assert_eq!(q("correlation_id<10"), [a], "numbers compare as numbers");
    assert_eq!(
        q("correlation_id>=10"),
        [b, c],
        "alpha is not a number: \"alpha\" > \"10\""
    );
    assert_eq!(q("correlation_id>a"), [c], "else as strings");
    assert_eq!(q("priority<=3"), [a, b]);
    assert_eq!(q("priority>3"), [c]);
    assert_eq!(q("short_descriptionLIKEout 1"), [b]);
    assert_eq!(q("short_descriptionSTARTSWITHabout a"), [c]);
    // Dates in "YYYY-MM-DD HH:MM:SS" compare as strings.
    assert_eq!(q("sys_created_on>=2000-01-01 00:00:00"), [a, b, c]);
    assert_eq!(q("sys_created_on<2000-01-01 00:00:00"), Vec::<String>::new());
    // Unknown fields, wrong case and unknown operators: the term is dropped, every row matches.
    assert_eq!(q("no_such_field=1"), [a, b, c]);
    assert_eq!(q("State=2"), [a, b, c]);
    assert_eq!(q("state=2"), [b]);
    assert_eq!(q("correlation_id=9^ORno_such=1"), [a]);
    assert_eq!(q("stateBETWEEN1@2"), [a, b, c]);
    e.hide_field("state");
    assert_eq!(q("state=2"), [a, b, c], "an unreadable field's term is dropped");
    assert_eq!(q("priority>1^ORDERBYDESCpriority"), [c, b]);
    assert_eq!(q("ORDERBYcorrelation_id"), [a, b, c], "9 < 10 < alpha");
    // Created within the same second or not: DESC on the creation time is newest first.
    assert_eq!(q("ORDERBYDESCsys_created_on"), [c, b, a]);
    assert_eq!(q("ORDERBYsys_created_on"), [a, b, c]);
    assert_eq!(q("ORDERBYDESCcorrelation_id"), [c, b, a]);
    assert_eq!(
        q("ORDERBYactive^ORDERBYDESCpriority"),
        [c, b, a],
        "ties broken by the next key"
    );
    // Paging and fields.
    let page = list(
        &e,
        "ORDERBYpriority",
        "&sysparm_limit=1&sysparm_offset=1&sysparm_fields=number,priority",
    );
    assert_eq!(page, [json!({ "number": b, "priority": "3" })]);
    let carets = post(&e, "incident", json!({ "correlation_id": "odd^active=false" }));
    assert_eq!(
        q("correlation_id=odd^^active=false"),
        [carets["number"].as_str().expect("n")]
    );
    // The request log: one line per request, the query decoded.
    assert!(
        e.requests()
            .contains(&"GET /api/now/v2/table/incident?sysparm_query=stateIN1,3".to_owned()),
        "{:?}",
        e.requests()
    );
    assert!(e.requests().iter().any(|r| r == "POST /api/now/v2/table/incident"));
}

#[test]
fn a_post_may_set_a_state_which_applies_as_a_move_from_new() {
    let e = emulator();
    let mut body = new_incident("k");
    body["state"] = json!("6");
    body["close_code"] = json!("Solution provided");
    body["close_notes"] = json!("fixed before anyone looked");
    let row = post(&e, "incident", body);
    assert_eq!(
        (row["state"].as_str(), row["active"].as_str()),
        (Some("6"), Some("true"))
    );
    assert_eq!(row["resolved_at"].as_str().map(str::len), Some(19));
    assert_eq!(row["reopen_count"], "0");
    let odd = post(
        &e,
        "incident",
        json!({ "state": "5", "due_date": "2026-12-01 00:00:00" }),
    );
    assert_eq!(odd["state"], "1", "an unknown state is ignored");
    assert_eq!(odd["due_date"], "2026-12-01 00:00:00");
    assert_eq!(odd["escalation"], "0");
    let rows = e.incidents();
    assert!(rows[0].lint.is_empty(), "{:?}", rows[0].lint);
    assert_eq!(rows[1].lint, ["ignored unknown state \"5\""]);
}
