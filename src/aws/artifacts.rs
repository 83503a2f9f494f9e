//! The artifact store: one versioned, encrypted, private bucket per account
//! and region, created by pixelctl on first use, holding zips by content hash.
//!
//! Its name is predictable (`pixelctl-artifacts-<account>-<region>`), so anyone
//! who knows the account id could create it first in a region the team has not
//! used and serve their own zip, template or ledger. Every call therefore names
//! the caller's account as the expected bucket owner (S3 answers 403 for a
//! bucket of another account), and an object already under a content-hash key is
//! read back and hashed before it is trusted.

use anyhow::anyhow;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

use super::Aws;
use super::error::{self, AwsError, ErrorKind};
use crate::digest::sha256_hex;

/// The artifact bucket's name for an account and region.
pub fn artifact_bucket_name(account: &str, region: &str) -> String {
    format!("pixelctl-artifacts-{account}-{region}")
}

/// What a content-hash key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredHash {
    Missing,
    /// The stored bytes hash to what the key promises.
    Matches,
    /// Someone wrote other bytes under this key: never deploy them.
    Differs {
        found: String,
    },
}

/// The error for a bucket S3 refused under the expected-owner check.
fn foreign_bucket(bucket: &str, account: &str) -> anyhow::Error {
    anyhow!(
        "the bucket `{bucket}` is not owned by this AWS account ({account}): S3 refused it under the expected-owner check. \
Someone else may have created it to serve their own artifacts, templates or ledger, so pixelctl will neither read nor write it. \
If it is yours under another account, delete it there; otherwise deploy in another region and report the bucket to AWS"
    )
}

/// Whether S3 answered 403: a bucket of another account under the expected-owner
/// check (or one whose policy denies this account).
/// S3 answered 403: for a bucket pixelctl names with `ExpectedBucketOwner`, another
/// account's (or one these credentials may not touch). By status, not by kind: an
/// expired token is also `AccessDenied` but says nothing about whose bucket it is.
fn forbidden<E>(error: &SdkError<E, HttpResponse>) -> bool {
    error
        .raw_response()
        .map(|response| response.status().as_u16())
        == Some(403)
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
    /// The account every S3 call names as the bucket's expected owner: the caller's.
    async fn bucket_owner(&self) -> anyhow::Result<String> {
        Ok(self.caller_identity().await?.0)
    }

    /// Makes sure the bucket exists, is this account's, and has its protections;
    /// returns what was done. A bucket whose settings were never applied (the call
    /// that created it failed after creating it) gets them now: versioning is the
    /// tell.
    pub async fn ensure_artifact_bucket(&self, bucket: &str) -> anyhow::Result<BucketSetup> {
        let owner = self.bucket_owner().await?;
        match self
            .s3
            .head_bucket()
            .bucket(bucket)
            .expected_bucket_owner(&owner)
            .send()
            .await
        {
            Ok(_) => {
                let versioning = self
                    .s3
                    .get_bucket_versioning()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
                    .send()
                    .await
                    .map_err(|error| {
                        anyhow::Error::from(AwsError::new(
                            format!("cannot read the versioning of the artifact bucket `{bucket}`"),
                            &error,
                        ))
                    })?;
                if versioning.status() == Some(&BucketVersioningStatus::Enabled) {
                    return Ok(BucketSetup::Ready);
                }
                self.protect_artifact_bucket(bucket, &owner).await?;
                return Ok(BucketSetup::Repaired);
            }
            Err(error) if forbidden(&error) => return Err(foreign_bucket(bucket, &owner)),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(HeadBucketError::is_not_found) => {}
            Err(error) => {
                return Err(anyhow::Error::from(AwsError::new(
                    format!("cannot check the artifact bucket `{bucket}`"),
                    &error,
                )));
            }
        }
        let mut create = self.s3.create_bucket().bucket(bucket);
        // us-east-1 is the one region that refuses an explicit constraint.
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        create.send().await.map_err(|error| {
            // Taken between the check and the create: by another account, or by
            // this one in a race (then the check above passes next time).
            if error
                .as_service_error()
                .is_some_and(CreateBucketError::is_bucket_already_exists)
            {
                foreign_bucket(bucket, &owner)
            } else {
                anyhow::Error::from(AwsError::new(
                    format!("cannot create the artifact bucket `{bucket}`"),
                    &error,
                ))
            }
        })?;
        self.protect_artifact_bucket(bucket, &owner).await?;
        Ok(BucketSetup::Created)
    }

    /// Public access blocked, encryption, the TLS-only policy and versioning (last:
    /// it marks a finished setup); each call is idempotent.
    async fn protect_artifact_bucket(&self, bucket: &str, owner: &str) -> anyhow::Result<()> {
        let fail = |what: &str, error: String| {
            anyhow!("cannot {what} the artifact bucket `{bucket}`: {error}")
        };
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .expected_bucket_owner(owner)
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
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot block public access to the artifact bucket `{bucket}`"),
                    &error,
                ))
            })?;
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
            .expected_bucket_owner(owner)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|error| fail("encrypt", error.to_string()))?,
            )
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot encrypt the artifact bucket `{bucket}`"),
                    &error,
                ))
            })?;
        self.s3
            .put_bucket_policy()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .policy(tls_only_policy(bucket))
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot set the TLS-only policy on the artifact bucket `{bucket}`"),
                    &error,
                ))
            })?;
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot version the artifact bucket `{bucket}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    /// Whether the object at `key` holds bytes whose sha256 is `sha256` (lowercase
    /// hex): read back and hashed, never assumed from the key or a failed
    /// conditional write.
    pub async fn stored_hash(
        &self,
        bucket: &str,
        key: &str,
        sha256: &str,
    ) -> anyhow::Result<StoredHash> {
        Ok(match self.get_object(bucket, key).await? {
            None => StoredHash::Missing,
            Some(object) => {
                let found = sha256_hex(&object.bytes);
                if found == sha256 {
                    StoredHash::Matches
                } else {
                    StoredHash::Differs { found }
                }
            }
        })
    }

    /// Uploads `bytes` unless an object already holds that key (keys are content
    /// hashes). An object that is already there must hash to the same bytes.
    pub async fn put_artifact(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<()> {
        let owner = self.bucket_owner().await?;
        let sha256 = sha256_hex(&bytes);
        let result = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&owner)
            .if_none_match("*")
            .content_type("application/zip")
            .body(ByteStream::from(bytes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error::kind(&error) == ErrorKind::PreconditionFailed => {
                // Someone stored this key first: trust it only if it is these bytes.
                match self.stored_hash(bucket, key, &sha256).await? {
                    StoredHash::Matches | StoredHash::Missing => Ok(()),
                    StoredHash::Differs { found } => Err(tampered(bucket, key, &sha256, &found)),
                }
            }
            Err(error) if forbidden(&error) => Err(foreign_bucket(bucket, &owner)),
            Err(error) => Err(anyhow::Error::from(AwsError::new(
                format!("cannot upload `s3://{bucket}/{key}`"),
                &error,
            ))),
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

/// The error for a content-hash key that holds other bytes.
pub fn tampered(bucket: &str, key: &str, expected: &str, found: &str) -> anyhow::Error {
    anyhow!(
        "`s3://{bucket}/{key}` does not hold what its name says: its sha256 is {found}, not {expected}. \
Someone overwrote it; pixelctl will not deploy it. Delete that object (every version) and deploy again, and find out who wrote it"
    )
}

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

fn conditional_write_outcome(kind: ErrorKind) -> ConditionalOutcome {
    match kind {
        ErrorKind::PreconditionFailed => ConditionalOutcome::Lost,
        ErrorKind::Conflict => ConditionalOutcome::TryAgain,
        _ => ConditionalOutcome::Failed,
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
        let owner = self.bucket_owner().await?;
        let response = match self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&owner)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(GetObjectError::is_no_such_key) =>
            {
                return Ok(None);
            }
            Err(error) if forbidden(&error) => return Err(foreign_bucket(bucket, &owner)),
            Err(error) => {
                return Err(anyhow::Error::from(AwsError::new(
                    format!("cannot read `s3://{bucket}/{key}`"),
                    &error,
                )));
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
        let owner = self.bucket_owner().await?;
        let mut delay = std::time::Duration::from_millis(100);
        for attempt in 1..=CONFLICT_ATTEMPTS {
            let request = self
                .s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .expected_bucket_owner(&owner)
                .content_type(content_type)
                .body(ByteStream::from(bytes.clone()));
            let request = match if_match {
                Some(etag) => request.if_match(etag),
                None => request.if_none_match("*"),
            };
            let error = match request.send().await {
                Ok(_) => return Ok(Written::Yes),
                Err(error) if forbidden(&error) => return Err(foreign_bucket(bucket, &owner)),
                Err(error) => error,
            };
            match conditional_write_outcome(error::kind(&error)) {
                ConditionalOutcome::Lost => return Ok(Written::Conflict),
                ConditionalOutcome::TryAgain if attempt < CONFLICT_ATTEMPTS => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                ConditionalOutcome::TryAgain | ConditionalOutcome::Failed => {
                    return Err(AwsError::new(
                        format!("cannot write `s3://{bucket}/{key}`"),
                        &error,
                    )
                    .into());
                }
            }
        }
        Err(anyhow!("cannot write `s3://{bucket}/{key}`"))
    }

    /// Every key under `prefix`; none when the bucket does not exist yet.
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        let owner = self.bucket_owner().await?;
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .expected_bucket_owner(&owner)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                // No store yet (nothing was ever deployed here): nothing under any prefix.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(ListObjectsV2Error::is_no_such_bucket) =>
                {
                    return Ok(Vec::new());
                }
                Err(error) if forbidden(&error) => return Err(foreign_bucket(bucket, &owner)),
                Err(error) => {
                    return Err(anyhow::Error::from(AwsError::new(
                        format!("cannot list `s3://{bucket}/{prefix}`"),
                        &error,
                    )));
                }
            };
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// Every version and delete marker of the objects under `prefix`.
    pub async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> anyhow::Result<Vec<ObjectVersion>> {
        let owner = self.bucket_owner().await?;
        let mut versions = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let response = self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|error| {
                    anyhow::Error::from(AwsError::new(
                        format!("cannot list versions in `s3://{bucket}/{prefix}`"),
                        &error,
                    ))
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
        let owner = self.bucket_owner().await?;
        self.s3
            .delete_object()
            .bucket(bucket)
            .expected_bucket_owner(&owner)
            .key(&version.key)
            .set_version_id(version.version_id.clone())
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot delete `s3://{bucket}/{}`", version.key),
                    &error,
                ))
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
                    .is_some_and(HeadBucketError::is_not_found) =>
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
                return Err(anyhow::Error::from(AwsError::new(
                    format!("cannot check the artifact bucket `{bucket}`"),
                    &error,
                )));
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
                anyhow::Error::from(AwsError::new(
                    format!("cannot read the versioning of `{bucket}`"),
                    &error,
                ))
            })?;
        Ok(BucketCheck::Ours {
            versioned: versioning.status() == Some(&BucketVersioningStatus::Enabled),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;

    /// A HEAD answer: a status, no body (as S3 answers `HeadBucket`).
    fn head_answer(status: u16) -> ReplayEvent {
        ReplayEvent::new(
            http::Request::builder()
                .uri("https://s3.us-west-2.amazonaws.com/pixelctl-artifacts")
                .body(SdkBody::empty())
                .unwrap_or_else(|error| panic!("{error}")),
            http::Response::builder()
                .status(status)
                .body(SdkBody::empty())
                .unwrap_or_else(|error| panic!("{error}")),
        )
    }

    #[tokio::test]
    async fn head_bucket_tells_missing_and_foreign_from_a_failure() {
        let replay =
            StaticReplayClient::new(vec![head_answer(404), head_answer(403), head_answer(500)]);
        let aws = Aws::for_replay(replay);
        let check = |result: anyhow::Result<BucketCheck>| match result {
            Ok(BucketCheck::Missing) => "missing".to_owned(),
            Ok(BucketCheck::Foreign(_)) => "foreign".to_owned(),
            Ok(BucketCheck::Ours { .. }) => "ours".to_owned(),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(
            check(aws.check_artifact_bucket("pixelctl-artifacts", "1").await),
            "missing"
        );
        assert_eq!(
            check(aws.check_artifact_bucket("pixelctl-artifacts", "1").await),
            "foreign"
        );
        // Neither missing nor someone else's: a failure that says so, not "missing".
        let failed = check(aws.check_artifact_bucket("pixelctl-artifacts", "1").await);
        assert!(
            failed.starts_with("error: cannot check the artifact bucket `pixelctl-artifacts`"),
            "{failed}"
        );
    }

    #[test]
    fn a_409_is_tried_again_and_a_412_is_a_lost_race() {
        let cases = [
            (ErrorKind::PreconditionFailed, ConditionalOutcome::Lost),
            (ErrorKind::Conflict, ConditionalOutcome::TryAgain),
            (ErrorKind::AccessDenied, ConditionalOutcome::Failed),
            (ErrorKind::Throttled, ConditionalOutcome::Failed),
            (ErrorKind::Other, ConditionalOutcome::Failed),
        ];
        for (kind, expected) in cases {
            assert_eq!(conditional_write_outcome(kind), expected, "{kind:?}");
        }
    }
}
