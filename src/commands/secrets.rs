//! `pixelctl secrets set|list|rm`: the AI providers' API keys, where the
//! environment file says they live. A key's value is read from a hidden prompt
//! or stdin, sent to AWS, and never printed, logged or written anywhere else.

use std::fmt;
use std::io::{IsTerminal, Read};

use anyhow::anyhow;
use serde::Serialize;

use super::{Settings, runtime};
use crate::aws::SecretValue;
use crate::cli::{EnvArgs, SecretArgs, SecretRmArgs, SecretsCommand};
use crate::config::{self, Environment, KeyLocation, ProviderKind};
use crate::deploy::keys::{accept_key, action_word, refresh_note, store};
use crate::error::{CommandError, CommandResult};
use crate::provider_keys::Shown;
use crate::provider_keys::{self, KeyEntry};
use crate::ui;

pub fn run(settings: &Settings, command: &SecretsCommand) -> CommandResult {
    match command {
        SecretsCommand::Set(args) => set(settings, args),
        SecretsCommand::List(args) => list(settings, args),
        SecretsCommand::Rm(args) => rm(settings, args),
    }
}

fn load(settings: &Settings, env: &str) -> CommandResult<Environment> {
    let project = settings.project()?;
    config::load(&project.environments_dir(), env).map_err(CommandError::usage)
}

fn entry(environment: &Environment, provider: &str) -> CommandResult<KeyEntry> {
    provider_keys::parse_provider(provider)
        .and_then(|provider| provider_keys::entry_for(environment, provider))
        .map_err(CommandError::usage)
}

/// A key from stdin, for scripts and CI (`... | pixelctl secrets set prod openai`).
fn read_stdin() -> CommandResult<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|error| CommandError::usage(anyhow!("cannot read the key from stdin: {error}")))?;
    Ok(text)
}

/// Asks for the key on the terminal, or reads it from stdin when that is not one.
fn read_key(entry: &KeyEntry, environment: &Environment) -> CommandResult<SecretValue> {
    let text = if ui::can_prompt() {
        ui::secret(&format!(
            "{} API key for {} ({}), not shown as you type",
            entry.provider_names(),
            environment.name,
            Shown(&entry.location)
        ))
        .map_err(CommandError::Failed)?
        .unwrap_or_default()
    } else if std::io::stdin().is_terminal() {
        return Err(CommandError::usage(anyhow!(
            "there is no terminal to ask for the key on (stderr is redirected); pipe the key on stdin instead"
        )));
    } else {
        read_stdin()?
    };
    accept_key(&text).map_err(CommandError::usage)
}

#[derive(Debug, Serialize)]
struct SetReport {
    environment: String,
    providers: Vec<ProviderKind>,
    location: KeyLocation,
    action: &'static str,
    used_by: Vec<String>,
    note: String,
}

impl fmt::Display for SetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let providers: Vec<&str> = self.providers.iter().map(|p| p.as_str()).collect();
        writeln!(
            f,
            "{} the {} key of {} at {}",
            self.action,
            providers.join(" and "),
            self.environment,
            Shown(&self.location)
        )?;
        if self.used_by.is_empty() {
            writeln!(f, "used by   nothing in {} yet", self.environment)?;
        } else {
            writeln!(f, "used by   {}", self.used_by.join(", "))?;
        }
        writeln!(f, "note      {}", self.note)
    }
}

fn set(settings: &Settings, args: &SecretArgs) -> CommandResult {
    let environment = load(settings, &args.env)?;
    let entry = entry(&environment, &args.provider)?;
    let value = read_key(&entry, &environment)?;
    let write = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        store(&aws, &environment, &entry, &value).await
    })?;
    let mut used_by = entry.models.clone();
    if entry.enhance {
        used_by.push("/enhance".to_owned());
    }
    ui::emit(
        settings.output,
        &SetReport {
            environment: environment.name.clone(),
            providers: entry.providers.clone(),
            location: entry.location.clone(),
            action: action_word(write),
            used_by,
            note: refresh_note(),
        },
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
struct ListedKey {
    providers: Vec<ProviderKind>,
    location: KeyLocation,
    set: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_changed: Option<String>,
    used: bool,
    models: Vec<String>,
    enhance: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct KeyList {
    environment: String,
    region: String,
    keys: Vec<ListedKey>,
    /// Keys the environment uses that are not set.
    missing: usize,
}

impl fmt::Display for KeyList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 5]> = self
            .keys
            .iter()
            .map(|key| {
                let mut used_by = key.models.join(", ");
                if key.enhance {
                    if !used_by.is_empty() {
                        used_by.push_str(", ");
                    }
                    used_by.push_str("/enhance");
                }
                if !key.used {
                    used_by = format!("(not used in {})", self.environment);
                }
                [
                    key.providers
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                    if key.set {
                        "yes".to_owned()
                    } else if key.used {
                        "MISSING".to_owned()
                    } else {
                        "no".to_owned()
                    },
                    key.last_changed.clone().unwrap_or_else(|| "-".to_owned()),
                    Shown(&key.location).to_string(),
                    used_by,
                ]
            })
            .collect();
        let header = ["PROVIDER", "SET", "LAST CHANGED", "WHERE", "USED BY"];
        let widths: Vec<usize> = (0..4)
            .map(|column| {
                rows.iter()
                    .map(|row| row[column].len())
                    .chain([header[column].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| {
            writeln!(
                f,
                "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )
        };
        line(f, header)?;
        for row in &rows {
            line(f, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
        }
        for key in &self.keys {
            if let Some(note) = &key.note {
                writeln!(f, "note: {}: {note}", Shown(&key.location))?;
            }
        }
        if self.missing > 0 {
            writeln!(
                f,
                "{} key(s) missing: set each with `pixelctl secrets set {} <provider>`",
                self.missing, self.environment
            )?;
        }
        Ok(())
    }
}

fn list(settings: &Settings, args: &EnvArgs) -> CommandResult {
    let environment = load(settings, &args.env)?;
    let entries = provider_keys::entries(&environment);
    let (statuses, region) = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        let locations: Vec<KeyLocation> =
            entries.iter().map(|entry| entry.location.clone()).collect();
        let statuses = aws
            .key_statuses(&locations)
            .await
            .map_err(CommandError::Failed)?;
        Ok::<_, CommandError>((statuses, aws.region.clone()))
    })?;
    let keys: Vec<ListedKey> = entries
        .into_iter()
        .map(|entry| {
            let status = statuses
                .iter()
                .find(|status| status.location == entry.location);
            let used = entry.used();
            ListedKey {
                set: status.is_some_and(|status| status.set),
                last_changed: status.and_then(|status| status.last_changed).map(ui::when),
                note: status.and_then(|status| status.note.clone()),
                used,
                providers: entry.providers,
                location: entry.location,
                models: entry.models,
                enhance: entry.enhance,
            }
        })
        .collect();
    let missing = keys.iter().filter(|key| key.used && !key.set).count();
    ui::emit(
        settings.output,
        &KeyList {
            environment: environment.name.clone(),
            region,
            keys,
            missing,
        },
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
struct RmReport {
    environment: String,
    providers: Vec<ProviderKind>,
    location: KeyLocation,
    deleted: bool,
}

impl fmt::Display for RmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let providers: Vec<&str> = self.providers.iter().map(|p| p.as_str()).collect();
        if self.deleted {
            writeln!(
                f,
                "deleted the {} key of {} at {}",
                providers.join(" and "),
                self.environment,
                Shown(&self.location)
            )
        } else {
            writeln!(
                f,
                "no {} key at {}: nothing to delete",
                providers.join(" and "),
                Shown(&self.location)
            )
        }
    }
}

fn rm(settings: &Settings, args: &SecretRmArgs) -> CommandResult {
    let environment = load(settings, &args.env)?;
    let entry = entry(&environment, &args.provider)?;
    if !args.yes {
        if !ui::can_prompt() {
            return Err(CommandError::usage(anyhow!(
                "deleting a key needs a confirmation and there is no terminal to ask on; pass --yes"
            )));
        }
        let consequence = if entry.used() {
            format!(" {} will fail without it.", entry.consequences())
        } else {
            String::new()
        };
        let question = format!(
            "Delete the {} key of {} ({})?{consequence}",
            entry.provider_names(),
            environment.name,
            Shown(&entry.location)
        );
        if !ui::confirm(&question).map_err(CommandError::Failed)? {
            return Err(CommandError::Rejected("nothing deleted".to_owned()));
        }
    }
    let deleted = runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        aws.delete_key(&entry.location)
            .await
            .map_err(CommandError::Failed)
    })?;
    ui::emit(
        settings.output,
        &RmReport {
            environment: environment.name.clone(),
            providers: entry.providers,
            location: entry.location,
            deleted,
        },
    )?;
    Ok(())
}
