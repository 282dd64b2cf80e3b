"""Fixtures and helpers for tests/test_indexer.py (test-only)."""
