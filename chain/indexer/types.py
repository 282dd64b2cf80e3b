"""Column types shared by the raw layer and the projections."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

#: JSON column: JSONB on PostgreSQL (indexable, queryable), JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Uint256(TypeDecorator):
    """An exact 256-bit (or signed 256-bit) integer, Python ``int`` on both sides.

    PostgreSQL stores it as ``NUMERIC(78,0)`` (exact, and SQL arithmetic/``SUM`` work).
    SQLite has no exact type that large (``NUMERIC`` affinity silently turns big values into
    8-byte floats), so there it is stored as a decimal *string* in a ``VARCHAR(79)``: exact, but
    SQL-side arithmetic or ordering on it is not meaningful on SQLite.
    """

    impl = String(79)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0))
        return dialect.type_descriptor(String(79))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = int(value)
        if dialect.name == "postgresql":
            return Decimal(value)
        return str(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, Decimal):
            return int(value)
        return int(value)
