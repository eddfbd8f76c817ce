//! What `status` and the end of `rollout` print: the instance table, and the failures of a rollout
//! with each instance that did not succeed.

use super::api::Instance;
use super::apply::RolloutError;

/// What a failed rollout prints after its table: each error, then each instance that did not
/// succeed with its reason.
pub fn failure_report(errors: &[RolloutError]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!("patchplane: {e}\n"));
        if let RolloutError::Failed { instances, .. } = e {
            for i in instances {
                out.push_str(&format!("  {}  {}  {}  {}\n", i.account, i.region, i.status, i.reason));
            }
        }
    }
    out
}

/// Exit code of a rollout: 0 when every StackSet converged, 1 otherwise.
pub fn exit_code(errors: &[RolloutError]) -> u8 {
    u8::from(!errors.is_empty())
}

/// The per-instance table (`status`, and the end of `rollout`).
pub fn instance_table(rows: &[(String, Instance)]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(s, i)| {
            vec![
                s.clone(),
                i.account.clone(),
                i.region.clone(),
                i.status.clone(),
                i.drift.clone(),
                i.last_operation.clone(),
                i.reason.clone(),
            ]
        })
        .collect();
    crate::table::render(
        &[
            "STACKSET",
            "ACCOUNT",
            "REGION",
            "STATUS",
            "DRIFT",
            "LAST OPERATION",
            "REASON",
        ],
        &cells,
    )
}
