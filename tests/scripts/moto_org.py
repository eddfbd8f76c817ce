"""Creates an organization in a running moto server: one OU per count given, with that many
accounts each. Prints {"org": id, "ous": [{"id": ..., "accounts": [...]}, ...]} as JSON.

    python moto_org.py ENDPOINT COUNT [COUNT ...]
"""
import json
import sys

import boto3

endpoint, counts = sys.argv[1], [int(c) for c in sys.argv[2:]]
org = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
root = org.list_roots()["Roots"][0]["Id"]
ous = []
for i, count in enumerate(counts):
    ou = org.create_organizational_unit(ParentId=root, Name=f"workloads-{i}")["OrganizationalUnit"]["Id"]
    accounts = []
    for j in range(count):
        account = org.create_account(Email=f"a{i}-{j}@example.com", AccountName=f"a{i}-{j}")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        accounts.append(account)
    ous.append({"id": ou, "accounts": accounts})
print(json.dumps({"org": org_id, "ous": ous}))
