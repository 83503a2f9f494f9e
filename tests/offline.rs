//! pixelctl's offline commands (`render`, `validate`) run as a user runs them,
//! on a copy of the repository's environments and template.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A throwaway project: the repository's environments/ and templates/.
struct Project {
    dir: TempDir,
}

impl Project {
    fn copy() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"));
        for folder in ["environments", "templates"] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            for entry in std::fs::read_dir(source.join(folder)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(
                    entry.path(),
                    dir.path().join(folder).join(entry.file_name()),
                )
                .unwrap();
            }
        }
        Self { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path(relative), text).unwrap();
    }

    /// Replaces `from` with `to` in a file, failing if `from` isn't there.
    fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path(relative)).unwrap();
        assert!(text.contains(from), "{relative} has no {from:?}");
        self.write(relative, &text.replacen(from, to, 1));
    }

    fn pixelctl(&self) -> Command {
        let mut command = Command::cargo_bin("pixelctl").unwrap();
        command
            .current_dir(self.dir.path())
            .env_remove("PIXELCTL_PROJECT_DIR")
            .env("NO_COLOR", "1");
        command
    }

    /// Runs `args`, expecting exit code `code`; returns (stdout, stderr).
    fn run(&self, args: &[&str], code: i32) -> (String, String) {
        let output = self.pixelctl().args(args).output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "pixelctl {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    }
}

#[test]
fn validate_accepts_the_repository_environments() {
    let project = Project::copy();
    let (stdout, _) = project.run(&["validate"], 0);
    insta::assert_snapshot!(stdout, @r"
    ok    dev (pixel-prompt-dev)
    ok    prod (pixel-prompt-prod)
    ok    staging (pixel-prompt-staging)
      warning: environments/defaults.yaml:64: `alarms.email`: is not set: the alarms and the budget of this environment notify no one
        hint: set the address of the team that should hear about it (recommended for every environment but dev)
    ");
}

#[test]
fn render_writes_template_and_parameters_for_each_environment() {
    let project = Project::copy();
    let template = std::fs::read_to_string(project.path("templates/pixel-prompt.yaml")).unwrap();
    for env in ["dev", "staging", "prod"] {
        let out = project.path(&format!("out-{env}"));
        project.run(&["render", env, "--out", out.to_str().unwrap()], 0);
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
    let (stdout, _) = project.run(&["render", "prod"], 0);
    assert_eq!(stdout, template);

    let (stdout, _) = project.run(&["render", "prod", "--output", "json"], 0);
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
        let (stdout, _) = project.run(&["render", env, "--output", "json"], 0);
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
    let (_, stderr) = project.run(&["render", "dev"], 2);
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
    let (_, stderr) = project.run(&["render", "staging"], 2);
    assert!(stderr.contains("environments/staging.yaml:3: `rate_limits.global_per_hour`: invalid type: string \"lots\", expected u32"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
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
    let (_, stderr) = project.run(&["render", "prod"], 2);
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
    let (_, stderr) = project.run(&["render", "dev"], 2);
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
    let (_, stderr) = project.run(&["render", "dev"], 2);
    insta::assert_snapshot!(stderr, @r"
    error: 1 problem in environment files:
      environments/dev.yaml:23: `model_count`: is 4 but `models` lists 3 models
        hint: set `model_count: 3` or list 4 models (an environment file replaces the whole list)
    ");
}

#[test]
fn unknown_environment_lists_the_ones_that_exist() {
    let project = Project::copy();
    let (stdout, stderr) = project.run(&["render", "qa"], 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("there is no environment `qa`"), "{stderr}");
    assert!(
        stderr.contains("environments: dev, prod, staging"),
        "{stderr}"
    );
}

#[test]
fn syntax_error_names_the_line() {
    let project = Project::copy();
    project.edit(
        "environments/prod.yaml",
        "api:\n  cors_origins: []",
        "api:\n  cors_origins: [unclosed",
    );
    let (_, stderr) = project.run(&["render", "prod"], 2);
    assert!(
        stderr.contains("environments/prod.yaml:22: did not find expected"),
        "{stderr}"
    );
    assert!(stderr.contains("YAML syntax error"), "{stderr}");
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
    let (_, stderr) = project.run(&["render", "staging"], 2);
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
    let (stdout, stderr) = project.run(&["validate"], 2);
    assert!(stdout.contains("FAIL  dev"), "{stdout}");
    assert!(stdout.contains("FAIL  prod"), "{stdout}");
    assert!(stdout.contains("ok    staging"), "{stdout}");
    assert!(stdout.contains("`model_count`: is 2"), "{stdout}");
    assert!(
        stdout.contains("`cdn.price_class`: unknown variant `PriceClass_50`"),
        "{stdout}"
    );
    assert!(stderr.contains("2 problems found"), "{stderr}");

    let (stdout, _) = project.run(&["validate", "--output", "json"], 2);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["environments"][0]["problems"][0]["line"], 23);
}

#[test]
fn missing_project_is_a_usage_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("pixelctl")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("PIXELCTL_PROJECT_DIR")
        .args(["render", "dev"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("no pixelctl project here"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_documents_exit_codes() {
    let project = Project::copy();
    let (stdout, _) = project.run(&["--help"], 0);
    assert!(stdout.contains("Exit codes:"), "{stdout}");
    assert!(stdout.contains("3  rejected"), "{stdout}");
}

#[test]
fn a_protected_environment_needs_an_alarm_endpoint_and_others_are_advised_one() {
    let project = Project::copy();
    project.edit(
        "environments/prod.yaml",
        "  email: pixel-prompt-oncall@pixelprompt.example",
        "  email: \"\"",
    );
    let (stdout, stderr) = project.run(&["validate"], 2);
    assert!(stdout.contains("FAIL  prod"), "{stdout}");
    assert!(
        stdout.contains(
            "`alarms.email`: is required for an environment with `termination_protection: true`"
        ),
        "{stdout}"
    );
    assert!(stderr.contains("1 problem found"), "{stderr}");
    // staging: valid, with a recommendation; dev: neither.
    assert!(stdout.contains("ok    staging"), "{stdout}");
    let (stdout, _) = project.run(&["validate", "--output", "json"], 2);
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
    let (_, stderr) = project.run(&["render", "prod"], 2);
    assert!(stderr.contains("alarms.email"), "{stderr}");
}

#[test]
fn paid_routes_must_be_throttled_at_least_as_tightly_and_the_api_within_30_s() {
    let project = Project::copy();
    let dev = std::fs::read_to_string(project.path("environments/dev.yaml")).unwrap();
    project.write(
        "environments/dev.yaml",
        &format!("{dev}\napi:\n  paid_throttle_burst: 500\n  paid_throttle_rate: 60\n"),
    );
    project.edit(
        "environments/defaults.yaml",
        "  timeout_seconds: 29",
        "  timeout_seconds: 300",
    );
    let (_, stderr) = project.run(&["render", "dev"], 2);
    assert!(
        stderr.contains("`api.paid_throttle_burst`: 500 is looser than `api.throttle_burst` (100)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`api.paid_throttle_rate`: 60 is looser than `api.throttle_rate` (50)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`lambda.timeout_seconds`: 300 is out of range"),
        "{stderr}"
    );
    assert!(
        stderr.contains("API Gateway gives up after 30 s"),
        "{stderr}"
    );
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
        project.run(&["render", env, "--out", dir.to_str().unwrap()], 0);
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
    let (stdout, _) = project.run(&["render", "dev", "--output", "json"], 0);
    let rendered: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rendered["parameters"]["BedrockModelArns"], "", "{stdout}");
}
