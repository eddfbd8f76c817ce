//! Where window notices read scans and tickets: the evidence bucket's inventory sync
//! (`AWS:ComplianceItem` for missing patches, `AWS:PatchSummary` for the last operation; the same
//! objects `patchplane report` reads) and the ServiceNow Table API. Nodes come from the tagging
//! API: [`AwsTags`] in the member account, by the patch group tag.

use jiff::Timestamp;
use patchplane_bridge_config::sync::{
    COMPLIANCE_ITEM, PATCH_SUMMARY, PatchSummary, parse_missing_patches, parse_patch_summary, sync_key,
};
use patchplane_integrations::retry::Failure;
use patchplane_integrations::servicenow::{Client, state};

use super::{Fut, Scan, Scans, TicketChange, TicketLog};
use crate::enrich::EnrichError;
use crate::enrich::tags::{AwsTags, node_arn, tag_error};

/// The nodes of patch groups, for window notices: `GetResources` by the patch group tag in the
/// member account (through the same role), every page, EC2 instances and managed nodes only.
impl super::Fleet for AwsTags {
    fn nodes<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        tag_key: &'a str,
        groups: &'a [String],
    ) -> Fut<'a, Result<Vec<super::Node>, EnrichError>> {
        Box::pin(async move {
            let client = self.client(account, region).await;
            let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                .key(tag_key)
                .set_values(Some(groups.to_vec()))
                .build();
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = client
                    .get_resources()
                    .tag_filters(filter.clone())
                    .set_pagination_token(token.take())
                    .send()
                    .await
                    .map_err(|e| tag_error(&format!("{account}/{region} patch groups {}", groups.join(",")), &e))?;
                for m in page.resource_tag_mapping_list() {
                    let arn = m.resource_arn().unwrap_or_default();
                    let id = arn.rsplit('/').next().unwrap_or_default();
                    // Only nodes: the tag may sit on other resources (volumes, images).
                    if node_arn(account, region, id).as_deref() != Some(arn) {
                        continue;
                    }
                    out.push(super::Node {
                        id: id.to_owned(),
                        tags: m
                            .tags()
                            .iter()
                            .map(|t| (t.key().to_owned(), t.value().to_owned()))
                            .collect(),
                    });
                }
                match page.pagination_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            out.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(out)
        })
    }
}

/// Scans from the inventory sync in S3.
pub struct S3Scans {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Scans {
    /// The sync under `prefix` in `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: String, prefix: String) -> Self {
        Self { client, bucket, prefix }
    }

    /// The object's text, `None` when there is none (a node never scanned).
    async fn body(&self, key: &str) -> Result<Option<String>, Failure> {
        use aws_sdk_s3::error::SdkError;
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(o) => {
                let bytes = o.body.collect().await.map_err(|e| Failure {
                    status: None,
                    message: format!("reading {key}: {e}"),
                    retry_after: None,
                })?;
                Ok(Some(String::from_utf8_lossy(&bytes.into_bytes()).into_owned()))
            }
            Err(SdkError::ServiceError(s)) if s.err().is_no_such_key() => Ok(None),
            Err(e) => Err(Failure {
                status: match &e {
                    SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
                    _ => None,
                },
                message: patchplane_integrations::aws_error::describe("GetObject", None, &e),
                retry_after: None,
            }),
        }
    }
}

/// A sync object that does not parse: a problem of that node's evidence, not of the notice, so
/// it is logged and the node shown without a scan.
fn unreadable(key: &str, reason: &str) {
    tracing::warn!(object = %key, reason = %reason, "Inventory object skipped");
}

impl Scans for S3Scans {
    fn missing<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
    ) -> Fut<'a, Result<Option<Scan>, Failure>> {
        Box::pin(async move {
            let key = sync_key(&self.prefix, COMPLIANCE_ITEM, account, region, node);
            Ok(match self.body(&key).await? {
                None => None,
                Some(b) => match parse_missing_patches(&b) {
                    Ok((missing, captured)) => Some(Scan { missing, captured }),
                    Err(e) => {
                        unreadable(&key, &e);
                        None
                    }
                },
            })
        })
    }

    fn summary<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
    ) -> Fut<'a, Result<Option<PatchSummary>, Failure>> {
        Box::pin(async move {
            let key = sync_key(&self.prefix, PATCH_SUMMARY, account, region, node);
            Ok(match self.body(&key).await? {
                None => None,
                Some(b) => match parse_patch_summary(&b) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        unreadable(&key, &e);
                        None
                    }
                },
            })
        })
    }
}

/// Ticket changes from the ServiceNow tables the bridge writes (incidents and vulnerability
/// tickets): rows whose correlation id starts with the account and region, created or resolved
/// since a time. The node is the correlation id's third part (`ACCOUNT/REGION/NODE/…`).
pub struct ServiceNowTickets {
    clients: Vec<(Client, String)>,
}

impl ServiceNowTickets {
    /// `clients`: a client and its table, per table.
    pub fn new(clients: Vec<(Client, String)>) -> Self {
        Self { clients }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), as the Table API compares dates.
fn glide(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

impl TicketLog for ServiceNowTickets {
    fn since<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        since: Timestamp,
    ) -> Fut<'a, Result<Vec<TicketChange>, Failure>> {
        Box::pin(async move {
            let scope = format!("{account}/{region}/");
            let at = glide(since);
            let query = format!(
                "correlation_idSTARTSWITH{scope}^sys_created_on>={at}^NQcorrelation_idSTARTSWITH{scope}^resolved_at>={at}"
            );
            let mut out = Vec::new();
            for (client, table) in &self.clients {
                let rows = client
                    .rows(
                        table,
                        &[
                            ("sysparm_query", query.as_str()),
                            (
                                "sysparm_fields",
                                "number,correlation_id,sys_created_on,resolved_at,state",
                            ),
                            ("sysparm_limit", "1000"),
                        ],
                    )
                    .await?;
                for r in rows {
                    let text = |f: &str| r.get(f).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                    let key = text("correlation_id");
                    // The caller checks every row against what it asked for.
                    let Some(node) = key.strip_prefix(&scope).and_then(|k| k.split('/').next()) else {
                        continue;
                    };
                    if !(node.starts_with("i-") || node.starts_with("mi-")) {
                        continue;
                    }
                    let number = text("number");
                    if text("sys_created_on") >= at {
                        out.push(TicketChange {
                            node: node.to_owned(),
                            number: number.clone(),
                            change: "opened",
                        });
                    }
                    let resolved = text("resolved_at");
                    if !resolved.is_empty()
                        && resolved >= at
                        && [state::RESOLVED, state::CLOSED].contains(&text("state").as_str())
                    {
                        out.push(TicketChange {
                            node: node.to_owned(),
                            number,
                            change: "resolved",
                        });
                    }
                }
            }
            Ok(out)
        })
    }
}
