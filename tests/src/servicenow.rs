//! A ServiceNow Table API emulator for tests and the demo: loopback only, HTTP/1.1, one thread
//! per connection, `Connection: close`.
//!
//! It follows the documented behaviour the bridge depends on, including the inconvenient parts:
//! - rows have a 32-hex `sys_id` and an `INC…` `number`, and every value is a JSON string;
//! - `sysparm_query` terms are `field=value`, `ORDERBYfield`, `ORDERBYDESCfield`, separated by
//!   `^` (`^^` is a literal caret). A term on a field the caller may not read is **silently
//!   ignored**, as ServiceNow does, so a client must check the rows it gets back;
//! - 401 without valid credentials (basic or an OAuth bearer token from `/oauth_token.do`);
//! - scripted failures (429 with `Retry-After`, 5xx) for the next requests;
//! - errors as `{"error": {"message", "detail"}, "status": "failure"}`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};

/// One incident row.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Field values.
    pub fields: BTreeMap<String, String>,
    /// Work notes, oldest first.
    pub work_notes: Vec<String>,
}

#[derive(Default)]
struct State {
    rows: Vec<Row>,
    basic: String,
    oauth: (String, String),
    tokens: BTreeSet<String>,
    script: VecDeque<(u16, Option<u64>)>,
    outage_until: Option<std::time::Instant>,
    delay: std::time::Duration,
    hidden_fields: BTreeSet<String>,
    requests: Vec<String>,
    counter: u64,
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

const FIELDS: [&str; 12] = [
    "sys_id",
    "number",
    "correlation_id",
    "active",
    "state",
    "short_description",
    "description",
    "urgency",
    "impact",
    "assignment_group",
    "sys_created_on",
    "close_code",
];

fn error(status: u16, message: &str, detail: &str) -> (u16, Json, Option<u64>) {
    (
        status,
        json!({ "error": { "message": message, "detail": detail }, "status": "failure" }),
        None,
    )
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
            basic: format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            oauth: (client_id.to_owned(), client_secret.to_owned()),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        listener.set_nonblocking(true).expect("nonblocking");
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &st);
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Emulator { url, state, stop }
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
    pub fn slow(&self, d: std::time::Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.delay = d;
        }
    }

    /// Every table request answers 503 for `d` from now.
    pub fn outage(&self, d: std::time::Duration) {
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

    /// Every incident row.
    pub fn incidents(&self) -> Vec<Row> {
        self.state.lock().map(|s| s.rows.clone()).unwrap_or_default()
    }

    /// `METHOD path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().map(|s| s.requests.clone()).unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body)?;
    // Sleep outside the lock, so a slow instance still serves requests in parallel.
    let delay = state.lock().map(|s| s.delay).unwrap_or_default();
    if target.starts_with("/api/") && !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let (status, json, retry_after) = match state.lock() {
        Ok(mut s) => handle(&mut s, &method, &target, &headers, &String::from_utf8_lossy(&body)),
        Err(_) => error(500, "emulator state poisoned", ""),
    };
    let text = json.to_string();
    let reason = match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    if let Some(ra) = retry_after {
        out.push_str(&format!("Retry-After: {ra}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&text);
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

fn handle(
    s: &mut State,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
) -> (u16, Json, Option<u64>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    s.requests.push(format!("{method} {path}"));
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
    let Some(rest) = path.strip_prefix("/api/now/table/incident") else {
        return error(400, "Invalid table", path);
    };
    let sys_id = rest.trim_start_matches('/');
    match (method, sys_id.is_empty()) {
        ("GET", true) => {
            let q = form(query);
            let mut rows: Vec<&Row> = s.rows.iter().collect();
            let mut order: Option<(String, bool)> = None;
            for term in terms(q.get("sysparm_query").map(String::as_str).unwrap_or("")) {
                if let Some(f) = term.strip_prefix("ORDERBYDESC") {
                    order = Some((f.to_owned(), true));
                } else if let Some(f) = term.strip_prefix("ORDERBY") {
                    order = Some((f.to_owned(), false));
                } else if let Some((f, v)) = term.split_once('=') {
                    // Unknown or unreadable fields: the term is dropped, silently.
                    if FIELDS.contains(&f) && !s.hidden_fields.contains(f) {
                        rows.retain(|r| r.fields.get(f).map(String::as_str).unwrap_or("") == v);
                    }
                }
            }
            if let Some((f, desc)) = order {
                rows.sort_by(|a, b| a.fields.get(&f).cmp(&b.fields.get(&f)));
                if desc {
                    rows.reverse();
                }
            }
            let limit: usize = q.get("sysparm_limit").and_then(|l| l.parse().ok()).unwrap_or(10_000);
            let result: Vec<Json> = rows.iter().take(limit).map(|r| json!(r.fields)).collect();
            (200, json!({ "result": result }), None)
        }
        ("POST", true) => {
            let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(body) else {
                return error(400, "Exception while reading request", "The payload is not valid JSON.");
            };
            s.counter += 1;
            let n = s.counter;
            let mut fields: BTreeMap<String, String> = obj
                .into_iter()
                .filter(|(k, _)| FIELDS.contains(&k.as_str()) && k != "sys_id" && k != "number")
                .map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
                .collect();
            fields.insert(
                "sys_id".into(),
                format!("{:032x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15),
            );
            fields.insert("number".into(), format!("INC{:07}", 10_000 + n));
            fields.insert("active".into(), "true".into());
            fields.insert("state".into(), "1".into());
            fields.insert(
                "sys_created_on".into(),
                format!("2026-11-24 10:{:02}:{:02}", (n / 60) % 60, n % 60),
            );
            let result = json!(fields);
            s.rows.push(Row {
                fields,
                work_notes: Vec::new(),
            });
            (201, json!({ "result": result }), None)
        }
        ("PATCH", false) => {
            let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(body) else {
                return error(400, "Exception while reading request", "The payload is not valid JSON.");
            };
            let Some(row) = s
                .rows
                .iter_mut()
                .find(|r| r.fields.get("sys_id").map(String::as_str) == Some(sys_id))
            else {
                return error(
                    404,
                    "No Record found",
                    "Record doesn't exist or ACL restricts the record retrieval",
                );
            };
            for (k, v) in obj {
                let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                if k == "work_notes" {
                    row.work_notes.push(v);
                } else if FIELDS.contains(&k.as_str()) {
                    row.fields.insert(k, v);
                }
            }
            (200, json!({ "result": row.fields }), None)
        }
        _ => error(405, "Method not supported", method),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn helpers() {
        assert_eq!(super::base64(b"admin:secret"), "YWRtaW46c2VjcmV0");
        assert_eq!(super::base64(b"a"), "YQ==");
        assert_eq!(
            super::terms("correlation_id=a^^b^active=true"),
            vec!["correlation_id=a^b", "active=true"]
        );
        assert_eq!(super::percent_decode("a%5Eb+c"), "a^b c");
    }
}
