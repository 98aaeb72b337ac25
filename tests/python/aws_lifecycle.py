"""boto3 against a real-time sandbox (argv[1], time scale 1), moving its clock through the
admin API: the VPN lifecycle as EC2 documents it and as Terraform's AWS provider relies on it
(attach a VGW right after creating it, wait for `attached`; ModifyVpnTunnelOptions leaves the
connection `modifying`; a VGW still detaching cannot be deleted), the customer gateway
configuration document read the way that provider reads it, DescribeVpcAttribute and
DescribeSecurityGroupRules."""
import json
import sys
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.config
from botocore.exceptions import ClientError

URL = sys.argv[1]
VPC = "vpc-0a1b2c3d4e5f60789"
ec2 = boto3.client(
    "ec2", endpoint_url=URL, region_name="us-east-1",
    aws_access_key_id="AKIDTEST", aws_secret_access_key="SECRET",
    config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
)


def advance(ms):
    req = urllib.request.Request(f"{URL}/_sandbox/clock", data=json.dumps({"advance_ms": ms}).encode(),
                                 method="POST")
    with urllib.request.urlopen(req) as r:
        json.load(r)


def scaled(op):
    with urllib.request.urlopen(f"{URL}/_sandbox/latency") as r:
        return json.load(r)["scaled_ms"][op]


def error(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{fn.__name__} succeeded")


# A VGW is attached at once, while still pending; the attachment completes after it is
# available.
vgw = ec2.create_vpn_gateway(Type="ipsec.1", AmazonSideAsn=64800)["VpnGateway"]
vgw_id = vgw["VpnGatewayId"]
assert vgw["State"] == "pending", vgw
att = ec2.attach_vpn_gateway(VpcId=VPC, VpnGatewayId=vgw_id)["VpcAttachment"]
assert att == {"VpcId": VPC, "State": "attaching"}, att
assert scaled("aws_vpn_gateway_create") <= 10_000
advance(scaled("aws_vpn_gateway_create"))
g = ec2.describe_vpn_gateways(VpnGatewayIds=[vgw_id])["VpnGateways"][0]
assert g["State"] == "available" and g["VpcAttachments"][0]["State"] == "attaching", g
advance(scaled("aws_vpn_gateway_attach"))
g = ec2.describe_vpn_gateways(Filters=[{"Name": "attachment.state", "Values": ["attached"]}])["VpnGateways"]
assert [x["VpnGatewayId"] for x in g] == [vgw_id], g

# A dynamic connection; its configuration document as the Terraform provider reads it.
cgw = ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65040, IpAddress="198.51.100.40")["CustomerGateway"]
conn = ec2.create_vpn_connection(
    Type="ipsec.1", CustomerGatewayId=cgw["CustomerGatewayId"], VpnGatewayId=vgw_id,
    Options={"StaticRoutesOnly": False, "TunnelOptions": [
        {"TunnelInsideCidr": "169.254.60.0/30", "PreSharedKey": "life_key_one"},
        {"TunnelInsideCidr": "169.254.60.4/30", "PreSharedKey": "life_key_two"}]},
)["VpnConnection"]
cid = conn["VpnConnectionId"]
assert conn["State"] == "pending", conn
doc = ET.fromstring(conn["CustomerGatewayConfiguration"])
assert doc.tag == "vpn_connection" and doc.get("id") == cid, doc.attrib
assert doc.findtext("customer_gateway_id") == cgw["CustomerGatewayId"]
assert doc.findtext("vpn_gateway_id") == vgw_id
assert doc.findtext("vpn_connection_type") == "ipsec.1"
tunnels = doc.findall("ipsec_tunnel")
assert len(tunnels) == 2, ET.tostring(doc)
expect = [("169.254.60.1", "169.254.60.2", "life_key_one"), ("169.254.60.5", "169.254.60.6", "life_key_two")]
for t, (vgw_inside, cgw_inside, key) in zip(tunnels, expect):
    assert t.findtext("customer_gateway/tunnel_outside_address/ip_address") == "198.51.100.40"
    assert t.findtext("customer_gateway/tunnel_inside_address/ip_address") == cgw_inside
    assert t.findtext("customer_gateway/tunnel_inside_address/network_mask") == "255.255.255.252"
    assert t.findtext("customer_gateway/tunnel_inside_address/network_cidr") == "30"
    assert t.findtext("customer_gateway/bgp/asn") == "65040"
    assert t.findtext("customer_gateway/bgp/hold_time") == "30"
    assert t.findtext("vpn_gateway/tunnel_inside_address/ip_address") == vgw_inside
    assert t.findtext("vpn_gateway/bgp/asn") == "64800"
    assert t.findtext("vpn_gateway/bgp/hold_time") == "30"
    assert t.findtext("ike/pre_shared_key") == key
    for path in ("ike/authentication_protocol", "ike/encryption_protocol", "ike/lifetime",
                 "ike/perfect_forward_secrecy", "ike/mode", "ipsec/protocol", "ipsec/encryption_protocol",
                 "ipsec/dead_peer_detection/interval"):
        assert t.findtext(path), path
outside = [t.findtext("vpn_gateway/tunnel_outside_address/ip_address") for t in tunnels]
assert outside == [o["OutsideIpAddress"] for o in conn["Options"]["TunnelOptions"]], outside
assert error(ec2.modify_vpn_tunnel_options, VpnConnectionId=cid, VpnTunnelOutsideIpAddress=outside[0],
             TunnelOptions={"PreSharedKey": "early_key_1"})[0] == "IncorrectState", "still pending"
advance(scaled("aws_vpn_connection_create"))
assert ec2.describe_vpn_connections(VpnConnectionIds=[cid])["VpnConnections"][0]["State"] == "available"

# ModifyVpnTunnelOptions: one tunnel, `modifying`, then available with the new options.
out = ec2.modify_vpn_tunnel_options(
    VpnConnectionId=cid, VpnTunnelOutsideIpAddress=outside[1],
    TunnelOptions={"PreSharedKey": "life_key_new", "TunnelInsideCidr": "169.254.60.8/30",
                   "DPDTimeoutSeconds": 40, "IKEVersions": [{"Value": "ikev2"}],
                   "Phase1EncryptionAlgorithms": [{"Value": "AES256"}], "Phase1DHGroupNumbers": [{"Value": 14}]},
)["VpnConnection"]
assert out["VpnConnectionId"] == cid and out["State"] == "modifying", out
t2 = out["Options"]["TunnelOptions"][1]
assert (t2["OutsideIpAddress"], t2["PreSharedKey"], t2["TunnelInsideCidr"], t2["DpdTimeoutSeconds"]) == \
    (outside[1], "life_key_new", "169.254.60.8/30", 40), t2
assert t2["IkeVersions"] == [{"Value": "ikev2"}] and t2["Phase1DHGroupNumbers"] == [{"Value": 14}], t2
assert out["Options"]["TunnelOptions"][0]["PreSharedKey"] == "life_key_one", "tunnel 1 is untouched"
doc = ET.fromstring(out["CustomerGatewayConfiguration"])
t = doc.findall("ipsec_tunnel")[1]
assert t.findtext("ike/pre_shared_key") == "life_key_new"
assert t.findtext("vpn_gateway/tunnel_inside_address/ip_address") == "169.254.60.9"
assert t.findtext("ike/encryption_protocol") == "aes-256-cbc" and t.findtext("ike/perfect_forward_secrecy") == "group14"
found = ec2.describe_vpn_connections(Filters=[{"Name": "state", "Values": ["modifying"]}])["VpnConnections"]
assert [c["VpnConnectionId"] for c in found] == [cid], found
assert error(ec2.modify_vpn_tunnel_options, VpnConnectionId=cid, VpnTunnelOutsideIpAddress=outside[0],
             TunnelOptions={"PreSharedKey": "other_key_1"})[0] == "IncorrectState"
tel = ec2.describe_vpn_connections(VpnConnectionIds=[cid])["VpnConnections"][0]["VgwTelemetry"]
assert tel[1]["Status"] == "DOWN" and "PROVISIONED" in tel[1]["StatusMessage"], tel
advance(scaled("aws_vpn_connection_modify"))
c = ec2.describe_vpn_connections(VpnConnectionIds=[cid])["VpnConnections"][0]
assert c["State"] == "available", c
assert error(ec2.modify_vpn_tunnel_options, VpnConnectionId=cid, VpnTunnelOutsideIpAddress="198.18.250.250",
             TunnelOptions={"PreSharedKey": "other_key_1"})[0] == "InvalidParameterValue"
assert error(ec2.modify_vpn_tunnel_options, VpnConnectionId=cid, VpnTunnelOutsideIpAddress=outside[0],
             TunnelOptions={"TunnelInsideCidr": "169.254.60.8/30"})[0] == "InvalidParameterValue", \
    "the other tunnel of this VGW has it"

# DescribeVpcAttribute, one attribute per call.
for attribute, key, value in (("enableDnsSupport", "EnableDnsSupport", True),
                              ("enableDnsHostnames", "EnableDnsHostnames", False),
                              ("enableNetworkAddressUsageMetrics", "EnableNetworkAddressUsageMetrics", False)):
    a = ec2.describe_vpc_attribute(VpcId=VPC, Attribute=attribute)
    assert a["VpcId"] == VPC and a[key] == {"Value": value}, a
assert error(ec2.describe_vpc_attribute, VpcId="vpc-0000000000000dead",
             Attribute="enableDnsSupport")[0] == "InvalidVpcID.NotFound"

# DescribeSecurityGroupRules: by group with the paginator, by id.
sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [VPC]},
                                           {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
perms = [{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}
         for p in (443, 8443, 9443, 10443, 11443)]
added = ec2.authorize_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=perms)["SecurityGroupRules"]
pages = ec2.get_paginator("describe_security_group_rules").paginate(
    Filters=[{"Name": "group-id", "Values": [sg["GroupId"]]}], PaginationConfig={"PageSize": 5})
rules = [r for page in pages for r in page["SecurityGroupRules"]]
assert len(rules) == 7, rules  # the default group's two rules and the five added
assert {r["SecurityGroupRuleId"] for r in added} <= {r["SecurityGroupRuleId"] for r in rules}
one = ec2.describe_security_group_rules(SecurityGroupRuleIds=[added[2]["SecurityGroupRuleId"]])["SecurityGroupRules"]
assert len(one) == 1 and one[0]["FromPort"] == 9443 and one[0]["GroupId"] == sg["GroupId"], one
assert one[0]["CidrIpv4"] == "10.20.0.0/16" and one[0]["IsEgress"] is False, one
assert error(ec2.describe_security_group_rules,
             SecurityGroupRuleIds=["sgr-0000000000000dead"])[0] == "InvalidSecurityGroupRuleId.NotFound"

# Teardown: a VGW still detaching cannot be deleted (the provider retries IncorrectState).
ec2.delete_vpn_connection(VpnConnectionId=cid)
advance(scaled("aws_vpn_connection_delete"))
ec2.delete_customer_gateway(CustomerGatewayId=cgw["CustomerGatewayId"])
ec2.detach_vpn_gateway(VpcId=VPC, VpnGatewayId=vgw_id)
code, message = error(ec2.delete_vpn_gateway, VpnGatewayId=vgw_id)
assert code == "IncorrectState" and "detaching" in message, (code, message)
advance(scaled("aws_vpn_gateway_attach"))
ec2.delete_vpn_gateway(VpnGatewayId=vgw_id)
assert ec2.describe_vpn_gateways(VpnGatewayIds=[vgw_id])["VpnGateways"][0]["State"] == "deleting"
print("aws_lifecycle: ok")
