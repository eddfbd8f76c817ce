//! `/healthz`, `/readyz` and `/metrics`: a tiny HTTP/1.1 responder on the operations port.
//!
//! Three fixed GET routes do not need an HTTP framework: each connection sends one request (at
//! most 8 KiB of head, read within 5 s) and gets one response, then closes. `/healthz` is 200
//! while the process runs (the ECS container health check); `/readyz` is 200 only while the
//! bridge receives from SQS and 503 once shutdown begins; `/metrics` is Prometheus text.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the endpoints report.
pub trait Status: Send + Sync + 'static {
    /// Receiving, and not shutting down.
    fn ready(&self) -> bool;
    /// Prometheus text.
    fn metrics(&self) -> String;
}

/// The response to one request head.
pub fn respond(head: &str, status: &dyn Status) -> (u16, &'static str, String) {
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if method != "GET" && method != "HEAD" {
        return (405, "text/plain", "method not allowed\n".into());
    }
    match path.split('?').next().unwrap_or_default() {
        "/healthz" => (200, "text/plain", "ok\n".into()),
        "/readyz" if status.ready() => (200, "text/plain", "ready\n".into()),
        "/readyz" => (503, "text/plain", "not ready\n".into()),
        "/metrics" => (200, "text/plain; version=0.0.4", status.metrics()),
        _ => (404, "text/plain", "not found\n".into()),
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Bad Request",
    }
}

/// Serves until `stop` turns true.
pub async fn serve(listener: TcpListener, status: Arc<dyn Status>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((mut stream, _)) = accepted else { continue };
        let status = status.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut n = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while n < buf.len() {
                    match stream.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let (code, kind, body) = respond(&head, status.as_ref());
            let body = if head.starts_with("HEAD ") { String::new() } else { body };
            let response = format!(
                "HTTP/1.1 {code} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                reason(code),
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// The ECS container health check (the image has no shell or curl): whether `addr` answers
/// `/healthz` with 200 within 4 s.
pub async fn probe(addr: &str) -> bool {
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        Some(out.starts_with(b"HTTP/1.1 200 "))
    };
    matches!(tokio::time::timeout(Duration::from_secs(4), ask).await, Ok(Some(true)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    struct Fake(AtomicBool);

    impl Status for Fake {
        fn ready(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
        fn metrics(&self) -> String {
            "patchplane_bridge_ready 1\n".into()
        }
    }

    #[test]
    fn routes_and_readiness() {
        let s = Fake(AtomicBool::new(false));
        assert_eq!(respond("GET /healthz HTTP/1.1\r\n", &s).0, 200);
        assert_eq!(respond("GET /readyz HTTP/1.1\r\n", &s).0, 503);
        s.0.store(true, Ordering::Relaxed);
        assert_eq!(respond("GET /readyz?verbose HTTP/1.1\r\n", &s).0, 200);
        assert_eq!(
            respond("GET /metrics HTTP/1.1\r\n", &s).2,
            "patchplane_bridge_ready 1\n"
        );
        assert_eq!(respond("POST /healthz HTTP/1.1\r\n", &s).0, 405);
        assert_eq!(respond("GET /../etc/passwd HTTP/1.1\r\n", &s).0, 404);
        assert_eq!(respond("", &s).0, 405, "garbage is refused, not a panic");
    }

    #[tokio::test]
    async fn serves_over_tcp_and_stops() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = watch::channel(false);
        let server = tokio::spawn(serve(listener, Arc::new(Fake(AtomicBool::new(true))), rx));
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut out = String::new();
        c.read_to_string(&mut out).await.expect("read");
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\nready\n"),
            "{out}"
        );
        tx.send(true).expect("stop");
        server.await.expect("stopped");
    }
}
