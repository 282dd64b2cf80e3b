"""Parts withheld from a maturity payment because their holder is sanctioned
(``invoice_withholdings``), and each lender's capital base for its concentration cap
(``risk_lenders.capital_base``). Written out so that this revision stays frozen.

Revision ID: 0005_withholdings_capital_base
Revises: 0004_pools
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_withholdings_capital_base"
down_revision = "0004_pools"
branch_labels = None
depends_on = None

# Exact 256-bit integer: NUMERIC(78,0) on PostgreSQL, decimal string elsewhere (chain.indexer.types.Uint256).
UINT256 = sa.String(79).with_variant(sa.Numeric(78, 0), "postgresql")


def upgrade() -> None:
    op.create_table(
        "invoice_withholdings",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("root_id", UINT256, nullable=False),
        sa.Column("invoice_id", UINT256, nullable=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("open_amount", UINT256, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_invoice_withholdings_invoice_id", "invoice_withholdings", ["invoice_id"])
    op.create_index("ix_invoice_withholdings_holder", "invoice_withholdings", ["holder"])
    with op.batch_alter_table("risk_lenders") as batch:
        batch.add_column(sa.Column("capital_base", UINT256, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("risk_lenders") as batch:
        batch.drop_column("capital_base")
    op.drop_index("ix_invoice_withholdings_holder", "invoice_withholdings")
    op.drop_index("ix_invoice_withholdings_invoice_id", "invoice_withholdings")
    op.drop_table("invoice_withholdings")
