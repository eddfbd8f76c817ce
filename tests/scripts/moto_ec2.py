"""Runs one tagged EC2 instance in a running moto server, in ACCOUNT (through an assumed role when
it is not moto's default account), and prints its id.

    python moto_ec2.py ENDPOINT ACCOUNT REGION '{"PatchGroup": "AL2023-early", ...}'
"""
import json
import sys

import boto3


def ec2_in(endpoint, account, region):
    """An EC2 client of `account` in moto: moto's default account directly, another one through
    an assumed role (moto's STS lets any role be assumed)."""
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if account != "123456789012":
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, **creds)
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup")["Credentials"]
        creds = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                 "aws_session_token": c["SessionToken"]}
    return boto3.client("ec2", endpoint_url=endpoint, region_name=region, **creds)


if __name__ == "__main__":
    endpoint, account, region, tags = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    ec2 = ec2_in(endpoint, account, region)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    out = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )
    print(out["Instances"][0]["InstanceId"])
