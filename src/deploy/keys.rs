//! Step 0 of a deploy: the provider keys the environment's models need are
//! stored, before anything is built or planned; and storing a key, shared
//! with `pixelctl secrets set`. No key value is ever read back or shown.

use anyhow::anyhow;

use crate::aws::{Aws, KeyStatus, KeyWrite, SecretValue};
use crate::config::{Environment, KeyLocation};
use crate::error::CommandError;
use crate::progress::Progress;
use crate::provider_keys::{self, KeyEntry, Shown};

/// What running API instances do after a key changes, from the API's own cache setting.
pub fn refresh_note() -> String {
    format!(
        "running API instances use the new key within {} minutes, and at once when the provider refuses the old one",
        pixel_prompt_contract::KEY_TTL.as_secs() / 60
    )
}

/// Checks what was typed or piped: one line, no spaces; never echoes it.
pub fn accept_key(text: &str) -> Result<SecretValue, anyhow::Error> {
    if text.trim().contains(char::is_whitespace) {
        return Err(anyhow!(
            "the key contains spaces or several lines; an API key is one word. Nothing was stored"
        ));
    }
    SecretValue::new(text).ok_or_else(|| {
        anyhow!("no key given: type it at the prompt or pipe it on stdin. Nothing was stored")
    })
}

/// Stores one entry's key and says what it did; shared with `deploy`'s offer to set missing keys.
pub async fn store(
    aws: &Aws,
    environment: &Environment,
    entry: &KeyEntry,
    value: &SecretValue,
) -> Result<KeyWrite, CommandError> {
    let description = format!(
        "Pixel Prompt API key for {} ({}), stored by pixelctl",
        entry.provider_names(),
        environment.name
    );
    aws.put_key(&entry.location, value, &description)
        .await
        .map_err(CommandError::Failed)
}

/// How a write is told to the user: `stored`, `replaced`, `restored`.
pub fn action_word(write: KeyWrite) -> &'static str {
    match write {
        KeyWrite::Created => "stored",
        KeyWrite::Updated => "replaced",
        KeyWrite::Restored => "restored (with the new value)",
    }
}

/// What a deploy does when a provider key is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Stop when a key is missing (offering to set it on a terminal).
    Require,
    /// Warn and go on (`--allow-missing-keys`).
    AllowMissing,
}

/// Step 0 of a deploy: every key the environment's models need is stored,
/// before anything is built or planned. Reads no value.
pub async fn check_before_deploy(
    aws: &Aws,
    environment: &Environment,
    policy: KeyPolicy,
    interactive: bool,
    progress: &dyn Progress,
) -> Result<(), CommandError> {
    let needed = provider_keys::needed(environment);
    if needed.is_empty() {
        return Ok(());
    }
    let locations: Vec<KeyLocation> = needed.iter().map(|entry| entry.location.clone()).collect();
    let statuses: Vec<KeyStatus> = aws
        .key_statuses(&locations)
        .await
        .map_err(CommandError::Failed)?;
    let missing = provider_keys::missing(&needed, |location| {
        statuses
            .iter()
            .any(|status| status.location == *location && status.set)
    });
    if missing.is_empty() {
        progress.note(&format!(
            "provider keys: all {} stored ({})",
            needed.len(),
            needed
                .iter()
                .map(KeyEntry::provider_names)
                .collect::<Vec<_>>()
                .join("; ")
        ));
        return Ok(());
    }
    let describe = |entry: &KeyEntry| {
        format!(
            "{} ({}): {}",
            entry.provider_names(),
            Shown(&entry.location),
            entry.consequences()
        )
    };
    if policy == KeyPolicy::AllowMissing {
        for entry in &missing {
            progress.warn(&format!(
                "no {} key stored; these will fail: {}. Set it with `{}`",
                entry.provider_names(),
                entry.consequences(),
                provider_keys::set_command(&environment.name, entry)
            ));
        }
        return Ok(());
    }
    let commands: Vec<String> = missing
        .iter()
        .map(|entry| provider_keys::set_command(&environment.name, entry))
        .collect();
    let list = missing
        .iter()
        .flat_map(|entry| ["\n  ".to_owned(), describe(entry)])
        .collect::<String>();
    if !interactive {
        return Err(CommandError::usage(anyhow!(
            "{} provider key(s) that {} needs are not stored; nothing was built or changed:{list}\n\
             set them with:\n  {}\n\
             or deploy anyway with --allow-missing-keys (those models will fail)",
            missing.len(),
            environment.name,
            commands.join("\n  ")
        )));
    }
    progress.warn(&format!(
        "{} provider key(s) that {} needs are not stored:{list}",
        missing.len(),
        environment.name
    ));
    if !crate::ui::confirm("Set them now?").map_err(CommandError::Failed)? {
        return Err(CommandError::Rejected(format!(
            "nothing was built or changed; set the keys with:\n  {}\nor deploy with --allow-missing-keys",
            commands.join("\n  ")
        )));
    }
    for entry in &missing {
        let text = crate::ui::secret(&format!(
            "{} API key for {} ({}), not shown as you type",
            entry.provider_names(),
            environment.name,
            Shown(&entry.location)
        ))
        .map_err(CommandError::Failed)?
        .unwrap_or_default();
        let value = accept_key(&text).map_err(CommandError::usage)?;
        let write = store(aws, environment, entry, &value).await?;
        progress.note(&format!(
            "{} the {} key at {}",
            action_word(write),
            entry.provider_names(),
            Shown(&entry.location)
        ));
    }
    Ok(())
}
