"""patchplane: what leaves a node alone (ADR 026). Every way patchplane installs (a window's per-node
install, start-patch-stop, patch-now) asks here just before it touches a node, inside AWS, with the
bridge down or not:
- a ring gate that held this window's run, or that has not recorded a decision for it (a gate
  that cannot be read holds);
- an exception of the policy that holds today and covers the node, by id or by its tags now. The
  member StackSet publishes the node-selecting exceptions as the SSM parameter
  `/patchplane/<policy>/exceptions`, a JSON list of {id, ticket, nodes, tags, patches, starts,
  expires}; a patch exception leaves the whole node alone, since Patch Manager cannot keep a
  patch off one node of a baseline without a run whose compliance it does not record."""
import json


def holding(exceptions, today):
    """The exceptions that hold on `today` (`YYYY-MM-DD`): from `starts` (when set) through
    `expires`, both inclusive. ISO dates compare as strings."""
    return [e for e in exceptions
            if (not e.get("starts") or e["starts"] <= today) and today <= str(e.get("expires", ""))]


def covers(exception, node, tags):
    """Whether `exception` covers `node` (by id, or by carrying every one of its tags)."""
    if node in (exception.get("nodes") or []):
        return True
    wanted = exception.get("tags") or {}
    return bool(wanted) and all(tags.get(k) == v for k, v in wanted.items())


def node_decision(exceptions, node, tags_of, today):
    """("INSTALL" | "SKIP", reason) for `node` on `today`. `tags_of()` returns the node's tags now;
    it is called only when an exception that holds selects nodes by tags."""
    live = holding(exceptions, today)
    tags = tags_of() if any(e.get("tags") for e in live) else {}
    hits = [e for e in live if covers(e, node, tags)]
    if not hits:
        return ("INSTALL", "no exception covers %s on %s" % (node, today))
    reasons = []
    for e in hits:
        what = ("keeps %s off it; its other patches wait for the exception's end" % ", ".join(e["patches"])
                if e.get("patches") else "covers all its patches")
        reasons.append("exception %s (%s) %s, through %s" % (e["id"], e.get("ticket", "?"), what, e["expires"]))
    return ("SKIP", "%s left alone: %s" % (node, "; ".join(reasons)))


def gate_held(ssm, parameter, window_execution_id):
    """Why this window run's ring gate holds, or None when the install may go on (or there is no
    gate: `parameter` empty). The gate task (priority 0) records {WindowExecutionId, Decision,
    Reason} in `parameter`; a decision for another run, or none, holds."""
    if not parameter:
        return None
    try:
        recorded = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return "the ring gate recorded no decision (%s); held, as a gate that cannot be read holds" % parameter
    except ValueError:
        return "the ring gate's decision in %s is not JSON; held" % parameter
    if recorded.get("WindowExecutionId") != window_execution_id:
        return ("the ring gate has not decided for window run %s (its last decision is for %s); held"
                % (window_execution_id, recorded.get("WindowExecutionId")))
    if recorded.get("Decision") == "HELD":
        return "the ring gate held this run: %s" % recorded.get("Reason", "")
    return None


def latest_gate_held(ssm, prefix, group):
    """Why patch-now leaves a node of patch group `group` alone: its ring's gate held its last
    window run (the decision recorded under `prefix/<group>`), or None (no gate, or it opened)."""
    if not prefix or not group:
        return None
    try:
        recorded = json.loads(ssm.get_parameter(Name="%s/%s" % (prefix, group))["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None
    except ValueError:
        return "the ring gate's decision for %s is not JSON; held" % group
    if recorded.get("Decision") == "HELD":
        return "the ring gate of %s held its last run (%s): %s" % (
            group, recorded.get("WindowExecutionId", "?"), recorded.get("Reason", ""))
    return None


def published_exceptions(ssm, parameter):
    """The exceptions the StackSet published. A missing or unreadable list raises: the node is then
    not installed and its invocation fails, where someone sees it."""
    value = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    if not isinstance(value, list):
        raise ValueError("%s is not a JSON list" % parameter)
    return value


def today_utc():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).date().isoformat()
