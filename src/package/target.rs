//! What the Lambda runs on: the function's CPU architecture and the newest glibc its runtime has.

use std::fmt;
use std::str::FromStr;

use goblin::elf::header::{EM_AARCH64, EM_X86_64};
use serde::{Deserialize, Serialize};

use super::PackageError;

/// A Lambda function architecture, spelled as CloudFormation spells it (`Architectures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    pub const ALL: [Architecture; 2] = [Architecture::X86_64, Architecture::Arm64];

    /// The name CloudFormation and the Lambda API use.
    pub fn cloudformation_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The Rust target triple that produces a binary for this architecture on `provided.al2023`.
    pub fn rust_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The `e_machine` value of an ELF built for this architecture.
    pub fn elf_machine(self) -> u16 {
        match self {
            Architecture::X86_64 => EM_X86_64,
            Architecture::Arm64 => EM_AARCH64,
        }
    }

    /// The glibc dynamic loader (`PT_INTERP`) that exists on `provided.al2023`.
    pub fn dynamic_loader(self) -> &'static str {
        match self {
            Architecture::X86_64 => "/lib64/ld-linux-x86-64.so.2",
            Architecture::Arm64 => "/lib/ld-linux-aarch64.so.1",
        }
    }

    /// The architecture of the machine pixelctl runs on, if Lambda has it.
    pub fn host() -> Option<Architecture> {
        Architecture::from_rust_arch(std::env::consts::ARCH)
    }

    /// Maps Rust's `target_arch` names (`std::env::consts::ARCH`) to a Lambda architecture.
    pub fn from_rust_arch(arch: &str) -> Option<Architecture> {
        match arch {
            "x86_64" => Some(Architecture::X86_64),
            "aarch64" => Some(Architecture::Arm64),
            _ => None,
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cloudformation_name())
    }
}

impl FromStr for Architecture {
    type Err = PackageError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Architecture::ALL
            .into_iter()
            .find(|arch| arch.cloudformation_name() == value)
            .ok_or_else(|| PackageError::UnknownArchitecture {
                value: value.to_owned(),
            })
    }
}

/// A glibc version as it appears in symbol versions (`GLIBC_2.34`, `GLIBC_2.2.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct GlibcVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl GlibcVersion {
    /// The glibc of the `provided.al2023` Lambda runtime.
    pub const PROVIDED_AL2023: GlibcVersion = GlibcVersion::new(2, 34);
    /// The glibc of the older `provided.al2` Lambda runtime.
    pub const PROVIDED_AL2: GlibcVersion = GlibcVersion::new(2, 26);

    pub const fn new(major: u16, minor: u16) -> GlibcVersion {
        GlibcVersion {
            major,
            minor,
            patch: 0,
        }
    }

    /// The Lambda runtime whose glibc this is, for messages.
    pub fn runtime_name(self) -> Option<&'static str> {
        match self {
            GlibcVersion::PROVIDED_AL2023 => Some("provided.al2023"),
            GlibcVersion::PROVIDED_AL2 => Some("provided.al2"),
            _ => None,
        }
    }

    /// Parses the numeric part of a `GLIBC_x.y[.z]` version name; `None` for anything else.
    pub(crate) fn from_version_name(name: &str) -> Option<GlibcVersion> {
        name.strip_prefix("GLIBC_")?.parse().ok()
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

impl FromStr for GlibcVersion {
    type Err = PackageError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = || PackageError::InvalidGlibcVersion {
            value: value.to_owned(),
        };
        let mut parts = value.split('.').map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse::<u16>().ok()
        });
        let major = parts.next().flatten().ok_or_else(invalid)?;
        let minor = parts.next().flatten().ok_or_else(invalid)?;
        let patch = match parts.next() {
            None => 0,
            Some(patch) => patch.ok_or_else(invalid)?,
        };
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(GlibcVersion {
            major,
            minor,
            patch,
        })
    }
}

impl From<GlibcVersion> for String {
    fn from(version: GlibcVersion) -> String {
        version.to_string()
    }
}

impl TryFrom<String> for GlibcVersion {
    type Error = PackageError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_round_trips_through_cloudformation_names() {
        for (name, arch, triple, machine) in [
            (
                "x86_64",
                Architecture::X86_64,
                "x86_64-unknown-linux-gnu",
                62,
            ),
            (
                "arm64",
                Architecture::Arm64,
                "aarch64-unknown-linux-gnu",
                183,
            ),
        ] {
            let parsed: Architecture = name.parse().unwrap();
            assert_eq!(parsed, arch);
            assert_eq!(parsed.to_string(), name);
            assert_eq!(parsed.rust_target(), triple);
            assert_eq!(parsed.elf_machine(), machine);
        }
    }

    #[test]
    fn architecture_rejects_other_spellings_and_says_which_are_valid() {
        for bad in ["aarch64", "X86_64", "amd64", ""] {
            let err = bad.parse::<Architecture>().unwrap_err().to_string();
            assert!(err.contains("`x86_64`") && err.contains("`arm64`"), "{err}");
        }
    }

    #[test]
    fn glibc_versions_parse_display_and_order() {
        let cases = [
            ("2.34", GlibcVersion::new(2, 34), "2.34"),
            (
                "2.2.5",
                GlibcVersion {
                    major: 2,
                    minor: 2,
                    patch: 5,
                },
                "2.2.5",
            ),
            ("2.36", GlibcVersion::new(2, 36), "2.36"),
        ];
        for (text, version, shown) in cases {
            assert_eq!(text.parse::<GlibcVersion>().unwrap(), version);
            assert_eq!(version.to_string(), shown);
        }
        assert!(
            GlibcVersion::new(2, 4) < GlibcVersion::new(2, 34),
            "numeric, not lexical"
        );
        assert!("2.2.5".parse::<GlibcVersion>().unwrap() < GlibcVersion::new(2, 3));
        for bad in ["", "2", "2.", "two.34", "2.34.1.1", "+2.34", "GLIBC_2.34"] {
            assert!(bad.parse::<GlibcVersion>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            GlibcVersion::from_version_name("GLIBC_2.17"),
            Some(GlibcVersion::new(2, 17))
        );
        assert_eq!(GlibcVersion::from_version_name("GLIBC_PRIVATE"), None);
        assert_eq!(GlibcVersion::from_version_name("GCC_3.0"), None);
    }
}
