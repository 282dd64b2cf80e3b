"""Deals, milestones, confirmed shipment events, FX rates.

Revision ID: 0004_deals
Revises: 0003_tradenet
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_deals"
down_revision = "0003_tradenet"
branch_labels = None
depends_on = None

UINT256 = sa.String(79).with_variant(sa.Numeric(78, 0), "postgresql")
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "deals",
        sa.Column("deal_id", UINT256, primary_key=True),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("borrower", sa.String(42), nullable=False),
        sa.Column("lender", sa.String(42), nullable=False),
        sa.Column("buyer", sa.String(42)),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("principal", UINT256, nullable=False),
        sa.Column("fee", UINT256, nullable=False),
        sa.Column("face_value", UINT256),
        sa.Column("maturity", sa.BigInteger(), nullable=False),
        sa.Column("grace_period", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("released", UINT256, nullable=False),
        sa.Column("to_lender", UINT256),
        sa.Column("to_borrower", UINT256),
        sa.Column("overdue_flagged", sa.Boolean(), nullable=False),
        sa.Column("terms_digest", sa.String(66), nullable=False),
        sa.Column("accepted_block", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("funded_block", sa.BigInteger()),
        sa.Column("settled_block", sa.BigInteger()),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    for col in ("lender", "borrower", "buyer", "state"):
        op.create_index(f"ix_deals_{col}", "deals", [col])
    op.create_table(
        "deal_milestones",
        sa.Column("deal_id", UINT256, primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("shipment_id", sa.String(66), nullable=False),
        sa.Column("event_code", sa.String(4), nullable=False),
        sa.Column("share_bps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("amount", UINT256),
        sa.Column("released_by", sa.String(66)),
        sa.Column("released_block", sa.BigInteger()),
    )
    op.create_index("ix_deal_milestones_shipment", "deal_milestones", ["shipment_id"])
    op.create_table(
        "oracle_events",
        sa.Column("event_id", sa.String(66), primary_key=True),
        sa.Column("shipment_id", sa.String(66), nullable=False),
        sa.Column("event_code", sa.String(4), nullable=False),
        sa.Column("location", sa.String(5), nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("evidence_hash", sa.String(66), nullable=False),
        sa.Column("submitter", sa.String(42), nullable=False),
        sa.Column("signers", JSON, nullable=False),
        sa.Column("confirmed_block", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", sa.BigInteger(), nullable=False),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("retracted_block", sa.BigInteger()),
    )
    op.create_index("ix_oracle_events_shipment", "oracle_events", ["shipment_id"])
    op.create_table(
        "fx_rates",
        sa.Column("base_currency", sa.String(3), primary_key=True),
        sa.Column("quote_currency", sa.String(3), primary_key=True),
        sa.Column("observed_at", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("rate", UINT256, nullable=False),
        sa.Column("digest", sa.String(66), nullable=False),
        sa.Column("submitter", sa.String(42), nullable=False),
        sa.Column("signers", JSON, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for t in ("fx_rates", "oracle_events", "deal_milestones", "deals"):
        op.drop_table(t)
