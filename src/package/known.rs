//! Packages already made: a `bootstrap` (or prebuilt zip) that is the same file
//! as when it was last packaged (path, size, modification time, inode) is not
//! read, checked or zipped again; its recorded artifact is used.
//!
//! The record lives next to the zips (`<out_dir>/known/<key>.json`) and is only
//! trusted while the zip it names is still there at its recorded size. Writing a
//! record is best effort: a failure costs the next run a repackaging, nothing else.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::{Architecture, Artifact, GlibcVersion};
use crate::digest::sha256_hex;

/// The identity of an input file as the file system reports it, and what it was
/// checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub path: PathBuf,
    pub len: u64,
    pub modified_ns: u128,
    pub inode: u64,
    pub architecture: Architecture,
    pub glibc_max: GlibcVersion,
}

/// What a record holds: the input's fingerprint and the artifact made from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    pub source: Fingerprint,
    pub artifact: Artifact,
}

/// The fingerprint of `path`, or `None` when the file system can't say (then
/// the input is packaged as usual).
pub fn fingerprint(
    path: &Path,
    architecture: Architecture,
    glibc_max: GlibcVersion,
) -> Option<Fingerprint> {
    let path = path.canonicalize().ok()?;
    let meta = path.metadata().ok()?;
    let modified_ns = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(Fingerprint {
        len: meta.len(),
        modified_ns,
        inode: inode(&meta),
        architecture,
        glibc_max,
        path,
    })
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// Whether a record still describes `current`: the same input, checked against
/// the same runtime, and its zip (`zip_len`, `None` if gone) intact. Pure.
pub fn still_valid(known: &Known, current: &Fingerprint, zip_len: Option<u64>) -> bool {
    known.source == *current && zip_len == Some(known.artifact.zipped_size)
}

fn record_path(out_dir: &Path, current: &Fingerprint) -> PathBuf {
    let key = sha256_hex(current.path.to_string_lossy().as_bytes());
    out_dir.join("known").join(format!("{}.json", &key[..32]))
}

/// The artifact made from exactly this input, if a valid record says so.
pub fn lookup(out_dir: &Path, current: &Fingerprint) -> Option<Artifact> {
    let text = std::fs::read(record_path(out_dir, current)).ok()?;
    let known: Known = serde_json::from_slice(&text).ok()?;
    let zip_len = known
        .artifact
        .zip_path
        .metadata()
        .ok()
        .map(|meta| meta.len());
    still_valid(&known, current, zip_len).then_some(known.artifact)
}

/// Records that `artifact` was made from `source` (best effort).
pub fn remember(out_dir: &Path, source: &Fingerprint, artifact: &Artifact) {
    let path = record_path(out_dir, source);
    let known = Known {
        source: source.clone(),
        artifact: artifact.clone(),
    };
    let Ok(text) = serde_json::to_vec_pretty(&known) else {
        return;
    };
    if let Some(dir) = path.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        if std::fs::write(&partial, text).is_ok() && std::fs::rename(&partial, &path).is_err() {
            let _ = std::fs::remove_file(&partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::elf::ElfReport;

    fn source() -> Fingerprint {
        Fingerprint {
            path: PathBuf::from("/w/target/x86_64-unknown-linux-gnu/lambda-dev/bootstrap"),
            len: 23_325_992,
            modified_ns: 1_795_000_000_000_000_000,
            inode: 42,
            architecture: Architecture::X86_64,
            glibc_max: GlibcVersion::PROVIDED_AL2023,
        }
    }

    fn known() -> Known {
        Known {
            source: source(),
            artifact: Artifact {
                sha256: "ab".repeat(32),
                zip_path: PathBuf::from("/w/target/pixelctl/abab.zip"),
                zipped_size: 8_718_604,
                unzipped_size: 23_325_992,
                elf: ElfReport {
                    architecture: Architecture::X86_64,
                    interpreter: Some("/lib64/ld-linux-x86-64.so.2".to_owned()),
                    libraries: vec!["libc.so.6".to_owned()],
                    glibc_needed: Some(GlibcVersion::new(2, 34)),
                    glibc_needed_by: vec!["__libc_start_main".to_owned()],
                    glibc_allowed: GlibcVersion::PROVIDED_AL2023,
                },
            },
        }
    }

    #[test]
    fn a_record_holds_only_for_the_same_input_checked_the_same_way_with_its_zip() {
        let rebuilt = Fingerprint {
            modified_ns: source().modified_ns + 1,
            ..source()
        };
        let resized = Fingerprint { len: 1, ..source() };
        let replaced = Fingerprint {
            inode: 43,
            ..source()
        };
        let elsewhere = Fingerprint {
            path: PathBuf::from("/other/bootstrap"),
            ..source()
        };
        let arm = Fingerprint {
            architecture: Architecture::Arm64,
            ..source()
        };
        let older_runtime = Fingerprint {
            glibc_max: GlibcVersion::new(2, 26),
            ..source()
        };
        let zip = Some(8_718_604);
        let cases = [
            (source(), zip, true),
            (source(), None, false),
            (source(), Some(8_718_603), false),
            (rebuilt, zip, false),
            (resized, zip, false),
            (replaced, zip, false),
            (elsewhere, zip, false),
            (arm, zip, false),
            (older_runtime, zip, false),
        ];
        for (current, zip_len, valid) in cases {
            assert_eq!(
                still_valid(&known(), &current, zip_len),
                valid,
                "{current:?} {zip_len:?}"
            );
        }
    }

    #[test]
    fn a_remembered_artifact_is_found_again_until_its_zip_goes() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let zip = dir.path().join("a.zip");
        std::fs::write(&zip, vec![0u8; 8_718_604]).unwrap_or_default();
        let mut record = known();
        record.artifact.zip_path = zip.clone();
        remember(dir.path(), &record.source, &record.artifact);
        assert_eq!(lookup(dir.path(), &source()), Some(record.artifact.clone()));
        let moved = Fingerprint {
            modified_ns: 1,
            ..source()
        };
        assert_eq!(lookup(dir.path(), &moved), None);
        std::fs::remove_file(&zip).unwrap_or_default();
        assert_eq!(lookup(dir.path(), &source()), None);
    }
}
