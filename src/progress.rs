//! How core code tells the user what is happening, without knowing about
//! terminals: it sends events; `ui::terminal_progress` decides how they look.

use std::time::Duration;

/// Something worth showing while a command runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A pipeline step begins ("Packaging", "Planning" ...).
    Step(&'a str),
    /// A fact worth a line.
    Note(&'a str),
    /// Something the user should look at, though the command goes on.
    Warning(&'a str),
    /// A plan to review (shown unless `--quiet`).
    Plan(&'a str),
    /// A plan the user is about to be asked to confirm (shown even with `--quiet`).
    PlanToConfirm(&'a str),
    /// Watching a stack operation over `total` resources begins.
    WatchStarted {
        stack: &'a str,
        total: usize,
    },
    /// A new stack event arrived.
    Stack(ResourceStatus<'a>),
    /// The watched operation settled.
    WatchFinished,
    /// A wait with nothing to count begins (CloudFront, a settling stack).
    WaitStarted(&'a str),
    /// Still waiting.
    WaitTick {
        what: &'a str,
        elapsed: Duration,
    },
    WaitFinished,
}

/// What a stack event says about one resource (or the stack itself).
#[derive(Debug, Clone, Copy)]
pub struct ResourceStatus<'a> {
    pub logical_id: &'a str,
    pub resource_type: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    /// The event is about the stack itself, not one of its resources.
    pub is_stack: bool,
}

/// Receives progress events; implementations live in `ui`.
pub trait Progress: Send + Sync {
    fn report(&self, event: Event<'_>);

    fn step(&self, text: &str) {
        self.report(Event::Step(text));
    }

    fn note(&self, text: &str) {
        self.report(Event::Note(text));
    }

    fn warn(&self, text: &str) {
        self.report(Event::Warning(text));
    }
}

/// Asks the user a yes/no question; implementations live in `ui`, so a step that
/// asks can be tested with scripted answers.
pub trait Prompter: Send + Sync {
    fn confirm(&self, question: &str) -> anyhow::Result<bool>;
}
