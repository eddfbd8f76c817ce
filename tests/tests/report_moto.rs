//! `patchplane report` over a moto S3 bucket seeded in the resource data sync layout: 3 accounts ×
//! 2 regions × 50 nodes (EC2 and `mi-` managed nodes), plus broken objects. Every figure of the
//! CSVs is checked against values computed here from the same seed description. The history
//! cases (one object's versions over months) are `report_history_moto.rs`.
//!
//! What moto skips: it stamps every version with the time of the test's write (so versions are
//! ordered, not dated: the report times them by the `captureTime` inside, as it does in AWS), and
//! does not apply bucket policies. moto does not run Run Command either: the missing-output case
//! seeds the output objects itself, at the keys AWS documents (`<OutputS3KeyPrefix>/<command-id>/
//! <node-id>/<plugin>/…/stdout`, CommandPlugin `OutputS3KeyPrefix` in the SSM API reference,
//! <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandPlugin.html>), and
//! dates the installs today, since moto dates the objects by the time of the test's write.

use std::collections::BTreeMap;
use std::ffi::OsStr;

use patchplane_e2e::Moto;

const BUCKET: &str = "acme-patch-evidence";
const PREFIX: &str = "resource-data-sync";
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 2] = ["us-east-1", "ap-southeast-2"];
const GROUPS: [&str; 3] = ["AL2023", "Ubuntu22", "Win2022"];
const PLATFORMS: [&str; 3] = [
    "Amazon Linux 2023",
    "Ubuntu 22.04",
    "Microsoft Windows Server 2022 Datacenter",
];
const RINGS: [&str; 3] = ["early", "main", "late"];

/// One seeded node, and what the report must say about it.
struct Node {
    account: &'static str,
    region: &'static str,
    id: String,
    group: String,
    platform: Option<&'static str>,
    critical: u64,
    security: u64,
    other: u64,
    pending: u64,
    operation: &'static str,
    end: String,
}

impl Node {
    fn missing(&self) -> u64 {
        self.critical + self.security + self.other
    }
    fn compliant(&self) -> bool {
        self.missing() == 0 && self.pending == 0
    }
    /// A critical patch missing since its October scan: more than 14 days by any cut-off after
    /// 2026-11-15 (the other patches are `Important` or `Low`, under the map's 365-day default).
    fn overdue(&self) -> bool {
        self.critical > 0
    }
}

fn nodes() -> Vec<Node> {
    let mut out = Vec::new();
    for (a, account) in ACCOUNTS.iter().enumerate() {
        for (r, region) in REGIONS.iter().enumerate() {
            for i in 0..50u64 {
                let n = (a * 100 + r * 50) as u64 + i;
                let os = (i % 3) as usize;
                let id = if i % 10 == 9 {
                    format!("mi-{n:017x}")
                } else {
                    format!("i-{n:017x}")
                };
                out.push(Node {
                    account,
                    region,
                    id,
                    group: format!("{}-{}", GROUPS[os], RINGS[((i / 3) % 3) as usize]),
                    // Every 11th node has no instance information object.
                    platform: (i % 11 != 5).then_some(PLATFORMS[os]),
                    critical: u64::from(i % 4 == 0),
                    security: if i % 4 == 0 { 2 } else { 0 },
                    other: if i % 5 == 0 { 3 } else { 0 },
                    pending: u64::from(i % 7 == 0),
                    operation: if i % 6 == 1 { "Scan" } else { "Install" },
                    end: format!("2026-10-{:02}T02:00:00Z", 1 + (n % 28)),
                });
            }
        }
    }
    out
}

fn key(type_name: &str, account: &str, region: &str, node: &str) -> String {
    format!(
        "{PREFIX}/{type_name}/accountid={account}/region={region}/resourcetype=ManagedInstanceInventory/{node}.json"
    )
}

use patchplane_e2e::read_csv as csv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_over_three_accounts_two_regions_fifty_nodes() {
    let moto = Moto::start();
    let conf = moto.sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).send().await.expect("bucket");
    let put = |key: String, body: String| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(body.into_bytes().into())
                .send()
                .await
                .expect("put")
        }
    };
    let seeded = nodes();
    for n in &seeded {
        // JsonSerDe: one JSON object per line, numbers as strings, as the sync writes them.
        let summary = serde_json::json!({
            "PatchGroup": n.group, "BaselineId": format!("pb-{}", &n.group[..n.group.find('-').expect("-")]),
            "SnapshotId": "7c64b8b8-1274-47db-8f0d-e26f6c0aae7b", "InstalledCount": "120",
            "InstalledOtherCount": "7", "InstalledRejectedCount": "0",
            "InstalledPendingRebootCount": n.pending.to_string(), "NotApplicableCount": "900",
            "MissingCount": n.missing().to_string(), "FailedCount": "0",
            "CriticalNonCompliantCount": n.critical.to_string(), "SecurityNonCompliantCount": n.security.to_string(),
            "OtherNonCompliantCount": n.other.to_string(), "OperationType": n.operation,
            "OperationStartTime": n.end, "OperationEndTime": n.end, "RebootOption": "RebootIfNeeded",
            "resourceId": n.id, "captureTime": n.end, "schemaVersion": "1.0",
        });
        put(
            key("AWS:PatchSummary", n.account, n.region, &n.id),
            format!("{summary}\n"),
        )
        .await;
        // The scan's missing patches: a critical one, important security ones, other updates.
        let mut items = String::new();
        let mut item = |id: String, sev: &str, class: &str| {
            let line = serde_json::json!({"ComplianceType": "Patch", "Id": id, "Title": id, "Status": "NON_COMPLIANT",
                "Severity": sev.to_uppercase(), "PatchSeverity": sev, "Classification": class, "PatchState": "Missing",
                "resourceId": n.id, "captureTime": n.end, "schemaVersion": "1.0"});
            items.push_str(&format!("{line}\n"));
        };
        for c in 0..n.critical {
            item(format!("KB9{c}"), "Critical", "SecurityUpdates");
        }
        for c in 0..n.security {
            item(format!("KB8{c}"), "Important", "SecurityUpdates");
        }
        for c in 0..n.other {
            item(format!("KB7{c}"), "Low", "Updates");
        }
        if !items.is_empty() {
            put(key("AWS:ComplianceItem", n.account, n.region, &n.id), items).await;
        }
        if let Some(p) = n.platform {
            let info = serde_json::json!({ "InstanceId": n.id, "PlatformName": p, "PlatformType": "Linux", "resourceId": n.id });
            put(
                key("AWS:InstanceInformation", n.account, n.region, &n.id),
                format!("{info}\n"),
            )
            .await;
        }
    }
    // Broken objects: reported by key, skipped.
    let bad_json = key("AWS:PatchSummary", ACCOUNTS[0], REGIONS[0], "i-0badjson");
    let no_baseline = key("AWS:PatchSummary", ACCOUNTS[1], REGIONS[1], "i-0nobaseline");
    let bad_layout = format!("{PREFIX}/AWS:PatchSummary/stray.json");
    put(bad_json.clone(), "{\"BaselineId\": ".to_owned()).await;
    put(
        no_baseline.clone(),
        "{\"PatchGroup\":\"AL2023-early\",\"MissingCount\":\"1\"}\n".to_owned(),
    )
    .await;
    put(bad_layout.clone(), "{}".to_owned()).await;

    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("r.csv");
    // The month being written: its cut-off is now, so every object counts.
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let policy = tmp.path().join("policy.yaml");
    let base = std::fs::read_to_string(patchplane_e2e::root().join("examples/org-policy.yaml")).expect("policy");
    assert!(
        base.contains("sla_days: { default: 30, critical: 14 }"),
        "the example's SLA map"
    );
    std::fs::write(
        &policy,
        base.replace(
            "sla_days: { default: 30, critical: 14 }",
            "sla_days: { default: 365, critical: 14 }",
        ),
    )
    .expect("write");
    let args = [
        "report", "--bucket", BUCKET, "--prefix", PREFIX, "--month", &month, "--policy",
    ];
    let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    args.push(policy.as_os_str());
    args.push(OsStr::new("--out"));
    args.push(out.as_os_str());
    let run = moto.patchplane(&args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stderr}");
    for bad in [&bad_json, &no_baseline, &bad_layout] {
        assert!(
            stderr.contains(&format!("skipped s3://{BUCKET}/{bad}")),
            "{bad} not reported:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("`BaselineId` is missing") && stderr.contains("not JSON"),
        "{stderr}"
    );

    // Nodes: one row each, every figure as seeded.
    let rows = csv(&out);
    assert_eq!(rows.len(), 300);
    for n in &seeded {
        let row = rows
            .iter()
            .find(|r| r["account"] == n.account && r["region"] == n.region && r["node_id"] == n.id)
            .unwrap_or_else(|| panic!("{} missing", n.id));
        assert_eq!(row["month"], month);
        assert_eq!(
            row["node_type"],
            if n.id.starts_with("mi-") {
                "managed-instance"
            } else {
                "EC2"
            }
        );
        assert_eq!(row["platform"], n.platform.unwrap_or("unknown"));
        assert_eq!(row["patch_group"], n.group);
        assert_eq!(row["ring"], n.group.rsplit('-').next().expect("ring"));
        assert_eq!(
            row["baseline_id"],
            format!("pb-{}", n.group.split('-').next().expect("os"))
        );
        assert_eq!(
            row["compliance"],
            if n.compliant() { "COMPLIANT" } else { "NON_COMPLIANT" }
        );
        assert_eq!(row["missing_critical"], n.critical.to_string());
        assert_eq!(row["missing_security"], n.security.to_string());
        assert_eq!(row["missing_other"], n.other.to_string());
        assert_eq!(row["missing_total"], n.missing().to_string());
        assert_eq!(row["installed_pending_reboot"], n.pending.to_string());
        assert_eq!(row["last_operation"], n.operation);
        assert_eq!(row["last_operation_time"], n.end);
    }
    assert!(rows.iter().filter(|r| r["node_type"] == "managed-instance").count() == 30);

    // Summary per account, platform and ring.
    let summary = csv(&out.with_extension("summary.csv"));
    let mut expected: BTreeMap<(String, String, String), (u64, u64, u64)> = BTreeMap::new();
    for n in &seeded {
        let ring = n.group.rsplit('-').next().expect("ring").to_owned();
        let e = expected
            .entry((n.account.to_owned(), n.platform.unwrap_or("unknown").to_owned(), ring))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(n.compliant());
        e.2 += n.critical;
    }
    assert_eq!(summary.len(), expected.len());
    for ((account, platform, ring), (total, compliant, critical)) in &expected {
        let row = summary
            .iter()
            .find(|r| &r["account"] == account && &r["platform"] == platform && &r["ring"] == ring)
            .expect("group row");
        assert_eq!(row["nodes"], total.to_string());
        assert_eq!(row["compliant"], compliant.to_string());
        assert_eq!(row["non_compliant"], (total - compliant).to_string());
        assert_eq!(
            row["compliance_percent"],
            format!("{:.1}", 100.0 * *compliant as f64 / *total as f64)
        );
        assert_eq!(row["missing_critical"], critical.to_string());
    }

    // Past the SLA.
    let overdue = csv(&out.with_extension("overdue.csv"));
    let want: Vec<&Node> = seeded.iter().filter(|n| n.overdue()).collect();
    assert!(
        !want.is_empty() && want.len() < seeded.iter().filter(|n| !n.compliant()).count(),
        "the seed must split non-compliant nodes"
    );
    assert_eq!(
        overdue.len(),
        want.len(),
        "{:?}",
        overdue.iter().take(3).collect::<Vec<_>>()
    );
    for n in want {
        let row = overdue
            .iter()
            .find(|r| r["node_id"] == n.id && r["account"] == n.account && r["region"] == n.region)
            .unwrap_or_else(|| panic!("{} not overdue", n.id));
        assert_eq!(
            (row["patch_id"].as_str(), row["severity"].as_str()),
            ("KB90", "Critical")
        );
        assert_eq!(row["missing_since"], n.end, "since its only scan");
        assert_eq!(row["at_least"], "yes", "the history starts there");
        assert_eq!(row["sla_days"], "14");
    }
    let compliant = seeded.iter().filter(|n| n.compliant()).count();
    assert!(
        stdout.contains(&format!(
            "nodes, {compliant} compliant, {} overdue, 0 excepted, ",
            overdue.len()
        )) && stdout.contains(" 300 nodes, ")
            && stdout.contains("3 object(s) skipped"),
        "{stdout}"
    );
    // Every seeded group is one the policy's windows target, and no agent is disconnected.
    assert!(csv(&out.with_extension("uncovered.csv")).is_empty());
}

/// Issue 28: a node whose install left its output under `run-command/<account>/<region>/` is not
/// listed; one whose install left nothing is, in `.missing-output.csv` and the summary line; a node
/// that only scanned is not expected to have written anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_lists_installs_whose_command_output_never_arrived() {
    let moto = Moto::start();
    let conf = moto.sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).send().await.expect("bucket");
    let put = |key: String, body: String| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(body.into_bytes().into())
                .send()
                .await
                .expect("put")
        }
    };
    // Today at midnight UTC: in the month being written, and within a day of moto's write time.
    let now = jiff::Timestamp::now();
    let month = now.strftime("%Y-%m").to_string();
    let end = format!("{}T00:00:00Z", now.strftime("%Y-%m-%d"));
    let (with, without, scanned) = ("i-0000000000000000a", "i-0000000000000000b", "i-0000000000000000c");
    for (node, op) in [(with, "Install"), (without, "Install"), (scanned, "Scan")] {
        let summary = serde_json::json!({
            "PatchGroup": "AL2023-early", "BaselineId": "pb-1", "InstalledCount": "120",
            "InstalledPendingRebootCount": "0", "MissingCount": "0", "FailedCount": "0",
            "CriticalNonCompliantCount": "0", "SecurityNonCompliantCount": "0",
            "OtherNonCompliantCount": "0", "OperationType": op,
            "OperationStartTime": end, "OperationEndTime": end,
            "resourceId": node, "captureTime": end, "schemaVersion": "1.0",
        });
        put(
            key("AWS:PatchSummary", ACCOUNTS[0], REGIONS[0], node),
            format!("{summary}\n"),
        )
        .await;
    }
    // What the install task's Run Command would have written for the first node only; the second
    // node's output sits under another account's prefix, which does not count for it.
    let command = "0b3c6a1e-9d2f-4c1e-8a7b-5e4d3c2b1a09";
    for stream in ["stdout", "stderr"] {
        put(
            format!(
                "run-command/{}/{}/{command}/{with}/awsrunShellScript/PatchLinux/{stream}",
                ACCOUNTS[0], REGIONS[0]
            ),
            "Installation results\n".to_owned(),
        )
        .await;
    }
    put(
        format!(
            "run-command/{}/{}/{command}/{without}/awsrunShellScript/PatchLinux/stdout",
            ACCOUNTS[1], REGIONS[0]
        ),
        "elsewhere\n".to_owned(),
    )
    .await;

    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("r.csv");
    let args = [
        "report", "--bucket", BUCKET, "--prefix", PREFIX, "--month", &month, "--out",
    ];
    let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    args.push(out.as_os_str());
    let run = moto.patchplane(&args);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}{stderr}");
    let file = out.with_extension("missing-output.csv");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}\n{stdout}", file.display())),
        format!(
            "month,account,region,node_id,patch_group,operation_end_time\n\
             {month},111111111111,us-east-1,i-0000000000000000b,AL2023-early,{end}\n"
        )
    );
    assert!(stdout.contains(&format!("wrote {}", file.display())), "{stdout}");
    assert!(
        stdout.contains(" 3 nodes, 3 compliant, 0 overdue, 0 excepted, 0 not covered, 1 without command output, 0 object(s) skipped;"),
        "{stdout}"
    );
}

#[test]
fn report_fails_clearly_without_the_bucket() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("r.csv");
    let args = ["report", "--bucket", "no-such-bucket", "--month", "2026-10", "--out"];
    let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    args.push(out.as_os_str());
    let run = moto.patchplane(&args);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("cannot list the versions of s3://no-such-bucket/resource-data-sync/: NoSuchBucket: The specified bucket does not exist"),
        "{stderr}"
    );
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one readable line, no raw response: {stderr}"
    );
    assert!(
        !stderr.contains("ErrorMetadata") && !stderr.contains("SdkBody"),
        "{stderr}"
    );
    assert!(!tmp.path().join("r.csv").exists());
}

/// `report --publish` puts the three files under `reports/YYYY-MM/` in the evidence bucket and
/// tells an SNS topic (an SQS subscriber here) and a Slack webhook (the local receiver) where they
/// are; the webhook URL comes from the environment and is never printed. moto delivers SNS to
/// SQS; it does not check the topic's or the bucket's policies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_is_published_to_the_bucket_and_announced() {
    use patchplane_integrations::notify::aws_sdk_sns;
    let moto = Moto::start();
    let conf = moto.sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).send().await.expect("bucket");
    for (i, node) in ["i-0000000000000000a", "i-0000000000000000b"].iter().enumerate() {
        let summary = serde_json::json!({
            "PatchGroup": "AL2023-early", "BaselineId": "pb-1", "InstalledCount": "120",
            "InstalledPendingRebootCount": "0", "MissingCount": i.to_string(), "FailedCount": "0",
            "CriticalNonCompliantCount": i.to_string(), "SecurityNonCompliantCount": "0",
            "OtherNonCompliantCount": "0", "OperationType": "Install",
            "OperationStartTime": "2026-10-20T02:00:00Z", "OperationEndTime": "2026-10-20T02:30:00Z",
            "resourceId": node, "captureTime": "2026-10-20T02:30:00Z", "schemaVersion": "1.0",
        });
        s3.put_object()
            .bucket(BUCKET)
            .key(key("AWS:PatchSummary", ACCOUNTS[0], REGIONS[0], node))
            .body(format!("{summary}\n").into_bytes().into())
            .send()
            .await
            .expect("put");
    }
    let sns = aws_sdk_sns::Client::new(&conf);
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let topic = sns.create_topic().name("ops-reports").send().await.expect("topic");
    let topic = topic.topic_arn().expect("arn").to_owned();
    let q = sqs.create_queue().queue_name("ops-inbox").send().await.expect("queue");
    let q = q.queue_url().expect("url").to_owned();
    let q_arn = sqs
        .get_queue_attributes()
        .queue_url(&q)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .expect("arn");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(q_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscribe");
    let hook = patchplane_e2e::webhook::Receiver::start();
    let url = hook.url("/services/T1/B1/reportsecret");

    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("r.csv");
    let run = std::process::Command::new(patchplane_e2e::patchplane_bin())
        .args([
            "report",
            "--bucket",
            BUCKET,
            "--month",
            "2026-10",
            "--publish",
            "--notify-topic",
            &topic,
        ])
        .args(["--notify-webhook-env", "OPS_WEBHOOK", "--out"])
        .arg(&out)
        .args(["--endpoint-url", &moto.endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("OPS_WEBHOOK", &url)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}{stderr}");
    assert!(
        !stdout.contains("reportsecret") && !stderr.contains("reportsecret"),
        "the webhook URL is never printed"
    );

    // The bucket holds what was written locally.
    for (local, name) in [
        (out.clone(), "report.csv"),
        (out.with_extension("summary.csv"), "summary.csv"),
        (out.with_extension("overdue.csv"), "overdue.csv"),
        (out.with_extension("uncovered.csv"), "uncovered.csv"),
        (out.with_file_name("2026-10.html"), "dashboard.html"),
    ] {
        let got = s3
            .get_object()
            .bucket(BUCKET)
            .key(format!("reports/2026-10/{name}"))
            .send()
            .await
            .expect("published")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        assert_eq!(got.as_ref(), std::fs::read(&local).expect("local").as_slice(), "{name}");
    }
    // The SNS subscriber and the webhook were told where.
    let msgs = sqs
        .receive_message()
        .queue_url(&q)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("receive");
    let bodies: Vec<&str> = msgs.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0].contains("s3://acme-patch-evidence/reports/2026-10/report.csv"),
        "{}",
        bodies[0]
    );
    let posts = hook.received();
    assert_eq!(posts.len(), 1);
    assert!(
        posts[0].body.contains("reports/2026-10/overdue.csv"),
        "{}",
        posts[0].body
    );
    assert_eq!(
        posts[0].header("idempotency-key"),
        Some("patchplane:report:acme-patch-evidence:2026-10")
    );
    // The notice links the page with a presigned URL (a week at most) that opens it without
    // console access: fetched here from moto as anyone would, with no credentials.
    let body = &posts[0].body;
    let start = body
        .find(&format!("{}/{BUCKET}/reports/2026-10/dashboard.html?", moto.endpoint))
        .expect(body);
    let link: String = body[start..]
        .chars()
        .take_while(|c| !matches!(c, '"' | '>' | '|' | ' ' | '\\'))
        .collect::<String>()
        .replace("&amp;", "&")
        .replace("\\u0026", "&");
    assert!(link.contains("X-Amz-Expires=604800"), "{link}");
    let page = reqwest::get(&link).await.expect("get");
    assert_eq!(page.status().as_u16(), 200, "{link}");
    let html = page.text().await.expect("text");
    assert_eq!(
        html.as_bytes(),
        std::fs::read(out.with_file_name("2026-10.html"))
            .expect("local")
            .as_slice()
    );

    // Publishing October again (`--month previous` in November, the policy from the
    // environment, as the scheduled task runs it) replaces the same objects and says so.
    let policy = std::fs::read_to_string(patchplane_e2e::root().join("examples/sunday-after-patch-tuesday.yaml"))
        .expect("policy");
    let again = std::process::Command::new(patchplane_e2e::patchplane_bin())
        .args([
            "report",
            "--bucket",
            BUCKET,
            "--month",
            "previous",
            "--policy-env",
            "THE_POLICY",
            "--publish",
            "--out",
        ])
        .arg(&out)
        .args(["--endpoint-url", &moto.endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("PATCHPLANE_TODAY", "2026-11-02")
        .env("THE_POLICY", policy)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        stdout.contains(
            "2026-10 was published before: overwrote 7 object(s) under s3://acme-patch-evidence/reports/2026-10/"
        ),
        "{stdout}"
    );
}
