//! Step 7's loop: stream a stack's events as they happen until it settles,
//! polling quickly at first and backing off.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::aws::{Aws, StackDescription, StackEvent};
use crate::progress::{Event, Progress};
use crate::stack_state::{self, Settled};

/// How a watched operation ended, with the events that explain a failure.
#[derive(Debug, Clone)]
pub struct Watched {
    pub stack: StackDescription,
    pub settled: Settled,
    pub failures: Vec<StackEvent>,
}

/// The events seen so far, so a watch shows each event once.
#[derive(Debug, Default)]
pub struct EventCursor {
    seen: HashSet<String>,
    since: Option<SystemTime>,
}

impl EventCursor {
    /// A cursor that shows only events from `since` on.
    pub fn starting(since: SystemTime) -> Self {
        Self {
            seen: HashSet::new(),
            // CloudFormation's clock and ours differ a little.
            since: Some(since - Duration::from_secs(5)),
        }
    }
}

impl EventCursor {
    /// A cursor for joining an operation already under way: shows the events
    /// since that operation began (its "User Initiated" stack event), not
    /// the stack's whole history.
    pub async fn join_operation(
        aws: &Aws,
        stack: &str,
        progress: &dyn Progress,
    ) -> anyhow::Result<Self> {
        let mut cursor = Self::starting(SystemTime::now() - Duration::from_secs(3600));
        let since = cursor.since.unwrap_or(SystemTime::UNIX_EPOCH);
        let recent = aws
            .new_events(stack, &mut cursor.seen, since)
            .await?
            .unwrap_or_default();
        let began = recent
            .iter()
            .rposition(|event| {
                event.is_stack()
                    && event.status.ends_with("_IN_PROGRESS")
                    && event
                        .reason
                        .as_deref()
                        .is_some_and(|reason| reason.contains("User Initiated"))
            })
            .unwrap_or(0);
        for event in &recent[began..] {
            progress.report(Event::Stack(event));
        }
        Ok(cursor)
    }
}

/// A stack that no longer exists: its delete finished.
fn gone(stack: &str, failures: Vec<StackEvent>) -> Watched {
    Watched {
        stack: StackDescription {
            name: stack.to_owned(),
            status: "DELETE_COMPLETE".to_owned(),
            ..StackDescription::default()
        },
        settled: Settled::Succeeded,
        failures,
    }
}

/// Follows `stack` until its status settles, reporting every new event.
pub async fn watch_stack(
    aws: &Aws,
    stack: &str,
    total_resources: usize,
    cursor: &mut EventCursor,
    progress: &dyn Progress,
) -> anyhow::Result<Watched> {
    progress.report(Event::WatchStarted {
        stack,
        total: total_resources,
    });
    let since = cursor.since.unwrap_or(SystemTime::UNIX_EPOCH);
    let mut failures = Vec::new();
    let mut delay = Duration::from_millis(300);
    let mut polls = 0u32;
    let result = loop {
        let events = aws.new_events(stack, &mut cursor.seen, since).await;
        let events = match events {
            Ok(Some(events)) => events,
            Ok(None) => break Ok(gone(stack, failures)),
            Err(error) => break Err(error),
        };
        let mut stack_settled = false;
        for event in &events {
            progress.report(Event::Stack(event));
            if stack_state::is_failure_event(&event.status) && !event.is_stack() {
                failures.push(event.clone());
            }
            if event.is_stack() && stack_state::settled(&event.status) != Settled::InProgress {
                stack_settled = true;
            }
        }
        polls += 1;
        // The stack's own event says it settled; check DescribeStacks now and
        // then as well, in case an event was missed.
        if stack_settled || polls.is_multiple_of(10) {
            match aws.describe_stack(stack).await {
                Ok(Some(description)) => {
                    let settled = stack_state::settled(&description.status);
                    if settled != Settled::InProgress {
                        break Ok(Watched {
                            stack: description,
                            settled,
                            failures,
                        });
                    }
                }
                Ok(None) => break Ok(gone(stack, failures)),
                Err(error) => break Err(error),
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(5));
    };
    progress.report(Event::WatchFinished);
    result
}
