//! Stopped instances (issue #14): the start-patch-stop Automation document as rendered for the
//! sunday example (`install.stopped_instances: start_patch_stop`), parsed and checked step by
//! step, and its instance-listing step run with the project's Python against a fake EC2 fleet. The
//! bookkeeping that matters: only instances found stopped are started, every path after a start
//! stops exactly those again, and a running instance is never touched. moto does not run
//! Automation documents, so no moto test claims to.

use patchplane_e2e::{python_tests, rendered};
use serde_yaml::Value;

fn template() -> Value {
    serde_yaml::from_str(&rendered(
        "examples/sunday-after-patch-tuesday.yaml",
        "patching/template.yaml",
    ))
    .expect("yaml")
}

#[test]
fn only_instances_found_stopped_are_started_and_every_path_stops_them_again() {
    let t = template();
    let r = &t["Resources"];
    let c = &r["StartPatchStopDocument"]["Properties"]["Content"];
    assert_eq!(c["schemaVersion"], "0.3");
    let steps = c["mainSteps"].as_sequence().expect("steps");
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    // The sunday example gates no ring: the document carries no gate step (nor its script).
    assert_eq!(
        names,
        [
            "FindStoppedInstances",
            "AnyStopped",
            "StartInstances",
            "WaitUntilManaged",
            "PatchStartedInstances",
            "StopInstances",
            "NothingStopped"
        ]
    );
    let actions: Vec<&str> = steps.iter().filter_map(|s| s["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "aws:executeScript",
            "aws:branch",
            "aws:changeInstanceState",
            "aws:waitForAwsResourceProperty",
            "aws:runCommand",
            "aws:changeInstanceState",
            "aws:sleep"
        ]
    );
    let ids = "{{ FindStoppedInstances.InstanceIds }}";
    for (name, state) in [("StartInstances", "running"), ("StopInstances", "stopped")] {
        assert_eq!(
            step(name)["inputs"]["InstanceIds"],
            ids,
            "{name} acts on the listed instances only"
        );
        assert_eq!(step(name)["inputs"]["DesiredState"], state);
    }
    for after_start in ["StartInstances", "WaitUntilManaged", "PatchStartedInstances"] {
        assert_eq!(
            step(after_start)["onFailure"],
            "step:StopInstances",
            "{after_start} failing still stops them"
        );
    }
    assert_eq!(step("PatchStartedInstances")["inputs"]["InstanceIds"], ids);
    assert_eq!(step("StopInstances")["isEnd"], true);
    assert_eq!(
        step("AnyStopped")["inputs"]["Default"],
        "NothingStopped",
        "nothing stopped: nothing started"
    );
    assert_eq!(step("FindStoppedInstances")["outputs"][0]["Type"], "StringList");
    // One start-patch-stop task per install window, after the install.
    let tasks: Vec<&Value> = r
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(k, _)| k.as_str().is_some_and(|k| k.ends_with("StoppedTask")))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        tasks.len(),
        4,
        "3 baselines x 1 ring, and the Frankfurt site's Windows window"
    );
    assert!(tasks.iter().all(|t| t["Properties"]["Priority"] == 2));
    // Its role starts and stops only instances that carry the patch group tag.
    let policy = &r["StartPatchStopRolePolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let ec2 = policy
        .as_sequence()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == "StartAndStopOnlyPatchGroupInstances")
        .expect("statement");
    assert_eq!(ec2["Condition"]["Null"]["aws:ResourceTag/PatchGroup"], "false");

    // The listing step against a fake fleet.
    let script = step("FindStoppedInstances")["inputs"]["Script"]
        .as_str()
        .expect("script");
    let log = python_tests("test_stopped_instances.py", script);
    assert!(log.contains("Ran 4 tests"), "{log}");
}

/// With ring gates, the start-patch-stop run sits behind the same gate as the window's install:
/// the acme example with `install.stopped_instances` turned on, rendered in memory.
#[test]
fn behind_a_gate_a_held_gate_starts_nothing() {
    let text = std::fs::read_to_string(patchplane_e2e::root().join("examples/org-policy.yaml")).expect("example");
    let text = text.replace(
        "install:\n  reboot: RebootIfNeeded\n",
        "install:\n  stopped_instances: start_patch_stop\n  reboot: RebootIfNeeded\n",
    );
    let loaded = patchplane::load_str(&text, std::path::Path::new("org-policy.yaml")).expect("loads");
    let rendered = patchplane::render::render(&loaded.plan).expect("renders");
    let file = rendered
        .files
        .iter()
        .find(|f| f.path.ends_with("patching/template.yaml"))
        .expect("patching");
    let t: Value = serde_yaml::from_str(&file.contents).expect("yaml");
    let r = &t["Resources"];
    let params = |task: &str| {
        r[task]["Properties"]["TaskInvocationParameters"]["MaintenanceWindowAutomationParameters"]["Parameters"].clone()
    };
    // It reads the decision the window's own gate task records for the run (the listing step
    // returns nothing when that decision is HELD or missing: test_stopped_instances.py).
    let main = params("InstallAL2023MainStoppedTask");
    assert_eq!(
        main["GateDecisionParameter"][0],
        params("InstallAL2023MainGateTask")["DecisionParameter"][0],
        "the install's own gate"
    );
    assert_eq!(main["WindowExecutionId"][0], "{{WINDOW_EXECUTION_ID}}");
    assert!(
        r["InstallAL2023MainStoppedTask"]["Properties"]["Priority"].as_i64()
            > r["InstallAL2023MainGateTask"]["Properties"]["Priority"].as_i64(),
        "after the gate has decided"
    );
    let early = params("InstallAL2023EarlyStoppedTask");
    assert!(early["GateDecisionParameter"].is_null(), "the first ring is ungated");
}
