//! `pixelctl render`: one environment's template and parameters, offline.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Settings;
use crate::config::{self, Environment};
use crate::error::{CommandError, CommandResult};
use crate::project::Project;
use crate::template::{ArtifactLocation, Parameters, Template, stack_tags};
use crate::ui;

/// A template and parameters ready to hand to CloudFormation.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub environment: Environment,
    pub template: Template,
    pub parameters: Parameters,
}

/// Loads `env` and the template, and fills in the parameters for `artifact`.
pub fn render(
    project: &Project,
    env: &str,
    artifact: &ArtifactLocation,
) -> CommandResult<Rendered> {
    let environment =
        config::load(&project.environments_dir(), env).map_err(CommandError::usage)?;
    let template = Template::load(&project.template_path()).map_err(CommandError::usage)?;
    let parameters = Parameters::for_environment(&environment, artifact);
    let mut problems = template.problems();
    problems.extend(template.parameter_problems(&parameters, env));
    problems.extend(template.constraint_problems(&parameters, env, &environment.file));
    problems.extend(parameters.problems(&environment, &environment.file));
    if !problems.is_empty() {
        return Err(CommandError::usage(config::ConfigError::Invalid(problems)));
    }
    Ok(Rendered {
        environment,
        template,
        parameters,
    })
}

/// What `render` reports.
#[derive(Debug, Serialize)]
struct RenderResult {
    environment: String,
    stack_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<Vec<PathBuf>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<String>,
    parameters: std::collections::BTreeMap<String, String>,
}

impl fmt::Display for RenderResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.written, &self.template) {
            (Some(files), _) => {
                for file in files {
                    writeln!(f, "wrote {}", file.display())?;
                }
                Ok(())
            }
            (None, Some(template)) => f.write_str(template),
            (None, None) => Ok(()),
        }
    }
}

pub fn run(settings: &Settings, args: &crate::cli::RenderArgs) -> CommandResult {
    let project = settings.project()?;
    let rendered = render(&project, &args.env, &ArtifactLocation::placeholder())?;
    let secret = rendered.template.secret_parameters();
    let shown = rendered.parameters.redacted(&secret);
    let written = match &args.out {
        Some(dir) => Some(write_files(dir, &rendered).map_err(CommandError::Failed)?),
        None => None,
    };
    let result = RenderResult {
        environment: rendered.environment.name.clone(),
        stack_name: rendered.environment.stack_name.clone(),
        template: written.is_none().then(|| rendered.template.body.clone()),
        written,
        parameters: shown.values,
    };
    ui::emit(settings.output, &result)?;
    Ok(())
}

fn write_files(dir: &Path, rendered: &Rendered) -> anyhow::Result<Vec<PathBuf>> {
    fs_err::create_dir_all(dir)?;
    let tags: Vec<serde_json::Value> = stack_tags(&rendered.environment)
        .into_iter()
        .map(|(key, value)| serde_json::json!({"Key": key, "Value": value}))
        .collect();
    let files = [
        ("template.yaml", rendered.template.body.clone()),
        (
            "parameters.json",
            rendered.parameters.to_cloudformation_json(),
        ),
        (
            "tags.json",
            format!("{}\n", serde_json::to_string_pretty(&tags)?),
        ),
    ];
    let mut written = Vec::new();
    for (name, contents) in files {
        let path = dir.join(name);
        fs_err::write(&path, contents)?;
        written.push(path);
    }
    Ok(written)
}
