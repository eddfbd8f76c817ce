//! `patchplane report` over a generated history: 10,000 nodes × 30 nightly versions of their
//! `AWS:PatchSummary` and `AWS:ComplianceItem` objects (and one `AWS:InstanceInformation`),
//! written to local files (one file per object, its versions in it, newest first) and read back
//! through the same walks, parsers and report builder as the S3 reader. One node in five has a
//! critical patch missing through the month, so its walk goes back through every version.
//!
//! Besides the median, it prints what a real run of this size asks S3 for: the bodies the walks
//! read (one `GetObject` each) and the `ListObjectVersions` pages (1,000 versions each).
//! `cargo xtask bench` runs it and prints the medians.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use patchplane::bridge_config::SlaDays;
use patchplane::report::{self, Entry, Options};

const NODES: usize = 10_000;
const VERSIONS: usize = 30;
const PREFIX: &str = "resource-data-sync";
/// Between versions in a file.
const SEPARATOR: &str = "\n--- version ---\n";

fn key(type_name: &str, node: usize) -> String {
    report::sync_key(
        PREFIX,
        type_name,
        "111111111111",
        "us-east-1",
        &format!("i-{node:017x}"),
    )
}

/// Writes the history; returns the listing (key → versions, newest first) and key → file.
fn write(dir: &Path) -> (BTreeMap<String, Vec<Entry>>, BTreeMap<String, PathBuf>) {
    let first: Timestamp = "2026-10-02T03:00:00Z".parse().expect("t");
    let mut listing = BTreeMap::new();
    let mut files = BTreeMap::new();
    for n in 0..NODES {
        let bad = n % 5 == 0;
        for type_name in [
            report::PATCH_SUMMARY,
            report::COMPLIANCE_ITEM,
            report::INSTANCE_INFORMATION,
        ] {
            let count = if type_name == report::INSTANCE_INFORMATION {
                1
            } else {
                VERSIONS
            };
            let mut bodies = Vec::new();
            let mut entries = Vec::new();
            for v in (0..count).rev() {
                let at = first + SignedDuration::from_hours(24 * v as i64);
                let body = match type_name {
                    report::PATCH_SUMMARY => format!(
                        "{{\"PatchGroup\":\"AL2023-early\",\"BaselineId\":\"pb-0123456789abcdef0\",\"MissingCount\":\"{m}\",\"CriticalNonCompliantCount\":\"{m}\",\"FailedCount\":\"0\",\"InstalledCount\":\"412\",\"OperationType\":\"Scan\",\"OperationEndTime\":\"{at}\",\"captureTime\":\"{at}\",\"schemaVersion\":\"1.0\"}}\n",
                        m = u8::from(bad)
                    ),
                    report::COMPLIANCE_ITEM => {
                        let mut b = format!(
                            "{{\"ComplianceType\":\"Patch\",\"Id\":\"ALAS2023-2026-100\",\"Title\":\"openssl\",\"Status\":\"COMPLIANT\",\"Severity\":\"IMPORTANT\",\"PatchState\":\"Installed\",\"captureTime\":\"{at}\"}}\n"
                        );
                        if bad {
                            b += &format!(
                                "{{\"ComplianceType\":\"Patch\",\"Id\":\"ALAS2023-2026-101\",\"Title\":\"kernel\",\"Status\":\"NON_COMPLIANT\",\"Severity\":\"CRITICAL\",\"PatchSeverity\":\"Critical\",\"Classification\":\"Security\",\"PatchState\":\"Missing\",\"captureTime\":\"{at}\"}}\n"
                            );
                        }
                        b
                    }
                    _ => format!(
                        "{{\"PlatformName\":\"Amazon Linux\",\"PlatformVersion\":\"2023\",\"InstanceStatus\":\"Active\",\"captureTime\":\"{at}\"}}\n"
                    ),
                };
                bodies.push(body);
                entries.push(Entry {
                    version_id: v.to_string(),
                    last_modified: at + SignedDuration::from_mins(20),
                    deleted: false,
                });
            }
            let k = key(type_name, n);
            let file = dir.join(format!("{n}-{}.versions", type_name.trim_start_matches("AWS:")));
            std::fs::write(&file, bodies.join(SEPARATOR)).expect("write");
            listing.insert(k.clone(), entries);
            files.insert(k, file);
        }
    }
    (listing, files)
}

fn build(listing: &BTreeMap<String, Vec<Entry>>, files: &BTreeMap<String, PathBuf>) -> (report::Report, usize) {
    let cutoff = report::month_end("2026-10").expect("month");
    let (walks, _) = report::walks(PREFIX, listing.clone(), cutoff, &[]);
    let mut reads = 0;
    let snapshot = report::snapshot_with(walks, |key, e| {
        reads += 1;
        let text = std::fs::read_to_string(&files[key]).map_err(|e| e.to_string())?;
        let newest: usize = listing[key].len() - 1;
        let i = newest - e.version_id.parse::<usize>().map_err(|_| "version".to_owned())?;
        text.split(SEPARATOR)
            .nth(i)
            .map(str::to_owned)
            .ok_or_else(|| "no such version".to_owned())
    });
    let r = report::build(
        snapshot,
        Options {
            month: "2026-10".into(),
            cutoff,
            sla: SlaDays::All(14),
            exceptions: Vec::new(),
            targeted: None,
        },
    );
    (r, reads)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let (listing, files) = write(dir.path());
    let (r, reads) = build(&listing, &files);
    assert_eq!(r.nodes.len(), NODES);
    assert_eq!(
        r.overdue().len(),
        NODES / 5,
        "the bad fifth, missing a critical patch for 29 days"
    );
    let versions: usize = listing.values().map(Vec::len).sum();
    println!(
        "report_history: {NODES} nodes, {versions} versions: {reads} GetObject and {} ListObjectVersions requests for one month ({:.1} reads per node)",
        versions.div_ceil(1000),
        reads as f64 / NODES as f64
    );
    let mut g = c.benchmark_group("report_history");
    g.sample_size(10);
    g.bench_function("10k_nodes_30_versions", |b| {
        b.iter(|| {
            let (r, _) = build(&listing, &files);
            std::hint::black_box((r.nodes_csv(), r.overdue_csv(), report::html::render(&r)))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
