//! The repository's git state and release tags, by running `git`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The repository's state at a release: its commit, uncommitted changes, and tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitState {
    pub commit: String,
    pub dirty: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .context("cannot run `git`; is it installed?")?;
    if !output.status.success() {
        bail!(
            "`git {}` failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The commit checked out, whether the tree has uncommitted changes, and a tag
/// on that commit if any; `None` outside a git repository.
pub fn state(root: &Path) -> Option<GitState> {
    let commit = git(root, &["rev-parse", "HEAD"]).ok()?;
    let dirty = git(root, &["status", "--porcelain"]).map_or(true, |status| !status.is_empty());
    let tag = git(root, &["tag", "--points-at", "HEAD"])
        .ok()
        .and_then(|tags| tags.lines().next().map(str::to_owned));
    Some(GitState { commit, dirty, tag })
}

pub fn is_dirty(root: &Path) -> anyhow::Result<bool> {
    Ok(!git(root, &["status", "--porcelain"])?.is_empty())
}

/// Tags matching `<env>-v*`.
pub fn release_tags(root: &Path, environment: &str) -> anyhow::Result<Vec<String>> {
    Ok(git(root, &["tag", "--list", &format!("{environment}-v*")])?
        .lines()
        .map(str::to_owned)
        .collect())
}

pub fn tag_exists(root: &Path, tag: &str) -> bool {
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/tags/{tag}"),
        ],
    )
    .is_ok()
}

/// Creates the annotated tag `tag` on `commit`.
pub fn create_tag(root: &Path, tag: &str, commit: &str, message: &str) -> anyhow::Result<()> {
    git(
        root,
        &["tag", "--annotate", tag, commit, "--message", message],
    )
    .map(drop)
}

/// Pushes `tag` to the `origin` remote.
pub fn push_tag(root: &Path, tag: &str) -> anyhow::Result<()> {
    git(root, &["push", "origin", &format!("refs/tags/{tag}")]).map(drop)
}

/// Whether the working tree's `paths` differ from `commit` (committed,
/// staged, unstaged or untracked changes). An error when `commit` is not in
/// this clone.
pub fn differs_from(root: &Path, commit: &str, paths: &[&str]) -> anyhow::Result<bool> {
    git(root, &["cat-file", "-e", &format!("{commit}^{{commit}}")]).with_context(|| {
        format!("commit {commit} is not in this clone (git fetch may bring it)")
    })?;
    let mut diff = vec!["diff", "--name-only", commit, "--"];
    diff.extend_from_slice(paths);
    if !git(root, &diff)?.is_empty() {
        return Ok(true);
    }
    let mut untracked = vec!["ls-files", "--others", "--exclude-standard", "--"];
    untracked.extend_from_slice(paths);
    Ok(!git(root, &untracked)?.is_empty())
}
