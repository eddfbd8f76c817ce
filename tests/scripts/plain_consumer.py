"""The baseline the bridge's CPU is compared with (issue 15, BENCHMARKS.md): a plain
single-process Python/boto3 consumer doing the same job for patch compliance events.

It long-polls the queue (10 messages, 20 s, like the bridge's defaults), and for each
`Configuration Compliance State Change` of type Patch reads the node's tags (GetResources, cached
for 300 s, as the bridge's default enrichment does) and makes the ServiceNow calls the bridge makes
for it: the newest row with the correlation key, then for `non_compliant` with none open a POST
and the race check (the open rows with the key), for `compliant` with one open a PATCH to
Resolved. Then it deletes the batch. It prints `ready` once its clients exist and, after `total`
deleted messages, `done` with its own CPU seconds since its first message (user + system, from
getrusage); then it waits for stdin to close, so the harness can read /proc the same way it
reads the bridge's.

usage: plain_consumer.py ENDPOINT QUEUE_URL SNOW_URL TOTAL   (password in SERVICENOW_PASSWORD)
"""

import json
import os
import resource
import sys
import time
import urllib.parse

import boto3
import urllib3


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    endpoint, queue_url, snow, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    tagging = boto3.client("resourcegroupstaggingapi", endpoint_url=endpoint, region_name="us-east-1")
    cache = {}

    def owner(arn):
        hit = cache.get(arn)
        if hit is None or hit[0] < time.monotonic():
            got = tagging.get_resources(ResourceARNList=[arn])["ResourceTagMappingList"]
            tags = {t["Key"]: t["Value"] for m in got for t in m.get("Tags", [])}
            hit = cache[arn] = (time.monotonic() + 300, tags.get("patchplane:owner") or tags.get("Owner"))
        return hit[1]

    http = urllib3.PoolManager()
    headers = urllib3.make_headers(basic_auth="bridge:" + os.environ["SERVICENOW_PASSWORD"])
    headers.update({"Accept": "application/json", "Content-Type": "application/json"})
    table = snow + "/api/now/table/incident"
    print("ready", flush=True)

    def rows(query, limit):
        q = urllib.parse.urlencode({"sysparm_query": query, "sysparm_limit": limit})
        return json.loads(http.request("GET", table + "?" + q, headers=headers).data)["result"]

    def write(method, url, body):
        r = http.request(method, url, body=json.dumps(body), headers=headers)
        assert r.status in (200, 201), r.data

    start, done, receives = None, 0, 0
    while done < total:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        messages = got.get("Messages", [])
        receives += 1
        if start is None and messages:
            start = cpu()
        for m in messages:
            e = json.loads(m["Body"])
            d = e["detail"]
            if e["detail-type"] != "Configuration Compliance State Change" or d["compliance-type"] != "Patch":
                continue
            key = "/".join([e["account"], e["region"], d["resource-id"], "compliance", "patch"])
            group = owner(f"arn:aws:ec2:{e['region']}:{e['account']}:instance/{d['resource-id']}")
            latest = rows(f"correlation_id={key}^state!=8^ORDERBYDESCsys_created_on", 5)
            is_open = latest and latest[0]["state"] in ("1", "2", "3")
            if d["compliance-status"] == "non_compliant" and not is_open:
                write("POST", table, {"short_description": f"{d['resource-id']} is non_compliant for Patch",
                                      "correlation_id": key, "correlation_display": e["time"],
                                      "assignment_group": group or "Cloud Platform"})
                rows(f"correlation_id={key}^stateIN1,2,3^ORDERBYsys_created_on", 10)
            elif d["compliance-status"] == "compliant" and is_open:
                write("PATCH", table + "/" + latest[0]["sys_id"],
                      {"state": "6", "close_code": "Solved (Permanently)", "close_notes": "compliant",
                       "correlation_display": e["time"]})
        if messages:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            done += len(messages)
    print("done", json.dumps({"cpu_seconds": cpu() - (start or cpu()), "messages": done, "receives": receives}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
