//! `pixelctl render`: one environment's template and parameters, offline.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Settings;
use crate::error::{CommandError, CommandResult};
use crate::template::{ArtifactLocation, Rendered, render, stack_tags};
use crate::ui;

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
