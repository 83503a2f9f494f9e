//! `pixelctl watch dev` against the local AWS: a save rebuilds and hotswaps (the next
//! invocation runs the new code), a failed build leaves the live code alone. A
//! stand-in `cargo` on PATH "builds" by copying `lambda/next-bootstrap` (the tests'
//! stub bootstraps), or fails when that file is not a binary.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{LocalAws, Project, block_on, other_bootstrap};

fn fake_cargo(dir: &std::path::Path) {
    let script = r#"#!/bin/sh
case "$1" in
  metadata)
    printf '{"packages":[],"target_directory":"%s","version":1}\n' "$PWD/target" ;;
  build)
    target_dir=""; triple=""; profile=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --target-dir) target_dir="$2"; shift ;;
        --target) triple="$2"; shift ;;
        --profile) profile="$2"; shift ;;
      esac
      shift
    done
    if ! head -c 4 lambda/next-bootstrap | grep -q ELF; then
      echo "error[E0308]: mismatched types (lambda/next-bootstrap)" >&2
      exit 101
    fi
    mkdir -p "$target_dir/$triple/$profile"
    cp lambda/next-bootstrap "$target_dir/$triple/$profile/bootstrap" ;;
  *) exit 3 ;;
esac
"#;
    let path = dir.join("cargo");
    std::fs::write(&path, script).unwrap();
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
}

fn stub_code(aws: &LocalAws, function: &str) -> String {
    let answer = block_on(aws.lambda().invoke().function_name(function).send()).unwrap();
    let payload = String::from_utf8(answer.payload().unwrap().as_ref().to_vec()).unwrap();
    let at = payload.find("stub").unwrap();
    payload[at..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect()
}

/// The next line (stdout or stderr) containing `text`; the deadline only guards a hang.
fn wait_for(lines: &mpsc::Receiver<String>, text: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_mins(5))
            .unwrap_or_else(|_| panic!("pixelctl watch printed no line with `{text}`"));
        if line.contains(text) {
            return line;
        }
    }
}

#[test]
fn a_save_is_rebuilt_and_hotswapped_and_a_failed_build_leaves_the_live_code() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    std::fs::create_dir_all(project.path("lambda/src")).unwrap();
    let tools = tempfile::tempdir().unwrap();
    fake_cargo(tools.path());

    let mut child = project
        .process(&aws)
        .args(["watch", "dev"])
        .env("PATH", format!("{}:/usr/bin:/bin", tools.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (send, lines) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let send = send.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
    }
    wait_for(&lines, "Watching lambda/");

    std::fs::copy(other_bootstrap(), project.path("lambda/next-bootstrap")).unwrap();
    let swapped = wait_for(&lines, "change 1:");
    assert!(
        swapped.contains("built in") && swapped.contains("hotswapped in"),
        "{swapped}"
    );
    for function in ["pixel-prompt-dev-api", "pixel-prompt-dev-worker"] {
        assert_eq!(stub_code(&aws, function), "1", "{function}");
    }

    std::fs::write(
        project.path("lambda/next-bootstrap"),
        "fn main() { let x: u8 = \"\"; }\n",
    )
    .unwrap();
    let failed = wait_for(&lines, "change 2: build failed");
    assert!(
        failed.contains("build failed") && failed.contains("live code unchanged"),
        "{failed}"
    );
    assert_eq!(stub_code(&aws, "pixel-prompt-dev-api"), "1");

    child.kill().unwrap();
    child.wait().unwrap();
}
