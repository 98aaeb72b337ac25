"""azure-mgmt-network (the Python SDK, with model objects) drives the sandbox through what
peerctl does on Azure: GatewaySubnet, public IP, VPN gateway, local network gateway,
connection (shared key), NSG rule, route table — with LRO polling — and reads it all back.

Usage: azure_client.py SANDBOX_URL. Prints "azure_client: ok"."""

import sys
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as m

from azure_sandbox import RG, SUB, VNET, rid


class FakeCredential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("fake-token", int(time.time()) + 3600)


class BearerOverHttp(SansIOHTTPPolicy):
    """azure-core's bearer policy refuses plain http; the sandbox is plain http on loopback."""

    def __init__(self, credential):
        self.credential = credential

    def on_request(self, request):
        token = self.credential.get_token("https://management.azure.com/.default").token
        request.http_request.headers["Authorization"] = f"Bearer {token}"


def main(url):
    cred = FakeCredential()
    seen_versions = set()

    def record(response):
        seen_versions.add(response.http_request.query.get("api-version"))

    net = NetworkManagementClient(
        cred, SUB, base_url=url, authentication_policy=BearerOverHttp(cred),
        polling_interval=0, raw_response_hook=record,
    )

    vnet = net.virtual_networks.get(RG, VNET)
    assert vnet.address_space.address_prefixes == ["10.30.0.0/16"], vnet.address_space
    assert [s.name for s in net.subnets.list(RG, VNET)] == ["default"]

    subnet = net.subnets.begin_create_or_update(
        RG, VNET, "GatewaySubnet", m.Subnet(address_prefix="10.30.255.0/27")).result()
    assert subnet.provisioning_state == "Succeeded", subnet.provisioning_state

    ip = net.public_ip_addresses.begin_create_or_update(RG, "gw-ip", m.PublicIPAddress(
        location="eastus", sku=m.PublicIPAddressSku(name="Standard", tier="Regional"),
        public_ip_allocation_method="Static")).result()
    assert ip.ip_address and ip.ip_address.startswith("198.19."), ip.ip_address

    gw = net.virtual_network_gateways.begin_create_or_update(RG, "gw", m.VirtualNetworkGateway(
        location="eastus", tags={"peerctl-topology": "prod-mesh"},
        gateway_type="Vpn", vpn_type="RouteBased", enable_bgp=False,
        sku=m.VirtualNetworkGatewaySku(name="VpnGw1", tier="VpnGw1"),
        ip_configurations=[m.VirtualNetworkGatewayIPConfiguration(
            name="default", private_ip_allocation_method="Dynamic",
            subnet=m.SubResource(id=subnet.id), public_ip_address=m.SubResource(id=ip.id))],
    )).result()
    assert gw.provisioning_state == "Succeeded" and gw.sku.name == "VpnGw1", gw
    assert gw.ip_configurations[0].public_ip_address.id.lower() == ip.id.lower()

    lng = net.local_network_gateways.begin_create_or_update(RG, "to-aws", m.LocalNetworkGateway(
        location="eastus", gateway_ip_address="198.18.0.10",
        local_network_address_space=m.AddressSpace(address_prefixes=["10.10.0.0/16"]))).result()
    assert lng.local_network_address_space.address_prefixes == ["10.10.0.0/16"]

    conn = net.virtual_network_gateway_connections.begin_create_or_update(
        RG, "to-aws", m.VirtualNetworkGatewayConnection(
            location="eastus", connection_type="IPsec", connection_protocol="IKEv2",
            shared_key="Abcdefgh12345678", enable_bgp=False,
            virtual_network_gateway1=m.VirtualNetworkGateway(id=gw.id),
            local_network_gateway2=m.LocalNetworkGateway(id=lng.id))).result()
    assert conn.connection_status in ("Connecting", "NotConnected", "Connected"), conn.connection_status
    assert conn.shared_key is None
    key = net.virtual_network_gateway_connections.get_shared_key(RG, "to-aws")
    assert key.value == "Abcdefgh12345678"

    rule = net.security_rules.begin_create_or_update(RG, "prod-vnet-nsg", "allow-aws", m.SecurityRule(
        protocol="Tcp", source_port_range="*", destination_port_ranges=["443"],
        source_address_prefixes=["10.10.0.0/16"], destination_address_prefix="VirtualNetwork",
        access="Allow", priority=1000, direction="Inbound")).result()
    assert rule.priority == 1000 and rule.destination_port_ranges == ["443"]
    nsg = net.network_security_groups.get(RG, "prod-vnet-nsg")
    assert {r.name for r in nsg.default_security_rules} >= {"AllowVnetInBound", "DenyAllInBound"}

    rt = net.route_tables.begin_create_or_update(RG, "rt", m.RouteTable(
        location="eastus", routes=[m.Route(name="to-aws", address_prefix="10.10.0.0/16",
                                           next_hop_type="VirtualNetworkGateway")])).result()
    assert rt.routes[0].next_hop_type == "VirtualNetworkGateway"

    learned = net.virtual_network_gateways.begin_get_learned_routes(RG, "gw").result()
    assert any(r.network == "10.30.0.0/16" for r in learned.value), learned

    try:
        net.virtual_network_gateways.get(RG, "missing")
        raise AssertionError("a missing gateway was found")
    except ResourceNotFoundError as e:
        assert e.error.code == "ResourceNotFound", e.error.code

    try:
        net.subnets.begin_delete(RG, VNET, "GatewaySubnet").result()
        raise AssertionError("a subnet in use was deleted")
    except HttpResponseError as e:
        assert e.error.code == "InUseSubnetCannotBeDeleted", e.error.code

    net.virtual_network_gateway_connections.begin_delete(RG, "to-aws").result()
    try:
        net.virtual_network_gateway_connections.get(RG, "to-aws")
        raise AssertionError("a deleted connection is still there")
    except ResourceNotFoundError:
        pass
    assert [g.name for g in net.virtual_network_gateways.list(RG)] == ["gw"]
    assert all(v and v >= "2024-03-01" for v in seen_versions), seen_versions
    print(f"azure_client: ok (api-versions {sorted(seen_versions)})")


if __name__ == "__main__":
    main(sys.argv[1])
