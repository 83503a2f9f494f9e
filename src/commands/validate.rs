//! `pixelctl validate`: every environment and the template, offline, all
//! problems at once; with `--online`, also whether the providers still serve
//! each configured model (the check in `models`).

use std::fmt;

use serde::Serialize;

use super::{Settings, runtime};
use crate::cli::ValidateArgs;
use crate::config::{self, Environment, Problem};
use crate::error::{CommandError, CommandResult};
use crate::models::{self, Date, ModelReport};
use crate::progress::Progress;
use crate::template::ArtifactLocation;
use crate::ui;

#[derive(Debug, Serialize)]
struct EnvironmentReport {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack_name: Option<String>,
    problems: Vec<Problem>,
    /// Valid but not recommended; never fails validation.
    warnings: Vec<Problem>,
    /// With `--online`: what the providers said about each model.
    #[serde(skip_serializing_if = "Option::is_none")]
    models: Option<ModelReport>,
    /// Resolved, for the online check (not shown).
    #[serde(skip)]
    environment: Option<Environment>,
}

#[derive(Debug, Serialize)]
struct ValidationReport {
    valid: bool,
    environments: Vec<EnvironmentReport>,
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for environment in &self.environments {
            if environment.problems.is_empty() {
                let stack = environment.stack_name.as_deref().unwrap_or("");
                writeln!(f, "ok    {} ({stack})", environment.name)?;
                for warning in &environment.warnings {
                    writeln!(
                        f,
                        "  warning: {}",
                        warning.to_string().replace('\n', "\n  ")
                    )?;
                }
                if let Some(models) = &environment.models {
                    writeln!(
                        f,
                        "  models, as the providers see them on {}:",
                        models.checked_on
                    )?;
                    write!(f, "{models}")?;
                }
            } else {
                writeln!(f, "FAIL  {}", environment.name)?;
                for problem in &environment.problems {
                    writeln!(f, "  {}", problem.to_string().replace('\n', "\n  "))?;
                }
            }
        }
        Ok(())
    }
}

pub fn run(settings: &Settings, args: &ValidateArgs) -> CommandResult {
    let project = settings.project()?;
    let mut names =
        config::environment_names(&project.environments_dir()).map_err(CommandError::usage)?;
    if let Some(only) = &args.env {
        if !names.contains(only) {
            // The loader's own error lists the environments there are.
            config::load(&project.environments_dir(), only).map_err(CommandError::usage)?;
        }
        names.retain(|name| name == only);
    }
    let mut environments: Vec<EnvironmentReport> = names
        .into_iter()
        .map(|name| {
            match crate::template::render(&project, &name, &ArtifactLocation::placeholder()) {
                Ok(rendered) => EnvironmentReport {
                    stack_name: Some(rendered.environment.stack_name.clone()),
                    name,
                    problems: Vec::new(),
                    warnings: rendered.environment.advice.clone(),
                    models: None,
                    environment: Some(rendered.environment),
                },
                Err(error) => EnvironmentReport {
                    name,
                    stack_name: None,
                    problems: problems_of(&error),
                    warnings: Vec::new(),
                    models: None,
                    environment: None,
                },
            }
        })
        .collect();
    if args.online {
        check_models(settings, &mut environments)?;
    }
    let count: usize = environments
        .iter()
        .map(|report| report.problems.len())
        .sum();
    let shut_down: usize = environments
        .iter()
        .filter_map(|report| report.models.as_ref())
        .map(|models| models.shut_down().count())
        .sum();
    let report = ValidationReport {
        valid: count == 0 && shut_down == 0,
        environments,
    };
    ui::emit(settings.output, &report)?;
    if count > 0 {
        return Err(CommandError::Invalid(format!(
            "{count} problem{} found",
            if count == 1 { "" } else { "s" }
        )));
    }
    if shut_down > 0 {
        return Err(CommandError::Invalid(format!(
            "{shut_down} configured model{} shut down; replace {} in the environment files",
            if shut_down == 1 { " is" } else { "s are" },
            if shut_down == 1 { "it" } else { "them" }
        )));
    }
    Ok(())
}

/// Asks the providers about every valid environment's models (`--online`).
fn check_models(settings: &Settings, environments: &mut [EnvironmentReport]) -> CommandResult {
    let endpoints = settings.provider_endpoints()?;
    let progress = settings.progress();
    let today = Date::today();
    runtime()?.block_on(async {
        for report in environments.iter_mut() {
            let Some(environment) = &report.environment else {
                continue;
            };
            let aws = settings.connect(environment).await?;
            let models = models::check(&aws, environment, &endpoints, today, &progress).await;
            for finding in models.retiring() {
                if let models::Verdict::Retiring { shutdown, days } = &finding.verdict {
                    progress.warn(&format!(
                        "{}: `{}` ({}) shuts down {shutdown}, in {days} days",
                        report.name, finding.model.model, finding.model.provider
                    ));
                }
            }
            report.models = Some(models);
        }
        Ok::<(), CommandError>(())
    })
}

fn problems_of(error: &CommandError) -> Vec<Problem> {
    match error {
        CommandError::Usage(error) => match error.downcast_ref::<config::ConfigError>() {
            Some(config_error) => config_error.problems(),
            None => vec![Problem {
                file: std::path::PathBuf::new(),
                line: None,
                key: String::new(),
                message: format!("{error:#}"),
                hint: None,
            }],
        },
        other => vec![Problem {
            file: std::path::PathBuf::new(),
            line: None,
            key: String::new(),
            message: other.to_string(),
            hint: None,
        }],
    }
}
