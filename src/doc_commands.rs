//! Every `pixelctl` command line in README.md, docs/ and the CI workflows
//! parses against the clap definitions, and every subcommand is documented:
//! the docs cannot drift from the CLI unnoticed.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};

use crate::cli::Cli;

/// One command line found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    file: String,
    line: usize,
    words: Vec<String>,
    /// From inline code in prose, where `pixelctl secrets set` may name a command.
    inline: bool,
}

/// Shell words of `line`, with simple quoting; `None` for a `$(...)`-like or unterminated quote.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Turns a usage placeholder into a sample value: `<env>` -> `env`,
/// `<bash|zsh>` -> `bash`, `[<env>...]` -> `env`.
fn sample(word: &str) -> String {
    let trimmed = word
        .trim_start_matches('[')
        .trim_end_matches("...")
        .trim_end_matches(']')
        .trim_end_matches("...");
    let mut out = String::new();
    let mut rest = trimmed;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let inside = &rest[open + 1..open + close];
        let first = inside.split('|').next().unwrap_or(inside);
        // A few placeholders name things whose spelling clap checks.
        out.push_str(match first.to_ascii_lowercase().as_str() {
            "command" | "subcommand" => "deploy",
            "env" | "from" | "to" => "dev",
            "provider" => "openai",
            "n" | "seq" | "seconds" => "3",
            _ => first,
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The `pixelctl ...` commands in one shell line: from the word `pixelctl`
/// to the next shell operator or comment.
fn commands_in(line: &str) -> Vec<Vec<String>> {
    let line = line.trim().trim_start_matches("$ ");
    let mut words = shell_words(&line.replace("${{", "x").replace("}}", ""));
    // A comment ends the line.
    if let Some(comment) = words.iter().position(|word| word.starts_with('#')) {
        words.truncate(comment);
    }
    let operators = ["|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"];
    let mut found = Vec::new();
    // Whether the word at hand starts a command: the line's first word, one
    // after an operator or `$(`, or one after only `NAME=value` assignments.
    let mut at_start = true;
    for (index, raw) in words.iter().enumerate() {
        let word = raw.trim_start_matches("$(").trim_start_matches('(');
        let starts = at_start || raw.starts_with("$(") || raw.starts_with('(');
        at_start = operators.contains(&raw.as_str())
            || raw.ends_with(';')
            || (at_start && raw.contains('=') && !raw.starts_with('-'));
        // `dist/pixelctl` and `target/release/pixelctl` are pixelctl too.
        let named = word == "pixelctl" || word.ends_with("/pixelctl");
        if !named || !starts || index + 1 >= words.len() {
            continue;
        }
        let mut command = vec!["pixelctl".to_owned()];
        for next in &words[index + 1..] {
            if operators.contains(&next.as_str()) || next.starts_with('>') {
                break;
            }
            let cleaned = next.trim_end_matches(')').trim_end_matches(';');
            command.push(sample(cleaned));
            if next.ends_with(')') || next.ends_with(';') {
                break;
            }
        }
        found.push(command);
    }
    found
}

/// Command lines in a markdown file: every line of fenced code blocks, and
/// inline code spans that start with `pixelctl `.
fn from_markdown(file: &str, text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut fenced = false;
    let mut pending = String::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            let whole = format!("{pending}{line}");
            pending.clear();
            for words in commands_in(&whole) {
                found.push(Found {
                    file: file.to_owned(),
                    line: number + 1,
                    words,
                    inline: false,
                });
            }
            continue;
        }
        for (index, span) in line.split('`').enumerate() {
            if index % 2 == 1 && span.starts_with("pixelctl ") {
                for words in commands_in(span) {
                    found.push(Found {
                        file: file.to_owned(),
                        line: number + 1,
                        words,
                        inline: true,
                    });
                }
            }
        }
    }
    found
}

/// Command lines in a workflow: the lines of its `run:` scripts.
fn from_workflow(file: &str, text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    // The indentation of the `run: |` key whose block we are in.
    let mut block: Option<usize> = None;
    for (number, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(key_indent) = block {
            if line.trim().is_empty() || indent > key_indent {
                for words in commands_in(line) {
                    found.push(Found {
                        file: file.to_owned(),
                        line: number + 1,
                        words,
                        inline: false,
                    });
                }
                continue;
            }
            block = None;
        }
        if let Some(script) = trimmed.strip_prefix("run:") {
            let script = script.trim();
            if script.starts_with('|') || script.starts_with('>') {
                block = Some(indent);
            } else {
                for words in commands_in(script) {
                    found.push(Found {
                        file: file.to_owned(),
                        line: number + 1,
                        words,
                        inline: false,
                    });
                }
            }
        }
    }
    found
}

/// Whether `words` (`pixelctl secrets set`) name a command without arguments.
fn names_a_command(words: &[String]) -> bool {
    let mut command = Cli::command();
    for word in words.iter().skip(1) {
        match command.find_subcommand(word) {
            Some(sub) => command = sub.clone(),
            None => return false,
        }
    }
    words.len() > 1
}

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    for dir in ["docs", ".github/workflows"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            let mut paths: Vec<PathBuf> =
                entries.filter_map(Result::ok).map(|e| e.path()).collect();
            paths.sort();
            files.extend(paths.into_iter().filter(|path| {
                path.extension()
                    .is_some_and(|ext| ext == "md" || ext == "yml" || ext == "yaml")
            }));
        }
    }
    files
}

fn all_commands(root: &Path) -> Vec<Found> {
    documents(root)
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let name = path
                .strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string();
            if Path::new(&name)
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("md"))
            {
                from_markdown(&name, &text)
            } else {
                from_workflow(&name, &text)
            }
        })
        .collect()
}

#[test]
fn the_extractor_reads_shell_lines_like_a_shell() {
    let cases: [(&str, Vec<Vec<&str>>); 6] = [
        (
            "pixelctl deploy dev   # comment",
            vec![vec!["pixelctl", "deploy", "dev"]],
        ),
        (
            "AWS_ENDPOINT_URL=http://x pixelctl outputs dev --format dotenv > .env",
            vec![vec!["pixelctl", "outputs", "dev", "--format", "dotenv"]],
        ),
        (
            "printf %s \"$KEY\" | pixelctl secrets set prod openai",
            vec![vec!["pixelctl", "secrets", "set", "prod", "openai"]],
        ),
        (
            "pixelctl status [<env>...] && pixelctl completions <bash|zsh>",
            vec![
                vec!["pixelctl", "status", "dev"],
                vec!["pixelctl", "completions", "bash"],
            ],
        ),
        (
            "echo $(pixelctl outputs dev)",
            vec![vec!["pixelctl", "outputs", "dev"]],
        ),
        (
            "target/debug/pixelctl validate; cargo build -p pixelctl",
            vec![vec!["pixelctl", "validate"]],
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(commands_in(line), expected, "{line}");
    }
    let markdown = "text `pixelctl logs <env> --follow` and `cargo test`\n```sh\npixelctl deploy prod \\\n  --yes\n```\n";
    let found: Vec<Vec<String>> = from_markdown("x.md", markdown)
        .into_iter()
        .map(|f| f.words)
        .collect();
    assert_eq!(
        found,
        [
            vec!["pixelctl", "logs", "dev", "--follow"],
            vec!["pixelctl", "deploy", "prod", "--yes"]
        ]
    );
}

#[test]
fn every_documented_command_line_parses_and_every_command_is_documented() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let found = all_commands(&root);
    let mut failures = Vec::new();
    for command in &found {
        if let Err(error) = Cli::try_parse_from(&command.words)
            && !(command.inline && names_a_command(&command.words))
            && !matches!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            )
        {
            failures.push(format!(
                "{}:{}: `{}`: {}",
                command.file,
                command.line,
                command.words.join(" "),
                error
                    .render()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "documented commands that do not parse:\n{}",
        failures.join("\n")
    );
    assert!(
        found.len() >= 100,
        "only {} command lines found: the extractor broke?",
        found.len()
    );

    let used: std::collections::BTreeSet<&str> = found
        .iter()
        .filter_map(|command| command.words.get(1).map(String::as_str))
        .collect();
    let undocumented: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .filter(|name| !used.contains(name.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "commands no document shows: {undocumented:?}"
    );
    for workflow in ["diff", "deploy", "promote", "status"] {
        assert!(
            found
                .iter()
                .any(|command| command.file.starts_with(".github/workflows/")
                    && command.words.get(1).map(String::as_str) == Some(workflow)),
            "the CI workflow runs `pixelctl {workflow}`"
        );
    }
}
