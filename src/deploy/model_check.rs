//! Step 0, before building: ask the providers whether they still serve the
//! environment's models; refuse a deploy whose models they report as shut down.

use anyhow::anyhow;

use crate::aws::Aws;
use crate::config::Environment;
use crate::error::CommandError;
use crate::models::{self, Date, ProviderEndpoints, Verdict};
use crate::progress::Progress;

/// Runs the check; warns of models retiring soon and of providers not asked; fails
/// (a usage error: the environment file names a model that cannot work) when one is shut down.
pub async fn check_models(
    aws: &Aws,
    environment: &Environment,
    endpoints: &ProviderEndpoints,
    progress: &dyn Progress,
) -> Result<(), CommandError> {
    progress.step("Checking the models with their providers");
    let report = models::check(aws, environment, endpoints, Date::today(), progress).await;
    // Models not asked, grouped by why (one reason usually covers several models).
    let mut unchecked: Vec<(&str, Vec<String>)> = Vec::new();
    for finding in &report.models {
        match &finding.verdict {
            Verdict::Retiring { shutdown, days } => progress.warn(&format!(
                "`{}` ({}, {}) shuts down {shutdown}, in {days} days: replace it in the environment files before then",
                finding.model.model, finding.model.provider, finding.model.name
            )),
            Verdict::Unchecked { reason } => {
                let model = format!("`{}`", finding.model.model);
                match unchecked.iter_mut().find(|(known, _)| *known == reason.as_str()) {
                    Some((_, models)) => models.push(model),
                    None => unchecked.push((reason.as_str(), vec![model])),
                }
            }
            Verdict::Ok { .. } | Verdict::ShutDown { .. } => {}
        }
    }
    for (reason, models) in &unchecked {
        progress.note(&format!("not checked: {} ({reason})", models.join(", ")));
    }
    let file = format!(
        "environments/{}.yaml (or defaults.yaml, where the models are listed)",
        environment.name
    );
    match report.refusal(&file) {
        Some(message) => Err(CommandError::usage(anyhow!(message))),
        None => Ok(()),
    }
}
