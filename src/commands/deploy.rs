//! `pixelctl deploy` and `pixelctl diff`: the deploy pipeline, run to the end
//! or stopped after the plan.

use std::time::Duration;

use anyhow::anyhow;

use super::{Settings, runtime};
use crate::cli::{ApplyArgs, ArtifactArgs, DeployArgs, DiffArgs, WebAppArgs};
use crate::config::Environment;
use crate::deploy::keys::{KeyPolicy, check_before_deploy};
use crate::deploy::{
    ArtifactSource, DeployOptions, DeployReport, Deployment, ReleaseIntent, WebApp, artifact,
};
use crate::error::{CommandError, CommandResult};
use crate::package::Artifact;
use crate::progress::Progress;
use crate::project::Project;
use crate::release::{Bump, ReleaseKind};
use crate::template::ArtifactLocation;
use crate::ui;

impl ApplyArgs {
    /// The pipeline options these flags ask for.
    pub fn options(&self) -> DeployOptions {
        DeployOptions {
            yes: self.yes,
            no_execute: self.no_execute,
            diff_only: false,
            wait_cdn: !self.no_wait_cdn,
            cdn_timeout: Duration::from_secs(self.cdn_timeout),
            require_healthy: self.require_healthy,
            health_url: self.health_url.clone(),
            health_timeout: Duration::from_secs(self.health_timeout),
            write_env_file: !self.no_env_file,
            invalidation_timeout: Duration::from_mins(10),
            interactive: ui::can_prompt(),
            hotswap: false,
            deploy_mode: None,
            allow_replace: Vec::new(),
        }
    }
}

impl WebAppArgs {
    /// `options` with this run's invalidation timeout.
    pub fn apply_to(&self, options: DeployOptions) -> DeployOptions {
        DeployOptions {
            invalidation_timeout: Duration::from_secs(self.invalidation_timeout),
            ..options
        }
    }
}

/// Prints the report, also when the deploy went through but the API is unhealthy.
pub fn emit_report(settings: &Settings, result: CommandResult<DeployReport>) -> CommandResult {
    match result {
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

fn package(
    project: &Project,
    args: &ArtifactArgs,
    environment: &Environment,
    progress: &dyn Progress,
) -> CommandResult<Artifact> {
    let architecture = environment.architecture;
    match &args.artifact {
        Some(zip) => {
            artifact::prebuilt(project, zip, architecture, progress).map_err(CommandError::Failed)
        }
        None => artifact::build(project, architecture, &environment.build_profile, progress)
            .map_err(|error| CommandError::Failed(error.into())),
    }
}

/// The checks made before anything is built: the provider keys, and whether
/// the providers still serve the environment's models.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prechecks {
    pub keys: KeyPolicy,
    pub models: bool,
}

/// What happens to the web app: `Build` only where there is one and npm can build it.
pub(super) fn web_app_for(
    project: &Project,
    web_app: WebApp,
    progress: &dyn Progress,
) -> CommandResult<WebApp> {
    Ok(match web_app {
        WebApp::Build if !crate::frontend::build::has_app(&project.root) => {
            progress.warn(
                "frontend/package.json not found: deploying the stack without publishing a web app \
                 (--no-frontend says so without this warning)",
            );
            WebApp::Keep
        }
        WebApp::Build => {
            // Before anything changes: no npm to build the web app is a usage error.
            crate::frontend::build::preflight(&project.root).map_err(CommandError::usage)?;
            WebApp::Build
        }
        other => other,
    })
}

pub(super) fn run_pipeline(
    settings: &Settings,
    env: &str,
    artifact_args: &ArtifactArgs,
    options: DeployOptions,
    web_app: WebApp,
    tag: bool,
    checks: Prechecks,
) -> CommandResult<DeployReport> {
    let project = settings.project()?;
    // The artifact's location is filled in once the store is known.
    let rendered = crate::template::render(&project, env, &ArtifactLocation::placeholder())?;
    crate::deploy::require_answerable(&rendered.environment, &options)?;
    if options.hotswap && !rendered.environment.hotswap {
        return Err(CommandError::usage(anyhow!(
            "environment `{env}` does not allow --hotswap (`hotswap: false` in environments/{env}.yaml, the default \
             where `termination_protection` is on): its functions run only the code its stack declares; deploy without --hotswap"
        )));
    }
    let progress = settings.progress();
    let web_app = web_app_for(&project, web_app, &progress)?;
    if tag && crate::git::is_dirty(&project.root).map_err(CommandError::usage)? {
        return Err(CommandError::usage(anyhow!(
            "--tag needs a clean git tree: commit or stash your changes, so the tag names what is deployed"
        )));
    }
    let runtime = runtime()?;
    // Step 0, before anything is built or planned: the provider keys are there,
    // and their providers still serve the models (a model shut down stops here).
    let endpoints = if checks.models {
        Some(settings.provider_endpoints()?)
    } else {
        None
    };
    let aws = runtime.block_on(async {
        let aws = settings.connect(&rendered.environment).await?;
        check_before_deploy(
            &aws,
            &rendered.environment,
            checks.keys,
            options.interactive,
            &progress,
        )
        .await?;
        if let Some(endpoints) = &endpoints {
            crate::deploy::model_check::check_models(
                &aws,
                &rendered.environment,
                endpoints,
                &progress,
            )
            .await?;
        }
        Ok::<_, CommandError>(aws)
    })?;
    let artifact = package(&project, artifact_args, &rendered.environment, &progress)?;
    runtime.block_on(async {
        let environment = rendered.environment.clone();
        let hotswap = options.hotswap;
        let deployment = Deployment {
            aws: &aws,
            project: &project,
            environment: rendered.environment,
            template: rendered.template,
            parameters: None,
            artifact: ArtifactSource::Local(artifact),
            release: ReleaseIntent {
                kind: ReleaseKind::Deploy,
                source: None,
            },
            web_app,
            options,
            progress: &progress,
            prompter: &crate::ui::TerminalPrompter,
        };
        let mut report = if hotswap {
            Box::pin(deployment.hotswap()).await?
        } else {
            Box::pin(deployment.run()).await?
        };
        if tag {
            let name = crate::release::tag::tag_live(
                &aws,
                &project,
                &environment.name,
                crate::release::tag::TagVersion::Bump(Bump::Patch),
                false,
                true,
                &progress,
            )
            .await
            .map_err(CommandError::Failed)?;
            report.git_tag = Some(name);
        }
        Ok(report)
    })
}

pub fn run_deploy(settings: &Settings, args: &DeployArgs) -> CommandResult {
    // A hotswap changes the functions' code only: the web app stays as it is.
    let web_app = if args.web_app.no_frontend || args.apply.no_execute || args.hotswap {
        WebApp::Keep
    } else {
        WebApp::Build
    };
    let result = run_pipeline(
        settings,
        &args.env,
        &args.artifact,
        DeployOptions {
            hotswap: args.hotswap,
            deploy_mode: if args.express {
                Some(crate::config::DeployMode::Express)
            } else if args.standard {
                Some(crate::config::DeployMode::Standard)
            } else {
                None
            },
            allow_replace: args.allow_replace.clone(),
            ..args.web_app.apply_to(args.apply.options())
        },
        web_app,
        args.tag,
        Prechecks {
            keys: if args.allow_missing_keys {
                KeyPolicy::AllowMissing
            } else {
                KeyPolicy::Require
            },
            models: !args.no_model_check,
        },
    );
    emit_report(settings, result)
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
        invalidation_timeout: Duration::ZERO,
        interactive: false,
        hotswap: false,
        deploy_mode: None,
        allow_replace: Vec::new(),
    };
    // A diff changes nothing: a missing key is worth a warning, not a stop.
    let report = run_pipeline(
        settings,
        &args.env,
        &args.artifact,
        options,
        WebApp::Keep,
        false,
        Prechecks {
            keys: KeyPolicy::AllowMissing,
            models: false,
        },
    )?;
    ui::emit(settings.output, &report)?;
    Ok(())
}
