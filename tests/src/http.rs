//! The HTTP/1.1 request reading the test servers share (the ServiceNow emulator, the webhook
//! receiver): one request per connection, `Content-Length` bodies, header names lower-cased.

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
    let mut body = vec![0; len.min(max_body)];
    reader.read_exact(&mut body)?;
    Ok(RawRequest {
        method,
        target,
        headers,
        body,
    })
}
