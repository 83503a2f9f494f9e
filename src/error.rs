//! The ways a command can end badly, and the exit code each maps to.

use std::process::ExitCode;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad input from the user: flags, environment names, environment files.
    #[error(transparent)]
    Usage(anyhow::Error),
    /// The user (or a missing TTY) did not confirm the change.
    #[error("{0}")]
    Rejected(String),
    /// Anything else: AWS refused, the stack failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
    /// The deploy went through but the API did not answer (`--require-healthy`);
    /// the report is still shown.
    #[error("the API did not pass its health check")]
    Unhealthy(Box<crate::deploy::DeployReport>),
    /// Bad input whose details the command already printed as its result
    /// (`validate`): exit 2, no second JSON object.
    #[error("{0}")]
    Invalid(String),
    /// Ctrl-C while AWS kept working; the message says how to follow up.
    #[error("{0}")]
    Interrupted(String),
    /// The command ran and printed its report, which found a problem
    /// (`status`: unhealthy or stuck; `doctor`: a failed check): exit 4.
    #[error("{0}")]
    Found(String),
}

/// How a command ended badly, for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The operation failed: AWS refused, the stack failed, remote state is corrupt.
    Failed,
    /// Bad input: flags, names, files, a release that `--to` cannot use.
    Usage,
    /// Not confirmed.
    Rejected,
    /// A report that found a problem.
    Found,
    /// Ctrl-C.
    Interrupted,
}

/// The exit code of each outcome: the one table behind "Exit codes" in `--help`.
pub const fn exit_code_of(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Failed => 1,
        Outcome::Usage => 2,
        Outcome::Rejected => 3,
        Outcome::Found => 4,
        Outcome::Interrupted => 130,
    }
}

impl CommandError {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self::Usage(error.into())
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Failed(_) | Self::Unhealthy(_) => Outcome::Failed,
            Self::Interrupted(_) => Outcome::Interrupted,
            Self::Usage(_) | Self::Invalid(_) => Outcome::Usage,
            Self::Rejected(_) => Outcome::Rejected,
            Self::Found(_) => Outcome::Found,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(exit_code_of(self.outcome()))
    }

    /// With `--output json`, a failure still leaves one JSON object on stdout
    /// (none when the command already printed its report).
    pub fn json(&self) -> Option<serde_json::Value> {
        let (kind, message) = match self {
            Self::Usage(error) => ("usage", format!("{error:#}")),
            Self::Rejected(message) => ("rejected", message.clone()),
            Self::Failed(error) => ("failed", format!("{error:#}")),
            Self::Interrupted(message) => ("interrupted", message.clone()),
            Self::Unhealthy(_) | Self::Invalid(_) | Self::Found(_) => return None,
        };
        Some(serde_json::json!({"error": {"kind": kind, "message": message}}))
    }

    /// The error and its causes as stderr shows them, one line each.
    pub fn report_lines(&self) -> Vec<String> {
        let error = match self {
            Self::Usage(error) | Self::Failed(error) => error,
            Self::Rejected(message) | Self::Interrupted(message) => return vec![message.clone()],
            Self::Unhealthy(_) | Self::Invalid(_) | Self::Found(_) => {
                return vec![format!("error: {self}")];
            }
        };
        std::iter::once(format!("error: {error}"))
            .chain(
                error
                    .chain()
                    .skip(1)
                    .map(|cause| format!("  caused by: {cause}")),
            )
            .collect()
    }
}

pub type CommandResult<T = ()> = Result<T, CommandError>;

/// A release `rollback --to` names that it cannot use is the user's input (2); a
/// history with nothing to roll back to is the state of things (1).
impl From<crate::release::SelectError> for CommandError {
    fn from(error: crate::release::SelectError) -> Self {
        if error.is_about_the_named_release() {
            Self::usage(error)
        } else {
            Self::Failed(error.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::SelectError;

    #[test]
    fn each_outcome_has_the_documented_exit_code() {
        let cases = [
            (Outcome::Failed, 1),
            (Outcome::Usage, 2),
            (Outcome::Rejected, 3),
            (Outcome::Found, 4),
            (Outcome::Interrupted, 130),
        ];
        for (outcome, code) in cases {
            assert_eq!(exit_code_of(outcome), code, "{outcome:?}");
        }
    }

    #[test]
    fn errors_end_with_the_outcome_their_cause_calls_for() {
        let env = || "dev".to_owned();
        let cases: Vec<(CommandError, Outcome)> = vec![
            // `rollback --to` naming a release it cannot use: the user's input.
            (
                SelectError::Unknown {
                    environment: env(),
                    reference: "42".to_owned(),
                }
                .into(),
                Outcome::Usage,
            ),
            (
                SelectError::AlreadyLive {
                    environment: env(),
                    sequence: 5,
                }
                .into(),
                Outcome::Usage,
            ),
            (
                SelectError::Failed {
                    environment: env(),
                    sequence: 3,
                }
                .into(),
                Outcome::Usage,
            ),
            // Nothing to roll back to: the state of things.
            (
                SelectError::NoReleases { environment: env() }.into(),
                Outcome::Failed,
            ),
            (
                SelectError::NothingEarlier {
                    environment: env(),
                    live: 1,
                }
                .into(),
                Outcome::Failed,
            ),
            // Corrupt remote state (a ledger record that does not parse) is a failure, not usage.
            (
                CommandError::from(anyhow::anyhow!("release record is not JSON")),
                Outcome::Failed,
            ),
            (
                CommandError::usage(anyhow::anyhow!("unknown environment `qa`")),
                Outcome::Usage,
            ),
            (
                CommandError::Invalid("3 problems".to_owned()),
                Outcome::Usage,
            ),
            (
                CommandError::Rejected("not confirmed".to_owned()),
                Outcome::Rejected,
            ),
            (
                CommandError::Found("dev is stuck".to_owned()),
                Outcome::Found,
            ),
            (
                CommandError::Interrupted("stopped".to_owned()),
                Outcome::Interrupted,
            ),
        ];
        for (error, outcome) in cases {
            assert_eq!(error.outcome(), outcome, "{error}");
        }
    }
}
