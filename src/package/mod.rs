//! Turns the `lambda/` crate into a Lambda zip that is known to start on `provided.al2023`.
//!
//! Pipeline: [`cargo_build::build_lambda`] runs cargo, [`elf::check_elf`] refuses a binary
//! the runtime cannot load (architecture, glibc), [`archive::zip_bootstrap`] makes a
//! reproducible zip named by its sha256, and [`size::size_report`] compares it with Lambda's
//! limits. [`package`] runs them all. Only the cargo run and the final write touch the
//! outside world.
//!
//! The root re-exports only what the CLI uses (an unused `pub use` is a warning in a binary
//! crate); everything else is reachable through the public submodules.

pub mod archive;
pub mod cargo_build;
pub mod elf;
mod error;
pub mod known;
pub mod size;
pub mod target;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;
use cargo_build::{BuildCommand, build_lambda};
use elf::{ElfReport, check_elf};
use size::{SizeReport, SizeVerdict, size_report};

pub use archive::{ENTRY_NAME, zip_bootstrap};
pub use cargo_build::{BuildRequest, LAMBDA_PROFILE, LAMBDA_PROFILES};
pub use error::PackageError;
pub use target::{Architecture, GlibcVersion};

/// Progress of packaging, for the UI to show; the core never prints.
#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// Cargo is about to run; its own output follows on stderr.
    BuildStarted {
        command: BuildCommand,
    },
    BuildFinished {
        elapsed: Duration,
    },
    ElfChecked {
        report: ElfReport,
    },
    /// The zip is written (or was already there, byte-identical).
    Packaged {
        artifact: Artifact,
    },
    /// The input is the same file it was when this artifact was made from it: not
    /// read, checked or zipped again ([`known`]).
    Reused {
        artifact: Artifact,
    },
    Warning(PackageWarning),
}

/// Something the user should know that does not stop packaging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PackageWarning {
    /// Plain cargo links against this machine's glibc; only the ELF check guards the result.
    ZigbuildMissing { glibc_max: GlibcVersion },
    /// The artifact is within [`size::WARN_AT_PERCENT`] percent of a Lambda limit.
    NearSizeLimit { report: SizeReport },
}

impl fmt::Display for PackageWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageWarning::ZigbuildMissing { glibc_max } => write!(
                f,
                "`cargo-zigbuild` is not on PATH, so `bootstrap` is linked against this \
                 machine's glibc and may need more than {glibc_max}; \
                 `pip install cargo-zigbuild ziglang` pins it"
            ),
            PackageWarning::NearSizeLimit { report } => write!(
                f,
                "the Lambda package is close to Lambda's limits: {report}"
            ),
        }
    }
}

/// A packaged Lambda: a zip under `target/pixelctl/`, named by its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Lowercase hex sha256 of the zip bytes.
    pub sha256: String,
    /// Where the zip was written: `<target_dir>/pixelctl/<sha256>.zip`.
    pub zip_path: PathBuf,
    pub zipped_size: u64,
    pub unzipped_size: u64,
    /// What the ELF check found (architecture, glibc needed and by which symbols).
    pub elf: ElfReport,
}

impl Artifact {
    /// The S3 object key for this artifact: `artifacts/<sha256>.zip`.
    pub fn key(&self) -> String {
        artifact_key(&self.sha256)
    }

    pub fn size_report(&self) -> SizeReport {
        size_report(self.zipped_size, self.unzipped_size)
    }
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "artifact  {}", self.key())?;
        writeln!(f, "zip       {}", self.zip_path.display())?;
        writeln!(f, "size      {}", self.size_report())?;
        write!(f, "binary    {}", self.elf)
    }
}

/// The S3 key under which a zip with this sha256 is stored.
pub fn artifact_key(sha256: &str) -> String {
    format!("artifacts/{sha256}.zip")
}

/// Builds, checks and zips the Lambda described by `req`; writes the zip to
/// `<target_dir>/pixelctl/<sha256>.zip`.
pub fn package(
    req: &BuildRequest,
    reporter: &mut dyn FnMut(BuildEvent),
) -> Result<Artifact, PackageError> {
    let binary_path = build_lambda(req, reporter)?;
    let out_dir = req.target_dir.join("pixelctl");
    packaged_once(
        &binary_path,
        (req.architecture, req.glibc_max),
        &out_dir,
        reporter,
        |reporter| {
            let binary =
                std::fs::read(&binary_path).map_err(|source| PackageError::ReadBinary {
                    path: binary_path.clone(),
                    source,
                })?;
            package_bootstrap(&binary, req.architecture, req.glibc_max, &out_dir, reporter)
        },
    )
}

/// The artifact made from `input` before, if it is the same file it was then;
/// else what `make` packages, remembered for next time.
pub fn packaged_once<E>(
    input: &Path,
    (architecture, glibc_max): (Architecture, GlibcVersion),
    out_dir: &Path,
    reporter: &mut dyn FnMut(BuildEvent),
    make: impl FnOnce(&mut dyn FnMut(BuildEvent)) -> Result<Artifact, E>,
) -> Result<Artifact, E> {
    // Taken before the input is read: a file that changes meanwhile misses next time.
    let source = known::fingerprint(input, architecture, glibc_max);
    if let Some(artifact) = source
        .as_ref()
        .and_then(|source| known::lookup(out_dir, source))
    {
        reporter(BuildEvent::Reused {
            artifact: artifact.clone(),
        });
        return Ok(artifact);
    }
    let artifact = make(reporter)?;
    if let Some(source) = &source {
        known::remember(out_dir, source, &artifact);
    }
    Ok(artifact)
}

/// Checks and zips an already built `bootstrap` into `out_dir/<sha256>.zip`.
pub fn package_bootstrap(
    binary: &[u8],
    architecture: Architecture,
    glibc_max: GlibcVersion,
    out_dir: &Path,
    reporter: &mut dyn FnMut(BuildEvent),
) -> Result<Artifact, PackageError> {
    let elf = check_elf(binary, architecture, glibc_max)?;
    reporter(BuildEvent::ElfChecked {
        report: elf.clone(),
    });

    let zip_bytes = zip_bootstrap(binary)?;
    let sizes = size_report(len_u64(zip_bytes.len()), len_u64(binary.len()));
    match sizes.verdict() {
        SizeVerdict::OverLimit => return Err(PackageError::TooLarge { report: sizes }),
        SizeVerdict::NearLimit => {
            reporter(BuildEvent::Warning(PackageWarning::NearSizeLimit {
                report: sizes,
            }));
        }
        SizeVerdict::Fits => {}
    }

    let sha256 = sha256_hex(&zip_bytes);
    let zip_path = out_dir.join(format!("{sha256}.zip"));
    write_if_changed(&zip_path, &zip_bytes)?;

    let artifact = Artifact {
        sha256,
        zip_path,
        zipped_size: sizes.zipped.bytes,
        unzipped_size: sizes.unzipped.bytes,
        elf,
    };
    reporter(BuildEvent::Packaged {
        artifact: artifact.clone(),
    });
    Ok(artifact)
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees a
/// half-written zip; skips the write if `path` already holds exactly these bytes.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let write_error = |source| PackageError::WriteArtifact {
        path: path.to_owned(),
        source,
    };
    // fs_err: the cause names the folder or temporary file that failed, not only `path`.
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(write_error)?;
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    fs_err::write(&partial, bytes).map_err(write_error)?;
    fs_err::rename(&partial, path).map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        write_error(source)
    })
}
