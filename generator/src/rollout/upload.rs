//! Templates over CloudFormation's 51,200-byte `TemplateBody` limit: uploaded to a bucket under a
//! key derived from their content, then sent as `TemplateURL` (ADR 003).

use super::request::Desired;

/// Where oversize templates go: S3 in production ([`S3Store`]), a fake in tests.
pub trait TemplateStore {
    /// Stores `body` under `key`; returns the URL CloudFormation reads it from.
    fn put(&self, key: &str, body: &str) -> impl Future<Output = Result<String, UploadError>>;
}

/// Why a template could not be uploaded.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UploadError {
    /// Where it was going, `s3://BUCKET/KEY`.
    pub location: String,
    /// `cannot upload s3://BUCKET/KEY: ` and the cause on one line, with what to do when the
    /// cause is known ([`patchplane_integrations::aws_error::describe`] for S3's errors).
    pub message: String,
    /// The cause.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// An S3 bucket. Give it a client with path-style addressing, which every endpoint accepts (moto
/// and private ones included).
#[derive(Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    region: String,
}

impl S3Store {
    /// `bucket` in `region` (the region only shapes the URL CloudFormation reads).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            region: region.into(),
        }
    }
}

impl TemplateStore for S3Store {
    async fn put(&self, key: &str, body: &str) -> Result<String, UploadError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.to_owned().into_bytes().into())
            .send()
            .await
            .map_err(|e| {
                let location = format!("s3://{}/{key}", self.bucket);
                UploadError {
                    message: patchplane_integrations::aws_error::describe(
                        &format!("cannot upload {location}"),
                        None,
                        &e,
                    ),
                    location,
                    source: Box::new(e),
                }
            })?;
        Ok(format!(
            "https://{}.s3.{}.amazonaws.com/{key}",
            self.bucket, self.region
        ))
    }
}

/// Uploads every template that needs it under a key derived from its content (a changed template
/// gets a new URL; the same one is not uploaded twice), and sets `template_url`.
pub async fn upload_templates(store: &impl TemplateStore, desired: &mut [Desired]) -> Result<(), UploadError> {
    for d in desired.iter_mut().filter(|d| d.upload.is_some()) {
        let key = format!("patchplane/{}/{:016x}/template.yaml", d.name, fnv1a(&d.template_body));
        d.template_url = Some(store.put(&key, &d.template_body).await?);
    }
    Ok(())
}

/// FNV-1a of `text`: stable across Rust releases, unlike std's hasher.
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
