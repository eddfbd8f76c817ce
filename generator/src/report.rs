//! `patchplane report`: the monthly SOC2 patch-compliance artefact, built from the resource data
//! sync objects every member account writes to the evidence bucket.
//!
//! Layout (resource data sync, `SyncToDestination`, `JsonSerDe`): one object per node and type,
//! `<prefix>/AWS:<Type>/accountid=<id>/region=<region>/resourcetype=ManagedInstanceInventory/<node>.json`,
//! each line one JSON object with the inventory type's attributes (numbers as strings). The report
//! reads `AWS:PatchSummary` (baseline, patch group, counts, last operation) and
//! `AWS:InstanceInformation` (platform). A node with a summary but no instance information is
//! still reported (platform `unknown`); an object that cannot be read is reported by key and
//! skipped, never fatal.
//!
//! Compliance follows Patch Manager's rule: a node is `NON_COMPLIANT` when any approved patch is
//! missing, failed, or installed but waiting for a reboot. The sync holds the current state only,
//! so "non-compliant for longer than the SLA" is judged from the last `Install` operation: a
//! non-compliant node whose last install ended more than `sla_days` before the cut-off (or that has
//! none on record) had no chance to meet the SLA, and is listed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::Value as Json;

/// Inventory types the report reads.
pub const PATCH_SUMMARY: &str = "AWS:PatchSummary";
/// Platform and status of a node.
pub const INSTANCE_INFORMATION: &str = "AWS:InstanceInformation";

/// The parts of a resource data sync key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncKey {
    /// `AWS:PatchSummary`, …
    pub type_name: String,
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// Node id (`i-…` or `mi-…`).
    pub node: String,
}

/// Parses a key below `prefix`; `None` for keys of another layout.
pub fn parse_key(prefix: &str, key: &str) -> Option<SyncKey> {
    let rest = key.strip_prefix(prefix)?.trim_start_matches('/');
    let parts: Vec<&str> = rest.split('/').collect();
    let [type_name, account, region, resource_type, file] = parts.as_slice() else {
        return None;
    };
    let account = account.strip_prefix("accountid=")?;
    let region = region.strip_prefix("region=")?;
    resource_type.strip_prefix("resourcetype=")?;
    let node = file.strip_suffix(".json")?;
    if !type_name.starts_with("AWS:") || account.is_empty() || region.is_empty() || node.is_empty() {
        return None;
    }
    Some(SyncKey {
        type_name: (*type_name).to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        node: node.to_owned(),
    })
}

/// `AWS:PatchSummary` of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchSummary {
    /// Patch group tag value.
    pub patch_group: String,
    /// Baseline the node was measured against.
    pub baseline_id: String,
    /// Missing patches of critical severity.
    pub critical: u64,
    /// Missing security patches (other severities).
    pub security: u64,
    /// Other missing patches.
    pub other: u64,
    /// All missing patches.
    pub missing: u64,
    /// Patches that failed to install.
    pub failed: u64,
    /// Installed, waiting for a reboot.
    pub pending_reboot: u64,
    /// `Scan` or `Install`.
    pub operation: String,
    /// End of the last operation.
    pub operation_end: Option<Timestamp>,
}

/// Why an object was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// S3 key.
    pub key: String,
    /// What was wrong.
    pub reason: String,
}

fn count(obj: &serde_json::Map<String, Json>, field: &str) -> Result<u64, String> {
    match obj.get(field) {
        None | Some(Json::Null) => Ok(0),
        Some(Json::String(s)) if s.is_empty() => Ok(0),
        Some(Json::String(s)) => s.trim().parse().map_err(|_| format!("`{field}` is `{s}`, not a count")),
        Some(Json::Number(n)) => n.as_u64().ok_or_else(|| format!("`{field}` is {n}, not a count")),
        Some(other) => Err(format!("`{field}` is {other}, not a count")),
    }
}

fn text(obj: &serde_json::Map<String, Json>, field: &str) -> String {
    obj.get(field).and_then(Json::as_str).unwrap_or_default().to_owned()
}

/// The first JSON object of a JsonSerDe body (one object per line).
fn first_object(body: &str) -> Result<serde_json::Map<String, Json>, String> {
    let line = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or("the object is empty")?;
    match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err("the first line is not a JSON object".to_owned()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// Parses an `AWS:PatchSummary` object.
pub fn parse_patch_summary(body: &str) -> Result<PatchSummary, String> {
    let o = first_object(body)?;
    let baseline_id = text(&o, "BaselineId");
    if baseline_id.is_empty() {
        return Err("`BaselineId` is missing".to_owned());
    }
    let end = text(&o, "OperationEndTime");
    let operation_end = if end.is_empty() {
        None
    } else {
        Some(
            end.parse::<Timestamp>()
                .map_err(|_| format!("`OperationEndTime` is `{end}`, not a timestamp"))?,
        )
    };
    Ok(PatchSummary {
        patch_group: text(&o, "PatchGroup"),
        baseline_id,
        critical: count(&o, "CriticalNonCompliantCount")?,
        security: count(&o, "SecurityNonCompliantCount")?,
        other: count(&o, "OtherNonCompliantCount")?,
        missing: count(&o, "MissingCount")?,
        failed: count(&o, "FailedCount")?,
        pending_reboot: count(&o, "InstalledPendingRebootCount")?,
        operation: text(&o, "OperationType"),
        operation_end,
    })
}

/// `AWS:ComplianceItem`.
pub const COMPLIANCE_ITEM: &str = "AWS:ComplianceItem";

/// A patch the last scan found missing (or failed) on a node: one `AWS:ComplianceItem` line of
/// type `Patch` with status `NON_COMPLIANT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPatch {
    /// `KB5034441`, `ALAS2023-2024-512`, …
    pub id: String,
    /// Its title.
    pub title: String,
    /// `Critical`, `Important`, … (empty when the item has none).
    pub severity: String,
    /// `Missing`, `Failed`, `InstalledPendingReboot`, …
    pub state: String,
}

/// The missing patches of an `AWS:ComplianceItem` object (one JSON object per line), and the
/// capture time the inventory recorded, when it did. Lines that are not JSON objects are errors;
/// other compliance types and compliant items are left out.
pub fn parse_missing_patches(body: &str) -> Result<(Vec<MissingPatch>, Option<Timestamp>), String> {
    let mut out = Vec::new();
    let mut captured = None;
    for (i, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let o = match serde_json::from_str::<Json>(line) {
            Ok(Json::Object(m)) => m,
            Ok(_) => return Err(format!("line {}: not a JSON object", i + 1)),
            Err(e) => return Err(format!("line {}: not JSON: {e}", i + 1)),
        };
        if captured.is_none() {
            captured = text(&o, "captureTime").parse::<Timestamp>().ok();
        }
        if text(&o, "ComplianceType") != "Patch" || text(&o, "Status") != "NON_COMPLIANT" {
            continue;
        }
        let severity = match text(&o, "PatchSeverity") {
            s if s.is_empty() => text(&o, "Severity"),
            s => s,
        };
        out.push(MissingPatch {
            id: text(&o, "Id"),
            title: text(&o, "Title"),
            severity,
            state: text(&o, "PatchState"),
        });
    }
    Ok((out, captured))
}

/// The key of a node's object of `type_name` (`AWS:PatchSummary`, …) under `prefix`.
pub fn sync_key(prefix: &str, type_name: &str, account: &str, region: &str, node: &str) -> String {
    format!(
        "{prefix}/{type_name}/accountid={account}/region={region}/resourcetype=ManagedInstanceInventory/{node}.json"
    )
}

/// Parses `AWS:InstanceInformation` into a platform label (`Amazon Linux 2023`, `Ubuntu 22.04`).
pub fn parse_platform(body: &str) -> Result<String, String> {
    let o = first_object(body)?;
    let name = text(&o, "PlatformName");
    let version = text(&o, "PlatformVersion");
    Ok(match (name.is_empty(), version.is_empty() || name.contains(&version)) {
        (true, _) => "unknown".to_owned(),
        (false, true) => name,
        (false, false) => format!("{name} {version}"),
    })
}

/// One node of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Node id.
    pub node: String,
    /// Platform label.
    pub platform: String,
    /// Ring, the patch group's suffix after its last `-`.
    pub ring: String,
    /// Patch summary.
    pub summary: PatchSummary,
}

impl NodeRow {
    /// `EC2` for `i-` ids, `managed-instance` for hybrid `mi-` nodes.
    pub fn node_type(&self) -> &'static str {
        if self.node.starts_with("mi-") {
            "managed-instance"
        } else {
            "EC2"
        }
    }

    /// Patch Manager's compliance rule.
    pub fn compliant(&self) -> bool {
        let s = &self.summary;
        s.missing == 0 && s.failed == 0 && s.pending_reboot == 0
    }
}

/// Everything read from the bucket, before aggregation.
#[derive(Debug, Default)]
pub struct Collected {
    /// Patch summaries by (account, region, node).
    pub summaries: BTreeMap<(String, String, String), PatchSummary>,
    /// Platform labels by (account, region, node).
    pub platforms: BTreeMap<(String, String, String), String>,
    /// Objects that were skipped.
    pub problems: Vec<Problem>,
}

impl Collected {
    /// Adds one object.
    pub fn add(&mut self, prefix: &str, key: &str, body: Result<String, String>) {
        let Some(k) = parse_key(prefix, key) else {
            self.problems.push(Problem {
                key: key.to_owned(),
                reason: "not a resource data sync key".to_owned(),
            });
            return;
        };
        let body = match body {
            Ok(b) => b,
            Err(reason) => {
                return self.problems.push(Problem {
                    key: key.to_owned(),
                    reason,
                });
            }
        };
        let id = (k.account, k.region, k.node);
        let result = match k.type_name.as_str() {
            PATCH_SUMMARY => parse_patch_summary(&body).map(|s| {
                self.summaries.insert(id, s);
            }),
            INSTANCE_INFORMATION => parse_platform(&body).map(|p| {
                self.platforms.insert(id, p);
            }),
            _ => Ok(()),
        };
        if let Err(reason) = result {
            self.problems.push(Problem {
                key: key.to_owned(),
                reason,
            });
        }
    }
}

/// The report.
#[derive(Debug)]
pub struct Report {
    /// `YYYY-MM`.
    pub month: String,
    /// SLA in days.
    pub sla_days: i64,
    /// Instant the SLA is judged at.
    pub cutoff: Timestamp,
    /// Every node, sorted by account, region, node.
    pub nodes: Vec<NodeRow>,
    /// Skipped objects.
    pub problems: Vec<Problem>,
}

/// Builds the report from collected objects.
pub fn build(collected: Collected, month: &str, sla_days: i64, cutoff: Timestamp) -> Report {
    let mut problems = collected.problems;
    let nodes = collected
        .summaries
        .into_iter()
        .map(|((account, region, node), summary)| {
            let platform = collected
                .platforms
                .get(&(account.clone(), region.clone(), node.clone()))
                .cloned()
                .unwrap_or_else(|| "unknown".to_owned());
            let ring = summary
                .patch_group
                .rsplit_once('-')
                .map(|(_, r)| r.to_owned())
                .unwrap_or_default();
            NodeRow {
                account,
                region,
                node,
                platform,
                ring,
                summary,
            }
        })
        .collect();
    problems.sort_by(|a, b| a.key.cmp(&b.key));
    Report {
        month: month.to_owned(),
        sla_days,
        cutoff,
        nodes,
        problems,
    }
}

impl Report {
    /// Non-compliant nodes whose last install ended more than `sla_days` before the cut-off.
    pub fn overdue(&self) -> Vec<&NodeRow> {
        let limit = self.cutoff.as_second() - self.sla_days * 86_400;
        self.nodes
            .iter()
            .filter(|n| !n.compliant())
            .filter(|n| {
                let installed = n.summary.operation.eq_ignore_ascii_case("Install");
                !installed || n.summary.operation_end.is_none_or(|t| t.as_second() < limit)
            })
            .collect()
    }

    /// One row per node.
    pub fn nodes_csv(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            &[
                "month",
                "account",
                "region",
                "node_id",
                "node_type",
                "platform",
                "patch_group",
                "ring",
                "baseline_id",
                "compliance",
                "missing_critical",
                "missing_security",
                "missing_other",
                "missing_total",
                "failed",
                "installed_pending_reboot",
                "last_operation",
                "last_operation_time",
            ],
        );
        for n in &self.nodes {
            let s = &n.summary;
            line(
                &mut out,
                &[
                    &self.month,
                    &n.account,
                    &n.region,
                    &n.node,
                    n.node_type(),
                    &n.platform,
                    &s.patch_group,
                    &n.ring,
                    &s.baseline_id,
                    if n.compliant() { "COMPLIANT" } else { "NON_COMPLIANT" },
                    &s.critical.to_string(),
                    &s.security.to_string(),
                    &s.other.to_string(),
                    &s.missing.to_string(),
                    &s.failed.to_string(),
                    &s.pending_reboot.to_string(),
                    &s.operation,
                    &s.operation_end.map(|t| t.to_string()).unwrap_or_default(),
                ],
            );
        }
        out
    }

    /// Totals per account, platform and ring.
    pub fn summary_csv(&self) -> String {
        #[derive(Default)]
        struct Totals {
            nodes: u64,
            compliant: u64,
            critical: u64,
            security: u64,
            other: u64,
        }
        let mut groups: BTreeMap<(&str, &str, &str), Totals> = BTreeMap::new();
        for n in &self.nodes {
            let t = groups.entry((&n.account, &n.platform, &n.ring)).or_default();
            t.nodes += 1;
            t.compliant += u64::from(n.compliant());
            t.critical += n.summary.critical;
            t.security += n.summary.security;
            t.other += n.summary.other;
        }
        let mut out = String::new();
        line(
            &mut out,
            &[
                "month",
                "account",
                "platform",
                "ring",
                "nodes",
                "compliant",
                "non_compliant",
                "compliance_percent",
                "missing_critical",
                "missing_security",
                "missing_other",
            ],
        );
        for ((account, platform, ring), t) in &groups {
            let pct = format!("{:.1}", 100.0 * t.compliant as f64 / t.nodes as f64);
            line(
                &mut out,
                &[
                    &self.month,
                    account,
                    platform,
                    ring,
                    &t.nodes.to_string(),
                    &t.compliant.to_string(),
                    &(t.nodes - t.compliant).to_string(),
                    &pct,
                    &t.critical.to_string(),
                    &t.security.to_string(),
                    &t.other.to_string(),
                ],
            );
        }
        out
    }

    /// Non-compliant nodes past the SLA.
    pub fn overdue_csv(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            &[
                "month",
                "account",
                "region",
                "node_id",
                "patch_group",
                "missing_critical",
                "missing_total",
                "last_install_time",
                "sla_days",
            ],
        );
        for n in self.overdue() {
            let s = &n.summary;
            let last_install = if s.operation.eq_ignore_ascii_case("Install") {
                s.operation_end.map(|t| t.to_string()).unwrap_or_default()
            } else {
                String::new()
            };
            line(
                &mut out,
                &[
                    &self.month,
                    &n.account,
                    &n.region,
                    &n.node,
                    &s.patch_group,
                    &s.critical.to_string(),
                    &s.missing.to_string(),
                    &last_install,
                    &self.sla_days.to_string(),
                ],
            );
        }
        out
    }
}

/// Appends one CSV record (RFC 4180 quoting).
fn line(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            let _ = write!(out, "\"{}\"", f.replace('"', "\"\""));
        } else {
            out.push_str(f);
        }
    }
    out.push('\n');
}

/// The instant the SLA is judged at: the start of the month after `month`, or `now` if earlier.
pub fn cutoff(month: &str, now: Timestamp) -> Result<Timestamp, String> {
    let bad = || format!("`{month}` is not a month YYYY-MM");
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let first = jiff::civil::Date::new(y, m, 1).map_err(|_| bad())?;
    let next = first.checked_add(jiff::ToSpan::month(1)).map_err(|_| bad())?;
    let end = next.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?.timestamp();
    Ok(end.min(now))
}

/// Reading the bucket (aws-sdk-s3).
#[cfg(feature = "aws")]
pub mod s3 {
    use std::sync::Arc;

    use aws_sdk_s3::Client;
    use tokio::sync::Semaphore;

    use super::{Collected, INSTANCE_INFORMATION, PATCH_SUMMARY};

    /// Objects fetched at once.
    const CONCURRENCY: usize = 16;

    /// Lists and reads every patch summary and instance information object below `prefix`.
    /// A listing failure is an error (the report would be incomplete); a failed object read is a
    /// problem on that key.
    pub async fn collect(client: &Client, bucket: &str, prefix: &str) -> Result<Collected, String> {
        let mut keys = Vec::new();
        for type_name in [PATCH_SUMMARY, INSTANCE_INFORMATION] {
            let list_prefix = if prefix.is_empty() {
                format!("{type_name}/")
            } else {
                format!("{prefix}/{type_name}/")
            };
            let mut pages = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&list_prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    format!(
                        "cannot list s3://{bucket}/{list_prefix}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                })?;
                keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            }
        }
        let permits = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for key in keys {
            let (client, bucket, permits) = (client.clone(), bucket.to_owned(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let body = read(&client, &bucket, &key).await;
                (key, body)
            });
        }
        let mut collected = Collected::default();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((key, body)) => collected.add(prefix, &key, body),
                Err(e) => return Err(format!("a read task failed: {e}")),
            }
        }
        Ok(collected)
    }

    async fn read(client: &Client, bucket: &str, key: &str) -> Result<String, String> {
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("cannot read: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| format!("cannot read the body: {e}"))?
            .into_bytes();
        String::from_utf8(bytes.to_vec()).map_err(|_| "the object is not UTF-8".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_patches_from_compliance_items() {
        let body = concat!(
            r#"{"ComplianceType":"Patch","Id":"KB5034441","Title":"2024-01 Security Update","Status":"NON_COMPLIANT","Severity":"CRITICAL","PatchSeverity":"Critical","PatchState":"Missing","resourceId":"i-1","captureTime":"2026-11-29T03:00:00Z"}"#,
            "\n",
            r#"{"ComplianceType":"Patch","Id":"KB1","Title":"ok","Status":"COMPLIANT","PatchState":"Installed"}"#,
            "\n",
            r#"{"ComplianceType":"Association","Id":"a-1","Status":"NON_COMPLIANT"}"#,
            "\n",
            r#"{"ComplianceType":"Patch","Id":"ALAS-1","Title":"kernel","Status":"NON_COMPLIANT","Severity":"MEDIUM","PatchState":"Failed"}"#,
        );
        let (missing, captured) = parse_missing_patches(body).expect("parses");
        assert_eq!(
            missing
                .iter()
                .map(|m| (m.id.as_str(), m.severity.as_str(), m.state.as_str()))
                .collect::<Vec<_>>(),
            vec![("KB5034441", "Critical", "Missing"), ("ALAS-1", "MEDIUM", "Failed")]
        );
        assert_eq!(captured.map(|t| t.to_string()).as_deref(), Some("2026-11-29T03:00:00Z"));
        let e = parse_missing_patches("{\"ComplianceType\":\"Patch\"}\n[1]").expect_err("a list line");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn keys() {
        let k = parse_key("rds", "rds/AWS:PatchSummary/accountid=111111111111/region=eu-west-1/resourcetype=ManagedInstanceInventory/mi-0123456789abcdef0.json").expect("key");
        assert_eq!(
            (
                k.type_name.as_str(),
                k.account.as_str(),
                k.region.as_str(),
                k.node.as_str()
            ),
            ("AWS:PatchSummary", "111111111111", "eu-west-1", "mi-0123456789abcdef0")
        );
        assert!(parse_key("", "AWS:PatchSummary/accountid=1/region=r/resourcetype=M/i-1.json").is_some());
        assert!(parse_key("rds", "rds/AWS:PatchSummary/accountid=1/region=r/i-1.json").is_none());
        assert!(
            parse_key(
                "rds",
                "other/AWS:PatchSummary/accountid=1/region=r/resourcetype=M/i-1.json"
            )
            .is_none()
        );
    }

    #[test]
    fn summaries_and_their_errors() {
        let s = parse_patch_summary("{\"BaselineId\":\"pb-1\",\"PatchGroup\":\"AL2023-early\",\"MissingCount\":\"3\",\"CriticalNonCompliantCount\":\"1\",\"SecurityNonCompliantCount\":\"2\",\"OperationType\":\"Install\",\"OperationEndTime\":\"2026-10-20T02:30:00Z\"}\n").expect("ok");
        assert_eq!((s.missing, s.critical, s.security, s.other), (3, 1, 2, 0));
        assert_eq!(
            s.operation_end.map(|t| t.to_string()).as_deref(),
            Some("2026-10-20T02:30:00Z")
        );
        assert!(
            parse_patch_summary("{\"PatchGroup\":\"x\"}")
                .expect_err("no baseline")
                .contains("BaselineId")
        );
        assert!(
            parse_patch_summary("{\"BaselineId\":\"pb\",\"MissingCount\":\"many\"}")
                .expect_err("bad")
                .contains("MissingCount")
        );
        assert!(parse_patch_summary("not json").expect_err("bad").contains("not JSON"));
        assert!(parse_patch_summary("").expect_err("empty").contains("empty"));
    }

    #[test]
    fn csv_quoting() {
        let mut s = String::new();
        line(&mut s, &["a", "b,c", "d\"e"]);
        assert_eq!(s, "a,\"b,c\",\"d\"\"e\"\n");
    }

    #[test]
    fn cutoff_is_the_next_month_or_now() {
        let now: Timestamp = "2026-11-24T09:00:00Z".parse().expect("ts");
        assert_eq!(cutoff("2026-10", now).expect("ok").to_string(), "2026-11-01T00:00:00Z");
        assert_eq!(cutoff("2026-11", now).expect("ok"), now);
        assert!(cutoff("2026-13", now).is_err() && cutoff("26-10", now).is_err() && cutoff("2026/10", now).is_err());
    }
}
