//! The HTTP/1.1 request reading the test servers share (the ServiceNow emulator, the webhook
//! receiver): `Content-Length` bodies, header names lower-cased; one request per connection
//! ([`read_request`]) or persistent connections ([`Connection`]).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// A request as read off the wire.
pub struct RawRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body, at most `max_body` bytes.
    pub body: Vec<u8>,
}

/// Reads one request from `stream`, keeping at most `max_body` bytes of its body.
pub fn read_request(stream: &TcpStream, max_body: usize) -> std::io::Result<RawRequest> {
    stream.set_nonblocking(false)?;
    read_from(&mut BufReader::new(stream.try_clone()?), max_body)
}

/// A persistent (keep-alive) HTTP/1.1 connection: requests one after the other until the client
/// closes it, asks `Connection: close`, or the server stops.
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Wraps an accepted stream.
    pub fn new(stream: &TcpStream) -> std::io::Result<Connection> {
        stream.set_nonblocking(false)?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
        })
    }

    /// The next request, or `None` when the client closed the connection or `stopped()` turned
    /// true while it was idle (checked every 100 ms).
    pub fn next(&mut self, max_body: usize, stopped: impl Fn() -> bool) -> std::io::Result<Option<RawRequest>> {
        let stream = self.reader.get_ref().try_clone()?;
        stream.set_read_timeout(Some(std::time::Duration::from_millis(100)))?;
        loop {
            if stopped() {
                return Ok(None);
            }
            match self.reader.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(_) => break,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
        stream.set_read_timeout(None)?;
        read_from(&mut self.reader, max_body).map(Some)
    }
}

fn read_from(reader: &mut BufReader<TcpStream>, max_body: usize) -> std::io::Result<RawRequest> {
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
    let mut body = vec![0; len.min(max_body)];
    reader.read_exact(&mut body)?;
    // What is over `max_body` is read and dropped, so the next request starts where it should.
    std::io::copy(
        &mut reader.by_ref().take(len.saturating_sub(max_body) as u64),
        &mut std::io::sink(),
    )?;
    Ok(RawRequest {
        method,
        target,
        headers,
        body,
    })
}
