//! `pixelctl plan --out` and `pixelctl apply` against the local AWS: the reviewed
//! change set applied exactly, without a terminal or --yes, and refused when the
//! stack changed since the plan or the change set is gone.

#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, block_on, bootstrap, other_bootstrap};

fn memory(aws: &LocalAws) -> Option<i32> {
    common::function_configuration(aws, "pixel-prompt-dev-api").memory_size()
}

/// `plan dev --out plan.json` with `artifact`: the run (Markdown on stdout) and the file.
fn plan(
    project: &Project,
    aws: &LocalAws,
    artifact: &std::path::Path,
) -> (common::Run, serde_json::Value) {
    let artifact = artifact.to_str().unwrap().to_owned();
    let out = project.path("plan.json").to_str().unwrap().to_owned();
    let planned = project.expect(
        aws,
        &[
            "plan",
            "dev",
            "--artifact",
            &artifact,
            "--out",
            &out,
            "--format",
            "markdown",
        ],
        0,
    );
    let file = serde_json::from_str(&project.read("plan.json")).unwrap();
    (planned, file)
}

#[test]
fn a_reviewed_plan_is_applied_exactly_without_a_terminal_or_yes() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    let (planned, file) = plan(&project, &aws, other_bootstrap());
    common::assert_whole_run!("plan_markdown", project.dir.path(), &planned);
    for key in ["change_set_id", "template_sha256", "parameters_sha256"] {
        assert!(
            file[key].as_str().is_some_and(|value| !value.is_empty()),
            "{key}: {file}"
        );
    }
    assert_eq!(file["environment"], "dev");
    assert_eq!(file["stack"]["status"], "CREATE_COMPLETE", "{file}");
    assert_eq!(file["artifact"]["sha256"].as_str().unwrap().len(), 64);
    // Planned, not applied.
    assert_eq!(memory(&aws), Some(256));

    // dev confirms changes, and there is no terminal here: the plan is the approval.
    aws.clear_requests();
    let applied = project.expect(&aws, &["apply", "plan.json", "--output", "json"], 0);
    let report = applied.json();
    assert_eq!(report["outcome"], "updated", "{}", applied.stderr);
    assert_eq!(report["health"]["healthy"], true, "{}", applied.stdout);
    assert!(report["release"].as_u64().is_some(), "{report}");
    assert_eq!(memory(&aws), Some(768));
    let calls = aws.requests();
    assert!(
        !calls.iter().any(|call| call == "CreateChangeSet"),
        "apply makes no change set of its own: {calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|call| *call == "ExecuteChangeSet")
            .count(),
        1,
        "{calls:?}"
    );
    // The code running is the plan's artifact.
    let running = common::function_configuration(&aws, "pixel-prompt-dev-worker");
    let stack_key = file["artifact"]["key"].as_str().unwrap();
    assert!(running.code_sha256().is_some());
    let history = project.expect(&aws, &["history", "dev", "--output", "json"], 0);
    assert_eq!(history.json()["releases"][0]["artifact"]["key"], stack_key);

    // Applied once: the change set is gone now.
    let again = project.expect(&aws, &["apply", "plan.json"], 1);
    assert!(
        again.stderr.contains("changed since the plan"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_plan_is_refused_when_the_stack_changed_or_its_change_set_is_gone() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    let (_, file) = plan(&project, &aws, bootstrap());

    // Someone deletes the change set.
    block_on(
        aws.cloudformation()
            .delete_change_set()
            .stack_name("pixel-prompt-dev")
            .change_set_name(file["change_set_id"].as_str().unwrap())
            .send(),
    )
    .unwrap();
    let gone = project.expect(&aws, &["apply", "plan.json"], 1);
    assert!(
        gone.stderr.contains(&format!(
            "change set {} of pixel-prompt-dev is gone",
            file["change_set_name"].as_str().unwrap()
        )),
        "{}",
        gone.stderr
    );
    assert!(
        gone.stderr.contains("pixelctl plan dev --out plan.json"),
        "{}",
        gone.stderr
    );
    assert_eq!(memory(&aws), Some(256));

    // A new plan, then another deploy changes the stack before it is applied.
    plan(&project, &aws, bootstrap());
    project.edit(
        "environments/dev.yaml",
        "  memory_mb: 768\n",
        "  memory_mb: 512\n",
    );
    project.deploy(&aws, "dev", &[], 0);
    let moved = project.expect(&aws, &["apply", "plan.json"], 1);
    assert!(
        moved.stderr.contains(
            "stack pixel-prompt-dev changed since the plan (the plan saw CREATE_COMPLETE"
        ),
        "{}",
        moved.stderr
    );
    assert_eq!(memory(&aws), Some(512));

    let broken = project.path("broken.json");
    std::fs::write(&broken, "{}").unwrap();
    let refused = project.expect(&aws, &["apply", broken.to_str().unwrap()], 2);
    assert!(
        refused
            .stderr
            .contains("is not a plan written by `pixelctl plan --out`"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_reviewed_plan_does_not_get_around_prods_guard_on_stateful_resources() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "prod", &["--no-wait-cdn"], 0);
    // A new log group name replaces the access log group (its history is lost).
    project.edit(
        "templates/pixel-prompt.yaml",
        "${AWS::StackName}-access\"",
        "${AWS::StackName}-access-v2\"",
    );
    let artifact = bootstrap().to_str().unwrap().to_owned();
    let out = project.path("plan.json").to_str().unwrap().to_owned();
    project.expect(
        &aws,
        &["plan", "prod", "--artifact", &artifact, "--out", &out],
        0,
    );
    let refused = project.expect(&aws, &["apply", &out, "--no-wait-cdn"], 1);
    assert!(
        refused.stderr.contains(
            "refused: this plan would lose stateful resources of prod (termination_protection is on): \
             ApiAccessLogGroup (AWS::Logs::LogGroup, replaced: a new resource, its data or history gone)"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("apply again with --allow-replace ApiAccessLogGroup"),
        "{}",
        refused.stderr
    );
    let outputs = project.expect(&aws, &["outputs", "prod", "--output", "json"], 0);
    assert_eq!(
        outputs.json()["outputs"]["AccessLogGroup"],
        "/aws/apigateway/pixel-prompt-prod-access",
        "nothing changed"
    );
    // The change set was kept: naming the resource applies the same plan.
    let applied = project.expect(
        &aws,
        &[
            "apply",
            &out,
            "--no-wait-cdn",
            "--allow-replace",
            "ApiAccessLogGroup",
            "--output",
            "json",
        ],
        0,
    );
    assert_eq!(
        applied.json()["outputs"]["AccessLogGroup"],
        "/aws/apigateway/pixel-prompt-prod-access-v2",
        "{}",
        applied.stderr
    );
}
