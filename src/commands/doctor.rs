//! `pixelctl doctor`: is this machine and account ready to build and deploy?
//! One line per check (ok, warn, PROBLEM) with the fix; exit 4 on a problem.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use super::Settings;
use crate::aws::BucketCheck;
use crate::cli::DoctorArgs;
use crate::config::{self, Architecture, Environment, KeyLocation};
use crate::error::{CommandError, CommandResult};
use crate::local_hosts::LocalAws;
use crate::package::GlibcVersion;
use crate::package::cargo_build::zigbuild_on_path;
use crate::provider_keys;
use crate::ui;

/// The oldest Rust the workspace builds with: `rust-version` in Cargo.toml.
fn min_rust() -> (u32, u32, u32) {
    version_in(env!("CARGO_PKG_RUST_VERSION")).unwrap_or((1, 0, 0))
}
/// The oldest Node.js the frontend supports (`engines` in frontend/package.json).
const MIN_NODE: (u32, u32, u32) = (20, 19, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Warn,
    Problem,
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub state: State,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: State::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: State::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn problem(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: State::Problem,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .checks
            .iter()
            .map(|check| check.name.len())
            .max()
            .unwrap_or(0);
        for check in &self.checks {
            let state = match check.state {
                State::Ok => "ok     ",
                State::Warn => "warn   ",
                State::Problem => "PROBLEM",
            };
            write!(f, "{state}  {:<width$}  {}", check.name, check.detail)?;
            match &check.fix {
                Some(fix) => writeln!(f, "\n{:9}  {:<width$}  fix: {fix}", "", "")?,
                None => writeln!(f)?,
            }
        }
        let problems = self
            .checks
            .iter()
            .filter(|check| check.state == State::Problem)
            .count();
        if problems == 0 {
            writeln!(f, "no problems")
        } else {
            writeln!(f, "{problems} problem(s)")
        }
    }
}

/// Runs `program args` and returns its trimmed stdout, `None` if it can't run or fails.
fn output_of(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The first `x.y[.z]` in `text` (`rustc 1.95.0 (...)`, `v20.19.2`, `glibc 2.36`).
pub fn version_in(text: &str) -> Option<(u32, u32, u32)> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|word| word.contains('.'))
        .find_map(|word| {
            let mut parts = word.split('.').map(|part| part.parse::<u32>().ok());
            let major = parts.next()??;
            let minor = parts.next()??;
            let patch = parts.next().flatten().unwrap_or(0);
            Some((major, minor, patch))
        })
}

fn dotted((major, minor, patch): (u32, u32, u32)) -> String {
    format!("{major}.{minor}.{patch}")
}

/// A tool's version against the oldest that works.
pub fn check_version(
    name: &str,
    found: Option<&str>,
    minimum: (u32, u32, u32),
    install: &str,
    missing_is_problem: bool,
) -> Check {
    let Some(text) = found else {
        let detail = format!("`{name}` not found on PATH");
        return if missing_is_problem {
            Check::problem(name, detail, install)
        } else {
            Check::warn(name, detail, install)
        };
    };
    match version_in(text) {
        Some(version) if version >= minimum => Check::ok(name, text),
        Some(version) => Check::problem(
            name,
            format!(
                "{} is older than {} needed",
                dotted(version),
                dotted(minimum)
            ),
            install,
        ),
        None => Check::warn(
            name,
            format!("cannot read a version from `{text}`"),
            install,
        ),
    }
}

/// Whether a build here gives a `bootstrap` that runs on `provided.al2023`.
pub fn check_glibc(host: Option<(u32, u32, u32)>, zigbuild: bool) -> Check {
    let lambda = GlibcVersion::PROVIDED_AL2023;
    let runtime = (u32::from(lambda.major), u32::from(lambda.minor), 0);
    if zigbuild {
        return Check::ok(
            "glibc",
            format!(
                "cargo-zigbuild on PATH: builds link against glibc {lambda}, as provided.al2023 has"
            ),
        );
    }
    match host {
        Some(version) if version <= runtime => Check::ok(
            "glibc",
            format!(
                "this machine has glibc {}, not newer than provided.al2023's {lambda}",
                dotted(version)
            ),
        ),
        Some(version) => Check::warn(
            "glibc",
            format!(
                "this machine has glibc {} and cargo-zigbuild is not on PATH: a native build may need symbols newer than provided.al2023's {lambda} (pixelctl refuses such a bootstrap before deploying)",
                dotted(version)
            ),
            "pip install ziglang cargo-zigbuild (pins glibc 2.34), or build on an older distribution",
        ),
        None => Check::warn(
            "glibc",
            "cannot tell this machine's glibc version",
            "pip install ziglang cargo-zigbuild, so builds pin glibc 2.34",
        ),
    }
}

/// Whether the Rust target for `architecture` can be built here.
pub fn check_target(architecture: Architecture, installed: &[String], zigbuild: bool) -> Check {
    let triple = architecture.rust_target();
    let name = format!("target {triple}");
    if !installed.iter().any(|target| target == triple) {
        return Check::problem(
            name,
            format!("the Rust target for {architecture} Lambda functions is not installed"),
            format!("rustup target add {triple}"),
        );
    }
    if Architecture::host() != Some(architecture) && !zigbuild {
        return Check::problem(
            name,
            format!(
                "{architecture} is not this machine's architecture and there is no cross linker"
            ),
            "pip install ziglang cargo-zigbuild (cargo zigbuild cross-links)",
        );
    }
    Check::ok(name, "installed")
}

fn git_check(root: &Path) -> Check {
    let Some(state) = crate::git::state(root) else {
        return Check::warn(
            "git",
            format!(
                "`{}` is not a git clone (or git is missing)",
                root.display()
            ),
            "work in a clone: releases record their commit, and `pixelctl tag` needs one",
        );
    };
    let branch = output_of(
        "git",
        &[
            "-C",
            &root.display().to_string(),
            "branch",
            "--show-current",
        ],
        None,
    )
    .filter(|branch| !branch.is_empty())
    .unwrap_or_else(|| "detached HEAD".to_owned());
    let commit = state.commit.get(..12).unwrap_or(&state.commit).to_owned();
    if state.dirty {
        Check::warn(
            "git",
            format!("{branch} at {commit} with uncommitted changes"),
            "commit or stash: a deploy from a dirty tree is recorded as dirty, and `deploy --tag` refuses one",
        )
    } else {
        Check::ok("git", format!("{branch} at {commit}, clean"))
    }
}

/// The machine's checks: tools a build, the frontend and releases need.
fn machine_checks(root: &Path, environments: &[Environment]) -> Vec<Check> {
    let zigbuild = zigbuild_on_path(std::env::var_os("PATH"));
    let mut checks = vec![
        check_version(
            "cargo",
            output_of("cargo", &["--version"], Some(root)).as_deref(),
            min_rust(),
            "install Rust with rustup (https://rustup.rs), then `rustup update`",
            true,
        ),
        check_version(
            "rustc",
            output_of("rustc", &["--version"], Some(root)).as_deref(),
            min_rust(),
            "rustup update",
            true,
        ),
    ];
    let installed: Vec<String> =
        output_of("rustup", &["target", "list", "--installed"], Some(root)).map_or_else(
            || {
                // Without rustup, the host's own target is what rustc has.
                output_of("rustc", &["-vV"], Some(root))
                    .and_then(|info| {
                        info.lines()
                            .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
                    })
                    .into_iter()
                    .collect()
            },
            |list| list.lines().map(str::to_owned).collect(),
        );
    let architectures: BTreeSet<&str> = environments
        .iter()
        .map(|environment| environment.architecture.cloudformation_name())
        .collect();
    for environment_architecture in Architecture::ALL {
        if architectures.contains(environment_architecture.cloudformation_name()) {
            checks.push(check_target(environment_architecture, &installed, zigbuild));
        }
    }
    let host_glibc = output_of("getconf", &["GNU_LIBC_VERSION"], None)
        .as_deref()
        .and_then(version_in);
    checks.push(check_glibc(host_glibc, zigbuild));
    checks.push(check_version(
        "node",
        output_of("node", &["--version"], None).as_deref(),
        MIN_NODE,
        "install Node.js 20.19 or newer (the frontend's build and tests need it)",
        false,
    ));
    checks.push(check_version(
        "npm",
        output_of("npm", &["--version"], None).as_deref(),
        (9, 0, 0),
        "npm comes with Node.js",
        false,
    ));
    checks.push(git_check(root));
    checks
}

fn endpoint_check(endpoint: Option<&str>) -> Check {
    match endpoint {
        None => Check::ok("endpoint", "AWS (no custom endpoint)"),
        Some(url) if LocalAws::from_endpoint(url).is_some() => Check::ok(
            "endpoint",
            format!("{url} (a local AWS: health checks use its local host names)"),
        ),
        Some(url) => Check::warn(
            "endpoint",
            format!("every AWS call goes to {url}"),
            "deploys skip the health check there unless --health-url names a URL it serves; unset AWS_ENDPOINT_URL to use AWS",
        ),
    }
}

/// The account's checks: credentials, regions, artifact stores, provider keys.
async fn account_checks(settings: &Settings, environments: &[Environment]) -> Vec<Check> {
    let mut checks = vec![endpoint_check(settings.endpoint_url.as_deref())];
    let mut regions: Vec<(String, Vec<&Environment>)> = Vec::new();
    for environment in environments {
        let region = settings.aws_settings(environment).region;
        match regions.iter_mut().find(|(name, _)| *name == region) {
            Some((_, members)) => members.push(environment),
            None => regions.push((region, vec![environment])),
        }
    }
    let mut identity_checked = false;
    for (region, members) in &regions {
        let names: Vec<&str> = members
            .iter()
            .map(|environment| environment.name.as_str())
            .collect();
        checks.push(Check::ok(
            format!("region {region}"),
            format!("used by {}", names.join(", ")),
        ));
        let Some(first) = members.first() else {
            continue;
        };
        let aws = match settings.connect(first).await {
            Ok(aws) => aws,
            Err(error) => {
                checks.push(Check::problem(
                    "credentials",
                    error.to_string(),
                    "configure AWS credentials (aws configure, aws sso login, AWS_PROFILE or OIDC in CI)",
                ));
                return checks;
            }
        };
        let account = match aws.caller_identity().await {
            Ok((account, arn)) => {
                if !identity_checked {
                    checks.push(Check::ok(
                        "credentials",
                        format!("{arn} (account {account})"),
                    ));
                    identity_checked = true;
                }
                account
            }
            Err(error) => {
                checks.push(Check::problem(
                    "credentials",
                    format!("{error:#}"),
                    "refresh them (aws sso login) or check AWS_PROFILE",
                ));
                return checks;
            }
        };
        let bucket = crate::aws::artifact_bucket_name(&account, region);
        let name = format!("artifact store {region}");
        checks.push(match aws.check_artifact_bucket(&bucket, &account).await {
            Ok(BucketCheck::Missing) => Check::ok(
                name,
                format!("{bucket} does not exist yet: the first deploy creates it"),
            ),
            Ok(BucketCheck::Ours { versioned: true }) => {
                Check::ok(name, format!("{bucket}: this account's, versioned"))
            }
            Ok(BucketCheck::Ours { versioned: false }) => Check::problem(
                name,
                format!("{bucket} is not versioned: an overwritten artifact or record could not be recovered"),
                format!("aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"),
            ),
            Ok(BucketCheck::Foreign(detail)) => Check::problem(
                name,
                format!("{bucket}: {detail}"),
                "pixelctl names the store after the account; check these are the account's own credentials",
            ),
            Err(error) => Check::problem(name, format!("{error:#}"), "check the credentials' S3 permissions"),
        });
        for environment in members {
            checks.push(key_check(&aws, environment).await);
            checks.push(model_check(settings, &aws, environment).await);
        }
    }
    checks
}

/// Whether the providers still serve the environment's models (the `models` check that
/// `validate --online` shows in full and `deploy` runs before building).
async fn model_check(
    settings: &Settings,
    aws: &crate::aws::Aws,
    environment: &Environment,
) -> Check {
    let name = format!("models {}", environment.name);
    let endpoints = match settings.provider_endpoints() {
        Ok(endpoints) => endpoints,
        Err(error) => {
            return Check::problem(name, error.to_string(), "fix PIXELCTL_PROVIDER_BASE_URLS");
        }
    };
    let silent = crate::ui::TerminalProgress::new(crate::ui::Mode::detect(true));
    let report = crate::models::check(
        aws,
        environment,
        &endpoints,
        crate::models::Date::today(),
        &silent,
    )
    .await;
    let listed = |findings: Vec<&crate::models::ModelFinding>| {
        findings
            .iter()
            .map(|finding| match &finding.verdict {
                crate::models::Verdict::ShutDown { detail } => {
                    format!(
                        "`{}` ({}): {detail}",
                        finding.model.model, finding.model.provider
                    )
                }
                crate::models::Verdict::Retiring { shutdown, days } => format!(
                    "`{}` ({}) shuts down {shutdown}, in {days} days",
                    finding.model.model, finding.model.provider
                ),
                _ => format!("`{}`", finding.model.model),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let fix = format!(
        "replace them in environments/{env}.yaml or defaults.yaml; `pixelctl validate --online {env}` shows each model",
        env = environment.name
    );
    let gone: Vec<_> = report.shut_down().collect();
    if !gone.is_empty() {
        return Check::problem(name, format!("shut down: {}", listed(gone)), fix);
    }
    let retiring: Vec<_> = report.retiring().collect();
    if !retiring.is_empty() {
        return Check::warn(name, listed(retiring), fix);
    }
    let unchecked = report
        .models
        .iter()
        .filter(|finding| matches!(finding.verdict, crate::models::Verdict::Unchecked { .. }))
        .count();
    Check::ok(
        name,
        format!(
            "{} of {} served{}",
            report.models.len() - unchecked,
            report.models.len(),
            if unchecked > 0 {
                format!(
                    " ({unchecked} not asked: no model list, or no provider base URL with a custom endpoint)"
                )
            } else {
                String::new()
            }
        ),
    )
}

async fn key_check(aws: &crate::aws::Aws, environment: &Environment) -> Check {
    let name = format!("keys {}", environment.name);
    let needed = provider_keys::needed(environment);
    let locations: Vec<KeyLocation> = needed.iter().map(|entry| entry.location.clone()).collect();
    match aws.key_statuses(&locations).await {
        Ok(statuses) => {
            let missing = provider_keys::missing(&needed, |location| {
                statuses
                    .iter()
                    .any(|status| status.location == *location && status.set)
            });
            if missing.is_empty() {
                Check::ok(name, format!("all {} provider keys stored", needed.len()))
            } else {
                Check::problem(
                    name,
                    format!(
                        "missing: {} (these fail: {})",
                        missing
                            .iter()
                            .map(crate::provider_keys::KeyEntry::provider_names)
                            .collect::<Vec<_>>()
                            .join("; "),
                        missing
                            .iter()
                            .map(crate::provider_keys::KeyEntry::consequences)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    missing
                        .iter()
                        .map(|entry| provider_keys::set_command(&environment.name, entry))
                        .collect::<Vec<_>>()
                        .join(" && "),
                )
            }
        }
        Err(error) => Check::problem(
            name,
            format!("{error:#}"),
            "check the credentials' SSM and Secrets Manager permissions",
        ),
    }
}

pub fn run(settings: &Settings, args: &DoctorArgs) -> CommandResult {
    let project = settings.project()?;
    let names = if args.envs.is_empty() {
        config::environment_names(&project.environments_dir()).map_err(CommandError::usage)?
    } else {
        args.envs.clone()
    };
    let environments = names
        .iter()
        .map(|name| config::load(&project.environments_dir(), name).map_err(CommandError::usage))
        .collect::<CommandResult<Vec<_>>>()?;
    let mut checks = super::runtime()?.block_on(account_checks(settings, &environments));
    checks.extend(machine_checks(&project.root, &environments));
    let problems = checks
        .iter()
        .filter(|check| check.state == State::Problem)
        .count();
    ui::emit(
        settings.output,
        &Report {
            ok: problems == 0,
            checks,
        },
    )?;
    if problems == 0 {
        Ok(())
    } else {
        Err(CommandError::Found(format!(
            "doctor found {problems} problem(s)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_tool_output() {
        let cases = [
            ("rustc 1.95.0 (59807616e 2026-04-14)", Some((1, 95, 0))),
            ("cargo 1.94.1", Some((1, 94, 1))),
            ("v20.19.2", Some((20, 19, 2))),
            ("glibc 2.36", Some((2, 36, 0))),
            ("10.8.2", Some((10, 8, 2))),
            ("no version here", None),
        ];
        for (text, expected) in cases {
            assert_eq!(version_in(text), expected, "{text}");
        }
    }

    #[test]
    fn tool_versions_against_their_minimum() {
        let cases = [
            (Some("rustc 1.95.0"), true, State::Ok),
            (Some("rustc 1.94.1"), true, State::Ok),
            (Some("rustc 1.93.0"), true, State::Problem),
            (None, true, State::Problem),
            (None, false, State::Warn),
            (Some("rustc nightly"), true, State::Warn),
        ];
        for (found, required, state) in cases {
            let check = check_version("rustc", found, min_rust(), "rustup update", required);
            assert_eq!(check.state, state, "{found:?}");
            assert_eq!(check.fix.is_some(), state != State::Ok, "{found:?}");
        }
    }

    #[test]
    fn glibc_and_targets() {
        assert_eq!(check_glibc(Some((2, 34, 0)), false).state, State::Ok);
        assert_eq!(check_glibc(Some((2, 36, 0)), false).state, State::Warn);
        assert_eq!(check_glibc(Some((2, 36, 0)), true).state, State::Ok);
        assert_eq!(check_glibc(None, false).state, State::Warn);

        let host = Architecture::host().unwrap_or(Architecture::X86_64);
        let other = if host == Architecture::X86_64 {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        };
        let installed = vec![host.rust_target().to_owned()];
        assert_eq!(check_target(host, &installed, false).state, State::Ok);
        let missing = check_target(other, &installed, true);
        assert_eq!(missing.state, State::Problem);
        assert_eq!(
            missing.fix,
            Some(format!("rustup target add {}", other.rust_target()))
        );
        let both = vec![
            host.rust_target().to_owned(),
            other.rust_target().to_owned(),
        ];
        assert_eq!(check_target(other, &both, false).state, State::Problem);
        assert_eq!(check_target(other, &both, true).state, State::Ok);
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint_check(None).state, State::Ok);
        assert_eq!(
            endpoint_check(Some("http://127.0.0.1:4566")).state,
            State::Ok
        );
        assert_eq!(
            endpoint_check(Some("https://proxy.example:8443")).state,
            State::Warn
        );
    }
}
