//! Releases: what every deploy that changed a stack leaves in the ledger, and
//! the pure choices made from them (which is live, what to roll back to,
//! which artifacts may go, what the next version tag is).

pub mod ledger;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// How a release came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    Deploy,
    Rollback,
    Promote,
}

/// The release a rollback restored or a promotion carried over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSource {
    pub environment: String,
    pub sequence: u64,
}

/// The repository's state when the release was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitState {
    pub commit: String,
    pub dirty: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub bucket: String,
    pub key: String,
    pub sha256: String,
}

/// A stored copy of the template body, by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    pub bucket: String,
    pub key: String,
    pub sha256: String,
}

/// One release of one environment, as kept in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub environment: String,
    pub sequence: u64,
    pub time: String,
    pub who: String,
    pub kind: ReleaseKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ReleaseSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitState>,
    pub artifact: ArtifactRef,
    pub template: TemplateRef,
    /// Parameter values, secret ones left out.
    pub parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    pub stack_name: String,
    pub stack_status: String,
    pub succeeded: bool,
    pub pixelctl_version: String,
    /// Git tags created for this release afterwards (`pixelctl tag`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub git_tags: Vec<String>,
}

impl ReleaseRecord {
    /// Whether `reference` (a sequence number or a git tag) names this release.
    pub fn matches(&self, reference: &str) -> bool {
        reference.parse::<u64>().ok() == Some(self.sequence)
            || self.git_tags.iter().any(|tag| tag == reference)
            || self.git.as_ref().and_then(|git| git.tag.as_deref()) == Some(reference)
    }
}

/// The release live now: the newest one that succeeded.
pub fn live(records: &[ReleaseRecord]) -> Option<&ReleaseRecord> {
    records
        .iter()
        .filter(|record| record.succeeded)
        .max_by_key(|record| record.sequence)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectError {
    #[error("`{environment}` has no release yet: deploy it first")]
    NoReleases { environment: String },
    #[error("`{environment}` has no successful release before #{live} to roll back to")]
    NothingEarlier { environment: String, live: u64 },
    #[error(
        "`{environment}` has no release `{reference}`; `pixelctl history {environment}` lists them"
    )]
    Unknown {
        environment: String,
        reference: String,
    },
    #[error("release #{sequence} of `{environment}` failed; roll back to one that succeeded")]
    Failed { environment: String, sequence: u64 },
    #[error("release #{sequence} of `{environment}` is the one live now")]
    AlreadyLive { environment: String, sequence: u64 },
}

/// The release a rollback restores: the one named, or the successful one
/// before the live one.
pub fn rollback_target<'a>(
    environment: &str,
    records: &'a [ReleaseRecord],
    to: Option<&str>,
) -> Result<&'a ReleaseRecord, SelectError> {
    let live = live(records).ok_or_else(|| SelectError::NoReleases {
        environment: environment.to_owned(),
    })?;
    match to {
        Some(reference) => {
            let target = records
                .iter()
                .find(|record| record.matches(reference))
                .ok_or_else(|| SelectError::Unknown {
                    environment: environment.to_owned(),
                    reference: reference.to_owned(),
                })?;
            if !target.succeeded {
                return Err(SelectError::Failed {
                    environment: environment.to_owned(),
                    sequence: target.sequence,
                });
            }
            if target.sequence == live.sequence {
                return Err(SelectError::AlreadyLive {
                    environment: environment.to_owned(),
                    sequence: target.sequence,
                });
            }
            Ok(target)
        }
        None => records
            .iter()
            .filter(|record| record.succeeded && record.sequence < live.sequence)
            // Skip releases that carry exactly what is live: going "back" to them changes nothing.
            .filter(|record| {
                record.artifact.sha256 != live.artifact.sha256
                    || record.parameters != live.parameters
                    || record.template.sha256 != live.template.sha256
            })
            .max_by_key(|record| record.sequence)
            .ok_or_else(|| SelectError::NothingEarlier {
                environment: environment.to_owned(),
                live: live.sequence,
            }),
    }
}

/// Artifact keys that must stay: those of the last `keep` releases of each
/// environment, plus every key a stack runs now.
pub fn artifacts_to_keep<'a>(
    ledgers: impl IntoIterator<Item = &'a [ReleaseRecord]>,
    keep: usize,
    live_keys: impl IntoIterator<Item = String>,
) -> BTreeSet<String> {
    let mut kept: BTreeSet<String> = live_keys.into_iter().collect();
    for records in ledgers {
        let mut sorted: Vec<&ReleaseRecord> = records.iter().collect();
        sorted.sort_by_key(|record| std::cmp::Reverse(record.sequence));
        kept.extend(
            sorted
                .into_iter()
                .take(keep)
                .map(|record| record.artifact.key.clone()),
        );
    }
    kept
}

/// A `MAJOR.MINOR.PATCH` version, as in the tags `<env>-vX.Y.Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(|part| part.parse::<u64>().ok());
        let version = Self {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(version)
    }

    pub fn bump(self, part: Bump) -> Self {
        match part {
            Bump::Major => Self {
                major: self.major + 1,
                minor: 0,
                patch: 0,
            },
            Bump::Minor => Self {
                minor: self.minor + 1,
                patch: 0,
                ..self
            },
            Bump::Patch => Self {
                patch: self.patch + 1,
                ..self
            },
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bump {
    Major,
    Minor,
    Patch,
}

/// The next tag of `environment` after the `existing` tags (`dev-v1.2.3`);
/// the first is `<env>-v0.1.0` for a patch or minor bump, `<env>-v1.0.0` for major.
pub fn next_tag(environment: &str, existing: &[String], bump: Bump) -> String {
    let prefix = format!("{environment}-v");
    let latest = existing
        .iter()
        .filter_map(|tag| tag.strip_prefix(&prefix))
        .filter_map(Version::parse)
        .max();
    let next = match latest {
        Some(version) => version.bump(bump),
        None => Version {
            major: 0,
            minor: 0,
            patch: 0,
        }
        .bump(if bump == Bump::Patch {
            Bump::Minor
        } else {
            bump
        }),
    };
    format!("{prefix}{next}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sequence: u64, succeeded: bool, sha: &str) -> ReleaseRecord {
        ReleaseRecord {
            environment: "dev".to_owned(),
            sequence,
            time: "2026-11-26T06:00:00Z".to_owned(),
            who: "arn:aws:iam::123456789012:user/ci".to_owned(),
            kind: ReleaseKind::Deploy,
            source: None,
            git: None,
            artifact: ArtifactRef {
                bucket: "b".to_owned(),
                key: format!("artifacts/{sha}.zip"),
                sha256: sha.to_owned(),
            },
            template: TemplateRef {
                bucket: "b".to_owned(),
                key: "templates/t.yaml".to_owned(),
                sha256: "t".to_owned(),
            },
            parameters: BTreeMap::new(),
            tags: BTreeMap::new(),
            outputs: BTreeMap::new(),
            stack_name: "pixel-prompt-dev".to_owned(),
            stack_status: if succeeded {
                "UPDATE_COMPLETE"
            } else {
                "UPDATE_ROLLBACK_COMPLETE"
            }
            .to_owned(),
            succeeded,
            pixelctl_version: "0.1.0".to_owned(),
            git_tags: Vec::new(),
        }
    }

    #[test]
    fn live_is_the_newest_success() {
        let records = [
            record(1, true, "a"),
            record(2, true, "b"),
            record(3, false, "c"),
        ];
        assert_eq!(live(&records).map(|r| r.sequence), Some(2));
        assert_eq!(live(&[]), None);
    }

    #[test]
    fn rollback_targets() {
        let mut tagged = record(2, true, "b");
        tagged.git_tags.push("dev-v0.2.0".to_owned());
        let records = [
            record(1, true, "a"),
            tagged,
            record(3, false, "c"),
            record(4, true, "d"),
        ];
        let target = |to: Option<&str>| rollback_target("dev", &records, to).map(|r| r.sequence);
        assert_eq!(target(None), Ok(2));
        assert_eq!(target(Some("1")), Ok(1));
        assert_eq!(target(Some("dev-v0.2.0")), Ok(2));
        assert!(matches!(
            target(Some("3")),
            Err(SelectError::Failed { sequence: 3, .. })
        ));
        assert!(matches!(
            target(Some("4")),
            Err(SelectError::AlreadyLive { .. })
        ));
        assert!(matches!(
            target(Some("9")),
            Err(SelectError::Unknown { .. })
        ));
        assert!(matches!(
            rollback_target("dev", &records[..1], None),
            Err(SelectError::NothingEarlier { live: 1, .. })
        ));
        assert!(matches!(
            rollback_target("dev", &[], None),
            Err(SelectError::NoReleases { .. })
        ));
    }

    #[test]
    fn rollback_skips_releases_identical_to_the_live_one() {
        // 3 rolled back to 1: going back from 3 must reach 2, not 1 again.
        let records = [
            record(1, true, "a"),
            record(2, true, "b"),
            record(3, true, "a"),
        ];
        assert_eq!(
            rollback_target("dev", &records, None).map(|r| r.sequence),
            Ok(2)
        );
    }

    #[test]
    fn keeps_recent_and_live_artifacts() {
        let dev = [
            record(1, true, "a"),
            record(2, true, "b"),
            record(3, true, "c"),
        ];
        let prod = [record(1, true, "a")];
        let kept = artifacts_to_keep([&dev[..], &prod[..]], 2, ["artifacts/z.zip".to_owned()]);
        let kept: Vec<&str> = kept.iter().map(String::as_str).collect();
        assert_eq!(
            kept,
            [
                "artifacts/a.zip",
                "artifacts/b.zip",
                "artifacts/c.zip",
                "artifacts/z.zip"
            ]
        );
        let kept = artifacts_to_keep([&dev[..]], 1, []);
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), ["artifacts/c.zip"]);
    }

    #[test]
    fn next_tags() {
        let tags = |list: &[&str]| list.iter().map(|tag| tag.to_string()).collect::<Vec<_>>();
        assert_eq!(next_tag("dev", &[], Bump::Patch), "dev-v0.1.0");
        assert_eq!(next_tag("dev", &[], Bump::Major), "dev-v1.0.0");
        let existing = tags(&[
            "dev-v0.1.0",
            "dev-v0.10.2",
            "dev-v0.9.9",
            "prod-v5.0.0",
            "dev-vx",
        ]);
        assert_eq!(next_tag("dev", &existing, Bump::Patch), "dev-v0.10.3");
        assert_eq!(next_tag("dev", &existing, Bump::Minor), "dev-v0.11.0");
        assert_eq!(next_tag("dev", &existing, Bump::Major), "dev-v1.0.0");
        assert_eq!(Version::parse("1.2"), None);
        assert_eq!(Version::parse("1.2.3.4"), None);
    }
}
