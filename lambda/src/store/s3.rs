//! S3 as an object store; compare-and-swap uses S3 conditional writes
//! (`If-None-Match: *` / `If-Match: <etag>` on `PutObject`).

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use axum::body::Bytes;

use super::{KeyPage, PutCondition, PutOutcome, StoreError, StoredObject, check_key};

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

fn s3_error<E, R>(operation: &'static str, key: &str, err: &SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::S3 {
        operation,
        key: key.to_owned(),
        message: DisplayErrorContext(err).to_string(),
    }
}

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        check_key(key)?;
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(GetObjectError::is_no_such_key) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(s3_error("GetObject", key, &err)),
        };
        let etag = output.e_tag().unwrap_or_default().to_owned();
        let content_type = output.content_type().map(str::to_owned);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::S3 {
                operation: "GetObject",
                key: key.to_owned(),
                message: e.to_string(),
            })?
            .into_bytes();
        Ok(Some(StoredObject {
            bytes,
            etag,
            content_type,
        }))
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        check_key(key)?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes));
        request = match condition {
            PutCondition::Always => request,
            PutCondition::Absent => request.if_none_match("*"),
            PutCondition::Matches(tag) => request.if_match(tag),
        };
        match request.send().await {
            Ok(_) => Ok(PutOutcome::Written),
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                // 412: the condition failed; 409 ConditionalRequestConflict: a concurrent
                // conditional write is in flight. Both mean "read again and retry".
                if matches!(status, Some(412 | 409))
                    || matches!(
                        err.code(),
                        Some("PreconditionFailed" | "ConditionalRequestConflict")
                    )
                {
                    Ok(PutOutcome::ConditionFailed)
                } else {
                    Err(s3_error("PutObject", key, &err))
                }
            }
        }
    }

    pub async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max: usize,
    ) -> Result<KeyPage, StoreError> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .max_keys(i32::try_from(max.min(1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(|err| s3_error("ListObjectsV2", prefix, &err))?;
        Ok(KeyPage {
            keys: output
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect(),
            truncated: output.is_truncated().unwrap_or(false),
        })
    }
}
