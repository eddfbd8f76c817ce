"""patchplane ring gate: the first step of a gated ring's install automation.

It opens the ring only if the previous ring's last install in this account and region failed on
at most `MaxFailedPercent` of its nodes, or if an operator opened the gate on purpose (the SSM
parameter `GateParameter` holds {"open_until": "YYYY-MM-DDTHH:MM:SSZ", "by": "...", "why": "..."}).
It sees one account and one region: the commands Systems Manager ran here, nothing else.
Its decision is the step's `Decision` output; the next step installs only when it is not HELD.
A held gate, and a gate opened on purpose, put a `patchplane Ring Gate` event on the account's
default bus, which forwards it to the central bridge: one incident per held gate, with the reason.
"""
import json
from datetime import datetime, timedelta, timezone

# Command invocation statuses that count as a failed node (Run Command's terminal failures).
FAILED = {"Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated", "DeliveryTimedOut", "ExecutionTimedOut"}
PATCH_DOCUMENTS = ("AWS-RunPatchBaseline", "AWS-RunPatchBaselineWithHooks")


def decide(statuses, max_failed_percent, override, now):
    """The gate's decision: ("OPEN" | "HELD" | "OPENED_ON_PURPOSE", reason)."""
    if override:
        until = str(override.get("open_until", ""))
        if until and until >= now.strftime("%Y-%m-%dT%H:%M:%SZ"):
            return ("OPENED_ON_PURPOSE",
                    "opened by %s until %s: %s" % (override.get("by", "?"), until, override.get("why", "")))
    if not statuses:
        return ("OPEN", "the previous ring has no install on record in this account and region")
    failed = sum(1 for s in statuses if s in FAILED)
    percent = 100.0 * failed / len(statuses)
    verdict = "HELD" if percent > max_failed_percent else "OPEN"
    return (verdict, "%d of %d nodes (%.1f%%) failed in the previous ring's last install; the gate allows %s%%"
            % (failed, len(statuses), percent, max_failed_percent))


def pages(call, key, **kwargs):
    while True:
        out = call(**kwargs)
        for item in out.get(key, []):
            yield item
        token = out.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def last_install_statuses(ssm, target_key, groups, now, lookback_days=62):
    """Per-node statuses of the latest install command of each of `groups` (the previous ring's
    patch groups, targeted as `target_key`, e.g. `tag:PatchGroup`) in the last `lookback_days`."""
    latest = {}
    after = (now - timedelta(days=lookback_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for doc in PATCH_DOCUMENTS:
        filters = [{"key": "DocumentName", "value": doc}, {"key": "InvokedAfter", "value": after}]
        for c in pages(ssm.list_commands, "Commands", Filters=filters):
            if c.get("Parameters", {}).get("Operation") != ["Install"]:
                continue
            for t in c.get("Targets", []):
                if t.get("Key") != target_key:
                    continue
                for g in t.get("Values", []):
                    if g in groups and (g not in latest or c["RequestedDateTime"] > latest[g]["RequestedDateTime"]):
                        latest[g] = c
    statuses = []
    for command_id in sorted({c["CommandId"] for c in latest.values()}):
        for inv in pages(ssm.list_command_invocations, "CommandInvocations", CommandId=command_id):
            statuses.append(inv["Status"])
    return statuses


EVENT_SOURCE = "patchplane.gate"
EVENT_DETAIL_TYPE = "patchplane Ring Gate"


def gate_event(decision, reason, events, execution_id):
    """The EventBridge entry a held (or forced open) gate puts on the default bus."""
    detail = {
        "decision": decision,
        "reason": reason,
        "ring": events.get("Ring", ""),
        "patch-group": events.get("PatchGroup", ""),
        "previous-groups": [g for g in events.get("PreviousGroups", "").split(",") if g],
        "automation-execution-id": execution_id,
    }
    return {"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": json.dumps(detail)}


def handler(events, context):
    import boto3

    ssm = boto3.client("ssm")
    now = datetime.now(timezone.utc)
    override = None
    try:
        override = json.loads(ssm.get_parameter(Name=events["GateParameter"])["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        override = None
    except ValueError:
        override = None
    groups = [g for g in events["PreviousGroups"].split(",") if g]
    statuses = last_install_statuses(ssm, events["TargetKey"], groups, now)
    decision, reason = decide(statuses, float(events["MaxFailedPercent"]), override, now)
    print("PATCHPLANE_GATE_" + decision + ": " + reason)
    if decision != "OPEN":
        execution_id = (context or {}).get("automation:EXECUTION_ID", "")
        boto3.client("events").put_events(Entries=[gate_event(decision, reason, events, execution_id)])
    return {"Decision": decision, "Reason": reason}
