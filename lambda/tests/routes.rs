//! Router tests through `oneshot`: every route, status code and validation rule, CORS,
//! correlation ids, rate limits by source IP, and the Lambda event path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

mod common;

use std::time::Duration;

use axum::http::{Method, Request, StatusCode};
use common::*;
use pixel_prompt_api::config::{EnhanceSpec, ProviderKind};
use pixel_prompt_api::enhance::Enhancer;
use pixel_prompt_api::providers::ProviderHttp;
use pixel_prompt_api::secrets::{ApiKey, KeyResolver};
use serde_json::{Value, json};

#[tokio::test]
async fn generate_then_status_runs_every_model_and_stores_real_images() {
    let app = app_with(|_| {});
    let response = call(
        &app.state,
        post(
            "/generate",
            r#"{"prompt":"  a red fox  ","steps":30}"#,
            ip(1),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["totalModels"], 3);
    assert_eq!(body["fake"], true);
    assert!(body["message"].as_str().unwrap().contains("FAKE"));
    let job_id = body["jobId"].as_str().unwrap().to_owned();

    let job = wait_for_job(&app.state, &job_id).await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["completedModels"], 3);
    assert_eq!(job["prompt"], "a red fox");
    assert_eq!(job["parameters"], json!({"steps": 30, "guidance": 7.0}));
    for (i, result) in job["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(result["index"], i);
        assert_eq!(result["status"], "completed");
        assert_eq!(result["fake"], true);
        assert_eq!(result["contentType"], "image/png");
        assert!(result["duration"].as_f64().unwrap() > 0.0);
        let url = result["imageUrl"].as_str().unwrap();
        let key = url.strip_prefix("https://cdn.example.test/").unwrap();
        assert!(
            key.starts_with(&format!("images/{job_id}/0{i}-model-{i}.png")),
            "{key}"
        );
        let bytes = std::fs::read(app.dir.path().join(key)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}

#[tokio::test]
async fn validation_errors_have_the_old_shape_and_codes() {
    let app = app_with(|_| {});
    let long = format!(r#"{{"prompt":"{}"}}"#, "x".repeat(1001));
    let cases = [
        ("{}", "PROMPT_REQUIRED"),
        (r#"{"prompt":"   "}"#, "PROMPT_REQUIRED"),
        (long.as_str(), "PROMPT_TOO_LONG"),
        (r#"{"prompt":"a nude portrait"}"#, "INAPPROPRIATE_CONTENT"),
        ("{not json", "INVALID_JSON"),
        (r#"{"prompt":"cat","steps":500}"#, "INVALID_PARAMETER"),
        (r#"{"prompt":"cat","guidance":"high"}"#, "INVALID_PARAMETER"),
    ];
    for (body, code) in cases {
        let response = call(&app.state, post("/generate", body, ip(1))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer = json(response).await;
        assert_eq!(answer["error"], code, "{body}");
        assert!(answer["message"].is_string());
    }
    let answer = json(call(&app.state, post("/generate", &long, ip(1))).await).await;
    assert_eq!(
        answer["details"],
        json!({"length": 1001, "maxLength": 1000})
    );
    // Refused requests created no job and used no quota.
    assert!(!app.dir.path().join("jobs").exists());
    assert!(!app.dir.path().join("ratelimit").exists());
}

#[tokio::test]
async fn per_ip_limit_uses_the_source_ip_and_ignores_a_body_ip() {
    let app = app_with(|p| {
        p.rate_limits.per_ip_per_day = 2;
        p.rate_limits.ip_allowlist = vec![ip(9).ip()];
    });
    for i in 0..2 {
        let body = format!(r#"{{"prompt":"cat","ip":"198.51.100.{i}"}}"#);
        let response = call(&app.state, post("/generate", &body, ip(1))).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = call(
        &app.state,
        post(
            "/generate",
            r#"{"prompt":"cat","ip":"198.51.100.77"}"#,
            ip(1),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_header: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let answer = json(response).await;
    assert_eq!(answer["error"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(answer["retryAfter"], retry_header);
    assert!(retry_header > 0 && retry_header <= 86_400);
    // Another IP still gets through; an allow-listed IP is never limited.
    assert_eq!(
        call(&app.state, post("/generate", r#"{"prompt":"cat"}"#, ip(2)))
            .await
            .status(),
        StatusCode::OK
    );
    for _ in 0..4 {
        assert_eq!(
            call(&app.state, post("/generate", r#"{"prompt":"cat"}"#, ip(9)))
                .await
                .status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn global_limit_applies_across_ips() {
    let app = app_with(|p| p.rate_limits.global_per_hour = 3);
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for i in 0..5 {
            s.push(
                call(&app.state, post("/generate", r#"{"prompt":"cat"}"#, ip(i)))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        s
    };
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn status_of_unknown_or_malformed_job_is_404() {
    let app = app_with(|_| {});
    for id in [
        "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "not-a-uuid",
        "..%2Fjobs",
    ] {
        let response = call(&app.state, get(&format!("/status/{id}"))).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
        assert_eq!(json(response).await["error"], "JOB_NOT_FOUND");
    }
}

#[tokio::test]
async fn enhance_fake_validation_and_fallback() {
    let app = app_with(|_| {});
    let answer =
        json(call(&app.state, post("/enhance", r#"{"prompt":"a fox"}"#, ip(1))).await).await;
    assert_eq!(answer["original"], "a fox");
    assert!(answer["enhanced"].as_str().unwrap().len() > 5);
    assert_eq!(answer["fake"], true);

    let long = format!(r#"{{"prompt":"{}"}}"#, "x".repeat(501));
    for (body, code) in [
        ("{}", "PROMPT_REQUIRED"),
        (long.as_str(), "PROMPT_TOO_LONG"),
        ("[]", "INVALID_JSON"),
    ] {
        let response = call(&app.state, post("/enhance", body, ip(1))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(response).await["error"], code);
    }

    // A chat provider that cannot be reached: 200 with the original and a flag.
    let unreachable = app_with(|p| {
        p.enhancer = Enhancer::Chat {
            spec: EnhanceSpec {
                provider: ProviderKind::Openai,
                model: "gpt-4o-mini".into(),
            },
            http: ProviderHttp::new(Duration::from_secs(2)),
            base_urls: [(ProviderKind::Openai, "http://127.0.0.1:9".to_owned())].into(),
            keys: std::sync::Arc::new(KeyResolver::with_keys(
                [(ProviderKind::Openai, ApiKey::new("sk-test-secret"))].into(),
            )),
        };
    });
    let response = call(
        &unreachable.state,
        post("/enhance", r#"{"prompt":"a fox"}"#, ip(1)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert_eq!(
        answer,
        json!({"original": "a fox", "enhanced": "a fox", "short_prompt": "a fox",
               "long_prompt": "a fox", "fallback": true})
    );
}

#[tokio::test]
async fn enhance_has_its_own_per_ip_and_global_limits() {
    let app = app_with(|p| {
        p.rate_limits.enhance_per_ip_per_day = 2;
        p.rate_limits.enhance_global_per_hour = 3;
    });
    let enhance = |from| post("/enhance", r#"{"prompt":"a fox"}"#, from);
    for _ in 0..2 {
        assert_eq!(
            call(&app.state, enhance(ip(1))).await.status(),
            StatusCode::OK
        );
    }
    let limited = call(&app.state, enhance(ip(1))).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = json(limited).await;
    assert_eq!(body["error"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(body["details"]["limit"], "ip");
    // Another IP gets the global budget's last call, then the global limit holds.
    assert_eq!(
        call(&app.state, enhance(ip(2))).await.status(),
        StatusCode::OK
    );
    let global = json(call(&app.state, enhance(ip(3))).await).await;
    assert_eq!(global["details"]["limit"], "global", "{global}");
    // /generate counts apart: still open for the IP that spent its enhancements.
    assert_eq!(
        call(&app.state, post("/generate", r#"{"prompt":"cat"}"#, ip(1)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn gallery_list_and_detail() {
    let app = app_with(|_| {});
    let mut ids = Vec::new();
    for prompt in ["one", "two", "three"] {
        let body = format!(r#"{{"prompt":"{prompt}"}}"#);
        let answer = json(call(&app.state, post("/generate", &body, ip(1))).await).await;
        let id = answer["jobId"].as_str().unwrap().to_owned();
        let job = wait_for_job(&app.state, &id).await;
        ids.push(id);
        // The index orders galleries by creation millisecond: the next one starts in
        // a later one (waiting for the clock, not for a fixed time).
        let created = job["createdAt"].as_str().unwrap();
        let created = pixel_prompt_api::clock::parse_rfc3339(created).unwrap();
        let created = pixel_prompt_api::clock::epoch_millis(created);
        while pixel_prompt_api::clock::epoch_millis(std::time::SystemTime::now()) <= created {
            tokio::task::yield_now().await;
        }
    }
    let page = json(call(&app.state, get("/gallery/list?limit=2")).await).await;
    assert_eq!(page["total"], 3);
    let listed: Vec<&str> = page["galleries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "newest first");
    assert_eq!(page["galleries"][0]["imageCount"], 3);
    assert!(
        page["galleries"][0]["preview"]
            .as_str()
            .unwrap()
            .starts_with("https://cdn.example.test/images/")
    );
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest = json(
        call(
            &app.state,
            get(&format!("/gallery/list?limit=2&cursor={cursor}")),
        )
        .await,
    )
    .await;
    assert_eq!(rest["galleries"][0]["id"], ids[0].as_str());
    assert!(rest.get("nextCursor").is_none());

    let detail = json(call(&app.state, get(&format!("/gallery/{}", ids[0]))).await).await;
    assert_eq!(detail["galleryId"], ids[0].as_str());
    assert_eq!(detail["total"], 3);
    assert_eq!(detail["images"][1]["model"], "model-1");

    let empty = call(&app.state, get("/gallery/no-such-gallery")).await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(
        json(empty).await,
        json!({"galleryId": "no-such-gallery", "total": 0, "images": []})
    );

    for bad in ["/gallery/a_b", "/gallery/a.b"] {
        let response = call(&app.state, get(bad)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(json(response).await["error"], "INVALID_GALLERY_ID");
    }
    for bad in [
        "/gallery/list?limit=0",
        "/gallery/list?limit=x",
        "/gallery/list?cursor=../x",
    ] {
        let response = call(&app.state, get(bad)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn client_log_route() {
    let app = app_with(|p| p.rate_limits.per_ip_per_day = 2);
    let ok = call(
        &app.state,
        post(
            "/log",
            r#"{"level":"error","message":"boom","stack":"at x","metadata":{"page":"/"}}"#,
            ip(1),
        ),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(json(ok).await, json!({"success": true}));
    for body in [
        r#"{"level":"error"}"#,
        r#"{"level":"loud","message":"x"}"#,
        "nope",
    ] {
        assert_eq!(
            call(&app.state, post("/log", body, ip(1))).await.status(),
            StatusCode::BAD_REQUEST,
            "{body}"
        );
    }
    assert_eq!(
        call(&app.state, post("/log", r#"{"message":"x"}"#, ip(1)))
            .await
            .status(),
        StatusCode::OK
    );
    let limited = call(&app.state, post("/log", r#"{"message":"x"}"#, ip(1))).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // /log has its own counters: /generate is still open for this IP.
    assert_eq!(
        call(&app.state, post("/generate", r#"{"prompt":"cat"}"#, ip(1)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_route_and_wrong_method_answer_json_404() {
    let app = app_with(|_| {});
    let response = call(&app.state, get("/nope")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json(response).await,
        json!({"error": "Not found", "path": "/nope", "method": "GET"})
    );
    let response = call(&app.state, get("/generate")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(response).await["method"], "GET");
    // Images are only served in local mode.
    assert_eq!(
        call(&app.state, get("/images/x/00-a.png")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn cors_and_correlation_id_on_every_response() {
    let app = app_with(|p| {
        p.allowed_origins = vec![
            "http://localhost:5173".into(),
            "https://app.example.com".into(),
        ];
    });
    let mut request = get("/nope");
    request
        .headers_mut()
        .insert("origin", "https://app.example.com".parse().unwrap());
    request
        .headers_mut()
        .insert("x-correlation-id", "trace-42".parse().unwrap());
    let response = call(&app.state, request).await;
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(response.headers()["x-correlation-id"], "trace-42");
    assert_eq!(response.headers()["vary"], "Origin");

    let mut request = post("/generate", "{}", ip(1));
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let response = call(&app.state, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(response.headers()["x-correlation-id"].len(), 36);

    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/generate")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = call(&app.state, preflight).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert!(
        response.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("X-Correlation-ID")
    );

    let wildcard = app_with(|_| {});
    let response = call(&wildcard.state, get("/health")).await;
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(json(response).await["fakeProviders"], true);
}

fn api_gateway_event(
    method: &str,
    raw_path: &str,
    stage: &str,
    source_ip: &str,
    body: Option<&str>,
) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-correlation-id": "from-gateway"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.test",
            "domainPrefix": "api",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "test"},
            "requestId": "r1",
            "routeKey": "$default",
            "stage": stage,
            "time": "26/Nov/2026:05:00:00 +0000",
            "timeEpoch": 1_795_640_400_000_u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn lambda_http_event_strips_the_stage_and_limits_by_source_ip() {
    use pixel_prompt_api::lambda_entry::handle_event;
    let app = app_with(|p| p.rate_limits.per_ip_per_day = 1);
    let event = |body| {
        lambda_http::LambdaEvent::new(
            api_gateway_event("POST", "/prod/generate", "prod", "198.51.100.7", Some(body)),
            lambda_http::Context::default(),
        )
    };
    let first = handle_event(
        app.state.clone(),
        event(r#"{"prompt":"cat","ip":"1.1.1.1"}"#),
    )
    .await
    .unwrap();
    assert_eq!(first["statusCode"], 200, "{first}");
    assert_eq!(first["headers"]["x-correlation-id"], "from-gateway");
    let second = handle_event(
        app.state.clone(),
        event(r#"{"prompt":"cat","ip":"2.2.2.2"}"#),
    )
    .await
    .unwrap();
    assert_eq!(second["statusCode"], 429, "{second}");
    let body: Value = serde_json::from_str(second["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"], "RATE_LIMIT_EXCEEDED");
    let day = &pixel_prompt_api::clock::day_window(std::time::SystemTime::now()).0;
    assert!(
        app.dir
            .path()
            .join(format!("ratelimit/generate/ip/{day}/198.51.100.7.json"))
            .exists()
    );

    let status = handle_event(
        app.state.clone(),
        lambda_http::LambdaEvent::new(
            api_gateway_event(
                "GET",
                "/status/67e55044-10b1-426f-9247-bb680e5fe0c8",
                "$default",
                "198.51.100.7",
                None,
            ),
            lambda_http::Context::default(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(status["statusCode"], 404);
}

#[tokio::test]
async fn lambda_worker_event_runs_the_job_once() {
    use pixel_prompt_api::job::Job;
    use pixel_prompt_api::lambda_entry::handle_event;
    let app = app_with(|_| {});
    let job_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let job = Job::new(
        job_id.into(),
        "a fox".into(),
        pixel_prompt_api::validation::GenerationParams::default(),
        &models(3),
        std::time::SystemTime::now(),
    );
    app.state.jobs.save(&job).await.unwrap();
    let payload = json!({"pixelPromptWorker": {"jobId": job_id}});
    let answer = handle_event(
        app.state.clone(),
        lambda_http::LambdaEvent::new(payload.clone(), lambda_http::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(answer, json!({"jobId": job_id, "status": "completed"}));
    // A retried invocation leaves the finished job alone.
    let again = handle_event(
        app.state.clone(),
        lambda_http::LambdaEvent::new(payload, lambda_http::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(again["status"], "completed");
    let missing = json!({"pixelPromptWorker": {"jobId": "1f8fad5b-d9cb-469f-a165-70867728950e"}});
    let answer = handle_event(
        app.state.clone(),
        lambda_http::LambdaEvent::new(missing, lambda_http::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(answer["error"], "JOB_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_generates_admit_exactly_the_limit() {
    let app = app_with(|p| {
        p.rate_limits.per_ip_per_day = 10;
        p.generator = fake_generator(1);
    });
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let state = app.state.clone();
        calls.spawn(async move {
            call(&state, post("/generate", r#"{"prompt":"cat"}"#, ip(3)))
                .await
                .status()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = calls.join_next().await {
        statuses.push(status.unwrap().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 40);
}
