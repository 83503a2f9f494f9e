//! `pixelctl completions` and `pixelctl man`: shell completion scripts and man
//! pages, generated from the same clap definitions that parse the command line.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{CommandError, CommandResult};

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
fn print(bytes: &[u8]) -> CommandResult {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CommandError::Failed(error.into()))
        }
        _ => Ok(()),
    }
}

pub fn run(args: &CompletionsArgs) -> CommandResult {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pixelctl", &mut script);
    print(&script)
}

/// The roff source of one command's page.
fn render_page(command: clap::Command) -> CommandResult<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .context("cannot render the man page")
        .map_err(CommandError::Failed)?;
    Ok(page)
}

pub fn man(args: &ManArgs) -> CommandResult {
    let command = Cli::command();
    match &args.out {
        None => print(&render_page(command)?),
        Some(dir) => write_pages(command, dir),
    }
}

/// `pixelctl.1`, then `pixelctl-<sub>.1` for every subcommand (and theirs).
fn write_pages(command: clap::Command, dir: &Path) -> CommandResult {
    fs_err::create_dir_all(dir).map_err(|error| CommandError::Failed(error.into()))?;
    let mut written = Vec::new();
    let mut pending = vec![(String::from("pixelctl"), command)];
    while let Some((name, command)) = pending.pop() {
        for sub in command.get_subcommands() {
            if sub.get_name() != "help" {
                pending.push((format!("{name}-{}", sub.get_name()), sub.clone()));
            }
        }
        let path = dir.join(format!("{name}.1"));
        let page = render_page(command.name(name.clone()).bin_name(name.replace('-', " ")))?;
        fs_err::write(&path, page).map_err(|error| CommandError::Failed(error.into()))?;
        written.push(path);
    }
    written.sort();
    for path in written {
        crate::ui::tell(format_args!("wrote {}", path.display()));
    }
    Ok(())
}
