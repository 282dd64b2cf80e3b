"""JSON-RPC to the node without web3's request pipeline: single calls and batches.

web3's middleware and formatters cost about 0.7 ms a request and its HTTP provider goes through
`requests` (another ~0.6 ms); the transaction pipeline and the receipt watcher sit on the write
path, so they talk to the node here. `rpc_for(w3)` picks the transport:

- an HTTP(S) provider: one keep-alive `http.client` connection per thread to the provider's
  endpoint, with the provider's headers and timeout (~0.15 ms a request on loopback); with
  other request options (proxies, certificates) the provider's own transport, as below;
- any other JSON-RPC provider (IPC, WebSocket...): the provider's own `make_request` /
  `make_batch_request`, still without web3's middleware;
- a provider that is not JSON-RPC (eth-tester's in-process py-evm): None, and callers use web3.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import os
import ssl
import threading
from typing import Any, Sequence
from urllib.parse import urlsplit

from web3 import Web3
from web3.providers import HTTPProvider, JSONBaseProvider

#: Requests per HTTP batch (geth's default BatchRequestLimit is 1,000).
BATCH_CHUNK = 500

Call = tuple[str, Sequence[Any]]


class RpcError(Exception):
    """The node answered a request with a JSON-RPC error."""

    def __init__(self, method: str, error: Any):
        self.method = method
        self.error = error
        if isinstance(error, dict):
            self.code = error.get("code")
            self.message = str(error.get("message", ""))
            self.data = error.get("data")
        else:
            self.code, self.message, self.data = None, str(error), None
        super().__init__(f"{method}: {self.message or error}")


class RpcUnavailable(Exception):
    """The request did not get an answer (connection refused, reset, timed out)."""


class Rpc:
    """A JSON-RPC transport. `call` raises `RpcError`; `batch` returns each result or its
    `RpcError` in request order."""

    #: identifies the node connection (one receipt watcher per key in a process)
    key: str

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        raise NotImplementedError


def _result(method: str, resp: Any) -> Any:
    if not isinstance(resp, dict):
        return RpcError(method, {"message": f"malformed response {resp!r}"})
    if resp.get("error") is not None:
        return RpcError(method, resp["error"])
    return resp.get("result")


class HttpRpc(Rpc):
    """Keep-alive HTTP connections to one endpoint, one per thread."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 30.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not an HTTP endpoint: {url}")
        self.key = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if parts.username is not None:
            creds = f"{parts.username}:{parts.password or ''}".encode()
            self._headers.setdefault("Authorization", "Basic " + base64.b64encode(creds).decode())
        self._local = threading.local()
        self._pid = os.getpid()
        self._ids = itertools.count(1)

    @classmethod
    def for_provider(cls, provider: HTTPProvider) -> "HttpRpc":
        kwargs = dict(provider.get_request_kwargs())
        headers = dict(kwargs.get("headers") or {})
        timeout = kwargs.get("timeout", 30.0)
        if isinstance(timeout, tuple):  # requests' (connect, read)
            timeout = max(timeout)
        return cls(str(provider.endpoint_uri), headers, float(timeout or 30.0))

    def _connection(self) -> http.client.HTTPConnection:
        if os.getpid() != self._pid:  # a forked worker must not share its parent's sockets
            self._local, self._pid = threading.local(), os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                   context=ssl.create_default_context())
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def _post(self, body: bytes) -> Any:
        # a kept-alive connection the server closed fails on first use: reconnect once. A request
        # the node did execute before the connection broke can come back as "already known" on
        # the retry; the sender handles that for eth_sendRawTransaction.
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body, self._headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise RpcUnavailable(f"{self.key}: {type(exc).__name__}: {exc}") from exc
                continue
            if resp.status != 200 and not payload.startswith((b"{", b"[")):
                raise RpcUnavailable(f"{self.key}: HTTP {resp.status}: {payload[:200]!r}")
            return json.loads(payload)
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        out = _result(method, self._post(body.encode()))
        if isinstance(out, RpcError):
            raise out
        return out

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(calls), BATCH_CHUNK):
            chunk = calls[start:start + BATCH_CHUNK]
            reqs = [{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in enumerate(chunk)]
            resp = self._post(json.dumps(reqs).encode())
            if isinstance(resp, dict):  # the whole batch refused (e.g. batches disabled)
                raise RpcError("batch", resp.get("error", resp))
            by_id = {r.get("id"): r for r in resp if isinstance(r, dict)}  # answers may come in any order
            out.extend(_result(m, by_id.get(i)) for i, (m, _) in enumerate(chunk))
        return out


class ProviderRpc(Rpc):
    """Any other JSON-RPC provider of web3 (IPC, WebSocket), used below its middleware."""

    def __init__(self, provider: JSONBaseProvider):
        self._provider = provider
        self.key = f"{type(provider).__name__}:{getattr(provider, 'endpoint_uri', None) or getattr(provider, 'ipc_path', None) or id(provider)}"

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        try:
            resp = self._provider.make_request(method, list(params))  # type: ignore[arg-type]
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise RpcUnavailable(f"{self.key}: {exc}") from exc
        out = _result(method, resp)
        if isinstance(out, RpcError):
            raise out
        return out

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        batcher = getattr(self._provider, "make_batch_request", None)
        if batcher is None:
            return [self._one(m, p) for m, p in calls]
        out: list[Any] = []
        for start in range(0, len(calls), BATCH_CHUNK):
            chunk = calls[start:start + BATCH_CHUNK]
            try:
                resp = batcher([(m, list(p)) for m, p in chunk])
            except NotImplementedError:
                return out + [self._one(m, p) for m, p in calls[start:]]
            if isinstance(resp, dict):
                raise RpcError("batch", resp.get("error", resp))
            out.extend(_result(m, r) for (m, _), r in zip(chunk, resp))
        return out

    def _one(self, method: str, params: Sequence[Any]) -> Any:
        try:
            return self.call(method, params)
        except RpcError as exc:
            return exc


class SendQueue:
    """Sends many threads' raw transactions to the node in shared JSON-RPC batches.

    A thread calling `send` queues its transaction; if no batch is in flight it leads: posts what
    is queued (up to `max_batch`), hands the lead to the first transaction still queued (whose
    thread posts the next batch) and returns with its own result. One request thus carries the
    transactions of all concurrent senders, and the node's per-request cost is paid once (anvil:
    ~0.25 ms for a single send, ~0.15 ms a transaction in a batch). The caller gets its own
    result, or its own `RpcError`, as from `Rpc.call`."""

    def __init__(self, rpc: Rpc, max_batch: int = 200):
        self.rpc = rpc
        self.max_batch = max_batch
        self._queue: list[_Slot] = []
        self._lock = threading.Lock()
        self._sending = False

    def send(self, raw_hex: str) -> Any:
        slot = _Slot(raw_hex)
        with self._lock:
            self._queue.append(slot)
            lead = not self._sending
            self._sending = True
        while True:
            if lead:
                self._post_batch()
            slot.done.wait()
            if not slot.lead:
                break
            slot.lead, lead = False, True  # handed the lead: post the next batch (ours is in it)
            slot.done.clear()
        if isinstance(slot.result, BaseException):
            raise slot.result
        return slot.result

    def _post_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
        try:
            if len(batch) == 1:
                try:
                    results: list[Any] = [self.rpc.call("eth_sendRawTransaction", [batch[0].raw])]
                except RpcError as exc:
                    results = [exc]
            else:
                results = self.rpc.batch([("eth_sendRawTransaction", [s.raw]) for s in batch])
        except BaseException as exc:  # the node unreachable: every transaction of the batch
            results = [exc] * len(batch)
        with self._lock:
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._sending = False
        for s, r in zip(batch, results):
            s.result = r
            s.done.set()


class _Slot:
    __slots__ = ("raw", "result", "done", "lead")

    def __init__(self, raw: str):
        self.raw = raw
        self.result: Any = None
        self.done = threading.Event()
        self.lead = False


def rpc_for(w3: Web3) -> Rpc | None:
    """The raw transport for `w3`'s provider, or None where it is not JSON-RPC (eth-tester)."""
    provider = w3.provider
    if isinstance(provider, HTTPProvider):
        # request options beyond headers and a timeout (proxies, client certificates, a CA
        # bundle...) are the `requests` session's business: keep the provider's transport then
        if set(getattr(provider, "_request_kwargs", None) or {}) <= {"headers", "timeout"}:
            try:
                return HttpRpc.for_provider(provider)
            except ValueError:
                pass
        return ProviderRpc(provider)
    if isinstance(provider, JSONBaseProvider):
        return ProviderRpc(provider)
    return None


def to_hex(value: bytes | int) -> str:
    if isinstance(value, int):
        return hex(value)
    return "0x" + bytes(value).hex()
