"""boto3 against the sandbox's EC2 front end (argv[1]): the calls peerctl makes for an
AWS side, with assertions on what comes back, including EC2 error codes."""
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

URL = sys.argv[1]
VPC = "vpc-0a1b2c3d4e5f60789"
ec2 = boto3.client(
    "ec2", endpoint_url=URL, region_name="us-east-1",
    aws_access_key_id="AKIDTEST", aws_secret_access_key="SECRET",
    config=botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"}),
)


def code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{fn.__name__} succeeded")


vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["aws-use1"]}])["Vpcs"]
assert [v["VpcId"] for v in vpcs] == [VPC], vpcs
assert vpcs[0]["CidrBlock"] == "10.10.0.0/16"

vgw = ec2.create_vpn_gateway(
    Type="ipsec.1", AmazonSideAsn=64700,
    TagSpecifications=[{"ResourceType": "vpn-gateway", "Tags": [{"Key": "Name", "Value": "boto"}]}],
)["VpnGateway"]
assert vgw["AmazonSideAsn"] == 64700 and vgw["Tags"] == [{"Key": "Name", "Value": "boto"}], vgw
att = ec2.attach_vpn_gateway(VpcId=VPC, VpnGatewayId=vgw["VpnGatewayId"])["VpcAttachment"]
assert att["VpcId"] == VPC, att

cgw = ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65030, IpAddress="198.51.100.30")["CustomerGateway"]
assert cgw["BgpAsn"] == "65030" and cgw["IpAddress"] == "198.51.100.30", cgw
assert code(ec2.create_customer_gateway, Type="ipsec.1", BgpAsn=65031,
            IpAddress="198.51.100.30") == "InvalidCustomerGateway.DuplicateIpAddress"


def tunnel(cidr, key):
    return {
        "TunnelInsideCidr": cidr, "PreSharedKey": key, "IKEVersions": [{"Value": "ikev2"}],
        "Phase1EncryptionAlgorithms": [{"Value": "AES256"}], "Phase2EncryptionAlgorithms": [{"Value": "AES256"}],
        "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}], "Phase2IntegrityAlgorithms": [{"Value": "SHA2-256"}],
        "Phase1DHGroupNumbers": [{"Value": 14}], "Phase2DHGroupNumbers": [{"Value": 14}],
    }


conn = ec2.create_vpn_connection(
    Type="ipsec.1", CustomerGatewayId=cgw["CustomerGatewayId"], VpnGatewayId=vgw["VpnGatewayId"],
    Options={"StaticRoutesOnly": True,
             "TunnelOptions": [tunnel("169.254.40.0/30", "boto_key_one"), tunnel("169.254.40.4/30", "boto_key_two")]},
)["VpnConnection"]
cid = conn["VpnConnectionId"]
assert code(ec2.create_vpn_connection, Type="ipsec.1", CustomerGatewayId=cgw["CustomerGatewayId"],
            VpnGatewayId=vgw["VpnGatewayId"],
            Options={"TunnelOptions": [{"TunnelInsideCidr": "169.254.5.0/30"}]}) == "InvalidParameterValue"
ec2.create_vpn_connection_route(VpnConnectionId=cid, DestinationCidrBlock="10.30.0.0/16")

c = ec2.describe_vpn_connections(VpnConnectionIds=[cid])["VpnConnections"][0]
assert c["State"] == "available" and c["Options"]["StaticRoutesOnly"] is True, c
opts = c["Options"]["TunnelOptions"]
assert [t["TunnelInsideCidr"] for t in opts] == ["169.254.40.0/30", "169.254.40.4/30"], opts
assert opts[0]["IkeVersions"] == [{"Value": "ikev2"}] and opts[0]["Phase1DHGroupNumbers"] == [{"Value": 14}], opts
tel = c["VgwTelemetry"]
assert [t["OutsideIpAddress"] for t in tel] == [t["OutsideIpAddress"] for t in opts], tel
assert all(t["Status"] == "DOWN" and t["StatusMessage"] == "IPSEC IS DOWN" for t in tel), tel
assert hasattr(tel[0]["LastStatusChange"], "year"), tel
assert c["Routes"] == [{"DestinationCidrBlock": "10.30.0.0/16", "Source": "Static", "State": "available"}], c

rtb = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [VPC]}])["RouteTables"][0]["RouteTableId"]
ec2.enable_vgw_route_propagation(GatewayId=vgw["VpnGatewayId"], RouteTableId=rtb)
ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="10.40.0.0/16", GatewayId=vgw["VpnGatewayId"])
pages = ec2.get_paginator("describe_route_tables").paginate(PaginationConfig={"PageSize": 5})
tables = [t for page in pages for t in page["RouteTables"]]
mine = [t for t in tables if t["RouteTableId"] == rtb][0]
assert mine["PropagatingVgws"] == [{"GatewayId": vgw["VpnGatewayId"]}], mine
assert {"DestinationCidrBlock": "10.40.0.0/16", "GatewayId": vgw["VpnGatewayId"], "Origin": "CreateRoute",
        "State": "active"} in mine["Routes"], mine["Routes"]

sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [VPC]},
                                           {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
perm = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.30.0.0/16"}]}
rules = ec2.authorize_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=[perm])["SecurityGroupRules"]
assert rules[0]["CidrIpv4"] == "10.30.0.0/16" and rules[0]["IsEgress"] is False, rules
assert code(ec2.authorize_security_group_ingress, GroupId=sg["GroupId"],
            IpPermissions=[perm]) == "InvalidPermission.Duplicate"
sg = ec2.describe_security_groups(GroupIds=[sg["GroupId"]])["SecurityGroups"][0]
assert any(p.get("FromPort") == 443 for p in sg["IpPermissions"]), sg
ec2.revoke_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=[perm])

ec2.create_tags(Resources=[cid], Tags=[{"Key": "peerctl:topology", "Value": "prod-mesh"}])
found = ec2.describe_vpn_connections(Filters=[{"Name": "tag-key", "Values": ["peerctl:*"]}])["VpnConnections"]
assert [x["VpnConnectionId"] for x in found] == [cid], found
ec2.delete_tags(Resources=[cid])
assert ec2.describe_vpn_connections(Filters=[{"Name": "tag-key", "Values": ["peerctl:*"]}])["VpnConnections"] == []

ec2.delete_vpn_connection(VpnConnectionId=cid)
assert ec2.describe_vpn_connections(VpnConnectionIds=[cid])["VpnConnections"][0]["State"] == "deleted"
assert code(ec2.describe_vpn_gateways, VpnGatewayIds=["vgw-0000000000000dead"]) == "InvalidVpnGatewayID.NotFound"
print("aws_client: ok")
