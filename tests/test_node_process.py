"""Regression tests of review findings 15, 16 and 22 (slow clients) against a REAL node process:
`python -m tradenet node` (its entry point, uvicorn, the indexer thread) on the session chain,
attacked over raw sockets. The process must survive and answer 4xx problems."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chain.anvil import free_port
from chain.keystore import Keystore
from chain.settings import PROJECT_ROOT
from node_api.auth import build_login_message, sign_login_message

pytestmark = pytest.mark.slow


@dataclass
class NodeProcess:
    proc: subprocess.Popen
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def login(self, key) -> dict[str, str]:
        with httpx.Client(base_url=self.url, timeout=10) as c:
            n = c.post("/auth/nonce").json()
            msg = build_login_message(address=key.address, domain=n["domain"], uri=n["uri"], scheme=n["scheme"],
                                      chain_id=n["chain_id"], nonce=n["nonce"])
            r = c.post("/auth/login", json={"message": msg.to_text(), "signature": sign_login_message(msg, key)})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['token']}"}


def start_node_process(net, tmp_path: Path, *args: str, **settings: str) -> NodeProcess:
    """`python -m tradenet node` (with `args`, e.g. ``--workers 2``) on the session chain, the
    seller's key custodial, `settings` as TRADENET_* variables."""
    ks = Keystore(tmp_path / "keys", scrypt_n=2**10)
    ks.import_key("seller", net.keys["seller"].key, "pw")
    (tmp_path / "pw").write_text("pw")
    port = free_port()
    env = dict(os.environ, TRADENET_NETWORK=net.deployment.network, TRADENET_TEST_RPC_URL=net.anvil_url,
               TRADENET_DEPLOYMENT_FILE=str(net.deployment.save(tmp_path / "deployments")),
               TRADENET_DATABASE_URL=f"sqlite:///{tmp_path / 'node.db'}", TRADENET_DOCUMENT_DIR=str(tmp_path / "docs"),
               TRADENET_API_DOMAIN=f"127.0.0.1:{port}", TRADENET_API_URI=f"http://127.0.0.1:{port}",
               **{f"TRADENET_{k.upper()}": v for k, v in settings.items()})
    log = open(tmp_path / "node.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tradenet", "node", "--port", str(port), "--keystore",
                             str(tmp_path / "keys"), "--custodial", "seller", "--password-file", str(tmp_path / "pw"), *args],
                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    node = NodeProcess(proc, "127.0.0.1", port)
    deadline = time.monotonic() + 60
    while True:
        try:  # the CLI says so once every API process listens
            if "node API at" in (tmp_path / "node.log").read_text() and \
                    httpx.get(node.url + "/health", timeout=2).status_code == 200:
                return node
        except httpx.HTTPError:
            pass
        if not node.alive() or time.monotonic() > deadline:
            raise AssertionError(f"node did not start:\n{(tmp_path / 'node.log').read_text()}")
        time.sleep(0.2)


@pytest.fixture
def node(net, tmp_path):
    n = start_node_process(net, tmp_path)
    yield n
    n.proc.terminate()
    n.proc.wait(10)


def raw_request(node: NodeProcess, head: str, body: bytes = b"", timeout: float = 20) -> tuple[int, bytes]:
    """Send one raw HTTP/1.1 request; the status code and the response body."""
    with socket.create_connection((node.host, node.port), timeout=timeout) as s:
        s.sendall(head.encode() + b"\r\n" + body)
        return _read_response(s)


def _read_response(s: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), None)
    while length is not None and len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, rest


def post_head(node: NodeProcess, path: str, length: int | None = None, extra: str = "") -> str:
    framing = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: {node.host}:{node.port}\r\nContent-Type: application/json\r\n"
            f"{framing}{extra}")


# --------------------------------------------------------------------------- finding 15


def test_finding15_nested_body_does_not_crash_node(node, net):
    nested = b"[" * 100_000 + b"]" * 100_000  # 200 KB: segfaulted the node before the fix
    shallow_enough = b"[" * 30_000 + b"]" * 30_000  # 60 KB: under the JSON cap, far over the depth limit
    seller = node.login(net.keys["seller"])
    auth = f"Authorization: {seller['Authorization']}\r\n"
    cases = [
        ("/invoices", "", nested, 401),  # no session: refused before the body is read
        ("/auth/login", "", nested, 413),  # unauthenticated route: over the 64 KiB JSON cap
        ("/auth/login", "", shallow_enough, 400),  # under the cap: the depth pre-scan refuses it
        ("/invoices", auth, nested, 413),
        ("/invoices", auth, shallow_enough, 400),
        ("/invoices", auth, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400),
        ("/deals/terms/signature", auth, shallow_enough, 400),
    ]
    for path, extra, body, want in cases:
        status, answer = raw_request(node, post_head(node, path, len(body), extra), body)
        assert status == want, (path, status, answer[:300])
        assert b'"status":' in answer and node.alive(), path
    assert httpx.get(node.url + "/health", timeout=5).status_code == 200
    assert node.alive()


# --------------------------------------------------------------------------- finding 16


def test_finding16_oversized_bodies_are_refused_while_streaming(node, net):
    # a declared length over the cap: 413 before any of the body is sent
    status, answer = raw_request(node, post_head(node, "/auth/login", 150 * 2**20))
    assert status == 413 and b"body_too_large" in answer
    # a chunked body with no declared length: counted as it arrives, refused once past the cap;
    # the node's memory does not grow with what the client keeps sending
    rss_before = node.rss_kib()
    chunk = b"[" * 65_536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection((node.host, node.port), timeout=20) as s:
        s.sendall(post_head(node, "/auth/login").encode() + b"\r\n")
        try:
            while sent < 200 * 2**20:
                s.sendall(frame)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the node answered and closed: what we want
        status, answer = _read_response(s)
    assert status == 413 and b"body_too_large" in answer, answer[:300]
    assert sent < 50 * 2**20, f"the node let {sent:,} bytes in before refusing"
    assert node.rss_kib() - rss_before < 40 * 1024, (rss_before, node.rss_kib())
    # a document upload past the document cap (25 MiB), chunked, with a session
    seller = node.login(net.keys["seller"])
    head = (f"POST /documents HTTP/1.1\r\nHost: {node.host}\r\nAuthorization: {seller['Authorization']}\r\n"
            "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n")
    sent = 0
    with socket.create_connection((node.host, node.port), timeout=20) as s:
        s.sendall(head.encode() + b"\r\n")
        try:
            while sent < 300 * 2**20:
                s.sendall(frame)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, answer = _read_response(s)
    assert status == 413 and sent < 100 * 2**20, (status, sent)
    assert node.rss_kib() - rss_before < 120 * 1024, (rss_before, node.rss_kib())
    assert node.alive() and httpx.get(node.url + "/health", timeout=5).status_code == 200


# --------------------------------------------------------------------------- finding 22


def test_finding22_slow_clients_are_timed_out(net, tmp_path):
    node = start_node_process(net, tmp_path, request_read_timeout_seconds="1", keep_alive_timeout_seconds="1")
    try:
        # a body that never finishes arriving: 408 after the read timeout (it held a worker for ever)
        t0 = time.monotonic()
        with socket.create_connection((node.host, node.port), timeout=15) as s:
            s.sendall(post_head(node, "/auth/login", 100).encode() + b"\r\n" + b'{"message":')
            status, answer = _read_response(s)
        assert status == 408 and b"request_timeout" in answer and time.monotonic() - t0 < 10
        # an idle keep-alive connection is closed
        with socket.create_connection((node.host, node.port), timeout=15) as s:
            s.sendall(f"GET /health HTTP/1.1\r\nHost: {node.host}\r\n\r\n".encode())
            assert _read_response(s)[0] == 200
            t0 = time.monotonic()
            assert s.recv(1) == b"" and time.monotonic() - t0 < 10  # closed by the node
        assert node.alive()
    finally:
        node.proc.terminate()
        node.proc.wait(10)
