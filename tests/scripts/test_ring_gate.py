"""The ring gate's script (templates/components/ring-gate.py, as rendered into the Automation
document) against maintenance-window histories built from the shapes AWS documents.

Every record the fake SSM client returns is a deep copy of a documented example in
tests/fixtures/aws/ssm/ (each file names its page in `_source`), with only ids, statuses and times
changed to play a night: the structure, field names and value formats are AWS's. Timestamps are
turned into datetimes, as boto3 returns them. Run by tests/tests/ring_gate.rs with the project's
Python."""
import copy
import importlib.util
import json
import pathlib
import sys
import unittest
from datetime import datetime, timedelta, timezone

spec = importlib.util.spec_from_file_location("gate", sys.argv.pop(1))
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "aws" / "ssm"


def documented(name):
    return json.loads((FIXTURES / (name + ".json")).read_text())


# One documented record of each kind (the page of each is in its file's `_source`).
EXECUTION = documented("DescribeMaintenanceWindowExecutions")["response"]["WindowExecutions"][2]  # FAILED, with StatusDetails
TASK = documented("DescribeMaintenanceWindowExecutionTasks")["response"]["WindowExecutionTaskIdentities"][0]
INVOCATION = documented("DescribeMaintenanceWindowExecutionTaskInvocations")["more_examples"][0]["response"][
    "WindowExecutionTaskInvocationIdentities"][0]  # has ExecutionId and TaskType
AUTOMATION = documented("GetAutomationExecution")["response"]["AutomationExecution"]
COMMAND_INVOCATION = documented("ListCommandInvocations")["response"]["CommandInvocations"][0]
WINDOW = documented("GetMaintenanceWindow")["response"]
PUT_PARAMETER = documented("PutParameter")["response"]

NOW = datetime(2026, 12, 9, 7, 0, tzinfo=timezone.utc)
TIME_KEYS = {"StartTime", "EndTime", "CreatedDate", "ModifiedDate", "ExecutionStartTime", "ExecutionEndTime",
             "RequestedDateTime"}


def as_boto3(value):
    """CLI-printed timestamps (epoch seconds or ISO 8601) as the datetimes boto3 returns."""
    if isinstance(value, dict):
        return {k: (to_datetime(v) if k in TIME_KEYS else as_boto3(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [as_boto3(v) for v in value]
    return value


def to_datetime(v):
    if isinstance(v, (int, float)):
        return datetime.fromtimestamp(v, timezone.utc)
    return datetime.fromisoformat(v)


def at(hours_before_now):
    return (NOW - timedelta(hours=hours_before_now)).isoformat()


class NotFound(Exception):
    pass


class FakeSsm:
    """The maintenance-window and Automation reads the gate makes, over a history, paginated by 2
    (every list call of these APIs is paginated with NextToken)."""

    class exceptions:
        ParameterNotFound = NotFound

    def __init__(self, windows, parameter=None):
        # windows: window id -> {"created": iso, "runs": [run]}, run = (execution, tasks), task =
        # (task identity, [invocation]); automations: id -> execution; commands: id -> [invocation]
        self.windows, self.parameter = windows, parameter
        self.automations, self.commands, self.calls = {}, {}, []

    def _page(self, items, key, NextToken=None):
        start = int(NextToken or 0)
        out = {key: as_boto3(items[start:start + 2])}
        if start + 2 < len(items):
            out["NextToken"] = str(start + 2)
        return out

    def describe_maintenance_window_executions(self, WindowId, Filters=(), NextToken=None):
        self.calls.append(("executions", WindowId, Filters))
        after = [f["Values"][0] for f in Filters if f["Key"] == "ExecutedAfter"]
        runs = [e for e, _ in self.windows.get(WindowId, {}).get("runs", [])
                if not after or to_datetime(e["StartTime"]) >= to_datetime(after[0].replace("Z", "+00:00"))]
        return self._page(runs, "WindowExecutions", NextToken)

    def _run(self, execution_id):
        for w in self.windows.values():
            for e, tasks in w.get("runs", []):
                if e["WindowExecutionId"] == execution_id:
                    return tasks
        raise KeyError(execution_id)

    def describe_maintenance_window_execution_tasks(self, WindowExecutionId, NextToken=None):
        return self._page([t for t, _ in self._run(WindowExecutionId)], "WindowExecutionTaskIdentities", NextToken)

    def describe_maintenance_window_execution_task_invocations(self, WindowExecutionId, TaskId, NextToken=None):
        invs = [i for t, invs in self._run(WindowExecutionId) if t["TaskExecutionId"] == TaskId for i in invs]
        return self._page(invs, "WindowExecutionTaskInvocationIdentities", NextToken)

    def get_automation_execution(self, AutomationExecutionId):
        return {"AutomationExecution": as_boto3(self.automations[AutomationExecutionId])}

    def list_command_invocations(self, CommandId, NextToken=None):
        return self._page(self.commands[CommandId], "CommandInvocations", NextToken)

    def get_maintenance_window(self, WindowId):
        w = copy.deepcopy(WINDOW)
        w["WindowId"] = WindowId
        w["CreatedDate"] = self.windows[WindowId]["created"]
        return as_boto3(w)

    def get_parameter(self, Name):
        if self.parameter is None:
            raise NotFound(Name)
        return {"Parameter": {"Value": self.parameter}}

    def put_parameter(self, Name, Value, Type, Overwrite):
        self.calls.append(("put_parameter", Name, Value, Type, Overwrite))
        return copy.deepcopy(PUT_PARAMETER)


def execution(window, eid, hours_ago, status="SUCCESS"):
    e = copy.deepcopy(EXECUTION)
    e.update(WindowId=window, WindowExecutionId=eid, Status=status, StartTime=at(hours_ago),
             EndTime=at(hours_ago - 1))
    if status == "SUCCESS":
        e.pop("StatusDetails", None)
    return e


def run_command_task(eid, tid, statuses):
    """A Run Command task of a window run: one invocation per target node (the documented shape:
    `Parameters` a JSON string naming that node in `instanceIds`). Install windows ran this way
    before ADR 026, so an earlier ring's last run may still be one the month a policy upgrades."""
    t = copy.deepcopy(TASK)
    t.update(WindowExecutionId=eid, TaskExecutionId=tid, TaskArn="AWS-RunPatchBaseline", Status="SUCCESS")
    invs = []
    for n, status in enumerate(statuses):
        i = copy.deepcopy(INVOCATION)
        params = json.loads(i["Parameters"])
        params["documentName"] = "AWS-RunPatchBaseline"
        params["instanceIds"] = ["i-%017x" % (0xabc0000 + n)]
        params["parameters"] = {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}
        i.update(WindowExecutionId=eid, TaskExecutionId=tid, InvocationId="%s-%d" % (tid, n),
                 ExecutionId="cmd-%s-%d" % (tid, n), Parameters=json.dumps(params), Status=status,
                 StatusDetails={"SUCCESS": "Success", "FAILED": "Failed", "TIMED_OUT": "Timed Out"}.get(status, status))
        invs.append(i)
    return (t, invs)


def node_install_task(eid, tid, statuses):
    """An install window's per-node install task (ADR 026): an AUTOMATION task with targets makes
    one invocation per target node, each its own Automation (`ExecutionId`), naming the window
    target it ran for (`WindowTargetId`, a field of MaintenanceWindowExecutionTaskInvocationIdentity
    in the API reference: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_MaintenanceWindowExecutionTaskInvocationIdentity.html).
    A node an exception covered, or whose gate held, ends its Automation in success."""
    t = copy.deepcopy(TASK)
    t.update(WindowExecutionId=eid, TaskExecutionId=tid, TaskArn="acme-install-node", TaskType="AUTOMATION")
    invs = []
    for n, status in enumerate(statuses):
        i = copy.deepcopy(INVOCATION)
        i.update(WindowExecutionId=eid, TaskExecutionId=tid, InvocationId="%s-%d" % (tid, n),
                 ExecutionId="auto-%s-%d" % (tid, n), TaskType="AUTOMATION", Status=status,
                 WindowTargetId="e32eecb2-646c-4f4b-8ed1-205fbEXAMPLE",
                 Parameters=json.dumps({"InstanceId": ["i-%017x" % (0xabc0000 + n)]}))
        invs.append(i)
    return (t, invs)


def targetless_task(ssm, eid, tid, automation_id, steps, status="Success", arn="acme-ring-gate"):
    """A task without targets (the ring gate, start-patch-stop): one invocation, one Automation,
    whose steps are copies of the documented step execution with the given names and outputs."""
    t = copy.deepcopy(TASK)
    t.update(WindowExecutionId=eid, TaskExecutionId=tid, TaskArn=arn, TaskType="AUTOMATION")
    i = copy.deepcopy(INVOCATION)
    i.update(WindowExecutionId=eid, TaskExecutionId=tid, InvocationId=tid + "-0", ExecutionId=automation_id,
             TaskType="AUTOMATION", Parameters="{}")
    a = copy.deepcopy(AUTOMATION)
    step = a["StepExecutions"][0]
    a["StepExecutions"] = [dict(copy.deepcopy(step), StepName=name, Outputs=outputs) for name, outputs in steps]
    a.update(AutomationExecutionId=automation_id, DocumentName=arn, AutomationExecutionStatus=status)
    ssm.automations[automation_id] = a
    return (t, [i])


def gate_task(ssm, eid, automation_id, decision, status="Success"):
    """A gated window's priority-0 gate: its one step's decision (None: it recorded none)."""
    outputs = {"Decision": [decision], "Reason": ["0 of 0 nodes"]} if decision else {}
    return targetless_task(ssm, eid, "gate-" + eid, automation_id, [("CheckRingGate", outputs)], status)


def stopped_task(ssm, eid, automation_id, command_statuses=None, status="Success"):
    """Start-patch-stop: its install step's command, with one invocation per started instance."""
    steps = [("FindStoppedInstances", {"Count": [str(len(command_statuses or []))]})]
    if command_statuses is not None:
        command_id = "cmd-" + automation_id
        steps.append(("PatchStartedInstances", {"CommandId": [command_id], "Status": ["Success"]}))
        invs = []
        for n, st in enumerate(command_statuses):
            ci = copy.deepcopy(COMMAND_INVOCATION)
            ci.update(CommandId=command_id, InstanceId="i-%017x" % (0xdef0000 + n), DocumentName="AWS-RunPatchBaseline",
                      Status=st, StatusDetails=st)
            invs.append(ci)
        ssm.commands[command_id] = invs
    return targetless_task(ssm, eid, "stopped-" + eid, automation_id, steps, status, arn="acme-start-patch-stop")


def ok(n):
    return ["SUCCESS"] * n


class Gate(unittest.TestCase):
    def test_only_the_failed_os_holds_its_next_ring(self):
        """A night where Amazon Linux's first ring failed on 30% of its nodes and Windows' succeeded:
        the gate of each next ring reads its own baseline's first ring, so only AL2023-main holds."""
        ssm = FakeSsm({
            "mw-0al2023early0001": {"created": at(24 * 90), "runs": [
                (execution("mw-0al2023early0001", "al-run", 20), [node_install_task("al-run", "al-task", ok(7) + ["FAILED"] * 2 + ["TIMED_OUT"])]),
            ]},
            "mw-0win2022early001": {"created": at(24 * 90), "runs": [
                (execution("mw-0win2022early001", "win-run", 19), [node_install_task("win-run", "win-task", ok(10))]),
            ]},
        })
        al = gate.judge(ssm, "mw-0al2023early0001", 5.0, None, NOW, "ring early")
        win = gate.judge(ssm, "mw-0win2022early001", 5.0, None, NOW, "ring early")
        self.assertEqual(al[0], "HELD", al)
        self.assertIn("3 of 10 nodes (30.0%) failed in ring early's last install", al[1])
        self.assertEqual(win, ("OPEN", "0 of 10 nodes (0.0%) failed in ring early's last install; the gate allows 5.0%"))

    def test_the_last_finished_run_counts_not_an_older_one_nor_one_in_progress(self):
        ssm = FakeSsm({"mw-0al2023early0001": {"created": at(24 * 90), "runs": [
            (execution("mw-0al2023early0001", "old", 24 * 28, "FAILED"), [run_command_task("old", "t-old", ["FAILED"] * 10)]),
            (execution("mw-0al2023early0001", "last", 20), [run_command_task("last", "t-last", ok(9) + ["FAILED"])]),
            (execution("mw-0al2023early0001", "now", 1, "IN_PROGRESS"), [run_command_task("now", "t-now", ["FAILED"] * 10)]),
        ]}})
        decision, reason = gate.judge(ssm, "mw-0al2023early0001", 5.0, None, NOW)
        self.assertEqual(decision, "HELD")
        self.assertIn("1 of 10 nodes (10.0%)", reason)
        decision, _ = gate.judge(ssm, "mw-0al2023early0001", 10.0, None, NOW)
        self.assertEqual(decision, "OPEN", "10% failed is within a 10% gate")
        # Only runs of the look-back are asked for.
        self.assertEqual(ssm.calls[0][2], [{"Key": "ExecutedAfter", "Values": ["2026-10-08T07:00:00Z"]}])

    def test_an_earlier_ring_held_by_its_own_gate_holds_this_one(self):
        """Its nodes' installs all ended in success (each left its node alone), but the gate held."""
        ssm = FakeSsm({"mw-0al2023main00001": {"created": at(24 * 90), "runs": []}})
        ssm.windows["mw-0al2023main00001"]["runs"].append(
            (execution("mw-0al2023main00001", "main-run", 20),
             [gate_task(ssm, "main-run", "auto-1", "HELD"), node_install_task("main-run", "install", ok(12))]))
        decision, reason = gate.judge(ssm, "mw-0al2023main00001", 5.0, None, NOW, "ring main")
        self.assertEqual(decision, "HELD")
        self.assertIn("ring main's last run (main-run) installed nothing: its own gate held it", reason)

    def test_a_gated_earlier_ring_is_judged_by_its_nodes_installs(self):
        ssm = FakeSsm({"mw-0al2023main00001": {"created": at(24 * 90), "runs": []}})
        ssm.windows["mw-0al2023main00001"]["runs"].append(
            (execution("mw-0al2023main00001", "main-run", 20),
             [gate_task(ssm, "main-run", "auto-2", "OPEN"),
              node_install_task("main-run", "install", ok(18) + ["FAILED", "TIMED_OUT"])]))
        decision, reason = gate.judge(ssm, "mw-0al2023main00001", 5.0, None, NOW)
        self.assertEqual(decision, "HELD")
        self.assertIn("2 of 20 nodes (10.0%)", reason)
        # The per-node results are read from the window's records alone: no Automation per node.
        self.assertEqual(list(ssm.automations), ["auto-2"])

    def test_a_gate_that_recorded_no_decision_holds_the_next_ring(self):
        ssm = FakeSsm({"mw-0al2023main00001": {"created": at(24 * 90), "runs": []}})
        ssm.windows["mw-0al2023main00001"]["runs"].append(
            (execution("mw-0al2023main00001", "main-run", 20, "FAILED"),
             [gate_task(ssm, "main-run", "auto-6", None, status="Failed"), node_install_task("main-run", "install", ok(5))]))
        decision, reason = gate.judge(ssm, "mw-0al2023main00001", 5.0, None, NOW)
        self.assertEqual(decision, "HELD")
        self.assertIn("its gate recorded no decision (automation Failed)", reason)

    def test_a_start_patch_stop_run_with_nothing_stopped_adds_nothing_but_its_failed_installs_count(self):
        ssm = FakeSsm({"mw-0al2023early0001": {"created": at(24 * 90), "runs": []}})
        ssm.windows["mw-0al2023early0001"]["runs"].append(
            (execution("mw-0al2023early0001", "run", 20),
             [node_install_task("run", "install", ok(10)), stopped_task(ssm, "run", "auto-4")]))
        self.assertEqual(gate.judge(ssm, "mw-0al2023early0001", 5.0, None, NOW),
                         ("OPEN", "0 of 10 nodes (0.0%) failed in the previous ring's last install; the gate allows 5.0%"))
        ssm.windows["mw-0al2023early0001"]["runs"] = [
            (execution("mw-0al2023early0001", "run2", 10),
             [node_install_task("run2", "install", ok(10)), stopped_task(ssm, "run2", "auto-5", ["Success", "Failed"])])]
        decision, reason = gate.judge(ssm, "mw-0al2023early0001", 5.0, None, NOW)
        self.assertEqual(decision, "HELD")
        self.assertIn("1 of 12 nodes", reason)
        ssm.windows["mw-0al2023early0001"]["runs"] = [
            (execution("mw-0al2023early0001", "run3", 10, "FAILED"),
             [stopped_task(ssm, "run3", "auto-7", None, status="Failed")])]
        decision, reason = gate.judge(ssm, "mw-0al2023early0001", 5.0, None, NOW)
        self.assertEqual(decision, "HELD")
        self.assertIn("its install never ran (automation Failed)", reason)

    def test_never_ran_opens_only_while_the_window_is_new(self):
        ssm = FakeSsm({"mw-new": {"created": at(24 * 10), "runs": []}, "mw-stale": {"created": at(24 * 200), "runs": []}})
        self.assertEqual(gate.judge(ssm, "mw-new", 5.0, None, NOW)[0], "OPEN")
        decision, reason = gate.judge(ssm, "mw-stale", 5.0, None, NOW, "ring early")
        self.assertEqual(decision, "HELD")
        self.assertIn("ring early has not run in 62 days", reason)

    def test_a_run_that_touched_no_node_opens(self):
        ssm = FakeSsm({"mw-empty": {"created": at(24 * 90), "runs": [
            (execution("mw-empty", "empty-run", 20), [run_command_task("empty-run", "t", [])])]}})
        self.assertEqual(gate.judge(ssm, "mw-empty", 5.0, None, NOW)[0], "OPEN")

    def test_opened_on_purpose_until_the_time_the_operator_gave(self):
        ssm = FakeSsm({"mw-x": {"created": at(24 * 90), "runs": [
            (execution("mw-x", "r", 20), [run_command_task("r", "t", ["FAILED"] * 20)])]}})
        param = {"open_until": "2026-12-09T12:00:00Z", "by": "jane@acme.example", "why": "INC0012345: a repo outage"}
        decision, reason = gate.judge(ssm, "mw-x", 5.0, param, NOW)
        self.assertEqual(decision, "OPENED_ON_PURPOSE")
        self.assertIn("jane@acme.example", reason)
        expired = {"open_until": "2026-12-09T06:00:00Z", "by": "jane", "why": "old"}
        self.assertEqual(gate.judge(ssm, "mw-x", 5.0, expired, NOW)[0], "HELD", "an expired opening holds again")

    def test_statuses_are_the_documented_enums(self):
        for s in ("FAILED", "TIMED_OUT", "CANCELLED", "Failed", "TimedOut", "Cancelled"):
            self.assertTrue(gate.failed_status(s), s)
        for s in ("SUCCESS", "Success", "SKIPPED_OVERLAPPING"):
            self.assertFalse(gate.failed_status(s), s)

    def test_a_held_gate_says_so_and_tells_the_bridge(self):
        sent = []

        class FakeEvents:
            def put_events(self, Entries):
                sent.extend(Entries)
                return {"FailedEntryCount": 0}

        history = {"mw-0al2023early0001": {"created": at(24 * 90), "runs": [
            (execution("mw-0al2023early0001", "r", 20), [run_command_task("r", "t", ["FAILED"] * 5)])]}}

        class Boto:
            @staticmethod
            def client(name):
                return FakeEvents() if name == "events" else FakeSsm(history)
        sys.modules["boto3"] = Boto
        out = gate.handler({"GateParameter": "/patchplane/acme/gates/main", "PreviousWindow": "mw-0al2023early0001",
                            "PreviousRing": "early", "MaxFailedPercent": "5", "Ring": "main", "PatchGroup": "AL2023-main"},
                           {"automation:EXECUTION_ID": "exec-1"})
        self.assertEqual(out["Decision"], "HELD")
        self.assertEqual(len(sent), 1)
        self.assertEqual((sent[0]["Source"], sent[0]["DetailType"]), ("patchplane.gate", "patchplane Ring Gate"))
        detail = json.loads(sent[0]["Detail"])
        self.assertEqual((detail["decision"], detail["ring"], detail["patch-group"], detail["previous-ring"],
                          detail["previous-window"], detail["automation-execution-id"]),
                         ("HELD", "main", "AL2023-main", "early", "mw-0al2023early0001", "exec-1"))
        self.assertTrue(detail["reason"].startswith("5 of 5 nodes"))
        sent.clear()
        # The decision is recorded for this window run, where its per-node installs read it.
        fake = FakeSsm(history)
        Boto.client = staticmethod(lambda name: FakeEvents() if name == "events" else fake)
        out = gate.handler({"GateParameter": "/g", "PreviousWindow": "mw-0al2023early0001", "MaxFailedPercent": "5",
                            "DecisionParameter": "/patchplane/acme/gate-decisions/AL2023-main",
                            "WindowExecutionId": "run-of-tonight"}, None)
        puts = [c for c in fake.calls if c[0] == "put_parameter"]
        self.assertEqual(len(puts), 1)
        self.assertEqual(puts[0][1], "/patchplane/acme/gate-decisions/AL2023-main")
        self.assertEqual(json.loads(puts[0][2]), {"WindowExecutionId": "run-of-tonight", "Decision": "HELD",
                                                  "Reason": out["Reason"]})
        sent.clear()
        history["mw-0al2023early0001"]["runs"] = [(execution("mw-0al2023early0001", "r2", 20), [run_command_task("r2", "t2", ok(3))])]
        out = gate.handler({"GateParameter": "/g", "PreviousWindow": "mw-0al2023early0001", "MaxFailedPercent": "5"}, None)
        self.assertEqual((out["Decision"], sent), ("OPEN", []), "an open gate is no news")


if __name__ == "__main__":
    unittest.main(verbosity=2)
