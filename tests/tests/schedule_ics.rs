//! `patchplane schedule --format ics` read back by an independent iCalendar library (Python's
//! `icalendar`, in the project's virtualenv), every event checked against the schedule preview
//! (`--format json`) of the same policy and day. No AWS involved.

use std::io::Write;
use std::process::{Command, Stdio};

use patchplane_e2e::{patchplane_bin, root, venv_tool};
use serde_json::Value;

fn schedule(policy: &str, format: &str) -> String {
    let out = Command::new(patchplane_bin())
        .current_dir(root())
        .args([
            "schedule",
            policy,
            "--from",
            "2026-12-01",
            "--count",
            "3",
            "--format",
            format,
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn every_window_opening_is_one_calendar_event() {
    for policy in ["examples/org-policy.yaml", "examples/sunday-after-patch-tuesday.yaml"] {
        let ics = schedule(policy, "ics");
        assert!(ics.lines().all(|l| l.len() <= 76), "lines folded at 75 octets");
        assert!(
            ics.contains("\r\n") && !ics.replace("\r\n", "").contains('\n'),
            "CRLF only"
        );
        let mut child = Command::new(venv_tool("python"))
            .arg(root().join("tests/scripts/ics_events.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ics.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("python ends");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let cal: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(cal["version"], "2.0");
        let events = cal["events"].as_array().expect("events");
        let rows: Vec<Value> = serde_json::from_str(&schedule(policy, "json")).expect("preview");
        assert_eq!(events.len(), rows.len(), "{policy}: one event per opening");
        let mut uids: Vec<&str> = events.iter().filter_map(|e| e["uid"].as_str()).collect();
        uids.sort_unstable();
        uids.dedup();
        assert_eq!(uids.len(), events.len(), "unique UIDs");
        for row in &rows {
            let utc = row["utc"].as_str().expect("utc");
            let region = row["region"].as_str().expect("region");
            let window = row["window"].as_str().expect("window");
            let e = events
                .iter()
                .find(|e| {
                    e["start"] == utc
                        && e["location"] == region
                        && e["description"]
                            .as_str()
                            .is_some_and(|d| d.contains(&format!("Window: {window}\n")))
                })
                .unwrap_or_else(|| panic!("{policy}: no event for {window} in {region} at {utc}"));
            let hours = row["duration_hours"].as_i64().expect("hours");
            let start: jiff::Timestamp = utc.parse().expect("start");
            let end: jiff::Timestamp = e["end"].as_str().expect("end").parse().expect("end");
            assert_eq!(end.duration_since(start).as_hours(), hours, "{window}");
            let d = e["description"].as_str().expect("description");
            for g in row["patch_groups"].as_array().expect("groups") {
                let g = g.as_str().expect("group");
                assert!(d.contains(g), "{window}: patch group {g} in {d}");
                assert!(e["categories"].as_array().expect("cats").iter().any(|c| c == g));
            }
            if let (Some(ring), Some(os)) = (row["ring"].as_str(), row["operating_system"].as_str()) {
                assert!(
                    d.contains(&format!("Ring: {ring}\n")) && d.contains(&format!("Operating system: {os}\n")),
                    "{d}"
                );
                assert!(
                    e["summary"]
                        .as_str()
                        .is_some_and(|s| s.contains(ring) && s.contains(os))
                );
            }
            assert!(d.contains(&format!("Local start: {}", row["local"].as_str().expect("local"))));
        }
    }
}
