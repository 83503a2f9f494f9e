//! `pixelctl history`: an environment's releases, newest first.

use std::fmt;

use serde::Serialize;

use super::{Settings, runtime};
use crate::cli::EnvArgs;
use crate::config;
use crate::error::{CommandError, CommandResult};
use crate::release::{self, ReleaseRecord, ledger};
use crate::ui;

#[derive(Debug, Serialize)]
struct Entry {
    live: bool,
    #[serde(flatten)]
    record: ReleaseRecord,
}

#[derive(Debug, Serialize)]
struct History {
    environment: String,
    releases: Vec<Entry>,
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.releases.is_empty() {
            return writeln!(f, "no releases of {} yet", self.environment);
        }
        writeln!(
            f,
            "     #  TIME                  KIND      RESULT                    ARTIFACT      PAGE      COMMIT        FROM"
        )?;
        for entry in &self.releases {
            let record = &entry.record;
            let kind = record.kind.to_string();
            let commit = record.git.as_ref().map_or_else(
                || "-".to_owned(),
                |git| {
                    format!(
                        "{}{}",
                        &git.commit[..git.commit.len().min(10)],
                        if git.dirty { "+" } else { "" }
                    )
                },
            );
            let from = record
                .source
                .as_ref()
                .map(|source| format!("{} #{}", source.environment, source.sequence))
                .unwrap_or_default();
            let tags = if record.git_tags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", record.git_tags.join(", "))
            };
            // The web app this release published; blank: it left the page as it was.
            let page = record
                .frontend
                .as_ref()
                .map(|page| &page.site_id[..page.site_id.len().min(8)])
                .unwrap_or_default();
            writeln!(
                f,
                "{} {:>4}  {:<20}  {:<8}  {:<24}  {:<12}  {:<8}  {:<12}  {from}{tags}",
                if entry.live { "*" } else { " " },
                record.sequence,
                record.time,
                kind,
                record.stack_status,
                &record.artifact.sha256[..record.artifact.sha256.len().min(12)],
                page,
                commit,
            )?;
        }
        writeln!(f, "* live now")
    }
}

pub fn run(settings: &Settings, args: &EnvArgs) -> CommandResult {
    let project = settings.project()?;
    let environment =
        config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    let records = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        let bucket = ledger::bucket(&aws).await?;
        ledger::list(&aws, &bucket, &environment.name)
            .await
            .map_err(CommandError::Failed)
    })?;
    let live = release::live(&records).map(|record| record.sequence);
    let mut releases: Vec<Entry> = records
        .into_iter()
        .map(|record| Entry {
            live: Some(record.sequence) == live,
            record,
        })
        .collect();
    releases.reverse();
    ui::emit(
        settings.output,
        &History {
            environment: environment.name,
            releases,
        },
    )?;
    Ok(())
}
