//! The only place that talks to AWS: typed wrappers over the SDK clients,
//! returning pixelctl's own data types, with retries and readable errors.

mod artifacts;
mod cdn;
mod error;
mod keys;
mod lambda;
mod logs;
mod models;
mod monitoring;
mod site;
mod stack;

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

pub use artifacts::{
    BucketCheck, BucketSetup, StoredHash, Written, artifact_bucket_name, tampered,
};
pub use error::AwsError;
pub use keys::{KeyStatus, KeyWrite, SecretValue};
pub use logs::LogEvent;
pub use models::BedrockLifecycle;
pub use monitoring::AlarmState;
pub use site::Upload;
pub use stack::{
    CHANGE_SET_TIMEOUT, ChangeSetRequest, ChangeSetStatus, ChangeSetSummary, ReviewedChangeSet,
    StackDescription, StackEvent, StackResource,
};

/// How to reach AWS: merged from flags, the environment and the environment file.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub region: String,
    /// A custom endpoint (the local AWS); when set, nothing else is contacted.
    pub endpoint_url: Option<String>,
}

/// Connected clients for one region.
#[derive(Debug, Clone)]
pub struct Aws {
    pub region: String,
    pub endpoint_url: Option<String>,
    cloudformation: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    cloudfront: aws_sdk_cloudfront::Client,
    sts: aws_sdk_sts::Client,
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    lambda: aws_sdk_lambda::Client,
    /// The caller's (account, ARN), asked of STS once per connection.
    identity: Arc<OnceCell<(String, String)>>,
    /// The configuration the clients were made from, for clients made later (Bedrock in
    /// a model's own region, SSM and Secrets Manager for provider keys).
    sdk: aws_config::SdkConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no AWS credentials found{profile}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws sso login`, or pass --profile (against the local AWS any dummy values work)"
    )]
    NoCredentials { profile: String },
    #[error(
        "AWS_ENDPOINT_URL is set but empty: unset it to use AWS (`unset AWS_ENDPOINT_URL`), or give the endpoint's URL"
    )]
    EmptyEndpoint,
}

/// Formats an SDK error for a person: the service's code and message when
/// AWS answered, the whole cause chain when it did not (plain `{}` would say
/// only "service error" or "dispatch failure").
pub fn describe_error<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = error {
        let inner = service.err();
        match (inner.code(), inner.message()) {
            (Some(code), Some(message)) => return format!("{code}: {message}"),
            (Some(code), None) => return code.to_owned(),
            _ => {}
        }
    }
    aws_sdk_cloudformation::error::DisplayErrorContext(error).to_string()
}

/// Builds the SDK configuration and checks that credentials resolve, so a
/// missing credential is one line up front, not a provider-chain dump later.
pub async fn connect(settings: &AwsSettings) -> Result<Aws, ConnectError> {
    // The SDK reads AWS_ENDPOINT_URL itself, and an empty one makes it panic.
    if settings.endpoint_url.is_none()
        && std::env::var_os("AWS_ENDPOINT_URL").is_some_and(|value| value.is_empty())
    {
        return Err(ConnectError::EmptyEndpoint);
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(settings.region.clone()))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(6)
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_mins(1))
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    let no_credentials = || ConnectError::NoCredentials {
        profile: settings
            .profile
            .as_ref()
            .map(|profile| format!(" for profile `{profile}`"))
            .unwrap_or_default(),
    };
    let provider = config.credentials_provider().ok_or_else(no_credentials)?;
    provider
        .provide_credentials()
        .await
        .map_err(|_| no_credentials())?;

    Ok(Aws::from_config(
        config,
        settings.region.clone(),
        settings.endpoint_url.clone(),
    ))
}

impl Aws {
    /// Every client from one SDK configuration; S3 addresses buckets by path when
    /// an endpoint other than AWS's is given (the local AWS).
    fn from_config(
        config: aws_config::SdkConfig,
        region: String,
        endpoint_url: Option<String>,
    ) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(endpoint_url.is_some())
            .build();
        Self {
            region,
            endpoint_url,
            cloudformation: aws_sdk_cloudformation::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            cloudfront: aws_sdk_cloudfront::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            identity: Arc::default(),
            sdk: config,
        }
    }

    /// Clients for a local AWS at `endpoint` with dummy credentials (tests).
    #[cfg(test)]
    pub fn for_tests(endpoint: &str) -> Self {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-west-2"))
            .endpoint_url(endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "tests",
                    ),
                ),
            )
            .build();
        Self::from_config(config, "us-west-2".to_owned(), Some(endpoint.to_owned()))
    }

    /// Clients whose every HTTP exchange goes to `http_client` (recorded AWS answers,
    /// for states the local AWS cannot show), in us-west-2 with dummy credentials.
    #[cfg(test)]
    pub fn for_replay(
        http_client: impl aws_sdk_cloudformation::config::HttpClient + 'static,
    ) -> Self {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-west-2"))
            .http_client(http_client)
            .retry_config(RetryConfig::disabled())
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "tests",
                    ),
                ),
            )
            .build();
        Self::from_config(config, "us-west-2".to_owned(), None)
    }

    /// The account the credentials belong to, and who they are. Asked once:
    /// storing an artifact and recording its release both need it.
    pub async fn caller_identity(&self) -> anyhow::Result<(String, String)> {
        let identity = self
            .identity
            .get_or_try_init(|| async {
                let identity = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|error| {
                        anyhow::Error::from(AwsError::new(
                            "cannot tell which AWS account to use",
                            &error,
                        ))
                    })?;
                Ok::<_, anyhow::Error>((
                    identity.account().unwrap_or_default().to_owned(),
                    identity.arn().unwrap_or_default().to_owned(),
                ))
            })
            .await?;
        Ok(identity.clone())
    }
}
