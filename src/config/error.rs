//! Errors in environment files, each naming the file, the line and the key,
//! with a hint a user can act on.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// One thing wrong in an environment file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Dotted path of the key, e.g. `lambda.memory_mb` or `models[2].provider`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": `{}`: {}", self.key, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "there is no environment `{name}` in `{dir}`; environments: {}\n  hint: create `{dir}/{name}.yaml` stating what differs from `defaults.yaml`",
        available.join(", ")
    )]
    UnknownEnvironment {
        name: String,
        dir: String,
        available: Vec<String>,
    },
    #[error(
        "`{name}` is a base file for environments named `{pattern}`, not an environment of its own\n  hint: name one of them, e.g. `{example}`"
    )]
    BaseFile {
        name: String,
        pattern: String,
        example: String,
    },
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The individual problems, for reports that gather them across environments.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::Invalid(problems) => problems.clone(),
            other => vec![Problem {
                file: PathBuf::new(),
                line: None,
                key: String::new(),
                message: other.to_string(),
                hint: None,
            }],
        }
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(
            f,
            "{count} problem{} in environment files:",
            if count == 1 { "" } else { "s" }
        )?;
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "  {}", problem.to_string().replace('\n', "\n  "))?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}
