//! The ring gate (issue #14, amended by #28) and the per-node install every install window runs
//! (ADR 026): the gate's decision logic, the Python step rendered into the ring-gate Automation
//! document, run with the project's Python against maintenance-window
//! histories built from the shapes AWS documents (`tests/fixtures/aws/ssm/`, each file citing its
//! page: DescribeMaintenanceWindowExecutions, ...ExecutionTasks, ...ExecutionTaskInvocations,
//! GetAutomationExecution, ListCommandInvocations, GetMaintenanceWindow) through a fake SSM client;
//! and the document as rendered for the example policy, parsed and checked step by step. moto does
//! not run Automation documents or `aws:executeScript`, nor record window executions, so no moto
//! test claims to.

use patchplane_e2e::{python_tests, rendered};
use serde_yaml::Value;

/// The example's rendered patching template.
fn template() -> Value {
    serde_yaml::from_str(&rendered("examples/org-policy.yaml", "patching/template.yaml")).expect("yaml")
}

#[test]
fn the_gate_decides_held_open_and_opened_on_purpose() {
    let t = template();
    let script = t["Resources"]["RingGateDocument"]["Properties"]["Content"]["mainSteps"][0]["inputs"]["Script"]
        .as_str()
        .expect("the gate step's script, as rendered");
    let log = python_tests("test_ring_gate.py", script);
    assert!(log.contains("Ran 11 tests"), "{log}");
}

/// Every parameter a document's steps use is declared, and every declared one is used.
fn declared_and_used(c: &Value) -> Vec<String> {
    let declared: Vec<String> = c["parameters"]
        .as_mapping()
        .expect("params")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    let text = serde_yaml::to_string(&c["mainSteps"]).expect("steps");
    for p in &declared {
        assert!(
            p == "AutomationAssumeRole" || text.contains(&format!("{{{{ {p} }}}}")),
            "{p} unused"
        );
    }
    declared
}

fn task_params(t: &Value) -> &Value {
    &t["Properties"]["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]["Parameters"]
}

#[test]
fn the_ring_gate_document_judges_and_records_its_decision() {
    let t = template();
    let r = &t["Resources"];
    let doc = &r["RingGateDocument"]["Properties"];
    assert_eq!(doc["DocumentType"], "Automation");
    let c = &doc["Content"];
    assert_eq!(c["schemaVersion"], "0.3");
    assert_eq!(c["assumeRole"], "{{ AutomationAssumeRole }}");
    let steps = c["mainSteps"].as_sequence().expect("steps");
    assert_eq!(
        steps.len(),
        1,
        "the gate only decides; each node's install reads the decision"
    );
    assert_eq!(
        (
            steps[0]["name"].as_str(),
            steps[0]["action"].as_str(),
            steps[0]["onFailure"].as_str()
        ),
        (Some("CheckRingGate"), Some("aws:executeScript"), Some("Abort"))
    );
    let declared = declared_and_used(c);
    // `main` and `late` are gated: each baseline's gate judges its OWN earlier ring's window
    // (ADR 016, amended), never another OS's groups, before (priority 0) the window's installs.
    let gate = &r["InstallAL2023MainGateTask"];
    assert_eq!(gate["Properties"]["TaskType"], "AUTOMATION");
    assert_eq!(gate["Properties"]["TaskArn"]["Ref"], "RingGateDocument");
    assert_eq!(gate["Properties"]["Priority"], 0);
    assert!(
        gate["Properties"]["Targets"].is_null(),
        "the gate runs once per window run, not per node"
    );
    let params = task_params(gate);
    assert_eq!(params["PreviousWindow"][0]["Ref"], "InstallAL2023EarlyWindow");
    assert_eq!(params["PreviousRing"][0], "early");
    assert_eq!(params["WindowExecutionId"][0], "{{WINDOW_EXECUTION_ID}}");
    assert_eq!(
        params["DecisionParameter"][0],
        "/patchplane/acme/gate-decisions/AL2023-main"
    );
    for (task, window) in [
        ("InstallWin2022MainGateTask", "InstallWin2022EarlyWindow"),
        ("InstallUbuntu22MainGateTask", "InstallUbuntu22EarlyWindow"),
    ] {
        assert_eq!(task_params(&r[task])["PreviousWindow"][0]["Ref"], *window, "{task}");
        assert!(
            r[window]["Type"] == "AWS::SSM::MaintenanceWindow",
            "{window} is a window of this stack"
        );
    }
    assert_eq!(params["GateParameter"][0], "/patchplane/acme/gates/main");
    assert_eq!(params["MaxFailedPercent"][0], "5");
    for p in params.as_mapping().expect("params").keys().filter_map(|k| k.as_str()) {
        assert!(
            declared.iter().any(|d| d == p),
            "the task passes {p}, which the document does not declare"
        );
    }
    assert!(r["InstallAL2023EarlyGateTask"].is_null(), "the first ring has no gate");
    // A team window is gated after its baseline's first ring, at the strictest ring threshold.
    let p = task_params(&r["InstallAL2023TeamPaymentsSatnightGateTask"]);
    assert_eq!(p["PreviousWindow"][0]["Ref"], "InstallAL2023EarlyWindow");
    assert_eq!(p["PreviousRing"][0], "early");
    assert_eq!(p["MaxFailedPercent"][0], "5");
}

#[test]
fn every_install_window_runs_the_per_node_install_behind_its_gate() {
    let t = template();
    let r = &t["Resources"];
    let c = &r["InstallNodeDocument"]["Properties"]["Content"];
    let steps = c["mainSteps"].as_sequence().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["CheckNode", "NodeDecision", "InstallPatches", "NodeLeftAlone"]);
    let branch = &steps[1]["inputs"]["Choices"][0];
    assert_eq!(
        (
            branch["Variable"].as_str(),
            branch["StringEquals"].as_str(),
            branch["NextStep"].as_str()
        ),
        (Some("{{ CheckNode.Action }}"), Some("INSTALL"), Some("InstallPatches")),
        "only an explicit INSTALL installs"
    );
    assert_eq!(
        steps[1]["inputs"]["Default"], "NodeLeftAlone",
        "anything else leaves the node alone"
    );
    assert_eq!(steps[0]["onFailure"], "Abort", "a check that fails installs nothing");
    assert_eq!(steps[2]["isEnd"], true);
    let install = &steps[2]["inputs"];
    assert_eq!(install["DocumentName"], "AWS-RunPatchBaseline");
    assert_eq!(
        install["InstanceIds"][0], "{{ InstanceId }}",
        "one node, never a tag target"
    );
    assert!(install["Targets"].is_null());
    assert_eq!(install["Parameters"]["Operation"][0], "Install");
    let declared = declared_and_used(c);
    assert_eq!(
        c["parameters"]["ExceptionsParameter"]["default"], "/patchplane/acme/exceptions",
        "it reads the list this stack publishes"
    );
    assert_eq!(
        r["ExceptionsParameter"]["Properties"]["Name"],
        "/patchplane/acme/exceptions"
    );
    // Every install window (ring, site, team) runs it per target node; a gated one reads the
    // decision its gate task records.
    let mut installs = 0;
    for (id, res) in r.as_mapping().expect("resources") {
        let id = id.as_str().expect("id");
        if res["Type"] != "AWS::SSM::MaintenanceWindowTask" || !id.ends_with("Task") {
            continue;
        }
        let p = &res["Properties"];
        if p["TaskArn"] == "AWS-RunPatchBaseline" || p["TaskArn"] == "AWS-RunPatchBaselineWithHooks" {
            let op =
                &p["TaskInvocationParameters"]["MaintenanceWindowRunCommandParameters"]["Parameters"]["Operation"][0];
            assert_eq!(op, "Scan", "{id} runs a patch document directly: only a scan may");
            continue;
        }
        if p["TaskArn"]["Ref"] != "InstallNodeDocument" {
            continue;
        }
        installs += 1;
        assert_eq!(p["TaskType"], "AUTOMATION", "{id}");
        assert_eq!(p["Targets"][0]["Key"], "WindowTargetIds", "{id}");
        let params = task_params(res);
        assert_eq!(params["InstanceId"][0], "{{RESOURCE_ID}}", "{id}");
        for k in params.as_mapping().expect("params").keys().filter_map(|k| k.as_str()) {
            assert!(declared.iter().any(|d| d == k), "{id} passes undeclared {k}");
        }
        let gate_id = format!("{}GateTask", id.trim_end_matches("Task"));
        match r[gate_id.as_str()].as_mapping() {
            Some(_) => assert_eq!(
                params["GateDecisionParameter"][0],
                task_params(&r[gate_id.as_str()])["DecisionParameter"][0],
                "{id} reads what its own gate records"
            ),
            None => assert!(params["GateDecisionParameter"].is_null(), "{id} has no gate"),
        }
    }
    // acme: 3 baselines x 3 rings, 1 team window, and the Frankfurt site's 3 Windows ring windows.
    assert_eq!(installs, 13);
}
