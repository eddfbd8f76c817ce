//! Routing: the default rules over every AWS sample (and edited samples for the cases the samples
//! lack), rules read from YAML, and the ack decision.

use std::path::PathBuf;

use patchplane_bridge::decode::{Decoded, decode};
use patchplane_bridge::outcome::{Ack, MAX_VISIBILITY_SECONDS, Outcome, ack, backoff_seconds};
use patchplane_bridge::route::{Action, RouteConfig};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decoded(text: &str) -> Decoded {
    decode(text.as_bytes()).expect("decodes")
}

fn actions(rules: &RouteConfig, text: &str) -> Vec<Action> {
    rules.route(&decoded(text), 1).into_iter().map(|(a, _)| a).collect()
}

#[test]
fn default_rules_over_the_samples() {
    let rules = RouteConfig::defaults();
    let incident = vec![Action::Incident];
    for (name, want) in [
        // Failed or timed-out windows, tasks and targets open an incident.
        ("ssm-mw-execution-state-change.json", incident.clone()),
        ("ssm-mw-task-execution-state-change.json", incident.clone()),
        ("ssm-mw-task-target-invocation-state-change.json", incident.clone()),
        // Non-compliant patch state does, and compliant state resolves it (issue #11);
        // association compliance does neither.
        ("ssm-compliance-patch-non-compliant.json", incident.clone()),
        ("ssm-compliance-patch-compliant.json", vec![Action::Resolve]),
        ("ssm-compliance-association-non-compliant.json", vec![]),
        // Successful commands of other documents, association changes: nothing.
        ("ssm-ec2-command-status-change.json", vec![]),
        ("ssm-ec2-command-invocation-status-change.json", vec![]),
        ("ssm-state-manager-association-state-change.json", vec![]),
        ("ssm-state-manager-instance-association-state-change.json", vec![]),
        // Network reachability: nothing. A package vulnerability on a node goes to its ticket
        // whatever its status and severity: the sink opens at `tickets.min_severity` and
        // resolves on CLOSED (issue #11).
        ("inspector2-finding-ec2-network-reachability.json", vec![]),
        (
            "inspector2-finding-ec2-package-vulnerability.json",
            vec![Action::InspectorTicket],
        ),
    ] {
        assert_eq!(actions(&rules, &fixture(name)), want, "{name}");
    }
}

#[test]
fn failed_patch_commands_and_active_critical_findings() {
    let rules = RouteConfig::defaults();
    let invocation = fixture("ssm-ec2-command-invocation-status-change.json");
    let failed_patch = invocation
        .replace("AWS-RunPowerShellScript", "AWS-RunPatchBaseline")
        .replace("\"Success\"", "\"Failed\"");
    assert_ne!(failed_patch, invocation);
    assert_eq!(actions(&rules, &failed_patch), vec![Action::Incident]);
    // A failed command of another document is not a patching failure.
    assert_eq!(
        actions(&rules, &invocation.replace("\"Success\"", "\"Failed\"")),
        vec![]
    );

    let finding = fixture("inspector2-finding-ec2-package-vulnerability.json");
    let critical = finding
        .replace("\"severity\": \"MEDIUM\"", "\"severity\": \"CRITICAL\"")
        .replace("\"status\": \"CLOSED\"", "\"status\": \"ACTIVE\"");
    assert_ne!(critical, finding);
    let routed = rules.route(&decoded(&critical), 1);
    assert_eq!(routed, vec![(Action::InspectorTicket, "package-vulnerability")]);
    // On a container image the finding is about no node: no rule routes it.
    let image = critical
        .replace(
            "\"type\": \"AWS_EC2_INSTANCE\"",
            "\"type\": \"AWS_ECR_CONTAINER_IMAGE\"",
        )
        .replace(
            "\"id\": \"i-12345678901234567\"",
            "\"id\": \"arn:aws:ecr:eu-central-1:123456789012:repository/app\"",
        );
    assert_ne!(image, critical);
    assert_eq!(rules.route(&decoded(&image), 1), vec![]);
    // A successful patch command resolves; a successful window execution too.
    let ok_patch = invocation.replace("AWS-RunPowerShellScript", "AWS-RunPatchBaseline");
    assert_eq!(actions(&rules, &ok_patch), vec![Action::Resolve]);
}

#[test]
fn rules_may_match_the_ring_and_owner_enrichment_found() {
    use patchplane_bridge::enrich::Context;
    let yaml = "rules:\n  - name: early-ring\n    when: { kind: [compliance], ring: [early], owner: [team-data] }\n    actions: [incident]\n";
    let rules: RouteConfig = serde_yaml::from_str(yaml).expect("parses");
    let d = decoded(&fixture("ssm-compliance-patch-non-compliant.json"));
    let ctx = |ring: &str, owner: &str| Context {
        ring: Some(ring.into()),
        owner: Some(owner.into()),
        ..Context::default()
    };
    assert!(rules.may_route(&d, 1), "worth a tag lookup");
    assert_eq!(
        rules.route_with(&d, &ctx("early", "team-data"), 1),
        vec![(Action::Incident, "early-ring")]
    );
    assert_eq!(rules.route_with(&d, &ctx("main", "team-data"), 1), vec![]);
    assert_eq!(rules.route_with(&d, &ctx("early", "team-web"), 1), vec![]);
    assert_eq!(
        rules.route(&d, 1),
        vec![],
        "without enrichment, a ring rule never matches"
    );
    let w = decoded(&fixture("ssm-mw-execution-state-change.json"));
    assert!(!rules.may_route(&w, 1), "no rule could match: no tag lookup");
}

#[test]
fn rules_from_yaml_are_strict_and_each_action_is_taken_once() {
    let yaml = "rules:\n  - name: any-timeout\n    when: { status: [timed_out] }\n    actions: [incident, notify-owner]\n  - name: windows\n    when: { kind: [window-execution] }\n    actions: [incident]\n  - name: escalate\n    when: { kind: [window-execution], min_receive_count: 3 }\n    actions: [inspector-ticket]\n";
    let rules: RouteConfig = serde_yaml::from_str(yaml).expect("parses");
    let d = decoded(&fixture("ssm-mw-execution-state-change.json"));
    assert_eq!(
        rules.route(&d, 1),
        vec![(Action::Incident, "any-timeout"), (Action::NotifyOwner, "any-timeout")]
    );
    assert_eq!(
        rules.route(&d, 3).len(),
        3,
        "the escalation rule applies from the third receive"
    );
    let e = serde_yaml::from_str::<RouteConfig>(
        "rules:\n  - name: x\n    when: { stauts: [FAILED] }\n    actions: [incident]\n",
    )
    .expect_err("typo");
    assert!(e.to_string().contains("unknown field `stauts`"), "{e}");
    let e =
        serde_yaml::from_str::<RouteConfig>("rules:\n  - name: x\n    actions: [page-everyone]\n").expect_err("action");
    assert!(e.to_string().contains("unknown variant `page-everyone`"), "{e}");
}

#[test]
fn ack_decisions() {
    assert_eq!(ack(&[], 1), Ack::Delete, "nothing to do is done");
    assert_eq!(ack(&[Outcome::Delivered, Outcome::Delivered], 1), Ack::Delete);
    assert_eq!(
        ack(&[Outcome::Delivered, Outcome::Retry("429".into())], 2),
        Ack::RetryLater {
            after_seconds: 60,
            reason: "429".into()
        }
    );
    assert_eq!(
        ack(&[Outcome::Retry("503".into()), Outcome::Reject("401".into())], 1),
        Ack::DeadLetter { reason: "401".into() },
        "a permanent failure wins: retrying cannot help"
    );
    assert_eq!(
        (
            backoff_seconds(1),
            backoff_seconds(2),
            backoff_seconds(6),
            backoff_seconds(60)
        ),
        (30, 60, 900, 900)
    );
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Delivered),
        "[a-z]{1,5}".prop_map(Outcome::Retry),
        "[a-z]{1,5}".prop_map(Outcome::Reject),
        "[a-z]{1,5}".prop_map(Outcome::Deferred),
    ]
}

proptest! {
    /// Deleted exactly when everything delivered; parked (kept in flight) exactly when the rest
    /// delivered and some digest is pending; never lost, never retried past SQS's limit.
    #[test]
    fn ack_properties(outcomes in prop::collection::vec(outcome(), 0..8), receives in 0u32..10_000) {
        let all_delivered = outcomes.iter().all(|o| *o == Outcome::Delivered);
        let any_reject = outcomes.iter().any(|o| matches!(o, Outcome::Reject(_)));
        let any_retry = outcomes.iter().any(|o| matches!(o, Outcome::Retry(_)));
        match ack(&outcomes, receives) {
            Ack::Delete => prop_assert!(all_delivered),
            Ack::DeadLetter { .. } => prop_assert!(any_reject),
            Ack::RetryLater { after_seconds, .. } => {
                prop_assert!(!all_delivered && !any_reject);
                prop_assert!((30..=MAX_VISIBILITY_SECONDS).contains(&after_seconds));
            }
            Ack::Park { digests } => {
                prop_assert!(!any_reject && !any_retry && !digests.is_empty());
                let deferred = outcomes.iter().filter(|o| matches!(o, Outcome::Deferred(_))).count();
                prop_assert_eq!(digests.len(), deferred);
            }
        }
    }
}
