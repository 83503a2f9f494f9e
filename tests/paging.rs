//! pixelctl reads every page of the lists it pages through. The local AWS runs
//! with `--page-size 2`, so each list below spans several pages; a client that
//! stopped after the first would leave change sets, artifact versions or
//! releases behind and these assertions would fail.

#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalAws, Project, block_on, other_bootstrap};

const STACK: &str = "pixel-prompt-dev";

/// Change sets named `pixelctl-…` on the stack (by name).
fn pixelctl_change_sets(aws: &LocalAws) -> Vec<String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = block_on(
            aws.cloudformation()
                .list_change_sets()
                .stack_name(STACK)
                .set_next_token(token.take())
                .send(),
        )
        .unwrap();
        names.extend(
            page.summaries()
                .iter()
                .filter_map(|summary| summary.change_set_name())
                .filter(|name| name.starts_with("pixelctl-"))
                .map(str::to_owned),
        );
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => return names,
        }
    }
}

/// Every version id of `key` in `bucket` (the SDK's paginator: this is the test's view).
fn versions_of(aws: &LocalAws, bucket: &str, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = block_on(
            aws.s3()
                .list_object_versions()
                .bucket(bucket)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send(),
        )
        .unwrap();
        ids.extend(
            page.versions()
                .iter()
                .filter(|version| version.key() == Some(key))
                .filter_map(|version| version.version_id().map(str::to_owned)),
        );
        if page.is_truncated() != Some(true) {
            return ids;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
}

#[test]
fn pixelctl_reads_every_page_of_the_lists_it_pages_through() {
    let aws = LocalAws::with_keys_and(&["--page-size", "2"]);
    let project = Project::copy();
    let first = project.deploy(&aws, "dev", &[], 0).json();
    let first_key = first["artifact"]["key"].as_str().unwrap().to_owned();
    let bucket = first["artifact"]["bucket"].as_str().unwrap().to_owned();

    // ListChangeSets: five failed change sets an interrupted run could leave (three pages).
    let cfn = aws.cloudformation();
    for index in 0..5 {
        block_on(
            cfn.create_change_set()
                .stack_name(STACK)
                .change_set_name(format!("pixelctl-stale-{index}"))
                .use_previous_template(true)
                .set_parameters(Some(
                    block_on(cfn.describe_stacks().stack_name(STACK).send())
                        .unwrap()
                        .stacks()[0]
                        .parameters()
                        .iter()
                        .map(|parameter| {
                            aws_sdk_cloudformation::types::Parameter::builder()
                                .parameter_key(parameter.parameter_key().unwrap())
                                .use_previous_value(true)
                                .build()
                        })
                        .collect(),
                ))
                .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
                .send(),
        )
        .unwrap();
    }
    let stale = |names: Vec<String>| {
        names
            .iter()
            .filter(|name| name.starts_with("pixelctl-stale-"))
            .count()
    };
    assert_eq!(stale(pixelctl_change_sets(&aws)), 5);
    let second = project.deploy_with(&aws, "dev", other_bootstrap(), &[], 0);
    // (Executing a change set deletes the stack's others anyway, on AWS as here:
    // what shows that every page was read is that each stale one was found.)
    for index in 0..5 {
        let note = format!("removing change set pixelctl-stale-{index} left by an earlier run");
        assert!(second.stderr.contains(&note), "{note}\n{}", second.stderr);
    }
    let second_key = second.json()["artifact"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stale(pixelctl_change_sets(&aws)), 0);

    // ListObjectsV2 (the release ledger): three releases of dev span two pages.
    let third = common::compile_bootstrap(9);
    project.edit(
        "environments/dev.yaml",
        "lambda:\n",
        "lambda:\n  memory_mb: 640\n",
    );
    project.deploy_with(&aws, "dev", &third, &[], 0);
    let releases = project
        .expect(&aws, &["history", "dev", "--output", "json"], 0)
        .json()["releases"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(releases, 3);

    // ListObjectVersions: the first artifact, no longer live nor among the last
    // release, has five versions (three pages); prune deletes every one.
    for body in ["v2", "v3", "v4", "v5"] {
        block_on(
            aws.s3()
                .put_object()
                .bucket(&bucket)
                .key(&first_key)
                .body(body.as_bytes().to_vec().into())
                .send(),
        )
        .unwrap();
    }
    assert_eq!(versions_of(&aws, &bucket, &first_key).len(), 5);
    let pruned = project
        .expect(
            &aws,
            &["prune", "--keep", "1", "--yes", "--output", "json"],
            0,
        )
        .json();
    let deleted: Vec<String> = serde_json::from_value(pruned["deleted"].clone()).unwrap();
    assert!(
        deleted.contains(&first_key) && deleted.contains(&second_key),
        "{pruned}"
    );
    assert_eq!(
        versions_of(&aws, &bucket, &first_key),
        Vec::<String>::new(),
        "every version of a pruned artifact is deleted"
    );
}
