//! The resource data sync's objects: their keys and what the report reads in them.
//!
//! Layout (resource data sync, `SyncToDestination`, `JsonSerDe`): one object per node and type,
//! `<prefix>/AWS:<Type>/accountid=<id>/region=<region>/resourcetype=ManagedInstanceInventory/<node>.json`,
//! each line one JSON object with the inventory type's attributes (numbers as strings) and the
//! sync's own `captureTime`, `resourceId`, `schemaVersion`. The bucket is versioned, so each
//! object's versions are its history (the generator's `report::history`).

use std::collections::BTreeMap;

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
    /// `SecurityUpdates`, `Security`, `CriticalUpdates`, `Bugfix`, …
    pub classification: String,
}

impl MissingPatch {
    /// Critical, or a security update: what the SLA measures.
    pub fn counts_for_sla(&self) -> bool {
        self.severity.eq_ignore_ascii_case("critical") || self.classification.to_ascii_lowercase().contains("security")
    }
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
            classification: text(&o, "Classification"),
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

/// What the report reads in `AWS:InstanceInformation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceInfo {
    /// Platform label (`Amazon Linux 2023`, `Ubuntu 22.04`, `unknown`).
    pub platform: String,
    /// `Active`, `ConnectionLost`, `Inactive`, … (SSM's `PingStatus` as the sync writes it).
    pub status: String,
}

/// Parses `AWS:InstanceInformation`.
pub fn parse_instance_information(body: &str) -> Result<InstanceInfo, String> {
    let o = first_object(body)?;
    let name = text(&o, "PlatformName");
    let version = text(&o, "PlatformVersion");
    let platform = match (name.is_empty(), version.is_empty() || name.contains(&version)) {
        (true, _) => "unknown".to_owned(),
        (false, true) => name,
        (false, false) => format!("{name} {version}"),
    };
    Ok(InstanceInfo {
        platform,
        status: text(&o, "InstanceStatus"),
    })
}

/// Parses `AWS:InstanceInformation` into a platform label.
pub fn parse_platform(body: &str) -> Result<String, String> {
    parse_instance_information(body).map(|i| i.platform)
}

/// `AWS:Tag`: the node's tags (one `{Key, Value}` per line), when inventory collects them.
pub const TAG: &str = "AWS:Tag";

/// Parses `AWS:Tag`.
pub fn parse_tags(body: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str::<Json>(line) {
            Ok(Json::Object(o)) => {
                out.insert(text(&o, "Key"), text(&o, "Value"));
            }
            _ => return Err(format!("line {}: not a JSON object", i + 1)),
        }
    }
    Ok(out)
}

/// The capture time the inventory recorded in an object (its first line's `captureTime`).
pub fn capture_time(body: &str) -> Option<Timestamp> {
    let o = first_object(body).ok()?;
    let t = text(&o, "captureTime");
    t.parse().ok()
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
}
