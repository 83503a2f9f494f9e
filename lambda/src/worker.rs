//! The generation worker: runs outside the HTTP request (an asynchronous Lambda
//! invocation, or a tokio task locally), calls every model concurrently, stores each
//! image as a real image file under `images/`, and records progress as it goes.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::gallery;
use crate::image;
use crate::job::{EXPIRED, INTERRUPTED, Job, JobStatus, JobStore, ModelStatus};
use crate::providers::{Generator, ProviderError};
use crate::store::{ObjectStore, PutCondition, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("job `{0}` does not exist")]
    JobMissing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything the worker needs.
#[derive(Debug)]
pub struct Worker {
    pub store: ObjectStore,
    pub jobs: JobStore,
    pub generator: Generator,
    /// `https://{CLOUDFRONT_DOMAIN}` (or the local server).
    pub image_base_url: String,
    /// Days the bucket keeps gallery entries (the gallery count's window).
    pub gallery_days: u32,
    /// The environment named in the metric record of each model outcome; none
    /// written when `None` ([`crate::metrics`]).
    pub metrics: Option<crate::config::EnvironmentName>,
}

impl Worker {
    /// Runs job `job_id` to the end. Safe to run again (a retried asynchronous
    /// invocation): a finished job is left alone, and within an unfinished one only
    /// the models no attempt started are generated ([`Job::prepare_run`]).
    pub async fn run(self: &Arc<Self>, job_id: &str) -> Result<JobStatus, WorkerError> {
        let mut job = self
            .jobs
            .load(job_id)
            .await?
            .ok_or_else(|| WorkerError::JobMissing(job_id.to_owned()))?;
        if job.status.is_finished() {
            tracing::info!(job_id, status = ?job.status, "job already finished; nothing to do");
            return Ok(job.status);
        }
        let now = SystemTime::now();
        let to_run = job.prepare_run(now);
        for r in &job.results {
            if matches!(r.error.as_deref(), Some(INTERRUPTED | EXPIRED)) {
                tracing::warn!(
                    job_id,
                    model = %r.model,
                    index = r.index,
                    reason = r.error.as_deref().unwrap_or_default(),
                    "model not generated on this run"
                );
            }
        }
        // One write records every model this run starts.
        self.jobs.save(&job).await?;
        let created = job.created(now);
        let shared = Arc::new(Mutex::new(job));

        let mut tasks = tokio::task::JoinSet::new();
        for index in to_run {
            let worker = Arc::clone(self);
            let shared = Arc::clone(&shared);
            // Spawned tasks do not inherit the span: pass it on so model logs keep the
            // job and correlation ids.
            tasks.spawn(
                async move { worker.run_model(&shared, index).await }
                    .instrument(tracing::Span::current()),
            );
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(job_id, error = %e, "could not record model progress");
                }
                Err(e) => tracing::error!(job_id, error = %e, "a model task panicked"),
            }
        }

        let mut job = shared.lock().await;
        if !job.status.is_finished() {
            // A task that died without recording leaves its model unfinished.
            job.fail_unfinished("the model task ended unexpectedly", SystemTime::now());
            self.jobs.save(&job).await?;
        }
        let images: Vec<&str> = job
            .results
            .iter()
            .filter(|r| r.status == ModelStatus::Completed)
            .filter_map(|r| r.image_url.as_deref())
            .collect();
        if let Some(preview) = images.first() {
            gallery::record(
                &self.store,
                &job.gallery_id,
                created,
                (*preview).to_owned(),
                images.len(),
                self.gallery_days,
            )
            .await?;
        }
        tracing::info!(
            job_id,
            status = ?job.status,
            completed = images.len(),
            total = job.total_models,
            "job finished"
        );
        Ok(job.status)
    }

    async fn run_model(&self, shared: &Mutex<Job>, index: usize) -> Result<(), StoreError> {
        let (prompt, params, gallery_id, model_name) = {
            let job = shared.lock().await;
            let r = &job.results[index];
            (
                job.prompt.clone(),
                job.parameters,
                job.gallery_id.clone(),
                r.model.clone(),
            )
        };
        let started = std::time::Instant::now();
        let outcome = self
            .generate_and_store(index, &prompt, params, &gallery_id, &model_name)
            .await;
        let mut job = shared.lock().await;
        let now = SystemTime::now();
        if let Some(environment) = &self.metrics {
            let provider = job.results[index].provider.clone();
            crate::metrics::record_model_outcome(environment, &provider, outcome.is_err());
        }
        match outcome {
            Ok((url, content_type, fake)) => {
                let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                tracing::info!(model = %model_name, index, elapsed_ms, fake, "model completed");
                job.complete_model(index, url, content_type, fake, now);
            }
            Err(e) => {
                // The log gets the whole cause; `GET /status` (public) only what it
                // means to a user.
                tracing::warn!(model = %model_name, index, error = %e, "model failed");
                job.fail_model(index, e.public_message(), now);
            }
        }
        self.jobs.save(&job).await
    }

    async fn generate_and_store(
        &self,
        index: usize,
        prompt: &str,
        params: crate::validation::GenerationParams,
        gallery_id: &str,
        model_name: &str,
    ) -> Result<(String, &'static str, bool), ModelFailure> {
        let image = self.generator.generate(index, prompt, params).await?;
        let format = image::detect(&image.bytes).ok_or(ProviderError::NotAnImage)?;
        let key = gallery::image_key(gallery_id, index, model_name, format.extension());
        self.store
            .put(
                &key,
                Bytes::from(image.bytes),
                format.content_type(),
                PutCondition::Always,
            )
            .await?;
        Ok((
            format!("{}/{key}", self.image_base_url),
            format.content_type(),
            image.fake,
        ))
    }
}

/// Why one model has no image: the provider failed, or storing the image did.
#[derive(Debug, thiserror::Error)]
enum ModelFailure {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("could not store the image: {0}")]
    Store(#[from] StoreError),
}

impl ModelFailure {
    /// What a user may read in `GET /status`.
    fn public_message(&self) -> String {
        match self {
            Self::Provider(e) => e.public_message(),
            Self::Store(_) => "could not store the image".to_owned(),
        }
    }
}
