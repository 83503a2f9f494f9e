//! Against the local AWS (`tools/local-aws/run`, moto): rate limits exact under 50
//! concurrent requests with S3 conditional writes, keys read from SSM SecureString and
//! Secrets Manager, and local mode storing jobs and images in S3.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{Credentials, Region};
use pixel_prompt_api::config::{EnvironmentName, KeyLocation, ModelSpec, ProviderKind, RateLimits};
use pixel_prompt_api::error::AppError;
use pixel_prompt_api::local::{self, LocalOptions, LocalStorage};
use pixel_prompt_api::ratelimit::{LimitScope, RateLimiter};
use pixel_prompt_api::secrets::KeyResolver;
use pixel_prompt_api::store::{ObjectStore, S3Store};

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

async fn s3_store(sdk: &aws_config::SdkConfig, bucket: &str) -> ObjectStore {
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    client
        .create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
    ObjectStore::S3(S3Store::new(client, bucket))
}

async fn admitted(limiter: RateLimiter, n: u8, distinct: bool) -> (usize, usize) {
    let limiter = Arc::new(limiter);
    let now = SystemTime::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let limiter = Arc::clone(&limiter);
        let ip = IpAddr::from([10, 1, 0, if distinct { i } else { 1 }]);
        tasks.spawn(async move { limiter.admit(LimitScope::Generate, Some(ip), now).await });
    }
    let (mut ok, mut limited) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(()) => ok += 1,
            Err(AppError::RateLimited { .. }) => limited += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    (ok, limited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn against_the_local_aws() {
    let aws = test_support::LocalAws::start(&[]);
    let sdk = sdk(&aws.endpoint).await;

    // 1. Rate limits with S3 conditional writes: exact under 50 concurrent requests.
    let store = s3_store(&sdk, "ratelimit-test").await;
    let per_ip = RateLimiter::new(
        store.clone(),
        RateLimits {
            global_per_hour: 1000,
            per_ip_per_day: 7,
            ip_allowlist: vec![],
            ..RateLimits::default()
        },
    );
    let burst = std::time::Instant::now();
    assert_eq!(
        admitted(per_ip, 50, false).await,
        (7, 43),
        "per-IP limit on S3"
    );
    eprintln!(
        "50 concurrent admissions, one IP, on S3: {:?}",
        burst.elapsed()
    );
    let store = s3_store(&sdk, "ratelimit-global").await;
    let global = RateLimiter::new(
        store,
        RateLimits {
            global_per_hour: 20,
            per_ip_per_day: 5,
            ip_allowlist: vec![],
            ..RateLimits::default()
        },
    );
    let burst = std::time::Instant::now();
    assert_eq!(
        admitted(global, 50, true).await,
        (20, 30),
        "global limit on S3"
    );
    eprintln!(
        "50 concurrent admissions, 50 IPs, on S3: {:?}",
        burst.elapsed()
    );

    // 2. Keys from SSM SecureString and Secrets Manager.
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name("/pixel-prompt/dev/openai")
        .value("sk-from-ssm")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("pixel-prompt/dev/bfl")
        .secret_string("bfl-from-secrets-manager")
        .send()
        .await
        .unwrap();
    let resolver = KeyResolver::new(
        [
            (
                ProviderKind::Openai,
                KeyLocation::Ssm("/pixel-prompt/dev/openai".into()),
            ),
            (
                ProviderKind::Bfl,
                KeyLocation::SecretsManager("pixel-prompt/dev/bfl".into()),
            ),
            (
                ProviderKind::Recraft,
                KeyLocation::Ssm("/pixel-prompt/dev/missing".into()),
            ),
        ]
        .into(),
        Some(sdk.clone()),
    );
    assert_eq!(
        resolver.key(ProviderKind::Openai).await.unwrap().expose(),
        "sk-from-ssm"
    );
    assert_eq!(
        resolver.key(ProviderKind::Bfl).await.unwrap().expose(),
        "bfl-from-secrets-manager"
    );
    let missing = resolver
        .key(ProviderKind::Recraft)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("could not read `ssm:/pixel-prompt/dev/missing`"),
        "{missing}"
    );

    // 3. Local mode on S3 with fake providers, over real HTTP.
    let mut options = LocalOptions::new(
        EnvironmentName::dev(),
        LocalStorage::S3 {
            endpoint_url: aws.endpoint.clone(),
            bucket: "local-mode".into(),
            region: "us-west-2".into(),
        },
        vec![ModelSpec {
            name: "GPT Image 2.6 Sunburst".into(),
            provider: ProviderKind::Openai,
            model: "gpt-image-2.6-sunburst".into(),
        }],
    );
    options.port = 0;
    options.fake_providers = true;
    options.fake_delay = Duration::from_millis(20);
    let server = local::bind(options).await.expect("bind local mode");
    let base = server.base_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .post(format!("{base}/generate"))
        .json(&serde_json::json!({"prompt": "a lighthouse"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = answer["jobId"].as_str().expect("jobId").to_owned();
    let job = common::finished_job(&http, &base, &job_id).await;
    assert_eq!(job["status"], "completed", "{job:#}");
    let url = job["results"][0]["imageUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{base}/images/{job_id}/")),
        "{url}"
    );
    let image = http.get(url).send().await.unwrap();
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(&image.bytes().await.unwrap()[..4], b"\x89PNG");
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// The AWS operations the local AWS served since the last call (then forgotten).
async fn operations_since(http: &reqwest::Client, endpoint: &str) -> Vec<String> {
    let log: serde_json::Value = http
        .get(format!("{endpoint}/_local-aws/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    http.post(format!("{endpoint}/_local-aws/requests/clear"))
        .send()
        .await
        .unwrap();
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| call["operation"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gallery_list_costs_the_same_however_large_the_gallery() {
    use pixel_prompt_api::gallery;
    use pixel_prompt_api::store::PutCondition;
    let aws = test_support::LocalAws::start(&[]);
    let sdk = sdk(&aws.endpoint).await;
    let store = s3_store(&sdk, "gallery-cost").await;
    // A gallery of 1,100 entries, written before the counts existed (more than one
    // 1,000-key LIST page).
    let now = SystemTime::now();
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..1100u64 {
        let store = store.clone();
        writes.spawn(async move {
            let id = format!("{i:08x}-0000-4000-8000-000000000000");
            let stamp = now - Duration::from_secs(60 * i);
            let millis = u64::try_from(
                stamp
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_millis(),
            )
            .unwrap();
            let key = format!(
                "jobs/gallery-index/{:013}-{id}.json",
                9_999_999_999_999 - millis
            );
            let entry = serde_json::json!({"id": id, "timestamp": "2026-11-26T05:31:52.123Z",
                                           "preview": "https://cdn/p.png", "imageCount": 3});
            store
                .put_json(&key, &entry, PutCondition::Always)
                .await
                .unwrap();
        });
        if writes.len() >= 16 {
            writes.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    let http = reqwest::Client::new();
    // S3's REST calls are logged as `METHOD /bucket/key`: a LIST is `GET /bucket/`.
    let listings = |operations: &[String]| {
        operations
            .iter()
            .filter(|o| o.as_str() == "GET /gallery-cost/")
            .count()
    };
    let reads = |operations: &[String]| {
        operations
            .iter()
            .filter(|o| o.starts_with("GET /gallery-cost/jobs/"))
            .count()
    };

    // The first listing counts the index once and keeps the count.
    operations_since(&http, &aws.endpoint).await;
    let first = gallery::list(&store, None, 20, 30).await.unwrap();
    assert_eq!((first.galleries.len(), first.total), (20, 1100));
    // From then on: one LIST of the page, its 20 entries and the count.
    operations_since(&http, &aws.endpoint).await;
    let page = gallery::list(&store, None, 20, 30).await.unwrap();
    assert_eq!(page.total, 1100);
    let operations = operations_since(&http, &aws.endpoint).await;
    assert_eq!(listings(&operations), 1, "{operations:?}");
    assert_eq!(reads(&operations), 21, "{operations:?}");

    // A new gallery is counted as the worker records it, still with one LIST per page.
    gallery::record(&store, "new-gallery", SystemTime::now(), "p".into(), 3, 30)
        .await
        .unwrap();
    operations_since(&http, &aws.endpoint).await;
    let page = gallery::list(&store, None, 20, 30).await.unwrap();
    assert_eq!(
        (page.total, page.galleries[0].id.as_str()),
        (1101, "new-gallery")
    );
    let operations = operations_since(&http, &aws.endpoint).await;
    assert_eq!(listings(&operations), 1, "{operations:?}");
}
