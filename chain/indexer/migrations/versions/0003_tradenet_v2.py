"""tradenet read model for contracts v2: registry and governance, invoices (with parts and T/T
payments), purchase orders, warehouse receipts and pledges, settlement-token treasury operations,
oracle events and quorums, FX rates, the deal engine with its products, and the risk rules.

Replaces the tables of the former revisions 0003_tradenet and 0004_deals (contracts v1; no
production database held them). Table by table as in ``chain.indexer.projections`` (written out
so that this revision stays frozen).

Revision ID: 0003_tradenet_v2
Revises: 0002_erc20
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_tradenet_v2"
down_revision = "0002_erc20"
branch_labels = None
depends_on = None

# Exact 256-bit integer: NUMERIC(78,0) on PostgreSQL, decimal string elsewhere (chain.indexer.types.Uint256).
UINT256 = sa.String(79).with_variant(sa.Numeric(78, 0), "postgresql")
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")

TABLES = (
    # registry
    "participants", "proposals", "network_contracts", "settlement_tokens", "currency_tokens", "network_settings",
    # assets
    "invoices", "invoice_payments", "purchase_orders", "receipts", "receipt_pledges",
    # settlement
    "fiat_movements", "payment_references", "redemptions",
    # oracle
    "oracle_events", "listener_failures", "oracle_quorums", "fx_rates",
    # deal_engine
    "deal_products", "deals", "deal_milestones", "deal_credits", "deal_fx_locks", "deal_terms_revocations",
    "deal_assignments",
    # products
    "order_rollovers", "documentary_credits", "documentary_documents",
    # risk
    "risk_lenders", "risk_pairs", "risk_parties", "risk_bookings", "risk_warnings", "risk_overdue",
    "risk_funding_approvals",
)


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("lei", sa.String(20), nullable=False),
        sa.Column("entity_key", sa.String(42), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("kyc_expiry", sa.BigInteger(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("suspension_reason", sa.Text()),
        sa.Column("sanctioned", sa.Boolean(), nullable=False),
        sa.Column("sanctions_reason", sa.Text()),
        sa.Column("joined_block", sa.BigInteger(), nullable=False),
        sa.Column("joined_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_participants_entity_key", "participants", ["entity_key"])
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
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("closed_by", sa.String(42)),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_proposals_proposer", "proposals", ["proposer"])
    op.create_index("ix_proposals_state", "proposals", ["state"])
    op.create_table(
        "network_contracts",
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "settlement_tokens",
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("token", sa.String(42)),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_settlement_tokens_token", "settlement_tokens", ["token"])
    op.create_table(
        "currency_tokens",
        sa.Column("token", sa.String(42), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_currency_tokens_currency", "currency_tokens", ["currency"])
    op.create_table(
        "network_settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "invoices",
        sa.Column("id", UINT256, primary_key=True),
        sa.Column("seller", sa.String(42), nullable=False),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("holder", sa.String(42)),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("invoice_number", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("face_value", UINT256, nullable=False),
        sa.Column("issue_date", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.BigInteger(), nullable=False),
        sa.Column("document_hash", sa.String(66), nullable=False),
        sa.Column("document_cid", sa.Text(), nullable=False),
        sa.Column("shipment_id", sa.String(66)),
        sa.Column("order_id", sa.BigInteger()),
        sa.Column("parent_id", UINT256),
        sa.Column("root_id", UINT256, nullable=False),
        sa.Column("part_index", sa.Integer()),
        sa.Column("financier", sa.String(42)),
        sa.Column("settled_by", sa.String(42)),
        sa.Column("cancelled_by", sa.String(42)),
        sa.Column("cancel_reason", sa.Text()),
        sa.Column("paid_total", UINT256, nullable=False),
        sa.Column("issued_block", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_invoices_buyer", "invoices", ["buyer"])
    op.create_index("ix_invoices_currency", "invoices", ["currency"])
    op.create_index("ix_invoices_due_date", "invoices", ["due_date"])
    op.create_index("ix_invoices_holder", "invoices", ["holder"])
    op.create_index("ix_invoices_order_id", "invoices", ["order_id"])
    op.create_index("ix_invoices_root_id", "invoices", ["root_id"])
    op.create_index("ix_invoices_seller", "invoices", ["seller"])
    op.create_index("ix_invoices_shipment_id", "invoices", ["shipment_id"])
    op.create_index("ix_invoices_state", "invoices", ["state"])
    op.create_table(
        "invoice_payments",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("invoice_id", UINT256, nullable=False),
        sa.Column("payer", sa.String(42), nullable=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("paid_total", UINT256, nullable=False),
        sa.Column("payment_ref", sa.String(66), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_invoice_payments_holder", "invoice_payments", ["holder"])
    op.create_index("ix_invoice_payments_invoice_id", "invoice_payments", ["invoice_id"])
    op.create_index("ix_invoice_payments_payer", "invoice_payments", ["payer"])
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("supplier", sa.String(42), nullable=False),
        sa.Column("holder", sa.String(42)),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("goods", sa.Text(), nullable=False),
        sa.Column("quantity", UINT256, nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("delivery_date", sa.BigInteger(), nullable=False),
        sa.Column("shipment_id", sa.String(66)),
        sa.Column("document_hash", sa.String(66), nullable=False),
        sa.Column("document_cid", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(66), nullable=False),
        sa.Column("escrow", sa.String(42)),
        sa.Column("invoice_id", UINT256),
        sa.Column("cancel_reason", sa.Text()),
        sa.Column("issued_block", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_purchase_orders_buyer", "purchase_orders", ["buyer"])
    op.create_index("ix_purchase_orders_currency", "purchase_orders", ["currency"])
    op.create_index("ix_purchase_orders_delivery_date", "purchase_orders", ["delivery_date"])
    op.create_index("ix_purchase_orders_holder", "purchase_orders", ["holder"])
    op.create_index("ix_purchase_orders_shipment_id", "purchase_orders", ["shipment_id"])
    op.create_index("ix_purchase_orders_state", "purchase_orders", ["state"])
    op.create_index("ix_purchase_orders_supplier", "purchase_orders", ["supplier"])
    op.create_table(
        "receipts",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("warehouse", sa.String(42), nullable=False),
        sa.Column("depositor", sa.String(42), nullable=False),
        sa.Column("holder", sa.String(42)),
        sa.Column("pledgee", sa.String(42)),
        sa.Column("pledge_enforceable_after", sa.BigInteger()),
        sa.Column("pledge_count", sa.Integer(), nullable=False),
        sa.Column("commodity", sa.Text(), nullable=False),
        sa.Column("quantity", UINT256, nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
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
    op.create_index("ix_receipts_currency", "receipts", ["currency"])
    op.create_index("ix_receipts_depositor", "receipts", ["depositor"])
    op.create_index("ix_receipts_expiry", "receipts", ["expiry"])
    op.create_index("ix_receipts_holder", "receipts", ["holder"])
    op.create_index("ix_receipts_pledgee", "receipts", ["pledgee"])
    op.create_index("ix_receipts_warehouse", "receipts", ["warehouse"])
    op.create_table(
        "receipt_pledges",
        sa.Column("receipt_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("pledgee", sa.String(42), nullable=False),
        sa.Column("enforceable_after", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("enforced_to", sa.String(42)),
        sa.Column("pledged_block", sa.BigInteger(), nullable=False),
        sa.Column("ended_block", sa.BigInteger()),
    )
    op.create_index("ix_receipt_pledges_pledgee", "receipt_pledges", ["pledgee"])
    op.create_table(
        "fiat_movements",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("treasury", sa.String(42), nullable=False),
        sa.Column("account", sa.String(42)),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("reference", sa.String(66), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_fiat_movements_account", "fiat_movements", ["account"])
    op.create_index("ix_fiat_movements_token", "fiat_movements", ["token"])
    op.create_table(
        "payment_references",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("from_address", sa.String(42), nullable=False),
        sa.Column("to_address", sa.String(42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("payment_ref", sa.String(66), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_payment_references_from", "payment_references", ["from_address"])
    op.create_index("ix_payment_references_ref", "payment_references", ["payment_ref"])
    op.create_index("ix_payment_references_to", "payment_references", ["to_address"])
    op.create_table(
        "redemptions",
        sa.Column("token", sa.String(42), primary_key=True),
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("payout_ref", sa.String(66), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("treasury", sa.String(42)),
        sa.Column("bank_ref", sa.String(66)),
        sa.Column("reject_reason", sa.Text()),
        sa.Column("requested_block", sa.BigInteger(), nullable=False),
        sa.Column("closed_block", sa.BigInteger()),
    )
    op.create_index("ix_redemptions_holder", "redemptions", ["holder"])
    op.create_index("ix_redemptions_state", "redemptions", ["state"])
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
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("confirmed_block", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("retracted_block", sa.BigInteger()),
        sa.Column("retracted_at", sa.BigInteger()),
        sa.Column("retraction_reason", sa.String(66)),
        sa.Column("retraction_submitter", sa.String(42)),
        sa.Column("retraction_signers", JSON),
    )
    op.create_index("ix_oracle_events_confirmed_block", "oracle_events", ["confirmed_block"])
    op.create_index("ix_oracle_events_shipment", "oracle_events", ["shipment_id"])
    op.create_table(
        "listener_failures",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(66), nullable=False),
        sa.Column("listener", sa.String(42), nullable=False),
        sa.Column("ref", UINT256, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
    )
    op.create_index("ix_listener_failures_event_id", "listener_failures", ["event_id"])
    op.create_index("ix_listener_failures_listener", "listener_failures", ["listener"])
    op.create_table(
        "oracle_quorums",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("contract", sa.String(128), nullable=False),
        sa.Column("operators", JSON, nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("staleness_window", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
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
    op.create_table(
        "deal_products",
        sa.Column("module", sa.String(42), primary_key=True),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("gates_release", sa.Boolean(), nullable=False),
        sa.Column("self_liquidating", sa.Boolean(), nullable=False),
        sa.Column("borrower_roles", sa.Integer(), nullable=False),
        sa.Column("lender_roles", sa.Integer(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_deal_products_product_id", "deal_products", ["product_id"])
    op.create_table(
        "deals",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("product_module", sa.String(42), nullable=False),
        sa.Column("collateral_id", UINT256, nullable=False),
        sa.Column("borrower", sa.String(42), nullable=False),
        sa.Column("lender", sa.String(42), nullable=False),
        sa.Column("obligor", sa.String(42)),
        sa.Column("obligation", UINT256, nullable=False),
        sa.Column("obligation_currency", sa.String(3)),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("principal", UINT256, nullable=False),
        sa.Column("fee", UINT256, nullable=False),
        sa.Column("maturity", sa.BigInteger(), nullable=False),
        sa.Column("grace_period", sa.BigInteger(), nullable=False),
        sa.Column("accept_by", sa.BigInteger(), nullable=False),
        sa.Column("fx_valid_until", sa.BigInteger(), nullable=False),
        sa.Column("shipment_id", sa.String(66)),
        sa.Column("agreement_hash", sa.String(66), nullable=False),
        sa.Column("nonce", sa.String(66), nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.Column("terms_digest", sa.String(66), nullable=False),
        sa.Column("submitter", sa.String(42), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("released", UINT256, nullable=False),
        sa.Column("payer", sa.String(42)),
        sa.Column("amount_due", UINT256),
        sa.Column("to_lender", UINT256),
        sa.Column("to_borrower", UINT256),
        sa.Column("unreleased_returned", UINT256),
        sa.Column("overdue_flagged", sa.Boolean(), nullable=False),
        sa.Column("overdue_owed", UINT256),
        sa.Column("overdue_counted", sa.Boolean(), nullable=False),
        sa.Column("assignment_approved_to", sa.String(42)),
        sa.Column("accepted_block", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("funded_block", sa.BigInteger()),
        sa.Column("funded_at", sa.BigInteger()),
        sa.Column("settled_block", sa.BigInteger()),
        sa.Column("settled_at", sa.BigInteger()),
        sa.Column("closed_block", sa.BigInteger()),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_deals_borrower", "deals", ["borrower"])
    op.create_index("ix_deals_collateral_id", "deals", ["collateral_id"])
    op.create_index("ix_deals_currency", "deals", ["currency"])
    op.create_index("ix_deals_lender", "deals", ["lender"])
    op.create_index("ix_deals_maturity", "deals", ["maturity"])
    op.create_index("ix_deals_obligor", "deals", ["obligor"])
    op.create_index("ix_deals_product_id", "deals", ["product_id"])
    op.create_index("ix_deals_shipment_id", "deals", ["shipment_id"])
    op.create_index("ix_deals_state", "deals", ["state"])
    op.create_table(
        "deal_milestones",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("event_code", sa.String(4), nullable=False),
        sa.Column("location", sa.String(5), nullable=False),
        sa.Column("share_bps", sa.Integer(), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("event_id", sa.String(66)),
        sa.Column("released_block", sa.BigInteger()),
        sa.Column("contested_event_id", sa.String(66)),
        sa.Column("contested_block", sa.BigInteger()),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_deal_milestones_event_id", "deal_milestones", ["event_id"])
    op.create_table(
        "deal_credits",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("credited", UINT256, nullable=False),
        sa.Column("withdrawn", UINT256, nullable=False),
        sa.Column("claimable", UINT256, nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_deal_credits_account", "deal_credits", ["account"])
    op.create_table(
        "deal_fx_locks",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("base_currency", sa.String(3), nullable=False),
        sa.Column("quote_currency", sa.String(3), nullable=False),
        sa.Column("rate", UINT256, nullable=False),
        sa.Column("observed_at", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "deal_terms_revocations",
        sa.Column("terms_digest", sa.String(66), primary_key=True),
        sa.Column("revoked_by", sa.String(42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "deal_assignments",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_lender", sa.String(42), nullable=False),
        sa.Column("new_lender", sa.String(42), nullable=False),
    )
    op.create_index("ix_deal_assignments_deal_id", "deal_assignments", ["deal_id"])
    op.create_table(
        "order_rollovers",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", UINT256, nullable=False),
        sa.Column("rolled_by", sa.String(42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_order_rollovers_invoice_id", "order_rollovers", ["invoice_id"])
    op.create_index("ix_order_rollovers_order_id", "order_rollovers", ["order_id"])
    op.create_table(
        "documentary_credits",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("applicant", sa.String(42), nullable=False),
        sa.Column("presenter", sa.String(42), nullable=False),
        sa.Column("latest_shipment", sa.BigInteger(), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("complying", sa.Integer(), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("waived_block", sa.BigInteger()),
        sa.Column("opened_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_documentary_credits_applicant", "documentary_credits", ["applicant"])
    op.create_index("ix_documentary_credits_presenter", "documentary_credits", ["presenter"])
    op.create_table(
        "documentary_documents",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("doc_type", sa.String(4), primary_key=True),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("expected_hash", sa.String(66)),
        sa.Column("document_hash", sa.String(66)),
        sa.Column("document_date", sa.BigInteger()),
        sa.Column("presented_at", sa.BigInteger()),
        sa.Column("presented_block", sa.BigInteger()),
        sa.Column("complying", sa.Boolean(), nullable=False),
        sa.Column("presentations", sa.Integer(), nullable=False),
    )
    op.create_table(
        "risk_lenders",
        sa.Column("lender", sa.String(42), primary_key=True),
        sa.Column("currency", sa.String(3)),
        sa.Column("cap_bps", sa.Integer(), nullable=False),
        sa.Column("review_threshold", UINT256, nullable=False),
        sa.Column("exposure", UINT256, nullable=False),
        sa.Column("policy_set_by", sa.String(42)),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "risk_pairs",
        sa.Column("lender", sa.String(42), primary_key=True),
        sa.Column("obligor", sa.String(42), primary_key=True),
        sa.Column("limited", sa.Boolean(), nullable=False),
        sa.Column("limit_amount", UINT256, nullable=False),
        sa.Column("exposure", UINT256, nullable=False),
        sa.Column("limit_set_by", sa.String(42)),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_risk_pairs_obligor", "risk_pairs", ["obligor"])
    op.create_table(
        "risk_parties",
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("network_limited", sa.Boolean(), nullable=False),
        sa.Column("network_limit", UINT256, nullable=False),
        sa.Column("overdue_run", sa.Integer(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("frozen_block", sa.BigInteger()),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "risk_bookings",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("lender", sa.String(42), nullable=False),
        sa.Column("obligor", sa.String(42), nullable=False),
        sa.Column("pair_change", UINT256, nullable=False),
        sa.Column("pair_exposure", UINT256, nullable=False),
        sa.Column("book", UINT256, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
    )
    op.create_index("ix_risk_bookings_deal_id", "risk_bookings", ["deal_id"])
    op.create_index("ix_risk_bookings_pair", "risk_bookings", ["lender", "obligor"])
    op.create_table(
        "risk_warnings",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("kind_label", sa.String(16), nullable=False),
        sa.Column("lender", sa.String(42)),
        sa.Column("obligor", sa.String(42), nullable=False),
        sa.Column("used", UINT256, nullable=False),
        sa.Column("limit_amount", UINT256, nullable=False),
        sa.Column("deal_id", sa.BigInteger()),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_risk_warnings_lender", "risk_warnings", ["lender"])
    op.create_index("ix_risk_warnings_obligor", "risk_warnings", ["obligor"])
    op.create_table(
        "risk_overdue",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_risk_overdue_party", "risk_overdue", ["party"])
    op.create_table(
        "risk_funding_approvals",
        sa.Column("deal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("approver", sa.String(42), nullable=False),
        sa.Column("lender", sa.String(42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
