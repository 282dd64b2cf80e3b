"""Review finding 17 (indexer side): any event the chain accepted is stored; a string with a NUL
byte (which PostgreSQL refuses in text and jsonb) must never stop the read model. Run on SQLite
and PostgreSQL (``db`` fixture)."""
from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from sqlalchemy import create_engine, select

from chain.indexer import ContractSpec, Indexer
from chain.indexer.migrate import upgrade
from chain.indexer.projections import Erc20Projection
from chain.indexer.schema import events
from tests.support.indexer.notes import MIGRATIONS as NOTES_MIGRATIONS
from tests.support.indexer.notes import NotesProjection, test_notes

HOSTILE = "INV\x00-42\x00"


def test_finding17_nul_byte_event_does_not_stop_the_indexer(node, token, db):
    w3 = node.w3
    c, start = token
    acc = w3.eth.accounts
    url = db.new(migrate=False)
    upgrade(url, extra_version_locations=[NOTES_MIGRATIONS])
    ix = Indexer(w3, url, [ContractSpec("Token", c.address, c.abi)], start_block=start, confirmations=0,
                 projections=[NotesProjection(), Erc20Projection()])

    c.functions.note(7, HOSTILE, b"\x07" * 32, 1, [acc[1]]).transact({"from": acc[0]})
    c.functions.mint(acc[2], 1000).transact({"from": acc[0]})  # a later event must be indexed too
    ix.sync()  # raised UntranslatableCharacter on PostgreSQL, for ever, before the fix

    assert ix.checkpoint().block_number == w3.eth.block_number
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {r["event"]: dict(r) for r in conn.execute(select(events)).mappings()}
        notes = [dict(r) for r in conn.execute(select(test_notes)).mappings()]
    engine.dispose()
    note = rows["Note"]
    # the read model holds a storable rendering (U+FFFD for each NUL, same length) ...
    assert note["args"]["text"] == "INV\ufffd-42\ufffd" and notes[0]["text"] == "INV\ufffd-42\ufffd"
    # ... and the raw log, from which the exact chain value is recovered
    assert note["data"] is not None and note["topics"] is not None
    text, *_ = abi_decode(["string", "bytes32", "int256", "address[]"], bytes.fromhex(note["data"][2:]))
    assert text == HOSTILE
    assert "Transfer" in rows
    # the replay path gives the same projection (deterministic)
    assert ix.replay_projections() >= 2
    engine = create_engine(url)
    with engine.connect() as conn:
        assert [dict(r) for r in conn.execute(select(test_notes)).mappings()] == notes
    engine.dispose()
    ix.engine.dispose()


def _checkpoint_row(name: str) -> dict:
    return {"name": name, "block_number": 1, "block_hash": "0x" + "00" * 32, "undo_floor": 0, "updated_at": 0}


def test_a_write_transaction_takes_the_lock_at_begin_so_a_commit_in_between_cannot_fail_it(tmp_path):
    """SQLite in WAL mode: a transaction that reads and then writes (the indexer's batch reads its
    checkpoint first, the node keeps a B/L number after looking it up) fails at once with
    "database is locked" when another connection committed in between; no busy timeout waits
    that out. `writing()` takes the write lock at BEGIN, so the other writer waits instead."""
    import threading

    from sqlalchemy import insert
    from sqlalchemy.exc import OperationalError

    from chain.indexer.db import create_db_engine, writing
    from chain.indexer.schema import checkpoint

    url = f"sqlite:///{tmp_path / 'locks.db'}"
    upgrade(url)
    mine, other = create_db_engine(url), create_db_engine(url)
    with pytest.raises(OperationalError, match="locked"):  # the bad path: a deferred transaction
        with mine.begin() as c:
            c.execute(select(checkpoint)).all()
            with other.begin() as o:
                o.execute(insert(checkpoint).values(_checkpoint_row("other-1")))
            c.execute(insert(checkpoint).values(_checkpoint_row("mine-1")))
    order: list[str] = []

    def other_writer() -> None:
        with writing(other) as o:
            order.append("other has the lock")
            o.execute(insert(checkpoint).values(_checkpoint_row("other-2")))

    with writing(mine) as c:
        c.execute(select(checkpoint)).all()
        t = threading.Thread(target=other_writer)
        t.start()
        t.join(0.5)
        assert t.is_alive() and order == []  # waits for the lock (busy timeout), does not fail
        c.execute(insert(checkpoint).values(_checkpoint_row("mine-2")))
        order.append("mine commits")
    t.join(10)
    assert order == ["mine commits", "other has the lock"]
    with mine.connect() as c:
        names = {r.name for r in c.execute(select(checkpoint.c.name))}
    assert names == {"other-1", "mine-2", "other-2"}
    assert mine.connect().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    mine.dispose(), other.dispose()
