//! Layering: `defaults.yaml` under each file an environment's `extends:` chain
//! names, under the environment's own file; maps merge key by key, anything else
//! (lists included) replaces.

use std::path::Path;

use serde_norway::{Mapping, Value};

use super::error::{ConfigError, did_you_mean};
use super::model::EnvFile;
use super::source::{DEFAULTS_FILE, Source, environment_file, yaml_files};

/// An environment's files, `defaults.yaml` first and its own file (or the base
/// file it is an instance of) last, and what they say together.
pub(super) struct Layers {
    pub(super) sources: Vec<Source>,
    pub(super) file: EnvFile,
}

/// Reads environment `name`'s files and layers them: `defaults.yaml`, then each
/// file the environment's `extends:` chain names, then its own file. Reports every
/// problem of every file at once.
pub(super) fn layer(dir: &Path, name: &str) -> Result<Layers, ConfigError> {
    let own_file = environment_file(dir, name)?;
    let defaults = Source::read(dir, DEFAULTS_FILE)?;
    let mut problems = Vec::new();
    // Own file first, then what it extends, and so on.
    let mut chain: Vec<(Source, Value)> = Vec::new();
    let mut next = Some(own_file);
    while let Some(file) = next.take() {
        let source = Source::read(dir, &file)?;
        let value = match source.parse() {
            Ok(value) => value,
            Err(problem) => {
                problems.push(problem);
                break;
            }
        };
        if let Some(parent) = value.get("extends").and_then(Value::as_str) {
            let parent_file = format!("{parent}.yaml");
            if parent_file == DEFAULTS_FILE
                || chain
                    .iter()
                    .any(|(seen, _)| seen.path.ends_with(&parent_file))
                || source.path.ends_with(&parent_file)
            {
                problems.push(source.problem(
                    "extends",
                    format!("`{parent}` makes a loop of `extends:`"),
                    Some("every environment already layers over defaults.yaml; extend another environment file".to_owned()),
                ));
            } else if !dir.join(&parent_file).is_file() {
                problems.push(
                    source.problem(
                        "extends",
                        format!("there is no environments/{parent_file} to extend"),
                        did_you_mean(parent, yaml_files(dir)?.iter().map(String::as_str))
                            .map(|suggestion| format!("did you mean `{suggestion}`?")),
                    ),
                );
            } else {
                next = Some(parent_file);
            }
        }
        chain.push((source, value));
    }
    let mut merged = Value::Mapping(Mapping::new());
    match defaults.parse() {
        Ok(value) => merge(&mut merged, value),
        Err(problem) => problems.push(problem),
    }
    for (_, value) in chain.iter().rev() {
        merge(&mut merged, value.clone());
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    // The environment's own file is the first of the chain.
    let file: EnvFile = serde_norway::from_value(merged).map_err(|error| {
        let own = chain.first().map_or(&defaults, |(source, _)| source);
        ConfigError::Invalid(vec![own.problem("", error.to_string(), None)])
    })?;
    let mut sources = vec![defaults];
    sources.extend(chain.into_iter().rev().map(|(source, _)| source));
    Ok(Layers { sources, file })
}

/// Overlays `over` onto `base`: maps merge key by key, anything else replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_norway::Value;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn layers_merge_maps_and_replace_the_rest() {
        // (base, over, expected)
        let cases = [
            ("a: 1\nb: 2", "b: 3", "a: 1\nb: 3"),
            (
                "lambda: {memory_mb: 512, timeout_seconds: 29}",
                "lambda: {memory_mb: 1024}",
                "lambda: {memory_mb: 1024, timeout_seconds: 29}",
            ),
            ("models: [x, y, z]", "models: [w]", "models: [w]"),
            ("tags: {a: b}", "tags: {c: d}", "tags: {a: b, c: d}"),
            ("a: {b: 1}", "a: 2", "a: 2"),
            ("a: 1", "{}", "a: 1"),
            ("{}", "new: {x: 1}", "new: {x: 1}"),
        ];
        for (base, over, expected) in cases {
            let mut merged = yaml(base);
            merge(&mut merged, yaml(over));
            assert_eq!(merged, yaml(expected), "{base} + {over}");
        }
    }
}
