"""Prints the tags of one EC2 instance in a running moto server, in ACCOUNT (as moto_ec2.py reaches
it), as a JSON object.

    python moto_tags.py ENDPOINT ACCOUNT REGION INSTANCE_ID
"""
import json
import sys

from moto_ec2 import ec2_in

endpoint, account, region, instance = sys.argv[1:5]
tags = ec2_in(endpoint, account, region).describe_tags(
    Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
print(json.dumps({t["Key"]: t["Value"] for t in tags}))
