//! Nodes whose command output never arrived (issue 28, item 3).
//!
//! Run Command writes a node's output to the evidence bucket with the node's own credentials,
//! under the windows' `OutputS3KeyPrefix` (`run-command/<account>/<region>`). The API reference
//! documents what SSM puts below the prefix: "`amzn-s3-demo-bucket/my-prefix/i-02573cafcfEXAMPLE/
//! awsrunShellScript` … `my-prefix` is the name of the S3 prefix; `i-02573cafcfEXAMPLE` is the
//! managed node ID; `awsrunShellScript` is the name of the plugin" (CommandPlugin,
//! `OutputS3KeyPrefix`,
//! <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandPlugin.html>).
//! Consoles and CLI runs show the command id between the prefix and the node id
//! (`<prefix>/<command-id>/<node-id>/<plugin>/…/stdout`), which that example does not; so the
//! match is on a whole `/<node-id>/` segment anywhere below `run-command/<account>/<region>/`,
//! which holds for both.
//!
//! A node whose last patch operation in the month was an `Install` (its `AWS:PatchSummary`'s
//! `Operation` and `OperationEndTime`) and that has no such object written within a day of that
//! operation's end is listed: the node cannot write its output (attach `<policy>-node-output`).

use jiff::{SignedDuration, Timestamp};

use super::NodeRow;

/// How far an output object's write may be from the install's end.
pub const WITHIN: SignedDuration = SignedDuration::from_hours(24);

/// A node's install in the month, which should have left output in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Node id.
    pub node: String,
    /// Patch group.
    pub patch_group: String,
    /// `OperationEndTime` of the install.
    pub end: Timestamp,
}

/// The prefix one account and region's output is written under (`<prefix>/<account>/<region>/`).
pub fn output_prefix(prefix: &str, account: &str, region: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        format!("{account}/{region}/")
    } else {
        format!("{prefix}/{account}/{region}/")
    }
}

/// Nodes whose last patch operation was an `Install` that ended in `[from, to)`, in the rows'
/// order (account, region, node).
pub fn installs(nodes: &[NodeRow], from: Timestamp, to: Timestamp) -> Vec<Install> {
    nodes
        .iter()
        .filter_map(|n| {
            let s = n.summary.as_ref()?;
            let end = s.operation_end?;
            (s.operation.eq_ignore_ascii_case("Install") && from <= end && end < to).then(|| Install {
                account: n.account.clone(),
                region: n.region.clone(),
                node: n.node.clone(),
                patch_group: s.patch_group.clone(),
                end,
            })
        })
        .collect()
}

/// The installs of one account and region without an output object: none of `objects` (key and
/// time written, listed under that account and region's prefix) has the node's id as a whole path
/// segment and was written within [`WITHIN`] of the install's end.
pub fn missing<'a>(installs: impl IntoIterator<Item = &'a Install>, objects: &[(String, Timestamp)]) -> Vec<Install> {
    installs
        .into_iter()
        .filter(|i| {
            let segment = format!("/{}/", i.node);
            !objects
                .iter()
                .any(|(key, at)| key.contains(&segment) && at.duration_since(i.end).abs() <= WITHIN)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Coverage, PatchSummary};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn row(node: &str, operation: &str, end: &str) -> NodeRow {
        NodeRow {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            node: node.into(),
            platform: "Amazon Linux 2023".into(),
            ring: "early".into(),
            summary: Some(PatchSummary {
                patch_group: "AL2023-early".into(),
                baseline_id: "pb-1".into(),
                operation: operation.into(),
                operation_end: Some(t(end)),
                ..PatchSummary::default()
            }),
            status: "Online".into(),
            coverage: Coverage::Covered,
            exception: None,
            overdue: Vec::new(),
        }
    }

    #[test]
    fn installs_without_output_within_a_day_are_missing() {
        let rows = vec![
            row("i-0000000000000000a", "Install", "2026-10-20T02:30:00Z"),
            row("i-0000000000000000b", "Install", "2026-10-20T02:30:00Z"),
            // Output a day and a half late: it belongs to another run.
            row("i-0000000000000000c", "Install", "2026-10-20T02:30:00Z"),
            // A scan: no install output expected.
            row("i-0000000000000000d", "Scan", "2026-10-20T02:30:00Z"),
            // An install of the month before.
            row("i-0000000000000000e", "Install", "2026-09-30T23:00:00Z"),
            // Only a node whose id merely starts with this one's has output.
            row("i-0000000000000000f", "Install", "2026-10-20T02:30:00Z"),
        ];
        let (from, to) = (
            crate::report::month_start("2026-10").expect("month"),
            crate::report::month_end("2026-10").expect("month"),
        );
        assert_eq!((from, to), (t("2026-10-01T00:00:00Z"), t("2026-11-01T00:00:00Z")));
        let got = installs(&rows, from, to);
        assert_eq!(
            got.iter().map(|i| i.node.as_str()).collect::<Vec<_>>(),
            [
                "i-0000000000000000a",
                "i-0000000000000000b",
                "i-0000000000000000c",
                "i-0000000000000000f"
            ]
        );
        let p = output_prefix("run-command/", "111111111111", "us-east-1");
        assert_eq!(p, "run-command/111111111111/us-east-1/");
        let objects = vec![
            (
                format!(
                    "{p}0b3c6a1e-1111-2222-3333-444455556666/i-0000000000000000a/awsrunShellScript/PatchLinux/stdout"
                ),
                t("2026-10-20T02:31:00Z"),
            ),
            (
                format!(
                    "{p}0b3c6a1e-1111-2222-3333-444455556666/i-0000000000000000c/awsrunShellScript/PatchLinux/stdout"
                ),
                t("2026-10-21T14:31:00Z"),
            ),
            (
                format!(
                    "{p}0b3c6a1e-1111-2222-3333-444455556666/i-0000000000000000f0/awsrunShellScript/PatchLinux/stdout"
                ),
                t("2026-10-20T02:31:00Z"),
            ),
        ];
        let missing = missing(&got, &objects);
        assert_eq!(
            missing,
            ["i-0000000000000000b", "i-0000000000000000c", "i-0000000000000000f"]
                .iter()
                .map(|n| Install {
                    account: "111111111111".into(),
                    region: "us-east-1".into(),
                    node: (*n).into(),
                    patch_group: "AL2023-early".into(),
                    end: t("2026-10-20T02:30:00Z"),
                })
                .collect::<Vec<_>>()
        );
    }
}
