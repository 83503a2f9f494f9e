//! The artifact store: one versioned, encrypted, private bucket per account
//! and region, created by pixelctl on first use, holding zips by content hash.

use anyhow::anyhow;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, VersioningConfiguration,
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
    /// Makes sure the bucket exists with its protections; returns whether it was created now.
    pub async fn ensure_artifact_bucket(&self, bucket: &str) -> anyhow::Result<bool> {
        if self.s3.head_bucket().bucket(bucket).send().await.is_ok() {
            return Ok(false);
        }
        let fail = |what: &str, error: String| anyhow!("cannot {what} the artifact bucket `{bucket}`: {error}");
        let mut create = self.s3.create_bucket().bucket(bucket);
        // us-east-1 is the one region that refuses an explicit constraint.
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        create.send().await.map_err(|error| fail("create", describe_error(&error)))?;
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
        self.s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(tls_only_policy(bucket))
            .send()
            .await
            .map_err(|error| fail("set the TLS-only policy on", describe_error(&error)))?;
        Ok(true)
    }

    pub async fn object_exists(&self, bucket: &str, key: &str) -> anyhow::Result<bool> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|error| error.is_not_found()) => Ok(false),
            Err(error) => Err(anyhow!("cannot check `s3://{bucket}/{key}`: {}", describe_error(&error))),
        }
    }

    /// Uploads `bytes` unless an object already holds that key (keys are content hashes).
    pub async fn put_artifact(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
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
            Err(error) => Err(anyhow!("cannot upload `s3://{bucket}/{key}`: {}", describe_error(&error))),
        }
    }
}
