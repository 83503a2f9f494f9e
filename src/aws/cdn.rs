//! CloudFront: the one question a deployer asks, whether a distribution is deployed.

use anyhow::anyhow;

use super::{Aws, describe_error};

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
                anyhow!(
                    "cannot read CloudFront distribution `{id}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(response
            .distribution()
            .map(|distribution| distribution.status().to_owned())
            .unwrap_or_default())
    }
}
