//! The ledger in the artifact store: one JSON object per release under
//! `releases/<env>/`, written with a conditional put so that no record is
//! ever overwritten, also when two deploys race. The bytes of each web app's
//! files that are not content-hashed (`index.html` ...) are kept beside it
//! under `frontends/files/<sha256>`, so that a rollback can publish them again.

use anyhow::{Context, bail};

use super::{FrontendRecord, ReleaseRecord, TemplateRef};
use crate::aws::{Aws, StoredHash, Written};
use crate::digest::sha256_hex;

/// How often a write retries after losing a race for a sequence number.
const WRITE_ATTEMPTS: usize = 20;

fn prefix(environment: &str) -> String {
    format!("releases/{environment}/")
}

fn record_key(environment: &str, sequence: u64) -> String {
    format!("{}{sequence:010}.json", prefix(environment))
}

fn sequence_of(key: &str) -> Option<u64> {
    key.rsplit('/').next()?.strip_suffix(".json")?.parse().ok()
}

/// Now, as an RFC 3339 UTC timestamp (`2026-11-26T06:01:02Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Every release of `environment`, oldest first.
pub async fn list(
    aws: &Aws,
    bucket: &str,
    environment: &str,
) -> anyhow::Result<Vec<ReleaseRecord>> {
    let mut keys: Vec<(u64, String)> = aws
        .list_keys(bucket, &prefix(environment))
        .await?
        .into_iter()
        .filter_map(|key| Some((sequence_of(&key)?, key)))
        .collect();
    keys.sort();
    let mut records = Vec::with_capacity(keys.len());
    for (_, key) in keys {
        let Some(object) = aws.get_object(bucket, &key).await? else {
            continue;
        };
        let record: ReleaseRecord = serde_json::from_slice(&object.bytes).with_context(|| {
            format!("the release record `s3://{bucket}/{key}` is not valid JSON")
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Appends `record` with the next free sequence number, retrying when another
/// writer took it first; returns the record as stored. A key already holding
/// exactly these bytes is this very write (the SDK retried a put whose answer was
/// lost), not a race: it is not written a second time under the next number.
pub async fn append(
    aws: &Aws,
    bucket: &str,
    mut record: ReleaseRecord,
) -> anyhow::Result<ReleaseRecord> {
    for _ in 0..WRITE_ATTEMPTS {
        let latest = aws
            .list_keys(bucket, &prefix(&record.environment))
            .await?
            .iter()
            .filter_map(|key| sequence_of(key))
            .max()
            .unwrap_or(0);
        record.sequence = latest + 1;
        let body = serde_json::to_vec_pretty(&record)?;
        let key = record_key(&record.environment, record.sequence);
        match aws
            .put_object_if(bucket, &key, body.clone(), "application/json", None)
            .await?
        {
            Written::Yes => return Ok(record),
            Written::Conflict => {
                let stored = aws.get_object(bucket, &key).await?;
                if stored.is_some_and(|object| object.bytes == body) {
                    return Ok(record);
                }
            }
        }
    }
    bail!(
        "could not record the release of `{}`: the ledger kept changing under {WRITE_ATTEMPTS} attempts",
        record.environment
    )
}

/// Changes release `sequence` with `change`, by an ETag-conditional write
/// (read again and retried when another writer got there first).
async fn update(
    aws: &Aws,
    bucket: &str,
    environment: &str,
    sequence: u64,
    change: impl Fn(&mut ReleaseRecord),
) -> anyhow::Result<bool> {
    let key = record_key(environment, sequence);
    for _ in 0..WRITE_ATTEMPTS {
        let object = aws.get_object(bucket, &key).await?.with_context(|| {
            format!("release #{sequence} of `{environment}` is missing from the ledger")
        })?;
        let mut record: ReleaseRecord = serde_json::from_slice(&object.bytes)?;
        change(&mut record);
        let Some(etag) = object.etag.as_deref() else {
            bail!("the store gave no ETag for `s3://{bucket}/{key}`");
        };
        let body = serde_json::to_vec_pretty(&record)?;
        if aws
            .put_object_if(bucket, &key, body, "application/json", Some(etag))
            .await?
            == Written::Yes
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Adds `tag` to release `sequence`, with an ETag-conditional write.
pub async fn add_git_tag(
    aws: &Aws,
    bucket: &str,
    environment: &str,
    sequence: u64,
    tag: &str,
) -> anyhow::Result<()> {
    let updated = update(aws, bucket, environment, sequence, |record| {
        if !record.git_tags.iter().any(|existing| existing == tag) {
            record.git_tags.push(tag.to_owned());
        }
    })
    .await?;
    if !updated {
        bail!("could not record tag `{tag}` on release #{sequence}: the record kept changing");
    }
    Ok(())
}

/// Records on release `sequence` the web app it published.
pub async fn set_frontend(
    aws: &Aws,
    bucket: &str,
    environment: &str,
    sequence: u64,
    page: &FrontendRecord,
) -> anyhow::Result<()> {
    let updated = update(aws, bucket, environment, sequence, |record| {
        record.frontend = Some(page.clone());
    })
    .await?;
    if !updated {
        bail!("could not record the web app on release #{sequence}: the record kept changing");
    }
    Ok(())
}

/// The release live now and the web app it serves, reading the ledger from
/// the newest record down only as far as needed (usually one or two reads).
pub async fn live_and_page(
    aws: &Aws,
    bucket: &str,
    environment: &str,
) -> anyhow::Result<(Option<ReleaseRecord>, Option<FrontendRecord>)> {
    let mut keys: Vec<(u64, String)> = aws
        .list_keys(bucket, &prefix(environment))
        .await?
        .into_iter()
        .filter_map(|key| Some((sequence_of(&key)?, key)))
        .collect();
    keys.sort();
    let mut live: Option<ReleaseRecord> = None;
    for (_, key) in keys.iter().rev() {
        let Some(object) = aws.get_object(bucket, key).await? else {
            continue;
        };
        let record: ReleaseRecord = serde_json::from_slice(&object.bytes).with_context(|| {
            format!("the release record `s3://{bucket}/{key}` is not valid JSON")
        })?;
        if live.is_none() {
            if !record.succeeded {
                continue;
            }
            live = Some(record.clone());
        }
        if let Some(page) = record.frontend {
            return Ok((live, Some(page)));
        }
    }
    Ok((live, None))
}

/// Where the artifact store keeps the bytes of a web app file with this hash.
pub fn page_file_key(sha256: &str) -> String {
    format!("{PAGE_FILES}{sha256}")
}

/// The prefix of [`page_file_key`].
pub const PAGE_FILES: &str = "frontends/files/";

/// Keeps a web app file's bytes by their hash (once).
pub async fn store_page_file(
    aws: &Aws,
    bucket: &str,
    sha256: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<()> {
    // A conflict means the same bytes are already there.
    aws.put_object_if(
        bucket,
        &page_file_key(sha256),
        bytes,
        "application/octet-stream",
        None,
    )
    .await?;
    Ok(())
}

/// Reads a kept web app file back, checking it against its hash.
pub async fn load_page_file(aws: &Aws, bucket: &str, sha256: &str) -> anyhow::Result<Vec<u8>> {
    let key = page_file_key(sha256);
    let object = aws
        .get_object(bucket, &key)
        .await?
        .with_context(|| format!("the web app file `s3://{bucket}/{key}` is gone (pruned?)"))?;
    if sha256_hex(&object.bytes) != sha256 {
        bail!("the web app file `s3://{bucket}/{key}` does not match its hash");
    }
    Ok(object.bytes)
}

/// Stores a copy of a template body under its hash (once) and says where.
pub async fn store_template(aws: &Aws, bucket: &str, body: &str) -> anyhow::Result<TemplateRef> {
    let sha256 = sha256_hex(body.as_bytes());
    let key = format!("templates/{sha256}.yaml");
    let written = aws
        .put_object_if(
            bucket,
            &key,
            body.as_bytes().to_vec(),
            "application/yaml",
            None,
        )
        .await?;
    // Already there: trusted only if it hashes to its name. Anything else is an
    // error, never a silent skip.
    if written == Written::Conflict {
        match aws.stored_hash(bucket, &key, &sha256).await? {
            StoredHash::Matches => {}
            StoredHash::Missing => bail!(
                "the template copy `s3://{bucket}/{key}` could not be stored: S3 refused the write, yet holds no such object"
            ),
            StoredHash::Differs { found } => {
                return Err(crate::aws::tampered(bucket, &key, &sha256, &found));
            }
        }
    }
    Ok(TemplateRef {
        bucket: bucket.to_owned(),
        key,
        sha256,
    })
}

/// Reads a stored template body back, checking it against its hash.
pub async fn load_template(aws: &Aws, template: &TemplateRef) -> anyhow::Result<String> {
    let object = aws
        .get_object(&template.bucket, &template.key)
        .await?
        .with_context(|| {
            format!(
                "the stored template `s3://{}/{}` is gone",
                template.bucket, template.key
            )
        })?;
    let body = String::from_utf8(object.bytes).context("the stored template is not UTF-8")?;
    if sha256_hex(body.as_bytes()) != template.sha256 {
        bail!(
            "the stored template `s3://{}/{}` does not match its hash",
            template.bucket,
            template.key
        );
    }
    Ok(body)
}

/// The artifact store (and ledger) of the account and region `aws` is connected to.
pub async fn bucket(aws: &Aws) -> anyhow::Result<String> {
    let (account, _) = aws.caller_identity().await?;
    Ok(crate::aws::artifact_bucket_name(&account, &aws.region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_sequence_and_parse_back() {
        assert_eq!(record_key("dev", 12), "releases/dev/0000000012.json");
        assert_eq!(sequence_of("releases/dev/0000000012.json"), Some(12));
        assert_eq!(sequence_of("releases/dev/notes.txt"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_writers_all_keep_their_records() {
        let server = crate::test_support::LocalAws::start(&[]);
        let aws = Aws::for_tests(&server.endpoint);
        aws.ensure_artifact_bucket("pixelctl-artifacts-ledger-test")
            .await
            .unwrap();
        let base: ReleaseRecord = serde_json::from_value(serde_json::json!({
            "environment": "dev", "sequence": 0, "time": "2026-11-26T06:00:00Z", "who": "writer",
            "kind": "deploy", "artifact": {"bucket": "b", "key": "k", "sha256": "s"},
            "template": {"bucket": "b", "key": "t", "sha256": "t"}, "parameters": {},
            "stack_name": "pixel-prompt-dev", "stack_status": "UPDATE_COMPLETE", "succeeded": true,
            "pixelctl_version": "test"
        }))
        .unwrap();
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let aws = aws.clone();
                let mut record = base.clone();
                record.who = format!("writer-{writer}");
                tokio::spawn(
                    async move { append(&aws, "pixelctl-artifacts-ledger-test", record).await },
                )
            })
            .collect();
        let mut sequences = Vec::new();
        for writer in writers {
            sequences.push(writer.await.unwrap().unwrap().sequence);
        }
        sequences.sort_unstable();
        assert_eq!(sequences, (1..=8).collect::<Vec<u64>>());
        let stored = list(&aws, "pixelctl-artifacts-ledger-test", "dev")
            .await
            .unwrap();
        let mut writers: Vec<String> = stored.iter().map(|record| record.who.clone()).collect();
        writers.sort();
        assert_eq!(
            writers,
            (0..8)
                .map(|writer| format!("writer-{writer}"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(
            now.starts_with("20") && now.ends_with('Z') && now.as_bytes()[10] == b'T',
            "{now}"
        );
    }
}
