//! `pixelctl outputs`: a deployed stack's outputs as a table, JSON or dotenv lines.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::anyhow;
use serde::Serialize;

use super::{Settings, runtime};
use crate::cli::{OutputsArgs, OutputsFormat};
use crate::config;
use crate::error::{CommandError, CommandResult};
use crate::local_hosts::LocalAws;
use crate::ui;
use crate::ui::OutputFormat;

#[derive(Debug, Serialize)]
struct OutputsReport {
    environment: String,
    stack_name: String,
    stack_status: String,
    outputs: BTreeMap<String, String>,
    /// Against a local AWS: `ApiEndpoint` and `CloudFrontDomain` where it serves them.
    #[serde(skip_serializing_if = "Option::is_none")]
    served_locally: Option<BTreeMap<String, String>>,
    #[serde(skip)]
    dotenv: bool,
}

impl fmt::Display for OutputsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dotenv {
            // The lines `deploy` writes to frontend/.env: local forms when local.
            let get = |key: &str| {
                self.served_locally
                    .as_ref()
                    .and_then(|local| local.get(key))
                    .or_else(|| self.outputs.get(key))
                    .map(String::as_str)
                    .unwrap_or_default()
            };
            writeln!(f, "VITE_API_ENDPOINT={}", get("ApiEndpoint"))?;
            writeln!(f, "VITE_CLOUDFRONT_DOMAIN={}", get("CloudFrontDomain"))?;
            writeln!(f, "VITE_S3_BUCKET={}", get("ImagesBucket"))?;
            return writeln!(f, "VITE_ENVIRONMENT={}", self.environment);
        }
        let width = self
            .outputs
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max("OUTPUT".len());
        writeln!(f, "{:<width$}  VALUE", "OUTPUT")?;
        for (key, value) in &self.outputs {
            writeln!(f, "{key:<width$}  {value}")?;
        }
        if let Some(local) = &self.served_locally {
            writeln!(f, "\nserved by the local AWS at:")?;
            for (key, value) in local {
                writeln!(f, "{key:<width$}  {value}")?;
            }
        }
        Ok(())
    }
}

pub fn run(settings: &Settings, args: &OutputsArgs) -> CommandResult {
    let project = settings.project()?;
    let environment =
        config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    let stack = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        aws.describe_stack(&environment.stack_name)
            .await
            .map_err(CommandError::Failed)
    })?;
    let Some(stack) = stack else {
        return Err(CommandError::Failed(anyhow!(
            "stack `{}` does not exist; deploy it with `pixelctl deploy {}`",
            environment.stack_name,
            environment.name
        )));
    };
    let format = match (args.format, settings.output) {
        (Some(format), _) => format,
        (None, OutputFormat::Json) => OutputsFormat::Json,
        (None, OutputFormat::Text) => OutputsFormat::Table,
    };
    let served_locally = settings
        .endpoint_url
        .as_deref()
        .and_then(LocalAws::from_endpoint)
        .map(|local| {
            let localized = local.localize_outputs(&stack.outputs);
            localized
                .into_iter()
                .filter(|(key, value)| stack.outputs.get(key) != Some(value))
                .collect::<BTreeMap<_, _>>()
        })
        .filter(|local| !local.is_empty());
    let outputs = OutputsReport {
        environment: environment.name.clone(),
        stack_name: stack.name,
        stack_status: stack.status,
        outputs: stack.outputs,
        served_locally,
        dotenv: format == OutputsFormat::Dotenv,
    };
    let output = if format == OutputsFormat::Json {
        OutputFormat::Json
    } else {
        OutputFormat::Text
    };
    ui::emit(output, &outputs)?;
    Ok(())
}
