//! Whether a deployed environment is healthy, from what `status` observed: a
//! pure decision, so a scheduled job's alert rests on a tested table.

use std::time::Duration;

use serde::Serialize;

/// An operation in progress for longer than this is called stuck. CloudFront
/// alone can take 35 minutes; a Pixel Prompt stack update rarely takes 10.
pub const STUCK_AFTER: Duration = Duration::from_hours(1);

/// How an environment is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Healthy,
    /// Serving, with something to look at (an update in progress, a rolled-back update).
    Degraded,
    Unhealthy,
    /// An operation in progress for longer than [`STUCK_AFTER`].
    Stuck,
    NotDeployed,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Stuck => "stuck",
            Self::NotDeployed => "not deployed",
        }
    }
}

/// What the API's probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Answered,
    Failed(String),
    /// Not probed (no endpoint, or one this machine must not contact).
    Skipped,
}

/// What `status` saw of one environment.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    /// `None`: no stack by that name.
    pub stack_status: Option<&'a str>,
    /// How long since the stack last changed.
    pub since_change: Option<Duration>,
    pub alarms_firing: Vec<&'a str>,
    pub probe: Probe,
}

/// The condition and every reason for it, worst first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub condition: Condition,
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Whether a scheduled check should alert (exit 4): unhealthy or stuck;
    /// an environment never deployed only when it was asked for by name.
    pub fn fails(&self, named: bool) -> bool {
        match self.condition {
            Condition::Unhealthy | Condition::Stuck => true,
            Condition::NotDeployed => named,
            Condition::Healthy | Condition::Degraded => false,
        }
    }
}

fn worse(a: Condition, b: Condition) -> Condition {
    let rank = |condition| match condition {
        Condition::Healthy => 0,
        Condition::NotDeployed => 1,
        Condition::Degraded => 2,
        Condition::Unhealthy => 3,
        Condition::Stuck => 4,
    };
    if rank(b) > rank(a) { b } else { a }
}

pub fn judge(observed: &Observed<'_>) -> Verdict {
    let mut condition = Condition::Healthy;
    let mut reasons = Vec::new();
    let mut note = |level: Condition, reason: String| {
        condition = worse(condition, level);
        reasons.push(reason);
    };
    let Some(status) = observed.stack_status else {
        return Verdict {
            condition: Condition::NotDeployed,
            reasons: vec!["no stack: it was never deployed (or was destroyed)".to_owned()],
        };
    };
    match status {
        "REVIEW_IN_PROGRESS" => {
            return Verdict {
                condition: Condition::NotDeployed,
                reasons: vec![
                    "not created yet: a change set for its first deploy awaits review".to_owned(),
                ],
            };
        }
        "DELETE_COMPLETE" => {
            return Verdict {
                condition: Condition::NotDeployed,
                reasons: vec!["the stack was deleted".to_owned()],
            };
        }
        "ROLLBACK_COMPLETE" => note(
            Condition::Unhealthy,
            "ROLLBACK_COMPLETE: the first create failed and the stack holds nothing; `pixelctl deploy` recreates it".to_owned(),
        ),
        "UPDATE_ROLLBACK_COMPLETE" => note(
            Condition::Degraded,
            "the last update failed and was rolled back: the previous version runs".to_owned(),
        ),
        "UPDATE_ROLLBACK_FAILED" => note(
            Condition::Unhealthy,
            "UPDATE_ROLLBACK_FAILED: `pixelctl rollback` continues the rollback".to_owned(),
        ),
        failed if failed.ends_with("_FAILED") => note(
            Condition::Unhealthy,
            format!("{failed}: see `pixelctl deploy` or the stack's events"),
        ),
        busy if busy.ends_with("_IN_PROGRESS") => match observed.since_change {
            Some(elapsed) if elapsed > STUCK_AFTER => note(
                Condition::Stuck,
                format!(
                    "{busy} for {} minutes: stuck? `pixelctl rollback` cancels an update",
                    elapsed.as_secs() / 60
                ),
            ),
            _ => note(Condition::Degraded, format!("{busy}: an operation is running")),
        },
        _ => {}
    }
    for alarm in &observed.alarms_firing {
        note(Condition::Unhealthy, format!("alarm {alarm} is in ALARM"));
    }
    if let Probe::Failed(detail) = &observed.probe {
        note(
            Condition::Unhealthy,
            format!("the API does not answer: {detail}"),
        );
    }
    Verdict { condition, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(status: Option<&str>) -> Observed<'_> {
        Observed {
            stack_status: status,
            since_change: Some(Duration::from_mins(2)),
            alarms_firing: vec![],
            probe: Probe::Answered,
        }
    }

    #[test]
    fn conditions_from_what_was_seen() {
        let long = Some(Duration::from_hours(2));
        let cases: Vec<(Observed<'_>, Condition, bool, bool)> = vec![
            // (observed, condition, fails when named, fails when listed)
            (
                observed(Some("CREATE_COMPLETE")),
                Condition::Healthy,
                false,
                false,
            ),
            (
                observed(Some("UPDATE_COMPLETE")),
                Condition::Healthy,
                false,
                false,
            ),
            (observed(None), Condition::NotDeployed, true, false),
            (
                observed(Some("REVIEW_IN_PROGRESS")),
                Condition::NotDeployed,
                true,
                false,
            ),
            (
                observed(Some("UPDATE_IN_PROGRESS")),
                Condition::Degraded,
                false,
                false,
            ),
            (
                Observed {
                    since_change: long,
                    ..observed(Some("UPDATE_IN_PROGRESS"))
                },
                Condition::Stuck,
                true,
                true,
            ),
            (
                Observed {
                    since_change: long,
                    ..observed(Some("UPDATE_COMPLETE"))
                },
                Condition::Healthy,
                false,
                false,
            ),
            (
                observed(Some("UPDATE_ROLLBACK_COMPLETE")),
                Condition::Degraded,
                false,
                false,
            ),
            (
                observed(Some("ROLLBACK_COMPLETE")),
                Condition::Unhealthy,
                true,
                true,
            ),
            (
                observed(Some("UPDATE_ROLLBACK_FAILED")),
                Condition::Unhealthy,
                true,
                true,
            ),
            (
                observed(Some("DELETE_FAILED")),
                Condition::Unhealthy,
                true,
                true,
            ),
            (
                Observed {
                    alarms_firing: vec!["errors"],
                    ..observed(Some("UPDATE_COMPLETE"))
                },
                Condition::Unhealthy,
                true,
                true,
            ),
            (
                Observed {
                    probe: Probe::Failed("HTTP 500".into()),
                    ..observed(Some("UPDATE_COMPLETE"))
                },
                Condition::Unhealthy,
                true,
                true,
            ),
            (
                Observed {
                    probe: Probe::Skipped,
                    ..observed(Some("UPDATE_COMPLETE"))
                },
                Condition::Healthy,
                false,
                false,
            ),
            (
                Observed {
                    since_change: long,
                    probe: Probe::Failed("timeout".into()),
                    ..observed(Some("UPDATE_IN_PROGRESS"))
                },
                Condition::Stuck,
                true,
                true,
            ),
        ];
        for (seen, condition, named, listed) in cases {
            let verdict = judge(&seen);
            assert_eq!(verdict.condition, condition, "{seen:?}");
            assert_eq!(verdict.fails(true), named, "{seen:?}");
            assert_eq!(verdict.fails(false), listed, "{seen:?}");
            assert_eq!(
                verdict.reasons.is_empty(),
                condition == Condition::Healthy,
                "{seen:?}: {verdict:?}"
            );
        }
    }
}
