//! The deployable zip: byte-for-byte reproducible, so its sha256 names the code it holds.
//!
//! The same `bootstrap` must give the same zip wherever and whenever it is packaged, or
//! every deploy would look like a code change. Nothing of the file system (mtime, owner,
//! umask, path) goes into the archive.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::PackageError;

/// The only entry: the file the `provided.*` runtimes execute.
pub const ENTRY_NAME: &str = "bootstrap";
/// `rwxr-xr-x`: Lambda needs `bootstrap` to be executable.
pub const ENTRY_MODE: u32 = 0o755;
/// Fixed compression level (zlib's best): another level would change the bytes.
const DEFLATE_LEVEL: i64 = 9;

/// Zips `binary` as the single entry `bootstrap` (mode 0755, mtime 1980-01-01 00:00, deflate).
/// Pure and deterministic: equal inputs give equal bytes.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>, PackageError> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(ENTRY_MODE)
        .large_file(false);
    let zip_error = |source| PackageError::Zip { source };

    let mut writer = ZipWriter::new(Cursor::new(Vec::with_capacity(binary.len() / 2)));
    writer.start_file(ENTRY_NAME, options).map_err(zip_error)?;
    writer
        .write_all(binary)
        .map_err(|source| zip_error(source.into()))?;
    let cursor = writer.finish().map_err(zip_error)?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use zip::ZipArchive;

    use super::*;
    use crate::digest::sha256_hex;

    /// One entry as the zip crate reads it back.
    struct ReadBack {
        name: String,
        mode: Option<u32>,
        modified: Option<DateTime>,
        compression: CompressionMethod,
        content: Vec<u8>,
    }

    fn entries(zip_bytes: &[u8]) -> Vec<ReadBack> {
        let mut archive = ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
        (0..archive.len())
            .map(|index| {
                let mut entry = archive.by_index(index).unwrap();
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                ReadBack {
                    name: entry.name().unwrap().into_owned(),
                    mode: entry.unix_mode(),
                    modified: entry.last_modified(),
                    compression: entry.compression(),
                    content,
                }
            })
            .collect()
    }

    #[test]
    fn same_input_gives_same_bytes_and_other_input_other_bytes() {
        let binary = b"\x7fELF pretend binary".repeat(1000);
        let first = zip_bootstrap(&binary).unwrap();
        let second = zip_bootstrap(&binary.clone()).unwrap();
        assert_eq!(first, second);
        assert_eq!(sha256_hex(&first), sha256_hex(&second));

        let mut changed = binary.clone();
        changed[500] ^= 1;
        let third = zip_bootstrap(&changed).unwrap();
        assert_ne!(first, third);
        assert_ne!(sha256_hex(&first), sha256_hex(&third));
    }

    #[test]
    fn the_one_entry_is_an_executable_bootstrap_from_1980() {
        let binary = b"\x7fELF pretend binary".repeat(1000);
        let zip_bytes = zip_bootstrap(&binary).unwrap();
        let entries = entries(&zip_bytes);
        assert_eq!(entries.len(), 1);
        let ReadBack {
            name,
            mode,
            modified,
            compression,
            content,
        } = &entries[0];
        assert_eq!(name, "bootstrap");
        assert_eq!(mode.map(|mode| mode & 0o7777), Some(0o755));
        assert_eq!(
            mode.map(|mode| mode & 0o170_000),
            Some(0o100_000),
            "a regular file"
        );
        let modified = modified.unwrap();
        assert_eq!(
            (
                modified.year(),
                modified.month(),
                modified.day(),
                modified.hour(),
                modified.minute(),
                modified.second()
            ),
            (1980, 1, 1, 0, 0, 0)
        );
        assert_eq!(*compression, CompressionMethod::Deflated);
        assert_eq!(content, &binary);
        assert!(
            zip_bytes.len() < binary.len() / 10,
            "repetitive input compresses"
        );
    }

    #[test]
    fn an_empty_binary_still_zips_deterministically() {
        assert_eq!(zip_bootstrap(&[]).unwrap(), zip_bootstrap(&[]).unwrap());
    }

    #[test]
    fn sha256_is_lowercase_hex_of_the_bytes() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
