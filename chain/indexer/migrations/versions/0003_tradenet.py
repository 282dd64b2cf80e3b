"""tradenet domain read model: participants, proposals, invoices, receipts.

Revision ID: 0003_tradenet
Revises: 0002_erc20
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_tradenet"
down_revision = "0002_erc20"
branch_labels = None
depends_on = None

UINT256 = sa.String(79).with_variant(sa.Numeric(78, 0), "postgresql")
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("lei", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("kyc_expiry", sa.BigInteger(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("suspension_reason", sa.Text()),
        sa.Column("sanctioned", sa.Boolean(), nullable=False),
        sa.Column("joined_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_participants_lei", "participants", ["lei"])
    op.create_table(
        "proposals",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("proposer", sa.String(42), nullable=False),
        sa.Column("targets", JSON, nullable=False),
        sa.Column("calls", JSON, nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("approvers", JSON, nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("seller", sa.String(42), nullable=False),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("holder", sa.String(42)),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("invoice_number", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("face_value", UINT256, nullable=False),
        sa.Column("issue_date", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(66), nullable=False),
        sa.Column("document_hash", sa.String(66), nullable=False),
        sa.Column("document_cid", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.BigInteger()),
        sa.Column("financier", sa.String(42)),
        sa.Column("issued_block", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    for col in ("seller", "buyer", "holder", "state"):
        op.create_index(f"ix_invoices_{col}", "invoices", [col])
    op.create_table(
        "receipts",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("warehouse", sa.String(42), nullable=False),
        sa.Column("depositor", sa.String(42), nullable=False),
        sa.Column("holder", sa.String(42)),
        sa.Column("pledgee", sa.String(42)),
        sa.Column("commodity", sa.Text(), nullable=False),
        sa.Column("quantity", UINT256, nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("grade", sa.Text(), nullable=False),
        sa.Column("location", sa.String(5), nullable=False),
        sa.Column("insured_value", UINT256, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.Column("redemption_requested", sa.Boolean(), nullable=False),
        sa.Column("redeemed", sa.Boolean(), nullable=False),
        sa.Column("document_hash", sa.String(66), nullable=False),
        sa.Column("document_cid", sa.Text(), nullable=False),
        sa.Column("issued_block", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    for col in ("holder", "pledgee", "warehouse"):
        op.create_index(f"ix_receipts_{col}", "receipts", [col])


def downgrade() -> None:
    for t in ("receipts", "invoices", "proposals", "participants"):
        op.drop_table(t)
