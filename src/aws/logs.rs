//! CloudWatch Logs: the function's log events, a page at a time.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;

use super::Aws;
use super::error::AwsError;

/// One log event as CloudWatch Logs stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub id: String,
    pub timestamp: SystemTime,
    pub stream: String,
    pub message: String,
}

/// One `FilterLogEvents` answer.
#[derive(Debug, Clone, Default)]
pub struct LogPage {
    pub events: Vec<LogEvent>,
    pub next_token: Option<String>,
}

fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

impl Aws {
    /// Events of `group` from `start` on, across its streams, in time order
    /// within the page; `None` when the group does not exist.
    pub async fn log_events(
        &self,
        group: &str,
        start: SystemTime,
        next_token: Option<String>,
    ) -> anyhow::Result<Option<LogPage>> {
        let response = self
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(epoch_millis(start))
            .set_next_token(next_token)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(FilterLogEventsError::is_resource_not_found_exception) =>
            {
                return Ok(None);
            }
            Err(error) => {
                return Err(anyhow::Error::from(AwsError::new(
                    format!("cannot read log group `{group}`"),
                    &error,
                )));
            }
        };
        let events = response
            .events()
            .iter()
            .map(|event| LogEvent {
                id: event.event_id().unwrap_or_default().to_owned(),
                timestamp: SystemTime::UNIX_EPOCH
                    + Duration::from_millis(
                        u64::try_from(event.timestamp().unwrap_or_default()).unwrap_or_default(),
                    ),
                stream: event.log_stream_name().unwrap_or_default().to_owned(),
                message: event.message().unwrap_or_default().to_owned(),
            })
            .collect();
        Ok(Some(LogPage {
            events,
            next_token: response.next_token().map(str::to_owned),
        }))
    }
}
