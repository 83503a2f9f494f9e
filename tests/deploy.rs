//! `pixelctl deploy`, `diff` and `outputs` against the local AWS over real
//! HTTP, as a user (or a CI pipeline, with no terminal) runs them.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_cloudformation::types::DeploymentConfigMode;
use aws_sdk_cloudformation::types::ExecutionStatus;
use aws_sdk_lambda::types::Runtime;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use common::{LocalAws, Project, block_on};

fn outputs(project: &Project, aws: &LocalAws, env: &str) -> serde_json::Value {
    project
        .expect(aws, &["outputs", env, "--format", "json"], 0)
        .json()["outputs"]
        .clone()
}

#[test]
fn first_deploy_creates_the_stack_and_writes_frontend_env_from_its_outputs() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.write("frontend/.env", "# my settings\nVITE_FEATURE_FLAG=on\n");

    let report = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(report["outcome"], "created");
    assert_eq!(report["stack_status"], "CREATE_COMPLETE");
    assert_eq!(report["stack_name"], "pixel-prompt-dev");

    let outputs = outputs(&project, &aws, "dev");
    for name in [
        "ApiEndpoint",
        "CloudFrontDomain",
        "DistributionId",
        "ImagesBucket",
        "FunctionName",
    ] {
        assert!(
            outputs[name]
                .as_str()
                .is_some_and(|value| !value.is_empty()),
            "output {name}: {outputs}"
        );
    }
    // Against the local AWS, .env names the URLs it serves them at: a
    // browser on this machine can open them.
    let port = aws.endpoint.rsplit(':').next().unwrap();
    let api_id = outputs["ApiEndpoint"]
        .as_str()
        .unwrap()
        .trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let label = outputs["CloudFrontDomain"]
        .as_str()
        .unwrap()
        .strip_suffix(".cloudfront.net")
        .unwrap()
        .to_owned();
    let env = project.read("frontend/.env");
    let expected = format!(
        "# my settings\nVITE_FEATURE_FLAG=on\nVITE_API_ENDPOINT=http://{}.execute-api.localhost:{port}\nVITE_CLOUDFRONT_DOMAIN={}.cloudfront.localhost:{port}\nVITE_S3_BUCKET={}\nVITE_ENVIRONMENT=dev\n",
        api_id.to_lowercase(),
        label.to_lowercase(),
        outputs["ImagesBucket"].as_str().unwrap(),
    );
    assert_eq!(env, expected);
    let dotenv = project
        .expect(&aws, &["outputs", "dev", "--format", "dotenv"], 0)
        .stdout;
    assert!(env.ends_with(&dotenv), "outputs --format dotenv:\n{dotenv}");

    let function = common::function_configuration(&aws, "pixel-prompt-dev-api");
    assert_eq!(function.memory_size(), Some(256));
    assert_eq!(
        function.runtime().map(Runtime::as_str),
        Some("provided.al2023")
    );
}

#[test]
fn second_deploy_with_nothing_changed_makes_five_read_calls_and_no_change_set() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);

    aws.clear_requests();
    let run = project.deploy(&aws, "dev", &[], 0);
    assert_eq!(run.json()["outcome"], "no_changes");
    assert!(run.stderr.contains("no changes"), "{}", run.stderr);
    // The provider keys are there (one SSM call for dev's two), the model check asks
    // Bedrock about dev's Bedrock model, then the stack is read, then each function's
    // running code is compared with the stack's (a hotswap's would be healed); the
    // two functions are read at once, so in either order.
    let (model_check, mut calls): (Vec<String>, Vec<String>) = aws
        .requests()
        .into_iter()
        .partition(|call| call.starts_with("GET /foundation-models/"));
    if calls.len() == 5 {
        calls[3..].sort();
    }
    assert_eq!(
        calls,
        [
            "DescribeParameters",
            "DescribeStacks",
            "GetTemplate",
            "GET /2015-03-31/functions/pixel-prompt-dev-api/configuration",
            "GET /2015-03-31/functions/pixel-prompt-dev-worker/configuration"
        ]
    );
    assert_eq!(model_check.len(), 1, "{model_check:?}");
    // Outputs are there after a no-change deploy too.
    assert!(run.json()["outputs"]["ApiEndpoint"].is_string());

    let text = project.expect(
        &aws,
        &[
            "deploy",
            "dev",
            "--yes",
            "--artifact",
            common::bootstrap().to_str().unwrap(),
        ],
        0,
    );
    common::assert_whole_run!("deploy_no_changes_text", project.dir.path(), &text);
}

#[test]
fn a_changed_value_shows_exactly_that_change_and_is_applied() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 1024\n",
    );

    let diff = project.expect(
        &aws,
        &[
            "diff",
            "dev",
            "--artifact",
            common::bootstrap().to_str().unwrap(),
        ],
        0,
    );
    assert!(
        diff.stdout
            .contains("~ modify  ApiFunction  AWS::Lambda::Function"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("LambdaMemoryMb: 256 -> 1024"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout
            .contains("1 resource change (0 add, 1 modify, 0 remove)"),
        "{}",
        diff.stdout
    );

    let report = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(report["outcome"], "updated");
    let resources = report["plan"]["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1, "{resources:?}");
    assert_eq!(resources[0]["logical_id"], "ApiFunction");
    assert_eq!(resources[0]["action"], "modify");
    assert_eq!(resources[0]["replacement"], "no");
    assert_eq!(resources[0]["properties"][0]["name"], "MemorySize");
    let parameters = report["plan"]["parameters"].as_array().unwrap();
    assert_eq!(parameters.len(), 1, "{parameters:?}");
    assert_eq!(parameters[0]["key"], "LambdaMemoryMb");
    assert_eq!(parameters[0]["old"], "256");
    assert_eq!(parameters[0]["new"], "1024");

    let function = common::function_configuration(&aws, "pixel-prompt-dev-api");
    assert_eq!(function.memory_size(), Some(1024));

    // diff left nothing behind: no change set waits on the stack.
    let change_sets = block_on(
        aws.cloudformation()
            .list_change_sets()
            .stack_name("pixel-prompt-dev")
            .send(),
    )
    .unwrap();
    let waiting: Vec<_> = change_sets
        .summaries()
        .iter()
        .filter(|summary| {
            summary.execution_status().map(ExecutionStatus::as_str) == Some("AVAILABLE")
        })
        .collect();
    assert!(waiting.is_empty(), "{waiting:?}");
}

#[test]
fn a_failing_create_rolls_back_with_the_reason_and_the_next_deploy_recovers() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    aws.fail_next(
        "pixel-prompt-dev",
        "ApiFunction",
        "Resource handler returned message: boom (injected)",
    );

    let failed = project.deploy(&aws, "dev", &[], 1);
    assert!(
        failed.stderr.contains("the stack is now ROLLBACK_COMPLETE"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("CREATE_FAILED ApiFunction (AWS::Lambda::Function): Resource handler returned message: boom (injected)"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("run `pixelctl deploy` again"),
        "{}",
        failed.stderr
    );

    // The images bucket (`RetainExceptOnCreate`) went with the failed create.
    assert!(
        !aws.buckets()
            .iter()
            .any(|bucket| bucket.starts_with("pixel-prompt-dev-imagesbucket")),
        "{:?}",
        aws.buckets()
    );

    let recovered = project.deploy(&aws, "dev", &[], 0);
    assert!(
        recovered
            .stderr
            .contains("ROLLBACK_COMPLETE: its first create failed"),
        "{}",
        recovered.stderr
    );
    assert_eq!(recovered.json()["outcome"], "created");
    assert_eq!(recovered.json()["stack_status"], "CREATE_COMPLETE");
}

#[test]
fn a_failing_update_rolls_back_to_the_running_version() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Standard mode: a failed update rolls back (dev deploys in express mode).
    project.edit(
        "environments/dev.yaml",
        "deploy_mode: express",
        "deploy_mode: standard",
    );
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  timeout_seconds: 20\n",
    );
    aws.fail_next(
        "pixel-prompt-dev",
        "ApiFunction",
        "Rate exceeded (injected)",
    );

    let failed = project.deploy(&aws, "dev", &[], 1);
    assert!(
        failed
            .stderr
            .contains("the stack is now UPDATE_ROLLBACK_COMPLETE"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("Rate exceeded (injected)"),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains("the previous version is still running"),
        "{}",
        failed.stderr
    );
    let function = common::function_configuration(&aws, "pixel-prompt-dev-api");
    assert_eq!(function.timeout(), Some(29));

    let retried = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(retried["outcome"], "updated");
    let function = common::function_configuration(&aws, "pixel-prompt-dev-api");
    assert_eq!(function.timeout(), Some(20));
}

#[test]
fn an_express_deploy_says_so_and_a_failed_one_is_left_for_the_next_deploy() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // dev is express by default: the change set carries DeploymentConfig Mode EXPRESS.
    let planned = project.deploy(&aws, "dev", &["--no-execute"], 0).json();
    assert_eq!(planned["deploy_mode"], "express", "{planned}");
    let kept = block_on(
        aws.cloudformation()
            .describe_change_set()
            .stack_name("pixel-prompt-dev")
            .change_set_name(planned["change_set"].as_str().unwrap())
            .send(),
    )
    .unwrap();
    let mode = kept.deployment_config().and_then(|config| config.mode());
    assert_eq!(mode.map(DeploymentConfigMode::as_str), Some("EXPRESS"));
    let created = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(created["outcome"], "created", "{created}");
    assert_eq!(created["deploy_mode"], "express");

    // A failed express update is not rolled back: the stack stays UPDATE_FAILED, and
    // the message says what that leaves and what to do.
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  timeout_seconds: 20\n",
    );
    aws.fail_next(
        "pixel-prompt-dev",
        "ApiFunction",
        "Rate exceeded (injected)",
    );
    let failed = project.deploy(&aws, "dev", &[], 1);
    assert!(
        failed.stderr.contains("the stack is now UPDATE_FAILED"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("express mode rolls nothing back")
            && failed.stderr.contains("run `pixelctl deploy dev` again")
            && failed.stderr.contains("`pixelctl rollback dev`"),
        "{}",
        failed.stderr
    );
    // The next deploy updates over the failed stack.
    let retried = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(retried["outcome"], "updated", "{retried}");
    assert_eq!(retried["stack_status"], "UPDATE_COMPLETE");
    let function = common::function_configuration(&aws, "pixel-prompt-dev-api");
    assert_eq!(function.timeout(), Some(20));

    // --standard overrides it for one deploy; staging is standard by default.
    project.edit(
        "environments/dev.yaml",
        "  timeout_seconds: 20\n",
        "  timeout_seconds: 25\n",
    );
    let standard = project
        .deploy(&aws, "dev", &["--standard", "--no-execute"], 0)
        .json();
    assert_eq!(standard["deploy_mode"], "standard");
    let kept = block_on(
        aws.cloudformation()
            .describe_change_set()
            .stack_name("pixel-prompt-dev")
            .change_set_name(standard["change_set"].as_str().unwrap())
            .send(),
    )
    .unwrap();
    assert!(kept.deployment_config().is_none(), "{kept:?}");
    let staging = project.deploy(&aws, "staging", &["--no-execute"], 0).json();
    assert_eq!(staging["deploy_mode"], "standard");
}

#[test]
fn prod_refuses_to_replace_a_stateful_resource_unless_allow_replace_names_it() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let created = project.deploy(&aws, "prod", &["--no-wait-cdn"], 0);
    assert!(
        created
            .stderr
            .contains("a stack policy that denies replacing or removing stateful resources"),
        "{}",
        created.stderr
    );
    let policy = || -> serde_json::Value {
        let body = block_on(
            aws.cloudformation()
                .get_stack_policy()
                .stack_name("pixel-prompt-prod")
                .send(),
        )
        .unwrap();
        serde_json::from_str(body.stack_policy_body().unwrap()).unwrap()
    };
    let guard = policy();
    assert_eq!(guard["Statement"][1]["Effect"], "Deny", "{guard}");
    assert_eq!(guard["Statement"][1]["Resource"], "*", "{guard}");
    // A new log group name replaces the access log group (its history is lost).
    project.edit(
        "templates/pixel-prompt.yaml",
        "${AWS::StackName}-access\"",
        "${AWS::StackName}-access-v2\"",
    );
    let refused = project.deploy(&aws, "prod", &["--no-wait-cdn"], 1);
    assert!(
        refused.stderr.contains(
            "refused: this change would lose stateful resources of prod (termination_protection is on): \
             ApiAccessLogGroup (AWS::Logs::LogGroup, replaced: a new resource, its data or history gone)"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("deploy again with --allow-replace ApiAccessLogGroup"),
        "{}",
        refused.stderr
    );
    let outputs = project.expect(&aws, &["outputs", "prod", "--output", "json"], 0);
    assert_eq!(
        outputs.json()["outputs"]["AccessLogGroup"],
        "/aws/apigateway/pixel-prompt-prod-access",
        "nothing changed"
    );
    // The stack policy backs the guard: the same change executed outside pixelctl
    // (a reviewed change set run from the console) is denied and rolled back.
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let planned = project.expect(
        &aws,
        &["plan", "prod", "--artifact", &artifact, "--output", "json"],
        0,
    );
    let change_set = planned.json()["change_set"].as_str().unwrap().to_owned();
    block_on(
        aws.cloudformation()
            .execute_change_set()
            .stack_name("pixel-prompt-prod")
            .change_set_name(&change_set)
            .send(),
    )
    .unwrap();
    // The local AWS applies at once: the stack has settled when the call returns.
    let denied = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name("pixel-prompt-prod")
            .send(),
    )
    .unwrap();
    let denied = &denied.stacks()[0];
    assert_eq!(
        denied.stack_status().unwrap().as_str(),
        "UPDATE_ROLLBACK_COMPLETE"
    );
    let events = block_on(
        aws.cloudformation()
            .describe_stack_events()
            .stack_name("pixel-prompt-prod")
            .send(),
    )
    .unwrap();
    let reasons: Vec<&str> = events
        .stack_events()
        .iter()
        .filter_map(|event| event.resource_status_reason())
        .collect();
    assert!(
        reasons.iter().any(|reason| reason.contains(
            "Action denied by stack policy: Statement [#2] does not allow [Update:Replace] \
             for resource [LogicalResourceId/ApiAccessLogGroup]"
        )),
        "{reasons:?}"
    );
    let outputs = project.expect(&aws, &["outputs", "prod", "--output", "json"], 0);
    assert_eq!(
        outputs.json()["outputs"]["AccessLogGroup"],
        "/aws/apigateway/pixel-prompt-prod-access",
        "the stack policy kept the log group"
    );
    let allowed = project.deploy(
        &aws,
        "prod",
        &["--no-wait-cdn", "--allow-replace", "ApiAccessLogGroup"],
        0,
    );
    assert_eq!(allowed.json()["outcome"], "updated", "{}", allowed.stderr);
    assert!(
        allowed
            .stderr
            .contains("stack policy lifted for ApiAccessLogGroup for this update"),
        "{}",
        allowed.stderr
    );
    assert!(
        allowed.stderr.contains("stack policy restored"),
        "{}",
        allowed.stderr
    );
    assert_eq!(policy(), guard, "the whole guard again after the update");
    assert_eq!(
        allowed.json()["outputs"]["AccessLogGroup"],
        "/aws/apigateway/pixel-prompt-prod-access-v2"
    );
    // dev is not protected: the same kind of change needs no flag there.
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "templates/pixel-prompt.yaml",
        "${AWS::StackName}-access-v2\"",
        "${AWS::StackName}-access-v3\"",
    );
    let dev = project.deploy(&aws, "dev", &[], 0);
    assert_eq!(dev.json()["outcome"], "updated", "{}", dev.stderr);
}

#[test]
fn cloudfront_in_progress_is_waited_out_or_times_out_clearly() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Every distribution stays InProgress until released: the deploy is surely
    // waiting when the test lets it go, however fast or slow the machine.
    let hold = r#"{"what": "cloudfront-distributions"}"#;
    aws.control("/_local-aws/hold", hold);
    let waiting = project.start_deploy(&aws, "dev", &[]);
    waiting.wait_for_stderr("Waiting for CloudFront");
    aws.control("/_local-aws/release", hold);
    let run = waiting.finish(0);
    assert!(run.stderr.contains("deployed after"), "{}", run.stderr);
    assert!(
        run.json()["cloudfront"]
            .as_str()
            .unwrap()
            .ends_with("Deployed")
    );

    // Held and never released: the wait ends at --cdn-timeout.
    aws.control("/_local-aws/hold", hold);
    project.edit(
        "environments/defaults.yaml",
        "price_class: PriceClass_100",
        "price_class: PriceClass_200",
    );
    let timed_out = project.deploy(&aws, "dev", &["--cdn-timeout", "1"], 1);
    assert!(
        timed_out
            .stderr
            .contains("is still InProgress after 1s; the stack itself is deployed"),
        "{}",
        timed_out.stderr
    );

    let skipped = project.deploy(&aws, "prod", &["--no-wait-cdn"], 0);
    assert!(
        skipped.json()["cloudfront"]
            .as_str()
            .unwrap()
            .contains("not waited for")
    );
}

#[test]
fn without_a_terminal_a_confirmation_fails_fast_and_names_yes() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    let run = project.expect(&aws, &["deploy", "staging", "--artifact", &artifact], 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(run.stderr.contains("pass --yes"), "{}", run.stderr);
    assert!(
        aws.requests().is_empty(),
        "nothing may be sent: {:?}",
        aws.requests()
    );

    // --no-execute needs no answer: it plans, keeps the change set and says its name.
    let planned = project.expect(
        &aws,
        &["deploy", "staging", "--artifact", &artifact, "--no-execute"],
        0,
    );
    assert!(
        planned.stdout.contains("(kept for review)"),
        "{}",
        planned.stdout
    );
    let stacks = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name("pixel-prompt-staging")
            .send(),
    )
    .unwrap();
    assert_eq!(
        stacks.stacks()[0].stack_status().unwrap().as_str(),
        "REVIEW_IN_PROGRESS"
    );
}

#[test]
fn prod_asks_nothing_and_turns_on_termination_protection() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let run = project.expect(
        &aws,
        &["deploy", "prod", "--artifact", &artifact, "--no-wait-cdn"],
        0,
    );
    assert!(
        run.stdout.contains("result    created, CREATE_COMPLETE"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("termination protection enabled"),
        "{}",
        run.stderr
    );
    let stacks = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name("pixel-prompt-prod")
            .send(),
    )
    .unwrap();
    assert_eq!(
        stacks.stacks()[0].enable_termination_protection(),
        Some(true)
    );
    let tags: Vec<(String, String)> = stacks.stacks()[0]
        .tags()
        .iter()
        .map(|tag| {
            (
                tag.key().unwrap_or_default().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        tags.contains(&("CostCenter".to_owned(), "pixel-prompt-prod".to_owned())),
        "{tags:?}"
    );
}

#[test]
fn outputs_come_as_table_json_and_dotenv() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let missing = project.expect(&aws, &["outputs", "dev"], 1);
    assert!(
        missing.stderr.contains(
            "stack `pixel-prompt-dev` does not exist; deploy it with `pixelctl deploy dev`"
        )
    );

    project.deploy(&aws, "dev", &[], 0);
    let json = outputs(&project, &aws, "dev");
    let table = project.expect(&aws, &["outputs", "dev"], 0).stdout;
    assert!(table.starts_with("OUTPUT"), "{table}");
    let endpoint = json["ApiEndpoint"].as_str().unwrap();
    assert!(
        table.lines().any(|line| line.starts_with("ApiEndpoint ")
            && line.ends_with(&format!(" {endpoint}"))),
        "{table}"
    );
    let dotenv = project
        .expect(&aws, &["outputs", "dev", "--format", "dotenv"], 0)
        .stdout;
    let local = project
        .expect(&aws, &["outputs", "dev", "--format", "json"], 0)
        .json()["served_locally"]
        .clone();
    assert!(
        dotenv.contains(&format!(
            "VITE_CLOUDFRONT_DOMAIN={}\n",
            local["CloudFrontDomain"].as_str().unwrap()
        )),
        "{dotenv}"
    );
    assert!(
        local["CloudFrontDomain"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                ".cloudfront.localhost:{}",
                aws.endpoint.rsplit(':').next().unwrap()
            )),
        "{local}"
    );
    assert!(table.contains("served by the local AWS at:"), "{table}");
    assert!(dotenv.ends_with("VITE_ENVIRONMENT=dev\n"), "{dotenv}");
}

#[test]
fn missing_credentials_are_one_actionable_line() {
    let aws = LocalAws::start();
    let project = Project::copy();
    let output = project
        .pixelctl(&aws)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", project.path("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            project.path("no-credentials"),
        )
        .args(["outputs", "dev"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert!(stderr.contains("--profile"), "{stderr}");
}

#[test]
fn health_is_checked_only_where_asked_and_can_fail_the_deploy() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // The API itself, served locally, answers the health check.
    let mut api = project.serve_api("dev");
    let base = api.base.clone();

    let healthy_url = format!("{base}/gallery/list");
    let report = project
        .deploy(
            &aws,
            "dev",
            &["--health-url", &healthy_url, "--require-healthy"],
            0,
        )
        .json();
    assert_eq!(report["health"]["healthy"], true);
    assert_eq!(report["health"]["status"], 200);

    // Without --health-url, the deployed API is checked where the local AWS
    // serves it, never at the stack's real AWS hostname.
    let local = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(local["health"]["checked"], true, "{local}");
    assert_eq!(local["health"]["healthy"], true, "{local}");
    let url = local["health"]["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://") && url.contains(".execute-api.localhost:"),
        "{url}"
    );

    // A dead API fails the deploy with --require-healthy, and the report is still printed.
    api.stop();
    let failed = project.deploy(
        &aws,
        "dev",
        &[
            "--health-url",
            &healthy_url,
            "--require-healthy",
            "--health-timeout",
            "2",
        ],
        1,
    );
    assert_eq!(failed.json()["health"]["healthy"], false);
    assert!(
        failed.stderr.contains("did not pass its health check"),
        "{}",
        failed.stderr
    );
}

#[test]
fn a_deploy_waits_for_an_operation_in_progress_then_goes_on() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    // The first update stops before the API function until released: still in
    // progress when the second deploy looks, however slow the machine.
    let hold = r#"{"what": "stack-resource", "stack_name": "pixel-prompt-dev", "logical_id": "ApiFunction"}"#;
    aws.control("/_local-aws/hold", hold);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let mut first = project.spawn(&aws, &["deploy", "dev", "--yes", "--artifact", &artifact]);
    aws.wait_held("pixel-prompt-dev", "ApiFunction");

    // The second deploy of the same configuration waits, shows the events, then finds nothing to do.
    let waiting = project.start_deploy(&aws, "dev", &[]);
    waiting.wait_for_stderr("is UPDATE_IN_PROGRESS: waiting for that operation to settle");
    aws.control("/_local-aws/release", hold);
    let second = waiting.finish(0);
    assert!(
        second.stderr.contains("UPDATE_COMPLETE ApiFunction"),
        "{}",
        second.stderr
    );
    assert_eq!(second.json()["outcome"], "no_changes");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(
        common::function_configuration(&aws, "pixel-prompt-dev-api").memory_size(),
        Some(768)
    );
}

/// What pixelctl asked AWS to do, counted.
fn count(aws: &LocalAws, operation: &str) -> usize {
    aws.requests()
        .iter()
        .filter(|call| call.as_str() == operation)
        .count()
}

fn stack_status(aws: &LocalAws, stack: &str) -> String {
    block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send(),
    )
    .unwrap()
    .stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_owned()
}

#[test]
fn a_rollback_that_keeps_failing_is_tried_once_and_the_skip_names_only_its_failures() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Standard mode: a failed update rolls back (dev deploys in express mode).
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
    project.edit(
        "environments/dev.yaml",
        "  log_retention_days: 3",
        "  log_retention_days: 5",
    );
    // The log group's update works, but undoing it keeps failing until fixed; the
    // function's update fails, which starts the rollback.
    aws.control(
        "/_local-aws/fail",
        r#"{"stack_name": "pixel-prompt-dev", "logical_id": "FunctionLogGroup", "reason": "log group stuck (injected)", "mode": "rollback_only", "until_fixed": true}"#,
    );
    aws.fail_next(
        "pixel-prompt-dev",
        "ApiFunction",
        "Rate exceeded (injected)",
    );

    let failed = project.deploy(&aws, "dev", &[], 1);
    assert!(
        failed
            .stderr
            .contains("the stack is now UPDATE_ROLLBACK_FAILED"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("UPDATE_FAILED FunctionLogGroup (AWS::Logs::LogGroup) during the rollback: log group stuck (injected)"),
        "{}",
        failed.stderr
    );
    // ApiFunction failed the update, not the rollback: AWS would refuse to skip it.
    assert!(
        failed
            .stderr
            .contains("pixelctl rollback dev --skip FunctionLogGroup\n")
            || failed
                .stderr
                .trim_end()
                .ends_with("pixelctl rollback dev --skip FunctionLogGroup"),
        "{}",
        failed.stderr
    );
    assert!(
        !failed.stderr.contains("--skip ApiFunction"),
        "{}",
        failed.stderr
    );

    // The next deploy continues the rollback once, sees it fail again, and stops.
    aws.clear_requests();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let again = project.run_within(
        &aws,
        &["deploy", "dev", "--yes", "--artifact", &artifact],
        std::time::Duration::from_mins(2),
    );
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("the rollback of pixel-prompt-dev failed again"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("--skip FunctionLogGroup"),
        "{}",
        again.stderr
    );
    assert_eq!(count(&aws, "ContinueUpdateRollback"), 1);
    assert_eq!(count(&aws, "CreateChangeSet"), 0);
    assert_eq!(
        stack_status(&aws, "pixel-prompt-dev"),
        "UPDATE_ROLLBACK_FAILED"
    );

    // Skipping what failed the update is refused by CloudFormation; skipping what
    // failed the rollback finishes it.
    let refused = project.expect(&aws, &["rollback", "dev", "--skip", "ApiFunction"], 1);
    assert!(
        refused.stderr.contains("cannot be skipped"),
        "{}",
        refused.stderr
    );
    let skipped = project.expect(&aws, &["rollback", "dev", "--skip", "FunctionLogGroup"], 0);
    assert!(
        skipped
            .stderr
            .contains("back on its previous version (UPDATE_ROLLBACK_COMPLETE)"),
        "{}",
        skipped.stderr
    );
}

#[test]
fn a_reserved_concurrency_the_account_cannot_give_is_refused_before_anything_changes() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // A new account: 50 concurrent executions, 10 of which Lambda keeps unreserved.
    aws.control(
        "/_local-aws/config",
        r#"{"lambda_account_concurrency": 50}"#,
    );
    aws.clear_requests();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let refused = project.expect(
        &aws,
        &["deploy", "prod", "--artifact", &artifact, "--no-wait-cdn"],
        1,
    );
    assert!(
        refused.stderr.contains("Lambda would refuse the reserved concurrency of 70 for the API and the worker together: the account's quota in us-west-2 is 50 concurrent executions, 50 of them unreserved"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("lower `lambda.reserved_concurrency` plus `worker.reserved_concurrency` to at most 40 together (0 is no reservation) in environments/prod.yaml"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("Service Quotas"),
        "{}",
        refused.stderr
    );
    let calls = aws.requests();
    for forbidden in ["CreateChangeSet", "CreateBucket", "PUT /"] {
        assert!(
            !calls.iter().any(|call| call.starts_with(forbidden)),
            "{forbidden} in {calls:?}"
        );
    }
    assert!(
        calls.contains(&"GET /2016-08-19/account-settings/".to_owned())
            || calls.iter().any(|call| call.contains("account-settings")),
        "{calls:?}"
    );

    // The API's 20 and the worker's 20 leave the 10 Lambda keeps.
    project.edit(
        "environments/prod.yaml",
        "  reserved_concurrency: 50",
        "  reserved_concurrency: 20",
    );
    let created = project.expect(
        &aws,
        &[
            "deploy",
            "prod",
            "--artifact",
            &artifact,
            "--no-wait-cdn",
            "--output",
            "json",
        ],
        0,
    );
    assert_eq!(created.json()["outcome"], "created");
    let concurrency = block_on(
        aws.lambda()
            .get_function_concurrency()
            .function_name("pixel-prompt-prod-api")
            .send(),
    )
    .unwrap();
    assert_eq!(concurrency.reserved_concurrent_executions(), Some(20));
    let worker = block_on(
        aws.lambda()
            .get_function_concurrency()
            .function_name("pixel-prompt-prod-worker")
            .send(),
    )
    .unwrap();
    assert_eq!(worker.reserved_concurrent_executions(), Some(20));
}

#[test]
fn the_watch_follows_its_own_operation_not_the_clock_nor_the_previous_one() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // Standard mode: a failed update rolls back (dev deploys in express mode).
    project.edit(
        "environments/dev.yaml",
        "deploy_mode: express",
        "deploy_mode: standard",
    );
    project.deploy(&aws, "dev", &[], 0);
    // The server's clock runs an hour ahead of this machine's, and the update starts
    // only when released, a while after ExecuteChangeSet returns.
    aws.control("/_local-aws/config", r#"{"clock_offset_seconds": 3600}"#);
    aws.control("/_local-aws/hold", r#"{"what": "stack-operations"}"#);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    aws.fail_next(
        "pixel-prompt-dev",
        "ApiFunction",
        "Rate exceeded (injected)",
    );
    aws.clear_requests();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let mut deploy = project
        .process(&aws)
        .args(["deploy", "dev", "--yes", "--artifact", &artifact])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (for a condition, not a time) until the deploy has watched a few times
    // after executing, or has ended.
    let watched_a_while = || {
        let calls = aws.requests();
        let executed = calls.iter().position(|call| call == "ExecuteChangeSet");
        executed.is_some_and(|at| {
            calls[at..]
                .iter()
                .filter(|call| call.as_str() == "DescribeStackEvents")
                .count()
                >= 3
        })
    };
    let started = std::time::Instant::now();
    while !watched_a_while() && deploy.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed().as_secs() < 120,
            "the deploy never executed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        deploy.try_wait().unwrap(),
        None,
        "the deploy ended before its update even started"
    );
    aws.control("/_local-aws/release", r#"{"what": "stack-operations"}"#);
    let output = deploy.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the stack is now UPDATE_ROLLBACK_COMPLETE"),
        "{stderr}"
    );
    assert!(stderr.contains("Rate exceeded (injected)"), "{stderr}");
    // The ledger records the failure, not the previous operation's success.
    let history = project
        .expect(&aws, &["history", "dev", "--output", "json"], 0)
        .json();
    assert_eq!(history["releases"][0]["succeeded"], false, "{history}");
    assert_eq!(
        history["releases"][0]["stack_status"],
        "UPDATE_ROLLBACK_COMPLETE"
    );
}

#[test]
fn stale_change_sets_are_removed_only_when_nothing_can_use_them() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 640\n",
    );
    // A change set kept for review survives a later deploy's planning (until that
    // deploy executes its own, which removes every other one, as CloudFormation does).
    let kept = project.expect(
        &aws,
        &[
            "deploy",
            "dev",
            "--yes",
            "--artifact",
            &artifact,
            "--no-execute",
            "--output",
            "json",
        ],
        0,
    );
    let kept_name = kept.json()["change_set"].as_str().unwrap().to_owned();
    project.edit(
        "environments/dev.yaml",
        "  memory_mb: 640\n",
        "  memory_mb: 768\n",
    );
    let diff = project.expect(&aws, &["diff", "dev", "--artifact", &artifact], 0);
    assert!(
        !diff
            .stderr
            .contains(&format!("removing change set {kept_name}")),
        "{}",
        diff.stderr
    );
    let listed = block_on(
        aws.cloudformation()
            .list_change_sets()
            .stack_name("pixel-prompt-dev")
            .send(),
    )
    .unwrap();
    assert!(
        listed
            .summaries()
            .iter()
            .any(|summary| summary.change_set_name() == Some(kept_name.as_str())),
        "the reviewed change set is gone"
    );
}

#[test]
fn a_409_conditional_conflict_is_retried_and_a_lost_answer_makes_no_duplicate_release() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // The template copy's first write meets a concurrent conditional write (409,
    // nothing written); the release record is written but its answer is lost (500),
    // so the SDK retries a write that already happened.
    aws.control(
        "/_local-aws/s3-faults",
        r#"{"fault": "conflict", "key_prefix": "templates/", "times": 2}"#,
    );
    aws.control(
        "/_local-aws/s3-faults",
        r#"{"fault": "lost_response", "key_prefix": "releases/dev/", "times": 1}"#,
    );
    let report = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(report["release"], 1, "{report}");
    let history = project
        .expect(&aws, &["history", "dev", "--output", "json"], 0)
        .json();
    let releases = history["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1, "{history}");
    let template = releases[0]["template"].clone();
    let stored = block_on(
        aws.s3()
            .head_object()
            .bucket(template["bucket"].as_str().unwrap())
            .key(template["key"].as_str().unwrap())
            .send(),
    );
    assert!(
        stored.is_ok(),
        "the template copy was never stored: {template}"
    );
}

#[test]
fn an_artifact_bucket_whose_setup_never_finished_is_repaired() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // A first deploy created the bucket, then failed before versioning it.
    let bucket = "pixelctl-artifacts-123456789012-us-west-2";
    block_on(
        aws.s3()
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let run = project.deploy(&aws, "dev", &[], 0);
    assert!(
        run.stderr
            .contains("was not versioned (its setup never finished): applied its settings now"),
        "{}",
        run.stderr
    );
    let versioning = block_on(aws.s3().get_bucket_versioning().bucket(bucket).send()).unwrap();
    assert_eq!(
        versioning.status(),
        Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled)
    );
    let blocked = block_on(aws.s3().get_public_access_block().bucket(bucket).send()).unwrap();
    assert_eq!(
        blocked
            .public_access_block_configuration()
            .and_then(PublicAccessBlockConfiguration::block_public_acls),
        Some(true)
    );
}

#[test]
fn the_plan_shows_the_changed_value_of_a_nested_property() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    project.edit(
        "environments/dev.yaml",
        "  global_per_hour: 100",
        "  global_per_hour: 150",
    );
    let diff = project.expect(
        &aws,
        &[
            "diff",
            "dev",
            "--artifact",
            common::bootstrap().to_str().unwrap(),
        ],
        0,
    );
    assert!(
        diff.stdout
            .contains("      Environment.Variables.GLOBAL_RATE_LIMIT: 100 -> 150\n"),
        "{}",
        diff.stdout
    );
    assert!(
        !diff.stdout.contains("      Environment: "),
        "{}",
        diff.stdout
    );
}

#[test]
fn an_empty_endpoint_variable_is_one_actionable_line_not_a_panic() {
    let aws = LocalAws::start();
    let project = Project::copy();
    let output = project
        .pixelctl(&aws)
        .env("AWS_ENDPOINT_URL", "")
        .args(["outputs", "dev"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim(),
        "error: AWS_ENDPOINT_URL is set but empty: unset it to use AWS (`unset AWS_ENDPOINT_URL`), or give the endpoint's URL"
    );
}
