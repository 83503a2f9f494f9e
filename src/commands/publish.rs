//! `pixelctl publish`: the web app alone, built with a deployed stack's
//! outputs and published to it; the stack is not touched.

use std::time::Duration;

use anyhow::anyhow;

use super::{Settings, runtime};
use crate::cli::PublishArgs;
use crate::config;
use crate::deploy::web_app::WebAppStep;
use crate::error::{CommandError, CommandResult};
use crate::frontend::build;
use crate::release::{ReleaseKind, ledger};
use crate::ui;

/// Whether a stack in `status` can have its web app published: it must hold
/// its resources and not be in the middle of an operation. Pure.
pub fn publishable(status: &str) -> Result<(), String> {
    if status.ends_with("_IN_PROGRESS") {
        return Err(format!(
            "is {status}; wait for it to settle (`pixelctl deploy` waits and shows its events), then publish"
        ));
    }
    if matches!(
        status,
        "ROLLBACK_COMPLETE"
            | "ROLLBACK_FAILED"
            | "CREATE_FAILED"
            | "DELETE_FAILED"
            | "DELETE_COMPLETE"
    ) {
        return Err(format!(
            "is {status} and serves nothing; deploy it first with `pixelctl deploy`"
        ));
    }
    Ok(())
}

pub fn run(settings: &Settings, args: &PublishArgs) -> CommandResult {
    let project = settings.project()?;
    let environment =
        config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    build::preflight(&project.root).map_err(CommandError::usage)?;
    let progress = settings.progress();
    let report = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        let stack_name = &environment.stack_name;
        let stack = aws.describe_stack(stack_name).await?.ok_or_else(|| {
            CommandError::Failed(anyhow!(
                "stack `{stack_name}` does not exist: deploy it first with `pixelctl deploy {}`",
                environment.name
            ))
        })?;
        publishable(&stack.status)
            .map_err(|reason| CommandError::Failed(anyhow!("stack `{stack_name}` {reason}")))?;
        let store = ledger::bucket(&aws).await?;
        WebAppStep {
            aws: &aws,
            store: &store,
            environment: &environment.name,
            project_root: &project.root,
            invalidation_timeout: Duration::from_secs(args.invalidation_timeout),
            progress: &progress,
        }
        .run(&stack, None, None, ReleaseKind::Publish, None)
        .await
        .map_err(CommandError::Failed)
    })?;
    ui::emit(settings.output, &report)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::publishable;

    #[test]
    fn only_a_settled_stack_with_resources_is_published_to() {
        let cases = [
            ("CREATE_COMPLETE", true),
            ("UPDATE_COMPLETE", true),
            ("UPDATE_ROLLBACK_COMPLETE", true),
            ("IMPORT_COMPLETE", true),
            ("UPDATE_IN_PROGRESS", false),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", false),
            ("ROLLBACK_COMPLETE", false),
            ("DELETE_FAILED", false),
        ];
        for (status, ok) in cases {
            assert_eq!(publishable(status).is_ok(), ok, "{status}");
        }
    }
}
