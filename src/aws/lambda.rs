//! Lambda: how much concurrency the account has and a function reserves (asked
//! before a deploy changes anything), and a function's running code (read by
//! `status`, replaced by `deploy --hotswap` and healed by the next full deploy).

use std::time::{Duration, Instant};

use anyhow::anyhow;
use aws_sdk_lambda::types::LastUpdateStatus;

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

    /// The base64 `CodeSha256` of the code `function` runs; `None` when there is no such function.
    pub async fn function_code_sha256(&self, function: &str) -> anyhow::Result<Option<String>> {
        match self
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
        {
            Ok(answer) => Ok(answer.code_sha256().map(str::to_owned)),
            Err(error) if error::kind(&error) == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(AwsError::new(
                format!("cannot read the code of `{function}` (GetFunctionConfiguration)"),
                &error,
            )
            .into()),
        }
    }

    /// Points `function` at the zip `s3://bucket/key` (`UpdateFunctionCode`) and waits
    /// until Lambda reports the update `Successful`; returns the new `CodeSha256`.
    pub async fn update_function_code(
        &self,
        function: &str,
        bucket: &str,
        key: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let answer = self
            .lambda
            .update_function_code()
            .function_name(function)
            .s3_bucket(bucket)
            .s3_key(key)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot update the code of `{function}` (UpdateFunctionCode)"),
                    &error,
                ))
            })?;
        let mut status = answer.last_update_status().cloned();
        let mut reason = answer.last_update_status_reason().map(str::to_owned);
        let mut sha = answer.code_sha256().unwrap_or_default().to_owned();
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match status {
                Some(LastUpdateStatus::Successful) => return Ok(sha),
                Some(LastUpdateStatus::Failed) => {
                    return Err(anyhow!(
                        "Lambda could not apply the new code to `{function}`: {}",
                        reason.as_deref().unwrap_or("no reason given")
                    ));
                }
                _ if started.elapsed() >= timeout => {
                    return Err(anyhow!(
                        "`{function}` was still updating after {}s; it keeps running its previous code until the update finishes \
                         (aws lambda get-function-configuration --function-name {function})",
                        timeout.as_secs()
                    ));
                }
                _ => {}
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
            let config = self
                .lambda
                .get_function_configuration()
                .function_name(function)
                .send()
                .await
                .map_err(|error| {
                    anyhow::Error::from(AwsError::new(
                        format!(
                            "cannot read the update of `{function}` (GetFunctionConfiguration)"
                        ),
                        &error,
                    ))
                })?;
            status = config.last_update_status().cloned();
            reason = config.last_update_status_reason().map(str::to_owned);
            config
                .code_sha256()
                .unwrap_or_default()
                .clone_into(&mut sha);
        }
    }
}
