"""The stopped-instance step (templates/components/stopped-instances.py, as rendered into the
Automation document) with a fake EC2 client: only instances stopped now are listed, so only they
are started and stopped again; a running instance never is. Run by tests/tests/stopped_instances.rs."""
import copy
import importlib.util
import json
import pathlib
import sys
import unittest

from documented import FakeSsm  # noqa: E402  (tests/scripts/documented.py)

spec = importlib.util.spec_from_file_location("stopped", sys.argv.pop(1))
stopped = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stopped)


# The documented instance (tests/fixtures/aws/ec2/DescribeInstances.json names its page), with
# only its id, state and tags changed.
DOCUMENTED = json.loads((pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "aws" / "ec2" /
                         "DescribeInstances.json").read_text())["response"]["Reservations"][0]["Instances"][0]
CODES = {"pending": 0, "running": 16, "stopping": 64, "stopped": 80}


def instance(iid, state, tags=None):
    i = copy.deepcopy(DOCUMENTED)
    i.update(InstanceId=iid, State={"Code": CODES[state], "Name": state})
    if tags is not None:
        i["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return i


def tagged(iid, state, tags):
    return instance(iid, state, tags)


class FakeEc2:
    """describe_instances over a fleet, one reservation per page; it applies the state filter
    only when asked, like EC2."""

    def __init__(self, fleet):
        self.fleet, self.calls = fleet, []

    def describe_instances(self, Filters, NextToken=None):
        self.calls.append(Filters)
        states = [f["Values"] for f in Filters if f["Name"] == "instance-state-name"]
        pages = [[i for i in r if not states or i["State"]["Name"] in states[0]] for r in self.fleet]
        n = int(NextToken or 0)
        out = {"Reservations": [{"Instances": pages[n]}]}
        if n + 1 < len(pages):
            out["NextToken"] = str(n + 1)
        return out


FLEET = [
    [instance("i-0000000000000000a", "running"), instance("i-0000000000000000b", "stopped")],
    [instance("i-0000000000000000c", "stopping"), instance("i-0000000000000000d", "stopped")],
    [instance("i-0000000000000000e", "pending")],
]


class Stopped(unittest.TestCase):
    def test_only_instances_stopped_now_are_started_and_stopped_again(self):
        ids = stopped.stopped_ids([{"Instances": r} for r in FLEET])
        self.assertEqual(ids, ["i-0000000000000000b", "i-0000000000000000d"])
        for running in ("i-0000000000000000a", "i-0000000000000000c", "i-0000000000000000e"):
            self.assertNotIn(running, ids)

    def test_the_step_filters_by_patch_group_and_state_across_pages(self):
        fake = FakeEc2(FLEET)

        class Boto:
            @staticmethod
            def client(name):
                assert name in ("ec2", "ssm")
                return fake if name == "ec2" else FakeSsm({"/patchplane/acme/exceptions": "[]"})

        sys.modules["boto3"] = Boto
        out = stopped.handler({"PatchGroupTag": "PatchGroup", "PatchGroup": "AL2023-main", "MaxInstances": "1",
                               "ExceptionsParameter": "/patchplane/acme/exceptions"}, None)
        self.assertEqual(out, {"InstanceIds": ["i-0000000000000000b"], "Count": 1, "Skipped": 1})
        self.assertEqual(len(fake.calls), 3, "every page")
        self.assertIn({"Name": "tag:PatchGroup", "Values": ["AL2023-main"]}, fake.calls[0])

    def test_an_excepted_instance_is_never_started(self):
        """Node exceptions by id and by tag, and a patch exception on a node, as the StackSet
        publishes them; one expired and one not started yet: those two cover nothing."""
        fleet = [[tagged("i-0000000000000001a", "stopped", {"patchplane:freeze": "audit"}),
                  tagged("i-0000000000000001b", "stopped", {}),
                  tagged("i-0000000000000001c", "stopped", {}),
                  tagged("i-0000000000000001d", "stopped", {"app": "ledger"}),
                  tagged("i-0000000000000001e", "stopped", {"app": "old"})]]
        exceptions = [
            {"id": "EXC-1", "ticket": "CHG1", "tags": {"patchplane:freeze": "audit"}, "expires": "2026-12-31"},
            {"id": "EXC-2", "ticket": "CHG2", "nodes": ["i-0000000000000001b"], "patches": ["KB5034441"],
             "expires": "2027-01-15"},
            {"id": "EXC-3", "ticket": "CHG3", "tags": {"app": "old"}, "expires": "2026-12-01"},
            {"id": "EXC-4", "ticket": "CHG4", "tags": {"app": "ledger"}, "starts": "2026-12-10", "expires": "2027-01-10"},
        ]
        ids, left = stopped.to_patch([{"Instances": r} for r in fleet], exceptions, "2026-12-07")
        self.assertEqual(ids, ["i-0000000000000001c", "i-0000000000000001d", "i-0000000000000001e"])
        self.assertEqual(len(left), 2)
        self.assertIn("exception EXC-1 (CHG1) covers all its patches, through 2026-12-31", left[0])
        self.assertIn("exception EXC-2 (CHG2) keeps KB5034441 off it", left[1])
        ids, _ = stopped.to_patch([{"Instances": r} for r in fleet], exceptions, "2026-12-10")
        self.assertNotIn("i-0000000000000001d", ids, "EXC-4 holds from its start")

    def test_a_held_or_unrecorded_gate_starts_nothing(self):
        fake = FakeEc2(FLEET)
        for recorded in ({"WindowExecutionId": "run-1", "Decision": "HELD", "Reason": "3 of 10 failed"},
                         {"WindowExecutionId": "run-0", "Decision": "OPEN", "Reason": "an older run"},
                         None):
            values = {"/patchplane/acme/exceptions": "[]"}
            if recorded:
                values["/patchplane/acme/gate-decisions/AL2023-main"] = json.dumps(recorded)

            class Boto:
                @staticmethod
                def client(name):
                    return fake if name == "ec2" else FakeSsm(values)

            sys.modules["boto3"] = Boto
            out = stopped.handler({"PatchGroupTag": "PatchGroup", "PatchGroup": "AL2023-main",
                                   "ExceptionsParameter": "/patchplane/acme/exceptions",
                                   "GateDecisionParameter": "/patchplane/acme/gate-decisions/AL2023-main",
                                   "WindowExecutionId": "run-1"}, None)
            self.assertEqual(out["InstanceIds"], [], recorded)
        self.assertEqual(fake.calls, [], "nothing is even listed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
