

# patchplane golden-image refresh: the `<policy>-ami-refresh` Automation, run in each install
# window of an image's baseline (after the install). Once the window's ring gate let the ring
# install, it starts an instance refresh of the Auto Scaling groups that opted in, tagged
# `patchplane:image=<image>` and `patchplane:ring=<this ring>`: their launch template's default
# version names the newest image (Image Builder's distribution set it), and `SkipMatching` leaves
# instances that already run it alone, so a week without a new image replaces nothing.
IMAGE_TAG = "patchplane:image"
RING_TAG = "patchplane:ring"


def opted_in(groups, image, ring):
    """The names of the groups tagged for this image and ring, sorted."""
    out = []
    for g in groups:
        tags = {t.get("Key"): t.get("Value") for t in g.get("Tags", [])}
        if tags.get(IMAGE_TAG) == image and tags.get(RING_TAG) == ring:
            out.append(g["AutoScalingGroupName"])
    return sorted(out)


def refresh(asg, names, min_healthy):
    """Starts a rolling refresh of each group: (started {group: refresh id}, busy [group])."""
    started, busy = {}, []
    for name in names:
        try:
            out = asg.start_instance_refresh(
                AutoScalingGroupName=name, Strategy="Rolling",
                Preferences={"MinHealthyPercentage": int(min_healthy), "SkipMatching": True})
            started[name] = out.get("InstanceRefreshId", "")
        except Exception as e:  # botocore's ClientError; its code is the documented one
            if getattr(e, "response", {}).get("Error", {}).get("Code") != "InstanceRefreshInProgress":
                raise
            busy.append(name)
    return started, busy


def handler(events, context):
    import boto3

    held = gate_held(boto3.client("ssm"), events.get("GateDecisionParameter", ""), events.get("WindowExecutionId", ""))
    if held:
        print("PATCHPLANE_REFRESH_HELD: " + held)
        return {"Started": [], "Busy": [], "Reason": held}
    asg = boto3.client("autoscaling")
    groups, kwargs = [], {"Filters": [{"Name": "tag:" + IMAGE_TAG, "Values": [events["Image"]]},
                                      {"Name": "tag:" + RING_TAG, "Values": [events["Ring"]]}]}
    while True:
        page = asg.describe_auto_scaling_groups(**kwargs)
        groups.extend(page.get("AutoScalingGroups", []))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    started, busy = refresh(asg, opted_in(groups, events["Image"], events["Ring"]), events["MinHealthyPercentage"])
    for name, rid in started.items():
        print("PATCHPLANE_REFRESH_STARTED: %s (%s)" % (name, rid))
    for name in busy:
        print("PATCHPLANE_REFRESH_BUSY: %s already refreshing" % name)
    return {"Started": sorted(started), "Busy": busy, "Reason": ""}
