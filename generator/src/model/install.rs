//! How the member StackSet installs (ADR 026): every install window runs the `<policy>-install-node`
//! Automation once per target node, whose first step leaves the node alone when its window's ring
//! gate held or an exception covers it (`templates/components/leave-alone.py`); a gated window
//! first runs the `<policy>-ring-gate` Automation, which records its decision for the window run;
//! start-patch-stop asks the same questions of each stopped instance. The exceptions that select
//! nodes are published in the member account as the SSM parameter `/patchplane/<policy>/exceptions`.

use serde::Serialize;

use super::window::Param;
use crate::exception::Exception;
use crate::policy::{Policy, Reboot, StoppedInstances};

/// The shared step every node-touching script starts with: what leaves a node alone.
const LEAVE_ALONE: &str = include_str!("../../../templates/components/leave-alone.py");

/// The largest value of an SSM parameter (advanced tier, which `Intelligent-Tiering` picks when a
/// value needs it): 8 KB. <https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html>
pub const PUBLISHED_EXCEPTIONS_LIMIT: usize = 8 * 1024;

/// The install task's parameters: operation, reboot option, hook documents.
pub(super) fn install_parameters(p: &Policy) -> Vec<Param> {
    let hooks = &p.install.hooks;
    let mut install_params = vec![
        Param {
            name: "Operation",
            value: "Install".to_owned(),
        },
        Param {
            name: "RebootOption",
            value: match p.install.reboot {
                Reboot::RebootIfNeeded => "RebootIfNeeded",
                Reboot::NoReboot => "NoReboot",
            }
            .to_owned(),
        },
    ];
    let pre_install = p.install.pre_install_hook(&p.name);
    for (name, doc) in [
        ("PreInstallHookDocName", &pre_install),
        ("PostInstallHookDocName", &hooks.post_install),
        ("OnExitHookDocName", &hooks.on_exit),
    ] {
        if let Some(d) = doc {
            install_params.push(Param { name, value: d.clone() });
        }
    }
    install_params
}

/// The install document: with hooks (the policy's, or the pre-patch health check) or without.
pub(super) fn install_document(p: &Policy) -> &'static str {
    if p.install.uses_hooks() {
        "AWS-RunPatchBaselineWithHooks"
    } else {
        "AWS-RunPatchBaseline"
    }
}

/// Documents the install role may send: the hooks variant only when the policy sets hooks.
pub(super) fn documents(p: &Policy) -> Vec<String> {
    let mut documents = vec!["AWS-RunPatchBaseline".to_owned()];
    if p.install.uses_hooks() {
        documents.push("AWS-RunPatchBaselineWithHooks".to_owned());
    }
    documents
}

/// The SSM parameter the StackSet publishes the node-selecting exceptions in.
pub fn exceptions_parameter(policy: &str) -> String {
    format!("/patchplane/{policy}/exceptions")
}

/// The SSM parameter that opens a ring's gate on purpose: `/patchplane/<policy>/gates/<ring>`.
pub fn gate_parameter(p: &Policy, ring: &str) -> String {
    format!("/patchplane/{}/gates/{ring}", p.name)
}

/// Where a gated window's gate records its decision for each run, read by that run's per-node
/// installs and start-patch-stop: `/patchplane/<policy>/gate-decisions/<patch group>`.
pub fn decision_parameter(p: &Policy, group: &str) -> String {
    format!("{}/{group}", decision_prefix(p))
}

fn decision_prefix(p: &Policy) -> String {
    format!("/patchplane/{}/gate-decisions", p.name)
}

/// The `source` of the event a held (or forced open) ring gate puts on the member's default bus.
pub const GATE_EVENT_SOURCE: &str = "patchplane.gate";
/// Its `detail-type`.
pub const GATE_EVENT_DETAIL_TYPE: &str = "patchplane Ring Gate";

/// One exception as the member account reads it (`leave-alone.py`): what selects the nodes,
/// which patches (none: all), and its dates. Reason and approver stay in the policy.
#[derive(Debug, Serialize)]
struct Published<'a> {
    id: &'a str,
    ticket: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    nodes: &'a [String],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    tags: &'a std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    patches: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    starts: Option<&'a str>,
    expires: &'a str,
}

/// The exceptions that select nodes, as the JSON value of [`exceptions_parameter`] (`[]` when
/// there are none). Expired ones are kept: the member drops each by its dates, on the day, so an
/// exception ends without a release. Exceptions that select no node are baselines' rejected
/// patches instead.
pub fn published_exceptions(exceptions: &[Exception]) -> String {
    let list: Vec<Published<'_>> = exceptions
        .iter()
        .filter(|e| e.selects_nodes())
        .map(|e| Published {
            id: &e.id,
            ticket: &e.ticket,
            nodes: &e.nodes,
            tags: &e.tags,
            patches: &e.patches,
            starts: e.starts.as_deref(),
            expires: &e.expires,
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

/// The published exceptions parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionsParameterPlan {
    /// Its name.
    pub name: String,
    /// Its JSON value.
    pub value: String,
}

pub(super) fn exceptions(p: &Policy) -> ExceptionsParameterPlan {
    ExceptionsParameterPlan {
        name: exceptions_parameter(&p.name),
        value: published_exceptions(&p.exceptions),
    }
}

/// The per-node install Automation every install window runs.
#[derive(Debug, Clone, Serialize)]
pub struct InstallDocumentPlan {
    /// Document name.
    pub name: String,
    /// Its first step: `leave-alone.py` and `install-node.py`.
    pub script: String,
    /// The install document its second step runs on the node (with hooks or without).
    pub install_document: &'static str,
    /// Its parameters (operation, reboot, hooks).
    pub install_parameters: Vec<Param>,
    /// The published exceptions.
    pub exceptions_parameter: String,
    /// The gate decisions' path, for the role's `ssm:GetParameter` and `ssm:PutParameter`.
    pub decision_prefix: String,
    /// The gate openings' path, for the role's `ssm:GetParameter`.
    pub parameter_prefix: String,
    /// Where patch-now's per-node results go in the evidence bucket (then account, region, run).
    pub result_prefix: &'static str,
}

/// The evidence bucket prefix of patch-now's per-node results.
pub const PATCH_NOW_RESULTS: &str = "patch-now";

pub(super) fn install_node_document(p: &Policy) -> InstallDocumentPlan {
    InstallDocumentPlan {
        name: format!("{}-install-node", p.name),
        script: format!(
            "{LEAVE_ALONE}{}",
            include_str!("../../../templates/components/install-node.py")
        ),
        install_document: install_document(p),
        install_parameters: install_parameters(p),
        exceptions_parameter: exceptions_parameter(&p.name),
        decision_prefix: decision_prefix(p),
        parameter_prefix: format!("/patchplane/{}/gates", p.name),
        result_prefix: PATCH_NOW_RESULTS,
    }
}

/// The ring gate's Automation document (`templates/components/ring-gate.py`), when any ring has a
/// gate: a priority-0 task of each gated window.
#[derive(Debug, Clone, Serialize)]
pub struct GateDocumentPlan {
    /// Document name.
    pub name: String,
    /// The gate step's Python.
    pub script: String,
}

pub(super) fn gate_document(p: &Policy) -> Option<GateDocumentPlan> {
    p.rings.iter().any(|r| r.gate.is_some()).then(|| GateDocumentPlan {
        name: format!("{}-ring-gate", p.name),
        script: include_str!("../../../templates/components/ring-gate.py").to_owned(),
    })
}

/// The start-patch-stop Automation document, when `install.stopped_instances` asks for it.
pub(super) fn stopped_document(p: &Policy) -> Option<StoppedDocumentPlan> {
    (p.install.stopped_instances == StoppedInstances::StartPatchStop).then(|| StoppedDocumentPlan {
        name: format!("{}-start-patch-stop", p.name),
        find_script: format!(
            "{LEAVE_ALONE}{}",
            include_str!("../../../templates/components/stopped-instances.py")
        ),
        install_document: install_document(p),
        install_parameters: install_parameters(p),
        exceptions_parameter: exceptions_parameter(&p.name),
        decision_prefix: decision_prefix(p),
    })
}

/// The start-patch-stop Automation document.
#[derive(Debug, Clone, Serialize)]
pub struct StoppedDocumentPlan {
    /// Document name.
    pub name: String,
    /// The step that lists the stopped instances the window may patch (`leave-alone.py` first).
    pub find_script: String,
    /// The install document.
    pub install_document: &'static str,
    /// Its parameters.
    pub install_parameters: Vec<Param>,
    /// The published exceptions.
    pub exceptions_parameter: String,
    /// The gate decisions' path, for the role's `ssm:GetParameter`.
    pub decision_prefix: String,
}

/// The golden-image refresh Automation (`templates/components/ami-refresh.py`), when an image of
/// `ami_pipeline` asks for `refresh`: a task of each ring window of the image's baseline.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshDocumentPlan {
    /// Document name.
    pub name: String,
    /// Its step: `leave-alone.py` (the gate) and `ami-refresh.py`.
    pub script: String,
    /// The gate decisions' path, for the role's `ssm:GetParameter`.
    pub decision_prefix: String,
    /// The images whose groups it may refresh (the role's tag condition).
    pub images: Vec<String>,
}

pub(super) fn refresh_document(p: &Policy) -> Option<RefreshDocumentPlan> {
    let images: Vec<String> = p
        .ami_pipeline
        .as_ref()?
        .images
        .iter()
        .filter(|i| i.refresh.is_some())
        .map(|i| i.name.clone())
        .collect();
    (!images.is_empty()).then(|| RefreshDocumentPlan {
        name: format!("{}-ami-refresh", p.name),
        script: format!(
            "{LEAVE_ALONE}{}",
            include_str!("../../../templates/components/ami-refresh.py")
        ),
        decision_prefix: decision_prefix(p),
        images,
    })
}

/// The AWS name of the role a multi-account Automation's central account runs as (AWS's
/// templates and the member execution roles' trust use it).
pub const AUTOMATION_ADMIN_ROLE: &str = "AWS-SystemsManager-AutomationAdministrationRole";

/// What `patchplane patch-now` runs through (ADR 028): the central runbook, shared with the
/// member accounts it targets, whose one step starts each member's own `<policy>-install-node`
/// for one node; the member execution role; the central administration role.
#[derive(Debug, Clone, Serialize)]
pub struct PatchNowPlan {
    /// The central runbook (`<policy>-patch-now`).
    pub document: String,
    /// The member runbook it starts per node (`<policy>-install-node`).
    pub install_document: String,
    /// The member role children run as (`TargetLocations[].ExecutionRoleName`).
    pub execution_role: String,
    /// The install role's name in a member region, before the region: `<policy>-install-`.
    pub install_role_prefix: String,
    /// The central account.
    pub central_account: String,
    /// Whether the central stack creates the administration role.
    pub create_admin_role: bool,
    /// Its name.
    pub admin_role: &'static str,
    /// The evidence bucket the per-node results go to.
    pub result_bucket: String,
    /// Their prefix.
    pub result_prefix: &'static str,
}

/// The patch-now plan, when the policy has `patch_now:`.
pub fn patch_now(p: &Policy) -> Option<PatchNowPlan> {
    let n = p.patch_now.as_ref()?;
    Some(PatchNowPlan {
        document: format!("{}-patch-now", p.name),
        install_document: format!("{}-install-node", p.name),
        execution_role: format!("{}-patch-now", p.name),
        install_role_prefix: format!("{}-install-", p.name),
        central_account: p.central.account.clone(),
        create_admin_role: n.create_admin_role,
        admin_role: AUTOMATION_ADMIN_ROLE,
        result_bucket: p.central.evidence_bucket.clone(),
        result_prefix: PATCH_NOW_RESULTS,
    })
}
