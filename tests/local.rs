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
