"""The three clouds' Python clients against a sandbox that rejects credentials (argv[1],
started with `reject_credentials`): each sees its cloud's own authentication error, as it
would with bad credentials — boto3 `AuthFailure` (HTTP 401), google-cloud-compute
`Unauthorized` (401 UNAUTHENTICATED), azure-mgmt-network `ClientAuthenticationError` (401
InvalidAuthenticationToken). Then `POST /_sandbox/auth {"reject": false}` lets them in."""
import json
import sys
import time
import urllib.request

import boto3
import botocore.config
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.mgmt.network import NetworkManagementClient
from botocore.exceptions import ClientError
from google.api_core import exceptions as gexc
from google.auth import credentials as gcreds
from google.cloud import compute_v1

from azure_client import BearerOverHttp, FakeCredential
from azure_sandbox import RG, SUB, VNET

URL = sys.argv[1]
ec2 = boto3.client(
    "ec2", endpoint_url=URL, region_name="us-east-1",
    aws_access_key_id="AKIDTEST", aws_secret_access_key="SECRET",
    config=botocore.config.Config(retries={"max_attempts": 1}),
)


class TokenCredentials(gcreds.Credentials):
    """A bearer token that "refreshes" to another fake one: google-auth answers a 401 by
    refreshing and retrying, as it does against Google, before it gives up."""

    def __init__(self):
        super().__init__()
        self.token, self.refreshes = "fake-token-0", 0

    def refresh(self, request):
        self.refreshes += 1
        self.token = f"fake-token-{self.refreshes}"


gcp_cred = TokenCredentials()
networks = compute_v1.NetworksClient(credentials=gcp_cred, client_options={"api_endpoint": URL})
cred = FakeCredential()
arm = NetworkManagementClient(cred, SUB, base_url=URL, authentication_policy=BearerOverHttp(cred))


def set_reject(reject):
    req = urllib.request.Request(f"{URL}/_sandbox/auth", data=json.dumps({"reject": reject}).encode(),
                                 method="POST")
    with urllib.request.urlopen(req) as r:
        assert json.load(r) == {"reject": reject}


with urllib.request.urlopen(f"{URL}/_sandbox/auth") as r:
    assert json.load(r) == {"reject": True}

try:
    ec2.describe_vpcs()
    raise AssertionError("EC2 accepted the call")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AuthFailure", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 401, e.response

try:
    networks.get(project="acme-net", network="prod-vpc")
    raise AssertionError("Compute accepted the call")
except gexc.Unauthorized as e:
    assert e.code == 401, e
    assert any(err.get("reason") == "authError" for err in e.errors), e.errors
    assert gcp_cred.refreshes >= 1, "google-auth refreshed the token before giving up"

try:
    arm.virtual_networks.get(RG, VNET)
    raise AssertionError("ARM accepted the call")
except ClientAuthenticationError as e:
    assert e.status_code == 401 and e.error.code == "InvalidAuthenticationToken", (e.status_code, e.error)

set_reject(False)
assert ec2.describe_vpcs()["Vpcs"], "EC2 lets the call in"
assert networks.get(project="acme-net", network="prod-vpc").name == "prod-vpc"
assert arm.virtual_networks.get(RG, VNET).name == VNET
set_reject(True)
try:
    ec2.describe_vpcs()
    raise AssertionError("EC2 accepted the call")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AuthFailure"
print("auth_rejection: ok")
