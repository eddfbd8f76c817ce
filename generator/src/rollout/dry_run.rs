//! `rollout --dry-run`: the exact requests [`super::apply`] would send, as JSON.

use serde_json::Value as Json;

use super::api::Targets;
use super::diff::Change;
use super::request::Desired;

/// The exact requests `apply` would send, as JSON (for `--dry-run`).
pub fn requests(d: &Desired, changes: &[Change]) -> Vec<Json> {
    let targets = |t: &Targets| {
        let mut v = serde_json::json!({ "OrganizationalUnitIds": t.ous, "AccountFilterType": d.account_filter });
        if !d.accounts.is_empty() {
            v["Accounts"] = serde_json::json!(d.accounts);
        }
        v
    };
    let body = |d: &Desired| d.template_url.is_none().then(|| d.template_body.clone());
    let prefs = serde_json::json!({
        "RegionConcurrencyType": d.preferences.0,
        "MaxConcurrentPercentage": d.preferences.1,
        "FailureTolerancePercentage": d.preferences.2,
    });
    changes
        .iter()
        .map(|c| match c {
            Change::CreateStackSet => serde_json::json!({ "CreateStackSet": {
                "StackSetName": d.name, "Description": d.description, "TemplateBody": body(d), "TemplateURL": d.template_url,
                "Capabilities": d.capabilities, "PermissionModel": "SERVICE_MANAGED",
                "AutoDeployment": { "Enabled": d.auto_deployment.0, "RetainStacksOnAccountRemoval": d.auto_deployment.1 },
                "CallAs": d.call_as, "ManagedExecution": { "Active": d.managed_execution },
                "Tags": d.tags.iter().map(|(k, v)| serde_json::json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            }}),
            Change::Update { targets: t, .. } => serde_json::json!({ "UpdateStackSet": {
                "StackSetName": d.name, "Description": d.description, "TemplateBody": body(d), "TemplateURL": d.template_url,
                "Capabilities": d.capabilities, "DeploymentTargets": targets(t), "Regions": t.regions,
                "OperationPreferences": prefs, "CallAs": d.call_as,
            }}),
            Change::AddInstances(t) => serde_json::json!({ "CreateStackInstances": {
                "StackSetName": d.name, "DeploymentTargets": targets(t), "Regions": t.regions,
                "OperationPreferences": prefs, "CallAs": d.call_as,
            }}),
            Change::RemoveInstances(t) => serde_json::json!({ "DeleteStackInstances": {
                "StackSetName": d.name, "DeploymentTargets": targets(t), "Regions": t.regions,
                "RetainStacks": false, "OperationPreferences": prefs, "CallAs": d.call_as,
            }}),
        })
        .collect()
}
