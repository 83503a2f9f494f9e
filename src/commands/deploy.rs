//! `pixelctl deploy` and `pixelctl diff`: the deploy pipeline, run to the end
//! or stopped after the plan.

use std::time::Duration;

use anyhow::anyhow;

use super::{Settings, runtime};
use crate::cli::{ArtifactArgs, DeployArgs, DiffArgs};
use crate::deploy::{DeployOptions, DeployReport, Deployment, artifact};
use crate::error::{CommandError, CommandResult};
use crate::package::Artifact;
use crate::progress::Progress;
use crate::project::Project;
use crate::template::ArtifactLocation;
use crate::ui;

fn package(
    project: &Project,
    args: &ArtifactArgs,
    architecture: crate::config::Architecture,
    progress: &dyn Progress,
) -> CommandResult<Artifact> {
    match &args.artifact {
        Some(zip) => artifact::prebuilt(project, zip, architecture, progress).map_err(CommandError::Failed),
        None => artifact::build(project, architecture, progress).map_err(|error| CommandError::Failed(error.into())),
    }
}

fn run_pipeline(settings: &Settings, env: &str, artifact_args: &ArtifactArgs, options: DeployOptions) -> CommandResult<DeployReport> {
    let project = settings.project()?;
    // The artifact's location is filled in once the store is known.
    let rendered = super::render::render(&project, env, &ArtifactLocation::placeholder())?;
    let environment = &rendered.environment;
    let needs_answer = environment.confirm_changes && !options.yes && !options.no_execute && !options.diff_only;
    if needs_answer && !options.interactive {
        return Err(CommandError::usage(anyhow!(
            "environment `{env}` asks to confirm changes before applying them, and there is no terminal to ask on; \
             pass --yes to apply without asking, or --no-execute to stop after the plan"
        )));
    }
    let progress = settings.progress();
    let artifact = package(&project, artifact_args, environment.architecture, &progress)?;
    runtime()?.block_on(async {
        let aws = settings.connect(&rendered.environment).await?;
        Deployment {
            aws: &aws,
            project: &project,
            rendered,
            artifact,
            options,
            progress: &progress,
        }
        .run()
        .await
    })
}

pub fn run_deploy(settings: &Settings, args: &DeployArgs) -> CommandResult {
    let options = DeployOptions {
        yes: args.yes,
        no_execute: args.no_execute,
        diff_only: false,
        wait_cdn: !args.no_wait_cdn,
        cdn_timeout: Duration::from_secs(args.cdn_timeout),
        require_healthy: args.require_healthy,
        health_url: args.health_url.clone(),
        health_timeout: Duration::from_secs(args.health_timeout),
        write_env_file: !args.no_env_file,
        interactive: ui::can_prompt(),
    };
    match run_pipeline(settings, &args.env, &args.artifact, options) {
        Ok(report) => {
            ui::emit(settings.output, &report)?;
            Ok(())
        }
        Err(CommandError::Unhealthy(report)) => {
            ui::emit(settings.output, report.as_ref())?;
            Err(CommandError::Unhealthy(report))
        }
        Err(error) => Err(error),
    }
}

pub fn run_diff(settings: &Settings, args: &DiffArgs) -> CommandResult {
    let options = DeployOptions {
        yes: false,
        no_execute: false,
        diff_only: true,
        wait_cdn: false,
        cdn_timeout: Duration::ZERO,
        require_healthy: false,
        health_url: None,
        health_timeout: Duration::ZERO,
        write_env_file: false,
        interactive: false,
    };
    let report = run_pipeline(settings, &args.env, &args.artifact, options)?;
    ui::emit(settings.output, &report)?;
    Ok(())
}
