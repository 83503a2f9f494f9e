//! `pixelctl rollback`: back to a known-good release, by the stack's state.

use anyhow::anyhow;

use super::deploy::emit_report;
use super::{Settings, runtime};
use crate::aws::Aws;
use crate::cli::RollbackArgs;
use crate::config::Environment;
use crate::deploy::require_answerable;
use crate::deploy::watch::{EventCursor, operation_token, watch_stack};
use crate::deploy::{
    ArtifactSource, DeployOptions, DeployReport, Deployment, ReleaseIntent, WebApp,
};
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::project::Project;
use crate::release::{self, ReleaseKind, ReleaseRecord, ReleaseSource, ledger};
use crate::stack_state::{self, RollbackAction, Settled};
use crate::template::{ArtifactLocation, Parameters, Template};

pub fn run(settings: &Settings, args: &RollbackArgs) -> CommandResult {
    let project = settings.project()?;
    let rendered = crate::template::render(&project, &args.env, &ArtifactLocation::placeholder())?;
    let environment = rendered.environment;
    let options = args.web_app.apply_to(args.apply.options());
    let progress = settings.progress();
    let result = runtime()?.block_on(rollback(
        settings,
        &project,
        &environment,
        args,
        options,
        &progress,
    ));
    match result {
        Ok(Some(report)) => emit_report(settings, Ok(report)),
        Ok(None) => Ok(()),
        Err(error) => emit_report(settings, Err(error)),
    }
}

/// What the stack's state calls for: repair an operation in progress or stuck,
/// or deploy a recorded release (then the report; `None` after a repair).
async fn rollback(
    settings: &Settings,
    project: &Project,
    environment: &Environment,
    args: &RollbackArgs,
    options: DeployOptions,
    progress: &dyn Progress,
) -> CommandResult<Option<DeployReport>> {
    let stack_name = environment.stack_name.as_str();
    let aws = settings.connect(environment).await?;
    let stack = aws.describe_stack(stack_name).await?.ok_or_else(|| {
        CommandError::Failed(anyhow!(
            "stack `{stack_name}` does not exist: there is nothing to roll back"
        ))
    })?;
    match stack_state::rollback(stack_name, &stack.status) {
        RollbackAction::CancelUpdate => {
            progress.step(&format!(
                "{stack_name} is being updated: cancelling the update"
            ));
            // The cancelled update rolls back as that same operation: follow it.
            let mut cursor = EventCursor::join_operation(&aws, stack_name, progress).await?;
            aws.cancel_update(stack_name, &operation_token("cancel"))
                .await?;
            let watched = watch_stack(&aws, stack_name, 0, &mut cursor, progress).await?;
            finish_repair(stack_name, &environment.name, &watched)
        }
        RollbackAction::ContinueRollback => {
            progress.step(&format!(
                "{stack_name} is in UPDATE_ROLLBACK_FAILED: continuing the rollback"
            ));
            if !args.skip.is_empty() {
                progress.warn(&format!(
                    "skipping {}: CloudFormation leaves them as they are",
                    args.skip.join(", ")
                ));
            }
            let token = operation_token("continue-rollback");
            let mut cursor = EventCursor::before_operation(&aws, stack_name, &token).await?;
            aws.continue_update_rollback(stack_name, &args.skip, &token)
                .await?;
            let watched = watch_stack(&aws, stack_name, 0, &mut cursor, progress).await?;
            finish_repair(stack_name, &environment.name, &watched)
        }
        RollbackAction::Refuse(message) => Err(CommandError::Failed(anyhow!(message))),
        RollbackAction::DeployRelease => Box::pin(deploy_release(
            &aws,
            project,
            environment,
            args,
            options,
            progress,
        ))
        .await
        .map(Some),
    }
}

/// Deploys the release `--to` names (by default the one before the live one),
/// with its recorded template, parameters and web app.
async fn deploy_release(
    aws: &Aws,
    project: &Project,
    environment: &Environment,
    args: &RollbackArgs,
    options: DeployOptions,
    progress: &dyn Progress,
) -> CommandResult<DeployReport> {
    require_answerable(environment, &options)?;
    let bucket = ledger::bucket(aws).await?;
    let records = ledger::list(aws, &bucket, &environment.name).await?;
    let target = release::rollback_target(&environment.name, &records, args.to.as_deref())?.clone();
    progress.step(&format!(
        "Rolling {} back to release #{} ({}, artifact {})",
        environment.name,
        target.sequence,
        target.time,
        &target.artifact.sha256[..12.min(target.artifact.sha256.len())]
    ));
    let body = ledger::load_template(aws, &target.template).await?;
    // The ledger's template not parsing is corrupt remote state, not the user's input.
    let template =
        Template::parse(std::path::Path::new(&target.template.key), body).map_err(|error| {
            CommandError::Failed(
                anyhow::Error::new(error).context("the release's recorded template is corrupt"),
            )
        })?;
    let parameters = release_parameters(environment, &target, &template);
    // The page served as of that release (the newest one published up to it).
    let web_app = if args.web_app.no_frontend || options.no_execute {
        WebApp::Keep
    } else {
        WebApp::Restore(
            release::page_at(&records, target.sequence)
                .cloned()
                .map(Box::new),
        )
    };
    Box::pin(
        Deployment {
            aws,
            project,
            environment: environment.clone(),
            template,
            parameters: Some(parameters),
            artifact: ArtifactSource::Stored(target.artifact.clone()),
            release: ReleaseIntent {
                kind: ReleaseKind::Rollback,
                source: Some(ReleaseSource {
                    environment: environment.name.clone(),
                    sequence: target.sequence,
                }),
            },
            web_app,
            options,
            progress,
            prompter: &crate::ui::TerminalPrompter,
        }
        .run(),
    )
    .await
}

/// The release's recorded parameters, with secret values from where they live
/// now (they are never in the ledger).
fn release_parameters(
    environment: &Environment,
    target: &ReleaseRecord,
    template: &Template,
) -> Parameters {
    let current = Parameters::for_environment(
        environment,
        &ArtifactLocation {
            bucket: target.artifact.bucket.clone(),
            key: target.artifact.key.clone(),
        },
    );
    let mut parameters = Parameters {
        values: target.parameters.clone(),
    };
    for secret in template.secret_parameters() {
        if let Some(value) = current.values.get(secret) {
            parameters.values.insert(secret.to_owned(), value.clone());
        }
    }
    parameters
}

/// Reports how a cancel or a continued rollback ended.
fn finish_repair(
    stack: &str,
    env: &str,
    watched: &crate::deploy::watch::Watched,
) -> CommandResult<Option<DeployReport>> {
    let status = watched.stack.status.as_str();
    if stack_state::settled(status) == Settled::RolledBack {
        crate::ui::tell(format_args!(
            "{stack} is back on its previous version ({status})"
        ));
        return Ok(None);
    }
    let mut message = format!("{stack} is {status} after the rollback");
    if status == "UPDATE_ROLLBACK_FAILED" {
        let failures = stack_state::rollback_failures(&watched.events);
        message.push_str(&stack_state::rollback_failed_advice(stack, env, &failures));
    } else {
        for failure in &watched.failures {
            message.push_str(&format!(
                "\n  {} {} ({}): {}",
                failure.status,
                failure.logical_id,
                failure.resource_type,
                failure.reason.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    Err(CommandError::Failed(anyhow!(message)))
}
