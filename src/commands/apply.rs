//! `pixelctl apply`: executes exactly the change set of a plan file from
//! `pixelctl plan --out`, then finishes the deploy; no question asked.

use std::time::Duration;

use anyhow::anyhow;

use super::deploy::{emit_report, web_app_for};
use super::{Settings, runtime};
use crate::cli::ApplyPlanArgs;
use crate::deploy::{ArtifactSource, DeployOptions, Deployment, ReleaseIntent, WebApp};
use crate::error::{CommandError, CommandResult};
use crate::release::ReleaseKind;
use crate::reviewed_plan::{FORMAT, ReviewedPlan};
use crate::template::{ArtifactLocation, Parameters, Template};

/// Reads and checks a plan file.
fn read_plan(path: &std::path::Path) -> CommandResult<ReviewedPlan> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        CommandError::usage(anyhow!(
            "cannot read the plan `{}`: {error}; write one with `pixelctl plan <env> --out {}`",
            path.display(),
            path.display()
        ))
    })?;
    let plan: ReviewedPlan = serde_json::from_str(&text).map_err(|error| {
        CommandError::usage(anyhow!(
            "`{}` is not a plan written by `pixelctl plan --out` ({error})",
            path.display()
        ))
    })?;
    if plan.format != FORMAT {
        return Err(CommandError::usage(anyhow!(
            "`{}` is a plan of format {}, this pixelctl reads format {FORMAT}: plan again with this version",
            path.display(),
            plan.format
        )));
    }
    Ok(plan)
}

pub fn run(settings: &Settings, args: &ApplyPlanArgs) -> CommandResult {
    let review = read_plan(&args.plan)?;
    let project = settings.project()?;
    let rendered = crate::template::render(
        &project,
        &review.environment,
        &ArtifactLocation::placeholder(),
    )?;
    if rendered.environment.stack_name != review.stack_name {
        return Err(CommandError::usage(anyhow!(
            "the plan is for stack `{}`, but environment `{}` now names stack `{}`; plan again",
            review.stack_name,
            review.environment,
            rendered.environment.stack_name
        )));
    }
    let progress = settings.progress();
    let requested = if args.web_app.no_frontend {
        WebApp::Keep
    } else {
        WebApp::Build
    };
    let web_app = web_app_for(&project, requested, &progress)?;
    let options = DeployOptions {
        // The reviewed plan is the approval.
        yes: true,
        no_execute: false,
        diff_only: false,
        wait_cdn: !args.no_wait_cdn,
        cdn_timeout: Duration::from_secs(args.cdn_timeout),
        require_healthy: args.require_healthy,
        health_url: args.health_url.clone(),
        health_timeout: Duration::from_secs(args.health_timeout),
        write_env_file: !args.no_env_file,
        invalidation_timeout: Duration::from_secs(args.web_app.invalidation_timeout),
        interactive: false,
        hotswap: false,
        deploy_mode: None,
        allow_replace: args.allow_replace.clone(),
    };
    let result = runtime()?.block_on(async {
        let aws = settings.connect(&rendered.environment).await?;
        if aws.region != review.region {
            return Err(CommandError::usage(anyhow!(
                "the plan was made in {}, this run is in {}: pass --region {}",
                review.region,
                aws.region,
                review.region
            )));
        }
        // The template and parameters the change set was made from (what was reviewed),
        // for the ledger; the working tree's when the change set is gone (then
        // `apply_reviewed` refuses before anything runs).
        let template = match aws
            .change_set_template(&review.stack_name, &review.change_set_id)
            .await
        {
            Ok(body) => Template::parse(&rendered.template.path, body).unwrap_or(rendered.template),
            Err(_) => rendered.template,
        };
        let parameters = aws
            .reviewed_change_set(&review.stack_name, &review.change_set_id)
            .await?
            .map(|change_set| Parameters {
                values: change_set.parameters,
            });
        Box::pin(
            Deployment {
                aws: &aws,
                project: &project,
                environment: rendered.environment.clone(),
                template,
                parameters,
                artifact: ArtifactSource::Stored(review.artifact.clone()),
                release: ReleaseIntent {
                    kind: ReleaseKind::Deploy,
                    source: None,
                },
                web_app,
                options,
                progress: &progress,
                prompter: &crate::ui::TerminalPrompter,
            }
            .apply_reviewed(&review),
        )
        .await
    });
    emit_report(settings, result)
}
