//! pixelctl: deploys the Pixel Prompt stack. Parses, runs, maps the outcome to an exit code.
// A binary: no item is reachable from outside, so `pub` marks a module's interface
// to the rest of the crate, and `pub(crate)` everywhere would say nothing more.
#![allow(unreachable_pub)]

mod aws;
mod cli;
mod commands;
mod concurrency;
mod condition;
mod config;
mod deploy;
mod digest;
#[cfg(test)]
mod doc_commands;
mod error;
mod frontend;
mod git;
mod hotswap;
mod local_hosts;
mod logline;
mod models;
mod package;
mod plan;
mod progress;
mod project;
mod provider_keys;
mod redact;
mod release;
mod reviewed_plan;
mod stack_policy;
mod stack_state;
mod template;
#[cfg(test)]
mod test_support;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let format = cli.global.output;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            ui::report_failure(&error, format.into());
            error.exit_code()
        }
    }
}
