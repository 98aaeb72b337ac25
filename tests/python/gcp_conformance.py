"""Checks captured sandbox Compute responses against the published Compute v1 discovery
document (the static copy shipped in google-api-python-client).

Usage: gcp_conformance.py SAMPLES.json
SAMPLES.json is a list of {"schema": "<Schema name>" | "#error", "path": ..., "body": {...}}
written by tests/it/sandbox_gcp.rs. Every field of every body must be a property of its
schema (recursively), with the schema's JSON type, and enum values must be listed values.
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


def check(value, schema, where, problems):
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"]]
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {value!r}")
            return
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if props is not None and key in props:
                check(sub, props[key], f"{where}.{key}", problems)
            elif extra is not None:
                check(sub, extra, f"{where}[{key}]", problems)
            else:
                problems.append(f"{where}.{key}: not a field of the published schema")
    elif kind == "array":
        if not isinstance(value, list):
            problems.append(f"{where}: expected an array, got {value!r}")
            return
        for i, item in enumerate(value):
            check(item, schema["items"], f"{where}[{i}]", problems)
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
        where = f"{s['schema']} {s['path']}"
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
        check(body, {"$ref": s["schema"]}, where, problems)
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"checked {len(samples)} responses")


if __name__ == "__main__":
    main()
