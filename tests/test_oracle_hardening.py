"""Regression tests of the outside review's findings on the oracle operator daemon (issue 7:
findings 14, 15, 16 and the oracle part of 22), each named after its finding.

Hostile bodies, oversized streams and slow clients are sent to a REAL daemon process on the
session anvil (``tests.support.oracle.standalone``): the findings are about what the process
survives, which an in-process test client cannot show."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time

import httpx
import pytest

from oracle.hmac_auth import sign_headers
from oracle.normalize import canonical_json
from oracle.samples import fx_observation, transport_event
from tests.support.oracle.standalone import (CARRIER, CARRIER_SECRET, FX_SECRET, FX_SOURCE, REPO,
                                             StandaloneOperator, read_response)

NESTED_240KB = b"[" * 120_000 + b"]" * 120_000  # under the operator's 256 KiB limit of the review


@pytest.fixture
def operator(net, tmp_path):
    with StandaloneOperator(net, tmp_path / "op") as op:
        yield op


def _problem(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    return resp.json()


# ----------------------------------------------------------------------------------------- finding 15
@pytest.mark.slow
def test_finding15_hostile_nested_bodies_do_not_kill_the_operator(operator):
    """An unauthenticated 240 KB body of nested arrays on POST /signatures segfaulted an operator
    (py_ecc had raised the recursion limit to 100,000). Every JSON route now answers 4xx and the
    process lives on."""
    hostile = {
        "arrays-240KB": NESTED_240KB,
        "arrays-15KB": b"[" * 7_500 + b"]" * 7_500,  # under every route cap: the depth check answers
        "objects": b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
        "unclosed": b"[" * 14_000,
    }
    with httpx.Client(base_url=operator.url, timeout=30) as http:
        for name, body in hostile.items():
            resp = http.post("/signatures", content=body, headers={"Content-Type": "application/json"})
            assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.text)
            assert operator.healthy(), f"operator died on {name}:\n{operator.log_tail()}"
            # unauthenticated: refused on the credentials, never parsed
            resp = http.post("/carrier-events", content=body, headers={"Content-Type": "application/json"})
            assert resp.status_code == 401, (name, resp.text)
            # authenticated carrier and FX posts are parsed with the depth limit
            for path, source, secret in (("/carrier-events", CARRIER, CARRIER_SECRET),
                                         ("/fx-rates", FX_SOURCE, FX_SECRET)):
                resp = http.post(path, content=body, headers=sign_headers(source, secret, body))
                assert resp.status_code in (400, 413), (name, path, resp.text)
                assert operator.healthy(), f"operator died on {name} at {path}:\n{operator.log_tail()}"
        depth = _problem(http.post("/signatures", content=hostile["arrays-15KB"]), 400)
        assert "deeper" in depth["detail"]
    assert operator.alive


def test_finding15_recursion_limit_is_sane_once_the_stack_is_imported():
    """The daemon sets the recursion limit back after importing web3 / eth-account (py_ecc raises
    it to 100,000): deep recursion is then a RecursionError, not a C-stack overflow. Run in a
    subprocess: a segfault there must not take the test runner with it."""
    code = ("import sys, json\n"
            "from oracle import daemon\n"
            "import oracle.node\n"
            "assert sys.getrecursionlimit() >= 100000, sys.getrecursionlimit()\n"
            "daemon.limit_recursion()\n"
            "assert sys.getrecursionlimit() == daemon.RECURSION_LIMIT\n"
            "try:\n"
            "    json.loads('[' * 100000 + ']' * 100000)\n"
            "except RecursionError:\n"
            "    print('RecursionError')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "RecursionError"


# ----------------------------------------------------------------------------------------- finding 16
def _stream_chunked(sock: socket.socket, path: str, total: int, chunk: int = 64 * 1024) -> tuple[int, int, bytes]:
    """Send a chunked body of up to `total` bytes, watching for an early answer after every chunk.
    Returns (bytes sent, HTTP status, raw answer)."""
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"Transfer-Encoding: chunked\r\n\r\n".encode())
    piece = f"{chunk:x}\r\n".encode() + b"[" * chunk + b"\r\n"
    sent = 0
    while sent < total:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += chunk
    status, _, body = read_response(sock, timeout=30)
    return sent, status, body


@pytest.mark.slow
def test_finding16_chunked_body_is_refused_while_it_streams(operator):
    """An operator buffered a chunked 200 MB body before refusing it. The cap is now enforced while
    the chunks arrive: 413 as soon as it is passed, and the process does not grow."""
    rss_before = operator.rss_bytes()
    for path in ("/carrier-events", "/events", "/signatures", "/fx-rates"):
        with operator.socket() as sock:
            sent, status, body = _stream_chunked(sock, path, 200 * 1024 * 1024)
        assert status == 413, (path, status, body[:300])
        assert json.loads(body)["code"] == "body_too_large"
        # the cap (1 MiB at most) plus what the kernel's socket buffers absorbed before the answer
        assert sent < 24 * 1024 * 1024, f"{path}: {sent:,} bytes sent before the 413"
    growth = operator.rss_bytes() - rss_before
    assert growth < 64 * 1024 * 1024, f"RSS grew by {growth:,} bytes"
    assert operator.healthy()


@pytest.mark.slow
def test_finding16_declared_length_over_the_cap_is_refused_before_the_body(operator):
    with operator.socket() as sock:
        sock.sendall(b"POST /carrier-events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 209715200\r\n\r\n")  # and not one byte of the body
        status, headers, body = read_response(sock, timeout=5)
    assert status == 413 and headers["connection"] == "close"
    assert "209,715,200" in json.loads(body)["detail"]


# ----------------------------------------------------------------------------------------- finding 22
@pytest.mark.slow
def test_finding22_unicode_digit_timestamp_is_a_401_not_a_500(operator):
    """``X-Tradenet-Timestamp: ¹`` passed ``str.isdigit()`` and crashed ``int()`` (500). Sent over a
    raw socket: an HTTP client library re-encodes such header bytes, the review's client did not."""
    body = canonical_json(transport_event())
    for stamp in ("\u00b9".encode("latin-1"), "\u00b2\u00b3".encode("latin-1"), "\u0661".encode(),
                  "\uff11\uff12".encode(), b"12e3", b"-1", b"0x10", b"1" * 13):
        headers = sign_headers(CARRIER, CARRIER_SECRET, body)
        head = b"POST /carrier-events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\n".encode()
        head += f"X-Tradenet-Carrier: {headers['X-Tradenet-Carrier']}\r\n".encode()
        head += f"X-Tradenet-Signature: {headers['X-Tradenet-Signature']}\r\n".encode()
        head += b"X-Tradenet-Timestamp: " + stamp + b"\r\n\r\n"
        with operator.socket() as sock:
            sock.sendall(head + body)
            status, headers_back, answer = read_response(sock, timeout=10)
        assert status == 401, (stamp, status, answer[:300])
        assert headers_back["content-type"].startswith("application/problem+json")
        assert json.loads(answer)["field"] == "X-Tradenet-Timestamp", answer
    assert operator.healthy()


SLOW = {"header_timeout_seconds": 1.0, "read_timeout_seconds": 1.0, "body_timeout_seconds": 2.0,
        "max_concurrent_requests": 2}


@pytest.fixture
def slow_limited_operator(net, tmp_path):
    with StandaloneOperator(net, tmp_path / "op", http=SLOW) as op:
        yield op


@pytest.mark.slow
def test_finding22_slow_body_is_cut_off_with_408(slow_limited_operator):
    op = slow_limited_operator
    started = time.monotonic()
    with op.socket() as sock:
        sock.sendall(b"POST /carrier-events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"eventID\":")  # then nothing
        status, headers, body = read_response(sock, timeout=8)
    assert status == 408 and json.loads(body)["code"] == "request_timeout"
    assert time.monotonic() - started < 5
    assert op.healthy()


@pytest.mark.slow
def test_finding22_slow_request_head_is_closed(slow_limited_operator):
    op = slow_limited_operator
    with op.socket() as sock:
        sock.sendall(b"POST /carrier-events HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        started = time.monotonic()
        sock.settimeout(8)
        closed = b""
        try:
            while time.monotonic() - started < 8:  # a byte every half second must not keep it alive either
                sock.sendall(b"X")
                readable, _, _ = select.select([sock], [], [], 0.5)
                if readable:
                    closed = sock.recv(1024)
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - started < 5, "the server kept a connection without a request head open"
        assert closed == b"" or closed.startswith(b"HTTP/1.1 4")
    assert op.healthy()


@pytest.mark.slow
def test_finding22_requests_beyond_the_concurrency_limit_get_503_at_once(slow_limited_operator):
    op = slow_limited_operator
    holders = []
    try:
        for _ in range(2):  # two uploads that hold their slot until the body timeout
            sock = op.socket()
            sock.sendall(b"POST /fx-rates HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{")
            holders.append(sock)
        time.sleep(0.3)
        started = time.monotonic()
        body = canonical_json(fx_observation())
        resp = httpx.post(op.url + "/fx-rates", content=body, headers=sign_headers(FX_SOURCE, FX_SECRET, body),
                          timeout=5)
        problem = _problem(resp, 503)
        assert problem["code"] == "overloaded" and resp.headers["retry-after"] == "1"
        assert time.monotonic() - started < 1.5
    finally:
        for sock in holders:
            sock.close()
    time.sleep(2.5)  # the held slots are released (timed out or closed)
    body = canonical_json(fx_observation())
    resp = httpx.post(op.url + "/fx-rates", content=body, headers=sign_headers(FX_SOURCE, FX_SECRET, body), timeout=5)
    assert resp.status_code in (202, 200), resp.text


# ----------------------------------------------------------------------------------------- finding 14
def test_finding14_carrier_secret_refused_on_fx_rates(tmp_path):
    """A carrier's HMAC secret was also accepted on /fx-rates: any carrier could publish FX rates.
    Each credential now posts only its own kind of input; the refusal is a 403 and stores nothing."""
    from fastapi.testclient import TestClient

    from oracle.api import create_app
    from tests.support.oracle import builders as b

    svc = b.service_for(tmp_path)
    client = TestClient(create_app(svc))
    rate = canonical_json(fx_observation())
    resp = client.post("/fx-rates", content=rate, headers=sign_headers(b.CARRIER, b.CARRIER_SECRET, rate))
    problem = _problem(resp, 403)
    assert problem["field"] == "X-Tradenet-Carrier" and "FX observations" in problem["detail"]
    event = canonical_json(transport_event())
    resp = client.post("/carrier-events", content=event, headers=sign_headers(b.FX_SOURCE, b.FX_SECRET, event))
    assert _problem(resp, 403)["field"] == "X-Tradenet-Carrier"
    assert svc.store.counts()["reports"] == {} and svc.store.counts()["carrier_events"] == {}
    # each with its own kind: accepted
    assert client.post("/fx-rates", content=rate, headers=sign_headers(b.FX_SOURCE, b.FX_SECRET, rate)).status_code == 202
    assert client.post("/carrier-events", content=event,
                       headers=sign_headers(b.CARRIER, b.CARRIER_SECRET, event)).status_code == 202
    svc.store.close()
