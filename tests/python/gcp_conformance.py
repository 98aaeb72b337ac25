"""Checks captured sandbox Compute responses against the published Compute v1 discovery
document (the static copy shipped in google-api-python-client).

Usage: gcp_conformance.py SAMPLES.json
SAMPLES.json is a list of {"schema": "<Schema name>" | "#error", "path": ..., "body": {...},
optional "method" (default GET) and "status" (an Operation's expected status)} written by
tests/it/sandbox_gcp.rs. For every body:
- every field is a property of its schema (recursively), with the schema's JSON type,
  int64 as decimal strings, enum values from the listed values;
- every field the discovery document marks required for the collection's insert is present
  (a stored resource always has it), at every nesting level;
- the output fields the sandbox documents (docs/sandbox-gcp.md) are present: kind, id,
  creationTimestamp, name, selfLink (+ region when regional) on every resource, list
  items included, the per-kind outputs below, and an Operation's own set, consistent with its
  status (RUNNING: no endTime/error; DONE: endTime, progress 100; an error only with its
  HTTP status and message);
- a GET's selfLink is the URL it was fetched from (a wait's: its operation's).
Prints "checked N responses" and exits 0, or lists every problem and exits 1.
"""

import json
import os
import sys

import googleapiclient


def discovery():
    path = os.path.join(
        os.path.dirname(googleapiclient.__file__),
        "discovery_cache",
        "documents",
        "compute.v1.json",
    )
    with open(path) as f:
        return json.load(f)["schemas"]


SCHEMAS = discovery()
INT_FORMATS = {"int32", "uint32"}
STRING_INT_FORMATS = {"int64", "uint64"}


RESOURCE_OUTPUT = ("kind", "id", "creationTimestamp", "name", "selfLink")
# Per kind: fields the sandbox always returns (inputs it defaults and outputs it computes).
OUTPUT = {
    "Network": ("autoCreateSubnetworks", "routingConfig", "mtu"),
    "Subnetwork": ("network", "ipCidrRange", "gatewayAddress", "stackType", "purpose"),
    "VpnGateway": ("network", "vpnInterfaces", "stackType", "gatewayIpVersion"),
    "ExternalVpnGateway": ("redundancyType", "interfaces"),
    "Router": ("network",),
    "VpnTunnel": ("status", "detailedStatus", "sharedSecret", "sharedSecretHash", "ikeVersion",
                  "peerIp"),
    "TargetVpnGateway": ("network", "status"),
    "Address": ("address", "addressType", "networkTier", "status"),
    "ForwardingRule": ("IPAddress", "IPProtocol", "target", "loadBalancingScheme", "networkTier"),
    "Route": ("network", "destRange", "priority", "routeType"),
    "Firewall": ("network", "direction", "priority"),
}
OPERATION_OUTPUT = ("kind", "id", "name", "operationType", "targetLink", "targetId", "status",
                    "progress", "insertTime", "startTime", "selfLink", "user")
LIST_OUTPUT = ("kind", "id", "selfLink")


def check_outputs(value, name, where, problems):
    """The documented output fields of one resource, list or Operation body."""
    if not isinstance(value, dict):
        return
    item = name[: -len("List")] if name.endswith("List") else None
    if name == "Operation":
        want = OPERATION_OUTPUT
    elif name in OUTPUT:
        want = RESOURCE_OUTPUT + OUTPUT[name]
    elif item in OUTPUT or item == "Operation":
        want = LIST_OUTPUT
        for i, x in enumerate(value.get("items", [])):
            check_outputs(x, item, f"{where}.items[{i}]", problems)
    else:
        return
    for key in want:
        if key not in value:
            problems.append(f"{where}.{key}: missing (always returned by the sandbox)")
    link = value.get("selfLink", "")
    regional = "/regions/" in link
    if item is None and regional != ("region" in value):
        problems.append(f"{where}.region: {'missing on a regional' if regional else 'set on a global'} resource")
    if name == "Operation":
        check_operation(value, where, problems)


def check_operation(op, where, problems):
    status = op.get("status")
    if not str(op.get("selfLink", "")).endswith(f"/operations/{op.get('name')}"):
        problems.append(f"{where}.selfLink: does not end with the operation's name")
    if status == "RUNNING":
        for key in ("endTime", "error", "httpErrorStatusCode", "httpErrorMessage"):
            if key in op:
                problems.append(f"{where}.{key}: set on a RUNNING operation")
        if not 0 <= op.get("progress", -1) < 100:
            problems.append(f"{where}.progress: a RUNNING operation is below 100")
    elif status == "DONE":
        if "endTime" not in op:
            problems.append(f"{where}.endTime: missing on a DONE operation")
        if op.get("progress") != 100:
            problems.append(f"{where}.progress: a DONE operation is at 100")
    else:
        problems.append(f"{where}.status: {status!r} (the sandbox's operations are RUNNING or DONE)")
    if "error" in op:
        errors = op["error"].get("errors") or []
        if not errors or not all("code" in e and "message" in e for e in errors):
            problems.append(f"{where}.error.errors: each error needs a code and a message")
        for key in ("httpErrorStatusCode", "httpErrorMessage"):
            if key not in op:
                problems.append(f"{where}.{key}: missing beside error")


# The collection of each resource schema, whose insert the discovery document's `required`
# annotations name (`compute.routers.insert`): only those bind a stored resource, not the
# same schema reused elsewhere (a router status's learned `Route`s).
COLLECTION = {
    "Network": "networks", "Subnetwork": "subnetworks", "VpnGateway": "vpnGateways",
    "ExternalVpnGateway": "externalVpnGateways", "Router": "routers", "VpnTunnel": "vpnTunnels",
    "TargetVpnGateway": "targetVpnGateways", "Address": "addresses",
    "ForwardingRule": "forwardingRules", "Route": "routes", "Firewall": "firewalls",
}


def insert_of(schema_name):
    base = schema_name[: -len("List")] if schema_name.endswith("List") else schema_name
    return f"compute.{COLLECTION[base]}.insert" if base in COLLECTION else None


def check(value, schema, where, problems, insert=None):
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"]]
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {value!r}")
            return
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, sub in (props or {}).items():
            required = sub.get("annotations", {}).get("required", [])
            if insert in required and key not in value:
                problems.append(f"{where}.{key}: required at insert, missing in the response")
        for key, sub in value.items():
            if props is not None and key in props:
                check(sub, props[key], f"{where}.{key}", problems, insert)
            elif extra is not None:
                check(sub, extra, f"{where}[{key}]", problems, insert)
            else:
                problems.append(f"{where}.{key}: not a field of the published schema")
    elif kind == "array":
        if not isinstance(value, list):
            problems.append(f"{where}: expected an array, got {value!r}")
            return
        for i, item in enumerate(value):
            check(item, schema["items"], f"{where}[{i}]", problems, insert)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {value!r}")
            return
        fmt = schema.get("format")
        if fmt in STRING_INT_FORMATS and not value.lstrip("-").isdigit():
            problems.append(f"{where}: {fmt} must be a decimal string, got {value!r}")
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {value!r}")
        elif schema.get("format") == "uint32" and value < 0:
            problems.append(f"{where}: uint32 must not be negative")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, got {value!r}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {value!r}")
    elif kind is None and "$ref" not in schema:
        problems.append(f"{where}: schema without a type")


def check_error(body, where, problems):
    """Google's JSON error body (google.rpc.Status with the legacy `errors` list)."""
    err = body.get("error")
    if not isinstance(err, dict):
        problems.append(f"{where}: no error object")
        return
    for key, kind in (("code", int), ("message", str), ("status", str), ("errors", list)):
        if not isinstance(err.get(key), kind):
            problems.append(f"{where}: error.{key} missing or not {kind.__name__}")
    for key in err:
        if key not in ("code", "message", "status", "errors", "details"):
            problems.append(f"{where}: error.{key} is not part of Google's error format")
    for e in err.get("errors", []):
        for key in e:
            if key not in ("reason", "message", "domain", "location", "locationType"):
                problems.append(f"{where}: errors[].{key} is not part of Google's error format")


def main():
    with open(sys.argv[1]) as f:
        samples = json.load(f)
    problems = []
    for s in samples:
        method = s.get("method", "GET")
        where = f"{s['schema']} {method} {s['path']}"
        if s["schema"] == "#error":
            check_error(s["body"], where, problems)
            continue
        if s["schema"] not in SCHEMAS:
            problems.append(f"{where}: no schema {s['schema']} in the discovery document")
            continue
        body = s["body"]
        kind = SCHEMAS[s["schema"]].get("properties", {}).get("kind", {}).get("default")
        if kind and body.get("kind") != kind:
            problems.append(f"{where}: kind {body.get('kind')!r}, the schema says {kind!r}")
        if "status" in s and body.get("status") != s["status"]:
            problems.append(f"{where}: status {body.get('status')!r}, expected {s['status']!r}")
        own = s["path"][: -len("/wait")] if s["path"].endswith("/wait") else s["path"]
        if (method == "GET" or own != s["path"]) and "selfLink" in SCHEMAS[s["schema"]].get("properties", {}):
            if not str(body.get("selfLink", "")).endswith("/compute/v1/" + own):
                problems.append(f"{where}: selfLink {body.get('selfLink')!r} is not the URL it was read from")
        check(body, {"$ref": s["schema"]}, where, problems, insert_of(s["schema"]))
        check_outputs(body, s["schema"], where, problems)
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"checked {len(samples)} responses")


if __name__ == "__main__":
    main()
