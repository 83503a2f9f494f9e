//! `pixelctl local`: the API's own router on 127.0.0.1, configured from an
//! environment file exactly as the stack configures the Lambda.

use std::collections::BTreeMap;

use anyhow::anyhow;
use pixel_prompt_api::local::{LocalOptions, LocalStorage};
use pixel_prompt_contract::variables::base_url;
use pixel_prompt_contract::{EnvironmentName, ProviderKind};

use super::{Settings, runtime};
use crate::cli::LocalArgs;
use crate::error::{CommandError, CommandResult};
use crate::template::worker_provider_keys;

/// The options the Lambda would get from its environment variables: the same
/// typed values the stack's parameters are written from.
fn options(settings: &Settings, args: &LocalArgs) -> CommandResult<LocalOptions> {
    let project = settings.project()?;
    let environment =
        crate::config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;

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
        .parse::<EnvironmentName>()
        .map_err(|message| CommandError::usage(anyhow!(message)))?;
    let mut options = LocalOptions::new(stage, storage, environment.models.clone());
    options.port = args.port;
    options.fake_providers = args.fake_providers;
    options.enhance_model = Some(environment.enhance.clone());
    options.provider_keys = worker_provider_keys(&environment);
    options.allowed_origins = local_origins(
        args.fake_providers,
        &environment.api.cors_origins,
        &args.allow_origin,
    )
    .map_err(|message| CommandError::usage(anyhow!(message)))?;
    options.rate_limits = environment.rate_limits.clone();
    options.provider_base_urls = provider_base_urls(&args.provider_base_url)
        .map_err(|message| CommandError::usage(anyhow!("--provider-base-url: {message}")))?;
    Ok(options)
}

/// `--provider-base-url PROVIDER=URL`, each checked as the API checks `PROVIDER_BASE_URLS`.
fn provider_base_urls(pairs: &[String]) -> Result<BTreeMap<ProviderKind, String>, String> {
    pairs
        .iter()
        .map(|pair| {
            let (provider, url) = pair.split_once('=').ok_or_else(|| {
                format!("`{pair}` is not PROVIDER=URL, e.g. openai=http://127.0.0.1:9000")
            })?;
            let provider = provider.parse::<ProviderKind>()?;
            Ok((provider, base_url(provider, url)?))
        })
        .collect()
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
    use super::{local_origins, provider_base_urls};
    use pixel_prompt_contract::ProviderKind;

    #[test]
    fn provider_base_url_flags() {
        // (flags, expected)
        type Case<'a> = (&'a [&'a str], Result<Vec<(ProviderKind, &'a str)>, &'a str>);
        let cases: [Case<'_>; 5] = [
            (&[], Ok(vec![])),
            (
                &["openai=http://127.0.0.1:9000/", "bfl=https://b"],
                Ok(vec![
                    (ProviderKind::Openai, "http://127.0.0.1:9000"),
                    (ProviderKind::Bfl, "https://b"),
                ]),
            ),
            (
                &["openai"],
                Err("`openai` is not PROVIDER=URL, e.g. openai=http://127.0.0.1:9000"),
            ),
            (
                &["midjourney=http://x"],
                Err(
                    "unknown provider `midjourney`, expected one of `openai`, `gemini`, `imagen`, `bfl`, `recraft`, `stability`, `bedrock`",
                ),
            ),
            (
                &["openai=ftp://x"],
                Err("`openai`: `ftp://x` is not an http(s) URL"),
            ),
        ];
        for (flags, expected) in cases {
            let flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
            let expected = expected
                .map(|pairs| {
                    pairs
                        .into_iter()
                        .map(|(provider, url)| (provider, url.to_owned()))
                        .collect()
                })
                .map_err(str::to_owned);
            assert_eq!(provider_base_urls(&flags), expected, "{flags:?}");
        }
    }

    #[test]
    fn origins_local_mode_allows() {
        // (fake providers, --allow-origin, expected)
        type Case<'a> = (bool, Vec<&'a str>, Result<Vec<String>, &'a str>);
        let env = vec![
            "http://localhost:5173".to_owned(),
            "https://app.example".to_owned(),
        ];
        let loopback = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
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
