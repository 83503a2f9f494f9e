//! Galleries: one per job, its images under `images/<galleryId>/`. A small index
//! object per gallery under `jobs/gallery-index/`, named by inverted time, lets S3's ascending
//! listing return the newest first and gives a stable pagination cursor.
//!
//! `total` comes from one more small object, `jobs/gallery-count.json`: galleries
//! recorded per UTC day, updated by compare-and-swap as each gallery is recorded
//! and summed over the days the bucket keeps entries. So `GET /gallery/list` costs
//! one LIST of a page, its entries and one GET, however large the gallery grows
//! (it used to list the whole index on every request to count it).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::store::{ObjectStore, PutCondition, PutOutcome, StoreError};

/// Under `jobs/`, so the function role's S3 prefixes (`images/`, `jobs/`, `ratelimit/`) cover it.
const INDEX_PREFIX: &str = "jobs/gallery-index/";
/// Galleries recorded per day ([`GalleryCounts`]).
const COUNT_KEY: &str = "jobs/gallery-count.json";
/// Compare-and-swap attempts on the count before giving up (the gallery is still listed).
const COUNT_ATTEMPTS: u32 = 50;
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

/// Galleries recorded per UTC day (`2026-11-26` -> count), for `total`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryCounts {
    pub days: BTreeMap<String, u64>,
}

impl GalleryCounts {
    /// The first day whose entries the bucket still keeps at `now`: a lifecycle rule
    /// of `window_days` removes an entry on the night after it turns that old.
    fn first_kept_day(now: SystemTime, window_days: u32) -> String {
        let back = Duration::from_secs(u64::from(window_days) * 86_400);
        clock::day_window(now.checked_sub(back).unwrap_or(SystemTime::UNIX_EPOCH)).0
    }

    /// Galleries the bucket still keeps at `now`.
    pub fn total(&self, now: SystemTime, window_days: u32) -> u64 {
        let first = Self::first_kept_day(now, window_days);
        self.days.range(first..).map(|(_, count)| *count).sum()
    }

    /// Forgets the days whose entries have expired.
    fn prune(&mut self, now: SystemTime, window_days: u32) {
        let first = Self::first_kept_day(now, window_days);
        self.days = self.days.split_off(&first);
    }

    /// The counts of the index keys `keys`, by the day each key's time falls on.
    fn of_index_keys<'a>(keys: impl IntoIterator<Item = &'a String>) -> Self {
        let mut counts = Self::default();
        for key in keys {
            if let Some(day) = day_of_index_key(key) {
                *counts.days.entry(day).or_default() += 1;
            }
        }
        counts
    }
}

/// The UTC day of an index key's (inverted) time.
fn day_of_index_key(key: &str) -> Option<String> {
    let inverted: u64 = key.strip_prefix(INDEX_PREFIX)?.get(..13)?.parse().ok()?;
    let millis = TIME_CEILING.checked_sub(inverted)?;
    Some(clock::day_window(SystemTime::UNIX_EPOCH + Duration::from_millis(millis)).0)
}

/// Records a finished gallery in the index and counts it. Recording the same
/// gallery again (a retried worker) updates its entry without counting it twice.
pub async fn record(
    store: &ObjectStore,
    gallery_id: &str,
    created: SystemTime,
    preview: String,
    image_count: usize,
    window_days: u32,
) -> Result<(), StoreError> {
    let summary = GallerySummary {
        id: gallery_id.to_owned(),
        timestamp: clock::rfc3339(created),
        preview,
        image_count,
    };
    let key = index_key(gallery_id, created);
    if store.put_json(&key, &summary, PutCondition::Absent).await? == PutOutcome::ConditionFailed {
        store.put_json(&key, &summary, PutCondition::Always).await?;
        return Ok(());
    }
    if let Err(e) = count(store, created, window_days).await {
        // The gallery is listed either way; only `total` misses it.
        tracing::warn!(gallery_id, error = %e, "could not count the gallery");
    }
    Ok(())
}

/// Adds one gallery created at `created` to the counts.
async fn count(
    store: &ObjectStore,
    created: SystemTime,
    window_days: u32,
) -> Result<(), StoreError> {
    let day = clock::day_window(created).0;
    for attempt in 1..=COUNT_ATTEMPTS {
        let (mut counts, condition) = match store.get_json::<GalleryCounts>(COUNT_KEY).await? {
            Some((counts, tag)) => (counts, PutCondition::Matches(tag)),
            // First count in this bucket: the index (which holds this gallery already).
            None => (seed(store).await?, PutCondition::Absent),
        };
        if condition != PutCondition::Absent {
            *counts.days.entry(day.clone()).or_default() += 1;
        }
        counts.prune(SystemTime::now(), window_days);
        match store.put_json(COUNT_KEY, &counts, condition).await? {
            PutOutcome::Written => return Ok(()),
            PutOutcome::ConditionFailed => {
                let ceiling = u64::from(attempt.min(12)) * 4 + 2;
                tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=ceiling))).await;
            }
        }
    }
    Err(StoreError::S3 {
        operation: "PutObject",
        key: COUNT_KEY.to_owned(),
        message: format!("still contended after {COUNT_ATTEMPTS} attempts"),
    })
}

/// Counts the whole index once: a bucket whose galleries were recorded before the
/// counts existed.
async fn seed(store: &ObjectStore) -> Result<GalleryCounts, StoreError> {
    let keys = store.list_all(INDEX_PREFIX).await?;
    tracing::info!(entries = keys.len(), "counting the gallery index once");
    Ok(GalleryCounts::of_index_keys(&keys))
}

/// The number of galleries the bucket keeps: one GET, or the one-time seed.
async fn total(store: &ObjectStore, window_days: u32) -> Result<u64, StoreError> {
    let now = SystemTime::now();
    if let Some((counts, _)) = store.get_json::<GalleryCounts>(COUNT_KEY).await? {
        return Ok(counts.total(now, window_days));
    }
    let mut counts = seed(store).await?;
    counts.prune(now, window_days);
    // Someone else may have written the counts meanwhile: theirs stand.
    store
        .put_json(COUNT_KEY, &counts, PutCondition::Absent)
        .await?;
    Ok(counts.total(now, window_days))
}

/// A cursor is the stem of the last index key of the previous page.
pub fn is_valid_cursor(cursor: &str) -> bool {
    !cursor.is_empty()
        && cursor.len() <= 160
        && cursor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A page of galleries, newest first, and how many the bucket keeps
/// (`window_days`: its lifecycle's expiry).
pub async fn list(
    store: &ObjectStore,
    cursor: Option<&str>,
    limit: usize,
    window_days: u32,
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
    let total = total(store, window_days).await?;
    Ok(GalleryPage {
        galleries: found.into_iter().map(|(_, s)| s).collect(),
        total: usize::try_from(total).unwrap_or(usize::MAX),
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

    /// 2027-01-15T08:00:00Z: the instant the cases count from.
    const T0_EPOCH_SECONDS: u64 = 1_800_000_000;

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
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(T0_EPOCH_SECONDS);
        for i in 0..5u64 {
            let id = format!("g{i}");
            record(
                &store,
                &id,
                t0 + Duration::from_secs(i),
                format!("https://cdn/{id}"),
                1,
                3650,
            )
            .await
            .unwrap();
        }
        let first = list(&store, None, 2, 3650).await.unwrap();
        assert_eq!(first.total, 5);
        let ids: Vec<_> = first.galleries.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["g4", "g3"]);
        let cursor = first.next_cursor.unwrap();
        assert!(is_valid_cursor(&cursor));
        let second = list(&store, Some(&cursor), 2, 3650).await.unwrap();
        let ids: Vec<_> = second.galleries.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["g2", "g1"]);
        let third = list(&store, second.next_cursor.as_deref(), 2, 3650)
            .await
            .unwrap();
        assert_eq!(third.galleries.len(), 1);
        assert!(third.next_cursor.is_none());
    }

    #[test]
    fn total_counts_the_days_the_bucket_still_keeps() {
        let day = |d: &str, n: u64| (d.to_owned(), n);
        let counts = GalleryCounts {
            days: [
                day("2026-10-27", 100),
                day("2026-10-28", 5),
                day("2026-11-20", 7),
                day("2026-11-26", 3),
            ]
            .into(),
        };
        // 2026-11-26T05:31:52Z
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_671_112_123);
        // (window in days, total)
        // An entry of 2026-10-27 expires 30 days later, at the midnight after
        // 2026-11-26T05:00: still there with a 30-day window.
        for (window, expected) in [
            (30, 115),
            (29, 15),
            (7, 10),
            (6, 10),
            (5, 3),
            (0, 3),
            (3650, 115),
        ] {
            assert_eq!(counts.total(now, window), expected, "window {window}");
        }
        let mut pruned = counts.clone();
        pruned.prune(now, 29);
        assert_eq!(
            pruned.days.keys().collect::<Vec<_>>(),
            ["2026-10-28", "2026-11-20", "2026-11-26"]
        );
    }

    #[tokio::test]
    async fn recording_again_counts_once_and_old_buckets_are_counted_from_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::Folder(FolderStore::new(dir.path()));
        let now = SystemTime::now();
        // An index written before the counts existed: seeded once from the keys.
        for i in 0..3u64 {
            let summary = GallerySummary {
                id: format!("old{i}"),
                timestamp: clock::rfc3339(now),
                preview: String::new(),
                image_count: 1,
            };
            let key = index_key(&summary.id, now - Duration::from_secs(86_400 * i));
            store
                .put_json(&key, &summary, PutCondition::Always)
                .await
                .unwrap();
        }
        assert_eq!(list(&store, None, 1, 30).await.unwrap().total, 3);
        record(&store, "new", now, "p".into(), 2, 30).await.unwrap();
        record(&store, "new", now, "p".into(), 3, 30).await.unwrap();
        let page = list(&store, None, 10, 30).await.unwrap();
        assert_eq!(page.total, 4, "a gallery recorded twice counts once");
        assert_eq!(
            page.galleries[0].image_count, 3,
            "the entry itself is updated"
        );
        assert_eq!(
            list(&store, None, 10, 1).await.unwrap().total,
            3,
            "a 1-day window"
        );
    }
}
