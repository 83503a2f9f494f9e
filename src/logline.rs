//! Reading the Lambda's log lines: the API's JSON lines (tracing's format),
//! Lambda's platform lines (START/END/REPORT, as text or as JSON records) and
//! anything else, turned into one readable shape; and the filters `logs`
//! applies. Pure: text in, data out.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value};

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A JSON line the API wrote.
    Api,
    /// Lambda's own: START, END, REPORT, timeouts, init errors.
    Lambda,
    /// Anything else the process printed.
    Text,
}

/// One log line, read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The Lambda invocation's request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The line's other fields, as text.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_millis(*time))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Takes `key` out of `map` as text.
fn take(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    map.remove(key).map(|value| text_of(&value))
}

/// The request id in a platform text line (`START RequestId: <id> Version: ...`).
fn platform_request_id(line: &str) -> Option<String> {
    let rest = line.split("RequestId: ").nth(1)?;
    rest.split(|c: char| c.is_whitespace())
        .next()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

fn is_platform_text(line: &str) -> bool {
    [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "INIT_START",
        "INIT_REPORT",
        "EXTENSION",
    ]
    .iter()
    .any(|prefix| line.starts_with(prefix))
        || line.contains("Task timed out after")
        || line.contains("Runtime.ExitError")
        || line.contains("Runtime exited with error")
}

/// A tracing JSON line: `{"timestamp", "level", "fields": {"message", ...}, "target", "span": {...}}`.
fn from_tracing(mut object: Map<String, Value>, time: SystemTime) -> LogLine {
    let time = object
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|text| humantime::parse_rfc3339_weak(text).ok())
        .unwrap_or(time);
    let level = take(&mut object, "level");
    let mut fields = match object.remove("fields") {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let mut span = match object.remove("span") {
        Some(Value::Object(span)) => span,
        _ => Map::new(),
    };
    span.remove("name");
    let message = take(&mut fields, "message").unwrap_or_default();
    // A field may be on the line and on its span too: one value, the line's.
    let mut pick = |key: &str| {
        let from_span = take(&mut span, key);
        take(&mut fields, key).or(from_span)
    };
    let job_id = pick("job_id");
    let correlation_id = pick("correlation_id");
    let request_id = pick("request_id");
    let mut rest: BTreeMap<String, String> = span
        .iter()
        .chain(fields.iter())
        .map(|(key, value)| (key.clone(), text_of(value)))
        .collect();
    if let Some(target) = take(&mut object, "target").filter(|target| target == "client") {
        rest.insert("from".to_owned(), target);
    }
    LogLine {
        time,
        origin: Origin::Api,
        level,
        message,
        job_id,
        correlation_id,
        request_id,
        fields: rest,
    }
}

/// Lambda's JSON platform record (`LogFormat: JSON`): `{"time", "type": "platform.report", "record": {...}}`.
fn from_platform_record(object: &Map<String, Value>, time: SystemTime) -> LogLine {
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("platform")
        .trim_start_matches("platform.");
    let record = object.get("record").and_then(Value::as_object);
    let request_id = record
        .and_then(|record| record.get("requestId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut fields = BTreeMap::new();
    if let Some(metrics) = record
        .and_then(|record| record.get("metrics"))
        .and_then(Value::as_object)
    {
        for (key, value) in metrics {
            fields.insert(key.clone(), text_of(value));
        }
    }
    if let Some(status) = record
        .and_then(|record| record.get("status"))
        .and_then(Value::as_str)
    {
        fields.insert("status".to_owned(), status.to_owned());
    }
    let failed = fields
        .get("status")
        .is_some_and(|status| status != "success");
    LogLine {
        time: object
            .get("time")
            .and_then(Value::as_str)
            .and_then(|text| humantime::parse_rfc3339_weak(text).ok())
            .unwrap_or(time),
        origin: Origin::Lambda,
        level: failed.then(|| "ERROR".to_owned()),
        message: kind.to_uppercase(),
        job_id: None,
        correlation_id: None,
        request_id,
        fields,
    }
}

/// Reads one CloudWatch log event's message, stamped `time` by CloudWatch.
pub fn parse(message: &str, time: SystemTime) -> LogLine {
    let trimmed = message.trim_end();
    if trimmed.starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(trimmed)
    {
        if object.contains_key("record") && object.contains_key("type") {
            return from_platform_record(&object, time);
        }
        if object.contains_key("fields") || object.contains_key("level") {
            return from_tracing(object, time);
        }
    }
    let platform = is_platform_text(trimmed);
    let timed_out = trimmed.contains("Task timed out after") || trimmed.contains("Runtime.");
    LogLine {
        time,
        origin: if platform {
            Origin::Lambda
        } else {
            Origin::Text
        },
        level: timed_out.then(|| "ERROR".to_owned()),
        message: trimmed.replace('\t', "  "),
        job_id: None,
        correlation_id: None,
        request_id: platform_request_id(trimmed),
        fields: BTreeMap::new(),
    }
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.origin {
            Origin::Lambda => self.level.as_deref().unwrap_or("LAMBDA"),
            _ => self.level.as_deref().unwrap_or("-"),
        };
        write!(
            f,
            "{} {level:<5} {}",
            humantime::format_rfc3339_millis(self.time),
            self.message
        )?;
        if let Some(job) = &self.job_id {
            write!(f, "  job={job}")?;
        }
        if let Some(correlation) = &self.correlation_id {
            write!(f, "  correlation={correlation}")?;
        }
        if let Some(request) = &self.request_id
            && self.origin == Origin::Api
        {
            write!(f, "  request={request}")?;
        }
        for (key, value) in &self.fields {
            write!(f, "  {key}={value}")?;
        }
        Ok(())
    }
}

/// `--errors`: ERROR-level lines, timeouts, crashes, failed invocations.
pub fn is_error(line: &LogLine) -> bool {
    line.level
        .as_deref()
        .is_some_and(|level| level.eq_ignore_ascii_case("error"))
        || (line.origin == Origin::Text && line.message.contains("ERROR"))
}

/// `--filter TEXT`: the raw line contains TEXT, ignoring case.
pub fn contains(raw: &str, text: &str) -> bool {
    raw.to_lowercase().contains(&text.to_lowercase())
}

/// `--job ID`: the lines of one generation. Lines naming the job teach it
/// their correlation id (the request that created it) and Lambda request id
/// (the worker's invocation, whose START/END/REPORT lines then belong too).
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    job_id: String,
    correlation_ids: HashSet<String>,
    request_ids: HashSet<String>,
}

impl JobFilter {
    pub fn new(job_id: &str) -> Self {
        Self {
            job_id: job_id.trim().to_owned(),
            ..Self::default()
        }
    }

    /// Learns the ids of lines that name the job.
    pub fn learn(&mut self, line: &LogLine) {
        if line.job_id.as_deref() == Some(self.job_id.as_str()) {
            self.correlation_ids.extend(line.correlation_id.clone());
            self.request_ids.extend(line.request_id.clone());
        }
    }

    pub fn admits(&self, line: &LogLine) -> bool {
        line.job_id.as_deref() == Some(self.job_id.as_str())
            || line
                .correlation_id
                .as_ref()
                .is_some_and(|id| self.correlation_ids.contains(id))
            || line
                .request_id
                .as_ref()
                .is_some_and(|id| self.request_ids.contains(id))
    }
}

/// `--since`: a duration back from `now` (`10m`, `2h`, `3d`) or a time
/// (`2026-11-29T08:00:00Z`, `2026-11-29 08:00:00`).
pub fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let text = text.trim();
    if let Ok(duration) = humantime::parse_duration(text) {
        return Ok(now.checked_sub(duration).unwrap_or(SystemTime::UNIX_EPOCH));
    }
    humantime::parse_rfc3339_weak(text).map_err(|_| {
        format!(
            "`--since {text}` is neither a duration (10m, 2h, 3d) nor a UTC time (2026-11-29T08:00:00Z)"
        )
    })
}

/// How far back each poll of `--follow` looks again, for events CloudWatch
/// ingests late; seen events are not printed twice.
pub const FOLLOW_OVERLAP: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    const T: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn api_json_lines_become_readable() {
        let raw = r#"{"timestamp":"2026-11-29T17:41:02.123456Z","level":"INFO","fields":{"message":"job created","job_id":"job-1","total_models":3,"fake":false},"target":"pixel_prompt_api::routes","span":{"correlation_id":"corr-9","method":"POST","path":"/generate","name":"request"}}"#;
        let line = parse(raw, T);
        assert_eq!(line.origin, Origin::Api);
        assert_eq!(line.level.as_deref(), Some("INFO"));
        assert_eq!(line.message, "job created");
        assert_eq!(line.job_id.as_deref(), Some("job-1"));
        assert_eq!(line.correlation_id.as_deref(), Some("corr-9"));
        assert_eq!(
            line.to_string(),
            "2026-11-29T17:41:02.123Z INFO  job created  job=job-1  correlation=corr-9  fake=false  method=POST  path=/generate  total_models=3"
        );
    }

    #[test]
    fn lines_of_every_origin() {
        let cases = [
            // (raw, origin, level, message, request id, error?)
            (
                "START RequestId: 8f1a Version: $LATEST",
                Origin::Lambda,
                None,
                "START RequestId: 8f1a Version: $LATEST",
                Some("8f1a"),
                false,
            ),
            (
                "REPORT RequestId: 8f1a\tDuration: 12.34 ms\tBilled Duration: 13 ms",
                Origin::Lambda,
                None,
                "REPORT RequestId: 8f1a  Duration: 12.34 ms  Billed Duration: 13 ms",
                Some("8f1a"),
                false,
            ),
            (
                "2026-11-29T17:41:02.123Z 8f1a Task timed out after 3.00 seconds",
                Origin::Lambda,
                Some("ERROR"),
                "2026-11-29T17:41:02.123Z 8f1a Task timed out after 3.00 seconds",
                None,
                true,
            ),
            (
                "plain output",
                Origin::Text,
                None,
                "plain output",
                None,
                false,
            ),
            (
                "thread panicked: ERROR here",
                Origin::Text,
                None,
                "thread panicked: ERROR here",
                None,
                true,
            ),
            (
                r#"{"time":"2026-11-29T17:41:02.123Z","type":"platform.report","record":{"requestId":"8f1a","status":"success","metrics":{"durationMs":12.3}}}"#,
                Origin::Lambda,
                None,
                "REPORT",
                Some("8f1a"),
                false,
            ),
            (
                r#"{"time":"2026-11-29T17:41:02.123Z","type":"platform.runtimeDone","record":{"requestId":"8f1a","status":"timeout"}}"#,
                Origin::Lambda,
                Some("ERROR"),
                "RUNTIMEDONE",
                Some("8f1a"),
                true,
            ),
            (
                r#"{"timestamp":"2026-11-29T17:41:02Z","level":"ERROR","fields":{"message":"model failed","error":"provider rejected the API key"},"span":{"job_id":"j","name":"worker"}}"#,
                Origin::Api,
                Some("ERROR"),
                "model failed",
                None,
                true,
            ),
            ("{not json", Origin::Text, None, "{not json", None, false),
        ];
        for (raw, origin, level, message, request, error) in cases {
            let line = parse(raw, T);
            assert_eq!(line.origin, origin, "{raw}");
            assert_eq!(line.level.as_deref(), level, "{raw}");
            assert_eq!(line.message, message, "{raw}");
            assert_eq!(line.request_id.as_deref(), request, "{raw}");
            assert_eq!(is_error(&line), error, "{raw}");
        }
    }

    #[test]
    fn a_job_filter_follows_the_job_through_its_ids() {
        let lines = [
            r#"{"level":"INFO","fields":{"message":"job created","job_id":"J"},"span":{"correlation_id":"C","name":"request"}}"#,
            r#"{"level":"INFO","fields":{"message":"request completed","status":200},"span":{"correlation_id":"C","name":"request"}}"#,
            "START RequestId: R Version: $LATEST",
            r#"{"level":"INFO","fields":{"message":"model completed"},"span":{"job_id":"J","correlation_id":"C","request_id":"R","name":"worker"}}"#,
            "REPORT RequestId: R\tDuration: 1 ms",
            r#"{"level":"INFO","fields":{"message":"request completed"},"span":{"correlation_id":"other","name":"request"}}"#,
            "START RequestId: other Version: $LATEST",
        ];
        let parsed: Vec<LogLine> = lines.iter().map(|raw| parse(raw, T)).collect();
        let mut filter = JobFilter::new("J");
        for line in &parsed {
            filter.learn(line);
        }
        let admitted: Vec<bool> = parsed.iter().map(|line| filter.admits(line)).collect();
        assert_eq!(admitted, [true, true, true, true, true, false, false]);
    }

    #[test]
    fn since_is_a_duration_or_a_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_since("10m", now), Ok(now - Duration::from_mins(10)));
        assert_eq!(parse_since("2d", now), Ok(now - Duration::from_hours(48)));
        assert_eq!(
            parse_since("1970-01-01T00:00:10Z", now),
            Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(10))
        );
        assert!(
            parse_since("yesterday", now)
                .unwrap_err()
                .contains("--since yesterday")
        );
        assert!(contains("Model FAILED", "failed"));
    }
}
