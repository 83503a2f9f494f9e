//! A minimal HTTP/1.1 client over a raw socket, for servers on 127.0.0.1 only
//! (the local AWS, `pixelctl local`): no TLS, no redirects, one request per
//! connection, so a test sees exactly what the server sent.

use std::io::{Read, Write};
use std::net::TcpStream;

/// What the server answered.
#[derive(Debug)]
pub struct Response {
    /// The status code (0 if the status line was not HTTP).
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first line, e.g. `HTTP/1.1 200 OK`.
    pub fn status_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// A header's value (the name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `base` (`http://127.0.0.1:PORT`) and reads the whole
/// answer. A `host` header among `headers` replaces the default `Host` (how the
/// local AWS tells an API's or a distribution's host name from its own).
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let address = base.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        address.starts_with("127.0.0.1:"),
        "tests only talk to 127.0.0.1, not {address}"
    );
    let mut stream =
        TcpStream::connect(address).unwrap_or_else(|error| panic!("connect to {base}: {error}"));
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream
        .write_all(&bytes)
        .unwrap_or_else(|error| panic!("send {method} {path}: {error}"));
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .unwrap_or_else(|error| panic!("receive the answer to {method} {path}: {error}"));
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = response.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Response {
        status,
        head,
        headers,
        body,
    }
}
