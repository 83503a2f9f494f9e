//! `pixelctl watch <env>`: rebuilds the Lambda and hotswaps it on every save under
//! `lambda/` (and the workspace's Cargo files), printing each cycle's build and swap
//! times; a failed build leaves the live code alone and says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::anyhow;

use super::{Settings, runtime};
use crate::cli::WatchArgs;
use crate::deploy::require_answerable;
use crate::deploy::{ArtifactSource, DeployOptions, Deployment, ReleaseIntent, WebApp, artifact};
use crate::error::{CommandError, CommandResult};
use crate::progress::Progress;
use crate::release::ReleaseKind;

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(300);

/// Every file under the watched paths with its modification time and size: a
/// different value means a save. Pure over what it reads.
fn fingerprint(root: &Path) -> BTreeMap<PathBuf, (SystemTime, u64)> {
    let mut files = BTreeMap::new();
    let mut pending: Vec<PathBuf> = vec![
        root.join("lambda"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
    ];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(Result::ok).map(|entry| entry.path()));
            }
        } else {
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.insert(path, (modified, meta.len()));
        }
    }
    files
}

pub fn run(settings: &Settings, args: &WatchArgs) -> CommandResult {
    let project = settings.project()?;
    let rendered = crate::template::render(
        &project,
        &args.env,
        &crate::template::ArtifactLocation::placeholder(),
    )?;
    let environment = rendered.environment.clone();
    if !environment.hotswap {
        return Err(CommandError::usage(anyhow!(
            "environment `{}` does not allow hotswaps (`hotswap: false`), which `watch` makes on every save; \
             deploy it with `pixelctl deploy {}`",
            environment.name,
            environment.name
        )));
    }
    let options = DeployOptions {
        yes: true,
        no_execute: false,
        diff_only: false,
        wait_cdn: false,
        cdn_timeout: Duration::ZERO,
        require_healthy: false,
        health_url: None,
        health_timeout: Duration::from_secs(args.health_timeout),
        write_env_file: false,
        invalidation_timeout: Duration::ZERO,
        interactive: false,
        hotswap: true,
        deploy_mode: None,
        allow_replace: Vec::new(),
    };
    require_answerable(&environment, &options)?;
    let progress = settings.progress();
    let runtime = runtime()?;
    let aws = runtime.block_on(settings.connect(&environment))?;
    progress.step(&format!(
        "Watching lambda/ and the Cargo files: every save rebuilds ({}) and hotswaps {} (Ctrl-C stops)",
        environment.build_profile, environment.stack_name
    ));
    let mut seen = fingerprint(&project.root);
    let mut cycle = 0_u32;
    loop {
        std::thread::sleep(POLL);
        let now = fingerprint(&project.root);
        if now == seen {
            continue;
        }
        seen = now;
        cycle += 1;
        let started = Instant::now();
        progress.step(&format!("Change {cycle}: building"));
        let built = artifact::build(
            &project,
            environment.architecture,
            &environment.build_profile,
            &progress,
        );
        let build_seconds = started.elapsed().as_secs_f64();
        let local = match built {
            Ok(local) => local,
            Err(error) => {
                progress.warn(&format!(
                    "change {cycle}: the build failed after {build_seconds:.1}s, the live code is unchanged: {error}"
                ));
                crate::ui::print_text(&format!(
                    "change {cycle}: build failed after {build_seconds:.1}s; live code unchanged"
                ))?;
                continue;
            }
        };
        let swap_started = Instant::now();
        let result = runtime.block_on(
            Deployment {
                aws: &aws,
                project: &project,
                environment: environment.clone(),
                template: rendered.template.clone(),
                parameters: None,
                artifact: ArtifactSource::Local(local),
                release: ReleaseIntent {
                    kind: ReleaseKind::Deploy,
                    source: None,
                },
                web_app: WebApp::Keep,
                options: options.clone(),
                progress: &progress,
                prompter: &crate::ui::TerminalPrompter,
            }
            .hotswap(),
        );
        let swap_seconds = swap_started.elapsed().as_secs_f64();
        match result {
            Ok(report) => crate::ui::print_text(&format!(
                "change {cycle}: built in {build_seconds:.1}s, {} in {swap_seconds:.1}s (sha256:{}), live {:.1}s after the save was seen",
                match report.outcome {
                    crate::deploy::Outcome::Hotswapped => "hotswapped",
                    crate::deploy::Outcome::NoChanges => "unchanged",
                    _ => "deployed",
                },
                &report.artifact.sha256[..12.min(report.artifact.sha256.len())],
                started.elapsed().as_secs_f64()
            ))?,
            Err(error) => {
                progress.warn(&format!("change {cycle}: not live: {error}"));
                crate::ui::print_text(&format!(
                    "change {cycle}: built in {build_seconds:.1}s; not live: {error}"
                ))?;
            }
        }
    }
}
