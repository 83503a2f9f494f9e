//! Finds the repository pixelctl works on: the folder holding
//! `environments/` and `templates/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::DEFAULTS_FILE;

/// The project's folders.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
}

impl Project {
    /// Uses `explicit` if given, else the nearest folder upwards from the
    /// current directory that has `environments/defaults.yaml`.
    pub fn discover(explicit: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(root) = explicit {
            if !root.join("environments").join(DEFAULTS_FILE).is_file() {
                bail!(
                    "`{}` has no environments/{DEFAULTS_FILE}; pass the repository's root with --project-dir",
                    root.display()
                );
            }
            return Ok(Self {
                root: root.to_path_buf(),
            });
        }
        let start = std::env::current_dir().context("cannot read the current directory")?;
        start
            .ancestors()
            .find(|dir| dir.join("environments").join(DEFAULTS_FILE).is_file())
            .map(|root| Self { root: root.to_path_buf() })
            .with_context(|| {
                format!(
                    "no pixelctl project here: looked for environments/{DEFAULTS_FILE} in `{}` and its parents; run inside the repository or pass --project-dir",
                    start.display()
                )
            })
    }

    pub fn environments_dir(&self) -> PathBuf {
        self.root.join("environments")
    }

    pub fn template_path(&self) -> PathBuf {
        self.root.join(crate::template::TEMPLATE_FILE)
    }

    /// Where pixelctl keeps build output (zips, manifests).
    pub fn build_dir(&self) -> PathBuf {
        self.root.join("target").join("pixelctl")
    }

    pub fn frontend_env_path(&self) -> PathBuf {
        self.root.join("frontend").join(".env")
    }
}
