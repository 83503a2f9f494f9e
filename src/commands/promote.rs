//! `pixelctl promote`: what one environment runs, deployed to another with its
//! own parameters: the same artifact bytes and template body.

use std::path::Path;

use anyhow::anyhow;

use super::deploy::emit_report;
use super::{Settings, runtime};
use crate::cli::PromoteArgs;
use crate::config;
use crate::deploy::keys::{KeyPolicy, check_before_deploy};
use crate::deploy::require_answerable;
use crate::deploy::{ArtifactSource, Deployment, ReleaseIntent, WebApp};
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::release::{self, ArtifactRef, ReleaseKind, ReleaseSource, ledger};
use crate::template::{ArtifactLocation, Parameters, Template};

pub fn run(settings: &Settings, args: &PromoteArgs) -> CommandResult {
    if args.from == args.to {
        return Err(CommandError::usage(anyhow!(
            "promote needs two different environments"
        )));
    }
    let project = settings.project()?;
    let from =
        config::load(&project.environments_dir(), &args.from).map_err(CommandError::usage)?;
    let to = config::load(&project.environments_dir(), &args.to).map_err(CommandError::usage)?;
    let options = args.apply.options();
    require_answerable(&to, &options)?;
    let progress = settings.progress();

    let result = runtime()?.block_on(async {
        let source_aws = settings.connect(&from).await?;
        let source_bucket = ledger::bucket(&source_aws).await?;
        let records = ledger::list(&source_aws, &source_bucket, &from.name).await?;
        let live = release::live(&records)
            .ok_or_else(|| {
                CommandError::Failed(anyhow!(
                    "`{}` has no successful release to promote",
                    from.name
                ))
            })?
            .clone();
        progress.step(&format!(
            "Promoting {} release #{} (artifact {}) to {}",
            from.name,
            live.sequence,
            &live.artifact.sha256[..12.min(live.artifact.sha256.len())],
            to.name
        ));
        let body = ledger::load_template(&source_aws, &live.template).await?;
        let template =
            Template::parse(Path::new(&live.template.key), body).map_err(CommandError::usage)?;

        let aws = settings.connect(&to).await?;
        let keys = if args.allow_missing_keys {
            KeyPolicy::AllowMissing
        } else {
            KeyPolicy::Require
        };
        check_before_deploy(&aws, &to, keys, options.interactive, &progress).await?;
        let bucket = ledger::bucket(&aws).await?;
        // Another region has its own store: carry the same bytes over.
        let artifact = if bucket == live.artifact.bucket {
            live.artifact.clone()
        } else {
            let object = source_aws
                .get_object(&live.artifact.bucket, &live.artifact.key)
                .await?
                .ok_or_else(|| {
                    anyhow!(
                        "the artifact s3://{}/{} is gone",
                        live.artifact.bucket,
                        live.artifact.key
                    )
                })?;
            aws.ensure_artifact_bucket(&bucket).await?;
            aws.put_artifact(&bucket, &live.artifact.key, object.bytes)
                .await?;
            ArtifactRef {
                bucket: bucket.clone(),
                ..live.artifact.clone()
            }
        };
        let parameters = Parameters::for_environment(
            &to,
            &ArtifactLocation {
                bucket: artifact.bucket.clone(),
                key: artifact.key.clone(),
            },
        );
        let problems = template.parameter_problems(&parameters, &to.name);
        if !problems.is_empty() {
            return Err(CommandError::Failed(anyhow!(
                "{} runs a template whose parameters no longer match `{}`'s configuration:\n{}",
                from.name,
                to.name,
                problems
                    .iter()
                    .map(|problem| format!("  {problem}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        Box::pin(
            Deployment {
                aws: &aws,
                project: &project,
                environment: to.clone(),
                template,
                parameters: Some(parameters),
                artifact: ArtifactSource::Stored(artifact),
                release: ReleaseIntent {
                    kind: ReleaseKind::Promote,
                    source: Some(ReleaseSource {
                        environment: from.name.clone(),
                        sequence: live.sequence,
                    }),
                },
                // The page is built with an environment's own outputs: publish it
                // in the target with `pixelctl publish` (see docs/OPERATIONS.md).
                web_app: WebApp::Keep,
                options,
                progress: &progress,
                prompter: &crate::ui::TerminalPrompter,
            }
            .run(),
        )
        .await
    });
    emit_report(settings, result)
}
