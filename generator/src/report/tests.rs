//! The report over an in-memory history: the field report's cases, each against what an auditor
//! would write down by hand. The same cases run against moto's versioned bucket in
//! `tests/tests/report_moto.rs`.

use std::collections::BTreeMap;

use std::fmt::Write as _;

use super::*;

const PREFIX: &str = "resource-data-sync";
const ACCOUNT: &str = "111111111111";

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// An in-memory versioned bucket: key → versions (time, body; `None` for a delete marker).
#[derive(Default)]
struct Bucket(BTreeMap<String, Vec<(Timestamp, Option<String>)>>);

impl Bucket {
    fn put(&mut self, type_name: &str, node: &str, at: &str, body: String) {
        let key = sync_key(PREFIX, type_name, ACCOUNT, "us-east-1", node);
        self.0.entry(key).or_default().push((t(at), Some(body)));
    }
    fn delete(&mut self, type_name: &str, node: &str, at: &str) {
        let key = sync_key(PREFIX, type_name, ACCOUNT, "us-east-1", node);
        self.0.entry(key).or_default().push((t(at), None));
    }
    fn listing(&self) -> BTreeMap<String, Vec<Entry>> {
        self.0
            .iter()
            .map(|(k, vs)| {
                let entries = vs
                    .iter()
                    .enumerate()
                    .map(|(i, (at, b))| Entry {
                        version_id: i.to_string(),
                        last_modified: *at,
                        deleted: b.is_none(),
                    })
                    .collect();
                (k.clone(), entries)
            })
            .collect()
    }
    fn report(&self, month: &str, options: impl FnOnce(&mut Options)) -> Report {
        let cutoff = month_end(month).expect("month");
        let mut o = Options {
            month: month.into(),
            cutoff,
            sla: SlaDays::All(14),
            exceptions: Vec::new(),
            targeted: None,
        };
        options(&mut o);
        let (w, stray) = walks(PREFIX, self.listing(), cutoff, &[]);
        assert!(stray.is_empty(), "{stray:?}");
        let s = snapshot_with(w, |key, e| {
            let i: usize = e.version_id.parse().map_err(|_| "bad version".to_owned())?;
            self.0[key][i].1.clone().ok_or_else(|| "a delete marker".to_owned())
        });
        build(s, o)
    }
}

fn summary(group: &str, at: &str, op: &str, op_end: &str, missing: u32, failed: u32) -> String {
    format!(
        "{{\"PatchGroup\":\"{group}\",\"BaselineId\":\"pb-0123456789abcdef0\",\"MissingCount\":\"{missing}\",\"CriticalNonCompliantCount\":\"{missing}\",\"FailedCount\":\"{failed}\",\"OperationType\":\"{op}\",\"OperationEndTime\":\"{op_end}\",\"captureTime\":\"{at}\"}}\n"
    )
}

fn items(at: &str, missing: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (id, sev) in missing {
        let _ = writeln!(
            out,
            "{{\"ComplianceType\":\"Patch\",\"Id\":\"{id}\",\"Status\":\"NON_COMPLIANT\",\"Severity\":\"{sev}\",\"Classification\":\"SecurityUpdates\",\"PatchState\":\"Missing\",\"captureTime\":\"{at}\"}}"
        );
    }
    if missing.is_empty() {
        let _ = writeln!(
            out,
            "{{\"ComplianceType\":\"Patch\",\"Id\":\"x\",\"Status\":\"COMPLIANT\",\"captureTime\":\"{at}\"}}"
        );
    }
    out
}

fn info(at: &str, status: &str) -> String {
    format!(
        "{{\"PlatformName\":\"Amazon Linux\",\"PlatformVersion\":\"2023\",\"InstanceStatus\":\"{status}\",\"captureTime\":\"{at}\"}}\n"
    )
}

/// The field report: a node missing a critical patch since September whose October 28 install
/// failed; a node missing one patch for 11 days; a node never scanned; an untagged node; a
/// disconnected node; an excepted node; and December changing everything.
fn fleet() -> Bucket {
    let mut b = Bucket::default();
    // i-…01: KB1 missing from 2026-09-10; nightly scans; the install on 10-28 failed.
    for (at, op, end, failed) in [
        ("2026-09-10T03:00:00Z", "Scan", "2026-09-10T03:00:00Z", 0),
        ("2026-10-01T03:00:00Z", "Scan", "2026-10-01T03:00:00Z", 0),
        ("2026-10-28T05:00:00Z", "Install", "2026-10-28T05:00:00Z", 1),
        ("2026-10-30T03:00:00Z", "Scan", "2026-10-30T03:00:00Z", 0),
    ] {
        b.put(
            PATCH_SUMMARY,
            "i-00000000000000001",
            at,
            summary("AL2023-early", at, op, end, 1, failed),
        );
        b.put(
            COMPLIANCE_ITEM,
            "i-00000000000000001",
            at,
            items(at, &[("KB1", "Critical")]),
        );
    }
    // i-…02: KB2 missing since 10-20 (11 days at the cut-off); the last install fixed others.
    b.put(
        COMPLIANCE_ITEM,
        "i-00000000000000002",
        "2026-10-01T03:00:00Z",
        items("2026-10-01T03:00:00Z", &[]),
    );
    for at in ["2026-10-20T03:00:00Z", "2026-10-30T03:00:00Z"] {
        b.put(
            PATCH_SUMMARY,
            "i-00000000000000002",
            at,
            summary("AL2023-early", at, "Install", at, 1, 0),
        );
        b.put(
            COMPLIANCE_ITEM,
            "i-00000000000000002",
            at,
            items(at, &[("KB2", "Critical")]),
        );
    }
    // i-…03: never scanned. i-…04: scanned without a patch group. i-…05: disconnected.
    // i-…06: missing KB6 since September, but excepted.
    for n in 1..=6 {
        let node = format!("i-0000000000000000{n}");
        let status = if n == 5 { "ConnectionLost" } else { "Active" };
        b.put(
            INSTANCE_INFORMATION,
            &node,
            "2026-09-01T00:00:00Z",
            info("2026-09-01T00:00:00Z", status),
        );
    }
    b.put(
        PATCH_SUMMARY,
        "i-00000000000000004",
        "2026-10-30T03:00:00Z",
        summary("", "2026-10-30T03:00:00Z", "Scan", "2026-10-30T03:00:00Z", 0, 0),
    );
    b.put(
        PATCH_SUMMARY,
        "i-00000000000000005",
        "2026-09-05T03:00:00Z",
        summary(
            "AL2023-early",
            "2026-09-05T03:00:00Z",
            "Scan",
            "2026-09-05T03:00:00Z",
            0,
            0,
        ),
    );
    for at in ["2026-09-05T03:00:00Z", "2026-10-30T03:00:00Z"] {
        b.put(
            PATCH_SUMMARY,
            "i-00000000000000006",
            at,
            summary("AL2023-main", at, "Scan", at, 1, 0),
        );
        b.put(
            COMPLIANCE_ITEM,
            "i-00000000000000006",
            at,
            items(at, &[("KB6", "Critical")]),
        );
    }
    // December: i-…01 fixed, i-…02 terminated (its objects deleted).
    b.put(
        PATCH_SUMMARY,
        "i-00000000000000001",
        "2026-12-02T03:00:00Z",
        summary(
            "AL2023-early",
            "2026-12-02T03:00:00Z",
            "Install",
            "2026-12-02T03:00:00Z",
            0,
            0,
        ),
    );
    b.put(
        COMPLIANCE_ITEM,
        "i-00000000000000001",
        "2026-12-02T03:00:00Z",
        items("2026-12-02T03:00:00Z", &[]),
    );
    b.delete(PATCH_SUMMARY, "i-00000000000000002", "2026-12-03T00:00:00Z");
    b.delete(INSTANCE_INFORMATION, "i-00000000000000002", "2026-12-03T00:00:00Z");
    b
}

fn exception() -> Exception {
    Exception {
        id: "EXC-7".into(),
        nodes: vec!["i-00000000000000006".into()],
        tags: BTreeMap::new(),
        patches: Vec::new(),
        reason: "vendor-certified kernel only".into(),
        approver: "ciso@example.com".into(),
        ticket: "CHG0031234".into(),
        starts: None,
        expires: "2026-12-31".into(),
    }
}

fn row(r: &Report, n: u8) -> &NodeRow {
    let id = format!("i-0000000000000000{n}");
    r.nodes
        .iter()
        .find(|x| x.node == id)
        .unwrap_or_else(|| panic!("{id} not in the report"))
}

#[test]
fn october_run_in_december_is_october() {
    let b = fleet();
    let r = b.report("2026-10", |o| o.exceptions = vec![exception()]);
    // The node missing KB1 since September is overdue, since 09-10, despite its failed install.
    let one = row(&r, 1);
    assert_eq!(one.compliance(), "NON_COMPLIANT");
    assert_eq!(one.overdue.len(), 1);
    assert_eq!(one.overdue[0].run.since, t("2026-09-10T03:00:00Z"));
    assert_eq!(one.overdue[0].days, 51);
    // 11 days missing: not overdue.
    assert!(row(&r, 2).overdue.is_empty(), "{:?}", row(&r, 2).overdue);
    assert_eq!(
        row(&r, 2).compliance(),
        "NON_COMPLIANT",
        "terminated in December, present in October"
    );
    assert_eq!(row(&r, 3).coverage, Coverage::NeverScanned);
    assert_eq!(row(&r, 3).compliance(), "UNKNOWN");
    assert_eq!(row(&r, 4).coverage, Coverage::Untargeted);
    assert_eq!(row(&r, 5).coverage, Coverage::Disconnected);
    let six = row(&r, 6);
    assert_eq!(
        (six.compliance(), six.exception.as_deref()),
        ("EXCEPTED", Some("EXC-7"))
    );
    assert!(six.overdue.is_empty(), "an excepted node is not overdue");
    assert_eq!(r.overdue().len(), 1);
    // Its history starts with the patch already missing: "at least since".
    let overdue = r.overdue_csv();
    assert!(
        overdue
            .contains("i-00000000000000001,AL2023-early,KB1,Critical,SecurityUpdates,2026-09-10T03:00:00Z,yes,51,14"),
        "{overdue}"
    );
    let uncovered = r.uncovered_csv();
    assert_eq!(uncovered.lines().count(), 4, "header + 3: {uncovered}");
    assert!(
        r.exceptions_csv().contains(
            "EXC-7,i-00000000000000006,,vendor-certified kernel only,ciso@example.com,CHG0031234,,2026-12-31,1"
        )
    );

    // November's report differs: December's changes are not in October's evidence and vice versa.
    let dec = b.report("2026-12", |o| o.cutoff = t("2026-12-05T00:00:00Z"));
    assert!(row(&dec, 1).overdue.is_empty() && row(&dec, 1).compliant());
    assert!(
        dec.nodes
            .iter()
            .all(|n| n.node != "i-00000000000000002" || n.summary.is_none()),
        "deleted"
    );
}

#[test]
fn per_severity_slas_and_exceptions_that_expired() {
    let b = fleet();
    let strict = b.report("2026-10", |o| {
        o.sla = SlaDays::PerSeverity([("default".to_owned(), 30), ("critical".to_owned(), 7)].into());
        let mut e = exception();
        e.expires = "2026-10-15".into();
        o.exceptions = vec![e];
    });
    assert_eq!(row(&strict, 2).overdue.len(), 1, "11 days > 7 for a critical patch");
    assert_eq!(
        row(&strict, 6).compliance(),
        "NON_COMPLIANT",
        "the exception expired before the cut-off"
    );
    assert_eq!(row(&strict, 6).overdue.len(), 1);
    assert!(strict.exceptions.is_empty());
    let patch_only = b.report("2026-10", |o| {
        let mut e = exception();
        e.nodes.clear();
        e.patches = vec!["KB1".into()];
        o.exceptions = vec![e];
    });
    assert!(row(&patch_only, 1).overdue.is_empty(), "KB1 excepted everywhere");
    assert_eq!(
        row(&patch_only, 1).compliance(),
        "NON_COMPLIANT",
        "Patch Manager still reports it"
    );
}

#[test]
fn an_exception_that_starts_after_the_months_end_does_not_except_the_month() {
    let b = fleet();
    let later = b.report("2026-10", |o| {
        let mut e = exception();
        e.starts = Some("2026-11-01".into());
        o.exceptions = vec![e];
    });
    assert_eq!(
        row(&later, 6).compliance(),
        "NON_COMPLIANT",
        "starts after October's end"
    );
    assert_eq!(row(&later, 6).overdue.len(), 1);
    assert!(later.exceptions.is_empty(), "not in force at the month's end");
    let on_the_last_day = b.report("2026-10", |o| {
        let mut e = exception();
        e.starts = Some("2026-10-31".into());
        o.exceptions = vec![e];
    });
    assert_eq!(
        row(&on_the_last_day, 6).compliance(),
        "EXCEPTED",
        "in force on the last day"
    );
}

#[test]
fn the_dashboard_escapes_what_it_shows_and_needs_no_network() {
    let b = fleet();
    let mut e = exception();
    e.reason = "<script>alert(1)</script> & \"quotes\"".into();
    let r = b.report("2026-10", |o| o.exceptions = vec![e]);
    let page = html::render(&r);
    assert!(!page.contains("<script>"), "escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    for external in ["http://", "https://", "src=", "@import", "url("] {
        assert!(!page.contains(external), "no network request ({external})");
    }
    assert!(page.contains("Overdue patches (1)") && page.contains("Nodes not covered (3)"));
    assert_eq!(
        months_before("2026-01", 2),
        vec!["2025-11".to_owned(), "2025-12".to_owned()]
    );
}

#[test]
fn csv_quoting() {
    let mut s = String::new();
    line(&mut s, &["a", "b,c", "d\"e", "=cmd()", "-1"]);
    assert_eq!(
        s, "a,\"b,c\",\"d\"\"e\",'=cmd(),-1\n",
        "a formula is never run by a spreadsheet"
    );
}

#[test]
fn cutoff_is_the_next_month_or_now() {
    let now: Timestamp = "2026-11-24T09:00:00Z".parse().expect("ts");
    assert_eq!(cutoff("2026-10", now).expect("ok").to_string(), "2026-11-01T00:00:00Z");
    assert_eq!(cutoff("2026-11", now).expect("ok"), now);
    assert!(cutoff("2026-13", now).is_err() && cutoff("26-10", now).is_err() && cutoff("2026/10", now).is_err());
}
