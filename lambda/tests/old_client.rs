//! The old Pixel Prompt web client (the React app of the old system) keeps working
//! against the new API: these requests are the ones it sends, and these fields are the
//! ones it reads (docs/API.md, "Compatibility").
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

mod common;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn its_generate_requests_are_accepted_across_its_slider_ranges() {
    let app = app_with(|_| {});
    // Steps slider 3..=50 (default 28), guidance slider 0..=10 in 0.5 steps
    // (default 5), and a `control` field the new API ignores.
    for (steps, guidance) in [(28, 5.0), (3, 0.0), (50, 10.0), (12, 0.5)] {
        let body = format!(
            r#"{{"prompt":"a red fox","steps":{steps},"guidance":{guidance},"control":1.0}}"#
        );
        let response = call(&app.state, post("/generate", &body, ip(1))).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        let answer = json(response).await;
        assert!(answer["jobId"].is_string(), "{answer}");
        let job = wait_for_job(&app.state, answer["jobId"].as_str().unwrap()).await;
        assert_eq!(job["parameters"]["guidance"], guidance, "{job}");
    }
}

#[tokio::test]
async fn its_upper_case_log_levels_are_accepted() {
    let app = app_with(|_| {});
    for level in ["ERROR", "WARNING", "INFO", "DEBUG"] {
        let body = format!(
            r#"{{"level":"{level}","message":"Failed to load gallery","stack":"Error: x\n at y","metadata":{{"url":"http://localhost:3000/","errorName":"Error"}}}}"#
        );
        let response = call(&app.state, post("/log", &body, ip(2))).await;
        assert_eq!(response.status(), StatusCode::OK, "{level}");
        assert_eq!(json(response).await["success"], true);
    }
}

#[tokio::test]
async fn enhance_answers_the_fields_it_reads() {
    let app = app_with(|_| {});
    let answer =
        json(call(&app.state, post("/enhance", r#"{"prompt":"a fox"}"#, ip(1))).await).await;
    // The old client shows `short_prompt` (and `long_prompt` behind a toggle) and
    // fails with "No enhanced prompt received" without them.
    let short = answer["short_prompt"].as_str().unwrap();
    let long = answer["long_prompt"].as_str().unwrap();
    assert!(short.len() > "a fox".len(), "{answer}");
    assert_eq!(long, short);
    // Today's fields stay.
    assert_eq!(answer["original"], "a fox");
    assert_eq!(answer["enhanced"].as_str().unwrap(), short);
}
