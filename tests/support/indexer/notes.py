"""Test-only projection over IndexerTestToken's ``Note`` event, written with ``ctx.upsert`` and
holding bytes, JSON and signed 256-bit values (exercises the undo log's value encoding)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import JSON, Column, Integer, LargeBinary, MetaData, String, Table, Text

from chain.indexer import Projection, Uint256

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

notes_metadata = MetaData()
test_notes = Table(
    "test_notes",
    notes_metadata,
    Column("id", String(79), primary_key=True),
    Column("text", Text, nullable=False),
    Column("tag", LargeBinary(32), nullable=False),
    Column("total_delta", Uint256(), nullable=False),
    Column("parties", JSON, nullable=False),
    Column("updates", Integer, nullable=False),
)


class NotesProjection(Projection):
    name = "test-notes"
    tables = (test_notes,)

    def handles(self, event):
        return event.event == "Note"

    def apply(self, ctx, event):
        a = event.args
        key = {"id": str(a["id"])}
        prior = ctx.get(test_notes, key)
        ctx.upsert(test_notes, key, {
            "text": a["text"],
            "tag": a["tag"],
            "total_delta": (prior["total_delta"] if prior else 0) + a["delta"],
            "parties": list(a["parties"]),
            "updates": (prior["updates"] if prior else 0) + 1,
        })
        if a["text"] == "delete-me":
            ctx.delete(test_notes, key)
