//! `pixelctl build` builds the Lambda in cargo's own target directory (what
//! `CARGO_TARGET_DIR` or `build.target-dir` say), with the environment's build
//! profile. A stand-in `cargo` on PATH answers `cargo metadata` and `cargo build`
//! (copying the tests' stub bootstrap), so no Lambda is compiled here.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{Project, bootstrap};

/// A `cargo` that logs its arguments and acts as cargo does for pixelctl's two calls.
fn fake_cargo(dir: &std::path::Path) {
    let script = format!(
        r#"#!/bin/sh
echo "$@" >> "{log}"
case "$1" in
  metadata)
    printf '{{"packages":[],"target_directory":"%s","version":1}}\n' "${{CARGO_TARGET_DIR:-$PWD/target}}" ;;
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
    mkdir -p "$target_dir/$triple/$profile"
    cp "{stub}" "$target_dir/$triple/$profile/bootstrap" ;;
  *) exit 3 ;;
esac
"#,
        log = dir.join("cargo.log").display(),
        stub = bootstrap().display()
    );
    let path = dir.join("cargo");
    std::fs::write(&path, script).unwrap();
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
}

fn build(
    project: &Project,
    tools: &std::path::Path,
    target_dir: Option<&std::path::Path>,
) -> serde_json::Value {
    let path = format!("{}:/usr/bin:/bin", tools.display());
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("pixelctl"));
    command
        .current_dir(project.dir.path())
        .env_remove("PIXELCTL_PROJECT_DIR")
        .env_remove("CARGO_TARGET_DIR")
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .args(["build", "--env", "dev", "--output", "json"]);
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_lambda_is_built_in_cargos_own_target_directory_with_the_environments_profile() {
    let project = Project::copy();
    let tools = tempfile::tempdir().unwrap();
    fake_cargo(tools.path());
    let shared = tempfile::tempdir().unwrap();

    let built = build(&project, tools.path(), Some(shared.path()));
    let zip = built["zip_path"].as_str().unwrap();
    assert!(
        zip.starts_with(&shared.path().join("pixelctl").display().to_string()),
        "{zip}"
    );
    let log = std::fs::read_to_string(tools.path().join("cargo.log")).unwrap();
    let build_line = log.lines().find(|line| line.starts_with("build")).unwrap();
    assert!(
        build_line.contains(&format!("--target-dir {}", shared.path().display())),
        "{log}"
    );
    // dev builds with its fast profile.
    assert!(build_line.contains("--profile lambda-dev"), "{log}");

    // Without CARGO_TARGET_DIR, cargo's default: the workspace's target/.
    let default = build(&project, tools.path(), None);
    assert!(
        default["zip_path"].as_str().unwrap().starts_with(
            &project
                .dir
                .path()
                .join("target")
                .join("pixelctl")
                .display()
                .to_string()
        ),
        "{default}"
    );
    // The same bytes either way: the zip is named by its content.
    assert_eq!(built["sha256"], default["sha256"]);
}
