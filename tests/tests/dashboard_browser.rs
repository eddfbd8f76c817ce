//! The monthly dashboard (`YYYY-MM.html`) rendered by a real browser: headless Chromium (Debian's
//! `chromium`, installed by `cargo xtask setup` when it can be) takes a screenshot, and an
//! independent PNG reader (pypng) checks the page is not blank: ink on it, and the colours of its
//! charts. Where Chromium is missing (setup could not install it: no root or no apt-get), the test
//! says so and skips.

use std::collections::BTreeMap;
use std::process::Command;

use jiff::Timestamp;
use patchplane::bridge_config::SlaDays;
use patchplane::report::{self, InstanceInfo, MissingPatch, NodeState, Options, PatchSummary, Run, Snapshot};
use patchplane_e2e::{root, venv_tool};
use serde_json::Value;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// 40 nodes over 2 accounts, 3 rings and 2 platforms; every fifth non-compliant with a critical
/// patch missing since September; one disconnected.
fn report() -> report::Report {
    let mut nodes = BTreeMap::new();
    for i in 0..40u32 {
        let bad = i % 5 == 0;
        let ring = ["early", "main", "late"][(i % 3) as usize];
        let summary = PatchSummary {
            patch_group: format!("AL2023-{ring}"),
            baseline_id: "pb-0123456789abcdef0".into(),
            critical: u64::from(bad),
            missing: u64::from(bad),
            operation: "Install".into(),
            operation_end: Some("2026-10-20T02:00:00Z".parse().expect("t")),
            ..PatchSummary::default()
        };
        let runs = if bad {
            vec![Run {
                patch: MissingPatch {
                    id: "KB5034441".into(),
                    title: "kernel".into(),
                    severity: "Critical".into(),
                    state: "Missing".into(),
                    classification: "SecurityUpdates".into(),
                },
                since: "2026-09-10T03:00:00Z".parse().expect("t"),
                open_ended: false,
            }]
        } else {
            Vec::new()
        };
        let account = if i < 20 { "111111111111" } else { "222222222222" };
        nodes.insert(
            (account.to_owned(), "us-east-1".to_owned(), format!("i-{i:017x}")),
            NodeState {
                info: Some(InstanceInfo {
                    platform: if i % 2 == 0 {
                        "Amazon Linux 2023".into()
                    } else {
                        "Ubuntu 22.04".into()
                    },
                    status: if i == 7 {
                        "ConnectionLost".into()
                    } else {
                        "Active".into()
                    },
                }),
                summary: Some(summary),
                tags: BTreeMap::new(),
                runs,
            },
        );
    }
    let cutoff: Timestamp = "2026-11-01T00:00:00Z".parse().expect("t");
    let mut r = report::build(
        Snapshot {
            nodes,
            problems: Vec::new(),
        },
        Options {
            month: "2026-10".into(),
            cutoff,
            sla: SlaDays::All(14),
            exceptions: Vec::new(),
            targeted: None,
        },
    );
    r.trend = report::months_before("2026-10", 11)
        .iter()
        .enumerate()
        .map(|(i, m)| report::TrendPoint {
            month: m.clone(),
            nodes: 40,
            compliant: 20 + i,
        })
        .collect();
    r
}

#[test]
fn the_dashboard_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: the dashboard's browser test needs Chromium, and `cargo xtask setup` could not install it here (Debian package `chromium`; installing needs root and apt-get)"
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let page = tmp.path().join("2026-10.html");
    let r = report();
    assert_eq!(r.overdue().len(), 8);
    std::fs::write(&page, report::html::render(&r)).expect("write");
    let shot = std::env::var_os("PATCHPLANE_KEEP_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("shot.png"));
    let out = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1280,1600",
        ])
        .arg(format!("--user-data-dir={}", tmp.path().join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success() && shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = Command::new(venv_tool("python"))
        .arg(root().join("tests/scripts/png_stats.py"))
        .arg(&shot)
        .output()
        .expect("python runs");
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let s: Value = serde_json::from_slice(&stats.stdout).expect("json");
    assert_eq!((s["width"].as_u64(), s["height"].as_u64()), (Some(1280), Some(1600)));
    let inked = s["inked"].as_f64().expect("inked");
    assert!(inked > 0.03, "the page is blank: {inked} of it inked");
    assert!(
        s["colours"].as_u64().expect("colours") >= 8,
        "text alone has few colours; the charts add theirs: {s}"
    );
}
