//! `pixelctl status`: each environment's stack, live release, drift from the
//! working tree, CloudFront, alarms and API health, side by side; exit 4 when
//! one is unhealthy or stuck, so a scheduled job can alert on it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Settings, runtime};
use crate::aws::{AlarmState, Aws};
use crate::cli::StatusArgs;
use crate::condition::{self, Condition, Observed, Probe, Verdict};
use crate::config::{self, Environment};
use crate::deploy::health;
use crate::error::{CommandError, CommandResult};
use crate::local_hosts::LocalAws;
use crate::progress::Progress;
use crate::project::Project;
use crate::release::{self, ReleaseRecord, ledger};
use crate::template::ArtifactLocation;
use crate::ui;

/// The paths whose changes make a different Lambda.
const CODE_PATHS: [&str; 3] = ["lambda", "Cargo.toml", "Cargo.lock"];

/// Parameters that name the artifact: they differ by build, not by configuration.
const ARTIFACT_PARAMETERS: [&str; 2] = ["ArtifactBucket", "ArtifactKey"];

/// Whether something in the working tree matches what is live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Drift {
    Same,
    Differs(String),
    Unknown(String),
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Same => f.write_str("same as working tree"),
            Self::Differs(detail) => write!(f, "DIFFERS: {detail}"),
            Self::Unknown(reason) => write!(f, "unknown ({reason})"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct LiveRelease {
    sequence: u64,
    kind: release::ReleaseKind,
    time: String,
    who: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    dirty: bool,
    tags: Vec<String>,
    artifact_sha256: String,
}

#[derive(Debug, Clone, Serialize)]
struct Drifts {
    template: Drift,
    parameters: Drift,
    code: Drift,
}

#[derive(Debug, Clone, Serialize)]
struct ApiStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probed: Option<String>,
    healthy: Option<bool>,
    detail: String,
}

/// One environment's status.
#[derive(Debug, Clone, Serialize)]
struct EnvironmentStatus {
    environment: String,
    stack_name: String,
    region: String,
    condition: Condition,
    reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_changed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    release: Option<LiveRelease>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<Drifts>,
    /// Functions running other code than the stack declares (a hotswap's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hotswapped: Vec<crate::hotswap::CodeDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudfront: Option<String>,
    alarms: Vec<AlarmState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<ApiStatus>,
    /// Whether this environment fails the command (exit 4).
    fails: bool,
}

#[derive(Debug, Serialize)]
struct StatusReport {
    healthy: bool,
    environments: Vec<EnvironmentStatus>,
}

fn short(text: &str, length: usize) -> &str {
    text.get(..length.min(text.len())).unwrap_or(text)
}

impl EnvironmentStatus {
    /// The rows of the side-by-side table.
    fn cells(&self) -> Vec<(&'static str, String)> {
        let condition = match self.condition {
            Condition::Healthy => "healthy",
            Condition::Degraded => "DEGRADED",
            Condition::Unhealthy => "UNHEALTHY",
            Condition::Stuck => "STUCK",
            Condition::NotDeployed => "not deployed",
        };
        let mut rows = vec![
            ("condition", condition.to_owned()),
            ("stack", self.stack_name.clone()),
        ];
        if self.stack_status.is_none() {
            return rows;
        }
        rows.push((
            "state",
            format!(
                "{}{}",
                self.stack_status.clone().unwrap_or_default(),
                self.last_changed
                    .as_ref()
                    .map(|when| format!(", {when}"))
                    .unwrap_or_default()
            ),
        ));
        match &self.release {
            Some(live) => {
                let who = live.who.rsplit('/').next().unwrap_or(&live.who);
                let kind = live.kind;
                rows.push((
                    "release",
                    format!("#{} {kind}, {} by {who}", live.sequence, live.time),
                ));
                rows.push((
                    "commit",
                    match &live.commit {
                        Some(commit) => format!(
                            "{}{}{}",
                            short(commit, 12),
                            if live.dirty { "+dirty" } else { "" },
                            if live.tags.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", live.tags.join(", "))
                            }
                        ),
                        None => "-".to_owned(),
                    },
                ));
                rows.push((
                    "artifact",
                    format!("sha256:{}", short(&live.artifact_sha256, 16)),
                ));
            }
            None => rows.push(("release", "none recorded".to_owned())),
        }
        if let Some(drift) = &self.drift {
            rows.push(("template", drift.template.to_string()));
            rows.push(("parameters", drift.parameters.to_string()));
            rows.push(("lambda code", drift.code.to_string()));
        }
        if self.stack_status.is_some() {
            rows.push((
                "running code",
                if self.hotswapped.is_empty() {
                    "as the stack declares".to_owned()
                } else {
                    format!(
                        "HOTSWAPPED: {} run other code than the stack declares; `pixelctl deploy {}` restores it",
                        self.hotswapped
                            .iter()
                            .map(|drift| drift.function.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        self.environment
                    )
                },
            ));
        }
        rows.push((
            "cloudfront",
            self.cloudfront.clone().unwrap_or_else(|| "-".to_owned()),
        ));
        rows.push((
            "alarms",
            if self.alarms.is_empty() {
                "none".to_owned()
            } else {
                self.alarms
                    .iter()
                    .map(|alarm| format!("{} {}", alarm.name, alarm.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ));
        if let Some(api) = &self.api {
            rows.push((
                "api",
                api.endpoint.clone().unwrap_or_else(|| "-".to_owned()),
            ));
            rows.push((
                "health",
                match api.healthy {
                    Some(true) => format!("healthy ({})", api.detail),
                    Some(false) => format!("UNHEALTHY ({})", api.detail),
                    None => format!("not checked ({})", api.detail),
                },
            ));
        }
        rows
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns: Vec<Vec<(&str, String)>> = self
            .environments
            .iter()
            .map(EnvironmentStatus::cells)
            .collect();
        let mut labels: Vec<&str> = Vec::new();
        for column in &columns {
            for (label, _) in column {
                if !labels.contains(label) {
                    labels.push(label);
                }
            }
        }
        let cell = |column: &[(&str, String)], label: &str| {
            column
                .iter()
                .find(|(name, _)| *name == label)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let label_width = labels.iter().map(|label| label.len()).max().unwrap_or(0);
        let widths: Vec<usize> = self
            .environments
            .iter()
            .zip(&columns)
            .map(|(status, column)| {
                column
                    .iter()
                    .map(|(_, value)| value.len())
                    .chain([status.environment.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let last = self.environments.len().saturating_sub(1);
        let mut header = format!("{:label_width$}", "");
        for (index, status) in self.environments.iter().enumerate() {
            if index == last {
                header.push_str(&format!("  {}", status.environment));
            } else {
                header.push_str(&format!(
                    "  {:<width$}",
                    status.environment,
                    width = widths[index]
                ));
            }
        }
        writeln!(f, "{}", header.trim_end())?;
        for label in &labels {
            let mut line = format!("{label:<label_width$}");
            for (index, column) in columns.iter().enumerate() {
                let value = cell(column, label);
                if index == last {
                    line.push_str(&format!("  {value}"));
                } else {
                    line.push_str(&format!("  {value:<width$}", width = widths[index]));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        for status in &self.environments {
            for reason in &status.reasons {
                writeln!(f, "{}: {reason}", status.environment)?;
            }
        }
        Ok(())
    }
}

/// The live release's git commit against the working tree's Lambda sources.
fn code_drift(project: &Project, live: Option<&ReleaseRecord>) -> Drift {
    let Some(live) = live else {
        return Drift::Unknown("no release recorded".to_owned());
    };
    let Some(git) = &live.git else {
        return Drift::Unknown("the live release was not made from a git clone".to_owned());
    };
    if git.dirty {
        return Drift::Unknown(format!(
            "the live release was built from uncommitted changes on {}",
            short(&git.commit, 12)
        ));
    }
    match crate::git::differs_from(&project.root, &git.commit, &CODE_PATHS) {
        Ok(true) => Drift::Differs(format!(
            "lambda/ or Cargo files changed since {}",
            short(&git.commit, 12)
        )),
        Ok(false) => Drift::Same,
        Err(error) => Drift::Unknown(format!("{error:#}")),
    }
}

/// Parameters whose values differ, artifact aside.
fn parameter_drift(live: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> Drift {
    let mut keys: Vec<&str> = wanted
        .keys()
        .chain(live.keys())
        .map(String::as_str)
        .filter(|key| !ARTIFACT_PARAMETERS.contains(key))
        .filter(|key| live.get(*key) != wanted.get(*key))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        Drift::Same
    } else {
        Drift::Differs(keys.join(", "))
    }
}

/// The functions whose running code is not the artifact the stack declares.
async fn running_code_drift(
    aws: &Aws,
    stack: &crate::aws::StackDescription,
) -> CommandResult<Vec<crate::hotswap::CodeDrift>> {
    let Some(declared) = crate::hotswap::declared_sha256(&stack.parameters) else {
        return Ok(Vec::new());
    };
    let mut running = Vec::new();
    for function in crate::hotswap::function_names(&stack.name) {
        if let Some(sha) = aws
            .function_code_sha256(&function)
            .await
            .map_err(CommandError::Failed)?
        {
            running.push((function, sha));
        }
    }
    Ok(crate::hotswap::code_drift(declared, &running))
}

async fn inspect(
    settings: &Settings,
    project: &Project,
    environment: &Environment,
    probe_timeout: Duration,
    named: bool,
    progress: &dyn Progress,
) -> CommandResult<EnvironmentStatus> {
    let aws: Aws = settings.connect(environment).await?;
    let stack = aws
        .describe_stack(&environment.stack_name)
        .await
        .map_err(CommandError::Failed)?;
    let mut status = EnvironmentStatus {
        environment: environment.name.clone(),
        stack_name: environment.stack_name.clone(),
        region: aws.region.clone(),
        condition: Condition::NotDeployed,
        reasons: Vec::new(),
        stack_status: None,
        last_changed: None,
        release: None,
        drift: None,
        hotswapped: Vec::new(),
        cloudfront: None,
        alarms: Vec::new(),
        api: None,
        fails: false,
    };
    let observed_status = stack.as_ref().map(|stack| stack.status.clone());
    let deployed = stack.as_ref().is_some_and(|stack| {
        !matches!(
            stack.status.as_str(),
            "REVIEW_IN_PROGRESS" | "DELETE_COMPLETE"
        )
    });
    let mut probe = Probe::Skipped;
    let mut since_change = None;
    if let (Some(stack), true) = (&stack, deployed) {
        since_change = stack
            .last_changed
            .and_then(|time| SystemTime::now().duration_since(time).ok());
        status.stack_status = Some(stack.status.clone());
        status.last_changed = stack.last_changed.map(ui::when);

        let bucket = ledger::bucket(&aws).await.map_err(CommandError::Failed)?;
        let records = ledger::list(&aws, &bucket, &environment.name)
            .await
            .map_err(CommandError::Failed)?;
        let live = release::live(&records);
        status.release = live.map(|record| LiveRelease {
            sequence: record.sequence,
            kind: record.kind,
            time: ui::when(
                humantime::parse_rfc3339(&record.time).unwrap_or(SystemTime::UNIX_EPOCH),
            ),
            who: record.who.clone(),
            commit: record.git.as_ref().map(|git| git.commit.clone()),
            dirty: record.git.as_ref().is_some_and(|git| git.dirty),
            tags: record
                .git_tags
                .iter()
                .cloned()
                .chain(record.git.as_ref().and_then(|git| git.tag.clone()))
                .collect(),
            artifact_sha256: record.artifact.sha256.clone(),
        });

        let (template, parameters) = match crate::template::render(
            project,
            &environment.name,
            &ArtifactLocation::placeholder(),
        ) {
            Ok(rendered) => {
                let live_body = aws
                    .template_body(&environment.stack_name)
                    .await
                    .map_err(CommandError::Failed)?;
                (
                    if live_body == rendered.template.body {
                        Drift::Same
                    } else {
                        Drift::Differs("templates/pixel-prompt.yaml changed".to_owned())
                    },
                    parameter_drift(&stack.parameters, &rendered.parameters.values),
                )
            }
            Err(error) => {
                let reason = format!("the working tree does not render: {error}");
                (Drift::Unknown(reason.clone()), Drift::Unknown(reason))
            }
        };
        status.drift = Some(Drifts {
            template,
            parameters,
            code: code_drift(project, live),
        });
        status.hotswapped = running_code_drift(&aws, stack).await?;

        if let Some(distribution) = stack.outputs.get("DistributionId") {
            let state = aws
                .distribution_status(distribution)
                .await
                .map_err(CommandError::Failed)?;
            status.cloudfront = Some(format!("{distribution} {state}"));
        }
        let resources = aws
            .stack_resources(&environment.stack_name)
            .await
            .map_err(CommandError::Failed)?;
        let alarms: Vec<String> = resources
            .iter()
            .filter(|resource| resource.resource_type == "AWS::CloudWatch::Alarm")
            .map(|resource| resource.physical_id.clone())
            .filter(|name| !name.is_empty())
            .collect();
        if !alarms.is_empty() {
            status.alarms = aws
                .alarm_states(&alarms)
                .await
                .map_err(CommandError::Failed)?;
        }

        let endpoint = stack.outputs.get("ApiEndpoint").cloned();
        let served = settings
            .endpoint_url
            .as_deref()
            .and_then(LocalAws::from_endpoint)
            .zip(endpoint.as_deref())
            .and_then(|(local, api)| local.api_url(api));
        let api = match health::health_target(
            endpoint.as_deref(),
            None,
            settings.endpoint_url.as_deref(),
        ) {
            Ok(url) => {
                let report = health::check(&url, probe_timeout, progress).await;
                probe = if report.healthy {
                    Probe::Answered
                } else {
                    Probe::Failed(report.detail.clone().unwrap_or_default())
                };
                ApiStatus {
                    endpoint: served.or(endpoint),
                    probed: Some(url),
                    healthy: Some(report.healthy),
                    detail: report.detail.unwrap_or_default(),
                }
            }
            Err(reason) => ApiStatus {
                endpoint,
                probed: None,
                healthy: None,
                detail: reason,
            },
        };
        status.api = Some(api);
    }
    let firing: Vec<&str> = status
        .alarms
        .iter()
        .filter(|alarm| alarm.state == "ALARM")
        .map(|alarm| alarm.name.as_str())
        .collect();
    let verdict: Verdict = condition::judge(&Observed {
        stack_status: observed_status.as_deref(),
        since_change,
        alarms_firing: firing,
        probe,
    });
    status.fails = verdict.fails(named);
    status.condition = verdict.condition;
    status.reasons = verdict.reasons;
    Ok(status)
}

pub fn run(settings: &Settings, args: &StatusArgs) -> CommandResult {
    let project = settings.project()?;
    let named = !args.envs.is_empty();
    let names = if named {
        args.envs.clone()
    } else {
        config::environment_names(&project.environments_dir()).map_err(CommandError::usage)?
    };
    let environments = names
        .iter()
        .map(|name| config::load(&project.environments_dir(), name).map_err(CommandError::usage))
        .collect::<CommandResult<Vec<_>>>()?;
    let progress = settings.progress();
    let probe_timeout = Duration::from_secs(args.probe_timeout);
    let statuses = runtime()?.block_on(async {
        let mut statuses = Vec::new();
        for environment in &environments {
            progress.step(&format!("Reading {}", environment.name));
            statuses.push(
                inspect(
                    settings,
                    &project,
                    environment,
                    probe_timeout,
                    named,
                    &progress,
                )
                .await?,
            );
        }
        Ok::<_, CommandError>(statuses)
    })?;
    let failing: Vec<String> = statuses
        .iter()
        .filter(|status| status.fails)
        .map(|status| format!("{} is {}", status.environment, status.condition.as_str()))
        .collect();
    ui::emit(
        settings.output,
        &StatusReport {
            healthy: failing.is_empty(),
            environments: statuses,
        },
    )?;
    if failing.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Found(failing.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_drift_ignores_the_artifact() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let live = map(&[
            ("ArtifactKey", "a.zip"),
            ("LambdaMemoryMb", "256"),
            ("ModelCount", "3"),
        ]);
        let cases = [
            (
                map(&[
                    ("ArtifactKey", "b.zip"),
                    ("LambdaMemoryMb", "256"),
                    ("ModelCount", "3"),
                ]),
                Drift::Same,
            ),
            (
                map(&[
                    ("ArtifactKey", "a.zip"),
                    ("LambdaMemoryMb", "512"),
                    ("ModelCount", "3"),
                ]),
                Drift::Differs("LambdaMemoryMb".to_owned()),
            ),
            (
                map(&[("LambdaMemoryMb", "512"), ("NewOne", "x")]),
                Drift::Differs("LambdaMemoryMb, ModelCount, NewOne".to_owned()),
            ),
        ];
        for (wanted, drift) in cases {
            assert_eq!(parameter_drift(&live, &wanted), drift, "{wanted:?}");
        }
    }
}
