//! Any environment name, end to end against the local AWS: a `qa` file that
//! extends staging, a preview environment instantiated from a base file and
//! destroyed again, names the template refuses stopped before anything is
//! built, and `pixelctl local qa` running as qa.

#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, block_on};

fn stack_parameter(aws: &LocalAws, stack: &str, key: &str) -> Option<String> {
    let stacks = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send(),
    )
    .ok()?;
    stacks.stacks()[0]
        .parameters()
        .iter()
        .find(|parameter| parameter.parameter_key() == Some(key))
        .and_then(|parameter| parameter.parameter_value())
        .map(str::to_owned)
}

#[test]
fn a_qa_environment_extending_staging_deploys_end_to_end() {
    let aws = LocalAws::with_keys();
    aws.put_provider_keys("qa", "sk-local-dummy-key");
    let project = Project::copy();
    project.write(
        "environments/qa.yaml",
        "# qa: staging's settings, lower limits.\nextends: staging\nrate_limits:\n  global_per_hour: 300\n",
    );

    // Layered: defaults, then staging, then qa.
    let rendered = project.expect(&aws, &["render", "qa", "--output", "json"], 0);
    let parameters = &rendered.json()["parameters"];
    assert_eq!(parameters["EnvironmentName"], "qa", "{parameters}");
    assert_eq!(parameters["GlobalRateLimitPerHour"], "300", "{parameters}");
    assert_eq!(
        parameters["MonthlyBudgetUsd"], "200",
        "staging's: {parameters}"
    );

    let deployed = project.deploy(&aws, "qa", &[], 0);
    assert_eq!(deployed.json()["outcome"], "created", "{}", deployed.stderr);
    assert_eq!(
        deployed.json()["health"]["healthy"],
        true,
        "{}",
        deployed.stdout
    );
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-qa", "EnvironmentName").as_deref(),
        Some("qa")
    );
    let function = common::function_configuration(&aws, "pixel-prompt-qa-api");
    let variables = function.environment().unwrap().variables().unwrap();
    assert_eq!(variables.get("ENVIRONMENT").map(String::as_str), Some("qa"));
    let listed = project.run(&aws, &["status", "--output", "json"]).json();
    let names: Vec<&str> = listed["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|status| status["environment"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"qa"), "{names:?}");
}

#[test]
fn an_extends_loop_or_a_missing_parent_is_named_with_its_file() {
    let project = Project::copy();
    let aws = LocalAws::start();
    project.write("environments/qa.yaml", "extends: uat\n");
    project.write("environments/uat.yaml", "extends: qa\n");
    let looped = project.expect(&aws, &["validate"], 2);
    assert!(
        looped
            .stdout
            .contains("environments/uat.yaml:1: `extends`: `qa` makes a loop of `extends:`"),
        "{}",
        looped.stdout
    );
    project.write("environments/qa.yaml", "extends: stagign\n");
    let missing = project.expect(&aws, &["validate"], 2);
    assert!(
        missing.stdout.contains(
            "environments/qa.yaml:1: `extends`: there is no environments/stagign.yaml to extend"
        ),
        "{}",
        missing.stdout
    );
    assert!(
        missing.stdout.contains("did you mean `staging`?"),
        "{}",
        missing.stdout
    );
}

#[test]
fn a_name_the_template_refuses_stops_before_anything_is_built_or_called() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.write(
        "environments/Qa1.yaml",
        "# a name CloudFormation's constraint refuses\n",
    );
    aws.clear_requests();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let refused = project.expect(
        &aws,
        &["deploy", "Qa1", "--yes", "--artifact", &artifact],
        2,
    );
    assert!(
        refused.stderr.contains(
            "parameter `EnvironmentName` = `Qa1` does not match the pattern `^[a-z][a-z0-9]*(-[a-z0-9]+)*$`, so CloudFormation would refuse it"
        ),
        "{}",
        refused.stderr
    );
    // The hint is the template's own ConstraintDescription.
    assert!(
        refused
            .stderr
            .contains("lower-case letters, digits and single hyphens"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("Packaging"), "{}", refused.stderr);
    assert!(aws.requests().is_empty(), "{:?}", aws.requests());
    let validated = project.expect(&aws, &["validate"], 2);
    assert!(
        validated
            .stdout
            .contains("parameter `EnvironmentName` = `Qa1` does not match"),
        "{}",
        validated.stdout
    );
}

#[test]
fn a_preview_environment_is_made_from_its_base_file_and_destroyed_again() {
    let aws = LocalAws::with_keys();
    aws.put_provider_keys("pr-123", "sk-local-dummy-key");
    let project = Project::copy();
    project.write(
        "environments/preview.yaml",
        "# One environment per pull request: pr-<number>.\ninstances: pr-*\nextends: dev\nbudget:\n  monthly_usd: 20\n",
    );
    let deployed = project.deploy(&aws, "pr-123", &[], 0);
    assert_eq!(deployed.json()["outcome"], "created", "{}", deployed.stderr);
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-pr-123", "EnvironmentName").as_deref(),
        Some("pr-123")
    );
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-pr-123", "MonthlyBudgetUsd").as_deref(),
        Some("20")
    );

    // The base file is no environment of its own.
    let base = project.expect(&aws, &["deploy", "preview", "--yes"], 2);
    assert!(
        base.stderr.contains(
            "`preview` is a base file for environments named `pr-*`, not an environment of its own"
        ),
        "{}",
        base.stderr
    );
    assert!(base.stderr.contains("e.g. `pr-1`"), "{}", base.stderr);
    let status = project.run(&aws, &["status", "--output", "json"]);
    assert!(!status.stdout.contains("\"preview\""), "{}", status.stdout);

    let destroyed = project.expect(&aws, &["destroy", "pr-123", "--yes"], 0);
    assert!(
        stack_parameter(&aws, "pixel-prompt-pr-123", "EnvironmentName").is_none(),
        "{}",
        destroyed.stderr
    );
}

#[test]
fn local_runs_the_environment_it_is_given() {
    let project = Project::copy();
    project.write("environments/qa.yaml", "extends: staging\n");
    let api = project.serve_api("qa");
    let health = test_support::http::request(&api.base, "GET", "/health", &[], b"");
    assert_eq!(health.status, 200, "{}", health.text());
    let health: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(health["environment"], "qa", "{health}");
}
