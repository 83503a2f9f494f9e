//! Object storage for jobs, images, gallery entries and rate-limit counters, behind one
//! enum so the same code runs on S3 (Lambda, or the local AWS) and on a local folder.
//!
//! Key layout: `images/<galleryId>/...` (the only prefix CloudFront may read),
//! `jobs/<jobId>.json`, `jobs/gallery-index/<inverted-time>-<galleryId>.json`, `ratelimit/...`.

mod folder;
mod s3;

pub use folder::FolderStore;
pub use s3::S3Store;

use axum::body::Bytes;

/// A stored object with its version tag.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub etag: String,
    pub content_type: Option<String>,
}

/// The condition of a compare-and-swap write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Write whatever is there.
    Always,
    /// Write only if no object exists (`If-None-Match: *`).
    Absent,
    /// Write only if the object still has this tag (`If-Match`).
    Matches(String),
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    /// Someone else wrote first: read again and retry.
    ConditionFailed,
}

/// One page of keys under a prefix, in ascending order.
#[derive(Debug, Clone, Default)]
pub struct KeyPage {
    pub keys: Vec<String>,
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("S3 `{operation}` on `{key}` failed: {message}")]
    S3 {
        operation: &'static str,
        key: String,
        message: String,
    },
    #[error("local store: `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("key `{0}` is not a valid object key")]
    InvalidKey(String),
    #[error("object `{key}` is not the expected JSON: {message}")]
    Json { key: String, message: String },
}

/// Where objects live.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    S3(S3Store),
    Folder(FolderStore),
}

impl ObjectStore {
    pub async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        match self {
            Self::S3(s) => s.get(key).await,
            Self::Folder(f) => f.get(key).await,
        }
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        match self {
            Self::S3(s) => s.put(key, bytes, content_type, condition).await,
            Self::Folder(f) => f.put(key, bytes, content_type, condition).await,
        }
    }

    /// Keys under `prefix`, ascending, starting after `start_after`, at most `max`.
    pub async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max: usize,
    ) -> Result<KeyPage, StoreError> {
        match self {
            Self::S3(s) => s.list(prefix, start_after, max).await,
            Self::Folder(f) => f.list(prefix, start_after, max).await,
        }
    }

    /// Every key under `prefix` (follows pages).
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        loop {
            let page = self
                .list(prefix, keys.last().map(String::as_str), 1000)
                .await?;
            let done = !page.truncated || page.keys.is_empty();
            keys.extend(page.keys);
            if done {
                return Ok(keys);
            }
        }
    }

    /// Reads a JSON object, `None` if absent.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, String)>, StoreError> {
        let Some(object) = self.get(key).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&object.bytes).map_err(|e| StoreError::Json {
            key: key.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Some((value, object.etag)))
    }

    pub async fn put_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Json {
            key: key.to_owned(),
            message: e.to_string(),
        })?;
        self.put(key, Bytes::from(bytes), "application/json", condition)
            .await
    }
}

/// Rejects keys that could escape a folder or are otherwise odd.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for good in [
            "jobs/a.json",
            "ratelimit/ip/2026-01-01/::1.json",
            "images/g-1/00-x.png",
        ] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/abs", "a/../b", "a//b", "a/./b", "sp ace", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
