"""The per-node install's first step (templates/components/leave-alone.py + install-node.py, as
rendered into the `<policy>-install-node` Automation document) against fake SSM and EC2 clients
whose every answer is a copy of a documented example in tests/fixtures/aws/ (each file names its
page in `_source`: GetParameter, ListTagsForResource, DescribeTags), with only names, values and
tags changed. Run by tests/tests/node_install.rs with the project's Python; the module it loads
ends with `PUBLISHED`, the exceptions the example policy's template publishes.

The expectations are the example policy's exceptions read by a person (examples/org-policy.yaml):
EXC-2026-014 covers nodes tagged Application=legacy-erp from 2027-01-04 through 2027-03-31;
EXC-2026-021 keeps KB5034441 off i-0abc12345def67890 through 2027-02-15."""
import copy
import importlib.util
import json
import pathlib
import sys
import unittest

spec = importlib.util.spec_from_file_location("node", sys.argv.pop(1))
node = importlib.util.module_from_spec(spec)
spec.loader.exec_module(node)

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "aws"


def documented(path):
    return json.loads((FIXTURES / (path + ".json")).read_text())["response"]


GET_PARAMETER = documented("ssm/GetParameter")
LIST_TAGS = documented("ssm/ListTagsForResource")
DESCRIBE_TAGS = documented("ec2/DescribeTags")

KB_NODE = "i-0abc12345def67890"  # EXC-2026-021
ERP_EC2 = "i-0e1e2e3e4e5e6e7e8"  # tagged Application=legacy-erp
ERP_ONPREM = "mi-0123456789abcdef0"  # tagged Application=legacy-erp
PLAIN = "i-0a0a0a0a0a0a0a0a0"  # Application=payments
TAGS = {ERP_EC2: {"Application": "legacy-erp"}, ERP_ONPREM: {"Application": "legacy-erp", "Site": "dc-fra"},
        PLAIN: {"Application": "payments"}, KB_NODE: {}}


class NotFound(Exception):
    pass


class FakeSsm:
    class exceptions:
        ParameterNotFound = NotFound

    def __init__(self, values):
        self.values, self.calls = values, []

    def get_parameter(self, Name):
        self.calls.append(("get_parameter", Name))
        if Name not in self.values:
            raise NotFound(Name)
        out = copy.deepcopy(GET_PARAMETER)
        out["Parameter"].update(Name=Name, Value=self.values[Name])
        return out

    def list_tags_for_resource(self, ResourceType, ResourceId):
        self.calls.append(("list_tags_for_resource", ResourceType, ResourceId))
        out = copy.deepcopy(LIST_TAGS)
        out["TagList"] = [dict(copy.deepcopy(LIST_TAGS["TagList"][0]), Key=k, Value=v)
                          for k, v in TAGS[ResourceId].items()]
        return out


class FakeEc2:
    def __init__(self):
        self.calls = []

    def describe_tags(self, Filters, NextToken=None):
        self.calls.append(Filters)
        (node_id,) = [f["Values"][0] for f in Filters if f["Name"] == "resource-id"]
        # One tag per page, to follow NextToken as the API pages.
        items = [dict(copy.deepcopy(DESCRIBE_TAGS["Tags"][0]), ResourceId=node_id, Key=k, Value=v)
                 for k, v in TAGS[node_id].items()]
        n = int(NextToken or 0)
        out = {"Tags": items[n:n + 1]}
        if n + 1 < len(items):
            out["NextToken"] = str(n + 1)
        return out


EXCEPTIONS = "/patchplane/acme/exceptions"
DECISION = "/patchplane/acme/gate-decisions/AL2023-main"


def run(node_id, day, values=None, gate=""):
    ssm, ec2 = FakeSsm(values if values is not None else {EXCEPTIONS: node.PUBLISHED}), FakeEc2()

    class Boto:
        @staticmethod
        def client(name):
            return {"ssm": ssm, "ec2": ec2}[name]

    sys.modules["boto3"] = Boto
    node.today_utc = lambda: day
    out = node.handler({"InstanceId": node_id, "ExceptionsParameter": EXCEPTIONS, "GateDecisionParameter": gate,
                        "WindowExecutionId": "run-of-tonight"}, None)
    return out, ssm, ec2


class Node(unittest.TestCase):
    def test_the_example_night_by_night(self):
        expected = {
            # Before EXC-2026-014 starts: only the KB5034441 node is left alone.
            "2026-12-07": {KB_NODE: "SKIP", ERP_EC2: "INSTALL", ERP_ONPREM: "INSTALL", PLAIN: "INSTALL"},
            # Its first day, on EC2 and on-prem alike.
            "2027-01-04": {KB_NODE: "SKIP", ERP_EC2: "SKIP", ERP_ONPREM: "SKIP", PLAIN: "INSTALL"},
            # EXC-2026-021's last day, then the day after: it ends by itself.
            "2027-02-15": {KB_NODE: "SKIP", ERP_EC2: "SKIP", ERP_ONPREM: "SKIP", PLAIN: "INSTALL"},
            "2027-02-16": {KB_NODE: "INSTALL", ERP_EC2: "SKIP", ERP_ONPREM: "SKIP", PLAIN: "INSTALL"},
            "2027-04-01": {KB_NODE: "INSTALL", ERP_EC2: "INSTALL", ERP_ONPREM: "INSTALL", PLAIN: "INSTALL"},
        }
        for day, nodes in expected.items():
            for node_id, action in nodes.items():
                out, _, _ = run(node_id, day)
                self.assertEqual(out["Action"], action, (day, node_id, out["Reason"]))

    def test_the_reason_names_the_exception_and_what_it_keeps_off(self):
        out, _, _ = run(KB_NODE, "2027-01-10")
        self.assertEqual(out["Reason"], "i-0abc12345def67890 left alone: exception EXC-2026-021 (CHG0031301) keeps "
                                        "KB5034441 off it; its other patches wait for the exception's end, through 2027-02-15")
        out, _, _ = run(ERP_ONPREM, "2027-01-10")
        self.assertIn("exception EXC-2026-014 (CHG0031234) covers all its patches, through 2027-03-31", out["Reason"])

    def test_tags_are_read_where_each_kind_of_node_keeps_them_and_only_when_needed(self):
        _, ssm, ec2 = run(ERP_ONPREM, "2027-01-10")
        self.assertIn(("list_tags_for_resource", "ManagedInstance", ERP_ONPREM), ssm.calls)
        self.assertEqual(ec2.calls, [])
        _, ssm, ec2 = run(ERP_EC2, "2027-01-10")
        self.assertEqual(ec2.calls, [[{"Name": "resource-id", "Values": [ERP_EC2]}]])
        self.assertFalse(any(c[0] == "list_tags_for_resource" for c in ssm.calls))
        # No exception by tags holds before 2027-01-04: no tag is read at all.
        _, ssm, ec2 = run(ERP_EC2, "2026-12-07")
        self.assertEqual(ec2.calls, [])

    def test_a_node_tagged_during_the_window_is_left_alone_from_its_own_turn(self):
        out, _, _ = run(PLAIN, "2027-01-10")
        self.assertEqual(out["Action"], "INSTALL")
        TAGS[PLAIN] = {"Application": "legacy-erp"}
        try:
            out, _, _ = run(PLAIN, "2027-01-10")
            self.assertEqual(out["Action"], "SKIP")
        finally:
            TAGS[PLAIN] = {"Application": "payments"}

    def test_a_gate_that_held_or_did_not_decide_for_this_run_leaves_every_node_alone(self):
        for recorded, why in (
                ({"WindowExecutionId": "run-of-tonight", "Decision": "HELD", "Reason": "3 of 10 failed"}, "held this run"),
                ({"WindowExecutionId": "run-of-last-month", "Decision": "OPEN", "Reason": "ok"}, "has not decided"),
                (None, "recorded no decision"),
                ("not json", "not JSON")):
            values = {EXCEPTIONS: node.PUBLISHED}
            if recorded is not None:
                values[DECISION] = recorded if isinstance(recorded, str) else json.dumps(recorded)
            out, ssm, _ = run(PLAIN, "2027-01-10", values, gate=DECISION)
            self.assertEqual(out["Action"], "SKIP", recorded)
            self.assertIn(why, out["Reason"])
            self.assertNotIn(("get_parameter", EXCEPTIONS), ssm.calls, "a held node is not even checked further")
        values = {EXCEPTIONS: node.PUBLISHED, DECISION: json.dumps(
            {"WindowExecutionId": "run-of-tonight", "Decision": "OPENED_ON_PURPOSE", "Reason": "by jane"})}
        self.assertEqual(run(PLAIN, "2027-01-10", values, gate=DECISION)[0]["Action"], "INSTALL")
        # The gate opens the install; exceptions still apply behind it.
        self.assertEqual(run(KB_NODE, "2027-01-10", values, gate=DECISION)[0]["Action"], "SKIP")

    def test_patch_now_reads_the_rings_last_gate_decision_unless_told_to_skip_it(self):
        """patch-now (ADR 028) runs outside any window: the node's ring gate holds it when the gate
        held that ring's last run; `SkipGate` (which the CLI allows only with a reason) does not."""
        TAGS[PLAIN] = {"Application": "payments", "PatchGroup": "AL2023-main"}
        try:
            held = {EXCEPTIONS: node.PUBLISHED, "/patchplane/acme/gate-decisions/AL2023-main": json.dumps(
                {"WindowExecutionId": "run-of-last-week", "Decision": "HELD", "Reason": "3 of 10 failed"})}
            events = {"InstanceId": PLAIN, "ExceptionsParameter": EXCEPTIONS, "Mode": "patch-now",
                      "GateDecisionPrefix": "/patchplane/acme/gate-decisions", "PatchGroupTag": "PatchGroup"}
            for skip, want in (("false", "SKIP"), ("true", "INSTALL")):
                ssm, ec2 = FakeSsm(held), FakeEc2()
                sys.modules["boto3"] = type("Boto", (), {"client": staticmethod(lambda n: {"ssm": ssm, "ec2": ec2}[n])})
                node.today_utc = lambda: "2027-01-10"
                out = node.handler(dict(events, SkipGate=skip), None)
                self.assertEqual(out["Action"], want, out)
            self.assertIn("the ring gate of AL2023-main held its last run (run-of-last-week)",
                          node.latest_gate_held(FakeSsm(held), "/patchplane/acme/gate-decisions", "AL2023-main"))
            # A dry run installs nothing, and says what it would have done; exceptions still hold.
            ssm = FakeSsm({EXCEPTIONS: node.PUBLISHED})
            sys.modules["boto3"] = type("Boto", (), {"client": staticmethod(lambda n: {"ssm": ssm, "ec2": FakeEc2()}[n])})
            self.assertEqual(node.handler(dict(events, DryRun="true"), None)["Action"], "WOULD_INSTALL")
            self.assertEqual(node.handler(dict(events, DryRun="true", InstanceId=KB_NODE), None)["Action"], "SKIP")
        finally:
            TAGS[PLAIN] = {"Application": "payments"}

    def test_an_unreadable_exception_list_installs_nothing(self):
        for values in ({}, {EXCEPTIONS: "{\"not\": \"a list\"}"}):
            with self.assertRaises(Exception):
                run(PLAIN, "2027-01-10", values)


if __name__ == "__main__":
    unittest.main(verbosity=2)
