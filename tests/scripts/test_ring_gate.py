"""The ring gate's script (templates/components/ring-gate.py, as rendered into the Automation
document) against realistic Run Command histories, with a fake SSM client: held, opened, opened
on purpose. Run by tests/tests/ring_gate.rs with the project's Python."""
import importlib.util
import json
import sys
import unittest
from datetime import datetime, timezone

spec = importlib.util.spec_from_file_location("gate", sys.argv.pop(1))
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)

NOW = datetime(2026, 12, 9, 7, 0, tzinfo=timezone.utc)


class NotFound(Exception):
    pass


class FakeSsm:
    """list_commands / list_command_invocations / get_parameter over a history, paginated by 2."""

    class exceptions:
        ParameterNotFound = NotFound

    def __init__(self, commands, invocations, parameter=None):
        self.commands, self.invocations, self.parameter = commands, invocations, parameter

    def _page(self, items, key, NextToken=None):
        start = int(NextToken or 0)
        out = {key: items[start:start + 2]}
        if start + 2 < len(items):
            out["NextToken"] = str(start + 2)
        return out

    def list_commands(self, Filters, NextToken=None):
        doc = [f["value"] for f in Filters if f["key"] == "DocumentName"][0]
        return self._page([c for c in self.commands if c["DocumentName"] == doc], "Commands", NextToken)

    def list_command_invocations(self, CommandId, NextToken=None):
        return self._page([{"Status": s} for s in self.invocations[CommandId]], "CommandInvocations", NextToken)

    def get_parameter(self, Name):
        if self.parameter is None:
            raise NotFound(Name)
        return {"Parameter": {"Value": self.parameter}}


def command(cid, group, at, operation="Install", doc="AWS-RunPatchBaseline"):
    return {"CommandId": cid, "DocumentName": doc, "RequestedDateTime": at,
            "Parameters": {"Operation": [operation], "RebootOption": ["RebootIfNeeded"]},
            "Targets": [{"Key": "tag:PatchGroup", "Values": [group]}]}


HISTORY = [
    command("c-old", "AL2023-early", "2026-11-10T07:00:00Z"),
    command("c-scan", "AL2023-early", "2026-12-08T03:00:00Z", operation="Scan"),
    command("c-al", "AL2023-early", "2026-12-08T07:00:00Z"),
    command("c-win", "Win2022-early", "2026-12-08T07:05:00Z", doc="AWS-RunPatchBaselineWithHooks"),
    command("c-other", "AL2023-main", "2026-12-08T07:00:00Z"),
]


class Gate(unittest.TestCase):
    def run_gate(self, invocations, parameter=None, max_failed=5):
        ssm = FakeSsm(HISTORY, invocations, parameter)
        statuses = gate.last_install_statuses(ssm, "tag:PatchGroup", ["AL2023-early", "Win2022-early"], NOW)
        return statuses, gate.decide(statuses, max_failed, json.loads(parameter) if parameter else None, NOW)

    def test_held_when_the_early_ring_failed_on_too_many_nodes(self):
        inv = {"c-al": ["Success"] * 17 + ["Failed"] * 3, "c-win": ["Success"] * 9 + ["TimedOut"],
               "c-old": ["Failed"] * 50, "c-other": ["Failed"] * 50, "c-scan": ["Failed"] * 50}
        statuses, (decision, reason) = self.run_gate(inv)
        self.assertEqual(len(statuses), 30, "the latest install of each previous-ring group only")
        self.assertEqual(decision, "HELD")
        self.assertIn("4 of 30 nodes (13.3%)", reason)

    def test_open_when_failures_stay_under_the_threshold(self):
        inv = {"c-al": ["Success"] * 39 + ["Failed"], "c-win": ["Success"] * 20}
        _, (decision, reason) = self.run_gate(inv)
        self.assertEqual(decision, "OPEN")
        self.assertIn("1 of 60 nodes (1.7%)", reason)

    def test_opened_on_purpose_until_the_time_the_operator_gave(self):
        inv = {"c-al": ["Failed"] * 20, "c-win": ["Failed"] * 20}
        param = json.dumps({"open_until": "2026-12-09T12:00:00Z", "by": "jane@acme.example", "why": "INC0012345: failures were a repo outage"})
        _, (decision, reason) = self.run_gate(inv, param)
        self.assertEqual(decision, "OPENED_ON_PURPOSE")
        self.assertIn("jane@acme.example", reason)
        expired = json.dumps({"open_until": "2026-12-09T06:00:00Z", "by": "jane", "why": "old"})
        _, (decision, _) = self.run_gate(inv, expired)
        self.assertEqual(decision, "HELD", "an expired opening holds again")

    def test_open_without_history(self):
        ssm = FakeSsm([], {})
        statuses = gate.last_install_statuses(ssm, "tag:PatchGroup", ["AL2023-early"], NOW)
        self.assertEqual(gate.decide(statuses, 5, None, NOW)[0], "OPEN")

    def test_a_held_gate_says_so_and_tells_the_bridge(self):
        sent = []

        class FakeEvents:
            def put_events(self, Entries):
                sent.extend(Entries)
                return {"FailedEntryCount": 0}

        class Boto:
            @staticmethod
            def client(name):
                if name == "events":
                    return FakeEvents()
                return FakeSsm(HISTORY, {"c-al": ["Failed"] * 5, "c-win": []})
        sys.modules["boto3"] = Boto
        out = gate.handler({"GateParameter": "/patchplane/gates/main", "TargetKey": "tag:PatchGroup",
                            "PreviousGroups": "AL2023-early,Win2022-early", "MaxFailedPercent": "5",
                            "Ring": "main", "PatchGroup": "AL2023-main"},
                           {"automation:EXECUTION_ID": "exec-1"})
        self.assertEqual(out["Decision"], "HELD")
        self.assertEqual(len(sent), 1)
        self.assertEqual((sent[0]["Source"], sent[0]["DetailType"]), ("patchplane.gate", "patchplane Ring Gate"))
        detail = json.loads(sent[0]["Detail"])
        self.assertEqual((detail["decision"], detail["ring"], detail["patch-group"], detail["automation-execution-id"]),
                         ("HELD", "main", "AL2023-main", "exec-1"))
        self.assertTrue(detail["reason"].startswith("5 of 5 nodes"))
        sent.clear()
        Boto.client = staticmethod(lambda name: FakeEvents() if name == "events" else FakeSsm(HISTORY, {"c-al": ["Success"], "c-win": []}))
        out = gate.handler({"GateParameter": "/g", "TargetKey": "tag:PatchGroup", "PreviousGroups": "AL2023-early",
                            "MaxFailedPercent": "5"}, None)
        self.assertEqual((out["Decision"], sent), ("OPEN", []), "an open gate is no news")


if __name__ == "__main__":
    unittest.main(verbosity=2)
