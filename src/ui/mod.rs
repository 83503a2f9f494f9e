//! Everything pixelctl shows a person: results on stdout (text or JSON),
//! progress and prompts on stderr.
// The one module that writes to the terminal (workspace lints deny it elsewhere).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

use crate::error::CommandError;

/// How results are printed: `--output text|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Prints a command's result on stdout in the chosen format. A closed pipe
/// (`pixelctl outputs dev | head -1`) is not an error.
pub fn emit<T: Serialize + Display>(format: OutputFormat, result: &T) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Text => result.to_string(),
        OutputFormat::Json => serde_json::to_string_pretty(result)?,
    };
    print_text(&text)
}

/// Prints text on stdout as it is, ending it with a newline if it has none
/// (a plan as Markdown, a line per `watch` cycle). A closed pipe is not an error.
pub fn print_text(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') || text.is_empty() {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush());
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

/// Shows text on stderr whatever the progress mode, even with `--quiet`: what a
/// question is about to be asked about, or what a command did besides its result.
pub fn tell(text: impl Display) {
    eprintln!("{text}");
}

/// Shows a failed command's error on stderr, and with `--output json` also
/// as one JSON object on stdout.
pub fn report_failure(error: &CommandError, format: OutputFormat) {
    for line in error.report_lines() {
        eprintln!("{line}");
    }
    if format == OutputFormat::Json
        && let Some(object) = error.json()
    {
        println!("{object}");
    }
}

mod prompt;
mod terminal_progress;

/// How long ago something happened, in the largest unit that fits: `45s`,
/// `12m`, `5h`, `3d`.
pub fn age(elapsed: std::time::Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// A time as RFC 3339 UTC to the second, and how long ago it was.
pub fn when(time: std::time::SystemTime) -> String {
    let ago = std::time::SystemTime::now()
        .duration_since(time)
        .map(|elapsed| format!(" ({} ago)", age(elapsed)))
        .unwrap_or_default();
    format!("{}{ago}", humantime::format_rfc3339_seconds(time))
}

pub use prompt::{TerminalPrompter, can_prompt, confirm, confirm_by_typing, secret};
pub use terminal_progress::{Mode, TerminalProgress};

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn ages_use_the_largest_unit_that_fits() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86_399, "23h"),
            (86_400, "1d"),
            (864_000, "10d"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(super::age(Duration::from_secs(seconds)), expected);
        }
    }
}
