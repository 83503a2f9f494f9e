//! The web app published with the stack, against the local AWS: what lands in
//! the bucket (content types, cache headers), in which order (index.html
//! last), what CloudFront is told to forget, what a browser gets through the
//! distribution, waiting for the invalidation, rollback of the page, and what
//! prune keeps. The page is the real `frontend/`, built by pixelctl.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{LocalAws, Project, block_on};
use serde_json::Value;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

/// The distribution's local host name (`{label}.cloudfront.localhost`) from a report's URL.
fn site_host(report: &Value) -> String {
    let url = report["frontend"]["url"]
        .as_str()
        .or_else(|| report["url"].as_str())
        .unwrap();
    url.trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap()
        .to_owned()
}

/// Keys of the S3 writes pixelctl made under `prefix` of `bucket`, in order.
fn puts_under(aws: &LocalAws, bucket: &str, prefix: &str) -> Vec<String> {
    let start = format!("PUT /{bucket}/{prefix}");
    aws.requests()
        .into_iter()
        .filter_map(|call| {
            call.strip_prefix(&start)
                .map(|key| format!("{prefix}{}", key.split('?').next().unwrap()))
        })
        .collect()
}

/// The built JavaScript entry of the page a report published.
fn script_of(uploaded: &[String]) -> String {
    uploaded
        .iter()
        .find(|path| {
            path.starts_with("assets/")
                && std::path::Path::new(path)
                    .extension()
                    .is_some_and(|extension| extension == "js")
        })
        .unwrap()
        .clone()
}

/// Changes one line of the app's code: the next build has a new JS chunk.
fn change_the_code(project: &Project, marker: &str) {
    let path = project.path("frontend/src/main.tsx");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("\nconsole.info('pixel prompt {marker}');\n"));
    std::fs::write(path, text).unwrap();
}

fn history(project: &Project, aws: &LocalAws) -> Vec<Value> {
    project
        .expect(aws, &["history", "dev", "--output", "json"], 0)
        .json()["releases"]
        .as_array()
        .unwrap()
        .clone()
}

fn invalidations(aws: &LocalAws, distribution: &str) -> Vec<(String, String, Vec<String>)> {
    let cloudfront = aws.cloudfront();
    let listed = block_on(
        cloudfront
            .list_invalidations()
            .distribution_id(distribution)
            .send(),
    )
    .unwrap();
    let ids: Vec<String> = listed
        .invalidation_list()
        .map(|list| {
            list.items()
                .iter()
                .map(|item| item.id().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.into_iter()
        .map(|id| {
            let got = block_on(
                cloudfront
                    .get_invalidation()
                    .distribution_id(distribution)
                    .id(&id)
                    .send(),
            )
            .unwrap();
            let invalidation = got.invalidation().unwrap();
            let mut paths = invalidation
                .invalidation_batch()
                .unwrap()
                .paths()
                .unwrap()
                .items()
                .to_vec();
            paths.sort();
            (id, invalidation.status().to_owned(), paths)
        })
        .collect()
}

#[test]
fn deploy_publishes_the_app_behind_the_distribution_with_index_html_last() {
    let aws = LocalAws::with_keys();
    let project = Project::with_frontend();
    let report = project.deploy(&aws, "dev", &[], 0).json();
    let web = &report["frontend"];
    let bucket = report["outputs"]["ImagesBucket"]
        .as_str()
        .unwrap()
        .to_owned();
    let distribution = report["outputs"]["DistributionId"].as_str().unwrap();
    let store = report["artifact"]["bucket"].as_str().unwrap().to_owned();

    // Every built file is uploaded, index.html last.
    let uploaded = strings(&web["uploaded"]);
    let mut built: Vec<String> = walk(&project.path("target/pixelctl/site/dev"));
    built.sort();
    let mut sorted = uploaded.clone();
    sorted.sort();
    assert_eq!(sorted, built);
    assert_eq!(uploaded.last().unwrap(), "index.html");

    // The order as the local AWS saw the writes: content-hashed assets, then
    // the other fixed-name files, index.html alone at the end; the fixed-name
    // files' bytes went to the artifact store before anything was switched.
    let site_puts = puts_under(&aws, &bucket, "site/");
    assert_eq!(site_puts.len(), uploaded.len(), "{site_puts:?}");
    assert_eq!(site_puts.last().unwrap(), "site/index.html");
    let last_asset = site_puts
        .iter()
        .rposition(|key| key.starts_with("site/assets/"))
        .unwrap();
    let first_fixed = site_puts
        .iter()
        .position(|key| !key.starts_with("site/assets/"))
        .unwrap();
    assert!(last_asset < first_fixed, "{site_puts:?}");
    let all: Vec<String> = aws.requests();
    let stored_index = all
        .iter()
        .position(|call| call.starts_with(&format!("PUT /{store}/frontends/files/")))
        .unwrap();
    let first_site_put = all
        .iter()
        .position(|call| call.starts_with(&format!("PUT /{bucket}/site/")))
        .unwrap();
    assert!(stored_index < first_site_put, "{all:?}");

    // Headers, as S3 holds them.
    let s3 = aws.s3();
    for path in &uploaded {
        let head = block_on(
            s3.head_object()
                .bucket(&bucket)
                .key(format!("site/{path}"))
                .send(),
        )
        .unwrap();
        let (content_type, cache_control) = match path.rsplit('.').next().unwrap() {
            "js" => (
                "text/javascript; charset=utf-8",
                "public, max-age=31536000, immutable",
            ),
            "css" => (
                "text/css; charset=utf-8",
                "public, max-age=31536000, immutable",
            ),
            "html" => ("text/html; charset=utf-8", "no-cache"),
            "svg" => ("image/svg+xml", "no-cache"),
            "txt" => ("text/plain; charset=utf-8", "no-cache"),
            other => panic!("an unexpected file type {other} in the build: {path}"),
        };
        assert_eq!(head.content_type(), Some(content_type), "{path}");
        assert_eq!(head.cache_control(), Some(cache_control), "{path}");
    }

    // CloudFront was told to forget the fixed-name paths only, and is done.
    let expected_paths = ["/", "/favicon.svg", "/index.html", "/robots.txt"];
    assert_eq!(strings(&web["invalidation"]["paths"]), expected_paths);
    assert_eq!(web["invalidation"]["status"], "Completed");
    let made = invalidations(&aws, distribution);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].1, "Completed");
    assert_eq!(made[0].2, expected_paths);

    // What a browser gets through the distribution's local host.
    let host = site_host(&report);
    let index = std::fs::read(project.path("target/pixelctl/site/dev/index.html")).unwrap();
    for route in [
        "/",
        "/gallery",
        "/gallery/4f1c2d3e-0000-4000-8000-000000000000",
    ] {
        let page = aws.fetch(&host, "GET", route, &[]);
        assert_eq!(page.status, 200, "{route}");
        assert_eq!(page.body, index, "{route} answers the app");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(page.header("cache-control"), Some("no-cache"));
    }
    let script = script_of(&uploaded);
    let served = aws.fetch(&host, "GET", &format!("/{script}"), &[]);
    assert_eq!(served.status, 200);
    assert_eq!(
        served.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    // The page calls the deployed API at the form a browser here reaches, and
    // the API allows the page's origin (the distribution's local form).
    let outputs = project
        .expect(&aws, &["outputs", "dev", "--format", "json"], 0)
        .json();
    let api = outputs["served_locally"]["ApiEndpoint"].as_str().unwrap();
    assert!(served.text().contains(api), "the build names {api}");
    let api_host = api.trim_start_matches("http://").split(':').next().unwrap();
    let origin = format!("http://{host}:{}", aws.port());
    let preflight = aws.fetch(
        api_host,
        "OPTIONS",
        "/generate",
        &[
            ("Origin", &origin),
            ("Access-Control-Request-Method", "POST"),
        ],
    );
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(origin.as_str())
    );

    // The ledger records the page with the release.
    let releases = history(&project, &aws);
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0]["frontend"]["site_id"], web["site_id"]);
    assert_eq!(web["release"], 1);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            found.extend(
                walk(&entry.path())
                    .into_iter()
                    .map(|inner| format!("{name}/{inner}")),
            );
        } else {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn a_changed_chunk_is_all_a_publish_uploads_and_open_tabs_keep_their_files() {
    let aws = LocalAws::with_keys();
    let project = Project::with_frontend();
    let first = project.deploy(&aws, "dev", &[], 0).json();
    let bucket = first["outputs"]["ImagesBucket"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_script = script_of(&strings(&first["frontend"]["uploaded"]));
    let host = site_host(&first);

    change_the_code(&project, "build 2");
    aws.clear_requests();
    let second = project
        .expect(&aws, &["publish", "dev", "--output", "json"], 0)
        .json();
    let uploaded = strings(&second["uploaded"]);
    let new_script = script_of(&uploaded);
    assert_ne!(new_script, old_script);
    assert_eq!(uploaded, [new_script.clone(), "index.html".to_owned()]);
    assert_eq!(
        second["unchanged"], 3,
        "the stylesheet, favicon and robots.txt"
    );
    assert_eq!(
        puts_under(&aws, &bucket, "site/"),
        [format!("site/{new_script}"), "site/index.html".to_owned()]
    );
    assert_eq!(
        strings(&second["invalidation"]["paths"]),
        ["/", "/index.html"]
    );

    // New visitors get the new page; a tab opened before still loads its chunk.
    let page = aws.fetch(&host, "GET", "/", &[]).text();
    assert!(page.contains(&new_script) && !page.contains(&old_script));
    assert_eq!(
        aws.fetch(&host, "GET", &format!("/{old_script}"), &[])
            .status,
        200
    );

    // Only the page changed: a release of kind `publish` carrying the live stack.
    let releases = history(&project, &aws);
    assert_eq!(releases.len(), 2);
    assert_eq!(releases[0]["sequence"], 2);
    assert_eq!(releases[0]["kind"], "publish");
    assert_eq!(releases[0]["live"], true);
    assert_eq!(releases[0]["artifact"], releases[1]["artifact"]);
    assert_eq!(releases[0]["frontend"]["site_id"], second["site_id"]);
    assert_eq!(second["release"], 2);

    // Nothing changed: no upload, no invalidation, no new release.
    aws.clear_requests();
    let third = project
        .expect(&aws, &["publish", "dev", "--output", "json"], 0)
        .json();
    assert_eq!(strings(&third["uploaded"]), Vec::<String>::new());
    assert!(third.get("invalidation").is_none(), "{third}");
    assert!(
        puts_under(&aws, &bucket, "").is_empty(),
        "{:?}",
        aws.requests()
    );
    assert_eq!(history(&project, &aws).len(), 2);

    // A deploy with nothing changed anywhere publishes nothing either.
    let again = project.deploy(&aws, "dev", &[], 0).json();
    assert_eq!(again["outcome"], "no_changes");
    assert_eq!(
        strings(&again["frontend"]["uploaded"]),
        Vec::<String>::new()
    );
    assert_eq!(history(&project, &aws).len(), 2);
}

#[test]
fn publish_waits_for_the_invalidation_and_shows_it() {
    let aws = LocalAws::with_keys();
    let project = Project::with_frontend();
    let first = project.deploy(&aws, "dev", &[], 0).json();
    let distribution = first["outputs"]["DistributionId"]
        .as_str()
        .unwrap()
        .to_owned();
    change_the_code(&project, "held");

    aws.control(
        "/_local-aws/hold",
        r#"{"what": "cloudfront-invalidations"}"#,
    );
    let mut publish = project.spawn_piped(&aws, &["publish", "dev", "--output", "json"]);
    // Wait (with a deadline) until the publish has created its invalidation.
    let started = Instant::now();
    let held = loop {
        let made = invalidations(&aws, &distribution);
        if made.len() == 2 {
            break made
                .into_iter()
                .find(|(_, _, paths)| paths.len() == 2)
                .unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the publish made no invalidation: {made:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(held.1, "InProgress");
    assert_eq!(held.2, ["/", "/index.html"]);
    assert!(
        publish.try_wait().unwrap().is_none(),
        "the publish ended while its invalidation was in progress"
    );

    aws.control(
        "/_local-aws/release",
        r#"{"what": "cloudfront-invalidations"}"#,
    );
    let output = publish.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "waiting for CloudFront to invalidate / /index.html (invalidation {})",
            held.0
        )),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["invalidation"]["id"], held.0.as_str());
    assert_eq!(report["invalidation"]["status"], "Completed");
}

#[test]
fn rollback_brings_the_earlier_page_back() {
    let aws = LocalAws::with_keys();
    let project = Project::with_frontend();
    let first = project.deploy(&aws, "dev", &[], 0).json();
    let host = site_host(&first);
    let page_one = aws.fetch(&host, "GET", "/", &[]).body;

    change_the_code(&project, "release 2");
    project.expect(&aws, &["publish", "dev"], 0);
    let page_two = aws.fetch(&host, "GET", "/", &[]).body;
    assert_ne!(page_two, page_one);

    let rollback = project
        .expect(&aws, &["rollback", "dev", "--yes", "--output", "json"], 0)
        .json();
    assert_eq!(rollback["outcome"], "no_changes", "the stack was the same");
    let web = &rollback["frontend"];
    assert_eq!(strings(&web["uploaded"]), ["index.html"]);
    assert_eq!(strings(&web["invalidation"]["paths"]), ["/", "/index.html"]);
    assert_eq!(
        aws.fetch(&host, "GET", "/", &[]).body,
        page_one,
        "the distribution serves the first page again"
    );
    let releases = history(&project, &aws);
    assert_eq!(releases[0]["sequence"], 3);
    assert_eq!(releases[0]["kind"], "rollback");
    assert_eq!(releases[0]["source"]["sequence"], 1);
    assert_eq!(
        releases[0]["frontend"]["site_id"],
        first["frontend"]["site_id"]
    );

    // And forward again: the previous different page is release 2's.
    project.expect(&aws, &["rollback", "dev", "--yes"], 0);
    assert_eq!(aws.fetch(&host, "GET", "/", &[]).body, page_two);
}

#[test]
fn prune_keeps_the_files_recent_releases_use() {
    let aws = LocalAws::with_keys();
    let project = Project::with_frontend();
    let first = project.deploy(&aws, "dev", &[], 0).json();
    let bucket = first["outputs"]["ImagesBucket"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = site_host(&first);
    let mut scripts = vec![script_of(&strings(&first["frontend"]["uploaded"]))];
    for release in ["2", "3"] {
        change_the_code(&project, release);
        let published = project
            .expect(&aws, &["publish", "dev", "--output", "json"], 0)
            .json();
        scripts.push(script_of(&strings(&published["uploaded"])));
    }
    // A file no release recorded yet (a publish in flight) is never pruned.
    block_on(
        aws.s3()
            .put_object()
            .bucket(&bucket)
            .key("site/assets/in-flight-AbCd1234.js")
            .body(b"x".to_vec().into())
            .send(),
    )
    .unwrap();

    let pruned = project
        .expect(
            &aws,
            &["prune", "--keep", "2", "--yes", "--output", "json"],
            0,
        )
        .json();
    let sites = pruned["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 1, "{pruned}");
    assert_eq!(sites[0]["environment"], "dev");
    assert_eq!(strings(&sites[0]["deleted"]), [scripts[0].clone()]);
    assert_eq!(
        pruned["page_files"].as_array().unwrap().len(),
        1,
        "release 1's index.html kept for rollbacks: {pruned}"
    );
    for (script, status) in [(&scripts[0], 404), (&scripts[1], 200), (&scripts[2], 200)] {
        let head = block_on(
            aws.s3()
                .head_object()
                .bucket(&bucket)
                .key(format!("site/{script}"))
                .send(),
        );
        assert_eq!(head.is_ok(), status == 200, "{script}");
    }
    assert_eq!(
        aws.fetch(&host, "GET", &format!("/{}", scripts[1]), &[])
            .status,
        200,
        "a tab opened on release 2 still loads"
    );
    let in_flight = block_on(
        aws.s3()
            .head_object()
            .bucket(&bucket)
            .key("site/assets/in-flight-AbCd1234.js")
            .send(),
    );
    assert!(in_flight.is_ok());

    // Release 2 can still be brought back; release 1's page cannot, and pixelctl says why.
    project.expect(&aws, &["rollback", "dev", "--to", "2", "--yes"], 0);
    assert!(
        aws.fetch(&host, "GET", "/", &[])
            .text()
            .contains(&scripts[1])
    );
    let refused = project.expect(&aws, &["rollback", "dev", "--to", "1", "--yes"], 1);
    assert!(
        refused.stderr.contains("the earlier page was not restored")
            && refused.stderr.contains("no longer in")
            && refused.stderr.contains(&scripts[0]),
        "{}",
        refused.stderr
    );
    assert!(
        aws.fetch(&host, "GET", "/", &[])
            .text()
            .contains(&scripts[1]),
        "the page stays"
    );
}

#[test]
fn without_npm_a_deploy_stops_before_changing_anything() {
    let aws = LocalAws::with_keys();
    let project = Project::with_frontend();
    // Nothing deployed yet: publish says what to do first.
    let early = project.expect(&aws, &["publish", "dev"], 1);
    assert!(
        early.stderr.contains(
            "stack `pixel-prompt-dev` does not exist: deploy it first with `pixelctl deploy dev`"
        ),
        "{}",
        early.stderr
    );
    let empty = tempfile::tempdir().unwrap();
    let run = project
        .pixelctl(&aws)
        .env("PATH", empty.path())
        .args(["deploy", "dev", "--yes", "--artifact"])
        .arg(common::bootstrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`npm` was not found") && stderr.contains("--no-frontend"),
        "{stderr}"
    );
    let stacks = block_on(aws.cloudformation().describe_stacks().send()).unwrap();
    assert!(stacks.stacks().is_empty(), "nothing was deployed");

    // --no-frontend deploys the stack alone, npm or not.
    let run = project
        .pixelctl(&aws)
        .env("PATH", empty.path())
        .args([
            "deploy",
            "dev",
            "--yes",
            "--no-frontend",
            "--output",
            "json",
            "--artifact",
        ])
        .arg(common::bootstrap())
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(report.get("frontend").is_none(), "{report}");
    let objects = block_on(
        aws.s3()
            .list_objects_v2()
            .bucket(report["outputs"]["ImagesBucket"].as_str().unwrap())
            .prefix("site/")
            .send(),
    )
    .unwrap();
    assert!(objects.contents().is_empty());
}
