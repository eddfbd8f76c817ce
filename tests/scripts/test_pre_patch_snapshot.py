"""The pre-patch snapshot step (templates/components/pre-patch-snapshot.py, as rendered into
the Automation document) with a fake EC2 client. Run by tests/tests/pre_patch.rs."""
import importlib.util
import sys
import unittest
from datetime import datetime, timedelta, timezone

spec = importlib.util.spec_from_file_location("snap", sys.argv.pop(1))
snap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(snap)


def snapshot(sid, day=None):
    tags = [{"Key": "patchplane:node", "Value": "i-1"}]
    if day:
        tags.append({"Key": snap.DELETE_AFTER, "Value": day})
    return {"SnapshotId": sid, "Tags": tags}


class FakeEc2:
    def __init__(self, existing):
        self.existing, self.created, self.deleted = existing, [], []

    def create_snapshots(self, InstanceSpecification, Description, TagSpecifications, CopyTagsFromSource):
        self.created.append((InstanceSpecification["InstanceId"], TagSpecifications[0]["Tags"]))
        return {"Snapshots": [{"SnapshotId": "snap-new1"}, {"SnapshotId": "snap-new2"}]}

    def describe_snapshots(self, OwnerIds, Filters, NextToken=None):
        assert OwnerIds == ["self"]
        half = len(self.existing) // 2
        if NextToken is None:
            return {"Snapshots": self.existing[:half], "NextToken": "2"}
        return {"Snapshots": self.existing[half:]}

    def delete_snapshot(self, SnapshotId):
        self.deleted.append(SnapshotId)


class Snapshot(unittest.TestCase):
    def test_expired_is_strictly_before_today(self):
        got = snap.expired([snapshot("a", "2026-12-01"), snapshot("b", "2026-12-02"), snapshot("c")], "2026-12-02")
        self.assertEqual(got, ["a"])

    def run_handler(self, node, existing):
        fake = FakeEc2(existing)

        class Boto:
            @staticmethod
            def client(name):
                return fake

        sys.modules["boto3"] = Boto
        out = snap.handler({"InstanceId": node, "WindowExecutionId": "we-1", "RetentionDays": "7"}, None)
        return fake, out

    def test_an_ec2_node_is_snapshotted_and_tagged_and_expired_snapshots_go(self):
        today = datetime.now(timezone.utc)
        old = (today - timedelta(days=1)).strftime("%Y-%m-%d")
        fresh = (today + timedelta(days=3)).strftime("%Y-%m-%d")
        fake, out = self.run_handler("i-0123456789abcdef0", [snapshot("old", old), snapshot("fresh", fresh), snapshot("theirs")])
        self.assertEqual(out["Created"], ["snap-new1", "snap-new2"])
        node, tags = fake.created[0]
        self.assertEqual(node, "i-0123456789abcdef0")
        tags = {t["Key"]: t["Value"] for t in tags}
        self.assertEqual(tags["patchplane:window-execution"], "we-1")
        self.assertEqual(tags[snap.DELETE_AFTER], (today + timedelta(days=7)).strftime("%Y-%m-%d"))
        self.assertEqual(fake.deleted, ["old"], "only expired patchplane snapshots")

    def test_a_hybrid_node_has_no_volumes_to_snapshot(self):
        fake, out = self.run_handler("mi-0123456789abcdef0", [])
        self.assertEqual((fake.created, out["Created"]), ([], []))


if __name__ == "__main__":
    unittest.main(verbosity=2)
