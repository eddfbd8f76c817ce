

# patchplane install of one node: the first step of the `<policy>-install-node` Automation, which
# every install window runs once per target node ({{RESOURCE_ID}}). It says INSTALL or SKIP (with
# why); the next step runs the install command on this node only when it says INSTALL.
def node_tags(node, ssm, ec2):
    """The node's tags now: ListTagsForResource for an on-prem `mi-` node, DescribeTags for EC2."""
    if node.startswith("mi-"):
        tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=node).get("TagList", [])
    else:
        tags, kwargs = [], {"Filters": [{"Name": "resource-id", "Values": [node]}]}
        while True:
            page = ec2.describe_tags(**kwargs)
            tags.extend(page.get("Tags", []))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return {t["Key"]: t["Value"] for t in tags}


def handler(events, context):
    """A window's install (`Mode` window) or patch-now's (`Mode` patch-now: the gate read is the
    node's ring's last decision, unless `SkipGate`; with `DryRun` nothing is installed; each node's
    decision is recorded in the evidence bucket under `ResultPrefix` when one is given)."""
    import boto3

    ssm = boto3.client("ssm")
    node = events["InstanceId"]
    patch_now = events.get("Mode", "window") == "patch-now"
    tags = {}

    def tags_now():
        if not tags:
            tags.update(node_tags(node, ssm, boto3.client("ec2")))
        return tags

    if patch_now:
        held = None if events.get("SkipGate") == "true" else latest_gate_held(
            ssm, events.get("GateDecisionPrefix", ""), tags_now().get(events.get("PatchGroupTag", ""), ""))
    else:
        held = gate_held(ssm, events.get("GateDecisionParameter", ""), events.get("WindowExecutionId", ""))
    if held:
        action, reason = "SKIP", held
    else:
        exceptions = published_exceptions(ssm, events["ExceptionsParameter"])
        action, reason = node_decision(exceptions, node, tags_now, today_utc())
    if patch_now and events.get("DryRun") == "true" and action == "INSTALL":
        action, reason = "WOULD_INSTALL", "dry run: " + reason
    print("PATCHPLANE_NODE_%s: %s" % (action, reason))
    if patch_now and events.get("ResultBucket"):
        record(boto3, events, node, action, reason)
    return {"Action": action, "Reason": reason}


def record(boto3, events, node, action, reason):
    """patch-now's evidence of one node: `<ResultPrefix>/<account>/<region>/<RunId>/<node>.json`,
    under the writer's own account (the bucket policy admits nothing else)."""
    account = boto3.client("sts").get_caller_identity()["Account"]
    region = boto3.session.Session().region_name or ""
    body = {"node": node, "account": account, "region": region, "action": action, "reason": reason,
            "run": events.get("RunId", ""), "ticket": events.get("Ticket", ""), "why": events.get("Reason", ""),
            "dry_run": events.get("DryRun") == "true", "skip_gate": events.get("SkipGate") == "true"}
    key = "%s/%s/%s/%s/%s.json" % (events["ResultPrefix"], account, region, events.get("RunId", "run"), node)
    boto3.client("s3").put_object(Bucket=events["ResultBucket"], Key=key, Body=json.dumps(body).encode(),
                                  ContentType="application/json")
