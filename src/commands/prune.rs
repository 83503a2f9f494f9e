//! `pixelctl prune`: deletes stored artifacts that no recent release and no
//! live stack uses, every version of them, and web app files that no recent
//! release of an environment uses from its site (and the copies the artifact
//! store keeps for rollbacks), after showing the list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::anyhow;
use serde::Serialize;

use super::{Settings, runtime};
use crate::aws::Aws;
use crate::cli::PruneArgs;
use crate::config::{self, Environment};
use crate::error::{CommandError, CommandResult};
use crate::frontend::publish::SITE_PREFIX;
use crate::progress::Progress;
use crate::release::{self, ReleaseRecord, ledger};
use crate::ui;

/// Web app files deleted from one environment's site.
#[derive(Debug, Serialize)]
struct SitePruned {
    environment: String,
    bucket: String,
    prefix: String,
    deleted: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Pruned {
    bucket: String,
    kept: Vec<String>,
    deleted: Vec<String>,
    /// Web app files deleted from each environment's site.
    sites: Vec<SitePruned>,
    /// Kept copies of web app files (`frontends/files/<sha256>`) deleted from the store.
    page_files: Vec<String>,
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
        if !self.page_files.is_empty() {
            writeln!(
                f,
                "s3://{}: deleted {} kept web app file(s) no kept release needs",
                self.bucket,
                self.page_files.len()
            )?;
        }
        for site in &self.sites {
            writeln!(
                f,
                "s3://{}/{} ({}): deleted {} web app file(s)",
                site.bucket,
                site.prefix,
                site.environment,
                site.deleted.len()
            )?;
            for path in &site.deleted {
                writeln!(f, "  deleted {path}")?;
            }
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
        let pruned = runtime.block_on(prune_region(settings, group, args, &progress))?;
        ui::emit(settings.output, &pruned)?;
    }
    Ok(())
}

/// Prunes the artifact store of one region and the sites of its environments.
async fn prune_region(
    settings: &Settings,
    group: &[&Environment],
    args: &PruneArgs,
    progress: &dyn Progress,
) -> CommandResult<Pruned> {
    let aws = settings.connect(group[0]).await?;
    let bucket = ledger::bucket(&aws).await?;
    let keep_count = args.keep as usize;
    let mut ledgers: Vec<Vec<ReleaseRecord>> = Vec::new();
    let mut live_keys = Vec::new();
    let mut sites = Vec::new();
    for environment in group {
        let records = ledger::list(&aws, &bucket, &environment.name).await?;
        if let Some(stack) = aws.describe_stack(&environment.stack_name).await? {
            live_keys.extend(stack.parameters.get("ArtifactKey").cloned());
            if let Some(site_bucket) = stack.outputs.get("ImagesBucket") {
                sites.extend(
                    site_files_to_prune(&aws, environment, site_bucket, &records, keep_count)
                        .await?,
                );
            }
        }
        ledgers.push(records);
    }
    let keep = release::artifacts_to_keep(ledgers.iter().map(Vec::as_slice), keep_count, live_keys);
    let stored: BTreeSet<String> = aws
        .list_keys(&bucket, "artifacts/")
        .await?
        .into_iter()
        .collect();
    let doomed: Vec<String> = stored.difference(&keep).cloned().collect();
    let kept: Vec<String> = stored.intersection(&keep).cloned().collect();
    let stored_pages: BTreeSet<String> = aws
        .list_keys(&bucket, ledger::PAGE_FILES)
        .await?
        .into_iter()
        .filter_map(|key| Some(key.strip_prefix(ledger::PAGE_FILES)?.to_owned()))
        .collect();
    let page_files: Vec<String> =
        release::page_files_to_delete(ledgers.iter().map(Vec::as_slice), keep_count, &stored_pages)
            .into_iter()
            .map(|sha256| ledger::page_file_key(&sha256))
            .collect();
    let pruned = Pruned {
        bucket,
        kept,
        deleted: doomed,
        sites,
        page_files,
    };
    if pruned.deleted.is_empty() && pruned.sites.is_empty() && pruned.page_files.is_empty() {
        progress.note(&format!(
            "s3://{}: nothing to prune ({} artifact(s) in use)",
            pruned.bucket,
            pruned.kept.len()
        ));
        return Ok(pruned);
    }
    confirm_deletion(&pruned, args)?;
    delete(&aws, &pruned).await?;
    Ok(pruned)
}

/// The files of an environment's site that none of its last `keep_count` releases uses.
async fn site_files_to_prune(
    aws: &Aws,
    environment: &Environment,
    site_bucket: &str,
    records: &[ReleaseRecord],
    keep_count: usize,
) -> CommandResult<Option<SitePruned>> {
    let stored: BTreeSet<String> = aws
        .list_objects(site_bucket, SITE_PREFIX)
        .await?
        .into_iter()
        .filter_map(|object| Some(object.key.strip_prefix(SITE_PREFIX)?.to_owned()))
        .collect();
    let deleted: Vec<String> = release::site_files_to_delete(records, keep_count, &stored)
        .into_iter()
        .collect();
    Ok((!deleted.is_empty()).then(|| SitePruned {
        environment: environment.name.clone(),
        bucket: site_bucket.to_owned(),
        prefix: SITE_PREFIX.to_owned(),
        deleted,
    }))
}

/// Lists what is about to go and asks, unless `--yes`.
fn confirm_deletion(pruned: &Pruned, args: &PruneArgs) -> CommandResult {
    let bucket = &pruned.bucket;
    ui::tell(format_args!(
        "No live stack and none of the last {} releases of any environment uses:",
        args.keep
    ));
    for key in pruned.deleted.iter().chain(&pruned.page_files) {
        ui::tell(format_args!("  s3://{bucket}/{key}"));
    }
    for site in &pruned.sites {
        for path in &site.deleted {
            ui::tell(format_args!(
                "  s3://{}/{}{path} (web app of {})",
                site.bucket, site.prefix, site.environment
            ));
        }
    }
    if args.yes {
        return Ok(());
    }
    if !ui::can_prompt() {
        return Err(CommandError::usage(anyhow!(
            "pruning needs a confirmation and there is no terminal to ask on; pass --yes"
        )));
    }
    let count = pruned.deleted.len()
        + pruned.page_files.len()
        + pruned
            .sites
            .iter()
            .map(|site| site.deleted.len())
            .sum::<usize>();
    if ui::confirm(&format!("Delete these {count} object(s), every version?"))
        .map_err(CommandError::Failed)?
    {
        Ok(())
    } else {
        Err(CommandError::Rejected("nothing deleted".to_owned()))
    }
}

/// Deletes every version of the pruned store objects, and the pruned site files.
async fn delete(aws: &Aws, pruned: &Pruned) -> CommandResult {
    for key in pruned.deleted.iter().chain(&pruned.page_files) {
        for version in aws
            .list_versions(&pruned.bucket, key)
            .await?
            .into_iter()
            .filter(|version| &version.key == key)
        {
            aws.delete_version(&pruned.bucket, &version).await?;
        }
    }
    for site in &pruned.sites {
        for path in &site.deleted {
            aws.delete_object(&site.bucket, &format!("{}{path}", site.prefix))
                .await?;
        }
    }
    Ok(())
}
