

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
    import boto3

    ssm = boto3.client("ssm")
    node = events["InstanceId"]
    held = gate_held(ssm, events.get("GateDecisionParameter", ""), events.get("WindowExecutionId", ""))
    if held:
        print("PATCHPLANE_NODE_HELD: " + held)
        return {"Action": "SKIP", "Reason": held}
    exceptions = published_exceptions(ssm, events["ExceptionsParameter"])
    action, reason = node_decision(exceptions, node, lambda: node_tags(node, ssm, boto3.client("ec2")),
                                   today_utc())
    print("PATCHPLANE_NODE_%s: %s" % (action, reason))
    return {"Action": action, "Reason": reason}
