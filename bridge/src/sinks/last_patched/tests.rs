//! The last-patched tag from command events: the documented sample
//! (`tests/fixtures/events/ssm-ec2-command-status-change.json`, AWS's EventBridge example for
//! Run Command) with only its document, parameters, status, time and resources changed to a
//! patch run's, against an in-memory tag store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use patchplane_integrations::retry::Failure;

use super::*;

/// (account, region, node) → its tags.
type Store = BTreeMap<(String, String, String), BTreeMap<String, String>>;

/// Tags by (account, region, node); a node id in `refuse` fails its write with that status.
#[derive(Default)]
struct Memory {
    tags: Mutex<Store>,
    refuse: Mutex<BTreeMap<String, u16>>,
    writes: Mutex<usize>,
}

impl NodeTags for Memory {
    fn get<'a>(&'a self, account: &'a str, region: &'a str, node: &'a str, key: &'a str) -> Fetch<'a> {
        let v = self
            .tags
            .lock()
            .expect("lock")
            .get(&(account.into(), region.into(), node.into()))
            .and_then(|t| t.get(key).cloned());
        Box::pin(async move { Ok(v) })
    }

    fn set<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
        (key, value): (&'a str, &'a str),
    ) -> Write<'a> {
        let refused = self.refuse.lock().expect("lock").get(node).copied();
        if refused.is_none() {
            *self.writes.lock().expect("lock") += 1;
            self.tags
                .lock()
                .expect("lock")
                .entry((account.into(), region.into(), node.into()))
                .or_default()
                .insert(key.into(), value.into());
        }
        Box::pin(async move {
            match refused {
                Some(status) => Err(Failure {
                    status: Some(status),
                    message: "refused".into(),
                    retry_after: None,
                }),
                None => Ok(()),
            }
        })
    }
}

fn event(operation: &str, status: &str, time: &str, resources: &[&str]) -> Decoded {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/events/ssm-ec2-command-status-change.json"
    ))
    .expect("fixture");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["time"] = time.into();
    v["resources"] = resources.iter().map(|r| serde_json::Value::from(*r)).collect();
    v["detail"]["document-name"] = "AWS-RunPatchBaseline".into();
    v["detail"]["status"] = status.into();
    v["detail"]["parameters"] = serde_json::json!({"Operation": [operation], "RebootOption": ["RebootIfNeeded"]});
    crate::decode::decode(v.to_string().as_bytes()).expect("decodes")
}

const EC2: &str = "arn:aws:ec2:us-east-2:123456789012:instance/i-0abc12345def67890";
const ONPREM: &str = "arn:aws:ssm:us-east-2:123456789012:managed-instance/mi-0123456789abcdef0";

fn tag(m: &Memory, node: &str) -> Option<String> {
    m.tags
        .lock()
        .expect("lock")
        .get(&("123456789012".into(), "us-east-2".into(), node.into()))
        .and_then(|t| t.get("patchplane:last-patched").cloned())
}

fn sink(m: &Arc<Memory>) -> LastPatched {
    LastPatched::new("patchplane:last-patched".into(), m.clone())
}

#[tokio::test]
async fn a_succeeded_install_tags_its_nodes_with_the_utc_day() {
    let m = Arc::new(Memory::default());
    // 23:30 in New York on the 9th is the 10th in UTC.
    let d = event("Install", "Success", "2026-12-10T04:30:00Z", &[EC2, ONPREM]);
    assert_eq!(sink(&m).deliver(&d, &Context::default()).await, Outcome::Delivered);
    assert_eq!(tag(&m, "i-0abc12345def67890").as_deref(), Some("2026-12-10"));
    assert_eq!(tag(&m, "mi-0123456789abcdef0").as_deref(), Some("2026-12-10"));
}

#[tokio::test]
async fn a_scan_a_failure_or_another_document_tags_nothing() {
    let m = Arc::new(Memory::default());
    for d in [
        event("Scan", "Success", "2026-12-10T04:30:00Z", &[EC2]),
        event("Install", "Failed", "2026-12-10T04:30:00Z", &[EC2]),
        crate::decode::decode(
            std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/fixtures/events/ssm-ec2-command-status-change.json"
            ))
            .expect("fixture")
            .as_bytes(),
        )
        .expect("the sample as AWS documents it: AWS-RunPowerShellScript"),
    ] {
        assert_eq!(sink(&m).deliver(&d, &Context::default()).await, Outcome::Delivered);
    }
    assert_eq!(*m.writes.lock().expect("lock"), 0);
}

#[tokio::test]
async fn a_late_older_install_never_moves_the_date_back() {
    let m = Arc::new(Memory::default());
    let s = sink(&m);
    s.deliver(
        &event("Install", "Success", "2026-12-10T04:30:00Z", &[EC2]),
        &Context::default(),
    )
    .await;
    s.deliver(
        &event("Install", "Success", "2026-11-12T04:30:00Z", &[EC2]),
        &Context::default(),
    )
    .await;
    assert_eq!(tag(&m, "i-0abc12345def67890").as_deref(), Some("2026-12-10"));
    assert_eq!(*m.writes.lock().expect("lock"), 1, "nothing written for the older one");
}

#[tokio::test]
async fn a_throttled_write_retries_and_a_refused_one_is_rejected() {
    let m = Arc::new(Memory::default());
    m.refuse.lock().expect("lock").insert("i-0abc12345def67890".into(), 429);
    let d = event("Install", "Success", "2026-12-10T04:30:00Z", &[EC2]);
    assert!(matches!(
        sink(&m).deliver(&d, &Context::default()).await,
        Outcome::Retry(_)
    ));
    m.refuse.lock().expect("lock").insert("i-0abc12345def67890".into(), 403);
    match sink(&m).deliver(&d, &Context::default()).await {
        Outcome::Reject(why) => assert!(why.contains("i-0abc12345def67890"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nodes_and_installs_are_read_from_the_event() {
    assert_eq!(
        nodes(&[EC2.into(), ONPREM.into(), "arn:aws:s3:::bucket/key".into()]),
        ["i-0abc12345def67890", "mi-0123456789abcdef0"]
    );
    assert!(is_install(&serde_json::json!({"Operation": ["Install"]})));
    assert!(!is_install(&serde_json::json!({"Operation": ["Scan"]})));
    assert!(!is_install(&serde_json::json!({"commands": ["date"]})));
}
