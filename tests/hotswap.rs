//! `deploy --hotswap` against the local AWS: the functions' code swapped in place,
//! recorded, shown by `status`, healed by the next full deploy, undone by `rollback`,
//! a fallback to a full deploy that says why, and prod's refusal.

#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, block_on, bootstrap, other_bootstrap};

const FUNCTIONS: [&str; 2] = ["pixel-prompt-dev-api", "pixel-prompt-dev-worker"];

/// What the function answers now: the stub bootstrap reports its own code (`"stub":N`).
fn stub_code(aws: &LocalAws, function: &str) -> String {
    let answer = block_on(aws.lambda().invoke().function_name(function).send()).unwrap();
    let payload = String::from_utf8(answer.payload().unwrap().as_ref().to_vec()).unwrap();
    let at = payload
        .find("stub")
        .unwrap_or_else(|| panic!("{function} answered {payload}"));
    payload[at..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect()
}

fn hotswap(
    project: &Project,
    aws: &LocalAws,
    artifact: &std::path::Path,
    code: i32,
) -> common::Run {
    let artifact = artifact.to_str().unwrap().to_owned();
    project.expect(
        aws,
        &[
            "deploy",
            "dev",
            "--hotswap",
            "--yes",
            "--artifact",
            &artifact,
            "--output",
            "json",
        ],
        code,
    )
}

fn status(project: &Project, aws: &LocalAws) -> (serde_json::Value, String) {
    let json = project.run(aws, &["status", "dev", "--output", "json"]);
    let text = project.run(aws, &["status", "dev"]);
    (json.json()["environments"][0].clone(), text.stdout)
}

#[test]
fn a_code_only_change_is_swapped_in_place_shown_and_healed_by_the_next_full_deploy() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    for function in FUNCTIONS {
        assert_eq!(stub_code(&aws, function), "0");
    }

    aws.clear_requests();
    let swapped = hotswap(&project, &aws, other_bootstrap(), 0);
    let report = swapped.json();
    assert_eq!(report["outcome"], "hotswapped", "{}", swapped.stderr);
    assert_eq!(report["health"]["healthy"], true, "{}", swapped.stdout);
    let calls = aws.requests();
    assert!(
        !calls.iter().any(|call| call.contains("ChangeSet")),
        "a hotswap makes no change set: {calls:?}"
    );
    let updates: Vec<&String> = calls
        .iter()
        .filter(|call| call.contains("/code") || call.contains("UpdateFunctionCode"))
        .collect();
    assert_eq!(
        updates.len(),
        2,
        "one UpdateFunctionCode per function: {calls:?}"
    );
    let lambda_calls = calls
        .iter()
        .filter(|call| call.contains("/2015-03-31/functions/"))
        .count();
    assert!(lambda_calls <= 4, "Lambda calls per hotswap: {calls:?}");
    // The next invocation of both functions runs the new code.
    for function in FUNCTIONS {
        assert_eq!(stub_code(&aws, function), "1", "{function}");
    }

    // The ledger and status say the functions run what the stack does not declare.
    let history = project.expect(&aws, &["history", "dev", "--output", "json"], 0);
    let releases = history.json()["releases"].as_array().unwrap().clone();
    // Newest first.
    let last = &releases[0];
    assert_eq!(last["kind"], "hotswap", "{releases:?}");
    assert_eq!(last["functions"].as_object().unwrap().len(), 2, "{last}");
    let (json, text) = status(&project, &aws);
    assert_eq!(json["hotswapped"].as_array().unwrap().len(), 2, "{json}");
    assert!(
        text.contains("HOTSWAPPED: pixel-prompt-dev-api, pixel-prompt-dev-worker run other code than the stack declares"),
        "{text}"
    );

    // A full deploy with the stack's own code (template and parameters unchanged)
    // makes the functions run the declared code again.
    let healed = project.deploy(&aws, "dev", &[], 0);
    assert_eq!(healed.json()["outcome"], "healed", "{}", healed.stderr);
    assert!(
        healed
            .stderr
            .contains("runs code swapped in outside CloudFormation"),
        "{}",
        healed.stderr
    );
    for function in FUNCTIONS {
        assert_eq!(stub_code(&aws, function), "0", "{function}");
    }
    let (json, text) = status(&project, &aws);
    assert!(json.get("hotswapped").is_none(), "{json}");
    assert!(text.contains("as the stack declares"), "{text}");

    // The next no-change deploy finds nothing to heal.
    let again = project.deploy(&aws, "dev", &[], 0);
    assert_eq!(again.json()["outcome"], "no_changes", "{}", again.stderr);
}

#[test]
fn rollback_after_a_hotswap_restores_the_previous_code() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    hotswap(&project, &aws, other_bootstrap(), 0);
    assert_eq!(stub_code(&aws, FUNCTIONS[0]), "1");

    let rolled = project.expect(&aws, &["rollback", "dev", "--yes", "--output", "json"], 0);
    assert_eq!(rolled.json()["outcome"], "healed", "{}", rolled.stderr);
    for function in FUNCTIONS {
        assert_eq!(stub_code(&aws, function), "0", "{function}");
    }
    let history = project.expect(&aws, &["history", "dev", "--output", "json"], 0);
    let releases = history.json()["releases"].as_array().unwrap().clone();
    assert_eq!(releases[0]["kind"], "rollback", "{releases:?}");
    assert_eq!(releases[0]["source"]["sequence"], 1, "{releases:?}");
}

#[test]
fn anything_but_code_falls_back_to_a_full_deploy_and_says_why() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    let run = hotswap(&project, &aws, other_bootstrap(), 0);
    assert!(
        run.stderr.contains(
            "not hotswapping: parameter LambdaMemoryMb differs from the stack's; running a full deploy"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["outcome"], "updated");
    assert_eq!(stub_code(&aws, FUNCTIONS[0]), "1");
    let memory = common::function_configuration(&aws, FUNCTIONS[0]).memory_size();
    assert_eq!(memory, Some(768));

    // No stack yet: a full deploy creates it.
    let fresh = LocalAws::with_keys();
    let created = hotswap(&Project::copy(), &fresh, bootstrap(), 0);
    assert!(
        created
            .stderr
            .contains("not hotswapping: the stack does not exist yet"),
        "{}",
        created.stderr
    );
    assert_eq!(created.json()["outcome"], "created");
}

#[test]
fn an_environment_without_hotswap_refuses_it_before_anything_runs() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    aws.clear_requests();
    let artifact = bootstrap().to_str().unwrap().to_owned();
    let refused = project.expect(
        &aws,
        &[
            "deploy",
            "prod",
            "--hotswap",
            "--yes",
            "--artifact",
            &artifact,
        ],
        2,
    );
    assert!(
        refused.stderr.contains("environment `prod` does not allow --hotswap (`hotswap: false` in environments/prod.yaml"),
        "{}",
        refused.stderr
    );
    assert!(aws.requests().is_empty(), "{:?}", aws.requests());
}
