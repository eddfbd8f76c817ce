//! A webhook receiver for tests: loopback only, HTTP/1.1, one thread per connection,
//! `Connection: close`. It records every request ([`Receiver::received`]: method, path with the
//! query, headers, body, the body parsed as JSON) and answers as scripted: by default 200 `ok`
//! (what a Slack incoming webhook says), or a default set with [`Receiver::answer`] (Teams
//! Workflows answer 202 with an empty body); the next N requests can fail with a status and a
//! `Retry-After` ([`Receiver::fail`], [`Receiver::fail_with`]), every request can answer a
//! Slack-style plain-text error ([`Receiver::slack_error`]) or answer slowly ([`Receiver::slow`]).
//!
//! Any path is accepted, so a test can give each notifier a URL with a made-up secret token in
//! it ([`Receiver::url`]) and check the token never leaks.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `POST`, …
    pub method: String,
    /// The request target: path and query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body as text.
    pub body: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Json>,
}

impl Request {
    /// A header by name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body, sent as `text/plain`.
    pub body: String,
    /// `Retry-After` in seconds, if any.
    pub retry_after: Option<u64>,
}

impl Answer {
    /// `status` with `body`.
    pub fn new(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_owned(),
            retry_after: None,
        }
    }

    /// The same with `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

struct State {
    requests: Vec<Request>,
    script: VecDeque<Answer>,
    default: Answer,
    delay: Duration,
}

/// A running receiver; stops accepting when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// Starts on a free loopback port, answering 200 `ok`.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            script: VecDeque::new(),
            default: Answer::new(200, "ok"),
            delay: Duration::ZERO,
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
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver { base, state, stop }
    }

    /// The URL of `path` (e.g. `/services/T0/B0/s3cr3t-token`) on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// From now on, requests without a scripted answer get `a`.
    pub fn answer(&self, a: Answer) {
        self.with(|s| s.default = a);
    }

    /// The next `times` requests answer `status` with an empty body.
    pub fn fail(&self, times: usize, status: u16) {
        self.fail_with(times, Answer::new(status, ""));
    }

    /// The next `times` requests answer `a`.
    pub fn fail_with(&self, times: usize, a: Answer) {
        self.with(|s| s.script.extend(std::iter::repeat_n(a, times)));
    }

    /// From now on every request answers `status` with the plain-text Slack error `code`
    /// (`invalid_payload`, `channel_not_found`, `no_service`, …).
    pub fn slack_error(&self, status: u16, code: &str) {
        self.answer(Answer::new(status, code));
    }

    /// Every answer comes after `d` (the request is recorded first).
    pub fn slow(&self, d: Duration) {
        self.with(|s| s.delay = d);
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Request> {
        self.state.lock().map(|s| s.requests.clone()).unwrap_or_default()
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let crate::http::RawRequest {
        method,
        target: path,
        headers,
        body,
    } = crate::http::read_request(&stream, 4 << 20)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_str(&body).ok();
    let (answer, delay) = match state.lock() {
        Ok(mut s) => {
            s.requests.push(Request {
                method,
                path,
                headers,
                body,
                json,
            });
            let a = s.script.pop_front().unwrap_or_else(|| s.default.clone());
            (a, s.delay)
        }
        Err(_) => (Answer::new(500, "receiver state poisoned"), Duration::ZERO),
    };
    // Sleep outside the lock, so a slow receiver still takes requests in parallel.
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        reason(answer.status),
        answer.body.len()
    );
    if let Some(ra) = answer.retry_after {
        out.push_str(&format!("Retry-After: {ra}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&answer.body);
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    stream.flush()
}
