"""The per-node install's first step as SSM stores it, run against moto server (AWS_ENDPOINT_URL).

  launch SPEC_JSON        runs one EC2 instance per {"name": {tag: value}}; prints {name: id}
  decide DOC IDS DAYS     reads Automation document DOC from SSM (as the stack created it), runs its
                          CheckNode step's script for each node id of IDS on each day of DAYS, with
                          the document's own default ExceptionsParameter; prints {day: {name: action}}
  patch-now DOC IDS RUN BUCKET DAY
                          the same step as patch-now's children run it (Mode patch-now, DryRun, the
                          document's defaults), recording each node's result in BUCKET under RUN

Run by tests/tests/node_install.rs."""
import contextlib
import json
import sys

import boto3


def launch(spec):
    ec2 = boto3.client("ec2")
    out = {}
    for name, tags in spec.items():
        r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])
        out[name] = r["Instances"][0]["InstanceId"]
    return out


def decide(document, ids, days):
    ssm = boto3.client("ssm")
    content = json.loads(ssm.get_document(Name=document, DocumentFormat="JSON")["Content"])
    (step,) = [s for s in content["mainSteps"] if s["name"] == "CheckNode"]
    module = {"__name__": "check_node"}
    exec(compile(step["inputs"]["Script"], document, "exec"), module)
    parameter = content["parameters"]["ExceptionsParameter"]["default"]
    out = {}
    for day in days:
        module["today_utc"] = lambda day=day: day
        # The step's log lines (what the Automation's output shows) go to stderr here.
        with contextlib.redirect_stdout(sys.stderr):
            out[day] = {name: module["handler"]({"InstanceId": node, "ExceptionsParameter": parameter,
                                                 "GateDecisionParameter": "", "WindowExecutionId": ""},
                                                None)["Action"]
                        for name, node in ids.items()}
    return out


def patch_now(document, ids, run, bucket, day):
    ssm = boto3.client("ssm")
    content = json.loads(ssm.get_document(Name=document, DocumentFormat="JSON")["Content"])
    (step,) = [s for s in content["mainSteps"] if s["name"] == "CheckNode"]
    module = {"__name__": "check_node"}
    exec(compile(step["inputs"]["Script"], document, "exec"), module)
    module["today_utc"] = lambda: day
    defaults = {k: v.get("default", "") for k, v in content["parameters"].items() if isinstance(v.get("default"), str)}
    out = {}
    with contextlib.redirect_stdout(sys.stderr):
        for name, node in ids.items():
            events = dict(defaults, InstanceId=node, Mode="patch-now", DryRun="true", SkipGate="false",
                          ResultBucket=bucket, RunId=run, Ticket="INC0012345", Reason="CVE-2026-1234")
            out[name] = module["handler"](events, None)["Action"]
    return out


if __name__ == "__main__":
    if sys.argv[1] == "patch-now":
        print(json.dumps(patch_now(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])))
    elif sys.argv[1] == "launch":
        print(json.dumps(launch(json.loads(sys.argv[2]))))
    else:
        print(json.dumps(decide(sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]))))
