//! Local mode on a data folder with fake providers, over real HTTP on 127.0.0.1: the
//! frontend's whole loop (generate, poll, load the image, enhance, gallery).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

mod common;

use std::time::Duration;

use pixel_prompt_api::config::{EnvironmentName, ModelSpec, ProviderKind};
use pixel_prompt_api::local::{self, LocalOptions, LocalStorage};
use serde_json::{Value, json};

/// Three models with fake providers behind them (local mode serves what it is given).
fn three_models() -> Vec<ModelSpec> {
    [
        (
            "GPT Image 2.6 Sunburst",
            ProviderKind::Openai,
            "gpt-image-2.6-sunburst",
        ),
        (
            "Gemini 3.1 Flash Image",
            ProviderKind::Gemini,
            "gemini-3.1-flash-image",
        ),
        (
            "Stable Image Ultra",
            ProviderKind::Bedrock,
            "stability.stable-image-ultra-v1:1",
        ),
    ]
    .into_iter()
    .map(|(name, provider, model)| ModelSpec {
        name: name.to_owned(),
        provider,
        model: model.to_owned(),
    })
    .collect()
}

#[tokio::test]
async fn frontend_loop_against_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LocalOptions::new(
        EnvironmentName::dev(),
        LocalStorage::Folder(dir.path().join("data")),
        three_models(),
    );
    options.port = 0;
    options.fake_providers = true;
    options.fake_delay = Duration::from_millis(30);
    options.fake_image_size = 64;
    let server = local::bind(options).await.unwrap();
    assert!(server.local_addr().ip().is_loopback());
    let base = server.base_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    let response = http
        .post(format!("{base}/generate"))
        .header("origin", "http://localhost:5173")
        .json(&json!({"prompt": "a lighthouse at night"}))
        .send()
        .await
        .unwrap();
    // Local mode allows any loopback origin by default.
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["totalModels"], 3);
    let job_id = answer["jobId"].as_str().unwrap().to_owned();
    let job = common::finished_job(&http, &base, &job_id).await;
    assert_eq!(job["status"], "completed", "{job:#}");
    let names: Vec<&str> = job["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "GPT Image 2.6 Sunburst",
            "Gemini 3.1 Flash Image",
            "Stable Image Ultra"
        ]
    );
    for result in job["results"].as_array().unwrap() {
        assert_eq!(result["fake"], true);
        let image = http
            .get(result["imageUrl"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(image.status(), 200);
        assert_eq!(image.headers()["content-type"], "image/png");
        assert!(image.bytes().await.unwrap().len() > 64 * 64 * 3);
    }
    let missing = http
        .get(format!("{base}/images/{job_id}/99-none.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let enhanced: Value = http
        .post(format!("{base}/enhance"))
        .json(&json!({"prompt": "a cat"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(enhanced["fake"], true);
    let galleries: Value = http
        .get(format!("{base}/gallery/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(galleries["total"], 1);
    assert_eq!(galleries["galleries"][0]["id"], job_id.as_str());

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    assert!(dir.path().join(format!("data/jobs/{job_id}.json")).exists());
}
