//! `pixelctl rollback`: back to a known-good release, by the stack's state.

use std::time::SystemTime;

use anyhow::anyhow;

use super::deploy::{emit_report, require_answerable};
use super::{Settings, runtime};
use crate::cli::RollbackArgs;
use crate::deploy::watch::{EventCursor, watch_stack};
use crate::deploy::{ArtifactSource, Deployment, ReleaseIntent, WebApp};
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::release::{self, ReleaseKind, ReleaseSource, ledger};
use crate::stack_state::Settled;
use crate::template::{ArtifactLocation, Parameters, Template};

pub fn run(settings: &Settings, args: &RollbackArgs) -> CommandResult {
    let project = settings.project()?;
    let rendered = super::render::render(&project, &args.env, &ArtifactLocation::placeholder())?;
    let environment = rendered.environment.clone();
    let options = args.web_app.apply_to(args.apply.options());
    let progress = settings.progress();
    let stack_name = environment.stack_name.clone();

    let result = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        let stack = aws.describe_stack(&stack_name).await?.ok_or_else(|| {
            CommandError::Failed(anyhow!("stack `{stack_name}` does not exist: there is nothing to roll back"))
        })?;
        match stack.status.as_str() {
            "UPDATE_IN_PROGRESS" => {
                progress.step(&format!("{stack_name} is being updated: cancelling the update"));
                let mut cursor = EventCursor::starting(SystemTime::now());
                aws.cancel_update(&stack_name).await?;
                let watched = watch_stack(&aws, &stack_name, 0, &mut cursor, &progress).await?;
                return finish_repair(&stack_name, &watched.stack.status, &watched.failures);
            }
            "UPDATE_ROLLBACK_FAILED" => {
                progress.step(&format!("{stack_name} is in UPDATE_ROLLBACK_FAILED: continuing the rollback"));
                if !args.skip.is_empty() {
                    progress.warn(&format!("skipping {}: CloudFormation leaves them as they are", args.skip.join(", ")));
                }
                let mut cursor = EventCursor::starting(SystemTime::now());
                aws.continue_update_rollback(&stack_name, &args.skip).await?;
                let watched = watch_stack(&aws, &stack_name, 0, &mut cursor, &progress).await?;
                return finish_repair(&stack_name, &watched.stack.status, &watched.failures);
            }
            status if status.ends_with("_IN_PROGRESS") => {
                return Err(CommandError::Failed(anyhow!(
                    "stack `{stack_name}` is {status}; wait for it to settle (pixelctl deploy waits and shows its events), then roll back"
                )));
            }
            _ => {}
        }

        require_answerable(&environment, &options)?;
        let bucket = ledger::bucket(&aws).await?;
        let records = ledger::list(&aws, &bucket, &environment.name).await?;
        let target = release::rollback_target(&environment.name, &records, args.to.as_deref())
            .map_err(|error| CommandError::Failed(error.into()))?
            .clone();
        progress.step(&format!(
            "Rolling {} back to release #{} ({}, artifact {})",
            environment.name,
            target.sequence,
            target.time,
            &target.artifact.sha256[..12.min(target.artifact.sha256.len())]
        ));
        let body = ledger::load_template(&aws, &target.template).await?;
        let template = Template::parse(std::path::Path::new(&target.template.key), body).map_err(CommandError::usage)?;
        // Secret values are never in the ledger: they come from where they live now.
        let current = Parameters::for_environment(
            &environment,
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
        // The page served as of that release (the newest one published up to it).
        let web_app = if args.web_app.no_frontend || options.no_execute {
            WebApp::Keep
        } else {
            WebApp::Restore(release::page_at(&records, target.sequence).cloned().map(Box::new))
        };
        Deployment {
            aws: &aws,
            project: &project,
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
            progress: &progress,
        }
        .run()
        .await
        .map(Some)
    });
    match result {
        Ok(Some(report)) => emit_report(settings, Ok(report)),
        Ok(None) => Ok(()),
        Err(error) => emit_report(settings, Err(error)),
    }
}

/// Reports how a cancel or a continued rollback ended.
fn finish_repair(
    stack: &str,
    status: &str,
    failures: &[crate::aws::StackEvent],
) -> CommandResult<Option<crate::deploy::DeployReport>> {
    if crate::stack_state::settled(status) == Settled::RolledBack {
        eprintln!("{stack} is back on its previous version ({status})");
        return Ok(None);
    }
    let mut message = format!("{stack} is {status} after the rollback");
    for failure in failures {
        message.push_str(&format!(
            "\n  {} {} ({}): {}",
            failure.status,
            failure.logical_id,
            failure.resource_type,
            failure.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    if status == "UPDATE_ROLLBACK_FAILED" {
        let names: Vec<&str> = failures
            .iter()
            .map(|failure| failure.logical_id.as_str())
            .collect();
        message.push_str(&format!(
            "\n  fix the cause, or leave those resources as they are: pixelctl rollback <env> --skip {}",
            names.join(" --skip ")
        ));
    }
    Err(CommandError::Failed(anyhow!(message)))
}
