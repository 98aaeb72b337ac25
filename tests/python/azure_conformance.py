"""Checks every field of the sandbox's ARM responses against the published models of
azure-mgmt-network (the TypeSpec-generated classes: each field's wire name and type).

Usage: azure_conformance.py SANDBOX_URL. Builds a gateway, local network gateways, a static
and a BGP connection, NSG rules and a route table through raw ARM calls, then walks every
GET/list/action/error response. Prints "azure_conformance: ok" or the violations."""

import enum
import sys
import typing

import azure.mgmt.network.models as M
from azure.mgmt.network._utils.model_base import Model
from azure_sandbox import Arm, PREFIX, VNET, rid

problems = []
checked = {"fields": 0}


def hints(cls):
    ns = dict(vars(sys.modules[cls.__module__]))
    ns["_models"] = M
    return typing.get_type_hints(cls, globalns=ns)


def rest_fields(cls):
    cls()  # the model metaclass fills _attr_to_rest_field on first construction
    return {rf._rest_name: attr for attr, rf in cls._attr_to_rest_field.items()}


def walk(value, tp, path):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        options = [a for a in args if a is not type(None)]
        if value is None:
            return
        # Union[str, SomeEnum]: a string of the enum, or any string.
        # Union[str, SomeEnum] is ARM's extensible enum: the sandbox must still send one
        # of the values the model knows.
        enums = [a for a in options if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and all(a is str or a in enums for a in options):
            known = [e.value for en in enums for e in en]
            if not isinstance(value, str) or value.lower() not in [k.lower() for k in known]:
                problems.append(f"{path}: {value!r} is not one of {', '.join(known)}")
            return
        return walk(value, options[0], path)
    if origin is list:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            walk(v, args[0], f"{path}[{i}]")
        return
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        for k, v in value.items():
            walk(v, args[1], f"{path}.{k}")
        return
    if tp is typing.Any:
        return
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [e.value.lower() for e in tp]
        if not isinstance(value, str) or value.lower() not in allowed:
            problems.append(f"{path}: {value!r} is not a {tp.__name__} ({', '.join(e.value for e in tp)})")
        return
    if isinstance(tp, type) and issubclass(tp, Model):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a {tp.__name__} object, got {value!r}")
            return
        fields = rest_fields(tp)
        types = hints(tp)
        for k, v in value.items():
            checked["fields"] += 1
            if k not in fields:
                problems.append(f"{path}.{k}: {tp.__name__} has no field '{k}'")
                continue
            walk(v, types[fields[k]], f"{path}.{k}")
        return
    basic = {str: str, int: int, float: (int, float), bool: bool}
    if tp in basic:
        if isinstance(value, bool) and tp is not bool:
            problems.append(f"{path}: expected {tp.__name__}, got a boolean")
        elif not isinstance(value, basic[tp]):
            problems.append(f"{path}: expected {tp.__name__}, got {value!r}")
        return
    if getattr(tp, "__name__", "") == "datetime":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a date-time string, got {value!r}")
        return
    problems.append(f"{path}: no rule for type {tp!r}")


def check(value, cls, what):
    walk(value, cls, what)


def check_list(value, cls, what):
    extra = set(value) - {"value", "nextLink"}
    if extra:
        problems.append(f"{what}: list has fields {sorted(extra)}")
    for i, v in enumerate(value.get("value", [])):
        walk(v, cls, f"{what}.value[{i}]")


# The network spec's AzureAsyncOperationResult: `status` (NetworkOperationStatus) and, when
# Failed, `error` (the network `Error` model). The Python SDK has no class for it: azure-core
# reads `status` itself.
ASYNC_STATUSES = ["InProgress", "Succeeded", "Failed"]


def check_async_status(body, what):
    if not isinstance(body, dict):
        problems.append(f"{what}: status body is not an object: {body!r}")
        return
    extra = set(body) - {"status", "error"}
    if extra:
        problems.append(f"{what}: status body has fields {sorted(extra)}")
    if body.get("status") not in ASYNC_STATUSES:
        problems.append(f"{what}: status {body.get('status')!r} is not one of {', '.join(ASYNC_STATUSES)}")
    if "error" in body:
        walk(body["error"], M.Error, f"{what}.error")
    checked["fields"] += len(body)


def main(url):
    arm = Arm(url)
    vnet_id = rid("virtualNetworks", VNET)
    subnet_put = arm.put(f"{PREFIX}/virtualNetworks/{VNET}/subnets/GatewaySubnet", {"properties": {"addressPrefix": "10.30.255.0/27"}})
    ip_put = arm.put(f"{PREFIX}/publicIPAddresses/gw-ip", {"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})
    gw_put = arm.put(f"{PREFIX}/virtualNetworkGateways/gw", {"location": "eastus", "tags": {"peerctl-topology": "prod-mesh"}, "properties": {
        "gatewayType": "Vpn", "vpnType": "RouteBased", "enableBgp": True, "sku": {"name": "VpnGw1", "tier": "VpnGw1"},
        "bgpSettings": {"asn": 65010},
        "ipConfigurations": [{"name": "default", "properties": {
            "privateIPAllocationMethod": "Dynamic",
            "subnet": {"id": f"{vnet_id}/subnets/GatewaySubnet"},
            "publicIPAddress": {"id": rid("publicIPAddresses", "gw-ip")}}}]}})
    lng_put = arm.put(f"{PREFIX}/localNetworkGateways/to-aws", {"location": "eastus", "properties": {
        "gatewayIpAddress": "198.18.0.10", "localNetworkAddressSpace": {"addressPrefixes": ["10.10.0.0/16"]}}})
    lng_bgp_put = arm.put(f"{PREFIX}/localNetworkGateways/to-gcp", {"location": "eastus", "properties": {
        "gatewayIpAddress": "198.18.128.10", "localNetworkAddressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
        "bgpSettings": {"asn": 65020, "bgpPeeringAddress": "169.254.21.2"}}})
    conn_put = arm.put(f"{PREFIX}/connections/to-aws", {"location": "eastus", "properties": {
        "connectionType": "IPsec", "connectionProtocol": "IKEv2", "sharedKey": "Abcdefgh12345678", "enableBgp": False,
        "virtualNetworkGateway1": {"id": rid("virtualNetworkGateways", "gw")},
        "localNetworkGateway2": {"id": rid("localNetworkGateways", "to-aws")},
        "ipsecPolicies": [{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 102400000, "ipsecEncryption": "AES256",
                           "ipsecIntegrity": "SHA256", "ikeEncryption": "AES256", "ikeIntegrity": "SHA256",
                           "dhGroup": "DHGroup14", "pfsGroup": "PFS14"}],
        "usePolicyBasedTrafficSelectors": False}})
    conn_bgp_put = arm.put(f"{PREFIX}/connections/to-gcp", {"location": "eastus", "properties": {
        "connectionType": "IPsec", "sharedKey": "Abcdefgh12345678", "enableBgp": True,
        "virtualNetworkGateway1": {"id": rid("virtualNetworkGateways", "gw")},
        "localNetworkGateway2": {"id": rid("localNetworkGateways", "to-gcp")}}})
    rule_put = arm.put(f"{PREFIX}/networkSecurityGroups/prod-vnet-nsg/securityRules/allow-aws", {"properties": {
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRanges": ["443", "5432"],
        "sourceAddressPrefixes": ["10.10.0.0/16"], "destinationAddressPrefix": "VirtualNetwork",
        "access": "Allow", "priority": 1000, "direction": "Inbound", "description": "peerctl"}})
    rt_put = arm.put(f"{PREFIX}/routeTables/rt", {"location": "eastus", "properties": {"disableBgpRoutePropagation": False,
        "routes": [{"name": "blackhole", "properties": {"addressPrefix": "10.99.0.0/16", "nextHopType": "None"}}]}})
    route_put = arm.put(f"{PREFIX}/routeTables/rt/routes/nva", {"properties": {"addressPrefix": "10.98.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.30.0.4"}})
    nsg_put = arm.put(f"{PREFIX}/networkSecurityGroups/lab-nsg", {"location": "eastus", "properties": {"securityRules": [
        {"name": "deny-gcp", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                                            "sourceAddressPrefix": "10.20.0.0/16", "destinationAddressPrefix": "*",
                                            "access": "Deny", "priority": 4000, "direction": "Inbound"}}]}})
    vnet_put = arm.put(f"{PREFIX}/virtualNetworks/lab-vnet", {"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.50.0.0/16"]},
        "subnets": [{"name": "apps", "properties": {"addressPrefix": "10.50.1.0/24",
                                                    "networkSecurityGroup": {"id": rid("networkSecurityGroups", "lab-nsg")},
                                                    "routeTable": {"id": rid("routeTables", "rt")}}}]}})
    key_put = arm.put(f"{PREFIX}/connections/to-aws/sharedkey", {"value": "Zyxwvuts87654321"})

    check(subnet_put, M.Subnet, "PUT subnets")
    check(ip_put, M.PublicIPAddress, "PUT publicIPAddresses")
    check(gw_put, M.VirtualNetworkGateway, "PUT virtualNetworkGateways")
    check(lng_put, M.LocalNetworkGateway, "PUT localNetworkGateways")
    check(lng_bgp_put, M.LocalNetworkGateway, "PUT localNetworkGateways (BGP)")
    check(conn_put, M.VirtualNetworkGatewayConnection, "PUT connections")
    check(conn_bgp_put, M.VirtualNetworkGatewayConnection, "PUT connections (BGP)")
    for body, what in [(conn_put, "PUT connections"), (conn_bgp_put, "PUT connections (BGP)")]:
        if "sharedKey" in body["properties"]:
            problems.append(f"{what}: the shared key is echoed")
    check(key_put, M.ConnectionSharedKey, "PUT sharedkey")
    check(rule_put, M.SecurityRule, "PUT securityRules")
    check(nsg_put, M.NetworkSecurityGroup, "PUT networkSecurityGroups")
    check(rt_put, M.RouteTable, "PUT routeTables")
    check(route_put, M.Route, "PUT routes")
    check(vnet_put, M.VirtualNetwork, "PUT virtualNetworks")
    # Deletes poll the same operation resource.
    arm.delete(f"{PREFIX}/virtualNetworks/lab-vnet")
    arm.delete(f"{PREFIX}/networkSecurityGroups/lab-nsg")
    if len(arm.statuses) < 15:
        problems.append(f"only {len(arm.statuses)} Azure-AsyncOperation bodies were seen")
    for what, body in arm.statuses:
        check_async_status(body, f"Azure-AsyncOperation of {what}")
    check(arm.get(f"{PREFIX}/virtualNetworks/{VNET}"), M.VirtualNetwork, "GET virtualNetworks")
    check_list(arm.get(f"{PREFIX}/virtualNetworks"), M.VirtualNetwork, "LIST virtualNetworks")
    check(arm.get(f"{PREFIX}/virtualNetworks/{VNET}/subnets/GatewaySubnet"), M.Subnet, "GET subnets")
    check_list(arm.get(f"{PREFIX}/virtualNetworks/{VNET}/subnets"), M.Subnet, "LIST subnets")
    check(arm.get(f"{PREFIX}/publicIPAddresses/gw-ip"), M.PublicIPAddress, "GET publicIPAddresses")
    check_list(arm.get(f"{PREFIX}/publicIPAddresses"), M.PublicIPAddress, "LIST publicIPAddresses")
    check(arm.get(f"{PREFIX}/virtualNetworkGateways/gw"), M.VirtualNetworkGateway, "GET virtualNetworkGateways")
    check_list(arm.get(f"{PREFIX}/virtualNetworkGateways"), M.VirtualNetworkGateway, "LIST virtualNetworkGateways")
    check(arm.get(f"{PREFIX}/localNetworkGateways/to-gcp"), M.LocalNetworkGateway, "GET localNetworkGateways")
    check_list(arm.get(f"{PREFIX}/localNetworkGateways"), M.LocalNetworkGateway, "LIST localNetworkGateways")
    conn = arm.get(f"{PREFIX}/connections/to-aws")
    check(conn, M.VirtualNetworkGatewayConnection, "GET connections")
    if "sharedKey" in conn["properties"]:
        problems.append("GET connections: the shared key is echoed")
    check_list(arm.get(f"{PREFIX}/connections"), M.VirtualNetworkGatewayConnection, "LIST connections")
    check(arm.get(f"{PREFIX}/connections/to-aws/sharedkey"), M.ConnectionSharedKey, "GET sharedkey")
    check(arm.get(f"{PREFIX}/networkSecurityGroups/prod-vnet-nsg"), M.NetworkSecurityGroup, "GET networkSecurityGroups")
    check_list(arm.get(f"{PREFIX}/networkSecurityGroups"), M.NetworkSecurityGroup, "LIST networkSecurityGroups")
    check_list(arm.get(f"{PREFIX}/networkSecurityGroups/prod-vnet-nsg/securityRules"), M.SecurityRule, "LIST securityRules")
    check_list(arm.get(f"{PREFIX}/networkSecurityGroups/prod-vnet-nsg/defaultSecurityRules"), M.SecurityRule, "LIST defaultSecurityRules")
    check(arm.get(f"{PREFIX}/routeTables/rt"), M.RouteTable, "GET routeTables")
    check_list(arm.get(f"{PREFIX}/routeTables"), M.RouteTable, "LIST routeTables")
    check(arm.get(f"{PREFIX}/routeTables/rt/routes/nva"), M.Route, "GET routes")
    peers = arm.post(f"{PREFIX}/virtualNetworkGateways/gw/getBgpPeerStatus")
    if not peers["value"]:
        problems.append("getBgpPeerStatus: the BGP connection's peer is missing")
    check(peers, M.BgpPeerStatusListResult, "POST getBgpPeerStatus")
    check(arm.post(f"{PREFIX}/virtualNetworkGateways/gw/getLearnedRoutes"), M.GatewayRouteListResult, "POST getLearnedRoutes")
    check(arm.post(f"{PREFIX}/virtualNetworkGateways/gw/getAdvertisedRoutes?peer=169.254.21.2"), M.GatewayRouteListResult, "POST getAdvertisedRoutes")
    for path, api in [(f"{PREFIX}/virtualNetworkGateways/none", "2024-03-01"),
                      (f"{PREFIX}/virtualNetworks/{VNET}/subnets/none", "2024-03-01"),
                      (f"{PREFIX}/virtualNetworks/{VNET}", None)]:
        status, _, body = arm.call("GET", path, api=api)
        if status < 400:
            problems.append(f"GET {path}: expected an error, got {status}")
        check(body, M.CloudError, f"error of GET {path}")

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"azure_conformance: ok ({checked['fields']} fields checked)")


if __name__ == "__main__":
    main(sys.argv[1])
