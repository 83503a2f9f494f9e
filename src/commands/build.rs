//! `pixelctl build`: deploy's first step alone.

use super::Settings;
use crate::config;
use crate::error::{CommandError, CommandResult};
use crate::ui;

pub fn run(settings: &Settings, args: &crate::cli::BuildArgs) -> CommandResult {
    let project = settings.project()?;
    let environment =
        config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    let progress = settings.progress();
    let artifact = crate::deploy::artifact::build(
        &project,
        environment.architecture,
        &environment.build_profile,
        &progress,
    )
    .map_err(|error| CommandError::Failed(error.into()))?;
    ui::emit(settings.output, &artifact)?;
    Ok(())
}
