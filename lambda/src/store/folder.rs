//! A folder on disk as an object store, for `pixelctl local --data-dir`: conditional
//! writes are compare-and-swap under one lock, so rate limits stay exact in one process.
//!
//! Listing is served from a sorted set of every key, read from disk on the first
//! listing and kept up to date by this store's own writes, so a page costs what S3's
//! does (a range of the sorted keys), not a walk of the whole folder. Objects another
//! process writes into the folder afterwards are read (`get`) but not listed.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use tokio::sync::Mutex;

use super::{KeyPage, PutCondition, PutOutcome, StoreError, StoredObject, check_key};

#[derive(Debug, Clone)]
pub struct FolderStore {
    root: PathBuf,
    write_lock: Arc<Mutex<()>>,
    /// Every key, once something has listed (see the module doc).
    keys: Arc<std::sync::Mutex<Option<BTreeSet<String>>>>,
    walk_lock: Arc<Mutex<()>>,
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A content tag: FNV-1a over the bytes plus the length.
fn etag(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}-{}\"", bytes.len())
}

fn content_type_for(key: &str) -> Option<String> {
    let ext = key.rsplit_once('.').map(|(_, e)| e)?;
    Some(
        match ext {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "webp" => "image/webp",
            "json" => "application/json",
            _ => return None,
        }
        .to_owned(),
    )
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", fastrand::u64(..)));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

impl FolderStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            write_lock: Arc::new(Mutex::new(())),
            keys: Arc::default(),
            walk_lock: Arc::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    pub async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(StoredObject {
                etag: etag(&bytes),
                bytes: Bytes::from(bytes),
                content_type: content_type_for(key),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        _content_type: &str,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        let path = self.path(key)?;
        // Only compare-and-swap needs the lock; a plain write is an atomic rename.
        let _guard = match condition {
            PutCondition::Always => None,
            _ => Some(self.write_lock.lock().await),
        };
        if condition != PutCondition::Always {
            let current = self.get(key).await?;
            let holds = match (&condition, &current) {
                (PutCondition::Absent, None) => true,
                (PutCondition::Matches(tag), Some(object)) => *tag == object.etag,
                _ => false,
            };
            if !holds {
                return Ok(PutOutcome::ConditionFailed);
            }
        }
        // One blocking task for folder, write and rename: fewer hops through tokio's
        // blocking pool under load. Write then rename, so a reader never sees half a file.
        let written = tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| StoreError::Io {
                path: key.to_owned(),
                source: std::io::Error::other(e),
            })?;
        written?;
        if let Some(keys) = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            keys.insert(key.to_owned());
        }
        Ok(PutOutcome::Written)
    }

    pub async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max: usize,
    ) -> Result<KeyPage, StoreError> {
        let loaded = || {
            self.keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_some()
        };
        if !loaded() {
            // One walk, however many requests list at once on a cold store.
            let _walking = self.walk_lock.lock().await;
            if !loaded() {
                let found = self.walk().await?;
                let mut keys = self
                    .keys
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // Writes that landed during the walk are in both: a union keeps them.
                keys.get_or_insert_with(BTreeSet::new).extend(found);
            }
        }
        let from = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after.to_owned()),
            _ => Bound::Included(prefix.to_owned()),
        };
        let keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut page: Vec<String> = match keys.as_ref() {
            Some(all) => all
                .range((from, Bound::Unbounded))
                .take_while(|key| key.starts_with(prefix))
                .take(max.saturating_add(1))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        drop(keys);
        let truncated = page.len() > max;
        page.truncate(max);
        Ok(KeyPage {
            keys: page,
            truncated,
        })
    }

    /// Every key in the folder, read from disk.
    async fn walk(&self) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir, e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(|e| io(&dir, e))? {
                let path = entry.path();
                let file_type = entry.file_type().await.map_err(|e| io(&path, e))?;
                if file_type.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(relative) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = relative.to_string_lossy().replace('\\', "/");
                if !key.contains(".tmp-") {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderStore::new(dir.path());
        let key = "ratelimit/x.json";
        assert_eq!(
            store
                .put(key, Bytes::from_static(b"1"), "", PutCondition::Absent)
                .await
                .unwrap(),
            PutOutcome::Written
        );
        assert_eq!(
            store
                .put(key, Bytes::from_static(b"2"), "", PutCondition::Absent)
                .await
                .unwrap(),
            PutOutcome::ConditionFailed
        );
        let tag = store.get(key).await.unwrap().unwrap().etag;
        assert_eq!(
            store
                .put(
                    key,
                    Bytes::from_static(b"2"),
                    "",
                    PutCondition::Matches(tag.clone())
                )
                .await
                .unwrap(),
            PutOutcome::Written
        );
        assert_eq!(
            store
                .put(
                    key,
                    Bytes::from_static(b"3"),
                    "",
                    PutCondition::Matches(tag)
                )
                .await
                .unwrap(),
            PutOutcome::ConditionFailed
        );
        assert_eq!(&store.get(key).await.unwrap().unwrap().bytes[..], b"2");
    }

    #[tokio::test]
    async fn lists_sorted_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderStore::new(dir.path());
        for key in [
            "g/b.json",
            "g/a.json",
            "g/c.json",
            "h/x.json",
            "images/1/a.png",
        ] {
            store
                .put(key, Bytes::new(), "", PutCondition::Always)
                .await
                .unwrap();
        }
        let page = store.list("g/", None, 2).await.unwrap();
        assert_eq!(page.keys, ["g/a.json", "g/b.json"]);
        assert!(page.truncated);
        let page = store.list("g/", Some("g/b.json"), 2).await.unwrap();
        assert_eq!(page.keys, ["g/c.json"]);
        assert!(!page.truncated);
        assert!(
            store
                .list("nothing/", None, 10)
                .await
                .unwrap()
                .keys
                .is_empty()
        );
        assert_eq!(
            store.list("images/1/", None, 10).await.unwrap().keys,
            ["images/1/a.png"]
        );
    }
}
