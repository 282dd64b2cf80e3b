"""Projections shipped with the indexer: the generic ERC-20 projection and the tradenet read
model (``tradenet``: one projection over every tradenet contract, its tables in the domain
modules ``registry``, ``assets``, ``settlement``, ``oracle``, ``deal_engine``, ``products``, ``risk``, ``pools``).
Every table object is importable from here, e.g. ``from chain.indexer.projections import deals``."""
from .assets import invoice_payments, invoice_withholdings, invoices, purchase_orders, receipt_pledges, receipts
from .deal_engine import (
    deal_assignments,
    deal_credits,
    deal_fx_locks,
    deal_milestones,
    deal_products,
    deal_terms_revocations,
    deals,
)
from .erc20 import Erc20Projection, erc20_balances, erc20_metadata, erc20_transfers
from .oracle import fx_rates, listener_failures, oracle_events, oracle_quorums
from .pools import (
    pool_assets,
    pool_bids,
    pool_claims,
    pool_collections,
    pool_distributions,
    pool_note_sales,
    abs_pools,
    tranche_holdings,
)
from .products import documentary_credits, documentary_documents, order_rollovers
from .registry import (
    currency_tokens,
    network_contracts,
    network_settings,
    participants,
    proposals,
    settlement_tokens,
)
from .risk import (
    risk_bookings,
    risk_funding_approvals,
    risk_lenders,
    risk_overdue,
    risk_pairs,
    risk_parties,
    risk_warnings,
)
from .settlement import fiat_movements, payment_references, redemptions
from .tradenet import TABLES as TRADENET_TABLES
from .tradenet import TradenetProjection

__all__ = [
    "Erc20Projection", "TradenetProjection", "TRADENET_TABLES", "erc20_balances", "erc20_metadata",
    "erc20_transfers", *(t.name for t in TRADENET_TABLES),
]
