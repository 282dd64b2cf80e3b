"""Alembic environment of the indexer (script location; see ``chain.indexer.migrate``)."""
