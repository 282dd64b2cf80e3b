"""Raw layer of the indexer: blocks, events, checkpoint, undo_log.

Revision ID: 0001_raw_layer
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_raw_layer"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(66), nullable=False),
        sa.Column("parent_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("contract", sa.String(128), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("event", sa.String(128), nullable=True),
        sa.Column("signature", sa.String(512), nullable=True),
        sa.Column("args", JSON, nullable=True),
        sa.Column("topics", JSON, nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
    )
    op.create_index("ix_events_contract_event", "events", ["contract", "event"])
    op.create_index("ix_events_address", "events", ["address"])
    op.create_index("ix_events_tx_hash", "events", ["tx_hash"])
    op.create_table(
        "checkpoint",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("undo_floor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "undo_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("row_key", JSON, nullable=False),
        sa.Column("prior", JSON, nullable=True),
    )
    op.create_index("ix_undo_log_block", "undo_log", ["block_number"])


def downgrade() -> None:
    op.drop_index("ix_undo_log_block", table_name="undo_log")
    op.drop_table("undo_log")
    op.drop_table("checkpoint")
    op.drop_index("ix_events_tx_hash", table_name="events")
    op.drop_index("ix_events_address", table_name="events")
    op.drop_index("ix_events_contract_event", table_name="events")
    op.drop_table("events")
    op.drop_table("blocks")
