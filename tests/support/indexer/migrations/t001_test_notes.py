"""Test-only projection table test_notes (an independent branch of the indexer's history, loaded
through ``upgrade(url, extra_version_locations=[...])``).

Revision ID: t001_test_notes
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t001_test_notes"
down_revision = None
branch_labels = ("indexer_tests",)
depends_on = "0001_raw_layer"


def upgrade() -> None:
    op.create_table(
        "test_notes",
        sa.Column("id", sa.String(79), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tag", sa.LargeBinary(32), nullable=False),
        sa.Column("total_delta", sa.String(79).with_variant(sa.Numeric(78, 0), "postgresql"),
                  nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("test_notes")
