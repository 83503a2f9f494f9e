//! Runs cargo to build the Lambda's `bootstrap`, preferring `cargo zigbuild` to pin glibc.
//!
//! Which command to run is decided by a pure function ([`build_command`]) so it can be
//! tested without cargo; [`build_lambda`] only runs it.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

use super::target::{Architecture, GlibcVersion};
use super::{BuildEvent, PackageError, PackageWarning};

/// The Lambda workspace member pixelctl builds by default.
pub const LAMBDA_PACKAGE: &str = "pixel-prompt-api";
/// The Cargo profile the Lambda is built with by default: release, tuned for size
/// (see the workspace `Cargo.toml`: half the binary and less than half the build
/// time of the default release profile, measured in docs/PERFORMANCE.md).
pub const LAMBDA_PROFILE: &str = "lambda";
/// The profile for fast rebuilds (dev's): no LTO, incremental.
pub const LAMBDA_DEV_PROFILE: &str = "lambda-dev";
/// The profiles an environment's `build_profile` may name (defined in the workspace `Cargo.toml`).
pub const LAMBDA_PROFILES: [&str; 2] = [LAMBDA_PROFILE, LAMBDA_DEV_PROFILE];

/// The binary the `provided.*` runtimes start.
pub const LAMBDA_BINARY: &str = "bootstrap";

/// What to build and what it must run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// The directory holding the workspace `Cargo.toml`.
    pub workspace_root: PathBuf,
    /// Cargo's target directory; the zip goes to `<target_dir>/pixelctl/`.
    pub target_dir: PathBuf,
    pub package: String,
    pub binary: String,
    pub architecture: Architecture,
    /// The newest glibc the binary may need (the runtime's).
    pub glibc_max: GlibcVersion,
    /// The Cargo profile (one of [`LAMBDA_PROFILES`]).
    pub profile: String,
}

impl BuildRequest {
    /// The pixelctl defaults: `pixel-prompt-api`'s `bootstrap` for `provided.al2023`, built in
    /// `<workspace_root>/target`.
    pub fn new(workspace_root: impl Into<PathBuf>, architecture: Architecture) -> BuildRequest {
        let workspace_root = workspace_root.into();
        BuildRequest {
            target_dir: workspace_root.join("target"),
            workspace_root,
            package: LAMBDA_PACKAGE.to_owned(),
            binary: LAMBDA_BINARY.to_owned(),
            architecture,
            glibc_max: GlibcVersion::PROVIDED_AL2023,
            profile: LAMBDA_PROFILE.to_owned(),
        }
    }
}

/// The resolved front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Builder {
    Zigbuild,
    Cargo,
}

/// A cargo invocation and where it leaves the binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildCommand {
    pub builder: Builder,
    pub program: String,
    pub args: Vec<String>,
    /// The directory to run it in (the workspace root).
    pub current_dir: PathBuf,
    /// The binary it produces.
    pub output: PathBuf,
}

impl fmt::Display for BuildCommand {
    /// The command as a user would type it (arguments quoted when needed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shell_quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", shell_quote(arg))?;
        }
        Ok(())
    }
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@+,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Decides the cargo command for `req`: `cargo zigbuild` when `zigbuild_on_path`, else plain
/// `cargo build`. Pure.
///
/// The target triple is always passed, so the binary lands in
/// `<target_dir>/<triple>/lambda/` with either front end; `cargo zigbuild` gets the glibc
/// suffix (`x86_64-unknown-linux-gnu.2.34`) that makes zig link against that glibc.
pub fn build_command(req: &BuildRequest, zigbuild_on_path: bool) -> BuildCommand {
    let builder = if zigbuild_on_path {
        Builder::Zigbuild
    } else {
        Builder::Cargo
    };
    let triple = req.architecture.rust_target();
    let (subcommand, target) = match builder {
        Builder::Zigbuild => ("zigbuild", format!("{triple}.{}", req.glibc_max)),
        Builder::Cargo => ("build", triple.to_owned()),
    };
    let args = [
        subcommand,
        "--profile",
        &req.profile,
        "-p",
        &req.package,
        "--bin",
        &req.binary,
        "--target",
        &target,
        "--target-dir",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([req.target_dir.to_string_lossy().into_owned()])
    .collect();
    BuildCommand {
        builder,
        program: "cargo".to_owned(),
        args,
        current_dir: req.workspace_root.clone(),
        output: req
            .target_dir
            .join(triple)
            .join(&req.profile)
            .join(&req.binary),
    }
}

#[cfg(test)]
mod target_dir_tests {
    use super::*;

    #[test]
    fn the_target_directory_is_read_from_cargo_metadata() {
        let cases: [(&[u8], Option<&str>); 4] = [
            (
                br#"{"packages":[],"target_directory":"/cache/shared-target","version":1}"#,
                Some("/cache/shared-target"),
            ),
            (br#"{"packages":[]}"#, None),
            (b"not json", None),
            (br#"{"target_directory":7}"#, None),
        ];
        for (metadata, expected) in cases {
            let found = target_directory(metadata).ok();
            assert_eq!(found.as_deref(), expected.map(Path::new));
        }
    }
}

/// Cargo's own target directory for the workspace at `workspace_root`, as cargo resolves
/// it (`CARGO_TARGET_DIR`, `build.target-dir` in a `.cargo/config.toml`, else
/// `<workspace>/target`), so the Lambda build shares the cache the user's builds use.
pub fn cargo_target_dir(workspace_root: &Path) -> Result<PathBuf, PackageError> {
    let command = "cargo metadata --format-version 1 --no-deps --offline";
    let output = Command::new("cargo")
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| PackageError::SpawnBuild {
            program: "cargo".to_owned(),
            command: command.to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(PackageError::TargetDir {
            reason: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    target_directory(&output.stdout)
}

/// The `target_directory` of `cargo metadata`'s JSON. Pure.
pub fn target_directory(metadata: &[u8]) -> Result<PathBuf, PackageError> {
    let value: serde_json::Value =
        serde_json::from_slice(metadata).map_err(|error| PackageError::TargetDir {
            reason: format!("its output is not JSON: {error}"),
        })?;
    value["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| PackageError::TargetDir {
            reason: "its output has no `target_directory`".to_owned(),
        })
}

/// `RUSTFLAGS` for a reproducible binary: the user's own flags plus the cargo
/// home's remap, so the absolute paths compiled into panic locations of the
/// registry's crates read the same on every machine and the zip's hash depends
/// on the source alone.
///
/// The checkout's own path needs no remap: cargo compiles workspace members
/// with paths relative to the workspace root, and the Lambda profiles strip
/// debug information. Leaving it out keeps `RUSTFLAGS`, which is part of every
/// dependency's fingerprint, the same in every checkout, so a second checkout
/// sharing a target directory reuses the dependencies instead of rebuilding
/// them (docs/PERFORMANCE.md, "Builds from a second checkout").
pub fn reproducible_rustflags(existing: Option<&str>, cargo_home: &Path) -> String {
    let remap = format!("--remap-path-prefix={}=/cargo", cargo_home.display());
    match existing.map(str::trim).filter(|flags| !flags.is_empty()) {
        Some(flags) => format!("{flags} {remap}"),
        None => remap,
    }
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent-cargo-home"))
}

/// Whether an executable named `cargo-zigbuild` is in one of the `path` directories.
pub fn zigbuild_on_path(path: Option<OsString>) -> bool {
    path.is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join("cargo-zigbuild")))
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.with_extension("exe").is_file()
    }
}

/// Builds `req.binary` with the size-tuned `lambda` profile and returns its path. Uses `cargo zigbuild` when
/// `cargo-zigbuild` is on PATH (put it there, or not, to choose).
///
/// Cargo's output (progress and compiler errors) goes straight to this process's stderr;
/// stdout stays clean for pixelctl's own output. The command line is reported before it runs.
pub fn build_lambda(
    req: &BuildRequest,
    reporter: &mut dyn FnMut(BuildEvent),
) -> Result<PathBuf, PackageError> {
    let has_zigbuild = zigbuild_on_path(std::env::var_os("PATH"));
    let command = build_command(req, has_zigbuild);
    if command.builder == Builder::Cargo {
        reporter(BuildEvent::Warning(PackageWarning::ZigbuildMissing {
            glibc_max: req.glibc_max,
        }));
    }
    reporter(BuildEvent::BuildStarted {
        command: command.clone(),
    });

    let shown = command.to_string();
    let started = Instant::now();
    let rustflags =
        reproducible_rustflags(std::env::var("RUSTFLAGS").ok().as_deref(), &cargo_home());
    let status = Command::new(&command.program)
        .args(&command.args)
        .current_dir(&command.current_dir)
        .env("RUSTFLAGS", rustflags)
        .stdin(Stdio::null())
        .stdout(stdout_to_stderr())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|source| PackageError::SpawnBuild {
            program: command.program.clone(),
            command: shown.clone(),
            source,
        })?;
    if !status.success() {
        return Err(PackageError::BuildFailed {
            hint: failure_hint(&command, req),
            command: shown,
            status,
        });
    }
    if !command.output.is_file() {
        return Err(PackageError::BinaryMissing {
            command: shown,
            path: command.output,
            package: req.package.clone(),
            binary: req.binary.clone(),
        });
    }
    reporter(BuildEvent::BuildFinished {
        elapsed: started.elapsed(),
    });
    Ok(command.output)
}

/// Cargo's stdout is rarely used, but it must not mix into pixelctl's (JSON) stdout.
fn stdout_to_stderr() -> Stdio {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            return Stdio::from(fd);
        }
    }
    Stdio::null()
}

/// What to try after a failed build, beyond the compiler errors cargo printed.
fn failure_hint(command: &BuildCommand, req: &BuildRequest) -> String {
    let triple = req.architecture.rust_target();
    let mut hint = format!(
        "Fix the errors, or check that package `{}` builds with `cargo build -p {}`",
        req.package, req.package
    );
    if Architecture::host() != Some(req.architecture) {
        hint.push_str(&format!(
            "; building for `{}` on this machine needs `rustup target add {triple}`",
            req.architecture
        ));
        if command.builder == Builder::Cargo {
            hint.push_str(" and a cross linker (`cargo zigbuild` provides one)");
        }
    }
    if command.builder == Builder::Zigbuild {
        hint.push_str(
            "; `cargo zigbuild` also needs zig (`pip install ziglang`), or take `cargo-zigbuild` off \
             PATH to build with plain cargo",
        );
    }
    hint.push('.');
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(arch: Architecture) -> BuildRequest {
        BuildRequest::new("/ws", arch)
    }

    #[test]
    fn the_command_follows_zigbuild_availability_and_architecture() {
        use Architecture::*;
        let cases = [
            (
                X86_64,
                true,
                "cargo zigbuild --profile lambda -p pixel-prompt-api --bin bootstrap --target x86_64-unknown-linux-gnu.2.34 --target-dir /ws/target",
                "/ws/target/x86_64-unknown-linux-gnu/lambda/bootstrap",
            ),
            (
                X86_64,
                false,
                "cargo build --profile lambda -p pixel-prompt-api --bin bootstrap --target x86_64-unknown-linux-gnu --target-dir /ws/target",
                "/ws/target/x86_64-unknown-linux-gnu/lambda/bootstrap",
            ),
            (
                Arm64,
                true,
                "cargo zigbuild --profile lambda -p pixel-prompt-api --bin bootstrap --target aarch64-unknown-linux-gnu.2.34 --target-dir /ws/target",
                "/ws/target/aarch64-unknown-linux-gnu/lambda/bootstrap",
            ),
            (
                Arm64,
                false,
                "cargo build --profile lambda -p pixel-prompt-api --bin bootstrap --target aarch64-unknown-linux-gnu --target-dir /ws/target",
                "/ws/target/aarch64-unknown-linux-gnu/lambda/bootstrap",
            ),
        ];
        for (arch, on_path, shown, output) in cases {
            let command = build_command(&request(arch), on_path);
            assert_eq!(command.to_string(), shown);
            assert_eq!(command.output, PathBuf::from(output));
            assert_eq!(command.current_dir, PathBuf::from("/ws"));
        }
    }

    #[test]
    fn the_glibc_suffix_follows_the_request() {
        let req = BuildRequest {
            glibc_max: GlibcVersion::PROVIDED_AL2,
            ..request(Architecture::X86_64)
        };
        let command = build_command(&req, true);
        assert!(
            command
                .args
                .contains(&"x86_64-unknown-linux-gnu.2.26".to_owned())
        );
    }

    #[test]
    fn paths_with_spaces_are_quoted_in_the_shown_command() {
        let req = BuildRequest::new("/my work", Architecture::X86_64);
        let shown = build_command(&req, false).to_string();
        assert!(shown.ends_with("--target-dir '/my work/target'"), "{shown}");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn zigbuild_is_found_only_as_an_executable_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = || Some(std::env::join_paths([dir.path()]).unwrap());
        assert!(!zigbuild_on_path(path()));
        assert!(!zigbuild_on_path(None));

        let tool = dir.path().join("cargo-zigbuild");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(!zigbuild_on_path(path()), "not executable");
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert!(zigbuild_on_path(path()));
    }

    #[test]
    fn a_failed_zigbuild_hints_at_zig() {
        let req = request(Architecture::X86_64);
        let hint = failure_hint(&build_command(&req, true), &req);
        assert!(hint.contains("pip install ziglang"), "{hint}");
    }

    #[test]
    fn a_failed_cross_build_hints_at_the_missing_target() {
        // Whatever this machine is, the other architecture is a cross build.
        let foreign = match Architecture::host() {
            Some(Architecture::X86_64) => Architecture::Arm64,
            _ => Architecture::X86_64,
        };
        let req = request(foreign);
        let command = build_command(&req, false);
        let hint = failure_hint(&command, &req);
        assert!(
            hint.contains(&format!("rustup target add {}", foreign.rust_target())),
            "{hint}"
        );
        assert!(hint.contains("cross linker"), "{hint}");
    }
}
