//! One module per subcommand; `run` turns the command line into settings and dispatches.

mod render;
mod validate;

use std::path::PathBuf;

use crate::cli::{Cli, Command, OutputFormat};
use crate::error::{CommandError, CommandResult};
use crate::project::Project;

/// Flags and environment merged once, before any command runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub project_dir: Option<PathBuf>,
    pub output: OutputFormat,
    pub quiet: bool,
}

impl Settings {
    fn from_cli(cli: &Cli) -> Self {
        Self {
            project_dir: cli.global.project_dir.clone(),
            output: cli.global.output,
            quiet: cli.global.quiet,
        }
    }

    /// The repository pixelctl works on; not finding it is a usage error.
    pub fn project(&self) -> CommandResult<Project> {
        Project::discover(self.project_dir.as_deref()).map_err(CommandError::usage)
    }
}

pub fn run(cli: Cli) -> CommandResult {
    let settings = Settings::from_cli(&cli);
    match cli.command {
        Command::Render(args) => render::run(&settings, &args),
        Command::Validate => validate::run(&settings),
    }
}
