"""Prints the tags of one EC2 instance in a running moto server, in ACCOUNT (through an assumed role
when it is not moto's default account), as a JSON object.

    python moto_tags.py ENDPOINT ACCOUNT REGION INSTANCE_ID
"""
import json
import sys

import boto3

endpoint, account, region, instance = sys.argv[1:5]
creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
if account != "123456789012":
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, **creds)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup")["Credentials"]
    creds = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
             "aws_session_token": c["SessionToken"]}
ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=region, **creds)
tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
print(json.dumps({t["Key"]: t["Value"] for t in tags}))
