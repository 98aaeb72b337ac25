"""Shared helpers of the Azure sandbox scripts: raw ARM calls over urllib, and a fake
credential + authentication policy for azure-mgmt-network against a plain-http sandbox."""

import json
import time
import urllib.error
import urllib.request

SUB = "00000000-0000-0000-0000-000000000000"
RG = "net-rg"
VNET = "prod-vnet"
API = "2024-03-01"
PREFIX = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network"


def rid(kind, name):
    return f"{PREFIX}/{kind}/{name}"


class Arm:
    """Raw ARM requests: (status, headers, parsed JSON or None)."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        # Every Azure-AsyncOperation status body seen while polling: (operation, body).
        self.statuses = []

    def call(self, method, path, body=None, api=API):
        url = self.base + path
        if api is not None:
            url += ("&" if "?" in url else "?") + "api-version=" + api
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("content-type", "application/json")
        req.add_header("authorization", "Bearer fake-token")
        try:
            with self.opener.open(req, timeout=10) as r:
                raw = r.read()
                return r.status, dict(r.headers), (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, dict(e.headers), (json.loads(raw) if raw else None)

    def wait(self, what, headers):
        """Polls the Azure-AsyncOperation of a write until it succeeds."""
        op = headers.get("Azure-AsyncOperation") or headers.get("azure-asyncoperation")
        assert op and op.startswith(self.base), headers
        for _ in range(100):
            with self.opener.open(op, timeout=10) as r:
                body = json.loads(r.read())
            self.statuses.append((what, body))
            if body.get("status") == "Succeeded":
                return
            time.sleep(0.05)
        raise AssertionError(f"{what} never finished")

    def put(self, path, body):
        """PUT and wait for the Azure-AsyncOperation to finish; returns the PUT response."""
        status, headers, value = self.call("PUT", path, body)
        assert status in (200, 201), (path, status, value)
        self.wait(f"PUT {path}", headers)
        return value

    def delete(self, path):
        """DELETE (202) and wait for its Azure-AsyncOperation to finish."""
        status, headers, value = self.call("DELETE", path)
        assert status == 202, (path, status, value)
        self.wait(f"DELETE {path}", headers)

    def get(self, path):
        status, _, value = self.call("GET", path)
        assert status == 200, (path, status, value)
        return value

    def post(self, path):
        status, _, value = self.call("POST", path)
        assert status == 200, (path, status, value)
        return value
