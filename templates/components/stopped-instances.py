"""patchplane stopped instances: the first step of the start-patch-stop Automation.

It lists the EC2 instances of one patch group that are stopped now; the next steps start exactly
those, wait until Systems Manager sees them online, patch them with the same document and
parameters as the window, and stop exactly those again. An instance that was running (or
starting, or stopping) is never in the list, so it is never stopped by patchplane.
"""

# Only these are started (and later stopped): "stopping" instances are left alone, as are
# instances of any other state.
STOPPED = "stopped"


def stopped_ids(reservations):
    """The ids of the stopped instances in DescribeInstances' reservations, sorted."""
    out = []
    for r in reservations:
        for i in r.get("Instances", []):
            if i.get("State", {}).get("Name") == STOPPED:
                out.append(i["InstanceId"])
    return sorted(out)


def handler(events, context):
    import boto3

    ec2 = boto3.client("ec2")
    reservations = []
    kwargs = {"Filters": [
        {"Name": "tag:" + events["PatchGroupTag"], "Values": [events["PatchGroup"]]},
        {"Name": "instance-state-name", "Values": [STOPPED]},
    ]}
    while True:
        page = ec2.describe_instances(**kwargs)
        reservations.extend(page.get("Reservations", []))
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    ids = stopped_ids(reservations)
    limit = int(events.get("MaxInstances", "50"))
    return {"InstanceIds": ids[:limit], "Count": len(ids[:limit]), "Skipped": len(ids) - len(ids[:limit])}
