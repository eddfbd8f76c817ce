"""The golden-image refresh step (templates/components/leave-alone.py + ami-refresh.py, as rendered
into the `<policy>-ami-refresh` Automation document) against a fake Auto Scaling client whose
answers are copies of AWS's documented examples (tests/fixtures/aws/autoscaling/, each naming its
page): DescribeAutoScalingGroups, StartInstanceRefresh, and the error StartInstanceRefresh
documents for a group already refreshing (`InstanceRefreshInProgress`). The documented group has
no tags; tags are added in the shape of the API reference's TagDescription
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TagDescription.html). Run by
tests/tests/golden_images.rs."""
import copy
import importlib.util
import json
import pathlib
import sys
import unittest

from documented import FakeSsm  # noqa: E402  (tests/scripts/documented.py)

spec = importlib.util.spec_from_file_location("refresh", sys.argv.pop(1))
refresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh)

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "aws"
GROUP = json.loads((FIXTURES / "autoscaling" / "DescribeAutoScalingGroups.json").read_text())["response"][
    "AutoScalingGroups"][0]
STARTED = json.loads((FIXTURES / "autoscaling" / "StartInstanceRefresh.json").read_text())["response"]


def group(name, **tags):
    g = copy.deepcopy(GROUP)
    g["AutoScalingGroupName"] = name
    g["Tags"] = [{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": k.replace("_", ":", 1),
                  "Value": v, "PropagateAtLaunch": True} for k, v in tags.items()]
    return g


class RefreshInProgress(Exception):
    def __init__(self):
        super().__init__("An error occurred (InstanceRefreshInProgress)")
        self.response = {"Error": {"Code": "InstanceRefreshInProgress",
                                   "Message": "An Instance Refresh is already in progress"}}


class FakeAsg:
    def __init__(self, groups, busy=()):
        self.groups, self.busy, self.started, self.filters = groups, set(busy), [], []

    def describe_auto_scaling_groups(self, Filters, NextToken=None):
        self.filters.append(Filters)
        # One group per page, to follow NextToken; the tag filters applied as the API does.
        wanted = {f["Name"][len("tag:"):]: f["Values"] for f in Filters}
        match = [g for g in self.groups
                 if all({t["Key"]: t["Value"] for t in g["Tags"]}.get(k) in v for k, v in wanted.items())]
        n = int(NextToken or 0)
        out = {"AutoScalingGroups": match[n:n + 1]}
        if n + 1 < len(match):
            out["NextToken"] = str(n + 1)
        return out

    def start_instance_refresh(self, AutoScalingGroupName, Strategy, Preferences):
        if AutoScalingGroupName in self.busy:
            raise RefreshInProgress()
        self.started.append((AutoScalingGroupName, Strategy, Preferences))
        return copy.deepcopy(STARTED)


def run(asg, events, decisions=None):
    class Boto:
        @staticmethod
        def client(name):
            return {"autoscaling": asg, "ssm": FakeSsm(decisions or {})}[name]

    sys.modules["boto3"] = Boto
    return refresh.handler(events, None)


FLEET = [
    group("web-main", patchplane_image="al2023-golden", patchplane_ring="main"),
    group("api-main", patchplane_image="al2023-golden", patchplane_ring="main"),
    group("web-early", patchplane_image="al2023-golden", patchplane_ring="early"),
    group("batch-main", patchplane_image="other-image", patchplane_ring="main"),
    group("untagged"),
]
EVENTS = {"Image": "al2023-golden", "Ring": "main", "MinHealthyPercentage": "90",
          "GateDecisionParameter": "/patchplane/acme/gate-decisions/AL2023-main", "WindowExecutionId": "run-1"}
OPEN = {"/patchplane/acme/gate-decisions/AL2023-main": json.dumps(
    {"WindowExecutionId": "run-1", "Decision": "OPEN", "Reason": "0 of 10 failed"})}


class Refresh(unittest.TestCase):
    def test_only_this_rings_groups_of_this_image_are_refreshed_keeping_90_percent(self):
        asg = FakeAsg(FLEET)
        out = run(asg, EVENTS, OPEN)
        self.assertEqual(out["Started"], ["api-main", "web-main"])
        self.assertEqual(asg.started, [
            ("api-main", "Rolling", {"MinHealthyPercentage": 90, "SkipMatching": True}),
            ("web-main", "Rolling", {"MinHealthyPercentage": 90, "SkipMatching": True}),
        ])
        self.assertEqual(asg.filters[0], [{"Name": "tag:patchplane:image", "Values": ["al2023-golden"]},
                                          {"Name": "tag:patchplane:ring", "Values": ["main"]}])

    def test_a_group_already_refreshing_is_left_to_finish(self):
        asg = FakeAsg(FLEET, busy={"web-main"})
        out = run(asg, EVENTS, OPEN)
        self.assertEqual((out["Started"], out["Busy"]), (["api-main"], ["web-main"]))

    def test_a_held_or_undecided_gate_refreshes_nothing(self):
        for decisions in ({"/patchplane/acme/gate-decisions/AL2023-main": json.dumps(
                {"WindowExecutionId": "run-1", "Decision": "HELD", "Reason": "3 of 10 failed"})}, {}):
            asg = FakeAsg(FLEET)
            out = run(asg, EVENTS, decisions)
            self.assertEqual((out["Started"], asg.started, asg.filters), ([], [], []))
            self.assertTrue(out["Reason"])

    def test_an_ungated_ring_refreshes_after_its_install(self):
        asg = FakeAsg(FLEET)
        out = run(asg, dict(EVENTS, Ring="early", GateDecisionParameter=""))
        self.assertEqual(out["Started"], ["web-early"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
