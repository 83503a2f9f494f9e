//! `pixelctl deploy`, `diff` and `outputs` against the local AWS over real
//! HTTP, as a user (or a CI pipeline, with no terminal) runs them.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, block_on};

fn outputs(project: &Project, aws: &LocalAws, env: &str) -> serde_json::Value {
    project
        .expect(aws, &["outputs", env, "--format", "json"], 0)
        .json()["outputs"]
        .clone()
}

#[test]
fn first_deploy_creates_the_stack_and_writes_frontend_env_from_its_outputs() {
    let aws = LocalAws::start();
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
        function.runtime().map(|runtime| runtime.as_str()),
        Some("provided.al2023")
    );
}

#[test]
fn second_deploy_with_nothing_changed_makes_two_read_calls_and_no_change_set() {
    let aws = LocalAws::start();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);

    aws.clear_requests();
    let run = project.deploy(&aws, "dev", &[], 0);
    assert_eq!(run.json()["outcome"], "no_changes");
    assert!(run.stderr.contains("no changes"), "{}", run.stderr);
    assert_eq!(aws.requests(), ["DescribeStacks", "GetTemplate"]);
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
    assert!(
        text.stdout.contains("result    no changes"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_changed_value_shows_exactly_that_change_and_is_applied() {
    let aws = LocalAws::start();
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
            summary.execution_status().map(|status| status.as_str()) == Some("AVAILABLE")
        })
        .collect();
    assert!(waiting.is_empty(), "{waiting:?}");
}

#[test]
fn a_failing_create_rolls_back_with_the_reason_and_the_next_deploy_recovers() {
    let aws = LocalAws::start();
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
    let aws = LocalAws::start();
    let project = Project::copy();
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
fn cloudfront_in_progress_is_waited_out_or_times_out_clearly() {
    let aws = LocalAws::start();
    let project = Project::copy();
    aws.control("/_local-aws/config", r#"{"cloudfront_deploy_seconds": 2}"#);

    let run = project.deploy(&aws, "dev", &[], 0);
    assert!(
        run.stderr.contains("Waiting for CloudFront"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("deployed after"), "{}", run.stderr);
    assert!(
        run.json()["cloudfront"]
            .as_str()
            .unwrap()
            .ends_with("Deployed")
    );

    aws.control("/_local-aws/config", r#"{"cloudfront_deploy_seconds": 30}"#);
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
    let aws = LocalAws::start();
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
    let aws = LocalAws::start();
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
    let aws = LocalAws::start();
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
fn nothing_a_deploy_prints_holds_a_secret() {
    let aws = LocalAws::start();
    let project = Project::copy();
    let secret = "pixelprompt-provider-key-7d1c42";
    aws.put_secure_string("/pixel-prompt/dev/openai-api-key", secret);

    let mut printed = String::new();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    for output in ["json", "text"] {
        let run = project.expect(
            &aws,
            &[
                "deploy",
                "dev",
                "--yes",
                "--artifact",
                &artifact,
                "--output",
                output,
            ],
            0,
        );
        printed.push_str(&run.stdout);
        printed.push_str(&run.stderr);
    }
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 640\n",
    );
    let run = project.deploy(&aws, "dev", &[], 0);
    printed.push_str(&run.stdout);
    printed.push_str(&run.stderr);
    for format in ["table", "json", "dotenv"] {
        printed.push_str(
            &project
                .expect(&aws, &["outputs", "dev", "--format", format], 0)
                .stdout,
        );
    }
    printed.push_str(&project.read("frontend/.env"));
    assert!(
        printed.contains("pixel-prompt-dev"),
        "the scan must see real output"
    );
    assert!(!printed.contains(secret), "a secret leaked:\n{printed}");
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
    let aws = LocalAws::start();
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
    let aws = LocalAws::start();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    aws.control("/_local-aws/config", r#"{"resource_delay_ms": 300}"#);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 768\n",
    );
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let mut first = project.spawn(&aws, &["deploy", "dev", "--yes", "--artifact", &artifact]);
    let started = std::time::Instant::now();
    loop {
        let stacks = block_on(
            aws.cloudformation()
                .describe_stacks()
                .stack_name("pixel-prompt-dev")
                .send(),
        )
        .unwrap();
        if stacks.stacks()[0].stack_status().unwrap().as_str() == "UPDATE_IN_PROGRESS" {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the first update never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // The second deploy of the same configuration waits, shows the events, then finds nothing to do.
    let second = project.deploy(&aws, "dev", &[], 0);
    assert!(
        second
            .stderr
            .contains("is UPDATE_IN_PROGRESS: waiting for that operation to settle"),
        "{}",
        second.stderr
    );
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
