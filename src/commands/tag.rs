//! `pixelctl tag`: an annotated git tag `<env>-vX.Y.Z` on the commit of the live release.

use anyhow::anyhow;

use super::{Settings, runtime};
use crate::cli::{BumpArg, TagArgs};
use crate::config;
use crate::error::{CommandError, CommandResult};
use crate::release::tag::{TagVersion, tag_live};
use crate::release::{Bump, Version};

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
