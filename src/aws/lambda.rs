//! Lambda, for the one question a deploy asks before changing anything: how much
//! concurrency the account has, and how much the function reserves now.

use anyhow::anyhow;

use super::Aws;
use super::error::{self, AwsError, ErrorKind};
use crate::concurrency::AccountConcurrency;

impl Aws {
    /// `GetAccountSettings`' limits for this region.
    pub async fn account_concurrency(&self) -> anyhow::Result<AccountConcurrency> {
        let settings = self
            .lambda
            .get_account_settings()
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    "cannot read the account's Lambda limits (GetAccountSettings)",
                    &error,
                ))
            })?;
        let limit = settings
            .account_limit()
            .ok_or_else(|| anyhow!("GetAccountSettings answered no AccountLimit"))?;
        let positive = |value: i32| u32::try_from(value).unwrap_or(0);
        Ok(AccountConcurrency {
            limit: positive(limit.concurrent_executions()),
            unreserved: positive(limit.unreserved_concurrent_executions().unwrap_or(0)),
        })
    }

    /// The reserved concurrency of `function` (0 when it reserves none or does not exist).
    pub async fn function_reservation(&self, function: &str) -> anyhow::Result<u32> {
        match self
            .lambda
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
        {
            Ok(answer) => Ok(answer
                .reserved_concurrent_executions()
                .and_then(|value| u32::try_from(value).ok())
                .unwrap_or(0)),
            Err(error) if error::kind(&error) == ErrorKind::NotFound => Ok(0),
            Err(error) => Err(anyhow::Error::from(AwsError::new(
                format!("cannot read the reserved concurrency of `{function}`"),
                &error,
            ))),
        }
    }
}
