//! Tests of the whole packaging pipeline: fixtures end to end, and the real `lambda/` build.

use std::path::Path;

use super::size::{SizeVerdict, size_report};
use super::*;
use crate::digest::sha256_hex;

const X86_64_2_34: &[u8] = include_bytes!("fixtures/x86_64-glibc-2.34");
const X86_64_2_36: &[u8] = include_bytes!("fixtures/x86_64-glibc-2.36");

fn package_into(dir: &Path, binary: &[u8]) -> (Result<Artifact, PackageError>, Vec<BuildEvent>) {
    let mut events = Vec::new();
    let result = package_bootstrap(
        binary,
        Architecture::X86_64,
        GlibcVersion::PROVIDED_AL2023,
        dir,
        &mut |event| events.push(event),
    );
    (result, events)
}

#[test]
fn a_good_binary_becomes_a_zip_named_by_its_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let (artifact, events) = package_into(dir.path(), X86_64_2_34);
    let artifact = artifact.unwrap();

    let zip_bytes = std::fs::read(&artifact.zip_path).unwrap();
    assert_eq!(sha256_hex(&zip_bytes), artifact.sha256);
    assert_eq!(artifact.sha256.len(), 64);
    assert_eq!(
        artifact.zip_path,
        dir.path().join(format!("{}.zip", artifact.sha256))
    );
    assert_eq!(artifact.key(), format!("artifacts/{}.zip", artifact.sha256));
    assert_eq!(zip_bytes, zip_bootstrap(X86_64_2_34).unwrap());
    assert_eq!(artifact.zipped_size, zip_bytes.len() as u64);
    assert_eq!(artifact.unzipped_size, X86_64_2_34.len() as u64);
    assert_eq!(artifact.elf.glibc_needed, Some(GlibcVersion::new(2, 34)));
    assert_eq!(artifact.size_report().verdict(), SizeVerdict::Fits);

    let kinds: Vec<&str> = events
        .iter()
        .map(|event| match event {
            BuildEvent::ElfChecked { .. } => "elf",
            BuildEvent::Packaged { .. } => "packaged",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["elf", "packaged"]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no partial files left behind");
}

#[test]
fn the_artifact_does_not_depend_on_directory_or_time() {
    let first_dir = tempfile::tempdir().unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    let first = package_into(first_dir.path(), X86_64_2_34).0.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100)); // crosses a DOS-time tick
    let second = package_into(&second_dir.path().join("nested"), X86_64_2_34)
        .0
        .unwrap();
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(
        std::fs::read(&first.zip_path).unwrap(),
        std::fs::read(&second.zip_path).unwrap()
    );
    // Packaging again into the same place keeps the same file.
    let again = package_into(first_dir.path(), X86_64_2_34).0.unwrap();
    assert_eq!(again.zip_path, first.zip_path);
}

#[test]
fn a_refused_binary_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (result, events) = package_into(dir.path(), X86_64_2_36);
    assert!(matches!(result, Err(PackageError::GlibcTooNew { .. })));
    assert!(events.is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_artifact_shows_what_the_user_needs() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = package_into(dir.path(), X86_64_2_34).0.unwrap();
    let text = artifact.to_string();
    assert!(
        text.contains(&format!("artifacts/{}.zip", artifact.sha256)),
        "{text}"
    );
    assert!(
        text.contains("needs GLIBC_2.34 (__libc_start_main)"),
        "{text}"
    );
    assert!(text.contains("of 50.0 MB"), "{text}");
}

#[test]
fn size_and_warning_messages_say_what_to_do() {
    let too_large = PackageError::TooLarge {
        report: size_report(60 * 1024 * 1024, 200 * 1024 * 1024),
    }
    .to_string();
    assert!(
        too_large.contains("zip 60.0 MB of 50.0 MB (120%)"),
        "{too_large}"
    );
    assert!(too_large.contains("container image"), "{too_large}");

    let near = PackageWarning::NearSizeLimit {
        report: size_report(45 * 1024 * 1024, 100 * 1024 * 1024),
    }
    .to_string();
    assert!(near.contains("close to Lambda's limits"), "{near}");

    let missing = PackageWarning::ZigbuildMissing {
        glibc_max: GlibcVersion::PROVIDED_AL2023,
    }
    .to_string();
    assert!(
        missing.contains("pip install cargo-zigbuild ziglang"),
        "{missing}"
    );
}

#[test]
fn rustflags_remap_the_cargo_home_alone_and_keep_the_users_flags() {
    use std::path::Path;
    let cases = [
        (
            None,
            "/home/a/.cargo",
            "--remap-path-prefix=/home/a/.cargo=/cargo",
        ),
        (Some("  "), "/c", "--remap-path-prefix=/c=/cargo"),
        (
            Some(" -C target-cpu=x86-64-v2 "),
            "/c",
            "-C target-cpu=x86-64-v2 --remap-path-prefix=/c=/cargo",
        ),
    ];
    for (existing, cargo_home, expected) in cases {
        assert_eq!(
            cargo_build::reproducible_rustflags(existing, Path::new(cargo_home)),
            expected
        );
    }
}
