"""Faults of the node's processes, for real (SIGKILL, SIGTERM, pg_ctl immediate), each bounded in
time: the API process killed (sessions live on in the node's database, no accepted write lost), the RPC node
(anvil) stopped and started again from its state mid-stream (the indexer, the API and the oracle
operators reconnect; nothing lost or duplicated in the read model), the PostgreSQL read model
crashed under a write load (the indexer resumes from its checkpoint, no event twice)."""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path

import httpx
import pytest

from chain.anvil import Anvil
from chain.client import Chain
from chain.consortium import DEMO_PARTICIPANTS, bootstrap, deterministic_keys
from tests.conftest import Net
from oracle.cluster import wait_for
from tests.support.faults import NodeService, pg_crash, pg_start_again
from tests.support.indexer.pg import PgCluster, pg_unavailable_reason

pytestmark = pytest.mark.slow

_numbers = itertools.count(1)


def invoice_body(net, prefix: str, now: int | None = None) -> dict:
    now = now or net.now()
    n = next(_numbers)
    return {"buyer": net.addr("buyer"), "invoice_number": f"{prefix}-{n}-{uuid.uuid4().hex[:6]}",
            "face_value": {"currency": "USD", "minor": 1_000 + n}, "issue_date": now, "due_date": now + 30 * 86_400,
            "document_hash": "0x" + uuid.uuid4().hex * 2, "document_cid": "bafkreifault"}


def mint(client: httpx.Client, net, heads, prefix: str, now: int | None = None) -> httpx.Response:
    return client.post("/invoices", json=invoice_body(net, prefix, now), headers=heads)


def visible(client: httpx.Client, heads, invoice_id: str) -> bool:
    return client.get(f"/invoices/{invoice_id}", headers=heads).status_code == 200


def listed_ids(client: httpx.Client, heads) -> list[str]:
    """Every invoice the caller's read model lists (all pages)."""
    out, offset = [], 0
    while True:
        page = client.get("/invoices", params={"limit": 200, "offset": offset}, headers=heads).json()
        out += [i["id"] for i in page["items"]]
        if len(page["items"]) < 200:
            return out
        offset += 200


def test_fault_api_killed_sessions_live_on_no_accepted_write_lost(net, tmp_path):
    node = NodeService(net, tmp_path / "node").start()
    try:
        heads, ended = node.login("seller"), node.login("seller")
        with httpx.Client(base_url=node.url, timeout=30) as c:
            accepted = []
            for _ in range(5):
                r = mint(c, net, heads, "KILL")
                assert r.status_code == 201, r.text
                accepted.append(r.json()["invoice_id"])
            assert c.post("/auth/logout", headers=ended).status_code == 204
        node.kill()  # right after the last 201: the indexer may not have seen it yet
        node.start()
        with httpx.Client(base_url=node.url, timeout=30) as c:
            # sessions are in the node's database: a restart logs nobody out, and a logout stays one
            assert c.get("/auth/me", headers=heads).status_code == 200
            gone = c.get("/auth/me", headers=ended)
            assert gone.status_code == 401 and gone.headers["content-type"].startswith("application/problem+json")
            wait_for(lambda: all(visible(c, heads, i) for i in accepted), 30, what="every accepted invoice indexed")
            ids = listed_ids(c, heads)
            assert sorted(set(ids) & set(accepted)) == sorted(accepted) and len(ids) == len(set(ids))
            assert mint(c, net, heads, "AFTER").status_code == 201  # and it takes writes again
    finally:
        node.stop()


@pytest.fixture
def own_chain(tmp_path):
    """An anvil of its own (the session chain is shared), with its state in a file so it can be
    stopped and started again; the demo consortium deployed on it."""
    state = tmp_path / "anvil-state.json"
    anvil = Anvil(extra_args=["--state", str(state)]).start()
    chain = Chain.connect(anvil.url)
    keys = deterministic_keys(DEMO_PARTICIPANTS, seed="tradenet-faults")
    deployment = bootstrap(chain, "test", keys)
    net = Net(chain, deployment, keys, {p.key: p for p in DEMO_PARTICIPANTS}, anvil.url)
    yield anvil, net
    anvil.stop()


def test_fault_rpc_node_restarted_mid_stream_indexer_api_oracles_reconnect(own_chain, tmp_path):
    from oracle.samples import transport_event
    from tests.support.oracle.harness import OperatorCluster, carrier_for
    from tests.support.oracle.onchain import confirmed

    anvil, net = own_chain
    node = NodeService(net, tmp_path / "node").start()
    operators = OperatorCluster(net, tmp_path / "oracles", names=("oracle_1", "oracle_2"))
    operators.start()
    try:
        heads = node.login("seller")
        accepted, refused = [], []
        with httpx.Client(base_url=node.url, timeout=30) as c:
            for _ in range(4):
                r = mint(c, net, heads, "RPC")
                assert r.status_code == 201, r.text
                accepted.append(r.json()["invoice_id"])
            before = transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), when=time.time() - 120)
            for op in (operators[n] for n in operators.names):
                assert carrier_for(op).post_event(before).status_code == 202
            wait_for(lambda: confirmed(net, before), 30, what="confirmation before the restart")

            now = net.now()
            anvil.stop()  # SIGTERM: anvil writes its state file and exits; the RPC port is closed
            for _ in range(3):
                r = mint(c, net, heads, "DOWN", now)
                refused.append(r.status_code)
                assert r.status_code in (502, 503), r.text  # a clear problem, never a 500
                assert r.headers["content-type"].startswith("application/problem+json")
            assert c.get("/health").status_code in (200, 503)

            anvil.start()  # same port, state loaded
            for _ in range(4):
                r = mint(c, net, heads, "BACK")
                assert r.status_code == 201, r.text
                accepted.append(r.json()["invoice_id"])
            wait_for(lambda: all(visible(c, heads, i) for i in accepted), 40, what="every accepted invoice indexed")
            ids = listed_ids(c, heads)  # a chain of its own: exactly the accepted invoices, once each
            assert sorted(ids) == sorted(accepted)

            after = transport_event(reference="OCLU" + uuid.uuid4().hex[:10].upper(), when=time.time() - 60)
            for op in (operators[n] for n in operators.names):
                assert carrier_for(op).post_event(after).status_code == 202
            wait_for(lambda: confirmed(net, after), 40, what="confirmation after the restart (operators reconnected)")
    finally:
        operators.stop()
        node.stop()


@pytest.mark.skipif(pg_unavailable_reason() is not None, reason=str(pg_unavailable_reason()))
def test_fault_postgres_crashed_under_load_read_model_complete_no_duplicates(net, tmp_path):
    pg = PgCluster()
    try:
        url = pg.create_database()
        node = NodeService(net, tmp_path / "node", database_url=url).start()
        try:
            heads = node.login("seller")
            accepted = []
            with httpx.Client(base_url=node.url, timeout=30) as c:
                for i in range(12):
                    if i == 4:
                        pg_crash(pg)  # mid-load: the indexer's transaction and the API's reads lose the server
                    if i == 6:  # a read while the read model is down: a clear problem, not a 500
                        down = c.get("/invoices", headers=heads)
                        assert down.status_code == 503, down.text
                        assert down.json()["code"] == "read_model_unavailable"
                    if i == 8:
                        pg_start_again(pg)
                    r = mint(c, net, heads, "PG")
                    assert r.status_code == 201, r.text  # writes go to the chain, not to the read model
                    accepted.append(r.json()["invoice_id"])
                wait_for(lambda: all(visible(c, heads, i) for i in accepted), 60, what="the indexer to catch up")
                ids = listed_ids(c, heads)
                assert len(ids) == len(set(ids)) and set(accepted) <= set(ids)
            import sqlalchemy as sa

            engine = sa.create_engine(url)
            with engine.connect() as conn:
                dup = conn.execute(sa.text("SELECT count(*) FROM (SELECT block_number, log_index FROM events "
                                           "GROUP BY block_number, log_index HAVING count(*) > 1) d")).scalar()
            engine.dispose()
            assert dup == 0
        finally:
            node.stop()
    finally:
        pg.stop()
