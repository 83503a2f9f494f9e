//! `pixelctl tag`: an annotated git tag `<env>-vX.Y.Z` on the commit of the live release.

use anyhow::{Context, anyhow, bail};

use super::{Settings, runtime};
use crate::aws::Aws;
use crate::cli::{BumpArg, TagArgs};
use crate::config;
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::project::Project;
use crate::release::{self, Bump, Version, ledger};

/// What `pixelctl tag` reports.
#[derive(Debug, serde::Serialize)]
struct Tagged {
    tag: String,
}

impl std::fmt::Display for Tagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.tag)
    }
}

/// Which version the tag gets.
#[derive(Debug, Clone, Copy)]
pub enum TagVersion {
    Bump(Bump),
    Exact(Version),
}

/// Tags the commit of `environment`'s live release and records the tag in the ledger.
pub async fn tag_live(
    aws: &Aws,
    project: &Project,
    environment: &str,
    version: TagVersion,
    push: bool,
    reuse_existing: bool,
    progress: &dyn Progress,
) -> anyhow::Result<String> {
    if crate::git::is_dirty(&project.root)? {
        bail!("the git tree has uncommitted changes: commit or stash them before tagging");
    }
    let bucket = ledger::bucket(aws).await?;
    let records = ledger::list(aws, &bucket, environment).await?;
    let live = release::live(&records)
        .ok_or_else(|| anyhow!("`{environment}` has no successful release to tag"))?;
    let git = live.git.as_ref().ok_or_else(|| {
        anyhow!(
            "release #{} was not deployed from a git checkout: there is no commit to tag",
            live.sequence
        )
    })?;
    if let Some(existing) = live.git_tags.last().filter(|_| reuse_existing) {
        progress.note(&format!(
            "release #{} is already tagged {existing}",
            live.sequence
        ));
        return Ok(existing.clone());
    }
    if git.dirty {
        bail!(
            "release #{} was deployed from a tree with uncommitted changes, so commit {} does not describe it; \
             deploy from a clean tree, then tag",
            live.sequence,
            git.commit
        );
    }
    let name = match version {
        TagVersion::Exact(version) => format!("{environment}-v{version}"),
        TagVersion::Bump(bump) => release::next_tag(
            environment,
            &crate::git::release_tags(&project.root, environment)?,
            bump,
        ),
    };
    if crate::git::tag_exists(&project.root, &name) {
        bail!("the tag `{name}` already exists; pick another with --version or --bump");
    }
    let message = format!(
        "{environment} release #{}\n\nartifact sha256:{}\ntemplate sha256:{}\ndeployed {} by {}\nstack {} ({})",
        live.sequence,
        live.artifact.sha256,
        live.template.sha256,
        live.time,
        live.who,
        live.stack_name,
        live.stack_status
    );
    crate::git::create_tag(&project.root, &name, &git.commit, &message)?;
    ledger::add_git_tag(aws, &bucket, environment, live.sequence, &name)
        .await
        .with_context(|| format!("tagged `{name}` in git, but the ledger could not record it"))?;
    progress.note(&format!(
        "tagged {} as {name} (release #{})",
        &git.commit[..git.commit.len().min(12)],
        live.sequence
    ));
    if push {
        crate::git::push_tag(&project.root, &name)?;
        progress.note(&format!("pushed {name} to origin"));
    }
    Ok(name)
}

pub fn run(settings: &Settings, args: &TagArgs) -> CommandResult {
    let project = settings.project()?;
    let environment =
        config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    let version = match &args.version {
        Some(text) => {
            TagVersion::Exact(Version::parse(text.trim_start_matches('v')).ok_or_else(|| {
                CommandError::usage(anyhow!(
                    "`{text}` is not a version; write it as MAJOR.MINOR.PATCH, e.g. 1.4.0"
                ))
            })?)
        }
        None => TagVersion::Bump(match args.bump {
            BumpArg::Patch => Bump::Patch,
            BumpArg::Minor => Bump::Minor,
            BumpArg::Major => Bump::Major,
        }),
    };
    let progress = settings.progress();
    let name = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        tag_live(
            &aws,
            &project,
            &environment.name,
            version,
            args.push,
            false,
            &progress,
        )
        .await
        .map_err(CommandError::Failed)
    })?;
    crate::ui::emit(settings.output, &Tagged { tag: name })?;
    Ok(())
}
