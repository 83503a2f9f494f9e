//! Provider keys: `pixelctl secrets set|list|rm` against the local AWS's SSM
//! and Secrets Manager, and `deploy` refusing to start without them.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, Run, Transcript, block_on};
use serde_json::{Value, json};

/// Real-looking keys: the shapes OpenAI and Google issue.
const OPENAI_KEY: &str = "sk-proj-Tq7v9XbL2mN4pR8sK1wY6zA3cE5gH0jU";
const GOOGLE_KEY: &str = "AIzaSyD4f8Qm2Lx9Vn7Tb1Rk3Wp6Zc5Hs0Jy";
const BFL_KEY: &str = "bfl_4c9e1a7d2b8f6e3a5c0d9b7f1e2a8c4d";

/// Runs pixelctl with `stdin` piped in (no terminal), as a script or CI does.
fn run_with_stdin(project: &Project, aws: &LocalAws, args: &[&str], stdin: &str) -> Run {
    let output = project
        .pixelctl(aws)
        .args(args)
        .write_stdin(stdin.to_owned())
        .output()
        .unwrap();
    Run::of(output)
}

fn ssm_parameter(aws: &LocalAws, name: &str) -> Value {
    let body = aws.json_call(
        "ssm",
        "AmazonSSM.GetParameter",
        &json!({"Name": name, "WithDecryption": true}),
    );
    serde_json::from_str::<Value>(&body).unwrap()["Parameter"].clone()
}

fn secret_value(aws: &LocalAws, id: &str) -> String {
    let body = aws.json_call(
        "secretsmanager",
        "secretsmanager.GetSecretValue",
        &json!({"SecretId": id}),
    );
    serde_json::from_str::<Value>(&body).unwrap()["SecretString"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The `keys` entry of `secrets list --output json` holding `provider`'s key.
fn listed<'a>(list: &'a Value, provider: &str) -> &'a Value {
    list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| {
            key["providers"]
                .as_array()
                .unwrap()
                .contains(&json!(provider))
        })
        .unwrap_or_else(|| panic!("no {provider} entry in {list}"))
}

#[test]
fn secrets_are_stored_where_the_environment_says_listed_and_removed_never_shown() {
    let aws = LocalAws::start();
    let project = Project::copy();
    let mut printed = String::new();
    let mut keep = |run: &Run| {
        printed.push_str(&run.stdout);
        printed.push_str(&run.stderr);
    };

    // Nothing stored yet: dev's two keys are missing, named with what uses them.
    let empty = project.expect(&aws, &["secrets", "list", "dev"], 0);
    keep(&empty);
    common::assert_whole_run!("secrets_list_nothing_stored", project.dir.path(), &empty);

    // Gemini and Imagen share the Google key: setting one sets it for both.
    let set = run_with_stdin(
        &project,
        &aws,
        &["secrets", "set", "dev", "gemini"],
        &format!("{GOOGLE_KEY}\n"),
    );
    keep(&set);
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(
        set.stdout.starts_with(
            "stored the gemini and imagen key of dev at SSM /pixel-prompt/dev/google-api-key"
        ),
        "{}",
        set.stdout
    );
    assert!(set.stdout.contains("within 5 minutes"), "{}", set.stdout);
    let parameter = ssm_parameter(&aws, "/pixel-prompt/dev/google-api-key");
    assert_eq!(parameter["Type"], "SecureString");
    assert_eq!(parameter["Value"], GOOGLE_KEY, "trimmed, stored as given");

    let again = run_with_stdin(
        &project,
        &aws,
        &["secrets", "set", "dev", "imagen", "--output", "json"],
        GOOGLE_KEY,
    );
    keep(&again);
    assert_eq!(again.json()["action"], "replaced");
    assert_eq!(again.json()["providers"], json!(["gemini", "imagen"]));

    // BFL's key lives in Secrets Manager; dev does not use it.
    let bfl = run_with_stdin(&project, &aws, &["secrets", "set", "dev", "bfl"], BFL_KEY);
    keep(&bfl);
    assert_eq!(bfl.code, 0, "{}", bfl.stderr);
    assert!(
        bfl.stdout
            .contains("at Secrets Manager pixel-prompt/dev/bfl-api-key"),
        "{}",
        bfl.stdout
    );
    assert!(
        bfl.stdout.contains("used by   nothing in dev yet"),
        "{}",
        bfl.stdout
    );
    assert_eq!(secret_value(&aws, "pixel-prompt/dev/bfl-api-key"), BFL_KEY);

    let list = project.expect(&aws, &["secrets", "list", "dev", "--output", "json"], 0);
    keep(&list);
    let list = list.json();
    assert_eq!(list["missing"], 1, "{list}");
    let google = listed(&list, "imagen");
    assert_eq!(google["set"], true);
    assert_eq!(
        google["location"],
        json!({"ssm": "/pixel-prompt/dev/google-api-key"})
    );
    assert!(google["last_changed"].as_str().unwrap().contains("s ago)"));
    assert_eq!(listed(&list, "openai")["set"], false);
    assert_eq!(listed(&list, "bfl")["used"], false);

    // Removing needs a confirmation: without a terminal, --yes.
    let refused = project.expect(&aws, &["secrets", "rm", "dev", "gemini"], 2);
    keep(&refused);
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);
    let removed = project.expect(&aws, &["secrets", "rm", "dev", "gemini", "--yes"], 0);
    keep(&removed);
    assert!(
        removed
            .stdout
            .contains("deleted the gemini and imagen key of dev"),
        "{}",
        removed.stdout
    );
    let nothing = project.expect(&aws, &["secrets", "rm", "dev", "gemini", "--yes"], 0);
    assert!(
        nothing.stdout.contains("nothing to delete"),
        "{}",
        nothing.stdout
    );

    // A deleted secret stays restorable; setting it again restores it.
    project.expect(&aws, &["secrets", "rm", "dev", "bfl", "--yes"], 0);
    let deleted = project.expect(&aws, &["secrets", "list", "dev"], 0);
    keep(&deleted);
    assert!(
        deleted
            .stdout
            .contains("`pixelctl secrets set` restores it"),
        "{}",
        deleted.stdout
    );
    let restored = run_with_stdin(&project, &aws, &["secrets", "set", "dev", "bfl"], BFL_KEY);
    keep(&restored);
    assert!(
        restored.stdout.starts_with("restored"),
        "{}",
        restored.stdout
    );

    assert!(
        printed.contains("pixel-prompt/dev"),
        "the scan must see real output"
    );
    for key in [GOOGLE_KEY, BFL_KEY] {
        assert!(!printed.contains(key), "a key leaked:\n{printed}");
    }
}

#[test]
fn bad_provider_names_and_bad_keys_are_refused_with_what_to_do() {
    let aws = LocalAws::start();
    let project = Project::copy();
    let cases: [(&[&str], &str, &str); 6] = [
        (
            &["secrets", "set", "dev", "bedrock"],
            OPENAI_KEY,
            "`bedrock` needs no API key",
        ),
        (
            &["secrets", "set", "dev", "opanai"],
            OPENAI_KEY,
            "did you mean `openai`?",
        ),
        (
            &["secrets", "set", "nope", "openai"],
            OPENAI_KEY,
            "there is no environment `nope`",
        ),
        (
            &["secrets", "set", "dev", "openai"],
            "\n",
            "no key given: type it at the prompt or pipe it on stdin. Nothing was stored",
        ),
        (
            &["secrets", "set", "dev", "openai"],
            "sk-one\nsk-two\n",
            "an API key is one word. Nothing was stored",
        ),
        // A key is never an argument.
        (
            &["secrets", "set", "dev", "openai", OPENAI_KEY],
            "",
            "unexpected argument",
        ),
    ];
    for (args, stdin, message) in cases {
        let run = run_with_stdin(&project, &aws, args, stdin);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.to_lowercase().contains(&message.to_lowercase()),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("sk-one") && !run.stdout.contains("sk-one"),
            "{}",
            run.stderr
        );
    }
    let list = project
        .expect(&aws, &["secrets", "list", "dev", "--output", "json"], 0)
        .json();
    assert_eq!(list["missing"], 2, "nothing was stored: {list}");
}

#[test]
fn a_deploy_without_its_keys_stops_before_building_or_planning() {
    let aws = LocalAws::start();
    let project = Project::copy();

    // No --artifact: a deploy that went on would build (and, with no Lambda
    // sources in this copy, fail differently).
    let run = project.expect(&aws, &["deploy", "dev", "--yes"], 2);
    common::assert_whole_run!("deploy_without_keys", project.dir.path(), &run);
    assert_eq!(
        aws.requests(),
        ["DescribeParameters"],
        "only the keys were read"
    );
    assert!(
        !project.path("target").exists(),
        "nothing was built or packaged"
    );
    let stacks = block_on(
        aws.cloudformation()
            .describe_stacks()
            .stack_name("pixel-prompt-dev")
            .send(),
    );
    assert!(stacks.is_err(), "no stack and no change set: {stacks:?}");

    // With one of the two stored, only the other is named.
    aws.put_secure_string("/pixel-prompt/dev/openai-api-key", OPENAI_KEY);
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let one = project.expect(
        &aws,
        &["deploy", "dev", "--yes", "--artifact", &artifact],
        2,
    );
    assert!(
        one.stderr.contains("1 provider key(s)") && !one.stderr.contains("secrets set dev openai"),
        "{}",
        one.stderr
    );

    // `diff` changes nothing: it warns and plans.
    let diff = project.expect(&aws, &["diff", "dev", "--artifact", &artifact], 0);
    assert!(
        diff.stderr.contains(
            "no gemini, imagen key stored; these will fail: Gemini 3.1 Flash Image. Set it with `pixelctl secrets set dev gemini`"
        ),
        "{}",
        diff.stderr
    );

    // --allow-missing-keys deploys, naming what will fail.
    let deployed = project.deploy(&aws, "dev", &["--allow-missing-keys"], 0);
    assert_eq!(deployed.json()["outcome"], "created");
    assert!(
        deployed
            .stderr
            .contains("these will fail: Gemini 3.1 Flash Image"),
        "{}",
        deployed.stderr
    );

    // Promoting checks the target's keys the same way.
    let promote = project.expect(&aws, &["promote", "dev", "staging", "--yes"], 2);
    assert!(
        promote
            .stderr
            .contains("provider key(s) that staging needs are not stored"),
        "{}",
        promote.stderr
    );
    assert!(
        promote.stderr.contains("pixelctl secrets set staging bfl"),
        "{}",
        promote.stderr
    );
    assert!(!format!("{}{}{}", run.stderr, deployed.stdout, deployed.stderr).contains(OPENAI_KEY));
}

#[test]
fn on_a_terminal_a_deploy_offers_to_store_the_missing_keys_without_echoing_them() {
    use std::io::Write;
    let aws = LocalAws::start();
    let project = Project::copy();
    // pixelctl on a pseudo-terminal (util-linux `script`), as a person runs it.
    let pixelctl = project.process(&aws);
    let command = format!(
        "{} deploy dev --yes --artifact {}",
        pixelctl.get_program().to_string_lossy(),
        common::bootstrap().display()
    );
    let mut terminal = std::process::Command::new("script");
    terminal
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(project.dir.path())
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    for (name, value) in pixelctl.get_envs() {
        match value {
            Some(value) => terminal.env(name, value),
            None => terminal.env_remove(name),
        };
    }
    let mut child = terminal
        .spawn()
        .expect("`script` gives pixelctl a terminal (apt-get install util-linux)");
    let transcript = Transcript::follow(child.stdout.take().unwrap());
    let mut keyboard = child.stdin.take().unwrap();

    transcript.wait_for("Set them now?");
    keyboard.write_all(b"y").unwrap();
    transcript.wait_for("openai API key for dev");
    keyboard
        .write_all(format!("{OPENAI_KEY}\r").as_bytes())
        .unwrap();
    transcript.wait_for("gemini, imagen API key for dev");
    keyboard
        .write_all(format!("{GOOGLE_KEY}\r").as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    let text = transcript.now();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(
        text.contains("stored the openai key at SSM /pixel-prompt/dev/openai-api-key"),
        "{text}"
    );
    assert!(text.contains("result    created"), "{text}");
    for key in [OPENAI_KEY, GOOGLE_KEY] {
        assert!(!text.contains(key), "the key was echoed:\n{text}");
    }
    assert_eq!(
        ssm_parameter(&aws, "/pixel-prompt/dev/openai-api-key")["Value"],
        OPENAI_KEY
    );
    assert_eq!(
        ssm_parameter(&aws, "/pixel-prompt/dev/google-api-key")["Value"],
        GOOGLE_KEY
    );
}

/// The deploy's model check is where a key really travels through pixelctl: read
/// from SSM, sent to the provider, and (when refused) met again in the provider's
/// error. Nothing a deploy prints or writes may hold it. The fake OpenAI refuses
/// exactly this key (as a rotated-out one), so the refusal in the output proves the
/// check read and sent it: without that the scan below could not fail.
#[test]
fn a_key_the_model_check_reads_and_sends_never_appears_in_what_a_deploy_prints() {
    use sha2::{Digest, Sha256};

    let aws = LocalAws::with_keys_and(&["--fake-providers"]);
    let project = Project::copy();
    aws.put_secure_string("/pixel-prompt/dev/openai-api-key", OPENAI_KEY);
    aws.put_secure_string("/pixel-prompt/dev/google-api-key", GOOGLE_KEY);
    let digest = test_support::hex(&Sha256::digest(OPENAI_KEY.as_bytes()));
    aws.control(
        "/_local-aws/providers/revoke",
        &json!({"provider": "openai", "key_sha256": digest}).to_string(),
    );
    let deploy = |output: &str| {
        let run = project
            .pixelctl(&aws)
            .env(
                "PIXELCTL_PROVIDER_BASE_URLS",
                aws.fake_providers.as_deref().unwrap(),
            )
            .args(["deploy", "dev", "--yes", "--output", output])
            .arg("--artifact")
            .arg(common::bootstrap())
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{run:?}");
        String::from_utf8(run.stdout).unwrap() + &String::from_utf8(run.stderr).unwrap()
    };
    let mut printed = deploy("text");
    printed.push_str(&deploy("json"));
    for format in ["table", "json", "dotenv"] {
        printed.push_str(
            &project
                .expect(&aws, &["outputs", "dev", "--format", format], 0)
                .stdout,
        );
    }
    printed.push_str(&project.read("frontend/.env"));

    // The check read both keys and sent them: OpenAI refused this one, Google was asked with one.
    assert!(printed.contains("pixel-prompt-dev"), "{printed}");
    assert!(
        printed.contains("openai did not list its models: provider rejected the API key"),
        "the model check must have sent the stored OpenAI key:\n{printed}"
    );
    assert!(
        aws.provider_requests()
            .iter()
            .any(|call| call["provider"] == "gemini" && call["key_present"] == true),
        "the model check must have asked Google with the stored key"
    );
    for key in [OPENAI_KEY, GOOGLE_KEY] {
        assert!(!printed.contains(key), "a key leaked:\n{printed}");
    }
}
