//! `pixelctl plan`: `deploy --no-execute`, with the plan written for `pixelctl apply`
//! and printed as text or as Markdown for a pull-request comment.

use std::time::Duration;

use anyhow::anyhow;

use super::Settings;
use super::deploy::{Prechecks, run_pipeline};
use crate::cli::{PlanArgs, PlanFormat};
use crate::deploy::keys::KeyPolicy;
use crate::deploy::{DeployOptions, Outcome, WebApp};
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::ui;

pub fn run(settings: &Settings, args: &PlanArgs) -> CommandResult {
    let options = DeployOptions {
        yes: false,
        no_execute: true,
        diff_only: false,
        wait_cdn: false,
        cdn_timeout: Duration::ZERO,
        require_healthy: false,
        health_url: None,
        health_timeout: Duration::ZERO,
        write_env_file: false,
        invalidation_timeout: Duration::ZERO,
        interactive: ui::can_prompt(),
        hotswap: false,
        deploy_mode: None,
        allow_replace: Vec::new(),
    };
    let report = run_pipeline(
        settings,
        &args.env,
        &args.artifact,
        options,
        WebApp::Keep,
        false,
        Prechecks {
            keys: KeyPolicy::Require,
            models: true,
        },
    )?;
    if let Some(path) = &args.out {
        match (&report.review, &report.plan) {
            (Some(review), Some(plan)) => {
                let mut review = review.clone();
                review.plan = Some(serde_json::to_value(plan).map_err(|error| {
                    CommandError::Failed(anyhow!("cannot write the plan: {error}"))
                })?);
                let text = serde_json::to_string_pretty(&review).map_err(|error| {
                    CommandError::Failed(anyhow!("cannot write the plan: {error}"))
                })?;
                crate::deploy::dotenv::write_atomically(path, &format!("{text}\n"))
                    .map_err(CommandError::Failed)?;
                settings.progress().note(&format!(
                    "wrote {}: apply exactly this change set with `pixelctl apply {}`",
                    path.display(),
                    path.display()
                ));
            }
            _ if report.outcome == Outcome::NoChanges => {
                settings.progress().note(&format!(
                    "no changes: {} was not written (there is nothing to apply)",
                    path.display()
                ));
            }
            _ => {}
        }
    }
    match (args.format, &report.plan) {
        (PlanFormat::Markdown, Some(plan)) => {
            ui::print_text(&plan.to_markdown(&report.environment))?;
            Ok(())
        }
        (PlanFormat::Markdown, None) => {
            ui::print_text(&format!(
                "### Plan for `{}` ({}): no changes",
                report.stack_name, report.environment
            ))?;
            Ok(())
        }
        (PlanFormat::Text, _) => {
            ui::emit(settings.output, &report)?;
            Ok(())
        }
    }
}
