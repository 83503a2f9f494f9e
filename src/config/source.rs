//! Reading environment files: which environments `environments/` holds, which
//! file an environment comes from (its own, or a base file's `instances:`), and
//! each file's text, parsed on its own so its problems carry its lines.

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::error::{ConfigError, Problem};
use super::model::EnvFile;
use super::{locate, serde_error};

/// The file every environment layers over.
pub const DEFAULTS_FILE: &str = "defaults.yaml";

/// The names of the environments in `dir`: every `*.yaml` except the defaults and
/// the base files (those declaring `instances:`, which are no environment themselves).
pub fn environment_names(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let mut names: Vec<String> = yaml_files(dir)?
        .into_iter()
        .filter(|name| instances_of(dir, name).is_none())
        .collect();
    names.sort();
    Ok(names)
}

/// Every `*.yaml` in `dir` but the defaults, by name without the extension.
pub(super) fn yaml_files(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| path.file_name().is_some_and(|name| name != DEFAULTS_FILE))
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// The `instances:` pattern of `dir/<name>.yaml`, if it is a base file.
fn instances_of(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.yaml"))).ok()?;
    let value: Value = serde_norway::from_str(&text).ok()?;
    value.get("instances")?.as_str().map(str::to_owned)
}

/// Whether `name` matches `pattern`, where `*` stands for any text (one or more
/// characters). Pure.
pub fn instance_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.get(1..).and_then(|tail| tail.find(part)) {
            Some(at) => rest = &rest[at + 1 + part.len()..],
            None => return false,
        }
    }
    rest.len() > last.len() && rest.ends_with(last)
}

/// The file environment `name` comes from: `<name>.yaml`, or the base file whose
/// `instances:` pattern matches `name`.
pub(super) fn environment_file(dir: &Path, name: &str) -> Result<String, ConfigError> {
    let files = yaml_files(dir)?;
    if files.iter().any(|file| file == name) {
        if let Some(pattern) = instances_of(dir, name) {
            return Err(ConfigError::BaseFile {
                name: name.to_owned(),
                example: pattern.replacen('*', "1", 1).replace('*', ""),
                pattern,
            });
        }
        return Ok(format!("{name}.yaml"));
    }
    for file in &files {
        if instances_of(dir, file).is_some_and(|pattern| instance_matches(&pattern, name)) {
            return Ok(format!("{file}.yaml"));
        }
    }
    Err(ConfigError::UnknownEnvironment {
        name: name.to_owned(),
        dir: dir.display().to_string(),
        available: environment_names(dir)?,
    })
}

/// One source file: its path as shown to users, its text, and what it parsed to.
pub(super) struct Source {
    pub(super) path: PathBuf,
    pub(super) text: String,
}

impl Source {
    /// Reads `dir/file`; problems name it as `environments/file`, the way a
    /// user sees it from the repository's root.
    pub(super) fn read(dir: &Path, file: &str) -> Result<Self, ConfigError> {
        let full = dir.join(file);
        let text = std::fs::read_to_string(&full).map_err(|source| ConfigError::Read {
            path: full.clone(),
            source,
        })?;
        let path = match dir.file_name() {
            Some(folder) => Path::new(folder).join(file),
            None => full,
        };
        Ok(Self { path, text })
    }

    pub(super) fn problem(
        &self,
        key: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Problem {
        Problem {
            file: self.path.clone(),
            line: locate::locate(&self.text, key),
            key: key.to_owned(),
            message: message.into(),
            hint,
        }
    }

    /// Parses the file on its own, so type errors and unknown keys carry its
    /// lines, and returns it as a value ready for layering.
    pub(super) fn parse(&self) -> Result<Value, Problem> {
        if self.text.trim().is_empty() {
            return Ok(Value::Mapping(Mapping::new()));
        }
        serde_norway::from_str::<EnvFile>(&self.text)
            .map_err(|error| serde_error::problem(&self.path, &error))?;
        let value: Value = serde_norway::from_str(&self.text)
            .map_err(|error| serde_error::problem(&self.path, &error))?;
        // A file of comments only states nothing: it must not blank the layers under it.
        Ok(match value {
            Value::Null => Value::Mapping(Mapping::new()),
            value => value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::instance_matches;

    #[test]
    fn instance_patterns_match_whole_names() {
        let cases = [
            ("pr-*", "pr-123", true),
            ("pr-*", "pr-", false),
            ("pr-*", "qa", false),
            ("pr-*", "xpr-1", false),
            ("pr-*-eu", "pr-7-eu", true),
            ("pr-*-eu", "pr-7-us", false),
            ("pr-*-eu", "pr--eu", false),
            ("qa", "qa", true),
            ("qa", "qa2", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                instance_matches(pattern, name),
                expected,
                "{pattern} {name}"
            );
        }
    }
}
