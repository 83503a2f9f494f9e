//! Questions to the user, asked on stderr and only on a terminal.

use anyhow::Context;

/// Whether a question can be asked: both stdin and stderr must be terminals.
pub fn can_prompt() -> bool {
    console::Term::stderr().is_term() && std::io::IsTerminal::is_terminal(&std::io::stdin())
}

/// Asks a yes/no question (default no).
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_opt()
        .context("cannot read the answer from the terminal")
        .map(|answer| answer.unwrap_or(false))
}

/// Asks the user to type `expected` exactly (for destructive operations).
pub fn confirm_by_typing(question: &str, expected: &str) -> anyhow::Result<bool> {
    let typed: String = dialoguer::Input::new()
        .with_prompt(question)
        .allow_empty(true)
        .interact_text()
        .context("cannot read the answer from the terminal")?;
    Ok(typed.trim() == expected)
}

/// Asks for a secret without echoing it; `None` when nothing was typed.
pub fn secret(question: &str) -> anyhow::Result<Option<String>> {
    let typed = dialoguer::Password::new()
        .with_prompt(question)
        .allow_empty_password(true)
        .interact()
        .context("cannot read the key from the terminal")?;
    Ok((!typed.trim().is_empty()).then_some(typed))
}

/// Asks on the terminal (callers check `can_prompt` first).
pub struct TerminalPrompter;

impl crate::progress::Prompter for TerminalPrompter {
    fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        confirm(question)
    }
}
