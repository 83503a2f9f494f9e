//! A generation job and its state machine: per-model progress (pending -> in_progress
//! -> completed | error) and the overall status derived from it (pending, in_progress,
//! completed, partial, failed). Pure data; `JobStore` persists it under `jobs/`.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::ModelSpec;
use crate::store::{ObjectStore, PutCondition, StoreError};
use crate::validation::GenerationParams;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    Pending,
    InProgress,
    Completed,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    InProgress,
    Completed,
    Partial,
    Failed,
}

impl JobStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Partial | Self::Failed)
    }
}

/// One model's part of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelResult {
    pub model: String,
    pub provider: String,
    pub index: usize,
    pub status: ModelStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// Seconds from start to finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Set when the image came from the built-in fake provider (local mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fake: bool,
    #[serde(skip)]
    started: Option<SystemTime>,
}

/// A job as stored and as `GET /status/{jobId}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub status: JobStatus,
    pub created_at: String,
    pub updated_at: String,
    pub total_models: usize,
    /// Models that have finished, successfully or not.
    pub completed_models: usize,
    pub prompt: String,
    pub parameters: GenerationParams,
    /// Images of this job are under `images/<galleryId>/`.
    pub gallery_id: String,
    pub results: Vec<ModelResult>,
}

impl Job {
    pub fn new(
        job_id: String,
        prompt: String,
        parameters: GenerationParams,
        models: &[ModelSpec],
        now: SystemTime,
    ) -> Self {
        let stamp = clock::rfc3339(now);
        Self {
            gallery_id: job_id.clone(),
            job_id,
            status: JobStatus::Pending,
            created_at: stamp.clone(),
            updated_at: stamp,
            total_models: models.len(),
            completed_models: 0,
            prompt,
            parameters,
            results: models
                .iter()
                .enumerate()
                .map(|(index, m)| ModelResult {
                    model: m.name.clone(),
                    provider: m.provider.to_string(),
                    index,
                    status: ModelStatus::Pending,
                    started_at: None,
                    completed_at: None,
                    duration: None,
                    error: None,
                    image_url: None,
                    content_type: None,
                    fake: false,
                    started: None,
                })
                .collect(),
        }
    }

    fn touch(&mut self, now: SystemTime) {
        self.updated_at = clock::rfc3339(now);
        self.completed_models = self
            .results
            .iter()
            .filter(|r| matches!(r.status, ModelStatus::Completed | ModelStatus::Error))
            .count();
        self.status = overall_status(self.results.iter().map(|r| r.status));
    }

    /// Marks every pending model as started (they all start together).
    pub fn start_all(&mut self, now: SystemTime) {
        for r in &mut self.results {
            if r.status == ModelStatus::Pending {
                r.status = ModelStatus::InProgress;
                r.started_at = Some(clock::rfc3339(now));
                r.started = Some(now);
            }
        }
        self.touch(now);
    }

    pub fn start_model(&mut self, index: usize, now: SystemTime) {
        if let Some(r) = self.results.get_mut(index) {
            r.status = ModelStatus::InProgress;
            r.started_at = Some(clock::rfc3339(now));
            r.started = Some(now);
        }
        self.touch(now);
    }

    fn finish(r: &mut ModelResult, now: SystemTime) {
        r.completed_at = Some(clock::rfc3339(now));
        r.duration = r
            .started
            .and_then(|s| now.duration_since(s).ok())
            .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
    }

    pub fn complete_model(
        &mut self,
        index: usize,
        image_url: String,
        content_type: &str,
        fake: bool,
        now: SystemTime,
    ) {
        if let Some(r) = self.results.get_mut(index) {
            r.status = ModelStatus::Completed;
            r.image_url = Some(image_url);
            r.content_type = Some(content_type.to_owned());
            r.fake = fake;
            Self::finish(r, now);
        }
        self.touch(now);
    }

    pub fn fail_model(&mut self, index: usize, error: String, now: SystemTime) {
        if let Some(r) = self.results.get_mut(index) {
            r.status = ModelStatus::Error;
            r.error = Some(error);
            Self::finish(r, now);
        }
        self.touch(now);
    }

    /// Marks every model that has not finished as failed (e.g. the dispatch failed).
    pub fn fail_unfinished(&mut self, error: &str, now: SystemTime) {
        for r in &mut self.results {
            if matches!(r.status, ModelStatus::Pending | ModelStatus::InProgress) {
                r.status = ModelStatus::Error;
                r.error = Some(error.to_owned());
                Self::finish(r, now);
            }
        }
        self.touch(now);
    }
}

/// The overall status for the models' statuses.
pub fn overall_status(statuses: impl IntoIterator<Item = ModelStatus>) -> JobStatus {
    let (mut pending, mut running, mut done, mut failed) = (0, 0, 0, 0);
    for s in statuses {
        match s {
            ModelStatus::Pending => pending += 1,
            ModelStatus::InProgress => running += 1,
            ModelStatus::Completed => done += 1,
            ModelStatus::Error => failed += 1,
        }
    }
    match (pending, running, done, failed) {
        (_, 0, 0, 0) => JobStatus::Pending,
        (0, 0, _, 0) => JobStatus::Completed,
        (0, 0, 0, _) => JobStatus::Failed,
        (0, 0, _, _) => JobStatus::Partial,
        _ => JobStatus::InProgress,
    }
}

/// Jobs in the object store, one JSON object per job under `jobs/`.
#[derive(Debug, Clone)]
pub struct JobStore {
    store: ObjectStore,
}

impl JobStore {
    pub fn new(store: ObjectStore) -> Self {
        Self { store }
    }

    fn key(job_id: &str) -> String {
        format!("jobs/{job_id}.json")
    }

    pub async fn save(&self, job: &Job) -> Result<(), StoreError> {
        self.store
            .put_json(&Self::key(&job.job_id), job, PutCondition::Always)
            .await
            .map(|_| ())
    }

    pub async fn load(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        Ok(self
            .store
            .get_json::<Job>(&Self::key(job_id))
            .await?
            .map(|(job, _)| job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use ModelStatus::{Completed as C, Error as E, InProgress as R, Pending as P};
    use std::time::Duration;

    #[test]
    fn overall_status_table() {
        let cases: &[(&[ModelStatus], JobStatus)] = &[
            (&[P, P, P], JobStatus::Pending),
            (&[R, P, P], JobStatus::InProgress),
            (&[C, P, P], JobStatus::InProgress),
            (&[C, R, E], JobStatus::InProgress),
            (&[C, C, C], JobStatus::Completed),
            (&[C, E, C], JobStatus::Partial),
            (&[E, E, E], JobStatus::Failed),
            (&[], JobStatus::Pending),
        ];
        for (statuses, expected) in cases {
            assert_eq!(
                overall_status(statuses.iter().copied()),
                *expected,
                "{statuses:?}"
            );
        }
    }

    #[test]
    fn transitions_record_timings_and_counts() {
        let models: Vec<ModelSpec> = (0..2)
            .map(|i| ModelSpec {
                name: format!("m{i}"),
                provider: ProviderKind::Openai,
                model: "dall-e-3".into(),
            })
            .collect();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut job = Job::new(
            "id".into(),
            "p".into(),
            GenerationParams::default(),
            &models,
            t0,
        );
        assert_eq!(job.status, JobStatus::Pending);
        job.start_model(0, t0);
        assert_eq!(job.status, JobStatus::InProgress);
        job.start_all(t0);
        assert_eq!(job.results[1].status, ModelStatus::InProgress);
        job.complete_model(
            0,
            "https://cdn/images/id/00.png".into(),
            "image/png",
            false,
            t0 + Duration::from_millis(1500),
        );
        assert_eq!(
            (job.status, job.completed_models),
            (JobStatus::InProgress, 1)
        );
        assert_eq!(job.results[0].duration, Some(1.5));
        job.fail_model(
            1,
            "provider rejected the API key (401)".into(),
            t0 + Duration::from_secs(2),
        );
        assert_eq!((job.status, job.completed_models), (JobStatus::Partial, 2));
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(
            json["results"][0]["imageUrl"],
            "https://cdn/images/id/00.png"
        );
        assert_eq!(json["results"][1]["status"], "error");
        assert_eq!(json["status"], "partial");
        assert!(json["results"][0].get("fake").is_none());
    }
}
