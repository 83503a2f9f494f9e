//! Tagging a release: an annotated git tag `<env>-vX.Y.Z` on the commit of an
//! environment's live release, recorded in its ledger (`pixelctl tag`, `deploy --tag`).

use anyhow::{Context, anyhow, bail};

use super::{Bump, Version, ledger};
use crate::aws::Aws;
use crate::progress::Progress;
use crate::project::Project;

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
    let live = super::live(&records)
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
        TagVersion::Bump(bump) => super::next_tag(
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
