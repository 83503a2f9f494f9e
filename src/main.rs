//! pixelctl: deploys the Pixel Prompt stack. Parses, runs, maps the outcome to an exit code.

mod aws;
mod cli;
mod commands;
mod concurrency;
mod condition;
mod config;
mod deploy;
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
    let json = cli.global.output == cli::OutputFormat::Json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error.report();
            if json {
                error.emit_json();
            }
            error.exit_code()
        }
    }
}
