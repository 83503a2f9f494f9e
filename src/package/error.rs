//! Everything that can stop packaging, each worded so the user knows what to do next.

use std::path::PathBuf;
use std::process::ExitStatus;

use super::elf::summarize;
use super::size::SizeReport;
use super::target::{Architecture, GlibcVersion};

/// Why the Lambda could not be built, checked or zipped.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(
        "unknown architecture `{value}`: expected `x86_64` or `arm64` (CloudFormation's names)"
    )]
    UnknownArchitecture { value: String },

    #[error("invalid glibc version `{value}`: expected numbers like `2.34` or `2.2.5`")]
    InvalidGlibcVersion { value: String },

    #[error(
        "could not start `{program}` (for `{command}`): is the Rust toolchain installed and on PATH?"
    )]
    SpawnBuild {
        program: String,
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`cargo metadata` did not name the target directory: {reason}")]
    TargetDir { reason: String },

    #[error("`{command}` failed ({status}); its errors are printed above. {hint}")]
    BuildFailed {
        command: String,
        status: ExitStatus,
        hint: String,
    },

    #[error(
        "`{command}` succeeded but did not produce `{}`; check that package `{package}` has a \
         `[[bin]]` named `{binary}`",
        path.display()
    )]
    BinaryMissing {
        command: String,
        path: PathBuf,
        package: String,
        binary: String,
    },

    #[error("could not read `{}`: check that the build finished and the file is readable", path.display())]
    ReadBinary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "`bootstrap` is not an ELF executable ({found}); Lambda's `provided.al2023` runtime \
         starts a Linux binary named `bootstrap`, so build the Lambda crate's `bootstrap` bin for \
         `x86_64-unknown-linux-gnu` or `aarch64-unknown-linux-gnu`"
    )]
    NotElf { found: String },

    #[error(
        "`bootstrap` looks like an ELF file but could not be parsed; rebuild it (`cargo clean -p \
         pixel-prompt-api`) and try again"
    )]
    MalformedElf {
        #[source]
        source: goblin::error::Error,
    },

    #[error(
        "`bootstrap` is an ELF for {found}, not Linux; build it for `{}`",
        expected.rust_target()
    )]
    NotLinux {
        found: String,
        expected: Architecture,
    },

    #[error(
        "`bootstrap` is a {found}, not an executable; build the `bootstrap` [[bin]] target, not \
         the library"
    )]
    NotExecutable { found: String },

    #[error(
        "`bootstrap` is built for {found} but the function's architecture is `{expected}`; build \
         with `--target {}` or set the environment's architecture to match the binary",
        expected.rust_target()
    )]
    WrongArchitecture {
        found: String,
        expected: Architecture,
    },

    #[error(
        "`bootstrap` asks for the dynamic loader `{found}`, but Lambda has `{expected}`; build for \
         `{}` (glibc), not musl or a distribution-specific toolchain",
        arch.rust_target()
    )]
    WrongInterpreter {
        found: String,
        expected: &'static str,
        arch: Architecture,
    },

    #[error(
        "`bootstrap` needs GLIBC_{needed} ({}) but {} has glibc {allowed}, so it would fail at \
         cold start with \"GLIBC_{needed} not found\"; put `cargo-zigbuild` on PATH \
         (`pip install cargo-zigbuild ziglang`) so pixelctl links with `cargo zigbuild --target \
         {}.{allowed}`, or build on a machine with glibc {allowed} or older",
        summarize(needed_by),
        allowed.runtime_name().map_or_else(|| "the Lambda runtime".to_owned(), |n| format!("`{n}`")),
        arch.rust_target()
    )]
    GlibcTooNew {
        needed: GlibcVersion,
        needed_by: Vec<String>,
        allowed: GlibcVersion,
        arch: Architecture,
    },

    #[error(
        "`bootstrap` needs glibc version(s) {} that pixelctl cannot date, so it cannot promise \
         they exist on Lambda; find what pulls them in with `objdump -T bootstrap` and avoid it",
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    )]
    UnknownGlibcRequirement { names: Vec<String> },

    #[error(
        "the Lambda package is too large for Lambda: {report}; shrink `bootstrap` (`strip = \
         true`, `lto = true`, `opt-level = \"s\"` in `[profile.lambda]`, fewer dependencies) or \
         deploy it as a container image"
    )]
    TooLarge { report: SizeReport },

    #[error("could not build the zip of `bootstrap` in memory: this is a bug in pixelctl")]
    Zip {
        #[source]
        source: zip::result::ZipError,
    },

    #[error("could not write `{}`: check free space and permissions of the target directory", path.display())]
    WriteArtifact {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
