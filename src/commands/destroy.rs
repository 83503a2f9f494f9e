//! `pixelctl destroy`: deletes an environment's stack after showing what goes
//! and what stays, with the stack's name typed as confirmation.

use std::fmt;

use anyhow::anyhow;
use serde::Serialize;

use super::{Settings, runtime};
use crate::aws::StackResource;
use crate::cli::DestroyArgs;
use crate::config::{self, Environment};
use crate::deploy::watch::{EventCursor, operation_token, watch_stack};
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::release::ledger;
use crate::stack_state::Settled;
use crate::ui;

#[derive(Debug, Serialize)]
struct Destroyed {
    environment: String,
    stack_name: String,
    deleted: Vec<StackResource>,
    /// Resources CloudFormation keeps (`DeletionPolicy: Retain`), with their physical ids.
    retained: Vec<StackResource>,
    /// The artifact store and release ledger, kept for history and redeploys.
    ledger: String,
}

impl fmt::Display for Destroyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "deleted   {} ({} resources)",
            self.stack_name,
            self.deleted.len()
        )?;
        for resource in &self.retained {
            writeln!(
                f,
                "kept      {} {} ({}): delete it yourself if you no longer need its data",
                resource.resource_type, resource.physical_id, resource.logical_id
            )?;
        }
        writeln!(
            f,
            "kept      {}: the artifacts and release ledger (pixelctl history {})",
            self.ledger, self.environment
        )
    }
}

pub fn run(settings: &Settings, args: &DestroyArgs) -> CommandResult {
    let project = settings.project()?;
    let environment =
        config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    let progress = settings.progress();
    let destroyed = runtime()?.block_on(destroy(settings, &environment, args, &progress))?;
    ui::emit(settings.output, &destroyed)?;
    Ok(())
}

/// Shows what goes and what stays, asks, deletes the stack and follows the delete.
async fn destroy(
    settings: &Settings,
    environment: &Environment,
    args: &DestroyArgs,
    progress: &dyn Progress,
) -> CommandResult<Destroyed> {
    let stack_name = environment.stack_name.as_str();
    let aws = settings.connect(environment).await?;
    let stack = aws.describe_stack(stack_name).await?.ok_or_else(|| {
        CommandError::Failed(anyhow!(
            "stack `{stack_name}` does not exist: nothing to destroy"
        ))
    })?;
    if stack.termination_protection && !args.disable_termination_protection {
        return Err(CommandError::usage(anyhow!(
            "stack `{stack_name}` has termination protection; if you really mean to delete it, \
             pass --disable-termination-protection"
        )));
    }
    let resources = aws.stack_resources(stack_name).await?;
    let keep = crate::template::retained_resources(&aws.template_body(stack_name).await?);
    let (retained, deleted): (Vec<StackResource>, Vec<StackResource>) = resources
        .into_iter()
        .partition(|resource| keep.contains(&resource.logical_id));
    confirm_deletion(stack_name, &stack.status, &deleted, &retained, args.yes)?;
    if stack.termination_protection {
        aws.set_termination_protection(stack_name, false).await?;
        progress.note("termination protection disabled");
    }
    progress.step(&format!("Deleting {stack_name}"));
    let token = operation_token("destroy");
    let mut cursor = EventCursor::before_operation(&aws, stack_name, &token).await?;
    aws.delete_stack(stack_name, &token).await?;
    let watched = watch_stack(&aws, stack_name, deleted.len(), &mut cursor, progress).await?;
    if watched.settled != Settled::Succeeded {
        return Err(CommandError::Failed(anyhow!(
            "the delete of {stack_name} did not finish: the stack is {}",
            watched.stack.status
        )));
    }
    Ok(Destroyed {
        environment: environment.name.clone(),
        stack_name: stack_name.to_owned(),
        deleted,
        retained,
        ledger: format!("s3://{}", ledger::bucket(&aws).await?),
    })
}

/// Lists what the delete removes and keeps, then asks for the stack's name
/// to be typed, unless `--yes`.
fn confirm_deletion(
    stack_name: &str,
    status: &str,
    deleted: &[StackResource],
    retained: &[StackResource],
    yes: bool,
) -> CommandResult {
    ui::tell(format_args!(
        "Deleting stack {stack_name} ({status}) removes:"
    ));
    for resource in deleted {
        ui::tell(format_args!(
            "  - {:<24} {:<34} {}",
            resource.logical_id, resource.resource_type, resource.physical_id
        ));
    }
    for resource in retained {
        ui::tell(format_args!(
            "  kept (Retain): {} {} {}",
            resource.logical_id, resource.resource_type, resource.physical_id
        ));
    }
    if yes {
        return Ok(());
    }
    if !ui::can_prompt() {
        return Err(CommandError::usage(anyhow!(
            "deleting `{stack_name}` needs a confirmation and there is no terminal to ask on; \
             pass --yes"
        )));
    }
    let typed = ui::confirm_by_typing(&format!("Type `{stack_name}` to delete it"), stack_name)
        .map_err(CommandError::Failed)?;
    if typed {
        Ok(())
    } else {
        Err(CommandError::Rejected(format!(
            "not deleted: the name did not match `{stack_name}`"
        )))
    }
}
