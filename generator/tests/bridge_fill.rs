//! What the generator fills into the bridge's configuration from the policy
//! (`patchplane::model::fill_bridge_config`): here, the compliance incidents' SLA (issue 28).
//! An integration test, so the model's unit tests never reach back into the loader.

use std::collections::BTreeMap;
use std::path::Path;

use patchplane::bridge_config::SlaDays;

/// The example policy's `evidence: { sla_days: { default: 30, critical: 14 } }`, written out.
fn example_sla() -> SlaDays {
    SlaDays::PerSeverity(BTreeMap::from([
        ("critical".to_owned(), 14),
        ("default".to_owned(), 30),
    ]))
}

#[test]
fn the_policys_sla_becomes_the_compliance_incidents_sla_unless_the_file_sets_its_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let l = patchplane::load_file(&root.join("examples/org-policy.yaml")).expect("policy loads");
    let service = l.policy.central.bridge.clone().expect("the example runs a bridge");
    let filled = patchplane::model::bridge_config(&l.policy, &service, &l.plan.windows);
    assert_eq!(filled.tickets.compliance_sla_days, Some(example_sla()));
    assert_eq!(filled.tickets.compliance_sla().days("CRITICAL"), 14);

    let mut own = service.config.clone();
    own.tickets.compliance_sla_days = Some(SlaDays::All(5));
    let kept = patchplane::model::fill_bridge_config(&l.policy, own, &l.plan.windows);
    assert_eq!(
        kept.tickets.compliance_sla_days,
        Some(SlaDays::All(5)),
        "the file's own wins"
    );
}
