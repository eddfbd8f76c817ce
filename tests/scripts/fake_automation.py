"""A local endpoint for `patchplane patch-now` tests: SSM's Automation calls (which moto does not
implement) are answered with copies of AWS's documented examples, every other request is passed
to a running moto server unchanged. Each SSM request is appended, as JSON, to LOG.

    python fake_automation.py PORT MOTO_ENDPOINT LOG

Answers (tests/fixtures/aws/ssm/, each file naming its page):
- ModifyDocumentPermission: {} (the API returns an empty body; moto is not asked, it has no
  document of that name);
- StartAutomationExecution: StartAutomationExecution.json's multi-account example response;
- GetAutomationExecution: GetAutomationExecution.json's execution, with its status Success and
  ProgressCounters (the API reference's fields) for a finished run."""
import copy
import http.server
import json
import pathlib
import sys
import urllib.request

PORT, MOTO, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "aws" / "ssm"
START = json.loads((FIXTURES / "StartAutomationExecution.json").read_text())["more_examples"][0]["response"]
EXECUTION = json.loads((FIXTURES / "GetAutomationExecution.json").read_text())["response"]


def answer(target, body):
    if target == "AmazonSSM.ModifyDocumentPermission":
        return {}
    if target == "AmazonSSM.StartAutomationExecution":
        return copy.deepcopy(START)
    if target == "AmazonSSM.GetAutomationExecution":
        e = copy.deepcopy(EXECUTION)
        e["AutomationExecution"]["AutomationExecutionId"] = body.get("AutomationExecutionId", "")
        e["AutomationExecution"]["AutomationExecutionStatus"] = "Success"
        e["AutomationExecution"]["ProgressCounters"] = {"TotalSteps": 2, "SuccessSteps": 2, "FailedSteps": 0,
                                                        "CancelledSteps": 0, "TimedOutSteps": 0}
        return e
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def forward(self, method):
        length = int(self.headers.get("content-length") or 0)
        data = self.rfile.read(length) if length else None
        target = self.headers.get("x-amz-target", "")
        if target.startswith("AmazonSSM.") and answer(target, {}) is not None:
            body = json.loads(data or b"{}")
            with open(LOG, "a") as f:
                f.write(json.dumps({"target": target, "body": body}) + "\n")
            out = json.dumps(answer(target, body)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/x-amz-json-1.1")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        req = urllib.request.Request(MOTO + self.path, data=data, method=method,
                                     headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
        try:
            resp = urllib.request.urlopen(req)
            status, headers, out = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, headers, out = e.code, e.headers, e.read()
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self.forward("GET")

    def do_POST(self):
        self.forward("POST")

    def do_PUT(self):
        self.forward("PUT")

    def do_HEAD(self):
        self.forward("HEAD")


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
