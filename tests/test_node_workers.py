"""A node of several API processes (``tradenet node --workers N``, node_api.workers) and what they
share: login nonces and sessions in the database, nonce counters and payment locks in host-wide
files, operations; and the member records each process keeps until a block changes the registry
(node_api.members)."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from chain.client import Chain
from chain.fsutil import HostLock
from chain.indexer.db import create_db_engine
from chain.vocabulary import Role
from node_api.auth import build_login_message, sign_login_message
from node_api.auth.errors import NonceExpiredError, NonceReusedError, NonceUnknownError, SessionExpiredError, \
    SessionNotFoundError
from node_api.auth.shared import SqlNonceStore, SqlSessionStore, create_auth_tables
from node_api.members import MemberCache
from tests.support.api import make_api
from tests.support.localnet import descendants
from tests.test_node_process import start_node_process

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _engines(tmp_path: Path, n: int = 2):
    """`n` engines on one SQLite file: as `n` processes of a node see its database."""
    url = f"sqlite:///{tmp_path / 'node.db'}"
    engines = [create_db_engine(url) for _ in range(n)]
    create_auth_tables(engines[0])
    return engines


# ------------------------------------------------------------------------- nonces and sessions


def test_a_login_nonce_issued_by_one_process_is_spent_once_by_any(tmp_path):
    a, b = (SqlNonceStore(e) for e in _engines(tmp_path))
    nonce = a.issue()
    b.consume(nonce)
    with pytest.raises(NonceReusedError):
        a.consume(nonce)
    with pytest.raises(NonceUnknownError):
        b.consume("Z" * 24)


def test_a_login_nonce_is_consumed_exactly_once_when_processes_race(tmp_path):
    stores = [SqlNonceStore(e) for e in _engines(tmp_path, 4)]
    nonce = stores[0].issue()
    outcomes: list[str] = []

    def spend(i: int) -> None:
        try:
            stores[i % 4].consume(nonce)
            outcomes.append("ok")
        except NonceReusedError:
            outcomes.append("reused")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(spend, range(32)))
    assert outcomes.count("ok") == 1 and outcomes.count("reused") == 31


def test_shared_login_nonces_expire_and_stay_bounded(tmp_path):
    clock = FakeClock()
    store = SqlNonceStore(_engines(tmp_path, 1)[0], ttl=timedelta(minutes=10), clock=clock)
    old = store.issue()
    clock.now += timedelta(minutes=11)
    with pytest.raises(NonceExpiredError):
        store.consume(old)
    with pytest.raises(NonceUnknownError):  # an expired nonce is forgotten, still refused
        store.consume(old)
    (tmp_path / "b").mkdir()
    bounded = SqlNonceStore(_engines(tmp_path / "b", 1)[0], max_outstanding=3)
    issued = [bounded.issue() for _ in range(5)]
    assert len(bounded) == 3  # a flood of nonce requests pushes out the oldest, never grows the table
    for n in issued[:2]:
        with pytest.raises(NonceUnknownError):
            bounded.consume(n)
    for n in issued[2:]:
        bounded.consume(n)


def test_a_session_started_by_one_process_is_known_and_ended_for_all(tmp_path):
    a, b = (SqlSessionStore(e) for e in _engines(tmp_path))
    address = Account.create().address
    issued = a.create(address, 31337)
    assert b.get(issued.token).address == address
    assert b.get(issued.token) == issued.session  # every process answers the same session
    assert b.revoke(issued.token)
    with pytest.raises(SessionNotFoundError):
        a.get(issued.token)
    one, two = a.create(address, 31337), a.create(address, 31337)
    assert b.revoke_address(address.lower()) == 2
    for s in (one, two):
        with pytest.raises(SessionNotFoundError):
            a.get(s.token)


def test_a_session_ended_elsewhere_ends_here_within_the_recheck_and_survives_a_database_outage(tmp_path):
    a_engine, b_engine = _engines(tmp_path)
    a, b = SqlSessionStore(a_engine, recheck_seconds=0.2), SqlSessionStore(b_engine)
    address = Account.create().address
    ended, kept = a.create(address, 31337), a.create(address, 31337)
    a.get(ended.token), a.get(kept.token)  # confirmed by this process
    assert b.revoke(ended.token)
    time.sleep(0.25)
    with pytest.raises(SessionNotFoundError):  # the other process's logout, seen at the next look
        a.get(ended.token)
    a.get(kept.token)
    a._db = create_db_engine(f"sqlite:///{tmp_path / 'gone' / 'node.db'}")  # the database unreachable
    time.sleep(0.25)
    assert a.get(kept.token).address == address  # confirmed a moment ago: writes go on
    never_seen = b.create(address, 31337)
    with pytest.raises(Exception, match="unable to open"):  # not confirmed here: no session without the database
        a.get(never_seen.token)


def test_a_shared_session_expires_and_its_token_is_not_stored(tmp_path):
    clock = FakeClock()
    engine = _engines(tmp_path, 1)[0]
    store = SqlSessionStore(engine, ttl=timedelta(hours=1), clock=clock)
    issued = store.create(Account.create().address, 31337, expires_at=T0 + timedelta(minutes=30))
    assert issued.session.expires_at == T0 + timedelta(minutes=30)  # never outlives the login message
    clock.now += timedelta(minutes=30)
    with pytest.raises(SessionExpiredError):
        store.get(issued.token)
    kept = store.create(Account.create().address, 31337)
    engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("node.db*"))
    assert kept.token.encode() not in raw and kept.session.session_id.encode() in raw


# ------------------------------------------------------------------------- host-wide locks and nonces


def test_a_host_lock_excludes_another_holder_of_its_file(tmp_path):
    a, b = HostLock(tmp_path / "x.lock"), HostLock(tmp_path / "x.lock")  # two processes' locks on one file
    got = threading.Event()

    def take() -> None:
        with b:
            got.set()

    with a:
        t = threading.Thread(target=take)
        t.start()
        assert not got.wait(0.3), "the second holder got in while the first held the file"
    assert got.wait(5)
    t.join()


def test_two_connections_sharing_nonce_files_send_one_account_without_collisions(net, tmp_path):
    """As two API processes signing for one custodial account: every nonce used once, none skipped."""
    chains = [Chain.connect(net.anvil_url, artifacts=net.chain.artifacts, nonce_dir=tmp_path / "nonces")
              for _ in range(2)]
    key = net.keys["seller"]
    start = net.w3.eth.get_transaction_count(key.address)

    def send(i: int):
        return chains[i % 2].sender(key).submit_raw(net.addr("buyer"), b"", gas=21_000, precheck=False)

    with ThreadPoolExecutor(8) as pool:
        pending = list(pool.map(send, range(24)))
    receipts = [p.wait() for p in pending]
    assert all(r["status"] == 1 for r in receipts)
    assert sorted(p.tx["nonce"] for p in pending) == list(range(start, start + 24))
    assert net.w3.eth.get_transaction_count(key.address) == start + 24


# ------------------------------------------------------------------------- member records


def _until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _followed(cache: MemberCache, net) -> None:
    """Wait until the follower has looked at the chain's current head."""
    head = net.w3.eth.block_number
    _until(lambda: cache.fresh() and cache._head is not None and cache._head[0] >= head)


def test_member_records_are_kept_until_a_block_changes_the_registry(net):
    reg = net.registry()
    cache = MemberCache(net.chain.rpc, reg.address, reg.member, poll_interval=0.02)
    seller = net.addr("seller")
    cache.member(seller)
    _followed(cache, net)
    reads = cache.reads
    assert Role.SELLER in cache.member(seller).roles and Role.SELLER in cache.member(seller).roles
    assert cache.reads == reads + 1  # read once, then kept
    net.w3.provider.make_request("evm_mine", [])  # a block without registry events keeps it
    _followed(cache, net)
    cache.member(seller)
    assert cache.reads == reads + 1
    reg.govern(net.admins, [reg.call_set_roles(seller, Role.BUYER)], "seller becomes buyer only")
    _followed(cache, net)  # the first look after the block with RolesChanged
    assert cache.member(seller).roles == Role.BUYER


class _Heads:
    """A node whose head and registry logs the test sets."""

    def __init__(self) -> None:
        self.head: dict | None = None
        self.logs: dict[str, list] = {}

    def block(self, number: int, block_hash: str, parent: str, *logs: str) -> None:
        self.head = {"number": hex(number), "hash": block_hash, "parentHash": parent}
        self.logs[block_hash] = list(logs)

    def call(self, method: str, params: list):
        if method == "eth_getBlockByNumber":
            return self.head
        assert method == "eth_getLogs" and params[0]["address"] == "0xregistry"
        return self.logs.get(params[0]["blockHash"], [])


@pytest.mark.parametrize("change, dropped", [
    ("same head", False),
    ("next block, no registry event", False),
    ("next block with a registry event", True),
    ("next block on another parent (reorganisation)", True),
    ("several blocks at once", True),
    ("lower head (a revert)", True),
])
def test_the_follower_drops_kept_records_exactly_when_a_block_may_have_changed_them(change, dropped):
    rpc, reads = _Heads(), []
    cache = MemberCache(rpc, "0xREGISTRY", lambda a: reads.append(a) or f"record {len(reads)}", follow=False)
    rpc.block(10, "0xa", "0x9")
    cache.poll_once()
    assert cache.member("0xseller") == "record 1" and cache.member("0xseller") == "record 1"
    if change == "same head":
        pass
    elif change == "next block, no registry event":
        rpc.block(11, "0xb", "0xa")
    elif change == "next block with a registry event":
        rpc.block(11, "0xb", "0xa", {"topics": ["RolesChanged"]})
    elif change == "next block on another parent (reorganisation)":
        rpc.block(11, "0xb", "0xother")
    elif change == "several blocks at once":
        rpc.block(13, "0xd", "0xc")
    else:
        rpc.block(9, "0x9", "0x8")
    cache.poll_once()
    assert cache.member("0xseller") == ("record 2" if dropped else "record 1")


def test_a_record_read_while_a_registry_event_arrived_is_not_kept():
    rpc = _Heads()
    rpc.block(10, "0xa", "0x9")
    cache: MemberCache

    def read(address: str) -> str:  # the follower sees the block with the event while this read is on the wire
        rpc.block(11, "0xb", "0xa", {"topics": ["MemberSuspended"]})
        cache.poll_once()
        return "record read before the suspension"

    cache = MemberCache(rpc, "0xregistry", read, follow=False)
    cache.poll_once()
    cache.member("0xseller")
    assert cache.stats()["kept"] == 0


def test_member_records_are_read_from_the_chain_while_the_follower_is_not_looking(net):
    reg = net.registry()
    cache = MemberCache(net.chain.rpc, reg.address, reg.member, poll_interval=0.02, idle_exit=0.2)
    seller = net.addr("seller")
    cache.member(seller)
    _followed(cache, net)
    _until(lambda: not cache.fresh(), timeout=5)  # idle: the follower stopped, nothing kept is trusted
    reads = cache.reads
    cache.member(seller)
    assert cache.reads == reads + 1


def test_a_revoked_role_is_refused_by_the_api_within_one_block(net, tmp_path):
    api = make_api(net, tmp_path, member_follow_seconds=0.02)
    headers = api.login("seller")
    assert api.client.get("/invoices", headers=headers).status_code == 200
    reg = net.registry()
    reg.govern(net.admins, [reg.call_set_roles(net.addr("seller"), Role.BUYER)], "seller becomes buyer only")
    _followed(api.ctx._members, net)
    r = api.client.post("/invoices", json=_invoice_body(net), headers=headers)
    assert r.status_code == 403 and "SELLER" in r.json()["detail"]


# ------------------------------------------------------------------------- the node with workers


def _invoice_body(net, number: str = "WORKERS-INV-1") -> dict:
    now = net.now()
    return {"buyer": net.addr("buyer"), "invoice_number": number, "face_value": {"currency": "USD", "minor": 1_000_00},
            "issue_date": now, "due_date": now + 60 * 86_400,
            "document_hash": "0x" + hashlib.sha256(number.encode()).hexdigest(),
            "document_cid": "bafkreiworkers"}


def _login(url: str, key) -> str:
    """Nonce and login on two new connections (each may reach another process)."""
    n = httpx.post(url + "/auth/nonce", timeout=10).json()
    msg = build_login_message(address=key.address, domain=n["domain"], uri=n["uri"], scheme=n["scheme"],
                              chain_id=n["chain_id"], nonce=n["nonce"])
    r = httpx.post(url + "/auth/login", json={"message": msg.to_text(), "signature": sign_login_message(msg, key)},
                   timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["token"]


@pytest.mark.slow
def test_a_node_with_two_api_processes_behind_one_port(net, tmp_path):
    node = start_node_process(net, tmp_path, "--workers", "2")
    try:
        children = descendants(node.proc.pid)
        # both processes answer on the one port (each request on a new connection)
        seen: set[int] = set()
        with ThreadPoolExecutor(8) as pool:
            for _ in range(25):
                seen |= {w for w in pool.map(lambda _: httpx.get(node.url + "/health", timeout=10).json()["worker"],
                                             range(8))}
                if seen == {0, 1}:
                    break
        assert seen == {0, 1}
        # logins whose nonce and login land on any process; sessions known to both
        key = net.keys["seller"]
        tokens = [_login(node.url, key) for _ in range(6)]
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        answers = {httpx.get(node.url + "/auth/me", headers=auth, timeout=10).status_code for _ in range(16)}
        assert answers == {200}
        # custodial writes of one account from both processes at once: no nonce sent twice
        def mint(i: int) -> httpx.Response:
            return httpx.post(node.url + "/invoices", json=_invoice_body(net, f"WORKERS-INV-{i}"),
                              headers=auth, timeout=60)

        with ThreadPoolExecutor(8) as pool:
            minted = list(pool.map(mint, range(8)))
        assert [r.status_code for r in minted] == [201] * 8, [r.text for r in minted if r.status_code != 201]
        assert len({r.json()["invoice_id"] for r in minted}) == 8
        # an asynchronous write's operation is answered by whichever process is asked
        r = httpx.post(node.url + "/invoices", json=_invoice_body(net, "WORKERS-ASYNC"),
                       headers={**auth, "Prefer": "respond-async"}, timeout=60)
        assert r.status_code == 202, r.text
        status_url = node.url + r.json()["status_url"]
        states: list[str] = []

        def finished() -> bool:
            got = httpx.get(status_url, headers=auth, timeout=10)
            assert got.status_code == 200, got.text
            states.append(got.json()["state"])
            return states[-1] != "pending"

        _until(finished, timeout=30)
        assert states[-1] == "succeeded"
        # a logout in one process ends the session in all (in the others within a second)
        assert httpx.post(node.url + "/auth/logout", headers=auth, timeout=10).status_code in (200, 204)
        time.sleep(1.1)
        assert {httpx.get(node.url + "/auth/me", headers=auth, timeout=10).status_code for _ in range(12)} == {401}
        # the other sessions live on
        other = {"Authorization": f"Bearer {tokens[1]}"}
        assert httpx.get(node.url + "/auth/me", headers=other, timeout=10).status_code == 200
        assert len(children) >= 2
    finally:
        node.proc.send_signal(signal.SIGTERM)
        node.proc.wait(30)
    assert node.proc.returncode == 0
    _until(lambda: not any(os.path.exists(f"/proc/{pid}") and _running(pid) for pid in children), timeout=20)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ----------------------------------------------------------------------------- the shared socket
def _nodelay_of_an_accepted_connection(listener) -> int:
    """TCP_NODELAY of a connection accepted on `listener` once asyncio made its transport (as
    uvicorn's server gets it)."""
    import asyncio
    import socket

    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()

    async def transport_nodelay() -> int:
        transport, _ = await asyncio.get_running_loop().connect_accepted_socket(asyncio.Protocol, accepted)
        try:
            return transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            transport.abort()

    try:
        return asyncio.run(transport_nodelay())
    finally:
        client.close()
        accepted.close()
        listener.close()


def test_the_shared_sockets_connections_send_without_waiting_for_acks():
    """asyncio turns Nagle's algorithm off only for a connection whose socket says TCP: the node's
    socket made with protocol 0 answered every small request ~40 ms late (headers, then body,
    waiting for the client's delayed ACK)."""
    import socket

    from node_api.workers import listening_socket

    assert _nodelay_of_an_accepted_connection(listening_socket("127.0.0.1", 0))
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # as the node made it before: the bad path
    plain.bind(("127.0.0.1", 0))
    plain.listen(1)
    assert not _nodelay_of_an_accepted_connection(plain)
