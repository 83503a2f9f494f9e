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

impl CommandError {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self::Usage(error.into())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Failed(_) | Self::Unhealthy(_) => ExitCode::from(1),
            Self::Interrupted(_) => ExitCode::from(130),
            Self::Usage(_) | Self::Invalid(_) => ExitCode::from(2),
            Self::Rejected(_) => ExitCode::from(3),
            Self::Found(_) => ExitCode::from(4),
        }
    }

    /// With `--output json`, a failure still leaves one JSON object on stdout
    /// (unless the command already printed its report).
    pub fn emit_json(&self) {
        let (kind, message) = match self {
            Self::Usage(error) => ("usage", format!("{error:#}")),
            Self::Rejected(message) => ("rejected", message.clone()),
            Self::Failed(error) => ("failed", format!("{error:#}")),
            Self::Interrupted(message) => ("interrupted", message.clone()),
            Self::Unhealthy(_) | Self::Invalid(_) | Self::Found(_) => return,
        };
        let object = serde_json::json!({"error": {"kind": kind, "message": message}});
        println!("{object}");
    }

    /// Prints the error and its causes to stderr, one line each.
    pub fn report(&self) {
        let error = match self {
            Self::Usage(error) | Self::Failed(error) => error,
            Self::Rejected(message) | Self::Interrupted(message) => {
                eprintln!("{message}");
                return;
            }
            Self::Unhealthy(_) | Self::Invalid(_) | Self::Found(_) => {
                eprintln!("error: {self}");
                return;
            }
        };
        eprintln!("error: {error}");
        for cause in error.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
}

pub type CommandResult<T = ()> = Result<T, CommandError>;
