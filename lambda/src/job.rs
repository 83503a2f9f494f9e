//! A generation job and its state machine: per-model progress (pending -> `in_progress`
//! -> completed | error) and the overall status derived from it (pending, `in_progress`,
//! completed, partial, failed). Pure data; `JobStore` persists it under `jobs/`.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::ModelSpec;
use crate::store::{ObjectStore, PutCondition, StoreError};
use crate::validation::GenerationParams;

/// A worker starts no model of a job older than this: by then the job may be queued
/// behind throttling or a retry, and the API will soon report it failed (see
/// [`stale_after`]), so nobody would wait for an image bought now.
pub const START_DEADLINE: Duration = Duration::from_mins(2);
/// Slack on top of [`START_DEADLINE`] and the worker's timeout in [`stale_after`].
const STALE_SLACK: Duration = Duration::from_secs(30);

/// A model an earlier worker attempt started but never finished (it timed out or
/// crashed). A retry records this instead of paying for the image again.
pub const INTERRUPTED: &str = "interrupted: the worker stopped before this model finished";
/// A model whose job waited past [`START_DEADLINE`] for a worker.
pub const EXPIRED: &str = "not started: the job waited too long for a worker";
/// What `GET /status` shows for the unfinished models of a job past [`stale_after`].
pub const STALE: &str = "the job did not finish in time";

/// How long after its creation an unfinished job is reported failed: a worker may
/// start it up to [`START_DEADLINE`] late and then run for its whole timeout.
pub fn stale_after(worker_timeout: Duration) -> Duration {
    START_DEADLINE + worker_timeout + STALE_SLACK
}

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
        // `started` is not stored: a job read back knows only `startedAt`.
        r.duration = r
            .started
            .or_else(|| r.started_at.as_deref().and_then(clock::parse_rfc3339))
            .and_then(|s| now.duration_since(s).ok())
            .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
    }

    /// How long ago the job was created (zero if its timestamp cannot be read).
    pub fn age(&self, now: SystemTime) -> Duration {
        clock::parse_rfc3339(&self.created_at)
            .and_then(|created| now.duration_since(created).ok())
            .unwrap_or(Duration::ZERO)
    }

    /// When the job was created (`now` if its timestamp cannot be read).
    pub fn created(&self, now: SystemTime) -> SystemTime {
        clock::parse_rfc3339(&self.created_at).unwrap_or(now)
    }

    /// The job as `GET /status` shows it at `now`: one still unfinished `stale_after`
    /// its creation is reported failed (its worker died or never ran), so a client
    /// stops polling instead of waiting forever.
    #[must_use]
    pub fn as_seen_at(mut self, now: SystemTime, stale_after: Duration) -> Self {
        if !self.status.is_finished() && self.age(now) > stale_after {
            self.fail_unfinished(STALE, now);
        }
        self
    }

    /// Readies the job for a worker run at `now` and returns the models to generate.
    /// Idempotent per model, so a retried invocation never pays twice: completed and
    /// failed models are kept; one an earlier attempt left in progress is failed as
    /// [`INTERRUPTED`]; pending ones start, unless the job is past
    /// [`START_DEADLINE`], when they fail as [`EXPIRED`].
    pub fn prepare_run(&mut self, now: SystemTime) -> Vec<usize> {
        let expired = self.age(now) > START_DEADLINE;
        let mut to_run = Vec::new();
        for r in &mut self.results {
            match r.status {
                ModelStatus::InProgress => {
                    r.status = ModelStatus::Error;
                    r.error = Some(INTERRUPTED.to_owned());
                    Self::finish(r, now);
                }
                ModelStatus::Pending if expired => {
                    r.status = ModelStatus::Error;
                    r.error = Some(EXPIRED.to_owned());
                    r.completed_at = Some(clock::rfc3339(now));
                }
                ModelStatus::Pending => {
                    r.status = ModelStatus::InProgress;
                    r.started_at = Some(clock::rfc3339(now));
                    r.started = Some(now);
                    to_run.push(r.index);
                }
                ModelStatus::Completed | ModelStatus::Error => {}
            }
        }
        self.touch(now);
        to_run
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

    /// 2027-01-15T08:00:00Z: the instant the cases count from.
    const T0_EPOCH_SECONDS: u64 = 1_800_000_000;

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

    fn job_at(t0: SystemTime, statuses: &[ModelStatus]) -> Job {
        let models: Vec<ModelSpec> = (0..statuses.len())
            .map(|i| ModelSpec {
                name: format!("m{i}"),
                provider: ProviderKind::Openai,
                model: "dall-e-3".into(),
            })
            .collect();
        let mut job = Job::new(
            "id".into(),
            "p".into(),
            GenerationParams::default(),
            &models,
            t0,
        );
        for (r, status) in job.results.iter_mut().zip(statuses) {
            r.status = *status;
            if *status != P {
                r.started_at = Some(clock::rfc3339(t0));
            }
        }
        job.touch(t0);
        // As stored and read back: the in-memory start instant is gone.
        serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap()
    }

    #[test]
    fn a_rerun_generates_only_what_no_attempt_started() {
        // (statuses, seconds after creation, models to generate, statuses after)
        type Case<'a> = (&'a [ModelStatus], u64, &'a [usize], &'a [ModelStatus]);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(T0_EPOCH_SECONDS);
        let secs = Duration::from_secs;
        let cases: &[Case<'_>] = &[
            (&[P, P, P], 0, &[0, 1, 2], &[R, R, R]),
            (&[C, R, P], 30, &[2], &[C, E, R]),
            (&[C, E, R], 90, &[], &[C, E, E]),
            (&[P, P], 121, &[], &[E, E]),
            (&[C, P], 500, &[], &[C, E]),
        ];
        for (before, after_secs, expected_run, expected_after) in cases {
            let mut job = job_at(t0, before);
            let now = t0 + secs(*after_secs);
            let run = job.prepare_run(now);
            assert_eq!(&run, expected_run, "{before:?} at +{after_secs}s");
            let statuses: Vec<ModelStatus> = job.results.iter().map(|r| r.status).collect();
            assert_eq!(&statuses, expected_after, "{before:?} at +{after_secs}s");
            for r in &job.results {
                let expected_error = match (before[r.index], r.status) {
                    (R, E) => Some(INTERRUPTED),
                    (P, E) => Some(EXPIRED),
                    _ => None,
                };
                if let Some(expected) = expected_error {
                    assert_eq!(r.error.as_deref(), Some(expected));
                }
            }
        }
        // An interrupted model's duration runs from its recorded start.
        let mut job = job_at(t0, &[R]);
        job.prepare_run(t0 + secs(40));
        assert_eq!(job.results[0].duration, Some(40.0));
    }

    #[test]
    fn status_reports_a_stale_unfinished_job_failed() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(T0_EPOCH_SECONDS);
        let timeout = Duration::from_mins(3);
        let limit = stale_after(timeout);
        assert_eq!(limit, Duration::from_secs(330));
        // (statuses, seconds after creation, overall status shown)
        let cases: &[(&[ModelStatus], u64, JobStatus)] = &[
            (&[P, P], 10, JobStatus::Pending),
            (&[P, P], 329, JobStatus::Pending),
            (&[P, P], 331, JobStatus::Failed),
            (&[C, R], 331, JobStatus::Partial),
            (&[C, C], 10_000, JobStatus::Completed),
            (&[E, E], 10_000, JobStatus::Failed),
        ];
        for (statuses, after, expected) in cases {
            let job = job_at(t0, statuses).as_seen_at(t0 + Duration::from_secs(*after), limit);
            assert_eq!(job.status, *expected, "{statuses:?} at +{after}s");
            if job.status.is_finished() && !job_at(t0, statuses).status.is_finished() {
                assert!(
                    job.results
                        .iter()
                        .any(|r| r.error.as_deref() == Some(STALE))
                );
            }
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
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(T0_EPOCH_SECONDS);
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
