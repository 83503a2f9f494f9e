//! Reads `bootstrap` as an ELF file and refuses one that would not start on the Lambda runtime.
//!
//! A binary linked on a newer glibc than the runtime's fails only at cold start, with
//! `GLIBC_2.xx not found`: checking the version needs (`.gnu.version_r`) here turns that
//! into an error before anything is uploaded.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use goblin::elf::Elf;
use goblin::elf::dynamic::DF_1_PIE;
use goblin::elf::header::{
    self, EI_CLASS, EI_DATA, EI_OSABI, ELFCLASS64, ELFDATA2LSB, ELFOSABI_GNU, ELFOSABI_NONE,
    ET_DYN, ET_EXEC,
};
use serde::Serialize;

use super::PackageError;
use super::target::{Architecture, GlibcVersion};

/// Version needs that say "this glibc ABI feature" instead of a release number, with the
/// glibc release that introduced them.
const GLIBC_ABI_MARKERS: &[(&str, GlibcVersion)] = &[
    // Emitted by `ld -z pack-relative-relocs`; a loader without DT_RELR support refuses it.
    ("GLIBC_ABI_DT_RELR", GlibcVersion::new(2, 36)),
    // TLS ABI markers from glibc 2.42; whatever their exact date, far newer than any runtime.
    ("GLIBC_ABI_GNU_TLS", GlibcVersion::new(2, 42)),
    ("GLIBC_ABI_GNU2_TLS", GlibcVersion::new(2, 42)),
];

/// What the ELF check found in an acceptable `bootstrap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ElfReport {
    pub architecture: Architecture,
    /// The dynamic loader (`PT_INTERP`); `None` for a statically linked binary.
    pub interpreter: Option<String>,
    /// Shared libraries the binary loads (`DT_NEEDED`), in file order.
    pub libraries: Vec<String>,
    /// The newest glibc any version need asks for; `None` if it needs no versioned glibc.
    pub glibc_needed: Option<GlibcVersion>,
    /// The symbols (or ABI markers such as `GLIBC_ABI_DT_RELR`) that need `glibc_needed`.
    pub glibc_needed_by: Vec<String>,
    /// The newest glibc the runtime has, which the binary was checked against.
    pub glibc_allowed: GlibcVersion,
}

impl fmt::Display for ElfReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ELF, ", self.architecture)?;
        match self.glibc_needed {
            None if self.interpreter.is_none() => write!(f, "statically linked")?,
            None => write!(f, "needs no versioned glibc symbols")?,
            Some(needed) => write!(
                f,
                "needs GLIBC_{needed} ({})",
                summarize(&self.glibc_needed_by)
            )?,
        }
        write!(f, "; the runtime has glibc {}", self.glibc_allowed)
    }
}

/// Checks that `bytes` is a Linux ELF executable for `arch` that needs no glibc newer than
/// `glibc_max`. Pure: reads nothing but `bytes`.
pub fn check_elf(
    bytes: &[u8],
    arch: Architecture,
    glibc_max: GlibcVersion,
) -> Result<ElfReport, PackageError> {
    if !bytes.starts_with(b"\x7fELF") {
        return Err(PackageError::NotElf {
            found: describe_non_elf(bytes),
        });
    }
    let elf = Elf::parse(bytes).map_err(|source| PackageError::MalformedElf { source })?;
    let ident = &elf.header.e_ident;

    let os_abi = ident[EI_OSABI];
    if os_abi != ELFOSABI_NONE && os_abi != ELFOSABI_GNU {
        return Err(PackageError::NotLinux {
            found: os_abi_name(os_abi),
            expected: arch,
        });
    }

    let is_64_le = ident[EI_CLASS] == ELFCLASS64 && ident[EI_DATA] == ELFDATA2LSB;
    if elf.header.e_machine != arch.elf_machine() || !is_64_le {
        return Err(PackageError::WrongArchitecture {
            found: machine_description(
                elf.header.e_machine,
                ident[EI_CLASS] == ELFCLASS64,
                ident[EI_DATA] == ELFDATA2LSB,
            ),
            expected: arch,
        });
    }

    let is_pie = elf
        .dynamic
        .as_ref()
        .is_some_and(|dynamic| dynamic.info.flags_1 & DF_1_PIE != 0);
    match elf.header.e_type {
        ET_EXEC => {}
        ET_DYN if elf.interpreter.is_some() || is_pie => {}
        ET_DYN => {
            return Err(PackageError::NotExecutable {
                found: "shared library".to_owned(),
            });
        }
        other => {
            return Err(PackageError::NotExecutable {
                found: format!("{} file", header::et_to_str(other)),
            });
        }
    }

    if let Some(found) = elf.interpreter
        && found != arch.dynamic_loader()
    {
        return Err(PackageError::WrongInterpreter {
            found: found.to_owned(),
            expected: arch.dynamic_loader(),
            arch,
        });
    }

    let needs = glibc_needs(&elf);
    if !needs.unknown.is_empty() {
        return Err(PackageError::UnknownGlibcRequirement {
            names: needs.unknown.into_iter().collect(),
        });
    }
    let newest = needs.by_version.last_key_value();
    if let Some((&needed, needed_by)) = newest
        && needed > glibc_max
    {
        return Err(PackageError::GlibcTooNew {
            needed,
            needed_by: needed_by.iter().cloned().collect(),
            allowed: glibc_max,
            arch,
        });
    }

    Ok(ElfReport {
        architecture: arch,
        interpreter: elf.interpreter.map(str::to_owned),
        libraries: elf.libraries.iter().map(|lib| (*lib).to_owned()).collect(),
        glibc_needed: newest.map(|(version, _)| *version),
        glibc_needed_by: newest
            .map(|(_, names)| names.iter().cloned().collect())
            .unwrap_or_default(),
        glibc_allowed: glibc_max,
    })
}

/// The glibc version needs of a binary, each with the symbols that ask for it.
#[derive(Debug, Default)]
struct GlibcNeeds {
    by_version: BTreeMap<GlibcVersion, BTreeSet<String>>,
    /// `GLIBC_*` names that are neither a release number nor a known ABI marker.
    unknown: BTreeSet<String>,
}

fn glibc_needs(elf: &Elf<'_>) -> GlibcNeeds {
    let mut needs = GlibcNeeds::default();
    let Some(verneed) = &elf.verneed else {
        return needs;
    };

    // Version index (as used in `.gnu.version`) -> the glibc version it stands for.
    let mut version_of_index = BTreeMap::new();
    for file in verneed {
        for aux in &file {
            let Some(name) = elf.dynstrtab.get_at(aux.vna_name) else {
                continue;
            };
            if !name.starts_with("GLIBC_") {
                continue; // e.g. `GCC_3.0` from libgcc_s: not glibc's business.
            }
            let marker = GLIBC_ABI_MARKERS
                .iter()
                .find(|(marker, _)| *marker == name)
                .map(|(_, version)| *version);
            match GlibcVersion::from_version_name(name).or(marker) {
                Some(version) => {
                    let symbols = needs.by_version.entry(version).or_default();
                    if marker.is_some() {
                        // Markers have no symbols of their own; name the marker instead.
                        symbols.insert(name.to_owned());
                    }
                    version_of_index.insert(aux.vna_other & 0x7fff, version);
                }
                None => {
                    needs.unknown.insert(name.to_owned());
                }
            }
        }
    }

    if let Some(versym) = &elf.versym {
        for (index, symbol) in elf.dynsyms.iter().enumerate() {
            let Some(version) = versym
                .get_at(index)
                .and_then(|entry| version_of_index.get(&entry.version()))
            else {
                continue;
            };
            if let Some(name) = elf.dynstrtab.get_at(symbol.st_name)
                && !name.is_empty()
            {
                needs
                    .by_version
                    .entry(*version)
                    .or_default()
                    .insert(name.to_owned());
            }
        }
    }
    needs
}

/// Lists at most a handful of names, so a message stays one readable line.
pub(super) fn summarize(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// Names what a file that is not an ELF most likely is, so the message is concrete.
fn describe_non_elf(bytes: &[u8]) -> String {
    let kind = if bytes.is_empty() {
        "the file is empty"
    } else if bytes.starts_with(b"#!") {
        "it is a script"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "it is a zip archive"
    } else if bytes.starts_with(b"MZ") {
        "it is a Windows executable"
    } else if [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
    ]
    .iter()
    .any(|magic| bytes.starts_with(magic))
    {
        "it is a macOS (Mach-O) executable"
    } else {
        "it does not start with the ELF magic bytes"
    };
    kind.to_owned()
}

fn os_abi_name(os_abi: u8) -> String {
    match os_abi {
        header::ELFOSABI_FREEBSD => "FreeBSD".to_owned(),
        header::ELFOSABI_NETBSD => "NetBSD".to_owned(),
        header::ELFOSABI_OPENBSD => "OpenBSD".to_owned(),
        header::ELFOSABI_SOLARIS => "Solaris".to_owned(),
        header::ELFOSABI_STANDALONE => "a bare-metal (standalone) target".to_owned(),
        other => format!("an OS with ELF OS/ABI {other}"),
    }
}

fn machine_description(machine: u16, is_64: bool, is_le: bool) -> String {
    let name = match machine {
        header::EM_X86_64 => "x86_64".to_owned(),
        header::EM_AARCH64 => "aarch64 (arm64)".to_owned(),
        header::EM_386 => "32-bit x86".to_owned(),
        header::EM_ARM => "32-bit ARM".to_owned(),
        header::EM_RISCV => "RISC-V".to_owned(),
        other => format!("machine {} ({other})", header::machine_to_str(other)),
    };
    let mut layout = Vec::new();
    if !is_64 {
        layout.push("32-bit");
    }
    if !is_le {
        layout.push("big-endian");
    }
    if layout.is_empty() {
        name
    } else {
        format!("{name}, {}", layout.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::*;

    const X86_64_2_34: &[u8] = include_bytes!("fixtures/x86_64-glibc-2.34");
    const X86_64_2_36: &[u8] = include_bytes!("fixtures/x86_64-glibc-2.36");
    const AARCH64_2_34: &[u8] = include_bytes!("fixtures/aarch64-glibc-2.34");
    const X86_64_STATIC: &[u8] = include_bytes!("fixtures/x86_64-static-musl");
    const AL2023: GlibcVersion = GlibcVersion::PROVIDED_AL2023;

    /// Replaces the one occurrence of `from` in `bytes` by `to` (same length).
    fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let hits: Vec<usize> = bytes
            .windows(from.len())
            .enumerate()
            .filter(|(_, window)| *window == from)
            .map(|(at, _)| at)
            .collect();
        assert_eq!(hits.len(), 1, "{:?} occurs {} times", from, hits.len());
        let mut out = bytes.to_vec();
        out[hits[0]..hits[0] + to.len()].copy_from_slice(to);
        out
    }

    #[test]
    fn accepts_a_binary_needing_glibc_2_34_and_names_what_needs_it() {
        let report = check_elf(X86_64_2_34, Architecture::X86_64, AL2023).unwrap();
        assert_eq!(report.glibc_needed, Some(GlibcVersion::new(2, 34)));
        assert_eq!(report.glibc_needed_by, ["__libc_start_main"]);
        assert_eq!(
            report.interpreter.as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(report.libraries, ["libc.so.6"]);
        assert_eq!(
            report.to_string(),
            "x86_64 ELF, needs GLIBC_2.34 (__libc_start_main); the runtime has glibc 2.34"
        );
    }

    #[test]
    fn rejects_a_binary_needing_glibc_2_36_with_the_symbol_and_the_fix() {
        let err = check_elf(X86_64_2_36, Architecture::X86_64, AL2023).unwrap_err();
        let PackageError::GlibcTooNew {
            needed, needed_by, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*needed, GlibcVersion::new(2, 36));
        assert_eq!(needed_by, &["pidfd_open"]);
        let message = err.to_string();
        for part in [
            "`bootstrap` needs GLIBC_2.36 (pidfd_open)",
            "`provided.al2023` has glibc 2.34",
            "`cargo zigbuild --target x86_64-unknown-linux-gnu.2.34`",
            "`pip install cargo-zigbuild ziglang`",
        ] {
            assert!(message.contains(part), "{part:?} missing from: {message}");
        }
        // The same binary is fine for a runtime that has 2.36.
        let report =
            check_elf(X86_64_2_36, Architecture::X86_64, GlibcVersion::new(2, 36)).unwrap();
        assert_eq!(report.glibc_needed_by, ["pidfd_open"]);
    }

    #[test]
    fn an_older_runtime_rejects_what_al2023_accepts() {
        let err = check_elf(
            X86_64_2_34,
            Architecture::X86_64,
            GlibcVersion::PROVIDED_AL2,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`provided.al2` has glibc 2.26"), "{err}");
        assert!(err.contains("x86_64-unknown-linux-gnu.2.26"), "{err}");
    }

    #[test]
    fn arm64_binaries_pass_only_for_arm64() {
        let report = check_elf(AARCH64_2_34, Architecture::Arm64, AL2023).unwrap();
        assert_eq!(report.glibc_needed, Some(GlibcVersion::new(2, 34)));
        assert_eq!(
            report.interpreter.as_deref(),
            Some("/lib/ld-linux-aarch64.so.1")
        );

        let err = check_elf(AARCH64_2_34, Architecture::X86_64, AL2023).unwrap_err();
        assert!(
            matches!(err, PackageError::WrongArchitecture { .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("built for aarch64 (arm64)"), "{message}");
        assert!(message.contains("`x86_64`"), "{message}");
        assert!(
            message.contains("--target x86_64-unknown-linux-gnu"),
            "{message}"
        );

        let err = check_elf(X86_64_2_34, Architecture::Arm64, AL2023).unwrap_err();
        assert!(
            err.to_string()
                .contains("built for x86_64 but the function's architecture is `arm64`"),
            "{err}"
        );
    }

    #[test]
    fn other_machines_and_other_systems_are_refused() {
        // e_machine is at offset 18 (little-endian u16); 243 is RISC-V.
        let mut riscv = X86_64_2_34.to_vec();
        riscv[18..20].copy_from_slice(&243u16.to_le_bytes());
        let err = check_elf(&riscv, Architecture::X86_64, AL2023).unwrap_err();
        assert!(err.to_string().contains("built for RISC-V"), "{err}");

        let mut freebsd = X86_64_2_34.to_vec();
        freebsd[EI_OSABI] = header::ELFOSABI_FREEBSD;
        let err = check_elf(&freebsd, Architecture::X86_64, AL2023).unwrap_err();
        assert!(matches!(err, PackageError::NotLinux { .. }), "{err:?}");
        assert!(err.to_string().contains("FreeBSD"), "{err}");
    }

    #[test]
    fn files_that_are_not_elf_are_named_for_what_they_are() {
        let zip = crate::package::zip_bootstrap(X86_64_2_34).unwrap();
        let cases: [(&[u8], &str); 5] = [
            (b"", "the file is empty"),
            (b"#!/bin/sh\nexec ./server\n", "it is a script"),
            (&zip, "it is a zip archive"),
            (b"MZ\x90\x00", "it is a Windows executable"),
            (b"fn main() {}", "does not start with the ELF magic bytes"),
        ];
        for (bytes, expected) in cases {
            let err = check_elf(bytes, Architecture::X86_64, AL2023).unwrap_err();
            assert!(matches!(err, PackageError::NotElf { .. }), "{err:?}");
            assert!(err.to_string().contains(expected), "{err}");
        }
        let err = check_elf(&X86_64_2_34[..40], Architecture::X86_64, AL2023).unwrap_err();
        assert!(matches!(err, PackageError::MalformedElf { .. }), "{err:?}");
        assert!(
            std::error::Error::source(&err).is_some(),
            "keeps goblin's error"
        );
    }

    #[test]
    fn long_symbol_lists_are_shortened() {
        let names: Vec<String> = (1..=7).map(|n| format!("sym{n}")).collect();
        assert_eq!(summarize(&names[..2]), "sym1, sym2");
        assert_eq!(summarize(&names), "sym1, sym2, sym3, sym4, sym5 and 2 more");
    }

    #[test]
    fn a_static_binary_needs_no_glibc() {
        let report = check_elf(X86_64_STATIC, Architecture::X86_64, AL2023).unwrap();
        assert_eq!(report.glibc_needed, None);
        assert_eq!(report.interpreter, None);
        assert!(report.to_string().contains("statically linked"), "{report}");
    }

    #[test]
    fn a_foreign_dynamic_loader_is_refused() {
        let loader = b"/lib64/ld-linux-x86-64.so.2";
        let nix = b"/nix/store/0-glibc/ld.so.2x";
        let binary = patched(X86_64_2_34, loader, nix);
        let err = check_elf(&binary, Architecture::X86_64, AL2023).unwrap_err();
        assert!(
            matches!(err, PackageError::WrongInterpreter { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("`/nix/store/0-glibc/ld.so.2x`"),
            "{err}"
        );
    }

    #[test]
    fn glibc_versions_that_cannot_be_dated_are_refused() {
        let binary = patched(X86_64_2_34, b"GLIBC_2.2.5", b"GLIBC_FUTUR");
        let err = check_elf(&binary, Architecture::X86_64, AL2023).unwrap_err();
        assert!(err.to_string().contains("`GLIBC_FUTUR`"), "{err}");
    }

    // ---- binaries from the host toolchain, when there is one ----

    /// A file of `fixtures/`, found from this source file (absolute or crate-relative).
    fn fixture_path(name: &str) -> std::path::PathBuf {
        let here = Path::new(file!()).with_file_name("fixtures").join(name);
        Path::new(env!("CARGO_MANIFEST_DIR")).join(here)
    }

    /// Compiles a fixture C file with the host gcc; fails with the install hint without it.
    fn gcc(source: &str, extra: &[&str], dir: &Path) -> Vec<u8> {
        let output = dir.join("out");
        let source = fixture_path(source);
        let status = Command::new("gcc")
            .args(["-O2", "-o"])
            .arg(&output)
            .arg(&source)
            .args(extra)
            .status();
        match status {
            Ok(status) if status.success() => std::fs::read(&output).unwrap(),
            Ok(status) => panic!("gcc failed ({status}) on {}", source.display()),
            Err(err) => panic!("these tests need gcc ({err}): apt-get install gcc"),
        }
    }

    /// The newest `GLIBC_x.y` that `objdump -T` lists, if objdump exists.
    fn objdump_max_glibc(bytes: &[u8], dir: &Path) -> Option<GlibcVersion> {
        let path = dir.join("for-objdump");
        std::fs::write(&path, bytes).unwrap();
        let output = Command::new("objdump").arg("-T").arg(&path).output().ok()?;
        String::from_utf8_lossy(&output.stdout)
            .split(|c: char| c == '(' || c == ')' || c.is_whitespace())
            .filter_map(GlibcVersion::from_version_name)
            .max()
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn host_gcc_binaries_are_judged_like_objdump_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let old = gcc("old_glibc.c", &[], dir.path());
        let report = check_elf(&old, Architecture::X86_64, AL2023).unwrap();
        assert_eq!(
            report.glibc_needed,
            Some(GlibcVersion::new(2, 34)),
            "a PIE on glibc >= 2.34"
        );
        if let Some(objdump) = objdump_max_glibc(&old, dir.path()) {
            assert_eq!(report.glibc_needed, Some(objdump));
        }

        let new = gcc("new_glibc.c", &[], dir.path());
        let host_has_2_36 = objdump_max_glibc(&new, dir.path());
        match check_elf(&new, Architecture::X86_64, AL2023) {
            Err(PackageError::GlibcTooNew {
                needed, needed_by, ..
            }) => {
                assert_eq!(needed, GlibcVersion::new(2, 36));
                assert_eq!(needed_by, ["pidfd_open"]);
                if let Some(objdump) = host_has_2_36 {
                    assert_eq!(needed, objdump);
                }
            }
            other => panic!("expected GLIBC_2.36 to be refused: {other:?}"),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn packed_relative_relocations_need_glibc_2_36() {
        let dir = tempfile::tempdir().unwrap();
        let relr = gcc("old_glibc.c", &["-Wl,-z,pack-relative-relocs"], dir.path());
        let err = check_elf(&relr, Architecture::X86_64, AL2023).unwrap_err();
        assert!(
            err.to_string()
                .contains("needs GLIBC_2.36 (GLIBC_ABI_DT_RELR)"),
            "{err}"
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_shared_library_is_not_an_executable() {
        let dir = tempfile::tempdir().unwrap();
        let lib = gcc("old_glibc.c", &["-shared", "-fPIC"], dir.path());
        let err = check_elf(&lib, Architecture::X86_64, AL2023).unwrap_err();
        assert!(matches!(err, PackageError::NotExecutable { .. }), "{err:?}");
        assert!(err.to_string().contains("is a shared library"), "{err}");
    }
}
