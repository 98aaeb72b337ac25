"""A third-party client against the sandbox: Google's Python google-cloud-compute (REST
transport, model objects) does what peerctl needs on GCP and checks the results.

Usage: gcp_client.py SANDBOX_URL
The sandbox must be seeded with tests/it's triangle plus edge-vpc (10.40.0.0/16) in
acme-net/us-central1 (tests/it/sandbox_gcp.rs) and run at a time scale that keeps
operations RUNNING (e.g. 1): every insert, patch and delete is checked RUNNING, then the
sandbox clock is moved (POST /_sandbox/clock) and the library's own operation polling takes
it to DONE on the sandbox. Prints "ok" on success.

The library's operation polling ignores `api_endpoint`: each client's REST transport builds
its RegionOperationsClient / GlobalOperationsClient lazily with default options, so it polls
compute.googleapis.com. `on_sandbox` hands each transport operations clients built with the
same options (see docs/sandbox-gcp.md, "Python clients").
"""

import json
import sys
import threading
import urllib.request

from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1 as c

URL = sys.argv[1]
P, R = "acme-net", "us-central1"
SECRET = "Tq3Lm8Zx2Wc7Vb5Nr1Ks4Hd9Gf6Jp0Ya"
KW = {"credentials": AnonymousCredentials(), "client_options": {"api_endpoint": URL}}

region_operations = c.RegionOperationsClient(**KW)
global_operations = c.GlobalOperationsClient(**KW)


def on_sandbox(client):
    """Makes the ExtendedOperation that `client`'s insert/patch/delete return poll the
    sandbox: the transport caches its operations clients in `_extended_operations_services`
    (google-cloud-compute 1.x), keyed "region_operations" / "global_operations"."""
    services = getattr(client._transport, "_extended_operations_services", None)
    assert isinstance(services, dict), "google-cloud-compute changed how it builds operation clients"
    services["region_operations"] = region_operations
    services["global_operations"] = global_operations
    return client


networks = c.NetworksClient(**KW)
gateways = on_sandbox(c.VpnGatewaysClient(**KW))
externals = on_sandbox(c.ExternalVpnGatewaysClient(**KW))
routers = on_sandbox(c.RoutersClient(**KW))
tunnels = on_sandbox(c.VpnTunnelsClient(**KW))
targets = on_sandbox(c.TargetVpnGatewaysClient(**KW))
addresses = on_sandbox(c.AddressesClient(**KW))
rules = on_sandbox(c.ForwardingRulesClient(**KW))
routes = on_sandbox(c.RoutesClient(**KW))
firewalls = on_sandbox(c.FirewallsClient(**KW))


def admin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def advance_clock(ms=3_600_000):
    """Moves sandbox time past any provisioning latency (an hour)."""
    admin("POST", "/_sandbox/clock", {"advance_ms": ms})


def polls(method):
    return admin("GET", "/_sandbox/stats")["clouds"]["gcp"]["operations"].get(method, 0)


def wait(op):
    """The operation is RUNNING when returned; once the clock has moved, the library's own
    polling (regionOperations/globalOperations.get on the sandbox) sees it DONE."""
    assert op.status == c.Operation.Status.RUNNING, op.status
    advance_clock()
    op.result(timeout=30)
    assert op.done(), op
    assert op.status == c.Operation.Status.DONE, op.status
    assert not op.error_code, (op.error_code, op.error_message)


net = networks.get(project=P, network="prod-vpc")
assert net.auto_create_subnetworks is False, net
assert len(net.subnetworks) == 1, net.subnetworks

# HA VPN between prod-vpc and edge-vpc, through external gateways, with BGP.
for gw, network in (("py-gw-a", "prod-vpc"), ("py-gw-b", "edge-vpc")):
    wait(gateways.insert(project=P, region=R, vpn_gateway_resource=c.VpnGateway(
        name=gw, network=f"projects/{P}/global/networks/{network}", labels={"owner": "py"})))
ip_a = [i.ip_address for i in gateways.get(project=P, region=R, vpn_gateway="py-gw-a").vpn_interfaces]
ip_b = [i.ip_address for i in gateways.get(project=P, region=R, vpn_gateway="py-gw-b").vpn_interfaces]
assert len(ip_a) == 2 and all(ip_a), ip_a
for name, ips in (("py-peer-of-a", ip_b), ("py-peer-of-b", ip_a)):
    wait(externals.insert(project=P, external_vpn_gateway_resource=c.ExternalVpnGateway(
        name=name, redundancy_type="TWO_IPS_REDUNDANCY",
        interfaces=[c.ExternalVpnGatewayInterface(id=i, ip_address=ip) for i, ip in enumerate(ips)])))
for name, network, asn in (("py-rt-a", "prod-vpc", 64601), ("py-rt-b", "edge-vpc", 64602)):
    wait(routers.insert(project=P, region=R, router_resource=c.Router(
        name=name, network=f"global/networks/{network}", bgp=c.RouterBgp(asn=asn))))
for side, other, local, peer, peer_asn in (("a", "b", "169.254.20.1", "169.254.20.2", 64602),
                                           ("b", "a", "169.254.20.2", "169.254.20.1", 64601)):
    for iface in (0, 1):
        wait(tunnels.insert(project=P, region=R, vpn_tunnel_resource=c.VpnTunnel(
            name=f"py-tun-{side}{iface}",
            vpn_gateway=f"https://www.googleapis.com/compute/v1/projects/{P}/regions/{R}/vpnGateways/py-gw-{side}",
            vpn_gateway_interface=iface,
            peer_external_gateway=f"projects/{P}/global/externalVpnGateways/py-peer-of-{side}",
            peer_external_gateway_interface=iface,
            router=f"projects/{P}/regions/{R}/routers/py-rt-{side}",
            shared_secret=SECRET, ike_version=2)))
    router = routers.get(project=P, region=R, router=f"py-rt-{side}")
    router.interfaces = [c.RouterInterface(
        name="if-0", ip_range=f"{local}/30",
        linked_vpn_tunnel=f"projects/{P}/regions/{R}/vpnTunnels/py-tun-{side}0")]
    router.bgp_peers = [c.RouterBgpPeer(
        name="peer-0", interface_name="if-0", ip_address=local, peer_ip_address=peer,
        peer_asn=peer_asn)]
    wait(routers.patch(project=P, region=R, router=f"py-rt-{side}", router_resource=router))

t = tunnels.get(project=P, region=R, vpn_tunnel="py-tun-a0")
assert t.status == "ESTABLISHED", (t.status, t.detailed_status)
assert t.shared_secret == "*************", "the shared secret is never returned"
assert t.peer_ip == ip_b[0], (t.peer_ip, ip_b)
status = routers.get_router_status(project=P, region=R, router="py-rt-a").result
assert len(status.bgp_peer_status) == 1, status
assert status.bgp_peer_status[0].status == "UP", status
assert status.bgp_peer_status[0].state == "Established", status
assert [r.dest_range for r in status.best_routes] == ["10.40.0.0/16"], status.best_routes
gstatus = gateways.get_status(project=P, region=R, vpn_gateway="py-gw-a").result
assert gstatus.vpn_connections[0].state.state == "CONNECTION_REDUNDANCY_MET", gstatus

# Classic VPN: reserved address, target gateway, the three forwarding rules, a tunnel, a route.
wait(addresses.insert(project=P, region=R, address_resource=c.Address(name="py-ip")))
ip = addresses.get(project=P, region=R, address="py-ip").address
wait(targets.insert(project=P, region=R, target_vpn_gateway_resource=c.TargetVpnGateway(
    name="py-tgw", network=f"projects/{P}/global/networks/prod-vpc")))
wait(tunnels.insert(project=P, region=R, vpn_tunnel_resource=c.VpnTunnel(
    name="py-classic", target_vpn_gateway=f"regions/{R}/targetVpnGateways/py-tgw",
    peer_ip="198.19.0.77", shared_secret=SECRET, ike_version=2,
    local_traffic_selector=["0.0.0.0/0"], remote_traffic_selector=["0.0.0.0/0"])))
assert tunnels.get(project=P, region=R, vpn_tunnel="py-classic").status == "WAITING_FOR_FULL_CONFIG"
for name, proto, ports in (("esp", "ESP", None), ("udp500", "UDP", "500"), ("udp4500", "UDP", "4500")):
    rule = c.ForwardingRule(name=f"py-fr-{name}", I_p_protocol=proto, I_p_address=ip,
                            target=f"projects/{P}/regions/{R}/targetVpnGateways/py-tgw")
    if ports:
        rule.port_range = ports
    wait(rules.insert(project=P, region=R, forwarding_rule_resource=rule))
t = tunnels.get(project=P, region=R, vpn_tunnel="py-classic")
assert t.status == "NO_INCOMING_PACKETS", (t.status, t.detailed_status)
fr = rules.get(project=P, region=R, forwarding_rule="py-fr-udp500")
assert fr.I_p_protocol == "UDP" and fr.I_p_address == ip and fr.port_range == "500-500", fr
assert addresses.get(project=P, region=R, address="py-ip").status == "IN_USE"
wait(routes.insert(project=P, route_resource=c.Route(
    name="py-to-azure", network=f"projects/{P}/global/networks/prod-vpc", dest_range="10.30.0.0/16",
    next_hop_vpn_tunnel=f"projects/{P}/regions/{R}/vpnTunnels/py-classic", priority=1000)))
assert routes.get(project=P, route="py-to-azure").dest_range == "10.30.0.0/16"

# Firewall rules: insert, patch, list with a filter, delete.
wait(firewalls.insert(project=P, firewall_resource=c.Firewall(
    name="py-allow-azure", network=f"projects/{P}/global/networks/prod-vpc", direction="INGRESS",
    priority=1000, source_ranges=["10.30.0.0/16"],
    allowed=[c.Allowed(I_p_protocol="tcp", ports=["443"])])))
wait(firewalls.patch(project=P, firewall="py-allow-azure",
                     firewall_resource=c.Firewall(source_ranges=["10.30.0.0/16", "10.31.0.0/16"])))
fw = firewalls.get(project=P, firewall="py-allow-azure")
assert list(fw.source_ranges) == ["10.30.0.0/16", "10.31.0.0/16"], fw
assert fw.priority == 1000 and fw.allowed[0].ports == ["443"], fw
listed = list(firewalls.list(request=c.ListFirewallsRequest(project=P, filter='name = "py-allow-azure"')))
assert [f.name for f in listed] == ["py-allow-azure"], listed
listed = list(firewalls.list(request=c.ListFirewallsRequest(project=P, filter="name eq py-allow-.*")))
assert [f.name for f in listed] == ["py-allow-azure"], listed
try:
    list(firewalls.list(request=c.ListFirewallsRequest(project=P, filter="()")))
    raise AssertionError("an empty filter expression was accepted")
except exceptions.BadRequest:
    pass

# A global delete polled by the library while it is still RUNNING: the clock moves only
# after the first poll, so the library sees RUNNING, sleeps, and polls again to DONE.
op = firewalls.delete(project=P, firewall="py-allow-azure")
assert op.status == c.Operation.Status.RUNNING, op.status
before = polls("globalOperations.get")
timer = threading.Timer(0.3, advance_clock)
timer.start()
op.result(timeout=30)
timer.join()
assert op.status == c.Operation.Status.DONE and not op.error_code, op
assert polls("globalOperations.get") - before >= 2, "polled RUNNING, then DONE"

# The public route: poll a regional operation with an operations client of our own (wait).
op = routes.delete(project=P, route="py-to-azure")
assert op.status == c.Operation.Status.RUNNING, op.status
assert global_operations.wait(project=P, operation=op.name).status == c.Operation.Status.RUNNING
advance_clock()
assert global_operations.wait(project=P, operation=op.name).status == c.Operation.Status.DONE
op = tunnels.delete(project=P, region=R, vpn_tunnel="py-classic")
advance_clock()
done = region_operations.wait(project=P, region=R, operation=op.name)
assert done.status == c.Operation.Status.DONE and not done.error, done

# Errors arrive as the library's typed exceptions.
try:
    tunnels.get(project=P, region=R, vpn_tunnel="py-missing")
    raise AssertionError("a missing tunnel was found")
except exceptions.NotFound:
    pass
try:
    gateways.insert(project=P, region=R, vpn_gateway_resource=c.VpnGateway(
        name="py-gw-a", network=f"projects/{P}/global/networks/prod-vpc"))
    raise AssertionError("a duplicate gateway was created")
except exceptions.Conflict:
    pass
try:
    tunnels.insert(project=P, region=R, vpn_tunnel_resource=c.VpnTunnel(
        name="py-bad", vpn_gateway="py-gw-a", vpn_gateway_interface=0,
        peer_external_gateway="py-peer-of-a", peer_external_gateway_interface=0,
        router="py-rt-a"))
    raise AssertionError("a tunnel without a shared secret was created")
except exceptions.BadRequest as e:
    assert "sharedSecret" in str(e), e

print("ok")
