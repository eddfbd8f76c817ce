

# patchplane stopped instances: the first step of the start-patch-stop Automation.
#
# It lists the EC2 instances of one patch group that are stopped now, less those an exception
# covers, and none when the window's ring gate held; the next steps start exactly those, wait until
# Systems Manager sees them online, patch them with the same document and parameters as the window,
# and stop exactly those again. An instance that was running (or starting, or stopping) is never
# in the list, so it is never stopped by patchplane.

# Only these are started (and later stopped): "stopping" instances are left alone, as are
# instances of any other state.
STOPPED = "stopped"


def stopped_instances(reservations):
    """The stopped instances in DescribeInstances' reservations, sorted by id: (id, tags)."""
    out = []
    for r in reservations:
        for i in r.get("Instances", []):
            if i.get("State", {}).get("Name") == STOPPED:
                out.append((i["InstanceId"], {t["Key"]: t["Value"] for t in i.get("Tags", [])}))
    return sorted(out)


def stopped_ids(reservations):
    """The ids of the stopped instances in DescribeInstances' reservations, sorted."""
    return [i for i, _ in stopped_instances(reservations)]


def to_patch(reservations, exceptions, today):
    """The stopped instances to start and patch, and why each other one is left alone."""
    ids, left = [], []
    for node, tags in stopped_instances(reservations):
        action, reason = node_decision(exceptions, node, lambda: tags, today)
        (ids if action == "INSTALL" else left).append(node if action == "INSTALL" else reason)
    return ids, left


def handler(events, context):
    import boto3

    ssm = boto3.client("ssm")
    held = gate_held(ssm, events.get("GateDecisionParameter", ""), events.get("WindowExecutionId", ""))
    if held:
        print("PATCHPLANE_NODE_HELD: " + held)
        return {"InstanceIds": [], "Count": 0, "Skipped": 0}
    exceptions = published_exceptions(ssm, events["ExceptionsParameter"])
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
    ids, left = to_patch(reservations, exceptions, today_utc())
    for reason in left:
        print("PATCHPLANE_NODE_SKIP: " + reason)
    limit = int(events.get("MaxInstances", "50"))
    return {"InstanceIds": ids[:limit], "Count": len(ids[:limit]), "Skipped": len(ids) - len(ids[:limit])}
