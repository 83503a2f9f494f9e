//! Paths no other test reached: Ctrl-C while a change set is being applied,
//! `promote` into an environment in another region, and `tag --push`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, block_on};

fn stack_status(aws: &LocalAws, stack: &str, region: &str) -> Option<String> {
    let client = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(&aws.sdk_config())
            .region(aws_sdk_cloudformation::config::Region::new(
                region.to_owned(),
            ))
            .build(),
    );
    block_on(client.describe_stacks().stack_name(stack).send())
        .ok()
        .and_then(|answer| {
            answer.stacks()[0]
                .stack_status()
                .map(|status| status.as_str().to_owned())
        })
}

#[test]
fn ctrl_c_while_applying_leaves_the_operation_running_and_says_how_to_follow_it() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    // The create stops before the API function until released: pixelctl is watching.
    let hold = r#"{"what": "stack-resource", "stack_name": "pixel-prompt-dev", "logical_id": "ApiFunction"}"#;
    aws.control("/_local-aws/hold", hold);
    let artifact = common::bootstrap().to_str().unwrap().to_owned();
    let child = project.spawn_piped(
        &aws,
        &[
            "deploy",
            "dev",
            "--yes",
            "--no-wait-cdn",
            "--artifact",
            &artifact,
        ],
    );
    aws.wait_held("pixel-prompt-dev", "ApiFunction");
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: the stack operation continues in AWS")
            && stderr.contains("pixelctl deploy dev (waits for it to settle"),
        "{stderr}"
    );
    // It did continue: still in progress, and it completes once let go.
    assert_eq!(
        stack_status(&aws, "pixel-prompt-dev", "us-west-2").as_deref(),
        Some("CREATE_IN_PROGRESS")
    );
    aws.control("/_local-aws/release", hold);
    let settled = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(settled["stack_status"], "CREATE_COMPLETE", "{settled}");
}

#[test]
fn promote_into_another_region_carries_the_artifact_to_that_regions_store() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    let dev = project.deploy(&aws, "dev", &[], 0).json();
    let text = project.read("environments/staging.yaml");
    project.write(
        "environments/staging.yaml",
        &format!("region: eu-west-1\n{text}"),
    );

    // Keys are looked up in the target's region, where none are stored yet...
    let refused = project.expect(&aws, &["promote", "dev", "staging", "--yes"], 2);
    assert!(
        refused
            .stderr
            .contains("provider key(s) that staging needs are not stored"),
        "{}",
        refused.stderr
    );
    // ... and this test is about the artifact, so the models may go without them.
    let promoted = project
        .expect(
            &aws,
            &[
                "promote",
                "dev",
                "staging",
                "--yes",
                "--no-wait-cdn",
                "--allow-missing-keys",
                "--output",
                "json",
            ],
            0,
        )
        .json();
    assert_eq!(promoted["outcome"], "created", "{promoted}");
    assert_eq!(promoted["artifact"]["sha256"], dev["artifact"]["sha256"]);
    let source_bucket = dev["artifact"]["bucket"].as_str().unwrap();
    let target_bucket = promoted["artifact"]["bucket"].as_str().unwrap();
    assert_ne!(
        target_bucket, source_bucket,
        "each region has its own store"
    );
    assert_eq!(
        stack_status(&aws, "pixel-prompt-staging", "eu-west-1").as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        stack_status(&aws, "pixel-prompt-staging", "us-west-2"),
        None
    );
    // The same bytes, in the target region's store.
    let key = promoted["artifact"]["key"].as_str().unwrap();
    assert_eq!(
        object_bytes(&aws, target_bucket, key),
        object_bytes(&aws, source_bucket, key)
    );
}

fn object_bytes(aws: &LocalAws, bucket: &str, key: &str) -> Vec<u8> {
    let s3 = aws.s3();
    block_on(async {
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        object.body.collect().await.unwrap().into_bytes().to_vec()
    })
}

#[test]
fn tag_push_sends_the_release_tag_to_origin() {
    let aws = LocalAws::with_keys();
    let project = Project::copy();
    project.git_init();
    let remote = tempfile::tempdir().unwrap();
    let init = std::process::Command::new("git")
        .args(["init", "--bare", "--quiet"])
        .arg(remote.path())
        .status()
        .unwrap();
    assert!(init.success());
    project.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    project.deploy(&aws, "dev", &[], 0);

    let run = project.expect(&aws, &["tag", "dev", "--push"], 0);
    assert_eq!(run.stdout, "dev-v0.1.0\n");
    assert!(
        run.stderr.contains("pushed dev-v0.1.0 to origin"),
        "{}",
        run.stderr
    );
    let listed = std::process::Command::new("git")
        .arg("-C")
        .arg(remote.path())
        .args(["rev-parse", "refs/tags/dev-v0.1.0^{commit}"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "the tag is not on origin");
    assert_eq!(
        String::from_utf8(listed.stdout).unwrap(),
        project.git(&["rev-parse", "HEAD"])
    );

    // No origin to push to: the tag is made, the push fails, and says so.
    project.git(&["remote", "remove", "origin"]);
    let failed = project.expect(&aws, &["tag", "dev", "--bump", "minor", "--push"], 1);
    assert!(failed.stderr.contains("origin"), "{}", failed.stderr);
}
