//! Content hashes as pixelctl names and compares things by them (artifacts,
//! templates, web app files, reviewed plans): lowercase hex, one implementation.

use md5::{Digest as _, Md5};
use sha2::{Digest as _, Sha256};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex MD5 of `bytes`: only to compare files with S3 ETags.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        for (bytes, expected) in [
            (&b""[..], ""),
            (&[0x00][..], "00"),
            (&[0x0f, 0xa0, 0xff][..], "0fa0ff"),
        ] {
            assert_eq!(super::hex(bytes), expected);
        }
    }

    #[test]
    fn digests_match_their_published_test_vectors() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(super::md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
