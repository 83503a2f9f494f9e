//! Publishing a web app to the stack's site prefix so that no tab breaks:
//! content-hashed files first (new names nobody references yet), then the
//! other fixed-name files, then `index.html` alone as the switch; unchanged
//! files are skipped; only the changed fixed-name paths are invalidated. Then
//! the page is recorded in the ledger, and the invalidation is waited for.
//! Each step is a function; the order is [`Publisher::publish`],
//! [`PageLedger::record`], [`Publisher::wait_for_invalidation`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;

use super::files::{BuiltSite, SiteFile};
use super::plan::{PublishPlan, plan};
use crate::aws::{Aws, Upload};
use crate::local_hosts::LocalAws;
use crate::progress::{Event, Progress};
use crate::release::{
    FrontendRecord, PageRecord, ReleaseKind, ReleaseRecord, ReleaseSource, ledger, page_record,
};

/// Where in the stack's bucket the web app lives (the distribution's default
/// behaviour reads it with `OriginPath: /site`).
pub const SITE_PREFIX: &str = "site/";
/// Uploads in flight at once.
const PARALLEL_UPLOADS: usize = 8;

/// Where a stack serves its web app, from its outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTarget {
    pub bucket: String,
    pub distribution: String,
    /// Where a browser opens it (the local form against the local AWS).
    pub url: String,
}

impl SiteTarget {
    /// Reads the bucket, distribution and URL from a stack's outputs. Pure.
    pub fn from_outputs(
        outputs: &BTreeMap<String, String>,
        local: Option<LocalAws>,
    ) -> anyhow::Result<Self> {
        let get = |key: &str| {
            outputs.get(key).filter(|value| !value.is_empty()).cloned().with_context(|| {
                format!("the stack has no output `{key}`; deploy the current template first (`pixelctl deploy`)")
            })
        };
        // A stack from before the distribution served the web app has no
        // SiteUrl, and its bucket policy would not let CloudFront read site/.
        let url = get("SiteUrl")?;
        let url = local
            .and_then(|local| local.cloudfront_url(&url))
            .unwrap_or(url);
        Ok(Self {
            bucket: get("ImagesBucket")?,
            distribution: get("DistributionId")?,
            url,
        })
    }
}

/// Where the bytes of the files come from.
pub enum Source<'a> {
    /// A fresh build on disk.
    Built(&'a BuiltSite),
    /// A page the ledger recorded (rollback): fixed-name files from the
    /// artifact store; content-hashed ones must still be in the site.
    Recorded,
}

/// How the invalidation went.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidationReport {
    pub id: String,
    pub paths: Vec<String>,
    pub status: String,
    pub waited_seconds: f64,
}

/// The result of publishing a web app.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    pub site_id: String,
    pub bucket: String,
    pub prefix: String,
    pub distribution: String,
    pub url: String,
    /// Uploaded, in the order they were switched on (index.html last).
    pub uploaded: Vec<String>,
    pub unchanged: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidation: Option<InvalidationReport>,
    /// The ledger entry that records this page, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<u64>,
    /// How long `npm run build` (and `npm ci`, when it ran) took; none for a restored page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_seconds: Option<f64>,
    /// From listing the site to the invalidation completed (the build not included).
    pub duration_seconds: f64,
}

impl fmt::Display for PublishReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.uploaded.is_empty() {
            writeln!(
                f,
                "web app   unchanged ({} file(s) already published)",
                self.unchanged
            )?;
        } else {
            writeln!(
                f,
                "web app   published {} file(s), {} unchanged, to s3://{}/{}",
                self.uploaded.len(),
                self.unchanged,
                self.bucket,
                self.prefix
            )?;
        }
        if let Some(invalidation) = &self.invalidation {
            writeln!(
                f,
                "          invalidated {} ({} after {:.1}s)",
                invalidation.paths.join(" "),
                invalidation.status,
                invalidation.waited_seconds
            )?;
        }
        if let Some(sequence) = self.release {
            writeln!(f, "          recorded on release #{sequence}")?;
        }
        writeln!(f, "open      {}", self.url)
    }
}

/// What publishing needs to know besides the files.
pub struct Publisher<'a> {
    pub aws: &'a Aws,
    /// The artifact store holding the ledger and the fixed-name files' bytes.
    pub store: &'a str,
    pub target: &'a SiteTarget,
    pub invalidation_timeout: Duration,
    pub progress: &'a dyn Progress,
}

impl Publisher<'_> {
    /// Publishes `files` and starts the invalidation of the changed fixed-name
    /// paths; `recorded` is the page live before (for its headers).
    pub async fn publish(
        &self,
        files: &[SiteFile],
        source: Source<'_>,
        recorded: &[SiteFile],
    ) -> anyhow::Result<PublishReport> {
        let started = Instant::now();
        let published = self.published().await?;
        let plan = plan(files, &published, recorded);
        let mut report = PublishReport {
            site_id: super::files::site_id(files),
            bucket: self.target.bucket.clone(),
            prefix: SITE_PREFIX.to_owned(),
            distribution: self.target.distribution.clone(),
            url: self.target.url.clone(),
            uploaded: Vec::new(),
            unchanged: plan.unchanged.len(),
            invalidation: None,
            release: None,
            build_seconds: None,
            duration_seconds: 0.0,
        };
        if plan.upload_count() == 0 {
            self.progress.note(&format!(
                "the web app is unchanged: its {} file(s) are already published",
                plan.unchanged.len()
            ));
            report.duration_seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
        self.progress.step(&format!(
            "Publishing the web app to s3://{}/{SITE_PREFIX}: {} new or changed, {} unchanged",
            self.target.bucket,
            plan.upload_count(),
            plan.unchanged.len()
        ));
        let bytes = self.gather(&plan, files, &source, recorded).await?;
        for phase in [&plan.immutable, &plan.revalidated] {
            self.upload_all(phase, &bytes).await?;
            report
                .uploaded
                .extend(phase.iter().map(|file| file.path.clone()));
        }
        if let Some(index) = plan.index {
            self.upload_all(&[index], &bytes).await?;
            report.uploaded.push(index.path.clone());
            self.progress
                .note("uploaded index.html last: new visitors get the new page now");
        }
        if !plan.invalidate.is_empty() {
            report.invalidation = Some(self.invalidate(&plan.invalidate, &report.site_id).await?);
        }
        report.duration_seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Step 8: waits until CloudFront has completed the report's invalidation
    /// (if any), showing progress, or fails after the timeout.
    pub async fn wait_for_invalidation(&self, report: &mut PublishReport) -> anyhow::Result<()> {
        let Some(invalidation) = report.invalidation.as_mut() else {
            return Ok(());
        };
        let distribution = &self.target.distribution;
        let id = invalidation.id.clone();
        let paths = invalidation.paths.join(" ");
        let started = Instant::now();
        let what = format!("waiting for CloudFront to invalidate {paths} (invalidation {id})");
        if invalidation.status != "Completed" {
            self.progress.report(Event::WaitStarted(&what));
        }
        let mut delay = Duration::from_millis(200);
        while invalidation.status != "Completed" {
            if started.elapsed() >= self.invalidation_timeout {
                self.progress.report(Event::WaitFinished);
                bail!(
                    "CloudFront invalidation {id} of {paths} is still {} after {}s; the new page is \
                     published (and recorded), and every edge serves it once the invalidation \
                     completes (or raise --invalidation-timeout)",
                    invalidation.status,
                    self.invalidation_timeout.as_secs()
                );
            }
            tokio::time::sleep(
                delay.min(self.invalidation_timeout.saturating_sub(started.elapsed())),
            )
            .await;
            delay = (delay * 2).min(Duration::from_secs(10));
            invalidation.status = self.aws.invalidation_status(distribution, &id).await?;
            self.progress.report(Event::WaitTick {
                what: &format!("{what} (status {})", invalidation.status),
                elapsed: started.elapsed(),
            });
            if invalidation.status == "Completed" {
                self.progress.report(Event::WaitFinished);
            }
        }
        invalidation.waited_seconds = started.elapsed().as_secs_f64();
        report.duration_seconds += invalidation.waited_seconds;
        self.progress.note(&format!(
            "CloudFront invalidated {paths} in {:.1}s",
            invalidation.waited_seconds
        ));
        Ok(())
    }

    /// Step 1: what the prefix holds, path -> ETag.
    async fn published(&self) -> anyhow::Result<BTreeMap<String, String>> {
        Ok(self
            .aws
            .list_objects(&self.target.bucket, SITE_PREFIX)
            .await?
            .into_iter()
            .filter_map(|object| {
                Some((
                    object.key.strip_prefix(SITE_PREFIX)?.to_owned(),
                    object.etag,
                ))
            })
            .collect())
    }

    /// Step 2: the bytes of every upload, and the fixed-name files' bytes kept
    /// in the artifact store before anything is switched (a rollback needs
    /// them; those the live page has are kept already).
    async fn gather(
        &self,
        plan: &PublishPlan<'_>,
        files: &[SiteFile],
        source: &Source<'_>,
        recorded: &[SiteFile],
    ) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let mut bytes = BTreeMap::new();
        match source {
            Source::Built(site) => {
                for file in files.iter().filter(|file| !file.is_immutable()) {
                    let content = site.read(file)?;
                    if !recorded.iter().any(|kept| kept.sha256 == file.sha256) {
                        ledger::store_page_file(
                            self.aws,
                            self.store,
                            &file.sha256,
                            content.clone(),
                        )
                        .await?;
                    }
                    bytes.insert(file.path.clone(), content);
                }
                for file in &plan.immutable {
                    bytes.insert(file.path.clone(), site.read(file)?);
                }
            }
            Source::Recorded => {
                if !plan.immutable.is_empty() {
                    let missing: Vec<&str> = plan
                        .immutable
                        .iter()
                        .map(|file| file.path.as_str())
                        .collect();
                    bail!(
                        "the page's content-hashed files are no longer in s3://{}/{SITE_PREFIX} (pruned?): {}; \
                         publish that release's commit again instead",
                        self.target.bucket,
                        missing.join(", ")
                    );
                }
                for file in plan.revalidated.iter().chain(&plan.index) {
                    let content =
                        ledger::load_page_file(self.aws, self.store, &file.sha256).await?;
                    bytes.insert(file.path.clone(), content);
                }
            }
        }
        Ok(bytes)
    }

    /// Steps 3 to 5: one phase of uploads, in parallel, all done before it returns.
    async fn upload_all(
        &self,
        files: &[&SiteFile],
        bytes: &BTreeMap<String, Vec<u8>>,
    ) -> anyhow::Result<()> {
        for batch in files.chunks(PARALLEL_UPLOADS) {
            let mut uploads = tokio::task::JoinSet::new();
            for file in batch {
                let aws = self.aws.clone();
                let bucket = self.target.bucket.clone();
                let key = format!("{SITE_PREFIX}{}", file.path);
                let content = bytes
                    .get(&file.path)
                    .cloned()
                    .with_context(|| format!("no bytes for `{}`", file.path))?;
                let content_type = file.content_type.clone();
                let cache_control = file.cache_control.clone();
                uploads.spawn(async move {
                    aws.put_site_object(
                        &bucket,
                        Upload {
                            key: &key,
                            bytes: &content,
                            content_type: &content_type,
                            cache_control: &cache_control,
                        },
                    )
                    .await
                });
            }
            while let Some(done) = uploads.join_next().await {
                done.map_err(|error| anyhow!("an upload task failed: {error}"))??;
            }
        }
        Ok(())
    }

    /// Step 6: asks CloudFront to invalidate the changed fixed-name paths.
    async fn invalidate(
        &self,
        paths: &[String],
        site_id: &str,
    ) -> anyhow::Result<InvalidationReport> {
        let distribution = &self.target.distribution;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let reference = format!(
            "pixelctl-{}-{}",
            &site_id[..site_id.len().min(12)],
            now.as_millis()
        );
        let id = self
            .aws
            .create_invalidation(distribution, paths, &reference)
            .await?;
        let status = self.aws.invalidation_status(distribution, &id).await?;
        Ok(InvalidationReport {
            id,
            paths: paths.to_vec(),
            status,
            waited_seconds: 0.0,
        })
    }
}

/// How the published page is recorded in the ledger.
pub struct PageLedger<'a> {
    pub aws: &'a Aws,
    pub store: &'a str,
    pub environment: &'a str,
    pub project_root: &'a Path,
    /// The release this run recorded (the stack changed), if any.
    pub made: Option<u64>,
    /// The live release before this page, and the page it served.
    pub live: Option<&'a ReleaseRecord>,
    pub live_page: Option<&'a FrontendRecord>,
    /// What a new release for a page-only change is: `Publish`, or `Rollback` (with its source).
    pub kind: ReleaseKind,
    pub source: Option<ReleaseSource>,
}

impl PageLedger<'_> {
    /// Step 7: records `page` on this run's release, or as a new release when
    /// only the page changed; returns the release that records it.
    pub async fn record(
        &self,
        page: &FrontendRecord,
        progress: &dyn Progress,
    ) -> anyhow::Result<Option<u64>> {
        let live_site = self.live_page.map(|live| live.site_id.as_str());
        match page_record(self.made, live_site, &page.site_id) {
            PageRecord::AttachTo(sequence) => {
                ledger::set_frontend(self.aws, self.store, self.environment, sequence, page)
                    .await?;
                Ok(Some(sequence))
            }
            PageRecord::AlreadyLive => Ok(self.live.map(|live| live.sequence)),
            PageRecord::Append => {
                let Some(live) = self.live else {
                    progress.warn(&format!(
                        "`{}` has no release in the ledger to record the web app with; deploy it with pixelctl first",
                        self.environment
                    ));
                    return Ok(None);
                };
                let (_, who) = self.aws.caller_identity().await?;
                let mut record = live.clone();
                record.sequence = 0;
                record.time = ledger::now_rfc3339();
                record.who = who;
                record.kind = self.kind;
                record.source = self.source.clone();
                if self.kind == ReleaseKind::Publish {
                    record.git = crate::git::state(self.project_root);
                }
                record.git_tags = Vec::new();
                record.frontend = Some(page.clone());
                env!("CARGO_PKG_VERSION").clone_into(&mut record.pixelctl_version);
                let record = ledger::append(self.aws, self.store, record).await?;
                progress.note(&format!(
                    "recorded release #{} of {}: the web app changed, the stack did not",
                    record.sequence, record.environment
                ));
                Ok(Some(record.sequence))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_comes_from_the_outputs_in_local_form_against_the_local_aws() {
        let outputs = BTreeMap::from([
            (
                "CloudFrontDomain".to_owned(),
                "d1abc.cloudfront.net".to_owned(),
            ),
            ("DistributionId".to_owned(), "E1ABC".to_owned()),
            ("ImagesBucket".to_owned(), "images-bucket".to_owned()),
            (
                "SiteUrl".to_owned(),
                "https://d1abc.cloudfront.net/".to_owned(),
            ),
        ]);
        let target = SiteTarget::from_outputs(&outputs, None).unwrap();
        assert_eq!(
            target,
            SiteTarget {
                bucket: "images-bucket".to_owned(),
                distribution: "E1ABC".to_owned(),
                url: "https://d1abc.cloudfront.net/".to_owned(),
            }
        );
        let local = LocalAws::from_endpoint("http://127.0.0.1:4566");
        assert_eq!(
            SiteTarget::from_outputs(&outputs, local).unwrap().url,
            "http://d1abc.cloudfront.localhost:4566/"
        );
        // A stack from before the distribution served the web app.
        for missing in ["SiteUrl", "DistributionId"] {
            let mut older = outputs.clone();
            older.remove(missing);
            let error = SiteTarget::from_outputs(&older, None).unwrap_err();
            assert!(
                error.to_string().contains(&format!("`{missing}`"))
                    && error.to_string().contains("pixelctl deploy"),
                "{error}"
            );
        }
    }
}
