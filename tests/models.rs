//! The model check (`validate --online`, and `deploy` before building) against the
//! local AWS started with `--fake-providers`: OpenAI's and Gemini's model lists and
//! Bedrock's lifecycle, as each provider reports them. Keys come from the local AWS's
//! SSM, as they would from AWS; no real provider host is ever asked.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project};

/// A local AWS with the fake providers, and the keys dev and staging need in its SSM.
fn start() -> LocalAws {
    let aws = LocalAws::with_keys_and(&["--fake-providers"]);
    for env in ["dev", "staging"] {
        for name in [
            "openai-api-key",
            "google-api-key",
            "recraft-api-key",
            "stability-api-key",
        ] {
            aws.put_secure_string(&format!("/pixel-prompt/{env}/{name}"), KEY);
        }
    }
    aws
}

const KEY: &str = "sk-model-check-key-61c0";

/// Marks a model active, scheduled or retired at the provider.
fn set_model(aws: &LocalAws, provider: &str, model: &str, state: &str, shutdown: Option<&str>) {
    let body = serde_json::json!({
        "provider": provider, "model": model, "state": state, "shutdown_date": shutdown,
    });
    aws.control("/_local-aws/providers/models", &body.to_string());
}

/// `YYYY-MM-DD`, `days` from today (UTC).
fn in_days(days: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let date = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", now + days * 86_400),
            "+%Y-%m-%d",
        ])
        .output()
        .unwrap();
    String::from_utf8(date.stdout).unwrap().trim().to_owned()
}

fn validate(project: &Project, aws: &LocalAws, args: &[&str], code: i32) -> common::Run {
    let output = project
        .pixelctl(aws)
        .env(
            "PIXELCTL_PROVIDER_BASE_URLS",
            aws.fake_providers.as_deref().unwrap(),
        )
        .args(["validate", "--online"])
        .args(args)
        .output()
        .unwrap();
    common::Run::of(output).exited(code, &format!("pixelctl validate --online {args:?}"))
}

#[test]
fn validate_online_asks_each_provider_about_each_model() {
    let aws = start();
    let project = Project::copy();
    let run = validate(&project, &aws, &["dev"], 0);
    for line in [
        "ok         GPT Image 2.6 Sunburst  openai/gpt-image-2.6-sunburst",
        "ok         Gemini 3.1 Flash Image  gemini/gemini-3.1-flash-image",
        "ok         Stable Image Ultra      bedrock/stability.stable-image-ultra-v1:1",
        "ok         enhance                 openai/gpt-6-luna",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{}", run.stdout);
    }
    // Each list was fetched once, with the key from SSM; Bedrock was asked for its lifecycle.
    let asked: Vec<(String, String)> = aws
        .provider_requests()
        .iter()
        .map(|request| {
            (
                request["provider"].as_str().unwrap_or_default().to_owned(),
                request["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            ("openai".to_owned(), "/openai/v1/models".to_owned()),
            ("gemini".to_owned(), "/gemini/v1beta/models".to_owned()),
        ],
        "{asked:?}"
    );
    let calls = aws.requests();
    assert!(
        calls
            .iter()
            .any(|call| call.starts_with("GET /foundation-models/")),
        "{calls:?}"
    );
    assert!(!run.stdout.contains(KEY) && !run.stderr.contains(KEY));

    // Staging: Black Forest Labs, Recraft and Stability publish no list: unchecked, said so.
    let staging = validate(&project, &aws, &["staging", "--output", "json"], 0);
    let report: serde_json::Value = serde_json::from_str(&staging.stdout).unwrap();
    let models = report["environments"][0]["models"]["models"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(models.len(), 10, "nine models and the enhance model");
    let status = |model: &str| {
        models
            .iter()
            .find(|finding| finding["model"] == model)
            .map(|finding| finding["status"].as_str().unwrap_or_default().to_owned())
            .unwrap()
    };
    assert_eq!(status("gemini-3-pro-image"), "ok");
    assert_eq!(status("stability.sd3-5-large-v1:0"), "ok");
    assert_eq!(status("flux-2-pro"), "unchecked");
    assert_eq!(status("recraftv4_1"), "unchecked");
}

#[test]
fn a_model_retiring_soon_is_a_warning_and_one_shut_down_fails() {
    let aws = start();
    let project = Project::copy();
    let soon = in_days(30);
    set_model(
        &aws,
        "openai",
        "gpt-image-2.6-sunburst",
        "scheduled",
        Some(&soon),
    );
    set_model(
        &aws,
        "bedrock",
        "stability.stable-image-ultra-v1:1",
        "scheduled",
        Some(&in_days(200)),
    );
    let run = validate(&project, &aws, &["dev"], 0);
    assert!(
        run.stdout.contains(&format!(
            "RETIRING   GPT Image 2.6 Sunburst  openai/gpt-image-2.6-sunburst              shuts down {soon}, in 30 days"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&format!(
            "`gpt-image-2.6-sunburst` (openai) shuts down {soon}"
        )),
        "{}",
        run.stderr
    );
    // Bedrock's end of life 200 days away: fine for now, and shown.
    assert!(run.stdout.contains("served; shuts down"), "{}", run.stdout);

    set_model(&aws, "gemini", "gemini-3.1-flash-image", "retired", None);
    let failed = validate(&project, &aws, &["dev"], 2);
    assert!(
        failed.stdout.contains("SHUT DOWN  Gemini 3.1 Flash Image  gemini/gemini-3.1-flash-image              the Gemini API's model list (GET /v1beta/models) no longer names it"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stderr.contains("1 configured model is shut down"),
        "{}",
        failed.stderr
    );
}

#[test]
fn deploy_refuses_a_model_the_provider_reports_as_shut_down_before_building() {
    let aws = start();
    let project = Project::copy();
    set_model(
        &aws,
        "bedrock",
        "stability.stable-image-ultra-v1:1",
        "retired",
        None,
    );
    aws.clear_requests();
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let output = project
        .pixelctl(&aws)
        .env(
            "PIXELCTL_PROVIDER_BASE_URLS",
            aws.fake_providers.as_deref().unwrap(),
        )
        .args(["deploy", "dev", "--yes", "--artifact", &artifact])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("1 of dev's models is shut down"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`stability.stable-image-ultra-v1:1` (bedrock, Stable Image Ultra): Bedrock does not offer it in us-west-2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("replace it in environments/dev.yaml"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Using the prebuilt artifact"),
        "it stopped before packaging: {stderr}"
    );
    // Nothing was created: no bucket, no upload, no change set.
    let calls = aws.requests();
    for forbidden in ["CreateChangeSet", "CreateBucket", "PUT /"] {
        assert!(
            !calls.iter().any(|call| call.starts_with(forbidden)),
            "{forbidden} in {calls:?}"
        );
    }

    // --no-model-check skips the question (the deploy goes on).
    let skipped = project.deploy(&aws, "dev", &["--no-model-check"], 0);
    assert_eq!(skipped.json()["outcome"], "created");
}

#[test]
fn against_the_local_aws_no_provider_is_asked_without_base_urls() {
    let aws = start();
    let project = Project::copy();
    let run = project.expect(&aws, &["validate", "--online", "dev"], 0);
    assert!(
        run.stdout.contains("unchecked  GPT Image 2.6 Sunburst  openai/gpt-image-2.6-sunburst              not asked: with a custom AWS endpoint pixelctl contacts no real provider; set PIXELCTL_PROVIDER_BASE_URLS"),
        "{}",
        run.stdout
    );
    // Bedrock is asked through the AWS endpoint, the local AWS.
    assert!(
        run.stdout.contains("ok         Stable Image Ultra"),
        "{}",
        run.stdout
    );
    assert!(
        aws.provider_requests().is_empty(),
        "{:?}",
        aws.provider_requests()
    );

    let bad = project
        .pixelctl(&aws)
        .env("PIXELCTL_PROVIDER_BASE_URLS", "{\"openai\": \"ftp://x\"}")
        .args(["validate", "--online", "dev"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(stderr.contains("PIXELCTL_PROVIDER_BASE_URLS"), "{stderr}");
}
