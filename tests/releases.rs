//! Releases against the local AWS and throwaway git repositories: the ledger,
//! history, rollback (by state), promote, tags, destroy and prune.

#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::{LocalAws, Project, block_on, bootstrap, other_bootstrap};

fn stack_parameter(aws: &LocalAws, stack: &str, key: &str) -> String {
    let stacks = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send(),
    )
    .unwrap();
    stacks.stacks()[0]
        .parameters()
        .iter()
        .find(|parameter| parameter.parameter_key() == Some(key))
        .and_then(|parameter| parameter.parameter_value())
        .unwrap_or_default()
        .to_owned()
}

fn stack_status(aws: &LocalAws, stack: &str) -> String {
    let stacks = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send(),
    )
    .unwrap();
    stacks.stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_owned()
}

/// The Lambda's code as Lambda reports it: (`CodeSha256` as hex, the presigned URL of its code).
fn function_code(aws: &LocalAws, function: &str) -> (String, String) {
    let function = block_on(aws.lambda().get_function().function_name(function).send()).unwrap();
    let sha = function.configuration().unwrap().code_sha256().unwrap();
    let digest = base64::engine::general_purpose::STANDARD
        .decode(sha)
        .unwrap();
    let hex = test_support::hex(&digest);
    (hex, function.code().unwrap().location().unwrap().to_owned())
}

fn history(project: &Project, aws: &LocalAws, env: &str) -> Vec<serde_json::Value> {
    project
        .expect(aws, &["history", env, "--output", "json"], 0)
        .json()["releases"]
        .as_array()
        .unwrap()
        .clone()
}

fn set_concurrency(project: &Project, value: u32) {
    let text = project.read("environments/dev.yaml");
    let line = text
        .lines()
        .find(|line| line.contains("reserved_concurrency"))
        .unwrap()
        .to_owned();
    project.write(
        "environments/dev.yaml",
        &text.replace(&line, &format!("  reserved_concurrency: {value}")),
    );
    project.commit(&format!("concurrency {value}"));
}

#[test]
fn history_and_rollback_restore_an_earlier_release_exactly() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.git_init();

    let first = project.deploy_with(&aws, "dev", bootstrap(), &[], 0).json();
    set_concurrency(&project, 3);
    let second = project
        .deploy_with(&aws, "dev", other_bootstrap(), &[], 0)
        .json();
    set_concurrency(&project, 4);
    let third = project.deploy_with(&aws, "dev", bootstrap(), &[], 0).json();
    assert_eq!(
        [&first["release"], &second["release"], &third["release"]],
        [1, 2, 3]
    );

    let releases = history(&project, &aws, "dev");
    let sequences: Vec<u64> = releases
        .iter()
        .map(|release| release["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [3, 2, 1]);
    assert_eq!(releases[0]["live"], true);
    assert_eq!(releases[1]["live"], false);
    assert_eq!(releases[0]["git"]["dirty"], false);
    assert_eq!(
        releases[0]["git"]["commit"],
        project.git(&["rev-parse", "HEAD"]).trim()
    );
    assert_eq!(releases[0]["parameters"]["ReservedConcurrency"], "4");
    let text = project.expect(&aws, &["history", "dev"], 0).stdout;
    assert!(text.lines().nth(1).unwrap().starts_with("*    3"), "{text}");

    // Back to #2: its parameters and its artifact, the exact bytes.
    let rolled = project
        .expect(&aws, &["rollback", "dev", "--yes", "--output", "json"], 0)
        .json();
    assert_eq!(rolled["release"], 4);
    let artifact_two = second["artifact"]["key"].as_str().unwrap();
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-dev", "ArtifactKey"),
        artifact_two
    );
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-dev", "ReservedConcurrency"),
        "3"
    );
    // The code is told by its hash: Lambda's `Code.Location` is a presigned URL of
    // its own copy, not the artifact's key.
    let (code_sha, location) = function_code(&aws, "pixel-prompt-dev-api");
    assert_eq!(code_sha, second["artifact"]["sha256"].as_str().unwrap());
    assert!(
        location.starts_with("https://") && location.contains("X-Amz-Signature="),
        "{location}"
    );

    let releases = history(&project, &aws, "dev");
    assert_eq!(releases[0]["sequence"], 4);
    assert_eq!(releases[0]["kind"], "rollback");
    assert_eq!(releases[0]["source"]["sequence"], 2);
    assert_eq!(releases[0]["live"], true);

    // --to 1 goes back further; naming the live release or nothing earlier is an error.
    project.expect(&aws, &["rollback", "dev", "--to", "1", "--yes"], 0);
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-dev", "ReservedConcurrency"),
        "5"
    );
    assert_eq!(
        function_code(&aws, "pixel-prompt-dev-api").0,
        first["artifact"]["sha256"].as_str().unwrap()
    );
    let live = project.expect(&aws, &["rollback", "dev", "--to", "5", "--yes"], 2);
    common::assert_whole_run!("rollback_to_the_live_release", project.dir.path(), &live);
    let unknown = project.expect(&aws, &["rollback", "dev", "--to", "42", "--yes"], 2);
    common::assert_whole_run!(
        "rollback_to_an_unknown_release",
        project.dir.path(),
        &unknown
    );
}

#[test]
fn rollback_with_nothing_earlier_is_a_clear_error() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Before any deploy there is no artifact store yet: an empty history, not an S3 error.
    let empty = project.expect(&aws, &["history", "dev"], 0);
    assert_eq!(empty.stdout, "no releases of dev yet\n");
    let none = project.expect(&aws, &["rollback", "dev", "--yes"], 1);
    common::assert_whole_run!("rollback_before_any_deploy", project.dir.path(), &none);
    project.deploy(&aws, "dev", &[], 0);
    let single = project.expect(&aws, &["rollback", "dev", "--yes"], 1);
    common::assert_whole_run!("rollback_with_one_release", project.dir.path(), &single);
}

#[test]
fn rollback_continues_a_failed_rollback() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Standard mode: the cancelled or failed update rolls back (dev deploys in express mode).
    project.edit(
        "environments/dev.yaml",
        "deploy_mode: express",
        "deploy_mode: standard",
    );
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    aws.control(
        "/_local-aws/fail",
        r#"{"stack_name": "pixel-prompt-dev", "logical_id": "ApiFunction", "reason": "stuck (injected)", "mode": "rollback_fails"}"#,
    );
    let failed = project.deploy(&aws, "dev", &[], 1);
    assert!(
        failed.stderr.contains("UPDATE_ROLLBACK_FAILED"),
        "{}",
        failed.stderr
    );
    // The failed deploy is in the ledger, marked as failed.
    let releases = history(&project, &aws, "dev");
    assert_eq!(releases[0]["succeeded"], false);
    assert_eq!(releases[0]["live"], false);
    assert_eq!(releases[1]["live"], true);

    let run = project.expect(&aws, &["rollback", "dev"], 0);
    assert!(
        run.stderr.contains("continuing the rollback"),
        "{}",
        run.stderr
    );
    assert_eq!(
        stack_status(&aws, "pixel-prompt-dev"),
        "UPDATE_ROLLBACK_COMPLETE"
    );
}

#[test]
fn rollback_cancels_an_update_in_progress() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Standard mode: the cancelled or failed update rolls back (dev deploys in express mode).
    project.edit(
        "environments/dev.yaml",
        "deploy_mode: express",
        "deploy_mode: standard",
    );
    project.deploy(&aws, "dev", &[], 0);
    // The update stops before the API function until released: still in progress
    // when rollback comes, however slow the machine.
    let hold = r#"{"what": "stack-resource", "stack_name": "pixel-prompt-dev", "logical_id": "ApiFunction"}"#;
    aws.control("/_local-aws/hold", hold);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    let artifact = bootstrap().to_str().unwrap().to_owned();
    let mut running = project.spawn(&aws, &["deploy", "dev", "--yes", "--artifact", &artifact]);
    aws.wait_held("pixel-prompt-dev", "ApiFunction");
    assert_eq!(stack_status(&aws, "pixel-prompt-dev"), "UPDATE_IN_PROGRESS");
    aws.clear_requests();
    let rollback = project.spawn_piped(&aws, &["rollback", "dev"]);
    common::wait_until("rollback to cancel the update", || {
        aws.requests()
            .iter()
            .any(|call| call == "CancelUpdateStack")
    });
    aws.control("/_local-aws/release", hold);
    let run = rollback.wait_with_output().unwrap();
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cancelling the update"), "{stderr}");
    assert_eq!(
        stack_status(&aws, "pixel-prompt-dev"),
        "UPDATE_ROLLBACK_COMPLETE"
    );
    // The interrupted deploy notices and fails.
    assert_eq!(running.wait().unwrap().code(), Some(1));
}

#[test]
fn promote_deploys_the_source_artifact_with_the_targets_parameters() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let dev = project
        .deploy_with(&aws, "dev", other_bootstrap(), &[], 0)
        .json();
    let promoted = project
        .expect(
            &aws,
            &["promote", "dev", "staging", "--yes", "--output", "json"],
            0,
        )
        .json();
    assert_eq!(promoted["outcome"], "created");
    assert_eq!(promoted["artifact"]["sha256"], dev["artifact"]["sha256"]);
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-staging", "ArtifactKey"),
        dev["artifact"]["key"].as_str().unwrap()
    );
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-staging", "GlobalRateLimitPerHour"),
        "1000"
    );
    assert_eq!(
        stack_parameter(&aws, "pixel-prompt-staging", "ModelCount"),
        "9"
    );
    let releases = history(&project, &aws, "staging");
    assert_eq!(releases[0]["kind"], "promote");
    assert_eq!(releases[0]["source"]["environment"], "dev");
    assert_eq!(releases[0]["source"]["sequence"], 1);
    let nothing = project.expect(&aws, &["promote", "prod", "staging", "--yes"], 1);
    assert!(
        nothing
            .stderr
            .contains("`prod` has no successful release to promote"),
        "{}",
        nothing.stderr
    );
}

#[test]
fn tags_name_the_live_release_and_refuse_a_dirty_tree_or_an_existing_tag() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.git_init();
    project.deploy(&aws, "dev", &[], 0);

    assert_eq!(
        project.expect(&aws, &["tag", "dev"], 0).stdout,
        "dev-v0.1.0\n"
    );
    let message = project.git(&["tag", "--list", "--format=%(contents)", "dev-v0.1.0"]);
    assert!(message.starts_with("dev release #1"), "{message}");
    assert_eq!(
        project.git(&["rev-list", "-n", "1", "dev-v0.1.0"]),
        project.git(&["rev-parse", "HEAD"])
    );
    assert_eq!(
        project
            .expect(&aws, &["tag", "dev", "--bump", "minor"], 0)
            .stdout,
        "dev-v0.2.0\n"
    );
    assert_eq!(
        project
            .expect(&aws, &["tag", "dev", "--version", "1.0.0"], 0)
            .stdout,
        "dev-v1.0.0\n"
    );
    let exists = project.expect(&aws, &["tag", "dev", "--version", "1.0.0"], 1);
    assert!(
        exists
            .stderr
            .contains("the tag `dev-v1.0.0` already exists"),
        "{}",
        exists.stderr
    );
    let releases = history(&project, &aws, "dev");
    assert_eq!(
        releases[0]["git_tags"],
        serde_json::json!(["dev-v0.1.0", "dev-v0.2.0", "dev-v1.0.0"])
    );

    project.write("environments/notes.txt", "uncommitted");
    let dirty = project.expect(&aws, &["tag", "dev"], 1);
    assert!(
        dirty.stderr.contains("uncommitted changes"),
        "{}",
        dirty.stderr
    );
    let deploy_tag = project.deploy(&aws, "dev", &["--tag"], 2);
    assert!(
        deploy_tag.stderr.contains("--tag needs a clean git tree"),
        "{}",
        deploy_tag.stderr
    );

    std::fs::remove_file(project.path("environments/notes.txt")).unwrap();
    set_concurrency(&project, 3);
    let tagged = project.deploy(&aws, "dev", &["--tag"], 0).json();
    assert_eq!(tagged["git_tag"], "dev-v1.0.1");
    assert_eq!(tagged["release"], 2);
}

#[test]
fn destroy_refuses_a_protected_stack_and_says_what_it_leaves() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "prod", &["--no-wait-cdn"], 0);
    let refused = project.expect(&aws, &["destroy", "prod", "--yes"], 2);
    assert!(
        refused.stderr.contains("has termination protection"),
        "{}",
        refused.stderr
    );
    assert_eq!(stack_status(&aws, "pixel-prompt-prod"), "CREATE_COMPLETE");
    let no_tty = project.expect(
        &aws,
        &["destroy", "prod", "--disable-termination-protection"],
        2,
    );
    assert!(no_tty.stderr.contains("pass --yes"), "{}", no_tty.stderr);

    let destroyed = project
        .expect(
            &aws,
            &[
                "destroy",
                "prod",
                "--yes",
                "--disable-termination-protection",
                "--output",
                "json",
            ],
            0,
        )
        .json();
    assert_eq!(destroyed["retained"][0]["logical_id"], "ImagesBucket");
    assert!(
        destroyed["ledger"]
            .as_str()
            .unwrap()
            .starts_with("s3://pixelctl-artifacts-")
    );
    let stacks = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name("pixel-prompt-prod")
            .send(),
    );
    assert!(stacks.is_err(), "the stack is gone");
    // The ledger stays.
    assert_eq!(history(&project, &aws, "prod").len(), 1);
}

#[test]
fn prune_keeps_recent_and_live_artifacts() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let staging = project
        .deploy_with(&aws, "staging", bootstrap(), &[], 0)
        .json();
    let a = staging["artifact"]["key"].as_str().unwrap().to_owned();
    let first = project
        .deploy_with(&aws, "dev", other_bootstrap(), &[], 0)
        .json();
    let b = first["artifact"]["key"].as_str().unwrap().to_owned();
    // A third artifact that dev stops using.
    let third = common::compile_bootstrap(7);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 640\n",
    );
    let c = project.deploy_with(&aws, "dev", &third, &[], 0).json()["artifact"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    project.expect(&aws, &["rollback", "dev", "--yes"], 0);

    let no_tty = project.expect(&aws, &["prune", "--keep", "1"], 2);
    assert!(no_tty.stderr.contains("pass --yes"), "{}", no_tty.stderr);
    let pruned = project
        .expect(
            &aws,
            &["prune", "--keep", "1", "--yes", "--output", "json"],
            0,
        )
        .json();
    assert_eq!(pruned["deleted"], serde_json::json!([c]));
    let kept: Vec<String> = serde_json::from_value(pruned["kept"].clone()).unwrap();
    assert!(kept.contains(&a) && kept.contains(&b), "{kept:?}");
}
