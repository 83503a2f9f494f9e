//! The files of a built web app (`dist/`) and what each is served with: its
//! content type, and whether its name carries a content hash (cached for a
//! year, never changed) or not (`index.html`, `robots.txt`: revalidated on
//! every load). Pure decisions, plus reading a folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{md5_hex, sha256_hex};

/// `Cache-Control` of a file whose name changes with its content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of a file published under a fixed name: browsers and
/// CloudFront ask again each time (answered 304 while unchanged).
pub const REVALIDATE: &str = "no-cache";
/// The page a browser loads first; published last, as the switch.
pub const INDEX: &str = "index.html";
/// Vite's `build.assetsDir`: where it writes the files it names by hash.
const ASSETS_DIR: &str = "assets/";
/// Vite's hash: 8 characters of `[A-Za-z0-9_-]` after a `-`, before the extension.
const HASH_LEN: usize = 8;

/// One file of a built site, as published and as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFile {
    /// Relative to the site's root, with `/` separators (`assets/index-CCQ7F_Jz.js`).
    pub path: String,
    pub sha256: String,
    /// Compared with the S3 ETag of what is already published.
    pub md5: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: String,
}

impl SiteFile {
    /// Whether the file's name changes with its content (cached for a year).
    pub fn is_immutable(&self) -> bool {
        self.cache_control == IMMUTABLE
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot read the built web app in `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the built web app in `{dir}` has no {INDEX}; is it a Vite build?")]
    NoIndex { dir: PathBuf },
    #[error("`{path}` has a name that cannot be published (not UTF-8)")]
    BadName { path: PathBuf },
}

/// The `Content-Type` a file is served with, by its extension.
pub fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Whether Vite named the file by its content: under `assets/`, with
/// `-` and an 8-character hash ending its stem (`assets/index-S-cCqVu4.css`).
/// Anything else (`index.html`, files copied from `public/`) keeps its name
/// from build to build.
pub fn is_content_hashed(path: &str) -> bool {
    let Some(name) = path.strip_prefix(ASSETS_DIR) else {
        return false;
    };
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let Some(cut) = stem.len().checked_sub(HASH_LEN + 1) else {
        return false;
    };
    let (before, hash) = stem.split_at(cut);
    !before.is_empty()
        && !name.contains('/')
        && hash.starts_with('-')
        && hash[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The `Cache-Control` a file is published with.
pub fn cache_control(path: &str) -> &'static str {
    if is_content_hashed(path) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// Describes one file from its path and bytes.
pub fn describe(path: &str, bytes: &[u8]) -> SiteFile {
    SiteFile {
        path: path.to_owned(),
        sha256: sha256_hex(bytes),
        md5: md5_hex(bytes),
        size: bytes.len() as u64,
        content_type: content_type(path).to_owned(),
        cache_control: cache_control(path).to_owned(),
    }
}

/// The identity of a whole site: the same files with the same bytes and
/// headers give the same id, whatever order they were found in.
pub fn site_id(files: &[SiteFile]) -> String {
    let mut lines: Vec<String> = files
        .iter()
        .map(|file| {
            format!(
                "{}\t{}\t{}\t{}\n",
                file.path, file.sha256, file.content_type, file.cache_control
            )
        })
        .collect();
    lines.sort();
    sha256_hex(lines.concat().as_bytes())
}

/// A built site on disk: its folder and its files (sorted by path).
#[derive(Debug, Clone)]
pub struct BuiltSite {
    pub dir: PathBuf,
    pub files: Vec<SiteFile>,
}

impl BuiltSite {
    /// Reads every file under `dir`.
    pub fn scan(dir: &Path) -> Result<Self, SiteError> {
        let mut files = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            let entries = std::fs::read_dir(&folder).map_err(|source| SiteError::Read {
                path: folder.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| SiteError::Read {
                    path: folder.clone(),
                    source,
                })?;
                let path = entry.path();
                let kind = entry.file_type().map_err(|source| SiteError::Read {
                    path: path.clone(),
                    source,
                })?;
                if kind.is_dir() {
                    pending.push(path);
                    continue;
                }
                let relative = path
                    .strip_prefix(dir)
                    .ok()
                    .and_then(Path::to_str)
                    .ok_or_else(|| SiteError::BadName { path: path.clone() })?
                    .replace(std::path::MAIN_SEPARATOR, "/");
                let bytes = std::fs::read(&path).map_err(|source| SiteError::Read {
                    path: path.clone(),
                    source,
                })?;
                files.push(describe(&relative, &bytes));
            }
        }
        if !files.iter().any(|file| file.path == INDEX) {
            return Err(SiteError::NoIndex {
                dir: dir.to_path_buf(),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
        })
    }

    /// A file's bytes, read again at upload time.
    pub fn read(&self, file: &SiteFile) -> Result<Vec<u8>, SiteError> {
        let path = self.dir.join(&file.path);
        std::fs::read(&path).map_err(|source| SiteError::Read { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_immutable_and_the_rest_revalidate() {
        let cases = [
            ("assets/index-CCQ7F_Jz.js", true),
            ("assets/index-S-cCqVu4.css", true),
            ("assets/GalleryView-a1b2c3d4.js", true),
            ("assets/logo-AbCd_-12.svg", true),
            ("index.html", false),
            ("robots.txt", false),
            ("favicon.svg", false),
            ("assets/logo.svg", false),
            ("assets/-CCQ7F_Jz.js", false),
            ("assets/index-CCQ7F.js", false),
            ("assets/index-CCQ7F_J!.js", false),
            ("assets/fonts/inter-CCQ7F_Jz.woff2", false),
            ("static/index-CCQ7F_Jz.js", false),
        ];
        for (path, hashed) in cases {
            assert_eq!(is_content_hashed(path), hashed, "{path}");
            let expected = if hashed { IMMUTABLE } else { REVALIDATE };
            assert_eq!(cache_control(path), expected, "{path}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("assets/index-CCQ7F_Jz.js", "text/javascript; charset=utf-8"),
            ("assets/index-S-cCqVu4.css", "text/css; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("assets/photo-abcdefgh.JPG", "image/jpeg"),
            ("site.webmanifest", "application/manifest+json"),
            ("assets/index-CCQ7F_Jz.js.map", "application/json"),
            ("fonts/a.woff2", "font/woff2"),
            ("LICENSE", "application/octet-stream"),
            ("a.weird", "application/octet-stream"),
        ];
        for (path, expected) in cases {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }

    #[test]
    fn the_site_id_depends_on_content_and_headers_not_order() {
        let a = describe("index.html", b"<html>");
        let b = describe("assets/index-CCQ7F_Jz.js", b"1");
        let id = site_id(&[a.clone(), b.clone()]);
        assert_eq!(id, site_id(&[b.clone(), a.clone()]));
        assert_ne!(id, site_id(&[describe("index.html", b"<html> "), b]));
        assert_eq!(a.md5, "166248a6129a1e4370d20adc2d4c23f3");
        assert_eq!(
            a.sha256,
            "b7d082ee12e91b756ea22e8513b8594eebcf5d39fab813da3cb55794dc888ad7"
        );
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(a.size, 6);
    }

    #[test]
    fn scanning_a_build_reads_every_file_and_needs_an_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/index-CCQ7F_Jz.js"), "x").unwrap();
        std::fs::write(dir.path().join("robots.txt"), "User-agent: *").unwrap();
        assert!(matches!(
            BuiltSite::scan(dir.path()),
            Err(SiteError::NoIndex { .. })
        ));
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        let site = BuiltSite::scan(dir.path()).unwrap();
        let paths: Vec<&str> = site.files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(
            paths,
            ["assets/index-CCQ7F_Jz.js", "index.html", "robots.txt"]
        );
        assert!(site.files[0].is_immutable());
        assert_eq!(site.read(&site.files[1]).unwrap(), b"<!doctype html>");
        assert!(matches!(
            BuiltSite::scan(&dir.path().join("missing")),
            Err(SiteError::Read { .. })
        ));
    }
}
