//! `patchplane report`: the monthly SOC2 patch-compliance evidence, as of the end of a month, from
//! the versions of the resource data sync objects in the evidence bucket (ADR 015).
//!
//! - [`sync`]: the sync's keys and the objects the report reads (`AWS:PatchSummary`,
//!   `AWS:InstanceInformation`, `AWS:ComplianceItem`, `AWS:Tag`).
//! - [`history`]: which version was in effect at the cut-off, and since when each missing patch
//!   has been missing.
//! - this module: nodes as of the cut-off, coverage, exceptions, overdue patches, the CSV files.
//! - [`html`]: the dashboard, one self-contained page.
//! - [`output`]: nodes whose install left no command output in the bucket.
//! - `s3` (feature `aws`): listing the versions and reading what the walks want.
//!
//! Rules an auditor can re-perform:
//! - **Compliance** follows Patch Manager: `NON_COMPLIANT` when any approved patch is missing,
//!   failed or installed pending a reboot; `EXCEPTED` when an exception in force at the cut-off
//!   covers the node; `UNKNOWN` when no scan is on record.
//! - **Coverage**: every node the inventory knows appears. `NEVER_SCANNED` (no patch summary),
//!   `UNTARGETED` (no patch group, or one no install window targets), `DISCONNECTED` (the agent's
//!   status is `ConnectionLost`), else `COVERED`.
//! - **Overdue**: a critical or security patch missing without a break for longer than its
//!   severity's SLA (`evidence.sla_days`) at the cut-off, counted from the first version that shows
//!   it missing, whatever installs ran in between. Each row says since when.

pub mod history;
pub mod html;
pub mod output;
pub use patchplane_bridge_config::sync;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jiff::Timestamp;

pub use self::history::{Entry, Mode, Run, Walk};
pub use self::sync::*;
use crate::bridge_config::SlaDays;
use crate::exception::Exception;

/// (account, region, node).
pub type NodeId = (String, String, String);

/// What the sync held for one node at the cut-off.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    /// `AWS:InstanceInformation`.
    pub info: Option<InstanceInfo>,
    /// `AWS:PatchSummary`.
    pub summary: Option<PatchSummary>,
    /// `AWS:Tag`.
    pub tags: BTreeMap<String, String>,
    /// Critical and security patches missing at the cut-off, with since when.
    pub runs: Vec<Run>,
}

/// Every node at the cut-off, and the objects that could not be used.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Nodes.
    pub nodes: BTreeMap<NodeId, NodeState>,
    /// Skipped objects.
    pub problems: Vec<Problem>,
}

/// The types the report reads, and how.
pub const TYPES: [(&str, Mode); 4] = [
    (PATCH_SUMMARY, Mode::Pick),
    (INSTANCE_INFORMATION, Mode::Pick),
    (COMPLIANCE_ITEM, Mode::History),
    (TAG, Mode::Pick),
];

/// One walk per object of a listing (key → its versions) as of `cutoff`, and the keys below a
/// type the report reads that are not sync objects (reported, skipped). `ignore` are patch
/// patterns excepted everywhere.
pub fn walks(
    prefix: &str,
    listing: BTreeMap<String, Vec<Entry>>,
    cutoff: Timestamp,
    ignore: &[String],
) -> (Vec<(String, SyncKey, Walk)>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (key, entries) in listing {
        let Some(k) = parse_key(prefix, &key) else {
            let rest = key.strip_prefix(prefix).unwrap_or(&key).trim_start_matches('/');
            if TYPES.iter().any(|(t, _)| rest.starts_with(&format!("{t}/"))) {
                problems.push(Problem {
                    key,
                    reason: "not a resource data sync key".to_owned(),
                });
            }
            continue;
        };
        let Some((_, mode)) = TYPES.iter().find(|(t, _)| *t == k.type_name) else {
            continue;
        };
        let walk = Walk::new(*mode, entries, cutoff, ignore.to_vec());
        out.push((key, k, walk));
    }
    (out, problems)
}

impl Snapshot {
    /// The nodes the finished walks describe.
    pub fn from_walks(walks: Vec<(String, SyncKey, Walk)>) -> Snapshot {
        let mut s = Snapshot::default();
        for (key, k, w) in walks {
            let Some((body, _)) = w.effective() else { continue };
            let id = (k.account, k.region, k.node);
            let result = match k.type_name.as_str() {
                PATCH_SUMMARY => parse_patch_summary(body).map(|p| s.nodes.entry(id).or_default().summary = Some(p)),
                INSTANCE_INFORMATION => {
                    parse_instance_information(body).map(|i| s.nodes.entry(id).or_default().info = Some(i))
                }
                TAG => parse_tags(body).map(|t| s.nodes.entry(id).or_default().tags = t),
                COMPLIANCE_ITEM => {
                    s.nodes.entry(id).or_default().runs = w.runs();
                    Ok(())
                }
                _ => Ok(()),
            };
            if let Err(reason) = result {
                s.problems.push(Problem { key, reason });
            }
        }
        s
    }
}

/// Runs every walk with a synchronous reader (local files, tests, the bench): the same walks as
/// the S3 reader, one version at a time.
pub fn snapshot_with(
    mut walks: Vec<(String, SyncKey, Walk)>,
    mut read: impl FnMut(&str, &Entry) -> Result<String, String>,
) -> Snapshot {
    let mut problems = Vec::new();
    for (key, _, w) in &mut walks {
        history::run_walk(w, |e| {
            let b = read(key, e);
            if let Err(reason) = &b {
                problems.push(Problem {
                    key: key.clone(),
                    reason: reason.clone(),
                });
            }
            b
        });
    }
    let mut s = Snapshot::from_walks(walks);
    s.problems.extend(problems);
    s
}

/// Coverage of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coverage {
    /// Scanned, in a targeted patch group, connected.
    Covered,
    /// No patch summary on record.
    NeverScanned,
    /// No patch group, or one no install window targets.
    Untargeted,
    /// The agent lost its connection.
    Disconnected,
}

impl Coverage {
    /// As the CSV and the page write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Covered => "COVERED",
            Coverage::NeverScanned => "NEVER_SCANNED",
            Coverage::Untargeted => "UNTARGETED",
            Coverage::Disconnected => "DISCONNECTED",
        }
    }
}

/// A patch past its SLA on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// The run.
    pub run: Run,
    /// Days missing at the cut-off.
    pub days: i64,
    /// The SLA it missed.
    pub sla_days: u32,
}

/// One node of the report.
#[derive(Debug, Clone)]
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
    /// Patch summary (none: never scanned).
    pub summary: Option<PatchSummary>,
    /// The agent's status (`Active`, `ConnectionLost`, …; empty when unknown).
    pub status: String,
    /// Coverage.
    pub coverage: Coverage,
    /// The exception in force that covers the node.
    pub exception: Option<String>,
    /// Patches past their SLA (empty for an excepted node).
    pub overdue: Vec<Overdue>,
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

    /// Patch Manager's compliance rule, with exceptions.
    pub fn compliance(&self) -> &'static str {
        match (&self.exception, &self.summary) {
            (Some(_), _) => "EXCEPTED",
            (None, None) => "UNKNOWN",
            (None, Some(s)) if s.missing == 0 && s.failed == 0 && s.pending_reboot == 0 => "COMPLIANT",
            _ => "NON_COMPLIANT",
        }
    }

    /// Compliant (excepted nodes are not).
    pub fn compliant(&self) -> bool {
        self.compliance() == "COMPLIANT"
    }
}

/// What the report needs besides the snapshot.
#[derive(Debug, Clone)]
pub struct Options {
    /// `YYYY-MM`.
    pub month: String,
    /// The instant the state is taken at.
    pub cutoff: Timestamp,
    /// SLAs per severity.
    pub sla: SlaDays,
    /// Exceptions of the policy (those in force at the cut-off apply).
    pub exceptions: Vec<Exception>,
    /// Patch groups some install window targets (from the policy); `None`: any non-empty group.
    pub targeted: Option<BTreeSet<String>>,
}

/// Compliance at the end of a past month.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    /// Nodes with a summary.
    pub nodes: usize,
    /// Of them compliant.
    pub compliant: usize,
}

/// The report.
#[derive(Debug)]
pub struct Report {
    /// Options it was built with.
    pub options: Options,
    /// Every node, sorted by account, region, node.
    pub nodes: Vec<NodeRow>,
    /// Exceptions in force at the cut-off.
    pub exceptions: Vec<Exception>,
    /// The months before, oldest first (filled by the reader).
    pub trend: Vec<TrendPoint>,
    /// Installs of the month whose command output never arrived (filled by the reader).
    pub missing_output: Vec<output::Install>,
    /// Skipped objects.
    pub problems: Vec<Problem>,
}

/// The date of an instant in UTC.
fn day(t: Timestamp) -> jiff::civil::Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Builds the report from a snapshot.
pub fn build(snapshot: Snapshot, options: Options) -> Report {
    let cut_day = day(options
        .cutoff
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap_or(options.cutoff));
    let in_force: Vec<Exception> = options
        .exceptions
        .iter()
        .filter(|e| e.holds_on(cut_day))
        .cloned()
        .collect();
    let mut problems = snapshot.problems;
    problems.sort_by(|a, b| a.key.cmp(&b.key));
    let nodes = snapshot
        .nodes
        .into_iter()
        .map(|((account, region, node), st)| {
            let group = st.summary.as_ref().map(|s| s.patch_group.clone()).unwrap_or_default();
            let status = st.info.as_ref().map(|i| i.status.clone()).unwrap_or_default();
            let coverage = if status.eq_ignore_ascii_case("ConnectionLost") {
                Coverage::Disconnected
            } else if st.summary.is_none() {
                Coverage::NeverScanned
            } else if group.is_empty() || options.targeted.as_ref().is_some_and(|t| !t.contains(&group)) {
                Coverage::Untargeted
            } else {
                Coverage::Covered
            };
            let covering: Vec<&Exception> = in_force
                .iter()
                .filter(|e| e.selects_nodes() && e.covers_node(&node, &st.tags))
                .collect();
            let exception = covering.iter().find(|e| e.patches.is_empty()).map(|e| e.id.clone());
            let excepted_patch = |id: &str| {
                in_force
                    .iter()
                    .filter(|e| !e.selects_nodes() || covering.iter().any(|c| c.id == e.id))
                    .flat_map(|e| e.patches.iter())
                    .any(|p| history::patch_matches(p, id))
            };
            let overdue = if exception.is_some() {
                Vec::new()
            } else {
                st.runs
                    .into_iter()
                    .filter(|r| !excepted_patch(&r.patch.id))
                    .filter_map(|run| {
                        let days = options.cutoff.duration_since(run.since).as_secs() / 86_400;
                        let sla_days = options.sla.days(&run.patch.severity);
                        (days > i64::from(sla_days)).then_some(Overdue { run, days, sla_days })
                    })
                    .collect()
            };
            NodeRow {
                platform: st.info.map(|i| i.platform).unwrap_or_else(|| "unknown".to_owned()),
                ring: group.rsplit_once('-').map(|(_, r)| r.to_owned()).unwrap_or_default(),
                summary: st.summary,
                status,
                coverage,
                exception,
                overdue,
                account,
                region,
                node,
            }
        })
        .collect();
    Report {
        options,
        nodes,
        exceptions: in_force,
        trend: Vec::new(),
        missing_output: Vec::new(),
        problems,
    }
}

impl Report {
    /// Nodes with a patch past its SLA.
    pub fn overdue(&self) -> Vec<&NodeRow> {
        self.nodes.iter().filter(|n| !n.overdue.is_empty()).collect()
    }

    /// Nodes not covered.
    pub fn uncovered(&self) -> Vec<&NodeRow> {
        self.nodes.iter().filter(|n| n.coverage != Coverage::Covered).collect()
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
                "coverage",
                "agent_status",
                "exception_id",
                "missing_critical",
                "missing_security",
                "missing_other",
                "missing_total",
                "failed",
                "installed_pending_reboot",
                "last_operation",
                "last_operation_time",
                "overdue_patches",
                "missing_since",
            ],
        );
        for n in &self.nodes {
            let d = PatchSummary::default();
            let s = n.summary.as_ref().unwrap_or(&d);
            let num = |v: u64| {
                if n.summary.is_some() {
                    v.to_string()
                } else {
                    String::new()
                }
            };
            let since = n
                .overdue
                .iter()
                .map(|o| o.run.since)
                .min()
                .map(|t| t.to_string())
                .unwrap_or_default();
            line(
                &mut out,
                &[
                    &self.options.month,
                    &n.account,
                    &n.region,
                    &n.node,
                    n.node_type(),
                    &n.platform,
                    &s.patch_group,
                    &n.ring,
                    &s.baseline_id,
                    n.compliance(),
                    n.coverage.as_str(),
                    &n.status,
                    n.exception.as_deref().unwrap_or_default(),
                    &num(s.critical),
                    &num(s.security),
                    &num(s.other),
                    &num(s.missing),
                    &num(s.failed),
                    &num(s.pending_reboot),
                    &s.operation,
                    &s.operation_end.map(|t| t.to_string()).unwrap_or_default(),
                    &n.overdue.len().to_string(),
                    &since,
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
            excepted: u64,
            unknown: u64,
            uncovered: u64,
            overdue: u64,
            critical: u64,
            security: u64,
            other: u64,
        }
        let mut groups: BTreeMap<(&str, &str, &str), Totals> = BTreeMap::new();
        for n in &self.nodes {
            let t = groups.entry((&n.account, &n.platform, &n.ring)).or_default();
            t.nodes += 1;
            t.compliant += u64::from(n.compliant());
            t.excepted += u64::from(n.exception.is_some());
            t.unknown += u64::from(n.compliance() == "UNKNOWN");
            t.uncovered += u64::from(n.coverage != Coverage::Covered);
            t.overdue += u64::from(!n.overdue.is_empty());
            if let Some(s) = &n.summary {
                t.critical += s.critical;
                t.security += s.security;
                t.other += s.other;
            }
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
                "excepted",
                "unknown",
                "uncovered",
                "overdue",
                "compliance_percent",
                "missing_critical",
                "missing_security",
                "missing_other",
            ],
        );
        for ((account, platform, ring), t) in &groups {
            let measured = t.nodes - t.excepted - t.unknown;
            let pct = if measured == 0 {
                String::new()
            } else {
                format!("{:.1}", 100.0 * t.compliant as f64 / measured as f64)
            };
            line(
                &mut out,
                &[
                    &self.options.month,
                    account,
                    platform,
                    ring,
                    &t.nodes.to_string(),
                    &t.compliant.to_string(),
                    &measured.saturating_sub(t.compliant).to_string(),
                    &t.excepted.to_string(),
                    &t.unknown.to_string(),
                    &t.uncovered.to_string(),
                    &t.overdue.to_string(),
                    &pct,
                    &t.critical.to_string(),
                    &t.security.to_string(),
                    &t.other.to_string(),
                ],
            );
        }
        out
    }

    /// One row per patch past its SLA, with since when.
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
                "patch_id",
                "severity",
                "classification",
                "missing_since",
                "at_least",
                "days_missing",
                "sla_days",
            ],
        );
        for n in self.overdue() {
            let group = n.summary.as_ref().map(|s| s.patch_group.as_str()).unwrap_or_default();
            for o in &n.overdue {
                line(
                    &mut out,
                    &[
                        &self.options.month,
                        &n.account,
                        &n.region,
                        &n.node,
                        group,
                        &o.run.patch.id,
                        &o.run.patch.severity,
                        &o.run.patch.classification,
                        &o.run.since.to_string(),
                        if o.run.open_ended { "yes" } else { "no" },
                        &o.days.to_string(),
                        &o.sla_days.to_string(),
                    ],
                );
            }
        }
        out
    }

    /// Nodes not covered, and why.
    pub fn uncovered_csv(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            &[
                "month",
                "account",
                "region",
                "node_id",
                "platform",
                "coverage",
                "agent_status",
                "patch_group",
            ],
        );
        for n in self.uncovered() {
            line(
                &mut out,
                &[
                    &self.options.month,
                    &n.account,
                    &n.region,
                    &n.node,
                    &n.platform,
                    n.coverage.as_str(),
                    &n.status,
                    n.summary.as_ref().map(|s| s.patch_group.as_str()).unwrap_or_default(),
                ],
            );
        }
        out
    }

    /// Installs of the month whose command output never arrived: the node cannot write it
    /// (attach `<policy>-node-output`, issue 28).
    pub fn missing_output_csv(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            &[
                "month",
                "account",
                "region",
                "node_id",
                "patch_group",
                "operation_end_time",
            ],
        );
        for i in &self.missing_output {
            line(
                &mut out,
                &[
                    &self.options.month,
                    &i.account,
                    &i.region,
                    &i.node,
                    &i.patch_group,
                    &i.end.to_string(),
                ],
            );
        }
        out
    }

    /// Exceptions in force at the cut-off, and the nodes each covers.
    pub fn exceptions_csv(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            &[
                "month",
                "exception_id",
                "nodes",
                "patches",
                "reason",
                "approver",
                "ticket",
                "starts",
                "expires",
                "nodes_excepted",
            ],
        );
        for e in &self.exceptions {
            let covered = self
                .nodes
                .iter()
                .filter(|n| n.exception.as_deref() == Some(e.id.as_str()))
                .count();
            let mut nodes = e.nodes.join(" ");
            for (k, v) in &e.tags {
                let _ = write!(nodes, "{}tag:{k}={v}", if nodes.is_empty() { "" } else { " " });
            }
            line(
                &mut out,
                &[
                    &self.options.month,
                    &e.id,
                    &nodes,
                    &e.patches.join(" "),
                    &e.reason,
                    &e.approver,
                    &e.ticket,
                    e.starts.as_deref().unwrap_or(""),
                    &e.expires,
                    &covered.to_string(),
                ],
            );
        }
        out
    }
}

/// Appends one CSV record (RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is quoted with a `'`
/// so a spreadsheet does not run it).
fn line(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f: std::borrow::Cow<str> =
            if f.starts_with(['=', '+', '@']) || (f.starts_with('-') && f.parse::<f64>().is_err()) {
                format!("'{f}").into()
            } else {
                (*f).into()
            };
        if f.contains([',', '"', '\n', '\r']) {
            let _ = write!(out, "\"{}\"", f.replace('"', "\"\""));
        } else {
            out.push_str(&f);
        }
    }
    out.push('\n');
}

/// The instant the state is taken at: the start of the month after `month`, or `now` if earlier.
pub fn cutoff(month: &str, now: Timestamp) -> Result<Timestamp, String> {
    let end = month_end(month)?;
    Ok(end.min(now))
}

/// The start of the month after `month` (`YYYY-MM`), UTC.
pub fn month_end(month: &str) -> Result<Timestamp, String> {
    let bad = || format!("`{month}` is not a month YYYY-MM");
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let first = jiff::civil::Date::new(y, m, 1).map_err(|_| bad())?;
    let next = first.checked_add(jiff::ToSpan::month(1)).map_err(|_| bad())?;
    Ok(next.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?.timestamp())
}

/// The start of `month` (`YYYY-MM`), UTC.
pub fn month_start(month: &str) -> Result<Timestamp, String> {
    let end = month_end(month)?;
    let first = day(end)
        .checked_sub(jiff::ToSpan::month(1))
        .map_err(|_| format!("`{month}` is not a month YYYY-MM"))?;
    first
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| format!("`{month}` is not a month YYYY-MM"))
}

/// The `n` months before `month`, oldest first (`YYYY-MM`).
pub fn months_before(month: &str, n: usize) -> Vec<String> {
    let Ok(end) = month_end(month) else { return Vec::new() };
    let first = day(end).first_of_month();
    (1..=n)
        .rev()
        .filter_map(|i| first.checked_sub(jiff::ToSpan::months(i as i64 + 1)).ok())
        .map(|d| d.strftime("%Y-%m").to_string())
        .collect()
}

/// Compliance at the cut-off of each of `months` from the patch summaries' versions alone
/// (the version written last before each month's end; no history walk).
pub fn trend_point(month: &str, summaries: &[Option<PatchSummary>]) -> TrendPoint {
    let present: Vec<&PatchSummary> = summaries.iter().flatten().collect();
    TrendPoint {
        month: month.to_owned(),
        nodes: present.len(),
        compliant: present
            .iter()
            .filter(|s| s.missing == 0 && s.failed == 0 && s.pending_reboot == 0)
            .count(),
    }
}

#[cfg(feature = "aws")]
pub mod s3;

#[cfg(test)]
mod tests;
