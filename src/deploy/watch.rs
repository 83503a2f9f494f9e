//! Step 7's loop: stream a stack's events as they happen until the operation pixelctl
//! started settles, polling quickly at first and backing off.
//!
//! What is watched is tied to the operation, never to this machine's clock: everything
//! on the stack before the call is marked seen (by the server's event ids), every call
//! carries a `ClientRequestToken` that its events repeat, and the operation only counts
//! as settled once it has been seen to start. A terminal event of an earlier operation,
//! or a call that AWS starts a moment after it returns, cannot end the watch early.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::aws::{Aws, StackDescription, StackEvent};
use crate::progress::{Event, Progress, ResourceStatus};
use crate::stack_state::{self, Settled};

/// Pages of events read for a baseline or when joining: the newest 100 events each.
const BASELINE_PAGES: usize = 1;
/// Pages read per poll at most (a poll normally stops at the first seen event).
const POLL_PAGES: usize = 20;

/// How a watched operation ended, with the events that explain a failure.
#[derive(Debug, Clone)]
pub struct Watched {
    pub stack: StackDescription,
    pub settled: Settled,
    pub failures: Vec<StackEvent>,
    /// Every event of the operation, oldest first.
    pub events: Vec<StackEvent>,
}

/// The events seen so far and what ties new ones to the operation watched.
#[derive(Debug, Default)]
pub struct EventCursor {
    seen: HashSet<String>,
    /// The operation's `ClientRequestToken`.
    token: Option<String>,
    /// The operation has been seen to start (an event of it, or the stack in progress).
    started: bool,
    /// The change set executed, when the operation is one: the stack's `ChangeSetId`
    /// must name it before its status counts.
    change_set: Option<String>,
}

/// A `ClientRequestToken` for an operation: `pixelctl-<what>-<time>` (letters, digits,
/// hyphens, as CloudFormation requires).
pub fn operation_token(what: &str) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "pixelctl-{what}-{}-{:09}",
        now.as_secs(),
        now.subsec_nanos()
    )
}

impl EventCursor {
    /// Before starting an operation tagged `token`: every event on the stack now is
    /// history (a stack that does not exist yet has none).
    pub async fn before_operation(aws: &Aws, stack: &str, token: &str) -> anyhow::Result<Self> {
        let mut cursor = Self {
            token: Some(token.to_owned()),
            ..Self::default()
        };
        aws.new_events(stack, &mut cursor.seen, BASELINE_PAGES)
            .await?;
        Ok(cursor)
    }

    /// The operation executes change set `name`.
    pub fn for_change_set(mut self, name: &str) -> Self {
        self.change_set = Some(name.to_owned());
        self
    }

    /// Whether the stack's `ChangeSetId` is compatible with the watched operation.
    fn runs_our_change_set(&self, change_set_id: Option<&str>) -> bool {
        match (&self.change_set, change_set_id) {
            (Some(name), Some(id)) => id.contains(&format!(":changeSet/{name}/")),
            _ => true,
        }
    }

    /// Joining an operation already under way: shows its events since it began (its
    /// "User Initiated" stack event) and follows it by its token, if it has one.
    pub async fn join_operation(
        aws: &Aws,
        stack: &str,
        progress: &dyn Progress,
    ) -> anyhow::Result<Self> {
        let mut cursor = Self {
            started: true,
            ..Self::default()
        };
        let recent = aws
            .new_events(stack, &mut cursor.seen, BASELINE_PAGES)
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
        cursor.token = recent
            .get(began)
            .and_then(|event| event.client_request_token.clone());
        for event in &recent[began..] {
            progress.report(Event::Stack(resource_status(event)));
        }
        Ok(cursor)
    }

    /// Whether `event` belongs to the watched operation: new since the baseline, and
    /// carrying its token when the server reports one.
    fn belongs(&self, event: &StackEvent) -> bool {
        match (&self.token, &event.client_request_token) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        }
    }
}

/// What a stack-level event of the watched operation means for the watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackSignal {
    /// The operation runs.
    Started,
    /// The operation reached this status, which ends it.
    Settled,
    Nothing,
}

/// Pure: what a new event says about the watched operation.
/// A stack event as progress shows it.
fn resource_status(event: &StackEvent) -> ResourceStatus<'_> {
    ResourceStatus {
        logical_id: &event.logical_id,
        resource_type: &event.resource_type,
        status: &event.status,
        reason: event.reason.as_deref(),
        is_stack: event.is_stack(),
    }
}

pub fn signal(event: &StackEvent, belongs: bool) -> StackSignal {
    if !belongs || !event.is_stack() {
        return StackSignal::Nothing;
    }
    if stack_state::settled(&event.status) == Settled::InProgress {
        StackSignal::Started
    } else {
        StackSignal::Settled
    }
}

/// A stack that no longer exists: its delete finished.
fn gone(stack: &str, failures: Vec<StackEvent>, events: Vec<StackEvent>) -> Watched {
    Watched {
        stack: StackDescription {
            name: stack.to_owned(),
            status: "DELETE_COMPLETE".to_owned(),
            ..StackDescription::default()
        },
        settled: Settled::Succeeded,
        failures,
        events,
    }
}

/// Follows the operation `cursor` is tied to until it settles, reporting its events.
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
    let mut failures = Vec::new();
    let mut operation_events = Vec::new();
    let mut delay = Duration::from_millis(300);
    let mut polls = 0u32;
    let result = loop {
        let events = match aws.new_events(stack, &mut cursor.seen, POLL_PAGES).await {
            Ok(Some(events)) => events,
            Ok(None) => break Ok(gone(stack, failures, operation_events)),
            Err(error) => break Err(error),
        };
        let mut stack_settled = false;
        for event in events {
            let belongs = cursor.belongs(&event);
            if !belongs {
                continue;
            }
            progress.report(Event::Stack(resource_status(&event)));
            if stack_state::is_failure_event(&event.status) && !event.is_stack() {
                failures.push(event.clone());
            }
            match signal(&event, belongs) {
                StackSignal::Started => cursor.started = true,
                // A terminal event counts once the operation was seen to start; with a
                // token the event itself proves it is this operation's.
                StackSignal::Settled if cursor.started || event.client_request_token.is_some() => {
                    cursor.started = true;
                    stack_settled = true;
                }
                _ => {}
            }
            operation_events.push(event);
        }
        polls += 1;
        // The stack's own event says it settled; check DescribeStacks now and then as
        // well, in case an event was missed, but only once the operation has started:
        // until then the status is the previous operation's.
        if stack_settled || polls.is_multiple_of(10) {
            match aws.describe_stack(stack).await {
                Ok(Some(description)) => {
                    let settled = stack_state::settled(&description.status);
                    if settled == Settled::InProgress {
                        cursor.started = true;
                    } else if cursor.started
                        && cursor.runs_our_change_set(description.change_set_id.as_deref())
                    {
                        break Ok(Watched {
                            stack: description,
                            settled,
                            failures,
                            events: operation_events,
                        });
                    }
                }
                Ok(None) => break Ok(gone(stack, failures, operation_events)),
                Err(error) => break Err(error),
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(5));
    };
    progress.report(Event::WatchFinished);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(resource_type: &str, status: &str, token: Option<&str>) -> StackEvent {
        StackEvent {
            id: "e".to_owned(),
            timestamp: SystemTime::UNIX_EPOCH,
            logical_id: "x".to_owned(),
            resource_type: resource_type.to_owned(),
            status: status.to_owned(),
            reason: None,
            client_request_token: token.map(str::to_owned),
        }
    }

    #[test]
    fn only_the_watched_operations_stack_events_move_the_watch() {
        let stack = "AWS::CloudFormation::Stack";
        let cases = [
            (
                event(stack, "UPDATE_IN_PROGRESS", None),
                true,
                StackSignal::Started,
            ),
            (
                event(stack, "UPDATE_COMPLETE", None),
                true,
                StackSignal::Settled,
            ),
            (
                event(stack, "UPDATE_ROLLBACK_FAILED", None),
                true,
                StackSignal::Settled,
            ),
            (
                event(stack, "UPDATE_COMPLETE", None),
                false,
                StackSignal::Nothing,
            ),
            (
                event("AWS::Lambda::Function", "UPDATE_COMPLETE", None),
                true,
                StackSignal::Nothing,
            ),
        ];
        for (event, belongs, expected) in cases {
            assert_eq!(signal(&event, belongs), expected, "{event:?} {belongs}");
        }
        let cursor = EventCursor {
            token: Some("pixelctl-ours".to_owned()),
            ..EventCursor::default()
        };
        assert!(cursor.belongs(&event(stack, "UPDATE_COMPLETE", Some("pixelctl-ours"))));
        assert!(!cursor.belongs(&event(stack, "UPDATE_COMPLETE", Some("someone-else"))));
        // A server that reports no tokens: the baseline alone decides.
        assert!(cursor.belongs(&event(stack, "UPDATE_COMPLETE", None)));
        let ours = EventCursor::default().for_change_set("pixelctl-1-001");
        assert!(ours.runs_our_change_set(Some(
            "arn:aws:cloudformation:us-west-2:1:changeSet/pixelctl-1-001/4f1c"
        )));
        assert!(!ours.runs_our_change_set(Some(
            "arn:aws:cloudformation:us-west-2:1:changeSet/pixelctl-0-999/77aa"
        )));
        assert!(ours.runs_our_change_set(None));
        let token = operation_token("execute");
        assert!(token.starts_with("pixelctl-execute-") && token.len() <= 128);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
