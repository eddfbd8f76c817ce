"""patchplane pre-patch snapshot: run by a maintenance window task for each EC2 node before its
install. It snapshots the node's EBS volumes (crash-consistent, all at one point in time), tags
the snapshots with the window execution and the day they may be deleted, and deletes this
account's patchplane snapshots whose day has passed, so retention holds without another job.
Hybrid `mi-` nodes have no EBS volumes and are skipped.
"""
from datetime import datetime, timedelta, timezone

DELETE_AFTER = "patchplane:delete-after"


def expired(snapshots, today):
    """Ids of snapshots whose delete-after day (YYYY-MM-DD) is before `today`."""
    out = []
    for s in snapshots:
        tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        day = tags.get(DELETE_AFTER, "")
        if day and day < today:
            out.append(s["SnapshotId"])
    return sorted(out)


def handler(events, context):
    import boto3

    ec2 = boto3.client("ec2")
    node = events["InstanceId"]
    now = datetime.now(timezone.utc)
    keep_until = (now + timedelta(days=int(events["RetentionDays"]))).strftime("%Y-%m-%d")
    created = []
    if node.startswith("i-"):
        out = ec2.create_snapshots(
            InstanceSpecification={"InstanceId": node, "ExcludeBootVolume": False},
            Description="patchplane pre-patch snapshot of %s" % node,
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                {"Key": "patchplane:window-execution", "Value": events["WindowExecutionId"]},
                {"Key": "patchplane:node", "Value": node},
                {"Key": DELETE_AFTER, "Value": keep_until},
            ]}],
            CopyTagsFromSource="volume",
        )
        created = [s["SnapshotId"] for s in out.get("Snapshots", [])]
    snapshots = []
    kwargs = {"OwnerIds": ["self"], "Filters": [{"Name": "tag-key", "Values": [DELETE_AFTER]}]}
    while True:
        page = ec2.describe_snapshots(**kwargs)
        snapshots.extend(page.get("Snapshots", []))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    deleted = []
    for sid in expired(snapshots, now.strftime("%Y-%m-%d")):
        ec2.delete_snapshot(SnapshotId=sid)
        deleted.append(sid)
    return {"Created": created, "Deleted": deleted, "KeepUntil": keep_until}
