"""patchplane ring gate (ADR 016, amended): judges the last run of the same baseline's earlier ring
window in this account and region, as SSM records it; an earlier ring held by its own gate holds
this one; a window that never ran opens only while new. A held gate (or one an operator opened via
the `GateParameter` SSM parameter) puts a `patchplane Ring Gate` event on the default bus. The
decision is recorded for this window run in `DecisionParameter`, which every per-node install and
start-patch-stop of the run reads before touching a node (leave-alone.py)."""
import json
from datetime import datetime, timedelta, timezone

# A failed node: window invocation FAILED/TIMED_OUT/CANCELLED, command invocation
# Failed/TimedOut/Cancelled (compared without case or `_`).
FAILED = {"FAILED", "TIMEDOUT", "CANCELLED"}
UNFINISHED = {"PENDING", "IN_PROGRESS", "CANCELLING"}
LOOKBACK_DAYS = 62


def decide(statuses, max_failed_percent, override, now, previous="the previous ring"):
    """The gate's decision over the per-node statuses of the previous ring's last run:
    ("OPEN" | "HELD" | "OPENED_ON_PURPOSE", reason)."""
    if override:
        until = str(override.get("open_until", ""))
        if until and until >= now.strftime("%Y-%m-%dT%H:%M:%SZ"):
            return ("OPENED_ON_PURPOSE",
                    "opened by %s until %s: %s" % (override.get("by", "?"), until, override.get("why", "")))
    if not statuses:
        return ("OPEN", "%s's last run installed on no node in this account and region" % previous)
    failed = sum(1 for s in statuses if failed_status(s))
    percent = 100.0 * failed / len(statuses)
    verdict = "HELD" if percent > max_failed_percent else "OPEN"
    return (verdict, "%d of %d nodes (%.1f%%) failed in %s's last install; the gate allows %s%%"
            % (failed, len(statuses), percent, previous, max_failed_percent))


def failed_status(status):
    return str(status).upper().replace("_", "") in FAILED


def pages(call, key, **kwargs):
    while True:
        out = call(**kwargs)
        for item in out.get(key, []):
            yield item
        token = out.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def seconds(t):
    """A timestamp as boto3 returns it (datetime) or as the CLI prints it (epoch seconds)."""
    if isinstance(t, datetime):
        return t.timestamp()
    if isinstance(t, str):
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    return float(t or 0)


def last_run(ssm, window_id, now, lookback_days=LOOKBACK_DAYS):
    """The previous ring window's latest finished run within the look-back, or None."""
    after = (now - timedelta(days=lookback_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = [r for r in pages(ssm.describe_maintenance_window_executions, "WindowExecutions",
                             WindowId=window_id, Filters=[{"Key": "ExecutedAfter", "Values": [after]}])
            if r.get("Status") not in UNFINISHED]
    return max(runs, key=lambda r: seconds(r.get("StartTime"))) if runs else None


def step_output(execution, step, name):
    """The first value of output `name` of step `step` of an Automation execution, or None."""
    for s in execution.get("StepExecutions", []):
        if s.get("StepName") == step:
            values = (s.get("Outputs") or {}).get(name) or []
            return values[0] if values else None
    return None


def run_results(ssm, run):
    """What one window run did: (per-node statuses, why it installed nothing or None).

    A task with targets makes one invocation per node (`WindowTargetId` set): its status is that
    node's, whether the task is Run Command or the per-node install Automation. A task without
    targets (the ring gate, start-patch-stop) makes one Automation: its gate step's decision, and
    the per-node results of the commands its `aws:runCommand` steps sent."""
    statuses, held = [], None
    wid = run["WindowExecutionId"]
    for task in pages(ssm.describe_maintenance_window_execution_tasks, "WindowExecutionTaskIdentities",
                      WindowExecutionId=wid):
        for inv in pages(ssm.describe_maintenance_window_execution_task_invocations,
                         "WindowExecutionTaskInvocationIdentities",
                         WindowExecutionId=wid, TaskId=task["TaskExecutionId"]):
            if (inv.get("TaskType") or task.get("TaskType")) != "AUTOMATION" or inv.get("WindowTargetId"):
                statuses.append(inv.get("Status", ""))
                continue
            execution = ssm.get_automation_execution(
                AutomationExecutionId=inv["ExecutionId"])["AutomationExecution"]
            gated = any(s.get("StepName") == "CheckRingGate" for s in execution.get("StepExecutions", []))
            decision = step_output(execution, "CheckRingGate", "Decision")
            if decision == "HELD":
                held = "its own gate held it (%s)" % (step_output(execution, "CheckRingGate", "Reason") or "")
                continue
            if gated and decision is None:
                held = "its gate recorded no decision (automation %s)" % execution.get("AutomationExecutionStatus")
                continue
            # Each aws:runCommand step outputs its CommandId (none when nothing was stopped).
            commands = [c for step in execution.get("StepExecutions", [])
                        for c in (step.get("Outputs") or {}).get("CommandId", [])]
            if not gated and not commands and failed_status(execution.get("AutomationExecutionStatus", "")):
                held = "its install never ran (automation %s)" % execution.get("AutomationExecutionStatus")
            for command in commands:
                statuses.extend(ci.get("Status", "") for ci in pages(
                    ssm.list_command_invocations, "CommandInvocations", CommandId=command))
    return statuses, held


def judge(ssm, window_id, max_failed_percent, override, now, previous="the previous ring"):
    """The whole decision for a previous window: ("OPEN" | "HELD" | "OPENED_ON_PURPOSE", reason)."""
    if not window_id:
        return ("OPEN", "no previous ring")
    run = last_run(ssm, window_id, now)
    if run is None:
        decision = decide([], max_failed_percent, override, now, previous)
        if decision[0] == "OPENED_ON_PURPOSE":
            return decision
        created = ssm.get_maintenance_window(WindowId=window_id).get("CreatedDate")
        if created is not None and seconds(created) >= (now - timedelta(days=LOOKBACK_DAYS)).timestamp():
            return ("OPEN", "%s has not run since its window was created (a new account or region)" % previous)
        return ("HELD", "%s has not run in %d days: its window may be disabled or failing to start"
                % (previous, LOOKBACK_DAYS))
    statuses, held = run_results(ssm, run)
    if held:
        decision = decide([], max_failed_percent, override, now, previous)
        if decision[0] == "OPENED_ON_PURPOSE":
            return decision
        return ("HELD", "%s's last run (%s) installed nothing: %s" % (previous, run["WindowExecutionId"], held))
    return decide(statuses, max_failed_percent, override, now, previous)


EVENT_SOURCE = "patchplane.gate"
EVENT_DETAIL_TYPE = "patchplane Ring Gate"


def gate_event(decision, reason, events, execution_id):
    """The EventBridge entry a held (or forced open) gate puts on the default bus."""
    detail = {
        "decision": decision,
        "reason": reason,
        "ring": events.get("Ring", ""),
        "patch-group": events.get("PatchGroup", ""),
        "previous-ring": events.get("PreviousRing", ""),
        "previous-window": events.get("PreviousWindow", ""),
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
    previous = "ring %s" % events["PreviousRing"] if events.get("PreviousRing") else "the previous ring"
    decision, reason = judge(ssm, events.get("PreviousWindow", ""), float(events["MaxFailedPercent"]),
                             override, now, previous)
    print("PATCHPLANE_GATE_" + decision + ": " + reason)
    if events.get("DecisionParameter"):
        # What this window run's per-node installs and start-patch-stop read (leave-alone.py).
        ssm.put_parameter(Name=events["DecisionParameter"], Type="String", Overwrite=True, Value=json.dumps(
            {"WindowExecutionId": events.get("WindowExecutionId", ""), "Decision": decision, "Reason": reason[:1000]}))
    if decision != "OPEN":
        execution_id = (context or {}).get("automation:EXECUTION_ID", "")
        boto3.client("events").put_events(Entries=[gate_event(decision, reason, events, execution_id)])
    return {"Decision": decision, "Reason": reason}
