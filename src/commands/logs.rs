//! `pixelctl logs`: the CloudWatch logs of the stack's functions (the API and the
//! generation worker), merged oldest first, readable; `--follow` polls for new
//! lines until Ctrl-C.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::anyhow;

use super::{Settings, runtime};
use crate::aws::{Aws, LogEvent};
use crate::cli::LogsArgs;
use crate::config;
use crate::error::{CommandError, CommandResult};
use crate::logline::{self, FOLLOW_OVERLAP, JobFilter, LogLine};
use crate::progress::Progress;
use crate::ui::OutputFormat;

/// How often `--follow` asks CloudWatch Logs for new events.
pub const POLL_INTERVAL: Duration = Duration::from_millis(800);

/// The logical ids of the functions' log groups, API first.
const FUNCTION_LOG_GROUPS: [&str; 2] = ["FunctionLogGroup", "WorkerLogGroup"];

/// The functions' log groups, from the stack's resources.
async fn log_groups(aws: &Aws, stack: &str, env: &str) -> CommandResult<Vec<String>> {
    if aws
        .describe_stack(stack)
        .await
        .map_err(CommandError::Failed)?
        .is_none()
    {
        return Err(CommandError::Failed(anyhow!(
            "stack `{stack}` does not exist; deploy it with `pixelctl deploy {env}`"
        )));
    }
    let resources = aws
        .stack_resources(stack)
        .await
        .map_err(CommandError::Failed)?;
    let groups: Vec<String> = FUNCTION_LOG_GROUPS
        .iter()
        .filter_map(|logical_id| {
            resources
                .iter()
                .find(|resource| {
                    resource.resource_type == "AWS::Logs::LogGroup"
                        && resource.logical_id == *logical_id
                })
                .map(|resource| resource.physical_id.clone())
        })
        .filter(|name| !name.is_empty())
        .collect();
    if groups.is_empty() {
        return Err(CommandError::Failed(anyhow!(
            "stack `{stack}` has no function log group; was it deployed from templates/pixel-prompt.yaml?"
        )));
    }
    Ok(groups)
}

/// Every event of `groups` from `start` on, merged oldest first; `None` when
/// none of the groups exists yet.
async fn fetch_all(
    aws: &Aws,
    groups: &[String],
    start: SystemTime,
) -> CommandResult<Option<Vec<LogEvent>>> {
    let mut all: Option<Vec<LogEvent>> = None;
    for group in groups {
        if let Some(events) = fetch(aws, group, start).await? {
            all.get_or_insert_with(Vec::new).extend(events);
        }
    }
    if let Some(events) = &mut all {
        events.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
    }
    Ok(all)
}

/// Every event of `group` from `start` on, across pages, oldest first.
async fn fetch(aws: &Aws, group: &str, start: SystemTime) -> CommandResult<Option<Vec<LogEvent>>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let Some(page) = aws
            .log_events(group, start, token.take())
            .await
            .map_err(CommandError::Failed)?
        else {
            return Ok(None);
        };
        events.extend(page.events);
        match page.next_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => break,
        }
    }
    events.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
    Ok(Some(events))
}

/// The filters of one run.
struct Filters {
    text: Option<String>,
    errors: bool,
    job: Option<JobFilter>,
}

impl Filters {
    /// The lines of `events` to show, learning job ids from the whole batch first.
    fn select(&mut self, events: &[LogEvent]) -> Vec<LogLine> {
        let lines: Vec<(&LogEvent, LogLine)> = events
            .iter()
            .map(|event| (event, logline::parse(&event.message, event.timestamp)))
            .collect();
        if let Some(job) = &mut self.job {
            for (_, line) in &lines {
                job.learn(line);
            }
        }
        lines
            .into_iter()
            .filter(|(event, line)| {
                self.text
                    .as_deref()
                    .is_none_or(|text| logline::contains(&event.message, text))
                    && (!self.errors || logline::is_error(line))
                    && self.job.as_ref().is_none_or(|job| job.admits(line))
            })
            .map(|(_, line)| line)
            .collect()
    }
}

/// Writes lines to stdout; `false` once the reader went away (`| head`).
fn print(lines: &[LogLine], format: OutputFormat) -> CommandResult<bool> {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let text = match format {
            OutputFormat::Text => line.to_string(),
            OutputFormat::Json => {
                serde_json::to_string(line).map_err(|error| CommandError::Failed(error.into()))?
            }
        };
        match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(false),
            Err(error) => return Err(CommandError::Failed(error.into())),
        }
    }
    Ok(true)
}

pub fn run(settings: &Settings, args: &LogsArgs) -> CommandResult {
    let project = settings.project()?;
    let environment =
        config::load(&project.environments_dir(), &args.env).map_err(CommandError::usage)?;
    let since = args
        .since
        .clone()
        .unwrap_or_else(|| if args.job.is_some() { "1d" } else { "10m" }.to_owned());
    let start = logline::parse_since(&since, SystemTime::now())
        .map_err(|message| CommandError::usage(anyhow!(message)))?;
    let mut filters = Filters {
        text: args.filter.clone(),
        errors: args.errors,
        job: args.job.as_deref().map(JobFilter::new),
    };
    let progress = settings.progress();
    runtime()?.block_on(async {
        let aws = settings.connect(&environment).await?;
        let groups = log_groups(&aws, &environment.stack_name, &environment.name).await?;
        let named = groups.join(" and ");
        if args.follow {
            progress.note(&format!(
                "following {named} (polling every {:.1} s; Ctrl-C to stop)",
                POLL_INTERVAL.as_secs_f64()
            ));
            let follow = follow(&aws, &groups, start, &mut filters, settings.output);
            tokio::select! {
                result = follow => result,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        } else {
            let Some(events) = fetch_all(&aws, &groups, start).await? else {
                progress.note(&format!(
                    "{named}: no log group exists yet: no invocation has logged"
                ));
                return Ok(());
            };
            let lines = filters.select(&events);
            if lines.is_empty() {
                progress.note(&format!(
                    "no matching lines in {named} since {}",
                    humantime::format_rfc3339_seconds(start)
                ));
            }
            print(&lines, settings.output)?;
            Ok(())
        }
    })
}

/// Polls until Ctrl-C (the caller's `select!`) or a closed stdout, printing
/// each event once, in time order.
async fn follow(
    aws: &Aws,
    groups: &[String],
    start: SystemTime,
    filters: &mut Filters,
    format: OutputFormat,
) -> CommandResult {
    // Events already printed, by id, with their time (forgotten once older than the overlap).
    let mut seen: HashMap<String, SystemTime> = HashMap::new();
    let mut newest = start;
    loop {
        let tick = tokio::time::Instant::now() + POLL_INTERVAL;
        let from = newest
            .checked_sub(FOLLOW_OVERLAP)
            .map_or(start, |back| back.max(start));
        let events: Vec<LogEvent> = fetch_all(aws, groups, from)
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|event| !seen.contains_key(&event.id))
            .collect();
        for event in &events {
            seen.insert(event.id.clone(), event.timestamp);
            newest = newest.max(event.timestamp);
        }
        let horizon = newest.checked_sub(FOLLOW_OVERLAP * 2).unwrap_or(start);
        seen.retain(|_, time| *time >= horizon);
        let lines = filters.select(&events);
        if !print(&lines, format)? {
            return Ok(());
        }
        tokio::time::sleep_until(tick).await;
    }
}
