//! Operating deployed environments: `status`, `logs` and `doctor` against the
//! local AWS over real HTTP, and the shell completions, man page and help.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::{LocalAws, Project, assert_whole_run, block_on};
use serde_json::Value;

fn squeeze(text: &str) -> String {
    text.split(' ')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn environment<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|env| env["environment"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn status_tells_healthy_from_unhealthy_and_shows_what_drifted() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.git_init();

    // Asked by name, an environment never deployed fails the check; listed, it doesn't.
    let named = project.expect(&aws, &["status", "dev"], 4);
    assert_whole_run!("status_not_deployed", project.dir.path(), &named);
    project.expect(&aws, &["status"], 0);

    project.deploy(&aws, "dev", &[], 0);
    let head = project.git(&["rev-parse", "HEAD"]);
    let report = project
        .expect(&aws, &["status", "dev", "--output", "json"], 0)
        .json();
    assert_eq!(report["healthy"], true);
    let dev = environment(&report, "dev");
    assert_eq!(dev["condition"], "healthy", "{dev}");
    assert_eq!(dev["stack_status"], "CREATE_COMPLETE");
    assert_eq!(dev["release"]["sequence"], 1);
    assert_eq!(dev["release"]["commit"], head.trim());
    assert_eq!(dev["drift"]["template"]["state"], "same", "{dev}");
    assert_eq!(dev["drift"]["parameters"]["state"], "same", "{dev}");
    assert_eq!(dev["drift"]["code"]["state"], "same", "{dev}");
    assert!(
        dev["cloudfront"].as_str().unwrap().ends_with(" Deployed"),
        "{dev}"
    );
    let alarms: Vec<String> = dev["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alarm| alarm["name"].as_str().unwrap().to_owned())
        .collect();
    // Errors, 5xx, throttles, dropped events, dead letters, failed generations
    // and durations, of the API and the worker.
    assert_eq!(alarms.len(), 10, "{dev}");
    assert_eq!(dev["api"]["healthy"], true, "{dev}");
    assert!(
        dev["api"]["endpoint"]
            .as_str()
            .unwrap()
            .contains(".execute-api.localhost:"),
        "the local form: {dev}"
    );

    // Side by side, one column per environment.
    let all = project.expect(&aws, &["status"], 0);
    assert_whole_run!("status_all", project.dir.path(), &all);
    let single = project.expect(&aws, &["status", "dev"], 0);
    assert!(
        single.stdout.contains(&head.trim()[..12]),
        "the live commit: {}",
        single.stdout
    );
    assert_whole_run!("status_one", project.dir.path(), &single);

    // The working tree moves on: a parameter and the Lambda's code.
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 512\n",
    );
    std::fs::create_dir_all(project.path("lambda/src")).unwrap();
    project.write("lambda/src/new_feature.rs", "// not deployed yet\n");
    let drifted = project.expect(&aws, &["status", "dev"], 0);
    assert_whole_run!("status_drifted", project.dir.path(), &drifted);

    // An alarm fires: unhealthy, exit 4, also when listed among all.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws.sdk_config());
    block_on(
        cloudwatch
            .set_alarm_state()
            .alarm_name(&alarms[0])
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason("Threshold Crossed: 7 errors")
            .send(),
    )
    .unwrap();
    let firing = project.expect(&aws, &["status", "dev"], 4);
    assert!(
        firing
            .stdout
            .contains(&format!("dev: alarm {} is in ALARM", alarms[0])),
        "{}",
        firing.stdout
    );
    assert_whole_run!("status_alarm_firing", project.dir.path(), &firing);
    let listed = project
        .expect(&aws, &["status", "--output", "json"], 4)
        .json();
    assert_eq!(listed["healthy"], false);
    assert_eq!(environment(&listed, "dev")["fails"], true);
    assert_eq!(environment(&listed, "prod")["fails"], false);
}

/// Writes `lines` as one batch of log events in a stream of their own.
fn put_log_lines(aws: &LocalAws, group: &str, stream: &str, lines: &[&str]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws.sdk_config());
    let _ = block_on(
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send(),
    );
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let events = lines.iter().enumerate().map(|(index, line)| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(now - 1000 + i64::try_from(index).unwrap())
            .message(*line)
            .build()
            .unwrap()
    });
    block_on(
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(events.collect()))
            .send(),
    )
    .unwrap();
}

const GROUP: &str = "/aws/lambda/pixel-prompt-dev-api";

#[test]
fn logs_show_the_functions_lines_readably_filtered_and_followed() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.deploy(&aws, "dev", &[], 0);
    put_log_lines(
        &aws,
        GROUP,
        "2026/11/29/[$LATEST]test",
        &[
            r#"{"timestamp":"2026-11-29T17:41:02.100Z","level":"INFO","fields":{"message":"job created","job_id":"job-1","total_models":3},"target":"pixel_prompt_api::routes","span":{"correlation_id":"corr-1","method":"POST","path":"/generate","name":"request"}}"#,
            r#"{"timestamp":"2026-11-29T17:41:02.200Z","level":"INFO","fields":{"message":"request completed","status":200},"target":"pixel_prompt_api::middleware","span":{"correlation_id":"corr-1","method":"POST","path":"/generate","name":"request"}}"#,
            "START RequestId: req-9 Version: $LATEST",
            r#"{"timestamp":"2026-11-29T17:41:03.000Z","level":"WARN","fields":{"message":"model failed","model":"DALL-E 3","error":"provider rejected the API key or access (HTTP 401)"},"target":"pixel_prompt_api::worker","span":{"job_id":"job-1","correlation_id":"corr-1","request_id":"req-9","name":"worker"}}"#,
            r#"{"timestamp":"2026-11-29T17:41:03.100Z","level":"ERROR","fields":{"message":"could not record model progress","job_id":"job-1"},"target":"pixel_prompt_api::worker","span":{"job_id":"job-1","correlation_id":"corr-1","request_id":"req-9","name":"worker"}}"#,
            "REPORT RequestId: req-9\tDuration: 812.00 ms\tBilled Duration: 813 ms\tMemory Size: 256 MB\tMax Memory Used: 41 MB",
            r#"{"timestamp":"2026-11-29T17:41:04.000Z","level":"ERROR","fields":{"message":"request failed","error.code":"INTERNAL_SERVER_ERROR"},"target":"pixel_prompt_api::error","span":{"correlation_id":"corr-2","method":"GET","path":"/gallery/list","name":"request"}}"#,
            "a plain line from the runtime",
        ],
    );

    let all = project.expect(&aws, &["logs", "dev"], 0).stdout;
    let ours: Vec<&str> = all
        .lines()
        .filter(|line| {
            ["job-1", "corr-1", "req-9", "plain line", "corr-2"]
                .iter()
                .any(|marker| line.contains(marker))
        })
        .collect();
    assert_eq!(ours.len(), 8, "{all}");
    assert_eq!(
        ours[0],
        "2026-11-29T17:41:02.100Z INFO  job created  job=job-1  correlation=corr-1  method=POST  path=/generate  total_models=3"
    );
    assert!(
        ours[2].contains("LAMBDA START RequestId: req-9"),
        "{}",
        ours[2]
    );
    assert!(
        ours[7].ends_with("Z -     a plain line from the runtime"),
        "{}",
        ours[7]
    );

    let errors = project.expect(&aws, &["logs", "dev", "--errors"], 0).stdout;
    let messages: Vec<&str> = errors.lines().collect();
    assert_eq!(messages.len(), 2, "{errors}");
    assert!(messages[0].contains("ERROR could not record model progress"));
    assert!(messages[1].contains("ERROR request failed  correlation=corr-2"));

    let job = project
        .expect(&aws, &["logs", "dev", "--job", "job-1"], 0)
        .stdout;
    let job_lines: Vec<&str> = job.lines().collect();
    assert_eq!(
        job_lines.len(),
        6,
        "the job's request, worker and its invocation:\n{job}"
    );
    assert!(
        !job.contains("corr-2") && !job.contains("plain line"),
        "{job}"
    );
    assert!(job_lines[5].contains("REPORT RequestId: req-9"), "{job}");

    let filtered = project
        .expect(&aws, &["logs", "dev", "--filter", "GALLERY"], 0)
        .stdout;
    assert_eq!(filtered.lines().count(), 1, "{filtered}");

    let json = project
        .expect(
            &aws,
            &["logs", "dev", "--job", "job-1", "--output", "json"],
            0,
        )
        .stdout;
    let first: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["message"], "job created");
    assert_eq!(first["job_id"], "job-1");
    assert_eq!(first["correlation_id"], "corr-1");
    assert_eq!(first["time"], "2026-11-29T17:41:02.100Z");
    assert_eq!(first["fields"]["total_models"], "3");

    let none = project.expect(&aws, &["logs", "dev", "--since", "2099-01-01T00:00:00Z"], 0);
    assert!(none.stdout.is_empty());
    assert!(none.stderr.contains("no matching lines"), "{}", none.stderr);
    let bad = project.expect(&aws, &["logs", "dev", "--since", "yesterday"], 2);
    assert!(bad.stderr.contains("neither a duration"), "{}", bad.stderr);
    let missing = project.expect(&aws, &["logs", "staging"], 1);
    assert!(
        missing
            .stderr
            .contains("deploy it with `pixelctl deploy staging`"),
        "{}",
        missing.stderr
    );

    // --follow prints lines as they arrive, and Ctrl-C ends it with exit 0.
    let mut follow = project.process(&aws);
    follow
        .args(["logs", "dev", "--follow", "--filter", "follow-marker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut process = follow.spawn().unwrap();
    let (sender, lines) = mpsc::channel::<String>();
    let stdout = process.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    // Its first line on stderr says it follows: from then on it polls.
    let mut stderr = BufReader::new(process.stderr.take().unwrap());
    let mut note = String::new();
    stderr.read_line(&mut note).unwrap();
    assert!(
        note.contains("polling every 0.8 s; Ctrl-C to stop"),
        "{note}"
    );
    let mut latencies = Vec::new();
    for round in 0..3 {
        let written = Instant::now();
        put_log_lines(
            &aws,
            GROUP,
            &format!("follow-{round}"),
            &[&format!("follow-marker {round}")],
        );
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the followed line arrives");
        latencies.push(written.elapsed());
        assert!(line.contains(&format!("follow-marker {round}")), "{line}");
    }
    eprintln!("logs --follow: lines appeared {latencies:?} after they were written");
    assert!(
        latencies
            .iter()
            .all(|latency| *latency < Duration::from_secs(5)),
        "{latencies:?}"
    );
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &process.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = process.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C ends a follow cleanly");
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn doctor_names_each_problem_with_its_fix() {
    let aws = LocalAws::start();
    let project = Project::copy();

    let first = project.expect(&aws, &["doctor", "dev"], 4);
    let text = squeeze(&first.stdout);
    for expected in [
        "ok endpoint http://127.0.0.1:",
        "ok credentials arn:aws:",
        "ok region us-west-2 used by dev",
        "does not exist yet: the first deploy creates it",
        "PROBLEM keys dev missing: openai; gemini, imagen",
        "fix: pixelctl secrets set dev openai && pixelctl secrets set dev gemini",
        "ok cargo cargo 1.",
        "ok target x86_64-unknown-linux-gnu installed",
        "warn git",
        "1 problem(s)",
    ] {
        assert!(text.contains(expected), "{expected}:\n{}", first.stdout);
    }
    assert!(
        first.stderr.contains("doctor found 1 problem(s)"),
        "{}",
        first.stderr
    );

    // Keys stored, a deploy made, a clean clone: no problem left.
    aws.put_provider_keys("dev", "sk-local-dummy-key");
    project.git_init();
    project.deploy(&aws, "dev", &[], 0);
    let report = project
        .expect(&aws, &["doctor", "dev", "--output", "json"], 0)
        .json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(check(&report, "keys dev")["state"], "ok");
    assert_eq!(check(&report, "git")["state"], "ok");
    let store = check(&report, "artifact store us-west-2");
    assert!(
        store["detail"]
            .as_str()
            .unwrap()
            .ends_with(": this account's, versioned"),
        "{store}"
    );

    // An artifact store whose versioning was turned off is a problem with its fix.
    let bucket = store["detail"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws.sdk_config())
            .force_path_style(true)
            .build(),
    );
    block_on(
        s3.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    // And without node on PATH, a warning that names what needs it.
    let tools = tempfile::tempdir().unwrap();
    for tool in ["cargo", "rustc", "rustup", "git", "getconf"] {
        if let Some(path) = which(tool) {
            std::os::unix::fs::symlink(path, tools.path().join(tool)).unwrap();
        }
    }
    let run = project
        .pixelctl(&aws)
        .env("PATH", tools.path())
        .args(["doctor", "dev"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(4));
    let text = squeeze(&String::from_utf8(run.stdout).unwrap());
    assert!(
        text.contains(&format!(
            "PROBLEM artifact store us-west-2 {bucket} is not versioned"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "fix: aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"
        )),
        "{text}"
    );
    assert!(
        text.contains("warn node `node` not found on PATH"),
        "{text}"
    );
    assert!(
        text.contains("fix: install Node.js 20.19 or newer"),
        "{text}"
    );
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
}

fn pixelctl(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("pixelctl"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn completions_complete_subcommands_in_each_shell() {
    let shells = [
        ("bash", "_pixelctl()"),
        ("zsh", "#compdef pixelctl"),
        ("fish", "complete -c pixelctl"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName 'pixelctl'",
        ),
    ];
    for (shell, marker) in shells {
        let (code, script, stderr) = pixelctl(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains(marker), "{shell}:\n{script}");
        for word in [
            "secrets",
            "status",
            "logs",
            "doctor",
            "allow-missing-keys",
            "follow",
        ] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    // Bash, which is here, completes as a user would see it.
    let (_, script, _) = pixelctl(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pixelctl.bash");
    std::fs::write(&file, script).unwrap();
    for (line, expected) in [
        ("pixelctl sec", "secrets"),
        ("pixelctl secrets ", "list rm set"),
        ("pixelctl logs dev --fo", "--follow"),
        ("pixelctl completions p", "powershell"),
    ] {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {file}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _pixelctl pixelctl '{current}' '{previous}'; printf '%s\\n' \"${{COMPREPLY[@]}}\" | sort | tr '\\n' ' '",
            file = file.display(),
            words = words
                .iter()
                .map(|word| format!("'{word}'"))
                .collect::<Vec<_>>()
                .join(" "),
            cword = words.len() - 1,
            current = words[words.len() - 1],
            previous = words[words.len() - 2],
        );
        let output = std::process::Command::new("bash")
            .args(["-c", &program])
            .output()
            .expect("bash runs the completion");
        let offered = String::from_utf8(output.stdout).unwrap();
        assert!(
            offered.contains(expected),
            "`{line}<TAB>` offers {offered:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn the_man_page_renders_and_covers_every_command() {
    let (code, page, _) = pixelctl(&["man"]);
    assert_eq!(code, 0);
    assert!(
        page.contains(".TH pixelctl 1"),
        "{}",
        &page[..page.len().min(400)]
    );
    let rendered = std::process::Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut man| {
            use std::io::Write;
            man.stdin.take().unwrap().write_all(page.as_bytes())?;
            man.wait_with_output()
        })
        .expect("man renders the page (apt-get install man-db groff-base)");
    let text = String::from_utf8_lossy(&rendered.stdout);
    for word in [
        "pixelctl",
        "secrets",
        "status",
        "doctor",
        "completions",
        "Exit codes",
    ] {
        assert!(text.contains(word), "man page shows {word}:\n{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    let (code, _, stderr) = pixelctl(&["man", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    for page in [
        "pixelctl.1",
        "pixelctl-deploy.1",
        "pixelctl-secrets-set.1",
        "pixelctl-logs.1",
    ] {
        assert!(out.join(page).is_file(), "{page}: {stderr}");
    }
    let deploy = std::fs::read_to_string(out.join("pixelctl-deploy.1")).unwrap();
    assert!(deploy.contains("allow\\-missing\\-keys"), "{deploy}");
}

#[test]
fn every_subcommands_help_ends_with_examples() {
    let (_, help, _) = pixelctl(&["--help"]);
    let mut commands: Vec<Vec<String>> = Vec::new();
    let mut pending: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, text, stderr) = pixelctl(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let section = text
            .split("\nCommands:\n")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .unwrap_or_default();
        // Command names sit at two spaces; wrapped descriptions further in.
        for line in section
            .lines()
            .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        {
            let name = line.split_whitespace().next().unwrap_or_default();
            if !name.is_empty() && name != "help" {
                let mut sub = path.clone();
                sub.push(name.to_owned());
                pending.push(sub);
            }
        }
        if !path.is_empty() && !text.contains("\nCommands:\n") {
            commands.push(path.clone());
            let last = text.trim_end().lines().last().unwrap_or_default();
            assert!(
                text.contains("\nExamples:\n") && last.contains("pixelctl "),
                "`pixelctl {} --help` should end with examples; it ends:\n{last}",
                args[..args.len() - 1].join(" ")
            );
        }
    }
    assert!(commands.len() >= 20, "{commands:?}\n{help}");
}
