//! pixelctl's offline commands (`render`, `validate`) run as a user runs them,
//! on a copy of the repository's environments and template.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Project, Run, assert_whole_run};

#[test]
fn validate_accepts_the_repository_environments() {
    let project = Project::copy();
    let run = project.offline(&["validate"], 0);
    assert_whole_run!("validate_ok", project.dir.path(), &run);
}

#[test]
fn render_writes_template_and_parameters_for_each_environment() {
    let project = Project::copy();
    let template = std::fs::read_to_string(project.path("templates/pixel-prompt.yaml")).unwrap();
    for env in ["dev", "staging", "prod"] {
        let out = project.path(&format!("out-{env}"));
        project.offline(&["render", env, "--out", out.to_str().unwrap()], 0);
        assert_eq!(
            std::fs::read_to_string(out.join("template.yaml")).unwrap(),
            template
        );
        let parameters = std::fs::read_to_string(out.join("parameters.json")).unwrap();
        insta::assert_snapshot!(format!("parameters_{env}"), parameters);
        let tags = std::fs::read_to_string(out.join("tags.json")).unwrap();
        insta::assert_snapshot!(format!("tags_{env}"), tags);
    }
}

#[test]
fn render_without_out_prints_the_template_and_json_has_parameters() {
    let project = Project::copy();
    let template = std::fs::read_to_string(project.path("templates/pixel-prompt.yaml")).unwrap();
    let Run { stdout, .. } = project.offline(&["render", "prod"], 0);
    assert_eq!(stdout, template);

    let Run { stdout, .. } = project.offline(&["render", "prod", "--output", "json"], 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["stack_name"], "pixel-prompt-prod");
    assert_eq!(json["parameters"]["GlobalRateLimitPerHour"], "2000");
    assert_eq!(json["parameters"]["IpRateLimitPerDay"], "100");
    assert_eq!(json["parameters"]["ModelCount"], "9");
}

#[test]
fn environments_keep_the_old_systems_values() {
    let project = Project::copy();
    let expected = [
        ("dev", "3", "100", "20"),
        ("staging", "9", "1000", "50"),
        ("prod", "9", "2000", "100"),
    ];
    for (env, models, global, per_ip) in expected {
        let Run { stdout, .. } = project.offline(&["render", env, "--output", "json"], 0);
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let parameters = &json["parameters"];
        assert_eq!(json["stack_name"], format!("pixel-prompt-{env}"));
        assert_eq!(parameters["ModelCount"], models, "{env}");
        assert_eq!(parameters["GlobalRateLimitPerHour"], global, "{env}");
        assert_eq!(parameters["IpRateLimitPerDay"], per_ip, "{env}");
        let listed: Vec<serde_json::Value> =
            serde_json::from_str(parameters["ModelsJson"].as_str().unwrap()).unwrap();
        assert_eq!(listed.len().to_string(), models, "{env}");
    }
}

#[test]
fn unknown_key_names_file_line_and_suggests_the_right_key() {
    let project = Project::copy();
    project.edit(
        "environments/dev.yaml",
        "  reserved_concurrency: 5",
        "  reserved_concurency: 2",
    );
    let Run { stderr, .. } = project.offline(&["render", "dev"], 2);
    insta::assert_snapshot!(stderr, @r"
    error: 1 problem in environment files:
      environments/dev.yaml:3: `lambda.reserved_concurency`: unknown field `reserved_concurency`, expected one of `memory_mb`, `timeout_seconds`, `reserved_concurrency`, `log_retention_days`
        hint: did you mean `reserved_concurrency`?
    ");
}

#[test]
fn wrong_type_names_file_line_and_key() {
    let project = Project::copy();
    project.edit(
        "environments/staging.yaml",
        "global_per_hour: 1000",
        "global_per_hour: lots",
    );
    let run = project.offline(&["render", "staging"], 2);
    assert_whole_run!("render_wrong_type", project.dir.path(), &run);
}

#[test]
fn out_of_range_value_names_the_file_that_set_it() {
    let project = Project::copy();
    project.edit(
        "environments/prod.yaml",
        "  log_retention_days: 30",
        "  log_retention_days: 31",
    );
    project.edit(
        "environments/defaults.yaml",
        "  memory_mb: 256",
        "  memory_mb: 64",
    );
    let Run { stderr, .. } = project.offline(&["render", "prod"], 2);
    insta::assert_snapshot!(stderr, @r"
    error: 2 problems in environment files:
      environments/defaults.yaml:17: `lambda.memory_mb`: 64 is out of range
        hint: use a value from 128 to 10240
      environments/prod.yaml:8: `lambda.log_retention_days`: 31 is not a retention CloudWatch Logs offers
        hint: use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
    ");
}

#[test]
fn unknown_provider_is_named_with_a_suggestion() {
    let project = Project::copy();
    project.edit(
        "environments/dev.yaml",
        "    provider: gemini",
        "    provider: gemeni",
    );
    let Run { stderr, .. } = project.offline(&["render", "dev"], 2);
    insta::assert_snapshot!(stderr, @r"
    error: 1 problem in environment files:
      environments/dev.yaml:29: `models[1].provider`: unknown variant `gemeni`, expected one of `openai`, `gemini`, `imagen`, `bfl`, `recraft`, `stability`, `bedrock`
        hint: did you mean `gemini`? valid: openai, gemini, imagen, bfl, recraft, stability, bedrock
    ");
}

#[test]
fn model_count_must_match_the_model_list() {
    let project = Project::copy();
    project.edit("environments/dev.yaml", "model_count: 3", "model_count: 4");
    let Run { stderr, .. } = project.offline(&["render", "dev"], 2);
    insta::assert_snapshot!(stderr, @r"
    error: 1 problem in environment files:
      environments/dev.yaml:23: `model_count`: is 4 but `models` lists 3 models
        hint: set `model_count: 3` or list 4 models (an environment file replaces the whole list)
    ");
}

#[test]
fn unknown_environment_lists_the_ones_that_exist() {
    let project = Project::copy();
    let run = project.offline(&["render", "qa"], 2);
    assert_whole_run!("render_unknown_environment", project.dir.path(), &run);
}

#[test]
fn syntax_error_names_the_line() {
    let project = Project::copy();
    project.edit(
        "environments/prod.yaml",
        "api:\n  cors_origins: []",
        "api:\n  cors_origins: [unclosed",
    );
    let run = project.offline(&["render", "prod"], 2);
    assert_whole_run!("render_yaml_syntax_error", project.dir.path(), &run);
}

#[test]
fn key_locations_must_exist_and_stay_in_the_environments_path() {
    let project = Project::copy();
    project.edit(
        "environments/defaults.yaml",
        "      ssm: /pixel-prompt/{env}/openai-api-key",
        "      ssm: /shared/openai-api-key",
    );
    project.edit(
        "environments/defaults.yaml",
        "  bfl:\n    api_key:\n      secrets_manager: pixel-prompt/{env}/bfl-api-key\n",
        "",
    );
    let Run { stderr, .. } = project.offline(&["render", "staging"], 2);
    insta::assert_snapshot!(stderr, @r"
    error: 3 problems in environment files:
      environments/defaults.yaml:91: `providers.openai.api_key.ssm`: `/shared/openai-api-key` is outside this environment's secrets path
        hint: name it `/pixel-prompt/staging/<name>`: the Lambda may read keys there and nowhere else
      environments/defaults.yaml:148: `models[4].provider`: model `FLUX.2 Pro` uses `bfl`, which has no API key location
        hint: add `providers.bfl.api_key` (an `ssm` or `secrets_manager` name)
      environments/defaults.yaml:171: `models[8].provider`: model `FLUX.2 Flex` uses `bfl`, which has no API key location
        hint: add `providers.bfl.api_key` (an `ssm` or `secrets_manager` name)
    ");
}

#[test]
fn validate_reports_every_problem_in_every_environment_at_once() {
    let project = Project::copy();
    project.edit("environments/dev.yaml", "model_count: 3", "model_count: 2");
    project.edit(
        "environments/prod.yaml",
        "  global_per_hour: 2000",
        "  global_per_hour: 0",
    );
    project.edit(
        "environments/prod.yaml",
        "  price_class: PriceClass_100",
        "  price_class: PriceClass_50",
    );
    let run = project.offline(&["validate"], 2);
    assert_whole_run!("validate_problems", project.dir.path(), &run);

    let Run { stdout, .. } = project.offline(&["validate", "--output", "json"], 2);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["environments"][0]["problems"][0]["line"], 23);
}

#[test]
fn missing_project_is_a_usage_error_not_a_panic() {
    let project = Project::copy();
    for folder in ["environments", "templates", "frontend"] {
        std::fs::remove_dir_all(project.path(folder)).unwrap();
    }
    let run = project.offline(&["render", "dev"], 2);
    assert_whole_run!("render_outside_a_project", project.dir.path(), &run);
}

#[test]
fn a_bad_flag_value_is_a_usage_error_that_lists_the_valid_ones() {
    let project = Project::copy();
    let run = project.offline(&["render", "dev", "--output", "yaml"], 2);
    assert_whole_run!("render_bad_output_value", project.dir.path(), &run);
    let run = project.offline(&["deploy", "dev", "--cdn-timeout", "soon"], 2);
    assert_whole_run!("deploy_bad_timeout_value", project.dir.path(), &run);
}

#[test]
fn help_documents_exit_codes() {
    let project = Project::copy();
    let run = project.offline(&["--help"], 0);
    assert_whole_run!("help", project.dir.path(), &run);
}

#[test]
fn a_protected_environment_needs_an_alarm_endpoint_and_others_are_advised_one() {
    let project = Project::copy();
    project.edit(
        "environments/prod.yaml",
        "  email: pixel-prompt-oncall@pixelprompt.example",
        "  email: \"\"",
    );
    // prod fails; staging is valid, with a recommendation; dev has neither.
    let run = project.offline(&["validate"], 2);
    assert_whole_run!(
        "validate_protected_without_alarms",
        project.dir.path(),
        &run
    );
    let Run { stdout, .. } = project.offline(&["validate", "--output", "json"], 2);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let by_name = |name: &str| {
        report["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|env| env["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("staging")["warnings"][0]["key"], "alarms.email");
    assert_eq!(by_name("dev")["warnings"], serde_json::json!([]));
    // Deploying the protected environment is refused before anything is called.
    let run = project.offline(&["render", "prod"], 2);
    assert_whole_run!("render_protected_without_alarms", project.dir.path(), &run);
}

#[test]
fn paid_routes_must_be_throttled_at_least_as_tightly_and_the_api_within_30_s() {
    let project = Project::copy();
    let dev = project.read("environments/dev.yaml");
    project.write(
        "environments/dev.yaml",
        &format!("{dev}\napi:\n  paid_throttle_burst: 500\n  paid_throttle_rate: 60\n"),
    );
    project.edit(
        "environments/defaults.yaml",
        "  timeout_seconds: 29",
        "  timeout_seconds: 300",
    );
    let run = project.offline(&["render", "dev"], 2);
    assert_whole_run!("render_loose_throttles", project.dir.path(), &run);
}

/// The statements of an IAM role's inline policy in a rendered template.
fn role_statements(template: &str, role: &str) -> Vec<serde_norway::Value> {
    let document: serde_norway::Value = serde_norway::from_str(template).unwrap();
    document["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap()
        .clone()
}

#[test]
fn roles_grant_only_what_the_code_uses_and_bedrock_only_the_environments_models() {
    let project = Project::copy();
    let out = project.path("rendered");
    for env in ["dev", "staging"] {
        let dir = out.join(env);
        project.offline(&["render", env, "--out", dir.to_str().unwrap()], 0);
        let template = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
        let everything = format!(
            "{:?}{:?}",
            role_statements(&template, "FunctionRole"),
            role_statements(&template, "WorkerRole")
        );
        for unused in ["s3:DeleteObject", "ssm:GetParameters", "bedrock:*"] {
            assert!(!everything.contains(unused), "{env}: {unused} is granted");
        }
        // The API may not call image models or write images; the worker may.
        let api = format!("{:?}", role_statements(&template, "FunctionRole"));
        assert!(
            !api.contains("bedrock:InvokeModel") && !api.contains("/images/*"),
            "{api}"
        );
        let parameters: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("parameters.json")).unwrap())
                .unwrap();
        let arns = parameters
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["ParameterKey"] == "BedrockModelArns")
            .unwrap()["ParameterValue"]
            .as_str()
            .unwrap()
            .to_owned();
        let expected = match env {
            // dev calls Stable Image Ultra only.
            "dev" => {
                "arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-ultra-v1:1"
            }
            _ => {
                "arn:aws:bedrock:us-west-2::foundation-model/stability.sd3-5-large-v1:0,arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-ultra-v1:1"
            }
        };
        assert_eq!(arns, expected, "{env}");
    }
    // An environment without Bedrock models grants no bedrock action at all.
    project.edit(
        "environments/dev.yaml",
        "  - name: Stable Image Ultra\n    provider: bedrock\n    model: stability.stable-image-ultra-v1:1\n",
        "",
    );
    project.edit("environments/dev.yaml", "model_count: 3", "model_count: 2");
    let Run { stdout, .. } = project.offline(&["render", "dev", "--output", "json"], 0);
    let rendered: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rendered["parameters"]["BedrockModelArns"], "", "{stdout}");
}
