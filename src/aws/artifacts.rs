//! The artifact store: one versioned, encrypted, private bucket per account
//! and region, created by pixelctl on first use, holding zips by content hash.

use anyhow::anyhow;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

use super::{Aws, describe_error};

/// The artifact bucket's name for an account and region.
pub fn artifact_bucket_name(account: &str, region: &str) -> String {
    format!("pixelctl-artifacts-{account}-{region}")
}

fn tls_only_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
    .to_string()
}

impl Aws {
    /// Makes sure the bucket exists with its protections; returns what was done. A
    /// bucket whose settings were never applied (the call that created it failed after
    /// creating it) gets them now: versioning is the tell.
    pub async fn ensure_artifact_bucket(&self, bucket: &str) -> anyhow::Result<BucketSetup> {
        if self.s3.head_bucket().bucket(bucket).send().await.is_ok() {
            let versioning = self
                .s3
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
                .map_err(|error| {
                    anyhow!(
                        "cannot read the versioning of the artifact bucket `{bucket}`: {}",
                        describe_error(&error)
                    )
                })?;
            if versioning.status() == Some(&BucketVersioningStatus::Enabled) {
                return Ok(BucketSetup::Ready);
            }
            self.protect_artifact_bucket(bucket).await?;
            return Ok(BucketSetup::Repaired);
        }
        let fail = |what: &str, error: String| {
            anyhow!("cannot {what} the artifact bucket `{bucket}`: {error}")
        };
        let mut create = self.s3.create_bucket().bucket(bucket);
        // us-east-1 is the one region that refuses an explicit constraint.
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        create
            .send()
            .await
            .map_err(|error| fail("create", describe_error(&error)))?;
        self.protect_artifact_bucket(bucket).await?;
        Ok(BucketSetup::Created)
    }

    /// Public access blocked, encryption, versioning (last: it marks a finished setup)
    /// and the TLS-only policy; each call is idempotent.
    async fn protect_artifact_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        let fail = |what: &str, error: String| {
            anyhow!("cannot {what} the artifact bucket `{bucket}`: {error}")
        };
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .ignore_public_acls(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| fail("block public access to", describe_error(&error)))?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(|error| fail("encrypt", error.to_string()))?,
            )
            .build();
        self.s3
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|error| fail("encrypt", error.to_string()))?,
            )
            .send()
            .await
            .map_err(|error| fail("encrypt", describe_error(&error)))?;
        self.s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(tls_only_policy(bucket))
            .send()
            .await
            .map_err(|error| fail("set the TLS-only policy on", describe_error(&error)))?;
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| fail("version", describe_error(&error)))?;
        Ok(())
    }

    pub async fn object_exists(&self, bucket: &str, key: &str) -> anyhow::Result<bool> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_not_found()) =>
            {
                Ok(false)
            }
            Err(error) => Err(anyhow!(
                "cannot check `s3://{bucket}/{key}`: {}",
                describe_error(&error)
            )),
        }
    }

    /// Uploads `bytes` unless an object already holds that key (keys are content hashes).
    pub async fn put_artifact(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<()> {
        let result = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/zip")
            .body(ByteStream::from(bytes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone uploaded the same hash first: the bytes are the same.
            Err(error) if describe_error(&error).contains("PreconditionFailed") => Ok(()),
            Err(error) => Err(anyhow!(
                "cannot upload `s3://{bucket}/{key}`: {}",
                describe_error(&error)
            )),
        }
    }
}

/// What `ensure_artifact_bucket` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSetup {
    Ready,
    Created,
    /// It existed without its settings; they are applied now.
    Repaired,
}

/// How often a conditional write is tried again after `409 ConditionalRequestConflict`.
const CONFLICT_ATTEMPTS: u32 = 6;

/// An object's body and its ETag (for conditional updates).
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// The condition failed: someone else wrote first.
    Conflict,
}

/// What a failed conditional write means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConditionalOutcome {
    /// `PreconditionFailed` (412): the condition does not hold; someone wrote first.
    Lost,
    /// `ConditionalRequestConflict` (409): a concurrent conditional write; nothing written.
    TryAgain,
    Failed,
}

fn conditional_write_outcome(message: &str) -> ConditionalOutcome {
    if message.contains("PreconditionFailed") {
        ConditionalOutcome::Lost
    } else if message.contains("ConditionalRequestConflict") {
        ConditionalOutcome::TryAgain
    } else {
        ConditionalOutcome::Failed
    }
}

/// One stored version of an object (for pruning every version).
#[derive(Debug, Clone)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: Option<String>,
}

impl Aws {
    /// The object's bytes and ETag, or `None` when there is no such key.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> anyhow::Result<Option<StoredObject>> {
        let response = match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(response) => response,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_no_such_key()) =>
            {
                return Ok(None);
            }
            Err(error) => {
                return Err(anyhow!(
                    "cannot read `s3://{bucket}/{key}`: {}",
                    describe_error(&error)
                ));
            }
        };
        let etag = response.e_tag().map(str::to_owned);
        let bytes = response
            .body
            .collect()
            .await
            .map_err(|error| anyhow!("cannot read `s3://{bucket}/{key}`: {error}"))?
            .into_bytes()
            .to_vec();
        Ok(Some(StoredObject { bytes, etag }))
    }

    /// Writes `bytes` only if the key is new (`if_match: None`) or still has
    /// that ETag; a lost race (`412 PreconditionFailed`) is [`Written::Conflict`],
    /// not an error. `409 ConditionalRequestConflict` (another conditional write to
    /// the key was in flight; nothing was written) is tried again.
    pub async fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        if_match: Option<&str>,
    ) -> anyhow::Result<Written> {
        let mut delay = std::time::Duration::from_millis(100);
        for attempt in 1..=CONFLICT_ATTEMPTS {
            let request = self
                .s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(bytes.clone()));
            let request = match if_match {
                Some(etag) => request.if_match(etag),
                None => request.if_none_match("*"),
            };
            let error = match request.send().await {
                Ok(_) => return Ok(Written::Yes),
                Err(error) => error,
            };
            let message = describe_error(&error);
            match conditional_write_outcome(&message) {
                ConditionalOutcome::Lost => return Ok(Written::Conflict),
                ConditionalOutcome::TryAgain if attempt < CONFLICT_ATTEMPTS => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                ConditionalOutcome::TryAgain | ConditionalOutcome::Failed => {
                    return Err(anyhow!("cannot write `s3://{bucket}/{key}`: {message}"));
                }
            }
        }
        Err(anyhow!("cannot write `s3://{bucket}/{key}`"))
    }

    /// Every key under `prefix`; none when the bucket does not exist yet.
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let response = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                // No store yet (nothing was ever deployed here): nothing under any prefix.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|error| error.is_no_such_bucket()) =>
                {
                    return Ok(Vec::new());
                }
                Err(error) => {
                    return Err(anyhow!(
                        "cannot list `s3://{bucket}/{prefix}`: {}",
                        describe_error(&error)
                    ));
                }
            };
            keys.extend(
                response
                    .contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_owned)),
            );
            match response.next_continuation_token() {
                Some(next) if response.is_truncated() == Some(true) => {
                    token = Some(next.to_owned())
                }
                _ => break,
            }
        }
        Ok(keys)
    }

    /// Every version and delete marker of the objects under `prefix`.
    pub async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> anyhow::Result<Vec<ObjectVersion>> {
        let mut versions = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let response = self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|error| {
                    anyhow!(
                        "cannot list versions in `s3://{bucket}/{prefix}`: {}",
                        describe_error(&error)
                    )
                })?;
            let found = response
                .versions()
                .iter()
                .map(|version| (version.key(), version.version_id()))
                .chain(
                    response
                        .delete_markers()
                        .iter()
                        .map(|marker| (marker.key(), marker.version_id())),
                );
            versions.extend(found.filter_map(|(key, version)| {
                Some(ObjectVersion {
                    key: key?.to_owned(),
                    version_id: version.map(str::to_owned),
                })
            }));
            if response.is_truncated() != Some(true) {
                break;
            }
            key_marker = response.next_key_marker().map(str::to_owned);
            version_marker = response.next_version_id_marker().map(str::to_owned);
        }
        Ok(versions)
    }

    /// Deletes one version of an object (every version, called for each, frees its space).
    pub async fn delete_version(
        &self,
        bucket: &str,
        version: &ObjectVersion,
    ) -> anyhow::Result<()> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(&version.key)
            .set_version_id(version.version_id.clone())
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "cannot delete `s3://{bucket}/{}`: {}",
                    version.key,
                    describe_error(&error)
                )
            })?;
        Ok(())
    }
}

/// What `doctor` finds about an artifact store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketCheck {
    /// Not there yet: the first deploy creates it.
    Missing,
    /// There, but owned by another account (or not readable with these credentials).
    Foreign(String),
    /// There and ours; whether versioning is on.
    Ours { versioned: bool },
}

impl Aws {
    /// Whether `bucket` exists, belongs to `account` and keeps versions.
    pub async fn check_artifact_bucket(
        &self,
        bucket: &str,
        account: &str,
    ) -> anyhow::Result<BucketCheck> {
        match self
            .s3
            .head_bucket()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .send()
            .await
        {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_not_found()) =>
            {
                return Ok(BucketCheck::Missing);
            }
            Err(error) => {
                let status = error.raw_response().map(|raw| raw.status().as_u16());
                if status == Some(404) {
                    return Ok(BucketCheck::Missing);
                }
                if status == Some(403) {
                    return Ok(BucketCheck::Foreign(
                        "access denied: it belongs to another account, or these credentials may not read it"
                            .to_owned(),
                    ));
                }
                return Err(anyhow!(
                    "cannot check the artifact bucket `{bucket}`: {}",
                    describe_error(&error)
                ));
            }
        }
        let versioning = self
            .s3
            .get_bucket_versioning()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "cannot read the versioning of `{bucket}`: {}",
                    describe_error(&error)
                )
            })?;
        Ok(BucketCheck::Ours {
            versioned: versioning.status() == Some(&BucketVersioningStatus::Enabled),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_409_is_tried_again_and_a_412_is_a_lost_race() {
        let cases = [
            (
                "PreconditionFailed: At least one of the pre-conditions you specified did not hold",
                ConditionalOutcome::Lost,
            ),
            (
                "ConditionalRequestConflict: A conflicting conditional operation is currently in progress",
                ConditionalOutcome::TryAgain,
            ),
            ("AccessDenied: Access Denied", ConditionalOutcome::Failed),
        ];
        for (message, expected) in cases {
            assert_eq!(conditional_write_outcome(message), expected, "{message}");
        }
    }
}
