//! Step 10: the web app, once the stack is deployed: build `frontend/` with
//! the stack's outputs and publish it (deploy), publish the page an earlier
//! release recorded (rollback), or leave the page as it is.

use anyhow::anyhow;

use super::Deployment;
use crate::aws::{Aws, StackDescription};
use crate::error::CommandError;
use crate::frontend::build;
use crate::frontend::files::BuiltSite;
use crate::frontend::publish::{
    PageLedger, PublishReport, Publisher, SITE_PREFIX, SiteTarget, Source,
};
use crate::local_hosts::LocalAws;
use crate::release::{FrontendRecord, ReleaseKind, ledger};

/// What a run does with the web app after the stack.
#[derive(Debug, Clone)]
pub enum WebApp {
    /// Leave the published page as it is (`--no-frontend`, promote).
    Keep,
    /// Build `frontend/` with the stack's outputs and publish it.
    Build,
    /// Publish again a page a release recorded (rollback); `None`: that
    /// release recorded none, so the page stays as it is.
    Restore(Option<Box<FrontendRecord>>),
}

/// The local AWS `aws` talks to, if any.
pub fn local_aws(aws: &Aws) -> Option<LocalAws> {
    aws.endpoint_url
        .as_deref()
        .and_then(LocalAws::from_endpoint)
}

impl Deployment<'_> {
    /// Publishes the web app as `self.web_app` says; `made` is the release
    /// this run recorded, `store` the artifact store holding the ledger.
    pub(super) async fn publish_web_app(
        &self,
        stack: &StackDescription,
        store: &str,
        made: Option<u64>,
    ) -> Result<Option<PublishReport>, CommandError> {
        let restore = match &self.web_app {
            WebApp::Keep => return Ok(None),
            WebApp::Restore(None) => {
                self.progress
                    .note("that release recorded no web app: the page stays as it is");
                return Ok(None);
            }
            WebApp::Restore(Some(page)) => Some(page.as_ref()),
            WebApp::Build => None,
        };
        let env = &self.environment.name;
        let failed = |error: anyhow::Error| {
            let release = made
                .map(|sequence| format!(" (release #{sequence})"))
                .unwrap_or_default();
            let (what, next) = if restore.is_some() {
                (
                    "the earlier page was not restored",
                    format!(
                        "the page published before stays; `pixelctl publish {env}` publishes the current frontend/ instead"
                    ),
                )
            } else {
                (
                    "the web app was not published",
                    format!("fix that and run `pixelctl publish {env}`"),
                )
            };
            CommandError::Failed(anyhow!(
                "the stack is deployed{release}, but {what}: {error:#}\n  {next}"
            ))
        };
        let (kind, source) = match (restore, self.release.kind) {
            (Some(_), _) | (None, ReleaseKind::Rollback) => {
                (ReleaseKind::Rollback, self.release.source.clone())
            }
            _ => (ReleaseKind::Publish, None),
        };
        let step = WebAppStep {
            aws: self.aws,
            store,
            environment: env,
            project_root: &self.project.root,
            invalidation_timeout: self.options.invalidation_timeout,
            progress: self.progress,
        };
        step.run(stack, restore, made, kind, source)
            .await
            .map(Some)
            .map_err(failed)
    }
}

/// Building or restoring, publishing and recording a page: shared by
/// deploy, rollback and `pixelctl publish`.
pub struct WebAppStep<'a> {
    pub aws: &'a Aws,
    pub store: &'a str,
    pub environment: &'a str,
    pub project_root: &'a std::path::Path,
    pub invalidation_timeout: std::time::Duration,
    pub progress: &'a dyn crate::progress::Progress,
}

impl WebAppStep<'_> {
    /// Publishes a fresh build (`restore: None`) or a recorded page to the
    /// stack's site, then records it in the ledger.
    pub async fn run(
        &self,
        stack: &StackDescription,
        restore: Option<&FrontendRecord>,
        made: Option<u64>,
        kind: ReleaseKind,
        source: Option<crate::release::ReleaseSource>,
    ) -> anyhow::Result<PublishReport> {
        let local = local_aws(self.aws);
        let target = SiteTarget::from_outputs(&stack.outputs, local)?;
        let (live, live_page) =
            ledger::live_and_page(self.aws, self.store, self.environment).await?;
        let built: BuiltSite;
        let building = std::time::Instant::now();
        let (files, bytes_from) = if let Some(page) = restore {
            (page.files.clone(), Source::Recorded)
        } else {
            let outputs = match local {
                Some(local) => local.localize_outputs(&stack.outputs),
                None => stack.outputs.clone(),
            };
            let out_dir = self
                .project_root
                .join("target")
                .join("pixelctl")
                .join("site")
                .join(self.environment);
            built = build::build(
                self.project_root,
                &build::build_env(&outputs, self.environment),
                &out_dir,
                self.progress,
            )
            .await?;
            (built.files.clone(), Source::Built(&built))
        };
        let publisher = Publisher {
            aws: self.aws,
            store: self.store,
            target: &target,
            invalidation_timeout: self.invalidation_timeout,
            progress: self.progress,
        };
        let recorded = live_page
            .as_ref()
            .map(|page| page.files.as_slice())
            .unwrap_or_default();
        let build_seconds = restore.is_none().then(|| building.elapsed().as_secs_f64());
        let mut report = publisher.publish(&files, bytes_from, recorded).await?;
        report.build_seconds = build_seconds;
        let page = FrontendRecord {
            site_id: report.site_id.clone(),
            bucket: target.bucket.clone(),
            prefix: SITE_PREFIX.to_owned(),
            files,
        };
        report.release = PageLedger {
            aws: self.aws,
            store: self.store,
            environment: self.environment,
            project_root: self.project_root,
            made,
            live: live.as_ref(),
            live_page: live_page.as_ref(),
            kind,
            source,
        }
        .record(&page, self.progress)
        .await?;
        publisher.wait_for_invalidation(&mut report).await?;
        Ok(report)
    }
}
