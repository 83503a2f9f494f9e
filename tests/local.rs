//! `pixelctl local`: the API served on 127.0.0.1 from an environment file, as a
//! frontend developer runs it.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

/// Sends a request with an optional JSON body; returns (status line, body bytes).
fn request(base: &str, method: &str, path: &str, body: Option<&str>) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    (
        head.lines().next().unwrap().to_owned(),
        response[split + 4..].to_vec(),
    )
}

#[test]
fn local_serves_the_api_with_fake_providers_and_its_images() {
    let project = common::Project::copy();
    let api = project.serve_api("staging");
    let base = api.base.clone();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let (status, body) = request(
        &base,
        "POST",
        "/generate",
        Some(r#"{"prompt": "a lighthouse at dusk"}"#),
    );
    assert!(status.contains("200"), "{status}");
    let created: serde_json::Value = serde_json::from_slice(&body).unwrap();
    // staging has nine models.
    assert_eq!(created["totalModels"], 9);
    let job = created["jobId"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let finished = loop {
        let (_, body) = request(&base, "GET", &format!("/status/{job}"), None);
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if status["status"] == "completed" {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "job never finished: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let image = finished["results"][0]["imageUrl"].as_str().unwrap();
    let path = image.strip_prefix(&base).unwrap();
    let (status, bytes) = request(&base, "GET", path, None);
    assert!(status.contains("200"), "{status}");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a real PNG");

    let (status, body) = request(&base, "GET", "/no/such/route", None);
    assert!(status.contains("404"), "{status}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"],
        "Not found"
    );
}

#[test]
fn local_rejects_a_malformed_base_url_override() {
    let project = common::Project::copy();
    let output = Command::new(assert_cmd::cargo::cargo_bin("pixelctl"))
        .current_dir(project.dir.path())
        .args(["local", "--provider-base-url", "openai"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not PROVIDER=URL"));
}

/// A `pixelctl local` process, stopped when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pixelctl local dev` with `args` on a free port; returns the process and its base URL.
fn start_local(project: &common::Project, args: &[&str]) -> (Served, String) {
    use std::io::BufRead;
    let child = Command::new(assert_cmd::cargo::cargo_bin("pixelctl"))
        .current_dir(project.dir.path())
        .args(["local", "dev", "--port", "0", "--data-dir"])
        .arg(project.path("api-data"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut served = Served(child);
    let mut stderr = std::io::BufReader::new(served.0.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "pixelctl local exited"
        );
        if let Some(rest) = line.split("API on ").nth(1) {
            let base = rest.split_whitespace().next().unwrap().to_owned();
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return (served, base);
        }
    }
}

/// The `Access-Control-Allow-Origin` answered to a request from `origin`, if any.
fn allowed_origin(base: &str, origin: &str) -> Option<String> {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET /gallery/list HTTP/1.1\r\nHost: {address}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let head = response.split("\r\n\r\n").next().unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("access-control-allow-origin")
            .then(|| value.trim().to_owned())
    })
}

#[test]
fn local_allows_the_old_clients_dev_origins_and_star_only_with_fake_providers() {
    let project = common::Project::copy();
    // Real keys: any loopback origin (the old client runs on :3000), the
    // environment's own, and what --allow-origin adds; never `*`.
    let (served, base) = start_local(&project, &["--allow-origin", "http://192.168.1.20:3000"]);
    let cases = [
        ("http://localhost:3000", Some("http://localhost:3000")),
        ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
        ("http://[::1]:5173", Some("http://[::1]:5173")),
        ("http://192.168.1.20:3000", Some("http://192.168.1.20:3000")),
        ("https://evil.example", None),
        ("http://localhost.evil.example", None),
    ];
    for (origin, expected) in cases {
        assert_eq!(
            allowed_origin(&base, origin).as_deref(),
            expected,
            "{origin}"
        );
    }
    drop(served);

    // `*` with real keys is refused, and says why.
    let output = Command::new(assert_cmd::cargo::cargo_bin("pixelctl"))
        .current_dir(project.dir.path())
        .args(["local", "dev", "--port", "0", "--allow-origin", "*"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("spend your provider keys") && stderr.contains("--fake-providers"),
        "{stderr}"
    );

    // With fake providers there is nothing to spend: the old API's `*`.
    let (_served, base) = start_local(&project, &["--fake-providers"]);
    assert_eq!(
        allowed_origin(&base, "https://any.example").as_deref(),
        Some("*")
    );
}
