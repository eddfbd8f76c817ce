//! `patchplane report` over a versioned moto bucket holding months of resource data sync
//! versions: what an auditor re-performs. October's report, run now (after November's changes),
//! must show October: the node whose failed install left a critical patch missing since September
//! is overdue since then; the node patched on time and scanned nightly since is compliant; the
//! never scanned, untargeted and excepted nodes are listed as such; the node that broke in
//! November is compliant in October and not in the current month.
//!
//! What moto skips: every version's `LastModified` is the time of the test's write (moto cannot
//! backdate), so the versions are ordered but not dated; the report times them by the
//! `captureTime` the sync writes inside each object, as in AWS. Bucket policies are not applied.

use std::ffi::OsStr;

use patchplane_e2e::{Moto, root};
use serde_json::json;

const BUCKET: &str = "acme-evidence-history";
const ACCOUNT: &str = "111111111111";

fn key(type_name: &str, node: &str) -> String {
    format!(
        "resource-data-sync/{type_name}/accountid={ACCOUNT}/region=us-east-1/resourcetype=ManagedInstanceInventory/{node}.json"
    )
}

fn summary(group: &str, at: &str, op: &str, missing: u32, failed: u32) -> String {
    json!({"PatchGroup": group, "BaselineId": "pb-0123456789abcdef0", "MissingCount": missing.to_string(),
           "CriticalNonCompliantCount": missing.to_string(), "FailedCount": failed.to_string(),
           "OperationType": op, "OperationEndTime": at, "captureTime": at, "schemaVersion": "1.0"})
    .to_string()
        + "\n"
}

fn items(at: &str, missing: &[&str]) -> String {
    let mut out = String::new();
    for id in missing {
        out += &(json!({"ComplianceType": "Patch", "Id": id, "Title": id, "Status": "NON_COMPLIANT",
                        "Severity": "CRITICAL", "PatchSeverity": "Critical", "Classification": "SecurityUpdates",
                        "PatchState": "Missing", "captureTime": at})
        .to_string()
            + "\n");
    }
    if missing.is_empty() {
        out += &(json!({"ComplianceType": "Patch", "Id": "KB0", "Status": "COMPLIANT", "PatchState": "Installed", "captureTime": at})
            .to_string()
            + "\n");
    }
    out
}

fn info(at: &str) -> String {
    json!({"PlatformName": "Amazon Linux", "PlatformVersion": "2023", "InstanceStatus": "Active", "captureTime": at})
        .to_string()
        + "\n"
}

use patchplane_e2e::read_csv as csv;

/// Node id `i-…0N`.
fn n(i: u8) -> String {
    format!("i-0000000000000000{i}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn october_run_later_is_octobers_state() {
    let moto = Moto::start();
    let conf = moto.sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).send().await.expect("bucket");
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    // Versions in the order the sync would have written them (capture time order).
    let mut writes: Vec<(String, String, String)> = Vec::new(); // (capture, key, body)
    let mut put = |at: &str, type_name: &str, node: &str, body: String| {
        writes.push((at.to_owned(), key(type_name, node), body));
    };
    let nightly =
        |from: u32, to: u32, month: u32| (from..=to).map(move |d| format!("2026-{month:02}-{d:02}T03:00:00Z"));
    for i in 1..=6 {
        put(
            "2026-09-01T00:00:00Z",
            "AWS:InstanceInformation",
            &n(i),
            info("2026-09-01T00:00:00Z"),
        );
    }
    // 1: missing KB1 in September, installed on October 5, scanned nightly since.
    put(
        "2026-09-20T03:00:00Z",
        "AWS:PatchSummary",
        &n(1),
        summary("AL2023-early", "2026-09-20T03:00:00Z", "Scan", 1, 0),
    );
    put(
        "2026-09-20T03:00:00Z",
        "AWS:ComplianceItem",
        &n(1),
        items("2026-09-20T03:00:00Z", &["KB1"]),
    );
    for at in std::iter::once("2026-10-05T02:30:00Z".to_owned()).chain(nightly(6, 31, 10)) {
        let op = if at.starts_with("2026-10-05") {
            "Install"
        } else {
            "Scan"
        };
        put(&at, "AWS:PatchSummary", &n(1), summary("AL2023-early", &at, op, 0, 0));
        put(&at, "AWS:ComplianceItem", &n(1), items(&at, &[]));
    }
    // 2: KB2 missing from September 10 (absent on September 1); the October 28 install failed.
    put(
        "2026-09-01T03:00:00Z",
        "AWS:ComplianceItem",
        &n(2),
        items("2026-09-01T03:00:00Z", &[]),
    );
    for at in nightly(10, 30, 9).chain(nightly(1, 31, 10)) {
        let op = if at.starts_with("2026-10-28") {
            "Install"
        } else {
            "Scan"
        };
        let failed = u32::from(op == "Install");
        put(
            &at,
            "AWS:PatchSummary",
            &n(2),
            summary("AL2023-early", &at, op, 1, failed),
        );
        put(&at, "AWS:ComplianceItem", &n(2), items(&at, &["KB2"]));
    }
    // 3: never scanned. 4: scanned, its patch group tag removed. 5: excepted, missing KB5 for
    // months. 6: compliant through October, broken in November.
    // Node 4 is what the scan of every managed node (`nodes.scan_untagged`, issue 28) reports of a
    // node nobody tagged: a summary with no patch group, and what it misses.
    put(
        "2026-10-30T03:00:00Z",
        "AWS:PatchSummary",
        &n(4),
        summary("", "2026-10-30T03:00:00Z", "Scan", 1, 0),
    );
    put(
        "2026-10-30T03:00:00Z",
        "AWS:ComplianceItem",
        &n(4),
        items("2026-10-30T03:00:00Z", &["KB4"]),
    );
    for at in ["2026-08-01T03:00:00Z", "2026-10-30T03:00:00Z"] {
        put(at, "AWS:PatchSummary", &n(5), summary("AL2023-main", at, "Scan", 1, 0));
        put(at, "AWS:ComplianceItem", &n(5), items(at, &["KB5"]));
    }
    for at in nightly(25, 31, 10) {
        put(
            &at,
            "AWS:PatchSummary",
            &n(6),
            summary("AL2023-late", &at, "Scan", 0, 0),
        );
        put(&at, "AWS:ComplianceItem", &n(6), items(&at, &[]));
    }
    for at in nightly(3, 20, 11) {
        put(
            &at,
            "AWS:PatchSummary",
            &n(6),
            summary("AL2023-late", &at, "Install", 1, 1),
        );
        put(&at, "AWS:ComplianceItem", &n(6), items(&at, &["KB6"]));
    }
    writes.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, k, body) in &writes {
        s3.put_object()
            .bucket(BUCKET)
            .key(k)
            .body(body.clone().into_bytes().into())
            .send()
            .await
            .expect("put");
    }

    let tmp = tempfile::tempdir().expect("tmp");
    let policy = tmp.path().join("policy.yaml");
    let example = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("policy");
    // The example's own exceptions give way to the one this test needs.
    let (head, rest) = example
        .split_once("\nexceptions:\n")
        .expect("the example has exceptions");
    let base = format!(
        "{head}{}",
        &rest[rest.find("\nami_pipeline:").expect("ami_pipeline follows")..]
    );
    std::fs::write(
        &policy,
        format!(
            "{base}exceptions:\n  - {{id: EXC-5, nodes: [{}], reason: vendor-certified kernel only, approver: ciso@acme.example, ticket: CHG0031234, expires: '2099-12-31'}}\n",
            n(5)
        ),
    )
    .expect("policy");
    let run = |month: &str, out: &std::path::Path| {
        let head = [
            "report",
            "--bucket",
            BUCKET,
            "--month",
            month,
            "--trend-months",
            "2",
            "--policy",
        ];
        let args: Vec<&OsStr> = head
            .iter()
            .map(OsStr::new)
            .chain([policy.as_os_str(), OsStr::new("--out"), out.as_os_str()])
            .collect();
        let r = moto.patchplane(&args);
        let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
        assert!(r.status.success(), "{stdout}{}", String::from_utf8_lossy(&r.stderr));
        stdout
    };
    let oct = tmp.path().join("oct.csv");
    let stdout = run("2026-10", &oct);
    let rows = csv(&oct);
    let row = |i: u8| {
        rows.iter()
            .find(|r| r["node_id"] == n(i))
            .unwrap_or_else(|| panic!("{} missing: {rows:?}", n(i)))
    };
    let get = |i: u8, f: &str| row(i)[f].clone();
    assert_eq!(
        (get(1, "compliance"), get(1, "overdue_patches")),
        ("COMPLIANT".into(), "0".into())
    );
    assert_eq!(
        get(1, "last_operation_time"),
        "2026-10-31T03:00:00Z",
        "October's last scan, not November's"
    );
    assert_eq!(
        (get(2, "compliance"), get(2, "overdue_patches")),
        ("NON_COMPLIANT".into(), "1".into())
    );
    assert_eq!(
        (get(3, "compliance"), get(3, "coverage")),
        ("UNKNOWN".into(), "NEVER_SCANNED".into())
    );
    assert_eq!(
        (get(4, "coverage"), get(4, "compliance")),
        ("UNTARGETED".into(), "NON_COMPLIANT".into()),
        "an untagged node is reported as not targeted, with its compliance"
    );
    assert_eq!(
        (get(5, "compliance"), get(5, "exception_id")),
        ("EXCEPTED".into(), "EXC-5".into())
    );
    assert_eq!(get(6, "compliance"), "COMPLIANT", "broke only in November");
    let overdue = csv(&oct.with_extension("overdue.csv"));
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(
        (
            overdue[0]["node_id"].as_str(),
            overdue[0]["patch_id"].as_str(),
            overdue[0]["missing_since"].as_str()
        ),
        (n(2).as_str(), "KB2", "2026-09-10T03:00:00Z"),
        "since September, whatever the October 28 install did"
    );
    assert_eq!(
        (overdue[0]["at_least"].as_str(), overdue[0]["days_missing"].as_str()),
        ("no", "51")
    );
    let uncovered: Vec<(String, String)> = csv(&oct.with_extension("uncovered.csv"))
        .into_iter()
        .map(|r| (r["node_id"].clone(), r["coverage"].clone()))
        .collect();
    assert_eq!(
        uncovered,
        vec![(n(3), "NEVER_SCANNED".into()), (n(4), "UNTARGETED".into())]
    );
    let exceptions = csv(&oct.with_extension("exceptions.csv"));
    assert_eq!((exceptions.len(), exceptions[0]["nodes_excepted"].as_str()), (1, "1"));
    assert!(stdout.contains("exception EXC-5 in force until 2099-12-31"), "{stdout}");
    assert!(tmp.path().join("2026-10.html").exists(), "the dashboard");

    // The current month shows November's state: node 6 broke.
    let now = tmp.path().join("now.csv");
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    run(&month, &now);
    let later = csv(&now);
    let six = later.iter().find(|r| r["node_id"] == n(6)).expect("node 6");
    assert_eq!(six["compliance"], "NON_COMPLIANT");
    // And October again gives the same files (the evidence of October does not move).
    let again = tmp.path().join("again.csv");
    run("2026-10", &again);
    for ext in ["csv", "overdue.csv", "uncovered.csv", "summary.csv"] {
        assert_eq!(
            std::fs::read_to_string(oct.with_extension(ext)).expect("a"),
            std::fs::read_to_string(again.with_extension(ext)).expect("b"),
            "{ext}"
        );
    }
}
