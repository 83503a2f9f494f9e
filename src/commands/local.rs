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
    // The environment loaded above (any name its file or base file allows), not dev.
    let stage = environment
        .name
        .parse::<api::Environment>()
        .map_err(|message| CommandError::usage(anyhow!(message)))?;
    let mut options = LocalOptions::new(stage, storage);
    options.port = args.port;
    options.fake_providers = args.fake_providers;
    options.models = api::parse_models(value("ModelsJson")).map_err(invalid)?;
    options.enhance_model = Some(api::parse_enhance(value("EnhanceModelJson")).map_err(invalid)?);
    options.provider_keys = api::parse_provider_keys(value("ProviderKeysJson")).map_err(invalid)?;
    options.allowed_origins = local_origins(
        args.fake_providers,
        &environment.api.cors_origins,
        &args.allow_origin,
    )
    .map_err(|message| CommandError::usage(anyhow!(message)))?;
    options.rate_limits = api::RateLimits {
        global_per_hour: environment.rate_limits.global_per_hour,
        ip_per_day: environment.rate_limits.per_ip_per_day,
        ip_allowlist: api::parse_allowlist(value("IpAllowList")).map_err(invalid)?,
        enhance_global_per_hour: environment.rate_limits.enhance_global_per_hour,
        enhance_ip_per_day: environment.rate_limits.enhance_per_ip_per_day,
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

/// The origins local mode answers CORS for: with fake providers every origin (`*`,
/// the old API's answer: nothing to spend); otherwise any loopback origin, the
/// environment's own and `--allow-origin`'s, never `*`: any web page the developer
/// opens could then spend the real keys through localhost.
pub fn local_origins(
    fake_providers: bool,
    environment: &[String],
    extra: &[String],
) -> Result<Vec<String>, String> {
    for origin in extra {
        let plain = origin.trim_end_matches('/');
        let scheme_host = plain
            .strip_prefix("http://")
            .or_else(|| plain.strip_prefix("https://"));
        let valid = origin == "*"
            || scheme_host.is_some_and(|host| !host.is_empty() && !host.contains(['/', ' ', '*']));
        if !valid {
            return Err(format!(
                "--allow-origin `{origin}` is not an origin: write scheme and host (and port), such as `http://192.168.1.20:3000`"
            ));
        }
        if origin == "*" && !fake_providers {
            return Err("--allow-origin `*` would let any web page you open call this API and spend your provider keys through localhost; it is allowed only with --fake-providers (which answers `*` by itself)".to_owned());
        }
    }
    if fake_providers {
        return Ok(vec!["*".to_owned()]);
    }
    let mut origins = pixel_prompt_api::local::loopback_origins();
    for origin in environment.iter().chain(extra) {
        let origin = origin.trim_end_matches('/').to_owned();
        if origin != "*" && !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
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

#[cfg(test)]
mod tests {
    use super::local_origins;

    #[test]
    fn origins_local_mode_allows() {
        let env = vec![
            "http://localhost:5173".to_owned(),
            "https://app.example".to_owned(),
        ];
        let loopback = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // (fake providers, --allow-origin, expected)
        type Case<'a> = (bool, Vec<&'a str>, Result<Vec<String>, &'a str>);
        let cases: Vec<Case<'_>> = vec![
            (true, vec![], Ok(owned(&["*"]))),
            (true, vec!["*"], Ok(owned(&["*"]))),
            (
                false,
                vec![],
                Ok(owned(&[
                    loopback[0],
                    loopback[1],
                    loopback[2],
                    "http://localhost:5173",
                    "https://app.example",
                ])),
            ),
            (
                false,
                vec!["http://192.168.1.20:3000/"],
                Ok(owned(&[
                    loopback[0],
                    loopback[1],
                    loopback[2],
                    "http://localhost:5173",
                    "https://app.example",
                    "http://192.168.1.20:3000",
                ])),
            ),
            (false, vec!["*"], Err("allowed only with --fake-providers")),
            (false, vec!["192.168.1.20:3000"], Err("is not an origin")),
            (true, vec!["http://x/path"], Err("is not an origin")),
        ];
        for (fake, extra, expected) in cases {
            let extra = owned(&extra);
            let got = local_origins(fake, &env, &extra);
            match expected {
                Ok(list) => assert_eq!(got, Ok(list), "{fake} {extra:?}"),
                Err(needle) => {
                    let message = got.expect_err("refused");
                    assert!(message.contains(needle), "{message}");
                }
            }
        }
    }
}
