"""Review finding 17 (indexer side): any event the chain accepted is stored; a string with a NUL
byte (which PostgreSQL refuses in text and jsonb) must never stop the read model. Run on SQLite
and PostgreSQL (``db`` fixture)."""
from __future__ import annotations

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
