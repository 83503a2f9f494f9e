//! Step 9's file: `frontend/.env`, updated atomically, keeping whatever else
//! a user put there.

use std::path::Path;

/// `existing` with each of `updates` set: a key already present keeps its
/// place (and the file its comments), new keys are appended.
pub fn merge(existing: &str, updates: &[(&str, &str)]) -> String {
    let mut pending: Vec<(&str, &str)> = updates.to_vec();
    let mut lines: Vec<String> = existing
        .lines()
        .map(|line| {
            let key = line
                .split_once('=')
                .map(|(key, _)| key.trim().trim_start_matches("export ").trim());
            match key.and_then(|key| pending.iter().position(|(wanted, _)| *wanted == key)) {
                Some(index) => {
                    let (key, value) = pending.remove(index);
                    format!("{key}={}", quote(value))
                }
                None => line.to_owned(),
            }
        })
        .collect();
    lines.extend(
        pending
            .into_iter()
            .map(|(key, value)| format!("{key}={}", quote(value))),
    );
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Quotes a value only when a dotenv parser would otherwise misread it.
fn quote(value: &str) -> String {
    if value
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '#' | '"' | '\'' | '$'))
    {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_owned()
    }
}

/// The file as it is now: empty when there is none yet, an error when it is there
/// but cannot be read (it is never replaced as if it were empty: that would drop
/// whatever else the user keeps in it).
pub fn read_existing(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(anyhow::Error::new(error).context(format!(
            "cannot read `{}` to update it; fix its permissions (or remove it) and deploy again, \
or pass --no-env-file to leave it alone",
            path.display()
        ))),
    }
}

/// Writes `path` through a temporary file in the same folder and a rename,
/// so the frontend never reads a half-written file.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.pixelctl-tmp",
        path.file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("env")
    ));
    fs_err::write(&temporary, text)?;
    fs_err::rename(&temporary, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{merge, read_existing};

    #[test]
    fn a_missing_file_reads_as_empty_and_an_unreadable_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let missing = dir.path().join(".env");
        assert_eq!(read_existing(&missing).ok().as_deref(), Some(""));
        // A directory where the file should be cannot be read as text.
        std::fs::create_dir(&missing).unwrap_or_else(|error| panic!("{error}"));
        let message = read_existing(&missing)
            .err()
            .map(|error| format!("{error:#}"))
            .unwrap_or_default();
        assert!(
            message.starts_with(&format!("cannot read `{}` to update it", missing.display())),
            "{message}"
        );
    }

    #[test]
    fn keeps_other_keys_and_comments_and_replaces_in_place() {
        let existing = "# mine\nVITE_API_ENDPOINT=old\nMY_FLAG=1\n";
        let merged = merge(
            existing,
            &[
                ("VITE_API_ENDPOINT", "https://new"),
                ("VITE_ENVIRONMENT", "dev"),
            ],
        );
        assert_eq!(
            merged,
            "# mine\nVITE_API_ENDPOINT=https://new\nMY_FLAG=1\nVITE_ENVIRONMENT=dev\n"
        );
    }

    #[test]
    fn starts_a_new_file_and_quotes_when_needed() {
        assert_eq!(
            merge("", &[("A", "1"), ("B", "two words")]),
            "A=1\nB=\"two words\"\n"
        );
    }
}
