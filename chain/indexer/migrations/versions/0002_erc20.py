"""ERC-20 projection: erc20_transfers, erc20_balances.

Revision ID: 0002_erc20
Revises: 0001_raw_layer
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_erc20"
down_revision = "0001_raw_layer"
branch_labels = None
depends_on = None

# Exact 256-bit integer: NUMERIC(78,0) on PostgreSQL, decimal string elsewhere
# (same storage as chain.indexer.types.Uint256, written out so this revision stays frozen).
UINT256 = sa.String(79).with_variant(sa.Numeric(78, 0), "postgresql")


def upgrade() -> None:
    op.create_table(
        "erc20_transfers",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("from_address", sa.String(42), nullable=False),
        sa.Column("to_address", sa.String(42), nullable=False),
        sa.Column("value", UINT256, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_erc20_transfers_token", "erc20_transfers", ["token"])
    op.create_index("ix_erc20_transfers_from", "erc20_transfers", ["from_address"])
    op.create_index("ix_erc20_transfers_to", "erc20_transfers", ["to_address"])
    op.create_table(
        "erc20_balances",
        sa.Column("token", sa.String(42), primary_key=True),
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("amount", UINT256, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erc20_balances")
    op.drop_index("ix_erc20_transfers_to", table_name="erc20_transfers")
    op.drop_index("ix_erc20_transfers_from", table_name="erc20_transfers")
    op.drop_index("ix_erc20_transfers_token", table_name="erc20_transfers")
    op.drop_table("erc20_transfers")
