"""SQLAlchemy Core tables of the raw layer (kept in step with migration ``0001_raw_layer``)."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from .types import JSONType

#: MetaData of the raw layer. Projections use their own MetaData objects.
raw_metadata = MetaData()


blocks = Table(
    "blocks",
    raw_metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(66), nullable=False),
    Column("parent_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

events = Table(
    "events",
    raw_metadata,
    Column("block_number", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("tx_hash", String(66), nullable=False),
    Column("tx_index", Integer, nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("contract", String(128), nullable=False),
    Column("address", String(42), nullable=False),
    # NULL event/signature/args: a log of a followed address that no ABI entry decodes.
    Column("event", String(128), nullable=True),
    Column("signature", String(512), nullable=True),
    Column("args", JSONType, nullable=True),
    # Raw log, stored for undecodable logs and for logs with strings no database can hold exactly
    # (NUL, lone surrogates: args has U+FFFD for them, see codec.storable_text).
    # topics: JSON list of 0x-hex, data: 0x-hex.
    Column("topics", JSONType, nullable=True),
    Column("data", Text, nullable=True),
    Index("ix_events_contract_event", "contract", "event"),
    Index("ix_events_address", "address"),
    Index("ix_events_tx_hash", "tx_hash"),
)

checkpoint = Table(
    "checkpoint",
    raw_metadata,
    Column("name", String(64), primary_key=True),
    # Last block fully indexed (raw rows + projections), and its hash.
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66), nullable=False),
    # Undo records are complete for every block >= undo_floor (older ones were pruned).
    Column("undo_floor", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

undo_log = Table(
    "undo_log",
    raw_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("block_number", BigInteger, nullable=False),
    Column("table_name", String(128), nullable=False),
    # Primary key of the touched row and its image *before* the block touched it
    # (NULL prior = the row did not exist). Values are type-tagged JSON, see ``codec``.
    Column("row_key", JSONType, nullable=False),
    Column("prior", JSONType, nullable=True),
    Index("ix_undo_log_block", "block_number"),
)
