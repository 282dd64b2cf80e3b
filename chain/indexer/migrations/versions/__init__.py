"""Alembic revisions of the indexer read model (a package so that installs ship them)."""
