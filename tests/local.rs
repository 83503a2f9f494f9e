//! `pixelctl local`: the API served on 127.0.0.1 from an environment file, as a
//! frontend developer runs it.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use test_support::http::{Response, request};

/// A request with an optional JSON body.
fn send(base: &str, method: &str, path: &str, body: Option<&str>) -> Response {
    let body = body.unwrap_or_default();
    request(
        base,
        method,
        path,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

#[test]
fn local_serves_the_api_with_fake_providers_and_its_images() {
    let project = common::Project::copy();
    let api = project.serve_api("staging");
    let base = api.base.clone();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let answer = send(
        &base,
        "POST",
        "/generate",
        Some(r#"{"prompt": "a lighthouse at dusk"}"#),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let created: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    // staging has nine models.
    assert_eq!(created["totalModels"], 9);
    let job = created["jobId"].as_str().unwrap().to_owned();

    let finished = test_support::poll::until("the job to finish", Duration::from_mins(1), || {
        let answer = send(&base, "GET", &format!("/status/{job}"), None);
        let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        test_support::job_finished(status["status"].as_str().unwrap_or_default()).then_some(status)
    });
    assert_eq!(finished["status"], "completed", "{finished}");
    let image = finished["results"][0]["imageUrl"].as_str().unwrap();
    let path = image.strip_prefix(&base).unwrap();
    let image = send(&base, "GET", path, None);
    assert_eq!(image.status, 200, "{}", image.head);
    assert!(image.body.starts_with(b"\x89PNG\r\n\x1a\n"), "a real PNG");

    let missing = send(&base, "GET", "/no/such/route", None);
    assert_eq!(missing.status, 404, "{}", missing.head);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&missing.body).unwrap()["error"],
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
    let answer = request(base, "GET", "/gallery/list", &[("origin", origin)], b"");
    assert_eq!(answer.status, 200, "{}", answer.head);
    answer
        .header("access-control-allow-origin")
        .map(str::to_owned)
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
