//! Galleries: one per job, its images under `images/<galleryId>/`. A small index
//! object per gallery under `jobs/gallery-index/`, named by inverted time, lets S3's ascending
//! listing return the newest first and gives a stable pagination cursor.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::store::{ObjectStore, PutCondition, StoreError};

/// Under `jobs/`, so the function role's S3 prefixes (`images/`, `jobs/`, `ratelimit/`) cover it.
const INDEX_PREFIX: &str = "jobs/gallery-index/";
/// Larger than any millisecond timestamp this service will see (year 2286).
const TIME_CEILING: u64 = 9_999_999_999_999;

/// An entry of `GET /gallery/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GallerySummary {
    pub id: String,
    pub timestamp: String,
    pub preview: String,
    pub image_count: usize,
}

/// `GET /gallery/list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GalleryPage {
    pub galleries: Vec<GallerySummary>,
    /// Galleries in all.
    pub total: usize,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An image of `GET /gallery/{galleryId}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GalleryImage {
    pub key: String,
    pub url: String,
    /// The model slug from the file name.
    pub model: String,
}

/// `images/<gallery>/<index>-<slug>.<ext>` for one model's image.
pub fn image_key(gallery_id: &str, index: usize, model_name: &str, extension: &str) -> String {
    let mut slug = String::new();
    for c in model_name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    format!("images/{gallery_id}/{index:02}-{slug}.{extension}")
}

fn index_key(gallery_id: &str, created: SystemTime) -> String {
    let inverted = TIME_CEILING.saturating_sub(clock::epoch_millis(created));
    format!("{INDEX_PREFIX}{inverted:013}-{gallery_id}.json")
}

/// Records a finished gallery in the index.
pub async fn record(
    store: &ObjectStore,
    gallery_id: &str,
    created: SystemTime,
    preview: String,
    image_count: usize,
) -> Result<(), StoreError> {
    let summary = GallerySummary {
        id: gallery_id.to_owned(),
        timestamp: clock::rfc3339(created),
        preview,
        image_count,
    };
    store
        .put_json(
            &index_key(gallery_id, created),
            &summary,
            PutCondition::Always,
        )
        .await
        .map(|_| ())
}

/// A cursor is the stem of the last index key of the previous page.
pub fn is_valid_cursor(cursor: &str) -> bool {
    !cursor.is_empty()
        && cursor.len() <= 160
        && cursor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A page of galleries, newest first.
pub async fn list(
    store: &ObjectStore,
    cursor: Option<&str>,
    limit: usize,
) -> Result<GalleryPage, StoreError> {
    let start_after = cursor.map(|c| format!("{INDEX_PREFIX}{c}.json"));
    let page = store
        .list(INDEX_PREFIX, start_after.as_deref(), limit)
        .await?;
    let mut reads = tokio::task::JoinSet::new();
    for (position, key) in page.keys.iter().enumerate() {
        let store = store.clone();
        let key = key.clone();
        reads.spawn(async move { (position, store.get_json::<GallerySummary>(&key).await) });
    }
    let mut found: Vec<(usize, GallerySummary)> = Vec::new();
    while let Some(joined) = reads.join_next().await {
        if let Ok((position, Ok(Some((summary, _))))) = joined {
            found.push((position, summary));
        }
    }
    found.sort_by_key(|(position, _)| *position);
    let next_cursor = page
        .truncated
        .then(|| page.keys.last())
        .flatten()
        .and_then(|k| k.strip_prefix(INDEX_PREFIX))
        .and_then(|k| k.strip_suffix(".json"))
        .map(str::to_owned);
    let total = store.list_all(INDEX_PREFIX).await?.len();
    Ok(GalleryPage {
        galleries: found.into_iter().map(|(_, s)| s).collect(),
        total,
        next_cursor,
    })
}

/// The images of one gallery (empty if it has none).
pub async fn images(
    store: &ObjectStore,
    image_base_url: &str,
    gallery_id: &str,
) -> Result<Vec<GalleryImage>, StoreError> {
    let keys = store.list_all(&format!("images/{gallery_id}/")).await?;
    Ok(keys
        .into_iter()
        .map(|key| {
            let file = key.rsplit('/').next().unwrap_or_default();
            let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
            let model = stem.split_once('-').map_or(stem, |(_, m)| m).to_owned();
            GalleryImage {
                url: format!("{image_base_url}/{key}"),
                key,
                model,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FolderStore;
    use std::time::Duration;

    #[test]
    fn keys() {
        assert_eq!(
            image_key("g1", 2, "DALL-E 3", "png"),
            "images/g1/02-dall-e-3.png"
        );
        assert_eq!(
            image_key("g1", 10, "Flux Pro 1.1", "jpg"),
            "images/g1/10-flux-pro-1-1.jpg"
        );
        let older = index_key("a", SystemTime::UNIX_EPOCH + Duration::from_secs(100));
        let newer = index_key("b", SystemTime::UNIX_EPOCH + Duration::from_secs(200));
        assert!(newer < older, "newer entries must sort first");
    }

    #[tokio::test]
    async fn pages_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::Folder(FolderStore::new(dir.path()));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for i in 0..5u64 {
            let id = format!("g{i}");
            record(
                &store,
                &id,
                t0 + Duration::from_secs(i),
                format!("https://cdn/{id}"),
                1,
            )
            .await
            .unwrap();
        }
        let first = list(&store, None, 2).await.unwrap();
        assert_eq!(first.total, 5);
        let ids: Vec<_> = first.galleries.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["g4", "g3"]);
        let cursor = first.next_cursor.unwrap();
        assert!(is_valid_cursor(&cursor));
        let second = list(&store, Some(&cursor), 2).await.unwrap();
        let ids: Vec<_> = second.galleries.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["g2", "g1"]);
        let third = list(&store, second.next_cursor.as_deref(), 2)
            .await
            .unwrap();
        assert_eq!(third.galleries.len(), 1);
        assert!(third.next_cursor.is_none());
    }
}
