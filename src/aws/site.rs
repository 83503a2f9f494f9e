//! The web app's side of S3 and CloudFront: list what a site prefix holds (with
//! ETags, to skip unchanged files), upload one file with its headers, delete,
//! and invalidate paths of a distribution and ask how that is going.

use anyhow::anyhow;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_s3::primitives::ByteStream;

use super::Aws;
use super::error::AwsError;

/// One object under a prefix, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    /// The ETag without its quotes: the MD5 of the bytes for a single-part upload.
    pub etag: String,
}

/// A file to upload with the headers browsers and CloudFront will see.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub key: &'a str,
    pub bytes: &'a [u8],
    pub content_type: &'a str,
    pub cache_control: &'a str,
}

impl Aws {
    /// Every object under `prefix` with its ETag.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> anyhow::Result<Vec<ListedObject>> {
        let mut objects = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot list `s3://{bucket}/{prefix}`"),
                    &error,
                ))
            })?;
            objects.extend(page.contents().iter().filter_map(|object| {
                Some(ListedObject {
                    key: object.key()?.to_owned(),
                    etag: object
                        .e_tag()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_owned(),
                })
            }));
        }
        Ok(objects)
    }

    /// Uploads one file with its `Content-Type` and `Cache-Control`.
    pub async fn put_site_object(&self, bucket: &str, upload: Upload<'_>) -> anyhow::Result<()> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(upload.key)
            .content_type(upload.content_type)
            .cache_control(upload.cache_control)
            .body(ByteStream::from(upload.bytes.to_vec()))
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot upload `s3://{bucket}/{}`", upload.key),
                    &error,
                ))
            })?;
        Ok(())
    }

    /// Deletes one object (in an unversioned bucket, for good).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> anyhow::Result<()> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!("cannot delete `s3://{bucket}/{key}`"),
                    &error,
                ))
            })?;
        Ok(())
    }

    /// Asks CloudFront to drop `paths` from its caches; returns the invalidation's id.
    pub async fn create_invalidation(
        &self,
        distribution: &str,
        paths: &[String],
        caller_reference: &str,
    ) -> anyhow::Result<String> {
        let fail = |error: String| {
            anyhow!(
                "cannot invalidate {paths:?} in CloudFront distribution `{distribution}`: {error}"
            )
        };
        let quantity = i32::try_from(paths.len()).map_err(|error| fail(error.to_string()))?;
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(quantity)
                    .set_items(Some(paths.to_vec()))
                    .build()
                    .map_err(|error| fail(error.to_string()))?,
            )
            .caller_reference(caller_reference)
            .build()
            .map_err(|error| fail(error.to_string()))?;
        let response = self
            .cloudfront
            .create_invalidation()
            .distribution_id(distribution)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(
                    format!(
                        "cannot invalidate {paths:?} in CloudFront distribution `{distribution}`"
                    ),
                    &error,
                ))
            })?;
        response
            .invalidation()
            .map(|invalidation| invalidation.id().to_owned())
            .ok_or_else(|| fail("CloudFront answered without an invalidation".to_owned()))
    }

    /// An invalidation's status: `InProgress` or `Completed`.
    pub async fn invalidation_status(
        &self,
        distribution: &str,
        id: &str,
    ) -> anyhow::Result<String> {
        let response = self
            .cloudfront
            .get_invalidation()
            .distribution_id(distribution)
            .id(id)
            .send()
            .await
            .map_err(|error| {
                anyhow::Error::from(AwsError::new(format!("cannot read invalidation `{id}` of CloudFront distribution `{distribution}`"), &error))
            })?;
        Ok(response
            .invalidation()
            .map(|invalidation| invalidation.status().to_owned())
            .unwrap_or_default())
    }
}
