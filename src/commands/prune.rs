//! `pixelctl prune`: deletes stored artifacts that no recent release and no
//! live stack uses, every version of them, after showing the list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::anyhow;
use serde::Serialize;

use super::{Settings, runtime};
use crate::cli::PruneArgs;
use crate::config::{self, Environment};
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::release::{self, ReleaseRecord, ledger};
use crate::ui;

#[derive(Debug, Serialize)]
struct Pruned {
    bucket: String,
    kept: Vec<String>,
    deleted: Vec<String>,
}

impl fmt::Display for Pruned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "s3://{}: deleted {} artifact(s), kept {}",
            self.bucket,
            self.deleted.len(),
            self.kept.len()
        )?;
        for key in &self.deleted {
            writeln!(f, "  deleted {key}")?;
        }
        Ok(())
    }
}

pub fn run(settings: &Settings, args: &PruneArgs) -> CommandResult {
    let project = settings.project()?;
    let names =
        config::environment_names(&project.environments_dir()).map_err(CommandError::usage)?;
    let environments: Vec<Environment> = names
        .iter()
        .map(|name| config::load(&project.environments_dir(), name))
        .collect::<Result<_, _>>()
        .map_err(CommandError::usage)?;
    // One artifact store per region: prune each region the environments use.
    let mut by_region: BTreeMap<String, Vec<&Environment>> = BTreeMap::new();
    for environment in &environments {
        let region = settings
            .region
            .clone()
            .unwrap_or_else(|| environment.region.clone());
        by_region.entry(region).or_default().push(environment);
    }
    let progress = settings.progress();
    let runtime = runtime()?;
    for group in by_region.values() {
        let pruned = runtime.block_on(async {
            let aws = settings.connect(group[0]).await?;
            let bucket = ledger::bucket(&aws).await?;
            let mut ledgers: Vec<Vec<ReleaseRecord>> = Vec::new();
            let mut live_keys = Vec::new();
            for environment in group {
                ledgers.push(ledger::list(&aws, &bucket, &environment.name).await?);
                if let Some(stack) = aws.describe_stack(&environment.stack_name).await? {
                    live_keys.extend(stack.parameters.get("ArtifactKey").cloned());
                }
            }
            let keep = release::artifacts_to_keep(ledgers.iter().map(Vec::as_slice), args.keep as usize, live_keys);
            let stored: BTreeSet<String> = aws.list_keys(&bucket, "artifacts/").await?.into_iter().collect();
            let doomed: Vec<String> = stored.difference(&keep).cloned().collect();
            let kept: Vec<String> = stored.intersection(&keep).cloned().collect();
            if doomed.is_empty() {
                progress.note(&format!("s3://{bucket}: nothing to prune ({} artifact(s) in use)", kept.len()));
                return Ok::<_, CommandError>(Pruned { bucket, kept, deleted: Vec::new() });
            }
            eprintln!("In s3://{bucket}, no live stack and none of the last {} releases of any environment uses:", args.keep);
            for key in &doomed {
                eprintln!("  {key}");
            }
            if !args.yes {
                if !ui::can_prompt() {
                    return Err(CommandError::usage(anyhow!(
                        "pruning needs a confirmation and there is no terminal to ask on; pass --yes"
                    )));
                }
                if !ui::confirm(&format!("Delete these {} artifact(s), every version?", doomed.len())).map_err(CommandError::Failed)? {
                    return Err(CommandError::Rejected("nothing deleted".to_owned()));
                }
            }
            for key in &doomed {
                for version in aws.list_versions(&bucket, key).await?.into_iter().filter(|version| &version.key == key) {
                    aws.delete_version(&bucket, &version).await?;
                }
            }
            Ok(Pruned { bucket, kept, deleted: doomed })
        })?;
        ui::emit(settings.output, &pruned)?;
    }
    Ok(())
}
