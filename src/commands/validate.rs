//! `pixelctl validate`: every environment and the template, offline, all
//! problems at once.

use std::fmt;

use serde::Serialize;

use super::Settings;
use crate::config::{self, Problem};
use crate::error::{CommandError, CommandResult};
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

pub fn run(settings: &Settings) -> CommandResult {
    let project = settings.project()?;
    let names =
        config::environment_names(&project.environments_dir()).map_err(CommandError::usage)?;
    let environments: Vec<EnvironmentReport> = names
        .into_iter()
        .map(|name| {
            match super::render::render(&project, &name, &ArtifactLocation::placeholder()) {
                Ok(rendered) => EnvironmentReport {
                    stack_name: Some(rendered.environment.stack_name),
                    name,
                    problems: Vec::new(),
                    warnings: rendered.environment.advice,
                },
                Err(error) => EnvironmentReport {
                    name,
                    stack_name: None,
                    problems: problems_of(&error),
                    warnings: Vec::new(),
                },
            }
        })
        .collect();
    let count: usize = environments
        .iter()
        .map(|report| report.problems.len())
        .sum();
    let report = ValidationReport {
        valid: count == 0,
        environments,
    };
    ui::emit(settings.output, &report)?;
    if count > 0 {
        return Err(CommandError::Invalid(format!(
            "{count} problem{} found",
            if count == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

fn problems_of(error: &CommandError) -> Vec<Problem> {
    match error {
        CommandError::Usage(error) => match error.downcast_ref::<config::ConfigError>() {
            Some(config_error) => config_error.problems(),
            None => vec![Problem {
                file: Default::default(),
                line: None,
                key: String::new(),
                message: format!("{error:#}"),
                hint: None,
            }],
        },
        other => vec![Problem {
            file: Default::default(),
            line: None,
            key: String::new(),
            message: other.to_string(),
            hint: None,
        }],
    }
}
