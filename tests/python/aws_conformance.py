"""Checks the sandbox's EC2 responses against botocore's published EC2 model.

Drives the sandbox at argv[1] with raw EC2 Query requests (the wire, not a client that
would ignore unknown elements), then walks every XML element of every response against the
operation's output shape: element names must be the model's locationNames, lists must hold
`item`s, scalars must parse as their type (integer, boolean, timestamp, enum value), and
members the model marks required must be present (botocore marks none in these output
shapes today; the check keeps working if it starts to).

The responses walked include an UP dynamic tunnel with BGP telemetry ("N BGP ROUTES") and
the route it propagates: its peer is an HA VPN tunnel of the sandbox's GCP side, configured
over raw Compute REST calls.
"""
import glob
import gzip
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import botocore

URL = sys.argv[1]
MODEL_PATH = os.path.join(os.path.dirname(botocore.__file__), "data/ec2/2016-11-15/service-2.json")
path = glob.glob(MODEL_PATH + "*")[0]
MODEL = json.load(gzip.open(path) if path.endswith(".gz") else open(path))
SHAPES = MODEL["shapes"]
ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
errors = []
checked = set()
# Every element path walked (`Action/member/item/…`), to prove the interesting parts were seen.
paths = set()
required_checked = 0


def check_required(elem_tags, shape_name, here):
    global required_checked
    shape = SHAPES[shape_name]
    for name in shape.get("required", []):
        required_checked += 1
        loc = shape["members"][name].get("locationName", name)
        if loc not in elem_tags:
            errors.append(f"{here}: required member <{loc}> of {shape_name} is missing")


def local(tag):
    return tag.split("}", 1)[-1]


def walk(elem, shape_name, where):
    shape = SHAPES[shape_name]
    kind = shape["type"]
    here = f"{where}/{local(elem.tag)}"
    paths.add(here)
    if kind == "structure":
        members = {m.get("locationName", name): m["shape"] for name, m in shape["members"].items()}
        if elem.text and elem.text.strip():
            errors.append(f"{here}: text in a structure ({shape_name})")
        check_required({local(c.tag) for c in elem}, shape_name, here)
        for child in elem:
            tag = local(child.tag)
            if tag not in members:
                errors.append(f"{here}/{tag}: not a member of {shape_name}")
            else:
                walk(child, members[tag], here)
    elif kind == "list":
        item = shape["member"].get("locationName", "member")
        for child in elem:
            if local(child.tag) != item:
                errors.append(f"{here}/{local(child.tag)}: list items of {shape_name} are <{item}>")
            walk(child, shape["member"]["shape"], here)
    else:
        checked.add(shape_name)
        if len(elem):
            errors.append(f"{here}: children in a scalar ({shape_name})")
        text = elem.text or ""
        if kind in ("integer", "long"):
            try:
                int(text)
            except ValueError:
                errors.append(f"{here}: '{text}' is not an {kind}")
        elif kind == "boolean" and text not in ("true", "false"):
            errors.append(f"{here}: '{text}' is not a boolean")
        elif kind == "timestamp" and not ISO8601.match(text):
            errors.append(f"{here}: '{text}' is not an ISO-8601 timestamp")
        elif kind == "string" and "enum" in shape and text not in shape["enum"]:
            errors.append(f"{here}: '{text}' is not one of {shape['enum']}")


def call(action, **params):
    form = {"Action": action, "Version": "2016-11-15", **params}
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(URL + "/", data=data, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req) as r:
            status, body, headers = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, body, headers = e.code, e.read(), e.headers
    if not headers.get("x-amzn-requestid"):
        errors.append(f"{action}: no x-amzn-requestid header")
    root = ET.fromstring(body)
    if status != 200:
        return status, root
    if local(root.tag) != f"{action}Response":
        errors.append(f"{action}: root <{local(root.tag)}>")
    if not root.tag.startswith("{http://ec2.amazonaws.com/doc/2016-11-15/}"):
        errors.append(f"{action}: root namespace {root.tag}")
    out = MODEL["operations"][action].get("output")
    members = {}
    if out:
        members = {m.get("locationName", n): m["shape"] for n, m in SHAPES[out["shape"]]["members"].items()}
    seen_request_id = False
    for child in root:
        tag = local(child.tag)
        if tag == "requestId":
            seen_request_id = True
        elif tag in members:
            walk(child, members[tag], action)
        elif not out and tag == "return" and child.text == "true":
            # Output-less operations: real EC2 still answers <return>true</return>.
            pass
        else:
            errors.append(f"{action}/{tag}: not in the output of {action}")
    if not seen_request_id:
        errors.append(f"{action}: no <requestId>")
    if out:
        check_required({local(c.tag) for c in root}, out["shape"], action)
    return status, root


def find(root, tag):
    for e in root.iter():
        if local(e.tag) == tag:
            return e.text
    raise AssertionError(f"no <{tag}> in {ET.tostring(root)[:400]}")


def find_all(root, tag):
    return [e for e in root.iter() if local(e.tag) == tag]


def gcp(method, path, body=None):
    """A raw Compute v1 call on the sandbox's GCP side; waits for its operation."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{URL}/compute/v1/projects/acme-net{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        out = json.load(r)
    if out.get("kind") == "compute#operation":
        for _ in range(200):
            if out.get("status") == "DONE":
                break
            time.sleep(0.05)
            with urllib.request.urlopen(out["selfLink"]) as r:
                out = json.load(r)
        assert out.get("status") == "DONE" and not out.get("error"), out
    return out


def must(status_root):
    status, root = status_root
    assert status == 200, ET.tostring(root)
    return root


VPC = "vpc-0a1b2c3d4e5f60789"
must(call("DescribeVpcs"))
must(call("DescribeSubnets", **{"Filter.1.Name": "vpc-id", "Filter.1.Value.1": VPC}))
vgw = find(must(call("CreateVpnGateway", Type="ipsec.1", AmazonSideAsn="64600",
                     **{"TagSpecification.1.ResourceType": "vpn-gateway",
                        "TagSpecification.1.Tag.1.Key": "Name",
                        "TagSpecification.1.Tag.1.Value": "conformance"})), "vpnGatewayId")
must(call("AttachVpnGateway", VpcId=VPC, VpnGatewayId=vgw))
must(call("DescribeVpnGateways"))
cgw = find(must(call("CreateCustomerGateway", Type="ipsec.1", IpAddress="198.51.100.20", BgpAsn="65020",
                     DeviceName="onprem")), "customerGatewayId")
must(call("DescribeCustomerGateways"))
tunnel = {}
for n, cidr in ((1, "169.254.30.0/30"), (2, "169.254.30.4/30")):
    p = f"Options.TunnelOptions.{n}."
    tunnel.update({
        p + "TunnelInsideCidr": cidr, p + "PreSharedKey": f"conformance_key_{n}",
        p + "IKEVersion.1.Value": "ikev2",
        p + "Phase1EncryptionAlgorithm.1.Value": "AES256", p + "Phase2EncryptionAlgorithm.1.Value": "AES256",
        p + "Phase1IntegrityAlgorithm.1.Value": "SHA2-256", p + "Phase2IntegrityAlgorithm.1.Value": "SHA2-256",
        p + "Phase1DHGroupNumber.1.Value": "14", p + "Phase2DHGroupNumber.1.Value": "14",
    })
vpn = find(must(call("CreateVpnConnection", Type="ipsec.1", CustomerGatewayId=cgw, VpnGatewayId=vgw,
                     **{"Options.StaticRoutesOnly": "true"}, **tunnel)), "vpnConnectionId")
must(call("CreateVpnConnectionRoute", VpnConnectionId=vpn, DestinationCidrBlock="10.30.0.0/16"))
must(call("DescribeVpnConnections"))
rtb = find(must(call("DescribeRouteTables", **{"Filter.1.Name": "vpc-id", "Filter.1.Value.1": VPC})),
           "routeTableId")
must(call("EnableVgwRoutePropagation", GatewayId=vgw, RouteTableId=rtb))

# A dynamic connection whose tunnel 1 peers with an HA VPN tunnel of the triangle's GCP
# network (10.20.0.0/16): IPsec and BGP come up, GCP's subnet propagates into the table.
R = "/regions/us-central1"
gcp("POST", f"{R}/vpnGateways", {"name": "conf-gw", "network": "global/networks/prod-vpc"})
gcp_ip = gcp("GET", f"{R}/vpnGateways/conf-gw")["vpnInterfaces"][0]["ipAddress"]
bgp_cgw = find(must(call("CreateCustomerGateway", Type="ipsec.1", IpAddress=gcp_ip, BgpAsn="65030")),
               "customerGatewayId")
bgp_vpn_root = must(call("CreateVpnConnection", Type="ipsec.1", CustomerGatewayId=bgp_cgw, VpnGatewayId=vgw,
                         **{"Options.StaticRoutesOnly": "false",
                            "Options.TunnelOptions.1.TunnelInsideCidr": "169.254.40.0/30",
                            "Options.TunnelOptions.1.PreSharedKey": "conformance_bgp_1",
                            "Options.TunnelOptions.2.TunnelInsideCidr": "169.254.40.4/30"}))
bgp_vpn = find(bgp_vpn_root, "vpnConnectionId")
aws_ip = find(bgp_vpn_root, "outsideIpAddress")
gcp("POST", "/global/externalVpnGateways",
    {"name": "conf-aws", "redundancyType": "SINGLE_IP_INTERNALLY_REDUNDANT",
     "interfaces": [{"id": 0, "ipAddress": aws_ip}]})
gcp("POST", f"{R}/routers", {"name": "conf-router", "network": "global/networks/prod-vpc", "bgp": {"asn": 65030}})
gcp("POST", f"{R}/vpnTunnels",
    {"name": "conf-t0", "vpnGateway": "projects/acme-net/regions/us-central1/vpnGateways/conf-gw",
     "vpnGatewayInterface": 0, "peerExternalGateway": "projects/acme-net/global/externalVpnGateways/conf-aws",
     "peerExternalGatewayInterface": 0, "router": "conf-router", "sharedSecret": "conformance_bgp_1",
     "ikeVersion": 2})
gcp("PATCH", f"{R}/routers/conf-router",
    {"interfaces": [{"name": "if-0", "ipRange": "169.254.40.2/30",
                     "linkedVpnTunnel": "projects/acme-net/regions/us-central1/vpnTunnels/conf-t0"}],
     "bgpPeers": [{"name": "peer-0", "interfaceName": "if-0", "ipAddress": "169.254.40.2",
                   "peerIpAddress": "169.254.40.1", "peerAsn": 64600}]})
root = must(call("DescribeVpnConnections", **{"VpnConnectionId.1": bgp_vpn}))
telemetry = [{local(c.tag): c.text for c in item} for item in find_all(root, "vgwTelemetry")[0]]
t1 = telemetry[0]
m = re.fullmatch(r"(\d+) BGP ROUTES", t1.get("statusMessage") or "")
if t1.get("status") != "UP" or not m or int(m.group(1)) < 1 or t1.get("acceptedRouteCount") != m.group(1):
    errors.append(f"BGP tunnel 1 is not UP with its routes: {t1}")
root = must(call("DescribeRouteTables", **{"RouteTableId.1": rtb}))
propagated = [{local(c.tag): c.text for c in r} for r in find_all(root, "routeSet")[0]]
if {"destinationCidrBlock": "10.20.0.0/16", "gatewayId": vgw, "state": "active",
        "origin": "EnableVgwRoutePropagation"} not in propagated:
    errors.append(f"no propagated route to GCP's 10.20.0.0/16 in {propagated}")
must(call("CreateRoute", RouteTableId=rtb, DestinationCidrBlock="10.40.0.0/16", GatewayId=vgw))
must(call("DescribeRouteTables", MaxResults="5"))
sg = find(must(call("DescribeSecurityGroups", **{"Filter.1.Name": "vpc-id", "Filter.1.Value.1": VPC})),
          "groupId")
perm = {"IpPermissions.1.IpProtocol": "tcp", "IpPermissions.1.FromPort": "443", "IpPermissions.1.ToPort": "443",
        "IpPermissions.1.IpRanges.1.CidrIp": "10.20.0.0/16", "IpPermissions.1.IpRanges.1.Description": "x",
        "IpPermissions.2.IpProtocol": "tcp", "IpPermissions.2.FromPort": "22", "IpPermissions.2.ToPort": "22",
        "IpPermissions.2.Groups.1.GroupId": sg}
added = find_all(must(call("AuthorizeSecurityGroupIngress", GroupId=sg, **perm)), "securityGroupRuleId")
must(call("AuthorizeSecurityGroupEgress", GroupId=sg, **{k: v for k, v in perm.items() if k.startswith("IpPermissions.1.")}))
must(call("DescribeSecurityGroups"))
must(call("RevokeSecurityGroupEgress", GroupId=sg, **{k: v for k, v in perm.items() if k.startswith("IpPermissions.1.")}))
# Revoke ingress both ways: by permission (tcp/443 from a CIDR) and by rule id (the group rule).
must(call("RevokeSecurityGroupIngress", GroupId=sg, **{k: v for k, v in perm.items() if k.startswith("IpPermissions.1.")}))
must(call("RevokeSecurityGroupIngress", GroupId=sg, **{"SecurityGroupRuleId.1": added[1].text}))
many = {}
for n, port in enumerate(range(7000, 7006), start=1):
    many.update({f"IpPermissions.{n}.IpProtocol": "udp", f"IpPermissions.{n}.FromPort": str(port),
                 f"IpPermissions.{n}.ToPort": str(port), f"IpPermissions.{n}.IpRanges.1.CidrIp": "10.20.0.0/16"})
must(call("AuthorizeSecurityGroupIngress", GroupId=sg, **many))
rules = find_all(must(call("DescribeSecurityGroupRules", MaxResults="5",
                          **{"Filter.1.Name": "group-id", "Filter.1.Value.1": sg})), "securityGroupRuleId")
must(call("DescribeSecurityGroupRules", **{"SecurityGroupRuleId.1": rules[0].text}))
for attribute in ("enableDnsSupport", "enableDnsHostnames", "enableNetworkAddressUsageMetrics"):
    must(call("DescribeVpcAttribute", VpcId=VPC, Attribute=attribute))
vpn_root = must(call("DescribeVpnConnections", **{"VpnConnectionId.1": vpn}))
must(call("ModifyVpnTunnelOptions", VpnConnectionId=vpn, VpnTunnelOutsideIpAddress=find(vpn_root, "outsideIpAddress"),
          **{"TunnelOptions.PreSharedKey": "conformance_key_3", "TunnelOptions.Phase1LifetimeSeconds": "28000",
             "TunnelOptions.Phase2LifetimeSeconds": "3000", "TunnelOptions.RekeyMarginTimeSeconds": "300",
             "TunnelOptions.RekeyFuzzPercentage": "50", "TunnelOptions.ReplayWindowSize": "512",
             "TunnelOptions.DPDTimeoutSeconds": "40", "TunnelOptions.DPDTimeoutAction": "restart",
             "TunnelOptions.StartupAction": "start"}))
must(call("DescribeVpnConnections", **{"VpnConnectionId.1": vpn}))
must(call("CreateTags", **{"ResourceId.1": vpn, "Tag.1.Key": "k", "Tag.1.Value": "v"}))
must(call("DeleteTags", **{"ResourceId.1": vpn, "Tag.1.Key": "k"}))
must(call("DisableVgwRoutePropagation", GatewayId=vgw, RouteTableId=rtb))
must(call("DeleteRoute", RouteTableId=rtb, DestinationCidrBlock="10.40.0.0/16"))
must(call("DeleteVpnConnectionRoute", VpnConnectionId=vpn, DestinationCidrBlock="10.30.0.0/16"))
must(call("DeleteVpnConnection", VpnConnectionId=vpn))
must(call("DeleteVpnConnection", VpnConnectionId=bgp_vpn))
must(call("DescribeVpnConnections", **{"VpnConnectionId.1": vpn}))
must(call("DeleteCustomerGateway", CustomerGatewayId=cgw))
must(call("DeleteCustomerGateway", CustomerGatewayId=bgp_cgw))
must(call("DetachVpnGateway", VpcId=VPC, VpnGatewayId=vgw))
must(call("DeleteVpnGateway", VpnGatewayId=vgw))

# The error document: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>.
status, root = call("DescribeVpnGateways", **{"VpnGatewayId.1": "vgw-0000000000000dead"})
if status != 400 or local(root.tag) != "Response":
    errors.append(f"error: status {status}, root {root.tag}")
if [local(c.tag) for c in root] != ["Errors", "RequestID"]:
    errors.append(f"error: children {[local(c.tag) for c in root]}")
if find(root, "Code") != "InvalidVpnGatewayID.NotFound" or not find(root, "Message"):
    errors.append("error: code/message")

# The walk must have reached the interesting leaves, or it proved nothing.
for leaf in ("TelemetryStatus", "DateTime", "RouteOrigin", "VpnState", "Long", "Integer", "Boolean"):
    if leaf not in checked:
        errors.append(f"no {leaf} leaf was checked")

for path in ("RevokeSecurityGroupIngress/revokedSecurityGroupRuleSet/item/securityGroupRuleId",
             "RevokeSecurityGroupIngress/revokedSecurityGroupRuleSet/item/cidrIpv4",
             "RevokeSecurityGroupIngress/revokedSecurityGroupRuleSet/item/referencedGroupId",
             "DescribeVpnConnections/vpnConnectionSet/item/vgwTelemetry/item/acceptedRouteCount",
             "DescribeRouteTables/routeTableSet/item/routeSet/item/origin",
             "DescribeSecurityGroupRules/securityGroupRuleSet/item/securityGroupRuleArn",
             "DescribeSecurityGroupRules/securityGroupRuleSet/item/referencedGroupInfo/groupId",
             "DescribeSecurityGroupRules/nextToken",
             "DescribeVpcAttribute/enableDnsSupport/value",
             "DescribeVpcAttribute/enableNetworkAddressUsageMetrics/value",
             "ModifyVpnTunnelOptions/vpnConnection/options/tunnelOptionSet/item/dpdTimeoutAction",
             "ModifyVpnTunnelOptions/vpnConnection/options/tunnelOptionSet/item/startupAction",
             "ModifyVpnTunnelOptions/vpnConnection/options/tunnelOptionSet/item/rekeyFuzzPercentage",
             "ModifyVpnTunnelOptions/vpnConnection/state"):
    if path not in paths:
        errors.append(f"{path} was never walked")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"aws_conformance: ok ({len(checked)} scalar shapes, {len(paths)} element paths, "
      f"{required_checked} required members checked)")
