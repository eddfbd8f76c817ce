"""The stopped-instance step (templates/components/stopped-instances.py, as rendered into the
Automation document) with a fake EC2 client: only instances stopped now are listed, so only they
are started and stopped again; a running instance never is. Run by tests/tests/stopped_instances.rs."""
import importlib.util
import sys
import unittest

spec = importlib.util.spec_from_file_location("stopped", sys.argv.pop(1))
stopped = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stopped)


def instance(iid, state):
    return {"InstanceId": iid, "State": {"Name": state}}


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
                assert name == "ec2"
                return fake

        sys.modules["boto3"] = Boto
        out = stopped.handler({"PatchGroupTag": "PatchGroup", "PatchGroup": "AL2023-main", "MaxInstances": "1"}, None)
        self.assertEqual(out, {"InstanceIds": ["i-0000000000000000b"], "Count": 1, "Skipped": 1})
        self.assertEqual(len(fake.calls), 3, "every page")
        self.assertIn({"Name": "tag:PatchGroup", "Values": ["AL2023-main"]}, fake.calls[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
