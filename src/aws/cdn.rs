//! CloudFront: the one question a deployer asks, whether a distribution is deployed.

use super::Aws;
use super::error::AwsError;

impl Aws {
    /// The distribution's status: `InProgress` or `Deployed`.
    pub async fn distribution_status(&self, id: &str) -> anyhow::Result<String> {
        let response = self
            .cloudfront
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot read CloudFront distribution `{id}`"),
                    &error,
                ))
            })?;
        Ok(response
            .distribution()
            .map(|distribution| distribution.status().to_owned())
            .unwrap_or_default())
    }
}
