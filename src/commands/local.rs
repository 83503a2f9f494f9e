//! `pixelctl local`: the API's own router on 127.0.0.1, configured from an
//! environment file exactly as the stack configures the Lambda.

use anyhow::anyhow;
use pixel_prompt_api::config as api;
use pixel_prompt_api::local::{LocalOptions, LocalStorage};

use super::{Settings, runtime};
use crate::cli::LocalArgs;
use crate::error::{CommandError, CommandResult};
use crate::template::{ArtifactLocation, Parameters};

/// The options the Lambda would get from its environment variables, read
/// from the same rendered parameters the stack passes it.
fn options(settings: &Settings, args: &LocalArgs) -> CommandResult<LocalOptions> {
    let project = settings.project()?;
    let environment =
        crate::config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    let parameters =
        Parameters::for_environment(&environment, &ArtifactLocation::placeholder()).values;
    let value = |key: &str| parameters.get(key).map(String::as_str).unwrap_or_default();
    let invalid = |error: api::ConfigError| {
        CommandError::Failed(anyhow!(
            "the environment does not configure the API: {error}"
        ))
    };

    let storage = match (&args.s3_endpoint, &args.bucket) {
        (Some(endpoint_url), Some(bucket)) => LocalStorage::S3 {
            endpoint_url: endpoint_url.clone(),
            bucket: bucket.clone(),
            region: environment.region.clone(),
        },
        _ => LocalStorage::Folder(
            args.data_dir
                .clone()
                .unwrap_or_else(|| project.build_dir().join("local")),
        ),
    };
    let stage = args
        .env
        .parse::<api::Environment>()
        .unwrap_or(api::Environment::Dev);
    let mut options = LocalOptions::new(stage, storage);
    options.port = args.port;
    options.fake_providers = args.fake_providers;
    options.models = api::parse_models(value("ModelsJson")).map_err(invalid)?;
    options.enhance_model = Some(api::parse_enhance(value("EnhanceModelJson")).map_err(invalid)?);
    options.provider_keys = api::parse_provider_keys(value("ProviderKeysJson")).map_err(invalid)?;
    options.allowed_origins = api::parse_origins(value("AllowedOrigins"));
    options.rate_limits = api::RateLimits {
        global_per_hour: environment.rate_limits.global_per_hour,
        ip_per_day: environment.rate_limits.per_ip_per_day,
        ip_allowlist: api::parse_allowlist(value("IpAllowList")).map_err(invalid)?,
        ..api::RateLimits::default()
    };
    let overrides = args
        .provider_base_url
        .iter()
        .map(|pair| {
            let (provider, url) = pair.split_once('=').ok_or_else(|| {
                CommandError::usage(anyhow!(
                    "`{pair}` is not PROVIDER=URL, e.g. openai=http://127.0.0.1:9000"
                ))
            })?;
            Ok(format!(
                "\"{provider}\":{}",
                serde_json::Value::String(url.to_owned())
            ))
        })
        .collect::<CommandResult<Vec<String>>>()?;
    if !overrides.is_empty() {
        options.provider_base_urls = api::parse_base_urls(&format!("{{{}}}", overrides.join(",")))
            .map_err(|error| CommandError::usage(anyhow!("--provider-base-url: {error}")))?;
    }
    Ok(options)
}

pub fn run(settings: &Settings, args: &LocalArgs) -> CommandResult {
    let options = options(settings, args)?;
    pixel_prompt_api::telemetry::init_json_logs();
    runtime()?.block_on(async {
        pixel_prompt_api::local::serve(options)
            .await
            .map_err(|error| CommandError::Failed(error.into()))
    })
}
