//! Releases: what every deploy that changed a stack (or the web app it
//! serves) leaves in the ledger, and the pure choices made from them (which is
//! live, what to roll back to, which artifacts and web app files may go, what
//! the next version tag is).

pub mod ledger;
pub mod tag;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::frontend::files::SiteFile;
use crate::git::GitState;

/// How a release came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    Deploy,
    Rollback,
    Promote,
    /// Only the web app changed (`pixelctl publish`, or a deploy that found
    /// the stack unchanged): the stack's side is the live release's.
    Publish,
    /// `deploy --hotswap`: the functions' code replaced outside CloudFormation;
    /// the stack still declares the code of the release before.
    Hotswap,
}

impl fmt::Display for ReleaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Deploy => "deploy",
            Self::Rollback => "rollback",
            Self::Promote => "promote",
            Self::Publish => "publish",
            Self::Hotswap => "hotswap",
        })
    }
}

/// The release a rollback restored or a promotion carried over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSource {
    pub environment: String,
    pub sequence: u64,
}

/// A Lambda zip in the artifact store, by its hash: what a release recorded and
/// what a deploy report shows.
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

/// The web app a release published: every file with its hash and headers,
/// under `prefix` of the stack's bucket. The bytes of the files that are not
/// content-hashed (`index.html` ...) are kept in the artifact store too (see
/// `ledger::page_file_key`), so a rollback can publish them again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontendRecord {
    /// Equal for the same files with the same bytes and headers.
    pub site_id: String,
    pub bucket: String,
    pub prefix: String,
    pub files: Vec<SiteFile>,
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
    /// The web app this release published; `None`: it left the page as it
    /// was (see [`page_at`]), or it predates pages in the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FrontendRecord>,
    /// A hotswap's functions and the `CodeSha256` Lambda reported for each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub functions: BTreeMap<String, String>,
}

impl ReleaseRecord {
    /// Whether `reference` (a sequence number or a git tag) names this release.
    pub fn matches(&self, reference: &str) -> bool {
        reference.parse::<u64>().ok() == Some(self.sequence)
            || self.git_tags.iter().any(|tag| tag == reference)
            || self.git.as_ref().and_then(|git| git.tag.as_deref()) == Some(reference)
    }
}

/// The web app served as of release `sequence`: the newest page published by it
/// or an earlier release (a release that published none left the page as it was).
pub fn page_at(records: &[ReleaseRecord], sequence: u64) -> Option<&FrontendRecord> {
    records
        .iter()
        .filter(|record| record.sequence <= sequence)
        .filter_map(|record| Some((record.sequence, record.frontend.as_ref()?)))
        .max_by_key(|(sequence, _)| *sequence)
        .map(|(_, page)| page)
}

/// Whether two releases serve different pages, as far as the ledger knows
/// (a release with no page recorded is taken to serve the same one).
fn pages_differ(records: &[ReleaseRecord], a: u64, b: u64) -> bool {
    match (page_at(records, a), page_at(records, b)) {
        (Some(a), Some(b)) => a.site_id != b.site_id,
        _ => false,
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

impl SelectError {
    /// Whether the release the user named (`--to`) is what cannot be used, rather
    /// than the history having nothing to roll back to.
    pub fn is_about_the_named_release(&self) -> bool {
        match self {
            Self::Unknown { .. } | Self::Failed { .. } | Self::AlreadyLive { .. } => true,
            Self::NoReleases { .. } | Self::NothingEarlier { .. } => false,
        }
    }
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
                    || pages_differ(records, record.sequence, live.sequence)
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

/// The releases whose web app files must stay: the last `keep` of an
/// environment and its live one.
fn kept_releases(records: &[ReleaseRecord], keep: usize) -> Vec<u64> {
    let mut sequences: Vec<u64> = records.iter().map(|record| record.sequence).collect();
    sequences.sort_unstable_by(|a, b| b.cmp(a));
    sequences.truncate(keep);
    sequences.extend(live(records).map(|record| record.sequence));
    sequences
}

/// Web app files (paths under the prefix) of one environment that may be
/// deleted from its site: published by some release, used by none of the
/// last `keep` (nor the live one). A file no release recorded (a publish in
/// flight) is never chosen.
pub fn site_files_to_delete(
    records: &[ReleaseRecord],
    keep: usize,
    stored: &BTreeSet<String>,
) -> BTreeSet<String> {
    let kept: BTreeSet<&str> = kept_releases(records, keep)
        .into_iter()
        .filter_map(|sequence| page_at(records, sequence))
        .flat_map(|page| page.files.iter().map(|file| file.path.as_str()))
        .collect();
    records
        .iter()
        .filter_map(|record| record.frontend.as_ref())
        .flat_map(|page| page.files.iter().map(|file| file.path.as_str()))
        .filter(|path| !kept.contains(path) && stored.contains(*path))
        .map(str::to_owned)
        .collect()
}

/// Hashes of the web app files whose bytes the artifact store keeps for a
/// rollback (those not content-hashed) that may be deleted: recorded by some
/// release of any environment, needed by none that is kept.
pub fn page_files_to_delete<'a>(
    ledgers: impl IntoIterator<Item = &'a [ReleaseRecord]> + Clone,
    keep: usize,
    stored: &BTreeSet<String>,
) -> BTreeSet<String> {
    let unhashed = |page: &'a FrontendRecord| {
        page.files
            .iter()
            .filter(|file| !file.is_immutable())
            .map(|file| file.sha256.as_str())
    };
    let mut kept: BTreeSet<&str> = BTreeSet::new();
    let mut recorded: BTreeSet<&str> = BTreeSet::new();
    for records in ledgers {
        kept.extend(
            kept_releases(records, keep)
                .into_iter()
                .filter_map(|sequence| page_at(records, sequence))
                .flat_map(unhashed),
        );
        recorded.extend(
            records
                .iter()
                .filter_map(|record| record.frontend.as_ref())
                .flat_map(unhashed),
        );
    }
    recorded
        .into_iter()
        .filter(|hash| !kept.contains(hash) && stored.contains(*hash))
        .map(str::to_owned)
        .collect()
}

/// How a publish shows in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageRecord {
    /// This run recorded a release (the stack changed): the page goes on it.
    AttachTo(u64),
    /// Only the page changed: a new release, the live one's stack with this page.
    Append,
    /// The live release already serves this page: nothing to record.
    AlreadyLive,
}

/// Where a published page (`site_id`) is recorded, given the release this
/// run made (if any) and the page live before it.
pub fn page_record(made: Option<u64>, live_page: Option<&str>, site_id: &str) -> PageRecord {
    match made {
        Some(sequence) => PageRecord::AttachTo(sequence),
        None if live_page == Some(site_id) => PageRecord::AlreadyLive,
        None => PageRecord::Append,
    }
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
            frontend: None,
            functions: BTreeMap::new(),
        }
    }

    fn with_page(mut record: ReleaseRecord, site: &str, files: &[(&str, &str)]) -> ReleaseRecord {
        record.frontend = Some(FrontendRecord {
            site_id: site.to_owned(),
            bucket: "images".to_owned(),
            prefix: "site/".to_owned(),
            files: files
                .iter()
                .map(|(path, bytes)| crate::frontend::files::describe(path, bytes.as_bytes()))
                .collect(),
        });
        record
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
    fn the_page_of_a_release_is_the_newest_published_up_to_it() {
        let records = [
            record(1, true, "a"),
            with_page(record(2, true, "a"), "page-2", &[]),
            record(3, true, "b"),
            with_page(record(4, false, "c"), "page-4", &[]),
            with_page(record(5, true, "c"), "page-5", &[]),
        ];
        let page = |sequence| page_at(&records, sequence).map(|page| page.site_id.as_str());
        assert_eq!(page(1), None);
        assert_eq!(page(2), Some("page-2"));
        assert_eq!(
            page(3),
            Some("page-2"),
            "a deploy with --no-frontend keeps the page"
        );
        assert_eq!(page(5), Some("page-5"));
    }

    #[test]
    fn rollback_goes_back_to_an_earlier_page() {
        // 1 deployed page A, 2 published page B with the same stack.
        let records = [
            with_page(record(1, true, "a"), "A", &[]),
            with_page(record(2, true, "a"), "B", &[]),
        ];
        assert_eq!(
            rollback_target("dev", &records, None).map(|r| r.sequence),
            Ok(1)
        );
        // A page recorded only by the live release: an earlier release without one
        // is not a different page, and nothing else differs.
        let records = [
            record(1, true, "a"),
            with_page(record(2, true, "a"), "B", &[]),
        ];
        assert!(matches!(
            rollback_target("dev", &records, None),
            Err(SelectError::NothingEarlier { live: 2, .. })
        ));
    }

    #[test]
    fn site_files_used_by_kept_releases_stay() {
        let records = [
            with_page(
                record(1, true, "a"),
                "1",
                &[("index.html", "1"), ("assets/a-AAAAAAAA.js", "a")],
            ),
            with_page(
                record(2, true, "a"),
                "2",
                &[("index.html", "2"), ("assets/b-BBBBBBBB.js", "b")],
            ),
            record(3, true, "b"),
            with_page(
                record(4, true, "b"),
                "4",
                &[("index.html", "4"), ("assets/c-CCCCCCCC.js", "c")],
            ),
        ];
        let stored: BTreeSet<String> = [
            "index.html",
            "assets/a-AAAAAAAA.js",
            "assets/b-BBBBBBBB.js",
            "assets/c-CCCCCCCC.js",
            "assets/in-flight-DDDDDDDD.js",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        let doomed = |keep| -> Vec<String> {
            site_files_to_delete(&records, keep, &stored)
                .into_iter()
                .collect()
        };
        // Keeping 2 releases keeps #4 and #3, and #3 serves #2's page.
        assert_eq!(doomed(2), ["assets/a-AAAAAAAA.js"]);
        assert_eq!(doomed(1), ["assets/a-AAAAAAAA.js", "assets/b-BBBBBBBB.js"]);
        assert!(doomed(4).is_empty());
        // The live release's page stays even when newer releases failed.
        let mut failed = records.to_vec();
        let mut newest = with_page(record(5, false, "d"), "5", &[]);
        newest.frontend = None;
        failed.push(newest);
        assert_eq!(
            site_files_to_delete(&failed, 1, &stored)
                .into_iter()
                .collect::<Vec<_>>(),
            ["assets/a-AAAAAAAA.js", "assets/b-BBBBBBBB.js"]
        );
    }

    #[test]
    fn page_files_of_kept_releases_stay_in_the_store() {
        let dev = [
            with_page(
                record(1, true, "a"),
                "1",
                &[("index.html", "one"), ("assets/a-AAAAAAAA.js", "a")],
            ),
            with_page(
                record(2, true, "a"),
                "2",
                &[("index.html", "two"), ("robots.txt", "r")],
            ),
        ];
        let prod = [with_page(
            record(1, true, "a"),
            "1",
            &[("index.html", "one")],
        )];
        let sha = |text: &str| crate::digest::sha256_hex(text.as_bytes());
        let stored: BTreeSet<String> = ["one", "two", "r", "a", "unknown"]
            .into_iter()
            .map(sha)
            .collect();
        let doomed = page_files_to_delete([&dev[..]], 1, &stored);
        assert_eq!(doomed.into_iter().collect::<Vec<_>>(), [sha("one")]);
        // prod's live page still needs "one"; content-hashed files are never stored.
        assert!(page_files_to_delete([&dev[..], &prod[..]], 1, &stored).is_empty());
    }

    #[test]
    fn where_a_published_page_is_recorded() {
        let cases = [
            (Some(7), Some("A"), "A", PageRecord::AttachTo(7)),
            (Some(7), None, "A", PageRecord::AttachTo(7)),
            (None, Some("A"), "A", PageRecord::AlreadyLive),
            (None, Some("A"), "B", PageRecord::Append),
            (None, None, "B", PageRecord::Append),
        ];
        for (made, live, site, expected) in cases {
            assert_eq!(
                page_record(made, live, site),
                expected,
                "{made:?} {live:?} {site}"
            );
        }
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
        let tags = |list: &[&str]| {
            list.iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>()
        };
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
