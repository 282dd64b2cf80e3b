"""What the node keeps of its own, beside the indexer's read model (in the same database): the
lenders' offers (off-chain signed terms), the agreements stored for the parties, and the
transport-document numbers behind shipment ids the node has seen.

These tables are the node's, not a projection of the chain: the indexer never rebuilds them and
they are created when the node starts (:func:`create_node_tables`, idempotent).

- ``node_offers``: one row per offer: the full EIP-712 terms as JSON (``chain.clients.DealTerms``
  fields: integers as decimal strings, bytes as 0x-hex), their digest, the lender's signature,
  the agreement's hash and CID, and a copy of what lists filter on (lender, borrower, product,
  collateral, currency, principal, fee, maturity, accept_by). An offer's status is not stored:
  it is derived from the chain (``node_api.offers``);
- ``node_agreements``: each agreement document stored encrypted for its parties: its sha-256
  (the terms' ``agreementHash``), the CID of the encrypted HTML and of the PDF, the terms digest;
- ``node_references``: shipment id (keccak256 of the B/L number) -> the B/L number;
- ``node_revision``: one row counting the commits to the tables above (:func:`node_writing`): the
  kept list answers of every process of the node are filed under it (node_api.answers), so an
  offer made through one worker process is in the next answer of every other;
- ``node_operations``: the asynchronous writes of a node with several API processes, so any of
  them answers ``GET /operations/{id}`` (node_api.operations).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Connection, Engine

from chain.indexer.db import writing
from chain.indexer.types import JSONType, Uint256

metadata = MetaData()

offers = Table(
    "node_offers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lender", String(42), nullable=False),
    Column("borrower", String(42), nullable=False),
    Column("product", String(16), nullable=False),
    Column("collateral_id", Uint256(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal", Uint256(), nullable=False),
    Column("fee", Uint256(), nullable=False),
    Column("maturity", BigInteger, nullable=False),
    Column("accept_by", BigInteger, nullable=False),
    Column("terms", JSONType, nullable=False),
    Column("terms_digest", String(66), nullable=False, unique=True),
    Column("lender_signature", String(132), nullable=False),
    Column("agreement_hash", String(66), nullable=False),
    Column("note", Text),
    Column("created_at", BigInteger, nullable=False),  # chain time
    Index("ix_node_offers_lender", "lender"),
    Index("ix_node_offers_borrower", "borrower"),
    Index("ix_node_offers_collateral", "product", "collateral_id"),
)

agreements = Table(
    "node_agreements", metadata,
    Column("agreement_hash", String(66), primary_key=True),
    Column("html_cid", Text, nullable=False),
    Column("html_stored_sha256", String(66), nullable=False),  # of the ciphertext
    Column("pdf_cid", Text, nullable=False),
    Column("pdf_stored_sha256", String(66), nullable=False),
    Column("terms_digest", String(66)),
    Column("parties", JSONType, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

references = Table(
    "node_references", metadata,
    Column("shipment_id", String(66), primary_key=True),
    Column("transport_document", Text, nullable=False),
)

operations = Table(  # asynchronous writes, when the node runs several API processes (node_api.operations)
    "node_operations", metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(42), nullable=False),
    Column("view", JSONType, nullable=False),  # what GET /operations/{id} answers
    Column("finished_at", BigInteger),  # unix seconds; None while pending
    Index("ix_node_operations_finished", "finished_at"),
)

revision = Table(
    "node_revision", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the one row: 1
    Column("revision", BigInteger, nullable=False),
)

TABLES = (offers, agreements, references)

#: built once: read on every kept list answer's lookup (node_api.answers)
REVISION = select(revision.c.revision).where(revision.c.id == 1)


def create_node_tables(db: Engine) -> None:
    metadata.create_all(db, checkfirst=True)
    with writing(db) as c:
        if c.execute(REVISION).first() is None:
            c.execute(insert(revision).values(id=1, revision=0))


@contextmanager
def node_writing(db: Engine) -> Iterator[Connection]:
    """A transaction writing the node's own tables (:func:`chain.indexer.db.writing`) that moves
    the node's revision in the same commit: whichever process reads the revision sees the rows."""
    with writing(db) as c:
        yield c
        moved(c)


def moved(c: Connection) -> None:
    """Moves the node's revision in the transaction of `c` (which wrote the node's tables)."""
    c.execute(update(revision).where(revision.c.id == 1).values(revision=revision.c.revision + 1))


def remember_reference(db: Engine, shipment_id: bytes, transport_document: str) -> None:
    """Keeps the B/L number behind a shipment id (first seen wins: the hash fixes the text)."""
    key = "0x" + bytes(shipment_id).hex()
    with writing(db) as c:
        if c.execute(select(references.c.shipment_id).where(references.c.shipment_id == key)).first() is None:
            c.execute(insert(references).values(shipment_id=key, transport_document=transport_document))
            moved(c)


class ReferenceLookup:
    """The B/L numbers behind shipment ids for one reader, looked up key by key (a reader used to
    load the whole table, which grows with every shipment, for each answer it rendered). A number
    once kept never changes (first seen wins), so `kept`, shared by a node's readers, holds the
    hits (at most `max_kept`, then it starts again); a miss is asked again next time (the number
    may be learnt meanwhile). Assignments stay with this reader."""

    def __init__(self, db: Engine, kept: dict[str, str], max_kept: int = 100_000):
        self._db, self._kept, self._max_kept = db, kept, max_kept
        self._local: dict[str, str] = {}

    def get(self, shipment_id: str, default: str | None = None) -> str | None:
        found = self._local.get(shipment_id) or self._kept.get(shipment_id)
        if found is not None:
            return found
        with self._db.connect() as c:
            found = c.execute(select(references.c.transport_document)
                              .where(references.c.shipment_id == shipment_id)).scalar()
        if found is None:
            return default
        if len(self._kept) >= self._max_kept:
            self._kept.clear()
        self._kept[shipment_id] = found
        return found

    def __setitem__(self, shipment_id: str, transport_document: str) -> None:
        self._local[shipment_id] = transport_document


def one(db: Engine, table: Table, *where: Any) -> dict[str, Any] | None:
    with db.connect() as c:
        row = c.execute(select(table).where(*where)).mappings().first()
        return dict(row) if row else None


__all__ = ["TABLES", "agreements", "create_node_tables", "offers", "one", "references", "ReferenceLookup",
           "remember_reference"]
