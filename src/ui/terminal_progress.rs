//! Progress on stderr: indicatif bars and spinners on a terminal, one plain
//! line per event otherwise (CI logs), nothing but warnings with `--quiet`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Event, Progress, ResourceStatus};

/// How progress is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars and spinners (stderr is a terminal).
    Interactive,
    /// One line per event.
    Plain,
    /// Warnings only.
    Quiet,
}

impl Mode {
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Self::Quiet
        } else if console::Term::stderr().is_term() {
            Self::Interactive
        } else {
            Self::Plain
        }
    }
}

/// The terminal's progress reporter.
pub struct TerminalProgress {
    mode: Mode,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    done: u64,
    started: Option<Instant>,
}

impl TerminalProgress {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            state: Mutex::new(State::default()),
        }
    }

    fn line(state: &State, text: &str) {
        match &state.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}

fn event_line(event: ResourceStatus<'_>) -> String {
    let status = event.status;
    let styled = if status.ends_with("_FAILED") {
        style(status).red().bold().to_string()
    } else if status.ends_with("_COMPLETE") && !status.contains("ROLLBACK") {
        style(status).green().to_string()
    } else if status.contains("ROLLBACK") {
        style(status).yellow().to_string()
    } else {
        status.to_owned()
    };
    let reason = event
        .reason
        .filter(|reason| !reason.is_empty())
        .map(|reason| format!(": {reason}"))
        .unwrap_or_default();
    format!(
        "  {styled} {} ({}){reason}",
        event.logical_id, event.resource_type
    )
}

impl Progress for TerminalProgress {
    fn report(&self, event: Event<'_>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if self.mode == Mode::Quiet {
            match event {
                Event::Warning(text) => {
                    eprintln!("{} {text}", style("warning:").yellow().bold());
                }
                Event::PlanToConfirm(text) => eprint!("{text}"),
                _ => {}
            }
            return;
        }
        match event {
            Event::Step(text) => {
                Self::line(&state, &format!("{} {text}", style("==>").cyan().bold()));
            }
            Event::Note(text) => Self::line(&state, &format!("    {text}")),
            Event::Plan(text) | Event::PlanToConfirm(text) => Self::line(&state, text.trim_end()),
            Event::Warning(text) => Self::line(
                &state,
                &format!("{} {text}", style("warning:").yellow().bold()),
            ),
            Event::WatchStarted { stack, total } => {
                state.done = 0;
                state.started = Some(Instant::now());
                if self.mode == Mode::Interactive {
                    let bar = ProgressBar::with_draw_target(
                        Some(total as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    bar.set_style(
                        ProgressStyle::with_template("    [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} resources  {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_message(format!("{stack} starting"));
                    bar.enable_steady_tick(Duration::from_millis(200));
                    state.bar = Some(bar);
                }
            }
            Event::Stack(stack_event) => {
                let finished = !stack_event.is_stack
                    && (stack_event.status.ends_with("_COMPLETE")
                        || stack_event.status.ends_with("_SKIPPED"));
                if finished {
                    state.done += 1;
                }
                let line = event_line(stack_event);
                Self::line(&state, &line);
                if let Some(bar) = &state.bar {
                    bar.set_position(state.done.min(bar.length().unwrap_or(u64::MAX)));
                    if stack_event.status.ends_with("_IN_PROGRESS") && !stack_event.is_stack {
                        bar.set_message(format!(
                            "{} {}",
                            stack_event.logical_id, stack_event.status
                        ));
                    }
                }
            }
            Event::WatchFinished => {
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                if let Some(started) = state.started.take() {
                    eprintln!("    done in {:.1}s", started.elapsed().as_secs_f64());
                }
            }
            Event::WaitStarted(what) => {
                state.started = Some(Instant::now());
                if self.mode == Mode::Interactive {
                    let spinner = ProgressBar::new_spinner();
                    spinner.set_style(
                        ProgressStyle::with_template("    {spinner} {msg} [{elapsed_precise}]")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    spinner.set_message(what.to_owned());
                    spinner.enable_steady_tick(Duration::from_millis(120));
                    state.bar = Some(spinner);
                } else {
                    eprintln!("    {what}");
                }
            }
            Event::WaitTick { what, elapsed } => match &state.bar {
                Some(bar) => bar.set_message(what.to_owned()),
                None => eprintln!("    {what} ({}s)", elapsed.as_secs()),
            },
            Event::WaitFinished => {
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                state.started = None;
            }
        }
    }
}
