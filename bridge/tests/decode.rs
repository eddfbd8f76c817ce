//! Every AWS sample event in `tests/fixtures/events/` decodes to its typed event with the fields
//! that routing and sinks use; bad input is an error with its reason, never a panic.

use std::path::PathBuf;

use patchplane_bridge::decode::{DecodeError, Event, decode};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/events")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/events");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_fixture_decodes_to_its_kind() {
    let expected = [
        ("ecs-task-state-change.json", "task"),
        ("inspector2-finding-ec2-network-reachability.json", "inspector-finding"),
        ("inspector2-finding-ec2-package-vulnerability.json", "inspector-finding"),
        ("ssm-compliance-association-non-compliant.json", "compliance"),
        ("ssm-compliance-patch-compliant.json", "compliance"),
        ("ssm-compliance-patch-non-compliant.json", "compliance"),
        ("ssm-ec2-command-invocation-status-change.json", "command-invocation"),
        ("ssm-ec2-command-status-change.json", "command"),
        ("ssm-mw-execution-state-change.json", "window-execution"),
        ("ssm-mw-task-execution-state-change.json", "window-task-execution"),
        (
            "ssm-mw-task-target-invocation-state-change.json",
            "window-target-invocation",
        ),
        ("ssm-state-manager-association-state-change.json", "association"),
        (
            "ssm-state-manager-instance-association-state-change.json",
            "instance-association",
        ),
    ];
    let all = all_fixtures();
    assert_eq!(all.len(), expected.len(), "a fixture without an expectation");
    for ((name, body), (want_name, kind)) in all.iter().zip(expected) {
        assert_eq!(name, want_name);
        let d = decode(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.event.kind(), kind, "{name}");
        assert!(!d.envelope.id.is_empty() && !d.envelope.account.is_empty() && !d.envelope.region.is_empty());
        assert!(!d.correlation_key().is_empty());
    }
}

#[test]
fn maintenance_window_fields_and_keys() {
    let d = decode(&fixture("ssm-mw-execution-state-change.json")).expect("decodes");
    let Event::WindowExecution(w) = &d.event else {
        panic!("{:?}", d.event)
    };
    assert_eq!(
        (w.window_id.as_str(), w.status.as_str()),
        ("mw-0ed7251d3fcf6e0c2", "TIMED_OUT")
    );
    assert_eq!(
        d.correlation_key(),
        "123456789012/us-east-2/mw-0ed7251d3fcf6e0c2/b60fb56e-776c-4e5c-84ee-123456789012"
    );
    let t = decode(&fixture("ssm-mw-task-target-invocation-state-change.json")).expect("decodes");
    let Event::WindowTargetInvocation(w) = &t.event else {
        panic!("{:?}", t.event)
    };
    assert!(w.task_execution_id.is_some() && w.window_target_id.is_some());
    // Target invocations of one execution have keys of their own, below the execution's.
    assert!(t.correlation_key().len() > d.correlation_key().len());
}

#[test]
fn compliance_events_including_the_sample_with_an_account_as_source() {
    let d = decode(&fixture("ssm-compliance-patch-non-compliant.json")).expect("decodes");
    let Event::Compliance(c) = &d.event else {
        panic!("{:?}", d.event)
    };
    assert!(c.non_compliant());
    assert_eq!(c.compliance_type, "Patch");
    assert!(c.patch_baseline_id.is_some() && c.severity.is_some());
    assert_eq!(d.event.severity(), c.severity.as_deref());
    // AWS's own sample says `source: aws.<account>`: decoding goes by detail-type.
    let ok = decode(&fixture("ssm-compliance-patch-compliant.json")).expect("decodes");
    assert_eq!(ok.envelope.source, "aws.123456789012");
    let Event::Compliance(c) = &ok.event else {
        panic!("{:?}", ok.event)
    };
    assert!(!c.non_compliant());
    let assoc = decode(&fixture("ssm-compliance-association-non-compliant.json")).expect("decodes");
    let Event::Compliance(c) = &assoc.event else {
        panic!("{:?}", assoc.event)
    };
    assert_eq!(c.compliance_type, "Association");
    assert!(c.last_runtime.is_some() && c.patch_baseline_id.is_none());
}

#[test]
fn association_json_in_string_fields_are_parsed() {
    let d = decode(&fixture("ssm-state-manager-association-state-change.json")).expect("decodes");
    let Event::Association(a) = &d.event else {
        panic!("{:?}", d.event)
    };
    assert_eq!(a.targets.len(), 1);
    assert_eq!(
        (a.targets[0].key.as_str(), a.targets[0].values.as_slice()),
        ("InstanceIds", &["i-12345678".to_owned()][..])
    );
    assert_eq!(a.aggregated_count.get("Success"), Some(&1));
    let i = decode(&fixture("ssm-state-manager-instance-association-state-change.json")).expect("decodes");
    let Event::InstanceAssociation(a) = &i.event else {
        panic!("{:?}", i.event)
    };
    assert!(a.instance_id.is_some());

    // A broken document inside the string is an error naming that field.
    let text = String::from_utf8(fixture("ssm-state-manager-association-state-change.json")).expect("utf-8");
    let broken = text.replace(r#""{\"Success\":1}""#, r#""{\"Success\":""#);
    assert_ne!(broken, text);
    let e = decode(broken.as_bytes()).expect_err("broken inner JSON");
    let DecodeError::BadDetail { path, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(path, "association-status-aggregated-count");
}

#[test]
fn inspector_findings() {
    let d = decode(&fixture("inspector2-finding-ec2-package-vulnerability.json")).expect("decodes");
    let Event::Finding(f) = &d.event else {
        panic!("{:?}", d.event)
    };
    assert_eq!(
        (f.severity.as_str(), f.status.as_str(), f.kind.as_str()),
        ("MEDIUM", "CLOSED", "PACKAGE_VULNERABILITY")
    );
    assert_eq!(f.vulnerability_id.as_deref(), Some("CVE-2024-29069"));
    assert_eq!(f.resources[0].id, "i-12345678901234567");
    // Issue #11: one ticket per (account, node, vulnerability), not per finding ARN (Inspector
    // may replace a finding for the same vulnerability on the same node).
    assert_eq!(
        d.correlation_key(),
        "123456789012/eu-central-1/i-12345678901234567/vulnerability/CVE-2024-29069",
    );
    let n = decode(&fixture("inspector2-finding-ec2-network-reachability.json")).expect("decodes");
    let Event::Finding(f) = &n.event else {
        panic!("{:?}", n.event)
    };
    assert_eq!(f.kind, "NETWORK_REACHABILITY");
    assert_eq!(f.vulnerability_id, None);
}

#[test]
fn bad_messages_say_why() {
    assert!(matches!(decode(b"not json"), Err(DecodeError::Malformed { .. })));
    assert!(matches!(decode(b"{\"id\":\"x\"}"), Err(DecodeError::Malformed { .. })));
    let text = String::from_utf8(fixture("ssm-mw-execution-state-change.json")).expect("utf-8");
    let unknown = text.replace(
        "Maintenance Window Execution State-change Notification",
        "EC2 Instance State-change Notification",
    );
    assert_eq!(
        decode(unknown.as_bytes()),
        Err(DecodeError::Unknown {
            source_name: "aws.ssm".into(),
            detail_type: "EC2 Instance State-change Notification".into()
        })
    );
    let missing = text.replace("\"status\": \"TIMED_OUT\"", "\"state\": \"TIMED_OUT\"");
    assert_ne!(missing, text);
    let e = decode(missing.as_bytes()).expect_err("missing status");
    assert!(
        matches!(&e, DecodeError::BadDetail { path, .. } if path == "status"),
        "{e:?}"
    );
    assert!(e.to_string().contains("`detail.status`"), "{e}");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode(&body);
    }

    /// Fixtures with one byte changed, deleted or a field value replaced: an event or an error.
    #[test]
    fn mutated_fixtures_never_panic(which in 0usize..12, at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let (_, mut body) = all_fixtures().swap_remove(which);
        let i = at.index(body.len());
        if cut { body.remove(i); } else { body[i] = byte; }
        let _ = decode(&body);
    }
}

#[test]
fn inspector_times_are_read_in_their_event_format() {
    use patchplane_bridge::decode::inspector_time;
    let t = inspector_time("Wed Sep 04 16:59:44.356 UTC 2024").expect("parses");
    assert_eq!(t.to_string(), "2024-09-04T16:59:44.356Z");
    let whole = inspector_time("Thu Jul 25 20:15:00 UTC 2024").expect("no fraction");
    assert_eq!(whole.to_string(), "2024-07-25T20:15:00Z");
    for bad in [
        "2024-09-04T16:59:44Z",
        "Wed Sep 04 16:59:44.356 CEST 2024",
        "Wed Sep 34 16:59:44.356 UTC 2024",
        "",
        "Wed",
    ] {
        assert_eq!(inspector_time(bad), None, "{bad}");
    }
}

#[test]
fn a_package_finding_carries_packages_scores_and_times() {
    let text = fixture("inspector2-finding-ec2-package-vulnerability.json");
    let Event::Finding(f) = decode(&text).expect("decodes").event else {
        panic!("not a finding");
    };
    assert_eq!(f.vulnerability_id.as_deref(), Some("CVE-2024-29069"));
    assert_eq!(
        f.cvss_vector.as_deref(),
        Some("CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:L")
    );
    assert_eq!(f.epss, Some(0.00043));
    assert_eq!(f.packages.len(), 1);
    let p = &f.packages[0];
    assert_eq!(
        (p.name.as_str(), p.version.as_deref(), p.fixed_in_version.as_deref()),
        ("snapd", Some("2.63"), Some("0:2.63+22.04ubuntu0.1"))
    );
    assert_eq!(p.remediation.as_deref(), Some("apt-get update && apt-get upgrade"));
    assert_eq!(f.node(), Some("i-12345678901234567"));
    assert_eq!(f.first_observed_at.as_deref(), Some("Wed Sep 04 16:59:44.356 UTC 2024"));
}

#[test]
fn optional_finding_fields_may_be_absent() {
    // A network-reachability finding: no packages, no EPSS, no vulnerability id.
    let text = fixture("inspector2-finding-ec2-network-reachability.json");
    let Event::Finding(f) = decode(&text).expect("decodes").event else {
        panic!("not a finding");
    };
    assert!(f.packages.is_empty() && f.epss.is_none() && f.vulnerability_id.is_none());
    // A package finding without a fix yet, without EPSS, on a container image: no node.
    let mut v: serde_json::Value =
        serde_json::from_slice(&fixture("inspector2-finding-ec2-package-vulnerability.json")).expect("json");
    let d = &mut v["detail"];
    d.as_object_mut().expect("object").remove("epss");
    d["packageVulnerabilityDetails"]["vulnerablePackages"][0]
        .as_object_mut()
        .expect("package")
        .remove("fixedInVersion");
    d["resources"][0]["type"] = "AWS_ECR_CONTAINER_IMAGE".into();
    d["resources"][0]["id"] = "arn:aws:ecr:eu-central-1:123456789012:repository/app/sha256:abc".into();
    let Event::Finding(f) = decode(v.to_string().as_bytes()).expect("decodes").event else {
        panic!("not a finding");
    };
    assert_eq!(f.epss, None);
    assert_eq!(f.packages[0].fixed_in_version, None);
    assert_eq!(f.node(), None, "an image is not a node");
}

#[test]
fn a_ring_gate_event_decodes_with_its_reason_and_key() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/patchplane/ring-gate-held.json"
    ))
    .expect("fixture");
    let d = patchplane_bridge::decode::decode(text.as_bytes()).expect("decodes");
    assert_eq!((d.event.kind(), d.event.status()), ("ring-gate", "HELD"));
    assert_eq!(
        d.correlation_key(),
        "123456789012/us-east-1/gate/AL2023-main/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    );
    let spoofed = text.replace("\"source\": \"patchplane.gate\"", "\"source\": \"someone.else\"");
    assert!(
        patchplane_bridge::decode::decode(spoofed.as_bytes()).is_err(),
        "only from the gate's source"
    );
}

#[test]
fn a_mistyped_field_is_named_in_the_reason() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/events/ssm-compliance-patch-non-compliant.json"
    ))
    .expect("fixture");
    let bad = text.replace("\"compliance-status\": \"non_compliant\"", "\"compliance-status\": 42");
    assert_ne!(bad, text);
    let e = patchplane_bridge::decode::decode(bad.as_bytes())
        .expect_err("mistyped")
        .to_string();
    assert!(
        e.starts_with("Configuration Compliance State Change: `detail.compliance-status`: invalid type: integer `42`"),
        "{e}"
    );
}
