//! `deploy --hotswap`: when only the Lambda's code differs from what the stack runs,
//! point both functions at the new artifact directly (no change set), record it as a
//! release of its own kind, and check health; anything else falls back to a full deploy.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{Deployment, FUNCTION_UPDATE_TIMEOUT, Outcome, Target, artifact, health};
use crate::deploy::DeployReport;
use crate::error::CommandError;
use crate::hotswap::{self, HotswapDecision, LiveStack, WantedStack};
use crate::release::ReleaseKind;
use crate::template::stack_tags;

impl Deployment<'_> {
    /// Swaps the functions' code when that is all that differs, else runs the full pipeline.
    pub async fn hotswap(self) -> Result<DeployReport, CommandError> {
        let started = Instant::now();
        let stack = self.stack_name().to_owned();
        let super::ArtifactSource::Local(local) = &self.artifact else {
            return Box::pin(self.run()).await;
        };
        self.progress
            .step(&format!("Reading stack {stack} in {}", self.aws.region));
        let existing = self.aws.describe_stack(&stack).await?;
        let live_body = match &existing {
            Some(live) if !live.status.ends_with("_IN_PROGRESS") => {
                Some(self.aws.template_body(&stack).await?)
            }
            _ => None,
        };
        let location = artifact::store(self.aws, local, existing.as_ref(), self.progress).await?;
        let parameters = self.parameters_for(&location);
        let tags = stack_tags(&self.environment);
        let secret = self.template.secret_parameters();
        let live = existing.as_ref().map(|live| LiveStack {
            status: &live.status,
            // An operation in progress: the decision falls back on the status alone.
            template_body: live_body.as_deref().unwrap_or_default(),
            parameters: &live.parameters,
            tags: &live.tags,
        });
        let decision = hotswap::decide(
            live,
            WantedStack {
                template_body: &self.template.body,
                parameters: &parameters.values,
                tags: &tags,
                secret: &secret,
            },
        );
        if let HotswapDecision::FullDeploy(reason) = decision {
            self.progress
                .warn(&format!("not hotswapping: {reason}; running a full deploy"));
            return Box::pin(self.run()).await;
        }
        let Some(existing) = existing else {
            return Box::pin(self.run()).await;
        };

        self.progress.step(&format!(
            "Hotswapping the functions' code to sha256:{}",
            &local.sha256[..12.min(local.sha256.len())]
        ));
        let wanted = hotswap::lambda_code_sha256(&local.sha256).unwrap_or_default();
        let mut functions = BTreeMap::new();
        for function in hotswap::function_names(&stack) {
            let running = self.aws.function_code_sha256(&function).await?;
            if running.as_deref() == Some(wanted.as_str()) {
                self.progress
                    .note(&format!("{function} already runs this code"));
                functions.insert(function, wanted.clone());
                continue;
            }
            let swap = Instant::now();
            let sha = self
                .aws
                .update_function_code(
                    &function,
                    &location.bucket,
                    &location.key,
                    FUNCTION_UPDATE_TIMEOUT,
                )
                .await?;
            self.progress.note(&format!(
                "{function} updated in {:.1}s (CodeSha256 {sha})",
                swap.elapsed().as_secs_f64()
            ));
            functions.insert(function, sha);
        }
        let target = Target {
            existing: Some(existing.clone()),
            create: false,
        };
        let mut report = self.empty_report(&target, &location);
        report.outcome = Outcome::Hotswapped;
        report.outputs = existing.outputs.clone();
        report.stack_status = Some(existing.status.clone());
        match self
            .record(
                &existing,
                &parameters,
                &location,
                true,
                ReleaseKind::Hotswap,
                functions,
            )
            .await
        {
            Ok(record) => report.release = Some(record.sequence),
            Err(error) => self.progress.warn(&format!(
                "the hotswap could not be recorded in the ledger: {error:#}"
            )),
        }
        let health = match health::health_target(
            existing.outputs.get("ApiEndpoint").map(String::as_str),
            self.options.health_url.as_deref(),
            self.aws.endpoint_url.as_deref(),
        ) {
            Ok(url) => health::check(&url, self.options.health_timeout, self.progress).await,
            Err(reason) => health::HealthReport::skipped(reason),
        };
        let unhealthy = health.checked && !health.healthy;
        report.health = Some(health);
        report.duration_seconds = started.elapsed().as_secs_f64();
        if unhealthy && self.options.require_healthy {
            return Err(CommandError::Unhealthy(Box::new(report)));
        }
        Ok(report)
    }
}
