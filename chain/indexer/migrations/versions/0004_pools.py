"""ABS pools and their tranche notes (``chain.indexer.projections.pools``): pools, bids, pooled
assets, collections, distributions, note sales, claims and note holdings. Written out so that
this revision stays frozen.

Revision ID: 0004_pools
Revises: 0003_tradenet_v2
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_pools"
down_revision = "0003_tradenet_v2"
branch_labels = None
depends_on = None

# Exact 256-bit integer: NUMERIC(78,0) on PostgreSQL, decimal string elsewhere (chain.indexer.types.Uint256).
UINT256 = sa.String(79).with_variant(sa.Numeric(78, 0), "postgresql")

TABLES = ("abs_pools", "pool_bids", "pool_assets", "pool_collections", "pool_distributions", "pool_note_sales",
          "pool_claims", "tranche_holdings")


def upgrade() -> None:
    op.create_table(
        "abs_pools",
        sa.Column("pool_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("manager", sa.String(42), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("senior_tranche", sa.String(42), nullable=False),
        sa.Column("junior_tranche", sa.String(42), nullable=False),
        sa.Column("senior_size", UINT256, nullable=False),
        sa.Column("junior_size", UINT256, nullable=False),
        sa.Column("senior_coupon_bps", sa.Integer(), nullable=False),
        sa.Column("obligor_cap_bps", sa.Integer(), nullable=False),
        sa.Column("max_tenor", sa.BigInteger(), nullable=False),
        sa.Column("asset_count", sa.Integer(), nullable=False),
        sa.Column("open_assets", sa.Integer(), nullable=False),
        sa.Column("expected", UINT256, nullable=False),
        sa.Column("purchase_price", UINT256, nullable=False),
        sa.Column("collected", UINT256, nullable=False),
        sa.Column("losses", UINT256, nullable=False),
        sa.Column("undistributed", UINT256, nullable=False),
        sa.Column("senior_interest_paid", UINT256, nullable=False),
        sa.Column("senior_principal_paid", UINT256, nullable=False),
        sa.Column("junior_paid", UINT256, nullable=False),
        sa.Column("paid_out", UINT256, nullable=False),
        sa.Column("senior_sold", UINT256, nullable=False),
        sa.Column("junior_sold", UINT256, nullable=False),
        sa.Column("tape_hash", sa.String(66), nullable=False),
        sa.Column("tape_root", sa.String(66)),
        sa.Column("swept", sa.Boolean(), nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("issued_block", sa.BigInteger()),
        sa.Column("issued_at", sa.BigInteger()),
        sa.Column("amortising_block", sa.BigInteger()),
        sa.Column("closed_block", sa.BigInteger()),
        sa.Column("closed_at", sa.BigInteger()),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_abs_pools_manager", "abs_pools", ["manager"])
    op.create_index("ix_abs_pools_state", "abs_pools", ["state"])
    op.create_table(
        "pool_bids",
        sa.Column("pool_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("price", UINT256, nullable=False),
        sa.Column("document_hash", sa.String(66), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("bid_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "pool_assets",
        sa.Column("pool_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", UINT256, nullable=False),
        sa.Column("seller", sa.String(42), nullable=False),
        sa.Column("price", UINT256, nullable=False),
        sa.Column("leaf", sa.String(66), nullable=False),
        sa.Column("face_value", UINT256, nullable=False),
        sa.Column("expected", UINT256, nullable=False),
        sa.Column("due_date", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("obligor", sa.String(42)),
        sa.Column("obligor_lei", sa.String(20)),
        sa.Column("document_hash", sa.String(66), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("recovered", UINT256, nullable=False),
        sa.Column("loss", UINT256, nullable=False),
        sa.Column("pooled_block", sa.BigInteger(), nullable=False),
        sa.Column("pooled_at", sa.BigInteger(), nullable=False),
        sa.Column("closed_block", sa.BigInteger()),
        sa.Column("closed_at", sa.BigInteger()),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_pool_assets_deal_id", "pool_assets", ["deal_id"])
    op.create_index("ix_pool_assets_obligor", "pool_assets", ["obligor"])
    op.create_table(
        "pool_collections",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_pool_collections_pool_id", "pool_collections", ["pool_id"])
    op.create_table(
        "pool_distributions",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("senior_interest", UINT256, nullable=False),
        sa.Column("senior_principal", UINT256, nullable=False),
        sa.Column("junior", UINT256, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_pool_distributions_pool_id", "pool_distributions", ["pool_id"])
    op.create_table(
        "pool_note_sales",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("investor", sa.String(42), nullable=False),
        sa.Column("tranche", sa.String(6), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_pool_note_sales_investor", "pool_note_sales", ["investor"])
    op.create_index("ix_pool_note_sales_pool_id", "pool_note_sales", ["pool_id"])
    op.create_table(
        "pool_claims",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("tranche", sa.String(42), nullable=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("payee", sa.String(42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_pool_claims_pool_id", "pool_claims", ["pool_id"])
    op.create_index("ix_pool_claims_holder", "pool_claims", ["holder"])
    op.create_table(
        "tranche_holdings",
        sa.Column("tranche", sa.String(42), primary_key=True),
        sa.Column("holder", sa.String(42), primary_key=True),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("seniority", sa.String(6), nullable=False),
        sa.Column("balance", UINT256, nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_tranche_holdings_holder", "tranche_holdings", ["holder"])


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
