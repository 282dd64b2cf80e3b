"""List answers kept per caller and read-model state (node_api.answers): served again only while
the route itself would answer the same; a new block, a node write, another caller, a moved clock,
a changed standing all miss; bounded; off with 0 entries."""

from __future__ import annotations

import asyncio

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from chain.vocabulary import Role
from node_api import answers
from node_api.answers import AnswerCache
from tests.support.api import make_api

import pytest


@pytest.fixture
def api(net, tmp_path):
    return make_api(net, tmp_path)


def _invoice(net, n: int) -> dict:
    now = net.now()
    return {"buyer": net.addr("buyer"), "invoice_number": f"KEPT-{n}", "face_value": {"currency": "USD", "minor": 5_000_00},
            "issue_date": now, "due_date": now + 60 * 86_400, "document_hash": "0x" + f"{n:02x}" * 32,
            "document_cid": f"bafkreikept{n}"}


def _mint(api, headers, n: int) -> int:
    r = api.client.post("/invoices", json=_invoice(api.net, n), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["invoice_id"]


def _cache(api) -> AnswerCache:
    return api.client.app.state.answers


def test_a_list_answer_is_served_again_byte_for_byte_until_a_block_changes_it(api, net):
    seller = api.login("seller")
    _mint(api, seller, 1)
    api.sync()
    cache = _cache(api)
    first = api.client.get("/invoices?limit=50", headers=seller)
    hits = cache.hits
    again = api.client.get("/invoices?limit=50", headers=seller)
    assert again.status_code == 200 and again.content == first.content and cache.hits == hits + 1
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.json()["total"] == 1
    # a new invoice indexed: the next answer is the new one, not the kept one
    _mint(api, seller, 2)
    api.sync()
    after = api.client.get("/invoices?limit=50", headers=seller)
    assert after.json()["total"] == 2 and cache.hits == hits + 1
    # another query string is another answer
    assert len(api.client.get("/invoices?limit=1", headers=seller).json()["items"]) == 1
    assert cache.hits == hits + 1


def test_callers_never_share_an_answer(api, net):
    seller, lender = api.login("seller"), api.login("lender")
    _mint(api, seller, 3)
    api.sync()
    assert api.client.get("/invoices", headers=seller).json()["total"] == 1
    assert api.client.get("/invoices", headers=lender).json()["total"] == 0  # not a party: nothing
    assert api.client.get("/invoices", headers=lender).json()["total"] == 0


def test_a_sanction_takes_effect_at_the_next_request_despite_a_kept_answer(api, net):
    seller = api.login("seller")
    _mint(api, seller, 4)
    api.sync()
    for _ in range(2):
        assert api.client.get("/invoices", headers=seller).status_code == 200
    reg = net.registry()
    reg.govern(net.admins, [reg.call_set_sanctioned(net.addr("seller"), True, "listed")], "standing")
    r = api.client.get("/invoices", headers=seller)  # no block indexed since: the standing check still runs
    assert r.status_code == 403 and r.json()["standing"] == "sanctioned", r.text


def test_a_role_revoked_changes_the_key(api, net):
    """The member record (roles included) is part of the key: an auditor's whole-network view is
    never served to the same account once it is no auditor."""
    auditor = api.login("auditor")
    _mint(api, api.login("seller"), 5)
    api.sync()
    assert api.client.get("/invoices", headers=auditor).json()["total"] == 1
    reg = net.registry()
    reg.govern(net.admins, [reg.call_set_roles(net.addr("auditor"), Role.BUYER)], "roles")
    assert api.client.get("/invoices", headers=auditor).json()["total"] == 0


def test_deal_lists_follow_the_chain_clock(api, net):
    seller = api.login("seller")
    cache = _cache(api)
    api.client.get("/deals", headers=seller)
    hits = cache.hits
    api.client.get("/deals", headers=seller)
    assert cache.hits == hits + 1
    net.advance_time(3600)  # a block with a later time: deal answers show the clock (days to maturity ...)
    api.client.get("/deals", headers=seller)
    assert cache.hits == hits + 1


def test_a_write_of_the_node_itself_moves_the_generation(tmp_path):
    """The commit generation moves at the start of a commit and again once it is visible; reads
    leave it alone."""
    engine = create_engine(f"sqlite:///{tmp_path / 'g.db'}")
    t = Table("t", MetaData(), Column("id", Integer, primary_key=True))
    t.metadata.create_all(engine)
    before = answers.generation()
    with engine.connect() as c:
        c.execute(select(t)).all()
    assert answers.generation() == before
    seen_inside: list[int] = []
    with engine.begin() as c:
        c.execute(insert(t).values(id=1))
        seen_inside.append(answers.generation())
    assert seen_inside == [before]  # nothing committed yet
    assert answers.generation() >= before + 2  # once at the commit, once when it is visible


def test_the_cache_is_bounded_by_count_and_bytes():
    cache = AnswerCache(entries=2, max_bytes=8 * 100)
    cache.put("a", b"x" * 10)
    cache.put("b", b"y" * 10)
    assert cache.get("a") == b"x" * 10  # a is now the most recent
    cache.put("c", b"z" * 10)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") is not None
    cache.put("big", b"w" * 101)  # more than an eighth of the bytes: never kept
    assert cache.get("big") is None
    wide = AnswerCache(entries=100, max_bytes=8 * 100)
    for i in range(20):
        wide.put(i, b"v" * 100)
    assert wide.size_bytes <= 800 and len(wide) == 8


def test_zero_entries_turns_it_off(net, tmp_path):
    api = make_api(net, tmp_path)
    api.client.app.state.answers.entries = 0
    seller = api.login("seller")
    for _ in range(3):
        assert api.client.get("/invoices", headers=seller).status_code == 200
    assert _cache(api).hits == 0 and len(_cache(api)) == 0


def test_one_request_computes_an_answer_the_others_wait_for_it():
    async def run() -> None:
        cache = AnswerCache(entries=10, max_bytes=8 * 1024)
        assert cache.flight("k") is None  # the first computes
        waiting = cache.flight("k")
        assert waiting is not None and not waiting.is_set()
        cache.put("k", b"answer")
        cache.land("k")
        assert waiting.is_set() and cache.get("k") == b"answer"
        assert cache.flight("k") is None  # landed: the next miss computes again
        cache.land("k")

    asyncio.run(run())


def test_a_refused_list_request_leaves_no_one_waiting(api):
    seller = api.login("seller")
    cache = _cache(api)
    assert api.client.get("/invoices?limit=100000", headers=seller).status_code == 422
    assert api.client.head("/invoices", headers=seller).status_code in (200, 405)
    assert cache._flights == {}
    assert api.client.get("/invoices", headers=seller).status_code == 200 and cache._flights == {}
