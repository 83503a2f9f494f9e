//! The GitHub Actions workflows in `.github/workflows/`: valid and clean by
//! zizmor (schema and security audits, pedantic), every `run:` script clean by
//! shellcheck, every action pinned to a commit, and the pipeline's shape: OIDC,
//! caches, the plan on pull requests, staging from main with its outputs passed
//! on, prod behind an approval, a scheduled status.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_norway::Value;

fn tool(name: &str) -> PathBuf {
    let path = common::repo_root().join(".venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run tools/local-aws/setup.sh (it installs the pins of tools/local-aws/requirements.txt; tools/test-all does)",
        path.display()
    );
    path
}

fn workflows() -> Vec<(String, Value)> {
    let dir = common::repo_root().join(".github/workflows");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                serde_norway::from_str(&text).unwrap(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn steps(job: &Value) -> Vec<&Value> {
    job["steps"].as_sequence().unwrap().iter().collect()
}

fn runs(job: &Value) -> String {
    steps(job)
        .iter()
        .filter_map(|step| step["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn uses(job: &Value) -> Vec<&str> {
    steps(job)
        .iter()
        .filter_map(|step| step["uses"].as_str())
        .collect()
}

#[test]
fn zizmor_finds_nothing_even_pedantic() {
    let output = Command::new(tool("zizmor"))
        .args([
            "--offline",
            "--strict-collection",
            "--persona",
            "pedantic",
            "--no-progress",
        ])
        .arg(common::repo_root().join(".github/workflows"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("No findings to report"), "{text}");
    for name in ["ci.yml", "release.yml", "status.yml"] {
        assert!(
            text.contains(&format!("completed .github/workflows/{name}")) || text.contains(name),
            "{name} audited: {text}"
        );
    }
}

#[test]
fn every_run_script_passes_shellcheck() {
    let shellcheck = tool("shellcheck");
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (file, workflow) in workflows() {
        for (job_name, job) in workflow["jobs"].as_mapping().unwrap() {
            for (index, step) in steps(job).iter().enumerate() {
                let Some(script) = step["run"].as_str() else {
                    continue;
                };
                // GitHub substitutes `${{ ... }}` before the shell sees the script,
                // and runs it with `bash -e {0}` (plus pipefail).
                let mut body = String::new();
                let mut rest = script;
                while let Some(start) = rest.find("${{") {
                    body.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find("}}")
                        .map_or(rest.len(), |end| start + end + 2);
                    body.push_str("github_expression");
                    rest = &rest[end..];
                }
                body.push_str(rest);
                let path = dir
                    .path()
                    .join(format!("{file}-{}-{index}.sh", job_name.as_str().unwrap()));
                std::fs::write(
                    &path,
                    format!("#!/usr/bin/env bash\nset -eo pipefail\n{body}\n"),
                )
                .unwrap();
                let output = Command::new(&shellcheck)
                    .args(["--shell=bash", "--severity=style"])
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{file} job {} step {index}:\n{}",
                    job_name.as_str().unwrap(),
                    String::from_utf8_lossy(&output.stdout)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 12, "only {checked} run scripts found");
}

#[test]
fn the_pipeline_plans_deploys_promotes_and_watches() {
    let all = workflows();
    let get = |name: &str| &all.iter().find(|(file, _)| file == name).unwrap().1;
    let (ci, release, status) = (get("ci.yml"), get("release.yml"), get("status.yml"));

    // Every action is pinned to a full commit.
    for (file, workflow) in &all {
        for job in workflow["jobs"].as_mapping().unwrap().values() {
            for action in uses(job) {
                let (_, reference) = action.split_once('@').unwrap();
                assert!(
                    reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
                    "{file}: {action} is not pinned to a commit"
                );
            }
        }
    }

    // Caches for Rust and npm in the tests.
    let test = &ci["jobs"]["test"];
    assert!(
        uses(test)
            .iter()
            .any(|a| a.starts_with("Swatinem/rust-cache@"))
    );
    let node = steps(test)
        .into_iter()
        .find(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|a| a.starts_with("actions/setup-node@"))
        })
        .unwrap();
    assert_eq!(node["with"]["cache"].as_str(), Some("npm"));
    assert!(runs(test).contains(".ci/run"));

    // OIDC: every job that reaches AWS may mint an id token and assumes a role; no stored keys.
    let aws_jobs = [
        &ci["jobs"]["plan"],
        &ci["jobs"]["deploy-staging"],
        &release["jobs"]["promote-prod"],
        &status["jobs"]["status"],
    ];
    for job in aws_jobs {
        assert_eq!(job["permissions"]["id-token"].as_str(), Some("write"));
        let credentials = steps(job)
            .into_iter()
            .find(|step| {
                step["uses"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("aws-actions/configure-aws-credentials@"))
            })
            .unwrap();
        assert!(
            credentials["with"]["role-to-assume"]
                .as_str()
                .unwrap()
                .contains("vars.")
        );
        assert!(credentials["with"].get("aws-access-key-id").is_none());
    }
    let text: String = ["ci.yml", "release.yml", "status.yml"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(common::repo_root().join(".github/workflows").join(name))
                .unwrap()
        })
        .collect();
    assert!(!text.contains("secrets.AWS_"), "no stored AWS keys");

    // Pull requests: the staging plan, posted as a comment.
    assert!(ci["on"].get("pull_request").is_some());
    let plan = &ci["jobs"]["plan"];
    assert!(runs(plan).contains("pixelctl diff staging"));
    assert!(
        uses(plan)
            .iter()
            .any(|a| a.starts_with("actions/github-script@"))
    );
    assert_eq!(plan["permissions"]["pull-requests"].as_str(), Some("write"));

    // main: staging, its outputs handed to the next job.
    let deploy = &ci["jobs"]["deploy-staging"];
    assert!(runs(deploy).contains("pixelctl deploy staging --yes"));
    assert!(runs(deploy).contains("--output json"));
    assert_eq!(deploy["environment"].as_str(), Some("staging"));
    assert!(
        deploy["outputs"]["api"]
            .as_str()
            .unwrap()
            .contains("steps.deploy.outputs.api")
    );
    let verify = &ci["jobs"]["verify-staging"];
    assert_eq!(verify["needs"].as_str(), Some("deploy-staging"));
    assert!(
        serde_norway::to_string(verify)
            .unwrap()
            .contains("needs.deploy-staging.outputs.api")
    );

    // A prod-v* tag: promotion, behind the `production` environment's approval.
    assert_eq!(release["on"]["push"]["tags"][0].as_str(), Some("prod-v*"));
    let promote = &release["jobs"]["promote-prod"];
    assert_eq!(promote["environment"].as_str(), Some("production"));
    assert!(runs(promote).contains("pixelctl promote staging prod --yes"));

    // On a schedule: status, whose exit code fails the run.
    assert!(status["on"]["schedule"][0]["cron"].as_str().is_some());
    assert!(runs(&status["jobs"]["status"]).contains("pixelctl status staging prod"));
    assert!(runs(&status["jobs"]["status"]).contains("exit \"$code\""));
}
