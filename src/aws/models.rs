//! What the model check needs from AWS: Bedrock's lifecycle of a foundation model
//! (`GetFoundationModel` in the region that offers it) and the provider keys, read from
//! SSM or Secrets Manager where the environment says they live. Keys are never printed.

use std::time::SystemTime;

use anyhow::anyhow;

use super::Aws;
use super::error::{self, AwsError, ErrorKind};
use crate::config::KeyLocation;
use pixel_prompt_contract::ApiKey;

/// `modelLifecycle` of a Bedrock foundation model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockLifecycle {
    /// `ACTIVE` or `LEGACY`.
    pub status: String,
    /// `endOfLifeTime`, once Bedrock has announced one.
    pub end_of_life: Option<SystemTime>,
}

impl Aws {
    /// The lifecycle of `model` in `region`, or `None` when Bedrock finds no such model there.
    pub async fn foundation_model_lifecycle(
        &self,
        model: &str,
        region: &str,
    ) -> anyhow::Result<Option<BedrockLifecycle>> {
        let config = aws_sdk_bedrock::config::Builder::from(&self.sdk)
            .region(aws_sdk_bedrock::config::Region::new(region.to_owned()))
            .build();
        let client = aws_sdk_bedrock::Client::from_conf(config);
        match client
            .get_foundation_model()
            .model_identifier(model)
            .send()
            .await
        {
            Ok(answer) => {
                let lifecycle = answer
                    .model_details()
                    .and_then(|details| details.model_lifecycle());
                Ok(Some(BedrockLifecycle {
                    status: lifecycle.map_or_else(
                        || "ACTIVE".to_owned(),
                        |lifecycle| lifecycle.status().as_str().to_owned(),
                    ),
                    end_of_life: lifecycle
                        .and_then(|lifecycle| lifecycle.end_of_life_time())
                        .and_then(|time| SystemTime::try_from(*time).ok()),
                }))
            }
            Err(error) if error::kind(&error) == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(anyhow::Error::from(AwsError::new(
                format!("cannot read Bedrock's lifecycle of `{model}` in {region}"),
                &error,
            ))),
        }
    }

    /// A provider's API key, read from where the environment says it lives: an SSM
    /// SecureString (decrypted) or a Secrets Manager secret's `SecretString`, as the
    /// Lambda reads it. The key is never printed; errors name the location only.
    pub async fn provider_key(&self, location: &KeyLocation) -> anyhow::Result<ApiKey> {
        let reference = location.to_reference();
        let value = match location {
            KeyLocation::Ssm(name) => self
                .ssm
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|error| AwsError::new(format!("could not read `{reference}`"), &error))?
                .parameter()
                .and_then(|parameter| parameter.value())
                .map(str::to_owned),
            KeyLocation::SecretsManager(id) => self
                .secrets
                .get_secret_value()
                .secret_id(id)
                .send()
                .await
                .map_err(|error| AwsError::new(format!("could not read `{reference}`"), &error))?
                .secret_string()
                .map(str::to_owned),
            KeyLocation::Env(_) => {
                return Err(anyhow!(
                    "`{reference}` is a variable of the API's own process (local mode only), not a key in AWS"
                ));
            }
        };
        match value {
            Some(value) if !value.trim().is_empty() => Ok(ApiKey::new(value)),
            _ => Err(anyhow!("`{reference}` is empty")),
        }
    }
}
