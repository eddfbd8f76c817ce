//! A ServiceNow Table API emulator for tests and the demo: loopback only, HTTP/1.1, one thread
//! per connection, connections kept alive as ServiceNow keeps them. State lives in memory and is kept consistent by the
//! emulator itself, never by trusting what a client sends (DESIGN §6, "ServiceNow facts").
//!
//! Over 800 lines on purpose: it is one server whose parts (encoded queries, the incident
//! lifecycle, reference data and display values) share one row store and one request path;
//! split, each part would need the others' internals. About 130 lines are its own tests.
//!
//! What it emulates, including the inconvenient parts a client must cope with:
//! - **Paths**: `/api/now/table/{table}`, `/api/now/v1/table/{table}`, `/api/now/v2/table/{table}`
//!   and `…/{sys_id}`: `GET` (list or one row), `POST` (201), `PATCH`/`PUT` (200). Any table name
//!   (`[a-z][a-z0-9_]*`) is accepted and follows the incident rules below, so `servicenow.table`
//!   can name e.g. `sn_vul_vulnerable_item` — except the reference-data tables (next item).
//!   A list `GET` that matches nothing answers 200
//!   `{"result":[]}` on v2 and on the unversioned path (it follows the newest version), and **404
//!   "No Record found"** on v1.
//! - **Batch API**: `POST /api/now/v1/batch` (also unversioned and v2): `rest_requests` of
//!   `{id, method, url, headers, body}` (the body Base64) are handled one after the other as the
//!   requests they describe, with the batch's credentials, and answered as `serviced_requests` of
//!   `{id, status_code, status_text, body (Base64), headers, execution_time}` in a 200; items past
//!   [`Emulator::batch_limit`] come back in `unserviced_requests`. The batch request and each item
//!   meet the emulated failures (outage, flaky, scripted) as a request would; a slow instance
//!   delays the batch once. [`Emulator::refuse_batch`] answers it as an instance without it (400).
//! - **Reference data** (the CMDB, users, groups), seeded by the test ([`Emulator::add_ci`],
//!   [`Emulator::add_user`], [`Emulator::add_group`], [`Emulator::relate`],
//!   [`Emulator::add_row`]) and read-only through the API (a write answers 403): the CI classes
//!   `cmdb_ci` → `cmdb_ci_vm_object` → `cmdb_ci_vm_instance` (`object_id`, `vm_inst_id`,
//!   `state`) and `cmdb_ci_cloud_system_management_agent` (`object_id`, `resource_type`, …);
//!   `cmdb_ci` → `cmdb_ci_hardware` → `cmdb_ci_computer` → `cmdb_ci_server` (`object_id`) →
//!   `cmdb_ci_linux_server` / `cmdb_ci_win_server`. Every CI has the `cmdb_ci` fields
//!   `sys_class_name`, `name`, the user references `owned_by`, `managed_by`, `assigned_to`,
//!   `supported_by` (→ `sys_user`), the group references `support_group`, `managed_by_group` and
//!   `assignment_group` (the "Change Group"; → `sys_user_group`), `install_status`,
//!   `operational_status`, `fqdn`, `ip_address`, `short_description`. A class is also read
//!   through every class above it, with only that class's fields (`cmdb_ci` lists servers and VM
//!   instances alike). `cmdb_rel_ci` (`parent`, `child` → `cmdb_ci`; `type` → `cmdb_rel_type`,
//!   whose `name` is e.g. `Virtualized by::Virtualizes`), `sys_user` (`name`, `email`,
//!   `user_name`, `active`), `sys_user_group` (`name`, `email`, `manager`, `active`). Every row
//!   has `sys_id`, `sys_created_on`, `sys_updated_on`; a field not on the class is not there.
//! - **Rows**: every value is a JSON string. Fields: `sys_id` (32 hex), `number` (`INC0010001`…;
//!   `VIT…` for `sn_vul_vulnerable_item`, `TASK…` for other tables; counted per table), `state`
//!   and `incident_state` (mirrored), `active`, `priority`, `reopen_count`, `resolved_at`,
//!   `closed_at`, `reopened_time`, `close_code`, `close_notes`, `correlation_id`,
//!   `correlation_display`, `urgency`, `impact` (both default `3`), `short_description`,
//!   `description`, `due_date`, `escalation` (default `0`), `category`, `subcategory`,
//!   `sys_created_on`, `sys_updated_on` (`YYYY-MM-DD HH:MM:SS`, UTC, real clock, whole seconds).
//!   A field that is not on the table is silently dropped on write.
//! - **References**: `assignment_group` (→ `sys_user_group`) and `cmdb_ci` (→ `cmdb_ci`) of task
//!   rows, and those of reference data, read as
//!   `{"link": "<url>/api/now/table/<table>/<sys_id>", "value": "<sys_id>"}`, or `""` when empty;
//!   `sysparm_exclude_reference_link=true` gives the bare sys_id. A write may give a sys_id (32
//!   hex) or a name: a name is stored as a stable made-up sys_id
//!   ([`Emulator::reference_sys_id`]), and `<field>.name` works in queries and `sysparm_fields`;
//!   so does `<field>.<other field>` when the reference is to a seeded row (`type.name`,
//!   `owned_by.email`).
//! - **Display values** (`sysparm_display_value`): `false` (default) as above; `true` gives each
//!   field's display value, a reference as `{"display_value", "link"}` (a bare string with
//!   `sysparm_exclude_reference_link=true`); `all` gives `{"display_value", "value"}` and, for a
//!   non-empty reference with links, `"link"`. A reference displays as the referenced row's
//!   `name` (reference data), `number` (task rows), the name it was written with, or `""`; any
//!   other field displays as stored (no `sys_choice` labels, no time-zone shift).
//! - **Journal fields** `work_notes` and `comments`: a non-empty write appends to the row's
//!   journal ([`Emulator::journal`]); they always read back as `""`.
//! - **Computed fields** (`active`, `priority`, `reopen_count`, `reopened_time`, `resolved_at`,
//!   `closed_at`, `incident_state`, `sys_*`, `number`) are set by the emulator; a client's value
//!   for them is ignored and noted in [`Row::lint`]. `active` is `true` for states 1 New,
//!   2 In Progress, 3 On Hold **and 6 Resolved**, `false` for 7 Closed and 8 Canceled.
//!   `priority` follows the base system's lookup on urgency × impact (1/1→1; 1/2, 2/1→2; 1/3,
//!   2/2, 3/1→3; 2/3, 3/2→4; 3/3→5; anything else→5).
//! - **Lifecycle**, driven by `state` writes (`incident_state` alone is taken as `state`; a state
//!   outside 1, 2, 3, 6, 7, 8 is ignored and noted): a new row starts in 1 New unless the POST
//!   sets a state, which then applies as a move from New (REST may create a Resolved row); → 6 sets
//!   `resolved_at` (resolving without `close_code` and `close_notes` is accepted, as REST bypasses
//!   UI policies, and noted in [`Row::lint`]); 6 → 1/2/3 is a reopen: `reopen_count` + 1 and
//!   `reopened_time`; → 7 sets `closed_at`. A resolved row older than the auto-close delay
//!   ([`Emulator::set_auto_close`], default 1 day like `glide.ui.autoclose.time`) becomes 7 Closed
//!   with a `comments` journal entry; this is evaluated at the start of every request and in every
//!   accessor. A `PATCH` of a Closed or Canceled row answers **403** "ACL Exception Update Failed
//!   due to security constraints" and changes nothing (its journal entries are dropped too).
//! - **Queries** (`sysparm_query`): terms separated by `^` (`^^` is a literal caret), `^OR` (binds
//!   tighter than `^`), `^NQ` (a new OR'ed query), `^EQ`; operators `=`, `!=`, `IN`, `NOT IN`,
//!   `ISEMPTY`, `ISNOTEMPTY`, `<`, `<=`, `>`, `>=`, `LIKE`, `NOT LIKE`, `STARTSWITH`, `ENDSWITH`;
//!   `ORDERBY<field>`, `ORDERBYDESC<field>` (several; rows still tied follow creation order in
//!   the first key's direction, so `ORDERBYDESCsys_created_on` is newest first within a second).
//!   `<`, `<=`, `>`, `>=` and `ORDERBY` compare numerically when both sides are numbers, else as
//!   strings (which orders `YYYY-MM-DD HH:MM:SS` dates correctly). Names and values are
//!   case-sensitive. As in ServiceNow (KB0715430), `!=`, `NOT IN`, `NOT LIKE`, `<`, `<=`, `>`,
//!   `>=` never match an empty value. A term on an unknown field (or a misspelt one, `State=1`),
//!   with an unknown operator, or on a field the caller may not read ([`Emulator::hide_field`]) is
//!   **silently dropped**, so a client must check the rows it gets back. Also `sysparm_limit` (default
//!   10000), `sysparm_offset`, `sysparm_fields` (on reads and writes).
//! - **Auth and failures**: 401 without valid credentials (basic, or an OAuth bearer token from
//!   `/oauth_token.do`, client credentials); scripted failures (429 with `Retry-After`, 5xx) for
//!   the next requests ([`Emulator::script`]), outages, slow answers, writes carried out and then
//!   answered 504 as by a proxy that gave up ([`Emulator::lose_answers`]); errors as
//!   `{"error": {"message", "detail"}, "status": "failure"}`.
//! - **Request log** ([`Emulator::requests`]): one line per request, `METHOD path?query` with the
//!   query percent-decoded (just `METHOD path` without one).
//!
//! What it does not emulate: dot-walking more than one level or to rows not seeded (other than
//! `<reference>.name`), `javascript:` values in queries (compared literally), `LIKE` being case-insensitive on some
//! databases, `DELETE`, attachments, other APIs (Import Set, Aggregate), `sys_choice` and the
//! base tables not listed above (a reference to a made-up sys_id is never checked), roles (any
//! authenticated caller may close; no `resolved_by`/`closed_by`/`reopened_by`), data policies,
//! business rules beyond the lifecycle above, the `X-Total-Count`/`Link` paging headers, ties in
//! `ORDERBY` being in an unspecified order (a client that must break ties should add a second
//! key such as `number`), OAuth token expiry, rate limits other than scripted.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json, json};

/// One row, as the test harness sees it.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The table it lives in (`incident`, …).
    pub table: String,
    /// Every field as a string, as the API returns it with `sysparm_exclude_reference_link=true`,
    /// except that a reference field holds the name it was written with (the display value; the
    /// sys_id when the name is unknown), so tests can read `fields["assignment_group"]` as the
    /// group's name. The sys_ids are in [`Row::refs`].
    pub fields: BTreeMap<String, String>,
    /// Reference fields → the sys_id stored (`""` when empty).
    pub refs: BTreeMap<String, String>,
    /// Work notes, oldest first (the `work_notes` entries of [`Row::journal`]).
    pub work_notes: Vec<String>,
    /// Journal entries, oldest first: (`work_notes` | `comments`, text).
    pub journal: Vec<(String, String)>,
    /// What the emulator accepted or ignored that a careful client would not have sent: resolving
    /// or closing without `close_code`/`close_notes`, writes to computed fields, a state it does
    /// not know.
    pub lint: Vec<String>,
}

/// A row as stored: references hold sys_ids.
#[derive(Debug, Clone)]
struct Rec {
    table: String,
    fields: BTreeMap<String, String>,
    journal: Vec<(String, String)>,
    /// When it was last resolved (the auto-close clock; `resolved_at` has whole seconds only).
    resolved: Option<SystemTime>,
    lint: Vec<String>,
}

struct State {
    url: String,
    rows: Vec<Rec>,
    numbers: BTreeMap<String, u64>,
    /// sys_id → name, for references written by name.
    names: BTreeMap<String, String>,
    auto_close: Duration,
    basic: String,
    oauth: (String, String),
    tokens: BTreeSet<String>,
    script: VecDeque<(u16, Option<u64>)>,
    outage_until: Option<std::time::Instant>,
    /// Percent of table requests answered 429 or 503 ([`Emulator::flaky`]), and the generator's
    /// state that picks them.
    flaky: (u64, u64),
    delay: Duration,
    hidden_fields: BTreeSet<String>,
    requests: Vec<String>,
    counter: u64,
    /// HTTP requests received (a batch is one, its items are operations in `requests`).
    calls: u64,
    /// Items of a batch serviced before it stops (the rest are `unserviced_requests`).
    batch_limit: Option<usize>,
    /// Answers the Batch API as an instance without it does (400, no such resource).
    batch_refused: bool,
    /// Table writes still to be carried out and then answered 504 ([`Emulator::lose_answers`]).
    lost_answers: usize,
}

/// A running emulator; stops when dropped.
pub struct Emulator {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard Base64 (padding required, whitespace between characters ignored, as in the
/// documentation's examples), or `None`.
fn unbase64(input: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = input.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(digits.len() / 4 * 3);
    for (i, quad) in digits.chunks(4).enumerate() {
        let last = i + 1 == digits.len() / 4;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Splits an encoded query on `^`, keeping `^^` as a literal caret.
fn terms(q: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = q.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            if chars.peek() == Some(&'^') {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('^');
                }
            } else {
                out.push(String::new());
            }
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out.into_iter().filter(|t| !t.is_empty()).collect()
}

/// Reference fields and the table they point to.
const REFERENCES: [(&str, &str); 2] = [("assignment_group", "sys_user_group"), ("cmdb_ci", "cmdb_ci")];
/// Journal fields: appended on write, read back as `""`.
const JOURNAL: [&str; 2] = ["work_notes", "comments"];
/// Fields a client may write (besides `state`/`incident_state`, references and journals).
const WRITABLE: [&str; 12] = [
    "correlation_id",
    "correlation_display",
    "urgency",
    "impact",
    "short_description",
    "description",
    "close_code",
    "close_notes",
    "due_date",
    "escalation",
    "category",
    "subcategory",
];
/// Fields the emulator computes; a client's value is ignored.
const COMPUTED: [&str; 12] = [
    "sys_id",
    "number",
    "active",
    "priority",
    "reopen_count",
    "reopened_time",
    "resolved_at",
    "closed_at",
    "sys_created_on",
    "sys_updated_on",
    "state",
    "incident_state",
];
const OPEN: [&str; 3] = ["1", "2", "3"];
const STATES: [&str; 6] = ["1", "2", "3", "6", "7", "8"];
const NOT_FOUND: &str = "Record doesn't exist or ACL restricts the record retrieval";

fn is_field(f: &str) -> bool {
    WRITABLE.contains(&f) || COMPUTED.contains(&f) || JOURNAL.contains(&f) || reference_table(f).is_some()
}

fn reference_table(f: &str) -> Option<&'static str> {
    REFERENCES.iter().find(|(n, _)| *n == f).map(|(_, t)| *t)
}

/// Fields every reference-data row has.
const SYS: [(&str, &str); 3] = [("sys_id", ""), ("sys_created_on", ""), ("sys_updated_on", "")];

/// (table, the class it extends or `""`, its own fields as (name, referenced table or `""`)).
type DataTable = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

/// Reference-data tables (CMDB classes, relationships, users, groups): seeded by the harness
/// ([`Emulator::add_ci`], …), read through the API, never written through it. Each is (table,
/// the class it extends or `""`, its own fields as (name, referenced table or `""`)); a class
/// has its own fields and those of every class above it, as in the base system.
const DATA: [DataTable; 13] = [
    (
        "cmdb_ci",
        "",
        &[
            ("sys_class_name", ""),
            ("name", ""),
            ("owned_by", "sys_user"),
            ("managed_by", "sys_user"),
            ("assigned_to", "sys_user"),
            ("supported_by", "sys_user"),
            ("support_group", "sys_user_group"),
            ("managed_by_group", "sys_user_group"),
            // Labelled "Change Group" on a CI: who approves changes, not the owner.
            ("assignment_group", "sys_user_group"),
            ("install_status", ""),
            ("operational_status", ""),
            ("fqdn", ""),
            ("ip_address", ""),
            ("short_description", ""),
        ],
    ),
    ("cmdb_ci_vm_object", "cmdb_ci", &[("object_id", "")]),
    (
        "cmdb_ci_vm_instance",
        "cmdb_ci_vm_object",
        &[("vm_inst_id", ""), ("state", "")],
    ),
    (
        "cmdb_ci_cloud_system_management_agent",
        "cmdb_ci_vm_object",
        &[
            ("resource_type", ""),
            ("cloud_agent_type", ""),
            ("version", ""),
            ("operating_system_platform", ""),
        ],
    ),
    ("cmdb_ci_hardware", "cmdb_ci", &[]),
    (
        "cmdb_ci_computer",
        "cmdb_ci_hardware",
        &[("os", ""), ("os_version", ""), ("host_name", "")],
    ),
    ("cmdb_ci_server", "cmdb_ci_computer", &[("object_id", "")]),
    ("cmdb_ci_linux_server", "cmdb_ci_server", &[]),
    ("cmdb_ci_win_server", "cmdb_ci_server", &[]),
    (
        "cmdb_rel_type",
        "",
        &[("name", ""), ("parent_descriptor", ""), ("child_descriptor", "")],
    ),
    (
        "cmdb_rel_ci",
        "",
        &[("parent", "cmdb_ci"), ("child", "cmdb_ci"), ("type", "cmdb_rel_type")],
    ),
    (
        "sys_user",
        "",
        &[("user_name", ""), ("name", ""), ("email", ""), ("active", "")],
    ),
    (
        "sys_user_group",
        "",
        &[("name", ""), ("email", ""), ("manager", "sys_user"), ("active", "")],
    ),
];

/// Whether `table` holds reference data rather than task rows.
fn is_data(table: &str) -> bool {
    DATA.iter().any(|(t, _, _)| *t == table)
}

/// `table` and every class above it, nearest first.
fn lineage(table: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut next = DATA.iter().find(|(t, _, _)| *t == table);
    while let Some((t, parent, _)) = next {
        out.push(*t);
        next = DATA.iter().find(|(p, _, _)| p == parent);
    }
    out
}

/// Whether a row of class `class` is a row of `table` (the class itself or one above it).
fn extends(class: &str, table: &str) -> bool {
    lineage(class).contains(&table)
}

/// The fields of a reference-data table: the system fields, then those of each class from the
/// root down.
fn data_fields(table: &str) -> Vec<(&'static str, &'static str)> {
    let mut out = SYS.to_vec();
    for t in lineage(table).into_iter().rev() {
        if let Some((_, _, own)) = DATA.iter().find(|(n, _, _)| *n == t) {
            out.extend_from_slice(own);
        }
    }
    out
}

/// Whether `table` has `field` (the task rules for task tables).
fn has_field(table: &str, field: &str) -> bool {
    if is_data(table) {
        data_fields(table).iter().any(|(f, _)| *f == field)
    } else {
        is_field(field)
    }
}

/// The table a reference field of `table` points to.
fn reference_of(table: &str, field: &str) -> Option<&'static str> {
    if is_data(table) {
        data_fields(table)
            .into_iter()
            .find(|(f, t)| *f == field && !t.is_empty())
            .map(|(_, t)| t)
    } else {
        reference_table(field)
    }
}

fn error(status: u16, message: &str, detail: &str) -> (u16, Json, Option<u64>) {
    (
        status,
        json!({ "error": { "message": message, "detail": detail }, "status": "failure" }),
        None,
    )
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, as ServiceNow's API shows date-times.
fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 → civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The base system's priority lookup (`dl_u_priority`) on urgency × impact.
fn priority(urgency: &str, impact: &str) -> &'static str {
    match (urgency, impact) {
        ("1", "1") => "1",
        ("1", "2") | ("2", "1") => "2",
        ("1", "3") | ("2", "2") | ("3", "1") => "3",
        ("2", "3") | ("3", "2") => "4",
        _ => "5",
    }
}

fn number_prefix(table: &str) -> &'static str {
    match table {
        "incident" => "INC",
        "sn_vul_vulnerable_item" => "VIT",
        _ => "TASK",
    }
}

/// A stable made-up 32-hex sys_id for a name in a table (two FNV-1a 64 hashes).
fn made_up_sys_id(table: &str, name: &str) -> String {
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in table.bytes().chain([b'/']).chain(name.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x84222325_cbf29ce4))
}

fn is_sys_id(v: &str) -> bool {
    v.len() == 32 && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A JSON value as ServiceNow stores it: a string (`null` → `""`).
fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Numbers compare as numbers, everything else (dates included) as strings.
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Empty,
    NotEmpty,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    NotLike,
    Starts,
    Ends,
}

/// Operators as they appear right after the field name; longer ones first where one is a prefix
/// of another.
const OPERATORS: [(&str, Op); 14] = [
    ("ISNOTEMPTY", Op::NotEmpty),
    ("ISEMPTY", Op::Empty),
    ("NOT IN", Op::NotIn),
    ("NOT LIKE", Op::NotLike),
    ("IN", Op::In),
    ("LIKE", Op::Like),
    ("STARTSWITH", Op::Starts),
    ("ENDSWITH", Op::Ends),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("<", Op::Lt),
    (">", Op::Gt),
    ("=", Op::Eq),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cond {
    field: String,
    op: Op,
    value: String,
}

/// `field OP value`: the operator starts at the first uppercase letter or `=!<>` after at least
/// one character of field name (ServiceNow's names are lowercase).
fn condition(term: &str) -> Option<Cond> {
    for (i, c) in term.char_indices().skip(1) {
        if !(c.is_ascii_uppercase() || "=!<>".contains(c)) {
            continue;
        }
        let rest = &term[i..];
        for (token, op) in OPERATORS {
            if let Some(value) = rest.strip_prefix(token) {
                return Some(Cond {
                    field: term[..i].to_owned(),
                    op,
                    value: value.to_owned(),
                });
            }
        }
    }
    None
}

impl Cond {
    fn matches(&self, v: &str) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        let list = || self.value.split(',').any(|x| x == v);
        // Like SQL's NULL, an empty value is never "different from" or "before/after" anything.
        let present = !v.is_empty();
        match self.op {
            Op::Eq => v == self.value,
            Op::Ne => present && v != self.value,
            Op::In => list(),
            Op::NotIn => present && !list(),
            Op::Empty => v.is_empty(),
            Op::NotEmpty => present,
            Op::Lt => present && compare(v, &self.value) == Less,
            Op::Le => present && compare(v, &self.value) != Greater,
            Op::Gt => present && compare(v, &self.value) == Greater,
            Op::Ge => present && compare(v, &self.value) != Less,
            Op::Like => v.contains(&self.value),
            Op::NotLike => present && !v.contains(&self.value),
            Op::Starts => v.starts_with(&self.value),
            Op::Ends => v.ends_with(&self.value),
        }
    }
}

/// A parsed `sysparm_query`: OR'ed queries (`^NQ`) of AND'ed terms (`^`) of OR'ed conditions
/// (`^OR`), and the ordering.
#[derive(Debug, Default)]
struct Query {
    queries: Vec<Vec<Vec<Cond>>>,
    order: Vec<(String, bool)>,
}

impl Query {
    /// Parses `q`; conditions `usable` refuses (unknown or unreadable fields) are dropped silently.
    fn parse(q: &str, usable: impl Fn(&str) -> bool) -> Query {
        let mut out = Query {
            queries: vec![Vec::new()],
            order: Vec::new(),
        };
        for term in terms(q) {
            if let Some(f) = term.strip_prefix("ORDERBYDESC") {
                if usable(f) {
                    out.order.push((f.to_owned(), true));
                }
                continue;
            }
            if let Some(f) = term.strip_prefix("ORDERBY") {
                if usable(f) {
                    out.order.push((f.to_owned(), false));
                }
                continue;
            }
            if term == "EQ" {
                continue;
            }
            let (kind, body) = if let Some(b) = term.strip_prefix("NQ") {
                out.queries.push(Vec::new());
                ("and", b)
            } else if let Some(b) = term.strip_prefix("OR") {
                ("or", b)
            } else {
                ("and", term.as_str())
            };
            let Some(cond) = condition(body).filter(|c| usable(&c.field)) else {
                continue;
            };
            let Some(query) = out.queries.last_mut() else {
                continue;
            };
            match (kind, query.last_mut()) {
                ("or", Some(any)) => any.push(cond),
                _ => query.push(vec![cond]),
            }
        }
        out
    }

    fn matches(&self, value: impl Fn(&str) -> String) -> bool {
        self.queries
            .iter()
            .any(|all| all.iter().all(|any| any.iter().any(|c| c.matches(&value(&c.field)))))
    }
}

/// Query parameters that shape a response.
struct Shape {
    fields: Option<Vec<String>>,
    exclude_links: bool,
    display: Display,
}

/// `sysparm_display_value`: stored values (`false`, the default), display values (`true`), or
/// both (`all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Display {
    False,
    True,
    All,
}

impl Shape {
    fn from(q: &BTreeMap<String, String>) -> Shape {
        Shape {
            fields: q.get("sysparm_fields").map(|f| {
                f.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            exclude_links: q.get("sysparm_exclude_reference_link").map(String::as_str) == Some("true"),
            display: match q.get("sysparm_display_value").map(String::as_str) {
                Some("true") => Display::True,
                Some("all") => Display::All,
                _ => Display::False,
            },
        }
    }
}

impl State {
    /// A field's stored value; `<reference>.<field>` gives a field of the referenced row (`name`
    /// also for a reference written by name).
    fn value(&self, rec: &Rec, field: &str) -> String {
        if let Some((base, sub)) = field.split_once('.') {
            if reference_of(&rec.table, base).is_none() {
                return String::new();
            }
            let id = rec.fields.get(base).map(String::as_str).unwrap_or("");
            return match self.row(id) {
                Some(target) => target.fields.get(sub).cloned().unwrap_or_default(),
                None if sub == "name" => self.names.get(id).cloned().unwrap_or_default(),
                None => String::new(),
            };
        }
        rec.fields.get(field).cloned().unwrap_or_default()
    }

    /// The row `sys_id`, in any table.
    fn row(&self, sys_id: &str) -> Option<&Rec> {
        if sys_id.is_empty() {
            return None;
        }
        self.rows.iter().find(|r| r.fields["sys_id"] == sys_id)
    }

    /// The display value of a reference to `sys_id`: the referenced row's display field (`name`
    /// for reference data, `number` for task rows), the name it was written with, or `""`.
    fn display_of(&self, sys_id: &str) -> String {
        match self.row(sys_id) {
            Some(r) if is_data(&r.table) => r.fields.get("name").cloned().unwrap_or_default(),
            Some(r) => r.fields.get("number").cloned().unwrap_or_default(),
            None => self.names.get(sys_id).cloned().unwrap_or_default(),
        }
    }

    /// Whether `field` (or `<reference>.<field>`) can be queried and read on `table`.
    fn known(&self, table: &str, field: &str) -> bool {
        let base = match field.split_once('.') {
            None => field,
            Some((base, sub)) => match reference_of(table, base) {
                Some(target) if !sub.contains('.') && (sub == "name" || has_field(target, sub)) => base,
                _ => return false,
            },
        };
        has_field(table, base) && !self.hidden_fields.contains(base)
    }

    /// A row as the API shows it when read through `table` (a reference-data row read through a
    /// class above its own shows only that class's fields).
    fn render(&self, rec: &Rec, table: &str, shape: &Shape) -> Json {
        let data = is_data(&rec.table);
        let one = |field: &str| -> Option<Json> {
            let (v, reference) = if !data && JOURNAL.contains(&field) {
                (String::new(), None)
            } else if field.contains('.') {
                if !self.known(table, field) {
                    return None;
                }
                (self.value(rec, field), None)
            } else {
                if data && !has_field(table, field) {
                    return None;
                }
                (rec.fields.get(field)?.clone(), reference_of(&rec.table, field))
            };
            let link = reference
                .filter(|_| !v.is_empty() && !shape.exclude_links)
                .map(|t| Json::String(format!("{}/api/now/table/{t}/{v}", self.url)));
            let shown = match reference {
                Some(_) => self.display_of(&v),
                // No sys_choice or time zones here: a plain field displays as stored.
                None => v.clone(),
            };
            Some(match (shape.display, link) {
                (Display::False, Some(link)) => json!({ "link": link, "value": v }),
                (Display::False, None) => Json::String(v),
                (Display::True, Some(link)) => json!({ "display_value": shown, "link": link }),
                (Display::True, None) => Json::String(shown),
                (Display::All, Some(link)) => json!({ "display_value": shown, "link": link, "value": v }),
                (Display::All, None) => json!({ "display_value": shown, "value": v }),
            })
        };
        let mut out = Map::new();
        let all: Vec<String>;
        let fields = match &shape.fields {
            Some(fields) => fields,
            None => {
                all = if data {
                    data_fields(table).iter().map(|(f, _)| (*f).to_owned()).collect()
                } else {
                    rec.fields.keys().cloned().collect()
                };
                &all
            }
        };
        for f in fields {
            if let Some(v) = one(f) {
                out.insert(f.clone(), v);
            }
        }
        Json::Object(out)
    }

    /// The harness's view of a row.
    fn public(&self, rec: &Rec) -> Row {
        let mut fields = rec.fields.clone();
        let mut refs = BTreeMap::new();
        let references: Vec<&str> = if is_data(&rec.table) {
            data_fields(&rec.table)
                .into_iter()
                .filter(|(_, t)| !t.is_empty())
                .map(|(f, _)| f)
                .collect()
        } else {
            REFERENCES.iter().map(|(f, _)| *f).collect()
        };
        for f in references {
            let id = rec.fields.get(f).cloned().unwrap_or_default();
            let shown = self.display_of(&id);
            fields.insert(f.to_owned(), if shown.is_empty() { id.clone() } else { shown });
            refs.insert(f.to_owned(), id);
        }
        Row {
            table: rec.table.clone(),
            fields,
            refs,
            work_notes: rec
                .journal
                .iter()
                .filter(|(f, _)| f == "work_notes")
                .map(|(_, t)| t.clone())
                .collect(),
            journal: rec.journal.clone(),
            lint: rec.lint.clone(),
        }
    }

    /// Closes resolved rows older than the auto-close delay, as the hourly job would have.
    fn auto_close(&mut self) {
        let (now, delay) = (SystemTime::now(), self.auto_close);
        for rec in &mut self.rows {
            let Some(resolved) = rec.resolved else {
                continue;
            };
            if rec.fields["state"] != "6" || now.duration_since(resolved).unwrap_or_default() <= delay {
                continue;
            }
            let at = timestamp(resolved + delay);
            for (f, v) in [
                ("state", "7"),
                ("incident_state", "7"),
                ("active", "false"),
                ("closed_at", at.as_str()),
                ("sys_updated_on", at.as_str()),
            ] {
                rec.fields.insert(f.to_owned(), v.to_owned());
            }
            rec.journal.push((
                "comments".into(),
                format!(
                    "Incident automatically closed after {} in the Resolved state.",
                    human(delay)
                ),
            ));
        }
    }

    /// A reference value as stored: a sys_id as given, a name as its made-up sys_id.
    fn reference(&mut self, table: &str, v: &str) -> String {
        if v.is_empty() || is_sys_id(v) {
            return v.to_owned();
        }
        let id = made_up_sys_id(table, v);
        self.names.insert(id.clone(), v.to_owned());
        id
    }

    /// Applies a write to `rec`, then the lifecycle (a new row comes in as 1 New).
    fn write(&mut self, rec: &mut Rec, obj: Map<String, Json>) {
        let now = SystemTime::now();
        let mut requested: Option<String> = None;
        let mut incident_state: Option<String> = None;
        for (k, v) in obj {
            let v = text(&v);
            if JOURNAL.contains(&k.as_str()) {
                if !v.trim().is_empty() {
                    rec.journal.push((k, v));
                }
            } else if let Some(table) = reference_table(&k) {
                let id = self.reference(table, &v);
                rec.fields.insert(k, id);
            } else if WRITABLE.contains(&k.as_str()) {
                rec.fields.insert(k, v);
            } else if k == "state" {
                requested = Some(v);
            } else if k == "incident_state" {
                incident_state = Some(v);
            } else if COMPUTED.contains(&k.as_str()) {
                rec.lint.push(format!("ignored a write of computed field {k}={v:?}"));
            }
        }
        let requested = requested.or(incident_state);
        let p = priority(&rec.fields["urgency"], &rec.fields["impact"]);
        rec.fields.insert("priority".into(), p.into());
        let stamp = timestamp(now);
        let old = rec.fields["state"].clone();
        let new = match requested {
            None => old.clone(),
            Some(s) if !STATES.contains(&s.as_str()) => {
                rec.lint.push(format!("ignored unknown state {s:?}"));
                old.clone()
            }
            Some(s) => s,
        };
        if new != old {
            match new.as_str() {
                "6" => {
                    rec.fields.insert("resolved_at".into(), stamp.clone());
                    rec.resolved = Some(now);
                }
                "7" => {
                    rec.fields.insert("closed_at".into(), stamp.clone());
                }
                s if old == "6" && OPEN.contains(&s) => {
                    let n: u64 = rec.fields["reopen_count"].parse().unwrap_or(0);
                    rec.fields.insert("reopen_count".into(), (n + 1).to_string());
                    rec.fields.insert("reopened_time".into(), stamp.clone());
                }
                _ => {}
            }
            if new == "6" || new == "7" {
                for f in ["close_code", "close_notes"] {
                    if rec.fields[f].is_empty() {
                        rec.lint.push(format!("moved to state {new} without {f}"));
                    }
                }
            }
        }
        let active = if new == "7" || new == "8" { "false" } else { "true" };
        rec.fields.insert("active".into(), active.into());
        rec.fields.insert("incident_state".into(), new.clone());
        rec.fields.insert("state".into(), new);
        rec.fields.insert("sys_updated_on".into(), stamp);
    }

    /// A new row in `table`, with every field present.
    fn create(&mut self, table: &str, obj: Map<String, Json>) -> Rec {
        self.counter += 1;
        let id = format!("{:032x}", u128::from(self.counter) * 0x9e37_79b9_7f4a_7c15);
        let n = self.numbers.entry(table.to_owned()).or_insert(0);
        *n += 1;
        let number = format!("{}{:07}", number_prefix(table), 10_000 + *n);
        let now = timestamp(SystemTime::now());
        let mut fields: BTreeMap<String, String> = WRITABLE
            .iter()
            .chain(COMPUTED.iter())
            .chain(JOURNAL.iter())
            .chain(REFERENCES.iter().map(|(f, _)| f))
            .map(|f| ((*f).to_owned(), String::new()))
            .collect();
        for (f, v) in [
            ("sys_id", id.as_str()),
            ("number", number.as_str()),
            ("state", "1"),
            ("incident_state", "1"),
            ("active", "true"),
            ("urgency", "3"),
            ("impact", "3"),
            ("priority", "5"),
            ("reopen_count", "0"),
            ("escalation", "0"),
            ("sys_created_on", now.as_str()),
            ("sys_updated_on", now.as_str()),
        ] {
            fields.insert(f.to_owned(), v.to_owned());
        }
        let mut rec = Rec {
            table: table.to_owned(),
            fields,
            journal: Vec::new(),
            resolved: None,
            lint: Vec::new(),
        };
        self.write(&mut rec, obj);
        rec
    }
}

fn human(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 1 && d.subsec_millis() == 0 => format!("{s} seconds"),
        _ => format!("{} milliseconds", d.as_millis()),
    }
}

impl Emulator {
    /// Starts on a free loopback port, accepting basic `user:password` and OAuth
    /// `client_id`/`client_secret`.
    pub fn start(user: &str, password: &str, client_id: &str, client_secret: &str) -> Emulator {
        Self::start_on(0, user, password, client_id, client_secret)
    }

    /// Starts on 127.0.0.1:`port` (0: a free one). Loopback only, always.
    pub fn start_on(port: u16, user: &str, password: &str, client_id: &str, client_secret: &str) -> Emulator {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            url: url.clone(),
            rows: Vec::new(),
            numbers: BTreeMap::new(),
            names: BTreeMap::new(),
            auto_close: Duration::from_secs(86_400),
            basic: format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            oauth: (client_id.to_owned(), client_secret.to_owned()),
            tokens: BTreeSet::new(),
            script: VecDeque::new(),
            lost_answers: 0,
            outage_until: None,
            flaky: (0, 0x9e37_79b9_7f4a_7c15),
            delay: Duration::ZERO,
            hidden_fields: BTreeSet::new(),
            requests: Vec::new(),
            counter: 0,
            calls: 0,
            batch_limit: None,
            batch_refused: false,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        listener.set_nonblocking(true).expect("nonblocking");
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (st, sp) = (st.clone(), sp.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &st, &sp);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Emulator { url, state, stop }
    }

    /// From now on, `percent` of table requests (after authentication) answer 429 with
    /// `Retry-After: 1` or 503, half each; 0 stops it.
    pub fn flaky(&self, percent: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.flaky.0 = percent.min(100);
        }
    }

    /// The next `times` table requests answer `status` (with `Retry-After: retry_after`).
    pub fn script(&self, status: u16, retry_after: Option<u64>, times: usize) {
        if let Ok(mut s) = self.state.lock() {
            for _ in 0..times {
                s.script.push_back((status, retry_after));
            }
        }
    }

    /// Every table request takes at least `d` (a slow instance).
    pub fn slow(&self, d: Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.delay = d;
        }
    }

    /// Every table request answers 503 for `d` from now.
    pub fn outage(&self, d: Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.outage_until = Some(std::time::Instant::now() + d);
        }
    }

    /// Makes `field` unreadable: query terms on it are ignored, as ServiceNow does under ACLs.
    pub fn hide_field(&self, field: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.hidden_fields.insert(field.to_owned());
        }
    }

    /// A Resolved row closes once its resolution is older than `d` (default 1 day, the base
    /// system's `glide.ui.autoclose.time`). Applies to rows already resolved too.
    pub fn set_auto_close(&self, d: Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.auto_close = d;
        }
    }

    /// Every task row of every table, oldest first (with the default table, the incidents);
    /// seeded reference data (CMDB, users, groups) is in [`Emulator::rows`].
    pub fn incidents(&self) -> Vec<Row> {
        self.with(|s| {
            s.rows
                .iter()
                .filter(|r| !is_data(&r.table))
                .map(|r| s.public(r))
                .collect()
        })
    }

    /// Every row of `table` (for a CMDB class, of the classes below it too), oldest first.
    pub fn rows(&self, table: &str) -> Vec<Row> {
        self.with(|s| {
            s.rows
                .iter()
                .filter(|r| r.table == table || (is_data(&r.table) && extends(&r.table, table)))
                .map(|r| s.public(r))
                .collect()
        })
    }

    /// The journal of the row `sys_id` (any table), oldest first: (`work_notes` | `comments`,
    /// text). Empty when there is no such row.
    pub fn journal(&self, sys_id: &str) -> Vec<(String, String)> {
        self.with(|s| {
            s.rows
                .iter()
                .find(|r| r.fields["sys_id"] == sys_id)
                .map(|r| r.journal.clone())
                .unwrap_or_default()
        })
    }

    /// Seeds a row of a reference-data table (a CMDB class, `cmdb_rel_ci`, `cmdb_rel_type`,
    /// `sys_user`, `sys_user_group`) and returns its sys_id. A reference field takes a sys_id, or
    /// the name of a seeded row of the referenced table (else a made-up sys_id, as for incidents).
    /// A CI gets `sys_class_name` = its table. Panics on a table or field the emulator does not
    /// know, so a typo in a test cannot pass unnoticed.
    pub fn add_row(&self, table: &str, fields: &[(&str, &str)]) -> String {
        assert!(is_data(table), "{table} is not a reference-data table of the emulator");
        let mut s = self.state.lock().expect("emulator state");
        s.counter += 1;
        let id = format!("{:032x}", u128::from(s.counter) * 0x9e37_79b9_7f4a_7c15);
        let now = timestamp(SystemTime::now());
        let mut rec = Rec {
            table: table.to_owned(),
            fields: data_fields(table)
                .iter()
                .map(|(f, _)| ((*f).to_owned(), String::new()))
                .collect(),
            journal: Vec::new(),
            resolved: None,
            lint: Vec::new(),
        };
        for (f, v) in [
            ("sys_id", id.as_str()),
            ("sys_created_on", now.as_str()),
            ("sys_updated_on", now.as_str()),
        ] {
            rec.fields.insert(f.to_owned(), v.to_owned());
        }
        if extends(table, "cmdb_ci") {
            rec.fields.insert("sys_class_name".into(), table.to_owned());
        }
        for (f, v) in fields {
            assert!(has_field(table, f), "{table} has no field `{f}`");
            let v = match reference_of(table, f) {
                Some(target) if !v.is_empty() && !is_sys_id(v) => s
                    .rows
                    .iter()
                    .find(|r| extends(&r.table, target) && r.fields.get("name").map(String::as_str) == Some(*v))
                    .map(|r| r.fields["sys_id"].clone())
                    .unwrap_or_else(|| s.reference(target, v)),
                _ => (*v).to_owned(),
            };
            rec.fields.insert((*f).to_owned(), v);
        }
        s.rows.push(rec);
        id
    }

    /// Seeds a CI of class `class` (`cmdb_ci_vm_instance`, `cmdb_ci_linux_server`, …; fields
    /// such as `object_id`, `name`, `owned_by`, `support_group`, `assignment_group`) and returns
    /// its sys_id.
    pub fn add_ci(&self, class: &str, fields: &[(&str, &str)]) -> String {
        assert!(extends(class, "cmdb_ci"), "{class} is not a CMDB class of the emulator");
        self.add_row(class, fields)
    }

    /// Seeds a user (`sys_user`: `name`, `email`, `user_name` made from the name) and returns its
    /// sys_id.
    pub fn add_user(&self, name: &str, email: &str) -> String {
        let user_name = name.to_lowercase().replace(' ', ".");
        self.add_row(
            "sys_user",
            &[
                ("name", name),
                ("email", email),
                ("user_name", &user_name),
                ("active", "true"),
            ],
        )
    }

    /// Seeds a group (`sys_user_group`) and returns its sys_id.
    pub fn add_group(&self, name: &str) -> String {
        self.add_row("sys_user_group", &[("name", name), ("active", "true")])
    }

    /// Relates two CIs in `cmdb_rel_ci` with the type named `type_name` (`parent descriptor::child
    /// descriptor`, e.g. `Virtualized by::Virtualizes` from a server to its VM instance), seeding
    /// the `cmdb_rel_type` row on first use; returns the relationship's sys_id.
    pub fn relate(&self, parent: &str, child: &str, type_name: &str) -> String {
        let known = self.with(|s| {
            s.rows
                .iter()
                .find(|r| r.table == "cmdb_rel_type" && r.fields["name"] == type_name)
                .map(|r| r.fields["sys_id"].clone())
        });
        let rel_type = known.unwrap_or_else(|| {
            let (p, c) = type_name.split_once("::").unwrap_or((type_name, ""));
            self.add_row(
                "cmdb_rel_type",
                &[("name", type_name), ("parent_descriptor", p), ("child_descriptor", c)],
            )
        });
        self.add_row(
            "cmdb_rel_ci",
            &[("parent", parent), ("child", child), ("type", &rel_type)],
        )
    }

    /// The sys_id a reference written by `name` is stored as, e.g.
    /// `reference_sys_id("sys_user_group", "Payments Operations")`. Stable across runs.
    pub fn reference_sys_id(table: &str, name: &str) -> String {
        made_up_sys_id(table, name)
    }

    /// HTTP requests received so far, of every kind (a Batch API request counts once).
    pub fn calls(&self) -> u64 {
        self.state.lock().map(|s| s.calls).unwrap_or_default()
    }

    /// The next `times` table writes (alone or as batch items) are carried out, then answered
    /// `504 Gateway Timeout`, as a proxy in front of an instance answers when the instance
    /// committed the write too late: the client cannot tell it was done.
    pub fn lose_answers(&self, times: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.lost_answers += times;
        }
    }

    /// From now on, a Batch API request services its first `items` items and returns the rest in
    /// `unserviced_requests`, as when an instance reaches a size or time limit; `None` services all.
    pub fn batch_limit(&self, items: Option<usize>) {
        if let Ok(mut s) = self.state.lock() {
            s.batch_limit = items;
        }
    }

    /// From now on, answers the Batch API as an instance without it does: 400 "Requested URI does
    /// not represent any resource".
    pub fn refuse_batch(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.batch_refused = true;
        }
    }

    /// `METHOD path?query` (query percent-decoded; `METHOD path` without one) of every Table API
    /// operation so far: a request, or an item of a Batch API request (the batch itself is not
    /// listed; [`Emulator::calls`] counts requests).
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().map(|s| s.requests.clone()).unwrap_or_default()
    }

    fn with<T: Default>(&self, f: impl FnOnce(&State) -> T) -> T {
        match self.state.lock() {
            Ok(mut s) => {
                s.auto_close();
                f(&s)
            }
            Err(_) => T::default(),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Serves one connection: keep-alive, as ServiceNow does, until the client closes it or asks
/// `Connection: close`, or the emulator is dropped (so a restarted emulator on the same port is
/// never answered for by the old one's state).
fn serve(stream: TcpStream, state: &Mutex<State>, stop: &AtomicBool) -> std::io::Result<()> {
    let mut conn = crate::http::Connection::new(&stream)?;
    let mut stream = stream;
    while let Some(crate::http::RawRequest {
        method,
        target,
        headers,
        body,
    }) = conn.next(1 << 20, || stop.load(Ordering::Relaxed))?
    {
        // Sleep outside the lock, so a slow instance still serves requests in parallel.
        let delay = state
            .lock()
            .map(|mut s| {
                s.calls += 1;
                s.delay
            })
            .unwrap_or_default();
        if target.starts_with("/api/") && !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let (status, json, retry_after) = match state.lock() {
            Ok(mut s) => handle(&mut s, &method, &target, &headers, &String::from_utf8_lossy(&body)),
            Err(_) => error(500, "emulator state poisoned", ""),
        };
        let text = json.to_string();
        let reason = reason(status);
        let close = headers
            .get("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut out = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            text.len()
        );
        if close {
            out.push_str("Connection: close\r\n");
        }
        if let Some(ra) = retry_after {
            out.push_str(&format!("Retry-After: {ra}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&text);
        stream.write_all(out.as_bytes())?;
        stream.flush()?;
        if close {
            break;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// `/api/now[/v1|/v2]/table/{table}[/{sys_id}]` → (version, table, sys_id). The unversioned path
/// follows the newest behaviour (v2).
fn route(path: &str) -> Option<(Version, &str, &str)> {
    let rest = path.strip_prefix("/api/now/")?;
    let (version, rest) = match rest.split_once('/') {
        Some(("v1", r)) => (Version::V1, r),
        Some(("v2", r)) => (Version::V2, r),
        _ => (Version::V2, rest),
    };
    let rest = rest.strip_prefix("table/")?;
    let (table, sys_id) = rest.split_once('/').unwrap_or((rest, ""));
    Some((version, table, sys_id.trim_end_matches('/')))
}

fn valid_table(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_lowercase())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// [`answer`], and a lost answer for a table write that was carried out ([`Emulator::lose_answers`]).
fn handle(
    s: &mut State,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
) -> (u16, Json, Option<u64>) {
    let answered = answer(s, method, target, headers, body);
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if method != "GET" && answered.0 < 300 && s.lost_answers > 0 && route(path).is_some() {
        s.lost_answers -= 1;
        return error(504, "Gateway Timeout", "the instance did not answer in time (emulated)");
    }
    answered
}

fn answer(
    s: &mut State,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
) -> (u16, Json, Option<u64>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let is_batch = matches!(path, "/api/now/batch" | "/api/now/v1/batch" | "/api/now/v2/batch");
    if !is_batch {
        s.requests.push(if query.is_empty() {
            format!("{method} {path}")
        } else {
            format!("{method} {path}?{}", percent_decode(query))
        });
    }
    s.auto_close();
    if method == "POST" && path == "/oauth_token.do" {
        let f = form(body);
        let ok = f.get("grant_type").map(String::as_str) == Some("client_credentials")
            && f.get("client_id") == Some(&s.oauth.0)
            && f.get("client_secret") == Some(&s.oauth.1);
        if !ok {
            return (
                401,
                json!({ "error": "access_denied", "error_description": "access_denied" }),
                None,
            );
        }
        s.counter += 1;
        let token = format!("tok{:08x}", s.counter * 2_654_435_761 % 0xffff_ffff);
        s.tokens.insert(token.clone());
        return (
            200,
            json!({ "access_token": token, "token_type": "Bearer", "expires_in": 1799 }),
            None,
        );
    }
    let auth = headers.get("authorization").cloned().unwrap_or_default();
    let authed = auth == s.basic || auth.strip_prefix("Bearer ").is_some_and(|t| s.tokens.contains(t));
    if !authed {
        return error(401, "User Not Authenticated", "Required to provide Auth information");
    }
    if s.outage_until.is_some_and(|t| std::time::Instant::now() < t) {
        return error(503, "Service Unavailable", "instance is down (emulated outage)");
    }
    if s.flaky.0 > 0 {
        // A linear congruential generator: the same failures for the same request order.
        s.flaky.1 = s
            .flaky
            .1
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let roll = s.flaky.1 >> 33;
        if roll % 100 < s.flaky.0 {
            return if roll.is_multiple_of(2) {
                let (st, b, _) = error(429, "Too Many Requests", "rate limited (emulated)");
                (st, b, Some(1))
            } else {
                error(503, "Service Unavailable", "busy (emulated)")
            };
        }
    }
    if let Some((status, retry_after)) = s.script.pop_front() {
        let (st, b, _) = error(
            status,
            if status == 429 {
                "Too Many Requests"
            } else {
                "Service Unavailable"
            },
            "scripted by the test",
        );
        return (st, b, retry_after);
    }
    if is_batch && method == "POST" && !s.batch_refused {
        return batch(s, headers, body);
    }
    let Some((version, table, sys_id)) = route(path) else {
        return error(400, "Requested URI does not represent any resource", path);
    };
    if !valid_table(table) {
        return error(400, &format!("Invalid table {table}"), "");
    }
    let q = form(query);
    let shape = Shape::from(&q);
    // A reference-data row is also a row of every class above its own (`cmdb_ci` lists them all).
    let in_table = |r: &Rec| r.table == table || (is_data(&r.table) && extends(&r.table, table));
    let find = |s: &State| s.rows.iter().position(|r| in_table(r) && r.fields["sys_id"] == sys_id);
    if is_data(table) && method != "GET" {
        // The integration account reads the CMDB and the user tables; it does not write them.
        return error(
            403,
            "Operation Failed",
            "ACL Exception Insert Failed due to security constraints",
        );
    }
    match (method, sys_id.is_empty()) {
        ("GET", true) => {
            let query = Query::parse(q.get("sysparm_query").map(String::as_str).unwrap_or(""), |f| {
                s.known(table, f)
            });
            let rows: Vec<&Rec> = s
                .rows
                .iter()
                .filter(|r| in_table(r) && query.matches(|f| s.value(r, f)))
                .collect();
            // Later keys break ties of earlier ones; remaining ties follow creation order, in the
            // direction of the first key (so ORDERBYDESCsys_created_on is newest first even
            // within one second).
            let newest_first = query.order.first().is_some_and(|(_, desc)| *desc);
            let mut rows: Vec<(usize, &Rec)> = rows.into_iter().enumerate().collect();
            rows.sort_by(|(i, a), (j, b)| {
                query
                    .order
                    .iter()
                    .map(|(f, desc)| {
                        let o = compare(&s.value(a, f), &s.value(b, f));
                        if *desc { o.reverse() } else { o }
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| if newest_first { j.cmp(i) } else { i.cmp(j) })
            });
            let offset: usize = q.get("sysparm_offset").and_then(|l| l.parse().ok()).unwrap_or(0);
            let limit: usize = q.get("sysparm_limit").and_then(|l| l.parse().ok()).unwrap_or(10_000);
            let result: Vec<Json> = rows
                .iter()
                .skip(offset)
                .take(limit)
                .map(|(_, r)| s.render(r, table, &shape))
                .collect();
            if result.is_empty() && version == Version::V1 {
                return error(
                    404,
                    "No Record found",
                    "Records matching query not found. Check query parameter or offset parameter",
                );
            }
            (200, json!({ "result": result }), None)
        }
        ("GET", false) => match find(s) {
            Some(i) => (200, json!({ "result": s.render(&s.rows[i], table, &shape) }), None),
            None => error(404, "No Record found", NOT_FOUND),
        },
        ("POST", true) => {
            let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(body) else {
                return error(400, "Exception while reading request", "The payload is not valid JSON.");
            };
            let rec = s.create(table, obj);
            let result = s.render(&rec, table, &shape);
            s.rows.push(rec);
            (201, json!({ "result": result }), None)
        }
        ("PATCH" | "PUT", false) => {
            let Some(i) = find(s) else {
                return error(404, "No Record found", NOT_FOUND);
            };
            let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(body) else {
                return error(400, "Exception while reading request", "The payload is not valid JSON.");
            };
            if !OPEN.contains(&s.rows[i].fields["state"].as_str()) && s.rows[i].fields["state"] != "6" {
                return error(
                    403,
                    "Operation Failed",
                    "ACL Exception Update Failed due to security constraints",
                );
            }
            let mut rec = s.rows[i].clone();
            s.write(&mut rec, obj);
            let result = s.render(&rec, table, &shape);
            s.rows[i] = rec;
            (200, json!({ "result": result }), None)
        }
        _ => error(405, "Method not Supported", &format!("{method} {path}")),
    }
}

/// `POST /api/now/v1/batch`: each item is handled as the request it describes, with the batch's
/// credentials, one after the other (each may meet the emulated failures as a request would);
/// items past the batch limit are returned unserviced.
fn batch(s: &mut State, headers: &BTreeMap<String, String>, body: &str) -> (u16, Json, Option<u64>) {
    let Ok(Json::Object(req)) = serde_json::from_str::<Json>(body) else {
        return error(400, "Exception while reading request", "The payload is not valid JSON.");
    };
    let Some(items) = req.get("rest_requests").and_then(Json::as_array) else {
        return error(400, "Exception while reading request", "rest_requests is required");
    };
    let mut serviced = Vec::new();
    let mut unserviced = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let (Some(id), Some(method), Some(url)) = (
            item.get("id").and_then(Json::as_str),
            item.get("method").and_then(Json::as_str),
            item.get("url").and_then(Json::as_str),
        ) else {
            return error(
                400,
                "Exception while reading request",
                "every rest_request needs id, method and url",
            );
        };
        if s.batch_limit.is_some_and(|limit| n >= limit) {
            unserviced.push(json!(id));
            continue;
        }
        let item_body = match item.get("body").and_then(Json::as_str) {
            None => String::new(),
            Some(b) => match unbase64(b).and_then(|b| String::from_utf8(b).ok()) {
                Some(text) => text,
                None => return error(400, "Exception while reading request", "a body is not Base64"),
            },
        };
        let (status, answer, _) = if url.contains("/batch") {
            error(400, "A batch cannot contain a batch", url)
        } else {
            handle(s, method, url, headers, &item_body)
        };
        serviced.push(json!({
            "id": id,
            "body": base64(answer.to_string().as_bytes()),
            "status_code": status,
            "status_text": reason(status),
            "headers": [],
            "execution_time": 0,
        }));
    }
    let id = req.get("batch_request_id").cloned().unwrap_or(Json::Null);
    (
        200,
        json!({ "batch_request_id": id, "serviced_requests": serviced, "unserviced_requests": unserviced }),
        None,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn helpers() {
        assert_eq!(super::base64(b"admin:secret"), "YWRtaW46c2VjcmV0");
        assert_eq!(super::base64(b"a"), "YQ==");
        for text in ["", "a", "ab", "abc", "admin:secret", "{\"é\":1}"] {
            assert_eq!(
                super::unbase64(&super::base64(text.as_bytes())).as_deref(),
                Some(text.as_bytes())
            );
        }
        assert_eq!(super::unbase64("YW Jj\n").as_deref(), Some(&b"abc"[..]));
        assert_eq!(super::unbase64("YQ="), None);
        assert_eq!(super::unbase64("Y===").as_deref(), None);
        assert_eq!(super::unbase64("YQ==YQ=="), None);
        assert_eq!(
            super::terms("correlation_id=a^^b^active=true"),
            vec!["correlation_id=a^b", "active=true"]
        );
        assert_eq!(super::percent_decode("a%5Eb+c"), "a^b c");
        let epoch = std::time::UNIX_EPOCH;
        assert_eq!(super::timestamp(epoch), "1970-01-01 00:00:00");
        let leap = epoch + std::time::Duration::from_secs(1_709_210_096);
        assert_eq!(super::timestamp(leap), "2024-02-29 12:34:56");
    }

    #[test]
    fn reference_data_reads_by_class_and_in_every_display_mode() {
        use serde_json::json;
        let e = super::Emulator::start("u", "p", "c", "s");
        let alice = e.add_user("Alice Example", "alice@example.com");
        let ops = e.add_group("Linux Ops");
        let vm = e.add_ci(
            "cmdb_ci_vm_instance",
            &[
                ("object_id", "i-1"),
                ("name", "web-1"),
                ("owned_by", &alice),
                ("support_group", "Linux Ops"),
            ],
        );
        let srv = e.add_ci("cmdb_ci_linux_server", &[("name", "web-1.os"), ("os", "Linux")]);
        let rel = e.relate(&srv, &vm, "Virtualized by::Virtualizes");
        let get = |method: &str, target: &str| {
            let mut s = e.state.lock().expect("state");
            let h = std::collections::BTreeMap::from([("authorization".to_owned(), s.basic.clone())]);
            super::handle(&mut s, method, target, &h, "{}")
        };
        let one = |target: &str| get("GET", target).1["result"][0].clone();
        let link = |t: &str, id: &str| format!("{}/api/now/table/{t}/{id}", e.url);
        let q = "/api/now/v2/table/cmdb_ci_vm_instance?sysparm_query=object_id=i-1&sysparm_fields=owned_by,support_group,name";
        assert_eq!(
            one(q)["owned_by"],
            json!({ "link": link("sys_user", &alice), "value": alice })
        );
        assert_eq!(
            one(&format!("{q}&sysparm_exclude_reference_link=true"))["support_group"],
            json!(ops)
        );
        let r = one(&format!("{q}&sysparm_display_value=true"));
        assert_eq!(
            r["owned_by"],
            json!({ "display_value": "Alice Example", "link": link("sys_user", &alice) })
        );
        assert_eq!(r["name"], json!("web-1"));
        let r = one(&format!("{q}&sysparm_display_value=all"));
        assert_eq!(
            r["support_group"],
            json!({ "display_value": "Linux Ops", "link": link("sys_user_group", &ops), "value": ops })
        );
        assert_eq!(r["name"], json!({ "display_value": "web-1", "value": "web-1" }));
        let r = one(&format!(
            "{q}&sysparm_display_value=all&sysparm_exclude_reference_link=true"
        ));
        assert_eq!(
            r["owned_by"],
            json!({ "display_value": "Alice Example", "value": alice })
        );
        // Dot-walking to a seeded row, in sysparm_fields and in queries.
        let r = one("/api/now/v2/table/cmdb_ci_vm_instance?sysparm_fields=owned_by.email");
        assert_eq!(r, json!({ "owned_by.email": "alice@example.com" }));
        let r = one(
            "/api/now/v2/table/cmdb_rel_ci?sysparm_query=child=VM^type.name=Virtualized by::Virtualizes"
                .replace("VM", &vm)
                .as_str(),
        );
        assert_eq!(r["sys_id"], json!(rel));
        assert_eq!(r["parent"]["value"], json!(srv));
        // cmdb_ci lists every class with the base fields only; the class itself shows its own.
        let (_, all, _) = get("GET", "/api/now/v2/table/cmdb_ci?sysparm_query=ORDERBYname");
        let classes: Vec<&str> = all["result"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["sys_class_name"].as_str().expect("class"))
            .collect();
        assert_eq!(classes, ["cmdb_ci_vm_instance", "cmdb_ci_linux_server"]);
        assert!(all["result"][1].get("os").is_none() && all["result"][0].get("object_id").is_none());
        let (st, by_id, _) = get("GET", &format!("/api/now/v2/table/cmdb_ci_server/{srv}"));
        assert_eq!((st, by_id["result"]["os"].as_str()), (200, Some("Linux")));
        // A misspelt field is dropped, as ServiceNow does: the check is the client's.
        let (_, loose, _) = get(
            "GET",
            "/api/now/v2/table/cmdb_ci_vm_instance?sysparm_query=objectid=i-9",
        );
        assert_eq!(loose["result"].as_array().map(Vec::len), Some(1));
        // Read-only through the API; not incidents.
        assert_eq!(get("POST", "/api/now/v2/table/cmdb_ci_vm_instance").0, 403);
        assert_eq!(get("PATCH", &format!("/api/now/v2/table/sys_user/{alice}")).0, 403);
        assert!(e.incidents().is_empty());
        assert_eq!(e.rows("cmdb_ci").len(), 2);
        assert_eq!(e.rows("cmdb_ci_vm_instance")[0].fields["owned_by"], "Alice Example");
    }

    #[test]
    #[should_panic(expected = "cmdb_ci_vm_instance has no field `ownd_by`")]
    fn seeding_refuses_unknown_fields() {
        let e = super::Emulator::start("u", "p", "c", "s");
        e.add_ci("cmdb_ci_vm_instance", &[("ownd_by", "x")]);
    }

    #[test]
    fn conditions() {
        use super::{Op, condition};
        let c = |t: &str| condition(t).map(|c| (c.field, c.op, c.value));
        assert_eq!(c("stateIN1,2,3"), Some(("state".into(), Op::In, "1,2,3".into())));
        assert_eq!(
            c("correlation_id=a=b"),
            Some(("correlation_id".into(), Op::Eq, "a=b".into()))
        );
        assert_eq!(
            c("close_codeISEMPTY"),
            Some(("close_code".into(), Op::Empty, String::new()))
        );
        assert_eq!(c("stateNOT IN6,7"), Some(("state".into(), Op::NotIn, "6,7".into())));
        assert_eq!(
            c("sys_created_on>=2026"),
            Some(("sys_created_on".into(), Op::Ge, "2026".into()))
        );
        assert_eq!(c("State=1").map(|c| c.0), Some("State".into()));
        assert_eq!(c("nonsense"), None);
    }
}
