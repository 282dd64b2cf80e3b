"""Projections shipped with the indexer. Domain projections (participants, invoices, deals, ...)
are added here as the tradenet contracts land, each with its own Alembic revision."""
from .erc20 import Erc20Projection, erc20_balances, erc20_metadata, erc20_transfers

__all__ = ["Erc20Projection", "erc20_balances", "erc20_metadata", "erc20_transfers"]
