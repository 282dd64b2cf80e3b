"""Indexer tests on a real anvil, each against SQLite and PostgreSQL (``db`` fixture)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, select

from chain.settings import PROJECT_ROOT as REPO_ROOT
from chain.indexer import ContractSpec, Indexer, Projection
from chain.indexer.migrate import (
    VERSION_TABLE,
    alembic_config,
    current_heads,
    downgrade,
    upgrade,
)
from chain.indexer.projections import Erc20Projection, erc20_metadata
from chain.indexer.schema import blocks, raw_metadata
from tests.support.indexer.helpers import Activity, dump, make_indexer, projected_balances
from tests.support.indexer.notes import MIGRATIONS as NOTES_MIGRATIONS
from tests.support.indexer.notes import NotesProjection, test_notes


def reference_dump(db, w3, contract, start, **kw):
    """Read model of the same chain built in one go into a fresh database."""
    url = db.new()
    ix = make_indexer(w3, url, contract, start, batch_size=1000, **kw)
    ix.sync()
    ix.engine.dispose()
    return dump(url)


def tx_call(contract, fn, *args):
    """JSON tx object (for anvil_reorg) calling ``fn(*args)`` from account 0."""
    w3 = contract.w3
    data = contract.functions[fn](*args).build_transaction(
        {"from": w3.eth.accounts[0], "gas": 300_000}
    )["data"]
    return {"from": w3.eth.accounts[0], "to": contract.address, "data": data}


# --------------------------------------------------------------------------- migrations


def script_heads(**kw) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(**kw)).get_heads())


def test_migrations_match_models_and_downgrade(db):
    url = db.new()
    assert current_heads(url) == script_heads()
    engine = create_engine(url)
    # autogenerate finds nothing to do: the revisions create exactly the raw layer's and every
    # projection module's tables (env.py collects their MetaData)
    command.check(alembic_config(url))
    combined = MetaData()
    for md in (raw_metadata, erc20_metadata):
        for t in md.tables.values():
            t.to_metadata(combined)
    mine = set(combined.tables)
    with engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={
            "compare_type": True, "version_table": VERSION_TABLE,
            "include_name": lambda name, type_, parents: type_ != "table" or name in mine,
        })
        assert compare_metadata(mc, combined) == []
    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    upgrade(engine)  # an Engine works as well as a URL
    assert current_heads(engine) == script_heads()
    assert mine <= set(inspect(engine).get_table_names())
    engine.dispose()


# --------------------------------------------------------------------------- indexing


def test_incremental_equals_rebuild_and_fresh_index(node, token, db):
    w3 = node.w3
    c, start = token
    acc = w3.eth.accounts
    act = Activity(w3, c, seed=7)
    url = db.new()
    ix = make_indexer(w3, url, c, start, batch_size=3)
    act.mint(acc[1], 2**200 + 5)
    c.functions.note(42, "h\u00e9llo", b"\x01" * 32, -5, [acc[1], acc[2]]).transact({"from": acc[0]})
    c.functions.rawLog(b"\xaa" * 32, b"\x01\x02").transact({"from": acc[0]})
    for _ in range(4):
        act.steps(6)
        ix.sync()
    head = w3.eth.block_number

    assert projected_balances(url, c.address) == act.onchain_balances()
    d1 = dump(url)
    assert [b["number"] for b in d1["blocks"]] == list(range(start, head + 1))
    logs = w3.eth.get_logs({"fromBlock": start, "toBlock": head, "address": c.address})
    assert len(d1["events"]) == len(logs) == ix.metrics.events_indexed + 1
    assert d1["checkpoint"][0][1:] == (head, "0x" + w3.eth.get_block(head)["hash"].hex())

    by_event = {}
    for e in d1["events"]:
        by_event.setdefault(e["event"], []).append(e)
    big = by_event["Transfer"][0]["args"]
    assert big == {"from": "0x" + "0" * 40, "to": acc[1], "value": str(2**200 + 5)}
    assert by_event["Note"][0]["args"] == {
        "id": "42", "text": "h\u00e9llo", "tag": "0x" + "01" * 32, "delta": "-5",
        "parties": [acc[1], acc[2]],
    }
    (raw,) = by_event[None]  # undecodable log of a followed address: kept, not dropped
    assert raw["topics"] == ["0x" + "aa" * 32] and raw["data"] == "0x0102"
    assert raw["signature"] is None and raw["args"] is None
    assert ix.metrics.undecodable_logs == 1
    # a zero balance is deleted from the projection, so holders == non-zero on-chain balances
    assert d1["erc20_balances"] and all(r["amount"] > 0 for r in d1["erc20_balances"])
    assert len(d1["erc20_transfers"]) == len(by_event["Transfer"])

    ix.rebuild()
    assert dump(url) == d1
    assert reference_dump(db, w3, c, start) == d1


class Recorder(Projection):
    """Test projection that only remembers what it was given (to compare live vs replay)."""

    name = "recorder"
    tables = ()

    def __init__(self):
        self.seen = []

    def apply(self, ctx, event):
        self.seen.append((event.block_number, event.log_index, event.signature, dict(event.args)))


def test_replay_from_raw_events_gives_same_values_and_state(node, token, db):
    w3 = node.w3
    c, start = token
    acc = w3.eth.accounts
    act = Activity(w3, c, seed=3)
    act.steps(10)
    c.functions.note(7, "x", b"\x02" * 32, -(2**255), [acc[3]]).transact({"from": acc[0]})
    url = db.new()
    rec = Recorder()
    ix = Indexer(w3, url, [ContractSpec("Token", c.address, c.abi)], start_block=start,
                 confirmations=0, batch_size=5, projections=[Erc20Projection(), rec])
    ix.sync()
    live, before = list(rec.seen), dump(url)
    note = [s for s in live if s[2].startswith("Note(")][0][3]
    assert note == {"id": 7, "text": "x", "tag": b"\x02" * 32, "delta": -(2**255),
                    "parties": [acc[3]]}
    rec.seen.clear()
    assert ix.replay_projections() == len(live)
    assert rec.seen == live
    assert dump(url) == before


def test_confirmation_depth_respected(node, token, db):
    w3 = node.w3
    c, start = token
    act = Activity(w3, c, seed=11)
    act.steps(8)
    url = db.new()
    ix = make_indexer(w3, url, c, start, confirmations=3)
    ix.sync()
    head = w3.eth.block_number
    assert ix.checkpoint().block_number == head - 3
    d = dump(url)
    assert max(b["number"] for b in d["blocks"]) == head - 3
    assert max(e["block_number"] for e in d["events"]) <= head - 3
    assert ix.metrics.lag_blocks == 3
    assert projected_balances(url, c.address) == act.onchain_balances(block=head - 3)
    assert projected_balances(url, c.address) != act.onchain_balances()
    node.mine(3)
    ix.sync()
    assert ix.checkpoint().block_number == head
    assert projected_balances(url, c.address) == act.onchain_balances()


# --------------------------------------------------------------------------- crashes


def test_crash_before_commit_then_resume(node, token, db):
    w3 = node.w3
    c, start = token
    Activity(w3, c, seed=5).steps(14)
    url = db.new()
    ix = make_indexer(w3, url, c, start, batch_size=3)
    calls = []

    def crash_on_third_batch(conn, first, last):
        calls.append((first, last))
        # the batch's rows are staged in the (uncommitted) transaction at this point
        staged = conn.execute(select(blocks.c.number).where(blocks.c.number >= first)).scalars()
        assert list(staged) == list(range(first, last + 1))
        if len(calls) == 3:
            raise RuntimeError("simulated crash before commit")

    ix.before_commit = crash_on_third_batch
    with pytest.raises(RuntimeError, match="simulated crash"):
        ix.sync()
    cp = ix.checkpoint()
    assert cp.block_number == calls[1][1]
    d = dump(url)
    assert max(b["number"] for b in d["blocks"]) == cp.block_number
    assert all(e["block_number"] <= cp.block_number for e in d["events"])
    assert all(t["block_number"] <= cp.block_number for t in d["erc20_transfers"])
    ix.engine.dispose()

    resumed = make_indexer(w3, url, c, start, batch_size=3)
    resumed.sync()
    assert dump(url) == reference_dump(db, w3, c, start)


@pytest.mark.slow
def test_kill_subprocess_mid_batch_then_resume(node, token, db, tmp_path):
    w3 = node.w3
    c, start = token
    Activity(w3, c, seed=9).steps(14)
    url = db.new()
    abi_file, marker = tmp_path / "abi.json", tmp_path / "marker"
    abi_file.write_text(json.dumps(c.abi))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.indexer.run_indexer", "--rpc", node.url,
         "--db", url, "--address", c.address, "--abi", str(abi_file), "--start", str(start),
         "--batch-size", "2", "--marker", str(marker)],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            lines = marker.read_text().split() if marker.exists() else []
            if len(lines) >= 3:
                break  # the child sleeps inside batch 3's transaction, before COMMIT
            if proc.poll() is not None:
                pytest.fail(f"indexer subprocess died: {proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "subprocess made no progress"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stderr.close()
    second_end = int(lines[1].split("-")[1])
    probe = make_indexer(w3, url, c, start)
    assert probe.checkpoint().block_number == second_end
    assert max(b["number"] for b in dump(url)["blocks"]) == second_end
    probe.engine.dispose()

    resumed = make_indexer(w3, url, c, start, batch_size=2)
    resumed.sync()
    assert dump(url) == reference_dump(db, w3, c, start)


# --------------------------------------------------------------------------- reorgs


@pytest.mark.parametrize("retention", [1024, 1], ids=["undo-log", "replay-fallback"])
def test_reorg_detected_by_parent_hash_and_rolled_back(node, token, db, retention):
    w3 = node.w3
    c, start = token
    acc = w3.eth.accounts
    act = Activity(w3, c, seed=21)
    act.steps(12)
    url = db.new()
    ix = make_indexer(w3, url, c, start, batch_size=3, undo_retention=retention)
    ix.sync()
    head = w3.eth.block_number
    orphaned = {"0x" + tx.hex() for n in range(head - 3, head + 1)
                for tx in w3.eth.get_block(n)["transactions"]}
    old_balances = projected_balances(url, c.address)

    # replace the last 4 blocks with other transactions, then one more block on top
    node.rpc("anvil_reorg", [4, [[tx_call(c, "mint", acc[7], 123), 0],
                                 [tx_call(c, "mint", acc[8], 2**255), 2],
                                 [tx_call(c, "note", 1, "fork", b"\x03" * 32, 1, []), 3]]])
    assert w3.eth.block_number == head
    node.mine(1)
    ix.sync()

    assert ix.metrics.reorgs_detected == 1
    assert ix.metrics.last_reorg["detected_by"] == "parent_hash"
    assert ix.metrics.last_reorg["fork_block"] == head - 4
    assert ix.metrics.replays == (1 if retention == 1 else 0)
    d = dump(url)
    assert not orphaned & {e["tx_hash"] for e in d["events"]}
    assert not orphaned & {t["tx_hash"] for t in d["erc20_transfers"]}
    assert projected_balances(url, c.address) == act.onchain_balances() != old_balances
    assert d == reference_dump(db, w3, c, start)


@pytest.mark.parametrize("kind", ["reorg", "shorter-chain"])
def test_reorg_while_stopped_is_caught_at_startup(node, token, db, kind):
    w3 = node.w3
    c, start = token
    acc = w3.eth.accounts
    act = Activity(w3, c, seed=33)
    act.steps(10)
    url = db.new()
    ix = make_indexer(w3, url, c, start)
    ix.sync()
    ix.engine.dispose()
    head = w3.eth.block_number

    if kind == "reorg":  # same height, last 3 blocks replaced
        node.rpc("anvil_reorg", [3, [[tx_call(c, "mint", acc[9], 5), 1]]])
    else:  # chain now shorter than the checkpoint
        node.rpc("anvil_rollback", [3])
        assert w3.eth.block_number == head - 3

    restarted = make_indexer(w3, url, c, start)
    restarted.sync()
    assert restarted.metrics.last_reorg["detected_by"] == "checkpoint"
    assert restarted.metrics.last_reorg["fork_block"] == head - 3
    assert projected_balances(url, c.address) == act.onchain_balances()
    assert dump(url) == reference_dump(db, w3, c, start)

    act.steps(3)  # and it keeps following the new chain
    restarted.sync()
    assert dump(url) == reference_dump(db, w3, c, start)


def test_extra_migrations_and_upsert_projection_rolled_back(node, token, db):
    """A projection from another revision folder (independent Alembic branch) written with
    upsert/delete, holding bytes/JSON/negative ints: rolled back exactly on a reorg."""
    w3 = node.w3
    c, start = token
    acc = w3.eth.accounts

    def note(i, text, delta, parties):
        c.functions.note(i, text, bytes([i]) * 32, delta, parties).transact({"from": acc[0]})

    def index_into(url, **kw):
        ix = Indexer(w3, url, [ContractSpec("Token", c.address, c.abi)], start_block=start,
                     confirmations=0, projections=[NotesProjection()], **kw)
        ix.sync()
        return ix

    def notes_of(url):
        eng = create_engine(url)
        with eng.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(test_notes).order_by(test_notes.c.id))
                    .mappings()]
        eng.dispose()
        return rows

    def fresh():
        url = db.new(migrate=False)
        upgrade(url, extra_version_locations=[NOTES_MIGRATIONS])
        return url

    url = fresh()
    assert current_heads(url) == script_heads(extra_version_locations=[NOTES_MIGRATIONS])
    assert "t001_test_notes" in current_heads(url)
    note(1, "a", -(2**200), [acc[1]])
    note(2, "b", 5, [])
    ix = index_into(url, batch_size=2)
    note(1, "a2", 3, [acc[1], acc[2]])
    note(2, "delete-me", 1, [])
    note(3, "c", -1, [acc[3]])
    ix.sync()
    before = notes_of(url)
    assert [r["id"] for r in before] == ["1", "3"]
    assert before[0]["total_delta"] == -(2**200) + 3 and before[0]["updates"] == 2
    assert before[0]["tag"] == b"\x01" * 32 and before[0]["parties"] == [acc[1], acc[2]]

    # orphan the last three notes (update of 1, delete of 2, insert of 3)
    node.rpc("anvil_reorg", [3, [[tx_call(c, "note", 2, "b2", b"\x09" * 32, 7, [acc[4]]), 1]]])
    node.mine(1)
    ix.sync()
    assert ix.metrics.last_reorg["fork_block"] == w3.eth.block_number - 4
    after = notes_of(url)
    reference = fresh()
    index_into(reference).engine.dispose()
    assert after == notes_of(reference)
    assert [(r["id"], r["text"], r["total_delta"], r["updates"]) for r in after] == [
        ("1", "a", -(2**200), 1), ("2", "b2", 12, 2)]


# --------------------------------------------------------------------------- service loop


def test_run_forever_follows_and_stops_cleanly(node, token, db):
    w3 = node.w3
    c, start = token
    act = Activity(w3, c, seed=2)
    url = db.new()
    ix = make_indexer(w3, url, c, start, confirmations=1)
    t = threading.Thread(target=ix.run_forever, args=(0.05,), daemon=True)
    t.start()
    act.steps(6)
    deadline = time.monotonic() + 20
    while ix.metrics.last_indexed_block != w3.eth.block_number - 1:
        assert time.monotonic() < deadline, ix.metrics.snapshot()
        time.sleep(0.05)
    ix.stop()
    t.join(5)
    assert not t.is_alive()
    m = ix.metrics.snapshot()
    n_events = len(w3.eth.get_logs({"fromBlock": start, "toBlock": w3.eth.block_number - 1,
                                    "address": c.address}))
    assert m["events_indexed"] == n_events > 0
    assert m["blocks_indexed"] == w3.eth.block_number - 1 - start + 1
    assert m["lag_blocks"] == 1 and m["errors"] == 0
