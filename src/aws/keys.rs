//! Provider API keys in SSM Parameter Store (SecureString) and Secrets
//! Manager: whether each one is set and since when, storing and deleting them.
//! A key's value goes to AWS and is never read back.

use std::fmt;
use std::time::{Duration, SystemTime};

use anyhow::anyhow;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_ssm::operation::delete_parameter::DeleteParameterError;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType};

use super::Aws;
use super::error::AwsError;
use crate::config::KeyLocation;

/// A key's value on its way to AWS. `Debug` and `Display` never show it.
pub struct SecretValue(String);

impl SecretValue {
    /// Trims surrounding whitespace (a pasted key's newline); `None` when nothing is left.
    pub fn new(text: &str) -> Option<Self> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(Self(trimmed.to_owned()))
        }
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(****)")
    }
}

/// What AWS says about one key location, without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub location: KeyLocation,
    pub set: bool,
    pub last_changed: Option<SystemTime>,
    /// Something worth saying about it (plain `String` type, scheduled deletion).
    pub note: Option<String>,
}

/// What storing a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWrite {
    Created,
    Updated,
    /// A deleted secret (in its recovery window) was restored with the new value.
    Restored,
}

/// A secret's state in Secrets Manager.
enum SecretState {
    Missing,
    /// Deleted, in its recovery window (since when).
    Deleted(Option<SystemTime>),
    /// Exists without a current value.
    NoValue,
    /// Holds a value, last changed then.
    Current(Option<SystemTime>),
}

/// `DescribeParameters` takes at most this many names in one filter.
const SSM_NAMES_PER_CALL: usize = 50;

/// Secrets Manager's shortest recovery window: a deleted key can be restored for a week.
const RECOVERY_WINDOW_DAYS: i64 = 7;

fn from_epoch_seconds(seconds: f64) -> Option<SystemTime> {
    (seconds >= 0.0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds))
}

fn smithy_time(time: &aws_sdk_ssm::primitives::DateTime) -> Option<SystemTime> {
    from_epoch_seconds(time.as_secs_f64())
}

impl Aws {
    /// Whether each location holds a key: one `DescribeParameters` call for the
    /// SSM names, one `DescribeSecret` per secret. No value is read.
    pub async fn key_statuses(&self, locations: &[KeyLocation]) -> anyhow::Result<Vec<KeyStatus>> {
        let names: Vec<&str> = locations
            .iter()
            .filter_map(|location| match location {
                KeyLocation::Ssm(name) => Some(name.as_str()),
                KeyLocation::SecretsManager(_) | KeyLocation::Env(_) => None,
            })
            .collect();
        let mut parameters = Vec::new();
        for chunk in names.chunks(SSM_NAMES_PER_CALL) {
            let filter = ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .set_values(Some(chunk.iter().map(|name| (*name).to_owned()).collect()))
                .build()
                .map_err(|error| anyhow!("cannot ask SSM about the keys: {error}"))?;
            let mut pages = self
                .ssm
                .describe_parameters()
                .parameter_filters(filter)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| {
                    anyhow::Error::from(AwsError::new(
                        "cannot read the provider keys' parameters from SSM",
                        &error,
                    ))
                })?;
                parameters.extend(page.parameters().iter().cloned());
            }
        }
        let mut statuses = Vec::with_capacity(locations.len());
        for location in locations {
            let status = match location {
                KeyLocation::Ssm(name) => {
                    let found = parameters
                        .iter()
                        .find(|parameter| parameter.name() == Some(name.as_str()));
                    KeyStatus {
                        location: location.clone(),
                        set: found.is_some(),
                        last_changed: found
                            .and_then(|parameter| parameter.last_modified_date())
                            .and_then(smithy_time),
                        note: found
                            .and_then(|parameter| parameter.r#type())
                            .filter(|kind| **kind != ParameterType::SecureString)
                            .map(|kind| {
                                format!(
                                    "stored as {}, not SecureString: `pixelctl secrets set` stores it encrypted",
                                    kind.as_str()
                                )
                            }),
                    }
                }
                KeyLocation::SecretsManager(id) => self.secret_status(location, id).await?,
                KeyLocation::Env(_) => KeyStatus {
                    location: location.clone(),
                    set: false,
                    last_changed: None,
                    note: Some(
                        "a variable of the API's own process (local mode only), not stored in AWS"
                            .to_owned(),
                    ),
                },
            };
            statuses.push(status);
        }
        Ok(statuses)
    }

    /// What Secrets Manager holds for `id`, without reading the value.
    async fn secret_state(&self, id: &str) -> anyhow::Result<SecretState> {
        let secret = match self.secrets.describe_secret().secret_id(id).send().await {
            Ok(secret) => secret,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(DescribeSecretError::is_resource_not_found_exception) =>
            {
                return Ok(SecretState::Missing);
            }
            Err(error) => {
                return Err(anyhow::Error::from(AwsError::new(
                    format!("cannot read secret `{id}` from Secrets Manager"),
                    &error,
                )));
            }
        };
        if let Some(deleted) = secret.deleted_date() {
            return Ok(SecretState::Deleted(smithy_time(deleted)));
        }
        let has_current = secret.version_ids_to_stages().is_none_or(|versions| {
            versions
                .values()
                .any(|stages| stages.iter().any(|stage| stage == "AWSCURRENT"))
        });
        if !has_current {
            return Ok(SecretState::NoValue);
        }
        Ok(SecretState::Current(
            secret
                .last_changed_date()
                .or(secret.created_date())
                .and_then(smithy_time),
        ))
    }

    async fn secret_status(&self, location: &KeyLocation, id: &str) -> anyhow::Result<KeyStatus> {
        let status =
            |set: bool, last_changed: Option<SystemTime>, note: Option<String>| KeyStatus {
                location: location.clone(),
                set,
                last_changed,
                note,
            };
        Ok(match self.secret_state(id).await? {
            SecretState::Missing => status(false, None, None),
            SecretState::Deleted(when) => status(
                false,
                None,
                Some(format!(
                    "deleted{}; `pixelctl secrets set` restores it with a new value",
                    when.map(|when| format!(" on {}", humantime::format_rfc3339_seconds(when)))
                        .unwrap_or_default()
                )),
            ),
            SecretState::NoValue => status(
                false,
                None,
                Some("the secret has no current value".to_owned()),
            ),
            SecretState::Current(changed) => status(true, changed, None),
        })
    }

    /// Stores `value` at `location`: an SSM SecureString (encrypted with the
    /// account's default key) or a Secrets Manager secret, created if missing.
    pub async fn put_key(
        &self,
        location: &KeyLocation,
        value: &SecretValue,
        description: &str,
    ) -> anyhow::Result<KeyWrite> {
        match location {
            KeyLocation::Ssm(name) => {
                let response = self
                    .ssm
                    .put_parameter()
                    .name(name)
                    .value(value.expose())
                    .r#type(ParameterType::SecureString)
                    .overwrite(true)
                    .description(description)
                    .send()
                    .await
                    .map_err(|error| {
                        anyhow::Error::from(AwsError::new(
                            format!("cannot store the key in SSM parameter `{name}`"),
                            &error,
                        ))
                    })?;
                Ok(if response.version() <= 1 {
                    KeyWrite::Created
                } else {
                    KeyWrite::Updated
                })
            }
            KeyLocation::SecretsManager(id) => {
                let state = self.secret_state(id).await?;
                let deleted = matches!(state, SecretState::Deleted(_));
                let exists = !matches!(state, SecretState::Missing);
                if !exists {
                    self.secrets
                        .create_secret()
                        .name(id)
                        .secret_string(value.expose())
                        .description(description)
                        .send()
                        .await
                        .map_err(|error| {
                            anyhow::Error::from(AwsError::new(
                                format!("cannot create secret `{id}` in Secrets Manager"),
                                &error,
                            ))
                        })?;
                    return Ok(KeyWrite::Created);
                }
                if deleted {
                    self.secrets
                        .restore_secret()
                        .secret_id(id)
                        .send()
                        .await
                        .map_err(|error| {
                            anyhow::Error::from(AwsError::new(
                                format!("cannot restore secret `{id}` in Secrets Manager"),
                                &error,
                            ))
                        })?;
                }
                self.secrets
                    .put_secret_value()
                    .secret_id(id)
                    .secret_string(value.expose())
                    .send()
                    .await
                    .map_err(|error| {
                        anyhow::Error::from(AwsError::new(
                            format!("cannot update secret `{id}` in Secrets Manager"),
                            &error,
                        ))
                    })?;
                Ok(if deleted {
                    KeyWrite::Restored
                } else {
                    KeyWrite::Updated
                })
            }
            KeyLocation::Env(name) => Err(anyhow!(
                "`env:{name}` names a variable of the API's own process (local mode only), not a key pixelctl stores in AWS"
            )),
        }
    }

    /// Deletes the key at `location`; `false` when there was none. A secret
    /// stays restorable for Secrets Manager's shortest recovery window.
    pub async fn delete_key(&self, location: &KeyLocation) -> anyhow::Result<bool> {
        match location {
            KeyLocation::Ssm(name) => match self.ssm.delete_parameter().name(name).send().await {
                Ok(_) => Ok(true),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(DeleteParameterError::is_parameter_not_found) =>
                {
                    Ok(false)
                }
                Err(error) => Err(anyhow::Error::from(AwsError::new(
                    format!("cannot delete SSM parameter `{name}`"),
                    &error,
                ))),
            },
            KeyLocation::Env(name) => Err(anyhow!(
                "`env:{name}` names a variable of the API's own process (local mode only), not a key pixelctl stores in AWS"
            )),
            KeyLocation::SecretsManager(id) => {
                if !matches!(
                    self.secret_state(id).await?,
                    SecretState::Current(_) | SecretState::NoValue
                ) {
                    return Ok(false);
                }
                self.secrets
                    .delete_secret()
                    .secret_id(id)
                    .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
                    .send()
                    .await
                    .map_err(|error| {
                        anyhow::Error::from(AwsError::new(
                            format!("cannot delete secret `{id}` in Secrets Manager"),
                            &error,
                        ))
                    })?;
                Ok(true)
            }
        }
    }
}
