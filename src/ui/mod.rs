//! Everything pixelctl shows a person: results on stdout (text or JSON),
//! progress and prompts on stderr.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFormat;

/// Prints a command's result on stdout in the chosen format. A closed pipe
/// (`pixelctl outputs dev | head -1`) is not an error.
pub fn emit<T: Serialize + Display>(format: OutputFormat, result: &T) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Text => result.to_string(),
        OutputFormat::Json => serde_json::to_string_pretty(result)?,
    };
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

mod progress;
mod prompt;

pub use progress::{Mode, TerminalProgress};
pub use prompt::{can_prompt, confirm, confirm_by_typing};
