//! The ring gate (issue #14, amended by #28): its decision logic, the Python step rendered into the
//! gated-install Automation document, run with the project's Python against maintenance-window
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
    let script = t["Resources"]["GatedInstallDocument"]["Properties"]["Content"]["mainSteps"][0]["inputs"]["Script"]
        .as_str()
        .expect("the gate step's script, as rendered");
    let log = python_tests("test_ring_gate.py", script);
    assert!(log.contains("Ran 10 tests"), "{log}");
}

#[test]
fn the_gated_install_document_checks_then_installs() {
    let t = template();
    let r = &t["Resources"];
    let doc = &r["GatedInstallDocument"]["Properties"];
    assert_eq!(doc["DocumentType"], "Automation");
    let c = &doc["Content"];
    assert_eq!(c["schemaVersion"], "0.3");
    assert_eq!(c["assumeRole"], "{{ AutomationAssumeRole }}");
    let steps = c["mainSteps"].as_sequence().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["CheckRingGate", "GateDecision", "InstallPatches", "RingHeld"]);
    let branch = &steps[1]["inputs"]["Choices"][0];
    assert_eq!(
        (
            branch["Variable"].as_str(),
            branch["StringEquals"].as_str(),
            branch["NextStep"].as_str()
        ),
        (Some("{{ CheckRingGate.Decision }}"), Some("HELD"), Some("RingHeld")),
        "a held gate skips the install"
    );
    assert_eq!(steps[1]["inputs"]["Default"], "InstallPatches");
    assert_eq!(steps[2]["isEnd"], true, "the install never falls through to RingHeld");
    assert_eq!(
        (steps[0]["action"].as_str(), steps[0]["onFailure"].as_str()),
        (Some("aws:executeScript"), Some("Abort"))
    );
    assert_eq!(steps[0]["inputs"]["Runtime"], "python3.11");
    let outputs: Vec<&str> = steps[0]["outputs"]
        .as_sequence()
        .expect("outputs")
        .iter()
        .filter_map(|o| o["Name"].as_str())
        .collect();
    assert_eq!(outputs, ["Decision", "Reason"]);
    assert_eq!(steps[2]["action"], "aws:runCommand");
    let install = &steps[2]["inputs"];
    assert_eq!(install["DocumentName"], "AWS-RunPatchBaseline");
    assert_eq!(install["Parameters"]["Operation"][0], "Install");
    assert_eq!(install["Targets"][0]["Values"][0], "{{ PatchGroup }}");
    // Every parameter a step uses is declared, and every declared one is used or passed.
    let declared: Vec<&str> = c["parameters"]
        .as_mapping()
        .expect("params")
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    let text = serde_yaml::to_string(&c["mainSteps"]).expect("steps");
    for p in &declared {
        assert!(
            *p == "AutomationAssumeRole" || text.contains(&format!("{{{{ {p} }}}}")),
            "{p} unused"
        );
    }
    // `main` and `late` are gated: each baseline's task judges its OWN earlier ring's window
    // (ADR 016, amended), never another OS's groups.
    let main = &r["InstallAL2023MainTask"]["Properties"];
    assert_eq!(main["TaskType"], "AUTOMATION");
    let params = &main["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]["Parameters"];
    assert_eq!(params["PreviousWindow"][0]["Ref"], "InstallAL2023EarlyWindow");
    assert_eq!(params["PreviousRing"][0], "early");
    for (task, window) in [
        ("InstallWin2022MainTask", "InstallWin2022EarlyWindow"),
        ("InstallUbuntu22MainTask", "InstallUbuntu22EarlyWindow"),
    ] {
        let p =
            &r[task]["Properties"]["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]["Parameters"];
        assert_eq!(p["PreviousWindow"][0]["Ref"], window, "{task}");
        assert!(
            r[window]["Type"] == "AWS::SSM::MaintenanceWindow",
            "{window} is a window of this stack"
        );
    }
    assert_eq!(params["GateParameter"][0], "/patchplane/acme/gates/main");
    assert_eq!(params["MaxFailedPercent"][0], "5");
    for p in params.as_mapping().expect("params").keys().filter_map(|k| k.as_str()) {
        assert!(
            declared.contains(&p),
            "the task passes {p}, which the document does not declare"
        );
    }
    assert_eq!(
        r["InstallAL2023EarlyTask"]["Properties"]["TaskType"], "RUN_COMMAND",
        "the first ring has no gate"
    );
    // A team window is gated after its baseline's first ring, at the strictest ring threshold.
    let team = &r["InstallAL2023TeamPaymentsSatnightTask"]["Properties"];
    assert_eq!(team["TaskArn"]["Ref"], "GatedInstallDocument");
    let p = &team["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]["Parameters"];
    assert_eq!(p["PreviousWindow"][0]["Ref"], "InstallAL2023EarlyWindow");
    assert_eq!(p["PreviousRing"][0], "early");
    assert_eq!(p["MaxFailedPercent"][0], "5");
}
