//! Why a patch command failed on a node, when the window's Run Command output says: the
//! pre-patch health check (`templates/components/health-check.*`) prints
//! `PATCHPLANE_HEALTH_CHECK_FAILED: <reason>` and exits 1, which fails that node's
//! `AWS-RunPatchBaselineWithHooks`. Windows write their output to the evidence bucket under
//! `<prefix>/<account>/<region>/<command-id>/<instance-id>/…`; this reads it back.

use std::pin::Pin;

use patchplane_integrations::aws_error;

use super::EnrichError;

/// The marker the health check prints before its reason.
pub const HEALTH_CHECK_FAILED: &str = "PATCHPLANE_HEALTH_CHECK_FAILED:";

/// The reason in command output, if the health check failed there.
pub fn health_check_reason(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let at = l.find(HEALTH_CHECK_FAILED)?;
        let reason = l[at + HEALTH_CHECK_FAILED.len()..].trim();
        (!reason.is_empty()).then(|| reason.chars().take(300).collect())
    })
}

/// Where command output is read from.
pub trait CommandOutput: Send + Sync {
    /// The health check's reason in the output of `command_id` on `node`, if it failed there.
    fn reason<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        command_id: &'a str,
        node: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<String>, EnrichError>> + Send + 'a>>;
}

/// Command output in S3.
pub struct S3Output {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

/// At most this many output objects are read per failure (a patch run writes a handful).
const MAX_OBJECTS: usize = 20;

impl S3Output {
    /// Output below `prefix` in `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: String, prefix: String) -> Self {
        Self { client, bucket, prefix }
    }

    async fn find(&self, account: &str, region: &str, command_id: &str, node: &str) -> Result<Option<String>, String> {
        let dir = format!("{}/{account}/{region}/{command_id}/{node}/", self.prefix);
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&dir)
            .max_keys(100)
            .send()
            .await
            .map_err(|e| aws_error::describe("ListObjectsV2", None, &e))?;
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter(|k| k.ends_with("stdout") || k.ends_with("stderr"))
            .take(MAX_OBJECTS)
            .map(str::to_owned)
            .collect();
        for key in keys {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| aws_error::describe("GetObject", None, &e))?;
            let bytes = out.body.collect().await.map_err(|e| e.to_string())?.into_bytes();
            if let Some(r) = health_check_reason(&String::from_utf8_lossy(&bytes)) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }
}

impl CommandOutput for S3Output {
    fn reason<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        command_id: &'a str,
        node: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<String>, EnrichError>> + Send + 'a>> {
        Box::pin(async move {
            // Output that cannot be read leaves the incident without a reason; never holds it.
            match self.find(account, region, command_id, node).await {
                Ok(r) => Ok(r),
                Err(message) => {
                    tracing::warn!(node, command_id, error = %message, "Command output unreadable");
                    Ok(None)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_follows_the_marker() {
        let out = "Running pre-install hook\nPATCHPLANE_HEALTH_CHECK_FAILED: only 100 MB free on / (need 1024)\nexit status 1\n";
        assert_eq!(
            health_check_reason(out).as_deref(),
            Some("only 100 MB free on / (need 1024)")
        );
        assert_eq!(health_check_reason("PATCHPLANE_HEALTH_CHECK_OK: fine"), None);
        assert_eq!(health_check_reason("PATCHPLANE_HEALTH_CHECK_FAILED:   \n"), None);
        assert_eq!(
            health_check_reason(&format!("{HEALTH_CHECK_FAILED} {}", "x".repeat(1000))).map(|r| r.len()),
            Some(300)
        );
    }
}
