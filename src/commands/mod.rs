//! One module per subcommand; `run` turns the command line into settings and dispatches.

mod apply;
mod build;
mod completions;
mod deploy;
mod destroy;
mod doctor;
mod history;
#[cfg(feature = "local")]
mod local;
mod logs;
mod outputs;
mod plan;
mod promote;
mod prune;
mod publish;
pub mod render;
mod rollback;
mod secrets;
mod status;
mod tag;
mod validate;
mod watch;

use std::path::PathBuf;

use anyhow::Context;

use crate::aws::{Aws, AwsSettings};
use crate::cli::{self, Cli, Command};
use crate::config::Environment;
use crate::error::{CommandError, CommandResult};
use crate::project::Project;
use crate::ui::{Mode, OutputFormat, TerminalProgress};

impl From<cli::OutputFormat> for OutputFormat {
    fn from(format: cli::OutputFormat) -> Self {
        match format {
            cli::OutputFormat::Text => Self::Text,
            cli::OutputFormat::Json => Self::Json,
        }
    }
}

/// Flags and environment merged once, before any command runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub project_dir: Option<PathBuf>,
    pub output: OutputFormat,
    pub quiet: bool,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// `PIXELCTL_PROVIDER_BASE_URLS`, as given (parsed when a check needs it).
    pub provider_base_urls: Option<String>,
}

impl Settings {
    fn from_cli(cli: &Cli) -> Self {
        Self {
            project_dir: cli.global.project_dir.clone(),
            output: cli.global.output.into(),
            quiet: cli.global.quiet,
            profile: cli
                .global
                .profile
                .clone()
                .filter(|profile| !profile.is_empty()),
            region: cli.global.region.clone(),
            endpoint_url: cli
                .global
                .endpoint_url
                .clone()
                .filter(|url| !url.is_empty()),
            provider_base_urls: cli
                .global
                .provider_base_urls
                .clone()
                .filter(|urls| !urls.trim().is_empty()),
        }
    }

    /// Where the model check asks the providers; a malformed variable is a usage error.
    pub fn provider_endpoints(&self) -> CommandResult<crate::models::ProviderEndpoints> {
        let overrides = match &self.provider_base_urls {
            Some(raw) => crate::models::ProviderEndpoints::parse(raw)
                .map_err(|error| CommandError::usage(anyhow::anyhow!(error)))?,
            None => std::collections::BTreeMap::new(),
        };
        Ok(crate::models::ProviderEndpoints::new(
            overrides,
            self.endpoint_url.is_some(),
        ))
    }

    /// The repository pixelctl works on; not finding it is a usage error.
    pub fn project(&self) -> CommandResult<Project> {
        Project::discover(self.project_dir.as_deref()).map_err(CommandError::usage)
    }

    /// Progress on stderr, drawn for a terminal or as plain lines.
    pub fn progress(&self) -> TerminalProgress {
        TerminalProgress::new(Mode::detect(self.quiet))
    }

    /// How to reach AWS for `environment`: `--region` overrides the file's region.
    pub fn aws_settings(&self, environment: &Environment) -> AwsSettings {
        AwsSettings {
            profile: self.profile.clone(),
            region: self
                .region
                .clone()
                .unwrap_or_else(|| environment.region.clone()),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    pub async fn connect(&self, environment: &Environment) -> CommandResult<Aws> {
        crate::aws::connect(&self.aws_settings(environment))
            .await
            .map_err(CommandError::usage)
    }
}

/// A runtime for the commands that talk to AWS.
fn runtime() -> CommandResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(CommandError::Failed)
}

pub fn run(cli: Cli) -> CommandResult {
    let settings = Settings::from_cli(&cli);
    match cli.command {
        Command::Render(args) => render::run(&settings, &args),
        Command::Validate(args) => validate::run(&settings, &args),
        Command::Build(args) => build::run(&settings, &args),
        Command::Deploy(args) => deploy::run_deploy(&settings, &args),
        Command::Publish(args) => publish::run(&settings, &args),
        Command::Diff(args) => deploy::run_diff(&settings, &args),
        Command::Plan(args) => plan::run(&settings, &args),
        Command::Apply(args) => apply::run(&settings, &args),
        Command::Watch(args) => watch::run(&settings, &args),
        Command::Outputs(args) => outputs::run(&settings, &args),
        Command::History(args) => history::run(&settings, &args),
        Command::Rollback(args) => rollback::run(&settings, &args),
        Command::Promote(args) => promote::run(&settings, &args),
        Command::Tag(args) => tag::run(&settings, &args),
        Command::Destroy(args) => destroy::run(&settings, &args),
        Command::Prune(args) => prune::run(&settings, &args),
        #[cfg(feature = "local")]
        Command::Local(args) => local::run(&settings, &args),
        Command::Secrets(command) => secrets::run(&settings, &command),
        Command::Status(args) => status::run(&settings, &args),
        Command::Logs(args) => logs::run(&settings, &args),
        Command::Doctor(args) => doctor::run(&settings, &args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => completions::man(&args),
    }
}
