"""A participant's HTTP client of a node API: Sign-In with Ethereum with its own key, then JSON
calls with the session's bearer token. Used by `tradenet login`, the demo trade (`tradenet up`
plays it through the API as the participants would) and the tests.

Failures are one line each: :class:`NodeUnreachable` names the URL that did not answer,
:class:`ApiError` the call, its status and the node's problem sentence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
from eth_account.signers.local import LocalAccount

from node_api.auth import build_login_message, sign_login_message


class NodeUnreachable(RuntimeError):
    """Nothing answers at the node's URL (refused, timed out, no such host)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"cannot reach the node API at {url} ({reason}); is the node running (`tradenet up`)?")
        self.url = url


class ApiError(RuntimeError):
    """The node answered a call with an error status; the message is its problem sentence."""

    def __init__(self, method: str, path: str, status: int, body: Any):
        self.status, self.body = status, body
        self.error = body.get("error") if isinstance(body, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: {status} {detail}")


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text.splitlines()[0][:120]


class NodeClient:
    """The node at `url` (or an httpx-compatible client, e.g. FastAPI's TestClient, in `http`).

    `before_read` runs before every read that needs the read model to have caught up (the
    demo's in-process tests bring the indexer up to the chain head with it); against a running
    node, :meth:`wait_indexed` polls ``/health`` instead."""

    def __init__(self, url: str = "http://127.0.0.1:8000", http: httpx.Client | None = None, timeout: float = 30.0,
                 before_read: Callable[[], None] | None = None):
        self.url = url.rstrip("/")
        self.http = http or httpx.Client(base_url=self.url, timeout=timeout)
        self.before_read = before_read

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {}) | ({"Authorization": f"Bearer {token}"} if token else {})
        try:
            r = self.http.request(method, path, headers=headers, **kw)
        except httpx.TransportError as exc:
            raise NodeUnreachable(self.url, _reason(exc)) from None
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = r.text[:300]
            raise ApiError(method, path, r.status_code, body)
        return r.json() if r.content else None

    def health(self) -> dict[str, Any]:
        return self.call("GET", "/health")

    def wait_indexed(self, block: int, timeout: float = 30.0) -> None:
        """Until the node's read model has indexed `block` (its answers then include it)."""
        if self.before_read is not None:
            self.before_read()
            return
        deadline = time.monotonic() + timeout
        while (self.health().get("indexed_block") or 0) < block:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the node at {self.url} did not index block {block} within {timeout:.0f}s")
            time.sleep(0.1)

    def login(self, key: LocalAccount) -> "Session":
        """SIWE: the node's nonce, a message signed with `key` here (the key never leaves), a token."""
        n = self.call("POST", "/auth/nonce")
        msg = build_login_message(address=key.address, domain=n["domain"], uri=n["uri"], scheme=n["scheme"],
                                  chain_id=n["chain_id"], nonce=n["nonce"], lifetime=None)
        body = self.call("POST", "/auth/login", json={"message": msg.to_text(), "signature": sign_login_message(msg, key)})
        return Session(self, body["token"], body["address"], body)


@dataclass
class Session:
    """A signed-in participant: every call carries its bearer token."""

    node: NodeClient
    token: str
    address: str
    login: dict[str, Any]

    def get(self, path: str, **kw: Any) -> Any:
        return self.node.call("GET", path, self.token, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        if body is not None:
            kw["json"] = body
        return self.node.call("POST", path, self.token, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.node.call("PUT", path, self.token, json=body, **kw)

    def write(self, path: str, body: Any = None, **kw: Any) -> Any:
        """POST and wait until the read model has the transaction's block."""
        out = self.post(path, body, **kw)
        if isinstance(out, dict) and "block_number" in out:
            self.node.wait_indexed(out["block_number"])
        return out
